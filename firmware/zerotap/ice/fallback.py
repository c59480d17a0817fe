"""The ICE fallback of one call, sans-IO: when the provider's media path does not carry ZRTP, the
two boxes swap helper numbers as DTMF over the still-clear call, meet over ICE and run ZRTP there.

    fb = Fallback(session, io, caller=True, rand=os.urandom, make_leg=..., make_agent=...)
    session.fallback = fb                      # the media session feeds it (see media.py)
    fb.receive_ice(data, addr, now)            # a datagram on the call's ICE socket
    fb.helper_reply(tag, status, body, now)    # the answer to a request fb.io.helper() started
    fb.timer() / fb.handle_timer(now)          # MediaSession.timer() includes it
    fb.retry(now)                              # the user's retry action

It never touches a socket or the clock: the runtime gives it ``now``, and :class:`FallbackIO`
(the seam) opens and closes the call's one ICE socket, sends on it, and runs HTTP requests to the
helper (:mod:`zerotap.ice.helper_client` over the stream layer).

Steps (``step``; the status model's ``fallback`` field), after ZSipOs (../shared/ICE.md 1.1):

- ``WATCH``: ZRTP on the provider path first. The fallback starts when no ZRTP from the peer
  arrived within ``after_ms`` of the first media packet, when the ZRTP leg there failed, or when
  a valid ``*A`` frame (check digits right, :class:`zerotap.dtmf.frame.FrameDecoder`) arrives from
  the peer. A lone ``*`` starts nothing. A peer remembered in :class:`PeerMemory` (its provider
  path carried no ZRTP but a box answered over DTMF) starts it at once.
- ``PREPARE`` (shown "ZRTP blocked"): the ICE socket is opened, the agent gathers and the offer is
  stored at the helper (``PUT``) in parallel: the first ``PUT`` carries what is known at once (the
  credentials, no candidates yet), and a ``POST`` brings the full offer once gathering ends (the
  helper's ``GET ?wait`` holds the peer until the candidates are there; a 200 without candidates
  is fetched again). When TURN
  credentials come from the helper (its ``PUT`` answer has ``turn``), the agent is made when that
  answer arrives.
- ``EXCHANGE``: the number goes out as RFC 4733 events in the phone's stream (its SSRC; sequence
  numbers and timestamps continued: the phone's later packets are renumbered after the injected
  ones), ``*A`` + id + check digits, ``#A`` once we hold the peer's id. We receive at all times,
  also while sending. Turn-taking for ZSipOs peers (they ignore what arrives while they send): a
  frame starts only ``GAP_MS`` after the peer's last event; a frame is repeated ``REPEAT_MS``
  (caller) or ``2 * REPEAT_MS`` (callee) after the last one, or ``GAP_MS`` after the peer's last
  event once we have something new to say. The exchange is done when we hold the peer's id, the
  peer sent ``#`` (it holds ours) and we sent a ``#A`` frame in full; it also ends when the call
  is SECURE on the direct path (not when our ICE selected a pair: the peer answers checks before
  it holds our offer).
- ``CONNECT`` ("connecting"): the peer's offer is fetched as soon as its id is decoded (``GET``,
  repeated while the helper answers 404), and ICE runs (the caller's box controlling).
- ``ZRTP``: on the nominated pair a fresh ZRTP leg (``make_leg()``) runs on the ICE path
  (:meth:`zerotap.media.MediaSession.add_path` and ``use``); its Secure event makes the call
  SECURE; the step becomes ``DIRECT`` ("SECURE (direct)").
- After the switch the provider path gets a keepalive (one G.711 silence packet every
  ``KEEPALIVE_MS``, the phone's SSRC, marker bit) and anything that arrives there is dropped and
  counted (``provider_dropped``). A lost consent on the ICE path (RFC 7675) raises the alarm;
  nothing is ever sent in clear after that.
- ``FAILED``: the deadline (``deadline_ms`` after the start) or any failure (helper unreachable or
  untrusted, no box at the far end, ICE failed, ZRTP failed) ends it: DTMF stops, the agent closes
  (TURN released), our offer is deleted at the helper, the provider path is the active one again,
  audio follows ``media.clear`` again there (while the fallback ran it followed ``clear``,
  ``ice.clear``: mute by default), and the status says CLEAR with the reason.
  :meth:`retry` starts over.
"""
import json

from micropython import const

from zerotap import rtp as _rtp
from zerotap.config import json_value as _json_value
from zerotap.dtmf import events as _events
from zerotap.dtmf import frame as _frame
from zerotap.dtmf import inband as _inband
from zerotap.ice import agent as _agent
from zerotap.ice import offer as _offer

WATCH = "watch"
PREPARE = "blocked"
EXCHANGE = "exchanging"
CONNECT = "connecting"
ZRTP = "zrtp"
DIRECT = "direct"
FAILED = "failed"
STEPS = (WATCH, PREPARE, EXCHANGE, CONNECT, ZRTP, DIRECT, FAILED)

AFTER_MS = 4000  # ice.after_s
DEADLINE_MS = 20000  # ice.deadline_s
GAP_MS = const(300)  # start a frame this long after the peer's last event (ICE.md 1.8.4)
REPEAT_MS = const(1820)  # ZSipOs's repetition for the caller's box; the callee waits twice that
KEEPALIVE_MS = const(5000)
GET_RETRY_MS = const(500)
GET_WAIT_S = 2  # the helper's ?wait= (ZSipOs's server ignores the query)

_KIND_RTP = _rtp.PACKET_RTP
_KIND_ZRTP = _rtp.PACKET_ZRTP

_TYPES = ("host", "srflx", "prflx", "relay")
_EVENTS = const(0)  # how a frame goes: RFC 4733 events ...
_TONES = const(1)  # ... or in-band tones

# G.711 silence (RFC 3551 section 4.5.14)
_SILENCE = {0: 0xFF, 8: 0xD5}


def _no_candidates(body):
    """True when BODY is a JSON object whose candidate list is missing or empty."""
    try:
        obj = _json_value(body)
    except ValueError:
        return False
    return isinstance(obj, dict) and not obj.get("candidates")


class FallbackIO:
    """The seam between the fallback and the runtime (or a test).

    - ``open_ice() -> [(ip, port)]``: open the call's ICE UDP socket (on demand), return the
      host addresses it is reachable at (one per interface), or raise OSError;
    - ``send_ice(data, addr)``: send DATA from that socket;
    - ``close_ice()``: close it;
    - ``helper(tag, method, path, body, headers)``: start an HTTP request to the helper (PATH
      relative to its URL; BODY bytes or None; HEADERS a list of (name, value)); its answer
      comes back as ``Fallback.helper_reply(tag, status, body, now)``, a failure (unreachable,
      untrusted certificate, timeout) as ``Fallback.helper_failed(tag, reason, now)``."""

    def open_ice(self):
        raise NotImplementedError("FallbackIO.open_ice")

    def send_ice(self, data, addr):
        raise NotImplementedError("FallbackIO.send_ice")

    def close_ice(self):
        pass

    def helper(self, tag, method, path, body, headers):
        raise NotImplementedError("FallbackIO.helper")


class PeerMemory:
    """Peers whose provider path carried no ZRTP but whose box answered over DTMF: the next call
    to them starts the fallback at once. Bounded, oldest forgotten first."""

    def __init__(self, size=32):
        self.size = size
        self.peers = []

    def remember(self, peer):
        if peer is None:
            return
        if peer in self.peers:
            self.peers.remove(peer)
        self.peers.append(peer)
        if len(self.peers) > self.size:
            self.peers.pop(0)

    def forget(self, peer):
        if peer in self.peers:
            self.peers.remove(peer)

    def __contains__(self, peer):
        return peer in self.peers


class Fallback:
    def __init__(self, session, io, caller, rand, make_leg, make_agent, status=None, peer=None,
                 memory=None, after_ms=AFTER_MS, deadline_ms=DEADLINE_MS, event_pt=None,
                 tone_ms=50, gap_ms=50, clear="mute", log=None, dtmf="auto"):
        self.session = session
        self.io = io
        self.caller = bool(caller)
        self.rand = rand
        self.make_leg = make_leg  # () -> a fresh SecureLeg (a new ZRTP engine, same ZID and cache)
        # (controlling, turn) -> zerotap.ice.agent.Agent, or None to wait for the helper's TURN
        # credentials: TURN is None at the start, then the PUT answer's "turn" ({} if none)
        self.make_agent = make_agent
        self.status = status
        self.peer = peer
        self.memory = memory
        self.after_ms = after_ms
        self.deadline_ms = deadline_ms
        self.event_pts = [event_pt if event_pt is not None else _events.DEFAULT_PT]
        self.tone_ms = tone_ms
        self.gap_ms = gap_ms
        self.clear = clear  # ice.clear: audio while the fallback runs
        self.dtmf = dtmf  # ice.dtmf: auto, rfc4733 or inband
        self._sdp_events = [None, None]  # telephone-event in the phone's / network's SDP
        self._send_pt = None  # the network's SDP's telephone-event type: ours go out in it
        self.log = log
        self.step = WATCH
        self.reason = None
        self.started_at = None
        self.secure_at = None
        self.provider_dropped = 0  # provider-path packets dropped after the switch
        self.held = 0  # phone packets held back while our events played
        self.keepalives = 0
        self.attempts = 0
        self.path = None  # the ICE media Path, once added
        self.ice_leg = None
        self._now = 0
        self._media_at = None  # first media packet
        self._zrtp_seen = False
        self._receiver = _events.EventReceiver(self.event_pts[0])
        self._decoder = _frame.FrameDecoder()  # frames of RFC 4733 events
        self._tones = None  # an inband.ToneReceiver, made when the first G.711 packet comes
        self._tone_decoder = _frame.FrameDecoder()  # frames of in-band tones
        self._ssrc = None  # the phone's stream
        self._seq = None
        self._ts = None
        self._ts_ms = 0
        self._pt = 0
        self._offset = 0  # added to the phone's sequence numbers on the network side
        self._resync = False
        self._policy0 = session.policy
        self._reset_attempt()

    def _reset_attempt(self):
        self.agent = None
        self.local_id = None
        self.token = None
        self.peer_id = None
        self.peer_confirmed = False  # the peer sent "#": it holds our id
        self.sent_confirm = False  # we sent a whole "#A" frame
        self.insync = False  # started by the peer's frame
        self.peer_frames = 0
        self.selected = None
        self._sender = None
        self._peer_form = None  # how the peer's last frame came: _EVENTS or _TONES
        self.frames_sent = [0, 0]  # frames begun as events, as tones
        self._send_at = None
        self._last_rx = None
        self._repeat_at = None
        self._get_at = None
        self._get_pending = False
        self._get_id = None  # the number the pending GET asked for
        self._peer_offer = None
        self._posted = False
        self._put_pending = False
        self._gathered = False
        self._ice_started = False
        self._turn = None
        self._creds = None  # (ufrag, pwd) published before the agent existed
        self._keepalive_at = None
        self._deadline = None
        self._leg = None
        self._socket = False
        self._sending_confirm = False
        self._addrs = []

    # --- status -------------------------------------------------------------------------------
    def _set_step(self, step, reason=None):
        # watch -> blocked -> exchanging -> connecting -> zrtp -> direct; any -> failed (1.1)
        if self.log:
            self.log("fallback: %s -> %s%s" % (self.step, step, (": " + reason) if reason else ""))
        self.step = step
        self.reason = reason
        st = self.status
        if st is not None and hasattr(st, "set_fallback"):
            # the reason as set_clear() words it next: no status change shows it bare
            st.set_fallback(step, ("ICE fallback: %s" % reason) if reason else None)

    # --- input from the media session ---------------------------------------------------------
    def add_event_types(self, types):
        for t in types:
            if t not in self.event_pts:
                self.event_pts.append(t)

    def sdp_events(self, side, types):
        """SIDE's SDP (0 the phone's, 1 the network's) mapped TYPES to telephone-event (empty:
        none). With ``dtmf`` auto, a call whose SDPs do not both carry it gets in-band tones."""
        self._sdp_events[side] = bool(types)
        if types:
            self.add_event_types(types)
            if side == 1:
                # RFC 3264 section 5.1: the far end receives the type its own SDP named
                self._send_pt = types[0]

    def _form(self):
        """How our next frame goes: _EVENTS (RFC 4733) or _TONES (in-band)."""
        if self.dtmf == "inband":
            return _TONES
        if self.dtmf == "rfc4733":
            return _EVENTS
        if self._peer_form is not None:
            return self._peer_form  # answer in the form we hear
        if False in self._sdp_events:
            return _TONES
        if None in self._sdp_events:
            return _EVENTS  # not told (no SDP seen): events, as ZSipOs boxes send them
        # both SDPs say telephone-event, but a provider may still strip them: while the peer
        # is silent, every other frame goes as tones (a ZSipOs box reads the event frames)
        return _TONES if self.frames_sent[_EVENTS] > self.frames_sent[_TONES] else _EVENTS

    def _media(self, now):
        self._now = now
        # after_s counts from the answer's media: early media (a ringback, an announcement)
        # come before the far end's box can speak ZRTP
        if self._media_at is None and getattr(self.status, "state", "active") == "active":
            self._media_at = now
            if self.memory is not None and self.peer in self.memory and self.step == WATCH:
                self._start(now, "the peer's provider path carried no ZRTP last time")

    def phone_rtp(self, buf, n, now):
        """An RTP packet from the phone, on its way to the network (BUF writable). False: hold
        it back (our events are playing). Sequence numbers are shifted past the injected
        events."""
        self._media(now)
        if n < 12:
            return True
        seq = (buf[2] << 8) | buf[3]
        ts = (buf[4] << 24) | (buf[5] << 16) | (buf[6] << 8) | buf[7]
        pt = buf[1] & 0x7F
        self._ssrc = (buf[8] << 24) | (buf[9] << 16) | (buf[10] << 8) | buf[11]
        self._seq = seq
        if pt not in self.event_pts:
            # the phone's own keys (the keypad filter passed them) share the stream's sequence
            # numbers, so they are held back and renumbered as its audio is; but their timestamp
            # is the key's start (RFC 4733 section 2.5.1.2), not the stream's clock
            self._ts = ts
            self._ts_ms = now
            self._pt = pt
        s = self._sender
        if s is not None and s.busy and self.session.path is self.session.paths[0]:
            self.held += 1
            return False
        sec = self.session.secure
        if self.path is not None and self.session.path is self.path and \
                (sec is None or not sec.is_secure):
            self.held += 1  # nothing in clear on the ICE path, not even silence (ICE.md 1.8.7)
            return False
        if self._resync and s is not None:
            self._offset = (s.next_seq - seq) & 0xFFFF
            self._resync = False
        if self._offset:
            seq = (seq + self._offset) & 0xFFFF
            buf[2] = seq >> 8
            buf[3] = seq & 0xFF
        return True

    def network(self, path, kind, buf, n, addr, now):
        """A packet from the network on PATH (before the media session handles it). False: drop
        it (the provider path after the switch)."""
        self._now = now
        session = self.session
        if path is not session.paths[0]:
            return True
        if self.path is not None and session.path is self.path:
            self.provider_dropped += 1
            return False
        self._media(now)
        if kind == _KIND_ZRTP:
            self._zrtp_seen = True
        elif kind == _KIND_RTP and n >= 16:
            pt = buf[1] & 0x7F
            if pt in self.event_pts:
                self._events_in(bytes(buf[:n]), now)
            elif pt in _inband.CODECS and self._listening():
                # in-band tones, at all times (a provider that strips telephone-events or
                # renders them as tones, a PSTN leg)
                t = self._tones
                if t is None:
                    t = self._tones = _inband.ToneReceiver()
                for key in t.receive_packet(buf, n):
                    self._key_down(key, now, self._tone_decoder, _TONES)
        return True

    def _listening(self):
        """Whether provider-path audio is searched for tones: not once the call is SECURE."""
        if self.step == DIRECT:
            return False
        sec = self.session.secure
        if sec is not None and sec.is_secure and self.step == WATCH:
            self._tones = None  # ZRTP went through on the provider path: no fallback
            return False
        return True

    def _events_in(self, packet, now):
        # any payload type an SDP of the call mapped to telephone-event (network() checked): the
        # far end sends the one of the SDP it got from us (RFC 3264 section 5.1), which need not
        # be the one its own SDP named
        try:
            marker, pt, seq, ts, ssrc, payload = _events.parse_rtp(packet)
            keys = self._receiver.receive(ssrc, ts, payload, now)
        except ValueError:
            return
        for k in keys:
            if k[0] == _events.KEY_DOWN:
                self._key_down(k[1], now, self._decoder, _EVENTS)

    def _key_down(self, key, now, decoder, form):
        self._last_rx = now
        if self._send_at is not None:
            self._send_at = max(self._send_at, now + GAP_MS)
        got = decoder.feed(key, now)
        if got is not None:
            self._frame(got[0], got[1], now, form)

    def _frame(self, kind, peer_id, now, form=None):
        if peer_id == self.local_id:
            return  # our own frame, echoed
        if kind == _frame.OFFER and self.peer_id not in (None, peer_id):
            # "*A" with another number than the one we hold: the peer's box started over (its
            # user's retry) and holds nothing of ours; ICE against its old offer cannot meet it,
            # so we start over too (the frame restarts us as after a failure; we answer "#A")
            self._fail("the peer's box started over", now)
        if form is not None:
            self._peer_form = form
        self.peer_frames += 1
        if kind == _frame.CONFIRM:
            self.peer_confirmed = True
        if self.step in (WATCH, FAILED):
            if kind != _frame.OFFER:
                return
            # a box at the far end asks (also after our failure: its user pressed retry)
            if self.step == FAILED:
                self._reset_attempt()
                self.session.policy = self._policy0
            self._start(now, "the peer's box asked (*A)")
            if self.step in (WATCH, FAILED):
                return
            self.insync = True
            self.peer_frames = 1
        new = peer_id != self.peer_id
        self.peer_id = peer_id
        if new:
            self._get_at = now  # fetch at once
            self._peer_offer = None
        if self._needs_send():
            at = now + GAP_MS
            if self._send_at is None or self._send_at > at or new:
                self._send_at = at
        self._check_done(now)

    # --- the start ----------------------------------------------------------------------------
    def _start(self, now, why):
        sec = self.session.secure
        if self.step not in (WATCH, FAILED) or (sec is not None and sec.is_secure):
            # a SECURE call keeps its path and its keys: a frame (in clear, anyone on the path
            # can send one) or the retry action must not trade them for an attempt elsewhere
            return
        self.attempts += 1
        self.started_at = now
        self._deadline = now + self.deadline_ms
        if self.log:
            self.log("fallback: start (%s)" % why)
        self._set_step(PREPARE)
        self.session.policy = self.clear  # ice.clear while the fallback runs
        if sec is not None:
            # stop the provider path's engine: ZRTP runs again, fresh, on the ICE path (1.1)
            sec.close()
            self.session.secure = None
        try:
            addrs = self.io.open_ice()
        except OSError as e:
            self._fail("no socket for ICE: %s" % e, now)
            return
        self._socket = True
        self._addrs = addrs
        self._make_agent(None, now)
        # the number comes back at once; the candidates follow in a POST once gathered (an
        # offer without candidates makes the helper's GET ?wait hold the peer until then)
        body = json.dumps(self._offer_dict(False)).encode()
        self._put_pending = True
        self.io.helper(("put", self.attempts), "PUT", "/", body,
                       [("Content-Type", "application/json")])

    def _make_agent(self, turn, now):
        if self.agent is not None:
            return
        self._turn = turn
        a = self.make_agent(self.caller, turn)
        if a is None:
            if self._creds is None:
                # the factory waits (for the helper's TURN credentials, or a server's name):
                # the offer we store now already carries the credentials the agent will use,
                # so the peer never fetches an offer it cannot use once it has candidates
                self._creds = (_agent.ice_string(self.rand, 8), _agent.ice_string(self.rand, 24))
            return
        if self._creds is not None:
            a.set_credentials(self._creds[0], self._creds[1])
        self.agent = a
        a.gather(self._addrs, now)
        self._flush(now)

    def agent_ready(self, now):
        """The factory returned None while the runtime resolved a STUN or TURN server's name:
        ask it again now."""
        if self.agent is None and self.step in (PREPARE, EXCHANGE, CONNECT):
            self._make_agent(self._turn, now)

    def fail(self, reason, now):
        """The runtime gives up on this attempt (e.g. a server name does not resolve)."""
        if self.step not in (WATCH, FAILED):
            self._fail(reason, now)

    def _offer_dict(self, full=True):
        a = self.agent
        if a is None:
            # before the agent exists: its credentials, no candidates yet (the POST adds them)
            return {"ufrag": self._creds[0], "pwd": self._creds[1], "candidates": []}
        if not full:
            return {"ufrag": a.ufrag, "pwd": a.pwd, "candidates": []}
        return _offer.encode(a.ufrag, a.pwd, a.local_candidates(), a.default_candidate())

    # --- helper answers -----------------------------------------------------------------------
    def helper_reply(self, tag, status, body, now):
        self._now = now
        tag, n = tag  # (kind, the attempt that asked): an earlier attempt's answer is not ours
        if tag == "put":
            late = n != self.attempts or self.step in (WATCH, FAILED) or not self._put_pending
            if n == self.attempts:
                self._put_pending = False
            why = None
            if status != 200:
                why = "PUT answered %d" % status
            else:
                try:
                    obj = _json_value(body)
                    local_id = obj["id"]
                    token = obj["token"]
                except (ValueError, KeyError, TypeError):
                    why = "PUT answer is not {id, token}"
                else:
                    if not isinstance(token, str):
                        # it goes into a header of every later request (POST, DELETE)
                        why = "PUT answer is not {id, token}"
                    elif not _frame.valid_id(local_id):
                        why = "id %r does not frame" % (local_id,)
            if late:
                # the answer came after its attempt ended (a hang-up, the deadline): the record
                # it made at the helper goes at once
                if why is None:
                    self._delete(local_id, token)
                return
            if why is not None:
                self._fail("helper: " + why, now)
                return
            self.local_id = local_id
            self.token = token
            turn = obj.get("turn") or {}
            if self.agent is None:  # the factory waited for the helper's TURN part
                self._make_agent(turn, now)
            if self._gathered and not self._posted:
                self._post()
            if self.step == PREPARE:
                self._set_step(CONNECT if self._ice_started else EXCHANGE)
            if self._needs_send() and self._send_at is None:
                at = now
                if self.insync or self._last_rx is not None:
                    at = max(now, (self._last_rx or now) + GAP_MS)
                self._send_at = at
        elif self.step in (WATCH, FAILED) or n != self.attempts:
            return
        elif tag == "post":
            if status != 200:
                self._fail("helper: POST answered %d" % status, now)
        elif tag == "get":
            self._get_pending = False
            if self._get_id != self.peer_id:
                # the peer's number changed while we asked: that answer is not its offer
                self._get_at = now
                return
            if status == 404:
                self._get_at = now + GET_RETRY_MS
                return
            if status != 200:
                self._fail("helper: GET answered %d" % status, now)
                return
            if _no_candidates(body):
                # not gathered yet (or an older box's placeholder without credentials): the
                # helper answered before the POST; ask again until the deadline
                self._peer_offer = None
                self._get_at = now + GET_RETRY_MS
                return
            try:
                try:
                    obj = _json_value(body)
                except ValueError:
                    raise ValueError("offer: not JSON")  # as _offer.from_json words it
                self._peer_offer = _offer.decode(obj)
            except ValueError as e:
                self._fail("the peer's %s" % e, now)
                return
            if not self._peer_offer[2]:
                self._peer_offer = None
                self._get_at = now + GET_RETRY_MS
                return
            self._maybe_start_ice(now)

    def helper_failed(self, tag, reason, now):
        self._now = now
        if tag[0] == "delete" or tag[1] != self.attempts or self.step in (WATCH, FAILED):
            return
        self._fail("helper: %s" % reason, now)

    def _delete(self, local_id, token):
        """Our offer goes from the helper (read by anyone who asks for the number until then)."""
        if token is not None:
            self.io.helper(("delete", self.attempts), "DELETE", "/" + local_id, None,
                           [("X-icestorage-token", token)])

    def _post(self):
        self._posted = True
        body = json.dumps(self._offer_dict()).encode()
        self.io.helper(("post", self.attempts), "POST", "/" + self.local_id, body,
                       [("Content-Type", "application/json"), ("X-icestorage-token", self.token)])

    # --- DTMF out -----------------------------------------------------------------------------
    def _needs_send(self):
        if self.local_id is None or self.step not in (EXCHANGE, CONNECT, ZRTP):
            return False
        # our ICE selecting a pair proves nothing about the peer: it answers checks with its own
        # credentials before it holds our offer. Send until it confirmed (#) and we did.
        return not (self.peer_id is not None and self.peer_confirmed and self.sent_confirm)

    def _send_frame(self, now):
        confirm = self.peer_id is not None
        digits = _frame.encode(self.local_id, confirm)
        form = self._form()
        prev = self._sender
        if self._seq is None:
            r = self.rand(6)
            self._seq = int.from_bytes(r[:2], "big")
            self._ts = int.from_bytes(r[2:], "big")
            self._ts_ms = now
            self._offset = 0
        last = (self._seq + self._offset) & 0xFFFF
        if self._resync and prev is not None:  # a frame right after another, no phone packet
            last = (prev.next_seq - 1) & 0xFFFF
        s = prev
        if s is None or s.form != form:
            ssrc = self._ssrc
            if ssrc is None:
                ssrc = int.from_bytes(self.rand(4), "big")
            if form == _TONES:
                # the phone's G.711 codec (PCMU when it sends another: the tones need one)
                s = _inband.ToneSender(ssrc, self._pt if self._pt in _inband.CODECS else 0,
                                       tone_ms=max(self.tone_ms, _inband.TONE_MS),
                                       gap_ms=max(self.gap_ms, _inband.GAP_MS))
            else:
                pt = self._send_pt if self._send_pt is not None else self.event_pts[-1]
                s = _events.EventSender(ssrc, pt, interval_ms=20,
                                        tone_ms=self.tone_ms, gap_ms=self.gap_ms)
            s.form = form
            self._sender = s
        s.start(digits, now, last, self._ts, self._ts_ms)
        self.frames_sent[form] += 1
        if self.log:
            self.log("fallback: sending %s as %s" % (digits, "tones" if form else "events"))
        self._sending_confirm = confirm
        self._resync = True
        self._send_at = None

    def _sent(self, now):
        """A whole frame went out."""
        if self._sending_confirm:
            self.sent_confirm = True
        self._check_done(now)
        if self._needs_send():
            at = now + (REPEAT_MS if self.caller else 2 * REPEAT_MS)
            # something new to say that came while we sent (the peer's id) goes sooner; the
            # gap after the peer's last key still applies (handle_timer)
            if self._send_at is None or self._send_at > at:
                self._send_at = at

    def _check_done(self, now):
        if self.peer_id is not None and self.peer_confirmed and self.sent_confirm:
            self._stop_dtmf()
        self._maybe_start_ice(now)

    def _stop_dtmf(self):
        self._send_at = None
        s = self._sender
        if s is not None and s.busy:
            s.cancel()  # nothing more of the frame goes out

    def _transmit_provider(self, data):
        path = self.session.paths[0]
        dest = path.remote[0]
        if dest is None:
            return
        self.session.transmit(path.rtp_leg, data, len(data), dest)

    # --- ICE ----------------------------------------------------------------------------------
    def _maybe_start_ice(self, now):
        if self._ice_started or self.agent is None or self._peer_offer is None:
            return
        if not self._gathered:
            return
        ufrag, pwd, cands = self._peer_offer
        cands = [c for c in cands if c.component == 1]
        if self.log:
            self.log("fallback: ICE with %s" % " ".join("%s:%s:%d" % (
                _TYPES[c.type], c.addr[0], c.addr[1]) for c in cands))
        self.agent.set_remote(ufrag, pwd, cands)
        self.agent.start(now)
        self._ice_started = True
        if self.step in (PREPARE, EXCHANGE) and self.local_id is not None:
            self._set_step(CONNECT)
        self._flush(now)

    def receive_ice(self, data, addr, now):
        """A datagram on the call's ICE socket. True when it came from the selected pair's far
        end (what tells the media watch that the far end is there; a stranger's does not)."""
        self._now = now
        a = self.agent
        if a is None:
            return False
        got = a.receive(data, addr, now)
        sel = self.selected
        far = sel is not None and addr == sel[1].addr
        if got is not None and sel is not None and self.path is not None:
            if a.turn is not None and addr == a.turn.server:
                addr = sel[1].addr  # relayed (the TURN server's permission: the peer)
                far = True
            # the session takes media only from the selected pair's far end before SECURE
            buf = bytearray(got)
            self.session.receive(self.path.rtp_leg, buf, len(buf), addr, now)
        self._flush(now)
        self.poll(now)
        return far

    def send_media(self, buf, n):
        """The media session's transmit for the ICE leg: on the selected pair (direct or TURN)."""
        a = self.agent
        if a is None:
            return False
        ok = a.send(bytes(buf[:n]), self._now)
        self._flush(self._now)
        return ok

    def _flush(self, now):
        a = self.agent
        if a is None:
            return
        for data, addr in a.datagrams_to_send():
            self.io.send_ice(data, addr)
        ev = a.next_event()
        while ev is not None:
            self._ice_event(ev, now)
            if self.agent is not a:
                return
            ev = a.next_event()

    def _ice_event(self, ev, now):
        kind = ev[0]
        if kind == "gathered":
            self._gathered = True
            if self.log:
                self.log("fallback: gathered %s" % " ".join("%s:%s:%d" % (
                    _TYPES[c.type], c.addr[0], c.addr[1]) for c in self.agent.local_candidates()))
            if self.local_id is not None and not self._posted:
                self._post()
            self._maybe_start_ice(now)
        elif kind == "selected":
            first = self.selected is None
            self.selected = (ev[1], ev[2])
            self._log_pairs("ICE selected %s:%s:%d -> %s:%s:%d" % (
                _TYPES[ev[1].type], ev[1].addr[0], ev[1].addr[1], _TYPES[ev[2].type],
                ev[2].addr[0], ev[2].addr[1]))
            if self.path is not None:
                self.path.set_remote(ev[2].addr[0], ev[2].addr[1])
            if first and self.step not in (FAILED, WATCH):
                self._switch(now)
        elif kind == "failed":
            self._fail("ICE failed: %s" % ev[1], now)
        elif kind == "consent-lost":
            st = self.status
            if st is not None:
                # no longer SECURE: no media goes anywhere (as after a ZRTP failure, media.py)
                why = "the direct path was lost (no ICE consent): media stopped, nothing goes " \
                    "in clear"
                st.fail(why)
                st.alarm(why)
        elif kind == "turn-error" and self.log:
            self.log("fallback: TURN %s %s (%s)" % (ev[1], ev[2], ev[3]))

    def _log_pairs(self, what):
        """Log WHAT and the check list (pair states, 0 frozen .. 4 failed) when logging."""
        if self.log and self.agent is not None:
            self.log("fallback: %s, pairs %s" % (what, " ".join("%s->%s:%d=%s" % (
                _TYPES[p.local.type], p.remote.addr[0], p.remote.addr[1], p.state)
                for p in self.agent.pairs)))

    def _switch(self, now):
        """ICE selected a pair: a fresh ZRTP leg on the ICE path (1.1, 1.6)."""
        from zerotap import media as _media
        s = self.session
        if self.path is None:
            self.path = s.add_path(_media.Path("ice", len(s._leg_path), None))
            self.ice_leg = self.path.rtp_leg
        self.path.set_remote(self.selected[1].addr[0], self.selected[1].addr[1])
        old = s.secure
        if old is not None:
            old.close()
        leg = self.make_leg()
        self._leg = leg
        s.secure = leg
        leg.bind(s)
        s.use(self.path)
        self._keepalive_at = now + KEEPALIVE_MS
        self._set_step(ZRTP)
        leg.start(now)

    # --- timers -------------------------------------------------------------------------------
    def timer(self):
        t = None
        s = self._sender
        # while a frame plays, its own timer runs; a frame due meanwhile waits for its end
        send_at = self._send_at if s is None or not s.busy else None
        for d in (self._trigger_at(), send_at, self._get_at if not self._get_pending
                  else None, self._deadline if self.step not in (DIRECT, FAILED, WATCH) else None,
                  self._keepalive_at, self._decoder.get_timer(), self._receiver.get_timer(),
                  self._tone_decoder.get_timer()):
            if d is not None and (t is None or d < t):
                t = d
        s = self._sender
        if s is not None:
            d = s.get_timer()
            if d is not None and (t is None or d < t):
                t = d
        a = self.agent
        if a is not None:
            d = a.timer()
            if d is not None and (t is None or d < t):
                t = d
        return t

    def _trigger_at(self):
        if self.step != WATCH or self._media_at is None:
            return None
        if self._zrtp_seen:
            sec = self.session.secure
            # ZRTP on the provider path failed: due now (handle_timer starts the fallback)
            return self._now if sec is not None and sec.failed and self._now is not None else None
        return self._media_at + self.after_ms

    def handle_timer(self, now):
        self._now = now
        t = self._trigger_at()
        if t is not None and now >= t:
            self._start(now, "no ZRTP from the peer within %d ms" % self.after_ms)
        sec = self.session.secure
        if self.step == WATCH and self._zrtp_seen and sec is not None and sec.failed:
            self._start(now, "ZRTP on the provider path failed")
        for k in self._receiver.handle_timer(now):
            pass
        self._decoder.handle_timer(now)
        self._tone_decoder.handle_timer(now)
        if self._deadline is not None and now >= self._deadline and \
                self.step not in (DIRECT, FAILED, WATCH):
            if self.peer_frames == 0:
                self._fail("no box at the far end answered", now)
            else:
                self._fail("deadline: not secure within %d s" % (self.deadline_ms // 1000), now)
            return
        s = self._sender
        if s is not None and s.busy:
            for pkt in s.datagrams_to_send(now):
                self._transmit_provider(pkt)
            if not s.busy:
                self._sent(now)
        if self._send_at is not None and now >= self._send_at and not self._needs_send():
            self._send_at = None  # nothing more to say: no timer left in the past
        if self._send_at is not None and now >= self._send_at and self._needs_send():
            if self._last_rx is not None and now < self._last_rx + GAP_MS:
                self._send_at = self._last_rx + GAP_MS
            elif s is None or not s.busy:
                self._send_frame(now)
                for pkt in self._sender.datagrams_to_send(now):
                    self._transmit_provider(pkt)
        if self._get_at is not None and now >= self._get_at and not self._get_pending and \
                self.peer_id is not None and self._peer_offer is None and \
                self.step not in (WATCH, FAILED):
            self._get_at = None
            self._get_pending = True
            self._get_id = self.peer_id
            self.io.helper(("get", self.attempts), "GET", "/%s?wait=%d" % (self.peer_id, GET_WAIT_S),
                           None, [])
        if self._keepalive_at is not None and now >= self._keepalive_at:
            self._keepalive(now)
        a = self.agent
        if a is not None:
            d = a.timer()
            if d is not None and d <= now:
                a.handle_timer(now)
            self._flush(now)
        leg = self._leg
        if leg is not None and self.step == ZRTP:
            if leg.is_secure:
                self.secure_at = now
                self._stop_dtmf()  # the peer is SECURE with us: it held our number
                self._set_step(DIRECT)
                self._tones = None  # no tones are listened for on the provider path now
                self._delete(self.local_id, self.token)  # the peer is done with our offer
                self.token = None
                a = self.agent
                if a is not None and a.turn is not None and a.selected is not None and \
                        a.selected.local.type != _agent.RELAY:
                    a.turn.release(now)  # won on a direct pair: the relay is not needed
                    self._flush(now)
                if self.memory is not None and not self._zrtp_seen:
                    self.memory.remember(self.peer)
            elif leg.failed:
                self._fail("ZRTP on the direct path failed", now)

    def _keepalive(self, now):
        """One G.711 silence packet on the provider path (ICE.md 1.6; silence, not a pattern)."""
        self._keepalive_at = now + KEEPALIVE_MS
        pt = self._pt if self._pt in _SILENCE else 0
        ssrc = self._ssrc if self._ssrc is not None else 0
        seq = ((self._seq or 0) + self._offset + 1 + self.keepalives) & 0xFFFF
        ts = ((self._ts or 0) + (now - self._ts_ms) * 8) & 0xFFFFFFFF
        pkt = _events.build_rtp(True, pt, seq, ts, ssrc, bytes([_SILENCE[pt]]) * 160)
        self.keepalives += 1
        self._transmit_provider(pkt)

    def poll(self, now):
        """Check the new leg's state now (the media session calls it after network packets)."""
        leg = self._leg
        if leg is not None and self.step == ZRTP and (leg.is_secure or leg.failed):
            self.handle_timer(now)

    # --- the end ------------------------------------------------------------------------------
    def _fail(self, reason, now):
        if self.step in (FAILED, DIRECT):
            return  # a late failure (the helper's, say) ends no SECURE call (close() frees it)
        self._stop_dtmf()
        s = self.session
        if self.agent is not None:
            self._log_pairs("ICE %s" % getattr(self.agent, "state", "?"))
            self.agent.close(now)
            self._flush(now)
        if self._socket:
            self.io.close_ice()
            self._socket = False
        self._delete(self.local_id, self.token)
        if s.path is not s.paths[0]:
            s.use(s.paths[0])
        if self._leg is not None:
            self._leg.close()
            s.secure = None
        self._keepalive_at = None
        s.policy = self._policy0  # media.clear again: nothing keeps the call muted beyond
        if self.memory is not None and self.peer_frames == 0:
            self.memory.forget(self.peer)
        self._set_step(FAILED, reason)
        if self.status is not None:
            self.status.set_clear("ICE fallback: %s" % reason)
        self.agent = None
        self._deadline = None

    def retry(self, now):
        """The user's retry action: start the fallback again (after a failure, or at once)."""
        if self.step not in (WATCH, FAILED):
            return False
        self._reset_attempt()
        self.session.policy = self._policy0
        self._start(now, "retry")
        return self.step != WATCH  # not on a SECURE call

    def close(self, now):
        """The call ended."""
        if self.step not in (WATCH, FAILED, DIRECT):
            self._fail("the call ended", now)
        elif self.agent is not None:
            self.agent.close(now)
            self._flush(now)
            if self._socket:
                self.io.close_ice()
                self._socket = False

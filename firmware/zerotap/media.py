"""One call's media, sans-IO: plain RTP/RTCP on the phone's path; ZRTP, then SRTP/SRTCP, on the
network paths.

The runtime owns the sockets of a call, each a numbered *leg*: phone RTP/RTCP (``PHONE_RTP``,
``PHONE_RTCP``) and the provider path's network RTP/RTCP (``NET_RTP``, ``NET_RTCP``); a path
added later (:meth:`MediaSession.add_path`, the ICE path) brings legs numbered after those. The
runtime hands every datagram to :meth:`MediaSession.receive` with its leg; the session calls
``transmit(leg, buf, n, addr)`` for what goes out. It never touches a socket or the clock:
``now_ms`` comes in, the next deadline goes out through :meth:`MediaSession.timer`.

A :class:`Path` holds one side's legs, the peer's addresses and the latch; the session holds the
phone's path, a list of network paths (the provider path first) and the active one. The secure
leg (:class:`zerotap.seams.SecureLeg`; here :class:`ZrtpLeg`), the SRTP sessions and the keypad
filter do not care which path carries them.

Rules (RFC 6189 section 10, and the box's promise to its user):
- ZRTP (and STUN) packets from the phone are dropped: the phone's stack must never run ZRTP with
  the far end, the box does.
- Once the phone's SDP named its host, RTP and RTCP on the phone's legs are taken only from that
  host (or the one its SIP comes from: a phone with two addresses), also while it holds (others
  are counted as ``stranger``): no one else on its LAN speaks into the call.
- Before SECURE, audio follows ``media.clear``: ``pass`` relays it (the status says CLEAR or
  NEGOTIATING), ``mute`` relays silence (G.711 only; other payloads are dropped), ``block``
  relays nothing.
- After SECURE, audio from the phone is SRTP-protected toward the network, SRTP from the network is
  unprotected toward the phone, and anything from the network that does not authenticate (plain
  RTP above all) is dropped, counted, and raised as an alarm: it never reaches the phone.
- A peer without ZRTP leaves the call working in clear, and the status CLEAR.
- With a keypad filter (:mod:`zerotap.phonekeys`), RFC 4733 events from the phone that form a
  keypad code (``*#1``: the SAS is verified) are caught and never reach the network.
"""
from micropython import const

from zerotap import rtp as _rtp
from zerotap import seams as _seams
from zerotap import srtp as _srtp
from zerotap import status as _status
from zerotap.zrtp import events as _events

PHONE_RTP = const(0)
PHONE_RTCP = const(1)
NET_RTP = const(2)
NET_RTCP = const(3)
LEG_NAMES = ("phone-rtp", "phone-rtcp", "net-rtp", "net-rtcp")

POLICY_PASS = "pass"
POLICY_MUTE = "mute"
POLICY_BLOCK = "block"

# G.711 silence (RFC 3551 section 4.5.14): the codeword for zero amplitude
_SILENCE = {0: 0xFF, 8: 0xD5}

_KIND_RTP = _rtp.PACKET_RTP
_KIND_RTCP = _rtp.PACKET_RTCP
_KIND_ZRTP = _rtp.PACKET_ZRTP
_KIND_STUN = _rtp.PACKET_STUN

# RFC 6189 section 4.6: the peer switches to SRTP when our Conf2ACK (or Confirm2) reaches it, so
# plain packets it sent just before may still arrive after we went SECURE. For this long they are
# dropped and counted, but raise no alarm.
SWITCH_GRACE_MS = const(1000)

_TRAILER_ROOM = const(18)  # SRTCP E||index (4) and the longest tag (10), with margin

# The one working buffer of every call's media path (issue 19: big buffers once, at boot; this
# module is imported when the box starts). A datagram that must be changed (protected, renumbered,
# muted) and came as bytes is copied here: the largest datagram a media socket takes (2048 bytes,
# runtime.udp.MAX_DATAGRAM) and room for the SRTCP index and tag. The box handles one datagram at
# a time, start to end, so all calls share it: a session copies into it and sends from it within
# one receive() or handle_timer(), and never keeps it.
_SCRATCH = bytearray(2048 + _TRAILER_ROOM)

# What ZrtpLeg.unprotect returns besides a length
UNPROTECT_FAILED = const(0)
UNPROTECT_REPLAY = const(-2)
UNPROTECT_REFUSED = const(-3)  # authentic, but refused (srtp.ERR_SSRCS: too many SSRCs)


class Counters:
    """What the media path dropped and why; a status line may carry them."""

    def __init__(self):
        self.relayed_out = 0  # phone -> network
        self.relayed_in = 0  # network -> phone
        self.zrtp_from_phone = 0
        self.stun = 0
        self.unknown = 0
        self.clear_held = 0  # audio held back by media.clear = block/mute before SECURE
        self.no_route = 0  # nowhere to send yet
        self.stranger = 0  # ZRTP, and RTP before SECURE, from a host other than the peer's;
        # RTP/RTCP on the phone's legs from a host other than the phone's
        self.unauthenticated = 0  # network packets after SECURE that failed SRTP/SRTCP checks
        self.replayed = 0
        self.errors = 0
        self.keys_held = 0  # phone packets held back by the keypad filter
        self.keys_sent = 0  # event packets of released keys, sent toward the network

    def as_dict(self):
        return {k: getattr(self, k) for k in ("relayed_out", "relayed_in", "zrtp_from_phone",
                                              "stun", "unknown", "clear_held", "no_route", "stranger",
                                              "unauthenticated", "replayed", "errors",
                                              "keys_held", "keys_sent")}


class Path:
    """Where one side of a call's media flows: the runtime's legs (socket numbers) for RTP and
    RTCP, the peer's addresses, and the host the session latches to (RFC 4961).

    ``remote`` is ``[rtp_addr, rtcp_addr]`` (``(host, port)`` or None); ``rtcp_leg`` is None on a
    path that carries no RTCP (the ICE path: RTCP then stays on the provider path)."""

    def __init__(self, name, rtp_leg, rtcp_leg):
        self.name = name
        self.rtp_leg = rtp_leg
        self.rtcp_leg = rtcp_leg
        self.remote = [None, None]
        self.host = None  # the last host its SDP named (a hold with c=0.0.0.0 keeps it)
        self.source = None  # the phone's: the host its SIP comes from (runtime), media may too
        self.sdp_host = None  # latch only from this host

    @property
    def sdp_host(self):
        return self._sdp_host

    @sdp_host.setter
    def sdp_host(self, host):
        # set_remote sets it, and so does the runtime for a fork's session: either way the host
        # stays known (self.host) over a hold that names none
        self._sdp_host = host
        if host is not None:
            self.host = host

    def set_remote(self, host, rtp_port, rtcp_port=None):
        """Media goes to HOST:RTP_PORT (and RTCP_PORT, default +1); HOST None or port 0: nowhere
        (on hold), and any host may be latched."""
        self.sdp_host = host
        if host is None or rtp_port == 0:
            self.remote[0] = self.remote[1] = None
            return
        self.remote[0] = (host, rtp_port)
        self.remote[1] = (host, rtcp_port or rtp_port + 1)

    def from_peer(self, addr):
        """True when ADDR is on the peer's host, the one its SDP named (issue 12: no stranger)."""
        return self.sdp_host is not None and addr[0] == self.sdp_host

    def latch(self, i, addr, authenticated=False):
        # Symmetric RTP (RFC 4961): answer where the packets come from, but only from the host the
        # SDP named, so that a stranger cannot steal the stream. AUTHENTICATED media (SRTP that
        # passed its tag; before SECURE, a ZRTP Hello whose hash the peer's SDP announced) may
        # move the latch to any address: a peer behind NAT sends from an address its SDP does not
        # know (docs/transports.md).
        cur = self.remote[i]
        if cur != addr and (authenticated or addr[0] == self.sdp_host or
                            cur is None and self.sdp_host is None):
            self.remote[i] = addr


PHONE = "phone"
PROVIDER = "provider"  # the network path the SIP offer/answer set up through the provider


def _announced_hello(sec, buf, n):
    """True when BUF[:N] is a ZRTP Hello whose hash is the peer's SDP a=zrtp-hash (RFC 6189
    section 8.1): media from its source is the peer's, wherever NAT put it."""
    want = getattr(sec, "peer_hash", None)
    if want is None or n < 40 or bytes(buf[16:24]) != b"Hello   ":
        return False
    from zerotap.zrtp import keys as _keys
    got = _keys.hello_hash(bytes(buf[12:n - 4]))
    return "".join("%02x" % b for b in got) == want[1].lower()


class MediaSession:
    """The media of one call: the phone's :class:`Path` and one or more network paths.

    ``paths`` starts with the provider path (legs NET_RTP/NET_RTCP, addresses from the SDP);
    :meth:`add_path` adds another (the ICE path) and :meth:`use` makes it the active one. The
    active path (``path``) carries the phone's media and ZRTP out; media from any of the
    session's paths is taken in (each latches its own address). RTCP goes out on the active path,
    or on the provider path when the active one carries none. ``secure`` (a
    :class:`zerotap.seams.SecureLeg`, such as :class:`ZrtpLeg`; None in clear mode) does ZRTP and
    SRTP whichever path carries them."""

    def __init__(self, transmit, policy=POLICY_PASS, secure=None, status=None, log=None,
                 keys=None):
        self.transmit = transmit
        self.policy = policy
        self.secure = secure
        self.keys = keys  # a zerotap.phonekeys.PhoneKeys, or None
        self.fallback = None  # a zerotap.ice.fallback.Fallback, or None
        self.status = status
        self.log = log
        self.phone = Path(PHONE, PHONE_RTP, PHONE_RTCP)
        self.paths = [Path(PROVIDER, NET_RTP, NET_RTCP)]
        self.path = self.paths[0]  # the active network path
        self._leg_path = [self.phone, self.phone, self.paths[0], self.paths[0]]  # leg -> path
        self.counters = Counters()
        self.closed = False
        self.keyed_with = None  # (host, port) of the far media the secure leg keyed with (runtime)
        self.sdp_remote = ()  # the network RTP and RTCP addresses its SDP named (runtime: forks)
        self._alarmed = False

    # --- paths and addresses ----------------------------------------------------------------------
    def set_remote(self, side, host, rtp_port, rtcp_port=None):
        """Media of SIDE (0 phone, 1 network: the provider path) goes to HOST:RTP_PORT (and
        RTCP_PORT, default +1), from its SDP."""
        (self.phone if side == 0 else self.paths[0]).set_remote(host, rtp_port, rtcp_port)

    def add_path(self, path):
        """Another network path of this call, on legs of its own (numbered after the last)."""
        legs = self._leg_path
        want = len(legs)
        for leg in (path.rtp_leg, path.rtcp_leg):
            if leg is None:
                continue
            if leg != want:
                raise ValueError("path %s: leg %d, the next free leg is %d" % (path.name, leg, want))
            want += 1
        for leg in (path.rtp_leg, path.rtcp_leg):
            if leg is not None:
                legs.append(path)
        self.paths.append(path)
        return path

    def use(self, path):
        """Send the phone's media and ZRTP on PATH (one of ``paths``) from now on."""
        if path not in self.paths:
            raise ValueError("path %s is not one of this call's" % path.name)
        self.path = path

    def rtp_remote(self):
        """The active path's RTP address (where ZRTP goes), or None while it is unknown."""
        return self.path.remote[0]

    def add_event_types(self, types):
        """Payload types that an SDP of this call mapped to telephone-event (RFC 4733 section 7)."""
        if self.keys is not None:
            self.keys.add_event_types(types)
        if self.fallback is not None:
            self.fallback.add_event_types(types)

    # --- packets ---------------------------------------------------------------------------------
    def receive(self, leg, buf, n, addr, now_ms):
        """A datagram BUF[:N] from ADDR arrived on LEG. BUF may be changed in place."""
        if self.closed:
            return
        kind = _rtp.demux(buf, n)
        if leg <= PHONE_RTCP:
            self._from_phone(leg, kind, buf, n, addr, now_ms)
        else:
            self._from_network(leg, kind, buf, n, addr, now_ms)

    def _writable(self, buf, n):
        # MicroPython's recvfrom gives bytes, and protecting needs room for the SRTCP index and
        # the tag: work in the shared buffer then (_SCRATCH)
        if isinstance(buf, bytearray) and len(buf) >= n + _TRAILER_ROOM:
            return buf
        s = _SCRATCH
        if buf is not s:
            s[:n] = memoryview(buf)[:n]  # buf[:n] would be a copy of the packet on the heap
        return s

    def _from_phone(self, leg, kind, buf, n, addr, now_ms):
        c = self.counters
        if kind == _KIND_ZRTP:
            c.zrtp_from_phone += 1  # RFC 6189 section 10: never let the phone run ZRTP
            return
        if kind == _KIND_STUN:
            c.stun += 1
            return
        if kind != _KIND_RTP and kind != _KIND_RTCP:
            c.unknown += 1
            return
        host = self.phone.host
        if host is not None and addr[0] != host and addr[0] != self.phone.source:
            # Only the phone speaks into the call: media from another host on its LAN would be
            # protected toward the peer as the phone's, and its keypad events would act on the
            # box (*#1: the SAS verified)
            c.stranger += 1
            return
        self.phone.latch(leg, addr)
        keys = self.keys
        if keys is not None and kind == _KIND_RTP:
            verdict = keys.filter(buf, n, now_ms)
            if verdict < 0:
                c.keys_held += 1
                return
            if verdict:
                buf = self._writable(buf, n)
                keys.renumber(buf)
        self._send_out(leg, kind, buf, n, now_ms)

    def _send_out(self, i, kind, buf, n, now_ms):
        """Phone -> network (I: 0 from the phone's RTP leg, 1 from its RTCP leg): the phone's
        packets and the keys the keypad filter re-sends in its stream alike. The ICE fallback's
        frames play in that stream, then SRTP once SECURE, before that what media.clear says."""
        c = self.counters
        fb = self.fallback
        if fb is not None and kind == _KIND_RTP:
            # the ICE fallback's number exchange plays in this stream (zerotap.ice.fallback): it
            # holds the stream back while a frame plays and renumbers it past the frames
            buf = self._writable(buf, n)
            if not fb.phone_rtp(buf, n, now_ms):
                c.clear_held += 1
                return False
        path = self.path
        if i and path.rtcp_leg is None:
            path = self.paths[0]
        dest = path.remote[i]
        if dest is None:
            c.no_route += 1
            return False
        sec = self.secure
        if sec is not None and sec.is_secure:
            buf = self._writable(buf, n)
            n = sec.protect(buf, n, kind == _KIND_RTCP)
            if n <= 0:
                c.errors += 1
                return False
        elif not self._clear_allowed(kind, buf, n):
            c.clear_held += 1
            return False
        c.relayed_out += 1
        self.transmit(path.rtcp_leg if i else path.rtp_leg, buf, n, dest)
        return True

    def _clear_allowed(self, kind, buf, n):
        """media.clear before SECURE; MUTE rewrites G.711 payloads to silence in place."""
        p = self.policy
        if p == POLICY_PASS:
            return True
        if p == POLICY_BLOCK:
            return False
        if kind == _KIND_RTCP:
            return True  # reports carry no audio
        start = _rtp.header_length(buf, n)
        fill = _SILENCE.get(buf[1] & 0x7F)
        if start < 0 or fill is None:
            return False
        if not isinstance(buf, bytearray):
            return False  # the caller's copy is immutable: drop rather than relay audio
        end = n
        if buf[0] & 0x20 and n > start:
            if buf[n - 1] > n - start:
                # RFC 3550 section 5.1: padding longer than the payload is malformed, and a
                # receiver that ignores it would play the whole payload: not relayed
                return False
            end = n - buf[n - 1]
        for i in range(start, end):
            buf[i] = fill
        return True

    def _from_network(self, leg, kind, buf, n, addr, now_ms):
        c = self.counters
        sec = self.secure
        path = self._leg_path[leg]
        i = 0 if leg == path.rtp_leg else 1
        fb = self.fallback
        if fb is not None and not fb.network(path, kind, buf, n, addr, now_ms):
            return  # the provider path after the switch to the ICE path: counted there
        if kind == _KIND_ZRTP:
            if i == 0 and sec is not None:
                # An announced Hello latches only before SECURE: it is sent in clear and anyone
                # who saw it can send it again; after SECURE authenticated SRTP latches
                hello = not sec.is_secure and _announced_hello(sec, buf, n)
                if not (hello or path.from_peer(addr) or addr == path.remote[0]):
                    # ZRTP only from the peer's media host or where authenticated media latched
                    # (before the answer: from nowhere), or a Hello the peer's SDP announced
                    c.stranger += 1
                    return
                path.latch(0, addr, hello)
                sec.receive_zrtp(buf, n, now_ms)
            else:
                c.unknown += 1
            return
        if kind == _KIND_STUN:
            c.stun += 1
            return
        if kind != _KIND_RTP and kind != _KIND_RTCP:
            c.unknown += 1
            return
        if (sec is None or not sec.is_secure) and not path.from_peer(addr):
            c.stranger += 1  # before SECURE, only the peer's host reaches the phone
            return
        if sec is not None and sec.can_unprotect:
            buf = self._writable(buf, n)
            n2 = sec.unprotect(buf, n, kind == _KIND_RTCP, now_ms)
            if n2 <= 0:
                if n2 == UNPROTECT_REPLAY:
                    c.replayed += 1
                    return
                if n2 == UNPROTECT_REFUSED:
                    c.errors += 1
                    return
                c.unauthenticated += 1
                if sec.is_secure and now_ms - sec.secure_at >= SWITCH_GRACE_MS:
                    self._alarm()
                return
            n = n2
            path.latch(i, addr, True)  # it authenticated
        elif not self._clear_allowed(kind, buf, n):
            c.clear_held += 1
            return
        path.latch(i, addr)
        dest = self.phone.remote[i]
        if dest is None:
            c.no_route += 1
            return
        c.relayed_in += 1
        self.transmit(self.phone.rtcp_leg if i else self.phone.rtp_leg, buf, n, dest)

    def _alarm(self):
        # Plain or forged media after SECURE: drop it, count it, tell the user.
        n = self.counters.unauthenticated
        if self.status is not None and (not self._alarmed or n & (n - 1) == 0):
            self._alarmed = True
            self.status.alarm("%d unauthenticated media packets from the network after SECURE, "
                              "dropped" % n)
        if self.log and n & (n - 1) == 0:  # 1, 2, 4, 8, ...: log lines that cannot flood
            self.log("media: %d unauthenticated packets dropped after SECURE" % n)

    def send_zrtp(self, packet):
        """The secure leg sends PACKET to the peer's RTP address on the active path."""
        path = self.path
        dest = path.remote[0]
        if dest is None or self.closed:
            return False
        self.transmit(path.rtp_leg, packet, len(packet), dest)
        return True

    # --- timers: ZRTP, and the keypad's re-sent keys ----------------------------------------------
    def timer(self):
        sec = self.secure
        t = sec.timer() if sec is not None else None
        for part in (self.keys, self.fallback):
            if part is not None and not (self.closed and part is self.fallback):
                k = part.timer()  # (a closed session's fallback is not driven: no timer)
                if k is not None and (t is None or k < t):
                    t = k
        return t

    def handle_timer(self, now_ms):
        sec = self.secure
        if sec is not None:
            t = sec.timer()
            if t is not None and t <= now_ms:
                sec.handle_timer(now_ms)
        keys = self.keys
        if keys is not None and not self.closed:
            t = keys.timer()
            if t is not None and t <= now_ms:
                for packet in keys.handle_timer(now_ms):
                    buf = self._writable(packet, len(packet))
                    if self._send_out(0, _KIND_RTP, buf, len(packet), now_ms):
                        self.counters.keys_sent += 1
        fb = self.fallback
        if fb is not None and not self.closed:
            t = fb.timer()
            if t is not None and t <= now_ms:
                fb.handle_timer(now_ms)

    def close(self):
        self.closed = True
        if self.fallback is not None:
            self.fallback.close(self.fallback._now)
        if self.secure is not None:
            self.secure.close()


class ZrtpLeg(_seams.SecureLeg):
    """ZRTP and SRTP/SRTCP on the network leg of one call: the engine
    (:class:`zerotap.zrtp.engine.Engine`), its packets, its events, and the SRTP sessions keyed from
    them. The status goes SECURE only here, on the engine's Secure event: SRTP keys exist and the
    peer's Confirm MAC was verified."""

    def __init__(self, engine, status=None, log=None):
        self.engine = engine
        self.status = status
        self.log = log
        self.session = None  # the MediaSession, for sending
        self.is_secure = False
        self.secure_at = 0  # now_ms when SECURE came
        self._now = 0
        self.can_unprotect = False
        self.failed = False
        self.started = False
        self.peer_hash = None  # (version, hex) from the peer's SDP
        self._start_at = None
        self.tx = None
        self.rx = None
        self.drops = _srtp.Drops()
        self.profile = None
        self._no_peer = False

    def bind(self, session):
        self.session = session

    def hello_hash(self):
        return self.engine.hello_hash()

    def set_peer_hash(self, value):
        """The peer's a=zrtp-hash (version, hex) from its SDP, or None: the engine checks the
        peer's Hello against it (RFC 6189 section 8.1)."""
        if value is None or value == self.peer_hash:
            return
        self.peer_hash = value
        try:
            self.engine.set_peer_hello_hash("%s %s" % value)
        except ValueError as e:
            if self.log:
                self.log("zrtp: peer a=zrtp-hash ignored: %s" % e)
        self._drain()

    def start(self, now_ms):
        """The call was answered (or early media began): send Hellos once the peer's media
        address is known."""
        if self.started:
            return
        if self.session is None or self.session.rtp_remote() is None:
            self._start_at = now_ms  # retried from the timer
            return
        self.started = True
        self._start_at = None
        self._now = now_ms
        self.engine.start(now_ms)
        if self.peer_hash is not None and self.status is not None:
            self.status.negotiating()
        self._drain()

    def receive_zrtp(self, buf, n, now_ms):
        self._now = now_ms
        if not self.started:
            # The peer's Hello came before we saw the answer: start now (RFC 6189 section 4.1).
            self.started = True
            self._start_at = None
            self.engine.start(now_ms)
        if self.status is not None and not self.is_secure and not self.failed:
            self.status.negotiating()
        self.engine.receive(bytes(buf[:n]) if n != len(buf) else bytes(buf), now_ms)
        self._drain()

    def timer(self):
        if self._start_at is not None:
            return self._start_at + 20
        return self.engine.timer()

    def handle_timer(self, now_ms):
        self._now = now_ms
        if self._start_at is not None:
            self.start(now_ms)
            return
        self.engine.handle_timer(now_ms)
        self._drain()

    def _drain(self):
        eng = self.engine
        for pkt in eng.datagrams_to_send():
            if self.session is not None:
                self.session.send_zrtp(pkt)
        ev = eng.next_event()
        while ev is not None:
            self._event(ev)
            ev = eng.next_event()

    def _event(self, ev):
        if isinstance(ev, _events.Sas):
            # Initiator: the responder may send SRTP right after its Conf2ACK
            self._keys(ev, rx_only=True)
        elif isinstance(ev, _events.Secure):
            self._keys(ev, rx_only=False)
            self.is_secure = True
            self.secure_at = self._now
            self.failed = False
            if self.status is not None:
                self.status.set_secure(**ev.status())
            if self.log:
                self.log("zrtp: SECURE sas=%s %s %s %s %s %s cache=%s" % (
                    ev.sas, ev.sas_type, ev.hash, ev.cipher, ev.auth, ev.ka, ev.cache))
        elif isinstance(ev, _events.Error):
            if self.log:
                self.log("zrtp: error %s: %s%s" % (ev.code, ev.reason, " (fatal)" if ev.fatal else ""))
            if ev.fatal and self.is_secure:
                self._lost_secure("ZRTP failed after SECURE: %s" % ev.reason)
            elif ev.fatal:
                self.failed = True
                if self.status is not None:
                    self.status.fail("ZRTP: %s" % ev.reason)
        elif isinstance(ev, _events.NoPeer):
            self._no_peer = True
            if self.status is not None and not self.is_secure:
                self.status.set_clear("the peer does not answer ZRTP")
        elif isinstance(ev, _events.PeerCleared):
            if self.status is not None and ev.accepted:
                self.status.fail("the peer went clear (GoClear)")

    def _lost_secure(self, reason):
        """A failure after SECURE (issue 12): never silently secure. The keys go, media follows
        the clear policy from now on, and the status says FAILED with the alarm raised (the
        display inverts)."""
        self._wipe_srtp()
        self.is_secure = False
        self.failed = True
        if self.log:
            self.log("zrtp: %s" % reason)
        if self.status is not None:
            self.status.fail(reason)
            self.status.alarm(reason)

    def _wipe_srtp(self):
        for s in (self.tx, self.rx):
            if s is not None:
                s.wipe()
        self.tx = self.rx = None
        self.can_unprotect = False

    def _keys(self, ev, rx_only):
        if self.rx is None:
            self.profile = ev.profile
            self.rx = _srtp.Session(ev.profile, ev.remote_key, ev.remote_salt, zrtp=True)
            self.can_unprotect = True
        if not rx_only and self.tx is None:
            self.tx = _srtp.Session(ev.profile, ev.local_key, ev.local_salt, zrtp=True)

    def protect(self, buf, n, rtcp):
        if rtcp:
            return self.tx.protect_rtcp_into(buf, n, self.drops)
        return self.tx.protect_into(buf, n, self.drops)

    def unprotect(self, buf, n, rtcp, now_ms):
        rx = self.rx
        d = self.drops
        before = d.replay
        other = d.other
        if rtcp:
            m = rx.unprotect_rtcp_into(buf, n, d)
        else:
            m = rx.unprotect_into(buf, n, d)
        if m <= 0:
            if d.replay != before:
                return UNPROTECT_REPLAY
            return UNPROTECT_REFUSED if d.other != other else UNPROTECT_FAILED
        if not self.is_secure:
            self._now = now_ms
            self.engine.srtp_authenticated(now_ms)  # RFC 6189 section 4.6: stands for Conf2ACK
            self._drain()
        return m

    def set_verified(self, verified):
        self.engine.set_verified(verified)

    def close(self):
        """The call ended: the trust cache is written (once per call) and the keys are
        overwritten (issue 12: secrets do not linger)."""
        self._wipe_srtp()
        self.is_secure = False
        self.engine.end()  # the trust cache written once for the call, then the secrets overwritten

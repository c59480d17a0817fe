"""The box on a host (CPython or the MicroPython unix port): config in, sockets up, serve.

    box = Box(cfg)          # opens the two SIP sockets and the control socket
    box.run()               # until SIGINT/SIGTERM (CPython), SIGINT (MicroPython) or ``stop``
                            # then: BYE for every call, media closed, the ZRTP cache written

SIP goes over UDP, TCP and TLS through :mod:`zerotap.runtime.network` (streams, DNS, NAT upkeep;
docs/transports.md). It wires the sans-IO cores onto :mod:`zerotap.runtime.udp`: the proxy
(:mod:`zerotap.sip.proxy`), one :class:`zerotap.media.MediaSession` per call (per early dialog
when the call forks, :meth:`CallMedia.dialog`) with its two sockets and its keypad filter
(:mod:`zerotap.phonekeys`), the status model with its JSON line stream, the local control socket
(:mod:`zerotap.runtime.control`) and, when there is one, the front panel (the display and the
button, :mod:`zerotap.ui.frontpanel`), which the loop serves from the same timer.

The seams (:mod:`zerotap.seams`) it fills: :class:`MediaFactory` is the proxy's media factory,
:class:`CallMedia` each call's media; the secure factory it is given (``secure_factory``, a
:class:`zerotap.seams.SecureFactory`; without one a :class:`zerotap.seams.ClearFactory`) makes
each call's secure leg, does its idle work while no call has media, and is closed at shutdown.

The button, the keypad codes and the control all end in :meth:`Box.action`, which tells the ZRTP
engine too (the trust cache keeps the verified flag) and redraws the display.
"""
import json
import os
import sys
import time

from zerotap import media as _media
from zerotap import rtp as _rtp
from zerotap import seams
from zerotap import status as _status
from zerotap import watch as _watch
from zerotap.runtime import udp
from zerotap.sip import proxy as _proxy
from zerotap.states import ACTIONS, RETRY_FALLBACK, SET_VERIFIED, SWITCH_CALL, TOGGLE_VERIFIED


FIXED_SOCKETS = 3  # the two SIP sockets and the control (UDP)
SOCKETS_PER_CALL = 2  # one per side, RTP and RTCP together (boards/README.md: the socket budget)
ICE_SOCKETS_PER_CALL = 1  # room kept for the ICE fallback's path
HELPER_SOCKETS = 1  # the ICE helper's request while it runs: one at a time, box-wide (http.py)
BOARD_SOCKETS = 10  # lwIP's default in MicroPython's ESP32 builds (CONFIG_LWIP_MAX_SOCKETS)
BOARD_CALLS = 2  # simultaneous secure calls a board is sized for
BINDINGS_FILE = "bindings.json"  # the phones' registrations, beside the trust cache
MAX_FORKS = 4  # early dialogs of one call with a media session each (RAM only: no socket)


class ForkStatus:
    """What a fork's secure leg and session tell the call's status (issue 14, forking): passed on
    while the fork is the call's active one, otherwise kept and replayed when it becomes active,
    so that the status never shows a SAS of a fork the phone does not hear. Other attributes are
    the call status's own."""

    def __init__(self, call_media, call_status):
        self.cm = call_media
        self.real = call_status
        self.session = None
        self.kept = []

    def __getattr__(self, name):
        return getattr(self.real, name)

    def _say(self, name, args, kw):
        if self.cm.session is self.session:
            getattr(self.real, name)(*args, **kw)
            return
        kept = self.kept
        if not kept or kept[-1] != (name, args, kw):  # negotiating() comes per packet
            kept.append((name, args, kw))
            if len(kept) > 16:
                kept.pop(0)

    def negotiating(self):
        self._say("negotiating", (), {})

    def set_clear(self, *args, **kw):
        self._say("set_clear", args, kw)

    def set_secure(self, *args, **kw):
        self._say("set_secure", args, kw)

    def fail(self, *args, **kw):
        self._say("fail", args, kw)

    def alarm(self, *args, **kw):
        self._say("alarm", args, kw)

    def rekeying(self):
        self._say("rekeying", (), {})

    def replay(self):
        kept = self.kept
        self.kept = []
        for name, args, kw in kept:
            getattr(self.real, name)(*args, **kw)


def fixed_sockets(cfg):
    """The sockets the box holds without a call: FIXED_SOCKETS, and the phone side's TCP listener
    when ``phone.tcp`` is on (a connected TCP/TLS peer takes one more while it is connected)."""
    return FIXED_SOCKETS + (1 if getattr(cfg.phone, "tcp", False) else 0)


def _epoch_ms():
    ns = getattr(time, "time_ns", None)
    if ns is not None:
        return ns() // 1000000
    return int(time.time() * 1000)


def stderr_log(text):
    sys.stderr.write("zerotap: %s\n" % text)


class StatusStream:
    """One JSON line per change of a call: the status model's fields, plus ``at`` (epoch ms),
    ``box`` (a name) and the media counters. PATH ``-`` is stdout: there a line goes out only
    when its write cannot block, so a reader that stalls costs lines (``failed``, logged once),
    never the loop."""

    def __init__(self, path, name=None, log=None):
        self.path = path
        self.name = name
        self.log = log
        self.failed = 0  # lines that could not be written (a full disk): logged once
        self._file = None
        if path == "-":
            self._file = sys.stdout
        else:
            self._file = open(path, "a")

    def __call__(self, box, call):
        if call is None:
            line = box.as_dict()
            line["box"] = self.name
            line["at"] = _epoch_ms()
        else:
            line = call.as_dict()
            line["at"] = _epoch_ms()
            if self.name:
                line["box"] = self.name
            line["state"] = call.state
            counters = getattr(call, "counters", None)
            if counters is not None:
                line["dropped"] = counters.unauthenticated
        # the listeners run inside the proxy and the calls' media: a line that cannot be
        # written (ENOSPC, a closed or full pipe) is counted and logged once, never raised into
        # them
        try:
            if self._file is sys.stdout:
                # a reader that stalls (a full pipe): a write would stop the loop, media and all
                # (a poll made for the line: an idle box keeps none on its heap)
                import select
                p = select.poll()
                p.register(sys.stdout, select.POLLOUT)
                if not p.poll(0):
                    raise OSError(11, "the reader does not read")
            self._file.write(json.dumps(line) + "\n")
            flush = getattr(self._file, "flush", None)
            if flush is not None:
                flush()
        except OSError as e:
            self.failed += 1
            if self.failed == 1 and self.log is not None:
                self.log("status: cannot write %s: %s (the calls go on)" % (self.path, e))

    def close(self):
        f, self._file = self._file, None
        if f is not None and f is not sys.stdout:
            try:
                f.close()  # CPython writes what it buffered: the same full disk
            except OSError:
                self.failed += 1


class MediaFactory(seams.MediaFactory):
    """The proxy's media factory (:class:`zerotap.seams.MediaFactory`): one :class:`CallMedia`
    per call, its secure leg from the box's :class:`zerotap.seams.SecureFactory`. ``calls`` is
    the list of media alive (``Box.media``)."""

    def __init__(self, box, secure_factory):
        self.box = box
        self.secure_factory = secure_factory
        self.calls = []
        self.pool_pending = True  # until step_pool says there is nothing (more) to do

    def open(self, call_status):
        m = CallMedia(self.box, call_status, self)
        self.calls.append(m)
        armed = self.box.armed
        while armed:  # faults armed for the next call (the control's ``fault next WHERE``)
            m.inject(armed.pop(0))
        return m

    def closed(self, m):
        if m in self.calls:
            self.calls.remove(m)
        self.pool_pending = True  # a call used the pool: fill it again while idle

    def step_pool(self):
        """One slice of the secure factory's idle work, only while no call has media (a slice
        must never stall a relayed call)."""
        if self.pool_pending and not self.calls:
            self.pool_pending = self.secure_factory.step_pool()


def open_one(loop, host, low, high, handler):
    """Bind one UDP socket on an even port in LOW..HIGH (RTP's convention, RFC 3550 section 11);
    raises OSError when the range is full."""
    for port in range(low + (low & 1), high + 1, 2):
        try:
            return loop.open(host, port, handler)
        except OSError:
            continue
    raise OSError(98, "no free port in %d-%d" % (low, high))


class CallMedia(seams.CallMedia):
    """A call's media session with its sockets (what :class:`MediaFactory` hands out): one per
    side, carrying RTP and RTCP (the SDP the box sends says ``a=rtcp:`` that port, RFC 3605), so
    that two calls and their ICE sockets fit a board's 10 (boards/README.md). ``eps`` maps the
    session's four legs onto them: phone RTP and RTCP share one, network RTP and RTCP the other;
    the handler gives an RTCP datagram (by :func:`zerotap.rtp.demux`) the RTCP leg."""

    def __init__(self, box, call_status, factory):
        self.box = box
        self.factory = factory
        cfg = box.cfg
        loop = box.loop
        self.call_status = call_status
        self.eps = [None, None, None, None]
        self.session = None
        self.faulted = None  # why this call's media stopped (a fault, dead media), or None
        self.watch = _watch.MediaWatch(cfg.media.timeout_s * 1000)
        self._held = [False, False]  # each side's SDP put the call on hold (set_remote)
        self._inject = None  # a fault injected for the tests: "media", "timer"
        self.rekeys = 0  # new ZRTP exchanges after the far media moved
        self.forks = {}  # forking: the callee's tag of each early dialog with SDP -> its session
        self.forks_closed = 0  # sessions of forks that lost (another fork's 2xx won)
        self._lost = []  # far media addresses of the forks that lost: their late packets dropped
        self._keys = None
        self._naming = [0, 0]  # each side's SDPs so far (a late name for an older one: dropped)
        self._closed = False
        fs = ForkStatus(self, call_status)  # the first dialog's (forking: see dialog())
        secure = factory.secure_factory.leg(fs, self)
        keys = None
        if cfg.board.keypad:
            from zerotap.phonekeys import PhoneKeys
            from zerotap.ui.keypad import KeypadMatcher
            keys = PhoneKeys(KeypadMatcher(cfg.board.keypad),
                             lambda action: box.action(action, call_status), box.log,
                             call_status)
        self._keys = keys
        self.session = _media.MediaSession(self._transmit_for(None), cfg.media.clear, secure, fs,
                                           box.log, keys)
        self.session.transmit = self._transmit_for(self.session)
        fs.session = self.session
        call_status.counters = self.session.counters
        try:
            self.eps[0] = self.eps[1] = open_one(loop, cfg.phone.host, cfg.phone.rtp[0],
                                                 cfg.phone.rtp[1], self._handler)
            self.eps[2] = self.eps[3] = open_one(loop, cfg.network.host, cfg.network.rtp[0],
                                                 cfg.network.rtp[1], self._handler)
        except OSError:
            self._close_sockets()
            raise
        self._legs = {id(self.eps[0]): _media.PHONE_RTP, id(self.eps[2]): _media.NET_RTP}
        if secure is not None:
            secure.bind(self.session)
        self.fallback = None  # the ICE fallback (zerotap.runtime.fallback), with ice.enabled
        bf = box.fallback
        if bf is not None and secure is not None:
            self.fallback = bf.attach(self, call_status, self.session,
                                      lambda: factory.secure_factory.leg(call_status, self))

    def _handler(self, ep, data, n, addr, now):
        if self.faulted is not None:
            return
        leg = self._legs[id(ep)]
        if leg <= _media.NET_RTP and _rtp.demux(data, n) == _rtp.PACKET_RTCP:
            leg += 1  # RTCP on the side's one socket: the session's RTCP leg
        phone = leg <= _media.PHONE_RTCP
        session = self.session
        if leg >= _media.NET_RTP and (len(self.forks) > 1 or self._lost):
            if addr in self._lost:
                session.counters.stranger += 1  # a fork that lost, still sending for a while
                return
            session = self._fork_of(addr) or session
        strangers = session.counters.stranger
        try:
            if self._inject == "media":
                raise RuntimeError("injected fault: media handler")
            session.receive(leg, data, n, addr, now)
        except Exception as e:  # one call's fault ends that call, not the box
            self.box.call_fault(self, "media", e)
            return
        if phone:
            if session.counters.stranger == strangers:
                # the phone leg takes media only from the phone's host: another host's packets
                # (dropped, counted as stranger) are no sign that the phone is still there
                self.watch.heard(0, now)
        elif addr in session.paths[0].remote or session.paths[0].from_peer(addr):
            self.watch.heard(1, now)  # from the far end (its SDP's host, or where it latched)

    # --- timers: the session's (ZRTP, keypad) and the media watch -------------------------------
    def timer(self):
        if self.faulted is not None:
            return None
        try:
            t = None
            for session in self._sessions():
                k = session.timer()
                if k is not None and (t is None or k < t):
                    t = k
        except Exception as e:
            self.box.call_fault(self, "timers", e)
            return None
        w = self.watch.deadline()
        if w is not None and (t is None or w < t):
            t = w
        return t

    def handle_timer(self, now_ms):
        if self.faulted is not None:
            return
        try:
            if self._inject == "timer":
                raise RuntimeError("injected fault: timer")
            for session in self._sessions():
                t = session.timer()
                if t is not None and t <= now_ms:
                    session.handle_timer(now_ms)
        except Exception as e:
            self.box.call_fault(self, "timers", e)
            return
        dead = self.watch.expired(now_ms)
        if dead is not None:
            self.faulted = dead
            self.box.call_dead(self, dead)

    # --- media that moves (issue 14) --------------------------------------------------------------
    def _moves(self, host, port):
        """True when the far end's SDP names another media address than the one the secure leg
        keyed with, after SECURE: an announced move (music on hold, a transfer, re-anchoring)."""
        s = self.session
        sec = s.secure
        if sec is None or not sec.is_secure or host is None or port == 0 or \
                s.path is not s.paths[0]:
            return False  # (media on the ICE fallback's direct path: its far end did not move)
        return s.keyed_with != (host, port)  # hold and resume to it: no move

    def _rekey(self, now_ms, host, port):
        """The far media moved to HOST:PORT after SECURE: a new secure leg (a new ZRTP exchange,
        status NEGOTIATING, then SECURE with the new SAS, or CLEAR) with the new peer, instead of
        its packets failing to authenticate and raising the alarm. A move no SDP announced still
        does (the session's latch takes only the host the SDP named)."""
        old = self.session.secure
        new = self.factory.secure_factory.leg(self.session.status, self)
        self.box.log("call %d: the far media moved to %s:%d after SECURE: a new ZRTP exchange"
                     % (self.call_status.call, host, port))
        old.close()
        self.session.secure = new
        self.session._alarmed = False
        self.session.keyed_with = (host, port)
        self.rekeys += 1
        if new is None:
            self.call_status.set_clear("the far media moved; no ZRTP")
            return
        new.bind(self.session)
        self.call_status.rekeying()
        new.start(now_ms)

    def inject(self, where):
        """Make this call fail (the control's ``fault``, for tests): ``media`` (its next datagram
        raises in the handler), ``timer`` (its next timer raises), ``engine`` (its ZRTP engine
        raises on its next packet, timer or start), ``now`` (a fault at once, as if its media
        handler had raised: an unanswered call is cancelled)."""
        if where == "engine":
            sec = self.session.secure
            eng = getattr(sec, "engine", None)
            if eng is None:
                raise ValueError("call %d has no ZRTP engine (clear mode)" % self.call_status.call)

            def broken(*args):
                raise RuntimeError("injected fault: ZRTP engine")

            eng.receive = eng.handle_timer = eng.start = eng.srtp_authenticated = broken
        elif where in ("media", "timer"):
            self._inject = where
        elif where == "now":  # at once, whatever the call's phase (an unanswered call too)
            self.box.call_fault(self, "media", RuntimeError("injected fault: now"))
        else:
            raise ValueError("fault: WHERE is media, timer, engine or now, not %r" % (where,))

    def _transmit(self, leg, buf, n, addr):
        if leg >= 4:  # the ICE path: on the selected pair, direct or through TURN
            if self.fallback is not None:
                self.fallback.send_media(buf, n)
            return
        ep = self.eps[leg]
        if ep is None or ep.closed:
            return
        if len(buf) != n:
            buf = memoryview(buf)[:n]
        ep.send(buf, addr)

    # --- what the proxy calls --------------------------------------------------------------------
    def ports(self, side):
        return self.eps[2 * side].port, self.eps[2 * side + 1].port  # the same port: RTCP too

    def hello_hash(self):
        sec = self.session.secure
        return sec.hello_hash() if sec is not None else None

    def set_remote(self, side, host, port, rtcp_port=None, event_types=None):
        self._naming[side] += 1  # an answer for an earlier SDP of this side is out of date
        if host is not None and port and not udp._is_address(host):
            self._resolve(side, host, port, rtcp_port, event_types)
            return
        self._set_remote(side, host, port, rtcp_port, event_types)

    def _resolve(self, side, name, port, rtcp_port, event_types):
        """SIDE's SDP names its media host NAME (RFC 8866 section 5.7 allows a name): it is
        resolved once, through the box's resolver in the loop (a blocking lookup would stall
        every call; udp refuses names). Until it resolves, that side's media has nowhere to go
        (counted as no_route, as on hold), and the phone leg takes media from no host; then it
        goes to the address, the host the latch takes media from. A name that does not resolve
        leaves this call's media nowhere to go, logged."""
        ticket = self._naming[side]
        session = self.session
        for s in (self._sessions() if side == 0 else (session,)):
            s.set_remote(side, None, 0)
            if side == 0:
                # the phone leg takes media only from the phone's host: until the name resolves
                # that is no host (not any host: a stranger on the LAN would be latched as the
                # phone, hear the call and speak into it)
                s.phone.host = name
        # not a hold: the SDP names a place, so the media watch counts as on a resume
        self._held[side] = False
        held = self._held[0] or self._held[1]
        now = self.box.loop.clock()
        self.watch.hold(0, held, now)
        self.watch.hold(1, held, now)
        call = self.call_status.call

        def done(ip, error):
            if ticket != self._naming[side] or self._closed or self.faulted is not None:
                return  # a later SDP of this side, or the call is over
            if ip is None:
                self.box.log("call %d: the %s media host %s does not resolve (%s): no media goes "
                             "there" % (call, "phone's" if side == 0 else "far", name, error))
                return
            ip = udp.host_text(ip)
            self.box.log("call %d: media host %s is %s" % (call, name, ip))
            if side == 1 and session is not self.session:  # another fork is active by now
                if session.closed:
                    return
                session.set_remote(side, ip, port, rtcp_port)
                session.sdp_remote = ((ip, port), (ip, rtcp_port or port + 1))
                return
            self._set_remote(side, ip, port, rtcp_port, event_types)

        self.box.resolve(done, name, (self.box.cfg.phone if side == 0 else
                                      self.box.cfg.network).host)

    def phone_source(self, host):
        """The phone's SDP came from HOST (its SIP): a phone with two addresses may name one in
        its SDP and send its media from the other, the one its packets toward the box leave
        from; the phone leg takes media from either (media.Path.source)."""
        host = udp.host_text(host)
        for session in self._sessions():
            session.phone.source = host

    def _set_remote(self, side, host, port, rtcp_port, event_types):
        now = self.box.loop.clock()
        if host is not None:
            # the form the packets' source has: the phone leg takes media only from this host,
            # the far leg latches to it (an SDP may write ::1 as 0:0:0:0:0:0:0:1)
            host = udp.host_text(host)
        # a side's SDP without an address (RFC 2543 hold, c=0.0.0.0) or with port 0: the box
        # relays it, so the other side has nowhere to send either (RTCP included): neither side
        # is watched while one is held, and both count again from the resume
        self._held[side] = host is None or port == 0
        held = self._held[0] or self._held[1]
        self.watch.hold(0, held, now)
        self.watch.hold(1, held, now)
        moved = side == 1 and self._moves(host, port)
        if side == 0:
            for session in self._sessions():  # the phone's media is the same for every fork
                session.set_remote(side, host, port, rtcp_port)
        else:
            self.session.set_remote(side, host, port, rtcp_port)
            if host is not None and port:
                self.session.sdp_remote = ((host, port), (host, rtcp_port or port + 1))
        if moved:
            self._rekey(now, host, port)
        elif side == 1 and host is not None and port:
            sec = self.session.secure
            if sec is None or not sec.is_secure:
                self.session.keyed_with = (host, port)  # the far media the exchange runs with
        if event_types:
            self.session.add_event_types(event_types)
        if self.fallback is not None and host is not None and event_types is not None:
            self.fallback.sdp_events(side, event_types)  # none: the number goes as tones

    def set_peer_hash(self, value):
        sec = self.session.secure
        if sec is not None:
            sec.set_peer_hash(value)

    def answered(self, now_ms):
        """The proxy passed on a 2xx, or a 183 with SDP (early media: ZRTP may start on it). The
        media watch starts with the 2xx only: early media is optional (RFC 3960), and an early
        call that never answers is the proxy's to end (CALL_SETUP_LIMIT_MS)."""
        if self.call_status.state == _status.ACTIVE:
            self.watch.start(now_ms)
        sec = self.session.secure
        if sec is not None and self.faulted is None:
            try:
                sec.start(now_ms)
            except Exception as e:  # ended by the box once the proxy has passed the answer on
                self.box.call_fault(self, "engine", e)

    # --- forking: one media session per early dialog (issue 14) -----------------------------------
    def _sessions(self):
        out = [self.session]
        for session in self.forks.values():
            if session is not self.session:
                out.append(session)
        return out

    def _fork_of(self, addr):
        """The fork session whose far media is ADDR (a datagram on the network socket, which every
        fork shares: the offer named one port), or None."""
        for session in self.forks.values():  # the address its SDP named first
            if addr in session.sdp_remote:
                return session
        for session in self.forks.values():  # then where its media latched
            remote = session.paths[0].remote
            if addr == remote[0] or addr == remote[1]:
                return session
        return None

    def dialog(self, tag, now_ms=None):
        """The proxy speaks of the early dialog whose callee's tag is TAG (an SDP of it comes
        next, or its answer): the first dialog with SDP takes the call's session, each further one
        (forking, RFC 3261 section 16.7) gets a session of its own, with its own secure leg (a
        ZRTP exchange with that fork, the Hello the offer announced) and the phone's path. The
        dialog becomes the active one: the phone's media goes to it and its media to the phone.
        Beyond MAX_FORKS early dialogs the extra one shares the last session (logged)."""
        if tag is None:
            return
        forks = self.forks
        session = forks.get(tag)
        if session is None:
            if not forks:
                session = forks[tag] = self.session
            elif len(forks) >= MAX_FORKS:
                self.box.log("call %d: more than %d forks with SDP; dialog %s shares a session"
                             % (self.call_status.call, MAX_FORKS, tag))
                return
            else:
                session = forks[tag] = self._new_fork(tag)
        self._activate(session)

    def _new_fork(self, tag):
        first = self.session
        for s in self.forks.values():
            first = s
            break
        fs = ForkStatus(self, self.call_status)
        secure = self.factory.secure_factory.leg(fs, self)
        old = first.secure
        if secure is not None and getattr(secure, "engine", None) is not None and \
                getattr(old, "engine", None) is not None:
            secure.engine.share_hello(old.engine)
        cfg = self.box.cfg
        session = _media.MediaSession(self._transmit_for(None), cfg.media.clear, secure, fs,
                                      self.box.log, self._keys)
        session.transmit = self._transmit_for(session)
        fs.session = session
        session.phone.remote = list(first.phone.remote)
        session.phone.sdp_host = first.phone.sdp_host
        # and the host the phone leg takes media from, also where the SDP names none now (a
        # hold with c=0.0.0.0) or a name still being resolved (then: no host)
        session.phone.host = first.phone.host
        session.phone.source = first.phone.source
        if secure is not None:
            secure.bind(session)
        self.box.log("call %d: fork %s brings its own media session (%d early dialogs)"
                     % (self.call_status.call, tag, len(self.forks) + 1))
        return session

    def _transmit_for(self, session):
        def transmit(leg, buf, n, addr):
            if leg <= _media.PHONE_RTCP and session is not self.session:
                session.counters.no_route += 1  # a fork the phone does not hear
                return
            self._transmit(leg, buf, n, addr)
        return transmit

    def _activate(self, session):
        if session is self.session:
            return
        self.session = session
        self.call_status.counters = session.counters
        if session.secure is not None and not session.secure.is_secure:
            self.call_status.rekeying()  # the status shows this fork's exchange from here
        st = session.status
        if isinstance(st, ForkStatus):
            st.replay()
        fb = self.fallback
        if fb is not None:  # the ICE fallback follows the active dialog
            for s in self._sessions():
                if s.fallback is fb:
                    s.fallback = None
            fb.close(self.box.loop.clock())
            self.fallback = self.box.fallback.attach(
                self, self.call_status, session,
                lambda: self.factory.secure_factory.leg(self.call_status, self))

    def confirmed(self, tag, now_ms=None):
        """The 2xx of dialog TAG won: its session stays (made now when that fork brought no SDP
        before), every other fork's session is closed (its secure leg wiped)."""
        if tag is None:
            return
        if tag not in self.forks and len(self.forks) >= MAX_FORKS:
            self.forks[tag] = self._new_fork(tag)  # one over the cap, for a moment: see below
        self.dialog(tag, now_ms)
        keep = self.session.sdp_remote
        for other, session in list(self.forks.items()):
            if session is not self.session:
                for addr in list(session.sdp_remote) + session.paths[0].remote:
                    if addr is not None and addr not in keep and addr not in self._lost:
                        self._lost.append(addr)
                session.close()
                self.forks_closed += 1
                self.box.log("call %d: fork %s lost, its media closed" % (self.call_status.call,
                                                                         other))
        self.forks = {tag: self.session}

    def close(self):
        self._closed = True
        for session in self._sessions():
            session.close()
        self._close_sockets()
        self.factory.closed(self)

    def _close_sockets(self):
        for i in range(4):
            if self.eps[i] is not None:
                self.eps[i].close()


class Box:
    """The whole box on one host."""

    def __init__(self, cfg, loop=None, log=None, name=None, secure_factory=None, status=None,
                 front=None):
        self.cfg = cfg
        self.loop = loop or udp.Loop()
        self.log = log or stderr_log
        self.status = status or _status.BoxStatus()
        self.front = front  # a zerotap.ui.frontpanel.FrontPanel, or None
        if front is not None and front.act is None:
            front.act = self.action
        self.stream = StatusStream(cfg.status, name, self.log)
        self.status.listen(self.stream)
        self.secure_factory = secure_factory or seams.ClearFactory()
        clock = getattr(getattr(self.secure_factory, "cache", None), "clock", None)
        if hasattr(clock, "follow"):  # the trust cache's clock: the loop's never wraps
            clock.follow(self.loop.clock)
        self.media_factory = MediaFactory(self, self.secure_factory)
        self.media = self.media_factory.calls  # CallMedia objects alive
        self.proxy = _proxy.Proxy(cfg, self.media_factory, self.status, self.log, os.urandom)
        if loop is None:
            self.loop.log = self.log  # a refused (oversize) datagram is logged with its reason
        limit = getattr(cfg.network, "max_datagram", udp.SIP_DATAGRAM_MAX)  # a board: 1472
        self.sip = [self.loop.open(cfg.phone.host, cfg.phone.port, self._on_sip, limit),
                    self.loop.open(cfg.network.host, cfg.network.port, self._on_sip, limit)]
        from zerotap.runtime import network as _network
        self.net = _network.BoxNetwork(self)  # TCP/TLS, DNS, NAT upkeep (docs/transports.md)
        self.fallback = None  # the ICE fallback's shared part (docs/fallback.md)
        ice = getattr(cfg, "ice", None)
        if ice is not None and ice.enabled:
            from zerotap.runtime import fallback as _rfallback
            self.fallback = _rfallback.BoxFallback(cfg, self.loop, self.net.streams, self.log,
                                                   resolver=self.resolve)
        self.control = None
        from zerotap.runtime import control as _control
        self.control = _control.Control(self, cfg.control)
        self.restart = False  # set by request_restart: the launcher starts the box again
        self.web = None
        if getattr(cfg, "web", None) is not None:  # the page on the phone side (docs/web.md)
            from zerotap.runtime import web as _web
            self.web = _web.WebServer(self, cfg.web)
        self.stopped = False
        self.watchdog = None  # a board's machine.WDT: fed at every turn of the loop
        self.link = None  # the link the box follows (follow_link), or None
        self.faults = False  # True: the control's ``fault`` command works (tests only)
        self.armed = []  # faults for the next call (``fault next WHERE``)
        self.ending = []  # CallMedia whose call the box ends (a fault, dead media)
        self._reap_due = False
        self._loop_fault = False
        self.fault = None  # what ended the loop, when a fault did
        self._saved_bindings = None
        self._restore_bindings()
        warning = self.secure_factory.warning
        if warning:
            self.log(warning)
            self.status.set_warning(warning)
        self.secure_factory.on_warning = self.status.set_warning  # later ones (a failed cache write)

    def set_verified(self, call_status, verified):
        """The user compared the SAS (or takes that back): tell the ZRTP engine (the cache keeps
        it) and the status."""
        for m in self.media:
            if m.call_status is call_status and m.session.secure is not None:
                m.session.secure.set_verified(verified)
        call_status.set_verified(verified)

    def resolve(self, done, host, local="0.0.0.0"):
        """DONE(ip, None) or DONE(None, reason) for the name HOST (an IPv6 address when LOCAL,
        the socket that sends there, is one): through the box's resolver in the loop (network.dns,
        or the system's servers, made on first use), never a blocking lookup."""
        r = self.net.resolver
        if r is None:
            from zerotap.runtime import resolver as _resolver
            servers = getattr(self.cfg.network, "dns", None) or _resolver.system_servers()
            if not servers:
                done(None, "no DNS resolver (network.dns, or the system's)")
                return
            r = self.net.resolver = _resolver.Resolver(self.loop, servers, os.urandom, self.log)
        if ":" in local:
            from zerotap import dns as _dns
            r.address(done, host, _dns.AAAA)
        else:
            r.address(done, host)

    def action(self, name, call=None):
        """A user's action: ``verified``, ``unverified``, ``toggle_verified`` or ``switch_call``,
        from the button, the keypad codes or the control. CALL is the call it is for (the keypad's
        own call); the shown call by default. Verifying applies only to a secure call (the status
        model refuses anything else). Returns the call concerned, or None."""
        if name not in ACTIONS:
            raise ValueError("unknown action %r" % (name,))
        st = self.status
        if self.front is not None:
            self.front.display.wake()
        if name == SWITCH_CALL:
            st.select_next()
            return st.shown_call()
        if call is None:
            call = st.shown_call()
        if name == RETRY_FALLBACK:
            for m in self.media:
                fb = getattr(m, "fallback", None)
                if m.call_status is call and fb is not None and fb.retry(self.loop.clock()):
                    return call
            return None
        if call is None or call.security != _status.SECURE:
            return None
        if name == TOGGLE_VERIFIED:
            verified = not call.verified
        else:
            verified = name == SET_VERIFIED
        self.set_verified(call, verified)
        return call

    # --- SIP -------------------------------------------------------------------------------------
    def _on_sip(self, ep, data, n, addr, now):
        self._receive(0 if ep is self.sip[0] else 1, bytes(data[:n]), addr, now, "UDP")

    def _receive(self, side, datagram, addr, now, transport):
        """A whole SIP message from a UDP socket or a stream."""
        try:
            out = self.proxy.receive(side, datagram, addr, now, transport)
        except Exception as e:  # the box must survive anything a peer sends
            self.log("sip: internal error on a message from %s:%d: %r" % (addr[0], addr[1], e))
            if hasattr(sys, "print_exception"):
                sys.print_exception(e)
            else:
                import traceback
                traceback.print_exc()
            return
        self._send(out)
        if self.ending:
            self._reap(now)
        if self.proxy.binding_keys() != self._saved_bindings:
            self._save_bindings(now)

    def _send(self, out):
        self.net.send(out)

    # --- timers ----------------------------------------------------------------------------------
    def timer(self):
        if self.watchdog is not None:
            self.watchdog.feed()  # the loop turns: a hang (no turn for the WDT's timeout) resets
        if self._loop_fault:
            self._loop_fault = False
            raise RuntimeError("injected fault: the loop")
        deadline = self.proxy.timer()
        if self._reap_due:
            deadline = self.loop.clock()
        if self.media_factory.pool_pending and not self.media:
            deadline = self.loop.clock() + 5  # idle key generation, one slice at a time
        for m in list(self.media):
            t = m.timer()
            if t is not None and (deadline is None or t < deadline):
                deadline = t
        if self.front is not None:
            t = self.front.timer()
            if t is not None and (deadline is None or t < deadline):
                deadline = t
        return deadline

    def handle_timer(self, now_ms):
        for m in list(self.media):
            t = m.timer()
            if t is not None and t <= now_ms:
                m.handle_timer(now_ms)
        t = self.proxy.timer()
        if t is not None and t <= now_ms:
            self.proxy.handle_timer(now_ms)
            self._send(self.proxy.take_outbox())
        if self._reap_due:
            self._reap(now_ms)
        self.media_factory.step_pool()
        front = self.front
        if front is not None:
            t = front.timer()
            if t is not None and t <= now_ms:
                self._tick_front(now_ms)

    def _tick_front(self, now_ms):
        """The front panel's turn. A display that stops answering on its bus (the ssd1306
        driver's OSError: an I2C glitch, a loose wire) is logged: the calls and the loop go on,
        and the next change is drawn again."""
        try:
            self.front.handle_timer(now_ms)
        except OSError as e:
            self.log("display: %s" % (e,))

    # --- bindings on flash (issue 14) --------------------------------------------------------------
    def _bindings_storage(self):
        from zerotap.storage import Storage
        return Storage(self.cfg.zrtp.cache)

    def _restore_bindings(self):
        """The phones' bindings saved before a restart (``bindings.json`` beside the trust
        cache): incoming calls for ``;zt=N`` reach the phone without it registering again."""
        self._saved_bindings = self.proxy.binding_keys()
        try:
            import os
            os.stat(self.cfg.zrtp.cache.rstrip("/") + "/" + BINDINGS_FILE)
        except (ImportError, OSError):
            return  # none saved (and no directory made for nothing)
        try:
            s = self._bindings_storage()
            data = s.read(BINDINGS_FILE)
        except OSError as e:
            self.log("bindings: cannot read: %s" % (e,))
            return
        if data is None:
            return
        try:
            self.proxy.import_bindings(json.loads(data), self.loop.clock())
        except (ValueError, TypeError, AttributeError) as e:  # not what the box wrote
            aside = s.set_aside(BINDINGS_FILE)
            self.log("bindings: %s unreadable (%s), kept as %s" % (BINDINGS_FILE, e, aside))
        self._saved_bindings = self.proxy.binding_keys()
        if self._saved_bindings[0]:
            self.log("bindings: %d restored" % len(self._saved_bindings[0]))

    def _save_bindings(self, now_ms):
        keys = self.proxy.binding_keys()
        try:
            self._bindings_storage().write(
                BINDINGS_FILE, json.dumps(self.proxy.export_bindings(now_ms)).encode())
        except OSError as e:
            self.log("bindings: cannot write: %s" % (e,))
        self._saved_bindings = keys

    # --- network changes (issue 14) -----------------------------------------------------------
    def follow_link(self, source, poll_ms=None, address=None):
        """Read SOURCE (:mod:`zerotap.runtime.link`: the host's interface, a board's Wi-Fi or
        Ethernet) every second and follow it: :meth:`link_down`, :meth:`rebind`,
        :meth:`reregister`, :meth:`link_up`. ADDRESS: the link's address now (the sides bound
        to or advertising it follow it); by default what SOURCE reads now, else (no address
        yet) the address the network socket is bound to (``network.address`` when that is a
        wildcard). Not ``network.address`` first: that is what the box advertises, a forwarded
        public address say, and the link's own address differing from it is no change (taken
        for one, it ended the calls and advertised the private address)."""
        from zerotap.runtime import link as _link
        if self.link is not None:
            self.link.close()
        if address is None:
            address = source.state()[1]
        if address is None:
            # the link has no address yet (DHCP late, no cable): the one the network socket is
            # bound to is the link's; network.address only with a wildcard bind
            host = self.cfg.network.host
            address = host if host not in ("0.0.0.0", "::") else self.cfg.network.address
        self.link = _link.Follower(self, source, address, poll_ms)
        return self.link

    def link_down(self, now_ms):
        """The link is down (or has no address): the status says so; calls go on while their
        media does (``media.timeout_s`` ends them), SIP waits for the link."""
        self.log("network: link down")
        self.status.set_network(False)

    def link_up(self, address, now_ms):
        self.log("network: up, %s" % address)
        self.status.set_network(True, address)

    def reregister(self, now_ms):
        """Register the phones' bindings upstream again
        (:meth:`zerotap.sip.proxy.Proxy.reregister`)."""
        self._send(self.proxy.reregister(now_ms))

    def rebind(self, old, new, now_ms):
        """The box's address changed from OLD to NEW (a new DHCP lease). The calls end (their
        far ends send media to the old address; BYE both ways where it still goes); the SIP
        sockets of each side that was bound to or advertised OLD are bound again, on NEW, and
        the proxy advertises NEW; connections over TCP/TLS made from the old address are
        closed (the next request opens a new one), and the web page listens on NEW when it
        listened on OLD."""
        self.log("network: address %s -> %s: the sockets are bound again" % (old, new))
        for m in list(self.media):
            if m.faulted is None:
                m.faulted = m.call_status.error = "the box's network address changed"
                self._ending(m, m.faulted, False)
        if self.ending:
            self._reap(now_ms)
        cfg = self.cfg
        moved = []
        for side, scfg in ((0, cfg.phone), (1, cfg.network)):
            if scfg.address != old and scfg.host != old:
                continue
            if scfg.host == old:
                scfg.host = new
            if scfg.address == old or scfg.address is None:
                scfg.address = new
            ep = self.sip[side]
            limit = ep.max_datagram
            self.loop.close(ep)
            try:
                self.sip[side] = self.loop.open(scfg.host, scfg.port, self._on_sip, limit)
            except OSError as e:  # its sends fail (counted) until the next change
                self.log("network: cannot bind %s:%d: %s" % (scfg.host, scfg.port, e))
            self.proxy.readdress(side, scfg.address, scfg.host)
            moved.append(side)
        self.net.rebind(moved)
        web = getattr(cfg, "web", None)
        if self.web is not None and web is not None and web.listen[0] == old:
            web.listen = (new, web.listen[1])
            self.web.rebind(new)

    # --- one fault, one call (issue 14) ----------------------------------------------------------------
    def call_fault(self, m, where, exc):
        """An exception in call M's media handler, timers or engine: that call alone ends (BYE
        both ways, status ``failed`` with the reason); the loop and the other calls go on."""
        if m.faulted is not None:
            return
        reason = "internal error in the call's %s: %r" % (where, exc)
        m.faulted = reason
        self.log("call %d: %s" % (m.call_status.call, reason))
        _print_exception(exc)
        self._ending(m, reason, True)

    def call_dead(self, m, reason):
        """Call M's media stopped (``media.timeout_s``): end it with BYE both ways."""
        self.log("call %d: %s" % (m.call_status.call, reason))
        m.call_status.error = reason
        self._ending(m, reason, False)

    def _ending(self, m, reason, failed):
        self.ending.append((m, reason, failed))
        self._reap_due = True

    def _reap(self, now_ms):
        """End the calls in ``ending`` that can be ended now; a call not answered yet waits for
        its final response (a SIP message brings it here again)."""
        self._reap_due = False
        keep = []
        for entry in self.ending:
            m, reason, failed = entry
            if m not in self.media:
                continue  # its call ended meanwhile
            out = self.proxy.end_call(m, now_ms, reason, failed)
            if out is None:
                keep.append(entry)
                continue
            self._send(out)
            if m in self.media:  # not the proxy's call: close it here
                m.close()
        self.ending = keep

    def inject_fault(self, words):
        """The control's ``fault`` command (tests; only when ``faults`` is set): ``fault CALL
        WHERE`` (media, timer, engine, now), ``fault next WHERE`` (the next call), ``fault
        loop``."""
        if not self.faults:
            raise ValueError("fault injection is off (ZEROTAP_FAULTS=1 turns it on)")
        if words == ["loop"]:
            self._loop_fault = True
            return None
        if len(words) != 2:
            raise ValueError("usage: fault CALL|next media|timer|engine|now, or fault loop")
        if words[0] == "next":
            if words[1] not in ("media", "timer", "engine"):
                raise ValueError("fault: WHERE is media, timer or engine, not %r" % (words[1],))
            self.armed.append(words[1])
            return None
        if not words[0].isdigit():
            raise ValueError("fault: CALL is a call number or next, not %r" % (words[0],))
        for m in self.media:
            if m.call_status.call == int(words[0]):
                m.inject(words[1])
                return m.call_status
        raise ValueError("no call %s" % words[0])

    # --- life ------------------------------------------------------------------------------------
    def stop(self):
        self.loop.stop()

    def request_restart(self):
        """Stop, and have the launcher start the box again with the saved config."""
        self.restart = True
        self.stop()

    def run(self):
        """Serve until stopped; then end the calls and write the cache. SIGINT (both
        interpreters) and SIGTERM (CPython) stop it."""
        self.log("listening: phone %s:%d, network %s:%d, control %s:%d" % (
            self.cfg.phone.host, self.cfg.phone.port, self.cfg.network.host,
            self.cfg.network.port, self.cfg.control[0], self.cfg.control[1]))
        if self.status.ip != self.cfg.network.address or self.status.network != _status.NET_UP:
            self.status.set_network(True, self.cfg.network.address)
        if self.front is not None:
            self._tick_front(self.loop.clock())  # the panel shows the box before it serves
        restore = _install_sigterm(self)
        try:
            self.loop.run(self)
        except KeyboardInterrupt:
            self.log("interrupted")
        except Exception as e:  # a fault in the loop itself: the box restarts (boot, __main__)
            self.fault = "loop fault: %r" % (e,)
            self.log(self.fault)
            _print_exception(e)
            raise
        finally:
            self.shutdown()
            if restore is not None:
                restore()

    def shutdown(self):
        if self.stopped:
            return
        self.stopped = True
        now = self.loop.clock()
        try:
            self._send(self.proxy.shutdown(now))
        except Exception as e:
            self.log("shutdown: %r" % (e,))
        for m in list(self.media):
            m.close()
        self.secure_factory.close()
        if self.link is not None:
            self.link.close()
        if self.fallback is not None:
            self.fallback.close()
        if self.web is not None:
            self.web.close()
        self.net.close()
        self.loop.close_all()
        if self.front is not None:
            self._tick_front(self.loop.clock())  # the last frame: no call
        self.stream.close()
        self.log("stopped")


def _print_exception(exc):
    if hasattr(sys, "print_exception"):
        sys.print_exception(exc)
    else:
        import traceback
        traceback.print_exception(type(exc), exc, exc.__traceback__)


def _install_sigterm(box):
    """CPython: SIGTERM ends the loop like SIGINT. MicroPython's unix port has no ``signal``
    module: there SIGINT (KeyboardInterrupt) and ``python -m zerotap control stop`` do it, and
    tools/zerotap-micropython turns a SIGTERM into a SIGINT."""
    try:
        import signal
    except ImportError:
        return None

    def handler(signum, frame):
        box.stop()
        raise KeyboardInterrupt

    try:
        old = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread
        return None
    return lambda: signal.signal(signal.SIGTERM, old)

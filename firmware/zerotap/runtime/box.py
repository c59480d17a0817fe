"""The box on a host (CPython or the MicroPython unix port): config in, sockets up, serve.

    box = Box(cfg)          # opens the two SIP sockets and the control socket
    box.run()               # until SIGINT/SIGTERM (CPython), SIGINT (MicroPython) or ``stop``
                            # then: BYE for every call, media closed, the ZRTP cache written

SIP goes over UDP, TCP and TLS through :mod:`zerotap.runtime.network` (streams, DNS, NAT upkeep;
docs/transports.md). It wires the sans-IO cores onto :mod:`zerotap.runtime.udp`: the proxy
(:mod:`zerotap.sip.proxy`), one :class:`zerotap.media.MediaSession` per call with its four sockets
and its keypad filter (:mod:`zerotap.phonekeys`), the status model with its JSON line stream, the
local control socket (:mod:`zerotap.runtime.control`) and, when there is one, the front panel (the
display and the button, :mod:`zerotap.ui.frontpanel`), which the loop serves from the same timer.

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
from zerotap import seams
from zerotap import status as _status
from zerotap.runtime import udp
from zerotap.sip import proxy as _proxy
from zerotap.states import ACTIONS, RETRY_FALLBACK, SET_VERIFIED, SWITCH_CALL, TOGGLE_VERIFIED


def _epoch_ms():
    ns = getattr(time, "time_ns", None)
    if ns is not None:
        return ns() // 1000000
    return int(time.time() * 1000)


def stderr_log(text):
    sys.stderr.write("zerotap: %s\n" % text)


class StatusStream:
    """One JSON line per change of a call: the status model's fields, plus ``at`` (epoch ms),
    ``box`` (a name) and the media counters. PATH ``-`` is stdout."""

    def __init__(self, path, name=None):
        self.path = path
        self.name = name
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
        self._file.write(json.dumps(line) + "\n")
        try:
            self._file.flush()
        except (AttributeError, OSError):
            pass

    def close(self):
        if self._file is not None and self._file is not sys.stdout:
            self._file.close()
        self._file = None


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


class CallMedia(seams.CallMedia):
    """A call's media session with its four sockets (what :class:`MediaFactory` hands out)."""

    def __init__(self, box, call_status, factory):
        self.box = box
        self.factory = factory
        cfg = box.cfg
        loop = box.loop
        self.call_status = call_status
        self.eps = [None, None, None, None]
        self.session = None
        secure = factory.secure_factory.leg(call_status, self)
        keys = None
        if cfg.board.keypad:
            from zerotap.phonekeys import PhoneKeys
            from zerotap.ui.keypad import KeypadMatcher
            keys = PhoneKeys(KeypadMatcher(cfg.board.keypad),
                             lambda action: box.action(action, call_status), box.log)
        self.session = _media.MediaSession(self._transmit, cfg.media.clear, secure, call_status,
                                           box.log, keys)
        call_status.counters = self.session.counters
        try:
            self.eps[0], self.eps[1] = loop.open_pair(cfg.phone.host, cfg.phone.rtp[0],
                                                      cfg.phone.rtp[1], self._handler)
            self.eps[2], self.eps[3] = loop.open_pair(cfg.network.host, cfg.network.rtp[0],
                                                      cfg.network.rtp[1], self._handler)
        except OSError:
            self._close_sockets()
            raise
        self._legs = {}
        for leg in range(4):
            self._legs[id(self.eps[leg])] = leg
        if secure is not None:
            secure.bind(self.session)
        self.fallback = None  # the ICE fallback (zerotap.runtime.fallback), with ice.enabled
        bf = box.fallback
        if bf is not None and secure is not None:
            self.fallback = bf.attach(self, call_status, self.session,
                                      lambda: factory.secure_factory.leg(call_status, self))

    def _handler(self, ep, data, n, addr, now):
        self.session.receive(self._legs[id(ep)], data, n, addr, now)

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
        return self.eps[2 * side].port, self.eps[2 * side + 1].port

    def hello_hash(self):
        sec = self.session.secure
        return sec.hello_hash() if sec is not None else None

    def set_remote(self, side, host, port, rtcp_port=None, event_types=None):
        self.session.set_remote(side, host, port, rtcp_port)
        if event_types:
            self.session.add_event_types(event_types)

    def set_peer_hash(self, value):
        sec = self.session.secure
        if sec is not None:
            sec.set_peer_hash(value)

    def answered(self, now_ms):
        sec = self.session.secure
        if sec is not None:
            sec.start(now_ms)

    def close(self):
        self.session.close()
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
        self.stream = StatusStream(cfg.status, name)
        self.status.listen(self.stream)
        self.secure_factory = secure_factory or seams.ClearFactory()
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
            self.fallback = _rfallback.BoxFallback(cfg, self.loop, self.net.streams, self.log)
        self.control = None
        from zerotap.runtime import control as _control
        self.control = _control.Control(self, cfg.control)
        self.restart = False  # set by request_restart: the launcher starts the box again
        self.web = None
        if getattr(cfg, "web", None) is not None:  # the page on the phone side (docs/web.md)
            from zerotap.runtime import web as _web
            self.web = _web.WebServer(self, cfg.web)
        self.stopped = False
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

    def _send(self, out):
        self.net.send(out)

    # --- timers ----------------------------------------------------------------------------------
    def timer(self):
        deadline = self.proxy.timer()
        if self.media_factory.pool_pending and not self.media:
            deadline = self.loop.clock() + 5  # idle key generation, one slice at a time
        for m in self.media:
            t = m.session.timer()
            if t is not None and (deadline is None or t < deadline):
                deadline = t
        if self.front is not None:
            t = self.front.timer()
            if t is not None and (deadline is None or t < deadline):
                deadline = t
        return deadline

    def handle_timer(self, now_ms):
        for m in list(self.media):
            t = m.session.timer()
            if t is not None and t <= now_ms:
                m.session.handle_timer(now_ms)
        t = self.proxy.timer()
        if t is not None and t <= now_ms:
            self.proxy.handle_timer(now_ms)
        self.media_factory.step_pool()
        front = self.front
        if front is not None:
            t = front.timer()
            if t is not None and t <= now_ms:
                front.handle_timer(now_ms)

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
            self.front.handle_timer(self.loop.clock())  # the panel shows the box before it serves
        restore = _install_sigterm(self)
        try:
            self.loop.run(self)
        except KeyboardInterrupt:
            self.log("interrupted")
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
        if self.fallback is not None:
            self.fallback.close()
        if self.web is not None:
            self.web.close()
        self.net.close()
        self.loop.close_all()
        if self.front is not None:
            self.front.handle_timer(self.loop.clock())  # the last frame: no call
        self.stream.close()
        self.log("stopped")


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

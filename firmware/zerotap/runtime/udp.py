"""The UDP wait helper: the one place that touches sockets, ``select.poll`` and the clock.

MicroPython's asyncio has no UDP, so the box runs one small loop over ``select.poll`` on both
interpreters (and on a board, whose lwIP sockets poll the same way):

    loop = Loop()
    ep = loop.open("127.0.0.1", 5070, handler)   # handler(ep, data, n, addr, now_ms)
    ep.send(b"...", ("127.0.0.1", 5062))
    loop.run(app)                                  # app.timer() -> deadline or None,
                                                   # app.handle_timer(now_ms)
    loop.stop()                                    # from a handler, a timer or a signal

Addresses are ``(host, port)`` tuples everywhere above this module, whatever the port gives
(CPython: tuples; the unix port: raw ``sockaddr`` bytes, decoded and cached here).

``data`` handed to a handler is a buffer that the next receive overwrites: a handler that keeps
bytes copies ``data[:n]``. On CPython the loop receives every datagram into one buffer made with
the loop (boot), ``recvfrom_into``. MicroPython's sockets (the unix port's, an ESP32's) have no
such call, and their ``readinto`` reads on until its buffer is full (it joins queued datagrams and
cuts the last), so there ``recvfrom(limit + 1)`` asks the heap for a block of the socket's limit
for every datagram and shrinks it to the datagram at once: the limits below keep that block
small (8 KB for SIP, 1,473 B on a board; 64 KB before, which stopped the fallback lab's box on
the unix port with MemoryError after a few calls).

Receive limits: a datagram is handed on whole or not at all. Each socket has ``max_datagram``
(``MAX_DATAGRAM`` for media; the box opens its SIP sockets with ``SIP_DATAGRAM_MAX``, 8 KB:
RFC 3261 18.1.1 sends a request within 200 bytes of the path MTU, or over 1300 bytes with no MTU
known, over TCP, so a larger SIP datagram is rare and a box that must keep one buffer that large
takes no more). The loop receives into a buffer one byte larger than the limit, so a larger
datagram is seen as such: it is refused (counted in ``oversize``, logged with the reason), never
cut and handed on in part. On a board the real limit is lower: MicroPython's ESP32 builds do not
reassemble IP fragments (``LWIP_IP4_REASSEMBLY`` off), so no datagram over one Ethernet frame
(1472 bytes of UDP payload) ever arrives there; see docs/transports.md.

Streams (TCP/TLS, :mod:`zerotap.runtime.stream`) live in the same poll: they register with
:meth:`Loop.watch` and their timers with :meth:`Loop.add_timer_source`.

Time is :class:`Clock`: milliseconds that never wrap, built from ``time.ticks_ms`` where it exists
(MicroPython's ticks wrap) and from ``time.monotonic`` on CPython.
"""
import select
import socket
import time

from zerotap.sip.locate import is_ip as _is_address

MAX_DATAGRAM = 2048  # media sockets: RTP/ZRTP/STUN datagrams are far smaller
SIP_DATAGRAM_MAX = 8192  # SIP over UDP (RFC 3261 18.1.1: larger messages go over TCP)
_BURST = 32  # datagrams read from one socket per wake-up, so that one busy socket starves none
_EAGAIN = (11, 35)  # EAGAIN / EWOULDBLOCK on Linux, BSD
_ADDR_CACHE_MAX = 64

try:
    _ticks_ms = time.ticks_ms
    _ticks_diff = time.ticks_diff
except AttributeError:  # CPython
    _ticks_ms = None
    _ticks_diff = None


class Clock:
    """Monotonic milliseconds since the clock was made; ``clock()`` reads it."""

    def __init__(self):
        if _ticks_ms is None:
            self._t0 = time.monotonic()
        else:
            self._last = _ticks_ms()
            self._ms = 0

    def __call__(self):
        if _ticks_ms is None:
            return int((time.monotonic() - self._t0) * 1000)
        t = _ticks_ms()
        self._ms += _ticks_diff(t, self._last)
        self._last = t
        return self._ms


# _is_address(host), imported above: True for an IPv6 address (it has a colon) or an IPv4 dotted
# quad of ASCII digits, what getaddrinfo turns into a socket address without asking a DNS server.
# The one check of the SIP side (str.isdigit is true for digits outside ASCII on CPython: int()
# then raised, or took '\u0661' for 1 and a lookup followed; never on MicroPython). Imported with
# the module, not at the first send: an idle box has zerotap.sip.locate loaded already, and a
# lazy import would put that module's heap on whatever sends first (bench_ice's agents).


def host_text(host):
    """HOST (an address) in the text the sockets give a datagram's source: an IPv6 address as
    inet_ntop writes it (RFC 5952: "0:0:0:0:0:0:0:1" is "::1"), so that an SDP's form of it
    matches the packets' source. Unchanged where there is no inet_pton (an ESP32's sockets)
    or when it does not convert."""
    if ":" not in host or not hasattr(socket, "inet_pton"):
        return host
    try:
        return socket.inet_ntop(socket.AF_INET6, socket.inet_pton(socket.AF_INET6, host))
    except (OSError, ValueError):
        return host


def sleep_ms(ms):
    if hasattr(time, "sleep_ms"):
        time.sleep_ms(ms)
    else:
        time.sleep(ms / 1000)


_has_recv_into = hasattr(socket.socket, "recvfrom_into")


class Endpoint:
    """One bound UDP socket registered with a :class:`Loop`."""

    def __init__(self, loop, sock, host, port, handler, max_datagram=MAX_DATAGRAM):
        self.loop = loop
        self.max_datagram = max_datagram
        self.oversize = 0
        self.sock = sock
        self.host = host
        self.port = port
        self.handler = handler
        self.sent = 0
        self.send_errors = 0
        self.closed = False

    def send(self, data, addr):
        """Send DATA (bytes-like) to ADDR ``(host, port)``; errors are counted, never raised."""
        try:
            self.sock.sendto(data, self.loop.sockaddr(addr))
            self.sent += 1
            return True
        except (OSError, TypeError):  # TypeError: CPython, an address of the other family
            self.send_errors += 1
            return False

    def close(self):
        self.loop.close(self)

    def __repr__(self):
        return "<udp %s:%d>" % (self.host, self.port)


def _family(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


class Loop:
    """Wait on UDP sockets and one timer; call handlers; stop cleanly."""

    def __init__(self, clock=None, log=None):
        self.clock = clock or Clock()
        self.log = log or (lambda text: None)
        self.oversize = 0
        self._timer_sources = []
        self._poll = select.poll()
        self._by_key = {}
        self._sockaddr = {}
        self._peer = {}
        self._buf = bytearray(MAX_DATAGRAM + 1)
        self._mv = memoryview(self._buf)
        self._stopping = False
        self.received = 0

    # --- addresses ------------------------------------------------------------------------------
    def sockaddr(self, addr):
        """What ``sendto`` wants for ``(host, port)`` (cached). HOST must be an address: a name
        (a far end's SDP may give one) raises OSError at once, never a lookup in the loop (the
        system resolver blocks it: seconds on a board, and a name that does not resolve failed
        again for every packet). Names are resolved in the loop by runtime.resolver."""
        s = self._sockaddr.get(addr)
        if s is None:
            if not _is_address(addr[0]):
                raise OSError(22, "not an address: %s" % (addr[0],))
            if len(self._sockaddr) >= _ADDR_CACHE_MAX:
                self._sockaddr = {}
            s = socket.getaddrinfo(addr[0], addr[1], 0, socket.SOCK_DGRAM)[0][-1]
            self._sockaddr[addr] = s
        return s

    def peer(self, raw):
        """``(host, port)`` for a source address as ``recvfrom`` returned it."""
        if isinstance(raw, tuple):
            if len(raw) == 2:
                return raw
            return raw[0], raw[1]
        key = bytes(raw)
        p = self._peer.get(key)
        if p is None:
            if len(self._peer) >= _ADDR_CACHE_MAX:
                self._peer = {}
            fields = socket.sockaddr(raw)
            p = (socket.inet_ntop(fields[0], fields[1]), fields[2])
            self._peer[key] = p
        return p

    # --- sockets --------------------------------------------------------------------------------
    def open(self, host, port, handler, max_datagram=MAX_DATAGRAM):
        """Bind a UDP socket to HOST:PORT; HANDLER(ep, data, n, addr, now_ms) gets its datagrams,
        each at most MAX_DATAGRAM bytes (larger ones are refused).

        Raises OSError when the port is taken.
        """
        sock = socket.socket(_family(host), socket.SOCK_DGRAM)
        try:
            sock.bind(socket.getaddrinfo(host, port, 0, socket.SOCK_DGRAM)[0][-1])
        except OSError:
            sock.close()
            raise
        sock.setblocking(False)
        ep = Endpoint(self, sock, host, port, handler, max_datagram)
        if len(self._buf) < max_datagram + 1:
            self._buf = bytearray(max_datagram + 1)
        self._poll.register(sock, select.POLLIN)
        self._by_key[self._key(sock)] = ep
        return ep

    def open_pair(self, host, low, high, handler):
        """Bind an even/odd pair (RTP, RTCP) in LOW..HIGH; returns (ep_rtp, ep_rtcp) or raises
        OSError when the range is full."""
        start = low + (low & 1)
        for port in range(start, high, 2):
            try:
                a = self.open(host, port, handler)
            except OSError:
                continue
            try:
                b = self.open(host, port + 1, handler)
            except OSError:
                self.close(a)
                continue
            return a, b
        raise OSError(98, "no free port pair in %d-%d" % (low, high))

    def close(self, ep):
        if ep.closed:
            return
        ep.closed = True
        try:
            self._poll.unregister(ep.sock)
        except (OSError, KeyError, ValueError):
            pass
        self._by_key.pop(self._key(ep.sock), None)
        ep.sock.close()

    def close_all(self):
        for ep in list(self._by_key.values()):
            if isinstance(ep, Endpoint):
                self.close(ep)
            else:
                ep.close("the loop is closing")
        self._timer_sources = []

    # --- other pollables (streams) --------------------------------------------------------------
    def watch(self, sock, obj, mask):
        """Poll SOCK for MASK; OBJ.ready(flags, now_ms) is called when it is ready."""
        self._poll.register(sock, mask)
        self._by_key[self._key(sock)] = obj

    def rewatch(self, sock, mask):
        self._poll.modify(sock, mask)

    def unwatch(self, sock):
        try:
            self._poll.unregister(sock)
        except (OSError, KeyError, ValueError):
            pass
        self._by_key.pop(self._key(sock), None)

    def add_timer_source(self, obj):
        """OBJ has ``timer()`` (a deadline or None) and ``handle_timer(now_ms)``; the loop serves
        it beside the app's."""
        if obj not in self._timer_sources:
            self._timer_sources.append(obj)

    def remove_timer_source(self, obj):
        if obj in self._timer_sources:
            self._timer_sources.remove(obj)

    @staticmethod
    def _key(sock):
        try:
            return sock.fileno()
        except (AttributeError, OSError):
            return id(sock)

    # --- running --------------------------------------------------------------------------------
    def stop(self):
        self._stopping = True

    @property
    def stopping(self):
        return self._stopping

    def _drain(self, ep):
        sock = ep.sock
        handler = ep.handler
        limit = ep.max_datagram
        for _ in range(_BURST):
            try:
                if _has_recv_into:
                    n, raw = sock.recvfrom_into(self._buf, limit + 1)
                    data = self._buf
                else:
                    data, raw = sock.recvfrom(limit + 1)
                    n = len(data)
            except OSError as e:
                if e.args and e.args[0] in _EAGAIN:
                    return
                # ICMP errors (ECONNREFUSED) on a UDP socket: nothing to read, go on
                return
            if n > limit:
                # it filled the buffer: the datagram was larger than this socket takes; what
                # arrived is a cut, and a cut message is never handed on (issue 13)
                ep.oversize += 1
                self.oversize += 1
                src = self.peer(raw)
                self.log("udp: datagram over %d bytes from %s:%d on port %d refused, not cut"
                         % (limit, src[0], src[1], ep.port))
                continue
            self.received += 1
            handler(ep, data, n, self.peer(raw), self.clock())
            if ep.closed or self._stopping:
                return

    def run_once(self, timeout_ms):
        """Wait up to TIMEOUT_MS (-1: forever) and dispatch what arrived."""
        for entry in self._poll.poll(timeout_ms):
            key = entry[0]
            if not isinstance(key, int):
                key = self._key(key)
            ep = self._by_key.get(key)
            if ep is None or ep.closed:
                pass
            elif isinstance(ep, Endpoint):
                self._drain(ep)
            else:
                ep.ready(entry[1], self.clock())
            if self._stopping:
                return

    def run(self, app=None, max_wait_ms=1000):
        """Serve until :meth:`stop`. APP (optional) has ``timer()`` (a deadline in clock
        milliseconds, or None) and ``handle_timer(now_ms)``."""
        self._stopping = False
        while not self._stopping:
            wait = max_wait_ms
            if app is not None:
                deadline = app.timer()
                if deadline is not None:
                    wait = min(wait, max(0, deadline - self.clock()))
            for src in self._timer_sources:
                deadline = src.timer()
                if deadline is not None:
                    wait = min(wait, max(0, deadline - self.clock()))
            self.run_once(wait)
            if app is not None and not self._stopping:
                deadline = app.timer()
                if deadline is not None and deadline <= self.clock():
                    app.handle_timer(self.clock())
            self.serve_timers()

    def serve_timers(self):
        """Fire the timer sources whose deadline has come (run() does it on every turn)."""
        for src in list(self._timer_sources):
            if self._stopping:
                return
            deadline = src.timer()
            if deadline is not None and deadline <= self.clock():
                src.handle_timer(self.clock())

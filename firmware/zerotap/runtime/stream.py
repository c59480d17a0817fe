"""Non-blocking TCP and TLS streams in the runtime's one poll loop (:mod:`zerotap.runtime.udp`).

    streams = Streams(loop, log)                       # one per loop; serves its own timers
    ctx = client_context(cafile="ca.pem")              # or cadata=PEM text/bytes or DER bytes
    c = streams.connect("192.0.2.10", 5061, handler, tls=ctx, server_name="sip.example.test",
                        framed=True, keepalive_ms=25000)
    c.send(b"REGISTER ...")                            # queued until open, then written
    def handler(conn, kind, data, now_ms): ...          # kind: OPEN, MESSAGE (framed: one whole
                                                       # SIP message), DATA (raw bytes), CLOSED
                                                       # (data: the reason, text)
    streams.find("TLS", "192.0.2.10", 5061)            # connection reuse: an open (or opening)
                                                       # connection to that peer, or None
    streams.listen("127.0.0.1", 5070, handler)         # plain TCP server (the phone side)

One layer for every stream of the box: SIP over TCP/TLS (``framed``: :mod:`zerotap.sip.framing`
cuts messages by Content-Length and answers keepalive pings) and the ICE helper's HTTPS client
(raw ``DATA``).

TLS (client only): the server's certificate is checked against the CA bundle or the pinned CA of
the context, with SERVER_NAME for SNI and the name check (on CPython ``check_hostname``; on
MicroPython mbedTLS checks the name given as ``server_hostname``). A failure closes the
connection with the reason, ``tls: certificate verify failed: ...``; nothing is ever retried in
clear (there is no code path from TLS to TCP here).

Two interpreters, one behaviour:
  - CPython: ``ssl`` with ``do_handshake_on_connect=False`` and ``do_handshake()``;
    ``SSLWantReadError``/``SSLWantWriteError`` mean "later".
  - MicroPython (unix port, ESP32): ``tls.SSLContext.wrap_socket`` with
    ``do_handshake_on_connect=False``; ``read``/``write`` return None while they would block and
    drive the handshake; the TLS socket itself is what is polled (its poll drives the handshake:
    polling the raw socket instead stalls it). There is no ``do_handshake`` and no way to ask
    whether the handshake is done (``cipher()`` before it crashes the unix port), so there the
    OPEN event comes when the first queued bytes are written (or the first bytes arrive): queue
    the first message (a REGISTER, a request, a keepalive ping) before or at connect.

Timers: a connection (TCP connect plus TLS handshake) must be up within ``CONNECT_MS``; a message
begun must end within ``MESSAGE_MS`` (a peer that stops mid-message is closed); with
``keepalive_ms``, a ping (CRLF CRLF) goes out after that long without sending and its pong (CRLF)
must come within ``PONG_MS`` (RFC 5626 §4.4.1). Errors of one connection close that connection
only (a MemoryError too: a board's heap may not hold a peer's large message). A listener whose
accept fails for want of descriptors (EMFILE, ENFILE: the connection stays queued, so the
listener would be ready again at once) is left unpolled for a second at a time, logged once,
until an accept works; the open connections go on meanwhile.
"""
import select
import socket
import sys

from zerotap.sip import framing

_ssl = None  # the ssl (or tls) module, imported by _load_ssl() with the first TLS context: a
# box that speaks no TLS never loads it into its heap (issue 19)

CONNECTING = "connecting"
HANDSHAKE = "handshake"
OPEN = "open"
CLOSED = "closed"

# what a handler gets
MESSAGE = "message"
DATA = "data"
CLOSED_EVENT = "closed"
OPEN_EVENT = "open"

CONNECT_MS = 5000
MESSAGE_MS = 10000
PONG_MS = 10000  # RFC 5626 §4.4.1: a pong within 10 s
READ_CHUNK = 2048
READS_PER_WAKE = 32
MAX_OUT = 65536  # bytes queued on one connection; beyond: the peer does not read, close
MAX_INBOUND = 4  # accepted connections per listener (a board has 10 lwIP sockets in all)
_EAGAIN = (11, 35)
_EINPROGRESS = (115, 36, 119)  # EINPROGRESS (Linux, BSD), EALREADY... lwIP uses 119
_CPYTHON = sys.implementation.name == "cpython"  # CPython's ssl and socket semantics
_POLLERR = getattr(select, "POLLERR", 8)
_POLLHUP = getattr(select, "POLLHUP", 16)


def _pem_to_der_list(data):
    import binascii
    out = []
    text = data.decode() if isinstance(data, (bytes, bytearray)) else data
    begin = "-----BEGIN CERTIFICATE-----"
    end = "-----END CERTIFICATE-----"
    pos = 0
    while True:
        i = text.find(begin, pos)
        if i < 0:
            break
        j = text.find(end, i)
        if j < 0:
            raise ValueError("tls: CA certificate without its END line")
        out.append(binascii.a2b_base64("".join(text[i + len(begin):j].split())))
        pos = j + len(end)
    return out


def _load_ssl():
    global _ssl
    if _ssl is None:
        try:
            import ssl as _ssl
        except ImportError:  # pragma: no cover
            try:
                import tls as _ssl
            except ImportError:
                _ssl = None
    return _ssl


def client_context(cafile=None, cadata=None):
    """A TLS client context that requires a certificate signed by the CA(s) of CAFILE (a PEM
    file: a bundle or one pinned CA) or CADATA (PEM text/bytes, or DER bytes)."""
    if _load_ssl() is None:
        raise ValueError("tls: this interpreter has no ssl module")
    if cafile is None and cadata is None:
        raise ValueError("tls: no CA given (a bundle or a pinned CA)")
    if cafile is not None:
        with open(cafile, "rb") as f:
            cadata = f.read()
    pem = isinstance(cadata, str) or b"-----BEGIN" in cadata
    if _CPYTHON:
        ctx = _ssl.SSLContext(_ssl.PROTOCOL_TLS_CLIENT)  # CERT_REQUIRED and check_hostname
        ctx.load_verify_locations(cadata=cadata.decode() if pem and not isinstance(cadata, str)
                                  else cadata)
        return ctx
    ctx = _ssl.SSLContext(_ssl.PROTOCOL_TLS_CLIENT)
    ctx.verify_mode = _ssl.CERT_REQUIRED
    if pem:
        ders = _pem_to_der_list(cadata)
        if not ders:
            raise ValueError("tls: no certificate in the CA data")
        # mbedTLS parses a chain of DER certificates one by one: load each
        for der in ders:
            ctx.load_verify_locations(cadata=der)
    else:
        ctx.load_verify_locations(cadata=cadata)
    return ctx


def _tls_reason(e):
    """A failure of the TLS layer as text: ``tls: certificate verify failed: ...`` or
    ``tls: ...``."""
    msg = getattr(e, "verify_message", None)
    if msg:
        return "tls: certificate verify failed: %s" % msg
    text = " ".join(str(a) for a in getattr(e, "args", ()) if isinstance(a, str)).strip()
    if not text:
        text = str(e).strip() or repr(e)
    low = text.lower()
    if "certificate" in low or "x509" in low or "cn)" in low:
        if "verify failed" in low:
            return "tls: %s" % text
        return "tls: certificate verify failed: %s" % " ".join(text.split())
    return "tls: %s" % " ".join(text.split())


def _errno(e):
    return e.args[0] if getattr(e, "args", None) and isinstance(e.args[0], int) else None


def _sockaddr(host, port):
    return socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)[0][-1]


def _nodelay(sock):
    # SIP messages are written whole: Nagle's algorithm would only hold the last segment of one
    # for the peer's delayed ACK (40 ms on Linux)
    try:
        sock.setsockopt(getattr(socket, "IPPROTO_TCP", 6), getattr(socket, "TCP_NODELAY", 1), 1)
    except (OSError, AttributeError):
        pass


def _family(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


class Conn:
    """One TCP or TLS connection."""

    def __init__(self, streams, sock, peer, transport, handler, framed, inbound, now):
        self.streams = streams
        self.sock = sock  # the raw socket
        self.io = sock  # what is read and written: the raw socket or its TLS wrapper
        self.peer = peer
        self.transport = transport
        self.handler = handler
        self.inbound = inbound
        self.framer = framing.Framer() if framed else None
        self.state = CONNECTING
        self.out = bytearray()
        self.created = now
        self.opened_at = None
        self.last_sent = now
        self.last_received = now
        self.partial_since = None
        self.keepalive_ms = None
        self.ping_sent_at = None
        self.close_reason = None
        self.closing = None  # (reason,): close once the queue is written (close_after_flush)
        self.server_name = None
        self.received_messages = 0
        self.listener = None  # the Listener that accepted it (inbound)
        self._watched = None
        self._mask = None

    def __repr__(self):
        return "<%s %s:%d %s>" % (self.transport, self.peer[0], self.peer[1], self.state)

    @property
    def is_open(self):
        return self.state == OPEN

    @property
    def closed(self):
        return self.state == CLOSED

    def send(self, data):
        """Queue DATA; written as soon as the connection allows. False when it is closed."""
        if self.state == CLOSED:
            return False
        if len(self.out) + len(data) > MAX_OUT:
            self.close("send buffer full (%d bytes)" % MAX_OUT)
            return False
        self.out += data
        if self.state == OPEN:
            try:
                self._flush(self.streams.loop.clock())
            except OSError as e:  # reset since the last poll: this connection ends, nothing more
                self.close(self._os_reason(e))
                return False
        self._update_mask()
        return self.state != CLOSED

    def close_after_flush(self, reason=None):
        """Close once every queued byte is written (a server's last answer)."""
        if not self.out or self.state != OPEN:
            self.close(reason)
        else:
            self.closing = (reason,)

    def ping(self, now):
        """A CRLF CRLF keepalive (RFC 5626 §4.4.1); its pong must come within PONG_MS."""
        if self.framer is not None:
            self.framer.expect_pong = True
        self.ping_sent_at = now
        self.send(framing.PING_BYTES)

    def close(self, reason=None):
        if self.state == CLOSED:
            return
        self.state = CLOSED
        self.close_reason = reason
        self.streams._forget(self)
        try:
            self.io.close()
        except (OSError, AttributeError):
            pass
        if self.io is not self.sock:
            try:
                self.sock.close()
            except OSError:
                pass
        if reason:
            self.streams.log("%s %s:%d closed: %s" % (self.transport.lower(), self.peer[0],
                                                      self.peer[1], reason))
        self._emit(CLOSED_EVENT, reason or "closed", self.streams.loop.clock())

    # --- the loop's side ------------------------------------------------------------------------
    def _emit(self, kind, data, now):
        h = self.handler
        if h is not None:
            try:
                h(self, kind, data, now)
            except Exception as e:  # a handler's error must not kill the loop
                self.streams.log("stream handler error: %r" % (e,))

    def _wanted_mask(self):
        if self.state == CONNECTING:
            return select.POLLIN | select.POLLOUT
        if self.state == HANDSHAKE:
            if not _CPYTHON and not self.out:
                # MicroPython's TLS socket reports POLLOUT all through the handshake: with
                # nothing to write, waiting for it would spin the loop
                return select.POLLIN
            return select.POLLIN | select.POLLOUT
        if self.out:
            return select.POLLIN | select.POLLOUT
        return select.POLLIN

    def _update_mask(self):
        if self.state == CLOSED or self._watched is None:
            return
        m = self._wanted_mask()
        if m != self._mask:
            self._mask = m
            self.streams.loop.rewatch(self._watched, m)

    def _watch(self, obj):
        loop = self.streams.loop
        if self._watched is not None:
            loop.unwatch(self._watched)
        self._watched = obj
        self._mask = self._wanted_mask()
        loop.watch(obj, self, self._mask)

    def ready(self, flags, now):
        if self.state == CLOSED:
            return
        try:
            if self.state == CONNECTING:
                if flags & _POLLERR or (flags & _POLLHUP and not flags & select.POLLIN):
                    self.close("connect failed: %s" % self._socket_error())
                    return
                if not flags & (select.POLLOUT | select.POLLIN):
                    return
                err = self._so_error()
                if err:
                    self.close("connect failed: [Errno %d] %s" % (err, _errname(err)))
                    return
                self._connected(now)
                if self.state != HANDSHAKE:
                    return
            if self.state == HANDSHAKE:
                self._handshake(now)
                if self.state != OPEN:
                    self._update_mask()
                    return
            if self.out:
                self._flush(now)
            if self.state == OPEN:
                self._read(now)
            self._update_mask()
        except OSError as e:
            self.close(self._os_reason(e))
        except ValueError as e:  # mbedTLS reports certificate errors as ValueError
            self.close(_tls_reason(e) if self.transport == "TLS" else str(e))
        except MemoryError:  # a board's heap: this peer's message does not fit; the box goes on
            pending = self.framer.pending() if self.framer is not None else 0
            self.framer = None  # its buffer goes first, then the reason can be written
            self.close("out of memory with %d bytes of a message" % pending)

    def _os_reason(self, e):
        if self.transport == "TLS" and _ssl is not None and _CPYTHON and \
                isinstance(e, getattr(_ssl, "SSLError", ())):
            return _tls_reason(e)
        if self.transport == "TLS" and self.state == HANDSHAKE:
            return _tls_reason(e)
        n = _errno(e)
        if n is not None:
            return "[Errno %d] %s" % (n, _errname(n))
        return str(e)

    def _so_error(self):
        getsockopt = getattr(self.sock, "getsockopt", None)
        if getsockopt is None or not hasattr(socket, "SO_ERROR"):
            return 0
        try:
            return getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        except OSError:
            return 0

    def _socket_error(self):
        err = self._so_error()
        if err:
            return "[Errno %d] %s" % (err, _errname(err))
        try:
            self.sock.recv(1)
        except OSError as e:
            n = _errno(e)
            if n is not None:
                return "[Errno %d] %s" % (n, _errname(n))
            return str(e)
        return "the peer closed the connection"

    def _connected(self, now):
        if self.transport == "TLS":
            self.state = HANDSHAKE
            ctx = self.streams._contexts[id(self)]
            # poll the TLS socket from now on: CPython's wrap_socket takes over the raw socket's
            # descriptor (the raw one is left at -1), and MicroPython's TLS socket must be what
            # is polled, or its handshake stalls
            self.streams.loop.unwatch(self._watched)
            self._watched = None
            self.io = ctx.wrap_socket(self.sock, server_hostname=self.server_name,
                                      do_handshake_on_connect=False)
            self._watch(self.io)
        else:
            self._open(now)

    def _handshake(self, now):
        if _CPYTHON:
            try:
                self.io.do_handshake()
            except (_ssl.SSLWantReadError, _ssl.SSLWantWriteError):
                return
            except _ssl.SSLError as e:
                self.close(_tls_reason(e))
                return
            self._open(now)
            return
        # MicroPython: a write (or a read) drives the handshake; None means "not yet"
        if self.out:
            n = self.io.write(self.out)
            if n is None:
                return
            self.out = self.out[n:]  # (MicroPython's bytearray has no slice deletion)
            self.last_sent = now
        if not self.out and self.closing and self.state == OPEN:
            self.close(self.closing[0])
            self._open(now)
            return
        data = self.io.read(READ_CHUNK)
        if data is None:
            return
        self._open(now)
        if data == b"":
            self.close("the peer closed the connection")
            return
        self._got(data, now)

    def _open(self, now):
        self.state = OPEN
        self.opened_at = now
        self.streams._contexts.pop(id(self), None)
        self._emit(OPEN_EVENT, None, now)

    def _flush(self, now):
        while self.out and self.state == OPEN:
            try:
                if _CPYTHON or self.io is self.sock:
                    n = self.io.send(self.out)
                else:
                    n = self.io.write(self.out)
            except OSError as e:
                if _errno(e) in _EAGAIN or (_CPYTHON and isinstance(
                        e, (getattr(_ssl, "SSLWantWriteError", ()),
                            getattr(_ssl, "SSLWantReadError", ())))):
                    return
                raise
            if not n:
                return
            self.out = self.out[n:]  # (MicroPython's bytearray has no slice deletion)
            self.last_sent = now
        if self.closing and not self.out and self.state == OPEN:
            self.close(self.closing[0])  # the last answer is written (close_after_flush)

    def _read(self, now):
        for _ in range(READS_PER_WAKE):
            try:
                if _CPYTHON or self.io is self.sock:
                    data = self.io.recv(READ_CHUNK)
                else:
                    data = self.io.read(READ_CHUNK)
            except OSError as e:
                if _errno(e) in _EAGAIN or (_CPYTHON and isinstance(
                        e, (getattr(_ssl, "SSLWantReadError", ()),
                            getattr(_ssl, "SSLWantWriteError", ())))):
                    return
                raise
            if data is None:
                return
            if not data:
                if self.framer is not None and self.framer.pending():
                    self.close("the peer stopped in the middle of a message")
                else:
                    self.close("the peer closed the connection")
                return
            self._got(data, now)
            if self.state == CLOSED:
                return

    def _got(self, data, now):
        self.last_received = now
        if self.framer is None:
            self._emit(DATA, data, now)
            return
        try:
            units = self.framer.feed(data)
        except ValueError as e:
            self.close(str(e))
            return
        for kind, unit in units:
            if kind == framing.PING:
                self.send(framing.PONG_BYTES)
            elif kind == framing.PONG:
                self.ping_sent_at = None
            else:
                self.received_messages += 1
                self._emit(MESSAGE, unit, now)
            if self.state == CLOSED:
                return
        if self.framer.broken:  # bytes after those units broke the framing
            self.close(self.framer.broken)
            return
        self.partial_since = (self.partial_since or now) if self.framer.pending() else None

    # --- timers ---------------------------------------------------------------------------------
    def timer(self):
        if self.state in (CONNECTING, HANDSHAKE):
            return self.created + CONNECT_MS
        if self.state != OPEN:
            return None
        t = None
        if self.partial_since is not None:
            t = self.partial_since + MESSAGE_MS
        if self.ping_sent_at is not None:
            p = self.ping_sent_at + PONG_MS
            t = p if t is None or p < t else t
        elif self.keepalive_ms:
            k = max(self.last_sent, self.opened_at or 0) + self.keepalive_ms
            t = k if t is None or k < t else t
        return t

    def handle_timer(self, now):
        if self.state in (CONNECTING, HANDSHAKE):
            if now >= self.created + CONNECT_MS:
                what = "TLS handshake" if self.state == HANDSHAKE else "connection"
                self.close("timeout: no %s within %d s" % (what, CONNECT_MS // 1000))
            return
        if self.state != OPEN:
            return
        if self.partial_since is not None and now >= self.partial_since + MESSAGE_MS:
            self.close("a message unfinished after %d s" % (MESSAGE_MS // 1000))
            return
        if self.ping_sent_at is not None:
            if now >= self.ping_sent_at + PONG_MS:
                self.close("keepalive: no pong within %d s" % (PONG_MS // 1000))
            return
        if self.keepalive_ms and now >= max(self.last_sent, self.opened_at or 0) + \
                self.keepalive_ms:
            self.ping(now)


def _errname(n):
    return {111: "connection refused", 104: "connection reset by peer", 110: "timed out",
            113: "no route to host", 101: "network unreachable", 32: "broken pipe"}.get(n, "")


class Listener:
    def __init__(self, streams, sock, host, port, handler, framed):
        self.streams = streams
        self.sock = sock
        self.host = host
        self.port = port
        self.handler = handler
        self.framed = framed
        self.closed = False
        self.accepted = 0
        self.max_conns = MAX_INBOUND
        self.rest = None  # while out of descriptors: when the listener is polled again
        self.failing = False  # an accept failed for want of descriptors, none worked since

    def ready(self, flags, now):
        for _ in range(8):
            try:
                s, raw = self.sock.accept()
            except OSError as e:
                n = _errno(e)
                if n in _EAGAIN:
                    return
                if not self.failing:  # once per episode, not once per try
                    self.streams.log("tcp: accept on %d failed: %s" % (self.port, e))
                if n in (23, 24, 105, 12):
                    # ENFILE, EMFILE, ENOBUFS, ENOMEM: the peer stays queued and the listener
                    # would be ready again at once (a spin): a second unpolled, then try again
                    self.failing = True
                    self.rest = now + 1000
                    self.streams.loop.unwatch(self.sock)
                return
            self.failing = False
            s.setblocking(False)
            _nodelay(s)
            self.accepted += 1
            mine = [c for c in self.streams.conns if c.listener is self]
            if len(mine) >= self.max_conns:
                # the one that was quiet longest makes room (a phone that reconnected)
                oldest = min(mine, key=lambda c: max(c.last_received, c.last_sent))
                oldest.close("too many connections on port %d: the quietest one closed"
                             % self.port)
            peer = self.streams.loop.peer(raw)
            c = Conn(self.streams, s, peer, "TCP", self.handler, self.framed, True, now)
            c.listener = self
            self.streams._add(c)
            c._watch(s)
            c._open(now)

    def close(self, reason=None):
        if self.closed:
            return
        self.closed = True
        self.streams.loop.unwatch(self.sock)
        if self in self.streams.listeners:
            self.streams.listeners.remove(self)
        self.sock.close()


class Streams:
    """Every stream of one :class:`zerotap.runtime.udp.Loop`."""

    def __init__(self, loop, log=None):
        self.loop = loop
        self.log = log or (lambda text: None)
        self.conns = []
        self.listeners = []
        self._contexts = {}
        loop.add_timer_source(self)

    def _add(self, c):
        self.conns.append(c)

    def _forget(self, c):
        if c in self.conns:
            self.conns.remove(c)
        self._contexts.pop(id(c), None)
        if c._watched is not None:
            self.loop.unwatch(c._watched)
            c._watched = None

    def find(self, transport, host, port):
        """An open (or opening) connection to HOST:PORT over TRANSPORT, or None."""
        for c in self.conns:
            if c.transport == transport and c.peer[0] == host and c.peer[1] == port and \
                    c.state != CLOSED:
                return c
        return None

    def connect(self, host, port, handler, tls=None, server_name=None, framed=True,
                keepalive_ms=None):
        """A new outgoing connection (TLS when TLS is a client context). Local failures (no
        route, no sockets left) come as OSError; everything later comes to HANDLER."""
        now = self.loop.clock()
        if tls is not None and not server_name:
            raise ValueError("tls: a server name is needed for the certificate check")
        sock = socket.socket(_family(host), socket.SOCK_STREAM)
        try:
            sock.setblocking(False)
            _nodelay(sock)
            try:
                sock.connect(_sockaddr(host, port))
            except OSError as e:
                if _errno(e) not in _EINPROGRESS:
                    raise
        except OSError:
            sock.close()
            raise
        c = Conn(self, sock, (host, port), "TLS" if tls is not None else "TCP", handler, framed,
                 False, now)
        c.server_name = server_name
        c.keepalive_ms = keepalive_ms
        if tls is not None:
            self._contexts[id(c)] = tls
        self._add(c)
        c._watch(sock)
        return c

    def listen(self, host, port, handler, framed=True, backlog=4):
        sock = socket.socket(_family(host), socket.SOCK_STREAM)
        try:
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            except (OSError, AttributeError):
                pass
            sock.bind(_sockaddr(host, port))
            sock.listen(backlog)
            sock.setblocking(False)
        except OSError:
            sock.close()
            raise
        lst = Listener(self, sock, host, port, handler, framed)
        self.listeners.append(lst)
        self.loop.watch(sock, lst, select.POLLIN)
        return lst

    def timer(self):
        t = None
        for c in self.conns:
            d = c.timer()
            if d is not None and (t is None or d < t):
                t = d
        for lst in self.listeners:  # one resting for want of descriptors
            if lst.rest is not None and (t is None or lst.rest < t):
                t = lst.rest
        return t

    def handle_timer(self, now):
        for c in list(self.conns):
            d = c.timer()
            if d is not None and d <= now:
                c.handle_timer(now)
        for lst in self.listeners:
            if lst.rest is not None and lst.rest <= now:
                lst.rest = None
                self.loop.watch(lst.sock, lst, select.POLLIN)

    def close_all(self, reason="closing"):
        for c in list(self.conns):
            c.close(reason)
        for lst in list(self.listeners):
            lst.close()
        self.loop.remove_timer_source(self)

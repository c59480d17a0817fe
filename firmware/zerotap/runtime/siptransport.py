"""SIP over UDP, TCP and TLS for the box: where the proxy's messages go, and where they come from.

    t = SipTransport(loop, streams, [phone_udp, network_udp], deliver, log,
                     tls=ctx, tls_name="sip.example.test", keepalive_ms=25000,
                     resolver=resolver)
    t.listen_phone_tcp("192.168.1.2", 5070)   # phones may use TCP (large requests)
    t.send(side, data, (host, port), "TLS")   # host may be a name: RFC 3263 through the resolver
    deliver(side, data, src, now_ms, transport)  # what arrives, whole messages only

- UDP goes out on the side's UDP socket. A request over 1300 bytes meant for UDP goes over TCP
  to the same address instead, with its top Via changed to TCP (RFC 3261 §18.1.1), when
  ``large_over_tcp`` is on for that side; if the TCP connection fails, it goes over UDP after all.
- TCP and TLS reuse an open connection to the same peer (inbound connections included, so that
  responses return on the connection the request came on, RFC 3261 §18.2.2), else open one; the
  stream layer frames, keeps alive (``keepalive_ms``) and closes a connection on malformed input.
- TLS uses the configured context (a CA bundle or pinned CA) and checks the server's name
  (``tls_name``, else the destination's domain). A failure is logged with its reason
  (``network: tls: certificate verify failed: ...``) and never retried in clear.
- A destination given by name is located with RFC 3263 (:mod:`zerotap.runtime.resolver`): the
  message waits for the answer; a transport error or timeout moves to the next target
  (:meth:`SipTransport.failed` does it for a 503 too). What was located is kept per name, port
  and transport (a send to the same name on another port or transport is located for that),
  for the :data:`LOCATED_MAX` destinations used last; each send steps it again through the DNS
  client's cache, so that the records' TTLs still hold. A name that does not resolve (or no
  resolver), or a connection that cannot be made (TLS without a CA), hands its messages to
  ``failure``, as a connection that never opened does; so does a datagram the system refused
  to send (no route, a broadcast address: RFC 3261 §8.1.3.1, the phone gets 503).
"""
from zerotap.runtime import stream
from zerotap.sip import locate as _locate

SIDE_NAMES = ("phone", "network")
LARGE = 1300  # RFC 3261 §18.1.1
LOCATED_MAX = 16  # destinations by name remembered (the least recently used one goes)


def _switch_via(data, transport):
    """DATA (a request) with its top Via's transport set to TRANSPORT."""
    i = data.find(b"\r\nVia: SIP/2.0/")
    if i < 0:
        i = data.find(b"\r\nv: SIP/2.0/")
        if i < 0:
            return data
        start = i + len(b"\r\nv: SIP/2.0/")
    else:
        start = i + len(b"\r\nVia: SIP/2.0/")
    end = data.find(b" ", start)
    if end < 0:
        return data
    return data[:start] + transport.encode() + data[end:]


def _is_request(data):
    return not data.startswith(b"SIP/2.0 ")


class SipTransport:
    def __init__(self, loop, streams, udp_eps, deliver, log=None, tls=None, tls_name=None,
                 keepalive_ms=None, resolver=None, large_over_tcp=(False, True)):
        self.loop = loop
        self.streams = streams
        self.udp = udp_eps
        self.deliver = deliver
        self.log = log or (lambda text: None)
        self.tls = tls
        self.tls_name = tls_name
        self.keepalive_ms = keepalive_ms
        self.resolver = resolver
        self.large_over_tcp = large_over_tcp
        self.listener = None
        self.side_of = {}  # id(conn) -> side
        self.fallback = {}  # id(conn) -> [(data, dest)] to send over UDP if TCP fails
        self.located = {}  # (name, port, transport) -> [Locate, last use], LOCATED_MAX at most
        self.waiting = {}  # (name, port, transport) -> [(side, data)]
        self._uses = 0
        self.unsent = {}  # id(conn) -> messages given to a connection that has not opened yet
        self.switched = 0  # requests moved from UDP to TCP for their size
        self.last_error = None
        self.failure = None  # failure(side, [bytes], reason): messages lost with a connection
        # that never opened or a name that did not resolve
        self.located_hook = None  # located_hook(name, targets): what RFC 3263 found for a name

    # --- listening ----------------------------------------------------------------------------
    def listen_phone_tcp(self, host, port):
        self.listener = self.streams.listen(host, port, self._on_stream)
        return self.listener

    # --- sending ------------------------------------------------------------------------------
    def send(self, side, data, dest, transport=None):
        named = transport  # None: not named, RFC 3263 NAPTR chooses for a name
        transport = (transport or "UDP").upper()
        host, port = dest[0], dest[1]
        if host and not _locate.is_ip(host):
            return self._send_named(side, data, host, port, transport, named)
        if transport == "UDP":
            if len(data) > LARGE and self.large_over_tcp[side] and _is_request(data):
                self.switched += 1
                conn = self._conn(side, "TCP", (host, port))
                if conn is not None:
                    if conn.state != stream.OPEN:
                        self.fallback.setdefault(id(conn), []).append((data, (host, port)))
                    conn.send(_switch_via(data, "TCP"))
                    return True
            return self._udp(side, data, (host, port))
        conn = self._conn(side, transport, (host, port), response=not _is_request(data))
        if conn is None:
            if self.failure is not None:  # no connection to wait on: answered, not dropped
                self.failure(side, [data], self.last_error)
            return False
        return self._queue(conn, data)

    def _udp(self, side, data, dest):
        if self.udp[side].send(data, dest):  # False: refused (an address of the other family too)
            return True
        # RFC 3261 §8.1.3.1, §16.9: a transport error; what could not be sent is handed to
        # failure (a request gets 503 with the reason), never dropped in silence
        host = "[%s]" % dest[0] if ":" in dest[0] else dest[0]
        self._error(side, "udp %s:%d: the system refused to send" % (host, dest[1]))
        if self.failure is not None:
            self.failure(side, [data], self.last_error)
        return False

    def _queue(self, conn, data):
        if conn.state != stream.OPEN:
            self.unsent.setdefault(id(conn), []).append(data)
        return conn.send(data)

    def _conn(self, side, transport, dest, server_name=None, response=False):
        c = self.streams.find(transport, dest[0], dest[1])
        if c is not None:
            return c
        if response and side == 0:
            # a response to a phone over TCP whose Via names its listening port: the connection
            # the request came on (RFC 3261 §18.2.2), from that address
            for c in self.streams.conns:
                if c.inbound and c.transport == transport and c.peer[0] == dest[0] and \
                        c.state != stream.CLOSED:
                    return c
        tls = None
        if transport == "TLS":
            if self.tls is None:
                self._error(side, "tls: no CA configured (network.tls.ca)")
                return None
            tls = self.tls
            server_name = self.tls_name or server_name or dest[0]
        try:
            c = self.streams.connect(dest[0], dest[1], self._on_stream, tls=tls,
                                     server_name=server_name, keepalive_ms=self.keepalive_ms)
        except (OSError, ValueError) as e:
            self._error(side, "%s %s:%d: %s" % (transport.lower(), dest[0], dest[1], e))
            return None
        self.side_of[id(c)] = side
        return c

    def _error(self, side, text):
        self.last_error = text
        self.log("%s: %s" % (SIDE_NAMES[side], text))

    # --- names (RFC 3263) ----------------------------------------------------------------------
    def _send_named(self, side, data, name, port, transport, named):
        if self.resolver is None:
            self._error(side, "%s: no DNS resolver configured" % name)
            if self.failure is not None:  # answered (a 503 toward the phone), not dropped
                self.failure(side, [data], self.last_error)
            return False
        key = (name.lower(), port, transport)
        entry = self.located.get(key)
        if entry is not None:
            loc = entry[0]
            if loc.current() is not None and loc.step(self.loop.clock()):
                self._uses += 1
                entry[1] = self._uses
                return self._send_target(side, data, loc.current())
        queue = self.waiting.get(key)
        if queue is not None:
            queue.append((side, data))
            return True
        self.waiting[key] = [(side, data)]

        def done(loc, targets):
            self._remember(key, loc)
            pending = self.waiting.pop(key, [])
            if not targets:
                self._error(side, loc.error or "%s: not found" % name)
                if self.failure is not None:  # RFC 3263 §4.3: each waiting request answered
                    for s, d in pending:
                        self.failure(s, [d], self.last_error)
                return
            if self.located_hook is not None:
                self.located_hook(name, targets)
            for s, d in pending:
                self._send_target(s, d, loc.current())
        # no transport named: NAPTR and SRV choose; a named one is asked for (RFC 3263 §4.1)
        self.resolver.locate(done, name, port=port, transport=named and transport,
                             secure=transport == "TLS")
        return True

    def _remember(self, key, loc):
        """KEY located as LOC; the least recently used destination goes when LOCATED_MAX are
        remembered (it is located again, through the DNS cache, if it is used again)."""
        self._uses += 1
        if key not in self.located and len(self.located) >= LOCATED_MAX:
            oldest = None
            for k in self.located:
                if oldest is None or self.located[k][1] < self.located[oldest][1]:
                    oldest = k
            del self.located[oldest]
        self.located[key] = [loc, self._uses]

    def _send_target(self, side, data, target):
        if target.transport == "UDP":
            return self.send(side, data, (target.host, target.port), "UDP")
        data = _switch_via(data, target.transport) if _is_request(data) else data
        c = self._conn(side, target.transport, (target.host, target.port), target.server_name)
        if c is None:
            if self.failure is not None:
                self.failure(side, [data], self.last_error)
            return False
        c.target_name = target.server_name
        return self._queue(c, data)

    def failed(self, name, reason):
        """The current target of NAME failed (a 503, a timeout): use the next one."""
        entry = None
        name = name.lower()
        for key in self.located:  # the destination of that name used last
            e = self.located[key]
            if key[0] == name and (entry is None or e[1] > entry[1]):
                entry = e
        if entry is not None:
            return self._failed(name, entry[0], reason)
        return None

    def _failed(self, name, loc, reason):
        nxt = loc.failed(self.loop.clock(), reason)
        self.log("network: %s failed (%s), next: %s" % (name, reason, nxt))
        return nxt

    # --- receiving ----------------------------------------------------------------------------
    def _on_stream(self, conn, kind, data, now):
        side = self.side_of.get(id(conn))
        if side is None:
            side = 0 if conn.inbound else 1
            self.side_of[id(conn)] = side
        if kind == stream.MESSAGE:
            self.deliver(side, data, conn.peer, now, conn.transport)
        elif kind == stream.CLOSED_EVENT:
            self.side_of.pop(id(conn), None)
            lost = self.unsent.pop(id(conn), None)
            queued = self.fallback.pop(id(conn), None)
            if queued and conn.opened_at is None:
                for d, dest in queued:  # TCP refused: over UDP after all
                    self.log("%s: tcp to %s:%d failed (%s): the large request goes over UDP"
                             % (SIDE_NAMES[side], dest[0], dest[1], data))
                    self._udp(side, d, dest)
                return
            if conn.opened_at is None or data.startswith("tls:") or data.startswith("framing:"):
                self._error(side, data if data.startswith("tls:") else "%s %s:%d: %s" % (
                    conn.transport.lower(), conn.peer[0], conn.peer[1], data))
            if conn.opened_at is None and not data.startswith("tls:"):
                # RFC 3263 §4.3: a located target that failed: the next one gets what was lost
                # (a certificate that does not verify is no transport error: no failover)
                for key, entry in list(self.located.items()):
                    t = entry[0].current()
                    if t is not None and t.host == conn.peer[0] and t.port == conn.peer[1] and \
                            t.transport == conn.transport:
                        nxt = self._failed(key[0], entry[0], data)
                        if nxt is not None and lost:
                            for d in lost:
                                self._send_target(side, d, nxt)
                            lost = None
            if lost and conn.opened_at is None and self.failure is not None:
                self.failure(side, lost, self.last_error or data)
        elif kind == stream.OPEN_EVENT:
            self.fallback.pop(id(conn), None)
            self.unsent.pop(id(conn), None)

    def close(self):
        self.streams.close_all()

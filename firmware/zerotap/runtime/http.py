"""Requests to the ICE helper over the stream layer (:mod:`zerotap.runtime.stream`), in the one
poll loop: HTTPS with the server's certificate checked against the pinned CA (or plain HTTP for
ZSipOs's own server and tests), one connection per request, a deadline for the whole request and
a second try. The HTTP itself is :mod:`zerotap.ice.helper_client` (sans-IO).

    h = HelperHttp(streams, "https://helper.example.org", ctx=stream.client_context(cadata=CA),
                   address="192.0.2.80")     # the helper's IP; or resolve=resolver.address
                                             # (zerotap.runtime.resolver): its name looked up
    h.request("put", "PUT", "/", body, headers, on_reply, on_fail)
    on_reply(tag, status, body, now); on_fail(tag, reason, now)

The fallback (:mod:`zerotap.ice.fallback`) is the usual caller: its ``FallbackIO.helper`` maps
onto :meth:`HelperHttp.request`, with ``Fallback.helper_reply`` and ``helper_failed`` as the
callbacks. Nothing blocks: media keep flowing while the helper is slow, down or untrusted.
"""
from zerotap.ice import helper_client as _hc
from zerotap.runtime import stream as _stream

REQUEST_MS = 5000  # one try, connect and TLS handshake included
TRIES = 2
MAX_CONNECTIONS = 1  # box-wide: two calls in the fallback wait for each other's request, so
# that the board's 10 sockets hold them (boards/README.md, the socket budget)


class _Request:
    def __init__(self, tag, method, path, body, headers, on_reply, on_fail, now):
        self.tag = tag
        self.method = method
        self.path = path
        self.body = body
        self.headers = headers
        self.on_reply = on_reply
        self.on_fail = on_fail
        self.tries = 0
        self.conn = None
        self.parser = None
        self.deadline = now
        self.done = False
        self.resolving = False


class HelperHttp:
    def __init__(self, streams, url, ctx=None, address=None, request_ms=REQUEST_MS, tries=TRIES,
                 log=None, resolve=None, max_connections=MAX_CONNECTIONS):
        self.streams = streams
        self.url = _hc.parse_url(url)
        if self.url.tls and ctx is None:
            raise ValueError("ice.helper_url: https needs a CA (ice.helper_ca)")
        self.ctx = ctx if self.url.tls else None
        self.address = address or self.url.host
        # resolve(done, host) -> done(ip or None, error): the helper's name when no address
        # was given (looked up before each try; the resolver's cache keeps its TTL)
        self.resolve = resolve if address is None else None
        self.request_ms = request_ms
        self.tries = tries
        self.max_connections = max_connections
        self.log = log or (lambda text: None)
        self.pending = []
        self._closing = []  # connections to close outside their own handler
        self._starting = []
        streams.loop.add_timer_source(self)

    def request(self, tag, method, path, body, headers, on_reply, on_fail):
        now = self.streams.loop.clock()
        r = _Request(tag, method, path, body, headers, on_reply, on_fail, now)
        self.pending.append(r)
        self._starting.append(r)  # connected at the loop's next turn, not inside a handler
        return r

    def _try(self, r, now):
        r.tries += 1
        r.deadline = now + self.request_ms
        if self.resolve is not None:
            r.resolving = True
            self.resolve(lambda ip, err: self._resolved(r, ip, err), self.url.host)
            return
        self._connect(r, self.address, now)

    def _resolved(self, r, ip, err):
        if r.done or not r.resolving:
            return
        r.resolving = False
        now = self.streams.loop.clock()
        if ip is None:
            self._fail(r, "cannot resolve %s: %s" % (self.url.host, err), now, final=True)
            return
        self._connect(r, ip, now)

    def _connect(self, r, address, now):
        r.parser = _hc.ResponseParser()
        try:
            data = _hc.request(self.url, r.method, r.path, r.body, r.headers)
        except ValueError as e:
            self._fail(r, str(e), now, final=True)
            return
        try:
            r.conn = self.streams.connect(address, self.url.port,
                                          lambda c, k, d, t: self._event(r, c, k, d, t),
                                          tls=self.ctx, server_name=self.url.host if self.ctx
                                          else None, framed=False)
        except (OSError, ValueError) as e:
            self._fail(r, "connect: %s" % e, now)
            return
        r.conn.send(data)

    def _event(self, r, conn, kind, data, now):
        if r.done or conn is not r.conn:
            return
        if kind == _stream.DATA:
            try:
                if r.parser.feed(data):
                    self._reply(r, now)
            except ValueError as e:
                self._fail(r, str(e), now)
        elif kind == _stream.CLOSED_EVENT:
            try:
                r.parser.eof()
            except ValueError as e:
                self._fail(r, "%s (%s)" % (data, e) if data and data != "closed" else str(e),
                           now)
                return
            self._reply(r, now)

    def _reply(self, r, now):
        if r.done:
            return
        r.done = True
        self._forget(r)
        status, body = r.parser.status, r.parser.body
        r.on_reply(r.tag, status, body, now)

    def _fail(self, r, reason, now, final=False):
        if r.done:
            return
        self._drop(r)
        r.resolving = False
        # an untrusted certificate is not retried: it will not become trusted in a second
        if not final and r.tries < self.tries and "certificate" not in reason:
            self.log("helper: %s %s: %s; trying again" % (r.method, r.path, reason))
            self._starting.insert(0, r)  # once the old connection is closed (the next turn)
            return
        r.done = True
        self._forget(r)
        r.on_fail(r.tag, reason, now)

    def _forget(self, r):
        if r in self.pending:
            self.pending.remove(r)
        self._drop(r)

    def _drop(self, r):
        # closing a TLS socket from inside its own read crashes the MicroPython unix port: the
        # loop closes it at its next turn
        c = r.conn
        r.conn = None
        if c is not None and not c.closed:
            c.handler = None
            self._closing.append(c)

    def _busy(self):
        """Sockets this client holds (or is about to: a lookup before a connect)."""
        n = len(self._closing)
        for r in self.pending:
            if r.conn is not None or r.resolving:
                n += 1
        return n

    def timer(self):
        if self._closing or (self._starting and self._busy() < self.max_connections):
            return 0
        t = None
        for r in self.pending:
            if r in self._starting:
                continue  # waiting for its turn: its deadline starts with its try
            if t is None or r.deadline < t:
                t = r.deadline
        return t

    def handle_timer(self, now):
        while self._closing:
            self._closing.pop().close()
        while self._starting and self._busy() < self.max_connections:
            r = self._starting.pop(0)
            if not r.done:
                self._try(r, now)
        for r in list(self.pending):
            if now >= r.deadline and r not in self._starting:
                self._fail(r, "no answer within %d ms" % self.request_ms, now)

    def close(self):
        for r in list(self.pending):
            r.done = True
            self._forget(r)
        while self._closing:
            self._closing.pop().close()
        self.streams.loop.remove_timer_source(self)

"""The ICE helper's HTTP front end (aiohttp's low-level server, no router).

``PUT /``, ``POST /<id>``, ``GET /<id>`` as ZSipOs's icestorage answers them, plus ``DELETE /<id>``,
``GET /<id>?wait=N``, ``GET /healthz`` and ``GET /metrics``. See README.md for the API and
the operator's view. Nothing of an offer or a token is ever logged.
"""
import argparse
import asyncio
import gc
import ipaddress
import json
import logging
import signal
import ssl
import sys
import time
from asyncio import sslproto
from urllib.parse import parse_qs

from aiohttp import web
from aiohttp.http_exceptions import ContentEncodingError
from aiohttp.web_protocol import RequestPayloadError
from aiohttp.web_request import BaseRequest
from multidict import CIMultiDict

from . import offers, turn
from .config import Config
from .memory import MemoryStore
from .metrics import Metrics
from .store import (NOT_READY, Full, Limited, TooBig, Unavailable, new_ids, new_tokens_hashed,
                    token_hash)

log = logging.getLogger("icehelper")

MAX_BODY = 4096
TOKEN_LEN = 32
_METHODS = ("GET", "PUT", "POST", "DELETE")
# What ZSipOs's _send_json sends with every reply, and one header more.
_HEADERS = {"Content-Type": "application/json",
            "Cache-Control": "no-cache, no-store, must-revalidate",
            "Pragma": "no-cache", "Expires": "0", "X-Content-Type-Options": "nosniff"}


# made once: aiohttp copies the headers it is given, and a CIMultiDict copies faster than a dict
_HEADERS_MD = CIMultiDict(_HEADERS)


def _reply(status, body, extra=None):
    headers = _HEADERS_MD if extra is None else dict(_HEADERS, **extra)
    return web.Response(status=status, body=body if type(body) is bytes else body.encode(),
                        headers=headers)


def _error(status, message, extra=None):
    return _reply(status, json.dumps({"error": message}), extra)


def normalise(raw_path):
    """ZSipOs's path handling: ``//`` collapsed; the query split off."""
    path, _, query = raw_path.partition("?")
    while "//" in path:
        path = path.replace("//", "/")
    return path, query


def _address_key(addr):
    """What the limits count per: the address, IPv6 as its /64; an IPv4-mapped IPv6 address
    (``::ffff:a.b.c.d``, as a dual-stack proxy forwards its IPv4 clients) as its IPv4 address,
    which its /64 (``::``, shared by all of IPv4) is not."""
    if ":" in addr:
        try:
            ip = ipaddress.IPv6Address(addr)
        except ValueError:
            return addr
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False).network_address)
    return addr


class _BadBody(offers.OfferError):
    """A body that cannot be read as its headers describe it (400; the connection is closed)."""


class _TooSlow(Exception):
    """The body did not come whole within request_timeout (408)."""


class _Server(web.Server):
    """aiohttp's server, with at most ``max_connections_per_address`` open connections per
    client address (IPv6: per /64; trusted proxies are not counted): the process's descriptors
    are shared by every client, and one address holding them all (idle or half-sent requests)
    would lock every other box out. A connection over the cap is reset at once. On the HTTPS
    port a connection is counted from its accept (by _TLSConnection), not from the end of its
    handshake, when aiohttp first sees it."""

    def __init__(self, handler, config, **kwargs):
        super().__init__(handler, **kwargs)
        self._cap = config.max_connections_per_address
        self._proxies = config.trusted_proxies
        self._open = {}  # address key -> open connections
        self._keys = {}  # handler -> its address key (the connections counted)
        self._timeout = config.request_timeout
        self._stalled = {}  # handler -> when its answers were first seen waiting to be sent

    async def watch_writes(self):
        """Once a second: a connection whose answers have waited to be sent (the client reads
        nothing: its buffers and ours are full) for request_timeout is reset. Its handler waits
        for the write, which would otherwise never end."""
        while True:
            await asyncio.sleep(1)
            now = time.monotonic()
            stalled = {}
            for handler, transport in list(self._connections.items()):
                if transport.is_closing() or not transport.get_write_buffer_size():
                    continue
                since = self._stalled.get(handler, now)
                if now - since >= self._timeout:
                    transport.abort()
                else:
                    stalled[handler] = since
            self._stalled = stalled

    def _make_request(self, message, payload, protocol, writer, task):
        return BaseRequest(message, payload, protocol, writer, task, self._loop,
                           client_max_size=MAX_BODY)

    def connection_made(self, handler, transport):
        super().connection_made(handler, transport)
        # a TLS connection was counted at its accept
        if self._cap and transport.get_extra_info("sslcontext") is None and not self.admit(
                handler, transport):
            # at the loop's next turn: the handler's task, started after this, must find the
            # connection still there (else aiohttp logs a traceback for each one reset)
            self._loop.call_soon(transport.abort)

    def admit(self, conn, transport):
        """Whether CONN (on TRANSPORT) is within its address's cap; it is counted if so."""
        peer = transport.get_extra_info("peername")
        if not peer:
            return True
        addr = peer[0]
        if self._proxies:
            try:
                ip = ipaddress.ip_address(addr)
                if any(ip in net for net in self._proxies):
                    return True
            except ValueError:
                pass
        key = _address_key(addr)
        n = self._open.get(key, 0)
        if n >= self._cap:
            return False
        self._open[key] = n + 1
        self._keys[conn] = key
        return True

    def release(self, conn):
        key = self._keys.pop(conn, None)
        if key is not None:
            n = self._open[key] - 1
            if n:
                self._open[key] = n
            else:
                del self._open[key]

    def connection_lost(self, handler, exc=None):
        self.release(handler)
        super().connection_lost(handler, exc)


class _TLSConnection(sslproto.SSLProtocol):
    """One connection to the HTTPS port: asyncio's TLS layer over aiohttp's handler, as
    ``loop.create_server(ssl=...)`` makes it, but counted against max_connections_per_address
    from its accept, and with request_timeout for its handshake (asyncio's default is 60 s). A
    connection that never starts TLS would otherwise be seen by nobody's cap until then.
    (asyncio.sslproto is the loop's own module, not public API: its SSLProtocol takes these
    arguments from Python 3.7 on; the HTTPS tests would fail, not pass quietly, if it changed.)"""

    def __init__(self, server, ctx):
        super().__init__(server._loop, server(), ctx, None, server_side=True,
                         ssl_handshake_timeout=server._timeout)
        self._owner = server

    def connection_made(self, transport):
        if self._owner._cap and not self._owner.admit(self, transport):
            transport.abort()  # before the handshake: aiohttp's handler never saw it
            return
        super().connection_made(transport)

    def connection_lost(self, exc):
        self._owner.release(self)
        super().connection_lost(exc)


class _TLSSite(web.TCPSite):
    """aiohttp's TCP site serving HTTPS through _TLSConnection."""

    async def start(self):
        await web.BaseSite.start(self)  # registers the site with its runner
        server, ctx = self._runner.server, self._ssl_context
        self._server = await asyncio.get_running_loop().create_server(
            lambda: _TLSConnection(server, ctx), self._host, self._port, backlog=self._backlog,
            reuse_address=self._reuse_address, reuse_port=self._reuse_port)
        self._bound_port = self._server.sockets[0].getsockname()[1]


_BATCH = 64  # tickets drawn at most at once


class Tickets:
    """What PUTs hand out, drawn ahead a batch at a time: ``(id, token hash, reply body, token,
    second)``. A batch's ids and tokens come from the CSPRNG (store.new_ids and
    store.new_tokens_hashed; each handed out once, the store still checks the id's uniqueness
    when it takes it) and its replies are formatted, TURN credentials and all, in one loop:
    inside a request the same steps cost several times more than in a loop of their own.

    The TURN credentials of a batch are minted for the second SECOND it was drawn in (expiry
    SECOND + ttl, what credentials minted in that second get), and :meth:`take` hands a ticket out
    only in that second: what is left of a batch when the clock's second changes is dropped, ids
    and tokens with it, unused. So handed-out credentials live more than ttl - 1 s from the moment
    they are handed out, as those minted per request did. The batch size follows the rate: the
    number taken in the last second, doubled when a batch runs out, at most _BATCH."""

    def __init__(self, config):
        self._tail = config.turn_secret and '"ttl": %d, "uris": %s' % (
            config.turn_ttl, json.dumps(config.turn_uris))
        self._mint_all = config.turn_secret and turn.batch_minter(config.turn_secret,
                                                                  config.turn_ttl)
        self._batch = []
        self._second = None
        self._size = 1
        self._taken = 0  # taken in the second self._second

    def take(self, now):
        """A fresh ticket, its credentials minted in NOW's second (epoch seconds)."""
        second = int(now)
        if second != self._second:  # what is left goes; the last second's count sizes the batch
            self._size = max(1, min(_BATCH, self._taken))
            self._taken = 0
            self._refill(second)
        elif not self._batch:  # used up within its second: twice as many
            self._size = min(_BATCH, 2 * self._size)
            self._refill(second)
        self._taken += 1
        return self._batch.pop()

    def _refill(self, second):
        self._second = second
        self._batch = self.replies(new_ids(self._size), new_tokens_hashed(self._size), second)

    def replies(self, ids, tokens, second):
        """Tickets for IDS and TOKENS (``(token, hash)`` pairs), credentials minted in SECOND."""
        if not self._tail:
            return [(i, h, ('{"id": "%s", "token": "%s"}' % (i, t)).encode(), t, second)
                    for i, (t, h) in zip(ids, tokens)]
        # ids are digits, tokens letters, the TURN username digits and ":", the password base64:
        # nothing to escape, so the reply is formatted directly (keys sorted, as ZSipOs sends them)
        fmt = '{"id": "%s", "token": "%s", "turn": {"password": "%s", ' + self._tail.replace(
            "%", "%%") + ', "username": "%s"}}'
        return [(i, h, (fmt % (i, t, password, username)).encode(), t, second)
                for i, (t, h), (username, password)
                in zip(ids, tokens, self._mint_all(ids, second))]


class Helper:
    """The request handler: one instance per process."""

    def __init__(self, config, store, metrics):
        self.config = config
        self.store = store
        self.metrics = metrics
        self.backend_up = True
        self._put_now = getattr(store, "put_now", None)
        self.tickets = Tickets(config)
        self._responses = metrics.responses
        self._take = self.tickets.take

    # -- helpers ------------------------------------------------------------------------------
    def client(self, request):
        """The client's address for the limits: IPv6 as its /64, the proxy's word if trusted."""
        addr = request.remote or "?"
        if self.config.trusted_proxies:
            addr = self._forwarded(request, addr)
        return _address_key(addr) if ":" in addr else addr

    def _forwarded(self, request, addr):
        """ADDR, the connection's address; or, when it is a trusted proxy, the client it names
        (the last X-Forwarded-For entry, the one the proxy added)."""
        try:
            ip = ipaddress.ip_address(addr)
        except ValueError:
            return addr
        if any(ip in net for net in self.config.trusted_proxies):
            forwarded = request.headers.get("X-Forwarded-For", "").split(",")[-1].strip()
            return forwarded or addr
        return addr

    def body_now(self, request):
        """The body when it came whole with the headers (the usual case), else None."""
        length = request.content_length
        if length is None:
            return None
        if length > MAX_BODY:
            raise TooBig("body: at most %d bytes" % MAX_BODY)
        content = request.content
        if not content.is_eof():
            return None
        body = content.read_nowait()
        if len(body) > MAX_BODY:  # decompressed (Content-Encoding) to more
            raise TooBig("body: at most %d bytes" % MAX_BODY)
        return body

    async def body(self, request):
        body = self.body_now(request)
        return body if body is not None else await self._read(request)

    async def _read(self, request):
        """The body that body_now could not take whole, within request_timeout: a client that
        sends it a byte at a time gets 408 instead of holding the request for ever."""
        try:
            return await asyncio.wait_for(request.read(), self.config.request_timeout)
        except web.HTTPRequestEntityTooLarge:
            raise TooBig("body: at most %d bytes" % MAX_BODY) from None
        except asyncio.TimeoutError:
            raise _TooSlow() from None
        except RequestPayloadError as e:  # a gzip body that is no gzip, a broken chunk framing
            # the rest is not read: aiohttp would read it after the answer, meet the error again
            # and log it with a traceback
            request.content.feed_eof()
            if isinstance(e.__cause__, ContentEncodingError):
                raise _BadBody("body: cannot decode its content-encoding (%s)"
                               % request.headers.get("Content-Encoding", "")) from None
            raise _BadBody("body: cannot read it (%s)" % type(e.__cause__).__name__) from None

    def not_found(self):
        self.metrics.not_found += 1
        return _error(404, "not found")

    # -- the request ----------------------------------------------------------------------------
    async def handle(self, request):
        method = request.method
        try:
            if method == "PUT" and request.raw_path == "/":  # the usual PUT, as _route routes it
                response = self.put(request)
            else:
                response = self._route(request, method)
            if type(response) is not web.Response:
                response = await response
        except Limited as e:
            self.metrics.limited[e.kind] += 1
            response = _error(429, "too many requests from your address (%s limit): slow down"
                              % e.kind,
                              {"Retry-After": str(self.config.limits[e.kind].seconds)})
        except Unavailable as e:
            self._set_backend(False, str(e))
            response = _error(503, str(e), {"Retry-After": "1"})
        except Full:
            response = _error(503, "the helper holds as many offers as it may: try again later",
                              {"Retry-After": "5"})
        except TooBig as e:
            response = _error(413, str(e) or "offer: at most %d bytes once merged"
                              % self.config.max_offer_bytes)
        except _BadBody as e:
            response = _error(400, str(e))
            response.force_close()
        except offers.OfferError as e:
            response = _error(400, str(e))
        except _TooSlow:
            response = _error(408, "body: not complete within %d s" % self.config.request_timeout)
            response.force_close()
        else:
            if response.status < 500 and not self.backend_up:
                self._set_backend(True, "")
        self._responses[(method if method in _METHODS else "other", response.status)] += 1
        return response

    def _set_backend(self, up, why):
        if up != self.backend_up:
            self.backend_up = up
            if up:
                log.warning("store: answering again")
            else:
                log.error("store: %s", why)

    def _route(self, request, method):
        """The response, or the coroutine that makes it."""
        path, query = normalise(request.raw_path)
        ident = path[1:] if path[:1] == "/" else path
        if ident and not (len(ident) <= 32 and ident.isascii() and ident.isdigit()):
            if method == "GET" and path == "/healthz":
                return self.healthz()
            if method == "GET" and path == "/metrics":
                return self.metrics_page(request)
            return self.not_found()
        if method == "PUT":  # ZSipOs's route takes a PUT on any /[0-9]* and ignores the digits
            return self.put(request)
        if method not in _METHODS:
            return _error(405, "method not allowed", {"Allow": ", ".join(_METHODS)})
        if not ident:
            return self.not_found()
        if method == "GET":
            return self.get(request, ident, query)
        if method == "POST":
            return self.post(request, ident)
        return self.delete(request, ident)

    def put(self, request):
        """The response; or, for a body not come whole or the Redis store, the coroutine making
        it."""
        body = self.body_now(request)
        if body is None or self._put_now is None:
            return self._put_waiting(request, body)
        fields, ready = offers.parse_offer(body)
        ticket = self._put_now(self.client(request), fields, ready, self._take, time.time())
        self.metrics.stored += 1
        return web.Response(body=ticket[2], headers=_HEADERS_MD)

    async def _put_waiting(self, request, body):
        if body is None:
            body = await self._read(request)
        fields, ready = offers.parse_offer(body)
        addr = self.client(request)
        if self._put_now is not None:
            ticket = self._put_now(addr, fields, ready, self._take, time.time())
        else:
            ticket = await self.store.put_drawn(addr, fields, ready, self._take)
            second = int(time.time())
            if second != ticket[4]:  # the store took a second or more: credentials minted now
                ticket = self.tickets.replies([ticket[0]], [(ticket[3], ticket[1])], second)[0]
        self.metrics.stored += 1
        return _reply(200, ticket[2])

    async def post(self, request, ident):
        token = request.headers.get("X-icestorage-token", "")
        fields, ready = offers.parse_offer(await self.body(request))
        if not await self.store.post(self.client(request), ident, token_hash(token), fields, ready):
            return self.not_found()
        self.metrics.merged += 1
        return _reply(200, json.dumps({"id": ident, "token": token}, sort_keys=True))

    async def delete(self, request, ident):
        token = request.headers.get("X-icestorage-token", "")
        if not await self.store.delete(self.client(request), ident, token_hash(token)):
            return self.not_found()
        self.metrics.deleted += 1
        return _reply(200, json.dumps({"id": ident, "deleted": True}))

    async def get(self, request, ident, query):
        wait = 0.0
        if query:
            values = parse_qs(query).get("wait")
            if values:
                try:
                    wait = float(values[-1])
                    if not 0 <= wait < 1e9:
                        raise ValueError
                except ValueError:
                    raise offers.OfferError("wait: a number of seconds (at most %d)"
                                            % self.config.max_wait) from None
                wait = min(wait, self.config.max_wait)
        addr = self.client(request)
        if wait <= 0:
            body = await self.store.get(addr, ident)
        else:
            deadline = time.monotonic() + wait
            body = await self.store.get(addr, ident, need_ready=True)
            while body is NOT_READY:
                left = deadline - time.monotonic()
                if left <= 0:
                    body = await self.store.get(addr, ident, count=False)
                    break
                # woken by the offer's merge; polls each second too, should a wake-up get lost
                await self.store.wait_ready(ident, min(left, 1.0))
                body = await self.store.get(addr, ident, need_ready=True, count=False)
        if body is None:
            return self.not_found()
        self.metrics.read += 1
        return _reply(200, body)

    async def healthz(self):
        try:
            await self.store.health()
        except Unavailable as e:
            self._set_backend(False, str(e))
            return _error(503, str(e))
        self._set_backend(True, "")
        return _reply(200, json.dumps({"status": "ok", "backend": self.store.name,
                                       "live": self.store.live()}))

    def metrics_page(self, request):
        addr = request.remote or ""
        if self.config.trusted_proxies:  # what a proxy forwards comes from its client
            addr = self._forwarded(request, addr)
        try:
            ip = ipaddress.ip_address(addr)
        except ValueError:
            ip = None
        if ip is None or not any(ip in net for net in self.config.metrics_from):
            return self.not_found()
        text = self.metrics.render(self.store.live(), int(self.backend_up))
        return web.Response(text=text, content_type="text/plain", charset="utf-8",
                            headers={"Cache-Control": "no-store"})


def make_store(config, metrics):
    if config.backend == "redis":
        from .redisstore import RedisStore
        return RedisStore(config, metrics)
    return MemoryStore(config, metrics)


def tls_context(config):
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(config.cert, config.key)
    return ctx


async def serve(config, stop):
    """Run until STOP (an asyncio.Event) is set."""
    metrics = Metrics()
    store = make_store(config, metrics)
    await store.start()
    helper = Helper(config, store, metrics)
    # keepalive_timeout: a connection must bring a request's head within request_timeout of
    # its start or of the last answer, or it is closed (aiohttp's default is an hour, which a
    # client sending its headers a byte at a time would hold)
    server = _Server(helper.handle, config, access_log=None,
                     keepalive_timeout=config.request_timeout)
    runner = web.ServerRunner(server, handle_signals=False)
    await runner.setup()
    sites = []
    if config.https:
        sites.append(_TLSSite(runner, config.https[0], config.https[1], backlog=1024,
                              ssl_context=tls_context(config)))
    if config.http:
        sites.append(web.TCPSite(runner, config.http[0], config.http[1], backlog=1024))
    for site in sites:
        await site.start()
        log.warning("listening on %s (%s store)", site.name, store.name)
    # What exists now (modules, aiohttp, the config) lives as long as the process: out of the
    # collector's way, so that its full passes walk only what requests made.
    gc.collect()
    gc.freeze()
    watch = asyncio.get_running_loop().create_task(server.watch_writes())
    try:
        await stop.wait()
    finally:
        await runner.cleanup()  # a client that reads nothing is reset meanwhile: watch goes on
        watch.cancel()
        await store.close()


def main(argv=None):
    ap = argparse.ArgumentParser(prog="icehelper", description="The ICE helper server.")
    ap.add_argument("--config", required=True, help="the INI file (see icehelper.conf.example)")
    args = ap.parse_args(argv)
    try:
        config = Config.load(args.config)
        if config.https:
            try:
                tls_context(config)
            except (OSError, ssl.SSLError) as e:
                raise ValueError("config: [server] cert, key: cannot load them (%s)" % e) from None
    except (OSError, ValueError) as e:
        print("icehelper: %s" % e, file=sys.stderr)
        return 2
    logging.basicConfig(level=config.log_level, stream=sys.stderr,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("aiohttp").setLevel(logging.ERROR)  # its messages may quote requests

    async def run():
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await serve(config, stop)

    asyncio.run(run())
    return 0

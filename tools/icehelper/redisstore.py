"""The Redis store: several stateless front ends share offers and rate-limit counters.

Every request is one Lua script, so it is atomic and costs one round trip: the rate-limit counters
and the operation together. Keys (``P`` is ``redis_prefix``):

- ``P o:<id>``: a hash with the offer's fields (``k<json key>`` = json value), ``t`` the SHA-256
  of the token, ``r`` reads left, ``w`` last write (ms, Redis's clock), ``s`` size, ``c`` has
  candidates, and the GET reply ``b`` (offers.render's text, made by the GET script at the first
  read after a write) with ``v``, the ``w`` it was made for: ``b`` holds while ``v`` equals
  ``w`` (a POST also sets ``v`` to "", for a merge in the same millisecond). So a GET returns
  one string and the front end passes it on as it is. An entry without ``b`` (written before
  it existed) or written by a front end that knows nothing of it (``w`` changed, ``v`` not) is
  rendered again from its fields; the one hole is such a front end's merge within the same
  millisecond as the write that ``b`` was made for. ``b`` about doubles an offer's memory in
  Redis once it has been read. It expires ``lifetime`` after the last write (PEXPIRE);
- ``P live``: a sorted set id -> expiry, for the live count, max_offers and the expired counter (a
  sweeper on every front end removes the expired ids; the one whose ZREM wins counts them);
- ``P rl:<kind>:<address>:<window>``: fixed-window counters that expire with their window;
- channel ``P ready``: an id is published when its offer gets candidates (``GET ?wait``).

The per-request scripts go over one pipelined connection of our own (:class:`_Pipe`: each
command is written as it comes, replies are matched in order, hiredis parses them): redis-py's
pooled client costs about seven times more CPU per command on this machine's two cores, which
would make Redis, not HTTP, the ceiling. redis.asyncio (redis-py) does the rest: URL parsing,
the health check, the sweeper and the ``ready`` subscription.

Redis's own clock (TIME) is the only clock, so the front ends need not agree on the time. The
scripts build key names themselves: use one Redis (with a replica or Sentinel), not a Cluster.
Redis unreachable: every call raises Unavailable (503) within ``socket_timeout``; redis-py
reconnects on the next call, so the service comes back by itself.
"""
import asyncio
import hashlib
import logging
import ssl
import time
from collections import deque

import hiredis
import redis.asyncio as aioredis
from redis.asyncio.connection import parse_url
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from .offers import fields_size
from .store import NOT_READY, wait_slot, Full, Limited, TooBig, Unavailable, new_id

log = logging.getLogger("icehelper.redis")

_PRELUDE = """
local P, addr, id = ARGV[1], ARGV[2], ARGV[3]
local key = P .. 'o:' .. id
local now
local function clock()
  if not now then
    local t = redis.call('TIME')
    now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  end
  return now
end
local function slot(kind, window)
  return P .. 'rl:' .. kind .. ':' .. addr .. ':' .. math.floor(clock() / 1000 / window)
end
local function over(kind, limit, window)
  if limit == '0' then return false end
  limit, window = tonumber(limit), tonumber(window)
  if limit <= 0 then return false end
  local k = slot(kind, window)
  local n = redis.call('INCR', k)
  if n == 1 then redis.call('EXPIRE', k, window + 1) end
  return n > limit
end
local function spent(kind, limit, window)
  if limit == '0' then return false end
  limit, window = tonumber(limit), tonumber(window)
  if limit <= 0 then return false end
  local v = redis.call('GET', slot(kind, window))
  return v ~= false and tonumber(v) >= limit
end
"""

# ARGV 4 put limit, 5 window, 6 token hash, 7 lifetime ms, 8 max offers, 9 max reads, 10 size,
# 11 has candidates, 12.. field, value. -> -1 limited, -2 full, 0 id taken, else now (ms)
_PUT = _PRELUDE + """
clock()
if over('put', ARGV[4], ARGV[5]) then return -1 end
if redis.call('ZCARD', P .. 'live') >= tonumber(ARGV[8]) then return -2 end
if redis.call('EXISTS', key) == 1 then return 0 end
redis.call('HSET', key, 't', ARGV[6], 'r', ARGV[9], 'w', now, 's', ARGV[10], 'c', ARGV[11],
           unpack(ARGV, 12))
redis.call('PEXPIRE', key, ARGV[7])
redis.call('ZADD', P .. 'live', now + tonumber(ARGV[7]), id)
return now
"""

# ARGV 4 post limit, 5 window, 6 miss limit, 7 window, 8 token hash, 9 lifetime ms, 10 max bytes,
# 11 has candidates (-1: unchanged), 12.. field, value. -> -1 limited, -3 too big, 0 no, else now
_POST = _PRELUDE + """
clock()
if over('post', ARGV[4], ARGV[5]) then return -1 end
if redis.call('HGET', key, 't') ~= ARGV[8] then
  over('miss', ARGV[6], ARGV[7])
  return 0
end
-- sizes in characters, as the PUT (offers.fields_size) and the memory store count them: a
-- value's UTF-8 bytes less its continuation bytes (keys are ASCII, their \\u escapes)
local function chars(text)
  if not string.find(text, '[\\128-\\255]') then return #text end
  return #text - select(2, string.gsub(text, '[\\128-\\191]', ''))
end
local size = tonumber(redis.call('HGET', key, 's'))
for i = 12, #ARGV, 2 do
  local old = redis.call('HGET', key, ARGV[i])
  if old then
    size = size + chars(ARGV[i + 1]) - chars(old)
  else
    size = size + #ARGV[i] - 1 + chars(ARGV[i + 1])
  end
end
if size > tonumber(ARGV[10]) then return -3 end
redis.call('HSET', key, 's', size, 'w', now, 'v', '', unpack(ARGV, 12))
if ARGV[11] ~= '-1' then redis.call('HSET', key, 'c', ARGV[11]) end
redis.call('PEXPIRE', key, ARGV[9])
redis.call('ZADD', P .. 'live', now + tonumber(ARGV[9]), id)
if redis.call('HGET', key, 'c') == '1' then redis.call('PUBLISH', P .. 'ready', id) end
return now
"""

# ARGV 4 get limit, 5 window, 6 miss limit, 7 window, 8 need candidates, 9 count (rate limits),
# 10 lifetime ms -> -1 get limited, -2 miss limited, 0 not found, -4 not ready, else the reply.
# The reply (offers.render's text) is kept in the hash as ``b``, rendered for the write at ``v``:
# while ``v`` equals ``w`` the GET returns ``b`` as it is; else (the first GET after a write, or
# an entry written before ``b`` existed) it renders the reply from the ``k`` fields here, keys in
# byte order (Lua's ``<`` follows the server's locale), and keeps it.
_GET = _PRELUDE + """
local count = ARGV[9] == '1'
if count then
  if spent('miss', ARGV[6], ARGV[7]) then return -2 end
  if over('get', ARGV[4], ARGV[5]) then return -1 end
end
local e = redis.call('HMGET', key, 'r', 'c', 'w', 'v', 'b')
local r = e[1]
if not r then
  if count then over('miss', ARGV[6], ARGV[7]) end
  return 0
end
if tonumber(r) <= 0 then return 0 end
if ARGV[8] == '1' and e[2] ~= '1' then return -4 end
redis.call('HINCRBY', key, 'r', -1)
local w = e[3]
if e[5] and e[4] == w then return e[5] end
local names, values = {'"expires"'}, {}
local all = redis.call('HGETALL', key)
for i = 1, #all, 2 do
  local name = all[i]
  if string.byte(name, 1) == 107 then
    name = string.sub(name, 2)
    names[#names + 1] = name
    values[name] = all[i + 1]
  end
end
-- expires in seconds as Python's repr(round(x, 3)) writes it: no trailing zeros but one
local ms = tonumber(w) + tonumber(ARGV[10])
local sec, frac = math.floor(ms / 1000), ms % 1000
if frac == 0 then values['"expires"'] = string.format('%d.0', sec)
elseif frac % 100 == 0 then values['"expires"'] = string.format('%d.%d', sec, frac / 100)
elseif frac % 10 == 0 then values['"expires"'] = string.format('%d.%02d', sec, frac / 10)
else values['"expires"'] = string.format('%d.%03d', sec, frac) end
table.sort(names, function(a, b)
  for i = 1, math.min(#a, #b) do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then return x < y end
  end
  return #a < #b
end)
local parts = {}
for i, name in ipairs(names) do parts[i] = name .. ':' .. values[name] end
local body = '{' .. table.concat(parts, ',') .. '}'
redis.call('HSET', key, 'b', body, 'v', w)
return body
"""

# ARGV 4 post limit, 5 window, 6 miss limit, 7 window, 8 token hash -> -1 limited, 0 no, 1 deleted
_DELETE = _PRELUDE + """
if over('post', ARGV[4], ARGV[5]) then return -1 end
if redis.call('HGET', key, 't') ~= ARGV[8] then
  over('miss', ARGV[6], ARGV[7])
  return 0
end
redis.call('DEL', key)
redis.call('ZREM', P .. 'live', id)
return 1
"""

# ARGV 1 prefix, 2 batch -> {expired ids removed by this call, live ids}
_SWEEP = """
local P = ARGV[1]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local n = 0
for _, id in ipairs(redis.call('ZRANGEBYSCORE', P .. 'live', '-inf', now, 'LIMIT', 0, ARGV[2])) do
  if redis.call('EXISTS', P .. 'o:' .. id) == 0 then
    n = n + redis.call('ZREM', P .. 'live', id)
  end
end
return {n, redis.call('ZCARD', P .. 'live')}
"""

_DOWN = (RedisConnectionError, RedisTimeoutError, OSError, asyncio.TimeoutError)
CONNECT_TIMEOUT = 1.0
REPLY_TIMEOUT = 2.0


def _pack(args):
    """One command in RESP (the Redis protocol): an array of bulk strings."""
    parts = [b"*%d\r\n" % len(args)]
    for a in args:
        if type(a) is not bytes:
            a = str(a).encode()
        parts += (b"$%d\r\n" % len(a), a, b"\r\n")
    return b"".join(parts)


# hiredis packs a command in C (str, bytes and int as _pack does) at a quarter of _pack's cost
_PACK = getattr(hiredis, "pack_command", None) or _pack


class _Pipe(asyncio.Protocol):
    """One connection to Redis: commands go out as they come, replies come back in order.

    The commands of one turn of the event loop leave in one write (one system call here, one
    read in Redis), so the busier the front end, the fewer system calls per request.
    """

    def __init__(self):
        self.reader = hiredis.Reader()
        self.pending = deque()  # (future, time sent)
        self.transport = None
        self.closed = False
        self._out = []

    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.reader.feed(data)
        try:
            while True:
                reply = self.reader.gets()
                if reply is False:
                    return
                fut = self.pending.popleft()[0]
                if not fut.done():
                    fut.set_result(reply)
        except (hiredis.ProtocolError, IndexError):
            self.transport.abort()

    def connection_lost(self, exc):
        self.closed = True
        while self.pending:
            fut = self.pending.popleft()[0]
            if not fut.done():
                fut.set_exception(ConnectionError("connection to Redis lost"))

    def call(self, *args):
        if self.closed:
            raise ConnectionError("connection to Redis lost")
        # packed first: a command that cannot be packed (a str with no UTF-8 form) fails here
        # alone; queued after, its reply slot would take the next command's reply
        packed = _PACK(args)
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        self.pending.append((fut, time.monotonic()))
        if not self._out:
            loop.call_soon(self._flush)
        self._out.append(packed)
        return fut

    def _flush(self):
        out, self._out = self._out, []
        if not self.closed:
            self.transport.write(b"".join(out))

    def stalled(self, now):
        return self.pending and now - self.pending[0][1] > REPLY_TIMEOUT


class RedisStore:
    name = "redis"

    def __init__(self, config, metrics):
        self.config = config
        self.metrics = metrics
        self.prefix = config.redis_prefix
        opts = dict(socket_connect_timeout=1, socket_timeout=2, retry=Retry(NoBackoff(), 1),
                    health_check_interval=15)
        self.r = aioredis.Redis.from_url(config.redis_url, **opts)  # health checks
        opts.update(socket_timeout=None, retry=Retry(NoBackoff(), 0))
        self._sub = aioredis.Redis.from_url(config.redis_url, **opts)
        self._scripts = {name: (src.encode(), hashlib.sha1(src.encode()).hexdigest().encode())
                         for name, src in (("put", _PUT), ("post", _POST), ("get", _GET),
                                           ("delete", _DELETE), ("sweep", _SWEEP))}
        self._get_sha = self._scripts["get"][1]
        self._url = parse_url(config.redis_url)
        self._tls = config.redis_url.startswith("rediss:")
        self.where = "%s:%s" % (self._url.get("host", self._url.get("path", "?")),
                                self._url.get("port", "")) if "host" in self._url \
            else self._url.get("path", "?")
        self._pipe = None
        self._attempt = None  # the connection attempt in progress (a future), shared
        limits = tuple(self._limit_args("get") + self._limit_args("miss"))
        # get()'s arguments after the id, by (need_ready, count): made once
        self._get_args = {(ready, count): limits + (int(ready), int(count), config.lifetime * 1000)
                          for ready in (False, True) for count in (False, True)}
        self._live = 0
        self._waiters = {}
        self._tasks = []

    async def start(self):
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._sweep_forever()),
                       loop.create_task(self._listen_forever()),
                       loop.create_task(self._watch_forever())]

    async def close(self):
        for task in self._tasks:
            task.cancel()
        if self._attempt is not None:
            self._attempt.cancel()
        if self._pipe is not None and self._pipe.transport is not None:
            self._pipe.transport.close()
        for client in (self.r, self._sub):
            await client.aclose() if hasattr(client, "aclose") else await client.close()

    def live(self):
        return self._live

    async def _connect(self):
        loop = asyncio.get_running_loop()
        u = self._url
        if "path" in u:
            connect = loop.create_unix_connection(_Pipe, u["path"])
        else:
            ctx = ssl.create_default_context() if self._tls else None
            connect = loop.create_connection(_Pipe, u["host"], u.get("port", 6379), ssl=ctx)
        _, pipe = await asyncio.wait_for(connect, CONNECT_TIMEOUT)
        try:
            hello = []
            if u.get("password"):
                hello.append(pipe.call(b"AUTH", *([u["username"]] if u.get("username") else []),
                                       u["password"]))
            if u.get("db"):
                hello.append(pipe.call(b"SELECT", u["db"]))
            for src, _ in self._scripts.values():
                hello.append(pipe.call(b"SCRIPT", b"LOAD", src))
            for reply in await asyncio.wait_for(asyncio.gather(*hello), REPLY_TIMEOUT):
                if isinstance(reply, hiredis.ReplyError):
                    raise ConnectionError("Redis refused the handshake: %s" % reply)
        except BaseException:
            pipe.transport.abort()
            raise
        return pipe

    async def _get_pipe(self):
        """The connection, made if there is none. Requests that come while an attempt is under
        way wait for that attempt and share its outcome: with a Redis that accepts and answers
        nothing, each attempt takes seconds, and attempts made one after another would make the
        n-th request wait n of them."""
        pipe = self._pipe
        if pipe is not None and not pipe.closed:
            return pipe
        attempt = self._attempt
        if attempt is None:
            attempt = self._attempt = asyncio.ensure_future(self._connect())
            attempt.add_done_callback(self._attempted)
        return await asyncio.shield(attempt)

    def _attempted(self, attempt):
        self._attempt = None
        if not attempt.cancelled() and attempt.exception() is None:
            self._pipe = attempt.result()

    async def _watch_forever(self):
        """A Redis that accepts but does not answer: drop the connection, fail what waits."""
        while True:
            await asyncio.sleep(REPLY_TIMEOUT / 4)
            pipe = self._pipe
            if pipe is not None and not pipe.closed and pipe.stalled(time.monotonic()):
                pipe.transport.abort()

    async def _call(self, name, args, reply=None):
        """Script NAME's reply to ARGS. REPLY: an error that an EVALSHA of it already sent got
        (get's inlined call), to be dealt with here."""
        src, sha = self._scripts[name]
        try:
            pipe = self._pipe
            if reply is None:
                if pipe is None or pipe.closed:
                    pipe = await self._get_pipe()
                reply = await pipe.call(b"EVALSHA", sha, b"0", *args)
            if isinstance(reply, hiredis.ReplyError) and str(reply).startswith("NOSCRIPT"):
                reply = await pipe.call(b"EVAL", src, b"0", *args)  # a SCRIPT FLUSH meanwhile
        except _DOWN as e:
            raise self._down(e) from None
        if isinstance(reply, hiredis.ReplyError):
            # out of memory (OOM), a replica after a failover (READONLY), still loading: the
            # store cannot serve, as when it does not answer (503, backend_up 0), with its word
            self.metrics.backend_errors += 1
            raise Unavailable("storage unavailable: Redis at %s refused (%s)"
                              % (self.where, str(reply)[:200]))
        return reply

    def _down(self, e):
        self.metrics.backend_errors += 1
        return Unavailable("storage unavailable: Redis at %s does not answer (%s)"
                           % (self.where, type(e).__name__))

    async def health(self):
        try:
            await self.r.ping()
        except _DOWN as e:
            raise Unavailable("storage unavailable: Redis at %s does not answer (%s)"
                              % (self.where, type(e).__name__)) from None

    async def _sweep_forever(self):
        while True:
            await asyncio.sleep(1)
            try:
                expired, self._live = await self._call("sweep", [self.prefix, 1000])
                self.metrics.expired += expired
            except Unavailable:
                pass

    async def _listen_forever(self):
        channel = (self.prefix + "ready").encode()
        while True:
            pubsub = self._sub.pubsub()
            try:
                await pubsub.subscribe(channel)
                while True:
                    msg = await pubsub.get_message(ignore_subscribe_messages=True, timeout=5)
                    if msg and msg["type"] == "message":
                        slot = self._waiters.pop(msg["data"].decode(), None)
                        if slot:
                            slot[0].set()
            except asyncio.CancelledError:
                raise
            except Exception as e:  # Redis down: the waiters poll meanwhile; try again later
                log.debug("ready channel: %s", type(e).__name__)
                await asyncio.sleep(1)
            finally:
                try:
                    await pubsub.aclose() if hasattr(pubsub, "aclose") else await pubsub.reset()
                except Exception:
                    pass

    def _limit_args(self, kind):
        limit = self.config.limits[kind]
        return [limit.count, limit.seconds]

    async def put(self, addr, fields, ready, token_hash):
        """Store an offer: its new id."""
        return (await self.put_drawn(addr, fields, ready, lambda now: (new_id(), token_hash)))[0]

    async def put_drawn(self, addr, fields, ready, draw):
        """put() with ``draw(now)`` giving a fresh ``(id, token hash, ...)``, drawn again while
        its id is taken; returns what it stored."""
        c = self.config
        pairs = [x for kv in fields.items() for x in ("k" + kv[0], kv[1])]
        size = fields_size(fields)
        if size > c.max_offer_bytes:
            raise TooBig()
        limit = self._limit_args("put")
        for _ in range(8):
            ticket = draw(time.time())
            got = await self._call("put", [self.prefix, addr, ticket[0]] + limit + [
                ticket[1], c.lifetime * 1000, c.max_offers, c.max_reads, size, int(bool(ready))]
                + pairs)
            if got == -1:
                raise Limited("put")
            if got == -2:
                raise Full()
            if got:
                return ticket
            limit = [0, 1]  # counted once already
        raise Full()

    async def post(self, addr, offer_id, token_hash, fields, ready):
        c = self.config
        pairs = [x for kv in fields.items() for x in ("k" + kv[0], kv[1])]
        got = await self._call("post", [self.prefix, addr, offer_id] + self._limit_args("post")
                               + self._limit_args("miss") + [
            token_hash, c.lifetime * 1000, c.max_offer_bytes, -1 if ready is None else int(ready)]
            + pairs)
        if got == -1:
            raise Limited("post")
        if got == -3:
            raise TooBig()
        return got > 0

    async def get(self, addr, offer_id, need_ready=False, count=True):
        args = (self.prefix, addr, offer_id) + self._get_args[need_ready, count]
        pipe = self._pipe
        if pipe is None or pipe.closed:
            got = await self._call("get", args)
        else:  # _call's usual case inlined: a coroutine less per GET
            try:
                got = await pipe.call(b"EVALSHA", self._get_sha, b"0", *args)
            except _DOWN as e:
                raise self._down(e) from None
            if isinstance(got, hiredis.ReplyError):
                got = await self._call("get", args, got)
        if type(got) is bytes:  # the reply, rendered by the script
            return got
        if got == -1:
            raise Limited("get")
        if got == -2:
            raise Limited("miss")
        if got == -4:
            return NOT_READY
        return None

    async def delete(self, addr, offer_id, token_hash):
        got = await self._call("delete", [self.prefix, addr, offer_id] + self._limit_args("post")
                               + self._limit_args("miss") + [token_hash])
        if got == -1:
            raise Limited("post")
        return got == 1

    async def wait_ready(self, offer_id, timeout):
        await wait_slot(self._waiters, offer_id, timeout)

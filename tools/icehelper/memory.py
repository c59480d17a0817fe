"""The in-memory store (one process, the default).

Entries sit in an OrderedDict in the order of their last write; as every offer lives the same time
from its last write, the oldest is always first, and expiry pops from the front: O(1) per expired
entry, whatever the number of live ones (ZSipOs scans every entry on every request).

An entry is a tuple of strings and numbers, its fields a flat tuple of strings (json key, json
value, ...), replaced whole when it changes: the garbage collector stops tracking such tuples in
its first passes over them (the fields' tuple in the first, the entry in the next), and its full
passes do not walk the live offers, where an object per offer would be walked by every full pass
for the five minutes it lives (test_icehelper_memory.py checks it; a dict in the entry, even one
the collector does not track, would keep the tuple tracked).
"""
import asyncio
import time
from collections import OrderedDict
from itertools import chain

from .store import NOT_READY, wait_slot, Full, Limited, TooBig, WindowCounter, new_id, same_hash
from .offers import render


# an entry: (fields k, v, k, v..., token hash, reads left, last write, size, has candidates, GET reply or None)
_PAIRS, _HASH, _READS, _WRITTEN, _SIZE, _READY, _BODY = range(7)
_NONE_YET = float("-inf")  # MemoryStore._oldest with no entry


def _flat(fields):
    return tuple(chain.from_iterable(fields.items()))


class MemoryStore:
    name = "memory"

    def __init__(self, config, metrics):
        self.config = config
        self.metrics = metrics
        self._entries = OrderedDict()
        self._limits = WindowCounter(config.limits)
        self._waiters = {}  # id -> asyncio.Event, set when the offer gets candidates
        self._sweeper = None
        # the last write of the first entry as _expire last saw it, or -inf once that entry is
        # no longer first (a POST moved it to the end, a DELETE removed it: with a clock that
        # stepped back, the next one may be older): a PUT calls _expire only when this is due
        self._oldest = _NONE_YET
        self._put_limited = bool(config.limits["put"].count)

    async def start(self):
        self._sweeper = asyncio.get_running_loop().create_task(self._sweep_forever())

    async def close(self):
        if self._sweeper:
            self._sweeper.cancel()

    async def health(self):
        pass

    def live(self):
        return len(self._entries)

    def _expire(self, now):
        cutoff = now - self.config.lifetime
        entries = self._entries
        while entries:
            key = next(iter(entries))
            written = entries[key][_WRITTEN]
            if written > cutoff:
                self._oldest = written
                return
            del entries[key]
            self.metrics.expired += 1
        self._oldest = _NONE_YET

    async def _sweep_forever(self):
        while True:
            await asyncio.sleep(1)
            now = time.time()
            self._expire(now)
            self._limits.prune(now)

    def _limit(self, kind, addr, now):
        if self._limits.hit(kind, addr, now):
            raise Limited(kind)

    def _miss(self, addr, now):
        self._limits.hit("miss", addr, now)

    async def put(self, addr, fields, ready, token_hash):
        """Store an offer: its new id."""
        return self.put_now(addr, fields, ready, lambda now: (new_id(), token_hash),
                            time.time())[0]

    def put_now(self, addr, fields, ready, draw, now):
        """put() without a coroutine, the clock read by the caller (the server calls it so).
        ``draw(now)`` gives a fresh ``(id, token hash, ...)``; drawn again while its id is taken.
        Returns what it stored."""
        if self._put_limited and self._limits.hit("put", addr, now):
            raise Limited("put")
        if now - self.config.lifetime >= self._oldest:
            self._expire(now)
        entries = self._entries
        if len(entries) >= self.config.max_offers:
            raise Full()
        flat = _flat(fields)
        size = sum(map(len, flat))
        if size > self.config.max_offer_bytes:
            raise TooBig()
        ticket = draw(now)
        while ticket[0] in entries:
            ticket = draw(now)
        entries[ticket[0]] = (flat, ticket[1], self.config.max_reads, now, size, bool(ready), None)
        return ticket

    def _lookup(self, offer_id, now):
        self._expire(now)
        return self._entries.get(offer_id)

    async def post(self, addr, offer_id, token_hash, fields, ready):
        now = time.time()
        self._limit("post", addr, now)
        e = self._lookup(offer_id, now)
        if e is None or not same_hash(e[_HASH], token_hash):
            self._miss(addr, now)
            return False
        pairs = e[_PAIRS]
        merged = dict(zip(pairs[::2], pairs[1::2]))
        size = e[_SIZE]
        for k, v in fields.items():
            old = merged.get(k)
            size += len(v) - len(old) if old is not None else len(k) + len(v)
        if size > self.config.max_offer_bytes:
            raise TooBig()
        merged.update(fields)
        ready = e[_READY] if ready is None else bool(ready)
        entries = self._entries
        if next(iter(entries)) == offer_id:
            self._oldest = _NONE_YET
        entries[offer_id] = (_flat(merged), e[_HASH], e[_READS], now, size, ready, None)
        entries.move_to_end(offer_id)
        if ready and offer_id in self._waiters:
            self._waiters.pop(offer_id)[0].set()
        return True

    async def get(self, addr, offer_id, need_ready=False, count=True):
        now = time.time()
        if count:
            if self._limits.spent("miss", addr, now):
                raise Limited("miss")
            self._limit("get", addr, now)
        e = self._lookup(offer_id, now)
        if e is None or e[_READS] <= 0:
            if count and e is None:
                self._miss(addr, now)
            return None
        if need_ready and not e[_READY]:
            return NOT_READY
        body = e[_BODY]
        if body is None:  # the reply changes only with a write: render it once per write
            pairs = e[_PAIRS]
            body = render(zip(pairs[::2], pairs[1::2]), e[_WRITTEN] + self.config.lifetime).encode()
        self._entries[offer_id] = (e[_PAIRS], e[_HASH], e[_READS] - 1, e[_WRITTEN], e[_SIZE],
                                   e[_READY], body)
        return body

    async def delete(self, addr, offer_id, token_hash):
        now = time.time()
        self._limit("post", addr, now)
        e = self._lookup(offer_id, now)
        if e is None or not same_hash(e[_HASH], token_hash):
            self._miss(addr, now)
            return False
        if next(iter(self._entries)) == offer_id:
            self._oldest = _NONE_YET
        del self._entries[offer_id]
        return True

    async def wait_ready(self, offer_id, timeout):
        """Return when OFFER_ID gets candidates or after TIMEOUT seconds."""
        await wait_slot(self._waiters, offer_id, timeout)

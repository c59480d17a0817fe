"""What both stores share: their errors, the ids, and the in-process rate limiter.

A store keeps offers as ``{json key: json value}`` (see offers.py) with the SHA-256 of the update
token (never the token), a read budget, the time of the last write and a "has candidates" flag.
Rate limits are checked by the store in the same step as the operation, so the Redis store needs
one round trip per request and its limits are global across front ends.
"""
import asyncio
import hashlib
import hmac
import secrets
import sys
from pathlib import Path

_FIRMWARE = Path(__file__).resolve().parents[2] / "firmware"
if _FIRMWARE.is_dir() and str(_FIRMWARE) not in sys.path:
    sys.path.insert(0, str(_FIRMWARE))

from zerotap.dtmf import frame  # noqa: E402  (the id rules: first digit 1-9, no repeated digits)

NOT_READY = object()  # get(): the offer exists but has no candidates yet (nothing was consumed)


class Limited(Exception):
    """A rate limit was hit: ``kind`` is put, post, get or miss."""

    def __init__(self, kind):
        super().__init__(kind)
        self.kind = kind


class Unavailable(Exception):
    """The shared store cannot be reached (503)."""


class Full(Exception):
    """max_offers live offers: no room for another (503)."""


class TooBig(Exception):
    """A merge would make the offer larger than max_offer_bytes (413)."""


class _Pool:
    """Bytes from the CSPRNG drawn 4 KiB at a time (one system call for many ids and tokens)."""

    def __init__(self):
        self._buf, self._pos = b"", 0

    def take(self, n):
        if self._pos + n > len(self._buf):
            self._buf, self._pos = secrets.token_bytes(max(4096, n)), 0
        self._pos += n
        return self._buf[self._pos - n:self._pos]


_pool = _Pool()
# byte b < 234 (= 9 * 26) -> letter b % 26; bytes >= 234 are dropped, so the letters are uniform
_LETTERS = bytes(97 + b % 26 for b in range(256))
_DROP = bytes(range(234, 256))


# An id's first nine digits: the first 1-9, each next one of the nine digits that differ from the
# one before, all uniform, as frame.make_id draws them. Here they come from ONE uniform number
# below 9**9 (its base-9 digits: the first digit, then the step from each digit to the next), so
# that an id costs a word (four bytes) of the pool and a few table look-ups, not a loop over
# single bytes.
# Four bytes are uniform below 11 * 9**9 (< 2**32); the rest (0.8 %) is drawn again.
_SPAN = 9 ** 9
_WORDS = []  # uniform 32-bit words from the pool, not yet used
assert memoryview(b"1234").cast("I").itemsize == 4
_BELOW = (1 << 32) // _SPAN * _SPAN
# _PAIRS[state][k], STATE = 10 * prev + check (the digit before, and the icestorage checksum of
# the digits so far, frame.icestorage_checksum's running value): (the next two digits as text, the
# state after them), for K in 0..80 = the two steps k // 9 and k % 9, each 0..8 meaning "prev + 1
# + step" (mod 10): never equal to prev. The checksum thus comes with the digits, without a loop.
_PAIRS = []
for _state in range(100):
    _prev, _check = divmod(_state, 10)
    _row = []
    for _k in range(81):
        _a = (_prev + 1 + _k // 9) % 10
        _b = (_a + 1 + _k % 9) % 10
        _c = ((_check ^ _a) % 10 ^ _b) % 10
        _row.append((chr(48 + _a) + chr(48 + _b), 10 * _b + _c))
    _PAIRS.append(_row)
# the first digit's state: (digit, checksum over it)
_FIRST = [(chr(48 + _d), 10 * _d + (7 ^ _d) % 10) for _d in range(1, 10)]


# frame.valid_id's answer for such a text depends only on its last two digits and the id mod 97
# (the check digits are a function of that residue; the first nine digits have no equal neighbours
# by construction), so it is asked once per (9th digit, 10th digit, residue), at most 9,700 times
# in the life of the process, and remembered: after a warm-up an id costs no call of valid_id.
# test_icehelper_ids.py checks the memo against frame.valid_id on random texts.
_VALID = {}


# Ids and tokens are drawn ahead, a batch at a time, and handed out one per offer: the drawing
# runs in a tight loop of its own (its code and tables hot in the cache) instead of once inside
# every request, where the same steps cost several times more. Each is still drawn from the
# CSPRNG and used once; the store checks an id's uniqueness when it takes it.
_IDS = []  # drawn ids, not yet handed out
_ID_BATCH = 64
_TOKENS = []  # (token, token_hash(token)) drawn, not yet handed out


def new_id():
    """A fresh id from the CSPRNG: the digits as frame.make_id draws them, its icestorage checksum
    as the last digit, kept only if frame.valid_id holds for it (about 3 in 4). The store checks
    uniqueness."""
    if not _IDS:
        _draw_ids(_IDS, _ID_BATCH)
    return _IDS.pop()


def _draw_ids(out, n):
    """Append N ids (see new_id) to OUT."""
    pairs, memo, words, first, below, span = _PAIRS, _VALID, _WORDS, _FIRST, _BELOW, _SPAN
    while n:
        if not words:  # 1024 words from one draw of the pool: no call per id
            words.extend(memoryview(_pool.take(4096)).cast("I"))
        r = words.pop()
        if r >= below:
            continue
        r %= span
        text, state = first[r % 9]
        r //= 9
        two, state = pairs[state][r % 81]
        text += two
        r //= 81
        two, state = pairs[state][r % 81]
        text += two
        r //= 81
        two, state = pairs[state][r % 81]
        text += two
        two, state = pairs[state][r // 81]
        text += two
        text += chr(48 + state % 10)  # the checksum digit
        key = state * 97 + int(text) % 97  # (9th digit, 10th digit, residue)
        ok = memo.get(key)
        if ok is None:
            ok = memo[key] = frame.valid_id(text)
        if ok:
            out.append(text)
            n -= 1


def new_token(length=32):
    """LENGTH lowercase letters from the CSPRNG, uniform (bytes >= 234 are dropped)."""
    out = b""
    while len(out) < length:
        out += _pool.take(length + 8).translate(_LETTERS, _DROP)
    return out[:length].decode()


def token_hash(token):
    """What a store keeps of a token: the hex SHA-256 of its UTF-8 (surrogates escaped)."""
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()


def _draw_tokens():
    # 4 KiB of the pool give ~3,700 uniform letters: 100 tokens, hashed here in one loop
    letters = _pool.take(4096).translate(_LETTERS, _DROP).decode()
    sha256 = hashlib.sha256
    _TOKENS.extend((t, sha256(t.encode()).hexdigest())
                   for t in [letters[i:i + 32] for i in range(0, len(letters) - 31, 32)])


def new_ids(n):
    """N fresh ids, as new_id draws them (each used once: the store checks uniqueness)."""
    out = []
    _draw_ids(out, n)
    return out


def new_tokens_hashed(n):
    """N pairs ``(token, token_hash(token))``, each a fresh 32-letter token (as new_token(32)
    makes it)."""
    while len(_TOKENS) < n:
        _draw_tokens()
    out = _TOKENS[-n:]
    del _TOKENS[-n:]
    return out


def valid_id(text):
    return frame.valid_id(text)


def same_hash(a, b):
    return a is not None and hmac.compare_digest(a, b)


class WindowCounter:
    """Fixed-window counters per (kind, address), in process (the memory store's limits)."""

    def __init__(self, limits):
        self.limits = limits
        self._counts = {}

    def _slot(self, limit, kind, addr, now):
        window = int(now // limit.seconds)
        slot = self._counts.get((kind, addr))
        if slot is None or slot[0] != window:
            slot = self._counts[(kind, addr)] = [window, 0]
        return slot

    def hit(self, kind, addr, now):
        """Count one request; True when it is over the limit. A limit switched off (``0/1``)
        counts nothing and keeps no window."""
        limit = self.limits[kind]
        if not limit.count:
            return False
        slot = self._slot(limit, kind, addr, now)
        slot[1] += 1
        return slot[1] > limit.count

    def spent(self, kind, addr, now):
        """True when KIND's budget of this window is used up (counts nothing)."""
        limit = self.limits[kind]
        if not limit.count:
            return False
        return self._slot(limit, kind, addr, now)[1] >= limit.count

    def prune(self, now):
        for key in [k for k, (window, _) in self._counts.items()
                    if window != int(now // self.limits[k[0]].seconds)]:
            del self._counts[key]


async def wait_slot(waiters, offer_id, timeout):
    """Wait on OFFER_ID's event in WAITERS ({id: [asyncio.Event, waiting count]}) at most TIMEOUT
    seconds; the slot goes when its last waiter leaves. Both stores wake it with ``set()``."""
    slot = waiters.get(offer_id)
    if slot is None:
        slot = waiters[offer_id] = [asyncio.Event(), 0]
    slot[1] += 1
    try:
        await asyncio.wait_for(slot[0].wait(), timeout)
    except asyncio.TimeoutError:
        pass
    finally:
        slot[1] -= 1
        if not slot[1] and waiters.get(offer_id) is slot:
            del waiters[offer_id]

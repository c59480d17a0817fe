"""The ZRTP trust cache: our own ZID, and per peer ZID the retained secrets (RFC 6189 section 4.9).

Per peer it keeps rs1 and rs2 (section 4.6.1), whether the SAS was verified (section 7.1), when the
secrets expire (the shorter cache expiration interval of the two Confirms, section 4.9) and when
the entry was last used. It lives in one small binary file, written atomically through
:class:`zerotap.storage.Storage`.

A corrupt or truncated file is never used: it is set aside (``NAME.bad``), a fresh cache with a
new ZID starts, and :attr:`Cache.warning` holds a loud message for the status model. Every peer is
then new, so their SAS must be read again.

The rules that keep the cache trustworthy (issue 12):

- **Verified only with a secret.** An entry always holds rs1 (or rs2): ``store`` makes entries,
  ``set_verified`` only marks an entry that exists and is not expired (it never makes one), and
  ``verified()`` is False for anything else. The engine shows the verified flag only when a
  retained secret matched.
- **Eviction.** Newcomers never evict anyone: every entry holds a retained secret, and a verified
  one above all is what turns a later man in the middle into the loud ``mismatch``. A peer that
  is not in the cache takes the place of an *expired* entry (unverified expired ones first), and
  when none has expired (``MAX_ENTRIES`` live peers) it is not retained: its call is secure as
  usual (cache ``new``, again next time) and :attr:`Cache.warning` says the cache is full. Only
  expiry (section 4.9), a peer's cache expiration interval of 0 and ``forget`` remove entries.
- **The clock.** Expiry and age use the cache's own clock, seconds that survive reboots: the
  value at the last write is kept in the file's header and the board's uptime counter
  (``time.ticks_ms``; ``time.monotonic`` on CPython) adds to it. No board needs SNTP (which an
  attacker on the network could spoof to make entries expire), and nothing depends on a
  wall clock. Time while the box is off is not counted, so an entry lives at least as long as
  its interval asks (longer when the box was off). The clock must be read at least every few
  days to follow the uptime counter's wrap (about 12 days on boards): every call reads it.
- **Flash writes.** The file is written only when something changed: once when a new ZID is
  made, and at most once per call, when it ends (``Engine.end``): the new rs1 and the user's
  verdict on the SAS together; nothing for a call whose exchange never reached SECURE. ``save``
  returns False when the write fails (flash full): the call was SECURE all the same, and
  :attr:`Cache.warning` (and ``on_warning``, the box status) says the secrets were not kept.

File layout (big-endian), 32 + 85 bytes per peer:

    "ZTZC" | version (1) | 0 (1) | count (2) | own ZID (12) | clock (4) | 4 zero bytes | count x entry | CRC-32C (4, LE)
    entry: peer ZID (12) | flags (1: 1 verified, 2 rs1, 4 rs2) | expires (4) | last used (4) | rs1 (32) | rs2 (32)

Times are seconds of the cache clock; ``expires`` 0xFFFFFFFF means never. (Files written before
the clock was kept have 0 there: their clock starts at 0, and their entries' times are kept as
they were.)
"""
from zerotap import crypto
from zerotap.zrtp.packets import crc32c

FILE_NAME = "zrtp_cache.bin"
MAGIC = b"ZTZC"
VERSION = 1
HEADER_LENGTH = 28
ENTRY_LENGTH = 85
TRAILER_LENGTH = 4
NEVER = 0xFFFFFFFF
MAX_ENTRIES = 256
F_VERIFIED = 1
F_RS1 = 2
F_RS2 = 4


def _be16(v):
    return bytes(((v >> 8) & 0xFF, v & 0xFF))


def _be32(v):
    return bytes(((v >> 24) & 0xFF, (v >> 16) & 0xFF, (v >> 8) & 0xFF, v & 0xFF))


def _u32(b, i):
    return (b[i] << 24) | (b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3]


def _uptime_ms():
    """A millisecond counter since boot and the function that subtracts two of its values."""
    import time

    if hasattr(time, "ticks_ms"):  # MicroPython: wraps (2**30 ms on boards), ticks_diff handles it
        return time.ticks_ms, time.ticks_diff
    return (lambda: int(time.monotonic() * 1000)), (lambda a, b: a - b)


class CacheClock:
    """Seconds that survive reboots: BASE (the value kept in the cache file at its last write) plus
    the uptime since this clock was made. ``ticks`` is ``(ticks_ms, ticks_diff)`` (tests pass
    their own). Read it at least every few days, so that a wrap of the counter is followed."""

    def __init__(self, base=0, ticks=None):
        self._ticks_ms, self._diff = ticks or _uptime_ms()
        self._last = self._ticks_ms()
        self._ms = 0
        self.base = base

    def __call__(self):
        t = self._ticks_ms()
        d = self._diff(t, self._last)
        if d > 0:
            self._ms += d
        self._last = t
        return min(self.base + self._ms // 1000, NEVER - 1)


class Entry:
    """What we remember about one peer ZID."""

    def __init__(self, zid, rs1=None, rs2=None, verified=False, expires=NEVER, last_used=0):
        self.zid = bytes(zid)
        self.rs1 = rs1
        self.rs2 = rs2
        self.verified = verified
        self.expires = expires
        self.last_used = last_used

    def expired(self, now):
        return now is not None and self.expires != NEVER and now >= self.expires

    def has_secret(self):
        return bool(self.rs1 or self.rs2)


def encode(zid, entries, clock=0):
    """The cache file bytes for our ZID, a list of :class:`Entry` and the cache clock."""
    if len(zid) != 12:
        raise ValueError("own ZID must be 12 bytes, got %d" % len(zid))
    parts = [MAGIC, bytes((VERSION, 0)), _be16(len(entries)), zid, _be32(clock & 0xFFFFFFFF), bytes(4)]
    for e in entries:
        flags = (F_VERIFIED if e.verified else 0) | (F_RS1 if e.rs1 else 0) | (F_RS2 if e.rs2 else 0)
        parts.append(e.zid + bytes((flags,)) + _be32(e.expires) + _be32(e.last_used & 0xFFFFFFFF))
        parts.append(e.rs1 or bytes(32))
        parts.append(e.rs2 or bytes(32))
    body = b"".join(parts)
    crc = crc32c(body)
    return body + bytes((crc & 0xFF, (crc >> 8) & 0xFF, (crc >> 16) & 0xFF, (crc >> 24) & 0xFF))


def decode(data):
    """``(zid, entries, clock)`` from cache file bytes; ValueError with the reason when they are bad."""
    n = len(data)
    if n < HEADER_LENGTH + TRAILER_LENGTH:
        raise ValueError("ZRTP cache truncated: %d bytes, need at least %d" % (n, HEADER_LENGTH + TRAILER_LENGTH))
    if data[:4] != MAGIC:
        raise ValueError("ZRTP cache: bad magic %r" % (bytes(data[:4]),))
    if data[4] != VERSION:
        raise ValueError("ZRTP cache: unknown version %d" % data[4])
    count = (data[6] << 8) | data[7]
    need = HEADER_LENGTH + count * ENTRY_LENGTH + TRAILER_LENGTH
    if n != need:
        raise ValueError("ZRTP cache: %d entries need %d bytes, the file has %d" % (count, need, n))
    crc = data[n - 4] | (data[n - 3] << 8) | (data[n - 2] << 16) | (data[n - 1] << 24)
    if crc32c(data[:n - 4]) != crc:
        raise ValueError("ZRTP cache: bad CRC")
    zid = bytes(data[8:20])
    clock = _u32(data, 20)
    entries = []
    i = HEADER_LENGTH
    for _ in range(count):
        flags = data[i + 12]
        rs1 = bytes(data[i + 21:i + 53]) if flags & F_RS1 else None
        rs2 = bytes(data[i + 53:i + 85]) if flags & F_RS2 else None
        entries.append(Entry(data[i:i + 12], rs1, rs2, bool(flags & F_VERIFIED), _u32(data, i + 13),
                             _u32(data, i + 17)))
        i += ENTRY_LENGTH
    return zid, entries, clock


class Cache:
    """Our ZID and the retained secrets per peer ZID, stored in STORAGE (or only in memory).

    ``storage`` is a :class:`zerotap.storage.Storage` (or None: nothing is written);
    ``clock()`` returns seconds (default: a :class:`CacheClock` that goes on from the value in
    the file; ``ticks`` is its counter, for tests); ``random_bytes(n)`` makes a new ZID
    (default: the crypto module's). ``on_warning(text)``, when set, hears every new warning."""

    def __init__(self, storage=None, name=FILE_NAME, clock=None, random_bytes=None, ticks=None):
        self.storage = storage
        self.name = name
        self._random = random_bytes or crypto.random_bytes
        self.warning = None
        self.on_warning = None
        self.writes = 0  # files written (flash wear), for the status and the tests
        self.zid = None
        self._entries = {}
        self._dirty = False
        base = 0
        data = storage.read(name) if storage is not None else None
        if data is not None:
            try:
                zid, entries, base = decode(data)
                self.zid = zid
                for e in entries:
                    if e.has_secret():  # an entry without secrets (older files) is worth nothing
                        self._entries[e.zid] = e
                        if e.last_used > base:
                            base = e.last_used  # the clock never goes back
            except ValueError as e:
                aside = storage.set_aside(name)
                self.warning = ("ZRTP cache %s was unusable (%s); it was kept aside as %s and a new cache with a "
                                "new ZID started: every peer is new again, read the SAS" % (name, e, aside))
        self.clock = clock or CacheClock(base, ticks)
        if self.zid is None:
            self.zid = bytes(self._random(12))
            self._dirty = True
            self.save()

    def __len__(self):
        return len(self._entries)

    def peers(self):
        return list(self._entries)

    def get(self, peer_zid):
        """The :class:`Entry` for PEER_ZID, or None (unknown or expired)."""
        e = self._entries.get(bytes(peer_zid))
        if e is None or e.expired(self.clock()):
            return None
        return e

    def _warn(self, text):
        self.warning = text
        if self.on_warning is not None:
            self.on_warning(text)

    def store(self, peer_zid, rs1, expiry=NEVER, keep_rs2=True):
        """Remember a new rs1 after a successful exchange: the old rs1 becomes rs2 (section 4.6.1).

        EXPIRY is the cache expiration interval in seconds (the shorter of the two Confirms); 0
        forgets the peer (section 4.9). Returns False when the peer is new and the cache is full
        of live entries (see the eviction rule above): nothing is stored then."""
        peer_zid = bytes(peer_zid)
        if expiry == 0:
            self.forget(peer_zid)
            return True
        now = self.clock()
        e = self.get(peer_zid)
        if e is None:
            self._entries.pop(peer_zid, None)  # an expired entry of this peer: its secrets are gone
            if len(self._entries) >= MAX_ENTRIES and not self._make_room(now):
                self._warn("ZRTP trust cache full (%d peers with live secrets): the secret of peer %s was "
                           "not retained; no entry is ever evicted for a newcomer" % (MAX_ENTRIES, _hex(peer_zid)))
                return False
            e = Entry(peer_zid)
            self._entries[peer_zid] = e
        e.rs2 = e.rs1 if keep_rs2 else None
        e.rs1 = bytes(rs1)
        e.last_used = now
        e.expires = NEVER if expiry == NEVER else min(NEVER - 1, now + expiry)
        self._dirty = True
        return True

    def _make_room(self, now):
        """Drop one expired entry (an unverified one first, then the longest expired); False when
        none has expired."""
        victim = None
        for e in self._entries.values():
            if not e.expired(now):
                continue
            if victim is None or (victim.verified, e.expires) > (e.verified, victim.expires):
                victim = e
        if victim is None:
            return False
        del self._entries[victim.zid]
        return True

    def verified(self, peer_zid):
        """True only for a live entry that holds a retained secret and was marked verified."""
        e = self.get(peer_zid)
        return bool(e and e.verified and e.has_secret())

    def set_verified(self, peer_zid, verified, rs1=None, expiry=NEVER):
        """Mark the SAS of PEER_ZID verified or not (section 7.1); it is sent as V next time.

        Only a live entry with a retained secret is marked; none is ever made here. RS1 (with its
        EXPIRY), when given, is the secret of the call whose SAS was read: it is stored first
        when the peer has no live entry (it expired during the call). Returns whether the peer's
        flag now says VERIFIED."""
        e = self.get(peer_zid)
        if e is None and verified and rs1 is not None:
            self.store(peer_zid, rs1, expiry)
            e = self.get(peer_zid)
        if e is None or not e.has_secret():
            return False
        if e.verified != bool(verified):
            e.verified = bool(verified)
            self._dirty = True
        return e.verified

    def forget(self, peer_zid):
        if self._entries.pop(bytes(peer_zid), None) is not None:
            self._dirty = True

    def encode(self):
        return encode(self.zid, list(self._entries.values()), self.clock())

    def save(self):
        """Write the whole cache atomically (temporary file, then rename) when something changed.

        Returns True when the file is up to date, False when the write failed (flash full, say):
        then :attr:`warning` says so and the cache in memory goes on."""
        if self.storage is None or not self._dirty:
            return True
        try:
            self.storage.write(self.name, self.encode())
        except OSError as e:
            self._warn("ZRTP cache %s could not be written (%s): the secrets of this call are not kept on "
                       "flash" % (self.name, e))
            return False
        self.writes += 1
        self._dirty = False
        return True


def _hex(b):
    return "".join("%02x" % x for x in b)

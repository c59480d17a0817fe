"""The ZRTP trust cache: our own ZID, and per peer ZID the retained secrets (RFC 6189 section 4.9).

Per peer it keeps rs1 and rs2 (section 4.6.1), whether the SAS was verified (section 7.1), when the
secrets expire (the shorter cache expiration interval of the two Confirms, section 4.9) and when
the entry was last used. It lives in one small binary file, written atomically through
:class:`zerotap.storage.Storage` at the end of each exchange (and when the SAS is marked).

A corrupt or truncated file is never used: it is set aside (``NAME.bad``), a fresh cache with a
new ZID starts, and :attr:`Cache.warning` holds a loud message for the status model. Every peer is
then new, so their SAS must be read again.

File layout (big-endian), 32 + 85 bytes per peer:

    "ZTZC" | version (1) | 0 (1) | count (2) | own ZID (12) | 8 zero bytes | count x entry | CRC-32C (4, LE)
    entry: peer ZID (12) | flags (1: 1 verified, 2 rs1, 4 rs2) | expires (4) | last used (4) | rs1 (32) | rs2 (32)

Times are Unix seconds; ``expires`` 0xFFFFFFFF means never. When the clock is unknown (a board
before NTP), nothing expires and ``last used`` keeps its old value.
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
_VALID_AFTER = 1577836800  # 2020-01-01: an earlier clock is a board that has not set its time


def _be16(v):
    return bytes(((v >> 8) & 0xFF, v & 0xFF))


def _be32(v):
    return bytes(((v >> 24) & 0xFF, (v >> 16) & 0xFF, (v >> 8) & 0xFF, v & 0xFF))


def _u32(b, i):
    return (b[i] << 24) | (b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3]


def unix_time():
    """Seconds since 1970, or None when this runtime's clock is not set."""
    try:
        import time

        t = int(time.time())
        if time.gmtime(0)[0] == 2000:  # MicroPython ports with the 2000 epoch
            t += 946684800
    except Exception:
        return None
    return t if t >= _VALID_AFTER else None


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


def encode(zid, entries):
    """The cache file bytes for our ZID and a list of :class:`Entry`."""
    if len(zid) != 12:
        raise ValueError("own ZID must be 12 bytes, got %d" % len(zid))
    parts = [MAGIC, bytes((VERSION, 0)), _be16(len(entries)), zid, bytes(8)]
    for e in entries:
        flags = (F_VERIFIED if e.verified else 0) | (F_RS1 if e.rs1 else 0) | (F_RS2 if e.rs2 else 0)
        parts.append(e.zid + bytes((flags,)) + _be32(e.expires) + _be32(e.last_used & 0xFFFFFFFF))
        parts.append(e.rs1 or bytes(32))
        parts.append(e.rs2 or bytes(32))
    body = b"".join(parts)
    crc = crc32c(body)
    return body + bytes((crc & 0xFF, (crc >> 8) & 0xFF, (crc >> 16) & 0xFF, (crc >> 24) & 0xFF))


def decode(data):
    """``(zid, entries)`` from cache file bytes; ValueError with the reason when they are bad."""
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
    entries = []
    i = HEADER_LENGTH
    for _ in range(count):
        flags = data[i + 12]
        rs1 = bytes(data[i + 21:i + 53]) if flags & F_RS1 else None
        rs2 = bytes(data[i + 53:i + 85]) if flags & F_RS2 else None
        entries.append(Entry(data[i:i + 12], rs1, rs2, bool(flags & F_VERIFIED), _u32(data, i + 13),
                             _u32(data, i + 17)))
        i += ENTRY_LENGTH
    return zid, entries


class Cache:
    """Our ZID and the retained secrets per peer ZID, stored in STORAGE (or only in memory).

    ``storage`` is a :class:`zerotap.storage.Storage` (or None: nothing is written);
    ``clock()`` returns Unix seconds or None (default :func:`unix_time`); ``random_bytes(n)``
    makes a new ZID (default: the crypto module's)."""

    def __init__(self, storage=None, name=FILE_NAME, clock=None, random_bytes=None):
        self.storage = storage
        self.name = name
        self.clock = clock or unix_time
        self._random = random_bytes or crypto.random_bytes
        self.warning = None
        self.zid = None
        self._entries = {}
        data = storage.read(name) if storage is not None else None
        if data is not None:
            try:
                zid, entries = decode(data)
                self.zid = zid
                for e in entries:
                    self._entries[e.zid] = e
            except ValueError as e:
                aside = storage.set_aside(name)
                self.warning = ("ZRTP cache %s was unusable (%s); it was kept aside as %s and a new cache with a "
                                "new ZID started: every peer is new again, read the SAS" % (name, e, aside))
        if self.zid is None:
            self.zid = bytes(self._random(12))
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

    def store(self, peer_zid, rs1, expiry=NEVER, keep_rs2=True):
        """Remember a new rs1 after a successful exchange: the old rs1 becomes rs2 (section 4.6.1).

        EXPIRY is the cache expiration interval in seconds (the shorter of the two Confirms); 0
        forgets the peer (section 4.9)."""
        peer_zid = bytes(peer_zid)
        if expiry == 0:
            self.forget(peer_zid)
            return
        now = self.clock()
        e = self.get(peer_zid)
        if e is None:
            e = Entry(peer_zid)
            self._entries[peer_zid] = e
        e.rs2 = e.rs1 if keep_rs2 else None
        e.rs1 = bytes(rs1)
        if now is not None:
            e.last_used = now
            e.expires = NEVER if expiry == NEVER else min(NEVER - 1, now + expiry)
        else:
            e.expires = NEVER
        self._trim()

    def verified(self, peer_zid):
        e = self.get(peer_zid)
        return bool(e and e.verified)

    def set_verified(self, peer_zid, verified):
        """Mark the SAS of PEER_ZID verified or not (section 7.1); it is sent as V next time."""
        e = self.get(peer_zid)
        if e is None:
            e = Entry(peer_zid)
            self._entries[bytes(peer_zid)] = e
        e.verified = bool(verified)

    def forget(self, peer_zid):
        self._entries.pop(bytes(peer_zid), None)

    def _trim(self):
        while len(self._entries) > MAX_ENTRIES:
            oldest = None
            for e in self._entries.values():
                if oldest is None or e.last_used < oldest.last_used:
                    oldest = e
            del self._entries[oldest.zid]

    def encode(self):
        return encode(self.zid, list(self._entries.values()))

    def save(self):
        """Write the whole cache atomically (temporary file, then rename)."""
        if self.storage is not None:
            self.storage.write(self.name, self.encode())

"""The ZRTP trust cache: our own ZID, and per peer ZID the retained secrets (RFC 6189 section 4.9).

Per peer it keeps rs1 and rs2 (section 4.6.1), whether the SAS was verified (section 7.1), when the
secrets expire (the shorter cache expiration interval of the two Confirms, section 4.9) and when
the entry was last used.

**On flash, not in RAM** (issue 19). Each peer is one small record file, named by its ZID
(``zrtp_cache_<24 hex digits>``, 98 bytes), beside a 32-byte header file (``zrtp_cache.bin``: our
ZID and the cache clock), all written atomically through :class:`zerotap.storage.Storage`
(``NAME.tmp``, then a rename over ``NAME``). The cache reads a peer's record when a call asks for
that peer and writes it when the call ends; in RAM it keeps only our ZID, the clock, the number
of records, the earliest expiry it knows of, and the entries of calls not yet written (one per
call in progress, or more while the flash refuses writes). So its RAM does not grow with the
number of peers (``test_trust_flash.py`` measures it with 4 and with 256 peers).

Why a file per ZID and not fixed-size records in one file: a record is replaced by a rename of
its own, atomically, without rewriting (and risking) the other peers' records, and without a
read-modify-write of a 25 KB file per call; a lookup is one open by name, no scan. On the ESP32's
littlefs a file this small lives inline in its directory's metadata, not in a 4 KiB block of its
own (littlefs inlines files up to its cache size, which MicroPython sets to 4 x max(readsize,
progsize): at least 128 bytes). The price, a directory of up to 256 files, is paid only where all records are read: once at
boot (to count them, and to carry the cache clock on) and when a newcomer needs the place of an
expired entry (only when the earliest expiry known in RAM has passed).

A corrupt or truncated header is never used: it is set aside (``NAME.bad``), every record of the
old ZID is set aside too (``zrtp_cache_<hex>.bad``: they belong to a ZID that is gone), a fresh
cache with a new ZID starts, and :attr:`Cache.warning` holds a loud message for the status model.
Every peer is then new, so their SAS must be read again. A corrupt record (bad CRC, truncated, a
ZID that is not its name's) is set aside alone with a warning that names the peer: that peer is
new again, the others are untouched.

**Migration.** A cache file of the earlier single-file format (version 1: header and every entry
in ``zrtp_cache.bin``) is read once at boot, its entries written as records, and then the header
is replaced by the version 2 header; a power cut in between migrates again at the next boot.

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
  A flood of newcomers against a full cache costs no flash read while the earliest expiry known
  in RAM lies ahead.
- **The clock.** Expiry and age use the cache's own clock, seconds that survive reboots: the
  value at each write is kept (in the header when it is written, in every record written) and
  the board's uptime counter (``time.ticks_ms``; ``time.monotonic`` on CPython) adds to the
  largest of them at boot. No board needs SNTP (which an attacker on the network could spoof to
  make entries expire), and nothing depends on a wall clock. Time while the box is off is not
  counted, so an entry lives at least as long as its interval asks (longer when the box was
  off). The uptime counter wraps (2**30 ms on boards, and ticks_diff tells only +-6.2 days), so
  the box has the clock follow its loop's clock (:meth:`CacheClock.follow`: milliseconds that
  never wrap, read at every turn), not only calls: a week without a call lost the week.
- **Flash writes.** Files are written only when something changed: the header once when a new
  ZID is made, and a peer's record at most once per call, when it ends (``Engine.end``): the new
  rs1 and the user's verdict on the SAS together; nothing for a call whose exchange never reached
  SECURE. ``save`` returns False when a write fails (flash full): the call was SECURE all the
  same, the entry stays in RAM until a later ``save`` writes it, and :attr:`Cache.warning` (and
  ``on_warning``, the box status) says the secrets were not kept.

Header file ``zrtp_cache.bin`` (big-endian), 32 bytes:

    "ZTZC" | version (1: 2) | 0 (1) | 0 (2) | own ZID (12) | clock (4) | 4 zero bytes | CRC-32C (4, LE)

Record file ``zrtp_cache_<peer ZID in hex>``, 98 bytes:

    "ZTZR" | version (1: 1) | flags (1: 1 verified, 2 rs1, 4 rs2) | peer ZID (12) | expires (4) |
    last used (4) | clock at the write (4) | rs1 (32) | rs2 (32) | CRC-32C (4, LE)

The earlier single file (version 1, read for the migration; :func:`encode` still writes it, as an
export for tests): the header above with version 1 and the count, then count x entry:
peer ZID (12) | flags (1) | expires (4) | last used (4) | rs1 (32) | rs2 (32), then the CRC.

Times are seconds of the cache clock; ``expires`` 0xFFFFFFFF means never. (Files written before
the clock was kept have 0 there: their clock starts at 0, and their entries' times are kept as
they were.)
"""
from zerotap import crypto
from zerotap.zrtp.packets import crc32c

FILE_NAME = "zrtp_cache.bin"
MAGIC = b"ZTZC"
VERSION = 2  # the header file alone; 1: the earlier single file with every entry (migrated)
LEGACY_VERSION = 1
HEADER_LENGTH = 28
ENTRY_LENGTH = 85
TRAILER_LENGTH = 4
NEVER = 0xFFFFFFFF
MAX_ENTRIES = 256
F_VERIFIED = 1
F_RS1 = 2
F_RS2 = 4
RECORD_MAGIC = b"ZTZR"
RECORD_VERSION = 1
RECORD_LENGTH = 98


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
    return (lambda: int(time.monotonic() * 1000)), _sub


def _sub(a, b):
    return a - b


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

    def follow(self, ms):
        """From now on count the uptime with MS(): milliseconds that never wrap (the box's loop
        clock), not the uptime counter, which must be read every few days to be followed."""
        self()
        self._ticks_ms = ms
        self._diff = _sub
        self._last = ms()


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


def encode(zid, entries, clock=0, version=LEGACY_VERSION, count=None, write=None):
    """The single-file bytes for our ZID, :class:`Entry` objects and the cache clock: the earlier
    format (version 1) as an export, or with no entries (version 2) the header file. ENTRIES may
    be any iterable when COUNT says how many it yields; the file is filled in one buffer.

    With WRITE, the file goes to ``write(piece)`` in pieces instead and the number of bytes is
    returned: the header, one entry at a time, the CRC. No block is larger than an entry, so a
    full cache (21,796 bytes) is exported on a board's fragmented heap too; each piece is one
    reused buffer, valid only during its call."""
    if len(zid) != 12:
        raise ValueError("own ZID must be 12 bytes, got %d" % len(zid))
    if count is None:
        count = len(entries)
    if write is None:
        out = bytearray(HEADER_LENGTH + count * ENTRY_LENGTH + TRAILER_LENGTH)
        piece = None
    else:
        out = bytearray(HEADER_LENGTH)
        piece = bytearray(ENTRY_LENGTH)
    out[0:8] = MAGIC + bytes((version, 0)) + _be16(count)
    out[8:20] = zid
    out[20:24] = _be32(clock & 0xFFFFFFFF)
    i = HEADER_LENGTH
    if piece is not None:
        crc = crc32c(out)
        write(out)
        out = piece
    n = 0
    for e in entries:
        if n == count:
            raise ValueError("ZRTP cache: more than %d entries" % count)
        j = 0 if piece is not None else i
        out[j:j + 12] = e.zid
        out[j + 12] = (F_VERIFIED if e.verified else 0) | (F_RS1 if e.rs1 else 0) | (F_RS2 if e.rs2 else 0)
        out[j + 13:j + 17] = _be32(e.expires)
        out[j + 17:j + 21] = _be32(e.last_used & 0xFFFFFFFF)
        for k, rs in ((j + 21, e.rs1), (j + 53, e.rs2)):
            if rs:
                out[k:k + 32] = rs
            elif piece is not None:  # the reused piece holds the entry before
                for m in range(k, k + 32):
                    out[m] = 0
        if piece is not None:
            crc = crc32c(piece, crc)
            write(piece)
        i += ENTRY_LENGTH
        n += 1
    if n != count:
        raise ValueError("ZRTP cache: %d entries, not %d" % (n, count))
    if piece is None:
        crc = crc32c(memoryview(out)[:i])
    tail = bytes((crc & 0xFF, (crc >> 8) & 0xFF, (crc >> 16) & 0xFF, (crc >> 24) & 0xFF))
    if piece is not None:
        write(tail)
        return i + TRAILER_LENGTH
    out[i:i + 4] = tail
    return out  # a bytearray: no second copy of a file that may be 21.8 KB


def decode(data):
    """``(zid, entries, clock)`` from the header file's bytes (version 2: no entries) or from a
    single file of the earlier format (version 1); ValueError with the reason when they are bad."""
    zid, count, clock = decode_header(data)
    return zid, list(entries_of(data, count)), clock


def decode_header(data):
    """``(zid, count, clock)`` of a header file or a version 1 file, the whole checked (length,
    CRC); ValueError with the reason when it is bad."""
    n = len(data)
    if n < HEADER_LENGTH + TRAILER_LENGTH:
        raise ValueError("ZRTP cache truncated: %d bytes, need at least %d" % (n, HEADER_LENGTH + TRAILER_LENGTH))
    if data[:4] != MAGIC:
        raise ValueError("ZRTP cache: bad magic %r" % (bytes(data[:4]),))
    if data[4] not in (LEGACY_VERSION, VERSION):
        raise ValueError("ZRTP cache: unknown version %d" % data[4])
    count = (data[6] << 8) | data[7]
    if data[4] == VERSION and count:
        raise ValueError("ZRTP cache: a version 2 header with %d entries" % count)
    need = HEADER_LENGTH + count * ENTRY_LENGTH + TRAILER_LENGTH
    if n != need:
        raise ValueError("ZRTP cache: %d entries need %d bytes, the file has %d" % (count, need, n))
    crc = data[n - 4] | (data[n - 3] << 8) | (data[n - 2] << 16) | (data[n - 1] << 24)
    if crc32c(memoryview(data)[:n - 4]) != crc:
        raise ValueError("ZRTP cache: bad CRC")
    return bytes(data[8:20]), count, _u32(data, 20)


def entries_of(data, count):
    """The COUNT entries of a checked version 1 file, one at a time (the migration never holds
    them all: 256 of them were 52 KB on a 32-bit board)."""
    i = HEADER_LENGTH
    for _ in range(count):
        flags = data[i + 12]
        rs1 = bytes(data[i + 21:i + 53]) if flags & F_RS1 else None
        rs2 = bytes(data[i + 53:i + 85]) if flags & F_RS2 else None
        yield Entry(data[i:i + 12], rs1, rs2, bool(flags & F_VERIFIED), _u32(data, i + 13), _u32(data, i + 17))
        i += ENTRY_LENGTH


def encode_record(e, clock):
    """The record file bytes of :class:`Entry` E, written at cache clock CLOCK."""
    flags = (F_VERIFIED if e.verified else 0) | (F_RS1 if e.rs1 else 0) | (F_RS2 if e.rs2 else 0)
    body = b"".join((RECORD_MAGIC, bytes((RECORD_VERSION, flags)), e.zid, _be32(e.expires),
                     _be32(e.last_used & 0xFFFFFFFF), _be32(clock & 0xFFFFFFFF),
                     e.rs1 or bytes(32), e.rs2 or bytes(32)))
    crc = crc32c(body)
    return body + bytes((crc & 0xFF, (crc >> 8) & 0xFF, (crc >> 16) & 0xFF, (crc >> 24) & 0xFF))


def decode_record(data, zid=None):
    """``(entry, clock at its write)`` from record bytes; ValueError with the reason when they are
    bad (ZID, when given, is the peer the record's name says)."""
    n = len(data)
    if n != RECORD_LENGTH:
        raise ValueError("ZRTP cache record: %d bytes, need %d" % (n, RECORD_LENGTH))
    if data[:4] != RECORD_MAGIC:
        raise ValueError("ZRTP cache record: bad magic %r" % (bytes(data[:4]),))
    if data[4] != RECORD_VERSION:
        raise ValueError("ZRTP cache record: unknown version %d" % data[4])
    crc = data[n - 4] | (data[n - 3] << 8) | (data[n - 2] << 16) | (data[n - 1] << 24)
    if crc32c(memoryview(data)[:n - 4]) != crc:
        raise ValueError("ZRTP cache record: bad CRC")
    flags = data[5]
    peer = bytes(data[6:18])
    if zid is not None and peer != zid:
        raise ValueError("ZRTP cache record: holds peer %s, not %s" % (_hex(peer), _hex(zid)))
    if not flags & (F_RS1 | F_RS2):
        raise ValueError("ZRTP cache record: no retained secret")
    rs1 = bytes(data[30:62]) if flags & F_RS1 else None
    rs2 = bytes(data[62:94]) if flags & F_RS2 else None
    return Entry(peer, rs1, rs2, bool(flags & F_VERIFIED), _u32(data, 18), _u32(data, 22)), _u32(data, 26)


class MemoryFiles:
    """A storage that keeps its files in RAM: the cache of ``Cache(None)`` (tests, a box without
    flash). Its RAM grows with the entries, of course."""

    def __init__(self):
        self.files = {}

    def read(self, name):
        return self.files.get(name)

    def write(self, name, data):
        self.files[name] = bytes(data)

    def remove(self, name):
        self.files.pop(name, None)

    def names(self, prefix=""):
        return [n for n in self.files if n.startswith(prefix)]

    def set_aside(self, name):
        self.files[name + ".bad"] = self.files.pop(name)
        return name + ".bad"


class Cache:
    """Our ZID and the retained secrets per peer ZID, stored in STORAGE (or only in memory).

    ``storage`` is a :class:`zerotap.storage.Storage` (anything with ``read``, ``write``,
    ``remove``, ``names(prefix)`` and ``set_aside``), or None: the records then live in RAM
    (:class:`MemoryFiles`) and nothing is written; ``name`` is the header file's name (records:
    its name up to the first dot, ``_``, the peer ZID in hex); ``clock()`` returns seconds
    (default: a :class:`CacheClock` that goes on from the largest value on flash; ``ticks`` is
    its counter, for tests); ``random_bytes(n)`` makes a new ZID (default: the crypto module's).
    ``on_warning(text)``, when set, hears every new warning."""

    def __init__(self, storage=None, name=FILE_NAME, clock=None, random_bytes=None, ticks=None):
        self.memory = storage is None
        self.storage = MemoryFiles() if storage is None else storage
        self.name = name
        self.prefix = (name[:name.find(".")] if "." in name else name) + "_"
        self._random = random_bytes or crypto.random_bytes
        self.warning = None
        self.on_warning = None
        self.writes = 0  # files written (flash wear), for the status and the tests
        self.zid = None
        self._count = 0  # records on flash and pending ones that are not there yet
        self._soonest = NEVER  # no entry expires before this (a lower bound: forget leaves it)
        self._pending = {}  # peer ZID -> Entry changed by a call, written by save()
        header_dirty = False
        base = 0
        data = self.storage.read(name)
        if data is None and self._set_all_aside():
            self.warning = ("ZRTP cache %s is missing beside records of peers: they were kept aside (.bad), a "
                            "new cache with a new ZID started: every peer is new again, read the SAS" % name)
        if data is not None:
            try:
                zid, count, base = decode_header(data)
            except ValueError as e:
                aside = self.storage.set_aside(name)
                self._set_all_aside()
                self.warning = ("ZRTP cache %s was unusable (%s); it was kept aside as %s and a new cache with a "
                                "new ZID started: every peer is new again, read the SAS" % (name, e, aside))
            else:
                self.zid = zid
                if data[4] == LEGACY_VERSION:
                    base = self._migrate(entries_of(data, count), base)
                    header_dirty = True
                data = None
                base = self._scan(base)
        self.clock = clock or CacheClock(base, ticks)
        if self.zid is None:
            self.zid = bytes(self._random(12))
            header_dirty = True
        if header_dirty:
            self._write_header()

    # --- files ----------------------------------------------------------------------------------
    def _record_name(self, zid):
        return self.prefix + _hex(zid)

    def _zid_of(self, name):
        """The peer ZID a record's NAME stands for, or None for any other file."""
        h = name[len(self.prefix):]
        if len(h) != 24 or not name.startswith(self.prefix):
            return None
        for c in h:
            if c not in "0123456789abcdef":
                return None
        return _unhex(h)

    def _record_names(self):
        for n in self.storage.names(self.prefix):
            if self._zid_of(n) is not None:
                yield n

    def _write_header(self):
        try:
            self.storage.write(self.name, encode(self.zid, (), self.clock(), VERSION))
        except OSError as e:
            self._warn("ZRTP cache %s could not be written (%s): our ZID is not kept on flash" % (self.name, e))
            return
        if not self.memory:
            self.writes += 1

    def _migrate(self, entries, base):
        """Write the entries of a version 1 file as records (the header follows)."""
        for e in entries:
            if e.has_secret():  # an entry without secrets (older files) is worth nothing
                if e.last_used > base:
                    base = e.last_used
                self.storage.write(self._record_name(e.zid), encode_record(e, base))
        return base

    def _set_all_aside(self):
        """Every record aside (they belong to a ZID that is gone); how many there were."""
        n = 0
        while True:
            name = None
            for name in self._record_names():
                break  # one at a time: the directory must not change under the loop
            if name is None:
                return n
            self.storage.set_aside(name)
            n += 1

    def _corrupt(self, name, reason):
        aside = self.storage.set_aside(name)
        self._warn("ZRTP cache record %s was unusable (%s); it was kept aside as %s: that peer is new again, "
                   "read the SAS" % (name, reason, aside))

    def _scan(self, base):
        """At boot: count the records, learn the earliest expiry, carry the clock on, set corrupt
        records aside. Reads every record, one at a time. Returns the clock's base."""
        while True:
            bad = None
            self._count = 0
            self._soonest = NEVER
            for n in self._record_names():
                try:
                    e, written = decode_record(self.storage.read(n) or b"", self._zid_of(n))
                except ValueError as x:
                    bad = (n, str(x))  # set aside after the loop: the directory must not change under it
                    continue
                self._count += 1
                self._note(e)
                for t in (written, e.last_used):
                    if t > base and t != NEVER:
                        base = t
            if bad is None:
                return base
            self._corrupt(*bad)  # and count again (one more pass per corrupt record)

    def _note(self, e):
        if e.expires < self._soonest:
            self._soonest = e.expires

    def _load(self, zid):
        """The Entry of ZID, expired or not: the pending one or the record on flash, or None."""
        e = self._pending.get(zid)
        if e is not None:
            return e
        name = self._record_name(zid)
        data = self.storage.read(name)
        if data is None:
            return None
        try:
            return decode_record(data, zid)[0]
        except ValueError as x:
            self._corrupt(name, x)
            self._count -= 1
            return None

    def _each(self):
        """Every entry (pending ones as changed), read one at a time."""
        for e in self._pending.values():
            yield e
        for n in self._record_names():
            zid = self._zid_of(n)
            if zid in self._pending:
                continue
            try:
                yield decode_record(self.storage.read(n) or b"", zid)[0]
            except ValueError:
                continue  # set aside when it is asked for by itself (_load), or at the next boot

    # --- the cache --------------------------------------------------------------------------------
    def __len__(self):
        return self._count

    def peers(self):
        """Every peer ZID with an entry (a list: for tests and tools, not for the box's loop)."""
        return [e.zid for e in self._each()]

    def get(self, peer_zid):
        """The :class:`Entry` for PEER_ZID, or None (unknown or expired)."""
        e = self._load(bytes(peer_zid))
        if e is None or e.expired(self.clock()):
            return None
        return e

    def _warn(self, text):
        self.warning = text
        if self.on_warning is not None:
            self.on_warning(text)

    def _changed(self, e):
        self._pending[e.zid] = e
        self._note(e)
        if self.memory:
            self.save()

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
        e = self._load(peer_zid)
        if e is None:
            if self._count >= MAX_ENTRIES and not self._make_room(now):
                self._warn("ZRTP trust cache full (%d peers with live secrets): the secret of peer %s was "
                           "not retained; no entry is ever evicted for a newcomer" % (MAX_ENTRIES, _hex(peer_zid)))
                return False
            self._count += 1
            e = Entry(peer_zid)
        elif e.expired(now):
            e = Entry(peer_zid)  # an expired entry of this peer: its secrets are gone, its place is taken
        e.rs2 = e.rs1 if keep_rs2 else None
        e.rs1 = bytes(rs1)
        e.last_used = now
        e.expires = NEVER if expiry == NEVER else min(NEVER - 1, now + expiry)
        self._changed(e)
        return True

    def _make_room(self, now):
        """Drop one expired entry (an unverified one first, then the longest expired); False when
        none has expired. Reads the records only when the earliest expiry known has passed."""
        if now < self._soonest:
            return False
        victim = None
        expired = 0
        soonest = None  # the earliest expiry of the live entries
        for e in self._each():
            if e.expired(now):
                expired += 1
                if victim is None or (victim.verified, e.expires) > (e.verified, victim.expires):
                    victim = e
            elif e.expires != NEVER and (soonest is None or e.expires < soonest):
                soonest = e.expires
        # expired ones stay after the victim goes: due at once; else the live ones' earliest
        self._soonest = now if expired > 1 else (NEVER if soonest is None else soonest)
        if victim is None:
            return False
        self.forget(victim.zid)
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
            self._changed(e)
        return e.verified

    def forget(self, peer_zid):
        peer_zid = bytes(peer_zid)
        had = self._pending.pop(peer_zid, None) is not None
        name = self._record_name(peer_zid)
        if self.storage.read(name) is not None:
            had = True
            try:
                self.storage.remove(name)
            except OSError as e:
                self._warn("ZRTP cache record %s could not be removed (%s)" % (name, e))
        if had:
            self._count -= 1

    def encode(self, write=None):
        """The whole cache in the earlier single-file format (an export for tests and tools; the
        box never makes it): one block of 32 + 85 bytes per entry, or with WRITE in pieces of
        at most an entry (see :func:`encode`), the number of bytes returned."""
        return encode(self.zid, self._each(), self.clock(), count=len(self), write=write)

    def save(self):
        """Write the records that calls changed, each atomically (temporary file, then rename).

        Returns True when the flash is up to date, False when a write failed (flash full, say):
        then :attr:`warning` says so and the entries stay in RAM until the next ``save``."""
        if not self._pending:
            return True
        now = self.clock()
        for zid in list(self._pending):
            e = self._pending[zid]
            name = self._record_name(zid)
            try:
                self.storage.write(name, encode_record(e, now))
            except OSError as x:
                self._warn("ZRTP cache %s could not be written (%s): the secrets of this call are not kept on "
                           "flash" % (name, x))
                return False
            del self._pending[zid]
            if not self.memory:
                self.writes += 1
        return True


def _hex(b):
    return "".join("%02x" % x for x in b)


def _unhex(h):
    return bytes(int(h[i:i + 2], 16) for i in range(0, len(h), 2))

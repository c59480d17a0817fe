"""Issue 19: the trust cache does not live in RAM. One record file per peer ZID on flash, read and
written by ZID, each replaced atomically; RAM independent of the number of entries; corrupt
records set aside with a warning; the single-file cache of before migrated; the flood and clock
rules of issue 12 (test_trust_cache.py) kept with the records on flash. Both interpreters."""
import sys

from support import fresh_storage, heap_done, heap_used
from zerotap import storage as _storage
from zerotap.zrtp import cache as zcache

FACTOR_64 = 1.56  # unix port (64-bit) / 32-bit board heap for runtime objects (docs/heap.md)
CACHE_32 = 1024  # the trust cache's share of the board's 112 KiB heap (test_heap_budget, docs/heap.md)


class _Clock:
    def __init__(self, t):
        self.t = t

    def __call__(self):
        return self.t


def _zid(i):
    return b"peer%08d" % i


def _record(st, zid):
    return st.read("zrtp_cache_" + "".join("%02x" % x for x in zid))


def _filled(name, n, clock, expiry=zcache.NEVER):
    st = fresh_storage(name)
    c = zcache.Cache(st, clock=clock)
    for i in range(n):
        assert c.store(_zid(i), bytes((i & 0xFF,)) * 32, expiry)
        if i % 3 == 0:
            c.set_verified(_zid(i), True)
        assert c.save()  # one call after the other: each writes its record when it ends
    return st


class _Counting(_storage.Storage):
    """A real Storage that counts the files read."""
    reads = 0

    def read(self, name):
        self.reads += 1
        return _storage.Storage.read(self, name)


def test_records_are_files_by_zid_written_atomically():
    st = fresh_storage("rec")
    clock = _Clock(1000)
    c = zcache.Cache(st, clock=clock)
    header = st.read(zcache.FILE_NAME)
    assert len(header) == 32 and header[4] == zcache.VERSION and c.writes == 1
    c.store(_zid(1), b"a" * 32, 3600)
    assert _record(st, _zid(1)) is None  # written when the call ends, not before
    c.set_verified(_zid(1), True)
    assert c.save() and c.writes == 2
    data = _record(st, _zid(1))
    assert len(data) == zcache.RECORD_LENGTH == 98
    e, written = zcache.decode_record(data, _zid(1))
    assert (e.zid, e.rs1, e.rs2, e.verified, e.expires, e.last_used, written) == (
        _zid(1), b"a" * 32, None, True, 4600, 1000, 1000)
    assert [n for n in st.names() if n.endswith(".tmp")] == []  # renamed into place
    assert st.read(zcache.FILE_NAME) == header  # the header is not rewritten per call
    clock.t += 10
    c.store(_zid(1), b"b" * 32, 3600)
    assert c.save()
    e = zcache.Cache(st, clock=clock).get(_zid(1))
    assert (e.rs1, e.rs2, e.verified) == (b"b" * 32, b"a" * 32, True)
    c.forget(_zid(1))
    assert _record(st, _zid(1)) is None and len(c) == 0


def test_ram_does_not_grow_with_the_entries():
    clock = _Clock(5000)
    stores = {4: _filled("ram4", 4, clock), zcache.MAX_ENTRIES: _filled("ram256", zcache.MAX_ENTRIES, clock)}
    grown = {}
    try:
        heap_used()
        for n, st in stores.items():
            before = heap_used()
            c = zcache.Cache(st, clock=clock)
            assert len(c) == n and c.verified(_zid(3)) and c.get(_zid(2)).rs1 == b"\x02" * 32
            c.store(_zid(1), b"x" * 32)  # a call with a known peer...
            assert c.save()  # ...ends
            c.store(b"newcomer-001", b"n" * 32)  # and one with a new peer (refused when full)
            c.save()
            assert (c.warning is not None) == (n == zcache.MAX_ENTRIES)
            c.warning = None  # the "cache full" text is not the cache's RAM
            grown[n] = heap_used() - before
            assert c is not None
            c = None
    finally:
        heap_done()
    small, full = grown[4], grown[zcache.MAX_ENTRIES]
    print("trust cache RAM: %d bytes with 4 entries, %d with 256" % (small, full))
    assert full - small <= 256, grown  # independent of the entries (the GC's blocks aside)
    budget = int(CACHE_32 * FACTOR_64) if sys.maxsize > (1 << 32) else CACHE_32
    assert full <= budget, (full, budget)


def test_a_corrupt_record_is_set_aside_with_a_warning():
    clock = _Clock(5000)
    st = _filled("bad", 5, clock)
    name = "zrtp_cache_" + "".join("%02x" % x for x in _zid(2))
    data = _record(st, _zid(2))
    st.write(name, data[:40] + bytes((data[40] ^ 1,)) + data[41:])
    c = zcache.Cache(st, clock=clock)
    assert c.warning is not None and "bad CRC" in c.warning and (name + ".bad") in c.warning, c.warning
    assert len(c) == 4 and c.get(_zid(2)) is None and c.get(_zid(1)) is not None and c.verified(_zid(3))
    assert st.read(name + ".bad") is not None and st.read(name) is None
    # a record that goes bad after boot (or holds another peer) is set aside when it is read
    st.write("zrtp_cache_" + "".join("%02x" % x for x in _zid(4)), _record(st, _zid(1)))
    assert c.get(_zid(4)) is None and "holds peer" in c.warning and len(c) == 3
    warnings = []
    c.on_warning = warnings.append
    st.write("zrtp_cache_" + "".join("%02x" % x for x in _zid(0)), b"short")
    assert c.get(_zid(0)) is None and "5 bytes, need 98" in warnings[0]
    # a peer set aside is new: its next call stores it again
    assert c.store(_zid(2), b"n" * 32) and c.save() and zcache.Cache(st, clock=clock).get(_zid(2)) is not None


def test_a_corrupt_header_sets_every_record_aside():
    clock = _Clock(5000)
    st = _filled("hdr", 3, clock)
    old = zcache.Cache(st, clock=clock).zid
    st.write(zcache.FILE_NAME, b"ZTZC" + bytes(28))
    c = zcache.Cache(st, clock=clock)
    assert c.zid != old and len(c) == 0 and c.get(_zid(1)) is None
    assert "unknown version 0" in c.warning and "zrtp_cache.bin.bad" in c.warning
    assert len([n for n in st.names("zrtp_cache_") if n.endswith(".bad")]) == 3
    assert zcache.Cache(st, clock=clock).warning is None


def test_the_single_file_cache_is_migrated():
    st = fresh_storage("migrate")
    zid = b"our-own-zid1"
    entries = [zcache.Entry(_zid(1), b"1" * 32, b"0" * 32, True, zcache.NEVER, 700),
               zcache.Entry(_zid(2), b"2" * 32, None, False, 9000, 800),
               zcache.Entry(_zid(3))]  # no secret: worth nothing, dropped as before
    st.write(zcache.FILE_NAME, zcache.encode(zid, entries, 900))
    ticks = [0]
    c = zcache.Cache(st, ticks=(lambda: ticks[0], lambda a, b: a - b))
    assert c.zid == zid and c.warning is None and len(c) == 2
    assert c.clock() == 900  # the clock goes on from the file's
    e = c.get(_zid(1))
    assert (e.rs1, e.rs2, e.verified, e.expires, e.last_used) == (b"1" * 32, b"0" * 32, True, zcache.NEVER, 700)
    assert c.get(_zid(2)).expires == 9000 and c.get(_zid(3)) is None
    header = st.read(zcache.FILE_NAME)
    assert len(header) == 32 and header[4] == zcache.VERSION
    assert zcache.decode(header) == (zid, [], 900)
    assert _record(st, _zid(2)) is not None
    again = zcache.Cache(st)
    assert again.zid == zid and len(again) == 2 and again.verified(_zid(1))


def test_a_flood_against_a_full_cache_on_flash():
    clock = _Clock(5000)
    st = _filled("flood", zcache.MAX_ENTRIES, clock)
    counting = _Counting(st.directory)
    c = zcache.Cache(counting, clock=clock)
    assert len(c) == zcache.MAX_ENTRIES
    counting.reads = 0
    warnings = []
    c.on_warning = warnings.append
    for i in range(20):  # spam calls, each a new ZID reaching SECURE
        clock.t += 1
        assert c.store(b"spam%08d" % i, b"s" * 32) is False
    assert len(warnings) == 20 and "ZRTP trust cache full" in warnings[-1]
    assert counting.reads == 20, counting.reads  # a look at each newcomer's own name, no scan
    assert c.verified(_zid(0)) and len(c) == zcache.MAX_ENTRIES
    # an entry that expires makes room; unverified expired ones go first
    c.store(_zid(1), b"e" * 32, 10)  # unverified, expires at 5030
    c.store(_zid(3), b"v" * 32, 10)  # verified, expires at 5030
    assert c.save()
    assert c.store(b"newcomer-001", b"n" * 32) is False  # nothing has expired yet
    clock.t += 20
    assert c.store(b"newcomer-001", b"n" * 32) is True
    assert c.get(_zid(1)) is None and _record(st, _zid(1)) is None  # the unverified one went
    assert c.store(b"newcomer-002", b"n" * 32) is True  # then the verified expired one
    assert c.store(b"newcomer-003", b"n" * 32) is False
    assert c.save() and len(zcache.Cache(st, clock=clock)) == zcache.MAX_ENTRIES


def test_a_failed_write_keeps_the_entry_until_a_later_save():
    class Full(_storage.Storage):
        full = False

        def write(self, name, data):
            if self.full:
                raise OSError(28, "No space left on device")
            _storage.Storage.write(self, name, data)

    st = Full(fresh_storage("full").directory)
    c = zcache.Cache(st, clock=_Clock(100))
    st.full = True
    c.store(_zid(1), b"1" * 32)
    assert c.save() is False and "No space left" in c.warning
    assert c.get(_zid(1)).rs1 == b"1" * 32 and len(c) == 1  # kept in RAM meanwhile
    st.full = False
    assert c.save() and zcache.Cache(st).get(_zid(1)) is not None

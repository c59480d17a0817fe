"""SAS renderings B32 and B256 against bzrtp's (RFC 6189 section 5.1.6)."""
from vectors import each, unhex

from zerotap.zrtp import sas

# zrtp_sas.json (17 KB) is read one vector at a time (vectors.each)


def test_b32_vectors():
    count = 0
    for v in each("zrtp_sas.json", "b32"):
        count += 1
        value = unhex(v["sasvalue"])
        assert sas.base32(value) == v["sas"], v
        assert sas.base32(int(v["sasvalue"], 16)) == v["sas"]
        assert sas.render("B32", value) == v["sas"]
        assert sas.render(b"B32 ", value + b"rest of sashash") == v["sas"]
    assert count >= 32


def test_b256_vectors_cover_both_word_lists():
    evens, odds = set(), set()
    for v in each("zrtp_sas.json", "b256"):
        value = unhex(v["sasvalue"])
        assert sas.base256(value) == v["sas"], v
        assert sas.render("B256", value) == v["sas"]
        even, odd = v["sas"].split(":")
        evens.add(even)
        odds.add(odd)
    assert len(evens) == 256 and len(odds) == 256


def test_bad_sas_input():
    for args, text in (((b"B16 ", b"\0\0\0\0"), "unknown SAS type 'B16'"),
                       (("B32", b"\0\0\0"), "sasvalue needs 4 bytes, got 3")):
        try:
            sas.render(*args)
        except ValueError as e:
            assert str(e) == text, str(e)
            continue
        raise AssertionError("no ValueError for %r" % (args,))


def test_rendering_allocates_only_its_result():
    # the word lists stay one string each: a split would put 512 strings on the heap (MicroPython
    # shows it in gc.mem_alloc; CPython has no such figure and checks the words only)
    import gc
    v = next(each("zrtp_sas.json", "b256"))
    value = unhex(v["sasvalue"])
    want = v["sas"]
    gc.collect()
    before = gc.mem_alloc() if hasattr(gc, "mem_alloc") else 0
    got = sas.base256(value)
    got32 = sas.base32(value)
    grown = (gc.mem_alloc() - before) if hasattr(gc, "mem_alloc") else 0
    assert got == want and len(got32) == 4
    assert grown < 1024, "rendering a SAS allocated %d bytes" % grown

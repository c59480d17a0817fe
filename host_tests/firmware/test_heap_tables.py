"""Module-level tables cost RAM on a board even when the code is frozen, and on a 32-bit
MicroPython every int of 2^30 or more is an object of its own on the heap (16 bytes and more, where
an entry below 2^30 costs nothing beyond its slot). So no module a board imports keeps a table
(list, tuple or dict) of such ints at module level: 32-bit tables are array('I') (or halves, as
in crypto/aes.py), 16-bit ones array('H')/bytes. The exceptions are named below, with why."""
import sys

# module: (the modules a board imports, and those the tests import on a board)
MODULES = (
    "zerotap.g711", "zerotap.rtp", "zerotap.srtp", "zerotap.crypto", "zerotap.crypto.checks",
    "zerotap.crypto.crc", "zerotap.crypto.mac", "zerotap.crypto.modes", "zerotap.crypto.srtp_transform",
    "zerotap.crypto.ec", "zerotap.crypto.x25519", "zerotap.crypto.dh", "zerotap.crypto.keyagreement",
    "zerotap.crypto.backend_micropython", "zerotap.crypto.aes", "zerotap.crypto.backend_python",
    "zerotap.crypto.sha512", "zerotap.zrtp.sas", "zerotap.zrtp.keys", "zerotap.zrtp.packets",
    "zerotap.dtmf", "zerotap.dtmf.detector", "zerotap.dtmf.tones", "zerotap.dtmf.frame",
    "zerotap.dtmf.events", "zerotap.ui.font", "zerotap.ui.canvas", "zerotap.ui.display",
    "zerotap.ui.screens", "zerotap.ui.button", "zerotap.ui.keypad", "zerotap.ui.frontpanel",
    "zerotap.ui.panels", "zerotap.sip.uri", "zerotap.sip.headers", "zerotap.sip.message",
    "zerotap.sip.sdp", "zerotap.sip.rewrite",
)

ALLOWED = {
    # the two MODP primes themselves (P2048, P3072): the same objects, no table
    ("zerotap.crypto.dh", "GROUPS"),
    # SHA-512's 64-bit constants: heap objects on any MicroPython, but mac.py imports this module
    # only when SHA-384 is first used where hashlib lacks it (a box that never negotiates S384)
    ("zerotap.crypto.sha512", "_K"),
    ("zerotap.crypto.sha512", "_IV384"),
}

BIG = 1 << 30


def _big_ints(v, depth=0):
    if isinstance(v, bool):
        return 0
    if isinstance(v, int):
        return 1 if v >= BIG or v < -BIG else 0
    if depth < 3 and isinstance(v, (list, tuple)):
        return sum(_big_ints(x, depth + 1) for x in v)
    if depth < 3 and isinstance(v, dict):
        return sum(_big_ints(x, depth + 1) for x in v.values())
    return 0


def test_no_module_keeps_a_table_of_large_ints():
    found = []
    scanned = 0
    for name in MODULES:
        try:
            __import__(name)
        except ImportError:  # cryptolib on CPython, for one
            continue
        scanned += 1
        for key, value in sys.modules[name].__dict__.items():
            if isinstance(value, (list, tuple, dict)) and _big_ints(value) >= 2 \
                    and (name, key) not in ALLOWED:
                found.append("%s.%s (%d ints >= 2^30)" % (name, key, _big_ints(value)))
    assert scanned >= len(MODULES) - 2
    assert not found, "tables of large ints: " + ", ".join(sorted(found))


def test_the_scan_sees_a_table_of_large_ints():
    # the check above can fail: a list like the old CRC table is found
    table = [((i * 0x9E3779B1) & 0xFFFFFFFF) | 0x80000000 for i in range(256)]
    assert _big_ints(table) == 256
    assert _big_ints((1, 2, 3)) == 0 and _big_ints({"a": 1 << 40}) == 1


def test_tables_written_out_are_the_tables_they_stand_for():
    # bytes constants stay in flash when frozen: these are written out in the source, and must be
    # what their functions compute
    from zerotap import g711
    from zerotap.dtmf import tones
    assert g711.ULAW_TABLE == g711._table(g711.ulaw_to_linear)
    assert g711.ALAW_TABLE == g711._table(g711.alaw_to_linear)
    assert len(g711.ULAW_TABLE) == len(g711.ALAW_TABLE) == 512
    want = tones._sine_table()
    assert len(tones._SINE_LE) == len(want) == 2048
    if float(2 ** 24) + 1 != float(2 ** 24):  # double precision: the very same table
        assert tones._SINE_LE == want
    else:  # a board with single-precision floats rounds a few entries the other way
        for i in range(0, 2048, 2):
            a = tones._SINE_LE[i] | (tones._SINE_LE[i + 1] << 8)
            b = want[i] | (want[i + 1] << 8)
            assert abs(((a ^ 0x8000) - 0x8000) - ((b ^ 0x8000) - 0x8000)) <= 1, i // 2

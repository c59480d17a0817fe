"""The CPython shim makes MicroPython-only syntax behave as it does on MicroPython."""
import zerotap  # noqa: F401  (on CPython this registers the micropython stand-in)
import micropython
from micropython import const

_COOKIE = const(0x5A525450)


@micropython.viper
def _xor_into(dst, src, n: int):
    d = ptr8(dst)
    s = ptr8(src)
    for i in range(n):
        d[i] = d[i] ^ s[i]


@micropython.viper
def _store_wide(dst, value: int):
    d = ptr8(dst)
    d[0] = value


@micropython.viper
def _read16(buf, i: int) -> int:
    p = ptr16(buf)
    return int(p[i])


@micropython.viper
def _write32(buf, i: int, value: int):
    p = ptr32(buf)
    p[i] = value


@micropython.native
def _checksum(data):
    total = 0
    for b in data:
        total = (total * 31 + b) & 0xFFFF
    return total


def test_const_keeps_value():
    assert _COOKIE == 1515344976


def test_viper_xor_matches_plain_python():
    a = bytearray(range(0, 200, 2))
    b = bytes(range(100, 200))
    expected = bytes(x ^ y for x, y in zip(a, b))
    _xor_into(a, b, len(a))
    assert bytes(a) == expected


def test_viper_store_keeps_low_byte():
    buf = bytearray(1)
    _store_wide(buf, 0x1A5)
    assert buf[0] == 0xA5


def test_viper_wide_pointers_are_little_endian():
    buf = bytearray(b"\x01\x02\x03\x04\x05\x06\x07\x08")
    assert _read16(buf, 1) == 0x0403
    _write32(buf, 1, 0x0D0C0B0A)
    assert bytes(buf) == b"\x01\x02\x03\x04\x0a\x0b\x0c\x0d"


def test_native_function_runs():
    assert _checksum(b"abc") == ((97 * 31 + 98) * 31 + 99) & 0xFFFF

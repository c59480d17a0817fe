"""G.711 mu-law (PCMU) and A-law (PCMA) companding, ITU-T G.711 section 2 and 3.

Linear samples are signed 16-bit. A buffer of linear samples is a bytes-like object holding
little-endian int16 (a ``bytearray`` of ``2 * n`` bytes), so that the same buffer works with viper
pointers on MicroPython and with ``memoryview.cast('h')`` on CPython.

The encoders round the 16-bit sample to the 14-bit (mu-law) or 13-bit (A-law) uniform code of
G.711 tables 2a and 1a, then quantise as the classic reference coder does; the tests check every
one of the 65536 inputs against sox, which codes the same way.

Block functions (``decode``/``encode``) run in viper on MicroPython and as plain Python over
``memoryview`` on CPython.
"""
import sys

import micropython
from micropython import const

PCMU = const(0)  # RTP payload type 0, mu-law
PCMA = const(8)  # RTP payload type 8, A-law

_ULAW_BIAS = const(0x84)  # 33 in the 14-bit domain, shifted left by 2
_ULAW_CLIP = const(8159)  # largest 14-bit magnitude mu-law represents

_MICROPYTHON = sys.implementation.name == "micropython"


def ulaw_to_linear(code):
    """One mu-law byte to a signed 16-bit sample (G.711 table 2a, values scaled by 4)."""
    code = ~code & 0xFF
    exponent = (code >> 4) & 7
    magnitude = (((code & 0x0F) << 3) + _ULAW_BIAS) << exponent
    magnitude -= _ULAW_BIAS
    return -magnitude if code & 0x80 else magnitude


def alaw_to_linear(code):
    """One A-law byte to a signed 16-bit sample (G.711 table 1a, values scaled by 8)."""
    code ^= 0x55
    t = (code & 0x0F) << 4
    seg = (code >> 4) & 7
    if seg == 0:
        t += 8
    else:
        t = (t + 0x108) << (seg - 1)
    return t if code & 0x80 else -t


def linear_to_ulaw(sample):
    """A signed 16-bit sample to one mu-law byte."""
    v = (sample + 2) >> 2  # 14-bit, rounded to nearest
    if v > 8191:
        v = 8191
    if v < 0:
        v = -v
        mask = 0x7F
    else:
        mask = 0xFF
    if v > _ULAW_CLIP:
        v = _ULAW_CLIP
    v += _ULAW_BIAS >> 2
    seg = 0
    t = v >> 6
    while t and seg < 8:
        t >>= 1
        seg += 1
    if seg >= 8:
        return 0x7F ^ mask
    return ((seg << 4) | ((v >> (seg + 1)) & 0x0F)) ^ mask


def linear_to_alaw(sample):
    """A signed 16-bit sample to one A-law byte."""
    v = (sample + 4) >> 3  # 13-bit, rounded to nearest
    if v > 4095:
        v = 4095
    if v >= 0:
        mask = 0xD5
    else:
        mask = 0x55
        v = -v - 1
    seg = 0
    t = v >> 5
    while t and seg < 8:
        t >>= 1
        seg += 1
    if seg >= 8:
        return 0x7F ^ mask
    if seg < 2:
        return ((seg << 4) | ((v >> 1) & 0x0F)) ^ mask
    return ((seg << 4) | ((v >> seg) & 0x0F)) ^ mask


def _table(fn):
    """The 256 decoded samples of a codec, as little-endian int16 bytes."""
    out = bytearray(512)
    for code in range(256):
        v = fn(code) & 0xFFFF
        out[2 * code] = v & 0xFF
        out[2 * code + 1] = v >> 8
    return bytes(out)


# _table(ulaw_to_linear) and _table(alaw_to_linear), written out: a bytes constant of frozen code
# stays in flash, where a table made at import takes 1 KB of a board's heap (test_g711_codec
# checks that they are those tables)
ULAW_TABLE = (
    b"\x84\x82\x84\x86\x84\x8a\x84\x8e\x84\x92\x84\x96\x84\x9a\x84\x9e"
    b"\x84\xa2\x84\xa6\x84\xaa\x84\xae\x84\xb2\x84\xb6\x84\xba\x84\xbe"
    b"\x84\xc1\x84\xc3\x84\xc5\x84\xc7\x84\xc9\x84\xcb\x84\xcd\x84\xcf"
    b"\x84\xd1\x84\xd3\x84\xd5\x84\xd7\x84\xd9\x84\xdb\x84\xdd\x84\xdf"
    b"\x04\xe1\x04\xe2\x04\xe3\x04\xe4\x04\xe5\x04\xe6\x04\xe7\x04\xe8"
    b"\x04\xe9\x04\xea\x04\xeb\x04\xec\x04\xed\x04\xee\x04\xef\x04\xf0"
    b"\xc4\xf0\x44\xf1\xc4\xf1\x44\xf2\xc4\xf2\x44\xf3\xc4\xf3\x44\xf4"
    b"\xc4\xf4\x44\xf5\xc4\xf5\x44\xf6\xc4\xf6\x44\xf7\xc4\xf7\x44\xf8"
    b"\xa4\xf8\xe4\xf8\x24\xf9\x64\xf9\xa4\xf9\xe4\xf9\x24\xfa\x64\xfa"
    b"\xa4\xfa\xe4\xfa\x24\xfb\x64\xfb\xa4\xfb\xe4\xfb\x24\xfc\x64\xfc"
    b"\x94\xfc\xb4\xfc\xd4\xfc\xf4\xfc\x14\xfd\x34\xfd\x54\xfd\x74\xfd"
    b"\x94\xfd\xb4\xfd\xd4\xfd\xf4\xfd\x14\xfe\x34\xfe\x54\xfe\x74\xfe"
    b"\x8c\xfe\x9c\xfe\xac\xfe\xbc\xfe\xcc\xfe\xdc\xfe\xec\xfe\xfc\xfe"
    b"\x0c\xff\x1c\xff\x2c\xff\x3c\xff\x4c\xff\x5c\xff\x6c\xff\x7c\xff"
    b"\x88\xff\x90\xff\x98\xff\xa0\xff\xa8\xff\xb0\xff\xb8\xff\xc0\xff"
    b"\xc8\xff\xd0\xff\xd8\xff\xe0\xff\xe8\xff\xf0\xff\xf8\xff\x00\x00"
    b"\x7c\x7d\x7c\x79\x7c\x75\x7c\x71\x7c\x6d\x7c\x69\x7c\x65\x7c\x61"
    b"\x7c\x5d\x7c\x59\x7c\x55\x7c\x51\x7c\x4d\x7c\x49\x7c\x45\x7c\x41"
    b"\x7c\x3e\x7c\x3c\x7c\x3a\x7c\x38\x7c\x36\x7c\x34\x7c\x32\x7c\x30"
    b"\x7c\x2e\x7c\x2c\x7c\x2a\x7c\x28\x7c\x26\x7c\x24\x7c\x22\x7c\x20"
    b"\xfc\x1e\xfc\x1d\xfc\x1c\xfc\x1b\xfc\x1a\xfc\x19\xfc\x18\xfc\x17"
    b"\xfc\x16\xfc\x15\xfc\x14\xfc\x13\xfc\x12\xfc\x11\xfc\x10\xfc\x0f"
    b"\x3c\x0f\xbc\x0e\x3c\x0e\xbc\x0d\x3c\x0d\xbc\x0c\x3c\x0c\xbc\x0b"
    b"\x3c\x0b\xbc\x0a\x3c\x0a\xbc\x09\x3c\x09\xbc\x08\x3c\x08\xbc\x07"
    b"\x5c\x07\x1c\x07\xdc\x06\x9c\x06\x5c\x06\x1c\x06\xdc\x05\x9c\x05"
    b"\x5c\x05\x1c\x05\xdc\x04\x9c\x04\x5c\x04\x1c\x04\xdc\x03\x9c\x03"
    b"\x6c\x03\x4c\x03\x2c\x03\x0c\x03\xec\x02\xcc\x02\xac\x02\x8c\x02"
    b"\x6c\x02\x4c\x02\x2c\x02\x0c\x02\xec\x01\xcc\x01\xac\x01\x8c\x01"
    b"\x74\x01\x64\x01\x54\x01\x44\x01\x34\x01\x24\x01\x14\x01\x04\x01"
    b"\xf4\x00\xe4\x00\xd4\x00\xc4\x00\xb4\x00\xa4\x00\x94\x00\x84\x00"
    b"\x78\x00\x70\x00\x68\x00\x60\x00\x58\x00\x50\x00\x48\x00\x40\x00"
    b"\x38\x00\x30\x00\x28\x00\x20\x00\x18\x00\x10\x00\x08\x00\x00\x00"
)
ALAW_TABLE = (
    b"\x80\xea\x80\xeb\x80\xe8\x80\xe9\x80\xee\x80\xef\x80\xec\x80\xed"
    b"\x80\xe2\x80\xe3\x80\xe0\x80\xe1\x80\xe6\x80\xe7\x80\xe4\x80\xe5"
    b"\x40\xf5\xc0\xf5\x40\xf4\xc0\xf4\x40\xf7\xc0\xf7\x40\xf6\xc0\xf6"
    b"\x40\xf1\xc0\xf1\x40\xf0\xc0\xf0\x40\xf3\xc0\xf3\x40\xf2\xc0\xf2"
    b"\x00\xaa\x00\xae\x00\xa2\x00\xa6\x00\xba\x00\xbe\x00\xb2\x00\xb6"
    b"\x00\x8a\x00\x8e\x00\x82\x00\x86\x00\x9a\x00\x9e\x00\x92\x00\x96"
    b"\x00\xd5\x00\xd7\x00\xd1\x00\xd3\x00\xdd\x00\xdf\x00\xd9\x00\xdb"
    b"\x00\xc5\x00\xc7\x00\xc1\x00\xc3\x00\xcd\x00\xcf\x00\xc9\x00\xcb"
    b"\xa8\xfe\xb8\xfe\x88\xfe\x98\xfe\xe8\xfe\xf8\xfe\xc8\xfe\xd8\xfe"
    b"\x28\xfe\x38\xfe\x08\xfe\x18\xfe\x68\xfe\x78\xfe\x48\xfe\x58\xfe"
    b"\xa8\xff\xb8\xff\x88\xff\x98\xff\xe8\xff\xf8\xff\xc8\xff\xd8\xff"
    b"\x28\xff\x38\xff\x08\xff\x18\xff\x68\xff\x78\xff\x48\xff\x58\xff"
    b"\xa0\xfa\xe0\xfa\x20\xfa\x60\xfa\xa0\xfb\xe0\xfb\x20\xfb\x60\xfb"
    b"\xa0\xf8\xe0\xf8\x20\xf8\x60\xf8\xa0\xf9\xe0\xf9\x20\xf9\x60\xf9"
    b"\x50\xfd\x70\xfd\x10\xfd\x30\xfd\xd0\xfd\xf0\xfd\x90\xfd\xb0\xfd"
    b"\x50\xfc\x70\xfc\x10\xfc\x30\xfc\xd0\xfc\xf0\xfc\x90\xfc\xb0\xfc"
    b"\x80\x15\x80\x14\x80\x17\x80\x16\x80\x11\x80\x10\x80\x13\x80\x12"
    b"\x80\x1d\x80\x1c\x80\x1f\x80\x1e\x80\x19\x80\x18\x80\x1b\x80\x1a"
    b"\xc0\x0a\x40\x0a\xc0\x0b\x40\x0b\xc0\x08\x40\x08\xc0\x09\x40\x09"
    b"\xc0\x0e\x40\x0e\xc0\x0f\x40\x0f\xc0\x0c\x40\x0c\xc0\x0d\x40\x0d"
    b"\x00\x56\x00\x52\x00\x5e\x00\x5a\x00\x46\x00\x42\x00\x4e\x00\x4a"
    b"\x00\x76\x00\x72\x00\x7e\x00\x7a\x00\x66\x00\x62\x00\x6e\x00\x6a"
    b"\x00\x2b\x00\x29\x00\x2f\x00\x2d\x00\x23\x00\x21\x00\x27\x00\x25"
    b"\x00\x3b\x00\x39\x00\x3f\x00\x3d\x00\x33\x00\x31\x00\x37\x00\x35"
    b"\x58\x01\x48\x01\x78\x01\x68\x01\x18\x01\x08\x01\x38\x01\x28\x01"
    b"\xd8\x01\xc8\x01\xf8\x01\xe8\x01\x98\x01\x88\x01\xb8\x01\xa8\x01"
    b"\x58\x00\x48\x00\x78\x00\x68\x00\x18\x00\x08\x00\x38\x00\x28\x00"
    b"\xd8\x00\xc8\x00\xf8\x00\xe8\x00\x98\x00\x88\x00\xb8\x00\xa8\x00"
    b"\x60\x05\x20\x05\xe0\x05\xa0\x05\x60\x04\x20\x04\xe0\x04\xa0\x04"
    b"\x60\x07\x20\x07\xe0\x07\xa0\x07\x60\x06\x20\x06\xe0\x06\xa0\x06"
    b"\xb0\x02\x90\x02\xf0\x02\xd0\x02\x30\x02\x10\x02\x70\x02\x50\x02"
    b"\xb0\x03\x90\x03\xf0\x03\xd0\x03\x30\x03\x10\x03\x70\x03\x50\x03"
)


def _check(codec, src, dst, n, dst_offset, factor_src, factor_dst):
    if codec != PCMU and codec != PCMA:
        raise ValueError("g711: unknown codec %r (PCMU=0 or PCMA=8)" % (codec,))
    if n < 0 or n * factor_src > len(src):
        raise ValueError("g711: source holds %d samples, %d asked" % (len(src) // factor_src, n))
    if dst_offset < 0 or (dst_offset + n) * factor_dst > len(dst):
        raise ValueError("g711: destination too short for %d samples at %d" % (n, dst_offset))


@micropython.viper
def _decode_viper(table, src, dst, n: int, off: int):
    t = ptr16(table)
    s = ptr8(src)
    d = ptr16(dst)
    i = 0
    while i < n:
        d[off + i] = t[s[i]]
        i += 1


@micropython.viper
def _encode_viper(codec: int, src, dst, n: int, off: int):
    # The same arithmetic as linear_to_ulaw / linear_to_alaw, on raw little-endian int16 read a
    # byte at a time (SRC need not be 2-byte aligned).
    s = ptr8(src)
    d = ptr8(dst)
    i = 0
    while i < n:
        v = ((s[2 * i] | (s[2 * i + 1] << 8)) ^ 0x8000) - 0x8000
        if codec == 0:
            v = (v + 2) >> 2
            if v > 8191:
                v = 8191
            mask = 0xFF
            if v < 0:
                v = 0 - v
                mask = 0x7F
            if v > 8159:
                v = 8159
            v += 33
            seg = 0
            t = v >> 6
            while t:
                t >>= 1
                seg += 1
            if seg >= 8:
                d[off + i] = 0x7F ^ mask
            else:
                d[off + i] = ((seg << 4) | ((v >> (seg + 1)) & 0x0F)) ^ mask
        else:
            v = (v + 4) >> 3
            if v > 4095:
                v = 4095
            mask = 0xD5
            if v < 0:
                mask = 0x55
                v = 0 - v - 1
            seg = 0
            t = v >> 5
            while t:
                t >>= 1
                seg += 1
            if seg >= 8:
                d[off + i] = 0x7F ^ mask
            elif seg < 2:
                d[off + i] = ((seg << 4) | ((v >> 1) & 0x0F)) ^ mask
            else:
                d[off + i] = ((seg << 4) | ((v >> seg) & 0x0F)) ^ mask
        i += 1


if not _MICROPYTHON:
    _ULAW_LIST = [ulaw_to_linear(c) for c in range(256)]
    _ALAW_LIST = [alaw_to_linear(c) for c in range(256)]
    _ULAW_ENC = bytes(linear_to_ulaw(v - 32768) for v in range(65536))
    _ALAW_ENC = bytes(linear_to_alaw(v - 32768) for v in range(65536))


def decode(codec, src, dst, n=None, dst_offset=0):
    """Decode N G.711 bytes of SRC into int16 samples of DST (a bytearray) from sample DST_OFFSET."""
    if n is None:
        n = len(src)
    _check(codec, src, dst, n, dst_offset, 1, 2)
    if _MICROPYTHON:
        _decode_viper(ULAW_TABLE if codec == PCMU else ALAW_TABLE, src, dst, n, dst_offset)
    else:
        table = _ULAW_LIST if codec == PCMU else _ALAW_LIST
        out = memoryview(dst)[:2 * (dst_offset + n)].cast("h")  # an odd last byte would not cast
        out[dst_offset:dst_offset + n] = _array("h", [table[c] for c in bytes(src[:n])])


def encode(codec, src, dst, n=None, dst_offset=0):
    """Encode N int16 samples of SRC (little-endian bytes) into G.711 bytes of DST from DST_OFFSET."""
    if n is None:
        n = len(src) // 2
    _check(codec, src, dst, n, dst_offset, 2, 1)
    if _MICROPYTHON:
        _encode_viper(codec, src, dst, n, dst_offset)
    else:
        table = _ULAW_ENC if codec == PCMU else _ALAW_ENC
        samples = memoryview(src).cast("B")[:2 * n].cast("h")
        dst[dst_offset:dst_offset + n] = bytes([table[v + 32768] for v in samples])


def decode_bytes(codec, data):
    """G.711 bytes to a new bytearray of int16 samples (convenience for files and tests)."""
    out = bytearray(2 * len(data))
    decode(codec, data, out)
    return out


def encode_bytes(codec, data):
    """int16 sample bytes to new G.711 bytes (convenience for files and tests)."""
    out = bytearray(len(data) // 2)
    encode(codec, data, out)
    return bytes(out)


from array import array as _array  # noqa: E402  (CPython path only)

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


ULAW_TABLE = _table(ulaw_to_linear)
ALAW_TABLE = _table(alaw_to_linear)


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
        out = memoryview(dst).cast("h")
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

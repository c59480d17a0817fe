"""The MicroPython backend: ``cryptolib`` AES-ECB, ``hashlib`` SHA-1/SHA-256, viper for the
per-byte loops (keystream XOR, counter blocks, tag compare, CRC-32C), ``os.urandom`` (the
hardware RNG on an ESP32).

Runs on stock MicroPython firmware. ``cryptolib`` has no counter mode on every port (the unix
port's build lacks MICROPY_PY_CRYPTOLIB_CTR), so counter blocks are built here and encrypted in
one ECB call per packet into a preallocated buffer. SHA-384 is pure Python (sha512.py) where
``hashlib`` lacks it.
"""
import hashlib
import os

import cryptolib
import micropython

from zerotap.crypto import checks, mac, modes
from zerotap.crypto import crc as _crc
from zerotap.crypto.mac import (hmac_sha1, hmac_sha256, hmac_sha384,  # noqa: F401 (the interface)
                                sha1, sha256, sha384)

NAME = "micropython"
_ECB = 1  # cryptolib's MODE_ECB

def _ecb(key):
    cipher = cryptolib.aes(key, _ECB)

    def ecb(buf, nblocks):
        mv = memoryview(buf)[0:16 * nblocks]
        cipher.encrypt(mv, mv)

    return ecb


def aes_ecb_encrypt(key, block):
    checks.aes_key(key)
    checks.aes_block(block)
    return cryptolib.aes(key, _ECB).encrypt(bytes(block))


aes_ctr, aes_cfb_encrypt, aes_cfb_decrypt = modes.aes_modes(_ecb)


def random_bytes(n):
    return os.urandom(n)


_CRC_TABLE = _crc.TABLE  # already an array('I')


@micropython.viper
def _crc_loop(c: uint, data, n: int, table) -> uint:
    d = ptr8(data)
    t = ptr32(table)
    for i in range(n):
        c = uint(t[int((c ^ uint(d[i])) & uint(0xFF))]) ^ (c >> 8)
    return c


def crc32c(data, crc=0):
    return _crc_loop(crc ^ 0xFFFFFFFF, data, len(data), _CRC_TABLE) ^ 0xFFFFFFFF


@micropython.viper
def _xor(buf, pos: int, ks, n: int):
    # buf[pos:pos+n] ^= ks[0:n]; 32-bit words where both are word aligned (an ESP32 faults on
    # unaligned word access), bytes for the rest
    b = ptr8(buf)
    k = ptr8(ks)
    i = 0
    if ((int(b) + pos) & 3) == 0 and (int(k) & 3) == 0:
        bw = ptr32(int(b) + pos)
        kw = ptr32(k)
        nw = n >> 2
        for j in range(nw):
            bw[j] = bw[j] ^ kw[j]
        i = nw << 2
    while i < n:
        b[pos + i] = b[pos + i] ^ k[i]
        i += 1


@micropython.viper
def _blocks(ks, nblocks: int, salt, ssrc: uint, index_hi: int, index_lo: uint, first: int):
    # NBLOCKS AES-CM counter blocks: IV = (k_s * 2^16) XOR (SSRC * 2^64) XOR (i * 2^16), RFC 3711
    # section 4.1.1, with the 16-bit block counter (from FIRST) in the low bytes. index_lo holds
    # the index's low 32 bits (on a 64-bit port also the bits above, which the masks drop),
    # index_hi its bits 32..47. The IV bytes are worked out once and stored block after block.
    k = ptr8(ks)
    s = ptr8(salt)
    v0 = s[0]
    v1 = s[1]
    v2 = s[2]
    v3 = s[3]
    v4 = s[4] ^ int((ssrc >> 24) & uint(0xFF))
    v5 = s[5] ^ int((ssrc >> 16) & uint(0xFF))
    v6 = s[6] ^ int((ssrc >> 8) & uint(0xFF))
    v7 = s[7] ^ int(ssrc & uint(0xFF))
    v8 = s[8] ^ ((index_hi >> 8) & 0xFF)
    v9 = s[9] ^ (index_hi & 0xFF)
    v10 = s[10] ^ int((index_lo >> 24) & uint(0xFF))
    v11 = s[11] ^ int((index_lo >> 16) & uint(0xFF))
    v12 = s[12] ^ int((index_lo >> 8) & uint(0xFF))
    v13 = s[13] ^ int(index_lo & uint(0xFF))
    o = 0
    c = first
    for j in range(nblocks):
        k[o] = v0
        k[o + 1] = v1
        k[o + 2] = v2
        k[o + 3] = v3
        k[o + 4] = v4
        k[o + 5] = v5
        k[o + 6] = v6
        k[o + 7] = v7
        k[o + 8] = v8
        k[o + 9] = v9
        k[o + 10] = v10
        k[o + 11] = v11
        k[o + 12] = v12
        k[o + 13] = v13
        k[o + 14] = (c >> 8) & 0xFF
        k[o + 15] = c & 0xFF
        o += 16
        c += 1


@micropython.viper
def _differ(a, b, boff: int, n: int) -> int:
    x = ptr8(a)
    y = ptr8(b)
    d = 0
    for i in range(n):  # constant time over the tag
        d = d | (x[i] ^ y[boff + i])
    return d


@micropython.viper
def _put(dst, off: int, src, n: int):
    d = ptr8(dst)
    s = ptr8(src)
    for i in range(n):
        d[off + i] = s[i]


_BLOCKS = 100  # keystream buffer: a 1600-byte packet in one go, longer ones loop
# The keystream scratch and the memoryviews of its first n blocks (made once, as needed), shared
# by every transform: a transform fills and uses it within one call, and the media path runs in
# one thread. Allocated once, at import (at boot on a board), not 2 KB per transform and call.
_KS = bytearray(16 * _BLOCKS)
_VIEWS = [None] * (_BLOCKS + 1)
_MAX_INDEX = 1 << 48


class SrtpTransform:
    """The SRTP/SRTCP transform on stock MicroPython.

    AES-CM: viper writes the counter blocks into a preallocated buffer, cryptolib encrypts them
    in place in one ECB call, viper XORs that keystream in. HMAC-SHA1: two hashlib SHA-1 objects
    per packet (hashlib objects cannot be copied here, so the pad blocks are hashed each time),
    over a memoryview of the caller's buffer that is kept while the caller passes the same buffer.
    Per packet that allocates the two hashlib objects and their two digests, nothing else.

    Besides the contract's protect()/unprotect(), protect_next()/unprotect_next() are the in-order
    fast path of zerotap.srtp.Session, as in the native backend: the next packet (plain 12-byte
    header, sequence number one above the highest) of a stream (srtp._Stream: ssrc, hi, lo,
    highest, window) in one call, stream update included; -1 when the packet is anything else,
    -2 (unprotect) for a wrong tag with buf untouched.

    Call the methods as ``t.protect(...)``. MicroPython heap-allocates and then frees the argument
    array when a *stored* bound method (``p = t.protect; p(...)``) is called with more than four
    arguments, and the frame of a bytecode function of more than 11 words; an explicit free sends
    the next allocations on a scan through the heap, which costs microseconds on the unix port.
    Hence the native methods here (their frames live on the C stack), and the plain method call.
    The fast paths do all their work inline: a call of a native method costs about as much as the
    XOR of a whole G.711 payload. The general path shares _crypt() and _tag()."""

    def __init__(self, cipher_key, cipher_salt, auth_key, tag_len):
        checks.srtp_keys(cipher_key, cipher_salt, auth_key, tag_len)
        self.tag_len = tag_len
        self._salt = bytes(cipher_salt)
        self._cipher = cryptolib.aes(bytes(cipher_key), _ECB)
        self._ks = _KS  # the one keystream scratch of every transform (see _KS)
        self._views = _VIEWS
        self._suffix = bytearray(4)
        self._ipad, self._opad = mac.pads(hashlib.sha1, 64, auth_key)
        # the caller's buffer (usually the same one every packet), its length, a view of it,
        # and the view of its first _auth_end bytes
        self._buf = None
        self._len = -1
        self._view = None
        self._auth_end = -1
        self._auth_view = None

    @micropython.native
    def _crypt(self, buf, start, end, ssrc, index):
        """AES-CM (RFC 3711 section 4.1.1) over buf[start:end], _BLOCKS blocks at a time."""
        ks = self._ks
        block = 0
        pos = start
        while pos < end:
            n = end - pos
            if n > 16 * _BLOCKS:
                n = 16 * _BLOCKS
            nb = (n + 15) >> 4
            _blocks(ks, nb, self._salt, ssrc, index >> 32, index, block)
            mv = self._views[nb]
            if mv is None:
                mv = self._views[nb] = memoryview(ks)[0:nb << 4]
            self._cipher.encrypt(mv, mv)
            _xor(buf, pos, ks, n)
            pos += n
            block += nb

    @micropython.native
    def _tag(self, buf, auth_end, suffix):
        """HMAC-SHA1 (RFC 3711 section 4.2.1) of buf[0:auth_end] || suffix (4 bytes, if >= 0)."""
        if buf is not self._buf or len(buf) != self._len:
            # a new buffer, or one that grew (and may have moved): views of it made afresh
            self._buf = buf
            self._len = len(buf)
            self._view = memoryview(buf)
            self._auth_end = -1
        if auth_end != self._auth_end:
            self._auth_end = auth_end
            self._auth_view = self._view[0:auth_end]
        h = hashlib.sha1(self._ipad)
        h.update(self._auth_view)
        if suffix >= 0:
            s = self._suffix
            s[0] = (suffix >> 24) & 0xFF
            s[1] = (suffix >> 16) & 0xFF
            s[2] = (suffix >> 8) & 0xFF
            s[3] = suffix & 0xFF
            h.update(s)
        o = hashlib.sha1(self._opad)
        o.update(h.digest())
        return o.digest()

    @micropython.native
    def protect(self, buf, enc_start, enc_end, auth_end, ssrc, index, suffix):
        n = self.tag_len
        if not (0 <= enc_start <= enc_end <= auth_end and auth_end + n <= len(buf)
                and 0 <= ssrc <= 0xFFFFFFFF and 0 <= index < _MAX_INDEX):
            checks.srtp_span(len(buf), enc_start, enc_end, auth_end, n, ssrc, index)
        self._crypt(buf, enc_start, enc_end, ssrc, index)
        _put(buf, auth_end, self._tag(buf, auth_end, suffix), n)
        return auth_end + n

    @micropython.native
    def unprotect(self, buf, enc_start, enc_end, auth_end, ssrc, index, suffix):
        n = self.tag_len
        if not (0 <= enc_start <= enc_end <= auth_end and auth_end + n <= len(buf)
                and 0 <= ssrc <= 0xFFFFFFFF and 0 <= index < _MAX_INDEX):
            checks.srtp_span(len(buf), enc_start, enc_end, auth_end, n, ssrc, index)
        if _differ(self._tag(buf, auth_end, suffix), buf, auth_end, n):
            return False
        self._crypt(buf, enc_start, enc_end, ssrc, index)
        return True

    @micropython.native
    def protect_next(self, buf, length, s):
        n = self.tag_len
        if length < 12 or buf[0] != 0x80 or len(buf) < length + n or length > 12 + 16 * _BLOCKS \
                or s.lo != (buf[10] << 8) | buf[11] or s.hi != (buf[8] << 8) | buf[9]:
            return -1
        index = s.highest + 1
        # RFC 3711 Appendix A gives highest + 1 for the next sequence number, and that index
        # cannot have been used: the window only gains its bit
        if index & 0xFFFF != (buf[2] << 8) | buf[3] or index >= _MAX_INDEX:
            return -1
        # AES-CM over the payload, as in _crypt()
        size = length - 12
        nb = (size + 15) >> 4
        ks = self._ks
        _blocks(ks, nb, self._salt, s.ssrc, index >> 32, index, 0)
        mv = self._views[nb]
        if mv is None:
            mv = self._views[nb] = memoryview(ks)[0:nb << 4]
        self._cipher.encrypt(mv, mv)
        _xor(buf, 12, ks, size)
        # HMAC-SHA1 with the ROC as suffix, as in _tag()
        if buf is not self._buf or len(buf) != self._len:
            self._buf = buf
            self._len = len(buf)
            self._view = memoryview(buf)
            self._auth_end = -1
        if length != self._auth_end:
            self._auth_end = length
            self._auth_view = self._view[0:length]
        h = hashlib.sha1(self._ipad)
        h.update(self._auth_view)
        roc = index >> 16
        sf = self._suffix
        sf[0] = (roc >> 24) & 0xFF
        sf[1] = (roc >> 16) & 0xFF
        sf[2] = (roc >> 8) & 0xFF
        sf[3] = roc & 0xFF
        h.update(sf)
        o = hashlib.sha1(self._opad)
        o.update(h.digest())
        _put(buf, length, o.digest(), n)
        s.highest = index
        index &= 127  # the replay window's bit (srtp.REPLAY_WINDOW)
        s.window[index >> 3] |= 1 << (index & 7)
        return length + n

    @micropython.native
    def unprotect_next(self, buf, length, s):
        n = self.tag_len
        if length < 12 + n or buf[0] != 0x80 or len(buf) < length or length > 12 + n + 16 * _BLOCKS \
                or s.lo != (buf[10] << 8) | buf[11] or s.hi != (buf[8] << 8) | buf[9]:
            return -1
        index = s.highest + 1
        if index & 0xFFFF != (buf[2] << 8) | buf[3] or index >= _MAX_INDEX:
            return -1
        auth_end = length - n
        # HMAC-SHA1 with the ROC as suffix, as in _tag()
        if buf is not self._buf or len(buf) != self._len:
            self._buf = buf
            self._len = len(buf)
            self._view = memoryview(buf)
            self._auth_end = -1
        if auth_end != self._auth_end:
            self._auth_end = auth_end
            self._auth_view = self._view[0:auth_end]
        h = hashlib.sha1(self._ipad)
        h.update(self._auth_view)
        roc = index >> 16
        sf = self._suffix
        sf[0] = (roc >> 24) & 0xFF
        sf[1] = (roc >> 16) & 0xFF
        sf[2] = (roc >> 8) & 0xFF
        sf[3] = roc & 0xFF
        h.update(sf)
        o = hashlib.sha1(self._opad)
        o.update(h.digest())
        if _differ(o.digest(), buf, auth_end, n):
            return -2
        # AES-CM over the payload, as in _crypt()
        size = auth_end - 12
        nb = (size + 15) >> 4
        ks = self._ks
        _blocks(ks, nb, self._salt, s.ssrc, index >> 32, index, 0)
        mv = self._views[nb]
        if mv is None:
            mv = self._views[nb] = memoryview(ks)[0:nb << 4]
        self._cipher.encrypt(mv, mv)
        _xor(buf, 12, ks, size)
        s.highest = index
        index &= 127
        s.window[index >> 3] |= 1 << (index & 7)
        return auth_end


# Key agreement in pure Python, resumable in bounded steps (keyagreement.py)
from zerotap.crypto import keyagreement as _ka  # noqa: E402

KA_IMPL = "pure"
_ka.Suite(random_bytes, _ka.PureMath()).install(globals())

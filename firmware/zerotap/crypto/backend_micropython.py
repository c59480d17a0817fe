"""The MicroPython backend: ``cryptolib`` AES-ECB, ``hashlib`` SHA-1/SHA-256, viper for the
per-byte loops (keystream XOR, counter blocks, tag compare, CRC-32C), ``os.urandom`` (the
hardware RNG on an ESP32).

Runs on stock MicroPython firmware. ``cryptolib`` has no counter mode on every port (the unix
port's build lacks MICROPY_PY_CRYPTOLIB_CTR), so counter blocks are built here and encrypted in
one ECB call per packet into a preallocated buffer. SHA-384 is pure Python (sha512.py) where
``hashlib`` lacks it.
"""
import array
import hashlib
import os

import cryptolib
import micropython

from zerotap.crypto import checks, mac, modes
from zerotap.crypto import crc as _crc

NAME = "micropython"
_ECB = 1  # cryptolib's MODE_ECB

_sha384 = getattr(hashlib, "sha384", None)
if _sha384 is None:
    from zerotap.crypto.sha512 import SHA384 as _sha384


def sha1(data):
    return hashlib.sha1(data).digest()


def sha256(data):
    return hashlib.sha256(data).digest()


def sha384(data):
    return _sha384(data).digest()


def hmac_sha1(key, data):
    return mac.hmac(hashlib.sha1, 64, key, data)


def hmac_sha256(key, data):
    return mac.hmac(hashlib.sha256, 64, key, data)


def hmac_sha384(key, data):
    return mac.hmac(_sha384, 128, key, data)


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


def aes_ctr(key, iv, data):
    checks.aes_key(key)
    checks.iv(iv, "AES-CTR")
    return modes.ctr(_ecb(key), iv, data)


def aes_cfb_encrypt(key, iv, data):
    checks.aes_key(key)
    checks.iv(iv, "AES-CFB")
    return modes.cfb_encrypt(_ecb(key), iv, data)


def aes_cfb_decrypt(key, iv, data):
    checks.aes_key(key)
    checks.iv(iv, "AES-CFB")
    return modes.cfb_decrypt(_ecb(key), iv, data)


def random_bytes(n):
    return os.urandom(n)


_CRC_TABLE = array.array("I", _crc.TABLE)


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
def _counters(ks, salt, ssrc: uint, index_hi: int, index_lo: uint, nblocks: int, first: int):
    # AES-CM counter blocks: IV = (k_s * 2^16) XOR (SSRC * 2^64) XOR (i * 2^16), RFC 3711
    # section 4.1.1, with the 16-bit block counter in the low bytes
    k = ptr8(ks)
    s = ptr8(salt)
    for i in range(14):
        k[i] = s[i]
    k[4] = k[4] ^ int((ssrc >> 24) & uint(0xFF))
    k[5] = k[5] ^ int((ssrc >> 16) & uint(0xFF))
    k[6] = k[6] ^ int((ssrc >> 8) & uint(0xFF))
    k[7] = k[7] ^ int(ssrc & uint(0xFF))
    k[8] = k[8] ^ ((index_hi >> 8) & 0xFF)
    k[9] = k[9] ^ (index_hi & 0xFF)
    k[10] = k[10] ^ int((index_lo >> 24) & uint(0xFF))
    k[11] = k[11] ^ int((index_lo >> 16) & uint(0xFF))
    k[12] = k[12] ^ int((index_lo >> 8) & uint(0xFF))
    k[13] = k[13] ^ int(index_lo & uint(0xFF))
    for j in range(nblocks):
        o = j << 4
        if j:
            for i in range(14):
                k[o + i] = k[i]
        c = first + j
        k[o + 14] = (c >> 8) & 0xFF
        k[o + 15] = c & 0xFF


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
_MAX_INDEX = 1 << 48


class SrtpTransform:
    """The SRTP/SRTCP transform on stock MicroPython: viper builds the counter blocks into a
    preallocated buffer, cryptolib encrypts them in one ECB call, viper XORs them in; two hashlib
    SHA-1 objects per packet make the HMAC (hashlib objects cannot be copied here, so the pad
    blocks are hashed each time).

    Call it as ``t.protect(...)``. MicroPython heap-allocates and then frees the argument array
    when a *stored* bound method (``p = t.protect; p(...)``) is called with more than four
    arguments, and a bytecode frame of more than 11 words; an explicit free sends the next
    allocation on a scan through the heap, which costs tens of microseconds on the unix port.
    Hence the native methods here, and the plain method call."""

    def __init__(self, cipher_key, cipher_salt, auth_key, tag_len):
        checks.srtp_keys(cipher_key, cipher_salt, auth_key, tag_len)
        self.tag_len = tag_len
        self._salt = bytes(cipher_salt)
        self._cipher = cryptolib.aes(bytes(cipher_key), _ECB)
        self._ks = bytearray(16 * _BLOCKS)
        self._views = {}  # blocks -> memoryview of the keystream buffer, made once per size
        self._suffix = bytearray(4)
        self._ipad, self._opad = mac.pads(hashlib.sha1, 64, auth_key)
        self._buf = None  # the caller's buffer (usually the same one every packet) and a view of it
        self._view = None

    @micropython.native
    def _crypt(self, buf, start, end, ssrc, index):
        ks = self._ks
        block = 0
        pos = start
        hi = index >> 32
        lo = index & 0xFFFFFFFF
        while pos < end:
            n = end - pos
            if n > 16 * _BLOCKS:
                n = 16 * _BLOCKS
            nb = (n + 15) >> 4
            _counters(ks, self._salt, ssrc, hi, lo, nb, block)
            mv = self._views.get(nb)
            if mv is None:
                mv = self._views[nb] = memoryview(ks)[0:nb << 4]
            self._cipher.encrypt(mv, mv)
            _xor(buf, pos, ks, n)
            pos += n
            block += nb

    @micropython.native
    def _mac(self, buf, auth_end, suffix):
        if buf is not self._buf:
            self._buf = buf
            self._view = memoryview(buf)
        h = hashlib.sha1(self._ipad)
        h.update(self._view[0:auth_end])
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
        # native code keeps this frame on the C stack; a bytecode frame this size goes to the heap
        n = self.tag_len
        if not (0 <= enc_start <= enc_end <= auth_end and auth_end + n <= len(buf)
                and 0 <= ssrc <= 0xFFFFFFFF and 0 <= index < _MAX_INDEX):
            checks.srtp_span(len(buf), enc_start, enc_end, auth_end, n, ssrc, index)
        size = enc_end - enc_start
        if size <= 16 * _BLOCKS:  # one keystream chunk: the usual packet, inline
            nb = (size + 15) >> 4
            ks = self._ks
            _counters(ks, self._salt, ssrc, index >> 32, index & 0xFFFFFFFF, nb, 0)
            mv = self._views.get(nb)
            if mv is None:
                mv = self._views[nb] = memoryview(ks)[0:nb << 4]
            self._cipher.encrypt(mv, mv)
            _xor(buf, enc_start, ks, size)
        else:
            self._crypt(buf, enc_start, enc_end, ssrc, index)
        # HMAC-SHA1 (RFC 3711 section 4.2.1), as _mac() but inline: one call less per packet
        if buf is not self._buf:
            self._buf = buf
            self._view = memoryview(buf)
        h = hashlib.sha1(self._ipad)
        h.update(self._view[0:auth_end])
        if suffix >= 0:
            sfx = self._suffix
            sfx[0] = (suffix >> 24) & 0xFF
            sfx[1] = (suffix >> 16) & 0xFF
            sfx[2] = (suffix >> 8) & 0xFF
            sfx[3] = suffix & 0xFF
            h.update(sfx)
        o = hashlib.sha1(self._opad)
        o.update(h.digest())
        _put(buf, auth_end, o.digest(), n)
        return auth_end + n

    @micropython.native
    def unprotect(self, buf, enc_start, enc_end, auth_end, ssrc, index, suffix):
        n = self.tag_len
        if not (0 <= enc_start <= enc_end <= auth_end and auth_end + n <= len(buf)
                and 0 <= ssrc <= 0xFFFFFFFF and 0 <= index < _MAX_INDEX):
            checks.srtp_span(len(buf), enc_start, enc_end, auth_end, n, ssrc, index)
        if _differ(self._mac(buf, auth_end, suffix), buf, auth_end, n):
            return False
        self._crypt(buf, enc_start, enc_end, ssrc, index)
        return True


# Key agreement in pure Python, resumable in bounded steps (keyagreement.py)
from zerotap.crypto import keyagreement as _ka  # noqa: E402

KA_IMPL = "pure"
_ka.Suite(random_bytes, _ka.PureMath()).install(globals())

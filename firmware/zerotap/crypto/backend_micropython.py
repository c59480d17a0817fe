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
from zerotap.crypto import crc32c as _crc
from zerotap.crypto import srtp_transform as _srtp

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
    b = ptr8(buf)
    k = ptr8(ks)
    for i in range(n):
        b[pos + i] = b[pos + i] ^ k[i]


@micropython.viper
def _set_iv(iv, salt, ssrc: uint, index_hi: int, index_lo: uint):
    # IV = (k_s * 2^16) XOR (SSRC * 2^64) XOR (i * 2^16), RFC 3711 section 4.1.1
    v = ptr8(iv)
    s = ptr8(salt)
    for i in range(14):
        v[i] = s[i]
    v[14] = 0
    v[15] = 0
    v[4] = v[4] ^ int((ssrc >> 24) & uint(0xFF))
    v[5] = v[5] ^ int((ssrc >> 16) & uint(0xFF))
    v[6] = v[6] ^ int((ssrc >> 8) & uint(0xFF))
    v[7] = v[7] ^ int(ssrc & uint(0xFF))
    v[8] = v[8] ^ ((index_hi >> 8) & 0xFF)
    v[9] = v[9] ^ (index_hi & 0xFF)
    v[10] = v[10] ^ int((index_lo >> 24) & uint(0xFF))
    v[11] = v[11] ^ int((index_lo >> 16) & uint(0xFF))
    v[12] = v[12] ^ int((index_lo >> 8) & uint(0xFF))
    v[13] = v[13] ^ int(index_lo & uint(0xFF))


@micropython.viper
def _fill_counters(ks, iv, nblocks: int, first: int):
    k = ptr8(ks)
    v = ptr8(iv)
    for j in range(nblocks):
        o = j << 4
        for i in range(14):
            k[o + i] = v[i]
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


class SrtpTransform(_srtp.SrtpTransform):
    def _setup(self, cipher_key, auth_key):
        self._cipher = cryptolib.aes(cipher_key, _ECB)
        self._ksmv = memoryview(self._ks)
        # hashlib objects have no copy() on MicroPython: keep the pad blocks, hash them per packet
        self._ipad, self._opad = mac.pads(hashlib.sha1, 64, auth_key)

    def _crypt(self, buf, start, end, ssrc, index):
        _set_iv(self._iv, self._salt, ssrc, index >> 32, index & 0xFFFFFFFF)
        ks = self._ks
        cap = len(ks)
        block = 0
        pos = start
        while pos < end:
            n = end - pos
            if n > cap:
                n = cap
            nb = (n + 15) >> 4
            _fill_counters(ks, self._iv, nb, block)
            mv = self._ksmv[0:nb << 4]
            self._cipher.encrypt(mv, mv)
            _xor(buf, pos, ks, n)
            pos += n
            block += nb

    def _mac(self, buf, auth_end, suffix):
        h = hashlib.sha1(self._ipad)
        h.update(memoryview(buf)[0:auth_end])
        if suffix >= 0:
            h.update(self._suffix_bytes(suffix))
        o = hashlib.sha1(self._opad)
        o.update(h.digest())
        return o.digest()

    def protect(self, buf, enc_start, enc_end, auth_end, ssrc, index, suffix):
        checks.srtp_span(len(buf), enc_start, enc_end, auth_end, self.tag_len, ssrc, index)
        self._crypt(buf, enc_start, enc_end, ssrc, index)
        n = self.tag_len
        buf[auth_end:auth_end + n] = memoryview(self._mac(buf, auth_end, suffix))[0:n]
        return auth_end + n

    def unprotect(self, buf, enc_start, enc_end, auth_end, ssrc, index, suffix):
        checks.srtp_span(len(buf), enc_start, enc_end, auth_end, self.tag_len, ssrc, index)
        if _differ(self._mac(buf, auth_end, suffix), buf, auth_end, self.tag_len):
            return False
        self._crypt(buf, enc_start, enc_end, ssrc, index)
        return True


# Key agreement in pure Python, resumable in bounded steps (keyagreement.py)
from zerotap.crypto import keyagreement as _ka  # noqa: E402

KA_IMPL = "pure"
_ka.Suite(random_bytes, _ka.PureMath()).install(globals())

"""The pure-Python backend: ``hashlib`` for the hashes, pure-Python AES (aes.py), the HMAC-DRBG of drbg.py.

On CPython it is the fallback where the native ``_zcrypto`` extension is absent. It also loads on
MicroPython (SHA-384 from sha512.py there), after the ``micropython`` backend in preference, so
the tests compare all backends on both interpreters (every backend passes the same known answers).
"""
import hashlib

from zerotap.crypto import drbg as _drbg
from zerotap.crypto import aes as _aes
from zerotap.crypto import checks, mac, modes
from zerotap.crypto import srtp_transform as _srtp
from zerotap.crypto.crc import crc32c  # noqa: F401  (part of the backend's interface)
from zerotap.crypto.mac import (hmac_sha1, hmac_sha256, hmac_sha384,  # noqa: F401 (the interface)
                                sha1, sha256, sha384)

if not hasattr(hashlib, "sha1"):  # a MicroPython build without SHA-1 (the unix port without SSL)
    raise ImportError("hashlib has no sha1 here")

NAME = "python"


def _ecb(key):
    return _aes.AES(key).encrypt_blocks


def aes_ecb_encrypt(key, block):
    checks.aes_key(key)
    checks.aes_block(block)
    out = bytearray(block)
    _aes.AES(key).encrypt_blocks(out, 1)
    return bytes(out)


aes_ctr, aes_cfb_encrypt, aes_cfb_decrypt = modes.aes_modes(_ecb)


def random_bytes(n):
    return _drbg.random_bytes(n)  # HMAC-DRBG over every entropy source (drbg.py)


class SrtpTransform(_srtp.SrtpTransform):
    def _setup(self, cipher_key, auth_key):
        self._aes = _aes.AES(cipher_key)
        self._ecb = self._aes.encrypt_blocks
        ipad, opad = mac.pads(hashlib.sha1, 64, auth_key)
        self._inner = hashlib.sha1(ipad)
        self._outer = hashlib.sha1(opad)
        # CPython's hash objects copy, so the two pad states are hashed once per key;
        # MicroPython's do not, and the pads are hashed per packet there.
        self._copy = hasattr(self._inner, "copy")
        self._ipad, self._opad = ipad, opad

    def _wipe(self):
        self._aes.wipe()  # the round keys
        _srtp.wipe(self._ipad)
        _srtp.wipe(self._opad)
        self._inner = self._outer = None  # hash states cannot be overwritten: dropped

    def _mac(self, buf, auth_end, suffix):
        h = self._inner.copy() if self._copy else hashlib.sha1(self._ipad)
        h.update(memoryview(buf)[0:auth_end])
        if suffix >= 0:
            h.update(self._suffix_bytes(suffix))
        o = self._outer.copy() if self._copy else hashlib.sha1(self._opad)
        o.update(h.digest())
        return o.digest()


# Key agreement in pure Python, resumable in bounded steps (keyagreement.py)
from zerotap.crypto import keyagreement as _ka  # noqa: E402

KA_IMPL = "pure"
_ka.Suite(random_bytes, _ka.PureMath()).install(globals())

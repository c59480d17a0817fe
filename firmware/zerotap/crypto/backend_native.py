"""The native backend: the ``_zcrypto`` C module over mbedTLS (native/zcrypto/), as a CPython
extension or a MicroPython user C module. Lengths are checked here with the same messages as the
other backends; the per-packet SRTP path is one C call (``SrtpTransform`` is the C type itself).
"""
try:
    import _zcrypto
except ImportError:  # not built into this interpreter: zerotap.crypto.backend("native") says so
    _zcrypto = None

from zerotap.crypto import checks
from zerotap.crypto import keyagreement as _ka

from os import urandom as _urandom  # blinding seeds for mbedTLS's point multiplication only
from zerotap.crypto.drbg import random_bytes as _drbg_bytes  # HMAC-DRBG: every key, nonce and ID

NAME = "native"
KA_IMPL = "native"

_SHA1 = 1
_SHA256 = 2
_SHA384 = 3
_CTR = 0
_CFB_ENCRYPT = 1
_CFB_DECRYPT = 2



def sha1(data):
    return _zcrypto.hash(_SHA1, data)


def sha256(data):
    return _zcrypto.hash(_SHA256, data)


def sha384(data):
    return _zcrypto.hash(_SHA384, data)


def hmac_sha1(key, data):
    return _zcrypto.hmac(_SHA1, key, data)


def hmac_sha256(key, data):
    return _zcrypto.hmac(_SHA256, key, data)


def hmac_sha384(key, data):
    return _zcrypto.hmac(_SHA384, key, data)


def aes_ecb_encrypt(key, block):
    checks.aes_key(key)
    checks.aes_block(block)
    return _zcrypto.aes_ecb(key, block)


def aes_ctr(key, iv, data):
    checks.aes_key(key)
    checks.iv(iv, "AES-CTR")
    return _zcrypto.aes_stream(_CTR, key, iv, data)


def aes_cfb_encrypt(key, iv, data):
    checks.aes_key(key)
    checks.iv(iv, "AES-CFB")
    return _zcrypto.aes_stream(_CFB_ENCRYPT, key, iv, data)


def aes_cfb_decrypt(key, iv, data):
    checks.aes_key(key)
    checks.iv(iv, "AES-CFB")
    return _zcrypto.aes_stream(_CFB_DECRYPT, key, iv, data)


def crc32c(data, crc=0):
    return _zcrypto.crc32c(data, crc)


def random_bytes(n):
    return _drbg_bytes(n)


def SrtpTransform(cipher_key, cipher_salt, auth_key, tag_len):
    checks.srtp_keys(cipher_key, cipher_salt, auth_key, tag_len)
    return _zcrypto.SrtpTransform(cipher_key, cipher_salt, auth_key, tag_len)


# Per-SSRC replay state in C, and the transform's in-order fast paths that use it (protect_next,
# unprotect_next, protect_bytes, unprotect_bytes): zerotap.srtp.Session runs its common case in
# one C call with them. A build of the module without them leaves srtp.py on its Python path.
SrtpStream = getattr(_zcrypto, "SrtpStream", None)
if SrtpStream is None:
    del SrtpStream


def cpu_features(enable=None):
    """The CPU features (AES-NI, SHA-NI) that the SRTP transform uses here; enable=False makes it
    use mbedTLS alone from then on, True restores them (tests run both paths)."""
    f = getattr(_zcrypto, "cpu_features", None)
    if f is None:
        return ()
    return f() if enable is None else f(enable)


_GROUPS = {"DH2k": 1, "DH3k": 2}
_CURVES = {"EC25": 1, "EC38": 2}
_CURVE_NAMES = {"EC25": "P-256", "EC38": "P-384"}


class NativeMath:
    """Key agreement in C: each generator finishes in its first step, it never yields."""

    def public(self, ka, secret):
        if ka in _GROUPS:
            return _zcrypto.dh(_GROUPS[ka], b"", secret)
        if ka in _CURVES:
            return _zcrypto.ec_mul(_CURVES[ka], secret, b"", _urandom(32))
        return _zcrypto.x25519(secret, b"\x09" + bytes(31), _urandom(32))
        yield  # a generator that finishes at once

    def shared(self, ka, secret, peer):
        _ka.check_peer(ka, peer)  # RFC 6189 4.4.1.1 ranges, EC on-curve, lengths: same errors everywhere
        if ka in _GROUPS:
            return _zcrypto.dh(_GROUPS[ka], peer, secret)
        if ka in _CURVES:
            n = len(peer) // 2
            return _zcrypto.ec_mul(_CURVES[ka], secret, peer, _urandom(32))[0:n]
        return _zcrypto.x25519(secret, peer, _urandom(32))
        yield


_ka.Suite(random_bytes, NativeMath()).install(globals())

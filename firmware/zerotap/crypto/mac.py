"""HMAC (RFC 2104) over any hashlib-style constructor: H(K ^ opad, H(K ^ ipad, text)), and the
hashes and HMACs of the two backends built on ``hashlib`` (micropython, python). SHA-384 is pure
Python (sha512.py) where ``hashlib`` lacks it, as on MicroPython."""
import hashlib

_sha384 = getattr(hashlib, "sha384", None)
if _sha384 is None:
    def _sha384(data=b""):
        # imported on first use: a box that never negotiates S384 never holds its 64-bit tables
        from zerotap.crypto.sha512 import SHA384
        return SHA384(data)


def pads(new, block_size, key):
    """The inner and outer key blocks (K ^ ipad, K ^ opad) of RFC 2104 section 2."""
    if len(key) > block_size:
        key = new(key).digest()
    key = bytes(key) + bytes(block_size - len(key))
    return bytes(b ^ 0x36 for b in key), bytes(b ^ 0x5C for b in key)


def hmac(new, block_size, key, data):
    ipad, opad = pads(new, block_size, key)
    inner = new(ipad)
    inner.update(data)
    outer = new(opad)
    outer.update(inner.digest())
    return outer.digest()


def sha1(data):
    return hashlib.sha1(data).digest()


def sha256(data):
    return hashlib.sha256(data).digest()


def sha384(data):
    return _sha384(data).digest()


def hmac_sha1(key, data):
    return hmac(hashlib.sha1, 64, key, data)


def hmac_sha256(key, data):
    return hmac(hashlib.sha256, 64, key, data)


def hmac_sha384(key, data):
    return hmac(_sha384, 128, key, data)

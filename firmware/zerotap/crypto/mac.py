"""HMAC (RFC 2104) over any hashlib-style constructor: H(K ^ opad, H(K ^ ipad, text))."""


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

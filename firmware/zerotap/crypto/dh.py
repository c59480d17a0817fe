"""Finite-field Diffie-Hellman for ZRTP's DH2k and DH3k (RFC 6189 section 5.1.5): the MODP groups
14 (2048-bit) and 15 (3072-bit) of RFC 3526, generator 2.

The exponentiations are generators that yield after every modular multiplication, so a slow
board can run them in bounded slices (keyagreement.py drives them).
"""

# RFC 3526 section 3: p = 2^2048 - 2^1984 - 1 + 2^64 * ( [2^1918 pi] + 124476 )
P2048 = int(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DD"
    "EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED"
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F"
    "83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B"
    "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF6955817183995497CEA956AE515D2261898FA0510"
    "15728E5A8AACAA68FFFFFFFFFFFFFFFF", 16)

# RFC 3526 section 4: p = 2^3072 - 2^3008 - 1 + 2^64 * ( [2^2942 pi] + 1690314 )
P3072 = int(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DD"
    "EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED"
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F"
    "83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B"
    "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF6955817183995497CEA956AE515D2261898FA0510"
    "15728E5A8AAAC42DAD33170D04507A33A85521ABDF1CBA64ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7"
    "ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6BF12FFA06D98A0864D87602733EC86A64521F2B18177B200C"
    "BBE117577A615D6C770988C0BAD946E208E24FA074E5AB3143DB5BFCE0FD108E4B82D120A93AD2CAFFFFFFFFFFFFFFFF", 16)

G = 2

# ka -> (p, length of p in bytes)
GROUPS = {"DH2k": (P2048, 256), "DH3k": (P3072, 384)}

_WINDOW = 4


def check_public(ka, p, y):
    """RFC 6189 section 4.4.1.1: reject pv = 1, pv = p-1 and anything outside [2, p-2]."""
    if y == 1 or y == p - 1:
        raise ValueError("%s public value must not be 1 or p-1" % ka)
    if y < 2 or y > p - 2:
        raise ValueError("%s public value must be in [2, p-2]" % ka)


def pow_g(exponent, p):
    """2^exponent mod p, left to right in 4-bit windows; multiplying by 2^k is a shift.
    Yields after every squaring; returns the result."""
    bits = _bitlen(exponent)
    top = (bits + _WINDOW - 1) // _WINDOW * _WINDOW
    x = 1
    for shift in range(top - _WINDOW, -1, -_WINDOW):
        for _ in range(_WINDOW):
            x = (x * x) % p
            yield
        w = (exponent >> shift) & 0xF
        if w:
            x = (x << w) % p
    return x


def pow_mod(base, exponent, p):
    """base^exponent mod p, left to right in 4-bit windows over a table of base^0..base^15.
    Yields after every modular multiplication; returns the result."""
    table = [1, base % p]
    for _ in range(14):
        table.append((table[-1] * base) % p)
        yield
    bits = _bitlen(exponent)
    top = (bits + _WINDOW - 1) // _WINDOW * _WINDOW
    x = 1
    for shift in range(top - _WINDOW, -1, -_WINDOW):
        for _ in range(_WINDOW):
            x = (x * x) % p
            yield
        w = (exponent >> shift) & 0xF
        if w:
            x = (x * table[w]) % p
            yield
    return x


def _bitlen(n):
    b = 0
    while n >> (b + 32):
        b += 32
    while n >> b:
        b += 1
    return b

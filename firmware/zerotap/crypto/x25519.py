"""X25519 (RFC 7748 section 5) in pure Python: the Montgomery ladder over GF(2^255 - 19).

``ladder(k, u)`` is a generator that yields every few ladder steps so a slow board can run it in
bounded slices; ``decode_scalar``/``decode_u``/``encode_u`` follow RFC 7748 section 5.
"""
from micropython import const

P = (1 << 255) - 19
_A24 = const(121665)
STEPS_PER_YIELD = const(8)


def decode_scalar(k):
    b = bytearray(k)
    b[0] &= 248
    b[31] &= 127
    b[31] |= 64
    return int.from_bytes(b, "little")


def decode_u(u):
    # RFC 7748: mask the most significant bit; non-canonical values are reduced in the arithmetic
    return int.from_bytes(u, "little") & ((1 << 255) - 1)


def encode_u(x):
    return (x % P).to_bytes(32, "little")


def ladder(k, u):
    """The RFC 7748 section 5 ladder; returns x_2 * z_2^(p-2) as an integer."""
    p = P
    x1 = u % p
    x2, z2, x3, z3 = 1, 0, x1, 1
    swap = 0
    for t in range(254, -1, -1):
        kt = (k >> t) & 1
        swap ^= kt
        if swap:
            x2, x3 = x3, x2
            z2, z3 = z3, z2
        swap = kt
        A = x2 + z2
        AA = A * A % p
        B = x2 - z2
        BB = B * B % p
        E = AA - BB
        C = x3 + z3
        D = x3 - z3
        DA = D * A % p
        CB = C * B % p
        x3 = (DA + CB) * (DA + CB) % p
        z3 = x1 * (DA - CB) * (DA - CB) % p
        x2 = AA * BB % p
        z2 = E * (AA + _A24 * E) % p
        if t % STEPS_PER_YIELD == 0:
            yield
    if swap:
        x2, x3 = x3, x2
        z2, z3 = z3, z2
    return x2 * pow(z2, p - 2, p) % p

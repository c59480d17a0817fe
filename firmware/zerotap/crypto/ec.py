"""ECDH over the NIST prime curves P-256 and P-384 (ZRTP's EC25 and EC38, RFC 6189 section 5.1.5;
RFC 5903 for the encoding), in pure Python.

Points are in Jacobian coordinates (X, Y, Z) with x = X/Z^2, y = Y/Z^3; Z = 0 is the point at
infinity. Both curves have a = -3, which gives the cheaper doubling ("dbl-2001-b" of the
Explicit-Formulas Database). The scalar multiplication is a generator that yields after every
point doubling or addition, so that a slow board can run it in bounded slices. It is not
constant-time: on a board the native module should do ECDH where timing matters.
"""


class Curve:
    def __init__(self, name, p, b, n, gx, gy, size):
        self.name = name
        self.p = p
        self.b = b
        self.n = n
        self.gx = gx
        self.gy = gy
        self.size = size  # bytes per coordinate

    def on_curve(self, x, y):
        p = self.p
        return (y * y - (x * x * x - 3 * x + self.b)) % p == 0


P256 = Curve(
    "P-256",
    0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF,
    0x5AC635D8AA3A93E7B3EBBD55769886BC651D06B0CC53B0F63BCE3C3E27D2604B,
    0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551,
    0x6B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296,
    0x4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5,
    32)

P384 = Curve(
    "P-384",
    0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFFFFF0000000000000000FFFFFFFF,
    0xB3312FA7E23EE7E4988E056BE3F82D19181D9C6EFE8141120314088F5013875AC656398D8A2ED19D2A85C8EDD3EC2AEF,
    0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF581A0DB248B0A77AECEC196ACCC52973,
    0xAA87CA22BE8B05378EB1C71EF320AD746E1D3B628BA79B9859F741E082542A385502F25DBF55296C3A545E3872760AB7,
    0x3617DE4A96262C6F5D9E98BF9292DC29F8F41DBD289A147CE9DA3113B5F0B8C00A60B1CE1D7E819D7A431D7C90EA0E5F,
    48)


def _double(c, X, Y, Z):
    if Z == 0 or Y == 0:
        return 0, 1, 0
    p = c.p
    delta = Z * Z % p
    gamma = Y * Y % p
    beta = X * gamma % p
    alpha = 3 * (X - delta) * (X + delta) % p
    X3 = (alpha * alpha - 8 * beta) % p
    Z3 = ((Y + Z) * (Y + Z) - gamma - delta) % p
    Y3 = (alpha * (4 * beta - X3) - 8 * gamma * gamma) % p
    return X3, Y3, Z3


def _add_affine(c, X1, Y1, Z1, x2, y2):
    """(X1:Y1:Z1) + (x2, y2), mixed addition ("madd-2007-bl")."""
    if Z1 == 0:
        return x2, y2, 1
    p = c.p
    Z1Z1 = Z1 * Z1 % p
    U2 = x2 * Z1Z1 % p
    S2 = y2 * Z1 * Z1Z1 % p
    H = (U2 - X1) % p
    r = 2 * (S2 - Y1) % p
    if H == 0:
        if r == 0:
            return _double(c, X1, Y1, Z1)
        return 0, 1, 0
    HH = H * H % p
    I = 4 * HH % p
    J = H * I % p
    V = X1 * I % p
    X3 = (r * r - J - 2 * V) % p
    Y3 = (r * (V - X3) - 2 * Y1 * J) % p
    Z3 = ((Z1 + H) * (Z1 + H) - Z1Z1 - HH) % p
    return X3, Y3, Z3


def multiply(c, k, x, y):
    """k * (x, y) in affine coordinates, or None for the point at infinity. A generator: it yields
    after every doubling and addition and returns the result."""
    X, Y, Z = 0, 1, 0
    i = 0
    while k >> i:
        i += 1
    while i > 0:
        i -= 1
        X, Y, Z = _double(c, X, Y, Z)
        yield
        if (k >> i) & 1:
            X, Y, Z = _add_affine(c, X, Y, Z, x, y)
            yield
    if Z == 0:
        return None
    p = c.p
    zi = pow(Z, p - 2, p)
    zi2 = zi * zi % p
    return X * zi2 % p, Y * zi2 * zi % p


def decode_point(c, ka, data):
    """x || y (RFC 6189 section 5.1.5 pv for EC25/EC38) to integers; ValueError if off the curve."""
    n = c.size
    if len(data) != 2 * n:
        raise ValueError("%s public value must be %d bytes, got %d" % (ka, 2 * n, len(data)))
    x = int.from_bytes(data[0:n], "big")
    y = int.from_bytes(data[n:2 * n], "big")
    if x >= c.p or y >= c.p or not c.on_curve(x, y):
        raise ValueError("%s public value is not a point on %s" % (ka, c.name))
    return x, y

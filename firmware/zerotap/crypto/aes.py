"""AES (FIPS-197) block encryption in pure Python, 128- and 256-bit keys.

Used by the CPython fallback backend and on a MicroPython build without ``cryptolib``. The
counter and feedback modes in this package only ever need the forward cipher. Table-driven
(the four 32-bit "T-tables" of FIPS-197's round function), built once at import from the S-box,
which is itself derived from GF(2^8) inversion and the affine map (FIPS-197 section 5.1.1).
Not constant-time: the media path on every runtime uses the native module or cryptolib.
"""


def _tables():
    # exp/log tables over GF(2^8) with generator 3 (x + 1), modulus x^8 + x^4 + x^3 + x + 1
    exp = bytearray(256)
    log = bytearray(256)
    x = 1
    for i in range(255):
        exp[i] = x
        log[x] = i
        x ^= ((x << 1) ^ (0x1B if x & 0x80 else 0)) & 0xFF
    sbox = bytearray(256)
    for a in range(256):
        inv = exp[(255 - log[a]) % 255] if a else 0
        s = inv
        for k in range(1, 5):  # affine transformation, FIPS-197 equation 5.1
            s ^= ((inv << k) | (inv >> (8 - k))) & 0xFF
        sbox[a] = s ^ 0x63
    t0, t1, t2, t3 = [], [], [], []
    for a in range(256):
        s = sbox[a]
        s2 = ((s << 1) ^ (0x1B if s & 0x80 else 0)) & 0xFF
        w = (s2 << 24) | (s << 16) | (s << 8) | (s2 ^ s)
        t0.append(w)
        t1.append(((w >> 8) | (w << 24)) & 0xFFFFFFFF)
        t2.append(((w >> 16) | (w << 16)) & 0xFFFFFFFF)
        t3.append(((w >> 24) | (w << 8)) & 0xFFFFFFFF)
    return bytes(sbox), t0, t1, t2, t3


SBOX, _T0, _T1, _T2, _T3 = _tables()


class AES:
    """Forward AES with an expanded key. ``encrypt_block(src, soff, dst, doff)`` works on buffers."""

    def __init__(self, key):
        n = len(key)
        if n != 16 and n != 32:
            raise ValueError("AES key must be 16 or 32 bytes, got %d" % n)
        nk = n // 4
        self.rounds = nk + 6
        total = 4 * (self.rounds + 1)
        w = [int.from_bytes(key[4 * i:4 * i + 4], "big") for i in range(nk)]
        sb = SBOX
        rcon = 1
        for i in range(nk, total):  # key expansion, FIPS-197 section 5.2
            t = w[i - 1]
            if i % nk == 0:
                t = ((sb[(t >> 16) & 0xFF] << 24) | (sb[(t >> 8) & 0xFF] << 16)
                     | (sb[t & 0xFF] << 8) | sb[t >> 24]) ^ (rcon << 24)
                rcon = ((rcon << 1) ^ (0x1B if rcon & 0x80 else 0)) & 0xFF
            elif nk > 6 and i % nk == 4:
                t = ((sb[t >> 24] << 24) | (sb[(t >> 16) & 0xFF] << 16)
                     | (sb[(t >> 8) & 0xFF] << 8) | sb[t & 0xFF])
            w.append(w[i - nk] ^ t)
        self._w = w

    def encrypt_block(self, src, soff, dst, doff):
        w = self._w
        T0, T1, T2, T3 = _T0, _T1, _T2, _T3
        s0 = int.from_bytes(src[soff:soff + 4], "big") ^ w[0]
        s1 = int.from_bytes(src[soff + 4:soff + 8], "big") ^ w[1]
        s2 = int.from_bytes(src[soff + 8:soff + 12], "big") ^ w[2]
        s3 = int.from_bytes(src[soff + 12:soff + 16], "big") ^ w[3]
        k = 4
        for _ in range(self.rounds - 1):
            t0 = T0[s0 >> 24] ^ T1[(s1 >> 16) & 0xFF] ^ T2[(s2 >> 8) & 0xFF] ^ T3[s3 & 0xFF] ^ w[k]
            t1 = T0[s1 >> 24] ^ T1[(s2 >> 16) & 0xFF] ^ T2[(s3 >> 8) & 0xFF] ^ T3[s0 & 0xFF] ^ w[k + 1]
            t2 = T0[s2 >> 24] ^ T1[(s3 >> 16) & 0xFF] ^ T2[(s0 >> 8) & 0xFF] ^ T3[s1 & 0xFF] ^ w[k + 2]
            s3 = T0[s3 >> 24] ^ T1[(s0 >> 16) & 0xFF] ^ T2[(s1 >> 8) & 0xFF] ^ T3[s2 & 0xFF] ^ w[k + 3]
            s0, s1, s2 = t0, t1, t2
            k += 4
        sb = SBOX
        for j, (a, b, c, d) in enumerate(((s0, s1, s2, s3), (s1, s2, s3, s0),
                                          (s2, s3, s0, s1), (s3, s0, s1, s2))):
            r = w[k + j]
            o = doff + 4 * j
            dst[o] = sb[a >> 24] ^ (r >> 24)
            dst[o + 1] = sb[(b >> 16) & 0xFF] ^ ((r >> 16) & 0xFF)
            dst[o + 2] = sb[(c >> 8) & 0xFF] ^ ((r >> 8) & 0xFF)
            dst[o + 3] = sb[d & 0xFF] ^ (r & 0xFF)

    def encrypt_blocks(self, buf, n):
        """Encrypt the first N 16-byte blocks of the bytearray BUF in place (ECB)."""
        for i in range(0, 16 * n, 16):
            self.encrypt_block(buf, i, buf, i)

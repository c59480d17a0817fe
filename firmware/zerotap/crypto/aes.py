"""AES (FIPS-197) block encryption in pure Python, 128- and 256-bit keys.

Used by the CPython fallback backend and on a MicroPython build without ``cryptolib``. The
counter and feedback modes in this package only ever need the forward cipher. Table-driven
(the four 32-bit "T-tables" of FIPS-197's round function), built once at import from the S-box,
which is itself derived from GF(2^8) inversion and the affine map (FIPS-197 section 5.1.1).
Not constant-time: the media path on every runtime uses the native module or cryptolib.

Every 32-bit word is kept as two 16-bit halves (hi, lo), so that no value reaches 2^30: on a
32-bit MicroPython an int of 2^30 or more is an object on the heap, and 32-bit T-tables held
about 800 of them (some 25 KB) while each round allocated more. The four T-tables then share
four 256-entry ``array('H')`` halves (2 KiB in all): with S = S-box[x], S2 = 2*S and S3 = 3*S in
GF(2^8), T0 = (S2 S | S S3), T1 = (S3 S2 | S S), T2 = (S S3 | S2 S), T3 = (S S | S3 S2).
"""
from array import array


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
    s2_s = array("H", bytes(512))  # 256 zeros each
    s_s3 = array("H", bytes(512))
    s3_s2 = array("H", bytes(512))
    s_s = array("H", bytes(512))
    for a in range(256):
        s = sbox[a]
        s2 = ((s << 1) ^ (0x1B if s & 0x80 else 0)) & 0xFF
        s3 = s2 ^ s
        s2_s[a] = (s2 << 8) | s
        s_s3[a] = (s << 8) | s3
        s3_s2[a] = (s3 << 8) | s2
        s_s[a] = (s << 8) | s
    return bytes(sbox), s2_s, s_s3, s3_s2, s_s


# T0 = (_A | _B), T1 = (_C | _D), T2 = (_B | _A), T3 = (_D | _C), as (hi | lo) halves
SBOX, _A, _B, _C, _D = _tables()


class AES:
    """Forward AES with an expanded key. ``encrypt_block(src, soff, dst, doff)`` works on buffers."""

    def __init__(self, key):
        n = len(key)
        if n != 16 and n != 32:
            raise ValueError("AES key must be 16 or 32 bytes, got %d" % n)
        nk = n // 4
        self.rounds = nk + 6
        total = 4 * (self.rounds + 1)
        hi = array("H", bytes(2 * total))  # the round-key words' halves
        lo = array("H", bytes(2 * total))
        for i in range(nk):
            hi[i] = (key[4 * i] << 8) | key[4 * i + 1]
            lo[i] = (key[4 * i + 2] << 8) | key[4 * i + 3]
        sb = SBOX
        rcon = 1
        for i in range(nk, total):  # key expansion, FIPS-197 section 5.2
            th, tl = hi[i - 1], lo[i - 1]
            if i % nk == 0:  # SubWord(RotWord(t)) ^ Rcon
                th, tl = ((sb[th & 0xFF] ^ rcon) << 8) | sb[tl >> 8], (sb[tl & 0xFF] << 8) | sb[th >> 8]
                rcon = ((rcon << 1) ^ (0x1B if rcon & 0x80 else 0)) & 0xFF
            elif nk > 6 and i % nk == 4:  # SubWord(t)
                th, tl = (sb[th >> 8] << 8) | sb[th & 0xFF], (sb[tl >> 8] << 8) | sb[tl & 0xFF]
            hi[i] = hi[i - nk] ^ th
            lo[i] = lo[i - nk] ^ tl
        self._hi = hi
        self._lo = lo

    def encrypt_block(self, src, soff, dst, doff):
        wh = self._hi
        wl = self._lo
        A = _A
        B = _B
        C = _C
        D = _D
        h0 = ((src[soff] << 8) | src[soff + 1]) ^ wh[0]
        l0 = ((src[soff + 2] << 8) | src[soff + 3]) ^ wl[0]
        h1 = ((src[soff + 4] << 8) | src[soff + 5]) ^ wh[1]
        l1 = ((src[soff + 6] << 8) | src[soff + 7]) ^ wl[1]
        h2 = ((src[soff + 8] << 8) | src[soff + 9]) ^ wh[2]
        l2 = ((src[soff + 10] << 8) | src[soff + 11]) ^ wl[2]
        h3 = ((src[soff + 12] << 8) | src[soff + 13]) ^ wh[3]
        l3 = ((src[soff + 14] << 8) | src[soff + 15]) ^ wl[3]
        k = 4
        for _ in range(self.rounds - 1):
            # t_j = T0[byte 0 of s_j] ^ T1[byte 1 of s_j+1] ^ T2[byte 2 of s_j+2] ^ T3[byte 3 of s_j+3]
            a = h0 >> 8
            b = h1 & 0xFF
            c = l2 >> 8
            d = l3 & 0xFF
            g0 = A[a] ^ C[b] ^ B[c] ^ D[d] ^ wh[k]
            m0 = B[a] ^ D[b] ^ A[c] ^ C[d] ^ wl[k]
            a = h1 >> 8
            b = h2 & 0xFF
            c = l3 >> 8
            d = l0 & 0xFF
            g1 = A[a] ^ C[b] ^ B[c] ^ D[d] ^ wh[k + 1]
            m1 = B[a] ^ D[b] ^ A[c] ^ C[d] ^ wl[k + 1]
            a = h2 >> 8
            b = h3 & 0xFF
            c = l0 >> 8
            d = l1 & 0xFF
            g2 = A[a] ^ C[b] ^ B[c] ^ D[d] ^ wh[k + 2]
            m2 = B[a] ^ D[b] ^ A[c] ^ C[d] ^ wl[k + 2]
            a = h3 >> 8
            b = h0 & 0xFF
            c = l1 >> 8
            d = l2 & 0xFF
            h3 = A[a] ^ C[b] ^ B[c] ^ D[d] ^ wh[k + 3]
            l3 = B[a] ^ D[b] ^ A[c] ^ C[d] ^ wl[k + 3]
            h0 = g0  # (one name at a time: a tuple assignment of more than three values
            l0 = m0  # allocates on MicroPython)
            h1 = g1
            l1 = m1
            h2 = g2
            l2 = m2
            k += 4
        sb = SBOX
        for j, (a, b, c, d) in enumerate(((h0, h1, l2, l3), (h1, h2, l3, l0),
                                          (h2, h3, l0, l1), (h3, h0, l1, l2))):
            rh, rl = wh[k + j], wl[k + j]
            o = doff + 4 * j
            dst[o] = sb[a >> 8] ^ (rh >> 8)
            dst[o + 1] = sb[b & 0xFF] ^ (rh & 0xFF)
            dst[o + 2] = sb[c >> 8] ^ (rl >> 8)
            dst[o + 3] = sb[d & 0xFF] ^ (rl & 0xFF)

    def encrypt_blocks(self, buf, n):
        """Encrypt the first N 16-byte blocks of the bytearray BUF in place (ECB)."""
        for i in range(0, 16 * n, 16):
            self.encrypt_block(buf, i, buf, i)

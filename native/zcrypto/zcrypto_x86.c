/* zcrypto on x86-64: the SRTP transform's AES counter mode with AES-NI and its SHA-1 with the SHA
 * extensions, used when CPUID says the CPU has them (zcrypto.c falls back to mbedTLS otherwise).
 * Each function carries its own target attribute, so the file builds without -maes/-msha, and
 * nothing here runs before the CPUID check. Boards (Xtensa, RISC-V) compile none of it. */
#include "zcrypto.h"

#if ZC_X86
#include <cpuid.h>
#include <immintrin.h>
#include <string.h>

int zc_x86_detect(void) {
    unsigned a, b, c, d;
    int f = 0;
    if (__get_cpuid(1, &a, &b, &c, &d) && (c & bit_SSE4_1) && (c & bit_SSSE3)) {
        if (c & bit_AES) f |= ZC_X86_AES;
        if (__get_cpuid_count(7, 0, &a, &b, &c, &d) && (b & bit_SHA)) f |= ZC_X86_SHA;
    }
    return f;
}

/* ---- AES (FIPS-197 section 5.2 key expansion through AESKEYGENASSIST) ---------------------- */

__attribute__((target("aes,sse4.1"))) static __m128i expand_step(__m128i key, __m128i assist) {
    key = _mm_xor_si128(key, _mm_slli_si128(key, 4));
    key = _mm_xor_si128(key, _mm_slli_si128(key, 4));
    key = _mm_xor_si128(key, _mm_slli_si128(key, 4));
    return _mm_xor_si128(key, assist);
}

#define ASSIST128(k, rcon) _mm_shuffle_epi32(_mm_aeskeygenassist_si128((k), (rcon)), 0xFF)

__attribute__((target("aes,sse4.1"))) int zc_x86_aes_expand(uint8_t rk[240], const uint8_t *key, size_t klen) {
    __m128i k[15];
    if (klen == 16) {
        k[0] = _mm_loadu_si128((const __m128i *)key);
        k[1] = expand_step(k[0], ASSIST128(k[0], 0x01));
        k[2] = expand_step(k[1], ASSIST128(k[1], 0x02));
        k[3] = expand_step(k[2], ASSIST128(k[2], 0x04));
        k[4] = expand_step(k[3], ASSIST128(k[3], 0x08));
        k[5] = expand_step(k[4], ASSIST128(k[4], 0x10));
        k[6] = expand_step(k[5], ASSIST128(k[5], 0x20));
        k[7] = expand_step(k[6], ASSIST128(k[6], 0x40));
        k[8] = expand_step(k[7], ASSIST128(k[7], 0x80));
        k[9] = expand_step(k[8], ASSIST128(k[8], 0x1B));
        k[10] = expand_step(k[9], ASSIST128(k[9], 0x36));
        for (int i = 0; i <= 10; i++) _mm_storeu_si128((__m128i *)(rk + 16 * i), k[i]);
        return 10;
    }
    /* AES-256: the even round keys take RotWord/SubWord/Rcon of the odd ones' last word, the odd
     * round keys SubWord alone of the even ones' last word */
#define ASSIST256_ODD(k) _mm_shuffle_epi32(_mm_aeskeygenassist_si128((k), 0), 0xAA)
    k[0] = _mm_loadu_si128((const __m128i *)key);
    k[1] = _mm_loadu_si128((const __m128i *)(key + 16));
    k[2] = expand_step(k[0], ASSIST128(k[1], 0x01));
    k[3] = expand_step(k[1], ASSIST256_ODD(k[2]));
    k[4] = expand_step(k[2], ASSIST128(k[3], 0x02));
    k[5] = expand_step(k[3], ASSIST256_ODD(k[4]));
    k[6] = expand_step(k[4], ASSIST128(k[5], 0x04));
    k[7] = expand_step(k[5], ASSIST256_ODD(k[6]));
    k[8] = expand_step(k[6], ASSIST128(k[7], 0x08));
    k[9] = expand_step(k[7], ASSIST256_ODD(k[8]));
    k[10] = expand_step(k[8], ASSIST128(k[9], 0x10));
    k[11] = expand_step(k[9], ASSIST256_ODD(k[10]));
    k[12] = expand_step(k[10], ASSIST128(k[11], 0x20));
    k[13] = expand_step(k[11], ASSIST256_ODD(k[12]));
    k[14] = expand_step(k[12], ASSIST128(k[13], 0x40));
    for (int i = 0; i <= 14; i++) _mm_storeu_si128((__m128i *)(rk + 16 * i), k[i]);
    return 14;
}

/* AES-CM (RFC 3711 section 4.1.1) over p[0:len] in place: block j encrypts the IV with j in its
 * last two bytes (which the IV has zero), four blocks at a time so that the AES units overlap. */
__attribute__((target("aes,sse4.1"))) void zc_x86_aes_cm(const uint8_t *rkb, int nr, const uint8_t iv[16], uint8_t *p,
                                                        size_t len) {
    __m128i rk[15], base = _mm_loadu_si128((const __m128i *)iv);
    for (int i = 0; i <= nr; i++) rk[i] = _mm_loadu_si128((const __m128i *)(rkb + 16 * i));
    unsigned j = 0;
#define CTR(n) _mm_xor_si128(_mm_insert_epi16(base, (int)((((n) & 0xFF) << 8) | (((n) >> 8) & 0xFF)), 7), rk[0])
    while (len >= 64) {
        __m128i b0 = CTR(j), b1 = CTR(j + 1), b2 = CTR(j + 2), b3 = CTR(j + 3);
        for (int r = 1; r < nr; r++) {
            b0 = _mm_aesenc_si128(b0, rk[r]);
            b1 = _mm_aesenc_si128(b1, rk[r]);
            b2 = _mm_aesenc_si128(b2, rk[r]);
            b3 = _mm_aesenc_si128(b3, rk[r]);
        }
        b0 = _mm_aesenclast_si128(b0, rk[nr]);
        b1 = _mm_aesenclast_si128(b1, rk[nr]);
        b2 = _mm_aesenclast_si128(b2, rk[nr]);
        b3 = _mm_aesenclast_si128(b3, rk[nr]);
        _mm_storeu_si128((__m128i *)p, _mm_xor_si128(b0, _mm_loadu_si128((const __m128i *)p)));
        _mm_storeu_si128((__m128i *)(p + 16), _mm_xor_si128(b1, _mm_loadu_si128((const __m128i *)(p + 16))));
        _mm_storeu_si128((__m128i *)(p + 32), _mm_xor_si128(b2, _mm_loadu_si128((const __m128i *)(p + 32))));
        _mm_storeu_si128((__m128i *)(p + 48), _mm_xor_si128(b3, _mm_loadu_si128((const __m128i *)(p + 48))));
        p += 64, len -= 64, j = (j + 4) & 0xFFFF;
    }
    while (len) {
        __m128i b = CTR(j);
        for (int r = 1; r < nr; r++) b = _mm_aesenc_si128(b, rk[r]);
        b = _mm_aesenclast_si128(b, rk[nr]);
        if (len >= 16) {
            _mm_storeu_si128((__m128i *)p, _mm_xor_si128(b, _mm_loadu_si128((const __m128i *)p)));
            p += 16, len -= 16, j = (j + 1) & 0xFFFF;
        } else {
            uint8_t ks[16];
            _mm_storeu_si128((__m128i *)ks, b);
            for (size_t i = 0; i < len; i++) p[i] ^= ks[i];
            len = 0;
        }
    }
#undef CTR
}

/* ---- SHA-1 compression (FIPS 180-4 section 6.1.2) with SHA1RNDS4 / SHA1NEXTE / SHA1MSG1/2 ---- */

/* One group of four rounds. W0 holds the schedule words of this group; the other three are the
 * next ones in turn. MSG2 finishes the words three groups ahead, MSG1 and the XOR start them. */
#define SHA1_GROUP(e_now, e_next, w0, w1, w2, w3, func, do_msg2, do_msg1, do_xor) \
    do {                                                                          \
        e_now = _mm_sha1nexte_epu32(e_now, w0);                                  \
        e_next = abcd;                                                            \
        if (do_msg2) w1 = _mm_sha1msg2_epu32(w1, w0);                             \
        abcd = _mm_sha1rnds4_epu32(abcd, e_now, func);                            \
        if (do_msg1) w3 = _mm_sha1msg1_epu32(w3, w0);                             \
        if (do_xor) w2 = _mm_xor_si128(w2, w0);                                   \
    } while (0)

__attribute__((target("sha,sse4.1"))) void zc_x86_sha1_blocks(uint32_t state[5], const uint8_t *data,
                                                             size_t nblocks) {
    const __m128i bswap = _mm_set_epi64x(0x0001020304050607ULL, 0x08090A0B0C0D0E0FULL);
    __m128i abcd = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)state), 0x1B);
    __m128i e0 = _mm_set_epi32((int)state[4], 0, 0, 0), e1;
    while (nblocks--) {
        __m128i abcd_save = abcd, e_save = e0;
        __m128i m0 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)data), bswap);
        __m128i m1 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(data + 16)), bswap);
        __m128i m2 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(data + 32)), bswap);
        __m128i m3 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(data + 48)), bswap);
        /* rounds 0-3: E is added to the first words, not rotated into them */
        e0 = _mm_add_epi32(e0, m0);
        e1 = abcd;
        abcd = _mm_sha1rnds4_epu32(abcd, e0, 0);
        SHA1_GROUP(e1, e0, m1, m2, m3, m0, 0, 0, 1, 0); /* rounds 4-7 */
        SHA1_GROUP(e0, e1, m2, m3, m0, m1, 0, 0, 1, 1);
        SHA1_GROUP(e1, e0, m3, m0, m1, m2, 0, 1, 1, 1);
        SHA1_GROUP(e0, e1, m0, m1, m2, m3, 0, 1, 1, 1); /* rounds 16-19 */
        SHA1_GROUP(e1, e0, m1, m2, m3, m0, 1, 1, 1, 1);
        SHA1_GROUP(e0, e1, m2, m3, m0, m1, 1, 1, 1, 1);
        SHA1_GROUP(e1, e0, m3, m0, m1, m2, 1, 1, 1, 1);
        SHA1_GROUP(e0, e1, m0, m1, m2, m3, 1, 1, 1, 1);
        SHA1_GROUP(e1, e0, m1, m2, m3, m0, 1, 1, 1, 1); /* rounds 36-39 */
        SHA1_GROUP(e0, e1, m2, m3, m0, m1, 2, 1, 1, 1);
        SHA1_GROUP(e1, e0, m3, m0, m1, m2, 2, 1, 1, 1);
        SHA1_GROUP(e0, e1, m0, m1, m2, m3, 2, 1, 1, 1);
        SHA1_GROUP(e1, e0, m1, m2, m3, m0, 2, 1, 1, 1);
        SHA1_GROUP(e0, e1, m2, m3, m0, m1, 2, 1, 1, 1); /* rounds 56-59 */
        SHA1_GROUP(e1, e0, m3, m0, m1, m2, 3, 1, 1, 1);
        SHA1_GROUP(e0, e1, m0, m1, m2, m3, 3, 1, 1, 1);
        SHA1_GROUP(e1, e0, m1, m2, m3, m0, 3, 1, 0, 1);
        SHA1_GROUP(e0, e1, m2, m3, m0, m1, 3, 1, 0, 0);
        SHA1_GROUP(e1, e0, m3, m0, m1, m2, 3, 0, 0, 0); /* rounds 76-79 */
        e0 = _mm_sha1nexte_epu32(e0, e_save);
        abcd = _mm_add_epi32(abcd, abcd_save);
        data += 64;
    }
    _mm_storeu_si128((__m128i *)state, _mm_shuffle_epi32(abcd, 0x1B));
    state[4] = (uint32_t)_mm_extract_epi32(e0, 3);
}

#endif

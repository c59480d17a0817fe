/* zcrypto: the C crypto core over mbedTLS; see zcrypto.h. */
#include "zcrypto.h"

#include <string.h>

#include "mbedtls/version.h"
#include "mbedtls/bignum.h"
#include "mbedtls/ecp.h"
#include "mbedtls/md.h"
#include "mbedtls/sha256.h"
#include "mbedtls/sha512.h"

/* mbedTLS 3 dropped the _ret suffix that 2.x uses for the returning variants. */
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
#define MB_SHA1_STARTS mbedtls_sha1_starts
#define MB_SHA1_UPDATE mbedtls_sha1_update
#define MB_SHA1_FINISH mbedtls_sha1_finish
#define MB_SHA1 mbedtls_sha1
#define MB_SHA256 mbedtls_sha256
#define MB_SHA512 mbedtls_sha512
#else
#define MB_SHA1_STARTS mbedtls_sha1_starts_ret
#define MB_SHA1_UPDATE mbedtls_sha1_update_ret
#define MB_SHA1_FINISH mbedtls_sha1_finish_ret
#define MB_SHA1 mbedtls_sha1_ret
#define MB_SHA256 mbedtls_sha256_ret
#define MB_SHA512 mbedtls_sha512_ret
#endif

/* ---- hashes and HMAC ------------------------------------------------------------------------ */

size_t zc_digest_size(int alg) {
    return alg == ZC_SHA1 ? 20 : alg == ZC_SHA256 ? 32 : alg == ZC_SHA384 ? 48 : 0;
}

int zc_hash(int alg, const uint8_t *data, size_t len, uint8_t *out) {
    switch (alg) {
        case ZC_SHA1: return MB_SHA1(data, len, out) ? ZC_ERR_CRYPTO : ZC_OK;
        case ZC_SHA256: return MB_SHA256(data, len, out, 0) ? ZC_ERR_CRYPTO : ZC_OK;
        case ZC_SHA384: {
            uint8_t full[64];
            if (MB_SHA512(data, len, full, 1)) return ZC_ERR_CRYPTO;
            memcpy(out, full, 48);
            return ZC_OK;
        }
    }
    return ZC_ERR_ARG;
}

static const mbedtls_md_info_t *md_info(int alg) {
    switch (alg) {
        case ZC_SHA1: return mbedtls_md_info_from_type(MBEDTLS_MD_SHA1);
        case ZC_SHA256: return mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);
        case ZC_SHA384: return mbedtls_md_info_from_type(MBEDTLS_MD_SHA384);
    }
    return NULL;
}

int zc_hmac(int alg, const uint8_t *key, size_t klen, const uint8_t *data, size_t len, uint8_t *out) {
    const mbedtls_md_info_t *info = md_info(alg);
    if (info == NULL) return ZC_ERR_ARG;
    return mbedtls_md_hmac(info, key, klen, data, len, out) ? ZC_ERR_CRYPTO : ZC_OK;
}

/* ---- AES ------------------------------------------------------------------------------------ */

static int aes_setkey(mbedtls_aes_context *ctx, const uint8_t *key, size_t klen) {
    if (klen != 16 && klen != 32) return ZC_ERR_ARG;
    mbedtls_aes_init(ctx);
    return mbedtls_aes_setkey_enc(ctx, key, (unsigned)(klen * 8)) ? ZC_ERR_CRYPTO : ZC_OK;
}

int zc_aes_ecb(const uint8_t *key, size_t klen, const uint8_t in[16], uint8_t out[16]) {
    mbedtls_aes_context ctx;
    int r = aes_setkey(&ctx, key, klen);
    if (r == ZC_OK && mbedtls_aes_crypt_ecb(&ctx, MBEDTLS_AES_ENCRYPT, in, out)) r = ZC_ERR_CRYPTO;
    mbedtls_aes_free(&ctx);
    return r;
}

int zc_aes_ctr(const uint8_t *key, size_t klen, const uint8_t iv[16], const uint8_t *in, uint8_t *out, size_t len) {
    mbedtls_aes_context ctx;
    uint8_t counter[16], stream[16];
    size_t off = 0;
    int r = aes_setkey(&ctx, key, klen);
    memcpy(counter, iv, 16);
    /* SP 800-38A CTR: mbedTLS increments the whole 128-bit block big-endian */
    if (r == ZC_OK && mbedtls_aes_crypt_ctr(&ctx, len, &off, counter, stream, in, out)) r = ZC_ERR_CRYPTO;
    mbedtls_aes_free(&ctx);
    return r;
}

int zc_aes_cfb(const uint8_t *key, size_t klen, const uint8_t iv[16], const uint8_t *in, uint8_t *out, size_t len,
               int decrypt) {
    mbedtls_aes_context ctx;
    uint8_t reg[16];
    size_t off = 0;
    int r = aes_setkey(&ctx, key, klen);
    memcpy(reg, iv, 16);
    /* CFB-128 only ever uses the forward cipher, so the encryption key schedule serves both ways */
    if (r == ZC_OK && mbedtls_aes_crypt_cfb128(&ctx, decrypt ? MBEDTLS_AES_DECRYPT : MBEDTLS_AES_ENCRYPT, len, &off,
                                               reg, in, out))
        r = ZC_ERR_CRYPTO;
    mbedtls_aes_free(&ctx);
    return r;
}

/* ---- CRC-32C (RFC 3720 B.4), slicing by 4 over a table built on first use --------------------- */

static uint32_t crc_table[4][256];
static int crc_ready;

static void crc_init(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0x82F63B78u & (0u - (c & 1u)));
        crc_table[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = crc_table[0][i];
        for (int t = 1; t < 4; t++) {
            c = crc_table[0][c & 0xFF] ^ (c >> 8);
            crc_table[t][i] = c;
        }
    }
    crc_ready = 1;
}

uint32_t zc_crc32c(uint32_t crc, const uint8_t *p, size_t len) {
    if (!crc_ready) crc_init();
    uint32_t c = ~crc;
    while (len >= 4) {
        c ^= (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
        c = crc_table[3][c & 0xFF] ^ crc_table[2][(c >> 8) & 0xFF] ^ crc_table[1][(c >> 16) & 0xFF] ^
            crc_table[0][c >> 24];
        p += 4;
        len -= 4;
    }
    while (len--) c = crc_table[0][(c ^ *p++) & 0xFF] ^ (c >> 8);
    return ~c;
}

/* ---- SRTP transform ------------------------------------------------------------------------- */

int zc_srtp_init(zc_srtp *t, const uint8_t *key, size_t klen, const uint8_t salt[14], const uint8_t auth[20],
                 int tag_len) {
    uint8_t pad[64];
    if ((klen != 16 && klen != 32) || (tag_len != 4 && tag_len != 10)) return ZC_ERR_ARG;
    memset(t, 0, sizeof *t);
    if (aes_setkey(&t->aes, key, klen)) return ZC_ERR_CRYPTO;
    memcpy(t->salt, salt, 14);
    t->tag_len = tag_len;
    mbedtls_sha1_init(&t->inner);
    mbedtls_sha1_init(&t->outer);
    /* RFC 2104: the key (20 bytes, shorter than the block) padded with zeros, XOR ipad / opad */
    memset(pad, 0x36, sizeof pad);
    for (int i = 0; i < 20; i++) pad[i] ^= auth[i];
    if (MB_SHA1_STARTS(&t->inner) || MB_SHA1_UPDATE(&t->inner, pad, 64)) return ZC_ERR_CRYPTO;
    memset(pad, 0x5C, sizeof pad);
    for (int i = 0; i < 20; i++) pad[i] ^= auth[i];
    if (MB_SHA1_STARTS(&t->outer) || MB_SHA1_UPDATE(&t->outer, pad, 64)) return ZC_ERR_CRYPTO;
    memset(pad, 0, sizeof pad);
    return ZC_OK;
}

void zc_srtp_free(zc_srtp *t) {
    mbedtls_aes_free(&t->aes);
    mbedtls_sha1_free(&t->inner);
    mbedtls_sha1_free(&t->outer);
    memset(t, 0, sizeof *t);
}

static int srtp_crypt(zc_srtp *t, uint8_t *p, size_t len, uint32_t ssrc, uint64_t index) {
    /* IV = (k_s * 2^16) XOR (SSRC * 2^64) XOR (i * 2^16), RFC 3711 section 4.1.1 */
    uint8_t ctr[16], ks[16];
    memcpy(ctr, t->salt, 14);
    ctr[14] = ctr[15] = 0;
    for (int i = 0; i < 4; i++) ctr[4 + i] ^= (uint8_t)(ssrc >> (24 - 8 * i));
    for (int i = 0; i < 6; i++) ctr[8 + i] ^= (uint8_t)(index >> (40 - 8 * i));
    while (len) {
        size_t n = len < 16 ? len : 16;
        if (mbedtls_aes_crypt_ecb(&t->aes, MBEDTLS_AES_ENCRYPT, ctr, ks)) return ZC_ERR_CRYPTO;
        for (size_t i = 0; i < n; i++) p[i] ^= ks[i];
        p += n;
        len -= n;
        if (++ctr[15] == 0) ++ctr[14]; /* the 16-bit block counter */
    }
    return ZC_OK;
}

static int srtp_tag(zc_srtp *t, const uint8_t *buf, size_t auth_end, int64_t suffix, uint8_t mac[20]) {
    mbedtls_sha1_context c;
    uint8_t s[4];
    int bad = 0;
    mbedtls_sha1_init(&c);
    mbedtls_sha1_clone(&c, &t->inner);
    bad |= MB_SHA1_UPDATE(&c, buf, auth_end);
    if (suffix >= 0) {
        s[0] = (uint8_t)(suffix >> 24), s[1] = (uint8_t)(suffix >> 16), s[2] = (uint8_t)(suffix >> 8);
        s[3] = (uint8_t)suffix;
        bad |= MB_SHA1_UPDATE(&c, s, 4);
    }
    bad |= MB_SHA1_FINISH(&c, mac);
    mbedtls_sha1_clone(&c, &t->outer);
    bad |= MB_SHA1_UPDATE(&c, mac, 20);
    bad |= MB_SHA1_FINISH(&c, mac);
    mbedtls_sha1_free(&c);
    return bad ? ZC_ERR_CRYPTO : ZC_OK;
}

static int srtp_span(const zc_srtp *t, size_t size, size_t enc_start, size_t enc_end, size_t auth_end) {
    if (!(enc_start <= enc_end && enc_end <= auth_end)) return ZC_ERR_SPAN;
    if (auth_end + (size_t)t->tag_len > size) return ZC_ERR_ROOM;
    return ZC_OK;
}

long zc_srtp_protect(zc_srtp *t, uint8_t *buf, size_t size, size_t enc_start, size_t enc_end, size_t auth_end,
                     uint32_t ssrc, uint64_t index, int64_t suffix) {
    uint8_t mac[20];
    int r = srtp_span(t, size, enc_start, enc_end, auth_end);
    if (r) return r;
    if ((r = srtp_crypt(t, buf + enc_start, enc_end - enc_start, ssrc, index))) return r;
    if ((r = srtp_tag(t, buf, auth_end, suffix, mac))) return r;
    memcpy(buf + auth_end, mac, (size_t)t->tag_len);
    return (long)(auth_end + (size_t)t->tag_len);
}

int zc_srtp_unprotect(zc_srtp *t, uint8_t *buf, size_t size, size_t enc_start, size_t enc_end, size_t auth_end,
                      uint32_t ssrc, uint64_t index, int64_t suffix) {
    uint8_t mac[20], diff = 0;
    int r = srtp_span(t, size, enc_start, enc_end, auth_end);
    if (r) return r;
    if ((r = srtp_tag(t, buf, auth_end, suffix, mac))) return r;
    for (int i = 0; i < t->tag_len; i++) diff |= (uint8_t)(mac[i] ^ buf[auth_end + (size_t)i]); /* constant time */
    if (diff) return 0;
    if ((r = srtp_crypt(t, buf + enc_start, enc_end - enc_start, ssrc, index))) return r;
    return 1;
}

/* ---- a small deterministic RNG for mbedTLS's blinding: SHA-256(seed || counter) --------------- */

typedef struct {
    uint8_t seed[32];
    uint32_t counter;
} zc_rng;

static int rng_fill(void *p, unsigned char *out, size_t len) {
    zc_rng *r = (zc_rng *)p;
    uint8_t block[36], h[32];
    memcpy(block, r->seed, 32);
    while (len) {
        size_t n = len < 32 ? len : 32;
        block[32] = (uint8_t)(r->counter >> 24), block[33] = (uint8_t)(r->counter >> 16);
        block[34] = (uint8_t)(r->counter >> 8), block[35] = (uint8_t)r->counter;
        r->counter++;
        if (MB_SHA256(block, sizeof block, h, 0)) return -1;
        memcpy(out, h, n);
        out += n;
        len -= n;
    }
    return 0;
}

static void rng_init(zc_rng *r, const uint8_t *seed, size_t seedlen) {
    memset(r, 0, sizeof *r);
    MB_SHA256(seed, seedlen, r->seed, 0);
}

/* ---- DH (RFC 3526 groups 14 and 15) ----------------------------------------------------------- */

static const char P2048_HEX[] =
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DD"
    "EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED"
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F"
    "83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B"
    "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF6955817183995497CEA956AE515D2261898FA0510"
    "15728E5A8AACAA68FFFFFFFFFFFFFFFF";
static const char P3072_HEX[] =
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DD"
    "EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED"
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F"
    "83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B"
    "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF6955817183995497CEA956AE515D2261898FA0510"
    "15728E5A8AAAC42DAD33170D04507A33A85521ABDF1CBA64ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7"
    "ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6BF12FFA06D98A0864D87602733EC86A64521F2B18177B200C"
    "BBE117577A615D6C770988C0BAD946E208E24FA074E5AB3143DB5BFCE0FD108E4B82D120A93AD2CAFFFFFFFFFFFFFFFF";

/* The primes and their Montgomery constants R^2 mod p, made once and kept. */
static mbedtls_mpi dh_p[2], dh_rr[2];
static int dh_ready[2];

size_t zc_dh_size(int group) {
    return group == ZC_DH2K ? 256 : group == ZC_DH3K ? 384 : 0;
}

int zc_dh(int group, const uint8_t *base, size_t blen, const uint8_t *exp, size_t elen, uint8_t *out) {
    size_t size = zc_dh_size(group);
    if (!size) return ZC_ERR_ARG;
    int g = group - 1, r = ZC_OK;
    if (!dh_ready[g]) {
        mbedtls_mpi_init(&dh_p[g]);
        mbedtls_mpi_init(&dh_rr[g]);
        if (mbedtls_mpi_read_string(&dh_p[g], 16, g ? P3072_HEX : P2048_HEX)) return ZC_ERR_CRYPTO;
        dh_ready[g] = 1;
    }
    mbedtls_mpi B, E, X;
    mbedtls_mpi_init(&B), mbedtls_mpi_init(&E), mbedtls_mpi_init(&X);
    if ((base ? mbedtls_mpi_read_binary(&B, base, blen) : mbedtls_mpi_lset(&B, 2)) ||
        mbedtls_mpi_read_binary(&E, exp, elen) || mbedtls_mpi_exp_mod(&X, &B, &E, &dh_p[g], &dh_rr[g]) ||
        mbedtls_mpi_write_binary(&X, out, size))
        r = ZC_ERR_CRYPTO;
    mbedtls_mpi_free(&B), mbedtls_mpi_free(&E), mbedtls_mpi_free(&X);
    return r;
}

/* ---- ECDH over P-256 / P-384 and X25519 ----------------------------------------------------- */

size_t zc_ec_size(int curve) {
    return curve == ZC_P256 ? 32 : curve == ZC_P384 ? 48 : 0;
}

/* The curves are loaded once and kept: mbedTLS also keeps its precomputed multiples of G in the
 * group, which makes key generation after the first several times faster. */
static mbedtls_ecp_group ec_groups[2];
static int ec_ready[2];

int zc_ec_mul(int curve, const uint8_t *scalar, size_t slen, const uint8_t *point, uint8_t *out,
              const uint8_t *seed, size_t seedlen) {
    size_t n = zc_ec_size(curve), olen = 0;
    if (!n) return ZC_ERR_ARG;
    int c = curve - 1;
    if (!ec_ready[c]) {
        mbedtls_ecp_group_init(&ec_groups[c]);
        if (mbedtls_ecp_group_load(&ec_groups[c], c ? MBEDTLS_ECP_DP_SECP384R1 : MBEDTLS_ECP_DP_SECP256R1)) {
            mbedtls_ecp_group_free(&ec_groups[c]);
            return ZC_ERR_CRYPTO;
        }
        ec_ready[c] = 1;
    }
    mbedtls_ecp_group *grp = &ec_groups[c];
    uint8_t enc[1 + 2 * 48];
    mbedtls_ecp_point P, R;
    mbedtls_mpi d;
    zc_rng rng;
    int r = ZC_OK;
    rng_init(&rng, seed, seedlen);
    mbedtls_ecp_point_init(&P), mbedtls_ecp_point_init(&R), mbedtls_mpi_init(&d);
    if (mbedtls_mpi_read_binary(&d, scalar, slen)) {
        r = ZC_ERR_CRYPTO;
        goto done;
    }
    if (point) {
        enc[0] = 0x04; /* SEC 1 uncompressed: 04 || x || y */
        memcpy(enc + 1, point, 2 * n);
        if (mbedtls_ecp_point_read_binary(grp, &P, enc, 1 + 2 * n) || mbedtls_ecp_check_pubkey(grp, &P)) {
            r = ZC_ERR_POINT;
            goto done;
        }
    }
    if (mbedtls_ecp_mul(grp, &R, &d, point ? &P : &grp->G, rng_fill, &rng) ||
        mbedtls_ecp_point_write_binary(grp, &R, MBEDTLS_ECP_PF_UNCOMPRESSED, &olen, enc, sizeof enc) ||
        olen != 1 + 2 * n) {
        r = ZC_ERR_CRYPTO;
        goto done;
    }
    memcpy(out, enc + 1, 2 * n);
done:
    mbedtls_ecp_point_free(&P), mbedtls_ecp_point_free(&R), mbedtls_mpi_free(&d);
    memset(&rng, 0, sizeof rng);
    return r;
}

#if defined(__SIZEOF_INT128__) && !defined(ZC_X25519_MBEDTLS)
/* X25519 in radix 2^51 (five 64-bit limbs, 128-bit products): the RFC 7748 section 5 ladder
 * with a constant-time conditional swap, and inversion by Fermat (z^(p-2)). */
typedef uint64_t fe[5];
typedef unsigned __int128 u128;
#define M51 0x7ffffffffffffULL

static uint64_t ld64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

static void fe_frombytes(fe h, const uint8_t s[32]) {
    uint64_t t0 = ld64(s), t1 = ld64(s + 8), t2 = ld64(s + 16), t3 = ld64(s + 24);
    h[0] = t0 & M51;
    h[1] = ((t0 >> 51) | (t1 << 13)) & M51;
    h[2] = ((t1 >> 38) | (t2 << 26)) & M51;
    h[3] = ((t2 >> 25) | (t3 << 39)) & M51;
    h[4] = (t3 >> 12) & M51; /* the top bit of u is masked (RFC 7748 section 5) */
}

static void fe_carry(fe t) {
    t[1] += t[0] >> 51, t[0] &= M51;
    t[2] += t[1] >> 51, t[1] &= M51;
    t[3] += t[2] >> 51, t[2] &= M51;
    t[4] += t[3] >> 51, t[3] &= M51;
    t[0] += 19 * (t[4] >> 51), t[4] &= M51;
}

static void fe_tobytes(uint8_t s[32], const fe f) {
    fe t;
    memcpy(t, f, sizeof t);
    fe_carry(t);
    fe_carry(t);
    /* t < 2^255 + small; subtract p once if t >= p: q = 1 exactly when t + 19 >= 2^255 */
    uint64_t q = (t[0] + 19) >> 51;
    q = (t[1] + q) >> 51;
    q = (t[2] + q) >> 51;
    q = (t[3] + q) >> 51;
    q = (t[4] + q) >> 51;
    t[0] += 19 * q;
    t[1] += t[0] >> 51, t[0] &= M51;
    t[2] += t[1] >> 51, t[1] &= M51;
    t[3] += t[2] >> 51, t[2] &= M51;
    t[4] += t[3] >> 51, t[3] &= M51;
    t[4] &= M51;
    uint64_t w[4] = {t[0] | (t[1] << 51), (t[1] >> 13) | (t[2] << 38), (t[2] >> 26) | (t[3] << 25),
                     (t[3] >> 39) | (t[4] << 12)};
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 8; j++) s[8 * i + j] = (uint8_t)(w[i] >> (8 * j));
}

static void fe_add(fe h, const fe f, const fe g) {
    for (int i = 0; i < 5; i++) h[i] = f[i] + g[i];
}

static void fe_sub(fe h, const fe f, const fe g) {
    /* add 4p so that no limb goes negative (inputs are below 2^54) */
    h[0] = f[0] + 0x1fffffffffffb4ULL - g[0];
    for (int i = 1; i < 5; i++) h[i] = f[i] + 0x1ffffffffffffcULL - g[i];
    fe_carry(h);
}

static void fe_mul(fe h, const fe f, const fe g) {
    uint64_t g1 = 19 * g[1], g2 = 19 * g[2], g3 = 19 * g[3], g4 = 19 * g[4];
    u128 r0 = (u128)f[0] * g[0] + (u128)f[1] * g4 + (u128)f[2] * g3 + (u128)f[3] * g2 + (u128)f[4] * g1;
    u128 r1 = (u128)f[0] * g[1] + (u128)f[1] * g[0] + (u128)f[2] * g4 + (u128)f[3] * g3 + (u128)f[4] * g2;
    u128 r2 = (u128)f[0] * g[2] + (u128)f[1] * g[1] + (u128)f[2] * g[0] + (u128)f[3] * g4 + (u128)f[4] * g3;
    u128 r3 = (u128)f[0] * g[3] + (u128)f[1] * g[2] + (u128)f[2] * g[1] + (u128)f[3] * g[0] + (u128)f[4] * g4;
    u128 r4 = (u128)f[0] * g[4] + (u128)f[1] * g[3] + (u128)f[2] * g[2] + (u128)f[3] * g[1] + (u128)f[4] * g[0];
    r1 += (uint64_t)(r0 >> 51);
    r2 += (uint64_t)(r1 >> 51);
    r3 += (uint64_t)(r2 >> 51);
    r4 += (uint64_t)(r3 >> 51);
    uint64_t c = (uint64_t)(r4 >> 51);
    h[0] = ((uint64_t)r0 & M51) + 19 * c;
    h[1] = ((uint64_t)r1 & M51) + (h[0] >> 51);
    h[0] &= M51;
    h[2] = (uint64_t)r2 & M51;
    h[3] = (uint64_t)r3 & M51;
    h[4] = (uint64_t)r4 & M51;
}

static void fe_sq(fe h, const fe f) {
    /* fe_mul(h, f, f) with the symmetric products merged: 15 multiplications instead of 25 */
    uint64_t d0 = 2 * f[0], d1 = 2 * f[1], d2 = 2 * f[2], d3 = 2 * f[3], f3_19 = 19 * f[3], f4_19 = 19 * f[4];
    u128 r0 = (u128)f[0] * f[0] + (u128)d1 * f4_19 + (u128)d2 * f3_19;
    u128 r1 = (u128)d0 * f[1] + (u128)d2 * f4_19 + (u128)f[3] * f3_19;
    u128 r2 = (u128)d0 * f[2] + (u128)f[1] * f[1] + (u128)d3 * f4_19;
    u128 r3 = (u128)d0 * f[3] + (u128)d1 * f[2] + (u128)f[4] * f4_19;
    u128 r4 = (u128)d0 * f[4] + (u128)d1 * f[3] + (u128)f[2] * f[2];
    r1 += (uint64_t)(r0 >> 51);
    r2 += (uint64_t)(r1 >> 51);
    r3 += (uint64_t)(r2 >> 51);
    r4 += (uint64_t)(r3 >> 51);
    uint64_t c = (uint64_t)(r4 >> 51);
    h[0] = ((uint64_t)r0 & M51) + 19 * c;
    h[1] = ((uint64_t)r1 & M51) + (h[0] >> 51);
    h[0] &= M51;
    h[2] = (uint64_t)r2 & M51;
    h[3] = (uint64_t)r3 & M51;
    h[4] = (uint64_t)r4 & M51;
}

static void fe_mul_a24(fe h, const fe f) {
    /* (A - 2) / 4 = 121665, RFC 7748 section 5 */
    u128 r[5];
    for (int i = 0; i < 5; i++) r[i] = (u128)f[i] * 121665;
    for (int i = 0; i < 4; i++) r[i + 1] += (uint64_t)(r[i] >> 51), r[i] = (uint64_t)r[i] & M51;
    uint64_t c = (uint64_t)(r[4] >> 51);
    r[4] = (uint64_t)r[4] & M51;
    h[0] = (uint64_t)r[0] + 19 * c;
    h[1] = (uint64_t)r[1] + (h[0] >> 51);
    h[0] &= M51;
    h[2] = (uint64_t)r[2], h[3] = (uint64_t)r[3], h[4] = (uint64_t)r[4];
}

static void fe_sqn(fe h, const fe f, int n) {
    fe_sq(h, f);
    while (--n) fe_sq(h, h);
}

static void fe_invert(fe out, const fe z) {
    /* z^(p-2) = z^(2^255 - 21), the usual addition chain */
    fe z2, z9, z11, a, b, c;
    fe_sq(z2, z);
    fe_sqn(a, z2, 2);
    fe_mul(z9, a, z);
    fe_mul(z11, z9, z2);
    fe_sq(a, z11);
    fe_mul(a, a, z9);        /* 2^5 - 1 */
    fe_sqn(b, a, 5);
    fe_mul(a, b, a);         /* 2^10 - 1 */
    fe_sqn(b, a, 10);
    fe_mul(b, b, a);         /* 2^20 - 1 */
    fe_sqn(c, b, 20);
    fe_mul(b, c, b);         /* 2^40 - 1 */
    fe_sqn(b, b, 10);
    fe_mul(a, b, a);         /* 2^50 - 1 */
    fe_sqn(b, a, 50);
    fe_mul(b, b, a);         /* 2^100 - 1 */
    fe_sqn(c, b, 100);
    fe_mul(b, c, b);         /* 2^200 - 1 */
    fe_sqn(b, b, 50);
    fe_mul(b, b, a);         /* 2^250 - 1 */
    fe_sqn(b, b, 5);
    fe_mul(out, b, z11);     /* 2^255 - 32 + 11 */
}

static void fe_cswap(fe f, fe g, uint64_t swap) {
    uint64_t mask = 0 - swap;
    for (int i = 0; i < 5; i++) {
        uint64_t x = mask & (f[i] ^ g[i]);
        f[i] ^= x, g[i] ^= x;
    }
}

static void x25519_ladder(uint8_t out[32], const uint8_t k[32], const uint8_t u[32]) {
    fe x1, x2 = {1}, z2 = {0}, x3, z3 = {1}, A, AA, B, BB, E, C, D, DA, CB, t;
    uint64_t swap = 0;
    fe_frombytes(x1, u);
    memcpy(x3, x1, sizeof x3);
    for (int i = 254; i >= 0; i--) {
        uint64_t kt = (k[i >> 3] >> (i & 7)) & 1;
        swap ^= kt;
        fe_cswap(x2, x3, swap);
        fe_cswap(z2, z3, swap);
        swap = kt;
        fe_add(A, x2, z2);
        fe_sq(AA, A);
        fe_sub(B, x2, z2);
        fe_sq(BB, B);
        fe_sub(E, AA, BB);
        fe_add(C, x3, z3);
        fe_sub(D, x3, z3);
        fe_mul(DA, D, A);
        fe_mul(CB, C, B);
        fe_add(t, DA, CB);
        fe_sq(x3, t);
        fe_sub(t, DA, CB);
        fe_sq(t, t);
        fe_mul(z3, x1, t);
        fe_mul(x2, AA, BB);
        fe_mul_a24(t, E);
        fe_add(t, t, AA);
        fe_mul(z2, E, t);
    }
    fe_cswap(x2, x3, swap);
    fe_cswap(z2, z3, swap);
    fe_invert(z2, z2);
    fe_mul(x2, x2, z2);
    fe_tobytes(out, x2);
}

int zc_x25519(const uint8_t scalar[32], const uint8_t u[32], uint8_t out[32], const uint8_t *seed, size_t seedlen) {
    uint8_t k[32], z = 0;
    (void)seed, (void)seedlen; /* the ladder is constant-time by construction: no blinding */
    memcpy(k, scalar, 32);
    k[0] &= 248, k[31] &= 127, k[31] |= 64;
    x25519_ladder(out, k, u);
    memset(k, 0, sizeof k);
    for (int i = 0; i < 32; i++) z |= out[i];
    return z ? ZC_OK : ZC_ERR_ZERO;
}

#else /* no 128-bit integers (32-bit boards): mbedTLS's Curve25519 */

int zc_x25519(const uint8_t scalar[32], const uint8_t u[32], uint8_t out[32], const uint8_t *seed, size_t seedlen) {
    uint8_t k[32], uc[32], z = 0;
    mbedtls_ecp_group grp;
    mbedtls_ecp_point P, R;
    mbedtls_mpi d;
    zc_rng rng;
    int r = ZC_OK;
    size_t olen = 0;
    /* RFC 7748 section 5: clamp the scalar, mask the top bit of u (little-endian both) */
    memcpy(k, scalar, 32);
    k[0] &= 248, k[31] &= 127, k[31] |= 64;
    memcpy(uc, u, 32);
    uc[31] &= 127;
    rng_init(&rng, seed, seedlen);
    mbedtls_ecp_group_init(&grp), mbedtls_ecp_point_init(&P), mbedtls_ecp_point_init(&R), mbedtls_mpi_init(&d);
    if (mbedtls_ecp_group_load(&grp, MBEDTLS_ECP_DP_CURVE25519) || mbedtls_mpi_read_binary_le(&d, k, 32) ||
        mbedtls_ecp_point_read_binary(&grp, &P, uc, 32)) {
        r = ZC_ERR_CRYPTO;
        goto done;
    }
    /* A small-order u leaves the ladder at Z = 0, which mbedTLS reports as a failed inversion:
     * that is the all-zero result of RFC 7748 section 6.1. */
    if (mbedtls_ecp_mul(&grp, &R, &d, &P, rng_fill, &rng) ||
        mbedtls_ecp_point_write_binary(&grp, &R, MBEDTLS_ECP_PF_UNCOMPRESSED, &olen, out, 32) || olen != 32) {
        memset(out, 0, 32);
        r = ZC_ERR_ZERO;
        goto done;
    }
    for (int i = 0; i < 32; i++) z |= out[i];
    if (!z) r = ZC_ERR_ZERO;
done:
    mbedtls_ecp_group_free(&grp), mbedtls_ecp_point_free(&P), mbedtls_ecp_point_free(&R), mbedtls_mpi_free(&d);
    memset(k, 0, sizeof k);
    memset(&rng, 0, sizeof rng);
    return r;
}

#endif

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

int zc_ec_mul(int curve, const uint8_t *scalar, size_t slen, const uint8_t *point, uint8_t *out,
              const uint8_t *seed, size_t seedlen) {
    size_t n = zc_ec_size(curve), olen = 0;
    if (!n) return ZC_ERR_ARG;
    uint8_t enc[1 + 2 * 48];
    mbedtls_ecp_group grp;
    mbedtls_ecp_point P, R;
    mbedtls_mpi d;
    zc_rng rng;
    int r = ZC_OK;
    rng_init(&rng, seed, seedlen);
    mbedtls_ecp_group_init(&grp), mbedtls_ecp_point_init(&P), mbedtls_ecp_point_init(&R), mbedtls_mpi_init(&d);
    if (mbedtls_ecp_group_load(&grp, curve == ZC_P256 ? MBEDTLS_ECP_DP_SECP256R1 : MBEDTLS_ECP_DP_SECP384R1) ||
        mbedtls_mpi_read_binary(&d, scalar, slen)) {
        r = ZC_ERR_CRYPTO;
        goto done;
    }
    if (point) {
        enc[0] = 0x04; /* SEC 1 uncompressed: 04 || x || y */
        memcpy(enc + 1, point, 2 * n);
        if (mbedtls_ecp_point_read_binary(&grp, &P, enc, 1 + 2 * n) || mbedtls_ecp_check_pubkey(&grp, &P)) {
            r = ZC_ERR_POINT;
            goto done;
        }
    }
    if (mbedtls_ecp_mul(&grp, &R, &d, point ? &P : &grp.G, rng_fill, &rng) ||
        mbedtls_ecp_point_write_binary(&grp, &R, MBEDTLS_ECP_PF_UNCOMPRESSED, &olen, enc, sizeof enc) ||
        olen != 1 + 2 * n) {
        r = ZC_ERR_CRYPTO;
        goto done;
    }
    memcpy(out, enc + 1, 2 * n);
done:
    mbedtls_ecp_group_free(&grp), mbedtls_ecp_point_free(&P), mbedtls_ecp_point_free(&R), mbedtls_mpi_free(&d);
    memset(&rng, 0, sizeof rng);
    return r;
}

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

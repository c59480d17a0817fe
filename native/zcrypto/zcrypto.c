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
            int r = MB_SHA512(data, len, full, 1) ? ZC_ERR_CRYPTO : ZC_OK;
            if (r == ZC_OK) memcpy(out, full, 48);
            ZC_WIPE(full, sizeof full);
            return r;
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

/* CTR and CFB are built here on the block function, so the core needs no MBEDTLS_CIPHER_MODE_*
 * option (MicroPython's and ESP-IDF's mbedTLS configurations differ there). */
int zc_aes_ctr(const uint8_t *key, size_t klen, const uint8_t iv[16], const uint8_t *in, uint8_t *out, size_t len) {
    mbedtls_aes_context ctx;
    uint8_t counter[16], ks[16];
    int r = aes_setkey(&ctx, key, klen);
    memcpy(counter, iv, 16);
    while (r == ZC_OK && len) {
        size_t n = len < 16 ? len : 16;
        if (mbedtls_aes_crypt_ecb(&ctx, MBEDTLS_AES_ENCRYPT, counter, ks)) {
            r = ZC_ERR_CRYPTO;
            break;
        }
        for (size_t i = 0; i < n; i++) out[i] = in[i] ^ ks[i];
        in += n, out += n, len -= n;
        for (int i = 15; i >= 0 && ++counter[i] == 0; i--) { /* SP 800-38A: the whole block counts */
        }
    }
    mbedtls_aes_free(&ctx);
    ZC_WIPE(ks, sizeof ks);
    return r;
}

int zc_aes_cfb(const uint8_t *key, size_t klen, const uint8_t iv[16], const uint8_t *in, uint8_t *out, size_t len,
               int decrypt) {
    /* CFB-128, SP 800-38A section 6.3; only the forward cipher is ever used */
    mbedtls_aes_context ctx;
    uint8_t reg[16], ks[16];
    int r = aes_setkey(&ctx, key, klen);
    memcpy(reg, iv, 16);
    while (r == ZC_OK && len) {
        size_t n = len < 16 ? len : 16;
        if (mbedtls_aes_crypt_ecb(&ctx, MBEDTLS_AES_ENCRYPT, reg, ks)) {
            r = ZC_ERR_CRYPTO;
            break;
        }
        for (size_t i = 0; i < n; i++) {
            uint8_t c = decrypt ? in[i] : (uint8_t)(in[i] ^ ks[i]);
            out[i] = (uint8_t)(in[i] ^ ks[i]);
            reg[i] = c;
        }
        in += n, out += n, len -= n;
    }
    mbedtls_aes_free(&ctx);
    ZC_WIPE(ks, sizeof ks);
    ZC_WIPE(reg, sizeof reg);
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

/* x86-64: the CPU's features, found once; zc_x86_on is what the transforms may use. */
#if ZC_X86
static int zc_x86_found = -1, zc_x86_on;

static int x86_features(void) {
    if (zc_x86_found < 0) zc_x86_on = zc_x86_found = zc_x86_detect();
    return zc_x86_found;
}
#endif

int zc_cpu_features(int enable) {
#if ZC_X86
    int f = x86_features();
    if (enable >= 0) zc_x86_on = enable ? f : 0;
    return zc_x86_on;
#else
    (void)enable;
    return 0;
#endif
}

int zc_srtp_init(zc_srtp *t, const uint8_t *key, size_t klen, const uint8_t salt[14], const uint8_t auth[20],
                 int tag_len) {
    uint8_t pad[64];
    int r = ZC_ERR_CRYPTO;
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
    if (MB_SHA1_STARTS(&t->inner) || MB_SHA1_UPDATE(&t->inner, pad, 64)) goto done;
#if ZC_X86
    /* both paths get their state, so that zc_cpu_features() can switch between them */
    static const uint32_t sha1_iv[5] = {0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0};
    t->x86 = x86_features();
    if (t->x86 & ZC_X86_SHA) {
        memcpy(t->ih, sha1_iv, sizeof sha1_iv);
        zc_x86_sha1_blocks(t->ih, pad, 1);
    }
#endif
    memset(pad, 0x5C, sizeof pad);
    for (int i = 0; i < 20; i++) pad[i] ^= auth[i];
    if (MB_SHA1_STARTS(&t->outer) || MB_SHA1_UPDATE(&t->outer, pad, 64)) goto done;
#if ZC_X86
    if (t->x86 & ZC_X86_SHA) {
        memcpy(t->oh, sha1_iv, sizeof sha1_iv);
        zc_x86_sha1_blocks(t->oh, pad, 1);
    }
    if (t->x86 & ZC_X86_AES) t->nr = zc_x86_aes_expand(t->rk, key, klen);
#endif
    r = ZC_OK;
done:
    ZC_WIPE(pad, sizeof pad);
    return r;
}

void zc_srtp_free(zc_srtp *t) {
    mbedtls_aes_free(&t->aes);
    mbedtls_sha1_free(&t->inner);
    mbedtls_sha1_free(&t->outer);
    ZC_WIPE(t, sizeof *t);
}

static int srtp_crypt(zc_srtp *t, uint8_t *p, size_t len, uint32_t ssrc, uint64_t index) {
    /* IV = (k_s * 2^16) XOR (SSRC * 2^64) XOR (i * 2^16), RFC 3711 section 4.1.1 */
    uint8_t ctr[16], ks[16];
    memcpy(ctr, t->salt, 14);
    ctr[14] = ctr[15] = 0;
    for (int i = 0; i < 4; i++) ctr[4 + i] ^= (uint8_t)(ssrc >> (24 - 8 * i));
    for (int i = 0; i < 6; i++) ctr[8 + i] ^= (uint8_t)(index >> (40 - 8 * i));
#if ZC_X86
    if (t->x86 & zc_x86_on & ZC_X86_AES) {
        zc_x86_aes_cm(t->rk, t->nr, ctr, p, len);
        return ZC_OK;
    }
#endif
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

#if ZC_X86
static void be32_put(uint8_t *b, uint32_t v) {
    b[0] = (uint8_t)(v >> 24), b[1] = (uint8_t)(v >> 16), b[2] = (uint8_t)(v >> 8), b[3] = (uint8_t)v;
}

/* HMAC-SHA1 from the two pad states: the message's whole blocks straight from the buffer, then
 * its tail, the suffix and the padding (FIPS 180-4 section 5.1.1), then the outer block. */
static void srtp_tag_x86(const zc_srtp *t, const uint8_t *buf, size_t auth_end, int64_t suffix, uint8_t mac[20]) {
    uint32_t st[5];
    uint8_t blk[128];
    size_t whole = auth_end / 64, r = auth_end % 64;
    memcpy(st, t->ih, sizeof st);
    zc_x86_sha1_blocks(st, buf, whole);
    memcpy(blk, buf + 64 * whole, r);
    if (suffix >= 0) be32_put(blk + r, (uint32_t)suffix), r += 4;
    uint64_t bits = (uint64_t)(64 + auth_end + (suffix >= 0 ? 4 : 0)) * 8;
    blk[r++] = 0x80;
    size_t end = r + 8 <= 64 ? 64 : 128;
    memset(blk + r, 0, end - 8 - r);
    be32_put(blk + end - 8, (uint32_t)(bits >> 32));
    be32_put(blk + end - 4, (uint32_t)bits);
    zc_x86_sha1_blocks(st, blk, end / 64);
    for (int i = 0; i < 5; i++) be32_put(blk + 4 * i, st[i]);
    memset(blk + 20, 0, 44);
    blk[20] = 0x80;
    blk[62] = (84 * 8) >> 8, blk[63] = (84 * 8) & 0xFF; /* K ^ opad and the inner digest: 84 bytes */
    memcpy(st, t->oh, sizeof st);
    zc_x86_sha1_blocks(st, blk, 1);
    for (int i = 0; i < 5; i++) be32_put(mac + 4 * i, st[i]);
}
#endif

static int srtp_tag(zc_srtp *t, const uint8_t *buf, size_t auth_end, int64_t suffix, uint8_t mac[20]) {
#if ZC_X86
    if (t->x86 & zc_x86_on & ZC_X86_SHA) {
        srtp_tag_x86(t, buf, auth_end, suffix, mac);
        return ZC_OK;
    }
#endif
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

/* ---- the in-order fast path of an SRTP session ----------------------------------------------- */

void zc_stream_init(zc_stream *s, uint32_t ssrc, uint64_t index) {
    memset(s, 0, sizeof *s);
    s->ssrc = ssrc;
    s->highest = index;
    unsigned pos = (unsigned)(index % ZC_REPLAY_WINDOW);
    s->window[pos >> 3] = (uint8_t)(1u << (pos & 7));
}

int zc_stream_check(const zc_stream *s, uint64_t index) {
    if (index > s->highest) return 0;
    if (s->highest - index >= ZC_REPLAY_WINDOW) return 2;
    unsigned pos = (unsigned)(index % ZC_REPLAY_WINDOW);
    return (s->window[pos >> 3] >> (pos & 7)) & 1;
}

void zc_stream_add(zc_stream *s, uint64_t index) {
    if (index > s->highest) {
        if (index - s->highest >= ZC_REPLAY_WINDOW) {
            memset(s->window, 0, sizeof s->window);
        } else {
            for (uint64_t i = s->highest + 1; i < index; i++) {
                unsigned pos = (unsigned)(i % ZC_REPLAY_WINDOW);
                s->window[pos >> 3] &= (uint8_t)~(1u << (pos & 7));
            }
        }
        s->highest = index;
    }
    unsigned pos = (unsigned)(index % ZC_REPLAY_WINDOW);
    s->window[pos >> 3] |= (uint8_t)(1u << (pos & 7));
}

int64_t zc_srtp_next(const zc_srtp *t, const zc_stream *s, const uint8_t *p, size_t length, int unprotect) {
    if (length < 12 + (unprotect ? (size_t)t->tag_len : 0) || p[0] != 0x80) return -1;
    uint32_t ssrc = ((uint32_t)p[8] << 24) | ((uint32_t)p[9] << 16) | ((uint32_t)p[10] << 8) | p[11];
    uint64_t index = s->highest + 1;
    /* RFC 3711 Appendix A gives highest + 1 for the next sequence number, and that index cannot
     * have been used: the window only gains its bit */
    if (ssrc != s->ssrc || index >> 48 || (index & 0xFFFF) != (((unsigned)p[2] << 8) | p[3])) return -1;
    return (int64_t)index;
}

static void stream_next(zc_stream *s, uint64_t index) {
    unsigned pos = (unsigned)(index % ZC_REPLAY_WINDOW);
    s->highest = index;
    s->window[pos >> 3] |= (uint8_t)(1u << (pos & 7));
}

long zc_srtp_seal_next(zc_srtp *t, zc_stream *s, const uint8_t *in, size_t length, int64_t index, uint8_t *out) {
    if (out != in) memcpy(out, in, length);
    long n = zc_srtp_protect(t, out, length + (size_t)t->tag_len, 12, length, length, s->ssrc, (uint64_t)index,
                             index >> 16);
    if (n >= 0) stream_next(s, (uint64_t)index);
    return n;
}

long zc_srtp_open_next(zc_srtp *t, zc_stream *s, const uint8_t *in, size_t length, int64_t index, uint8_t *out) {
    size_t auth_end = length - (size_t)t->tag_len;
    uint8_t mac[20], diff = 0;
    int r = srtp_tag(t, in, auth_end, index >> 16, mac);
    if (r) return r;
    for (int i = 0; i < t->tag_len; i++) diff |= (uint8_t)(mac[i] ^ in[auth_end + (size_t)i]); /* constant time */
    if (diff) return ZC_ERR_AUTH;
    if (out != in) memcpy(out, in, auth_end);
    if ((r = srtp_crypt(t, out + 12, auth_end - 12, s->ssrc, (uint64_t)index))) return r;
    stream_next(s, (uint64_t)index);
    return (long)auth_end;
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
    ZC_WIPE(block, sizeof block);
    ZC_WIPE(h, sizeof h);
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

size_t zc_dh_size(int group) {
    return group == ZC_DH2K ? 256 : group == ZC_DH3K ? 384 : 0;
}

#if defined(__SIZEOF_INT128__) && !defined(ZC_DH_MBEDTLS)
/* Montgomery exponentiation in 64-bit limbs: 4-bit fixed windows (every window does the same
 * work whatever its value), CIOS multiplication with a constant-time table lookup of the base's
 * powers, a dedicated squaring (each cross product once), and for the generator 2 a shift by the
 * window's value instead of a multiplication. On a PC that takes about half the time of mbedTLS
 * 2.28's bignum for a key pair and three quarters for a shared secret. Boards (no 128-bit
 * integers) use mbedTLS, which drives the ESP32's bignum accelerator. */
#define DH_MAXN 48
typedef unsigned __int128 dh_u128;

typedef struct {
    int n;                 /* limbs */
    uint64_t p[DH_MAXN];   /* little-endian limbs */
    uint64_t one[DH_MAXN]; /* R mod p, R = 2^(64n); also 2^(64n) - p, as p > 2^(64n-1) */
    uint64_t rr[DH_MAXN];  /* R^2 mod p */
    uint64_t n0;           /* -p^-1 mod 2^64 */
} dh_group;

static dh_group dh_groups[2];
static int dh_ready[2];

static void be_to_limbs(uint64_t *x, int n, const uint8_t *b, size_t len) {
    memset(x, 0, (size_t)n * 8);
    for (size_t i = 0; i < len && i < (size_t)n * 8; i++) x[i / 8] |= (uint64_t)b[len - 1 - i] << (8 * (i % 8));
}

static void limbs_to_be(uint8_t *b, size_t len, const uint64_t *x) {
    for (size_t i = 0; i < len; i++) b[len - 1 - i] = (uint8_t)(x[i / 8] >> (8 * (i % 8)));
}

/* r = x + hi * 2^(64n) - p when that is not negative, else x; constant time */
static void reduce_once(uint64_t *r, const uint64_t *x, uint64_t hi, const uint64_t *p, int n) {
    uint64_t d[DH_MAXN], borrow = 0;
    for (int i = 0; i < n; i++) {
        dh_u128 t = (dh_u128)x[i] - p[i] - borrow;
        d[i] = (uint64_t)t;
        borrow = (uint64_t)(t >> 64) & 1;
    }
    uint64_t use_d = 0 - (uint64_t)((hi | (borrow ^ 1)) & 1);
    for (int i = 0; i < n; i++) r[i] = (d[i] & use_d) | (x[i] & ~use_d);
}

/* r = a * b / R mod p (r may alias a or b) */
static void mont_mul(uint64_t *r, const uint64_t *a, const uint64_t *b, const dh_group *g) {
    int n = g->n;
    uint64_t t[DH_MAXN + 2];
    memset(t, 0, sizeof t);
    for (int i = 0; i < n; i++) {
        uint64_t c = 0;
        for (int j = 0; j < n; j++) {
            dh_u128 u = (dh_u128)a[i] * b[j] + t[j] + c;
            t[j] = (uint64_t)u;
            c = (uint64_t)(u >> 64);
        }
        dh_u128 u = (dh_u128)t[n] + c;
        t[n] = (uint64_t)u;
        t[n + 1] = (uint64_t)(u >> 64);
        uint64_t m = t[0] * g->n0;
        u = (dh_u128)m * g->p[0] + t[0];
        c = (uint64_t)(u >> 64);
        for (int j = 1; j < n; j++) {
            u = (dh_u128)m * g->p[j] + t[j] + c;
            t[j - 1] = (uint64_t)u;
            c = (uint64_t)(u >> 64);
        }
        u = (dh_u128)t[n] + c;
        t[n - 1] = (uint64_t)u;
        t[n] = t[n + 1] + (uint64_t)(u >> 64);
    }
    reduce_once(r, t, t[n], g->p, n);
}

/* r = t / R mod p for the 2n-word t (t is clobbered): n Montgomery rounds, each clearing a word */
static void mont_redc(uint64_t *r, uint64_t *t, const dh_group *g) {
    int n = g->n;
    uint64_t up = 0; /* the carry out of round i's top word, added in round i+1 */
    for (int i = 0; i < n; i++) {
        uint64_t m = t[i] * g->n0, c = 0;
        for (int j = 0; j < n; j++) {
            dh_u128 u = (dh_u128)m * g->p[j] + t[i + j] + c;
            t[i + j] = (uint64_t)u;
            c = (uint64_t)(u >> 64);
        }
        dh_u128 u = (dh_u128)t[i + n] + c + up;
        t[i + n] = (uint64_t)u;
        up = (uint64_t)(u >> 64);
    }
    reduce_once(r, t + n, up, g->p, n);
}

/* r = a^2 / R mod p: each cross product once, doubled, plus the squares (n(n+1)/2 word
 * products instead of n^2), then the reduction */
static void mont_sqr(uint64_t *r, const uint64_t *a, const dh_group *g) {
    int n = g->n;
    uint64_t t[2 * DH_MAXN];
    memset(t, 0, sizeof t);
    for (int i = 0; i < n - 1; i++) {
        uint64_t c = 0;
        for (int j = i + 1; j < n; j++) {
            dh_u128 u = (dh_u128)a[i] * a[j] + t[i + j] + c;
            t[i + j] = (uint64_t)u;
            c = (uint64_t)(u >> 64);
        }
        t[i + n] = c;
    }
    uint64_t top = 0;
    for (int k = 1; k < 2 * n; k++) {
        uint64_t v = t[k];
        t[k] = (v << 1) | top;
        top = v >> 63;
    }
    uint64_t c = 0;
    for (int i = 0; i < n; i++) {
        dh_u128 sq = (dh_u128)a[i] * a[i];
        dh_u128 u = (dh_u128)t[2 * i] + (uint64_t)sq + c;
        t[2 * i] = (uint64_t)u;
        u = (dh_u128)t[2 * i + 1] + (uint64_t)(sq >> 64) + (uint64_t)(u >> 64);
        t[2 * i + 1] = (uint64_t)u;
        c = (uint64_t)(u >> 64);
    }
    mont_redc(r, t, g);
}

/* x = x * 2^v mod p for a secret v < 16, in constant time: four conditional shifts (each
 * computed, then kept or not by mask), then the bits above 2^(64n) folded back in as
 * hi * (2^(64n) - p) < 2^(64n - 48), and one conditional subtraction. For the generator 2 this
 * replaces a window's multiplication. */
static void mont_shl(uint64_t *x, unsigned v, const dh_group *g) {
    int n = g->n;
    uint64_t hi = 0;
    for (int b = 0; b < 4; b++) {
        unsigned s = 1u << b;
        uint64_t keep = ((uint64_t)(v >> b) & 1) - 1; /* all ones: this bit of v is clear */
        uint64_t prev = 0;
        for (int k = 0; k < n; k++) {
            uint64_t w = x[k], y = (w << s) | (prev >> (64 - s));
            x[k] = (w & keep) | (y & ~keep);
            prev = w;
        }
        uint64_t h = (hi << s) | (prev >> (64 - s));
        hi = (hi & keep) | (h & ~keep);
    }
    uint64_t c = 0;
    for (int k = 0; k < n; k++) { /* one[] is 2^(64n) - p */
        dh_u128 u = (dh_u128)hi * g->one[k] + x[k] + c;
        x[k] = (uint64_t)u;
        c = (uint64_t)(u >> 64);
    }
    reduce_once(x, x, c, g->p, n);
}

static int dh_group_init(dh_group *g, const char *hex, int n) {
    mbedtls_mpi P;
    uint8_t b[DH_MAXN * 8];
    mbedtls_mpi_init(&P);
    int bad = mbedtls_mpi_read_string(&P, 16, hex) || mbedtls_mpi_write_binary(&P, b, (size_t)n * 8);
    mbedtls_mpi_free(&P);
    if (bad) return ZC_ERR_CRYPTO;
    g->n = n;
    be_to_limbs(g->p, n, b, (size_t)n * 8);
    uint64_t inv = 1; /* p^-1 mod 2^64 by Newton's iteration (p is odd) */
    for (int i = 0; i < 7; i++) inv *= 2 - g->p[0] * inv;
    g->n0 = 0 - inv;
    uint64_t zero[DH_MAXN];
    memset(zero, 0, sizeof zero);
    reduce_once(g->one, zero, 1, g->p, n); /* R mod p = 2^(64n) - p, as p > 2^(64n-1) */
    memcpy(g->rr, g->one, sizeof g->rr);
    for (int k = 0; k < 64 * n; k++) { /* R^2 mod p: double R mod p 64n times */
        uint64_t hi = g->rr[n - 1] >> 63;
        for (int i = n - 1; i > 0; i--) g->rr[i] = (g->rr[i] << 1) | (g->rr[i - 1] >> 63);
        g->rr[0] <<= 1;
        reduce_once(g->rr, g->rr, hi, g->p, n);
    }
    return ZC_OK;
}

int zc_dh(int group, const uint8_t *base, size_t blen, const uint8_t *exp, size_t elen, uint8_t *out) {
    size_t size = zc_dh_size(group);
    if (!size || blen > size) return ZC_ERR_ARG;
    int gi = group - 1;
    if (!dh_ready[gi]) {
        int r = dh_group_init(&dh_groups[gi], gi ? P3072_HEX : P2048_HEX, gi ? 48 : 32);
        if (r) return r;
        dh_ready[gi] = 1;
    }
    const dh_group *g = &dh_groups[gi];
    int n = g->n;
    uint64_t table[16][DH_MAXN], x[DH_MAXN], sel[DH_MAXN], b[DH_MAXN];
    if (base) { /* base^0 .. base^15 in Montgomery form */
        be_to_limbs(b, n, base, blen);
        memcpy(table[0], g->one, sizeof table[0]);
        mont_mul(table[1], b, g->rr, g);
        for (int i = 2; i < 16; i++) mont_mul(table[i], table[i - 1], table[1], g);
    }
    memcpy(x, g->one, sizeof x);
    /* every 4-bit window of the exponent, high to low, with the same work whatever its value */
    for (size_t w = 0; w < 2 * elen; w++) {
        int v = (exp[w / 2] >> ((w & 1) ? 0 : 4)) & 0xF;
        if (w)
            for (int k = 0; k < 4; k++) mont_sqr(x, x, g);
        if (!base) { /* the generator 2: multiplying by 2^v is a shift */
            mont_shl(x, (unsigned)v, g);
            continue;
        }
        memset(sel, 0, sizeof sel);
        for (int i = 0; i < 16; i++) {
            uint64_t mask = 0 - (uint64_t)(i == v);
            for (int j = 0; j < n; j++) sel[j] |= table[i][j] & mask;
        }
        mont_mul(x, x, sel, g);
    }
    memset(b, 0, sizeof b);
    b[0] = 1;
    mont_mul(x, x, b, g); /* out of Montgomery form */
    limbs_to_be(out, size, x);
    ZC_WIPE(table, sizeof table);
    ZC_WIPE(sel, sizeof sel);
    ZC_WIPE(x, sizeof x);
    ZC_WIPE(b, sizeof b);
    return ZC_OK;
}

#else /* mbedTLS bignum (and the ESP32's accelerator behind it) */

/* The primes and their Montgomery constants R^2 mod p, made once and kept. */
static mbedtls_mpi dh_p[2], dh_rr[2];
static int dh_ready[2];


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
#endif

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
#if ZC_HAVE_P256
    if (curve == ZC_P256 && slen == 32) return zc_p256_mul(scalar, point, out);
#endif
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
    ZC_WIPE(&rng, sizeof rng);
    ZC_WIPE(enc, sizeof enc);
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

static inline void fe_reduce(fe h, u128 r0, u128 r1, u128 r2, u128 r3, u128 r4) {
    /* carry the five 102-bit column sums into 51-bit limbs; 2^255 = 19 mod p */
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

static void fe_mul(fe h, const fe f, const fe g) {
    uint64_t g1 = 19 * g[1], g2 = 19 * g[2], g3 = 19 * g[3], g4 = 19 * g[4];
    u128 r0 = (u128)f[0] * g[0] + (u128)f[1] * g4 + (u128)f[2] * g3 + (u128)f[3] * g2 + (u128)f[4] * g1;
    u128 r1 = (u128)f[0] * g[1] + (u128)f[1] * g[0] + (u128)f[2] * g4 + (u128)f[3] * g3 + (u128)f[4] * g2;
    u128 r2 = (u128)f[0] * g[2] + (u128)f[1] * g[1] + (u128)f[2] * g[0] + (u128)f[3] * g4 + (u128)f[4] * g3;
    u128 r3 = (u128)f[0] * g[3] + (u128)f[1] * g[2] + (u128)f[2] * g[1] + (u128)f[3] * g[0] + (u128)f[4] * g4;
    u128 r4 = (u128)f[0] * g[4] + (u128)f[1] * g[3] + (u128)f[2] * g[2] + (u128)f[3] * g[1] + (u128)f[4] * g[0];
    fe_reduce(h, r0, r1, r2, r3, r4);
}

static void fe_sq(fe h, const fe f) {
    /* fe_mul(h, f, f) with the symmetric products merged: 15 multiplications instead of 25 */
    uint64_t d0 = 2 * f[0], d1 = 2 * f[1], d2 = 2 * f[2], d3 = 2 * f[3], f3_19 = 19 * f[3], f4_19 = 19 * f[4];
    u128 r0 = (u128)f[0] * f[0] + (u128)d1 * f4_19 + (u128)d2 * f3_19;
    u128 r1 = (u128)d0 * f[1] + (u128)d2 * f4_19 + (u128)f[3] * f3_19;
    u128 r2 = (u128)d0 * f[2] + (u128)f[1] * f[1] + (u128)d3 * f4_19;
    u128 r3 = (u128)d0 * f[3] + (u128)d1 * f[2] + (u128)f[4] * f4_19;
    u128 r4 = (u128)d0 * f[4] + (u128)d1 * f[3] + (u128)f[2] * f[2];
    fe_reduce(h, r0, r1, r2, r3, r4);
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
    ZC_WIPE(x2, sizeof x2), ZC_WIPE(z2, sizeof z2), ZC_WIPE(x3, sizeof x3), ZC_WIPE(z3, sizeof z3);
    ZC_WIPE(&swap, sizeof swap);
}

int zc_x25519(const uint8_t scalar[32], const uint8_t u[32], uint8_t out[32], const uint8_t *seed, size_t seedlen) {
    uint8_t k[32], z = 0;
    (void)seed, (void)seedlen; /* the ladder is constant-time by construction: no blinding */
    memcpy(k, scalar, 32);
    k[0] &= 248, k[31] &= 127, k[31] |= 64;
    x25519_ladder(out, k, u);
    ZC_WIPE(k, sizeof k);
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
    ZC_WIPE(k, sizeof k);
    ZC_WIPE(&rng, sizeof rng);
    return r;
}

#endif

/* ---- hardware entropy ------------------------------------------------------------------------ */

#if defined(ESP_PLATFORM)
#include "esp_random.h"
#include "bootloader_random.h"

int zc_entropy(uint8_t *out, size_t len, int enable) {
    if (enable) bootloader_random_enable(); /* SAR ADC noise: a true source without the radio */
    esp_fill_random(out, len);
    if (enable) bootloader_random_disable(); /* before Wi-Fi or the ADC are used */
    return (int)len;
}
#else
int zc_entropy(uint8_t *out, size_t len, int enable) {
    (void)out, (void)len, (void)enable; /* a host: the OS's generator (os.urandom) is the source */
    return 0;
}
#endif

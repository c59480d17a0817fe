/* zcrypto: ZeroTap's crypto core over mbedTLS. Plain C, no Python in it; the CPython extension
 * (zcrypto_cpython.c) and the MicroPython user module (zcrypto_mp.c) are thin bindings.
 * Builds against mbedTLS 2.28 (Debian) and 3.x (ESP-IDF 5.x). Callers own every buffer: nothing
 * here allocates, except mbedTLS's bignum code inside the key agreement functions. */
#ifndef ZCRYPTO_H
#define ZCRYPTO_H

#include <stddef.h>
#include <stdint.h>

#include "mbedtls/version.h"
#include "mbedtls/aes.h"
#include "mbedtls/sha1.h"

/* Error codes: 0 is success. */
#define ZC_OK 0
#define ZC_ERR_ARG (-1)      /* a length or value the caller should have checked */
#define ZC_ERR_CRYPTO (-2)   /* mbedTLS failed (out of memory, internal error) */
#define ZC_ERR_POINT (-3)    /* an EC point not on the curve */
#define ZC_ERR_ZERO (-4)     /* an all-zero X25519 result */
#define ZC_ERR_SPAN (-5)     /* SRTP spans out of order */
#define ZC_ERR_ROOM (-6)     /* SRTP buffer has no room for the tag */

enum { ZC_SHA1 = 1, ZC_SHA256 = 2, ZC_SHA384 = 3 };
enum { ZC_DH2K = 1, ZC_DH3K = 2 };
enum { ZC_P256 = 1, ZC_P384 = 2 };

int zc_hash(int alg, const uint8_t *data, size_t len, uint8_t *out);
int zc_hmac(int alg, const uint8_t *key, size_t klen, const uint8_t *data, size_t len, uint8_t *out);
size_t zc_digest_size(int alg);

int zc_aes_ecb(const uint8_t *key, size_t klen, const uint8_t in[16], uint8_t out[16]);
int zc_aes_ctr(const uint8_t *key, size_t klen, const uint8_t iv[16], const uint8_t *in, uint8_t *out, size_t len);
int zc_aes_cfb(const uint8_t *key, size_t klen, const uint8_t iv[16], const uint8_t *in, uint8_t *out, size_t len,
               int decrypt);

uint32_t zc_crc32c(uint32_t crc, const uint8_t *data, size_t len);

/* SRTP/SRTCP transform (RFC 3711): AES-CM keystream, HMAC-SHA1 with the pads hashed once. */
typedef struct {
    mbedtls_aes_context aes;
    mbedtls_sha1_context inner; /* state after absorbing K ^ ipad */
    mbedtls_sha1_context outer; /* state after absorbing K ^ opad */
    uint8_t salt[14];
    int tag_len;
} zc_srtp;

int zc_srtp_init(zc_srtp *t, const uint8_t *key, size_t klen, const uint8_t salt[14], const uint8_t auth[20],
                 int tag_len);
void zc_srtp_free(zc_srtp *t);
/* Returns auth_end + tag_len, or a ZC_ERR_*. */
long zc_srtp_protect(zc_srtp *t, uint8_t *buf, size_t size, size_t enc_start, size_t enc_end, size_t auth_end,
                     uint32_t ssrc, uint64_t index, int64_t suffix);
/* Returns 1 (authentic, decrypted), 0 (tag mismatch, buffer untouched), or a ZC_ERR_*. */
int zc_srtp_unprotect(zc_srtp *t, uint8_t *buf, size_t size, size_t enc_start, size_t enc_end, size_t auth_end,
                      uint32_t ssrc, uint64_t index, int64_t suffix);

/* DH: out (len(p) bytes, big-endian) = base^exp mod p; base NULL means the generator 2.
 * The caller checks the peer's range (RFC 6189 4.4.1.1). */
int zc_dh(int group, const uint8_t *base, size_t blen, const uint8_t *exp, size_t elen, uint8_t *out);
size_t zc_dh_size(int group);

/* ECDH: out = x || y of scalar * point (point = x || y, or NULL for the base point); seed feeds
 * the RNG that mbedTLS uses to blind the multiplication. ZC_ERR_POINT for a point off the curve. */
int zc_ec_mul(int curve, const uint8_t *scalar, size_t slen, const uint8_t *point, uint8_t *out,
              const uint8_t *seed, size_t seedlen);
size_t zc_ec_size(int curve);

/* X25519 (RFC 7748): out = X25519(scalar, u); ZC_ERR_ZERO for an all-zero result. */
int zc_x25519(const uint8_t scalar[32], const uint8_t u[32], uint8_t out[32], const uint8_t *seed, size_t seedlen);

#endif

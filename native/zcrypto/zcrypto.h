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
/* Secrets on the stack are wiped with mbedtls_platform_zeroize before a function returns (a plain
 * memset before return may be removed by the compiler); see ZC_WIPE. */
#include "mbedtls/platform_util.h"
#define ZC_WIPE(p, n) mbedtls_platform_zeroize((p), (n))

#define ZC_ERR_ARG (-1)      /* a length or value the caller should have checked */
#define ZC_ERR_CRYPTO (-2)   /* mbedTLS failed (out of memory, internal error) */
#define ZC_ERR_POINT (-3)    /* an EC point not on the curve */
#define ZC_ERR_ZERO (-4)     /* an all-zero X25519 result */
#define ZC_ERR_SPAN (-5)     /* SRTP spans out of order */
#define ZC_ERR_ROOM (-6)     /* SRTP buffer has no room for the tag */
#define ZC_ERR_AUTH (-7)     /* SRTP tag mismatch (the fast path's unprotect) */

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

/* x86-64 hosts: AES-NI and SHA-NI paths for the SRTP transform (zcrypto_x86.c), picked at run time
 * by CPUID. Define ZC_NO_X86 to build without them. */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && !defined(ZC_NO_X86)
#define ZC_X86 1
#else
#define ZC_X86 0
#endif
#define ZC_X86_AES 1
#define ZC_X86_SHA 2

/* The CPU features that the SRTP transform uses: ZC_X86_* bits, 0 where there are none. With
 * enable 0 the transforms use mbedTLS from then on (tests compare both paths); 1 restores. */
int zc_cpu_features(int enable);

/* SRTP/SRTCP transform (RFC 3711): AES-CM keystream, HMAC-SHA1 with the pads hashed once. */
typedef struct {
    mbedtls_aes_context aes;
    mbedtls_sha1_context inner; /* state after absorbing K ^ ipad */
    mbedtls_sha1_context outer; /* state after absorbing K ^ opad */
    uint8_t salt[14];
    int tag_len;
#if ZC_X86
    int x86;            /* the ZC_X86_* features this transform has state for */
    int nr;             /* AES rounds */
    uint8_t rk[240];    /* AES round keys */
    uint32_t ih[5];     /* SHA-1 state after K ^ ipad */
    uint32_t oh[5];     /* SHA-1 state after K ^ opad */
#endif
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

/* Per-SSRC state of an SRTP session (zerotap/srtp.py's _Stream, in C for the native fast path):
 * the highest index accepted and a ring of ZC_REPLAY_WINDOW bits, bit (i mod ZC_REPLAY_WINDOW) set
 * when index i, highest - ZC_REPLAY_WINDOW < i <= highest, was accepted (RFC 3711 section 3.3.2);
 * for SRTCP, next is the sender's next index. */
#define ZC_REPLAY_WINDOW 128
typedef struct {
    uint32_t ssrc;
    uint64_t highest;
    uint64_t next;
    uint8_t window[ZC_REPLAY_WINDOW / 8];
} zc_stream;

void zc_stream_init(zc_stream *s, uint32_t ssrc, uint64_t index);
/* 0 when index is new, 1 when seen, 2 when older than the window */
int zc_stream_check(const zc_stream *s, uint64_t index);
void zc_stream_add(zc_stream *s, uint64_t index);

/* The in-order fast path of srtp.py's Session: a packet of LENGTH bytes whose header is the plain
 * 12-byte one (V=2, no padding, extension or CSRC) with stream s's SSRC and the sequence number
 * that follows its highest index. zc_srtp_next returns that index (the protect side needs
 * length >= 12, the unprotect side room for the tag too), or -1 when the packet is anything else
 * and the caller takes its general path. */
int64_t zc_srtp_next(const zc_srtp *t, const zc_stream *s, const uint8_t *pkt, size_t length, int unprotect);
/* Protect in[0:length] of index zc_srtp_next(...) into out (out may be in; it has length + tag_len
 * bytes of room) and record the index: returns length + tag_len, or a ZC_ERR_*. */
long zc_srtp_seal_next(zc_srtp *t, zc_stream *s, const uint8_t *in, size_t length, int64_t index, uint8_t *out);
/* Check the tag of in[0:length] of index zc_srtp_next(...), then decrypt its first length -
 * tag_len bytes into out (out may be in) and record the index: returns length - tag_len, or
 * ZC_ERR_AUTH with out and the stream untouched, or another ZC_ERR_*. */
long zc_srtp_open_next(zc_srtp *t, zc_stream *s, const uint8_t *in, size_t length, int64_t index, uint8_t *out);

/* DH: out (len(p) bytes, big-endian) = base^exp mod p; base NULL means the generator 2.
 * The caller checks the peer's range (RFC 6189 4.4.1.1). */
int zc_dh(int group, const uint8_t *base, size_t blen, const uint8_t *exp, size_t elen, uint8_t *out);
size_t zc_dh_size(int group);

/* ECDH: out = x || y of scalar * point (point = x || y, or NULL for the base point); seed feeds
 * the RNG that mbedTLS uses to blind the multiplication. ZC_ERR_POINT for a point off the curve. */
int zc_ec_mul(int curve, const uint8_t *scalar, size_t slen, const uint8_t *point, uint8_t *out,
              const uint8_t *seed, size_t seedlen);
size_t zc_ec_size(int curve);

/* P-256 in C of our own where the compiler has 128-bit integers (zcrypto_p256.c): out = x || y
 * of k * point (point = x || y, or NULL for the base point), constant time in k. zc_ec_mul uses it;
 * zc_p256_prepare() makes the base point's table (53 KB, about a millisecond) ahead of the first
 * key generation, e.g. while a module loads. */
#if defined(__SIZEOF_INT128__) && !defined(ZC_P256_MBEDTLS)
#define ZC_HAVE_P256 1
int zc_p256_mul(const uint8_t k[32], const uint8_t *point, uint8_t out[64]);
void zc_p256_prepare(void);
#else
#define ZC_HAVE_P256 0
#endif

/* X25519 (RFC 7748): out = X25519(scalar, u); ZC_ERR_ZERO for an all-zero result. */
int zc_x25519(const uint8_t scalar[32], const uint8_t u[32], uint8_t out[32], const uint8_t *seed, size_t seedlen);

/* Hardware entropy: up to len bytes into out, the count returned (0 where there is none, as on a
 * host). On an ESP32 (ESP_PLATFORM) enable != 0 switches the bootloader's entropy source (SAR ADC
 * noise) on around esp_fill_random, so that it is a true random source without the radio: call
 * it so only at boot, before Wi-Fi or the ADC are used (Espressif's documentation). */
int zc_entropy(uint8_t *out, size_t len, int enable);

#if ZC_X86
int zc_x86_detect(void);
int zc_x86_aes_expand(uint8_t rk[240], const uint8_t *key, size_t klen);
void zc_x86_aes_cm(const uint8_t *rk, int nr, const uint8_t iv[16], uint8_t *p, size_t len);
void zc_x86_sha1_blocks(uint32_t state[5], const uint8_t *data, size_t nblocks);
#endif

#endif

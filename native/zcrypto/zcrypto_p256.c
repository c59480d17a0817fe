/* zcrypto: P-256 (ZRTP's EC25) scalar multiplication where the compiler has 128-bit integers;
 * boards (32-bit) use mbedTLS through zcrypto.c, which drives the ESP32's bignum accelerator.
 *
 * Field: Montgomery form in four 64-bit limbs. p = 2^256 - 2^224 + 2^192 + 2^96 - 1 makes
 * -p^-1 mod 2^64 = 1, so each reduction round's multiplier is the low word itself, and m * p needs
 * one multiplication (by p's top word) and two shifts. On x86-64 the carry chains are
 * _addcarry_u64/_subborrow_u64, which GCC turns into ADC/SBB; elsewhere 128-bit sums.
 *
 * Points: Jacobian coordinates with the a = -3 doubling (dbl-2001-b), add-2007-bl and the mixed
 * madd-2007-bl of the Explicit-Formulas Database.
 *
 * Scalars: reduced mod n, then recoded into 52 signed 5-bit digits in [-15, 16] ("Booth"
 * windows: a digit above 16 borrows from the next window).
 * - A peer's point: a table of P, 2P, ..., 16P; from the top digit down, five doublings and one
 *   addition of the digit's multiple per window (255 doublings, 51 additions).
 * - The base point (key generation): a table of j * 32^w * G for every window w and j = 1..16,
 *   affine, 53 KB, made on first use; one mixed addition per window, no doubling.
 *
 * Timing: the digit recoding, the table lookups (every entry read, kept by mask), the conditional
 * negation and the field arithmetic do not depend on the scalar; a zero digit and the point at
 * infinity at the start are handled by constant-time selection, not by skipping work. The one
 * branch on data is the doubling case of a general addition (both operands the same point): for
 * a scalar in [1, n-1] the partial sums never meet it (each is a multiple m * P with |m| < n and
 * |32 m| larger than any digit), so it is never taken for a valid secret. A peer's point must be
 * on the curve (ZC_ERR_POINT). */
#include "zcrypto.h"

#if ZC_HAVE_P256
#include <string.h>

typedef unsigned __int128 u128;
typedef uint64_t fe[4];

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <x86intrin.h>
typedef unsigned char carry;
#define ADC(c, a, b, out) _addcarry_u64((c), (a), (b), (unsigned long long *)(out))
#define SBB(c, a, b, out) _subborrow_u64((c), (a), (b), (unsigned long long *)(out))
#else
typedef uint64_t carry;
static inline carry ADC(carry c, uint64_t a, uint64_t b, uint64_t *out) {
    u128 t = (u128)a + b + c;
    *out = (uint64_t)t;
    return (carry)(t >> 64);
}
static inline carry SBB(carry c, uint64_t a, uint64_t b, uint64_t *out) {
    u128 t = (u128)a - b - c;
    *out = (uint64_t)t;
    return (carry)((t >> 64) & 1);
}
#endif

static inline uint64_t MUL(uint64_t a, uint64_t b, uint64_t *hi) {
    u128 t = (u128)a * b;
    *hi = (uint64_t)(t >> 64);
    return (uint64_t)t;
}

/* little-endian limbs */
static const fe P = {0xFFFFFFFFFFFFFFFFull, 0x00000000FFFFFFFFull, 0, 0xFFFFFFFF00000001ull};
static const fe N = {0xF3B9CAC2FC632551ull, 0xBCE6FAADA7179E84ull, 0xFFFFFFFFFFFFFFFFull, 0xFFFFFFFF00000000ull};
static const fe GX = {0xF4A13945D898C296ull, 0x77037D812DEB33A0ull, 0xF8BCE6E563A440F2ull, 0x6B17D1F2E12C4247ull};
static const fe GY = {0xCBB6406837BF51F5ull, 0x2BCE33576B315ECEull, 0x8EE7EB4A7C0F9E16ull, 0x4FE342E2FE1A7F9Bull};
static const fe B = {0x3BCE3C3E27D2604Bull, 0x651D06B0CC53B0F6ull, 0xB3EBBD55769886BCull, 0x5AC635D8AA3A93E7ull};
static const fe ONE_PLAIN = {1, 0, 0, 0};
/* R mod p and R^2 mod p, R = 2^256 */
static const fe ONE = {0x0000000000000001ull, 0xFFFFFFFF00000000ull, 0xFFFFFFFFFFFFFFFFull, 0x00000000FFFFFFFEull};
static const fe RR = {0x0000000000000003ull, 0xFFFFFFFBFFFFFFFFull, 0xFFFFFFFFFFFFFFFEull, 0x00000004FFFFFFFDull};

/* r = t - p if t >= p (t = t4:t3..t0 < 2p), else t: subtract p, and add it back when that went
 * below zero (two carry chains run faster here than a masked selection) */
static inline void fe_reduce(fe r, uint64_t t0, uint64_t t1, uint64_t t2, uint64_t t3, uint64_t t4) {
    uint64_t x;
    carry bw = SBB(0, t0, P[0], &t0);
    bw = SBB(bw, t1, P[1], &t1);
    bw = SBB(bw, t2, 0, &t2);
    bw = SBB(bw, t3, P[3], &t3);
    bw = SBB(bw, t4, 0, &x);
    uint64_t m = 0 - (uint64_t)bw;
    carry c = ADC(0, t0, P[0] & m, &r[0]);
    c = ADC(c, t1, P[1] & m, &r[1]);
    c = ADC(c, t2, 0, &r[2]);
    (void)ADC(c, t3, P[3] & m, &r[3]);
}

/* One Montgomery round on the five words T0..T4 (and the carry word UP above them): add m * p,
 * m = T0, which clears T0; the result is T1..T4 with the new carry in UP. m * p / 2^64 is
 * m << 32 at word 1, m >> 32 at word 2 and m * (2^64 - 2^32 + 1) at words 3..4 (m < 2^64 makes
 * its high word at most 2^64 - 2^32, so adding UP to it cannot overflow). */
#define MONT_ROUND(T0, T1, T2, T3, T4, UP)                 \
    do {                                                   \
        uint64_t m_ = T0, mh_, ml_ = MUL(m_, P[3], &mh_); \
        carry c_ = ADC(0, T1, m_ << 32, &T1);              \
        c_ = ADC(c_, T2, m_ >> 32, &T2);                   \
        c_ = ADC(c_, T3, ml_, &T3);                        \
        c_ = ADC(c_, T4, mh_ + UP, &T4);                   \
        UP = c_;                                           \
    } while (0)

/* (t1..t5) += ai * b, then a Montgomery round; the five words move down into t0..t4 */
#define MUL_ROW(ai)                                                              \
    do {                                                                         \
        uint64_t h0_, h1_, h2_, h3_, l0_, l1_, l2_, l3_, top_, up_ = 0;          \
        carry c_;                                                                \
        l0_ = MUL(ai, b0, &h0_);                                                 \
        l1_ = MUL(ai, b1, &h1_);                                                 \
        l2_ = MUL(ai, b2, &h2_);                                                 \
        l3_ = MUL(ai, b3, &h3_);                                                 \
        c_ = ADC(0, t1, l0_, &t1);                                               \
        c_ = ADC(c_, t2, l1_, &t2);                                              \
        c_ = ADC(c_, t3, l2_, &t3);                                              \
        c_ = ADC(c_, t4, l3_, &t4);                                              \
        c_ = ADC(c_, t5, 0, &t5);                                                \
        top_ = c_;                                                               \
        c_ = ADC(0, t2, h0_, &t2);                                               \
        c_ = ADC(c_, t3, h1_, &t3);                                              \
        c_ = ADC(c_, t4, h2_, &t4);                                              \
        c_ = ADC(c_, t5, h3_, &t5);                                              \
        top_ += c_;                                                              \
        MONT_ROUND(t1, t2, t3, t4, t5, up_);                                     \
        t0 = t2, t1 = t3, t2 = t4, t3 = t5, t4 = top_ + up_;                     \
    } while (0)

/* r = a * b / R mod p: a row of products and a Montgomery round per word of a, in locals
 * (an array here would send the carry chains through memory) */
static void fe_mul(fe r, const fe a, const fe b) {
    uint64_t b0 = b[0], b1 = b[1], b2 = b[2], b3 = b[3];
    uint64_t t0, t1, t2, t3, t4, t5, h0, h1, h2, h3, up = 0;
    carry c;
    t0 = MUL(a[0], b0, &h0);
    t1 = MUL(a[0], b1, &h1);
    t2 = MUL(a[0], b2, &h2);
    t3 = MUL(a[0], b3, &h3);
    c = ADC(0, t1, h0, &t1);
    c = ADC(c, t2, h1, &t2);
    c = ADC(c, t3, h2, &t3);
    t4 = h3 + c;
    MONT_ROUND(t0, t1, t2, t3, t4, up);
    t5 = up; /* the value: t1..t5 */
    MUL_ROW(a[1]); /* ... now t0..t4, moved up for the next row */
    t5 = t4, t4 = t3, t3 = t2, t2 = t1, t1 = t0;
    MUL_ROW(a[2]);
    t5 = t4, t4 = t3, t3 = t2, t2 = t1, t1 = t0;
    MUL_ROW(a[3]);
    fe_reduce(r, t0, t1, t2, t3, t4);
}

/* a dedicated squaring lost to the product here (its doubling makes the carry chain longer) */
static inline void fe_sqr(fe r, const fe a) {
    fe_mul(r, a, a);
}

static void fe_add(fe r, const fe a, const fe b) {
    uint64_t t0, t1, t2, t3;
    carry c = ADC(0, a[0], b[0], &t0);
    c = ADC(c, a[1], b[1], &t1);
    c = ADC(c, a[2], b[2], &t2);
    c = ADC(c, a[3], b[3], &t3);
    fe_reduce(r, t0, t1, t2, t3, c);
}

static void fe_sub(fe r, const fe a, const fe b) {
    uint64_t t0, t1, t2, t3;
    carry bw = SBB(0, a[0], b[0], &t0);
    bw = SBB(bw, a[1], b[1], &t1);
    bw = SBB(bw, a[2], b[2], &t2);
    bw = SBB(bw, a[3], b[3], &t3);
    uint64_t m = 0 - (uint64_t)bw; /* add p back when it went below zero */
    carry c = ADC(0, t0, P[0] & m, &r[0]);
    c = ADC(c, t1, P[1] & m, &r[1]);
    c = ADC(c, t2, 0, &r[2]);
    (void)ADC(c, t3, P[3] & m, &r[3]);
}

static inline uint64_t fe_zero_mask(const fe a) {
    uint64_t nz = a[0] | a[1] | a[2] | a[3];
    return ((nz | (0 - nz)) >> 63) - 1; /* all ones when a == 0 */
}

static inline void fe_cmov(fe r, const fe a, uint64_t mask) {
    for (int i = 0; i < 4; i++) r[i] = (r[i] & ~mask) | (a[i] & mask);
}

/* z^(p-2) = z^-1 (Fermat), an addition chain of 255 squarings and 13 multiplications over
 * p - 2 = ffffffff 00000001 00000000 00000000 00000000 ffffffff ffffffff fffffffd */
static void fe_sqrn(fe r, const fe a, int n) {
    fe_sqr(r, a);
    while (--n) fe_sqr(r, r);
}

static void fe_inv(fe r, const fe z) {
    fe x2, x4, x8, x16, x30, x32, t;
    fe_sqr(t, z);
    fe_mul(x2, t, z); /* z^(2^2 - 1) */
    fe_sqrn(t, x2, 2);
    fe_mul(x4, t, x2);
    fe_sqrn(t, x4, 4);
    fe_mul(x8, t, x4);
    fe_sqrn(t, x8, 8);
    fe_mul(x16, t, x8);
    fe_sqrn(t, x16, 8);
    fe_mul(t, t, x8); /* x24 */
    fe_sqrn(t, t, 4);
    fe_mul(t, t, x4); /* x28 */
    fe_sqrn(t, t, 2);
    fe_mul(x30, t, x2);
    fe_sqrn(t, x30, 2);
    fe_mul(x32, t, x2);
    fe_sqrn(t, x32, 32);
    fe_mul(t, t, z); /* ffffffff 00000001 */
    fe_sqrn(t, t, 96);
    fe_sqrn(t, t, 32);
    fe_mul(t, t, x32);
    fe_sqrn(t, t, 32);
    fe_mul(t, t, x32);
    fe_sqrn(t, t, 30);
    fe_mul(t, t, x30);
    fe_sqrn(t, t, 2);
    fe_mul(r, t, z); /* ... fffffffd */
}

static void fe_from_be(fe r, const uint8_t b[32]) {
    for (int i = 0; i < 4; i++) {
        uint64_t v = 0;
        for (int j = 0; j < 8; j++) v = (v << 8) | b[8 * (3 - i) + j];
        r[i] = v;
    }
}

static void fe_to_be(uint8_t b[32], const fe a) {
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 8; j++) b[8 * (3 - i) + j] = (uint8_t)(a[i] >> (56 - 8 * j));
}

/* 1 when a < m (both little-endian limbs) */
static int below(const fe a, const fe m) {
    uint64_t x;
    carry b = SBB(0, a[0], m[0], &x);
    b = SBB(b, a[1], m[1], &x);
    b = SBB(b, a[2], m[2], &x);
    b = SBB(b, a[3], m[3], &x);
    return b;
}

/* ---- points ----------------------------------------------------------------------------------- */

typedef struct {
    fe x, y, z; /* Jacobian, Montgomery form; z = 0 is the point at infinity */
} pt;

static void pt_double(pt *r, const pt *p) {
    /* dbl-2001-b (a = -3): 3M + 5S; the point at infinity stays there (z3 = 2 y z) */
    fe delta, gamma, beta, alpha, t1, t2;
    fe_sqr(delta, p->z);
    fe_sqr(gamma, p->y);
    fe_mul(beta, p->x, gamma);
    fe_sub(t1, p->x, delta);
    fe_add(t2, p->x, delta);
    fe_mul(alpha, t1, t2);
    fe_add(t1, alpha, alpha);
    fe_add(alpha, t1, alpha); /* alpha = 3 (x - delta)(x + delta) */
    fe_add(t1, p->y, p->z);
    fe_sqr(t1, t1);
    fe_sub(t1, t1, gamma);
    fe_sub(r->z, t1, delta); /* z3 = (y + z)^2 - gamma - delta */
    fe_add(beta, beta, beta);
    fe_add(beta, beta, beta); /* 4 beta */
    fe_sqr(t1, alpha);
    fe_add(t2, beta, beta);
    fe_sub(r->x, t1, t2); /* x3 = alpha^2 - 8 beta */
    fe_sub(t1, beta, r->x);
    fe_mul(t1, alpha, t1);
    fe_sqr(t2, gamma);
    fe_add(t2, t2, t2);
    fe_add(t2, t2, t2);
    fe_add(t2, t2, t2); /* 8 gamma^2 */
    fe_sub(r->y, t1, t2); /* y3 = alpha (4 beta - x3) - 8 gamma^2 */
}

static void pt_cmov(pt *r, const pt *a, uint64_t mask) {
    fe_cmov(r->x, a->x, mask);
    fe_cmov(r->y, a->y, mask);
    fe_cmov(r->z, a->z, mask);
}

/* r = p + q (r may be p or q). add-2007-bl: 11M + 5S; either operand at infinity is taken care
 * of by selection. p == q would need the doubling: see the file's comment. */
static void pt_add(pt *r, const pt *p, const pt *q) {
    fe z1z1, z2z2, u1, u2, s1, s2, h, i, j, rr, v, t;
    pt out;
    fe_sqr(z1z1, p->z);
    fe_sqr(z2z2, q->z);
    fe_mul(u1, p->x, z2z2);
    fe_mul(u2, q->x, z1z1);
    fe_mul(s1, p->y, q->z);
    fe_mul(s1, s1, z2z2);
    fe_mul(s2, q->y, p->z);
    fe_mul(s2, s2, z1z1);
    fe_sub(h, u2, u1);
    fe_sub(rr, s2, s1);
    uint64_t p_inf = fe_zero_mask(p->z), q_inf = fe_zero_mask(q->z);
    if (fe_zero_mask(h) & fe_zero_mask(rr) & ~p_inf & ~q_inf) {
        pt_double(r, p);
        return;
    }
    fe_add(rr, rr, rr);
    fe_add(i, h, h);
    fe_sqr(i, i);
    fe_mul(j, h, i);
    fe_mul(v, u1, i);
    fe_sqr(t, rr);
    fe_sub(t, t, j);
    fe_sub(t, t, v);
    fe_sub(out.x, t, v); /* x3 = r^2 - J - 2V */
    fe_sub(t, v, out.x);
    fe_mul(t, rr, t);
    fe_mul(s1, s1, j);
    fe_add(s1, s1, s1);
    fe_sub(out.y, t, s1); /* y3 = r (V - x3) - 2 S1 J */
    fe_add(t, p->z, q->z);
    fe_sqr(t, t);
    fe_sub(t, t, z1z1);
    fe_sub(t, t, z2z2);
    fe_mul(out.z, t, h); /* z3 = ((z1 + z2)^2 - z1z1 - z2z2) H */
    pt_cmov(&out, q, p_inf);
    pt_cmov(&out, p, q_inf);
    *r = out;
}

/* acc += (x2, y2) (affine) when use is all ones, else acc stays. madd-2007-bl: 7M + 4S; acc at
 * infinity becomes (x2, y2, 1) by selection. Never acc == +-(x2, y2): see p256_base_mul. */
static void pt_madd(pt *acc, const fe x2, const fe y2, uint64_t use) {
    fe z1z1, u2, s2, h, hh, i, j, rr, v, t;
    pt out;
    fe_sqr(z1z1, acc->z);
    fe_mul(u2, x2, z1z1);
    fe_mul(s2, y2, acc->z);
    fe_mul(s2, s2, z1z1);
    fe_sub(h, u2, acc->x);
    fe_sqr(hh, h);
    fe_add(i, hh, hh);
    fe_add(i, i, i);
    fe_mul(j, h, i);
    fe_sub(rr, s2, acc->y);
    fe_add(rr, rr, rr);
    fe_mul(v, acc->x, i);
    fe_sqr(t, rr);
    fe_sub(t, t, j);
    fe_sub(t, t, v);
    fe_sub(out.x, t, v);
    fe_sub(t, v, out.x);
    fe_mul(t, rr, t);
    fe_mul(u2, acc->y, j);
    fe_add(u2, u2, u2);
    fe_sub(out.y, t, u2);
    fe_add(t, acc->z, h);
    fe_sqr(t, t);
    fe_sub(t, t, z1z1);
    fe_sub(out.z, t, hh);
    uint64_t inf = fe_zero_mask(acc->z);
    fe_cmov(out.x, x2, inf);
    fe_cmov(out.y, y2, inf);
    fe_cmov(out.z, ONE, inf);
    pt_cmov(acc, &out, use);
}

/* ---- scalars ---------------------------------------------------------------------------------- */

#define WINDOWS 52 /* 5-bit windows over 260 bits: the recoding's last carry fits */

/* k (32 bytes big-endian) mod n into d[0..51], least significant first, each in [-15, 16]:
 * k = sum d[w] 32^w. Returns all ones when k mod n is zero. */
static uint64_t recode(int8_t d[WINDOWS], const uint8_t k[32]) {
    fe s, t;
    fe_from_be(s, k);
    /* k < 2^256 < 2n: subtract n once when k >= n */
    carry b = SBB(0, s[0], N[0], &t[0]);
    b = SBB(b, s[1], N[1], &t[1]);
    b = SBB(b, s[2], N[2], &t[2]);
    b = SBB(b, s[3], N[3], &t[3]);
    fe_cmov(s, t, (uint64_t)b - 1);
    unsigned c = 0;
    for (int w = 0; w < WINDOWS; w++) {
        int bit = 5 * w, limb = bit / 64, shift = bit % 64;
        uint64_t bits = limb < 4 ? s[limb] >> shift : 0;
        if (shift > 59 && limb < 3) bits |= s[limb + 1] << (64 - shift);
        unsigned v = (unsigned)(bits & 31) + c; /* 0 .. 32 */
        c = (16u - v) >> 31;                    /* 1 when v > 16: borrow 32 from the next window */
        d[w] = (int8_t)((int)v - (int)(c << 5));
    }
    return fe_zero_mask(s);
}

/* |d| and an all-ones mask when d < 0, without a branch */
static inline unsigned digit_abs(int d, uint64_t *neg) {
    unsigned s = (unsigned)d >> 31;
    *neg = 0 - (uint64_t)s;
    return ((unsigned)d ^ (0u - s)) + s;
}

static inline uint64_t eq_mask(unsigned a, unsigned b) {
    return 0 - (uint64_t)(((a ^ b) - 1u) >> 31); /* all ones when a == b (both below 2^31) */
}

/* y = p - y under mask (y is never zero for a point of this curve: no point has order 2) */
static inline void fe_cneg(fe y, uint64_t mask) {
    fe n;
    fe_sub(n, P, y);
    fe_cmov(y, n, mask);
}

/* ---- k * P for a peer's point -------------------------------------------------------------- */

static void p256_var_mul(pt *acc, const int8_t d[WINDOWS], const pt *p) {
    pt table[16], q;
    uint64_t neg;
    table[0] = *p;
    for (int j = 1; j < 16; j++) {
        if (j & 1)
            pt_double(&table[j], &table[j / 2]); /* 2 (j/2 + 1) P */
        else
            pt_add(&table[j], &table[j - 1], p);
    }
    memset(acc, 0, sizeof *acc);
    for (int w = WINDOWS - 1; w >= 0; w--) {
        if (w != WINDOWS - 1)
            for (int k = 0; k < 5; k++) pt_double(acc, acc);
        unsigned m = digit_abs(d[w], &neg);
        memset(&q, 0, sizeof q); /* digit 0: the point at infinity */
        for (unsigned j = 0; j < 16; j++) pt_cmov(&q, &table[j], eq_mask(m, j + 1));
        fe_cneg(q.y, neg);
        pt_add(acc, acc, &q);
    }
    ZC_WIPE(table, sizeof table);
    ZC_WIPE(&q, sizeof q);
}

/* ---- k * G: the fixed-base table ------------------------------------------------------------ */

static fe gtab[WINDOWS][16][2]; /* j+1 times 32^w G, affine, Montgomery form */
static int gtab_ready;

/* Jacobian points to affine with one inversion (Montgomery's trick) */
static void to_affine(fe out[][2], const pt *in, int n) {
    fe acc[16], inv, zi, zi2, t;
    memcpy(acc[0], in[0].z, sizeof(fe));
    for (int i = 1; i < n; i++) fe_mul(acc[i], acc[i - 1], in[i].z);
    fe_inv(inv, acc[n - 1]);
    for (int i = n - 1; i >= 0; i--) {
        if (i) {
            fe_mul(zi, inv, acc[i - 1]); /* 1 / z_i */
            fe_mul(inv, inv, in[i].z);   /* 1 / (z_0 ... z_{i-1}) */
        } else {
            memcpy(zi, inv, sizeof(fe));
        }
        fe_sqr(zi2, zi);
        fe_mul(out[i][0], in[i].x, zi2);
        fe_mul(t, zi2, zi);
        fe_mul(out[i][1], in[i].y, t);
    }
}

void zc_p256_prepare(void) {
    if (gtab_ready) return;
    pt base, row[16];
    fe_mul(base.x, GX, RR);
    fe_mul(base.y, GY, RR);
    memcpy(base.z, ONE, sizeof(fe));
    for (int w = 0; w < WINDOWS; w++) {
        row[0] = base;
        pt_double(&row[1], &base);
        for (int j = 2; j < 16; j++) pt_add(&row[j], &row[j - 1], &base);
        to_affine(gtab[w], row, 16);
        for (int k = 0; k < 5; k++) pt_double(&base, &base);
    }
    gtab_ready = 1;
}

/* Window w adds d[w] 32^w G. The partial sum before window w is a multiple m G with
 * |m| < 0.52 * 32^w, never equal to +-d[w] 32^w G with d[w] != 0 (and below n throughout):
 * madd's doubling case cannot arise. */
static void p256_base_mul(pt *acc, const int8_t d[WINDOWS]) {
    fe x, y;
    uint64_t neg;
    zc_p256_prepare();
    memset(acc, 0, sizeof *acc);
    for (int w = 0; w < WINDOWS; w++) {
        unsigned m = digit_abs(d[w], &neg);
        memset(x, 0, sizeof x);
        memset(y, 0, sizeof y);
        for (unsigned j = 0; j < 16; j++) {
            uint64_t mask = eq_mask(m, j + 1);
            fe_cmov(x, gtab[w][j][0], mask);
            fe_cmov(y, gtab[w][j][1], mask);
        }
        fe_cneg(y, neg);
        pt_madd(acc, x, y, ~eq_mask(m, 0));
    }
    ZC_WIPE(x, sizeof x), ZC_WIPE(y, sizeof y);
}

/* ---- the entry point ------------------------------------------------------------------------ */

int zc_p256_mul(const uint8_t k[32], const uint8_t *point, uint8_t out[64]) {
    int8_t d[WINDOWS];
    pt acc;
    if (recode(d, k)) return ZC_ERR_CRYPTO; /* k = 0 mod n: no point to give */
    if (point) {
        fe x, y, l, r, t;
        pt p;
        fe_from_be(x, point);
        fe_from_be(y, point + 32);
        if (!below(x, P) || !below(y, P)) return ZC_ERR_POINT;
        fe_mul(p.x, x, RR);
        fe_mul(p.y, y, RR);
        memcpy(p.z, ONE, sizeof(fe));
        /* y^2 = x^3 - 3x + b */
        fe_sqr(l, p.y);
        fe_sqr(r, p.x);
        fe_mul(r, r, p.x);
        fe_add(t, p.x, p.x);
        fe_add(t, t, p.x);
        fe_sub(r, r, t);
        fe_mul(t, B, RR);
        fe_add(r, r, t);
        if (memcmp(l, r, sizeof l) != 0) return ZC_ERR_POINT;
        p256_var_mul(&acc, d, &p);
    } else {
        p256_base_mul(&acc, d);
    }
    ZC_WIPE(d, sizeof d);
    if (fe_zero_mask(acc.z)) return ZC_ERR_CRYPTO; /* cannot happen for 0 < k < n */
    fe zi, zi2, e;
    fe_inv(zi, acc.z);
    fe_sqr(zi2, zi);
    fe_mul(e, acc.x, zi2);
    fe_mul(e, e, ONE_PLAIN); /* out of Montgomery form */
    fe_to_be(out, e);
    fe_mul(zi2, zi2, zi);
    fe_mul(e, acc.y, zi2);
    fe_mul(e, e, ONE_PLAIN);
    fe_to_be(out + 32, e);
    ZC_WIPE(&acc, sizeof acc), ZC_WIPE(zi, sizeof zi), ZC_WIPE(zi2, sizeof zi2), ZC_WIPE(e, sizeof e);
    return ZC_OK;
}

#endif

/* _zcrypto for MicroPython: a user C module over the C core (zcrypto.c), with the same functions
 * as the CPython binding. Lengths are checked in zerotap/crypto/backend_native.py, except on the
 * per-packet SRTP path, which checks its spans here with the same messages as the pure backends.
 * The SRTP calls allocate nothing for small-int arguments (every SSRC and index on 64-bit
 * ports; on a 32-bit board values above 2^30 are already heap ints before they get here). */
#include <string.h>

#include "py/binary.h"
#include "py/objint.h"
#include "py/runtime.h"

#include "zcrypto.h"

static MP_NORETURN void fail(int r) {
    switch (r) {
        case ZC_ERR_POINT: mp_raise_ValueError(MP_ERROR_TEXT("public value is not a point on the curve"));
        case ZC_ERR_ZERO: mp_raise_ValueError(MP_ERROR_TEXT("X255 shared secret is all zero"));
        case ZC_ERR_ARG: mp_raise_ValueError(MP_ERROR_TEXT("bad argument length"));
    }
    mp_raise_msg_varg(&mp_type_RuntimeError, MP_ERROR_TEXT("mbedTLS failed (%d)"), r);
}

/* The result of a function that left a secret in OUT on the stack: wiped before return (also
 * before an error is raised). */
static mp_obj_t wiped(uint8_t *out, size_t size, int r, size_t len) {
    if (r) {
        ZC_WIPE(out, size);
        fail(r);
    }
    mp_obj_t o = mp_obj_new_bytes(out, len);
    ZC_WIPE(out, size);
    return o;
}

/* entropy(n, enable=False) -> up to n bytes of hardware entropy (b"" where there is none) */
static mp_obj_t zc_mp_entropy(size_t n_args, const mp_obj_t *args) {
    uint8_t buf[64];
    mp_int_t n = mp_obj_get_int(args[0]);
    if (n < 0 || n > (mp_int_t)sizeof buf) mp_raise_ValueError(MP_ERROR_TEXT("entropy: 0 to 64 bytes"));
    int got = zc_entropy(buf, (size_t)n, n_args > 1 && mp_obj_is_true(args[1]));
    mp_obj_t o = mp_obj_new_bytes(buf, (size_t)got);
    ZC_WIPE(buf, sizeof buf);
    return o;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(zc_mp_entropy_obj, 1, 2, zc_mp_entropy);

static mp_obj_t zc_mp_hash(mp_obj_t alg_in, mp_obj_t data_in) {
    mp_buffer_info_t data;
    uint8_t out[48];
    int alg = mp_obj_get_int(alg_in);
    mp_get_buffer_raise(data_in, &data, MP_BUFFER_READ);
    int r = zc_hash(alg, data.buf, data.len, out);
    return wiped(out, sizeof out, r, zc_digest_size(alg));
}
static MP_DEFINE_CONST_FUN_OBJ_2(zc_mp_hash_obj, zc_mp_hash);

static mp_obj_t zc_mp_hmac(mp_obj_t alg_in, mp_obj_t key_in, mp_obj_t data_in) {
    mp_buffer_info_t key, data;
    uint8_t out[48];
    int alg = mp_obj_get_int(alg_in);
    mp_get_buffer_raise(key_in, &key, MP_BUFFER_READ);
    mp_get_buffer_raise(data_in, &data, MP_BUFFER_READ);
    int r = zc_hmac(alg, key.buf, key.len, data.buf, data.len, out);
    return wiped(out, sizeof out, r, zc_digest_size(alg));
}
static MP_DEFINE_CONST_FUN_OBJ_3(zc_mp_hmac_obj, zc_mp_hmac);

static mp_obj_t zc_mp_aes_ecb(mp_obj_t key_in, mp_obj_t block_in) {
    mp_buffer_info_t key, block;
    uint8_t out[16];
    mp_get_buffer_raise(key_in, &key, MP_BUFFER_READ);
    mp_get_buffer_raise(block_in, &block, MP_BUFFER_READ);
    int r = block.len == 16 ? zc_aes_ecb(key.buf, key.len, block.buf, out) : ZC_ERR_ARG;
    return wiped(out, sizeof out, r, 16);
}
static MP_DEFINE_CONST_FUN_OBJ_2(zc_mp_aes_ecb_obj, zc_mp_aes_ecb);

/* aes_stream(mode, key, iv, data): mode 0 CTR, 1 CFB encrypt, 2 CFB decrypt */
static mp_obj_t zc_mp_aes_stream(size_t n_args, const mp_obj_t *args) {
    mp_buffer_info_t key, iv, data;
    int mode = mp_obj_get_int(args[0]);
    mp_get_buffer_raise(args[1], &key, MP_BUFFER_READ);
    mp_get_buffer_raise(args[2], &iv, MP_BUFFER_READ);
    mp_get_buffer_raise(args[3], &data, MP_BUFFER_READ);
    if (iv.len != 16) fail(ZC_ERR_ARG);
    vstr_t out;
    vstr_init_len(&out, data.len);
    uint8_t *o = (uint8_t *)out.buf;
    int r = mode == 0 ? zc_aes_ctr(key.buf, key.len, iv.buf, data.buf, o, data.len)
                      : zc_aes_cfb(key.buf, key.len, iv.buf, data.buf, o, data.len, mode == 2);
    if (r) {
        vstr_clear(&out);
        fail(r);
    }
    return mp_obj_new_bytes_from_vstr(&out);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(zc_mp_aes_stream_obj, 4, 4, zc_mp_aes_stream);

/* A non-negative int of at most BITS bits (BITS <= 64), without allocating for small ints. */
static bool get_bits(mp_obj_t o, int bits, uint64_t *out) {
    if (mp_obj_is_small_int(o)) {
        mp_int_t v = MP_OBJ_SMALL_INT_VALUE(o);
        if (v < 0) return false;
        *out = (uint64_t)v;
        return bits >= 64 || (*out >> bits) == 0;
    }
    if (!mp_obj_is_int(o) || mp_obj_int_sign(o) < 0) return false;
    mp_obj_t hi = mp_binary_op(MP_BINARY_OP_RSHIFT, o, MP_OBJ_NEW_SMALL_INT(bits));
    if (!mp_obj_is_small_int(hi) || MP_OBJ_SMALL_INT_VALUE(hi) != 0) return false;
    /* 24-bit pieces are small ints on every port */
    uint64_t v = 0;
    for (int shift = 0; shift < bits; shift += 24) {
        mp_obj_t piece = mp_binary_op(MP_BINARY_OP_AND, mp_binary_op(MP_BINARY_OP_RSHIFT, o, MP_OBJ_NEW_SMALL_INT(shift)),
                                      MP_OBJ_NEW_SMALL_INT(0xFFFFFF));
        v |= (uint64_t)MP_OBJ_SMALL_INT_VALUE(piece) << shift;
    }
    *out = v;
    return true;
}

static mp_obj_t zc_mp_crc32c(size_t n_args, const mp_obj_t *args) {
    mp_buffer_info_t data;
    uint64_t crc = 0;
    mp_get_buffer_raise(args[0], &data, MP_BUFFER_READ);
    if (n_args > 1 && !get_bits(args[1], 32, &crc)) mp_raise_ValueError(MP_ERROR_TEXT("crc must fit 32 bits"));
    return mp_obj_new_int_from_uint(zc_crc32c((uint32_t)crc, data.buf, data.len));
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(zc_mp_crc32c_obj, 1, 2, zc_mp_crc32c);

static mp_obj_t zc_mp_dh(mp_obj_t group_in, mp_obj_t base_in, mp_obj_t exp_in) {
    mp_buffer_info_t base, exp;
    uint8_t out[384];
    int group = mp_obj_get_int(group_in);
    mp_get_buffer_raise(base_in, &base, MP_BUFFER_READ);
    mp_get_buffer_raise(exp_in, &exp, MP_BUFFER_READ);
    int r = zc_dh(group, base.len ? base.buf : NULL, base.len, exp.buf, exp.len, out);
    return wiped(out, sizeof out, r, zc_dh_size(group));
}
static MP_DEFINE_CONST_FUN_OBJ_3(zc_mp_dh_obj, zc_mp_dh);

static mp_obj_t zc_mp_ec_mul(size_t n_args, const mp_obj_t *args) {
    mp_buffer_info_t scalar, point, seed;
    uint8_t out[96];
    int curve = mp_obj_get_int(args[0]);
    mp_get_buffer_raise(args[1], &scalar, MP_BUFFER_READ);
    mp_get_buffer_raise(args[2], &point, MP_BUFFER_READ);
    mp_get_buffer_raise(args[3], &seed, MP_BUFFER_READ);
    size_t n = zc_ec_size(curve);
    if (!n || (point.len != 0 && point.len != 2 * n)) fail(ZC_ERR_ARG);
    int r = zc_ec_mul(curve, scalar.buf, scalar.len, point.len ? point.buf : NULL, out, seed.buf, seed.len);
    return wiped(out, sizeof out, r, 2 * n);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(zc_mp_ec_mul_obj, 4, 4, zc_mp_ec_mul);

static mp_obj_t zc_mp_x25519(mp_obj_t scalar_in, mp_obj_t u_in, mp_obj_t seed_in) {
    mp_buffer_info_t scalar, u, seed;
    uint8_t out[32];
    mp_get_buffer_raise(scalar_in, &scalar, MP_BUFFER_READ);
    mp_get_buffer_raise(u_in, &u, MP_BUFFER_READ);
    mp_get_buffer_raise(seed_in, &seed, MP_BUFFER_READ);
    if (scalar.len != 32 || u.len != 32) fail(ZC_ERR_ARG);
    int r = zc_x25519(scalar.buf, u.buf, out, seed.buf, seed.len);
    return wiped(out, sizeof out, r, 32);
}
static MP_DEFINE_CONST_FUN_OBJ_3(zc_mp_x25519_obj, zc_mp_x25519);

/* cpu_features([enable]): as in the CPython binding */
static mp_obj_t zc_mp_cpu_features(size_t n_args, const mp_obj_t *args) {
    int f = zc_cpu_features(n_args ? mp_obj_is_true(args[0]) : -1);
    mp_obj_t names[2];
    size_t n = 0;
    if (f & ZC_X86_AES) names[n++] = mp_obj_new_str("aes-ni", 6);
    if (f & ZC_X86_SHA) names[n++] = mp_obj_new_str("sha-ni", 6);
    return mp_obj_new_tuple(n, names);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(zc_mp_cpu_features_obj, 0, 1, zc_mp_cpu_features);

/* ---- SrtpStream: per-SSRC state of an SRTP session, for the fast path ------------------------ */

typedef struct {
    mp_obj_base_t base;
    zc_stream s;
} zc_stream_obj_t;

extern const mp_obj_type_t zc_stream_type;

/* SrtpStream(ssrc_bytes, ssrc, index), as srtp.py's _Stream */
static mp_obj_t zc_stream_make_new(const mp_obj_type_t *type, size_t n_args, size_t n_kw, const mp_obj_t *args) {
    mp_arg_check_num(n_args, n_kw, 3, 3, false);
    mp_buffer_info_t sb;
    uint64_t ssrc, index;
    mp_get_buffer_raise(args[0], &sb, MP_BUFFER_READ);
    if (sb.len != 4) mp_raise_ValueError(MP_ERROR_TEXT("SRTP SSRC must be 4 bytes"));
    if (!get_bits(args[1], 32, &ssrc)) mp_raise_ValueError(MP_ERROR_TEXT("SRTP SSRC must fit 32 bits"));
    if (!get_bits(args[2], 64, &index)) mp_raise_ValueError(MP_ERROR_TEXT("SRTP index must be a non-negative 64-bit int"));
    zc_stream_obj_t *o = mp_obj_malloc(zc_stream_obj_t, type);
    zc_stream_init(&o->s, (uint32_t)ssrc, index);
    return MP_OBJ_FROM_PTR(o);
}

static uint64_t stream_index(mp_obj_t o) {
    uint64_t v;
    if (!get_bits(o, 64, &v)) mp_raise_ValueError(MP_ERROR_TEXT("SRTP index must be a non-negative 64-bit int"));
    return v;
}

static mp_obj_t zc_mp_stream_check(mp_obj_t self_in, mp_obj_t index) {
    zc_stream_obj_t *self = MP_OBJ_TO_PTR(self_in);
    return MP_OBJ_NEW_SMALL_INT(zc_stream_check(&self->s, stream_index(index)));
}
static MP_DEFINE_CONST_FUN_OBJ_2(zc_stream_check_obj, zc_mp_stream_check);

static mp_obj_t zc_mp_stream_add(mp_obj_t self_in, mp_obj_t index) {
    zc_stream_obj_t *self = MP_OBJ_TO_PTR(self_in);
    zc_stream_add(&self->s, stream_index(index));
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_2(zc_stream_add_obj, zc_mp_stream_add);

/* the attributes of srtp.py's _Stream: ssrc, hi, lo, highest and next (the last two writable) */
static void zc_stream_attr(mp_obj_t self_in, qstr attr, mp_obj_t *dest) {
    zc_stream_obj_t *self = MP_OBJ_TO_PTR(self_in);
    if (dest[0] == MP_OBJ_NULL) {
        switch (attr) {
            case MP_QSTR_ssrc: dest[0] = mp_obj_new_int_from_uint(self->s.ssrc); return;
            case MP_QSTR_hi: dest[0] = MP_OBJ_NEW_SMALL_INT(self->s.ssrc >> 16); return;
            case MP_QSTR_lo: dest[0] = MP_OBJ_NEW_SMALL_INT(self->s.ssrc & 0xFFFF); return;
            case MP_QSTR_highest: dest[0] = mp_obj_new_int_from_ull(self->s.highest); return;
            case MP_QSTR_next: dest[0] = mp_obj_new_int_from_ull(self->s.next); return;
        }
        dest[1] = MP_OBJ_SENTINEL; /* methods: on to the locals dict */
    } else if (dest[1] != MP_OBJ_NULL && (attr == MP_QSTR_highest || attr == MP_QSTR_next)) {
        uint64_t v = stream_index(dest[1]);
        if (attr == MP_QSTR_highest)
            self->s.highest = v;
        else
            self->s.next = v;
        dest[0] = MP_OBJ_NULL; /* stored */
    }
}

static const mp_rom_map_elem_t zc_stream_locals_table[] = {
    {MP_ROM_QSTR(MP_QSTR_check), MP_ROM_PTR(&zc_stream_check_obj)},
    {MP_ROM_QSTR(MP_QSTR_add), MP_ROM_PTR(&zc_stream_add_obj)},
};
static MP_DEFINE_CONST_DICT(zc_stream_locals, zc_stream_locals_table);

MP_DEFINE_CONST_OBJ_TYPE(zc_stream_type, MP_QSTR_SrtpStream, MP_TYPE_FLAG_NONE, make_new, zc_stream_make_new, attr,
                         zc_stream_attr, locals_dict, &zc_stream_locals);

/* ---- SrtpTransform -------------------------------------------------------------------------- */

typedef struct {
    mp_obj_base_t base;
    zc_srtp t;
    int wiped;
} zc_srtp_obj_t;

#define ZC_NOT_WIPED(self) \
    if ((self)->wiped) mp_raise_ValueError(MP_ERROR_TEXT("SRTP transform was wiped"))

static mp_obj_t zc_srtp_make_new(const mp_obj_type_t *type, size_t n_args, size_t n_kw, const mp_obj_t *args) {
    mp_arg_check_num(n_args, n_kw, 4, 4, false);
    mp_buffer_info_t key, salt, auth;
    /* ints first, buffers last: a conversion can run Python code (__int__) that resizes a
     * bytearray, and a buffer taken before it would then point into the freed block */
    int tag_len = mp_obj_get_int(args[3]);
    mp_get_buffer_raise(args[0], &key, MP_BUFFER_READ);
    mp_get_buffer_raise(args[1], &salt, MP_BUFFER_READ);
    mp_get_buffer_raise(args[2], &auth, MP_BUFFER_READ);
    if (salt.len != 14 || auth.len != 20) fail(ZC_ERR_ARG);
    /* with a finaliser (__del__, that is wipe()): the session keys of a transform dropped without
     * wipe() are overwritten when the collector frees it, not left in the free heap */
    zc_srtp_obj_t *o = mp_obj_malloc_with_finaliser(zc_srtp_obj_t, type);
    o->wiped = 0;
    int r = zc_srtp_init(&o->t, key.buf, key.len, salt.buf, auth.buf, tag_len);
    if (r) fail(r);
    return MP_OBJ_FROM_PTR(o);
}

/* (self, buf, enc_start, enc_end, auth_end, ssrc, index, suffix): one call per packet */
static mp_obj_t zc_srtp_call(size_t n_args, const mp_obj_t *args, int protect) {
    zc_srtp_obj_t *self = MP_OBJ_TO_PTR(args[0]);
    ZC_NOT_WIPED(self);
    mp_buffer_info_t b;
    /* the buffer last, after every conversion (see zc_srtp_make_new) */
    mp_int_t es = mp_obj_get_int(args[2]), ee = mp_obj_get_int(args[3]), ae = mp_obj_get_int(args[4]);
    uint64_t ssrc, index, suffix = 0;
    bool has_suffix = !(mp_obj_is_small_int(args[7]) && MP_OBJ_SMALL_INT_VALUE(args[7]) < 0);
    if (!get_bits(args[5], 32, &ssrc)) mp_raise_ValueError(MP_ERROR_TEXT("SRTP SSRC must fit 32 bits"));
    if (!get_bits(args[6], 48, &index)) mp_raise_ValueError(MP_ERROR_TEXT("SRTP index must fit 48 bits"));
    if (has_suffix && !get_bits(args[7], 32, &suffix)) mp_raise_ValueError(MP_ERROR_TEXT("SRTP suffix must fit 32 bits"));
    mp_get_buffer_raise(args[1], &b, MP_BUFFER_WRITE);
    long r = ZC_ERR_SPAN;
    if (es >= 0 && ee >= 0 && ae >= 0) {
        int64_t sfx = has_suffix ? (int64_t)suffix : -1;
        r = protect ? zc_srtp_protect(&self->t, b.buf, b.len, es, ee, ae, (uint32_t)ssrc, index, sfx)
                    : zc_srtp_unprotect(&self->t, b.buf, b.len, es, ee, ae, (uint32_t)ssrc, index, sfx);
    }
    /* the condition is an argument, not in the format: MicroPython writes one byte past its
     * stack buffer when the text it raises is the longest of the build (77 characters here) */
    if (r == ZC_ERR_SPAN)
        mp_raise_msg_varg(&mp_type_ValueError, MP_ERROR_TEXT("SRTP spans must satisfy %s, got %d, %d, %d"),
                          "0 <= enc_start <= enc_end <= auth_end", (int)es, (int)ee, (int)ae);
    if (r == ZC_ERR_ROOM)
        mp_raise_msg_varg(&mp_type_ValueError, MP_ERROR_TEXT("SRTP buffer of %d bytes has no room for the tag at %d"),
                          (int)b.len, (int)ae);
    if (r < 0) fail((int)r);
    return protect ? MP_OBJ_NEW_SMALL_INT(r) : mp_obj_new_bool(r);
}

static mp_obj_t zc_srtp_mp_protect(size_t n_args, const mp_obj_t *args) {
    return zc_srtp_call(n_args, args, 1);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(zc_srtp_protect_obj, 8, 8, zc_srtp_mp_protect);

static mp_obj_t zc_srtp_mp_unprotect(size_t n_args, const mp_obj_t *args) {
    return zc_srtp_call(n_args, args, 0);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(zc_srtp_unprotect_obj, 8, 8, zc_srtp_mp_unprotect);

/* The in-order fast path, as in the CPython binding: protect_next(buf, length, stream) and
 * unprotect_next(buf, length, stream) in place (new length, -1 not the fast case, -2 wrong tag),
 * protect_bytes(packet, stream) and unprotect_bytes(packet, stream) (new bytes, or None). */
static zc_stream_obj_t *stream_arg(mp_obj_t o) {
    if (!mp_obj_is_type(o, &zc_stream_type)) mp_raise_TypeError(MP_ERROR_TEXT("expected an SrtpStream"));
    return MP_OBJ_TO_PTR(o);
}

static mp_obj_t zc_srtp_next_in_place(const mp_obj_t *args, int unprotect) {
    zc_srtp_obj_t *self = MP_OBJ_TO_PTR(args[0]);
    ZC_NOT_WIPED(self);
    mp_buffer_info_t b;
    mp_int_t length = mp_obj_get_int(args[2]); /* before the buffer is taken (see zc_srtp_make_new) */
    zc_stream_obj_t *st = stream_arg(args[3]);
    mp_get_buffer_raise(args[1], &b, MP_BUFFER_WRITE);
    if (length < 0 || (size_t)length > b.len) return MP_OBJ_NEW_SMALL_INT(-1);
    int64_t index = zc_srtp_next(&self->t, &st->s, b.buf, (size_t)length, unprotect);
    if (index < 0) return MP_OBJ_NEW_SMALL_INT(-1);
    long r;
    if (unprotect) {
        r = zc_srtp_open_next(&self->t, &st->s, b.buf, (size_t)length, index, b.buf);
    } else {
        if (b.len < (size_t)length + (size_t)self->t.tag_len) return MP_OBJ_NEW_SMALL_INT(-1);
        r = zc_srtp_seal_next(&self->t, &st->s, b.buf, (size_t)length, index, b.buf);
    }
    if (r == ZC_ERR_AUTH) return MP_OBJ_NEW_SMALL_INT(-2);
    if (r < 0) fail((int)r);
    return MP_OBJ_NEW_SMALL_INT(r);
}

static mp_obj_t zc_srtp_protect_next(size_t n_args, const mp_obj_t *args) {
    return zc_srtp_next_in_place(args, 0);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(zc_srtp_protect_next_obj, 4, 4, zc_srtp_protect_next);

static mp_obj_t zc_srtp_unprotect_next(size_t n_args, const mp_obj_t *args) {
    return zc_srtp_next_in_place(args, 1);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(zc_srtp_unprotect_next_obj, 4, 4, zc_srtp_unprotect_next);

static mp_obj_t zc_srtp_next_bytes(mp_obj_t self_in, mp_obj_t packet, mp_obj_t stream, int unprotect) {
    zc_srtp_obj_t *self = MP_OBJ_TO_PTR(self_in);
    ZC_NOT_WIPED(self);
    zc_stream_obj_t *st = stream_arg(stream);
    mp_buffer_info_t p;
    mp_get_buffer_raise(packet, &p, MP_BUFFER_READ);
    int64_t index = zc_srtp_next(&self->t, &st->s, p.buf, p.len, unprotect);
    if (index < 0) return mp_const_none;
    vstr_t out;
    vstr_init_len(&out, unprotect ? p.len - (size_t)self->t.tag_len : p.len + (size_t)self->t.tag_len);
    long r = unprotect ? zc_srtp_open_next(&self->t, &st->s, p.buf, p.len, index, (uint8_t *)out.buf)
                       : zc_srtp_seal_next(&self->t, &st->s, p.buf, p.len, index, (uint8_t *)out.buf);
    if (r < 0) {
        vstr_clear(&out);
        if (r == ZC_ERR_AUTH) return mp_const_none;
        fail((int)r);
    }
    return mp_obj_new_bytes_from_vstr(&out);
}

static mp_obj_t zc_srtp_protect_bytes(mp_obj_t self_in, mp_obj_t packet, mp_obj_t stream) {
    return zc_srtp_next_bytes(self_in, packet, stream, 0);
}
static MP_DEFINE_CONST_FUN_OBJ_3(zc_srtp_protect_bytes_obj, zc_srtp_protect_bytes);

static mp_obj_t zc_srtp_unprotect_bytes(mp_obj_t self_in, mp_obj_t packet, mp_obj_t stream) {
    return zc_srtp_next_bytes(self_in, packet, stream, 1);
}
static MP_DEFINE_CONST_FUN_OBJ_3(zc_srtp_unprotect_bytes_obj, zc_srtp_unprotect_bytes);

/* wipe(): the session keys overwritten (zc_srtp_free); the transform must not be used after */
static mp_obj_t zc_srtp_wipe(mp_obj_t self_in) {
    zc_srtp_obj_t *self = MP_OBJ_TO_PTR(self_in);
    zc_srtp_free(&self->t);
    self->wiped = 1;
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_1(zc_srtp_wipe_obj, zc_srtp_wipe);

static const mp_rom_map_elem_t zc_srtp_locals_table[] = {
    {MP_ROM_QSTR(MP_QSTR___del__), MP_ROM_PTR(&zc_srtp_wipe_obj)},
    {MP_ROM_QSTR(MP_QSTR_wipe), MP_ROM_PTR(&zc_srtp_wipe_obj)},
    {MP_ROM_QSTR(MP_QSTR_protect), MP_ROM_PTR(&zc_srtp_protect_obj)},
    {MP_ROM_QSTR(MP_QSTR_unprotect), MP_ROM_PTR(&zc_srtp_unprotect_obj)},
    {MP_ROM_QSTR(MP_QSTR_protect_next), MP_ROM_PTR(&zc_srtp_protect_next_obj)},
    {MP_ROM_QSTR(MP_QSTR_unprotect_next), MP_ROM_PTR(&zc_srtp_unprotect_next_obj)},
    {MP_ROM_QSTR(MP_QSTR_protect_bytes), MP_ROM_PTR(&zc_srtp_protect_bytes_obj)},
    {MP_ROM_QSTR(MP_QSTR_unprotect_bytes), MP_ROM_PTR(&zc_srtp_unprotect_bytes_obj)},
};
static MP_DEFINE_CONST_DICT(zc_srtp_locals, zc_srtp_locals_table);

MP_DEFINE_CONST_OBJ_TYPE(zc_srtp_type, MP_QSTR_SrtpTransform, MP_TYPE_FLAG_NONE, make_new, zc_srtp_make_new,
                         locals_dict, &zc_srtp_locals);

/* ---- the module ----------------------------------------------------------------------------- */

static const mp_rom_map_elem_t zc_globals_table[] = {
    {MP_ROM_QSTR(MP_QSTR___name__), MP_ROM_QSTR(MP_QSTR__zcrypto)},
    {MP_ROM_QSTR(MP_QSTR_hash), MP_ROM_PTR(&zc_mp_hash_obj)},
    {MP_ROM_QSTR(MP_QSTR_hmac), MP_ROM_PTR(&zc_mp_hmac_obj)},
    {MP_ROM_QSTR(MP_QSTR_aes_ecb), MP_ROM_PTR(&zc_mp_aes_ecb_obj)},
    {MP_ROM_QSTR(MP_QSTR_aes_stream), MP_ROM_PTR(&zc_mp_aes_stream_obj)},
    {MP_ROM_QSTR(MP_QSTR_crc32c), MP_ROM_PTR(&zc_mp_crc32c_obj)},
    {MP_ROM_QSTR(MP_QSTR_entropy), MP_ROM_PTR(&zc_mp_entropy_obj)},
    {MP_ROM_QSTR(MP_QSTR_dh), MP_ROM_PTR(&zc_mp_dh_obj)},
    {MP_ROM_QSTR(MP_QSTR_ec_mul), MP_ROM_PTR(&zc_mp_ec_mul_obj)},
    {MP_ROM_QSTR(MP_QSTR_x25519), MP_ROM_PTR(&zc_mp_x25519_obj)},
    {MP_ROM_QSTR(MP_QSTR_cpu_features), MP_ROM_PTR(&zc_mp_cpu_features_obj)},
    {MP_ROM_QSTR(MP_QSTR_SrtpTransform), MP_ROM_PTR(&zc_srtp_type)},
    {MP_ROM_QSTR(MP_QSTR_SrtpStream), MP_ROM_PTR(&zc_stream_type)},
    {MP_ROM_QSTR(MP_QSTR_MBEDTLS_VERSION), MP_ROM_INT(MBEDTLS_VERSION_NUMBER >> 8)},
};
static MP_DEFINE_CONST_DICT(zc_globals, zc_globals_table);

const mp_obj_module_t zc_user_cmodule = {
    .base = {&mp_type_module},
    .globals = (mp_obj_dict_t *)&zc_globals,
};

MP_REGISTER_MODULE(MP_QSTR__zcrypto, zc_user_cmodule);

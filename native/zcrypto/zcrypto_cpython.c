/* _zcrypto for CPython: a thin binding over the C core (zcrypto.c). Lengths are checked in
 * zerotap/crypto/backend_native.py before these are called, except on the per-packet SRTP path,
 * which checks its spans here, with the same messages as the pure backends. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "zcrypto.h"

static PyObject *fail(int r) {
    switch (r) {
        case ZC_ERR_POINT: return PyErr_Format(PyExc_ValueError, "public value is not a point on the curve");
        case ZC_ERR_ZERO: return PyErr_Format(PyExc_ValueError, "X255 shared secret is all zero");
        case ZC_ERR_ARG: return PyErr_Format(PyExc_ValueError, "bad argument length");
    }
    return PyErr_Format(PyExc_RuntimeError, "mbedTLS failed (%d)", r);
}

/* The result (or the error) of a function that left a secret in OUT on the stack: wiped before return. */
static PyObject *wiped(uint8_t *out, size_t size, int r, Py_ssize_t len) {
    PyObject *o = r ? fail(r) : PyBytes_FromStringAndSize((char *)out, len);
    ZC_WIPE(out, size);
    return o;
}

/* entropy(n, enable) -> up to n bytes of hardware entropy (b"" where there is none) */
static PyObject *py_entropy(PyObject *self, PyObject *args) {
    Py_ssize_t n;
    int enable = 0;
    uint8_t buf[64];
    if (!PyArg_ParseTuple(args, "n|p", &n, &enable)) return NULL;
    if (n < 0 || n > (Py_ssize_t)sizeof buf) return PyErr_Format(PyExc_ValueError, "entropy: 0 to 64 bytes");
    int got = zc_entropy(buf, (size_t)n, enable);
    PyObject *o = PyBytes_FromStringAndSize((char *)buf, got);
    ZC_WIPE(buf, sizeof buf);
    return o;
}

static PyObject *py_hash(PyObject *self, PyObject *args) {
    int alg;
    Py_buffer data;
    uint8_t out[48];
    if (!PyArg_ParseTuple(args, "iy*", &alg, &data)) return NULL;
    int r;
    Py_BEGIN_ALLOW_THREADS r = zc_hash(alg, data.buf, (size_t)data.len, out);
    Py_END_ALLOW_THREADS PyBuffer_Release(&data);
    return wiped(out, sizeof out, r, (Py_ssize_t)zc_digest_size(alg));
}

static PyObject *py_hmac(PyObject *self, PyObject *args) {
    int alg;
    Py_buffer key, data;
    uint8_t out[48];
    if (!PyArg_ParseTuple(args, "iy*y*", &alg, &key, &data)) return NULL;
    int r = zc_hmac(alg, key.buf, (size_t)key.len, data.buf, (size_t)data.len, out);
    PyBuffer_Release(&key), PyBuffer_Release(&data);
    return wiped(out, sizeof out, r, (Py_ssize_t)zc_digest_size(alg));
}

static PyObject *py_aes_ecb(PyObject *self, PyObject *args) {
    Py_buffer key, block;
    uint8_t out[16];
    if (!PyArg_ParseTuple(args, "y*y*", &key, &block)) return NULL;
    int r = block.len == 16 ? zc_aes_ecb(key.buf, (size_t)key.len, block.buf, out) : ZC_ERR_ARG;
    PyBuffer_Release(&key), PyBuffer_Release(&block);
    return wiped(out, sizeof out, r, 16);
}

/* mode 0: CTR, 1: CFB encrypt, 2: CFB decrypt */
static PyObject *py_aes_stream(PyObject *self, PyObject *args) {
    int mode;
    Py_buffer key, iv, data;
    if (!PyArg_ParseTuple(args, "iy*y*y*", &mode, &key, &iv, &data)) return NULL;
    PyObject *out = PyBytes_FromStringAndSize(NULL, data.len);
    int r = ZC_ERR_ARG;
    if (out && iv.len == 16) {
        uint8_t *o = (uint8_t *)PyBytes_AS_STRING(out);
        r = mode == 0 ? zc_aes_ctr(key.buf, (size_t)key.len, iv.buf, data.buf, o, (size_t)data.len)
                      : zc_aes_cfb(key.buf, (size_t)key.len, iv.buf, data.buf, o, (size_t)data.len, mode == 2);
    }
    PyBuffer_Release(&key), PyBuffer_Release(&iv), PyBuffer_Release(&data);
    if (!out) return NULL;
    if (r) {
        Py_DECREF(out);
        return fail(r);
    }
    return out;
}

static PyObject *py_crc32c(PyObject *self, PyObject *args) {
    Py_buffer data;
    unsigned long crc = 0;
    if (!PyArg_ParseTuple(args, "y*|k", &data, &crc)) return NULL;
    uint32_t c = zc_crc32c((uint32_t)crc, data.buf, (size_t)data.len);
    PyBuffer_Release(&data);
    return PyLong_FromUnsignedLong(c);
}

static PyObject *py_dh(PyObject *self, PyObject *args) {
    int group;
    Py_buffer base, exp;
    uint8_t out[384];
    if (!PyArg_ParseTuple(args, "iy*y*", &group, &base, &exp)) return NULL;
    int r;
    Py_BEGIN_ALLOW_THREADS r = zc_dh(group, base.len ? base.buf : NULL, (size_t)base.len, exp.buf, (size_t)exp.len, out);
    Py_END_ALLOW_THREADS PyBuffer_Release(&base), PyBuffer_Release(&exp);
    return wiped(out, sizeof out, r, (Py_ssize_t)zc_dh_size(group));
}

static PyObject *py_ec_mul(PyObject *self, PyObject *args) {
    int curve;
    Py_buffer scalar, point, seed;
    uint8_t out[96];
    if (!PyArg_ParseTuple(args, "iy*y*y*", &curve, &scalar, &point, &seed)) return NULL;
    size_t n = zc_ec_size(curve);
    int r = ZC_ERR_ARG;
    if (n && (point.len == 0 || (size_t)point.len == 2 * n)) {
        Py_BEGIN_ALLOW_THREADS r = zc_ec_mul(curve, scalar.buf, (size_t)scalar.len, point.len ? point.buf : NULL, out,
                                             seed.buf, (size_t)seed.len);
        Py_END_ALLOW_THREADS
    }
    PyBuffer_Release(&scalar), PyBuffer_Release(&point), PyBuffer_Release(&seed);
    return wiped(out, sizeof out, r, (Py_ssize_t)(2 * n));
}

static PyObject *py_x25519(PyObject *self, PyObject *args) {
    Py_buffer scalar, u, seed;
    uint8_t out[32];
    if (!PyArg_ParseTuple(args, "y*y*y*", &scalar, &u, &seed)) return NULL;
    int r = ZC_ERR_ARG;
    if (scalar.len == 32 && u.len == 32) {
        Py_BEGIN_ALLOW_THREADS r = zc_x25519(scalar.buf, u.buf, out, seed.buf, (size_t)seed.len);
        Py_END_ALLOW_THREADS
    }
    PyBuffer_Release(&scalar), PyBuffer_Release(&u), PyBuffer_Release(&seed);
    return wiped(out, sizeof out, r, 32);
}

/* cpu_features([enable]) -> names of the CPU features the SRTP transform uses; enable False makes
 * it use mbedTLS alone from then on, True restores the features (tests compare both paths). */
static PyObject *py_cpu_features(PyObject *self, PyObject *args) {
    int enable = -1;
    if (!PyArg_ParseTuple(args, "|p", &enable)) return NULL;
    int f = zc_cpu_features(enable);
    PyObject *names = PyTuple_New((f & ZC_X86_AES ? 1 : 0) + (f & ZC_X86_SHA ? 1 : 0));
    if (!names) return NULL;
    Py_ssize_t i = 0;
    if (f & ZC_X86_AES) PyTuple_SET_ITEM(names, i++, PyUnicode_FromString("aes-ni"));
    if (f & ZC_X86_SHA) PyTuple_SET_ITEM(names, i++, PyUnicode_FromString("sha-ni"));
    return names;
}

/* ---- SrtpStream: per-SSRC state of an SRTP session, for the fast path ------------------------ */

typedef struct {
    PyObject_HEAD zc_stream s;
} StreamObject;

static PyTypeObject StreamType;

/* a non-negative int of at most 64 bits (indexes are 48, SSRCs 32: the callers check those) */
static int get_u64(PyObject *o, uint64_t *out, const char *what) {
    unsigned long long v = PyLong_AsUnsignedLongLong(o);
    if (v == (unsigned long long)-1 && PyErr_Occurred()) {
        if (PyErr_ExceptionMatches(PyExc_OverflowError) || PyErr_ExceptionMatches(PyExc_ValueError)) {
            PyErr_Clear();
            PyErr_Format(PyExc_ValueError, "SRTP %s must be a non-negative 64-bit int", what);
        }
        return -1;
    }
    *out = v;
    return 0;
}

/* SrtpStream(ssrc_bytes, ssrc, index), as srtp.py's _Stream */
static int stream_init(StreamObject *self, PyObject *args, PyObject *kw) {
    Py_buffer sb;
    PyObject *ssrc_o, *index_o;
    uint64_t ssrc, index;
    if (!PyArg_ParseTuple(args, "y*OO", &sb, &ssrc_o, &index_o)) return -1;
    Py_ssize_t n = sb.len;
    PyBuffer_Release(&sb);
    if (n != 4) {
        PyErr_Format(PyExc_ValueError, "SRTP SSRC must be 4 bytes, got %zd", n);
        return -1;
    }
    if (get_u64(ssrc_o, &ssrc, "SSRC") || get_u64(index_o, &index, "index")) return -1;
    if (ssrc > 0xFFFFFFFFull) {
        PyErr_SetString(PyExc_ValueError, "SRTP SSRC must fit 32 bits");
        return -1;
    }
    zc_stream_init(&self->s, (uint32_t)ssrc, index);
    return 0;
}

static PyObject *stream_check(StreamObject *self, PyObject *arg) {
    uint64_t index;
    if (get_u64(arg, &index, "index")) return NULL;
    return PyLong_FromLong(zc_stream_check(&self->s, index));
}

static PyObject *stream_add(StreamObject *self, PyObject *arg) {
    uint64_t index;
    if (get_u64(arg, &index, "index")) return NULL;
    zc_stream_add(&self->s, index);
    Py_RETURN_NONE;
}

static PyObject *stream_get(StreamObject *self, void *which) {
    switch ((int)(intptr_t)which) {
        case 0: return PyLong_FromUnsignedLong(self->s.ssrc);
        case 1: return PyLong_FromUnsignedLong(self->s.ssrc >> 16);
        case 2: return PyLong_FromUnsignedLong(self->s.ssrc & 0xFFFF);
        case 3: return PyLong_FromUnsignedLongLong(self->s.highest);
        default: return PyLong_FromUnsignedLongLong(self->s.next);
    }
}

static int stream_set(StreamObject *self, PyObject *value, void *which) {
    uint64_t v;
    if (value == NULL) {
        PyErr_SetString(PyExc_AttributeError, "cannot delete an SrtpStream attribute");
        return -1;
    }
    if (get_u64(value, &v, (int)(intptr_t)which == 3 ? "index" : "SRTCP index")) return -1;
    if ((int)(intptr_t)which == 3)
        self->s.highest = v;
    else
        self->s.next = v;
    return 0;
}

static PyObject *stream_window(StreamObject *self, void *closure) {
    return PyBytes_FromStringAndSize((const char *)self->s.window, sizeof self->s.window);
}

static PyMethodDef stream_methods[] = {
    {"check", (PyCFunction)stream_check, METH_O, "check(index) -> 0 new, 1 seen, 2 older than the window"},
    {"add", (PyCFunction)stream_add, METH_O, "add(index): record an accepted index"},
    {NULL}};

static PyGetSetDef stream_getset[] = {
    {"ssrc", (getter)stream_get, NULL, "the SSRC", (void *)0},
    {"hi", (getter)stream_get, NULL, "the SSRC's upper 16 bits", (void *)1},
    {"lo", (getter)stream_get, NULL, "the SSRC's lower 16 bits", (void *)2},
    {"highest", (getter)stream_get, (setter)stream_set, "the highest index accepted", (void *)3},
    {"next", (getter)stream_get, (setter)stream_set, "the sender's next SRTCP index", (void *)4},
    {"window", (getter)stream_window, NULL, "the replay window's bits (a copy)", NULL},
    {NULL}};

static PyTypeObject StreamType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "_zcrypto.SrtpStream",
    .tp_basicsize = sizeof(StreamObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "SrtpStream(ssrc_bytes, ssrc, index): per-SSRC replay state of an SRTP session",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)stream_init,
    .tp_methods = stream_methods,
    .tp_getset = stream_getset,
};

/* ---- SrtpTransform -------------------------------------------------------------------------- */

typedef struct {
    PyObject_HEAD zc_srtp t;
    int ready;
} SrtpObject;

static int srtp_init(SrtpObject *self, PyObject *args, PyObject *kw) {
    Py_buffer key, salt, auth;
    int tag_len;
    if (!PyArg_ParseTuple(args, "y*y*y*i", &key, &salt, &auth, &tag_len)) return -1;
    int r = ZC_ERR_ARG;
    if (salt.len == 14 && auth.len == 20) r = zc_srtp_init(&self->t, key.buf, (size_t)key.len, salt.buf, auth.buf, tag_len);
    PyBuffer_Release(&key), PyBuffer_Release(&salt), PyBuffer_Release(&auth);
    if (r) {
        fail(r);
        return -1;
    }
    self->ready = 1;
    return 0;
}

static void srtp_dealloc(SrtpObject *self) {
    if (self->ready) zc_srtp_free(&self->t);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int srtp_error(long r, Py_ssize_t size, Py_ssize_t es, Py_ssize_t ee, Py_ssize_t ae) {
    if (r == ZC_ERR_SPAN)
        PyErr_Format(PyExc_ValueError, "SRTP spans must satisfy 0 <= enc_start <= enc_end <= auth_end, got %zd, %zd, %zd",
                     es, ee, ae);
    else if (r == ZC_ERR_ROOM)
        PyErr_Format(PyExc_ValueError, "SRTP buffer of %zd bytes has no room for the tag at %zd", size, ae);
    else
        fail((int)r);
    return -1;
}

/* One call per packet: (buf, enc_start, enc_end, auth_end, ssrc, index, suffix) */
static PyObject *srtp_call(SrtpObject *self, PyObject *const *args, Py_ssize_t nargs, int protect) {
    if (!self->ready) return PyErr_Format(PyExc_ValueError, "SRTP transform was wiped");
    if (nargs != 7) return PyErr_Format(PyExc_TypeError, "expected 7 arguments, got %zd", nargs);
    /* each conversion checked at once: a later one may run Python code (__index__), which must
     * not start with an exception pending */
    Py_ssize_t es = PyLong_AsSsize_t(args[1]);
    if (es == -1 && PyErr_Occurred()) return NULL;
    Py_ssize_t ee = PyLong_AsSsize_t(args[2]);
    if (ee == -1 && PyErr_Occurred()) return NULL;
    Py_ssize_t ae = PyLong_AsSsize_t(args[3]);
    if (ae == -1 && PyErr_Occurred()) return NULL;
    unsigned long long ssrc = PyLong_AsUnsignedLongLong(args[4]);
    if (ssrc == (unsigned long long)-1 && PyErr_Occurred()) {
        PyErr_Clear();
        return PyErr_Format(PyExc_ValueError, "SRTP SSRC must fit 32 bits");
    }
    unsigned long long index = PyLong_AsUnsignedLongLong(args[5]);
    if (index == (unsigned long long)-1 && PyErr_Occurred()) {
        PyErr_Clear();
        return PyErr_Format(PyExc_ValueError, "SRTP index must fit 48 bits");
    }
    long long suffix = PyLong_AsLongLong(args[6]);
    if (suffix == -1 && PyErr_Occurred()) return NULL;
    if (es < 0 || ee < 0 || ae < 0) {
        srtp_error(ZC_ERR_SPAN, 0, es, ee, ae);
        return NULL;
    }
    if (ssrc > 0xFFFFFFFFull) return PyErr_Format(PyExc_ValueError, "SRTP SSRC must fit 32 bits");
    if (index >> 48) return PyErr_Format(PyExc_ValueError, "SRTP index must fit 48 bits");
    Py_buffer b;
    if (PyObject_GetBuffer(args[0], &b, PyBUF_WRITABLE) < 0) return NULL;
    long r;
    if (protect)
        r = zc_srtp_protect(&self->t, b.buf, (size_t)b.len, (size_t)es, (size_t)ee, (size_t)ae, (uint32_t)ssrc, index,
                            suffix);
    else
        r = zc_srtp_unprotect(&self->t, b.buf, (size_t)b.len, (size_t)es, (size_t)ee, (size_t)ae, (uint32_t)ssrc, index,
                              suffix);
    Py_ssize_t size = b.len;
    PyBuffer_Release(&b);
    if (r < 0) {
        srtp_error(r, size, es, ee, ae);
        return NULL;
    }
    if (protect) return PyLong_FromLong(r);
    return PyBool_FromLong(r);
}

static PyObject *srtp_protect(SrtpObject *self, PyObject *const *args, Py_ssize_t nargs) {
    return srtp_call(self, args, nargs, 1);
}

static PyObject *srtp_unprotect(SrtpObject *self, PyObject *const *args, Py_ssize_t nargs) {
    return srtp_call(self, args, nargs, 0);
}

/* The in-order fast path (srtp.py's Session): the next packet of STREAM with a plain header.
 * protect_next(buf, length, stream) and unprotect_next(buf, length, stream) work in place and
 * return the new length, -1 when the packet is not that (the caller takes its general path), or
 * (unprotect) -2 for a wrong tag, buf untouched. protect_bytes(packet, stream) and
 * unprotect_bytes(packet, stream) return new bytes, or None for anything but the fast case that
 * succeeds (the caller's general path then gives the answer or the error). */
static StreamObject *stream_arg(PyObject *o) {
    if (!PyObject_TypeCheck(o, &StreamType)) {
        PyErr_Format(PyExc_TypeError, "expected an SrtpStream, got %s", Py_TYPE(o)->tp_name);
        return NULL;
    }
    return (StreamObject *)o;
}

#define NOT_FAST 1 /* a zc_srtp_next() miss: no length of a result is 1 */

static PyObject *next_result(long r) {
    if (r == NOT_FAST) return PyLong_FromLong(-1);
    if (r >= 0 || r == ZC_ERR_AUTH) return PyLong_FromLong(r >= 0 ? r : -2);
    return fail((int)r);
}

static PyObject *srtp_next_in_place(SrtpObject *self, PyObject *const *args, Py_ssize_t nargs, int unprotect) {
    if (!self->ready) return PyErr_Format(PyExc_ValueError, "SRTP transform was wiped");
    if (nargs != 3) return PyErr_Format(PyExc_TypeError, "expected 3 arguments, got %zd", nargs);
    Py_ssize_t length = PyLong_AsSsize_t(args[1]);
    if (length == -1 && PyErr_Occurred()) return NULL;
    StreamObject *st = stream_arg(args[2]);
    if (!st) return NULL;
    uint8_t *p;
    Py_ssize_t size;
    Py_buffer b;
    int release = 0;
    if (PyByteArray_CheckExact(args[0])) {
        p = (uint8_t *)PyByteArray_AS_STRING(args[0]);
        size = PyByteArray_GET_SIZE(args[0]);
    } else {
        if (PyObject_GetBuffer(args[0], &b, PyBUF_WRITABLE) < 0) return NULL;
        p = b.buf, size = b.len, release = 1;
    }
    long r = NOT_FAST;
    if (length >= 0 && length <= size) {
        int64_t index = zc_srtp_next(&self->t, &st->s, p, (size_t)length, unprotect);
        if (index >= 0) {
            if (unprotect)
                r = zc_srtp_open_next(&self->t, &st->s, p, (size_t)length, index, p);
            else if ((size_t)size >= (size_t)length + (size_t)self->t.tag_len)
                r = zc_srtp_seal_next(&self->t, &st->s, p, (size_t)length, index, p);
        }
    }
    if (release) PyBuffer_Release(&b);
    return next_result(r);
}

static PyObject *srtp_protect_next(SrtpObject *self, PyObject *const *args, Py_ssize_t nargs) {
    return srtp_next_in_place(self, args, nargs, 0);
}

static PyObject *srtp_unprotect_next(SrtpObject *self, PyObject *const *args, Py_ssize_t nargs) {
    return srtp_next_in_place(self, args, nargs, 1);
}

static PyObject *srtp_next_bytes(SrtpObject *self, PyObject *const *args, Py_ssize_t nargs, int unprotect) {
    if (!self->ready) return PyErr_Format(PyExc_ValueError, "SRTP transform was wiped");
    if (nargs != 2) return PyErr_Format(PyExc_TypeError, "expected 2 arguments, got %zd", nargs);
    StreamObject *st = stream_arg(args[1]);
    if (!st) return NULL;
    const uint8_t *p;
    Py_ssize_t length;
    Py_buffer b;
    int release = 0;
    if (PyBytes_CheckExact(args[0])) {
        p = (const uint8_t *)PyBytes_AS_STRING(args[0]);
        length = PyBytes_GET_SIZE(args[0]);
    } else {
        if (PyObject_GetBuffer(args[0], &b, PyBUF_SIMPLE) < 0) return NULL;
        p = b.buf, length = b.len, release = 1;
    }
    PyObject *out = NULL;
    int64_t index = zc_srtp_next(&self->t, &st->s, p, (size_t)length, unprotect);
    if (index >= 0) {
        Py_ssize_t n = unprotect ? length - self->t.tag_len : length + self->t.tag_len;
        out = PyBytes_FromStringAndSize(NULL, n);
        if (out) {
            uint8_t *o = (uint8_t *)PyBytes_AS_STRING(out);
            long r = unprotect ? zc_srtp_open_next(&self->t, &st->s, p, (size_t)length, index, o)
                               : zc_srtp_seal_next(&self->t, &st->s, p, (size_t)length, index, o);
            if (r < 0) {
                Py_CLEAR(out);
                if (r != ZC_ERR_AUTH) fail((int)r);
            }
        }
    }
    if (release) PyBuffer_Release(&b);
    if (out || PyErr_Occurred()) return out;
    Py_RETURN_NONE;
}

static PyObject *srtp_protect_bytes(SrtpObject *self, PyObject *const *args, Py_ssize_t nargs) {
    return srtp_next_bytes(self, args, nargs, 0);
}

static PyObject *srtp_unprotect_bytes(SrtpObject *self, PyObject *const *args, Py_ssize_t nargs) {
    return srtp_next_bytes(self, args, nargs, 1);
}

static PyObject *srtp_tag_len(SrtpObject *self, void *closure) {
    return PyLong_FromLong(self->t.tag_len);
}

/* wipe(): the session keys overwritten (zc_srtp_free); every later call raises */
static PyObject *srtp_wipe(SrtpObject *self, PyObject *unused) {
    if (self->ready) zc_srtp_free(&self->t);
    self->ready = 0;
    Py_RETURN_NONE;
}

static PyMethodDef srtp_methods[] = {
    {"wipe", (PyCFunction)srtp_wipe, METH_NOARGS, "wipe(): overwrite the session keys; the transform is unusable after"},
    {"protect", (PyCFunction)(void (*)(void))srtp_protect, METH_FASTCALL, "protect(buf, enc_start, enc_end, auth_end, ssrc, index, suffix) -> int"},
    {"unprotect", (PyCFunction)(void (*)(void))srtp_unprotect, METH_FASTCALL, "unprotect(buf, enc_start, enc_end, auth_end, ssrc, index, suffix) -> bool"},
    {"protect_next", (PyCFunction)(void (*)(void))srtp_protect_next, METH_FASTCALL,
     "protect_next(buf, length, stream) -> new length, or -1: not the next plain packet of stream"},
    {"unprotect_next", (PyCFunction)(void (*)(void))srtp_unprotect_next, METH_FASTCALL,
     "unprotect_next(buf, length, stream) -> new length, -1: not the next plain packet of stream, -2: wrong tag"},
    {"protect_bytes", (PyCFunction)(void (*)(void))srtp_protect_bytes, METH_FASTCALL,
     "protect_bytes(packet, stream) -> SRTP bytes, or None: not the next plain packet of stream"},
    {"unprotect_bytes", (PyCFunction)(void (*)(void))srtp_unprotect_bytes, METH_FASTCALL,
     "unprotect_bytes(packet, stream) -> RTP bytes, or None: not the next plain packet of stream, or a wrong tag"},
    {NULL}};

static PyGetSetDef srtp_getset[] = {{"tag_len", (getter)srtp_tag_len, NULL, "tag length in bytes", NULL}, {NULL}};

static PyTypeObject SrtpType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "_zcrypto.SrtpTransform",
    .tp_basicsize = sizeof(SrtpObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "SrtpTransform(cipher_key, cipher_salt, auth_key, tag_len): the in-place SRTP/SRTCP transform",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)srtp_init,
    .tp_dealloc = (destructor)srtp_dealloc,
    .tp_methods = srtp_methods,
    .tp_getset = srtp_getset,
};

static PyMethodDef methods[] = {
    {"hash", py_hash, METH_VARARGS, "hash(alg, data): alg 1 SHA-1, 2 SHA-256, 3 SHA-384"},
    {"hmac", py_hmac, METH_VARARGS, "hmac(alg, key, data)"},
    {"aes_ecb", py_aes_ecb, METH_VARARGS, "aes_ecb(key, block)"},
    {"aes_stream", py_aes_stream, METH_VARARGS, "aes_stream(mode, key, iv, data): 0 CTR, 1 CFB encrypt, 2 CFB decrypt"},
    {"crc32c", py_crc32c, METH_VARARGS, "crc32c(data, crc=0)"},
    {"entropy", py_entropy, METH_VARARGS, "entropy(n, enable=False) -> up to n bytes of hardware entropy"},
    {"dh", py_dh, METH_VARARGS, "dh(group, base or b'' for g, exponent): 1 DH2k, 2 DH3k"},
    {"ec_mul", py_ec_mul, METH_VARARGS, "ec_mul(curve, scalar, point x||y or b'' for G, seed): 1 P-256, 2 P-384"},
    {"x25519", py_x25519, METH_VARARGS, "x25519(scalar, u, seed)"},
    {"cpu_features", py_cpu_features, METH_VARARGS,
     "cpu_features([enable]) -> names of the CPU features the SRTP transform uses (after enabling/disabling them)"},
    {NULL}};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_zcrypto", "ZeroTap crypto core over mbedTLS", -1, methods};

PyMODINIT_FUNC PyInit__zcrypto(void) {
#if ZC_HAVE_P256
    zc_p256_prepare(); /* here, under the GIL: ec_mul runs without it */
#endif
    if (PyType_Ready(&SrtpType) < 0 || PyType_Ready(&StreamType) < 0) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (!m) return NULL;
    Py_INCREF(&SrtpType);
    if (PyModule_AddObject(m, "SrtpTransform", (PyObject *)&SrtpType) < 0) return NULL;
    Py_INCREF(&StreamType);
    if (PyModule_AddObject(m, "SrtpStream", (PyObject *)&StreamType) < 0) return NULL;
    PyModule_AddIntConstant(m, "MBEDTLS_VERSION", MBEDTLS_VERSION_NUMBER);
    return m;
}

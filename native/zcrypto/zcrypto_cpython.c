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

static PyObject *py_hash(PyObject *self, PyObject *args) {
    int alg;
    Py_buffer data;
    uint8_t out[48];
    if (!PyArg_ParseTuple(args, "iy*", &alg, &data)) return NULL;
    int r;
    Py_BEGIN_ALLOW_THREADS r = zc_hash(alg, data.buf, (size_t)data.len, out);
    Py_END_ALLOW_THREADS PyBuffer_Release(&data);
    if (r) return fail(r);
    return PyBytes_FromStringAndSize((char *)out, (Py_ssize_t)zc_digest_size(alg));
}

static PyObject *py_hmac(PyObject *self, PyObject *args) {
    int alg;
    Py_buffer key, data;
    uint8_t out[48];
    if (!PyArg_ParseTuple(args, "iy*y*", &alg, &key, &data)) return NULL;
    int r = zc_hmac(alg, key.buf, (size_t)key.len, data.buf, (size_t)data.len, out);
    PyBuffer_Release(&key), PyBuffer_Release(&data);
    if (r) return fail(r);
    return PyBytes_FromStringAndSize((char *)out, (Py_ssize_t)zc_digest_size(alg));
}

static PyObject *py_aes_ecb(PyObject *self, PyObject *args) {
    Py_buffer key, block;
    uint8_t out[16];
    if (!PyArg_ParseTuple(args, "y*y*", &key, &block)) return NULL;
    int r = block.len == 16 ? zc_aes_ecb(key.buf, (size_t)key.len, block.buf, out) : ZC_ERR_ARG;
    PyBuffer_Release(&key), PyBuffer_Release(&block);
    if (r) return fail(r);
    return PyBytes_FromStringAndSize((char *)out, 16);
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
    if (r) return fail(r);
    return PyBytes_FromStringAndSize((char *)out, (Py_ssize_t)zc_dh_size(group));
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
    if (r) return fail(r);
    return PyBytes_FromStringAndSize((char *)out, (Py_ssize_t)(2 * n));
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
    if (r) return fail(r);
    return PyBytes_FromStringAndSize((char *)out, 32);
}

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
    if (nargs != 7) return PyErr_Format(PyExc_TypeError, "expected 7 arguments, got %zd", nargs);
    Py_ssize_t es = PyLong_AsSsize_t(args[1]), ee = PyLong_AsSsize_t(args[2]), ae = PyLong_AsSsize_t(args[3]);
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
    if (PyErr_Occurred()) return NULL;
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

static PyObject *srtp_tag_len(SrtpObject *self, void *closure) {
    return PyLong_FromLong(self->t.tag_len);
}

static PyMethodDef srtp_methods[] = {
    {"protect", (PyCFunction)(void (*)(void))srtp_protect, METH_FASTCALL, "protect(buf, enc_start, enc_end, auth_end, ssrc, index, suffix) -> int"},
    {"unprotect", (PyCFunction)(void (*)(void))srtp_unprotect, METH_FASTCALL, "unprotect(buf, enc_start, enc_end, auth_end, ssrc, index, suffix) -> bool"},
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
    {"dh", py_dh, METH_VARARGS, "dh(group, base or b'' for g, exponent): 1 DH2k, 2 DH3k"},
    {"ec_mul", py_ec_mul, METH_VARARGS, "ec_mul(curve, scalar, point x||y or b'' for G, seed): 1 P-256, 2 P-384"},
    {"x25519", py_x25519, METH_VARARGS, "x25519(scalar, u, seed)"},
    {NULL}};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_zcrypto", "ZeroTap crypto core over mbedTLS", -1, methods};

PyMODINIT_FUNC PyInit__zcrypto(void) {
    if (PyType_Ready(&SrtpType) < 0) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (!m) return NULL;
    Py_INCREF(&SrtpType);
    if (PyModule_AddObject(m, "SrtpTransform", (PyObject *)&SrtpType) < 0) return NULL;
    PyModule_AddIntConstant(m, "MBEDTLS_VERSION", MBEDTLS_VERSION_NUMBER);
    return m;
}

"""Issue 12, items 5 and 6 in C: the native module's hardware entropy call (nothing on a host, the
ESP32's bootloader source under ESP_PLATFORM), and stack copies of secrets wiped with
mbedtls_platform_zeroize (which a compiler may not drop, unlike a memset before return) in every
function that holds one. The C is read as text: each function named here must wipe each buffer
named with it."""
import os
import re

import pytest

NATIVE = os.path.join(os.path.dirname(__file__), "..", "..", "native", "zcrypto")

# (file, function, the stack buffers holding secrets that must be wiped)
WIPES = [
    ("zcrypto.c", "zc_hash", ["full"]),
    ("zcrypto.c", "zc_aes_ctr", ["ks"]),
    ("zcrypto.c", "zc_aes_cfb", ["ks"]),
    ("zcrypto.c", "zc_srtp_init", ["pad"]),
    ("zcrypto.c", "zc_srtp_free", ["t"]),
    ("zcrypto.c", "rng_fill", ["block", "h"]),
    ("zcrypto.c", "zc_ec_mul", ["&rng", "enc"]),
    ("zcrypto.c", "x25519_ladder", ["x2", "z2", "x3", "z3"]),
    ("zcrypto_p256.c", "zc_p256_mul", ["d", "&acc", "zi", "e"]),
    ("zcrypto_p256.c", "p256_var_mul", ["table", "&q"]),
    ("zcrypto_p256.c", "p256_base_mul", ["x", "y"]),
    ("zcrypto_cpython.c", "wiped", ["out"]),
    ("zcrypto_mp.c", "wiped", ["out"]),
]


def _bodies(path, name):
    """The bodies of every definition of function NAME in PATH (a name may be defined under #if
    and #else)."""
    text = open(path).read()
    out = []
    for m in re.finditer(r"^[a-z][^;{}\n]*\b%s\([^;{]*\)\s*\{" % re.escape(name), text, re.M):
        depth, i = 1, m.end()
        while depth:
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
        out.append(text[m.end():i])
    return out


def test_secrets_on_the_stack_are_wiped_with_zeroize():
    for fname, func, buffers in WIPES:
        bodies = _bodies(os.path.join(NATIVE, fname), func)
        assert bodies, (fname, func)
        for body in bodies:
            for buf in buffers:
                assert re.search(r"(ZC_WIPE|mbedtls_platform_zeroize)\(%s\s*," % re.escape(buf), body), (fname, func, buf)


def test_x25519_and_dh_wipe_every_definition():
    for func, buffers in (("zc_x25519", ["k"]), ("zc_dh", [])):
        for body in _bodies(os.path.join(NATIVE, "zcrypto.c"), func):
            for buf in buffers:
                assert "ZC_WIPE(%s," % buf in body, (func, buf)
            assert "memset(k, 0" not in body and "memset(table, 0" not in body
    assert "ZC_WIPE(x, sizeof x)" in open(os.path.join(NATIVE, "zcrypto.c")).read()


def test_the_bindings_wipe_their_result_buffers():
    for fname in ("zcrypto_cpython.c", "zcrypto_mp.c"):
        text = open(os.path.join(NATIVE, fname)).read()
        assert "return wiped(out, sizeof out, r," in text
        # no result leaves a stack buffer without the wipe (hash, hmac, AES block, DH, ECDH, X25519)
        # (only wiped() itself makes the result object from a stack buffer)
        assert len(re.findall(r"(PyBytes_FromStringAndSize|mp_obj_new_bytes)\(\(?(char \*)?\)?out,", text)) == 1, fname


def test_native_entropy_is_empty_on_a_host():
    import _zcrypto
    assert _zcrypto.entropy(32, True) == b"" and _zcrypto.entropy(0) == b""
    with pytest.raises(ValueError, match="entropy: 0 to 64 bytes"):
        _zcrypto.entropy(65)
    text = open(os.path.join(NATIVE, "zcrypto.c")).read()
    esp = text[text.index("#if defined(ESP_PLATFORM)"):]
    assert "bootloader_random_enable()" in esp and "esp_fill_random(out, len)" in esp
    assert esp.index("bootloader_random_enable") < esp.index("esp_fill_random") < esp.index("bootloader_random_disable")

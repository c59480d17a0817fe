"""CRC-32C (check value, RFC 3720 B.4), the random source, and the backend choice."""
from zerotap import crypto
from vectors import load, unhex
from support import each_backend

CRC = load("crypto_crc32c.json")


def test_crc32c_check_value():
    for name, b in each_backend():
        assert b.crc32c(b"123456789") == 0xE3069283, name


def test_crc32c_known_answers_and_chaining():
    for name, b in each_backend():
        for v in CRC["vectors"]:
            data = unhex(v["data"])
            want = int(v["crc"], 16)
            assert b.crc32c(data) == want, (name, v["data"][:8])
            cut = len(data) // 3
            assert b.crc32c(data[cut:], b.crc32c(data[:cut])) == want, (name, "chained")


def test_random_bytes_length_and_variety():
    for name, b in each_backend():
        a = b.random_bytes(32)
        c = b.random_bytes(32)
        assert isinstance(a, bytes) and len(a) == 32 and a != c, name
        assert b.random_bytes(0) == b""


def test_backend_is_the_first_that_loads():
    names = crypto.backends()
    assert crypto.BACKEND == names[0]
    assert crypto.backend(crypto.BACKEND).sha1 is crypto.sha1
    for n in names:
        assert n in ("native", "micropython", "python")


def test_unknown_backend_name():
    try:
        crypto.backend("openssl")
    except ValueError as e:
        assert str(e) == "unknown crypto backend 'openssl' (known: native, micropython, python)"
        return
    raise AssertionError("no ValueError")

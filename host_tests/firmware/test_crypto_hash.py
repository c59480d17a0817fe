"""SHA-1/256/384 (FIPS 180-4 examples, NIST CAVS) and HMAC (RFC 2202, RFC 4231) on every backend."""
from vectors import each, unhex
from support import each_backend

# the vectors are read one at a time (vectors.each), not kept: a board-sized heap has no room to spare


def test_sha_known_answers():
    for name, b in each_backend():
        for alg in ("sha1", "sha256", "sha384"):
            f = getattr(b, alg)
            count = 0
            for v in each("crypto_sha.json", alg):
                got = f(unhex(v["msg"]))
                assert got == unhex(v["md"]), (name, alg, v["from"])
                count += 1
            assert count >= 8


def test_sha_accepts_bytearray_and_memoryview():
    for name, b in each_backend():
        msg = bytearray(b"abc")
        want = unhex(next(each("crypto_sha.json", "sha256"))["md"])
        assert b.sha256(msg) == want, name
        assert b.sha256(memoryview(b"xabc")[1:]) == want, name


def test_hmac_known_answers():
    for name, b in each_backend():
        for alg in ("sha1", "sha256", "sha384"):
            f = getattr(b, "hmac_" + alg)
            for v in each("crypto_hmac.json", "hmac_" + alg):
                got = f(unhex(v["key"]), unhex(v["msg"]))
                assert got == unhex(v["mac"]), (name, alg, v["key"][:8])


def test_hmac_large_key_is_hashed_first():
    # RFC 4231 test case 6: a 131-byte key, longer than SHA-256's 64-byte block
    for name, b in each_backend():
        v = [x for x in each("crypto_hmac.json", "hmac_sha256") if len(x["key"]) == 262][0]
        assert b.hmac_sha256(unhex(v["key"]), unhex(v["msg"])) == unhex(v["mac"]), name

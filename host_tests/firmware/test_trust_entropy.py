"""Issue 12, item 5: the HMAC-DRBG (NIST SP 800-90A) against NIST's CAVP vectors, its seeding from
every source (os.urandom, the hardware source, timing jitter, the board's noise), regular
reseeding, and every backend's random bytes (so every ZID, nonce, hash-chain seed and DH secret)
coming from it; nothing draws before the source is started when it is strict. Runs under both
interpreters."""
import vectors
from support import each_backend, raises
from zerotap import crypto
from zerotap.crypto import drbg
from zerotap.zrtp import cache as zcache, engine as E

KAT = vectors.load("crypto_hmac_drbg.json")
H = vectors.unhex


def test_hmac_drbg_nist_vectors_with_reseed():
    for v in KAT["with_reseed"]:
        d = drbg.HmacDrbg(H(v["EntropyInput"]), H(v["Nonce"]), H(v["PersonalizationString"]))
        assert (d.V, d.K) == (H(v["instantiate_V"]), H(v["instantiate_Key"])), v["section"]
        d.reseed(H(v["EntropyInputReseed"]), H(v["AdditionalInputReseed"]))
        assert (d.V, d.K) == (H(v["reseed_V"]), H(v["reseed_Key"])), v["section"]
        n = len(v["ReturnedBits"]) // 2
        d.generate(n, H(v["AdditionalInput"][0]))
        assert (d.V, d.K) == (H(v["first_V"]), H(v["first_Key"])), v["section"]
        out = d.generate(n, H(v["AdditionalInput"][1]))
        assert (d.V, d.K) == (H(v["second_V"]), H(v["second_Key"])), v["section"]
        assert out == H(v["ReturnedBits"]), v["section"]


def test_hmac_drbg_nist_vectors_without_reseed():
    for v in KAT["no_reseed"]:
        d = drbg.HmacDrbg(H(v["EntropyInput"]), H(v["Nonce"]), H(v["PersonalizationString"]))
        if "instantiate_V" in v:
            assert (d.V, d.K) == (H(v["instantiate_V"]), H(v["instantiate_Key"]))
        n = len(v["ReturnedBits"]) // 2
        d.generate(n, H(v["AdditionalInput"][0]))
        assert d.generate(n, H(v["AdditionalInput"][1])) == H(v["ReturnedBits"])


def test_the_drbgs_hmac_on_every_path():
    # HMAC-SHA256 of RFC 4231 test case 2, by the DRBG's own pure HMAC and by the one it uses
    want = H("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
    assert drbg.hmac_sha256_pure(b"Jefe", b"what do ya want for nothing?") == want
    assert drbg.hmac_sha256(b"Jefe", b"what do ya want for nothing?") == want


def test_hmac_drbg_refuses_short_seeds_and_huge_requests():
    raises(lambda: drbg.HmacDrbg(bytes(16)), "HMAC-DRBG entropy input must be at least 32 bytes, got 16")
    d = drbg.HmacDrbg(bytes(32))
    raises(lambda: d.reseed(bytes(31)), "HMAC-DRBG entropy input must be at least 32 bytes, got 31")
    raises(lambda: d.generate(65537), "HMAC-DRBG request of 65537 bytes: 0 to 65536 per request")
    assert d.generate(0) == b""


def test_hmac_drbg_serves_the_largest_request():
    # SP 800-90A's largest request; on a 112 KiB board it cannot fit (the rig's EXCLUDED list)
    d = drbg.HmacDrbg(bytes(32))
    first = d.generate(33)
    out = d.generate(65536)
    assert len(out) == 65536 and out[:32] != first[:32] and out[-32:] != bytes(32)


class _Sources:
    """Sources that record what the DRBG asked of them."""

    def __init__(self):
        self.calls = []
        self.n = 0

    def urandom(self, n):
        self.calls.append(("urandom", n))
        self.n += 1
        return bytes((self.n,)) * n

    def hardware(self, enable):
        self.calls.append(("hardware", enable))
        return b"H" * 32

    def noise(self):
        self.calls.append(("noise",))
        return b"N" * 8

    def jitter(self):
        self.calls.append(("jitter",))
        return b"J" * 64

    def source(self, reseed_every=drbg.RESEED_REQUESTS, buffer_bytes=drbg.BUFFER_BYTES):
        return drbg.Source(self.urandom, self.hardware, self.noise, self.jitter, b"board-id", reseed_every,
                           buffer_bytes)


def test_the_seed_mixes_every_source_and_reseeds_regularly():
    s = _Sources()
    src = s.source(reseed_every=3, buffer_bytes=0)  # every request a generate call
    assert not src.ready
    strict, drbg.STRICT = drbg.STRICT, False
    try:
        first = src.random_bytes(16)  # not strict: the first request starts it
    finally:
        drbg.STRICT = strict
    assert s.calls == [("hardware", True), ("noise",), ("urandom", 32), ("jitter",), ("urandom", 16)], s.calls
    want = drbg.HmacDrbg(b"\x01" * 32 + b"H" * 32 + b"J" * 64 + b"N" * 8, b"\x02" * 16, b"zerotapboard-id")
    assert first == want.generate(16)
    del s.calls[:]
    src.random_bytes(8)
    src.random_bytes(8)
    assert s.calls == []
    src.random_bytes(8)  # the 4th request after the seed: reseed first, hardware not switched on again
    assert s.calls == [("hardware", False), ("noise",), ("urandom", 32), ("jitter",)], s.calls
    assert src.history[:5] == ["seed", "generate", "generate", "generate", "reseed"]


def test_small_requests_come_from_one_generate_call_and_leave_no_copy():
    s = _Sources()
    src = s.source()
    strict, drbg.STRICT = drbg.STRICT, False
    try:
        a, b = src.random_bytes(16), src.random_bytes(16)
    finally:
        drbg.STRICT = strict
    want = drbg.HmacDrbg(b"\x01" * 32 + b"H" * 32 + b"J" * 64 + b"N" * 8, b"\x02" * 16, b"zerotapboard-id")
    block = want.generate(drbg.BUFFER_BYTES)
    assert a + b == block[:32]
    assert not any(src._buf[:32]) and bytes(src._buf[32:]) == block[32:]  # handed out: zeroed
    assert src.history == ["seed", "generate"]
    big = src.random_bytes(drbg.BUFFER_BYTES + 1)  # a large request: its own generate call
    assert len(big) == drbg.BUFFER_BYTES + 1 and src.history[-1] == "generate" and len(src.history) == 3


def test_every_backend_draws_from_the_drbg():
    saved = drbg.SOURCE
    try:
        for name, b in each_backend():
            s = _Sources()
            drbg.SOURCE = s.source()
            got = b.random_bytes(32)
            want = drbg.HmacDrbg(b"\x01" * 32 + b"H" * 32 + b"J" * 64 + b"N" * 8, b"\x02" * 16, b"zerotapboard-id")
            assert got == want.generate(32), name
    finally:
        drbg.SOURCE = saved


def test_strict_source_makes_no_zid_or_key_before_it_is_started():
    saved, strict = drbg.SOURCE, drbg.STRICT
    try:
        drbg.STRICT = True
        drbg.SOURCE = _Sources().source()
        for make in (lambda: zcache.Cache(None), lambda: E.Engine(1), lambda: crypto.random_bytes(4),
                     lambda: crypto.KeyGeneration("X255").step()):
            try:
                make()
            except RuntimeError as e:
                assert "not started" in str(e)
            else:
                raise AssertionError("drew random bytes before the source was started")
        drbg.SOURCE.start()
        before = len(drbg.SOURCE.history)
        c = zcache.Cache(None)
        E.Engine(1, cache=c)
        assert len(drbg.SOURCE.history) > before  # the ZID, the hash chain, the sequence number
    finally:
        drbg.SOURCE, drbg.STRICT = saved, strict


def test_jitter_and_the_default_sources_work_here():
    j = drbg.jitter()
    assert len(j) == 64 and len(set(j)) > 1
    assert drbg.hardware(False) in (b"",) or len(drbg.hardware(False)) == 32

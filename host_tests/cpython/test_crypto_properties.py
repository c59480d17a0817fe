"""Properties of the crypto core, on inputs Hypothesis picks: every backend gives the same bytes as
OpenSSL (AES-CTR/CFB, HMAC) and as the other backends (the SRTP transform), round trips hold, and
a tampered SRTP packet is refused and left alone."""
import hashlib
import hmac

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from hypothesis import given, settings
from hypothesis import strategies as st

from zerotap import crypto

BACKENDS = [crypto.backend(n) for n in crypto.backends()]
keys = st.sampled_from((16, 32)).flatmap(lambda n: st.binary(min_size=n, max_size=n))
ivs = st.binary(min_size=16, max_size=16)


@settings(max_examples=60, deadline=None)
@given(keys, ivs, st.binary(max_size=300))
def test_ctr_matches_openssl_and_inverts(key, iv, data):
    e = Cipher(algorithms.AES(key), modes.CTR(iv)).encryptor()
    want = e.update(data) + e.finalize()
    for b in BACKENDS:
        assert b.aes_ctr(key, iv, data) == want
        assert b.aes_ctr(key, iv, want) == data


@settings(max_examples=60, deadline=None)
@given(keys, ivs, st.binary(max_size=300))
def test_cfb_round_trip_and_backends_agree(key, iv, data):
    outs = set()
    for b in BACKENDS:
        ct = b.aes_cfb_encrypt(key, iv, data)
        assert b.aes_cfb_decrypt(key, iv, ct) == data
        outs.add(ct)
    assert len(outs) == 1


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=200), st.binary(max_size=300))
def test_hmac_matches_stdlib(key, data):
    for b in BACKENDS:
        assert b.hmac_sha1(key, data) == hmac.new(key, data, hashlib.sha1).digest()
        assert b.hmac_sha256(key, data) == hmac.new(key, data, hashlib.sha256).digest()
        assert b.hmac_sha384(key, data) == hmac.new(key, data, hashlib.sha384).digest()


@settings(max_examples=60, deadline=None)
@given(keys, st.binary(min_size=14, max_size=14), st.binary(min_size=20, max_size=20),
       st.sampled_from((4, 10)), st.binary(min_size=12, max_size=400), st.integers(0, 2**32 - 1),
       st.integers(0, 2**48 - 1), st.integers(-1, 2**32 - 1), st.data())
def test_srtp_transform_backends_agree_and_tamper_is_refused(key, salt, auth, tag_len, packet, ssrc, index,
                                                              suffix, data):
    enc_start = data.draw(st.integers(0, len(packet)))
    enc_end = data.draw(st.integers(enc_start, len(packet)))
    auth_end = data.draw(st.integers(enc_end, len(packet)))
    outs = set()
    for b in BACKENDS:
        t = b.SrtpTransform(key, salt, auth, tag_len)
        buf = bytearray(packet) + bytearray(tag_len)
        assert t.protect(buf, enc_start, enc_end, auth_end, ssrc, index, suffix) == auth_end + tag_len
        outs.add(bytes(buf))
        flip = data.draw(st.integers(0, auth_end + tag_len - 1))
        bad = bytearray(buf)
        bad[flip] ^= 0x80
        before = bytes(bad)
        assert not t.unprotect(bad, enc_start, enc_end, auth_end, ssrc, index, suffix)
        assert bytes(bad) == before
        assert t.unprotect(buf, enc_start, enc_end, auth_end, ssrc, index, suffix)
        assert bytes(buf[:auth_end]) == packet[:auth_end]  # the tag went to buf[auth_end:]
    assert len(outs) == 1

"""ZRTP key derivation: bzrtp's KDF vectors (made with GNU ZRTP) on every crypto backend, and the
rules that pick s1 from the retained secrets (RFC 6189 section 4.3)."""
from support import each_backend
from vectors import load, unhex

from zerotap import crypto
from zerotap.zrtp import algorithms, keys

KDF = load("zrtp_kdf.json")


def test_kdf_vectors_on_every_backend():
    key = unhex(KDF["key"])
    assert len(KDF["vectors"]) == 9
    for name, backend in each_backend():
        hmac = backend.hmac_sha256
        for v in KDF["vectors"]:
            out = keys.kdf(hmac, key, v["label"], unhex(v["context"]), v["length"])
            assert out == unhex(v["output"]), (name, v["label"])


def test_kdf_output_depends_on_every_input():
    key = unhex(KDF["key"])
    v = KDF["vectors"][0]
    ctx = unhex(v["context"])
    base = keys.kdf(crypto.hmac_sha256, key, v["label"], ctx, 16)
    assert keys.kdf(crypto.hmac_sha256, key, v["label"] + "x", ctx, 16) != base
    assert keys.kdf(crypto.hmac_sha256, key[:-1] + b"\0", v["label"], ctx, 16) != base
    assert keys.kdf(crypto.hmac_sha256, key, v["label"], ctx[:-1], 16) != base
    assert keys.kdf(crypto.hmac_sha256, key, v["label"], ctx, 32)[:16] != base  # L is part of the input


def test_hash_chain_rejects_a_bad_h0():
    try:
        keys.hash_chain(bytes(31))
    except ValueError as e:
        assert str(e) == "H0 must be 32 bytes, got 31"
        return
    raise AssertionError("no ValueError")


def test_s1_selection_follows_section_4_3():
    h = crypto.hmac_sha256
    a, b, c = b"A" * 32, b"B" * 32, b"C" * 32
    rid = lambda s: keys.rs_id(h, s, b"Responder")
    # our rs1 matches their rs1 or rs2; else our rs2 matches their rs1 or rs2; else nothing
    assert keys.select_s1(h, a, b, rid(a), rid(c), b"Responder") == (a, True)
    assert keys.select_s1(h, a, b, rid(c), rid(a), b"Responder") == (a, True)
    assert keys.select_s1(h, a, b, rid(b), rid(c), b"Responder") == (b, True)
    assert keys.select_s1(h, a, b, rid(c), bytes(8), b"Responder") == (None, False)
    assert keys.select_s1(h, None, None, rid(a), rid(b), b"Responder") == (None, False)
    # IDs are made with the other side's label
    assert keys.select_s1(h, a, None, keys.rs_id(h, a, b"Initiator"), bytes(8), b"Responder") == (None, False)


def test_keys_from_s0_are_distinct_and_sized():
    for hash_name, cipher_len in ((b"S256", 16), (b"S384", 32)):
        hh = algorithms.Hash(hash_name)
        k = keys.Keys(hh, cipher_len, b"s" * hh.length, b"context")
        assert len(k.mackeyi) == hh.length and len(k.zrtp_sess) == hh.length
        assert len(k.zrtpkeyi) == cipher_len and len(k.srtp_key_r) == cipher_len
        assert len(k.srtp_salt_i) == 14 and len(k.sas_hash) == 32 and len(k.new_rs1) == 32
        values = [k.mackeyi, k.mackeyr, k.zrtpkeyi, k.zrtpkeyr, k.srtp_key_i, k.srtp_key_r, k.srtp_salt_i,
                  k.srtp_salt_r, k.sas_hash, k.zrtp_sess, k.new_rs1]
        assert len(set(bytes(v) for v in values)) == len(values)
        m = keys.Keys(hh, cipher_len, b"s" * hh.length, b"context", multistream=True)
        assert m.sas_hash is None and m.new_rs1 is None and m.srtp_key_i == k.srtp_key_i

"""AES ECB (FIPS-197, SP 800-38A), CTR (SP 800-38A, RFC 3686), CFB-128 (SP 800-38A) and the
SRTP AES-CM keystream (RFC 3711 B.2) on every backend, plus the length errors."""
from vectors import load, unhex
from support import each_backend, raises

AES = load("crypto_aes.json")


def test_ecb_known_answers():
    for name, b in each_backend():
        for v in AES["ecb"]:
            key, pt, ct = unhex(v["key"]), unhex(v["pt"]), unhex(v["ct"])
            for i in range(0, len(pt), 16):
                assert b.aes_ecb_encrypt(key, pt[i:i + 16]) == ct[i:i + 16], (name, v["from"])


def test_ctr_known_answers():
    for name, b in each_backend():
        for v in AES["ctr"]:
            key, iv, pt, ct = unhex(v["key"]), unhex(v["iv"]), unhex(v["pt"]), unhex(v["ct"])
            assert b.aes_ctr(key, iv, pt) == ct, (name, v["from"])
            assert b.aes_ctr(key, iv, ct) == pt, (name, v["from"])


def test_ctr_counter_carries_through_128_bits():
    # SP 800-38A F.5.1 starts at ...feff: its 2nd block uses ...ff00, a carry out of the low byte
    for name, b in each_backend():
        v = AES["ctr"][0]
        key, iv, pt, ct = unhex(v["key"]), unhex(v["iv"]), unhex(v["pt"]), unhex(v["ct"])
        assert b.aes_ctr(key, iv, pt[:37]) == ct[:37], name  # a short last block


def test_aes_cm_keystream_rfc3711_b2():
    for name, b in each_backend():
        v = AES["aes_cm"][0]
        key = unhex(v["key"])
        assert b.aes_ctr(key, unhex(v["iv"]), bytes(48)) == unhex(v["first"]), name
        assert b.aes_ctr(key, unhex(v["last_iv"]), bytes(48)) == unhex(v["last"]), name


def test_cfb128_known_answers():
    for name, b in each_backend():
        for v in AES["cfb128"]:
            key, iv, pt, ct = unhex(v["key"]), unhex(v["iv"]), unhex(v["pt"]), unhex(v["ct"])
            assert b.aes_cfb_encrypt(key, iv, pt) == ct, (name, v["from"])
            assert b.aes_cfb_decrypt(key, iv, ct) == pt, (name, v["from"])
            # any length: ZRTP's Confirm messages are not a multiple of 16 bytes
            for n in (0, 1, 15, 17, 40):
                assert b.aes_cfb_encrypt(key, iv, pt[:n]) == ct[:n], (name, n)
                assert b.aes_cfb_decrypt(key, iv, ct[:n]) == pt[:n], (name, n)


def test_wrong_lengths_name_what_was_wrong():
    for name, b in each_backend():
        k = bytes(16)
        raises(lambda: b.aes_ecb_encrypt(bytes(24), bytes(16)), "AES key must be 16 or 32 bytes, got 24")
        raises(lambda: b.aes_ecb_encrypt(k, bytes(15)), "AES block must be 16 bytes, got 15")
        raises(lambda: b.aes_ctr(bytes(31), bytes(16), b"x"), "AES key must be 16 or 32 bytes, got 31")
        raises(lambda: b.aes_ctr(k, bytes(12), b"x"), "AES-CTR IV must be 16 bytes, got 12")
        raises(lambda: b.aes_cfb_encrypt(k, bytes(17), b"x"), "AES-CFB IV must be 16 bytes, got 17")
        raises(lambda: b.aes_cfb_decrypt(bytes(0), bytes(16), b"x"), "AES key must be 16 or 32 bytes, got 0")

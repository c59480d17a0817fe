"""SRTP known answers: RFC 3711 Appendix B, RFC 6188 section 7, libsrtp's own known-answer
packets, and packets protected by libsrtp (stored fixtures), for every crypto backend."""
from vectors import each, load, unhex
from support import backend_modules

from zerotap import srtp

RFC = load("srtp_rfc.json")


def _backends():
    return backend_modules()  # one at a time (support.each_backend)


def _keystream_blocks(vector):
    """Each listed block: AES-CM with the IV of SSRC 0, index 0, the counter at the block."""
    key = unhex(vector["session_key"])
    salt = unhex(vector["session_salt"])
    base = srtp.iv(salt, 0, 0)
    assert base == salt + b"\0\0"  # SSRC 0 and index 0 leave k_s * 2^16
    for c in _backends():
        for counter, block in vector["blocks"]:
            start = bytearray(base)
            n = int(counter, 16)
            start[14] = n >> 8
            start[15] = n & 0xFF
            assert c.aes_ctr(key, bytes(start), bytes(16)) == unhex(block), counter
        # The same keystream through the SRTP transform: a zero payload, SSRC 0, index 0.
        t = c.SrtpTransform(key, salt, bytes(20), 10)
        buf = bytearray(12 + 48 + 10)
        buf[0] = 0x80
        t.protect(buf, 12, 60, 60, 0, 0, 0)
        assert bytes(buf[12:60]) == b"".join(unhex(b) for _, b in vector["blocks"][:3])


def test_rfc3711_b2_keystream():
    _keystream_blocks(RFC["rfc3711_b2_keystream"])


def test_rfc6188_7_1_keystream():
    _keystream_blocks(RFC["rfc6188_7_1_keystream"])


def _key_derivation(vector):
    mk = unhex(vector["master_key"])
    ms = unhex(vector["master_salt"])
    for c in _backends():
        assert srtp.derive_key(mk, ms, srtp.LABEL_RTP_ENCRYPTION, len(mk), c) == unhex(vector["cipher_key"])
        assert srtp.derive_key(mk, ms, srtp.LABEL_RTP_SALT, 14, c) == unhex(vector["cipher_salt"])
        assert srtp.derive_key(mk, ms, srtp.LABEL_RTP_MSG_AUTH, 20, c) == unhex(vector["auth_key"])


def test_rfc3711_b3_key_derivation():
    _key_derivation(RFC["rfc3711_b3_key_derivation"])


def test_rfc6188_7_2_key_derivation():
    _key_derivation(RFC["rfc6188_7_2_key_derivation"])


def test_iv_layout():
    # RFC 3711 section 4.1.1: SSRC at bytes 4..7, the 48-bit index at bytes 8..13.
    salt = bytes(14)
    assert srtp.iv(salt, 0x01020304, 0) == bytes(4) + b"\x01\x02\x03\x04" + bytes(8)
    assert srtp.iv(salt, 0, 0x0A0B0C0D0E0F) == bytes(8) + b"\x0a\x0b\x0c\x0d\x0e\x0f\0\0"
    ones = b"\xff" * 14
    assert srtp.iv(ones, 0xFFFFFFFF, 0xFFFFFFFFFFFF) == b"\xff" * 4 + bytes(12)


def test_libsrtp_known_answers():
    kat = load("srtp_libsrtp_kat.json")
    for c in _backends():
        for case in kat["cases"]:
            mk, ms = unhex(case["master_key"]), unhex(case["master_salt"])
            tx = srtp.Session(case["profile"], mk, ms, backend=c)
            rx = srtp.Session(case["profile"], mk, ms, backend=c)
            assert tx.protect(unhex(case["rtp"])) == unhex(case["srtp"])
            assert rx.unprotect(unhex(case["srtp"])) == unhex(case["rtp"])
            if "rtcp" in case:
                # libsrtp's first SRTCP index is 1, ours 0 (RFC 3711 section 3.4): skip one.
                tx.protect_rtcp(unhex(case["rtcp"]))
                assert tx.protect_rtcp(unhex(case["rtcp"])) == unhex(case["srtcp"])
                assert rx.unprotect_rtcp(unhex(case["srtcp"])) == unhex(case["rtcp"])


def test_libsrtp_fixtures():
    """Packets that libsrtp protected: we unprotect them, and protect to the same bytes."""
    for c in _backends():
        for case in each("srtp_libsrtp_fixtures.json", "cases"):  # 36 KB: one case at a time
            mk, ms = unhex(case["master_key"]), unhex(case["master_salt"])
            tx = srtp.Session(case["profile"], mk, ms, backend=c)
            rx = srtp.Session(case["profile"], mk, ms, backend=c)
            for plain, protected in case["rtp"]:
                plain, protected = unhex(plain), unhex(protected)
                assert rx.unprotect(protected) == plain
                assert tx.protect(plain) == protected
            primed = {}
            for plain, protected in case["rtcp"]:
                plain, protected = unhex(plain), unhex(protected)
                assert rx.unprotect_rtcp(protected) == plain
                if plain[4:8] not in primed:  # libsrtp starts each SSRC at SRTCP index 1
                    primed[plain[4:8]] = tx.protect_rtcp(plain)
                assert tx.protect_rtcp(plain) == protected
        # The ROC did go from 0 to 1 on the stream that crossed the wrap.
        assert any(s.highest >> 16 == 1 for s in rx._rx.by_ssrc.values())

"""SRTP negative cases: every flipped bit is an authentication failure, truncation is rejected
cleanly, bad input gets a precise error, and the media path counts drops without raising."""
from zerotap import rtp, srtp
from support import backend_modules, packed

SALT = bytes(range(100, 114))
RTCP = b"\x80\xc8\x00\x06\x11\x22\x33\x44" + bytes(range(20)) + \
    b"\x81\xca\x00\x02\x11\x22\x33\x44\x01\x02zt"  # SR + SDES CNAME


def _backends():
    return backend_modules()  # one at a time (support.each_backend)


def _pair(profile, c=None):
    key = bytes(range(srtp.PROFILES[profile][0]))
    return srtp.Session(profile, key, SALT, backend=c), srtp.Session(profile, key, SALT, backend=c)


def _rtp(seq=0x1234):
    # CSRC count 1, a header extension of one word, marker, padding of 3.
    return bytes([0xB1, 0x80 | 8, seq >> 8, seq & 0xFF]) + b"\x00\x00\x00\xa0" + \
        b"\x11\x22\x33\x44" + b"\xaa\xbb\xcc\xdd" + b"\xbe\xde\x00\x01" + b"\x10\x55\x00\x00" + \
        b"payload" + b"\x00\x00\x03"


def _error(func, *args):
    try:
        func(*args)
    except srtp.SrtpError as e:
        return e
    return None


def _flip(data, bit):
    out = bytearray(data)
    out[bit >> 3] ^= 0x80 >> (bit & 7)
    return bytes(out)


def test_every_flipped_bit_is_an_authentication_failure():
    for c in _backends():
        for profile in srtp.PROFILES:
            tx, rx = _pair(profile, c)
            p = tx.protect(_rtp())
            for bit in range(len(p) * 8):
                e = _error(rx.unprotect, _flip(p, bit))
                assert isinstance(e, srtp.AuthenticationError), (profile, bit, e)
                assert str(e) == "SRTP authentication failed"
            assert rx.unprotect(p) == _rtp()  # no failure touched the receiver's state
            # ... and also after the receiver knows the stream, where replays are checked
            p2 = tx.protect(_rtp(0x1235))
            for bit in range(len(p2) * 8):
                e = _error(rx.unprotect, _flip(p2, bit))
                assert isinstance(e, srtp.AuthenticationError), (profile, bit, e)
            q = tx.protect_rtcp(RTCP)
            for bit in range(len(q) * 8):
                e = _error(rx.unprotect_rtcp, _flip(q, bit))
                assert isinstance(e, srtp.AuthenticationError), (profile, bit, e)
                assert str(e) == "SRTCP authentication failed"
            assert rx.unprotect_rtcp(q) == RTCP


def test_truncated_packets_are_rejected_cleanly():
    for c in _backends():
        for profile in srtp.PROFILES:
            tx, rx = _pair(profile, c)
            tag = srtp.PROFILES[profile][1]
            p = tx.protect(_rtp())
            for n in range(len(p)):
                e = _error(rx.unprotect, p[:n])
                if n < 12 + tag:
                    assert isinstance(e, srtp.MalformedError), (n, e)
                    assert str(e) == "SRTP packet shorter than an RTP header and its authentication tag"
                else:
                    assert isinstance(e, srtp.AuthenticationError), (n, e)
            q = tx.protect_rtcp(RTCP)
            for n in range(len(q)):
                e = _error(rx.unprotect_rtcp, q[:n])
                if n < 8 + 4 + 10:
                    assert isinstance(e, srtp.MalformedError), (n, e)
                    assert str(e) == "SRTCP packet shorter than an RTCP header, the SRTCP index and the tag"
                else:
                    assert isinstance(e, srtp.AuthenticationError), (n, e)
            assert rx.unprotect(p) == _rtp() and rx.unprotect_rtcp(q) == RTCP


def test_authentic_but_malformed_header_is_reported_as_malformed():
    # A sender that protects a packet whose extension runs past the payload is caught by
    # protect; one built by hand past protect authenticates, then fails the header check.
    tx, rx = _pair(srtp.AES_CM_128_HMAC_SHA1_80)
    bad = b"\x90\x00\x00\x01" + bytes(8) + b"\xbe\xde\x00\x05" + bytes(4)
    e = _error(tx.protect, bad)
    assert isinstance(e, srtp.MalformedError) and str(e) == "RTP packet too short for its header extension"
    good = tx.protect(b"\x80\x00\x00\x01" + bytes(8) + b"\xbe\xde\x00\x05" + bytes(4))
    # rewrite it as if the X bit had been set by the sender: re-tag with a session of our own
    t = tx._rtp
    buf = bytearray(good)
    buf[0] = 0x90
    t.protect(buf, 16, 16, len(buf) - 10, 0, 1, 0)
    e = _error(rx.unprotect, bytes(buf))
    assert isinstance(e, srtp.MalformedError) and str(e) == "RTP packet too short for its header extension"


def test_protect_rejects_bad_rtp():
    tx, _ = _pair(srtp.AES_CM_128_HMAC_SHA1_80)
    cases = [
        (b"\x80\x00\x00", "RTP packet shorter than the 12-byte fixed header"),
        (b"\x40" + bytes(15), "RTP version is not 2"),
        (b"\x83" + bytes(15), "RTP packet too short for its CSRC list"),
        (b"\x90" + bytes(13), "RTP packet too short for its header extension header"),
    ]
    for packet, message in cases:
        e = _error(tx.protect, packet)
        assert isinstance(e, srtp.MalformedError) and str(e) == message, (packet, e)
    e = _error(tx.protect_rtcp, b"\x80\xc8\x00")
    assert isinstance(e, srtp.MalformedError) and str(e) == "RTCP packet shorter than the 8-byte header"
    e = _error(tx.protect_rtcp, b"\x00\xc8\x00\x01\x00\x00\x00\x01")
    assert isinstance(e, srtp.MalformedError) and str(e) == "RTCP version is not 2"
    buf = bytearray(_rtp())
    e = _error(tx.protect_into, buf, len(buf))
    assert isinstance(e, srtp.MalformedError) and str(e) == "buffer has no room for the SRTP trailer"


def test_errors_are_value_errors_and_distinct():
    for cls in (srtp.MalformedError, srtp.AuthenticationError, srtp.ReplayError):
        assert issubclass(cls, srtp.SrtpError) and issubclass(cls, ValueError)
    assert not issubclass(srtp.ReplayError, srtp.AuthenticationError)
    assert not issubclass(srtp.AuthenticationError, srtp.MalformedError)


def test_media_path_counts_drops_without_raising():
    tx, rx = _pair(srtp.AES_256_CM_HMAC_SHA1_80)
    drops = srtp.Drops()
    buf = bytearray(1500)
    good = packed(300, lambda i: tx.protect(_rtp(100 + i)))
    traffic = [good[0], good[0], b"\x80\x00", _flip(good[1], 100), good[1], good[299],
               good[2], good[299], _flip(good[298], 7), good[298], b"\x80" * 21]
    results = []
    for p in traffic:
        buf[:len(p)] = p
        results.append(rx.unprotect_into(buf, len(p), drops))
    assert results[0] == results[4] == len(_rtp())
    assert [r < 0 for r in results] == [False, True, True, True, False, False, True, True, True,
                                       False, True]
    assert results[1] == srtp.ERR_REPLAY and results[6] == srtp.ERR_TOO_OLD
    assert drops.malformed == 2 and drops.authentication == 2
    assert drops.replay == 3 and drops.too_old == 1 and drops.total == 7
    # the in-place result is the plain packet
    p = tx.protect(_rtp(500))
    buf[:len(p)] = p
    n = rx.unprotect_into(buf, len(p), drops)
    assert bytes(buf[:n]) == _rtp(500)
    # protect_into / SRTCP in place
    buf[:len(_rtp(501))] = _rtp(501)
    n = tx.protect_into(buf, len(_rtp(501)))
    assert rx.unprotect(bytes(buf[:n])) == _rtp(501)
    buf[:len(RTCP)] = RTCP
    n = tx.protect_rtcp_into(buf, len(RTCP))
    m = rx.unprotect_rtcp_into(buf, n, drops)
    assert bytes(buf[:m]) == RTCP
    assert rx.unprotect_rtcp_into(bytearray(b"\x80\xc8"), 2, drops) == srtp.ERR_SRTCP_SHORT
    assert drops.malformed == 3


def test_session_arguments():
    key = bytes(16)
    for args, message in [
        (("AES_CM_128_HMAC_SHA1_64", key, SALT), "unknown SRTP profile 'AES_CM_128_HMAC_SHA1_64'"),
        ((srtp.AES_CM_128_HMAC_SHA1_80, bytes(15), SALT),
         "master key must be 16 bytes for AES_CM_128_HMAC_SHA1_80"),
        ((srtp.AES_256_CM_HMAC_SHA1_32, key, SALT),
         "master key must be 32 bytes for AES_256_CM_HMAC_SHA1_32"),
        ((srtp.AES_CM_128_HMAC_SHA1_80, key, bytes(12)), "master salt must be 14 bytes"),
    ]:
        try:
            srtp.Session(*args)
        except ValueError as e:
            assert str(e) == message, str(e)
        else:
            assert False, args


def test_zrtp_names_map_onto_profiles():
    assert srtp.profile_for_zrtp("AES1", "HS80") == srtp.AES_CM_128_HMAC_SHA1_80
    assert srtp.profile_for_zrtp("AES1", "HS32") == srtp.AES_CM_128_HMAC_SHA1_32
    assert srtp.profile_for_zrtp("AES3", "HS80") == srtp.AES_256_CM_HMAC_SHA1_80
    assert srtp.profile_for_zrtp("AES3", "HS32") == srtp.AES_256_CM_HMAC_SHA1_32
    try:
        srtp.profile_for_zrtp("2FS1", "HS80")
    except ValueError as e:
        assert str(e) == "no SRTP profile for ZRTP cipher 2FS1 with auth tag HS80"
    else:
        assert False


def _plain(seq, ssrc=0x0BADCAFE):
    return bytes([0x80, 0x00, seq >> 8, seq & 0xFF, 0, 0, 0, 160, ssrc >> 24, (ssrc >> 16) & 0xFF,
                  (ssrc >> 8) & 0xFF, ssrc & 0xFF]) + bytes(range(40))


def test_in_order_plain_packets_fail_the_same_way():
    # Plain 12-byte headers arriving in order take the session's short path: it must reject,
    # raise and count exactly like the general one.
    for c in _backends():
        for profile in srtp.PROFILES:
            tx, rx = _pair(profile, c)
            packets = [tx.protect(_plain(65534 + i & 0xFFFF)) for i in range(6)]
            assert rx.unprotect(packets[0]) == _plain(65534)
            for k in range(1, 6):
                p = packets[k]
                for n in range(len(p)):  # truncated, the receiver knowing the stream
                    e = _error(rx.unprotect, p[:n])
                    assert isinstance(e, srtp.MalformedError if n < 12 + srtp.PROFILES[profile][1]
                                      else srtp.AuthenticationError), (profile, n, e)
                    assert rx.unprotect_into(bytearray(p[:n]), n, srtp.Drops()) < 0
                for bit in range(len(p) * 8):
                    e = _error(rx.unprotect, _flip(p, bit))
                    assert isinstance(e, srtp.AuthenticationError), (profile, k, bit, e)
                drops = srtp.Drops()
                buf = bytearray(_flip(p, len(p) * 8 - 1))
                assert rx.unprotect_into(buf, len(buf), drops) == srtp.ERR_AUTH
                assert drops.authentication == 1 and drops.total == 1
                assert bytes(buf) == _flip(p, len(p) * 8 - 1)  # untouched
                assert rx.unprotect(p) == _plain(65534 + k & 0xFFFF)
                e = _error(rx.unprotect, p)
                assert isinstance(e, srtp.ReplayError) and str(e) == "SRTP packet replayed"
            assert rx._rx.last.highest == 65536 + 3  # across the wrap: ROC 1
            # and the sender's short path refuses to reuse an index it just used
            buf = bytearray(_plain(3) + bytes(10))
            drops = srtp.Drops()
            assert tx.protect_into(buf, 52, drops) == srtp.ERR_INDEX_USED and drops.replay == 1
            for n in range(12):
                assert tx.protect_into(bytearray(n), n, drops) == rtp.ERR_RTP_SHORT

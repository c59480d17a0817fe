"""SRTP index estimation (RFC 3711 Appendix A), replay windows (section 3.3.2) and the
rollover counter, each with its own driver as in libsrtp's roc_driver.c and replay_driver.c."""
from zerotap import crypto, srtp
from support import Xorshift32, backend_modules, packed

KEY = bytes(range(16))
SALT = bytes(range(100, 114))


def _backends():
    return backend_modules()  # one at a time (support.each_backend)


def _sessions(profile=srtp.AES_CM_128_HMAC_SHA1_80, c=None):
    key = (KEY * 2)[:srtp.PROFILES[profile][0]]
    return srtp.Session(profile, key, SALT, backend=c), srtp.Session(profile, key, SALT, backend=c)


def _rtp(seq, ssrc=0x11223344, payload=b"voice"):
    h = bytearray(12)
    h[0] = 0x80
    h[1] = 0
    h[2] = seq >> 8
    h[3] = seq & 0xFF
    h[8] = ssrc >> 24
    h[9] = (ssrc >> 16) & 0xFF
    h[10] = (ssrc >> 8) & 0xFF
    h[11] = ssrc & 0xFF
    return bytes(h) + payload


def _raises(cls, message, func, *args):
    try:
        func(*args)
    except cls as e:
        assert str(e) == message, str(e)
        return
    assert False, "no %s" % cls.__name__


def test_index_estimation_recovers_every_nearby_index():
    # The true index t of a packet within 2^15 of the highest index is what the receiver gets
    # back from t's 16-bit sequence number alone.
    for highest in (0, 1, 100, 32767, 32768, 32769, 65535, 65536, 65537, 5 * 65536 + 40000,
                    9 * 65536 + 10, 0xFFFF * 65536 + 65000):
        for offset in range(-32767, 32768, 97):
            t = highest + offset
            if t < 0:
                continue
            assert srtp.estimate_index(highest, t & 0xFFFF) == t, (highest, offset)


def test_index_estimation_appendix_a_cases():
    # s_l < 2^15: a SEQ more than 2^15 above s_l belongs to the previous ROC ...
    assert srtp.estimate_index(3 * 65536 + 10, 65530) == 2 * 65536 + 65530
    # ... except while the ROC is 0 (libsrtp: there is nothing before the first packet)
    assert srtp.estimate_index(10, 65530) == 65530
    # s_l >= 2^15: a SEQ more than 2^15 below s_l belongs to the next ROC
    assert srtp.estimate_index(65530, 3) == 65536 + 3
    assert srtp.estimate_index(65530, 40000) == 40000
    assert srtp.estimate_index(32768, 0) == 32768 - 32768  # v = ROC, 0
    # the ROC is 32 bits (RFC 3711 section 3.3.1) and wraps
    assert srtp.estimate_index(0xFFFFFFFF * 65536 + 65530, 2) == 2


def test_replay_window_driver():
    # A model: every accepted index in a set, the highest one, and the window's reach.
    rng = Xorshift32(64)
    for start in (0, 5, 65530, 7 * 65536):
        s = srtp._Stream(b"\0\0\0\1", 1, start)
        seen = {start}
        highest = start
        for _ in range(3000):
            index = max(0, highest + rng.below(241) - 200)
            if rng.below(100) == 0:
                index = highest + 100 + rng.below(901)
            if index > highest:
                want = 0
            elif index <= highest - srtp.REPLAY_WINDOW:
                want = 2
            else:
                want = 1 if index in seen else 0
            assert s.check(index) == want, (start, index, highest)
            if want == 0:
                s.add(index)
                seen.add(index)
                highest = max(highest, index)
        assert s.highest == highest


def test_window_holds_at_least_64():
    assert srtp.REPLAY_WINDOW >= 64


def test_rollover_counter_across_the_wrap_with_reordering():
    for c in _backends():
        tx, rx = _sessions(c=c)
        seqs = list(range(65520, 65536)) + list(range(0, 20))
        protected = [(q, tx.protect(_rtp(q, payload=bytes([q & 0xFF]) * 20))) for q in seqs]
        # Swap neighbours around the wrap, and hold one pre-wrap packet back past the wrap.
        order = list(range(len(protected)))
        for i in (10, 14, 16, 20):
            order[i], order[i + 1] = order[i + 1], order[i]
        order.remove(15)
        order.insert(22, 15)
        for i in order:
            q, p = protected[i]
            assert rx.unprotect(p) == _rtp(q, payload=bytes([q & 0xFF]) * 20), q
        stream = rx._rx.by_ssrc[0x11223344]
        assert stream.highest == 65536 + 19  # ROC 1, s_l 19
        assert tx._tx.by_ssrc[0x11223344].highest == 65536 + 19


def test_rollover_counter_many_wraps():
    # Three wraps, every 61st packet delivered; each carries the ROC in its tag (section 4.2).
    tx, rx = _sessions(srtp.AES_256_CM_HMAC_SHA1_32)
    for i in range(0, 3 * 65536 + 500, 61):
        seq = i & 0xFFFF
        # the sender must see the gaps too: it estimates its own index from the sequence number
        p = tx.protect(_rtp(seq, payload=b""))
        assert rx.unprotect(p) == _rtp(seq, payload=b"")
    assert rx._rx.last.highest >> 16 == 3


def test_replay_is_rejected():
    for c in _backends():
        tx, rx = _sessions(c=c)
        p = tx.protect(_rtp(7))
        rx.unprotect(p)
        _raises(srtp.ReplayError, "SRTP packet replayed", rx.unprotect, p)
        q = tx.protect_rtcp(b"\x80\xc9\x00\x01\x11\x22\x33\x44")
        rx.unprotect_rtcp(q)
        _raises(srtp.ReplayError, "SRTCP packet replayed", rx.unprotect_rtcp, q)


def test_older_than_window_is_rejected():
    for c in _backends():
        tx, rx = _sessions(c=c)
        packets = packed(300, lambda i: tx.protect(_rtp(1000 + i)))
        rx.unprotect(packets[299])
        _raises(srtp.ReplayError, "SRTP packet older than the replay window", rx.unprotect,
                packets[299 - srtp.REPLAY_WINDOW])
        # the oldest one still inside the window is new, once
        assert rx.unprotect(packets[299 - srtp.REPLAY_WINDOW + 1]) == _rtp(1000 + 299 - srtp.REPLAY_WINDOW + 1)
        _raises(srtp.ReplayError, "SRTP packet replayed", rx.unprotect, packets[299 - srtp.REPLAY_WINDOW + 1])
        rtcp = packed(200, lambda i: tx.protect_rtcp(b"\x80\xc9\x00\x01\x11\x22\x33\x44"))
        rx.unprotect_rtcp(rtcp[199])
        _raises(srtp.ReplayError, "SRTCP packet older than the replay window", rx.unprotect_rtcp,
                rtcp[199 - srtp.REPLAY_WINDOW])
        assert rx.unprotect_rtcp(rtcp[199 - srtp.REPLAY_WINDOW + 1])


def test_sender_never_reuses_an_index():
    for c in _backends():
        tx, _ = _sessions(c=c)
        tx.protect(_rtp(5))
        _raises(srtp.ReplayError, "SRTP index already protected: refusing to reuse the keystream",
                tx.protect, _rtp(5))
        for q in range(6, 6 + srtp.REPLAY_WINDOW):
            tx.protect(_rtp(q))
        _raises(srtp.ReplayError, "SRTP index older than the replay window: refusing to protect",
                tx.protect, _rtp(5))


def test_each_ssrc_has_its_own_state():
    for c in _backends():
        tx, rx = _sessions(c=c)
        a = [tx.protect(_rtp(q, ssrc=0xA)) for q in range(65530, 65536)] + \
            [tx.protect(_rtp(q, ssrc=0xA)) for q in range(0, 4)]
        b = [tx.protect(_rtp(q, ssrc=0xB)) for q in range(65530, 65536)]
        for i in range(6):
            rx.unprotect(a[i])
            rx.unprotect(b[i])  # same sequence numbers on another SSRC: not replays
        for p in a[6:]:
            rx.unprotect(p)
        assert rx._rx.by_ssrc[0xA].highest == 65536 + 3
        assert rx._rx.by_ssrc[0xB].highest == 65535
        # SRTCP indexes count per SSRC too (RFC 3711 section 3.4)
        r1 = tx.protect_rtcp(b"\x80\xc9\x00\x01\x00\x00\x00\x0a")
        r2 = tx.protect_rtcp(b"\x80\xc9\x00\x01\x00\x00\x00\x0b")
        assert r1[8:12] == r2[8:12] == b"\x80\x00\x00\x00"
        rx.unprotect_rtcp(r2)
        rx.unprotect_rtcp(r1)


def test_srtcp_index_and_e_flag():
    for c in _backends():
        tx, rx = _sessions(c=c)
        rtcp = b"\x80\xc9\x00\x01\x11\x22\x33\x44"
        for i in range(3):
            p = tx.protect_rtcp(rtcp)
            assert len(p) == len(rtcp) + 4 + 10
            assert p[8:12] == bytes([0x80, 0, 0, i])  # E set, 31-bit index counting from 0
            assert rx.unprotect_rtcp(p) == rtcp
        # the _32 profiles keep an 80-bit SRTCP tag (RFC 4568 section 6.2.2)
        tx32, _ = _sessions(srtp.AES_CM_128_HMAC_SHA1_32, c)
        assert len(tx32.protect_rtcp(rtcp)) == len(rtcp) + 4 + 10
        assert len(tx32.protect(_rtp(1))) == len(_rtp(1)) + 4


class _NullTransform:
    """A stand-in for crypto.SrtpTransform, to see what the session itself costs."""

    def __init__(self, *args):
        pass

    def protect(self, buf, enc_start, enc_end, auth_end, ssrc, index, suffix):
        return auth_end + 10

    def unprotect(self, buf, enc_start, enc_end, auth_end, ssrc, index, suffix):
        return True


class _NullBackend:
    SrtpTransform = _NullTransform

    @staticmethod
    def aes_ctr(key, iv, data):
        return bytes(len(data))


def test_media_path_allocates_nothing():
    # In place, the session's own work per packet (header, index, window, drop counting)
    # allocates nothing on MicroPython, for packets passed and for packets dropped.
    import gc

    tx = srtp.Session(srtp.AES_CM_128_HMAC_SHA1_80, KEY, SALT, backend=_NullBackend)
    rx = srtp.Session(srtp.AES_CM_128_HMAC_SHA1_80, KEY, SALT, backend=_NullBackend)
    buf = bytearray(_rtp(0, 0xCAFEBABE, bytes(160)) + bytes(10))
    drops = srtp.Drops()
    assert tx.protect_into(buf, 172, drops) == 182 and rx.unprotect_into(buf, 182, drops) == 172
    measure = getattr(gc, "mem_alloc", None)  # MicroPython only
    gc.collect()
    gc.disable()
    try:
        before = measure() if measure else 0
        for i in range(1, 501):
            buf[2] = i >> 8
            buf[3] = i & 0xFF
            tx.protect_into(buf, 172, drops)
            rx.unprotect_into(buf, 182, drops)
            rx.unprotect_into(buf, 182, drops)  # the same again: a replay, dropped
        after = measure() if measure else 0
    finally:
        gc.enable()
    assert after - before == 0, after - before
    assert drops.replay == 500 and drops.total == 500
    assert rx._rx.last.highest == 500


def _rr(ssrc):
    return b"\x80\xc9\x00\x01" + bytes(((ssrc >> 24) & 0xFF, (ssrc >> 16) & 0xFF, (ssrc >> 8) & 0xFF,
                                        ssrc & 0xFF))


def test_state_stays_bounded_under_a_stream_of_new_ssrcs():
    # Every new SSRC gets its own replay state (a few hundred bytes on a board). A peer holding
    # the keys, or a host on the phone's LAN sending as the phone, that sends on ever new SSRCs
    # must not grow it without bound (a 112 KiB heap ends the box, every call with it): past
    # MAX_SSRCS a session drops the packets of a new SSRC, counted, and its streams go on.
    assert 4 <= srtp.MAX_SSRCS <= 16
    for c in _backends():
        tx, rx = _sessions(c=c)
        good = 0x600DF00D
        drops = srtp.Drops()

        def both_ways(seq, ssrc):
            buf = bytearray(_rtp(seq, ssrc)) + bytearray(20)
            n = tx.protect_into(buf, 17, drops)
            m = rx.unprotect_into(buf, n, drops) if n > 0 else n
            rb = bytearray(_rr(ssrc)) + bytearray(20)
            k = tx.protect_rtcp_into(rb, 8, drops)
            r = rx.unprotect_rtcp_into(rb, k, drops) if k > 0 else k
            return m, r

        assert both_ways(65530, good) == (17, 8)
        # the phone changed its SSRC mid-call: a few new ones are taken, as RFC 3550 allows
        for i in range(srtp.MAX_SSRCS - 1):
            assert both_ways(7, 0xA0000000 + i) == (17, 8), i
        for i in range(200):  # the hostile stream
            assert both_ways(i, 0xB0000000 + i) == (srtp.ERR_SSRCS, srtp.ERR_SSRCS), i
        for table in (tx._tx, rx._rx, tx._tx_rtcp, rx._rx_rtcp):
            assert len(table.by_ssrc) == srtp.MAX_SSRCS
        assert drops.other == 400 and drops.authentication == drops.replay == 0
        # the good stream and the others taken go on, across the wrap
        for seq in (65531, 65535, 0, 1):
            assert both_ways(seq, good) == (17, 8), seq
        assert both_ways(8, 0xA0000000) == (17, 8)
        assert rx._rx.by_ssrc[good].highest == 65536 + 1
        _raises(srtp.SrtpError, srtp.ERRORS[srtp.ERR_SSRCS], tx.protect, _rtp(1, 0xC0000000))
        # a forged packet of a new SSRC still reads as an authentication failure
        forged = bytearray(_rtp(1, 0xC0000001)) + bytearray(10)
        assert rx.unprotect_into(forged, len(forged), drops) == srtp.ERR_AUTH
        tx = rx = None  # one backend's sessions at a time: a board's heap holds no more

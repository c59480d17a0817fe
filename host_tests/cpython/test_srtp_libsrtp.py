"""Cross-checks of zerotap.srtp against libsrtp, in both directions, for all four profiles and
every crypto backend: pylibsrtp for the AES-128 profiles, Debian's libsrtp2 through ctypes
(libsrtp.py) for AES-256.

Each run sends 70,000 consecutive packets on one SSRC, starting at sequence number 60,000 so the
number wraps and the rollover counter goes to 1, interleaved with a second SSRC. Every packet is
protected by both sides and must be byte-identical; libsrtp unprotects ours and we unprotect
libsrtp's. Headers are random (CSRCs, extensions, marker, padding), and SRTCP goes the same way
with compound packets.

Time: the pure-Python backend spends ~500 us on a 172-byte packet pair, all of it in AES, so for
the backends other than native the 70,000-packet runs carry payloads of 0-16 bytes (one AES
block): every packet still goes through the whole pipeline (header walk, index estimation,
replay window, AES-CM, HMAC), and the long-payload AES path of those backends is checked on the
SRTCP packets, the stored libsrtp fixtures and the RFC vectors.
"""
import json
import random
import time

import pylibsrtp

import libsrtp
import srtp_traffic
from hostenv import ROOT
from zerotap import crypto, srtp

PACKETS = 70000
FIRST_SEQ = 60000
PROFILES = (srtp.AES_CM_128_HMAC_SHA1_80, srtp.AES_CM_128_HMAC_SHA1_32,
            srtp.AES_256_CM_HMAC_SHA1_80, srtp.AES_256_CM_HMAC_SHA1_32)
PYLIBSRTP = {
    srtp.AES_CM_128_HMAC_SHA1_80: pylibsrtp.Policy.SRTP_PROFILE_AES128_CM_SHA1_80,
    srtp.AES_CM_128_HMAC_SHA1_32: pylibsrtp.Policy.SRTP_PROFILE_AES128_CM_SHA1_32,
}
_traffic = {}


def _peer(profile, key, salt, outbound):
    """libsrtp on the other side: pylibsrtp where it has the profile, else the ctypes harness."""
    if profile in PYLIBSRTP:
        policy = pylibsrtp.Policy(
            key=key + salt, srtp_profile=PYLIBSRTP[profile],
            ssrc_type=pylibsrtp.Policy.SSRC_ANY_OUTBOUND if outbound else pylibsrtp.Policy.SSRC_ANY_INBOUND)
        return pylibsrtp.Session(policy)
    return libsrtp.LibSrtp(profile, key, salt, outbound)


def _rtp_traffic(max_payload):
    """70,000 packets on SSRC A from FIRST_SEQ, and one on SSRC B after every 10th."""
    if max_payload not in _traffic:
        rng = random.Random(3711 + max_payload)
        a, b = 0x5A5A0001, 0xB0B0B0B0
        seq_b = rng.randint(0, 65535)
        packets = []
        for i in range(PACKETS):
            packets.append(srtp_traffic.rtp(rng, (FIRST_SEQ + i) & 0xFFFF, a, max_payload))
            if i % 10 == 9:
                packets.append(srtp_traffic.rtp(rng, seq_b, b, max_payload))
                seq_b = (seq_b + 1) & 0xFFFF
        _traffic[max_payload] = packets
    return _traffic[max_payload]


def _cross_check_rtp(backend_name, profile):
    c = crypto.backend(backend_name)
    rng = random.Random(profile + backend_name)
    key = rng.randbytes(srtp.PROFILES[profile][0])
    salt = rng.randbytes(14)
    ours_tx = srtp.Session(profile, key, salt, backend=c)
    ours_rx = srtp.Session(profile, key, salt, backend=c)
    lib_tx = _peer(profile, key, salt, outbound=True)
    lib_rx = _peer(profile, key, salt, outbound=False)
    packets = _rtp_traffic(400 if backend_name == "native" else 16)
    for i, p in enumerate(packets):
        ours = ours_tx.protect(p)
        theirs = lib_tx.protect(p)
        assert ours == theirs, (profile, i)
        assert lib_rx.unprotect(ours) == p, (profile, i)
        assert ours_rx.unprotect(theirs) == p, (profile, i)
    stream = ours_rx._rx.by_ssrc[0x5A5A0001]
    assert stream.highest == (FIRST_SEQ + PACKETS - 1)  # ROC 1: 60,000 + 69,999 - 65,536 ...
    assert stream.highest >> 16 == 1


def _cross_check_rtcp(backend_name, profile, count=1500):
    c = crypto.backend(backend_name)
    rng = random.Random("rtcp" + profile + backend_name)
    key = rng.randbytes(srtp.PROFILES[profile][0])
    salt = rng.randbytes(14)
    ours_tx = srtp.Session(profile, key, salt, backend=c)
    ours_rx = srtp.Session(profile, key, salt, backend=c)
    lib_tx = _peer(profile, key, salt, outbound=True)
    lib_rx = _peer(profile, key, salt, outbound=False)
    ssrcs = (0x01020304, 0xFEDCBA98)
    for ssrc in ssrcs:  # libsrtp's first SRTCP index is 1, ours 0 (RFC 3711 section 3.4)
        ours_tx.protect_rtcp(srtp_traffic.rtcp_compound(rng, ssrc))
    for i in range(count):
        p = srtp_traffic.rtcp_compound(rng, ssrcs[i % 3 == 2])
        ours = ours_tx.protect_rtcp(p)
        theirs = lib_tx.protect_rtcp(p)
        assert ours == theirs, (profile, i)
        assert lib_rx.unprotect_rtcp(ours) == p, (profile, i)
        assert ours_rx.unprotect_rtcp(theirs) == p, (profile, i)


def _run(check, *args):
    t0 = time.monotonic()
    check(*args)
    print("%s%r: %.1f s" % (check.__name__, args, time.monotonic() - t0))


def test_rtp_cross_check_every_backend_and_profile():
    assert crypto.backends()
    for name in crypto.backends():
        for profile in PROFILES:
            _run(_cross_check_rtp, name, profile)


def test_rtcp_cross_check_every_backend_and_profile():
    for name in crypto.backends():
        for profile in PROFILES:
            _run(_cross_check_rtcp, name, profile)


def test_libsrtp_rejects_what_we_reject():
    # libsrtp and we agree on replays, packets older than the window and flipped bits.
    for profile in PROFILES:
        key, salt = bytes(range(srtp.PROFILES[profile][0])), bytes(14)
        tx = srtp.Session(profile, key, salt)
        rx = srtp.Session(profile, key, salt)
        lib_rx = libsrtp.LibSrtp(profile, key, salt, outbound=False)
        rng = random.Random(profile)
        packets = [tx.protect(srtp_traffic.rtp(rng, 100 + i, 7)) for i in range(200)]
        for p in (packets[0], packets[199]):
            rx.unprotect(p)
            lib_rx.unprotect(p)
        for p, ours, status in [
            (packets[199], srtp.ReplayError, libsrtp.ERR_REPLAY_FAIL),
            (packets[0], srtp.ReplayError, libsrtp.ERR_REPLAY_OLD),
            (packets[150][:-1] + bytes([packets[150][-1] ^ 1]), srtp.AuthenticationError,
             libsrtp.ERR_AUTH_FAIL),
        ]:
            try:
                rx.unprotect(p)
            except ours:
                pass
            else:
                raise AssertionError("we accepted it")
            try:
                lib_rx.unprotect(p)
            except libsrtp.LibSrtpError as e:
                assert e.status == status
            else:
                raise AssertionError("libsrtp accepted it")


def test_stored_fixtures_are_libsrtp_output():
    # The fixtures the MicroPython runner checks against: libsrtp still unprotects every one.
    fixtures = json.loads((ROOT / "host_tests" / "vectors" / "srtp_libsrtp_fixtures.json").read_text())
    unhex = bytes.fromhex
    for case in fixtures["cases"]:
        key, salt = unhex(case["master_key"]), unhex(case["master_salt"])
        lib_rx = libsrtp.LibSrtp(case["profile"], key, salt, outbound=False)
        for plain, protected in case["rtp"]:
            assert lib_rx.unprotect(unhex(protected)) == unhex(plain)
        for plain, protected in case["rtcp"]:
            assert lib_rx.unprotect_rtcp(unhex(protected)) == unhex(plain)


def test_ctypes_harness_matches_pylibsrtp():
    # The two libsrtp builds give the same bytes for the AES-128 profiles.
    rng = random.Random(6188)
    for profile, pyprofile in PYLIBSRTP.items():
        key, salt = rng.randbytes(16), rng.randbytes(14)
        a = libsrtp.LibSrtp(profile, key, salt, outbound=True)
        b = _peer(profile, key, salt, outbound=True)
        for i in range(50):
            p = srtp_traffic.rtp(rng, i, 99)
            assert a.protect(p) == b.protect(p)


def _reordered(rng, n):
    """Delivery order of n packets: local reordering (up to 40 places), 2% duplicates (some
    late, up to 300 places), 1% loss, and now and then a burst held back past the window."""
    order = []
    i = 0
    while i < n:
        if rng.random() < 0.01:
            i += 1
            continue
        order.append(i)
        if rng.random() < 0.02:
            order.insert(min(len(order), len(order) + rng.randint(-300, 0)), i)
        i += 1
    for _ in range(n // 20):
        a = rng.randrange(len(order))
        b = min(len(order) - 1, a + rng.randint(1, 40))
        order[a], order[b] = order[b], order[a]
    for _ in range(n // 5000):
        a = rng.randrange(len(order) - 200)
        order.insert(a + 200, order.pop(a))  # held back 200 packets: older than the window
    return order


def test_receivers_decide_like_libsrtp_under_reordering():
    # libsrtp protects; its receiver and ours get the same disordered stream across a wrap and
    # must take the same decision for every packet: accept (same bytes), replay, or too old.
    for profile, start in zip(PROFILES, (65000, 50000, 30000, 40000)):
        rng = random.Random("reorder" + profile)
        key, salt = rng.randbytes(srtp.PROFILES[profile][0]), rng.randbytes(14)
        lib_tx = _peer(profile, key, salt, outbound=True)
        lib_rx = libsrtp.LibSrtp(profile, key, salt, outbound=False)
        ours = srtp.Session(profile, key, salt)
        plain = [srtp_traffic.rtp(rng, (start + i) & 0xFFFF, 0xD15C0, 8) for i in range(40000)]
        protected = [lib_tx.protect(p) for p in plain]
        decisions = {"ok": 0, srtp.ERR_REPLAY: 0, srtp.ERR_TOO_OLD: 0}
        order = _reordered(rng, len(plain))
        for i in order:
            try:
                theirs = lib_rx.unprotect(protected[i])
            except libsrtp.LibSrtpError as e:
                theirs = {libsrtp.ERR_REPLAY_FAIL: srtp.ERR_REPLAY, libsrtp.ERR_REPLAY_OLD: srtp.ERR_TOO_OLD}[e.status]
            buf = bytearray(protected[i])
            n = ours.unprotect_into(buf, len(buf), srtp.Drops())
            mine = bytes(buf[:n]) if n >= 0 else n
            assert mine == theirs, (profile, i, mine if n < 0 else "accepted", theirs if isinstance(theirs, int) else "accepted")
            decisions["ok" if n >= 0 else n] += 1
        assert ours._rx.last.highest == start + max(order)  # the ROC went to 1
        assert all(decisions.values()), decisions  # every kind of decision happened


def test_unencrypted_srtcp_from_libsrtp():
    # RFC 3711 section 3.4: with the E flag clear the compound packet travels in clear but
    # authenticated; we accept it, and reject it once a bit is flipped or when replayed.
    rng = random.Random("E=0")
    for profile in PROFILES:
        key, salt = rng.randbytes(srtp.PROFILES[profile][0]), rng.randbytes(14)
        lib_tx = libsrtp.LibSrtp(profile, key, salt, outbound=True, rtcp_encrypted=False)
        ours = srtp.Session(profile, key, salt)
        for i in range(20):
            p = srtp_traffic.rtcp_compound(rng, 0x1234)
            q = lib_tx.protect_rtcp(p)
            assert q[:len(p)] == p and q[len(p)] & 0x80 == 0  # clear text, E flag clear
            assert ours.unprotect_rtcp(q) == p
            bad = bytearray(q)
            bad[rng.randrange(len(q))] ^= 1 << rng.randrange(8)
            try:
                ours.unprotect_rtcp(bytes(bad))
            except srtp.AuthenticationError:
                pass
            else:
                raise AssertionError("a flipped bit was accepted")
        try:
            ours.unprotect_rtcp(q)
        except srtp.ReplayError:
            pass
        else:
            raise AssertionError("a replay was accepted")

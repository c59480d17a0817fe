"""A bounded, seeded fuzz of the SRTP/SRTCP receivers and the RTP/RTCP parsers: genuine traffic
from libsrtp (pylibsrtp), interleaved with what an attacker on the path can make of it (flipped
bits, truncations, duplicates, reordering, SSRC and header edits, random bytes, a stream of new
SSRCs). Every crypto backend must take the same decision for every datagram, nothing but a
genuine packet not seen before may come out (a replayed or forged one never reaches the phone),
no exception escapes the media path's calls, and the good stream goes on to the end."""
import random
import time

import pylibsrtp

import srtp_traffic
from zerotap import crypto, rtp, srtp

ROUNDS = 3000
SECONDS = 60  # a bound on a slow machine; the rounds normally end first


def _mutants(rng, genuine, pool):
    out = []
    for _ in range(4):
        m = bytearray(rng.choice(pool))
        k = rng.randrange(7)
        if k == 0 and m:
            m[rng.randrange(len(m))] ^= 1 << rng.randrange(8)
        elif k == 1:
            del m[rng.randrange(len(m) + 1):]
        elif k == 2:
            m = bytearray(rng.randbytes(rng.randrange(48)))
        elif k == 3 and len(m) > 12:
            m[8:12] = rng.randbytes(4)  # another SSRC
        elif k == 4 and m:
            m[0] = rng.randrange(256)  # version, padding, extension, CSRC count
        elif k == 5:
            m += rng.randbytes(rng.randrange(1, 20))
        out.append(bytes(m))
    out.append(genuine)
    out.append(rng.choice(pool))  # a replay (or, now and then, a late genuine one)
    return out


def test_receivers_agree_and_let_nothing_but_genuine_packets_through():
    rng = random.Random("fuzz3711")
    key, salt = rng.randbytes(16), rng.randbytes(14)
    policy = pylibsrtp.Policy(key=key + salt, srtp_profile=pylibsrtp.Policy.SRTP_PROFILE_AES128_CM_SHA1_80,
                              ssrc_type=pylibsrtp.Policy.SSRC_ANY_OUTBOUND)
    lib_tx = pylibsrtp.Session(policy)
    names = crypto.backends()
    assert "python" in names and len(names) > 1, names
    receivers = [srtp.Session(srtp.AES_CM_128_HMAC_SHA1_80, key, salt, backend=crypto.backend(n))
                 for n in names]
    plain = {}  # genuine wire bytes -> plain bytes
    delivered = set()
    pool = []
    rtcp_pool = []
    ssrc = 0x600DF00D
    seq = 65000
    t0 = time.monotonic()
    rounds = 0
    while rounds < ROUNDS and time.monotonic() - t0 < SECONDS:
        rounds += 1
        p = srtp_traffic.rtp(rng, seq, ssrc, 60)
        seq = (seq + 1) & 0xFFFF
        w = lib_tx.protect(p)
        plain[w] = p
        pool = (pool + [w])[-300:]
        r = srtp_traffic.rtcp_compound(rng, ssrc)
        wr = lib_tx.protect_rtcp(r)
        plain[wr] = r
        rtcp_pool = (rtcp_pool + [wr])[-50:]
        batch = [(0, m) for m in _mutants(rng, w, pool)] + [(1, m) for m in _mutants(rng, wr, rtcp_pool)]
        if rounds % 50 == 0:  # authentic packets of a new SSRC: taken up to MAX_SSRCS
            q = srtp_traffic.rtp(rng, 1, rng.getrandbits(32), 20)
            wq = lib_tx.protect(q)
            plain[wq] = q
            batch.append((0, wq))
        rng.shuffle(batch)
        for is_rtcp, m in batch:
            results = []
            for rx in receivers:
                buf = bytearray(m) + bytearray(32)
                drops = srtp.Drops()
                n = (rx.unprotect_rtcp_into if is_rtcp else rx.unprotect_into)(buf, len(m), drops)
                assert (n < 0) == (drops.total == 1), (n, drops)
                results.append(bytes(buf[:n]) if n >= 0 else n)
            assert all(x == results[0] for x in results), (m.hex(), names, results)
            got = results[0]
            if not isinstance(got, int):
                assert m in plain and m not in delivered, ("accepted", m.hex())
                assert got == plain[m]
                delivered.add(m)
                (rtp.RtcpPacket.parse_compound if is_rtcp else rtp.RtpPacket.parse)(got)
            else:
                for parse in (rtp.RtpPacket.parse, rtp.RtcpPacket.parse_compound):
                    try:
                        parse(m)
                    except ValueError:
                        pass
                assert rtp.demux(m, len(m)) in range(6)
        # the good stream went on: this round's genuine packets came through
        assert w in delivered and wr in delivered, rounds
    assert rounds >= 500, rounds
    for rx in receivers:
        assert len(rx._rx.by_ssrc) <= srtp.MAX_SSRCS
    print("%d rounds, %d datagrams accepted, backends %s" % (rounds, len(delivered), names))

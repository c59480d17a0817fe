"""The ICE fallback in a lab of network namespaces (fallbacklab.py, built once for this module and
removed also on failure), real parts only: an "internet" with the provider (Kamailio as proxy
and registrar, rtpengine anchoring the media as an SBC does) behind a rule that drops UDP
carrying the ZRTP cookie at payload offset 4, coturn, and the helper (tools/icehelper over HTTPS
with a test CA, its offers in Redis); two sites, each a box and a plain linphonec phone behind an
nftables NAT; box A on CPython, box B on the MicroPython unix port; carol, a phone without a
box, in site B. tshark in the internet namespace checks the wire.

The cases of issue 17, in this order (a box remembers a peer whose box answered over DTMF, so
"ZRTP not blocked" runs before any fallback reached bob):
7. ZRTP not blocked: no fallback, SECURE on the provider path;
6. the helper down, and the helper with a certificate the box does not trust: CLEAR with the
   reason, media never stalls;
1. port-restricted NATs: SECURE (direct) on a server-reflexive pair with equal SAS, audio both
   ways by correlation, SRTP only on the direct path and only keepalives on the provider's;
4. 10 % loss on the provider path during the exchange: still SECURE within the deadline;
5. the far phone has no box: CLEAR with the reason within the deadline, audio restored.
"""
import time
import wave

import pytest

import audio
from fallbacklab import (AFTER_S, DEADLINE_S, NET, RTP_MAX, RTP_MIN, SITES, FallbackLab,
                         World)

AUDIO_MIN = 0.9
A_PUBLIC, B_PUBLIC = SITES["a"][2], SITES["b"][2]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fallbacklab")
    with FallbackLab() as lab:
        w = World(lab, folder)
        try:
            w.start()
            yield w
        finally:
            w.stop()


def _signals(w, seconds=40):
    return (audio.write_signal(w.dir / "alice.wav", 1, seconds=seconds),
            audio.write_signal(w.dir / "far.wav", 2, seconds=seconds))


def _crop(src, dst, start_s, end_s):
    """The part of SRC (a WAV) from START_S to END_S, as DST."""
    with wave.open(str(src), "rb") as r:
        rate = r.getframerate()
        r.setpos(int(max(0.0, start_s) * rate))
        frames = r.readframes(int((end_s - max(0.0, start_s)) * rate))
        params = r.getparams()
    with wave.open(str(dst), "wb") as out:
        out.setparams(params)
        out.writeframes(frames)
    return dst


def _heard(w, c, listener, talker_wav, from_epoch, to_epoch):
    """Correlation of what LISTENER recorded with the part of TALKER_WAV played between the two
    epochs (the players start when the call connects)."""
    part = _crop(talker_wav, w.dir / ("part_%s.wav" % listener), from_epoch - c.connected,
                 to_epoch - c.connected)
    return audio.correlation(w.dir / ("%s_heard.wav" % listener), part)


def _rtp(payload):
    return len(payload) >= 12 and payload[0] >> 6 == 2 and payload[4:8] != b"ZRTP" and \
        not 200 <= payload[1] <= 204


def test_7_zrtp_not_blocked_no_fallback_secure_as_today(world):
    world.lab.block_zrtp(False)
    c = world.call("bob")
    sa, _ = c.wait("A", lambda s: s["security"] == "secure", 15, "SECURE")
    sb, _ = c.wait("B", lambda s: s["security"] == "secure", 15, "SECURE")
    time.sleep(AFTER_S + 1)  # past the time a blocked path would have started the fallback
    world.hang_up(c)
    assert sa["sas"] == sb["sas"] and sa["sas"]
    for box in ("A", "B"):
        steps = [s.get("fallback") for s in c.statuses(box)]
        assert steps == [None] * len(steps), steps
        assert all(s.get("path") in (None, "provider") for s in c.statuses(box))


def test_1_port_restricted_nats_secure_on_the_direct_path(world):
    world.lab.block_zrtp(True)
    dropped = world.lab.zrtp_dropped()
    wa, wb = _signals(world)
    world.start_capture("case1")
    c = world.call("bob", play=(wa, wb))
    sa, ta = c.wait_secure_direct("A", AFTER_S + DEADLINE_S + 2)
    sb, tb = c.wait_secure_direct("B", 5)
    switched = max(ta, tb)
    time.sleep(5)
    world.hang_up(c)
    world.stop_capture()
    assert sa["sas"] == sb["sas"] and sa["sas"], (sa, sb)
    assert world.lab.zrtp_dropped() > dropped, "the provider's rule dropped no ZRTP"
    steps = [s.get("fallback") for s in c.statuses("A")]
    assert "exchanging" in steps and "connecting" in steps, steps
    # audio both ways, after the switch
    got = _heard(world, c, "bob", wa, switched + 1, c.ended - 1)
    assert got > AUDIO_MIN, ("alice -> bob", got)
    got = _heard(world, c, "alice", wb, switched + 1, c.ended - 1)
    assert got > AUDIO_MIN, ("bob -> alice", got)
    # on the wire
    pkts = world.udp_packets()
    direct = [p for p in pkts if {p[1], p[3]} == {A_PUBLIC, B_PUBLIC}]
    provider = [p for p in pkts if NET in (p[1], p[3]) and
                (RTP_MIN <= p[2] <= RTP_MAX or RTP_MIN <= p[4] <= RTP_MAX)]
    media = [p for p in direct if _rtp(p[5])]
    # a server-reflexive pair: the NATs' public addresses at both ends, nothing through coturn
    assert len(media) > 150, len(media)
    # SRTP only: every RTP packet on the direct path carries an authentication tag
    assert all(len(p[5]) > 172 for p in media), sorted({len(p[5]) for p in media})
    # the provider path after the switch: only G.711 silence keepalives with the marker bit
    late = [p for p in provider if p[0] > switched + 0.5 and p[0] < c.ended - 0.2 and
            _rtp(p[5])]
    assert late, "no keepalive on the provider path"
    span = c.ended - switched
    assert len(late) <= 2 * (span / 5 + 2), len(late)
    for p in late:
        assert len(p[5]) == 172 and p[5][1] & 0x80 and len(set(p[5][12:])) == 1, p

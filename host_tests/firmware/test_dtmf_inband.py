"""In-band DTMF in a G.711 RTP stream (zerotap.dtmf.inband): the sender continues the phone's
stream (SSRC, sequence numbers, timestamps, 20 ms packets paced, the marker on the first); the
receiver finds the keys in PCMU and PCMA payloads, across packet boundaries, ignores what is not
G.711 and reads past CSRCs, extensions and padding."""
from support import raises

from zerotap.dtmf import events, frame, inband

ID = "3141592653"


def _play(sender, start=1000):
    """Run SENDER to the end, one timer at a time; return [(ms, packet)]."""
    out = []
    t = sender.get_timer()
    guard = 0
    while t is not None and guard < 1000:
        for p in sender.datagrams_to_send(t):
            out.append((t, p))
        t = sender.get_timer()
        guard += 1
    return out


def test_frame_through_pcmu_and_pcma():
    text = frame.encode(ID)
    for pt in (0, 8):
        s = inband.ToneSender(0xCAFE0001, pt)
        s.start(text, 5000, 700, 160000, 4990)
        assert s.busy
        packets = _play(s)
        assert not s.busy and s.get_timer() is None
        # 14 keys of 100 ms tone and 60 ms pause, in 20 ms packets, paced from 5000 ms on
        assert (inband.TONE_MS, inband.GAP_MS) == (100, 60)
        assert len(packets) == 14 * 160 // 20
        assert [t for t, _ in packets] == [5000 + 20 * k for k in range(len(packets))]
        first = events.parse_rtp(packets[0][1])
        marker, ptype, seq, ts, ssrc, payload = first
        assert marker and ptype == pt and seq == 701 and ssrc == 0xCAFE0001
        assert ts == 160000 + 10 * 8 and len(payload) == 160
        for k, (_, p) in enumerate(packets[1:]):
            m, _, q, t2, _, _ = events.parse_rtp(p)
            assert not m and q == 702 + k and t2 == ts + 160 * (k + 1)
        assert s.next_seq == 701 + len(packets)
        rx = inband.ToneReceiver()
        keys = []
        for _, p in packets:
            keys += rx.receive_packet(p)
        assert "".join(keys) == text, (pt, keys)
        dec = frame.FrameDecoder()
        got = None
        for i, k in enumerate(keys):
            got = dec.feed(k, 20 * i) or got
        assert got == (frame.OFFER, ID)


def test_cancel_and_restart():
    s = inband.ToneSender(1, 0)
    s.start("*A", 0, 0, 0)
    s.datagrams_to_send(40)
    s.cancel()
    assert not s.busy and s.get_timer() is None and s.datagrams_to_send(1000) == []
    seq = s.next_seq
    s.start("#", 2000, seq - 1, 0)
    assert s.busy and s.get_timer() == 2000
    raises(lambda: s.start("1", 2000, 0, 0), "dtmf tones: still sending, wait until done")


def test_refusals():
    raises(lambda: inband.ToneSender(1, 18), "dtmf tones: payload type 18 is not G.711 "
                                             "(0 PCMU or 8 PCMA)")
    raises(lambda: inband.ToneSender(1, 0, ptime_ms=0), "dtmf tones: ptime_ms must be 1..60, "
                                                        "not 0")
    s = inband.ToneSender(1, 0)
    raises(lambda: s.start("*X", 0, 0, 0), "dtmf: 'X' is not a DTMF symbol (0-9 * # A-D)")


def test_receiver_reads_the_payload_only():
    s = inband.ToneSender(7, 8)
    s.start("5", 0, 0, 0)
    packets = [p for _, p in _play(s)]
    rx = inband.ToneReceiver()
    keys = []
    for p in packets:
        # a CSRC, a header extension of one word and two bytes of padding around the same audio
        b = bytearray(p)
        b[0] = 0x80 | 0x20 | 0x10 | 1
        b = b[:12] + b"\x00\x00\x00\x09" + b"\xbe\xde\x00\x01" + b"\x01\x02\x03\x04" + \
            b[12:] + b"\x00\x02"
        keys += rx.receive_packet(b)
    assert keys == ["5"]
    # not G.711 (an RFC 4733 event, a dynamic codec), too short, not RTP: nothing
    ev = events.build_rtp(True, 101, 1, 1, 1, events.build_event(5, False, 10, 160))
    assert rx.receive_packet(ev) == []
    assert rx.receive_packet(bytes(12)) == []
    assert rx.receive_packet(b"\x00" * 100) == []
    assert rx.receive_packet(packets[0], 12) == []

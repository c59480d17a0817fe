"""RFC 4733 telephone-events: packets that linphonec sent (host_tests/vectors/
dtmf_linphone_events.json), the receiver under loss, duplication and reordering, and the sender."""
import vectors
from zerotap.dtmf import events
from support import Xorshift32

LINPHONE = vectors.load("dtmf_linphone_events.json")
PACKETS = [(p["ms"], vectors.unhex(p["hex"])) for p in LINPHONE["packets"]]
PT = LINPHONE["payload_type"]


def _downs(pairs, pt=PT):
    rx = events.EventReceiver(pt)
    out = []
    for ms, packet in pairs:
        out.extend(rx.receive_packet(packet, ms))
    out.extend(rx.handle_timer(10 ** 9))
    return out


def test_linphone_packets_round_trip():
    assert len(PACKETS) >= 3 * len(LINPHONE["keys"])
    for _, packet in PACKETS:
        marker, pt, seq, ts, ssrc, payload = events.parse_rtp(packet)
        assert pt == PT
        assert events.build_rtp(marker, pt, seq, ts, ssrc, payload) == packet
        event, end, volume, duration = events.parse_event(payload)
        assert events.build_event(event, end, volume, duration) == payload


def test_linphone_keys_each_once():
    out = _downs(PACKETS)
    downs = "".join(d for kind, d, ts, dur in out if kind == events.KEY_DOWN)
    ups = "".join(d for kind, d, ts, dur in out if kind == events.KEY_UP)
    assert downs == LINPHONE["keys"]
    assert ups == LINPHONE["keys"]
    for kind, d, ts, dur in out:
        if kind == events.KEY_UP:
            assert dur > 0


def test_loss_duplication_and_reordering_give_each_key_once():
    keys = LINPHONE["keys"]
    for seed in range(1, 41):
        rnd = Xorshift32(seed)
        # Group by event timestamp so that every key keeps at least one packet.
        by_ts = {}
        order = []
        for ms, packet in PACKETS:
            ts = events.parse_rtp(packet)[3]
            if ts not in by_ts:
                by_ts[ts] = []
                order.append(ts)
            by_ts[ts].append((ms, packet))
        pairs = []
        for ts in order:
            group = by_ts[ts]
            keep = rnd.below(len(group))
            for i, item in enumerate(group):
                r = rnd.below(10)
                if i != keep and r < 3:
                    continue  # lost
                pairs.append(item)
                if r == 9:
                    pairs.append(item)  # duplicated
        # Reorder neighbours.
        for i in range(len(pairs) - 1):
            if rnd.below(4) == 0:
                pairs[i], pairs[i + 1] = pairs[i + 1], pairs[i]
        out = _downs(pairs)
        downs = "".join(d for kind, d, _, _ in out if kind == events.KEY_DOWN)
        ups = [d for kind, d, _, _ in out if kind == events.KEY_UP]
        assert downs == keys, (seed, downs)
        assert sorted(ups) == sorted(keys), (seed, ups)


def test_marker_bit_is_not_what_counts():
    # The same key twice: new timestamp, no marker on either first packet.
    a = events.build_rtp(False, 101, 10, 1000, 7, events.build_event(5, False, 10, 160))
    b = events.build_rtp(False, 101, 11, 1000, 7, events.build_event(5, True, 10, 640))
    c = events.build_rtp(True, 101, 12, 1000, 7, events.build_event(5, True, 10, 640))
    d = events.build_rtp(False, 101, 13, 2200, 7, events.build_event(5, False, 10, 160))
    rx = events.EventReceiver(101)
    got = []
    for i, p in enumerate((a, b, c, d)):
        got.extend(rx.receive_packet(p, 20 * i))
    assert got == [("down", "5", 1000, 0), ("up", "5", 1000, 640), ("down", "5", 2200, 0)]


def test_a_key_whose_ends_are_lost_times_out():
    rx = events.EventReceiver(101, end_timeout_ms=300)
    p = events.build_rtp(True, 101, 1, 5000, 9, events.build_event(11, False, 10, 160))
    assert rx.receive_packet(p, 1000) == [("down", "#", 5000, 0)]
    assert rx.get_timer() == 1300
    assert rx.handle_timer(1299) == []
    assert rx.handle_timer(1300) == [("up", "#", 5000, 160)]
    assert rx.get_timer() is None


def test_other_payload_types_and_events_are_ignored():
    rx = events.EventReceiver(101)
    audio = events.build_rtp(False, 0, 1, 0, 9, bytes(160))
    assert rx.receive_packet(audio, 0) == []
    flash = events.build_rtp(True, 101, 2, 160, 9, events.build_event(16, True, 10, 800))
    assert rx.receive_packet(flash, 20) == []


def test_sender_joins_the_stream():
    tx = events.EventSender(0xCAFEBABE, payload_type=97, interval_ms=20, tone_ms=80, gap_ms=60)
    tx.start("9#", 1000, last_seq=65534, last_timestamp=0xFFFFFF00, last_timestamp_ms=980)
    assert tx.busy and tx.get_timer() == 1020
    sent = []
    now = 1000
    while tx.busy:
        now = tx.get_timer()
        for p in tx.datagrams_to_send(now):
            sent.append((now, events.parse_rtp(p)))
    assert len(sent) == 2 * (3 + 3)  # per key: 3 updates, then the final packet 3 times
    seqs = [s[2] for _, s in sent]
    assert seqs == [(65535 + i) & 0xFFFF for i in range(len(sent))]
    assert tx.next_seq == (65535 + len(sent)) & 0xFFFF
    for _, (marker, pt, seq, ts, ssrc, payload) in sent:
        assert ssrc == 0xCAFEBABE and pt == 97
    first, second = sent[:6], sent[6:]
    # The event timestamp: the stream's at the key's start (20 ms after the last packet).
    assert [s[3] for _, s in first] == [(0xFFFFFF00 + 160) & 0xFFFFFFFF] * 6
    assert [s[3] for _, s in second] == [(0xFFFFFF00 + 160 + 1120) & 0xFFFFFFFF] * 6
    assert [s[0] for _, s in first] == [True] + [False] * 5
    parsed = [events.parse_event(s[5]) for _, s in first]
    assert [p[3] for p in parsed] == [160, 320, 480, 640, 640, 640]
    assert [p[1] for p in parsed] == [False, False, False, True, True, True]
    assert set(p[0] for p in parsed) == {9}
    assert [t for t, _ in first] == [1020, 1040, 1060, 1080, 1100, 1120]
    assert events.parse_event(second[0][1][5])[0] == 11
    assert tx.timestamp_at(2000) == (0xFFFFFF00 + 1020 * 8) & 0xFFFFFFFF


def test_sender_to_receiver_with_loss():
    keys = "0123456789*#ABCD11"
    tx = events.EventSender(1234)
    tx.start(keys, 0, 100, 5000)
    rnd = Xorshift32(3)
    rx = events.EventReceiver()
    downs = ""
    while tx.busy:
        now = tx.get_timer()
        for p in tx.datagrams_to_send(now):
            if rnd.below(5) == 0:
                continue
            for e in rx.receive_packet(p, now):
                if e[0] == events.KEY_DOWN:
                    downs += e[1]
    assert downs == keys


def test_bad_packets_and_arguments():
    cases = (
        (lambda: events.parse_event(b"\x01\x02\x03"), "telephone-event: payload of 3 bytes, need 4"),
        (lambda: events.parse_rtp(b"\x80" * 11), "rtp: packet of 11 bytes, header needs 12"),
        (lambda: events.parse_rtp(b"\x40" + bytes(15)), "rtp: version 1, expected 2"),
        (lambda: events.parse_rtp(b"\x83" + bytes(15)), "rtp: header of 24 bytes in a packet of 16"),
        (lambda: events.build_event(5, False, 64, 0), "telephone-event: volume 64 out of 0..63"),
        (lambda: events.build_event(5, False, 1, 70000),
         "telephone-event: duration 70000 out of 0..65535"),
        (lambda: events.EventSender(1, tone_ms=9000),
         "telephone-event: tone_ms 9000 exceeds the 16-bit duration"),
        (lambda: events.EventSender(1).start("12x", 0, 0, 0), "dtmf: 'X' is not a DTMF symbol (0-9 * # A-D)"),
    )
    for fn, msg in cases:
        try:
            fn()
            assert False, msg
        except ValueError as e:
            assert str(e) == msg, (str(e), msg)

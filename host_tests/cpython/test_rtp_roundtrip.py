"""zerotap.rtp against packets it did not build: random RTP and compound RTCP made with struct
(srtp_traffic.py) parse into the fields they were built from and serialize back to the same bytes;
Hypothesis checks that any bytes either parse and round-trip or raise ValueError."""
import random
import struct

from hypothesis import given, settings
from hypothesis import strategies as st

import srtp_traffic
from zerotap import rtp


def test_random_rtp_parses_into_its_fields_and_round_trips():
    rng = random.Random(3550)
    for i in range(3000):
        data = srtp_traffic.rtp(rng, i, 0x01020304)
        b0, b1, seq, ts, ssrc = struct.unpack(">BBHII", data[:12])
        p = rtp.RtpPacket.parse(data)
        assert (p.sequence_number, p.timestamp, p.ssrc) == (seq, ts, ssrc)
        assert p.payload_type == b1 & 0x7F and p.marker == bool(b1 & 0x80)
        assert len(p.csrc) == b0 & 0x0F and (p.extension is not None) == bool(b0 & 0x10)
        assert (p.padding > 0) == bool(b0 & 0x20)
        assert rtp.header_length(data, len(data)) == len(data) - len(p.payload) - p.padding
        assert rtp.demux(data) == rtp.PACKET_RTP or 192 <= b1 <= 223
        assert p.serialize() == data


def test_random_rtcp_compounds_round_trip():
    rng = random.Random(6188)
    for _ in range(2000):
        data = srtp_traffic.rtcp_compound(rng, 0xCAFEBABE)
        packets = rtp.RtcpPacket.parse_compound(data)
        assert packets[0].packet_type in (rtp.RTCP_SR, rtp.RTCP_RR)
        assert packets[1].packet_type == rtp.RTCP_SDES
        assert all(p.ssrc == 0xCAFEBABE for p in packets)
        assert rtp.RtcpPacket.serialize_compound(packets) == data
        assert rtp.demux(data) == rtp.PACKET_RTCP


@settings(max_examples=800, deadline=None)
@given(st.binary(max_size=120))
def test_any_bytes_parse_cleanly_or_raise_value_error(data):
    for parse, serialize, padding in (
            (rtp.RtpPacket.parse, lambda p: p.serialize(), lambda p: p.padding),
            (rtp.RtcpPacket.parse_compound, rtp.RtcpPacket.serialize_compound, lambda p: p[-1].padding)):
        try:
            parsed = parse(data)
        except ValueError:
            continue
        again = serialize(parsed)
        # Padding octets before the count octet are not kept (they come back as zeros).
        pad = padding(parsed)
        assert len(again) == len(data)
        assert again[:len(data) - pad] == data[:len(data) - pad] and again[-1:] == data[-1:]
    rtp.demux(data)
    n = rtp.header_length(data, len(data))
    assert n < 0 or 12 <= n <= len(data)


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 127), st.integers(0, 0xFFFF), st.integers(0, 2**32 - 1),
       st.integers(0, 2**32 - 1), st.binary(max_size=64), st.booleans(),
       st.lists(st.integers(0, 2**32 - 1), max_size=15), st.integers(0, 0xFFFF),
       st.one_of(st.none(), st.binary(max_size=12).map(lambda b: b + bytes(-len(b) % 4))),
       st.integers(0, 255))
def test_fields_round_trip(pt, seq, ts, ssrc, payload, marker, csrc, profile, ext, pad):
    p = rtp.RtpPacket(pt, seq, ts, ssrc, payload, marker, csrc, profile, ext, pad)
    q = rtp.RtpPacket.parse(p.serialize())
    assert (q.payload_type, q.sequence_number, q.timestamp, q.ssrc, q.payload, q.marker, q.csrc,
            q.extension, q.padding) == (pt, seq, ts, ssrc, payload, marker, csrc, ext, pad)
    if ext is not None:
        assert q.extension_profile == profile

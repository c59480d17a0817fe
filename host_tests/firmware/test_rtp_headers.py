"""RTP/RTCP header parsing (RFC 3550) and the media port's demux (RFC 7983, RFC 5761)."""
from vectors import unhex

from zerotap import rtp

# libsrtp's srtp_driver.c plaintext: PT 15, seq 0x1234, ts 0xdecafbad, SSRC 0xcafebabe
PLAIN = unhex("800f1234decafbadcafebabe" + "ab" * 16)
# CSRC count 2, X with a one-word RFC 8285 one-byte extension, marker, PT 96, 4 bytes padding
FULL = unhex("b2e0ffff" "00000001" "11223344" "aaaaaaaa" "bbbbbbbb" "bede0001" "10ff0000"
             "0102030405" "00000004")
# STUN Binding Request (RFC 5769 section 2.1 header) and a ZRTP packet header + Hello start
STUN = unhex("000100582112a442b7e7a701bc34d686fa87dfae")
ZRTP = unhex("10000001" "5a525450" "01020304" "505a" "0015" "48656c6c6f202020")
# SR with one report block, then SDES CNAME, then BYE with padding (RFC 3550 section 6)
SR = unhex("81c8000c" "11223344" "e0000000aaaaaaaa" "00000a00" "00000010" "00000640"
           "55667788" "01000002" "0000ffff" "00000020" "00000000" "00000000")
SDES = unhex("81ca0003" "11223344" "0103626f78" "000000")
BYE = unhex("a1cb0002" "11223344" "00000004")


def _raises(message, func, *args):
    try:
        func(*args)
    except ValueError as e:
        assert str(e) == message, str(e)
        return
    assert False, "no ValueError: " + message


def test_demux():
    assert rtp.demux(PLAIN) == rtp.PACKET_RTP
    assert rtp.demux(FULL) == rtp.PACKET_RTP  # marker + PT 96 = 0xe0, not RTCP
    assert rtp.demux(SR + SDES) == rtp.PACKET_RTCP
    assert rtp.demux(SDES) == rtp.PACKET_RTCP
    assert rtp.demux(unhex("80c0")) == rtp.PACKET_RTCP  # 192 is the first RTCP value
    assert rtp.demux(unhex("80df")) == rtp.PACKET_RTCP  # 223 the last
    assert rtp.demux(unhex("80bf")) == rtp.PACKET_RTP
    assert rtp.demux(unhex("80e0")) == rtp.PACKET_RTP
    assert rtp.demux(STUN) == rtp.PACKET_STUN
    assert rtp.demux(ZRTP) == rtp.PACKET_ZRTP
    assert rtp.demux(b"") == rtp.PACKET_UNKNOWN
    assert rtp.demux(b"\x80") == rtp.PACKET_UNKNOWN
    assert rtp.demux(ZRTP[:7]) == rtp.PACKET_UNKNOWN
    assert rtp.demux(b"\x16\xfe\xfd" + bytes(10)) == rtp.PACKET_UNKNOWN  # DTLS
    assert rtp.demux(b"\x10\x00\x00\x01ZRTQ" + bytes(8)) == rtp.PACKET_UNKNOWN
    assert rtp.demux(b"\xc0" + ZRTP[1:]) == rtp.PACKET_UNKNOWN  # cookie but top bits 11
    # length limits what is looked at, for a packet in a bigger buffer
    buf = bytearray(1500)
    buf[:len(ZRTP)] = ZRTP
    assert rtp.demux(buf, len(ZRTP)) == rtp.PACKET_ZRTP
    assert rtp.demux(buf, 6) == rtp.PACKET_UNKNOWN


def test_header_length():
    assert rtp.header_length(PLAIN, len(PLAIN)) == 12
    assert rtp.header_length(FULL, len(FULL)) == 12 + 8 + 8
    assert rtp.header_length(FULL, 28) == 28  # header only, empty payload
    assert rtp.header_length(FULL, 27) == rtp.ERR_RTP_EXTENSION
    assert rtp.header_length(FULL, 23) == rtp.ERR_RTP_EXTENSION_HEADER
    assert rtp.header_length(FULL, 19) == rtp.ERR_RTP_CSRC
    assert rtp.header_length(FULL, 11) == rtp.ERR_RTP_SHORT
    assert rtp.header_length(b"\x40" + PLAIN[1:], 28) == rtp.ERR_RTP_VERSION


def test_parse_plain():
    p = rtp.RtpPacket.parse(PLAIN)
    assert (p.payload_type, p.sequence_number, p.timestamp, p.ssrc) == (15, 0x1234, 0xDECAFBAD, 0xCAFEBABE)
    assert not p.marker and p.csrc == [] and p.extension is None and p.padding == 0
    assert p.payload == b"\xab" * 16
    assert p.serialize() == PLAIN


def test_parse_csrc_extension_padding():
    p = rtp.RtpPacket.parse(FULL)
    assert p.marker and p.payload_type == 96 and p.sequence_number == 0xFFFF
    assert p.timestamp == 1 and p.ssrc == 0x11223344
    assert p.csrc == [0xAAAAAAAA, 0xBBBBBBBB]
    assert p.extension_profile == 0xBEDE and p.extension == unhex("10ff0000")
    assert p.payload == unhex("0102030405") and p.padding == 4
    assert p.serialize() == FULL
    built = rtp.RtpPacket(96, 0xFFFF, 1, 0x11223344, unhex("0102030405"), marker=True,
                          csrc=[0xAAAAAAAA, 0xBBBBBBBB], extension_profile=0xBEDE,
                          extension=unhex("10ff0000"), padding=4)
    assert built.serialize() == FULL


def test_parse_errors():
    for n in range(12):
        _raises("RTP packet shorter than the 12-byte fixed header", rtp.RtpPacket.parse, FULL[:n])
    _raises("RTP packet too short for its CSRC list", rtp.RtpPacket.parse, FULL[:19])
    _raises("RTP packet too short for its header extension header", rtp.RtpPacket.parse, FULL[:23])
    _raises("RTP packet too short for its header extension", rtp.RtpPacket.parse, FULL[:27])
    _raises("RTP version is not 2", rtp.RtpPacket.parse, b"\xc0" + PLAIN[1:])
    _raises("RTP padding bit set but no payload", rtp.RtpPacket.parse, b"\xa0" + PLAIN[1:12])
    _raises("RTP padding count is zero", rtp.RtpPacket.parse, b"\xa0" + PLAIN[1:] + b"\x00")
    _raises("RTP padding longer than the payload", rtp.RtpPacket.parse, b"\xa0" + PLAIN[1:12] + b"\x00\x03")
    _raises("RTP packet has more than 15 CSRCs", rtp.RtpPacket(csrc=range(16)).serialize)
    _raises("RTP header extension length is not a multiple of 4",
            rtp.RtpPacket(extension=b"abc").serialize)


def test_rtcp_compound_round_trip():
    data = SR + SDES + BYE
    packets = rtp.RtcpPacket.parse_compound(data)
    assert [(p.packet_type, p.count) for p in packets] == [(rtp.RTCP_SR, 1), (rtp.RTCP_SDES, 1), (rtp.RTCP_BYE, 1)]
    assert [p.ssrc for p in packets] == [0x11223344] * 3
    assert len(packets[0].body) == 48 and packets[2].padding == 4 and packets[2].body == unhex("11223344")
    assert rtp.RtcpPacket.serialize_compound(packets) == data


def test_rtcp_errors():
    _raises("RTCP packet shorter than the 4-byte common header", rtp.RtcpPacket.parse_compound, SR[:3])
    _raises("RTCP packet longer than the datagram", rtp.RtcpPacket.parse_compound, SR[:-4])
    _raises("RTCP compound packet has trailing bytes", rtp.RtcpPacket.parse_compound, SR + b"\x81")
    _raises("RTCP version is not 2", rtp.RtcpPacket.parse_compound, SR + b"\x41" + SDES[1:])
    _raises("RTCP padding on a packet that is not the last", rtp.RtcpPacket.parse_compound, BYE + SR)
    _raises("RTCP padding count is zero", rtp.RtcpPacket.parse_compound, BYE[:-1] + b"\x00")
    _raises("RTCP padding longer than the packet", rtp.RtcpPacket.parse_compound, BYE[:-1] + b"\x0d")
    _raises("RTCP packet has no SSRC", getattr, rtp.RtcpPacket(rtp.RTCP_RR, body=b""), "ssrc")
    _raises("RTCP packet length is not a multiple of 4", rtp.RtcpPacket(rtp.RTCP_APP, body=b"abc").serialize)

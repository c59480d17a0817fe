"""RTP and RTCP headers (RFC 3550), and the demux of one media port's datagrams.

One UDP port of the box carries RTP, RTCP (RFC 5761 multiplexing), ZRTP (RFC 6189), STUN
(RFC 5389) and, on an ICE path relayed by TURN, ChannelData (RFC 8656 section 12.4);
:func:`demux` tells them apart by their first bytes, without allocating.

Two layers:

- the media path uses :func:`header_length`: it walks the fixed header, the CSRC list and the
  header extension of a packet held in a caller's buffer, and returns a length or a negative
  error code (no allocation, no exception);
- everything else uses :class:`RtpPacket` and :class:`RtcpPacket`, which parse into fields and
  serialize back to the same bytes, and raise ``ValueError`` with a precise message.
"""
from micropython import const

RTP_VERSION = const(2)
RTP_HEADER_LENGTH = const(12)  # RFC 3550 section 5.1: the fixed header
RTP_MAX_CSRC = const(15)
RTCP_HEADER_LENGTH = const(4)  # RFC 3550 section 6.4.1: V, P, count, PT, length
RTCP_SSRC_HEADER_LENGTH = const(8)  # ... followed by the sender's SSRC

# RTCP packet types (RFC 3550 section 12.1, RFC 4585 section 6.1)
RTCP_SR = const(200)
RTCP_RR = const(201)
RTCP_SDES = const(202)
RTCP_BYE = const(203)
RTCP_APP = const(204)
RTCP_RTPFB = const(205)
RTCP_PSFB = const(206)

# RFC 5761 section 4: with the marker bit set, RTP payload types 64-95 would put 192-223 in the
# second byte; that range belongs to RTCP packet types.
RTCP_PT_FIRST = const(192)
RTCP_PT_LAST = const(223)

ZRTP_MAGIC_COOKIE = const(0x5A525450)  # "ZRTP", RFC 6189 section 5, at offset 4
STUN_MAGIC_COOKIE = const(0x2112A442)  # RFC 5389 section 6, at offset 4

# What demux() returns
PACKET_UNKNOWN = const(0)
PACKET_RTP = const(1)
PACKET_RTCP = const(2)
PACKET_ZRTP = const(3)
PACKET_STUN = const(4)
PACKET_CHANNEL_DATA = const(5)  # TURN ChannelData: first byte 64-79 (RFC 7983 section 7)

# Error codes of header_length(); ERRORS holds their messages.
ERR_RTP_SHORT = const(-1)
ERR_RTP_VERSION = const(-2)
ERR_RTP_CSRC = const(-3)
ERR_RTP_EXTENSION_HEADER = const(-4)
ERR_RTP_EXTENSION = const(-5)

ERRORS = {
    ERR_RTP_SHORT: "RTP packet shorter than the 12-byte fixed header",
    ERR_RTP_VERSION: "RTP version is not 2",
    ERR_RTP_CSRC: "RTP packet too short for its CSRC list",
    ERR_RTP_EXTENSION_HEADER: "RTP packet too short for its header extension header",
    ERR_RTP_EXTENSION: "RTP packet too short for its header extension",
}


def demux(buf, length=-1):
    """What kind of packet ``buf[:length]`` is: one of the PACKET_* constants.

    RFC 7983 section 7 / RFC 5764 section 5.1.2: the first two bits are 10 for RTP and RTCP,
    00 for STUN and ZRTP; STUN (RFC 5389 section 6) and ZRTP (RFC 6189 section 5) then carry
    their magic cookie at offset 4. RTCP is told from RTP by RFC 5761 section 4.
    """
    if length < 0:
        length = len(buf)
    if length < 2:
        return PACKET_UNKNOWN
    top = buf[0] >> 6
    if top == 2:
        b1 = buf[1]
        if RTCP_PT_FIRST <= b1 <= RTCP_PT_LAST:
            return PACKET_RTCP
        return PACKET_RTP
    if top == 1 and buf[0] < 80 and length >= 4:
        return PACKET_CHANNEL_DATA
    if top == 0 and length >= 8:
        # Compare the cookie byte by byte: a 32-bit int would allocate on a board.
        b4 = buf[4]
        if b4 == 0x5A and buf[5] == 0x52 and buf[6] == 0x54 and buf[7] == 0x50:
            return PACKET_ZRTP
        if b4 == 0x21 and buf[5] == 0x12 and buf[6] == 0xA4 and buf[7] == 0x42:
            return PACKET_STUN
    return PACKET_UNKNOWN


def header_length(buf, length):
    """Length of the RTP header of ``buf[:length]``: fixed header, CSRCs and header extension.

    Returns a negative ERR_RTP_* code when the packet is not RTP version 2 or is too short for
    what its header announces (RFC 3550 section 5.1, 5.3.1). Allocates nothing.
    """
    if length < RTP_HEADER_LENGTH:
        return ERR_RTP_SHORT
    b0 = buf[0]
    if b0 >> 6 != RTP_VERSION:
        return ERR_RTP_VERSION
    n = RTP_HEADER_LENGTH + 4 * (b0 & 0x0F)
    if n > length:
        return ERR_RTP_CSRC
    if b0 & 0x10:
        if n + 4 > length:
            return ERR_RTP_EXTENSION_HEADER
        n += 4 + 4 * ((buf[n + 2] << 8) | buf[n + 3])
        if n > length:
            return ERR_RTP_EXTENSION
    return n


def _u16(data, i):
    return (data[i] << 8) | data[i + 1]


def _u32(data, i):
    return (data[i] << 24) | (data[i + 1] << 16) | (data[i + 2] << 8) | data[i + 3]


def _put_u32(out, i, value):
    out[i] = (value >> 24) & 0xFF
    out[i + 1] = (value >> 16) & 0xFF
    out[i + 2] = (value >> 8) & 0xFF
    out[i + 3] = value & 0xFF


class RtpPacket:
    """An RTP packet (RFC 3550 section 5.1) as fields.

    ``extension`` is None when the X bit is clear, else the extension's data (a multiple of 4
    bytes) with ``extension_profile`` its 16-bit "defined by profile" word. ``padding`` is the
    number of padding octets including the count octet (0 when the P bit is clear).
    """

    def __init__(self, payload_type=0, sequence_number=0, timestamp=0, ssrc=0, payload=b"",
                 marker=False, csrc=(), extension_profile=0, extension=None, padding=0):
        self.payload_type = payload_type
        self.sequence_number = sequence_number
        self.timestamp = timestamp
        self.ssrc = ssrc
        self.payload = payload
        self.marker = marker
        self.csrc = list(csrc)
        self.extension_profile = extension_profile
        self.extension = extension
        self.padding = padding

    def __repr__(self):
        return "RtpPacket(pt=%d, seq=%d, ts=%d, ssrc=0x%08x, %d csrc, ext=%s, payload=%d, pad=%d)" % (
            self.payload_type, self.sequence_number, self.timestamp, self.ssrc, len(self.csrc),
            "-" if self.extension is None else str(len(self.extension)), len(self.payload),
            self.padding)

    @classmethod
    def parse(cls, data):
        """Parse one RTP packet; ``ValueError`` with a precise message when it is malformed."""
        length = len(data)
        n = header_length(data, length)
        if n < 0:
            raise ValueError(ERRORS[n])
        b0 = data[0]
        packet = cls(
            payload_type=data[1] & 0x7F,
            sequence_number=_u16(data, 2),
            timestamp=_u32(data, 4),
            ssrc=_u32(data, 8),
            marker=bool(data[1] & 0x80),
            csrc=[_u32(data, 12 + 4 * i) for i in range(b0 & 0x0F)],
        )
        if b0 & 0x10:
            x = RTP_HEADER_LENGTH + 4 * (b0 & 0x0F)
            packet.extension_profile = _u16(data, x)
            packet.extension = bytes(data[x + 4:n])
        end = length
        if b0 & 0x20:
            # RFC 3550 section 5.1: the last octet counts the padding octets, itself included.
            if length == n:
                raise ValueError("RTP padding bit set but no payload")
            pad = data[length - 1]
            if pad == 0:
                raise ValueError("RTP padding count is zero")
            if pad > length - n:
                raise ValueError("RTP padding longer than the payload")
            packet.padding = pad
            end = length - pad
        packet.payload = bytes(data[n:end])
        return packet

    def serialize(self):
        """The packet's bytes; padding octets are zero except the final count octet."""
        ncsrc = len(self.csrc)
        if ncsrc > RTP_MAX_CSRC:
            raise ValueError("RTP packet has more than 15 CSRCs")
        if self.padding < 0 or self.padding > 255:
            raise ValueError("RTP padding must be 0 to 255 octets")
        ext = self.extension
        if ext is not None and len(ext) % 4:
            raise ValueError("RTP header extension length is not a multiple of 4")
        n = RTP_HEADER_LENGTH + 4 * ncsrc
        if ext is not None:
            n += 4 + len(ext)
        out = bytearray(n + len(self.payload) + self.padding)
        out[0] = (RTP_VERSION << 6) | (0x20 if self.padding else 0) | \
            (0x10 if ext is not None else 0) | ncsrc
        out[1] = (0x80 if self.marker else 0) | (self.payload_type & 0x7F)
        out[2] = (self.sequence_number >> 8) & 0xFF
        out[3] = self.sequence_number & 0xFF
        _put_u32(out, 4, self.timestamp)
        _put_u32(out, 8, self.ssrc)
        i = RTP_HEADER_LENGTH
        for c in self.csrc:
            _put_u32(out, i, c)
            i += 4
        if ext is not None:
            words = len(ext) // 4
            out[i] = (self.extension_profile >> 8) & 0xFF
            out[i + 1] = self.extension_profile & 0xFF
            out[i + 2] = (words >> 8) & 0xFF
            out[i + 3] = words & 0xFF
            out[i + 4:i + 4 + len(ext)] = ext
            i += 4 + len(ext)
        out[i:i + len(self.payload)] = self.payload
        if self.padding:
            out[len(out) - 1] = self.padding
        return bytes(out)


class RtcpPacket:
    """One RTCP packet of a compound packet (RFC 3550 section 6.4.1 common header).

    ``count`` is the 5-bit RC/SC/FMT field, ``body`` the bytes after the 4-byte common header
    (for most types it starts with the sender's SSRC), ``padding`` as in :class:`RtpPacket`.
    """

    def __init__(self, packet_type, count=0, body=b"", padding=0):
        self.packet_type = packet_type
        self.count = count
        self.body = body
        self.padding = padding

    def __repr__(self):
        return "RtcpPacket(pt=%d, count=%d, body=%d, pad=%d)" % (
            self.packet_type, self.count, len(self.body), self.padding)

    @property
    def ssrc(self):
        if len(self.body) < 4:
            raise ValueError("RTCP packet has no SSRC")
        return _u32(self.body, 0)

    def serialize(self):
        size = RTCP_HEADER_LENGTH + len(self.body) + self.padding
        if size % 4:
            raise ValueError("RTCP packet length is not a multiple of 4")
        if not 0 <= self.count <= 31:
            raise ValueError("RTCP count must be 0 to 31")
        if self.padding < 0 or self.padding > 255:
            raise ValueError("RTCP padding must be 0 to 255 octets")
        out = bytearray(size)
        out[0] = (RTP_VERSION << 6) | (0x20 if self.padding else 0) | self.count
        out[1] = self.packet_type
        words = size // 4 - 1
        out[2] = (words >> 8) & 0xFF
        out[3] = words & 0xFF
        out[4:4 + len(self.body)] = self.body
        if self.padding:
            out[size - 1] = self.padding
        return bytes(out)

    @classmethod
    def parse_compound(cls, data):
        """Parse a compound RTCP packet (RFC 3550 section 6.1) into a list of RtcpPacket.

        Every packet must be version 2 and fit; only the last may carry padding (section 6.4.1).
        """
        packets = []
        length = len(data)
        if length < RTCP_HEADER_LENGTH:
            raise ValueError("RTCP packet shorter than the 4-byte common header")
        i = 0
        while i < length:
            if length - i < RTCP_HEADER_LENGTH:
                raise ValueError("RTCP compound packet has trailing bytes")
            b0 = data[i]
            if b0 >> 6 != RTP_VERSION:
                raise ValueError("RTCP version is not 2")
            size = 4 * (_u16(data, i + 2) + 1)
            if i + size > length:
                raise ValueError("RTCP packet longer than the datagram")
            end = i + size
            pad = 0
            if b0 & 0x20:
                if end != length:
                    raise ValueError("RTCP padding on a packet that is not the last")
                pad = data[end - 1]
                if pad == 0:
                    raise ValueError("RTCP padding count is zero")
                if pad > size - RTCP_HEADER_LENGTH:
                    raise ValueError("RTCP padding longer than the packet")
            packets.append(cls(data[i + 1], b0 & 0x1F, bytes(data[i + 4:end - pad]), pad))
            i = end
        return packets

    @staticmethod
    def serialize_compound(packets):
        return b"".join(p.serialize() for p in packets)

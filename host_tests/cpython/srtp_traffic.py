"""Random RTP and RTCP traffic for the SRTP cross-checks, built here with struct (not with
zerotap.rtp, so that the packets do not depend on the code under test).

Headers vary the way real ones can: CSRC counts, header extensions, the marker bit, padding;
RTCP comes as compound packets (SR or RR, SDES, sometimes BYE or APP, sometimes padded).
"""
import struct


def rtp(rng, seq, ssrc, max_payload=200):
    """One RTP packet (RFC 3550 section 5.1) with sequence number SEQ and SSRC."""
    cc = rng.choice((0, 0, 0, 1, 2, 15)) if rng.random() < 0.3 else 0
    ext = rng.random() < 0.25
    pad = rng.randint(1, 16) if rng.random() < 0.15 else 0
    marker = rng.random() < 0.1
    pt = rng.randint(0, 127)
    b0 = 0x80 | (0x20 if pad else 0) | (0x10 if ext else 0) | cc
    out = [struct.pack(">BBHII", b0, (0x80 if marker else 0) | pt, seq, rng.getrandbits(32), ssrc)]
    out.extend(struct.pack(">I", rng.getrandbits(32)) for _ in range(cc))
    if ext:
        words = rng.randint(0, 4)
        out.append(struct.pack(">HH", rng.choice((0xBEDE, 0x1000, rng.getrandbits(16))), words))
        out.append(rng.randbytes(4 * words))
    out.append(rng.randbytes(rng.randint(0, max_payload)))
    if pad:
        out.append(bytes(pad - 1) + bytes([pad]))
    return b"".join(out)


def _rtcp(pt, count, body, pad=0):
    size = 4 + len(body) + pad
    assert size % 4 == 0
    tail = (bytes(pad - 1) + bytes([pad])) if pad else b""
    return struct.pack(">BBH", 0x80 | (0x20 if pad else 0) | count, pt, size // 4 - 1) + body + tail


def _report_blocks(rng, n):
    return b"".join(struct.pack(">I", rng.getrandbits(32)) + rng.randbytes(20) for _ in range(n))


def rtcp_compound(rng, ssrc):
    """A compound RTCP packet (RFC 3550 section 6.1): SR or RR, SDES, then maybe BYE or APP."""
    parts = []
    n = rng.randint(0, 2)
    if rng.random() < 0.5:
        parts.append(_rtcp(200, n, struct.pack(">I", ssrc) + rng.randbytes(20) + _report_blocks(rng, n)))
    else:
        parts.append(_rtcp(201, n, struct.pack(">I", ssrc) + _report_blocks(rng, n)))
    cname = ("box%d@127.0.0.1" % rng.randint(0, 9999)).encode()
    chunk = struct.pack(">IBB", ssrc, 1, len(cname)) + cname + b"\0"
    chunk += bytes(-len(chunk) % 4)
    parts.append(_rtcp(202, 1, chunk))
    last = rng.random()
    pad = rng.choice((4, 8)) if rng.random() < 0.2 else 0
    if last < 0.2:
        reason = b"\x03bye"
        parts.append(_rtcp(203, 1, struct.pack(">I", ssrc) + reason, pad))
    elif last < 0.4:
        parts.append(_rtcp(204, rng.randint(0, 31), struct.pack(">I", ssrc) + b"ZTAP" + rng.randbytes(8), pad))
    elif pad:
        parts.append(_rtcp(201, 0, struct.pack(">I", ssrc), pad))
    return b"".join(parts)

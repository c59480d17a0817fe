"""The SDP rewrite that puts the box into the media path (RFC 3264 offer/answer, RFC 4566 lines).

:func:`rewrite` works on the SDP text line by line, so that everything the box does not need to
change passes byte for byte: codecs, ptime, fmtp, direction attributes (hold and resume), bandwidth.
It changes only:

- the connection address (``c=``, session and media level) and the port of the first audio
  stream, to the box's own address and port on the side the SDP goes to;
- other media streams: port 0 (the box relays one audio stream per call);
- attributes that would bypass or confuse the box: ``a=crypto`` (SDES keys in clear), ``a=zrtp-hash``
  (the phone must not run ZRTP; the far end gets the box's own), ICE (``a=candidate``,
  ``a=ice-*``, ``a=remote-candidates``, ``a=end-of-candidates``), ``a=rtcp`` and ``a=rtcp-mux``;
- toward the network, it adds the box's ``a=zrtp-hash:1.10 <hex>`` (RFC 6189 section 8.1) to the
  audio stream.

It returns what the far side said: its address and ports, and its ``a=zrtp-hash`` if any. Hold by
``c=0.0.0.0`` (RFC 2543 style) and ``a=sendonly``/``a=inactive`` (RFC 3264 section 8.4) pass
through unchanged.

The attribute values the box reads (``a=zrtp-hash``, ``a=rtcp``) are parsed by
:mod:`zerotap.sip.sdp`, and a value that does not parse is ignored. ``c=``, ``m=`` and ``o=``
are checked and edited here field by field (single spaces, as RFC 8866 section 9 writes them),
so that what the box does not change passes byte for byte and a refusal quotes the line.
"""
from zerotap.sip import sdp as _sdp

_STRIP_PREFIXES = (b"a=crypto:", b"a=zrtp-hash:", b"a=candidate:", b"a=ice-", b"a=remote-candidates",
                   b"a=end-of-candidates", b"a=rtcp:", b"a=rtcp-mux")


class Media:
    """What one SDP said about its audio stream."""

    def __init__(self):
        self.host = None  # connection address of the audio stream (None: no audio stream)
        self.port = 0
        self.rtcp_port = 0
        self.zrtp_hash = None  # (version, hex) from a=zrtp-hash
        self.hold = False  # c=0.0.0.0, or a=sendonly/inactive on the audio stream
        self.payload_types = []
        self.event_types = []  # payload types mapped to telephone-event/8000 (RFC 4733 section 7.1.1)

    def __repr__(self):
        return "<Media %s:%s zrtp=%s hold=%s>" % (self.host, self.port, self.zrtp_hash, self.hold)


_RTPMAP = b"a=rtpmap:"
_TELEPHONE_EVENT = b"telephone-event/8000"


def _telephone_event(line):
    """The payload type of ``a=rtpmap:101 telephone-event/8000``, else None. The encoding name is
    case-insensitive (RFC 8866 section 6.6). Events at other rates are left alone: the keypad
    re-sends keys on an 8 kHz clock."""
    pt, _, encoding = line[len(_RTPMAP):].partition(b" ")
    encoding = encoding.strip().lower()
    if pt.isdigit() and (encoding == _TELEPHONE_EVENT or encoding.startswith(_TELEPHONE_EVENT + b"/")):
        return int(pt)
    return None


def _split_lines(body):
    if isinstance(body, str):
        body = body.encode()
    lines = body.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    out = []
    for line in lines:
        if line.endswith(b"\r"):
            line = line[:-1]
        out.append(line)
    return out


def _parse_c(line):
    # c=<nettype> <addrtype> <connection-address> (RFC 8866 section 5.7)
    parts = line[2:].split(b" ")
    if len(parts) != 3 or parts[0] != b"IN" or parts[1] not in (b"IP4", b"IP6") or not parts[2]:
        raise ValueError("SDP: bad c= line %r" % (bytes(line),))
    return parts[2].split(b"/")[0]


def _value(line, name):
    """The value of ``a=NAME:value`` parsed by sdp.parse_NAME, or None when it does not parse."""
    try:
        return name(line[line.find(b":") + 1:].decode())
    except ValueError:
        return None


def _parse_m(line):
    # m=<media> <port>[/<count>] <proto> <fmt> ... (RFC 4566 section 5.14)
    parts = line[2:].split(b" ")
    if len(parts) < 4:
        raise ValueError("SDP: bad m= line %r" % (bytes(line),))
    port = parts[1].split(b"/")[0]
    if not port.isdigit() or int(port) > 65535:
        raise ValueError("SDP: bad port in m= line %r" % (bytes(line),))
    return parts, int(port)


def read(body):
    """What BODY (SDP) says about its first audio stream, without changing anything.
    Raises ValueError for SDP that the box cannot relay."""
    return _walk(body, None, None, None)[1]


def rewrite(body, address, port, zrtp_hash=None, rtcp_port=None):
    """(new_body, Media): BODY with its first audio stream pointed at ADDRESS:PORT (str, int),
    the attributes above stripped, and ``a=zrtp-hash:ZRTP_HASH`` added when given (a str such as
    ``"1.10 3f..."``). RTCP_PORT (an int): ``a=rtcp:RTCP_PORT`` is added (RFC 3605), so that the
    peer sends its RTCP there (the box's one socket per side takes RTP and RTCP, see
    boards/README.md). Raises ValueError for SDP that the box cannot relay (no v= line, a bad c= or
    m= line, a NUL or bare CR inside a line, an audio stream without a connection address)."""
    return _walk(body, address, port, zrtp_hash, rtcp_port)


def _walk(body, address, port, zrtp_hash, rtcp_port=None):
    if address is not None:
        addrtype = _sdp.addrtype_of(address).encode()
        address = address.encode()
    lines = _split_lines(body)
    if not lines or lines[0] != b"v=0":
        raise ValueError("SDP: must start with v=0")
    media = Media()
    out = []
    session_c = None
    section = -1  # -1 session level, then the index of the m= line
    audio = -1  # the index of the relayed audio section
    audio_c = None
    in_audio = False
    added = []  # the box's a= lines for the relayed section, written before its first a= line
    number = 0
    for line in lines:
        number += 1
        if b"\r" in line or b"\x00" in line:
            # RFC 8866 section 9; a bare CR ends a line for some parsers (pjsip's): what the box
            # passes as one line would carry a second, unrewritten one (c=, a=crypto) to them
            raise ValueError("SDP: NUL or CR inside line %d" % number)
        if len(line) < 2 or line[1:2] != b"=":
            if not line:
                continue  # tolerate blank lines
            raise ValueError("SDP: bad line %r" % (bytes(line),))
        t = line[0:1]
        if t == b"m":
            section += 1
            parts, p = _parse_m(line)
            in_audio = parts[0] == b"audio" and audio < 0 and p != 0
            if in_audio:
                audio = section
                media.port = p
                media.payload_types = [bytes(f) for f in parts[3:]]
                if address is not None:
                    parts[1] = str(port).encode()
                    line = b"m=" + b" ".join(parts)
            elif address is not None and p != 0:
                parts[1] = b"0"  # RFC 3264 section 6: a stream the box does not relay
                line = b"m=" + b" ".join(parts)
            out += added  # the previous section had no a= line: its end
            added = []
            out.append(line)
            if in_audio and address is not None and rtcp_port is not None:
                added.append(b"a=rtcp:" + str(rtcp_port).encode())
            if in_audio and address is not None and zrtp_hash:
                added.append(b"a=zrtp-hash:" + zrtp_hash.encode())
            continue
        if t == b"c":
            host = _parse_c(line)
            if section < 0:
                session_c = host
            elif in_audio:
                audio_c = host
            if address is not None and (section < 0 or in_audio) and host not in (b"0.0.0.0",
                                                                                 b"::"):
                line = b"c=IN " + addrtype + b" " + address
            out.append(line)
            continue
        if t == b"o" and address is not None:
            # o=<username> <sess-id> <sess-version> IN IP4 <address>: the box's address
            parts = line[2:].split(b" ")
            if len(parts) == 6:
                parts[4] = addrtype
                parts[5] = address
                line = b"o=" + b" ".join(parts)
            out.append(line)
            continue
        if t == b"a":
            out += added  # RFC 8866 section 9: a= lines come after the section's i= c= b= k=
            added = []
            if in_audio or section < 0:
                if line.startswith(b"a=zrtp-hash:"):
                    media.zrtp_hash = _value(line, _sdp.parse_zrtp_hash) or media.zrtp_hash
                if line in (b"a=sendonly", b"a=inactive"):
                    media.hold = True
                if line.startswith(b"a=rtcp:"):
                    rtcp = _value(line, _sdp.parse_rtcp)
                    if rtcp is not None:
                        media.rtcp_port = rtcp[0]
                if in_audio and line.startswith(_RTPMAP):
                    pt = _telephone_event(line)
                    if pt is not None:
                        media.event_types.append(pt)
            if address is not None:
                stripped = False
                for prefix in _STRIP_PREFIXES:
                    if line.startswith(prefix):
                        stripped = True
                        break
                if stripped:
                    continue
        out.append(line)
    out += added
    if audio >= 0:
        host = audio_c or session_c
        if host is None:
            raise ValueError("SDP: audio stream without a connection address")
        media.host = host.decode()
        if host in (b"0.0.0.0", b"::"):
            media.hold = True
    if address is None:
        return None, media
    return b"\r\n".join(out) + b"\r\n", media

"""SDP session descriptions (RFC 8866, formerly RFC 4566): parse, inspect, edit, serialize.

    from zerotap.sip import sdp

    s = sdp.parse(body)                       # bytes or str -> Session; ValueError on bad input
    s.origin().address, s.connection()        # o= and the session-level c=
    for m in s.media:                         # one Media per m= line, in order
        m.media, m.port, m.proto, m.fmts      # 'audio', 49170, 'RTP/AVP', ['0', '8', '101']
        s.media_connection(m).address         # c= of the section, else the session's
        s.direction(m)                        # sendrecv/sendonly/recvonly/inactive (RFC 3264 §5.1)
        m.get_attr("zrtp-hash")               # '1.10 fe30...' (RFC 6189 §8.1), or None
        m.remove_attr("crypto")               # strip every a=crypto (RFC 4568); returns the count
        m.port = 40000                        # point the media at the box
        m.set_connection("192.0.2.1")         # media-level c= (added after m=/i= when absent)
        m.add_attr("zrtp-hash", "1.10 " + hello_hash_hex)
    s.strip_attr("zrtp-hash")                 # session level and every section
    body = s.serialize()                      # bytes, CRLF line ends

Model
  A session is its session-level lines (``Session.lines``, ``[type, value]`` in order, from v=)
  and its media sections (``Session.media``). A section is its m= line, parsed into fields, and
  the lines after it (``Media.lines``: i, c, b, k, a). Everything else (o=, t=, b=, unknown
  types, attribute order) is kept as written, so canonical input (single spaces in m=, CRLF line
  ends) serializes back byte for byte. Attributes are ``a=name`` or ``a=name:value``.

Checks: v=0 first; every line ``<letter>=<value>`` without NUL or CR inside; o= present, with
six fields; c= with three fields; m= with media, port (0-65535, optional /count), proto and at
least one format; attribute names are tokens. Lines may end in CRLF or LF (RFC 8866 §5). A missing
s= or t= is let through (the box needs neither).
"""
from zerotap.sip.headers import is_token, split_ws
from zerotap.sip.uri import is_digits, show

DIRECTIONS = ("sendrecv", "sendonly", "recvonly", "inactive")  # RFC 3264 §5.1, RFC 8866 §6.7


def addrtype_of(address):
    """The addrtype of an address (RFC 8866 section 5.7): ``IP6`` when it holds a ':'."""
    return "IP6" if ":" in address else "IP4"


class Connection:
    """c= (RFC 8866 §5.7): ``IN IP4 192.0.2.1``; a multicast /ttl/count stays in ``address``."""

    def __init__(self, address, addrtype="IP4", nettype="IN"):
        self.nettype = nettype
        self.addrtype = addrtype
        self.address = address

    def __str__(self):
        return "%s %s %s" % (self.nettype, self.addrtype, self.address)

    def __repr__(self):
        return "Connection(%r)" % str(self)


def parse_connection(value):
    parts = split_ws(value)
    if len(parts) != 3:
        raise ValueError("c=: expected 'nettype addrtype address', got %s" % show(value[:60]))
    return Connection(parts[2], parts[1], parts[0])


class Origin:
    """o= (RFC 8866 §5.2). Fields are text; ``sess_version`` must grow when a party changes its
    description (RFC 3264 §8): ``o.sess_version = str(int(o.sess_version) + 1)``."""

    def __init__(self, username, sess_id, sess_version, address, addrtype="IP4", nettype="IN"):
        self.username = username
        self.sess_id = sess_id
        self.sess_version = sess_version
        self.nettype = nettype
        self.addrtype = addrtype
        self.address = address

    def __str__(self):
        return "%s %s %s %s %s %s" % (self.username, self.sess_id, self.sess_version,
                                      self.nettype, self.addrtype, self.address)

    def __repr__(self):
        return "Origin(%r)" % str(self)


def parse_origin(value):
    parts = split_ws(value)
    if len(parts) != 6:
        raise ValueError("o=: expected 6 fields, got %d" % len(parts))
    if not is_digits(parts[1]) or not is_digits(parts[2]):
        raise ValueError("o=: sess-id and sess-version must be numbers")
    return Origin(parts[0], parts[1], parts[2], parts[5], parts[4], parts[3])


def _attr_text(name, value):
    if not is_token(name):
        raise ValueError("a=: bad attribute name %s" % show(name))
    text = name if value is None else name + ":" + value
    if "\r" in text or "\n" in text:
        raise ValueError("a=%s: line break in the value" % name)
    return text


class _Lines:
    """Attribute access over ``self.lines`` (a list of ``[type, value]``)."""

    def attributes(self):
        """(name, value) per a= line in order; value None for a property attribute."""
        out = []
        for t, v in self.lines:
            if t == "a":
                name, colon, value = v.partition(":")
                out.append((name, value if colon else None))
        return out

    def get_attrs(self, name):
        """Values of every a=NAME line (None for ``a=NAME`` without a value)."""
        return [v for n, v in self.attributes() if n == name]

    def get_attr(self, name, default=None):
        values = self.get_attrs(name)
        return values[0] if values else default

    def has_attr(self, name):
        return bool(self.get_attrs(name))

    def add_attr(self, name, value=None):
        """Append ``a=NAME[:VALUE]`` after the last line."""
        self.lines.append(["a", _attr_text(name, value)])

    def remove_attr(self, name):
        """Remove every a=NAME line; returns how many were removed."""
        before = len(self.lines)
        self.lines = [l for l in self.lines
                      if not (l[0] == "a" and (l[1] == name or l[1].startswith(name + ":")))]
        return before - len(self.lines)

    def set_attr(self, name, value=None):
        """Replace every a=NAME line by one (at the first one's place, else appended)."""
        text = _attr_text(name, value)
        for i in range(len(self.lines)):
            l = self.lines[i]
            if l[0] == "a" and (l[1] == name or l[1].startswith(name + ":")):
                self.remove_attr(name)
                self.lines.insert(i, ["a", text])
                return
        self.lines.append(["a", text])

    def direction(self):
        """The direction attribute written at this level, or None."""
        for t, v in self.lines:
            if t == "a" and v in DIRECTIONS:
                return v
        return None

    def set_direction(self, direction):
        """Write DIRECTION here, replacing any other direction attribute at this level."""
        if direction not in DIRECTIONS:
            raise ValueError("not an SDP direction: %s" % show(direction))
        for i in range(len(self.lines)):
            if self.lines[i][0] == "a" and self.lines[i][1] in DIRECTIONS:
                self.lines[i][1] = direction
                self.lines = [l for j, l in enumerate(self.lines)
                              if j <= i or not (l[0] == "a" and l[1] in DIRECTIONS)]
                return
        self.lines.append(["a", direction])

    def _line(self, t):
        for l in self.lines:
            if l[0] == t:
                return l
        return None

    def connection(self):
        """The c= at this level as a Connection, or None."""
        line = self._line("c")
        return None if line is None else parse_connection(line[1])

    def set_connection(self, address, addrtype=None):
        """Set (or add) the c= at this level; ADDRTYPE defaults to IP6 for addresses with ':'."""
        text = str(Connection(address, addrtype or addrtype_of(address)))
        line = self._line("c")
        if line is not None:
            line[1] = text
            return
        at = 0  # RFC 8866 §5 order: after i= (media), after v o s i u e p (session)
        for i in range(len(self.lines)):
            if self.lines[i][0] in "vosiuep":
                at = i + 1
        self.lines.insert(at, ["c", text])


class Media(_Lines):
    """One media section: the m= fields (RFC 8866 §5.14) and the lines after it."""

    def __init__(self, media, port, proto, fmts, port_count=None):
        self.media = media
        self.port = port  # int; 0 rejects or disables the stream (RFC 3264 §6, §8.2)
        self.port_count = port_count  # int or None (the "/2" of "49170/2")
        self.proto = proto
        self.fmts = fmts  # list of str
        self.lines = []

    def m_line(self):
        port = str(self.port) if self.port_count is None else "%d/%d" % (self.port, self.port_count)
        return "%s %s %s %s" % (self.media, port, self.proto, " ".join(self.fmts))

    def rtpmap(self):
        """{payload type: 'encoding/clock[/channels]'} from a=rtpmap (RFC 8866 §6.6)."""
        out = {}
        for v in self.get_attrs("rtpmap"):
            pt, _, enc = (v or "").partition(" ")
            out[pt] = enc.strip(" \t")
        return out

    def __repr__(self):
        return "Media(%r)" % self.m_line()


def parse_media(value):
    parts = split_ws(value)
    if len(parts) < 4:
        raise ValueError("m=: expected 'media port proto fmt...', got %s" % show(value[:60]))
    port_text, slash, count_text = parts[1].partition("/")
    if not is_digits(port_text) or len(port_text) > 5 or int(port_text) > 65535:
        raise ValueError("m=: bad port %s" % show(parts[1][:20]))
    count = None
    if slash:
        if not is_digits(count_text) or len(count_text) > 5:
            raise ValueError("m=: bad port count %s" % show(parts[1][:20]))
        count = int(count_text)
    return Media(parts[0], int(port_text), parts[2], parts[3:], count)


class Session(_Lines):
    """A session description: session-level lines, then the media sections."""

    def __init__(self):
        self.lines = []
        self.media = []

    def origin(self):
        line = self._line("o")
        return None if line is None else parse_origin(line[1])

    def set_origin(self, origin):
        """Replace o= (or add it after v=)."""
        line = self._line("o")
        if line is None:
            self.lines.insert(1 if self._line("v") else 0, ["o", str(origin)])
        else:
            line[1] = str(origin)

    def media_connection(self, media):
        """The c= that applies to MEDIA: its own, else the session's (RFC 8866 §5.7)."""
        return media.connection() or self.connection()

    def direction(self, media=None):
        """MEDIA's direction, else the session-level one, else sendrecv (RFC 3264 §5.1)."""
        return (media is not None and media.direction()) or _Lines.direction(self) or "sendrecv"

    def strip_attr(self, name):
        """Remove a=NAME at session level and in every section; returns how many."""
        n = self.remove_attr(name)
        for m in self.media:
            n += m.remove_attr(name)
        return n

    def serialize(self):
        out = ["%s=%s" % (t, v) for t, v in self.lines]
        for m in self.media:
            out.append("m=" + m.m_line())
            out.extend("%s=%s" % (t, v) for t, v in m.lines)
        out.append("")
        return "\r\n".join(out).encode()

    def __repr__(self):
        return "<Session %d media>" % len(self.media)


def parse(data):
    """Parse an SDP body (bytes or str) into a :class:`Session`; raises ValueError."""
    if not isinstance(data, str):
        try:
            data = bytes(data).decode()
        except ValueError:  # UnicodeError
            raise ValueError("SDP is not UTF-8")
    lines = data.split("\n")
    while lines and lines[-1] in ("", "\r"):
        lines.pop()
    if not lines:
        raise ValueError("empty SDP")
    session = Session()
    section = session
    for number in range(len(lines)):
        line = lines[number]
        if line.endswith("\r"):
            line = line[:-1]
        if len(line) < 2 or line[1] != "=" or not "a" <= line[0] <= "z":
            raise ValueError("SDP line %d: expected <type>=<value>, got %s"
                             % (number + 1, show(line[:40])))
        if "\r" in line or "\x00" in line:  # RFC 8866 §9: byte-string excludes NUL, CR and LF
            raise ValueError("SDP line %d: NUL or CR inside the line" % (number + 1))
        t, value = line[0], line[2:]
        if number == 0 and (t != "v" or value != "0"):
            raise ValueError("SDP line 1: expected v=0, got %s" % show(line[:40]))
        try:
            if t == "m":
                section = parse_media(value)
                session.media.append(section)
                continue
            if t == "c":
                parse_connection(value)
            elif t == "o":
                parse_origin(value)
            elif t == "a":
                name = value.partition(":")[0]
                if not is_token(name):
                    raise ValueError("a=: bad attribute name %s" % show(name[:30]))
        except ValueError as e:
            raise ValueError("SDP line %d: %s" % (number + 1, e))
        section.lines.append([t, value])
    # RFC 8866 §5 also wants s= and t=; the box needs neither, so their absence is let through
    if session._line("o") is None:
        raise ValueError("SDP has no o= line")
    return session


def parse_zrtp_hash(value):
    """``a=zrtp-hash`` value (RFC 6189 §8.1): ``1.10 <64 hex>`` -> (version, hex in lower case)."""
    parts = split_ws(value or "")
    if len(parts) != 2:
        raise ValueError("zrtp-hash: expected 'version hash', got %s" % show(value or ""))
    version, digest = parts
    if len(digest) != 64 or not all(c in "0123456789abcdefABCDEF" for c in digest):
        raise ValueError("zrtp-hash: hash is not 64 hex digits")
    return version, digest.lower()


def parse_rtcp(value):
    """``a=rtcp`` value (RFC 3605): ``port [nettype addrtype address]``.

    Returns (port, Connection or None)."""
    parts = split_ws(value or "")
    if not parts or not is_digits(parts[0]) or len(parts[0]) > 5 or int(parts[0]) > 65535:
        raise ValueError("rtcp: bad port in %s" % show(value or ""))
    if len(parts) == 1:
        return int(parts[0]), None
    if len(parts) != 4:
        raise ValueError("rtcp: expected 'port nettype addrtype address', got %s"
                         % show(value[:60]))
    return int(parts[0]), Connection(parts[3], parts[2], parts[1])

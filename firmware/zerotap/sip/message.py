"""SIP messages (RFC 3261 §7): parse one UDP datagram, read and edit header fields, serialize.

    from zerotap.sip import message

    try:
        msg = message.parse(datagram)            # a Request or a Response
    except message.ParseError as e:              # a ValueError: str(e) is the reason
        reply = e.response()                     # a 400/505 Response when one is due, else None
        ...
    msg.method, msg.uri                          # Request: 'INVITE', a zerotap.sip.uri.Uri
    msg.status, msg.reason                       # Response: 180, 'Ringing'
    msg.get("call-id"), msg.get("i")             # names are case-insensitive; compact forms work
    msg.get_all("Via")                           # every value, comma lists split (RFC 3261 §7.3.1)
    msg.vias()[0].branch, msg.cseq().number, msg.address("To").tag, msg.addresses("Contact")
    msg.insert("Via", "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1;rport")   # on top
    msg.pop("Route")                             # remove and return the first value
    via = msg.vias()[0]; via.set_param("received", "192.0.2.9")
    msg.pop("Via"); msg.insert("Via", str(via))  # write an edited top Via back (RFC 3581)
    resp.vias()[0].response_address()            # (host, port) a response goes to (§18.2.2)
    msg.uri.address()                            # (host, port) of a SIP URI, no IPv6 brackets
    msg.body = new_sdp                           # bytes
    data = msg.serialize()                       # Content-Length recomputed

Parsing
  - UDP framing (RFC 3261 §18.3): Content-Length governs the body; extra bytes are cut, a shorter
    body is an error; without Content-Length the body runs to the end of the datagram.
  - Leading CRLFs are skipped (§7.5); lines may end in CRLF or a bare LF; folded lines (§7.3.1)
    are joined with one SP; a datagram that ends after its last header line has an empty body.
    Header names keep their spelling (compact ``v``, ``i``...) and order.
  - Validated on parse: the start line; Content-Length; that Via, From, To, Call-ID and CSeq are
    present and that single-valued fields appear once; every Via, From, To, Contact, Route and
    Record-Route value; CSeq (32-bit, same method as the request); Max-Forwards (0-255).
    Other fields (Date, Expires, Require...) are carried as text: a proxy forwards them.
  - Every problem raises :class:`ParseError` (a ``ValueError``), never anything else.

Storage
  ``msg.headers`` is the list of header lines, each ``[key, name, value]`` (key: lower-case long
  name; value: unfolded, stripped). Lines are kept as received, so that a comma list stays one line
  and forwarded messages do not grow; the editing methods split them where needed. Values are
  text; the body is bytes. The structured views (:meth:`Message.vias`...) parse on each call and
  return new objects: write a change back with :meth:`Message.set`.
"""
from zerotap.sip import headers as hdr
from zerotap.sip import uri as urimod
from zerotap.sip.headers import is_token, split_list
from zerotap.sip.uri import show

SIP_VERSION = "SIP/2.0"
MAX_LINES = 256  # header lines per message; bounds the work one datagram can cause

# RFC 3261 §7.3.3 compact forms, plus RFC 3265 (o, u), 3515 (r), 3892 (b), 3841 (a, j, d),
# 4028 (x), 4474 (y, n).
COMPACT = {
    "i": "call-id", "m": "contact", "e": "content-encoding", "l": "content-length",
    "c": "content-type", "f": "from", "s": "subject", "k": "supported", "t": "to", "v": "via",
    "o": "event", "u": "allow-events", "r": "refer-to", "b": "referred-by", "a": "accept-contact",
    "j": "reject-contact", "d": "request-disposition", "x": "session-expires", "y": "identity",
    "n": "identity-info",
}

# Fields whose grammar is a comma-separated list (RFC 3261 §20 "#" rules and extensions).
# Authorization, WWW-Authenticate & co. contain commas but are single values; unknown fields are
# never split (RFC 4475 §3.1.1.1).
LIST_FIELDS = (
    "accept", "accept-contact", "accept-encoding", "accept-language", "alert-info", "allow",
    "allow-events", "call-info", "contact", "content-encoding", "content-language", "error-info",
    "history-info", "in-reply-to", "p-asserted-identity", "p-associated-uri", "path",
    "proxy-require", "reason", "record-route", "reject-contact", "request-disposition", "require",
    "route", "security-client", "security-server", "security-verify", "service-route",
    "supported", "unsupported", "via", "warning",
)

_NAMES = {
    "call-id": "Call-ID", "cseq": "CSeq", "from": "From", "to": "To", "via": "Via",
    "max-forwards": "Max-Forwards", "content-length": "Content-Length",
    "content-type": "Content-Type", "contact": "Contact", "route": "Route",
    "record-route": "Record-Route",
}
_SINGLE = ("call-id", "cseq", "from", "to", "max-forwards", "content-type")
_REQUIRED = ("via", "from", "to", "call-id", "cseq")  # RFC 3261 §8.1.1 (Max-Forwards: §16.3)

REASONS = {
    100: "Trying", 180: "Ringing", 181: "Call Is Being Forwarded", 182: "Queued",
    183: "Session Progress", 200: "OK", 202: "Accepted", 400: "Bad Request", 401: "Unauthorized",
    403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
    407: "Proxy Authentication Required", 408: "Request Timeout", 413: "Request Entity Too Large",
    415: "Unsupported Media Type", 416: "Unsupported URI Scheme", 420: "Bad Extension",
    480: "Temporarily Unavailable", 481: "Call/Transaction Does Not Exist", 482: "Loop Detected",
    483: "Too Many Hops", 486: "Busy Here", 487: "Request Terminated", 488: "Not Acceptable Here",
    491: "Request Pending", 500: "Server Internal Error", 501: "Not Implemented",
    502: "Bad Gateway", 503: "Service Unavailable", 504: "Server Time-out",
    505: "Version Not Supported", 513: "Message Too Large", 603: "Decline",
}


def key(name):
    """Lookup key of a header name: lower case, compact form expanded."""
    k = urimod.ascii_lower(name)
    return COMPACT.get(k, k)


def _label(k):
    return _NAMES.get(k, k)


def _line(k, name, value):
    """A header line to store; refuses what would break the framing when serialized."""
    value = str(value)
    if not is_token(name):
        raise ValueError("bad header name %s" % show(name))
    if "\r" in value or "\n" in value:
        raise ValueError("line break in the value of %s" % name)
    return [k, name, value.strip(" \t")]


class ParseError(ValueError):
    """Why a datagram is not a usable SIP message; ``str(e)`` is the reason.

    ``status`` is the response code the request deserves (400, or 505 for another SIP version),
    or None when nothing must be answered: the datagram is a response, an ACK, or not
    recognisably a request. ``message`` is the request (or the ACK) as far as it was parsed (at
    least its well-formed header lines), so that :meth:`response` can copy Via, From, To, Call-ID
    and CSeq (RFC 3261 §8.2.6); it is None for responses and unrecognisable datagrams.
    """

    def __init__(self, reason, status=None, message=None):
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.message = message

    def response(self, to_tag=None):
        """The Response to send back, or None. Its reason phrase names the problem (§21.4.1)."""
        if self.status is None or self.message is None:
            return None
        phrase = "".join(c if " " <= c <= "~" else "?" for c in self.reason[:100])
        return make_response(self.message, self.status, phrase, to_tag)


class Message:
    """Header lines and body shared by :class:`Request` and :class:`Response`."""

    is_request = False

    def __init__(self):
        self.headers = []  # [key, name, value] per header line, in order
        self.body = b""

    # -- plain header access ---------------------------------------------------------------
    def _lines(self, name):
        k = key(name)
        return [h for h in self.headers if h[0] == k]

    def has(self, name):
        k = key(name)
        for h in self.headers:
            if h[0] == k:
                return True
        return False

    def get_all(self, name):
        """Every value of NAME, in order. List fields (:data:`LIST_FIELDS`) are split at commas,
        empty elements dropped; other fields give one value per header line."""
        k = key(name)
        out = []
        for h in self.headers:
            if h[0] == k:
                if k in LIST_FIELDS:
                    out.extend(v for v in split_list(h[2]) if v)
                else:
                    out.append(h[2])
        return out

    def get(self, name, default=None):
        """The first value of NAME (see :meth:`get_all`), or DEFAULT."""
        values = self.get_all(name)
        return values[0] if values else default

    def set(self, name, value):
        """Replace every NAME line by VALUE (a list: one line per element), at the place of the
        first one; appended when NAME is absent."""
        k = key(name)
        values = value if isinstance(value, list) else [value]
        new = [_line(k, name, v) for v in values]
        at = -1
        kept = []
        for h in self.headers:
            if h[0] == k:
                if at < 0:
                    at = len(kept)
            else:
                kept.append(h)
        if at < 0:
            at = len(kept)
        kept[at:at] = new
        self.headers = kept

    def add(self, name, value):
        """Append a NAME line after the last one (at the end when NAME is absent)."""
        k = key(name)
        at = len(self.headers)
        for i in range(len(self.headers)):
            if self.headers[i][0] == k:
                at = i + 1
        self.headers.insert(at, _line(k, name, value))

    def insert(self, name, value):
        """Insert a NAME line before the first one (at the top when NAME is absent), e.g. a Via
        or Record-Route value a proxy adds (RFC 3261 §16.6)."""
        k = key(name)
        at = 0
        for i in range(len(self.headers)):
            if self.headers[i][0] == k:
                at = i
                break
        self.headers.insert(at, _line(k, name, value))

    def remove(self, name):
        """Remove every NAME line; returns how many there were."""
        k = key(name)
        before = len(self.headers)
        self.headers = [h for h in self.headers if h[0] != k]
        return before - len(self.headers)

    def pop(self, name):
        """Remove and return the first value of NAME (the top Via, the first Route), or None.

        A comma list keeps its other elements on the same line."""
        k = key(name)
        for i in range(len(self.headers)):
            h = self.headers[i]
            if h[0] != k:
                continue
            values = [v for v in split_list(h[2]) if v] if k in LIST_FIELDS else [h[2]]
            if len(values) > 1:
                h[2] = ", ".join(values[1:])
            else:
                del self.headers[i]
            if values:
                return values[0]
        return None

    def items(self):
        """(name, value) per header line, in order."""
        return [(h[1], h[2]) for h in self.headers]

    # -- structured views (each call parses again) ------------------------------------------
    def vias(self):
        return [hdr.parse_via(v) for v in self.get_all("via")]

    def address(self, name):
        """From, To (or any single name-addr field) as a headers.Address, or None."""
        value = self.get(name)
        return None if value is None else hdr.parse_address(value, _label(key(name)))

    def addresses(self, name):
        """Contact (``*`` included), Route, Record-Route... as a list of headers.Address."""
        k = key(name)
        return [hdr.parse_address(v, _label(k), k != "contact", k == "contact")
                for v in self.get_all(name)]

    def cseq(self):
        value = self.get("cseq")
        return None if value is None else hdr.parse_cseq(value)

    def call_id(self):
        return self.get("call-id")

    def max_forwards(self):
        value = self.get("max-forwards")
        if value is None:
            return None
        n = hdr.parse_uint32(value, "Max-Forwards")
        if n > 255:
            raise ValueError("Max-Forwards: %d is over 255" % n)
        return n

    def content_type(self):
        """The media type in lower case without parameters (``application/sdp``), or None."""
        value = self.get("content-type")
        return None if value is None else urimod.ascii_lower(value.split(";")[0].strip(" \t"))

    # -- output ------------------------------------------------------------------------------
    def serialize(self):
        """The message as bytes, with Content-Length set to the body length (added at the end
        of the header fields when absent, rewritten in place otherwise)."""
        length = str(len(self.body))
        out = [self.start_line()]
        seen = False
        for k, name, value in self.headers:
            if k == "content-length":
                if seen:
                    continue
                seen = True
                value = length
            out.append(name + ": " + value)
        if not seen:
            out.append("Content-Length: " + length)
        out.append("")
        out.append("")
        return "\r\n".join(out).encode() + self.body

    def _copy_into(self, other):
        other.headers = [list(h) for h in self.headers]
        other.body = self.body
        return other

    def __repr__(self):
        return "<%s>" % self.start_line()


class Request(Message):
    is_request = True

    def __init__(self, method, uri, version=SIP_VERSION):
        super().__init__()
        self.method = method
        # a zerotap.sip.uri.Uri (a str is parsed); None only in ParseError.message
        self.uri = urimod.parse(uri) if isinstance(uri, str) else uri
        self.version = version

    def start_line(self):
        return "%s %s %s" % (self.method, self.uri, self.version)

    def copy(self):
        uri = None if self.uri is None else self.uri.copy()
        return self._copy_into(Request(self.method, uri, self.version))


class Response(Message):
    def __init__(self, status, reason=None, version=SIP_VERSION):
        super().__init__()
        self.status = status
        self.reason = REASONS.get(status, "") if reason is None else reason
        self.version = version

    def start_line(self):
        return "%s %d %s" % (self.version, self.status, self.reason)

    def copy(self):
        return self._copy_into(Response(self.status, self.reason, self.version))


def make_response(request, status, reason=None, to_tag=None):
    """A response to REQUEST per RFC 3261 §8.2.6: Via (all, in order), From, To, Call-ID and
    CSeq copied; TO_TAG added to To unless it already has a tag (§8.2.6.2: every response but
    100 needs one). Record-Route is not copied: add it for a dialog-creating UAS response
    (§12.1.1)."""
    resp = Response(status, reason)
    for h in request.headers:
        if h[0] in ("via", "from", "call-id", "cseq", "to"):
            resp.headers.append(list(h))
    if to_tag is not None:
        for h in resp.headers:
            if h[0] == "to":
                try:
                    if hdr.parse_address(h[2], "To").has_param("tag"):
                        break
                except ValueError:
                    break  # a To we cannot parse gets no tag appended
                h[2] += ";tag=" + to_tag
                break
    return resp


def _request_from(invite, method, fields):
    req = Request(method, invite.uri.copy())
    for h in invite.headers:
        if h[0] in fields:
            req.headers.append(list(h))
    req.set("CSeq", "%d %s" % (invite.cseq().number, method))
    req.set("Max-Forwards", "70")
    return req


def make_cancel(invite):
    """CANCEL for a pending INVITE (RFC 3261 §9.1): same Request-URI, the INVITE's top Via only
    (same branch), From, To, Call-ID, Route, and the CSeq number with method CANCEL."""
    req = _request_from(invite, "CANCEL", ("from", "to", "call-id", "route"))
    req.insert("Via", invite.get("via"))
    return req


def make_ack(invite, response):
    """ACK for a non-2xx final RESPONSE to INVITE (RFC 3261 §17.1.1.3): the INVITE's Request-URI,
    top Via, From, Call-ID and Route; To from the response (with its tag); CSeq number with ACK.
    (The ACK of a 2xx is a new in-dialog request, built by the dialog's owner.)"""
    req = _request_from(invite, "ACK", ("from", "call-id", "route"))
    req.insert("Via", invite.get("via"))
    req.set("To", response.get("to"))
    return req


# -- parsing ---------------------------------------------------------------------------------

def _version(text):
    """None when TEXT is SIP/2.0; else (status, reason) for the error."""
    upper = text.encode().upper()  # ASCII only: "sıp/2.0".upper() is "SIP/2.0" on CPython
    if upper == b"SIP/2.0":
        return None
    major, dot, minor = text[4:].partition(".")
    if upper[:4] == b"SIP/" and dot and urimod.is_digits(major) and urimod.is_digits(minor):
        return 505, "SIP version %s is not supported" % text[4:]
    return 400, "bad SIP-Version %s" % show(text[:20])


def _decode(line):
    try:
        return line.decode()
    except ValueError:  # UnicodeError: RFC 3261 §7.3.1 says header text is UTF-8
        return None


def _request_line(msg, line):
    """Fill msg.uri and msg.version from the Request-Line; returns an error or None."""
    if line != line.rstrip(" \t"):
        return 400, "whitespace at the end of the Request-Line"
    parts = line.split(" ")
    if "" in parts:
        return 400, "more than one SP between Request-Line elements"
    bad = _version(parts[-1])
    if bad:
        return bad
    if len(parts) != 3:
        return 400, "whitespace in the Request-URI"
    text = parts[1]
    if text.startswith("<"):
        return 400, "Request-URI is enclosed in <>"
    try:
        msg.uri = urimod.parse(text)
    except ValueError as e:
        return 400, "bad Request-URI: %s" % e
    if msg.uri.headers is not None:
        return 400, "Request-URI has headers"  # RFC 3261 §19.1.1 table
    msg.version = parts[2]
    return None


def _status_line(line):
    version, _, rest = line.partition(" ")
    if _version(version):
        raise ParseError("bad Status-Line version %s" % show(version[:20]))
    code, _, reason = rest.partition(" ")
    if len(code) != 3 or not urimod.is_digits(code) or not 100 <= int(code) <= 699:
        raise ParseError("bad status code %s" % show(code[:20]))
    # "SIP/2.0 200" without the SP is accepted (RFC 4475 §3.1.1.13 allows liberal receivers)
    return Response(int(code), reason, version)


def _split(data):
    """The header lines (str, or None for a line that is not UTF-8; folding not yet joined) and
    the body offset.

    RFC 3261 §7 wants an empty line even without a body; a datagram that simply ends after its
    last header line is taken as having an empty body (RFC 4475 §3.1.2.15's file is one)."""
    n = len(data)
    pos = 0
    while pos < n and data[pos] in b"\r\n":  # RFC 3261 §7.5
        pos += 1
    crlf = data.find(b"\n\r\n", pos)
    lf = data.find(b"\n\n", pos)
    if crlf >= 0 and (lf < 0 or crlf < lf):
        end, body_at = crlf, crlf + 3
    elif lf >= 0:
        end, body_at = lf, lf + 2
    else:
        end = body_at = n
        while end > pos and data[end - 1] in b"\r\n":
            end -= 1
    if end > pos and data[end - 1] == 13:
        end -= 1
    head = data[pos:end]
    if head.count(b"\n") >= MAX_LINES:
        raise ParseError("more than %d header lines" % MAX_LINES)
    if not head:
        return [], body_at
    text = _decode(head)
    if text is None:  # decode line by line, so that one bad line can still get its 400
        return [_decode(line.rstrip(b"\r")) for line in head.split(b"\n")], body_at
    if text.count("\n") == text.count("\r\n"):
        return text.split("\r\n"), body_at
    return [line[:-1] if line.endswith("\r") else line for line in text.split("\n")], body_at


def _fields(msg, lines):
    """Fill msg.headers from lines[1:]; returns the first problem or None."""
    problem = None
    for i in range(1, len(lines)):
        line = lines[i]
        if line is None:
            problem = problem or "header line is not UTF-8"
            continue
        if "\r" in line:  # a bare CR is no line end, and RFC 3261 allows it nowhere else
            problem = problem or "bad header line %s" % show(line[:40])
            continue
        if line and line[0] in " \t":  # folding: LWS with CRLF is one SP (RFC 3261 §7.3.1)
            if not msg.headers:
                problem = problem or "continuation line before any header field"
                continue
            last = msg.headers[-1]
            value = line.strip(" \t")
            if value:
                last[2] = last[2] + " " + value if last[2] else value
            continue
        colon = line.find(":")
        name = line[:colon].rstrip(" \t")
        if colon < 0 or not is_token(name):
            problem = problem or "bad header line %s" % show(line[:40])
            continue
        k = name.lower()  # a token: ASCII, so str.lower is safe here and cheaper than key()
        msg.headers.append([COMPACT.get(k, k), name, line[colon + 1:].strip(" \t")])
    return problem


def _check(msg):
    """Validate the fields a proxy relies on; raises ValueError with the reason."""
    for k in _SINGLE:
        if len(msg._lines(k)) > 1:
            raise ValueError("more than one %s header field" % _label(k))
    missing = [_label(k) for k in _REQUIRED if not msg.has(k)]
    if missing:
        raise ValueError("missing header field%s: %s" % ("s" if len(missing) > 1 else "",
                                                          ", ".join(missing)))
    call_id = msg.get("call-id")
    if not call_id or " " in call_id or "\t" in call_id:
        raise ValueError("bad Call-ID %s" % show(call_id[:40]))
    cseq = msg.cseq()
    if msg.is_request and cseq.method != msg.method:
        raise ValueError("CSeq method %s does not match the request method %s"
                         % (cseq.method, msg.method))
    msg.max_forwards()
    for k in ("via", "contact", "route", "record-route"):
        for h in msg._lines(k):
            if not h[2] and k == "contact":
                continue  # an empty Contact line carries no value
            for v in split_list(h[2]):
                if not v:
                    raise ValueError("empty %s value" % _label(k))
                if k == "via":
                    hdr.parse_via(v)
                else:
                    hdr.parse_address(v, _label(k), k != "contact", k == "contact")
    msg.address("from")
    msg.address("to")


def parse(data):
    """Parse one datagram (bytes) into a Request or a Response; raises ParseError."""
    if not isinstance(data, bytes):
        data = bytes(data)
    lines, body_at = _split(data)
    if not lines:
        raise ParseError("empty datagram (a keep-alive?)")
    first = lines[0]
    if first is None:
        raise ParseError("start line is not UTF-8")
    if first[:4].encode().upper() == b"SIP/":  # "SIP" is case-insensitive (RFC 3261 §25)
        msg = _status_line(first)
        status = None
        problem = None
    else:
        sp = first.find(" ")
        if sp <= 0 or not is_token(first[:sp]) or b"SIP/" not in first.encode().upper():
            raise ParseError("not a SIP request or response: %s" % show(first[:40]))
        msg = Request(first[:sp], None)
        # RFC 3261 §17.2.3/§8.2: an ACK is never answered, a broken one included
        status, problem = (None if msg.method == "ACK" else 400), None
        bad = _request_line(msg, first)
        if bad:
            problem = bad[1]
            if status is not None:
                status = bad[0]
    fields_problem = _fields(msg, lines)
    problem = problem or fields_problem
    if problem is None:
        try:
            problem = _body(msg, data, body_at) or _check(msg)
        except ValueError as e:
            problem = str(e)
    if problem is not None:
        if not msg.is_request:  # a response: dropped, never answered
            raise ParseError(problem)
        raise ParseError(problem, status, msg)
    return msg


def _body(msg, data, body_at):
    """Apply Content-Length (RFC 3261 §18.3, UDP); returns a problem or None."""
    lines = msg._lines("content-length")
    if len(lines) > 1:
        return "more than one Content-Length header field"
    available = len(data) - body_at
    if not lines:
        msg.body = data[body_at:]
        return None
    text = lines[0][2]
    if not urimod.is_digits(text) or len(text.lstrip("0")) > 9:
        return "bad Content-Length %s" % show(text[:20])
    length = int(text)
    if length > available:
        return "Content-Length %d is larger than the body (%d bytes)" % (length, available)
    msg.body = data[body_at:body_at + length]
    return None

"""Structured SIP header field values (RFC 3261 §20, §25.1): Via, name-addr/addr-spec, CSeq.

Each ``parse_*`` takes one header field value (one element of a comma-separated list, already
unfolded) and returns an object whose ``str()`` is a valid serialization of it. Bad input raises
``ValueError`` whose text names the field and the problem, e.g. ``"Via: empty parameter"``.

    v = parse_via("SIP/2.0/UDP [2001:db8::9:1]:5060;branch=z9hG4bK77;rport")
    v.transport, v.host, v.port, v.branch    # 'UDP', '[2001:db8::9:1]', 5060, 'z9hG4bK77'
    v.param("rport"), v.has_param("rport")   # None, True (RFC 3581: rport without a value)
    v.set_param("received", "192.0.2.7"); v.set_param("rport", "5062")

    a = parse_address('"Bob \\\\"B\\\\"" <sip:bob@example.com>;tag=8x')
    a.display, a.uri.user, a.tag             # 'Bob "B"', 'bob', '8x'

    c = parse_cseq("0009  INVITE")           # c.number == 9, c.method == 'INVITE'

Parameters are ordered ``[name, value]`` lists (see :class:`zerotap.sip.uri.Params`); a quoted
parameter value keeps its quotes (:func:`unquote` removes them).
"""
from zerotap.sip import uri as urimod
from zerotap.sip.uri import Params, is_digits, params_text, show

# RFC 3261 §25.1 token
_TOKEN_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.!%*_+`'~"
# gen-value = token / host / quoted-string: token chars plus what an IPv6 reference adds
_VALUE_CHARS = _TOKEN_CHARS + "[]:"
_WS = " \t"


def is_token(text):
    if not text:
        return False
    for c in text:
        if c not in _TOKEN_CHARS:
            return False
    return True


def split_ws(text):
    """Split at runs of SP/HTAB (``str.split()`` would also split at other Unicode spaces)."""
    return [p for p in text.replace("\t", " ").split(" ") if p]


def _skip_ws(text, i):
    n = len(text)
    while i < n and text[i] in _WS:
        i += 1
    return i


def _span(text, i, chars):
    n = len(text)
    while i < n and text[i] in chars:
        i += 1
    return i


def quoted_end(text, i):
    """TEXT[i] is a DQUOTE: index just after the closing one (quoted-pairs honoured)."""
    n = len(text)
    i += 1
    while i < n:
        c = text[i]
        if c == '"':
            return i + 1
        if c == "\\":
            i += 1
        i += 1
    raise ValueError("unterminated quoted string")


def unquote(text):
    """``"a \\"b\\""`` -> ``a "b"``; text without quotes comes back unchanged."""
    if len(text) < 2 or text[0] != '"' or text[-1] != '"':
        return text
    out = []
    i, end = 1, len(text) - 1
    while i < end:
        c = text[i]
        if c == "\\" and i + 1 < end:
            i += 1
            c = text[i]
        out.append(c)
        i += 1
    return "".join(out)


def quote(text):
    """A quoted-string for TEXT (RFC 3261 §25.1): quoted-pairs for ", \\ and control characters."""
    out = '"'
    for c in text:
        if c == "\r" or c == "\n":
            raise ValueError("a quoted string cannot hold a line break")
        if c == '"' or c == "\\" or (c < " " and c != "\t") or c == "\x7f":
            out += "\\"
        out += c
    return out + '"'


def split_list(value):
    """Split a header field value at the commas that separate list elements (RFC 3261 §7.3.1).

    Commas inside quoted strings and inside ``<...>`` do not split. Elements come back stripped;
    empty elements are kept (so that callers can reject ``a,,b`` where the grammar forbids it).
    """
    if "," not in value:
        return [value.strip(_WS)]
    out = []
    start = i = 0
    n = len(value)
    angle = False
    while i < n:
        c = value[i]
        if c == '"' and not angle:
            try:
                i = quoted_end(value, i) - 1
            except ValueError:
                break  # the element parser reports the unterminated string
        elif c == "<":
            angle = True
        elif c == ">":
            angle = False
        elif c == "," and not angle:
            out.append(value[start:i].strip(_WS))
            start = i + 1
        i += 1
    out.append(value[start:].strip(_WS))
    return out


def parse_params(text, i, what):
    """Header parameters ``*( SEMI generic-param )`` from TEXT[i:]; LWS may surround ; and =."""
    params = []
    n = len(text)
    while True:
        i = _skip_ws(text, i)
        if i >= n:
            return params
        if text[i] != ";":
            raise ValueError("%s: unexpected %s" % (what, show(text[i:i + 20])))
        i = _skip_ws(text, i + 1)
        j = _span(text, i, _TOKEN_CHARS)
        if j == i:
            raise ValueError("%s: empty parameter" % what)
        name = text[i:j]
        i = _skip_ws(text, j)
        value = None
        if i < n and text[i] == "=":
            i = _skip_ws(text, i + 1)
            if i < n and text[i] == '"':
                try:
                    j = quoted_end(text, i)
                except ValueError:
                    raise ValueError("%s: unterminated quoted string in parameter %s"
                                     % (what, name))
            else:
                j = _span(text, i, _VALUE_CHARS)
                if j == i:
                    raise ValueError("%s: no value for parameter %s" % (what, name))
            value = text[i:j]
            i = j
        params.append([name, value])


def _is_ip(text):
    """IPv4address / IPv6address (bracketed too: RFC 5118 §4.5 asks parsers to take both)."""
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    if ":" in text:
        return len(text) >= 2 and all(c in "0123456789abcdefABCDEF:." for c in text)
    parts = text.split(".")
    if len(parts) != 4:
        return False
    for p in parts:
        if not is_digits(p) or len(p) > 3 or int(p) > 255:
            return False
    return True


class Via(Params):
    """One Via field value (RFC 3261 §20.42; rport: RFC 3581)."""

    def __init__(self, transport, host, port=None, params=None, protocol="SIP", version="2.0"):
        self.protocol = protocol
        self.version = version
        self.transport = transport
        self.host = host  # an IPv6 reference keeps its brackets
        self.port = port  # int or None
        self.params = params if params is not None else []

    @property
    def branch(self):
        return self.param("branch")

    def sent_by(self):
        return urimod.join_hostport(self.host, self.port)

    def response_address(self, default_port=5060):
        """(host, port) a response to this top Via goes to over UDP: RFC 3261 §18.2.2 (maddr, then
        received, with the sent-by port) and RFC 3581 §4 (received and rport together win).
        An rport with a value but no received (a server that saw the sent-by address itself and
        wrote only the port) gives that port with the sent-by host.
        The host has no IPv6 brackets."""
        maddr = self.param("maddr")
        port = self.port if self.port is not None else default_port
        if maddr:
            return urimod.unbracket(maddr), port
        rport = self.param("rport")
        if rport and is_digits(rport):
            port = int(rport)
        return urimod.unbracket(self.param("received") or self.host), port

    def __str__(self):
        return "%s/%s/%s %s%s" % (self.protocol, self.version, self.transport, self.sent_by(),
                                  params_text(self.params))

    def __repr__(self):
        return "Via(%r)" % str(self)


def parse_via(text):
    """One Via value: ``sent-protocol LWS sent-by *( SEMI via-params )``."""
    parts = text.split("/", 2)
    if len(parts) != 3:
        raise ValueError("Via: no sent-protocol in %s" % show(text[:40]))
    protocol = parts[0].strip(_WS)
    version = parts[1].strip(_WS)
    rest = parts[2]
    i = _skip_ws(rest, 0)
    j = _span(rest, i, _TOKEN_CHARS)
    transport = rest[i:j]
    if not (is_token(protocol) and is_token(version) and transport):
        raise ValueError("Via: bad sent-protocol in %s" % show(text[:40]))
    if j >= len(rest) or rest[j] not in _WS:
        raise ValueError("Via: no sent-by after %s" % transport)
    semi = rest.find(";", j)
    end = len(rest) if semi < 0 else semi
    sent_by = rest[j:end].strip(_WS)
    # sent-by = host [ COLON port ], COLON = SWS ":" SWS
    if sent_by.startswith("["):
        k = sent_by.find("]") + 1
    else:
        k = sent_by.find(":")
        k = len(sent_by) if k < 0 else k
    host = sent_by[:k].rstrip(_WS)
    port_text = sent_by[k:].lstrip(_WS)
    port = None
    if port_text:
        if port_text[0] != ":":
            raise ValueError("Via: bad sent-by %s" % show(sent_by))
        try:
            port = urimod.parse_port(port_text[1:].lstrip(_WS))
        except ValueError as e:
            raise ValueError("Via: %s" % e)
    try:
        urimod.parse_host(host)
    except ValueError:
        raise ValueError("Via: bad sent-by host %s" % show(host))
    via = Via(transport, host, port, parse_params(rest, end, "Via"), protocol, version)
    for name, value in via.params:
        lname = name.lower()
        if lname == "branch" and not is_token(value or ""):
            raise ValueError("Via: bad branch %s" % show(value))
        if lname == "received" and not _is_ip(value or ""):
            raise ValueError("Via: received is not an IP address: %s" % show(value))
        if lname == "rport" and value is not None and not (is_digits(value) and len(value) <= 5):
            raise ValueError("Via: bad rport %s" % show(value))
        if lname == "ttl" and not (is_digits(value or "") and len(value) <= 3
                                   and int(value) <= 255):
            raise ValueError("Via: bad ttl %s" % show(value))
    return via


class Address(Params):
    """name-addr or addr-spec with header parameters (From, To, Contact, Route, Record-Route...).

    ``display`` is the decoded display name or None; ``uri`` is a :class:`zerotap.sip.uri.Uri`,
    or None for the Contact wildcard ``*``. ``str()`` always writes the name-addr form (URI in
    angle brackets), which RFC 3261 §20 allows everywhere an addr-spec is allowed. A display
    name that was parsed as a quoted string and not changed since is written as it was
    (``"Alice"`` stays quoted), so that a proxy forwards it unchanged.
    """

    def __init__(self, uri, display=None, params=None):
        self.uri = uri
        self.display = display
        self.params = params if params is not None else []
        self.written = None  # (display, its quoted-string as parsed)

    @property
    def tag(self):
        return self.param("tag")

    def is_star(self):
        return self.uri is None

    def __str__(self):
        if self.uri is None:
            return "*"
        out = ""
        if self.written is not None and self.written[0] == self.display:
            out = self.written[1] + " "
        elif self.display is not None:
            words = split_ws(self.display)
            if self.display and " ".join(words) == self.display and all(is_token(w) for w in words):
                out = self.display + " "
            else:
                out = quote(self.display) + " "
        return out + "<" + str(self.uri) + ">" + params_text(self.params)

    def __repr__(self):
        return "Address(%r)" % str(self)


def parse_address(text, what="address", name_addr=False, star=False):
    """``( name-addr / addr-spec ) *( SEMI param )``; WHAT names the field in error messages.

    NAME_ADDR: the URI must be in ``<>`` (Route, Record-Route). STAR: accept ``*`` (Contact).
    """
    s = text.strip(_WS)
    if star and s == "*":
        return Address(None)
    if not s:
        raise ValueError("%s: empty value" % what)
    display = written = None
    if s[0] == '"':
        try:
            i = quoted_end(s, 0)
        except ValueError:
            raise ValueError("%s: unterminated quoted string" % what)
        written = s[:i]
        display = unquote(written)
        lt = _skip_ws(s, i)
        if lt >= len(s) or s[lt] != "<":
            raise ValueError("%s: display name not followed by <URI>" % what)
    else:
        lt = s.find("<")
        semi = s.find(";")
        if lt >= 0 and (semi < 0 or lt < semi):
            words = split_ws(s[:lt])
            for w in words:
                if not is_token(w):
                    raise ValueError("%s: display name needs quotes: %s"
                                     % (what, show(s[:lt].strip(_WS))))
            if words:
                display = " ".join(words)
        else:
            lt = -1
    if lt >= 0:
        gt = s.find(">", lt)
        if gt < 0:
            raise ValueError("%s: no closing >" % what)
        uri_text = s[lt + 1:gt]
        rest = gt + 1
        for c in uri_text:
            if c in _WS:
                raise ValueError("%s: whitespace inside <>" % what)
    else:
        if name_addr:
            raise ValueError("%s: URI not enclosed in <>" % what)
        end = s.find(";")
        end = len(s) if end < 0 else end
        uri_text = s[:end].rstrip(_WS)
        rest = end
        for c in uri_text:
            if c in _WS:
                raise ValueError("%s: whitespace in addr-spec" % what)
            if c == "?" or c == ",":
                # RFC 3261 §20: a URI with a comma, question mark or semicolon must use <>
                raise ValueError("%s: URI with %s must be enclosed in <>" % (what, show(c)))
    try:
        uri = urimod.parse(uri_text)
    except ValueError as e:
        raise ValueError("%s: %s" % (what, e))
    addr = Address(uri, display, parse_params(s, rest, what))
    if written is not None:
        addr.written = (display, written)
    tag = addr.param("tag", "")
    if addr.has_param("tag") and not is_token(tag):
        raise ValueError("%s: bad tag %s" % (what, show(tag)))
    return addr


class CSeq:
    """CSeq (RFC 3261 §20.16): a 32-bit unsigned sequence number and a method."""

    def __init__(self, number, method):
        self.number = number
        self.method = method

    def __str__(self):
        return "%d %s" % (self.number, self.method)

    def __repr__(self):
        return "CSeq(%r)" % str(self)


def parse_uint32(text, what):
    """1*DIGIT no larger than 2**32-1 (RFC 3261 §8.1.1.5); leading zeros allowed."""
    digits = text.lstrip("0") or "0"
    if not is_digits(text) or len(digits) > 10 or int(digits) > 0xFFFFFFFF:
        raise ValueError("%s: not a 32-bit number: %s" % (what, show(text[:24])))
    return int(digits)


def parse_cseq(text):
    parts = split_ws(text)
    if len(parts) != 2:
        raise ValueError("CSeq: expected 'number method', got %s" % show(text[:40]))
    number = parse_uint32(parts[0], "CSeq")
    if not is_token(parts[1]):
        raise ValueError("CSeq: bad method %s" % show(parts[1]))
    return CSeq(number, parts[1])

"""SIP, SIPS and tel URIs (RFC 3261 §19.1, RFC 3966), parsed and serialized.

    u = uri.parse("sip:alice:secret@[2001:db8::1]:5070;transport=udp;lr?subject=hi")
    u.scheme, u.user, u.password, u.host, u.port  # 'sip', 'alice', 'secret', '[2001:db8::1]', 5070
    u.param("transport"), u.has_param("lr")         # 'udp', True
    u.headers                                        # 'subject=hi' (raw, still escaped)
    str(u)                                           # the same text back

Parts keep their escaping (``%40`` stays ``%40`` in ``user``): RFC 4475 §3.1.1.3/4 show that
unescaping early changes meaning (``user;par=u%40example.net`` is one user part, ``null-%00-null``
holds a NUL). :func:`unescape` gives the decoded bytes when they are needed.

Any other scheme (``http:``, ``urn:``, ``isbn:``...) parses to a :class:`Uri` with only ``scheme``
and ``opaque`` (RFC 4475 §3.3.4: such URIs are legal in From/To/Contact).

Bad input raises ``ValueError`` with the reason. The parser is strict where a proxy routes
(scheme, host, port) and liberal elsewhere: it does not police every character class of
RFC 3261 §25.1 inside user parts and parameter values.
"""

# RFC 3261 §25.1: hostname = *( domainlabel "." ) toplabel [ "." ]; we also take "_" (seen in the
# wild in host names), and IPv4 addresses fall out of the same character set.
_HOST_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._"
_HEX_CHARS = "0123456789abcdefABCDEF"
_HEX_BYTES = b"0123456789abcdefABCDEF"
_SCHEME_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-."
_DIGITS = "0123456789"
# Characters that never occur unescaped in a URI (RFC 3986 §2; RFC 3261 §25.1).
_NEVER = " \t\r\n<>\"\x7f"


def show(text, limit=60):
    """TEXT quoted for an error message, alike on every runtime (``repr`` of non-ASCII text
    differs between CPython and MicroPython): ASCII only, at most LIMIT characters."""
    if text is None:
        return "None"
    out = "'"
    for c in text[:limit]:
        if c == "'" or c == "\\":
            out += "\\" + c
        elif " " <= c <= "~":
            out += c
        else:
            o = ord(c)
            out += ("\\x%02x" if o < 0x100 else "\\u%04x" if o < 0x10000 else "\\U%08x") % o
    return out + ("'..." if len(text) > limit else "'")


def _all_in(text, chars):
    for c in text:
        if c not in chars:
            return False
    return True


def ascii_lower(text):
    """Lower case for ASCII letters only, alike on every runtime (CPython's ``str.lower`` also
    maps other scripts, MicroPython's does not)."""
    return text.encode().lower().decode()


def is_digits(text):
    """True when TEXT is one or more ASCII digits (``str.isdigit`` also takes other scripts)."""
    return bool(text) and _all_in(text, _DIGITS)


def _check_opaque(text, what):
    for c in text:
        if c in _NEVER or c < " ":
            raise ValueError("%s contains %s" % (what, show(c)))


def parse_host(text):
    """Check a host (hostname, IPv4address or [IPv6reference]); return it unchanged."""
    if not text:
        raise ValueError("empty host")
    if text[0] == "[":
        # RFC 3261 §25.1 IPv6reference = "[" IPv6address "]"; RFC 5118 §4.10 asks for robustness
        # about the ABNF bug, so we only check the character set.
        if text[-1] != "]" or len(text) < 4 or not _all_in(text[1:-1], _HEX_CHARS + ":."):
            raise ValueError("bad IPv6 reference %s" % show(text))
        return text
    if not _all_in(text, _HOST_CHARS):
        raise ValueError("bad host %s" % show(text))
    return text


def parse_port(text):
    """Port number from TEXT (1*DIGIT, at most 65535)."""
    if not is_digits(text) or len(text) > 5 or int(text) > 65535:
        raise ValueError("bad port %s" % show(text))
    return int(text)


def unbracket(host):
    """``[2001:db8::1]`` -> ``2001:db8::1`` (what a socket wants); other hosts unchanged."""
    if host and host[0] == "[" and host[-1] == "]":
        return host[1:-1]
    return host


def bracket(host):
    """``2001:db8::1`` -> ``[2001:db8::1]`` (what a URI or a Via wants); other hosts unchanged.
    The inverse of :func:`unbracket`."""
    if ":" in host and host[0] != "[":
        return "[" + host + "]"
    return host


def join_hostport(host, port=None):
    """``host[:port]`` text for a URI or a Via sent-by, from a socket's (HOST, PORT): an IPv6
    address gets its brackets (HOST may have them already); PORT None is left out."""
    host = bracket(host)
    return host if port is None else "%s:%d" % (host, port)


def split_hostport(text):
    """``host[:port]`` -> (host, port or None); an IPv6 reference keeps its brackets."""
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise ValueError("unterminated IPv6 reference %s" % show(text))
        host, rest = text[:end + 1], text[end + 1:]
        if rest and rest[0] != ":":
            raise ValueError("bad text after IPv6 reference %s" % show(text))
    else:
        i = text.find(":")
        if i < 0:
            host, rest = text, ""
        else:
            host, rest = text[:i], text[i:]
    port = parse_port(rest[1:]) if rest else None
    return parse_host(host), port


def unescape(text):
    """Decode RFC 3261 ``escaped`` (% HEX HEX) sequences; returns bytes (they may not be UTF-8)."""
    raw = text.encode()
    if b"%" not in raw:
        return raw
    out = bytearray()
    i, n = 0, len(raw)
    while i < n:
        c = raw[i]
        if c == 0x25:  # "%"
            pair = raw[i + 1:i + 3]
            if len(pair) != 2 or pair[0] not in _HEX_BYTES or pair[1] not in _HEX_BYTES:
                raise ValueError("bad escape in %s" % show(text))
            out.append(int(pair.decode(), 16))
            i += 3
        else:
            out.append(c)
            i += 1
    return bytes(out)


def find_param(params, name):
    """Index of parameter NAME (case-insensitive, RFC 3261 §19.1.4) in a [[name, value]] list."""
    name = ascii_lower(name)
    for i in range(len(params)):
        if ascii_lower(params[i][0]) == name:
            return i
    return -1


class Params:
    """Mixin for objects with ``params``: an ordered list of ``[name, value]``.

    A parameter without ``=`` (``lr``, ``rport``) has the value ``None``; use :meth:`has_param` to
    tell it from an absent one. Names compare case-insensitively; values are kept as written.
    """

    def has_param(self, name):
        return find_param(self.params, name) >= 0

    def param(self, name, default=None):
        i = find_param(self.params, name)
        return default if i < 0 else self.params[i][1]

    def set_param(self, name, value=None):
        """Set NAME (in place when present, else appended); ``None`` writes a bare ``;name``."""
        i = find_param(self.params, name)
        if i < 0:
            self.params.append([name, value])
        else:
            self.params[i][1] = value

    def del_param(self, name):
        i = find_param(self.params, name)
        if i >= 0:
            del self.params[i]
        return i >= 0


def params_text(params):
    out = ""
    for name, value in params:
        out += ";" + name if value is None else ";" + name + "=" + value
    return out


def _uri_params(text):
    """``;a=b;c`` (URI parameters: no whitespace, RFC 3261 §19.1.1) -> [[name, value]]."""
    params = []
    if not text:
        return params
    for part in text[1:].split(";"):
        name, eq, value = part.partition("=")
        if not name:
            raise ValueError("empty URI parameter name in %s" % show(text))
        params.append([name, value if eq else None])
    return params


class Uri(Params):
    """A parsed URI. For sip/sips: user, password, host, port, params, headers.

    tel: ``user`` holds the number, ``host`` is None. Other schemes: only ``opaque``.
    """

    def __init__(self, scheme, host=None, user=None, port=None, params=None, headers=None,
                 password=None, opaque=None):
        self.scheme = scheme.lower()
        self.user = user
        self.password = password
        self.host = host
        self.port = port
        self.params = params if params is not None else []
        self.headers = headers  # the raw text after "?", or None
        self.opaque = opaque

    def is_sip(self):
        return self.scheme == "sip" or self.scheme == "sips"

    def host_port(self):
        """``host`` or ``host:port`` as written in the URI."""
        return join_hostport(self.host, self.port)

    def address(self, default_port=5060):
        """(host without IPv6 brackets, port or DEFAULT_PORT): where to send, for a SIP URI whose
        host is an address or a name the caller resolves (RFC 3263 is not done here).
        Other schemes have no address: ValueError."""
        if not self.is_sip():
            raise ValueError("not a SIP URI: %s" % show(str(self)))
        return unbracket(self.host), self.port if self.port is not None else default_port

    def __str__(self):
        if self.opaque is not None:
            return self.scheme + ":" + self.opaque
        out = self.scheme + ":"
        if self.host is None:  # tel
            return out + self.user + params_text(self.params)
        if self.user is not None:
            out += self.user
            if self.password is not None:
                out += ":" + self.password
            out += "@"
        out += self.host_port() + params_text(self.params)
        if self.headers is not None:
            out += "?" + self.headers
        return out

    def __repr__(self):
        return "Uri(%r)" % str(self)

    def __eq__(self, other):
        return isinstance(other, Uri) and str(self) == str(other)

    def copy(self):
        return parse(str(self))


def parse(text):
    """Parse a URI (addr-spec; no angle brackets, no surrounding whitespace)."""
    colon = text.find(":")
    if colon <= 0:
        raise ValueError("no URI scheme in %s" % show(text))
    scheme = text[:colon]
    first = scheme[0]
    if not _all_in(scheme, _SCHEME_CHARS) or not ("A" <= first <= "Z" or "a" <= first <= "z"):
        raise ValueError("bad URI scheme %s" % show(scheme))
    rest = text[colon + 1:]
    _check_opaque(rest, "URI")
    if not rest:
        raise ValueError("empty URI after %s" % show(scheme + ":"))
    lower = scheme.lower()
    if lower == "tel":
        # RFC 3966 §3: telephone-subscriber *par
        semi = rest.find(";")
        number = rest if semi < 0 else rest[:semi]
        if not number:
            raise ValueError("empty tel number in %s" % show(text))
        return Uri(scheme, user=number, params=_uri_params(rest[len(number):]))
    if lower != "sip" and lower != "sips":
        return Uri(scheme, opaque=rest)
    # RFC 3261 §19.1.1: "@" occurs only unescaped as the userinfo delimiter.
    user = password = None
    at = rest.find("@")
    if at >= 0:
        userinfo, rest = rest[:at], rest[at + 1:]
        user, colon, pw = userinfo.partition(":")
        if not user:
            raise ValueError("empty user part in %s" % show(text))
        if colon:
            password = pw
    end = len(rest)
    for stop in ";?":
        i = rest.find(stop)
        if 0 <= i < end:
            end = i
    host, port = split_hostport(rest[:end])
    rest = rest[end:]
    headers = None
    q = rest.find("?")
    if q >= 0:
        rest, headers = rest[:q], rest[q + 1:]
    return Uri(scheme, host, user, port, _uri_params(rest), headers, password)

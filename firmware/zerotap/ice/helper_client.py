"""A small HTTP/1.1 client for the ICE helper, sans-IO (RFC 9112): it builds a request and parses
the response from bytes fed in, with limits; :mod:`zerotap.runtime.http` carries it over the
stream layer (HTTPS, the server's certificate checked against the pinned CA).

    url = parse_url("https://helper.example.org/ice")   # Url: scheme, host, port, path
    data = request(url, "PUT", "/", b'{"ufrag": ...}', [("Content-Type", "application/json")])
    p = ResponseParser()
    p.feed(chunk)  ... p.done -> p.status, p.reason, p.headers (lower-case names), p.body
    p.eof()                                              # the peer closed: ends a body without length

One request per connection (``Connection: close``): a box talks to the helper a few times per call.
Bodies come with ``Content-Length``, ``Transfer-Encoding: chunked`` or, failing both, end when the
server closes. Every malformed or oversized response raises ValueError with a precise message
(``http: ...``); nothing partial is ever taken for a whole answer.
"""
from micropython import const

MAX_HEAD = const(8192)  # status line and headers
MAX_BODY = const(65536)
MAX_HEADERS = const(64)
USER_AGENT = "ZeroTap"


class Url:
    def __init__(self, scheme, host, port, path):
        self.scheme = scheme
        self.host = host
        self.port = port
        self.path = path  # the base path, without a trailing slash ("" for the root)
        self.tls = scheme == "https"

    def __repr__(self):
        return "%s://%s:%d%s" % (self.scheme, self.host, self.port, self.path)


def parse_url(text):
    """``Url`` of ``http(s)://host[:port][/path]``; ValueError naming what is wrong."""
    if not isinstance(text, str):
        raise ValueError("http: url must be text")
    scheme, sep, rest = text.partition("://")
    if not sep or scheme not in ("http", "https"):
        raise ValueError("http: url %r must start with https:// (or http://)" % text)
    hostport, slash, path = rest.partition("/")
    if "@" in hostport:
        raise ValueError("http: url %r must not carry user info" % text)
    if hostport.startswith("["):
        end = hostport.find("]")
        if end < 0:
            raise ValueError("http: url %r has a bad IPv6 host" % text)
        host, tail = hostport[1:end], hostport[end + 1:]
        if tail and not tail.startswith(":"):
            raise ValueError("http: url %r has a bad IPv6 host" % text)
        port = tail[1:] if tail else ""
    else:
        host, _, port = hostport.partition(":")
    if not host:
        raise ValueError("http: url %r has no host" % text)
    if port:
        if not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError("http: url %r has a bad port" % text)
        port = int(port)
    else:
        port = 443 if scheme == "https" else 80
    if "?" in path or "#" in path:
        raise ValueError("http: url %r must not carry a query or fragment" % text)
    path = ("/" + path).rstrip("/") if slash else ""
    return Url(scheme, host, port, path)


def _host_header(url):
    h = "[%s]" % url.host if ":" in url.host else url.host
    default = 443 if url.tls else 80
    return h if url.port == default else "%s:%d" % (h, url.port)


def request(url, method, path, body=None, headers=()):
    """The bytes of one request: METHOD on URL's base path + PATH (which starts with "/")."""
    if not path.startswith("/"):
        raise ValueError("http: path %r must start with /" % path)
    for name, value in headers:
        if not isinstance(name, str) or not isinstance(value, str):
            raise ValueError("http: header %r has a value that is not text" % (name,))
        if "\r" in name or "\n" in name or "\r" in value or "\n" in value or ":" in name:
            raise ValueError("http: header %r is not a single line" % name)
    lines = ["%s %s%s HTTP/1.1" % (method, url.path, path), "Host: " + _host_header(url),
             "User-Agent: " + USER_AGENT, "Accept: application/json", "Connection: close"]
    for name, value in headers:
        lines.append("%s: %s" % (name, value))
    if body is not None or method in ("PUT", "POST"):
        lines.append("Content-Length: %d" % len(body or b""))
    head = ("\r\n".join(lines) + "\r\n\r\n").encode()
    return head + (body or b"")


def _text(head):
    """The bytes of a response head as str. A reason phrase or a field value may hold obs-text
    (bytes 0x80-0xFF, RFC 9112 sections 4 and 5.5, such as a Latin-1 proxy's): read as "?"."""
    try:
        return head.decode()
    except UnicodeError:
        return bytes(c if c < 0x80 else 0x3F for c in head).decode()


class ResponseParser:
    """Feeds on response bytes; ``done`` once the whole response is in."""

    def __init__(self, max_head=MAX_HEAD, max_body=MAX_BODY, head_request=False):
        self.max_head = max_head
        self.max_body = max_body
        self.head_request = head_request
        self.status = None
        self.reason = None
        self.headers = {}
        self.body = b""
        self.done = False
        self._buf = b""
        self._mode = None  # "length", "chunked", "close"
        self._left = 0
        self._parts = []
        self._size = 0
        self._chunk_state = 0  # 0 size line, 1 data, 2 CRLF after data, 3 trailers

    def feed(self, data):
        if self.done:
            if data:
                raise ValueError("http: %d bytes after the end of the response" % len(data))
            return True
        self._buf += bytes(data)
        while self.status is None:
            end = self._buf.find(b"\r\n\r\n")
            if end < 0:
                if len(self._buf) > self.max_head:
                    raise ValueError("http: headers longer than %d bytes" % self.max_head)
                return False
            if end > self.max_head:
                raise ValueError("http: headers longer than %d bytes" % self.max_head)
            self._head(_text(self._buf[:end]))
            self._buf = self._buf[end + 4:]
            if 100 <= self.status < 200:
                # an interim response (100 Continue, 103 Early Hints), even unasked: the final
                # one follows (RFC 9110 section 15.2)
                self.status = None
                self.reason = None
                self.headers = {}
        self._body()
        return self.done

    def _head(self, text):
        lines = text.split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1."):
            raise ValueError("http: bad status line %r" % lines[0][:60])
        if len(parts[1]) != 3 or not parts[1].isdigit():
            raise ValueError("http: bad status code %r" % parts[1][:10])
        status = int(parts[1])
        if len(lines) - 1 > MAX_HEADERS:
            raise ValueError("http: more than %d headers" % MAX_HEADERS)
        hdrs = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if not sep or not name or name != name.strip():
                raise ValueError("http: bad header line %r" % line[:60])
            name = name.lower()
            value = value.strip()
            if name in hdrs:
                hdrs[name] = hdrs[name] + ", " + value
            else:
                hdrs[name] = value
        self.status = status
        self.reason = parts[2] if len(parts) > 2 else ""
        self.headers = hdrs
        te = hdrs.get("transfer-encoding")
        if self.head_request or status in (204, 304) or 100 <= status < 200:
            self._mode = "length"
            self._left = 0
        elif te is not None:
            if te.lower() != "chunked":
                raise ValueError("http: Transfer-Encoding %r not supported" % te)
            self._mode = "chunked"
        elif "content-length" in hdrs:
            # repeated, or one field with a list (RFC 9110 section 8.6): all the same value, or
            # the framing is invalid (RFC 9112 section 6.3)
            cls = hdrs["content-length"].split(",")
            cl = cls[0].strip()
            for v in cls:
                if v.strip() != cl:
                    raise ValueError("http: two different Content-Length values")
            if not cl.isdigit():
                raise ValueError("http: bad Content-Length %r" % cl)
            n = int(cl)
            if n > self.max_body:
                raise ValueError("http: body of %d bytes, at most %d" % (n, self.max_body))
            self._mode = "length"
            self._left = n
        else:
            self._mode = "close"

    def _grow(self, piece):
        self._size += len(piece)
        if self._size > self.max_body:
            raise ValueError("http: body longer than %d bytes" % self.max_body)
        self._parts.append(piece)

    def _finish(self):
        self.body = b"".join(self._parts)
        self._parts = []
        self.done = True
        if self._buf:
            raise ValueError("http: %d bytes after the end of the response" % len(self._buf))

    def _body(self):
        buf = self._buf
        if self._mode == "length":
            take = buf[:self._left]
            self._grow(take)
            self._left -= len(take)
            self._buf = buf[len(take):]
            if self._left == 0:
                self._finish()
            return
        if self._mode == "close":
            self._grow(buf)
            self._buf = b""
            return
        while not self.done:  # chunked (RFC 9112 section 7.1)
            buf = self._buf
            if self._chunk_state == 0:
                end = buf.find(b"\r\n")
                if end < 0:
                    if len(buf) > 64:
                        raise ValueError("http: chunk size line too long")
                    return
                line = buf[:end].split(b";")[0].strip()
                try:
                    size = int(line, 16)
                except ValueError:
                    raise ValueError("http: bad chunk size %r" % line[:16])
                if size < 0:
                    raise ValueError("http: bad chunk size %r" % line[:16])
                self._buf = buf[end + 2:]
                if size == 0:
                    self._chunk_state = 3
                else:
                    if self._size + size > self.max_body:
                        raise ValueError("http: body longer than %d bytes" % self.max_body)
                    self._left = size
                    self._chunk_state = 1
            elif self._chunk_state == 1:
                if not buf:
                    return
                take = buf[:self._left]
                self._grow(take)
                self._left -= len(take)
                self._buf = buf[len(take):]
                if self._left == 0:
                    self._chunk_state = 2
            elif self._chunk_state == 2:
                if len(buf) < 2:
                    return
                if buf[:2] != b"\r\n":
                    raise ValueError("http: chunk not followed by CRLF")
                self._buf = buf[2:]
                self._chunk_state = 0
            else:  # trailers, up to an empty line
                end = buf.find(b"\r\n")
                if end < 0:
                    if len(buf) > self.max_head:
                        raise ValueError("http: trailers longer than %d bytes" % self.max_head)
                    return
                self._buf = buf[end + 2:]
                if end == 0:
                    self._finish()

    def eof(self):
        """The server closed the connection: the response must be complete now."""
        if self.done:
            return
        if self.status is None:
            raise ValueError("http: connection closed before the status line")
        if self._mode == "close":
            self._finish()
            return
        raise ValueError("http: connection closed in the middle of the body")

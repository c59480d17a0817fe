"""HTTP/1.1 requests in, responses out: sans-IO, with limits (docs/web.md).

    p = RequestParser()
    req = p.feed(data)         # None until the request is whole; then a Request
                               # HttpError(status, message) for anything refused
    req.method, req.path, req.query, req.headers["cookie"], req.body, req.form(), req.cookie("s")
    response(200, b"<html>...", "text/html", [("Set-Cookie", "...")])   # bytes to send

One request per connection (every response says ``Connection: close``): the box serves a
handful of small pages to one phone-side browser, and a connection that ends with its response
needs no idle timer. Limits: the request line and headers together ``MAX_HEAD`` bytes, at most
``MAX_HEADERS`` lines, a body of ``MAX_BODY`` bytes (with a Content-Length; chunked bodies are
refused with 411/501).
"""
MAX_HEAD = 4096
MAX_HEADERS = 32
MAX_BODY = 8192
METHODS = ("GET", "POST", "HEAD")

REASONS = {200: "OK", 303: "See Other", 400: "Bad Request", 403: "Forbidden", 404: "Not Found",
           405: "Method Not Allowed", 411: "Length Required", 413: "Payload Too Large",
           429: "Too Many Requests", 431: "Request Header Fields Too Large",
           500: "Internal Server Error", 501: "Not Implemented", 503: "Service Unavailable"}

# every response: no caching, no framing, no sniffing, no referrer, only our own scripts
SECURITY_HEADERS = (("Cache-Control", "no-store"), ("X-Frame-Options", "DENY"),
                    ("X-Content-Type-Options", "nosniff"), ("Referrer-Policy", "no-referrer"),
                    ("Content-Security-Policy",
                     "default-src 'self'; form-action 'self'; frame-ancestors 'none'"))


class HttpError(ValueError):
    """A refused request: STATUS is the answer's code, the message says why."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


class Request:
    def __init__(self, method, target, headers, body):
        self.method = method
        path, _, query = target.partition("?")
        self.path = path
        self.query = parse_form(query) if query else {}
        self.headers = headers
        self.body = body

    def form(self):
        """The urlencoded body as {name: value} (the last value of a repeated name)."""
        ctype = self.headers.get("content-type", "")
        if self.body and not ctype.startswith("application/x-www-form-urlencoded"):
            raise HttpError(400, "a form must be application/x-www-form-urlencoded")
        try:
            return parse_form(self.body.decode())
        except UnicodeError:
            raise HttpError(400, "the form is not UTF-8")

    def cookie(self, name):
        for part in self.headers.get("cookie", "").split(";"):
            k, _, v = part.strip().partition("=")
            if k == name:
                return v
        return None


def _unquote(text):
    text = text.replace("+", " ")
    if "%" not in text:
        return text
    out = bytearray()
    parts = text.split("%")
    out += parts[0].encode()
    for p in parts[1:]:
        h = p[:2]
        if len(h) != 2 or not all(c in "0123456789abcdefABCDEF" for c in h):
            raise HttpError(400, "bad percent escape %r" % ("%" + h))
        out.append(int(h, 16))
        out += p[2:].encode()
    try:
        return bytes(out).decode()
    except UnicodeError:
        raise HttpError(400, "a form value is not UTF-8")


def parse_form(text):
    """``a=1&b=x+y%21`` -> {"a": "1", "b": "x y!"}."""
    out = {}
    if not text:
        return out
    for pair in text.split("&"):
        if not pair:
            continue
        k, _, v = pair.partition("=")
        out[_unquote(k)] = _unquote(v)
    return out


class RequestParser:
    """Bytes of one connection in, one :class:`Request` out (see the module doc)."""

    def __init__(self, max_head=MAX_HEAD, max_body=MAX_BODY):
        self.max_head = max_head
        self.max_body = max_body
        self.buf = bytearray()
        self.head = None  # (method, target, headers) once the head is whole
        self.length = 0
        self.done = False

    def feed(self, data):
        if self.done:
            raise HttpError(400, "one request per connection")
        self.buf += data
        if self.head is None:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buf) > self.max_head:
                    raise HttpError(431, "request head over %d bytes" % self.max_head)
                return None
            if end + 4 > self.max_head:
                raise HttpError(431, "request head over %d bytes" % self.max_head)
            self.head = self._head(memoryview(self.buf)[:end])
            self.buf = self.buf[end + 4:] if end + 4 < len(self.buf) else bytearray()
        if len(self.buf) < self.length:
            return None
        if len(self.buf) > self.length:
            raise HttpError(400, "bytes after the request (one request per connection)")
        self.done = True
        method, target, headers = self.head
        body, self.buf = bytes(self.buf), bytearray()  # (not held while the answer goes out)
        return Request(method, target, headers, body)

    def _head(self, raw):
        try:
            text = str(raw, "utf-8")
        except UnicodeError:
            raise HttpError(400, "the request head is not UTF-8")
        lines = text.split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            raise HttpError(400, "bad request line")
        method, target = parts[0], parts[1]
        if method not in METHODS:
            raise HttpError(501, "method %s not implemented" % method[:16])
        if not target.startswith("/"):
            raise HttpError(400, "the target must be a path")
        if len(lines) - 1 > MAX_HEADERS:
            raise HttpError(431, "over %d header lines" % MAX_HEADERS)
        headers = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if not sep or not name or name != name.strip():
                raise HttpError(400, "bad header line")
            headers[name.lower()] = value.strip()
        if "transfer-encoding" in headers:
            raise HttpError(501, "transfer-encoding not implemented (send a Content-Length)")
        length = headers.get("content-length", "0")
        if not length or not all(c in "0123456789" for c in length):  # (isdigit: '²' too)
            raise HttpError(400, "bad Content-Length")
        self.length = int(length)
        if self.length > self.max_body:
            raise HttpError(413, "body over %d bytes" % self.max_body)
        if method == "POST" and "content-length" not in headers:
            raise HttpError(411, "a POST needs a Content-Length")
        return method, target, headers


def response(status, body=b"", ctype="text/html; charset=utf-8", headers=(), head_only=False):
    """The bytes of one whole response (``Connection: close``); BODY None: the head of a response
    whose body follows in pieces (no Content-Length: the end of the connection ends it)."""
    if isinstance(body, str):
        body = body.encode()
    lines = ["HTTP/1.1 %d %s" % (status, REASONS.get(status, "Status")), "Content-Type: " + ctype]
    if body is not None:
        lines.append("Content-Length: %d" % len(body))
    lines.append("Connection: close")
    for k, v in SECURITY_HEADERS:
        lines.append(k + ": " + v)
    for k, v in headers:
        lines.append(k + ": " + v)
    head = ("\r\n".join(lines) + "\r\n\r\n").encode()
    return head if head_only or body is None else head + body


def escape(text):
    """TEXT safe inside HTML text and quoted attributes."""
    text = str(text)
    for a, b in _ESCAPES:
        if a in text:  # (no new string per character that is not there: the heap, issue 18)
            text = text.replace(a, b)
    return text


_ESCAPES = (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ('"', "&quot;"), ("'", "&#39;"))

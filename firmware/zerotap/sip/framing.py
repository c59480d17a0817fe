"""SIP message framing on a stream (RFC 3261 §18.3, RFC 5626 §4.4.1), sans-IO.

    f = Framer()
    for kind, data in f.feed(chunk):    # kind: MESSAGE (data: one whole message, bytes),
        ...                             # PING ("\\r\\n\\r\\n": answer PONG_BYTES) or PONG
    f.pending()                         # bytes of an unfinished message (0 between messages)

On a stream the header ends at the first empty line and ``Content-Length`` (or ``l``) is
mandatory: it says where the message ends. Between messages, ``CRLF CRLF`` is a keepalive ping
and a lone ``CRLF`` is its pong (RFC 5626 §4.4.1); other CRLFs between messages are skipped
(RFC 3261 §7.5).

Anything else is an error: :meth:`Framer.feed` raises ``ValueError`` (``framing: ...``) and the
stream is no longer usable: its connection must be closed (only that one). Whole units that came
before the error in the same data are returned first, with ``broken`` set to the error (the next
feed raises it), so that what arrives does not depend on how the peer's segments cut it.
Limits: a header of at most ``max_header`` bytes, a body of at most ``max_body``; a message that
stays unfinished is the stream layer's business (it closes a connection whose message does not
complete in time).
"""
MESSAGE = "message"
PING = "ping"
PONG = "pong"
PING_BYTES = b"\r\n\r\n"
PONG_BYTES = b"\r\n"

MAX_HEADER = 16384
MAX_BODY = 16384


# RFC 3261 section 25.1 token: what a method may be made of
_TOKEN = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.!%*_+`'~"


def _start_line(line):
    """True for a Status-Line or a Request-Line shape: ``SIP/...`` or ``token SP ... SIP/...``
    (bytes on anything else: a TLS record, garbage)."""
    upper = line.upper()
    if upper[:4] == b"SIP/":
        return True
    sp = line.find(b" ")
    if sp <= 0 or b" SIP/" not in upper:
        return False
    for c in line[:sp]:
        if c not in _TOKEN:
            return False
    return True


def _printable(b):
    return "".join(chr(c) if 32 <= c < 127 else "?" for c in b)


def content_length(head):
    """The Content-Length of a header block (bytes, up to its empty line), or ValueError."""
    found = None
    lines = head.split(b"\r\n")
    for line in lines[1:]:
        if not line or line[0] in b" \t":
            continue
        colon = line.find(b":")
        if colon < 0:
            continue
        name = line[:colon].strip().lower()
        if name == b"content-length" or name == b"l":
            value = line[colon + 1:].strip()
            if not value or not all(48 <= c <= 57 for c in value) or len(value) > 9:
                raise ValueError("framing: bad Content-Length %r" % _printable(value[:20]))
            n = int(value)
            if found is not None and found != n:
                raise ValueError("framing: two different Content-Length values")
            found = n
    if found is None:
        raise ValueError("framing: no Content-Length on a stream")
    return found


class Framer:
    def __init__(self, max_header=MAX_HEADER, max_body=MAX_BODY):
        self.max_header = max_header
        self.max_body = max_body
        self.buf = b""  # bytes: MicroPython's bytearray has neither find nor slice deletion
        # a message under way in many pieces: they wait in _more, joined once it can end (its
        # length _need is known, or the piece holds its header's end), not copied and searched
        # again with each piece (the work grew with the square of the message)
        self._more = []
        self._size = 0  # len(buf) and the pieces in _more
        self._need = 0  # the message's whole length once its header is read
        self._tail = b""  # the last 3 bytes buffered: a header's end may start in them
        self.expect_pong = False  # set by whoever sent a ping: a lone CRLF is then its pong
        self.broken = None  # the error text once the stream is unusable

    def pending(self):
        return self._size

    def feed(self, data):
        """Add DATA; returns [(kind, bytes)] for every whole unit now complete."""
        if self.broken:
            raise ValueError(self.broken)
        data = bytes(data)
        size = self._size + len(data)
        buf = self.buf
        if buf and (self._need or buf[0] not in b"\r\n"):
            tail = self._tail + data
            if size < self._need or not self._need and size <= self.max_header and \
                    tail.find(b"\r\n\r\n") < 0:
                more = self._more
                if more and len(more[-1]) < 512:
                    more[-1] += data  # tiny pieces as a few blocks: no heap object per byte
                else:
                    more.append(data)
                self._size = size
                self._tail = tail[-3:]
                return []
        if self._more:  # one join: the pieces and the message, no third copy
            pieces = [buf] + self._more
            pieces.append(data)
            self._more = []
            self.buf = b"".join(pieces)
        else:
            self.buf = buf + data
        out = []
        try:
            while self._one(out):
                pass
        except ValueError as e:
            self.broken = str(e)
            self.buf = b""
            if not out:
                self._size = 0
                raise
        self._size = len(self.buf)
        self._tail = self.buf[-3:]
        return out  # whole units before an error come first: the next feed raises it

    def _one(self, out):
        buf = self.buf
        if not buf:
            return False
        if buf[0] in b"\r\n":
            if buf[:4] == PING_BYTES:
                self.buf = buf[4:]
                out.append((PING, PING_BYTES))
                return True
            if buf[:2] == PONG_BYTES:
                if len(buf) == 2:
                    if self.expect_pong:
                        self.expect_pong = False
                        self.buf = b""
                        out.append((PONG, PONG_BYTES))
                    return False  # a pong, or the start of a ping: wait
                if buf[2] != 13:  # CRLF then something else: a pong before a message
                    self.buf = buf[2:]
                    if self.expect_pong:
                        self.expect_pong = False
                        out.append((PONG, PONG_BYTES))
                    return True
                if len(buf) < 4:
                    return False
            if buf[0] == 10:  # a bare LF between messages: skipped
                self.buf = buf[1:]
                return True
            if len(buf) < 2:
                return False
            raise ValueError("framing: stray CR between messages")
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            if len(buf) > self.max_header:
                raise ValueError("framing: header longer than %d bytes" % self.max_header)
            return False
        if end + 4 > self.max_header:
            raise ValueError("framing: header longer than %d bytes" % self.max_header)
        if not _start_line(buf[:buf.find(b"\r\n")]):
            raise ValueError("framing: not a SIP message")
        n = content_length(buf[:end])
        if n > self.max_body:
            raise ValueError("framing: Content-Length %d beyond the limit %d" % (n, self.max_body))
        total = end + 4 + n
        if len(buf) < total:
            self._need = total
            return False
        out.append((MESSAGE, buf[:total]))
        self.buf = buf[total:]
        self._need = 0
        return True

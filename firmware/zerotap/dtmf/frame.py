"""The number framing of the ICE helper exchange, compatible with ZSipOs boxes.

Each box stores its ICE candidates at a helper server and gets a 10-digit id back. It sends the id
to the other box as DTMF over the still-clear call:

- an offer: ``*A`` + id + two check digits;
- a confirmation (I have your id, here is mine): ``#A`` + id + two check digits.

The check digits are ``98 - id mod 97``, written as two digits (02..98), as ZSipOs computes them.
Ids never have two equal adjacent digits, counting the check digits: a receiver cannot tell one
long key from the same key twice, so ZSipOs drops a repeated digit, and so does this decoder.
:func:`make_id` also gives its ids the last-digit checksum of the ZSipOs helper server
("icestorage"), so the same ids are valid there.

:class:`FrameDecoder` is sans-IO: it takes keys with ``now_ms`` (from the RFC 4733 receiver or
the in-band detector) and returns a frame only when a complete one arrived with valid check digits
within the time limits. A stray ``*`` (an IVR, a person) arms it until the next key, no longer.
"""
from micropython import const

ID_LEN = const(10)
CHECK_LEN = const(2)
OFFER = "offer"
CONFIRM = "confirm"
_START = {"*": OFFER, "#": CONFIRM}
_MARK = "A"
FRAME_TIMEOUT_MS = 5000  # a whole frame: 14 keys at 80 + 60 ms take 1.96 s
KEY_TIMEOUT_MS = 1000  # between two keys of a frame


def check_digits(id_digits):
    """The two check digits of a 10-digit id: ``98 - id mod 97``, zero-padded."""
    _check_id_form(id_digits)
    return "%02d" % (98 - int(id_digits) % 97)


def _check_id_form(id_digits):
    if not isinstance(id_digits, str) or len(id_digits) != ID_LEN:
        raise ValueError("frame: an id is %d digits, got %r" % (ID_LEN, id_digits))
    for ch in id_digits:
        if ch < "0" or ch > "9":
            raise ValueError("frame: an id is %d digits, got %r" % (ID_LEN, id_digits))


def valid_id(id_digits):
    """True if ID_DIGITS is 10 digits without two equal adjacent digits, check digits included."""
    try:
        full = id_digits + check_digits(id_digits)
    except ValueError:
        return False
    for i in range(1, len(full)):
        if full[i] == full[i - 1]:
            return False
    return True


def icestorage_checksum(digits):
    """The ZSipOs helper server's checksum digit over DIGITS (its ids end with it)."""
    check = 7
    for ch in digits:
        check = (check ^ (ord(ch) - 48)) % 10
    return check


def encode(id_digits, confirm=False):
    """The keys to send: ``*A`` (or ``#A`` for a confirmation) + id + check digits."""
    if not valid_id(id_digits):
        raise ValueError("frame: id %r has two equal adjacent digits (check digits included)"
                         % (id_digits,) if _is_digits(id_digits) else
                         "frame: an id is %d digits, got %r" % (ID_LEN, id_digits))
    return ("#" if confirm else "*") + _MARK + id_digits + check_digits(id_digits)


def _is_digits(s):
    return isinstance(s, str) and len(s) == ID_LEN and all("0" <= c <= "9" for c in s)


def make_id(random_bytes):
    """A fresh id. RANDOM_BYTES(n) returns n random bytes (os.urandom on CPython and boards).

    The id starts with 1-9, has no two equal adjacent digits (check digits included) and ends
    with the ZSipOs helper server's checksum digit.
    """
    while True:
        digits = []
        while len(digits) < ID_LEN - 1:
            for b in random_bytes(16):
                if b >= 250:  # keep the digits uniform
                    continue
                d = b % 10
                if not digits and d == 0:
                    continue
                if digits and digits[-1] == d:
                    continue
                digits.append(d)
                if len(digits) == ID_LEN - 1:
                    break
        text = "".join(chr(48 + d) for d in digits)
        text += chr(48 + icestorage_checksum(text))
        if valid_id(text):
            return text


class FrameDecoder:
    """Finds ``*A``/``#A`` frames in a stream of keys, sans-IO.

    :meth:`feed` returns ``(OFFER or CONFIRM, id)`` when a frame completes with valid check
    digits, else None. A frame must complete within ``frame_timeout_ms`` of its ``*``/``#``, with
    at most ``key_timeout_ms`` between keys; a repeated digit is taken for the same key twice.
    """

    def __init__(self, frame_timeout_ms=FRAME_TIMEOUT_MS, key_timeout_ms=KEY_TIMEOUT_MS):
        self.frame_timeout_ms = frame_timeout_ms
        self.key_timeout_ms = key_timeout_ms
        self.rejected = 0  # complete frames whose check digits were wrong
        self._reset()

    def _reset(self):
        self._kind = None  # OFFER or CONFIRM once a start key was seen
        self._marked = False  # the "A" after the start key arrived
        self._digits = ""
        self._start_ms = 0
        self._last_ms = 0

    def get_timer(self):
        """When the frame in progress expires (ms), or None."""
        if self._kind is None:
            return None
        return min(self._start_ms + self.frame_timeout_ms, self._last_ms + self.key_timeout_ms)

    def handle_timer(self, now_ms):
        t = self.get_timer()
        if t is not None and now_ms >= t:
            self._reset()

    def feed(self, key, now_ms):
        """One key (a one-character str) at NOW_MS."""
        self.handle_timer(now_ms)
        if key in _START:
            self._reset()
            self._kind = _START[key]
            self._start_ms = self._last_ms = now_ms
            return None
        if self._kind is None:
            return None
        if not self._marked:
            if key == _MARK:
                self._marked = True
                self._last_ms = now_ms
            else:
                self._reset()
            return None
        if len(key) != 1 or key < "0" or key > "9":
            self._reset()
            return None
        if self._digits and self._digits[-1] == key:
            return None  # the same key reported twice
        self._digits += key
        self._last_ms = now_ms
        if len(self._digits) < ID_LEN + CHECK_LEN:
            return None
        kind, digits = self._kind, self._digits
        self._reset()
        id_digits = digits[:ID_LEN]
        if check_digits(id_digits) != digits[ID_LEN:]:
            self.rejected += 1
            return None
        return kind, id_digits

"""The page's password, sessions, CSRF tokens and the login rate limit: sans-IO (docs/web.md).

    pw = new_password(os.urandom)          # at first start: shown on the panel, never a default
    record = password_record(pw, os.urandom(16))   # what is stored: salt + iterated HMAC-SHA256
    g = Guard(record, os.urandom)
    token = g.login(source, password, now_ms)      # a session token, or AuthError
    s = g.session(token, now_ms)                   # the Session (its ``csrf``), or None
    g.check_csrf(s, form.get("csrf"))              # AuthError unless it matches
    g.logout(token)

Login limits: each source may fail ``FREE_FAILURES`` times; then every further attempt must
wait a delay that doubles from ``BASE_DELAY_MS`` up to ``MAX_DELAY_MS`` (an attempt during
the wait is refused without even checking the password). All sources together are limited too
(``GLOBAL_FAILURES`` failures within ``GLOBAL_WINDOW_MS``), so that many addresses do not
multiply the guesses. At most ``MAX_SESSIONS`` sessions; the oldest goes first. A session ends
after ``IDLE_MS`` without use.
"""
from zerotap.crypto import hmac_sha256

ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: read off a small panel
PASSWORD_LEN = 10  # 31**10: about 49 bits, with the rate limit below far beyond guessing
ROUNDS = 64  # a few ms on a board: a slow login must not stall a call's audio
FREE_FAILURES = 3
BASE_DELAY_MS = 2000
MAX_DELAY_MS = 300000
GLOBAL_FAILURES = 20
GLOBAL_WINDOW_MS = 600000
MAX_SOURCES = 16
MAX_SESSIONS = 4
IDLE_MS = 1800000
RECORD_MAGIC = b"ZTW1"


class AuthError(ValueError):
    """A refused login or form: STATUS is the HTTP code (403, 429), the message says why."""

    def __init__(self, status, message, retry_ms=None):
        super().__init__(message)
        self.status = status
        self.retry_ms = retry_ms


def new_password(random, length=PASSWORD_LEN):
    """LENGTH characters of ALPHABET, unbiased (rejection sampling) from RANDOM(n) bytes."""
    out = []
    n = len(ALPHABET)
    limit = 256 - 256 % n
    while len(out) < length:
        for b in random(16):
            if b < limit and len(out) < length:
                out.append(ALPHABET[b % n])
    return "".join(out)


def _derive(password, salt):
    d = hmac_sha256(salt, password.encode())
    x = d
    for _ in range(ROUNDS - 1):
        d = hmac_sha256(salt, d)
        x = bytes(a ^ b for a, b in zip(x, d))
    return x


def password_record(password, salt):
    """The stored form of PASSWORD: magic, 16-byte salt, the derived 32 bytes."""
    if len(salt) != 16:
        raise ValueError("salt: must be 16 bytes")
    return RECORD_MAGIC + bytes(salt) + _derive(password, bytes(salt))


def check_record(record):
    if record is None or len(record) != 52 or bytes(record[:4]) != RECORD_MAGIC:
        raise ValueError("web password record: corrupt (%d bytes)" % (len(record or b""),))
    return bytes(record)


def same(a, b):
    """Constant-time comparison of two byte strings."""
    if len(a) != len(b):
        return False
    r = 0
    for i in range(len(a)):
        r |= a[i] ^ b[i]
    return r == 0


def _hex(b):
    return "".join("%02x" % x for x in b)


class Session:
    def __init__(self, token, csrf, now):
        self.token = token
        self.csrf = csrf
        self.created = now
        self.used = now


class Guard:
    def __init__(self, record, random):
        self.record = check_record(record)
        self.random = random
        self.sessions = {}
        self.failures = {}  # source -> (count, last failure ms)
        self.recent = []  # failure times, all sources

    # --- login ----------------------------------------------------------------------------------
    def wait_ms(self, source, now):
        """How long SOURCE must wait before its next attempt (0: it may try now)."""
        w = 0
        f = self.failures.get(source)
        if f is not None and f[0] >= FREE_FAILURES:
            delay = BASE_DELAY_MS << min(f[0] - FREE_FAILURES, 10)
            delay = min(delay, MAX_DELAY_MS)
            w = max(0, f[1] + delay - now)
        self.recent = [t for t in self.recent if now - t < GLOBAL_WINDOW_MS]
        if len(self.recent) >= GLOBAL_FAILURES:
            w = max(w, self.recent[0] + GLOBAL_WINDOW_MS - now)
        return w

    def login(self, source, password, now):
        wait = self.wait_ms(source, now)
        if wait > 0:
            raise AuthError(429, "too many wrong passwords: try again in %d s"
                            % ((wait + 999) // 1000), wait)
        salt = self.record[4:20]
        if not isinstance(password, str) or not same(_derive(password, salt), self.record[20:]):
            count = self.failures.get(source, (0, 0))[0] + 1
            if source not in self.failures and len(self.failures) >= MAX_SOURCES:
                oldest = min(self.failures, key=lambda k: self.failures[k][1])
                del self.failures[oldest]
            self.failures[source] = (count, now)
            self.recent.append(now)
            raise AuthError(403, "wrong password")
        self.failures.pop(source, None)
        return self._new_session(now)

    def _new_session(self, now):
        self._expire(now)
        while len(self.sessions) >= MAX_SESSIONS:
            oldest = min(self.sessions, key=lambda k: self.sessions[k].used)
            del self.sessions[oldest]
        token = _hex(self.random(16))
        s = Session(token, _hex(self.random(16)), now)
        self.sessions[token] = s
        return token

    def _expire(self, now):
        for t in list(self.sessions):
            if now - self.sessions[t].used >= IDLE_MS:
                del self.sessions[t]

    # --- requests -------------------------------------------------------------------------------
    def session(self, token, now):
        """The live session of TOKEN (its idle clock restarted), or None."""
        if not token:
            return None
        self._expire(now)
        for t in self.sessions:  # compare in constant time with each: no early match leak
            if same(t.encode(), token.encode()):
                s = self.sessions[t]
                s.used = now
                return s
        return None

    def check_csrf(self, session, token):
        if session is None:
            raise AuthError(403, "not logged in")
        if not token or not same(session.csrf.encode(), token.encode()):
            raise AuthError(403, "missing or wrong CSRF token: reload the page")

    def logout(self, token):
        self.sessions.pop(token, None)

    def set_password(self, record):
        """A new password: every session ends."""
        self.record = check_record(record)
        self.sessions = {}

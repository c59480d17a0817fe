"""ZRTP key agreement (RFC 6189 sections 4.4.1 and 5.1.5): key pairs, shared secrets, resumable
jobs and a key pool, shared by every backend.

A backend supplies a random source and a "math" object whose ``public(ka, secret)`` and
``shared(ka, secret, peer_public)`` are generators: they yield after each bounded piece of work
and return bytes. The pure-Python math below yields often; the native math does all of it in one
C call and never yields. Jobs drive those generators one slice per ``step()``.

Wire forms (RFC 6189 section 5.1.5): DH pv is big-endian padded to len(p); EC pv is x || y;
X25519's is the RFC 7748 u-coordinate. DHResult (section 4.4.1.4): DH big-endian padded to
len(p); ECDH the x-coordinate; X25519 the 32-byte u-coordinate.
"""
from zerotap.crypto import dh, ec, x25519

KAS = ("DH2k", "DH3k", "EC25", "EC38", "X255")

PUBLIC_LENGTH = {"DH2k": 256, "DH3k": 384, "EC25": 64, "EC38": 96, "X255": 32}

# Secret sizes in bytes. DH: 256-bit exponents for both groups, as bzrtp uses them (twice the
# 128-bit strength of these groups); EC: a scalar in [1, n-1]; X25519: 32 random bytes.
SECRET_LENGTH = {"DH2k": 32, "DH3k": 32, "EC25": 32, "EC38": 48, "X255": 32}

CURVES = {"EC25": ec.P256, "EC38": ec.P384}

# Units of work per step() of the pure math: DH modular multiplications, EC point operations,
# X25519 groups of ladder steps (x25519.STEPS_PER_YIELD). Sized so that one step stays short on a
# board (the benchmark reports the longest one).
STEP_UNITS = {"DH2k": 2, "DH3k": 1, "EC25": 2, "EC38": 1, "X255": 1}


def check_ka(ka):
    if ka not in PUBLIC_LENGTH:
        raise ValueError("unknown key agreement %r (known: DH2k, DH3k, EC25, EC38, X255)" % (ka,))


def public_length(ka):
    check_ka(ka)
    return PUBLIC_LENGTH[ka]


class KeyPair:
    """A key agreement key pair: ``ka``, ``public`` (wire form); the secret stays private."""

    def __init__(self, ka, secret, public):
        self.ka = ka
        self.secret = secret  # a bytearray: wipe() overwrites it once the exchange is done
        self.public = public

    def wipe(self):
        s = self.secret
        if isinstance(s, bytearray):
            for i in range(len(s)):
                s[i] = 0

    def __repr__(self):
        return "<KeyPair %s>" % self.ka


def check_peer(ka, peer):
    """Length and range checks that need no big work: RFC 6189 section 4.4.1.1 for DH, the curve
    equation for EC. Returns the decoded peer value."""
    n = PUBLIC_LENGTH[ka]
    if len(peer) != n:
        raise ValueError("%s public value must be %d bytes, got %d" % (ka, n, len(peer)))
    if ka in dh.GROUPS:
        p = dh.GROUPS[ka][0]
        y = int.from_bytes(peer, "big")
        dh.check_public(ka, p, y)
        return y
    if ka in CURVES:
        return ec.decode_point(CURVES[ka], ka, peer)
    return bytes(peer)


def check_shared(ka, shared):
    if ka == "X255":
        z = 0
        for b in shared:
            z |= b
        if not z:  # RFC 7748 section 6.1: a small-order peer value gives all zeros
            raise ValueError("X255 shared secret is all zero")
    return shared


class PureMath:
    """Key agreement in pure Python; every method is a generator that yields between units."""

    def public(self, ka, secret):
        if ka in dh.GROUPS:
            p, size = dh.GROUPS[ka]
            y = yield from dh.pow_g(int.from_bytes(secret, "big"), p)
            return y.to_bytes(size, "big")
        if ka in CURVES:
            c = CURVES[ka]
            x, y = yield from ec.multiply(c, int.from_bytes(secret, "big"), c.gx, c.gy)
            return x.to_bytes(c.size, "big") + y.to_bytes(c.size, "big")
        u = yield from x25519.ladder(x25519.decode_scalar(secret), 9)
        return x25519.encode_u(u)

    def shared(self, ka, secret, peer):
        value = check_peer(ka, peer)
        if ka in dh.GROUPS:
            p, size = dh.GROUPS[ka]
            z = yield from dh.pow_mod(value, int.from_bytes(secret, "big"), p)
            return z.to_bytes(size, "big")
        if ka in CURVES:
            c = CURVES[ka]
            pt = yield from ec.multiply(c, int.from_bytes(secret, "big"), value[0], value[1])
            if pt is None:
                raise ValueError("%s shared point is the point at infinity" % ka)
            return pt[0].to_bytes(c.size, "big")
        u = yield from x25519.ladder(x25519.decode_scalar(secret), x25519.decode_u(value))
        return check_shared(ka, x25519.encode_u(u))


def new_secret(ka, random_bytes):
    n = SECRET_LENGTH[ka]
    if ka in CURVES:
        order = CURVES[ka].n
        d = int.from_bytes(random_bytes(n + 8), "big") % (order - 1) + 1  # in [1, n-1]
        return d.to_bytes(n, "big")
    while True:
        s = random_bytes(n)
        if ka == "X255" or int.from_bytes(s, "big") > 1:
            return s


class _Job:
    """A resumable computation: ``step()`` runs one bounded slice, True once ``result`` is set."""

    def __init__(self, ka, gen, units):
        self.ka = ka
        self.result = None
        self.done = False
        self._gen = gen
        self._units = units

    def step(self):
        if self.done:
            return True
        gen = self._gen
        try:
            for _ in range(self._units):
                next(gen)
        except StopIteration as e:
            self._finish(e.args[0] if e.args else None)
        return self.done

    def run(self):
        while not self.step():
            pass
        return self.result


class KeyGenerationJob(_Job):
    def __init__(self, suite, ka, secret=None):
        check_ka(ka)
        if secret is None:
            secret = new_secret(ka, suite.random_bytes)
        elif len(secret) != SECRET_LENGTH[ka]:
            raise ValueError("%s secret must be %d bytes, got %d" % (ka, SECRET_LENGTH[ka], len(secret)))
        self._secret = bytearray(secret)
        _Job.__init__(self, ka, suite.math.public(ka, self._secret), suite.units[ka])

    def _finish(self, public):
        self.result = KeyPair(self.ka, self._secret, public)
        self.done = True


class AgreementJob(_Job):
    def __init__(self, suite, keypair, peer_public):
        check_ka(keypair.ka)
        _Job.__init__(self, keypair.ka, suite.math.shared(keypair.ka, keypair.secret, bytes(peer_public)),
                      suite.units[keypair.ka])

    def _finish(self, shared):
        self.result = bytearray(shared)  # the DH result: its user overwrites it after s0
        self.done = True


class KeyPool:
    """Key pairs made while idle. ``step()`` does one bounded slice of pending generation and
    returns True while more work is pending; ``take(ka)`` returns a ready key pair (removed from
    the pool), or finishes the one in progress, or makes one now."""

    def __init__(self, suite, kas, size=1):
        kas = list(kas)
        for ka in kas:
            check_ka(ka)
        if size < 1:
            raise ValueError("KeyPool size must be at least 1, got %d" % size)
        self._suite = suite
        self._kas = kas
        self._size = size
        self._ready = {}
        for ka in kas:
            self._ready[ka] = []
        self._job = None

    def ready(self, ka):
        return len(self._ready.get(ka, ()))

    def _next_job(self):
        for ka in self._kas:
            if len(self._ready[ka]) < self._size:
                return KeyGenerationJob(self._suite, ka)
        return None

    def step(self):
        if self._job is None:
            self._job = self._next_job()
            if self._job is None:
                return False
        if self._job.step():
            self._ready[self._job.ka].append(self._job.result)
            self._job = None
            return self._next_job_pending()
        return True

    def _next_job_pending(self):
        for ka in self._kas:
            if len(self._ready[ka]) < self._size:
                return True
        return False

    def take(self, ka):
        check_ka(ka)
        ready = self._ready.get(ka)
        if ready:
            return ready.pop(0)
        job = self._job
        if job is not None and job.ka == ka:
            self._job = None
            return job.run()
        return KeyGenerationJob(self._suite, ka).run()


class Suite:
    """One backend's key agreement: its random source, its math, its slice sizes."""

    def __init__(self, random_bytes, math, units=None):
        self.random_bytes = random_bytes
        self.math = math
        self.units = units or STEP_UNITS

    def generate(self, ka):
        return KeyGenerationJob(self, ka).run()

    def keypair(self, ka, secret):
        """The key pair of a given secret (known-answer tests, stored keys)."""
        return KeyGenerationJob(self, ka, secret).run()

    def agree(self, keypair, peer_public):
        return AgreementJob(self, keypair, peer_public).run()

    def key_generation(self, ka):
        return KeyGenerationJob(self, ka)

    def agreement(self, keypair, peer_public):
        return AgreementJob(self, keypair, peer_public)

    def key_pool(self, kas, size=1):
        return KeyPool(self, kas, size)

    def install(self, namespace):
        """Put the contract's key agreement names into a backend module's namespace."""
        namespace["public_length"] = public_length
        namespace["generate"] = self.generate
        namespace["keypair"] = self.keypair
        namespace["KeyPair"] = KeyPair
        namespace["agree"] = self.agree
        namespace["KeyGeneration"] = self.key_generation
        namespace["Agreement"] = self.agreement
        namespace["KeyPool"] = self.key_pool

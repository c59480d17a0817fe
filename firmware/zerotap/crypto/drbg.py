"""The box's one random source: HMAC-DRBG with SHA-256 (NIST SP 800-90A Rev. 1 section 10.1.2),
seeded from every entropy source the board has and reseeded regularly.

Why: on an ESP32, ``os.urandom`` (``esp_random``) is a true random source only while the radio or
the bootloader's entropy source (the SAR ADC noise) is on, and the Ethernet boards never start
Wi-Fi. ZIDs, nonces, hash-chain seeds, every DH secret and every SSRC come from here
(``zerotap.crypto.random_bytes`` of every backend is :func:`random_bytes`), so that no single weak
source decides them.

Sources mixed into each seed (entropy input, SP 800-90A section 8.6.3):

1. ``os.urandom(32)``: the OS's generator on a host, ``esp_random`` on a board;
2. the native module's hardware source, where it is built in (``_zcrypto.entropy``): on an
   ESP32 it turns the bootloader's entropy source on (``bootloader_random_enable``), reads
   ``esp_fill_random`` and turns it off again, at boot, before the network starts (Espressif:
   not while the radio or the ADC is in use); on a host it gives nothing;
3. timing jitter: the low bits of a cycle counter (``time.ticks_cpu``, ``ticks_us`` where that
   is 0; ``perf_counter_ns`` on CPython) around a few hash computations and a garbage collection, 64 samples;
4. the board's own ``noise()`` when its board module has one (a floating ADC pin, say).

The nonce is another ``os.urandom(16)`` and the personalization string the board's unique id
(``machine.unique_id()``) where there is one. Reseeding (sources 1, 3, 4 again) happens every
:data:`RESEED_REQUESTS` generate requests, far below the standard's limit of 2**48. Small requests
are served from one generate call of :data:`BUFFER_BYTES` bytes (what is handed out is zeroed in
the buffer at once), which keeps an exchange's two dozen draws to a few HMACs.

:func:`start` is called by ``zerotap.runtime.boot.main`` before anything draws a random byte (the
boot test checks the order). With ``strict`` set (boards), :func:`random_bytes` before
:func:`start` raises, so that no key is made before the source is ready; elsewhere (host tools,
tests) the first request starts the source with the default sources.
"""
import hashlib
import os

RESEED_REQUESTS = 1024
BUFFER_BYTES = 512  # random_bytes serves small requests from one generate() of this many bytes
MAX_REQUEST_BYTES = 65536  # 2**19 bits: SP 800-90A table 2, max_number_of_bits_per_request
SEED_BYTES = 32  # security strength 256 bits: entropy input of 256 bits, nonce of 128


_IPAD = int.from_bytes(b"\x36" * 64, "big")
_OPAD = int.from_bytes(b"\x5c" * 64, "big")


def hmac_sha256_pure(key, data):
    """HMAC-SHA256 (RFC 2104) for keys of at most 64 bytes, the pads made with one integer XOR
    (the DRBG's key is 32 bytes, and this is its hot path)."""
    k = int.from_bytes(bytes(key) + bytes(64 - len(key)), "big")
    inner = hashlib.sha256((k ^ _IPAD).to_bytes(64, "big"))
    inner.update(data)
    outer = hashlib.sha256((k ^ _OPAD).to_bytes(64, "big"))
    outer.update(inner.digest())
    return outer.digest()


try:  # the native module's HMAC where it is built in: one C call
    from _zcrypto import hmac as _native_hmac

    def hmac_sha256(key, data):
        return _native_hmac(2, key, data)
except ImportError:
    hmac_sha256 = hmac_sha256_pure


class HmacDrbg:
    """HMAC_DRBG (SHA-256) without prediction resistance: instantiate, reseed, generate.

    ``K`` and ``V`` are the working state (section 10.1.2.1); ``reseed_counter`` counts requests
    since the last (re)seed."""

    def __init__(self, entropy, nonce=b"", personalization=b""):
        if len(entropy) < SEED_BYTES:
            raise ValueError("HMAC-DRBG entropy input must be at least %d bytes, got %d" % (SEED_BYTES, len(entropy)))
        self.K = bytes(32)
        self.V = b"\x01" * 32
        self._update(bytes(entropy) + bytes(nonce) + bytes(personalization))
        self.reseed_counter = 1

    def _update(self, data):
        """HMAC_DRBG_Update (section 10.1.2.2)."""
        self.K = hmac_sha256(self.K, self.V + b"\x00" + data)
        self.V = hmac_sha256(self.K, self.V)
        if data:
            self.K = hmac_sha256(self.K, self.V + b"\x01" + data)
            self.V = hmac_sha256(self.K, self.V)

    def reseed(self, entropy, additional=b""):
        """HMAC_DRBG_Reseed (section 10.1.2.4)."""
        if len(entropy) < SEED_BYTES:
            raise ValueError("HMAC-DRBG entropy input must be at least %d bytes, got %d" % (SEED_BYTES, len(entropy)))
        self._update(bytes(entropy) + bytes(additional))
        self.reseed_counter = 1

    def generate(self, n, additional=b""):
        """N pseudorandom bytes (section 10.1.2.5)."""
        if n < 0 or n > MAX_REQUEST_BYTES:
            raise ValueError("HMAC-DRBG request of %d bytes: 0 to %d per request" % (n, MAX_REQUEST_BYTES))
        additional = bytes(additional)
        if additional:
            self._update(additional)
        out = bytearray(n)  # one block, filled in place (no growing, no slice copy)
        i = 0
        while i < n:
            self.V = hmac_sha256(self.K, self.V)
            k = min(32, n - i)
            out[i:i + k] = self.V[:k] if k < 32 else self.V
            i += k
        self._update(additional)
        self.reseed_counter += 1
        return bytes(out)


def _wipe(buf):
    buf[0:len(buf)] = bytes(len(buf))


def _cycle_counter():
    import time

    f = getattr(time, "ticks_cpu", None)
    if f is not None and (f() or f()):  # the unix port's ticks_cpu is always 0
        return f
    for name in ("ticks_us", "perf_counter_ns", "ticks_ms"):
        f = getattr(time, name, None)
        if f is not None:
            return f
    return lambda: 0  # no counter at all: the other sources carry the seed


def jitter(samples=64):
    """Timing noise: the low byte of the cycle counter's steps around hashing and a collection."""
    import gc

    counter = _cycle_counter()
    out = bytearray(samples)
    block = b"zerotap-jitter" * 4
    last = counter()
    for i in range(samples):
        for _ in range(1 + (last & 3)):
            block = hmac_sha256_pure(block[:32], block)
        if i == 0:
            gc.collect()
        now = counter()
        out[i] = (now - last) & 0xFF
        last = now
    return bytes(out)


def hardware(enable):
    """The native module's hardware entropy (ESP32: the bootloader's source when ENABLE), or b""."""
    try:
        import _zcrypto
    except ImportError:
        return b""
    f = getattr(_zcrypto, "entropy", None)
    if f is None:
        return b""
    return f(SEED_BYTES, 1 if enable else 0)


def _unique_id():
    try:
        import machine

        return bytes(machine.unique_id())
    except Exception:  # not a board (no machine module), or a stand-in without unique_id
        return b""


class Source:
    """The random source: an :class:`HmacDrbg` fed by the sources above.

    The sources are functions (tests pass their own): ``urandom(n)``, ``hardware(enable)``,
    ``noise()`` (the board's, or None) and ``jitter()``. ``history`` records the first events
    (``"seed"``, ``"reseed"``, ``"generate"``) for the boot test."""

    def __init__(self, urandom=None, hardware_source=None, noise=None, jitter_source=None, personalization=None,
                 reseed_every=RESEED_REQUESTS, buffer_bytes=BUFFER_BYTES):
        self._urandom = urandom or os.urandom
        self._hardware = hardware_source or hardware
        self._noise = noise
        self._jitter = jitter_source or jitter
        self._personalization = personalization
        self.reseed_every = reseed_every
        self.buffer_bytes = buffer_bytes
        self._buf = bytearray()
        self._pos = 0
        self.drbg = None
        self.hardware_bytes = 0  # how many bytes the hardware source gave at the last seed
        self.history = []

    @property
    def ready(self):
        return self.drbg is not None

    def _note(self, what):
        if len(self.history) < 16:
            self.history.append(what)

    def _entropy(self, enable_hardware):
        hw = self._hardware(enable_hardware)
        self.hardware_bytes = len(hw)
        noise = self._noise() if self._noise is not None else b""
        return bytes(self._urandom(SEED_BYTES)) + bytes(hw) + self._jitter() + bytes(noise)

    def start(self):
        """Seed from every source (the hardware one switched on for this): SP 800-90A instantiate."""
        pers = self._personalization if self._personalization is not None else _unique_id()
        self.drbg = HmacDrbg(self._entropy(True), bytes(self._urandom(16)), b"zerotap" + pers)
        self._note("seed")

    def reseed(self):
        self.drbg.reseed(self._entropy(False))
        _wipe(self._buf)  # nothing drawn before the reseed is handed out after it
        self._pos = len(self._buf)
        self._note("reseed")

    def random_bytes(self, n):
        """N bytes. Requests up to BUFFER_BYTES are served from one generate() call of that many
        bytes (the part handed out is overwritten in the buffer at once); larger ones directly."""
        if self.drbg is None:
            if STRICT:
                raise RuntimeError("the random source is not started: no key before zerotap.crypto.drbg.start()")
            self.start()
        if n > self.buffer_bytes:
            return self._generate(n)
        buf = self._buf
        if self._pos + n > len(buf):
            _wipe(buf)
            buf = self._buf = bytearray(self._generate(self.buffer_bytes))
            self._pos = 0
        i = self._pos
        out = bytes(buf[i:i + n])
        buf[i:i + n] = bytes(n)
        self._pos = i + n
        return out

    def _generate(self, n):
        if self.drbg.reseed_counter > self.reseed_every:
            self.reseed()
        self._note("generate")
        return self.drbg.generate(n)


SOURCE = Source()
STRICT = False  # boot.main sets it: on a board nothing may draw before start()


def start(noise=None):
    """Start the box's source (once per boot), with the board's NOISE function when it has one."""
    global SOURCE
    SOURCE = Source(noise=noise)
    SOURCE.start()
    return SOURCE


def random_bytes(n):
    """N random bytes from the box's source (every backend's ``random_bytes``)."""
    return SOURCE.random_bytes(n)

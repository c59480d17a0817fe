"""zerotap.crypto: the one small crypto interface of the protocol code.

Three backends give the same bytes (they pass the same known-answer tests):

- ``native``: the ``_zcrypto`` C module over mbedTLS (CPython extension, or a MicroPython user
  C module in custom firmware);
- ``micropython``: ``cryptolib`` ECB + ``hashlib`` + viper loops, on stock MicroPython;
- ``python``: pure Python (``hashlib`` + pure-Python AES): the CPython fallback where the native
  module is absent; it loads on MicroPython too, so the tests compare backends there as well.

``BACKEND`` names the one picked at import (the first of these that loads); the module-level
functions are that backend's. ``backends()`` lists those that load here, ``backend(name)`` gives
one of them. A backend that does not fit in the heap (a ``MemoryError`` while importing it, as on
a 112 KiB board) counts as one that does not load: ``backend()`` raises ImportError naming the
MemoryError, ``backends()`` and the pick at import skip it, and ``skipped()`` gives the reason of
each backend left out. ``release(name)`` lets go of a backend other than ``BACKEND`` (tests go
through the backends one at a time, so that a board's heap never holds them all).

The interface is the crypto contract (README section "Crypto core"), with these choices where
the contract left room:

- ``KeyGeneration``, ``Agreement`` and ``KeyPool`` are factories that return the job/pool objects
  (``step()``, ``result``, ``take()`` as specified), not classes to subclass or isinstance-check.
- Additions: ``keypair(ka, secret)`` (the key pair of a given secret, for known answers),
  ``KeyPair`` (``.ka``, ``.public``, ``.secret``), ``NAME`` and ``KA_IMPL`` on each backend.
- DH2k and DH3k secrets are 256-bit exponents (as bzrtp uses them); EC secrets are scalars in
  [1, n-1]; X25519 secrets are 32 random bytes, clamped by the function (RFC 7748).
- ``SrtpTransform`` also rejects an SSRC outside 32 bits and an index outside 48 bits.
- On MicroPython call ``t.protect(...)`` directly, not through a stored bound method (see
  backend_micropython.SrtpTransform: that would allocate and free per call).

Fast paths beyond the contract, for zerotap.srtp.Session's common case (the next RTP packet of
the stream it saw last, plain 12-byte header, sequence number one above the highest index); each
does the whole packet, the stream's replay state included, in one call:

- ``SrtpTransform.protect_next(buf, length, stream)`` and ``unprotect_next(buf, length,
  stream)`` (native and micropython backends), in place: the new length, -1 when the packet is
  not that case (the caller takes its general path), and for unprotect -2 for a wrong tag, buf
  untouched. ``stream`` is the session's per-SSRC state: ``srtp._Stream`` on MicroPython, the
  native backend's own ``SrtpStream`` on the native one.
- ``SrtpStream(ssrc_bytes, ssrc, index)`` (native backend): ``srtp._Stream`` in C, with the same
  attributes (``ssrc``, ``hi``, ``lo``, ``highest``, ``next``) and methods (``check``, ``add``).
- ``SrtpTransform.protect_bytes(packet, stream)`` and ``unprotect_bytes(packet, stream)``
  (native backend): the same for the bytes API; new bytes, or None for anything else (a wrong
  tag included: the general path then raises).
- ``cpu_features(enable=None)`` (native backend): the CPU features the SRTP transform uses, on
  x86-64 hosts AES-NI and SHA-NI when CPUID shows them (mbedTLS otherwise, and on every board);
  ``enable=False`` switches them off from then on, ``True`` back on (tests run both paths).

The native P-256 and DH2k/DH3k are C of our own wherever the compiler has 128-bit integers (a PC,
a Raspberry Pi); 32-bit boards use mbedTLS and its hardware drivers. See native/README.md.
"""

_ORDER = ("native", "micropython", "python")
ORDER = _ORDER  # every backend name, in order of preference (loaded or not)

# Every backend exposes these names (the contract).
_NAMES = (
    "sha1", "sha256", "sha384", "hmac_sha1", "hmac_sha256", "hmac_sha384",
    "aes_ecb_encrypt", "aes_ctr", "aes_cfb_encrypt", "aes_cfb_decrypt",
    "crc32c", "random_bytes", "SrtpTransform",
    "public_length", "generate", "agree", "KeyGeneration", "Agreement", "KeyPool",
    "SrtpStream",  # the native backend only: see the docstring
)

_cache = {}
_skipped = {}  # name -> why it did not load (the last attempt)

# The modules only one backend imports: release() drops them with it.
_OWN = {
    "native": ("zerotap.crypto.backend_native",),
    "micropython": ("zerotap.crypto.backend_micropython",),
    "python": ("zerotap.crypto.backend_python", "zerotap.crypto.aes"),
}


def _import(name):
    if name == "native":
        from zerotap.crypto import backend_native as m
        if m._zcrypto is None:
            raise ImportError("the _zcrypto module is not built into this interpreter")
    elif name == "micropython":
        from zerotap.crypto import backend_micropython as m
    elif name == "python":
        from zerotap.crypto import backend_python as m
    else:
        raise ValueError("unknown crypto backend %r (known: native, micropython, python)" % (name,))
    return m


def _forget(name):
    import sys
    g = globals()
    for mod in _OWN.get(name, ()):
        if mod in sys.modules:
            del sys.modules[mod]
        short = mod[len("zerotap.crypto."):]
        if short in g:  # the import also bound the submodule on this package
            del g[short]


def backend(name):
    """The module of backend NAME; ImportError when it does not load in this interpreter (a
    MemoryError while importing it included: it does not fit in this heap)."""
    m = _cache.get(name)
    if m is None:
        try:
            m = _import(name)
        except ImportError as e:
            _forget(name)  # e.g. backend_native without _zcrypto: its module must not stay loaded
            _skipped[name] = "ImportError: %s" % (e,)
            raise
        except MemoryError as e:
            _forget(name)  # a half-imported module must not stay behind
            _skipped[name] = "MemoryError: %s" % (e,)
            raise ImportError("crypto backend %r does not fit in the heap (MemoryError: %s)" % (name, e))
        _skipped.pop(name, None)
        _cache[name] = m
    return m


def backends():
    """Names of the backends that load in this interpreter, in order of preference (a backend
    that does not fit in the heap is left out: see skipped())."""
    found = []
    for name in _ORDER:
        try:
            backend(name)
        except ImportError:
            continue
        found.append(name)
    return found


def skipped():
    """{name: reason} for each backend that did not load at its last attempt."""
    return dict(_skipped)


def release(name):
    """Let go of backend NAME (not BACKEND, whose functions this module re-exports): the next
    backend(NAME) imports it anew. Returns True when it was loaded."""
    if name == BACKEND:
        raise ValueError("crypto backend %r is the one in use and cannot be released" % (name,))
    if name not in _ORDER:
        raise ValueError("unknown crypto backend %r (known: native, micropython, python)" % (name,))
    was = _cache.pop(name, None) is not None
    _forget(name)
    return was


def _pick():
    for name in _ORDER:
        try:
            return name, backend(name)
        except ImportError:
            pass
    raise ImportError("no crypto backend loads here (%s)"
                      % "; ".join("%s: %s" % (n, _skipped[n]) for n in _ORDER if n in _skipped))


BACKEND, _b = _pick()
_g = globals()
for _n in _NAMES:
    if hasattr(_b, _n):
        _g[_n] = getattr(_b, _n)
del _g, _n

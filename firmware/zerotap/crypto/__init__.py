"""zerotap.crypto: the one small crypto interface of the protocol code.

Three backends give the same bytes (they pass the same known-answer tests):

- ``native``: the ``_zcrypto`` C module over mbedTLS (CPython extension, or a MicroPython user
  C module in custom firmware);
- ``micropython``: ``cryptolib`` ECB + ``hashlib`` + viper loops, on stock MicroPython;
- ``python``: pure Python (``hashlib`` + pure-Python AES): the CPython fallback where the native
  module is absent; it loads on MicroPython too, so the tests compare backends there as well.

``BACKEND`` names the one picked at import (the first of these that loads); the module-level
functions are that backend's. ``backends()`` lists those that load here, ``backend(name)`` gives
one of them. The interface is the crypto contract (README section "Crypto core"), with these
choices where the contract left room:

- ``KeyGeneration``, ``Agreement`` and ``KeyPool`` are factories that return the job/pool objects
  (``step()``, ``result``, ``take()`` as specified), not classes to subclass or isinstance-check.
- Additions: ``keypair(ka, secret)`` (the key pair of a given secret, for known answers),
  ``KeyPair`` (``.ka``, ``.public``, ``.secret``), ``NAME`` and ``KA_IMPL`` on each backend.
- DH2k and DH3k secrets are 256-bit exponents (as bzrtp uses them); EC secrets are scalars in
  [1, n-1]; X25519 secrets are 32 random bytes, clamped by the function (RFC 7748).
- ``SrtpTransform`` also rejects an SSRC outside 32 bits and an index outside 48 bits.
- On MicroPython call ``t.protect(...)`` directly, not through a stored bound method (see
  backend_micropython.SrtpTransform: that would allocate and free per call).
"""

_ORDER = ("native", "micropython", "python")

# Every backend exposes these names (the contract).
_NAMES = (
    "sha1", "sha256", "sha384", "hmac_sha1", "hmac_sha256", "hmac_sha384",
    "aes_ecb_encrypt", "aes_ctr", "aes_cfb_encrypt", "aes_cfb_decrypt",
    "crc32c", "random_bytes", "SrtpTransform",
    "public_length", "generate", "agree", "KeyGeneration", "Agreement", "KeyPool",
)

_cache = {}


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


def backend(name):
    """The module of backend NAME; ImportError when it does not load in this interpreter."""
    m = _cache.get(name)
    if m is None:
        m = _import(name)
        _cache[name] = m
    return m


def backends():
    """Names of the backends that load in this interpreter, in order of preference."""
    found = []
    for name in _ORDER:
        try:
            backend(name)
        except ImportError:
            continue
        found.append(name)
    return found


def _pick():
    for name in _ORDER:
        try:
            return name, backend(name)
        except ImportError:
            pass
    raise ImportError("no crypto backend loads here")


BACKEND, _b = _pick()
_g = globals()
for _n in _NAMES:
    if hasattr(_b, _n):
        _g[_n] = getattr(_b, _n)
del _g, _n

"""ZeroTap: a ZRTP/SRTP crypto box for an ordinary SIP phone.

The same package runs on a board (MicroPython), on the MicroPython unix port and on CPython.
"""
__version__ = "0.1.0"

try:
    import micropython  # noqa: F401  (MicroPython: the real module)
except ImportError:  # CPython: register the stand-in before any firmware module imports it
    from zerotap import shim

    shim.install()

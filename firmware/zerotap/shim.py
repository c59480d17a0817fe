"""CPython stand-ins for MicroPython's compile-time helpers.

Firmware modules are written as plain MicroPython: ``import micropython``,
``from micropython import const``, ``@micropython.native`` and ``@micropython.viper`` with the
viper casts ``ptr8``/``ptr16``/``ptr32``/``uint``. On MicroPython the compiler handles all of these.
On CPython ``zerotap/__init__.py`` calls :func:`install`, which registers this module as
``micropython`` and puts the viper casts into builtins, so the same source runs unchanged.

Viper code must not rely on machine-word overflow (words are 32 bits on a board and 64 bits on the
unix port): mask explicitly. A store through a pointer keeps the low bits, here as in viper.
"""
import sys


def const(value):
    return value


def native(func):
    return func


def viper(func):
    return func


def opt_level(level=None):
    return 0


def alloc_emergency_exception_buf(size):
    pass


class _Pointer:
    """What ``ptr8(buf)``/``ptr16(buf)``/``ptr32(buf)`` give inside a viper function on CPython."""

    __slots__ = ("_mv", "_size", "_mask")

    def __init__(self, buf, size):
        self._mv = memoryview(buf).cast("B")
        self._size = size
        self._mask = (1 << (8 * size)) - 1

    def __getitem__(self, i):
        s = self._size
        if s == 1:
            return self._mv[i]
        return int.from_bytes(self._mv[i * s:(i + 1) * s], "little")

    def __setitem__(self, i, value):
        s = self._size
        if s == 1:
            self._mv[i] = value & 0xFF
        else:
            self._mv[i * s:(i + 1) * s] = (value & self._mask).to_bytes(s, "little")


def ptr8(buf):
    return _Pointer(buf, 1)


def ptr16(buf):
    return _Pointer(buf, 2)


def ptr32(buf):
    return _Pointer(buf, 4)


def uint(value):
    return value & 0xFFFFFFFF


def install():
    """Register this module as ``micropython`` and the viper casts as builtins (CPython only)."""
    import builtins

    sys.modules.setdefault("micropython", sys.modules[__name__])
    for name in ("ptr8", "ptr16", "ptr32", "uint"):
        if not hasattr(builtins, name):
            setattr(builtins, name, globals()[name])

"""CRC-32C (Castagnoli, reflected polynomial 0x82F63B78; RFC 3720 appendix B.4), as ZRTP uses it
for its packet check (RFC 6189 section 5, appended little-endian). Table-driven pure Python.

``TABLE`` is an ``array('I')`` (1 KiB), shared with the MicroPython backend's viper loop: as a list
its entries of 2^30 and more would be some 190 heap objects on a 32-bit board."""
from array import array

from micropython import const

_POLY = const(0x82F63B78)


def _table():
    t = array("I", bytes(1024))
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ (_POLY if c & 1 else 0)
        t[i] = c
    return t


TABLE = _table()


def crc32c(data, crc=0):
    """CRC-32C of DATA, continuing from CRC (the value returned for the data before it)."""
    t = TABLE
    c = crc ^ 0xFFFFFFFF
    for b in data:
        c = t[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF

"""Heap budgets of the parts this suite owns, checked on both builds: on a 32-bit board (the
board32 rig, frozen firmware) against the budget itself, on the 64-bit unix port against the
budget scaled by 1.42, the factor measured between the two for the same objects (docs/heap.md).
CPython has no gc.mem_alloc: there the tests only run the code."""
import gc
import sys

from zerotap import crypto, srtp

FACTOR_64 = 1.42  # unix port (64-bit) / rv32 heap for the same runtime objects (docs/heap.md)
SRTP_SESSION_32 = 3072  # bytes: one srtp.Session with its RTP and RTCP transforms, one packet done


def _scaled(budget):
    return int(budget * FACTOR_64) if sys.maxsize > (1 << 32) else budget


def _used():
    gc.collect()
    return gc.mem_alloc() if hasattr(gc, "mem_alloc") else 0


def test_an_srtp_session_fits_its_budget():
    # the keystream scratch (1.6 KB) is shared by every transform, allocated once at import
    rtp = bytes([0x80, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 7]) + bytes(160)
    for name in crypto.backends():
        if name != crypto.BACKEND:  # the budget is the board's: the backend in use
            continue
        before = _used()
        tx = srtp.Session(srtp.AES_CM_128_HMAC_SHA1_80, bytes(16), bytes(14))
        packet = tx.protect(rtp)
        grown = _used() - before
        assert len(packet) == len(rtp) + 10
        if hasattr(gc, "mem_alloc"):
            assert grown <= _scaled(SRTP_SESSION_32), \
                "an SRTP session holds %d bytes (budget %d)" % (grown, _scaled(SRTP_SESSION_32))

"""SRTP protect/unprotect speed, per 172-byte packet (12-byte header, 160-byte G.711 payload),
AES_CM_128_HMAC_SHA1_80, against pylibsrtp measured in the same run.

- CPython: pylibsrtp's bytes API, then zerotap.srtp with each crypto backend, bytes API (the same
  shape as pylibsrtp's) and in place (what the media path uses).
  Target: the native backend at most 0.6x pylibsrtp's time, for protect and for unprotect
  (bytes API against bytes API).
- The MicroPython unix port: zerotap.srtp in place with the micropython backend.
  Target: at most 6 us per packet.

Each figure is the best of several rounds (the machine is shared). Unprotect needs a new packet
each time (replay protection), so it copies a stored packet into the buffer first; that copy is
timed alone and subtracted. Protect works on one buffer and only rewrites the sequence number.
"""
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "firmware"))

from zerotap import crypto, srtp  # noqa: E402

PROFILE = srtp.AES_CM_128_HMAC_SHA1_80
KEY = bytes(range(16))
SALT = bytes(range(16, 30))
PAYLOAD = 160
N = 4000
ROUNDS = 5
NATIVE_RATIO = 0.6
MICROPYTHON_US = 6.0


def _rtp(seq):
    return bytes([0x80, 0x00, seq >> 8 & 0xFF, seq & 0xFF]) + b"\x00\x00\x01\x00" + \
        b"\xca\xfe\xba\xbe" + bytes((seq + i) & 0xFF for i in range(PAYLOAD))


def _best(func):
    best = None
    for r in range(ROUNDS):
        t = func(r)
        best = t if best is None or t < best else best
    return best


def bench_pylibsrtp():
    import pylibsrtp

    def session(outbound):
        policy = pylibsrtp.Policy(
            key=KEY + SALT, srtp_profile=pylibsrtp.Policy.SRTP_PROFILE_AES128_CM_SHA1_80,
            ssrc_type=pylibsrtp.Policy.SSRC_ANY_OUTBOUND if outbound else pylibsrtp.Policy.SSRC_ANY_INBOUND)
        return pylibsrtp.Session(policy)

    return _bench_bytes(lambda: session(True), lambda: session(False))


def _bench_bytes(make_tx, make_rx):
    """(protect us, unprotect us) through a bytes -> bytes API."""
    plain = [_rtp(i) for i in range(N)]
    state = {}

    def protect(r):
        tx = make_tx()
        t0 = time.perf_counter()
        out = [tx.protect(p) for p in plain]
        dt = time.perf_counter() - t0
        state["protected"] = out
        return dt / N * 1e6

    def unprotect(r):
        rx = make_rx()
        packets = state["protected"]
        t0 = time.perf_counter()
        for p in packets:
            rx.unprotect(p)
        return (time.perf_counter() - t0) / N * 1e6

    return _best(protect), _best(unprotect)


def _bench_in_place(backend):
    c = crypto.backend(backend)
    tx0 = srtp.Session(PROFILE, KEY, SALT, backend=c)
    protected = [tx0.protect(_rtp(i)) for i in range(N)]
    size = len(protected[0])
    buf = bytearray(size)

    def protect(r):
        tx = srtp.Session(PROFILE, KEY, SALT, backend=c)
        buf[:] = protected[0]
        t0 = time.perf_counter()
        for i in range(N):
            buf[2] = i >> 8
            buf[3] = i & 0xFF
            tx.protect_into(buf, 12 + PAYLOAD)
        return (time.perf_counter() - t0) / N * 1e6

    def copy_only(r):
        t0 = time.perf_counter()
        for p in protected:
            buf[:] = p
        return (time.perf_counter() - t0) / N * 1e6

    def unprotect(r):
        rx = srtp.Session(PROFILE, KEY, SALT, backend=c)
        t0 = time.perf_counter()
        for p in protected:
            buf[:] = p
            rx.unprotect_into(buf, size)
        return (time.perf_counter() - t0) / N * 1e6

    copy = _best(copy_only)
    return _best(protect), _best(unprotect) - copy


MICROPYTHON_SCRIPT = r"""
import sys, time
sys.path.insert(0, sys.argv[1])
from zerotap import crypto, srtp
N = %d
ROUNDS = %d
c = crypto.backend("micropython")
key = bytes(range(16)); salt = bytes(range(16, 30))
def rtp(seq):
    return bytes([0x80, 0, (seq >> 8) & 0xFF, seq & 0xFF]) + b"\x00\x00\x01\x00\xca\xfe\xba\xbe" + bytes(%d)
tx0 = srtp.Session(srtp.AES_CM_128_HMAC_SHA1_80, key, salt, backend=c)
protected = [tx0.protect(rtp(i)) for i in range(N)]
size = len(protected[0])
buf = bytearray(size)
def best(f):
    b = None
    for r in range(ROUNDS):
        t = f()
        b = t if b is None or t < b else b
    return b
def protect():
    tx = srtp.Session(srtp.AES_CM_128_HMAC_SHA1_80, key, salt, backend=c)
    buf[:] = protected[0]
    t0 = time.ticks_us()
    for i in range(N):
        buf[2] = i >> 8
        buf[3] = i & 0xFF
        tx.protect_into(buf, size - 10)
    return time.ticks_diff(time.ticks_us(), t0) / N
def copy_only():
    t0 = time.ticks_us()
    for p in protected:
        buf[:] = p
    return time.ticks_diff(time.ticks_us(), t0) / N
def unprotect():
    rx = srtp.Session(srtp.AES_CM_128_HMAC_SHA1_80, key, salt, backend=c)
    t0 = time.ticks_us()
    for p in protected:
        buf[:] = p
        rx.unprotect_into(buf, size)
    return time.ticks_diff(time.ticks_us(), t0) / N
p = best(protect)
u = best(unprotect) - best(copy_only)
print("RESULT %%.3f %%.3f" %% (p, u))
"""


def bench_micropython():
    mp = Path(sys.executable).parent / "micropython"
    if not mp.exists():
        return None
    script = MICROPYTHON_SCRIPT % (2000, ROUNDS, PAYLOAD)
    out = subprocess.run([str(mp), "-X", "heapsize=16M", "-c", script, str(ROOT / "firmware")], capture_output=True,
                         text=True, timeout=600)
    for line in out.stdout.splitlines():
        if line.startswith("RESULT "):
            _, p, u = line.split()
            return float(p), float(u)
    print(out.stdout + out.stderr)
    return None


def _target(what, measured, limit, unit):
    met = measured <= limit
    print("TARGET %s: %.2f %s (target %.2f %s) %s" % (what, measured, unit, limit, unit,
                                                      "met" if met else "MISSED"))


def main():
    ok = True
    lib_p, lib_u = bench_pylibsrtp()
    print("pylibsrtp (libsrtp, bytes API): protect %.2f us, unprotect %.2f us" % (lib_p, lib_u))
    backends = crypto.backends()
    results = {}
    for name in backends:
        c = crypto.backend(name)
        b_p, b_u = _bench_bytes(lambda: srtp.Session(PROFILE, KEY, SALT, backend=c),
                                lambda: srtp.Session(PROFILE, KEY, SALT, backend=c))
        i_p, i_u = _bench_in_place(name)
        results[name] = (b_p, b_u)
        print("zerotap.srtp, %s backend: bytes API protect %.2f us, unprotect %.2f us; "
              "in place protect %.2f us, unprotect %.2f us"
              % (name, b_p, b_u, i_p, i_u))
        print("  ratio to pylibsrtp (bytes API): protect %.2fx, unprotect %.2fx"
              % (b_p / lib_p, b_u / lib_u))
    if "native" in results:
        b_p, b_u = results["native"]
        _target("native protect / pylibsrtp", b_p / lib_p, NATIVE_RATIO, "x")
        _target("native unprotect / pylibsrtp", b_u / lib_u, NATIVE_RATIO, "x")
    else:
        print("TARGET native protect / pylibsrtp: not measured, the native backend does not load "
              "(backends here: %s) MISSED" % ", ".join(backends))
        print("TARGET native unprotect / pylibsrtp: not measured, the native backend does not load "
              "MISSED")
    mp = bench_micropython()
    if mp is None:
        print("MicroPython unix port: could not measure")
        ok = False
    else:
        print("zerotap.srtp on the MicroPython unix port, micropython backend, in place: "
              "protect %.2f us, unprotect %.2f us" % mp)
        _target("MicroPython unix port protect", mp[0], MICROPYTHON_US, "us")
        _target("MicroPython unix port unprotect", mp[1], MICROPYTHON_US, "us")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

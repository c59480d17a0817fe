"""SRTP protect/unprotect speed, per 172-byte packet (12-byte header, 160-byte G.711 payload),
AES_CM_128_HMAC_SHA1_80, against pylibsrtp measured in the same run.

- CPython: pylibsrtp's bytes API, then zerotap.srtp with each crypto backend, bytes API (the same
  shape as pylibsrtp's) and in place (what the media path uses).
  Target: the native backend at most 0.6x pylibsrtp's time, for protect and for unprotect
  (bytes API against bytes API). Where the native transform uses AES-NI and SHA-NI, its figures
  are printed again with them switched off (mbedTLS alone, as on a CPU without them).
- The MicroPython unix port: zerotap.srtp in place with the micropython backend.
  Target: at most 6 us per packet. With ZEROTAP_MICROPYTHON_NATIVE naming a MicroPython binary
  built with native/ as a user C module, its native backend is timed too (a figure, no target).

Each CPython figure is the best of 15 rounds, the rounds of all implementations interleaved so
that the load of the shared machine falls on each alike, with the garbage collector off while
timing. On MicroPython each round starts after a collection (the media path's allocations are
what is timed, not a heap left full by the fixture), the stored packets sit in one buffer, and
the figure is the best round of the best of three processes (a whole process can land on a busy
CPU of the shared machine); the medians are printed too.
The target is checked for both of our APIs against pylibsrtp's bytes API (pylibsrtp has no other).
In place, unprotect needs a new packet each time (replay protection), so it copies a stored
packet into the buffer first; that copy is timed alone and subtracted. In-place protect works on
one buffer and only rewrites the sequence number. The pure-Python backend is timed on one round.
"""
import gc
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
N = 2000
ROUNDS = 15
NATIVE_RATIO = 0.6
MICROPYTHON_US = 6.0
MICROPYTHON_ROUNDS = 60  # of 500 packets each


def _rtp(seq):
    return bytes([0x80, 0x00, seq >> 8 & 0xFF, seq & 0xFF]) + b"\x00\x00\x01\x00" + \
        b"\xca\xfe\xba\xbe" + bytes((seq + i) & 0xFF for i in range(PAYLOAD))


def _pylibsrtp_sessions():
    import pylibsrtp

    def session(outbound):
        policy = pylibsrtp.Policy(
            key=KEY + SALT, srtp_profile=pylibsrtp.Policy.SRTP_PROFILE_AES128_CM_SHA1_80,
            ssrc_type=pylibsrtp.Policy.SSRC_ANY_OUTBOUND if outbound else pylibsrtp.Policy.SSRC_ANY_INBOUND)
        return pylibsrtp.Session(policy)

    return lambda: session(True), lambda: session(False)


def _bytes_api(make_tx, make_rx):
    """Round functions (protect, unprotect) through a bytes -> bytes API, us per packet."""
    plain = [_rtp(i) for i in range(N)]
    tx = make_tx()
    protected = [tx.protect(p) for p in plain]

    def protect():
        tx = make_tx()
        f = tx.protect
        t0 = time.perf_counter()
        for p in plain:
            f(p)
        return (time.perf_counter() - t0) / N * 1e6

    def unprotect():
        rx = make_rx()
        f = rx.unprotect
        t0 = time.perf_counter()
        for p in protected:
            f(p)
        return (time.perf_counter() - t0) / N * 1e6

    return protect, unprotect


def _in_place(c):
    """Round functions (protect, unprotect) of protect_into/unprotect_into, us per packet."""
    tx0 = srtp.Session(PROFILE, KEY, SALT, backend=c)
    protected = [tx0.protect(_rtp(i)) for i in range(N)]
    size = len(protected[0])
    buf = bytearray(size)

    def protect():
        tx = srtp.Session(PROFILE, KEY, SALT, backend=c)
        f = tx.protect_into
        buf[:] = protected[0]
        t0 = time.perf_counter()
        for i in range(N):
            buf[2] = i >> 8
            buf[3] = i & 0xFF
            f(buf, 12 + PAYLOAD)
        return (time.perf_counter() - t0) / N * 1e6

    def copy_only():
        t0 = time.perf_counter()
        for p in protected:
            buf[:] = p
        return (time.perf_counter() - t0) / N * 1e6

    def unprotect():
        rx = srtp.Session(PROFILE, KEY, SALT, backend=c)
        f = rx.unprotect_into
        t0 = time.perf_counter()
        for p in protected:
            buf[:] = p
            f(buf, size)
        return (time.perf_counter() - t0) / N * 1e6

    return protect, unprotect, copy_only


def _measure(rounds):
    """Run every round function ROUNDS times, interleaved so that the load of a shared machine
    falls on all of them alike; the best round of each counts. GC is off while timing."""
    best = {}
    gc.collect()
    gc.disable()
    try:
        for _ in range(ROUNDS):
            for name, f in rounds.items():
                t = f()
                if name not in best or t < best[name]:
                    best[name] = t
    finally:
        gc.enable()
    return best


MICROPYTHON_SCRIPT = r"""
import sys, time, gc, micropython
sys.path.insert(0, sys.argv[1])
from zerotap import crypto, srtp
N = %d
ROUNDS = %d
c = crypto.backend(sys.argv[2])
key = bytes(range(16)); salt = bytes(range(16, 30))
def rtp(seq):
    return bytes([0x80, 0, (seq >> 8) & 0xFF, seq & 0xFF]) + b"\x00\x00\x01\x00\xca\xfe\xba\xbe" + bytes(%d)
# The protected packets sit back to back in one buffer, copied out by a viper loop: a list of N
# bytes objects would leave the heap fragmented, and MicroPython's allocator would then walk
# past the fragments for every multi-block allocation of the code under test.
tx0 = srtp.Session(srtp.AES_CM_128_HMAC_SHA1_80, key, salt, backend=c)
size = len(tx0.protect(rtp(0xFFFF)))
store = bytearray(N * size)
tx0 = srtp.Session(srtp.AES_CM_128_HMAC_SHA1_80, key, salt, backend=c)
for i in range(N):
    store[i * size:(i + 1) * size] = tx0.protect(rtp(i))
buf = bytearray(size)
tx0 = None
@micropython.viper
def load(dst, src, off: int, n: int):
    d = ptr8(dst)
    s = ptr8(src)
    for i in range(n):
        d[i] = s[off + i]
def rounds(f):
    ts = []
    for r in range(ROUNDS):
        gc.collect()
        ts.append(f())
    ts.sort()
    return ts
def protect():
    tx = srtp.Session(srtp.AES_CM_128_HMAC_SHA1_80, key, salt, backend=c)
    load(buf, store, 0, size)
    t0 = time.ticks_us()
    for i in range(N):
        buf[2] = i >> 8
        buf[3] = i & 0xFF
        tx.protect_into(buf, size - 10)
    return time.ticks_diff(time.ticks_us(), t0) / N
def copy_only():
    t0 = time.ticks_us()
    for i in range(N):
        load(buf, store, i * size, size)
    return time.ticks_diff(time.ticks_us(), t0) / N
def unprotect():
    rx = srtp.Session(srtp.AES_CM_128_HMAC_SHA1_80, key, salt, backend=c)
    t0 = time.ticks_us()
    for i in range(N):
        load(buf, store, i * size, size)
        rx.unprotect_into(buf, size)
    return time.ticks_diff(time.ticks_us(), t0) / N
# the rounds of the three take turns, so that a busy moment of the shared machine hits them alike
ts = {protect: [], unprotect: [], copy_only: []}
for r in range(ROUNDS):
    for f in ts:
        gc.collect()
        ts[f].append(f())
p, u = sorted(ts[protect]), sorted(ts[unprotect])
cp = min(ts[copy_only])
print("RESULT %%.3f %%.3f %%.3f %%.3f" %% (p[0], u[0] - cp, p[len(p) // 2], u[len(u) // 2] - cp))
"""


def bench_micropython(backend="micropython", binary=None, processes=3):
    """(protect best, unprotect best, protect median, unprotect median) in us, each the lowest
    of PROCESSES runs of the micropython binary; None when it could not measure."""
    mp = Path(binary) if binary else Path(sys.executable).parent / "micropython"
    if not mp.exists():
        return None
    script = MICROPYTHON_SCRIPT % (500, MICROPYTHON_ROUNDS, PAYLOAD)
    runs = []
    for _ in range(processes):
        out = subprocess.run([str(mp), "-c", script, str(ROOT / "firmware"), backend], capture_output=True,
                             text=True, timeout=600)
        for line in out.stdout.splitlines():
            if line.startswith("RESULT "):
                runs.append([float(x) for x in line.split()[1:]])
        if not runs:
            print(out.stdout + out.stderr)
            return None
    return tuple(min(r[i] for r in runs) for i in range(4))


def _target(what, measured, limit, unit):
    met = measured <= limit
    print("TARGET %s: %.2f %s (target %.2f %s) %s" % (what, measured, unit, limit, unit,
                                                      "met" if met else "MISSED"))


def main():
    ok = True
    rounds = {}
    rounds["lib protect"], rounds["lib unprotect"] = _bytes_api(*_pylibsrtp_sessions())
    backends = crypto.backends()
    for name in backends:
        c = crypto.backend(name)
        make = lambda c=c: srtp.Session(PROFILE, KEY, SALT, backend=c)  # noqa: E731
        rounds[name + " bytes protect"], rounds[name + " bytes unprotect"] = _bytes_api(make, make)
        (rounds[name + " in-place protect"], rounds[name + " in-place unprotect"],
         rounds[name + " copy"]) = _in_place(c)
        if name != "native":  # the slow backends: fewer packets are enough to time them
            for key in list(rounds):
                if key.startswith(name):
                    rounds[key] = _fewer(rounds[key])
    best = _measure(rounds)
    lib_p, lib_u = best["lib protect"], best["lib unprotect"]
    print("pylibsrtp (libsrtp, bytes API): protect %.2f us, unprotect %.2f us" % (lib_p, lib_u))
    for name in backends:
        b_p, b_u = best[name + " bytes protect"], best[name + " bytes unprotect"]
        i_p = best[name + " in-place protect"]
        i_u = best[name + " in-place unprotect"] - best[name + " copy"]
        print("zerotap.srtp, %s backend: bytes API protect %.2f us, unprotect %.2f us; "
              "in place protect %.2f us, unprotect %.2f us" % (name, b_p, b_u, i_p, i_u))
        print("  ratio to pylibsrtp: bytes API protect %.2fx, unprotect %.2fx; "
              "in place protect %.2fx, unprotect %.2fx"
              % (b_p / lib_p, b_u / lib_u, i_p / lib_p, i_u / lib_u))
        if name == "native":
            _target("native protect, bytes API / pylibsrtp", b_p / lib_p, NATIVE_RATIO, "x")
            _target("native unprotect, bytes API / pylibsrtp", b_u / lib_u, NATIVE_RATIO, "x")
            _target("native protect, in place / pylibsrtp", i_p / lib_p, NATIVE_RATIO, "x")
            _target("native unprotect, in place / pylibsrtp", i_u / lib_u, NATIVE_RATIO, "x")
    if "native" in backends:
        _without_cpu_features()
    if "native" not in backends:
        print("TARGET native protect / pylibsrtp: not measured, the native backend does not load "
              "(backends here: %s) MISSED" % ", ".join(backends))
        ok = False
    mp = bench_micropython()
    if mp is None:
        print("MicroPython unix port: could not measure")
        ok = False
    else:
        print("zerotap.srtp on the MicroPython unix port, micropython backend, in place: "
              "protect %.2f us, unprotect %.2f us (best of %d rounds; medians %.2f us, %.2f us)"
              % (mp[0], mp[1], MICROPYTHON_ROUNDS, mp[2], mp[3]))
        _target("MicroPython unix port protect", mp[0], MICROPYTHON_US, "us")
        _target("MicroPython unix port unprotect", mp[1], MICROPYTHON_US, "us")
    native_mp = os.environ.get("ZEROTAP_MICROPYTHON_NATIVE")
    if native_mp:
        mp = bench_micropython("native", native_mp)
        if mp is None:
            print("MicroPython with the native module (%s): could not measure" % native_mp)
        else:
            print("zerotap.srtp on MicroPython with the native module, in place: protect %.2f us, "
                  "unprotect %.2f us (medians %.2f us, %.2f us)" % mp)
    return 0 if ok else 1


def _without_cpu_features():
    """The native figures again with AES-NI and SHA-NI switched off (mbedTLS alone, as on a CPU
    without them): a figure for machines that lack them, no target."""
    c = crypto.backend("native")
    features = c.cpu_features()
    if not features:
        return
    c.cpu_features(False)
    try:
        rounds = {}
        rounds["lib protect"], rounds["lib unprotect"] = _bytes_api(*_pylibsrtp_sessions())
        make = lambda: srtp.Session(PROFILE, KEY, SALT, backend=c)  # noqa: E731
        rounds["bytes protect"], rounds["bytes unprotect"] = _bytes_api(make, make)
        rounds["in-place protect"], rounds["in-place unprotect"], rounds["copy"] = _in_place(c)
        best = _measure(rounds)
    finally:
        c.cpu_features(True)
    lib_p, lib_u = best["lib protect"], best["lib unprotect"]
    print("  without %s (mbedTLS alone), ratio to pylibsrtp: bytes API protect %.2fx, unprotect %.2fx; "
          "in place protect %.2fx, unprotect %.2fx"
          % (" and ".join(features), best["bytes protect"] / lib_p, best["bytes unprotect"] / lib_u,
             best["in-place protect"] / lib_p, (best["in-place unprotect"] - best["copy"]) / lib_u))


def _fewer(f):
    """Time a slow backend on one round only (its figure is for information)."""
    state = {}

    def once():
        if "t" not in state:
            state["t"] = f()
        return state["t"]

    return once


if __name__ == "__main__":
    sys.exit(main())

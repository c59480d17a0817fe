"""One ZRTP exchange between two engines in one process, every engine call timed.

Runs under CPython (imported by bench_zrtp.py) and under the MicroPython unix port:

    micropython tools/bench/zrtp_exchange.py KA [KA ...]      # prints one JSON line per KA

Per key agreement it reports the CPU time each role spent inside the engine for a whole DH
exchange (Hello to SECURE, S256/AES1/HS80/B32), the longest single call (that is the longest
the engine ever blocks its caller), and the longest call that did no DH slice (the engine's own
work: parsing, hashing, KDF, Confirm).
"""
import sys

try:
    from time import ticks_diff, ticks_us

    def _us():
        return ticks_us()

    def _diff(a, b):
        return ticks_diff(b, a)
except ImportError:
    from time import perf_counter_ns

    def _us():
        return perf_counter_ns() // 1000

    def _diff(a, b):
        return b - a


def exchange(ka, hash_name="S256"):
    from zerotap.zrtp import algorithms, engine

    offer = algorithms.Offer(hashes=[hash_name], key_agreements=[ka], ciphers=["AES1"], auth_tags=["HS80"],
                             sas_types=["B32"])
    ini = engine.Engine(1, config=engine.Config(offer=offer, initiate=True))
    res = engine.Engine(2, config=engine.Config(offer=offer, initiate=False))
    cpu = {1: 0, 2: 0}
    longest = [0, 0]  # any call, calls without a DH slice

    def call(x, f, *args):
        busy = x.busy
        t0 = _us()
        f(*args)
        d = _diff(t0, _us())
        cpu[x.ssrc] += d
        if d > longest[0]:
            longest[0] = d
        if not (busy or x.busy) and d > longest[1]:
            longest[1] = d

    call(ini, ini.start, 0)
    call(res, res.start, 0)
    now = 0
    for _ in range(1000000):
        moved = False
        for src, dst in ((ini, res), (res, ini)):
            for p in src.datagrams_to_send():
                call(dst, dst.receive, p, now)
                moved = True
            while src.busy:
                call(src, src.handle_timer, now)
                moved = True
        if not moved:
            break
        now += 1
    if ini.state != "secure" or res.state != "secure" or ini.role != "initiator":
        raise RuntimeError("%s exchange did not complete: %s/%s" % (ka, ini.state, res.state))
    return {"ka": ka, "hash": hash_name, "initiator_us": cpu[1], "responder_us": cpu[2], "longest_us": longest[0],
            "longest_own_us": longest[1]}


def best(ka, repeats=5, hash_name="S256"):
    """The smallest of REPEATS runs for every figure: a long call that the code makes shows up in
    every run, one that the machine's other load caused (this host is shared) does not."""
    runs = [exchange(ka, hash_name) for _ in range(repeats)]
    out = runs[0]
    for r in runs[1:]:
        for k in ("initiator_us", "responder_us", "longest_us", "longest_own_us"):
            out[k] = min(out[k], r[k])
    return out


def main(args):
    import json

    from zerotap import crypto

    for ka in args:
        r = best(ka)
        r["backend"] = crypto.BACKEND
        print(json.dumps(r))


if __name__ == "__main__":
    main(sys.argv[1:])

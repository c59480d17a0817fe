"""`make bench` for ZRTP: CPU per exchange per role and key agreement, and the longest blocking call.

Anchor, measured in the same run: bzrtp (Debian's libbzrtp, Linphone's ZRTP in C over mbedTLS),
two contexts in one process doing the same exchange (S256, AES1, HS80, B32).

- CPython, with the crypto backend that loads first (native when built): our engine's CPU per
  side for X255, DH3k, DH2k, EC25, against bzrtp's per side.
- The MicroPython unix port with the MicroPython backend: the same figures, plus the longest
  single call into the engine. A board is about 200x slower than this machine's unix port.

Targets:
- CPython, one exchange per side: at most 3x bzrtp's, for X255 and for DH3k.
- MicroPython unix port: the engine's own work (everything but the crypto module's DH slices) never
  blocks the caller longer than 1 ms in one call, for X255, EC25 and DH3k with S256 (about 200 ms on
  an ESP32-C3). The longest call including a DH slice is printed: its size is the crypto module's.
"""
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT / "firmware"))
sys.path.insert(0, str(ROOT / "host_tests" / "cpython"))
sys.path.insert(0, str(HERE))

CPYTHON_KAS = ("X255", "DH3k", "DH2k", "EC25")
MICROPYTHON_KAS = ("X255", "EC25", "DH3k", "DH2k", "EC38")
TARGET_RATIO = 3.0
TARGET_OWN_US = 1000


def bzrtp_per_side_ms(ka, repeats=5):
    import bzrtp

    best = None
    suites = dict(hashes=["S256"], ciphers=["AES1"], auth_tags=["HS80"], sas_types=["B32"], key_agreements=[ka])
    for _ in range(repeats):
        a_ctx = bzrtp.BzrtpContext(0x1111, **suites)
        b_ctx = bzrtp.BzrtpContext(0x2222, **suites)
        a, b = a_ctx.main, b_ctx.main
        cpu = 0.0
        now = 0
        t = time.perf_counter()
        a.start(0)
        b.start(0)
        cpu += time.perf_counter() - t
        while not (a.secure and b.secure) and now < 5000:
            for s, d in ((a, b), (b, a)):
                for p in s.take_outbox():
                    t = time.perf_counter()
                    d.receive(p)
                    cpu += time.perf_counter() - t
            t = time.perf_counter()
            a.iterate(now)
            b.iterate(now)
            cpu += time.perf_counter() - t
            now += 10
        a_ctx.close()
        b_ctx.close()
        if not (a.secure and b.secure):
            raise RuntimeError("bzrtp %s exchange did not complete" % ka)
        best = cpu if best is None else min(best, cpu)
    return best / 2 * 1000


def micropython_runs():
    mp = ROOT / ".venv" / "bin" / "micropython"
    env = dict(os.environ)
    env["MICROPYPATH"] = "%s:%s:.frozen" % (ROOT / "firmware", HERE)
    out = subprocess.run([str(mp), str(HERE / "zrtp_exchange.py")] + list(MICROPYTHON_KAS), capture_output=True,
                         text=True, env=env, timeout=600)
    if out.returncode:
        raise RuntimeError("micropython run failed: %s" % (out.stderr or out.stdout))
    return [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]


def main():
    import zrtp_exchange
    from zerotap import crypto

    print("crypto backend on CPython: %s" % crypto.BACKEND)
    ok = True
    anchors = {}
    for ka in ("X255", "DH3k", "DH2k"):
        anchors[ka] = bzrtp_per_side_ms(ka)
        print("bzrtp %-5s per side: %.2f ms (anchor)" % (ka, anchors[ka]))
    ours = {}
    for ka in CPYTHON_KAS:
        r = zrtp_exchange.best(ka, repeats=5)
        ours[ka] = r
        print("CPython %-5s initiator %.2f ms, responder %.2f ms, longest call %.2f ms (%s backend)"
              % (ka, r["initiator_us"] / 1000, r["responder_us"] / 1000, r["longest_us"] / 1000, crypto.BACKEND))
    for ka in ("X255", "DH3k"):
        side = max(ours[ka]["initiator_us"], ours[ka]["responder_us"]) / 1000
        limit = TARGET_RATIO * anchors[ka]
        print("TARGET CPython %s exchange per side (%s backend): %.2f ms (target %.2f ms = %gx bzrtp) %s"
              % (ka, crypto.BACKEND, side, limit, TARGET_RATIO, "met" if side <= limit else "MISSED"))
    try:
        runs = micropython_runs()
    except Exception as e:  # the figures below are part of the benchmark: no measurement is a failure
        print("micropython measurement failed: %s" % e)
        return 1
    own = 0
    for r in runs:
        print("MicroPython %-5s initiator %.1f ms, responder %.1f ms, longest call %.2f ms, longest without a "
              "DH slice %.2f ms (%s backend)" % (r["ka"], r["initiator_us"] / 1000, r["responder_us"] / 1000,
                                                  r["longest_us"] / 1000, r["longest_own_us"] / 1000, r["backend"]))
        if r["ka"] in ("X255", "EC25", "DH3k"):
            own = max(own, r["longest_own_us"])
    print("TARGET MicroPython unix port, longest engine call outside DH slices (X255, EC25, DH3k; S256): "
          "%.2f ms (target %.2f ms) %s" % (own / 1000, TARGET_OWN_US / 1000, "met" if own <= TARGET_OWN_US else "MISSED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

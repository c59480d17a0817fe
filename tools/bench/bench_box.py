"""The box's benchmarks (`make bench BENCH=box`).

1. Handshake time, from the answer to SECURE, read from the ZRTP peer's own log (linphonec -d 6:
   the call reaching Connected, then "ZRTP secrets on"), so both cases use one clock and one
   observer:
   - anchor: linphonec (ZRTP) -> linphonec (ZRTP, auto-answer), directly;
   - the box: linphonec (plain) -> box (CPython) -> linphonec (ZRTP, auto-answer);
   - also reported: the same with the box under the MicroPython unix port.
   TARGET: the box's median at most the anchor's median.
2. Per-packet relay cost on the secure path (one box, one G.711 packet, SRTP protect or
   unprotect plus the session's checks), on CPython and on the MicroPython unix port, in-process
   (tools/bench/box_relay.py); the anchor is libsrtp (pylibsrtp) protecting and unprotecting the
   same packet.
3. MicroPython heap in use (gc.mem_alloc) with 0, 1 and 2 secure calls on the unix port.
   TARGET: at most 32 KB per secure call.
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "host_tests" / "cpython"))

import ports  # noqa: E402
from boxproc import BoxProcess  # noqa: E402
from linphone import Linphone  # noqa: E402

RUNS = int(os.environ.get("BENCH_BOX_RUNS", "7"))
HEAP_TARGET = 32 * 1024


def handshake(work, via_box=None):
    """One call; the ZRTP peer's handshake time in ms, or None."""
    box = None
    if via_box:
        box = BoxProcess(work / "box", "B", interpreter=via_box).start()
        account = {"identity": "sip:alice@127.0.0.1", "proxy": box.phone_uri, "register": False}
        a = Linphone(work / "alice", ports.udp_port(), ports.udp_pair(), encryption="none",
                     account=account)
    else:
        a = Linphone(work / "alice", ports.udp_port(), ports.udp_pair(), encryption="zrtp")
    b = Linphone(work / "bob", ports.udp_port(), ports.udp_pair(), encryption="zrtp",
                 auto_answer=True)
    try:
        a.start()
        b.start()
        a.call("sip:bob@127.0.0.1:%d" % b.sip_port)
        b.wait_encrypted(30)
        time.sleep(0.3)
        a.terminate_call()
        a.wait_ended()
        return b.handshake_ms()
    finally:
        for p in (a, b, box):
            if p is not None:
                p.stop()


def median_ms(label, via_box):
    times = []
    for i in range(RUNS):
        with tempfile.TemporaryDirectory(prefix="zerotap-bench-") as d:
            t = handshake(Path(d), via_box)
        if t is None:
            raise SystemExit("bench_box: no handshake time for %s" % label)
        times.append(t)
    med = statistics.median(times)
    print("handshake %-34s median %4d ms  (runs: %s)" % (label, med, " ".join(map(str, times))),
          flush=True)
    return med


def relay_figures():
    env = dict(os.environ, PYTHONPATH=str(ROOT / "firmware"))
    cp = subprocess.run([sys.executable, str(ROOT / "tools/bench/box_relay.py"), "5000"],
                        capture_output=True, text=True, env=env, timeout=300)
    mp_env = dict(os.environ, MICROPYPATH=str(ROOT / "firmware") + ":.frozen")
    mp = subprocess.run([str(Path(sys.executable).parent / "micropython"),
                         str(ROOT / "tools/bench/box_relay.py"), "2000"],
                        capture_output=True, text=True, env=mp_env, timeout=300)
    for r, name in ((cp, "CPython"), (mp, "MicroPython")):
        if r.returncode != 0:
            raise SystemExit("bench_box: box_relay under %s failed:\n%s" % (name, r.stderr))
    return ([json.loads(line) for line in cp.stdout.splitlines()],
            [json.loads(line) for line in mp.stdout.splitlines()])


def libsrtp_anchor(n=5000):
    import pylibsrtp
    key = bytes(range(30))
    tx = pylibsrtp.Session(pylibsrtp.Policy(key=key, ssrc_type=pylibsrtp.Policy.SSRC_ANY_OUTBOUND,
                                            srtp_profile=pylibsrtp.Policy.SRTP_PROFILE_AES128_CM_SHA1_80))
    rx = pylibsrtp.Session(pylibsrtp.Policy(key=key, ssrc_type=pylibsrtp.Policy.SSRC_ANY_INBOUND,
                                            srtp_profile=pylibsrtp.Policy.SRTP_PROFILE_AES128_CM_SHA1_80))
    t0 = time.perf_counter()
    for seq in range(1, n + 1):
        pkt = bytes((0x80, 0, seq >> 8, seq & 0xFF, 0, 0, 0, 0, 1, 2, 3, 4)) + bytes(160)
        rx.unprotect(tx.protect(pkt))
    return (time.perf_counter() - t0) * 1e6 / n / 2


def main():
    anchor = median_ms("linphonec -> linphonec (anchor)", None)
    box_cp = median_ms("box on CPython -> linphonec", "cpython")
    box_mp = median_ms("box on MicroPython -> linphonec", "micropython")
    print("TARGET handshake box (CPython) vs linphonec anchor: %d ms (target <= %d ms) %s"
          % (box_cp, anchor, "met" if box_cp <= anchor else "MISSED"), flush=True)
    print("handshake box on MicroPython: %d ms (anchor %d ms; reported, no target)"
          % (box_mp, anchor))

    cp, mp = relay_figures()
    anchor_us = libsrtp_anchor()
    cp_us = [x for x in cp if x["what"] == "relay"][0]["us_per_packet"]
    mp_us = [x for x in mp if x["what"] == "relay"][0]["us_per_packet"]
    cp_bare = [x for x in cp if x["what"] == "relay_without_keypad"][0]["us_per_packet"]
    mp_bare = [x for x in mp if x["what"] == "relay_without_keypad"][0]["us_per_packet"]
    print("relay cost per packet, secure path with the keypad filter: CPython %.1f us, "
          "MicroPython unix port %.1f us (without the filter: %.1f us, %.1f us; libsrtp "
          "protect/unprotect anchor %.1f us)" % (cp_us, mp_us, cp_bare, mp_bare, anchor_us))
    cp_f = [x for x in cp if x["what"] == "keypad_filter"][0]["us_per_packet"]
    mp_f = [x for x in mp if x["what"] == "keypad_filter"][0]["us_per_packet"]
    print("keypad filter alone, per audio packet from the phone: CPython %.2f us, MicroPython "
          "unix port %.2f us" % (cp_f, mp_f))
    heap = {x["calls"]: x["bytes"] for x in mp if x["what"] == "heap"}
    print("MicroPython heap in use: 0 calls %d B, 1 secure call %d B, 2 secure calls %d B"
          % (heap[0], heap[1], heap[2]))
    per_call = max(heap[1] - heap[0], (heap[2] - heap[0]) / 2)
    print("TARGET MicroPython heap per secure call: %.1f KB (target <= %d KB) %s"
          % (per_call / 1024, HEAP_TARGET // 1024, "met" if per_call <= HEAP_TARGET else
             "MISSED"))
    return 0


if __name__ == "__main__":
    sys.exit(main())

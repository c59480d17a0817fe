"""ICE benchmarks (`make bench BENCH=ice`).

1. Time from the start of the connectivity checks (both sides hold each other's candidates and
   credentials) to a nominated pair on both sides, over real UDP sockets on 127.0.0.1, host
   candidates only:
   - anchor: aioice against aioice (one asyncio loop; aioice nominates aggressively);
   - ours against ours (one udp.Loop, one thread; regular nomination);
   - ours (its own thread, controlling) against aioice (controlled).
   Rounds are interleaved so that the shared machine's load falls on each alike; medians.
   TARGET: each of ours at most the anchor's median.
2. MicroPython unix port heap (gc.mem_alloc) per ICE agent with a TURN allocation from coturn,
   connected to a peer over loopback (tools/bench/ice_heap.py, 4 agents in one process).
   TARGET: at most 12 KB per agent.
"""
import asyncio
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "host_tests" / "cpython"))

import ports  # noqa: E402
from coturn import Coturn  # noqa: E402
from icepeers import OurPeer, aioice_on_loopback  # noqa: E402

from zerotap.ice import agent as ice  # noqa: E402
from zerotap.runtime import ice as rt  # noqa: E402
from zerotap.runtime import udp  # noqa: E402

ROUNDS = int(os.environ.get("BENCH_ICE_ROUNDS", "15"))
HEAP_TARGET = 12 * 1024


def ours_vs_ours():
    loop = udp.Loop()
    a = ice.Agent(True, os.urandom)
    b = ice.Agent(False, os.urandom)
    da = rt.Driver(loop, "127.0.0.1", 0, a)
    db = rt.Driver(loop, "127.0.0.1", 0, b)
    try:
        a.gather([("127.0.0.1", da.port)], loop.clock())
        b.gather([("127.0.0.1", db.port)], loop.clock())
        a.set_remote(b.ufrag, b.pwd, b.local_candidates())
        b.set_remote(a.ufrag, a.pwd, a.local_candidates())
        t0 = time.perf_counter()
        a.start(loop.clock())
        b.start(loop.clock())
        da.flush(loop.clock())
        db.flush(loop.clock())
        ok = rt.run(loop, [da, db], lambda: a.selected is not None and b.selected is not None,
                    5000, max_wait_ms=5)
        t = time.perf_counter() - t0
        return t * 1000 if ok else None
    finally:
        loop.close_all()


async def _aioice_pair():
    import aioice
    a = aioice.Connection(ice_controlling=True, components=1, use_ipv6=False)
    b = aioice.Connection(ice_controlling=False, components=1, use_ipv6=False)
    await asyncio.gather(a.gather_candidates(), b.gather_candidates())
    for x, y in ((a, b), (b, a)):
        x.remote_username = y.local_username
        x.remote_password = y.local_password
        for c in y.local_candidates:
            await x.add_remote_candidate(c)
        await x.add_remote_candidate(None)
    t0 = time.perf_counter()
    await asyncio.wait_for(asyncio.gather(a.connect(), b.connect()), 10)
    t = time.perf_counter() - t0
    await a.close()
    await b.close()
    return t * 1000


async def _ours_vs_aioice():
    import aioice
    far = aioice.Connection(ice_controlling=False, components=1, use_ipv6=False)
    await far.gather_candidates()
    ours = OurPeer(True)
    try:
        far.remote_username = ours.agent.ufrag
        far.remote_password = ours.agent.pwd
        for c in ours.candidates():
            await far.add_remote_candidate(aioice.Candidate.from_sdp(c))
        await far.add_remote_candidate(None)
        t0 = time.perf_counter()
        mono0 = time.monotonic()
        ours.connect(far.local_username, far.local_password,
                     [c.to_sdp() for c in far.local_candidates])
        await asyncio.wait_for(far.connect(), 10)
        t_far = time.perf_counter() - t0
        end = time.monotonic() + 5
        while ours.selected_at is None and time.monotonic() < end:
            await asyncio.sleep(0.001)
        if ours.selected_at is None:
            return None
        return max(t_far, ours.selected_at - mono0) * 1000
    finally:
        ours.close()
        await far.close()


def timing():
    aioice_on_loopback()
    results = {"anchor": [], "ours": [], "ours_aioice": []}
    for _ in range(ROUNDS):
        results["anchor"].append(asyncio.run(_aioice_pair()))
        results["ours"].append(ours_vs_ours())
        results["ours_aioice"].append(asyncio.run(_ours_vs_aioice()))
    med = {}
    for k, v in results.items():
        if any(x is None for x in v):
            print("ERROR %s: %d of %d rounds did not connect" % (k, v.count(None), len(v)))
            return False
        med[k] = statistics.median(v)
        print("%-12s median %.1f ms, min %.1f, max %.1f (%d rounds)"
              % (k, med[k], min(v), max(v), len(v)), flush=True)
    for k, what in (("ours", "ours vs ours"), ("ours_aioice", "ours vs aioice")):
        print("TARGET ICE start to nominated pair on loopback, %s: %.1f ms (target <= aioice vs "
              "aioice %.1f ms) %s" % (what, med[k], med["anchor"],
                                      "met" if med[k] <= med["anchor"] else "MISSED"))
    return True


def heap():
    mp = Path(sys.executable).parent / "micropython"
    env = dict(os.environ, MICROPYPATH=str(ROOT / "firmware") + ":.frozen")
    with Coturn() as srv:
        user, password = srv.credentials("bench")
        p = [str(ports.udp_port()) for _ in range(4)]
        r = subprocess.run([str(mp), str(ROOT / "tools" / "bench" / "ice_heap.py"), srv.addr[0],
                            str(srv.addr[1]), user, password] + p, env=env,
                           capture_output=True, text=True, timeout=120)
    line = [x for x in r.stdout.splitlines() if x.startswith("HEAP ")]
    if r.returncode != 0 or not line:
        print("ERROR MicroPython heap run: %s %s" % (r.stdout[-1000:], r.stderr[-1000:]))
        return False
    before, after, n = (int(x) for x in line[0].split()[1:])
    per = (after - before) / n
    print("MicroPython heap: %d bytes before, %d after %d connected agents with TURN allocations"
          % (before, after, n))
    print("TARGET MicroPython heap per ICE agent with a TURN allocation: %.1f KB (target <= %d KB)"
          " %s" % (per / 1024, HEAP_TARGET // 1024, "met" if per <= HEAP_TARGET else "MISSED"))
    return True


def main():
    ok = timing()
    ok = heap() and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

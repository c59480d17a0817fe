"""ICE benchmarks (`make bench BENCH=ice`).

1. Time from the start of the connectivity checks (both sides hold each other's candidates and
   credentials) to a nominated pair on both sides, over real UDP sockets on 127.0.0.1, host
   candidates only. For aioice the moment is when its check list completes (a subclass notes
   it); the time to aioice's connect() returning is printed too (it adds aioice's 20 ms pacing
   sleep to every pairing with aioice):
   - anchor: aioice against aioice (one asyncio loop; aioice nominates aggressively);
   - ours against ours (one udp.Loop, one thread; regular nomination);
   - ours (in the same asyncio loop through icepeers.AsyncPeer) against aioice, in both roles.
     Controlling, ours nominates regularly (RFC 8445), which costs one more round trip than
     aioice's aggressive nomination in the anchor: three more datagrams, one of them a second
     request that aioice has to answer. For comparison only (no target), ours controlling
     with aggressive nomination (``aggressive=True``, RFC 5245's, which RFC 8445 deprecates and
     the issue does not ask for) against aioice: the difference to the regular case is what
     the second round trip costs.
   The same start for all: t0 is taken once both sides hold each other's candidates and
   credentials (aioice's add_remote_candidate, our set_remote, both before t0), then the two
   sides start in the anchor's order: the first side's connect() body runs to its first wait,
   then the second side starts. (connect() is made the task itself: wrapped in wait_for, its
   body ran one loop turn after ours.) The same end for all: a nominated pair on both sides.
   Rounds are interleaved so that the shared machine's load falls on each alike, each after a
   garbage collection; medians. On a loaded machine a round that the OS preempts takes
   several ms whoever plays, so medians move with the load; compare figures of one run only.
   TARGET: each of ours at most the anchor's median.
   What it measures: with both agents in one thread, the figure is the SUM of both agents' CPU
   work until both hold a nominated pair (loopback delivers within sendto, the loop never
   waits), not the latency two hosts would see. tools/bench/ice_breakdown.py shows where the
   figure goes (our side, aioice's requests and answers, tasks, the loop) and
   tools/bench/ice_phases.py counts our controlling side's work per phase.
2. The same cases, each agent in a process of its own, like two hosts: the anchor (aioice
   against aioice), ours against ours, ours controlling (regular nomination) against aioice
   controlled, ours controlled against aioice controlling, and the INFO case (ours controlling
   with aggressive nomination). Each agent works on its own CPU at the same time as the other,
   so the figure is the critical path: the hops between the sides (here a loopback datagram and
   the wake-up of the process that sleeps for it) plus each side's work on that path. An extra
   round trip (regular nomination) costs two more hops; faster work per datagram pays on
   every hop. One harness for every case (tools/bench/ice_worker.py):
   - two long-lived worker processes per case, one per agent, each with its agent's own
     runtime: aioice's Connection in an asyncio event loop, ours on a zerotap.runtime.udp.Loop
     driven by zerotap.runtime.ice (as the box runs it); the loop lives as long as the worker,
     each round makes a new agent on a new socket on 127.0.0.1 (host candidates only);
   - the parent hands each side the other's candidates and credentials over the workers'
     pipes BEFORE t0; each worker collects garbage, says ready and blocks in poll() on one
     start pipe shared by all workers (without reading it). 2 ms later the parent writes one
     byte: both wake; each notes time.monotonic() (CLOCK_MONOTONIC, one clock for every
     process on Linux) and starts its agent at once (aioice: ``await connect()`` in the
     worker's task; ours: ``start()``, then the loop). Each notes the monotonic time its side
     got a nominated pair (aioice: its check list completes, as in 1; ours: the "selected"
     event) and reports it after the round, while the parent sleeps (30 ms: it wakes no core
     during a round). Figure: the later end minus t0, the earlier of the two starts;
   - with two or more CPUs, the two workers of a case are pinned to two different cores (the
     roles swap cores from one round to the next), in every case alike (BENCH_ICE_PIN=0: no
     pinning; the scheduler then often runs both on one core, one after the other);
   - every worker runs at real-time priority (SCHED_FIFO 10; BENCH_ICE_RT=0: normal), alike
     in every case: on the shared host, a datagram's wake-up then preempts the other
     engineers' processes, as on a host of its own. (Without it, at a load of 8 on 2 cores,
     nearly every round had a worker wait for its core.) Workers sleep between datagrams, and
     the kernel's real-time throttling bounds them anyway;
   - the host is shared, so a round counts only when no other process held a worker's core:
     the two sides woke at most 100 us apart, and neither waited more than 100 us in all on a
     run queue between the start pipe and its end (/proc/self/schedstat, read in about 1 us
     by every worker alike). Disturbed rounds are counted and printed, never mixed in: the
     criterion is the other processes' doing, not the agents'. (A side that works longer is
     disturbed more often, so a slow case needs more tries; the rounds it keeps are its own
     time.) One uncounted warm-up round per case; then rounds, the cases interleaved (each
     first in turn), until each case has ROUNDS undisturbed ones or 120 s have passed (fewer
     than 7 in a case: ERROR, the host is too loaded to measure); medians, quartiles, min and
     max; the start skew, the wake-up after the parent's write and the run-queue wait are
     printed too.
   TARGET: each of ours at most the two-process anchor's median (own TARGET lines, marked TWO
   PROCESSES; the one-loop lines of 1 stay as they are).
3. MicroPython unix port heap (gc.mem_alloc) per ICE agent with a TURN allocation from coturn,
   connected to a peer over loopback (tools/bench/ice_heap.py, 4 agents in one process).
   TARGET: at most 12 KB per agent.
"""
import asyncio
import gc
import json
import os
import select
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "host_tests" / "cpython"))

import ports  # noqa: E402
from coturn import Coturn  # noqa: E402
from icepeers import AsyncPeer, aioice_on_loopback  # noqa: E402

from zerotap.ice import agent as ice  # noqa: E402
from zerotap.runtime import ice as rt  # noqa: E402
from zerotap.runtime import udp  # noqa: E402

ROUNDS = int(os.environ.get("BENCH_ICE_ROUNDS", "41"))
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


def _timed_connection():
    """aioice's Connection, noting when its check list completes (a nominated pair): that moment
    is ICE's result; connect() itself returns on aioice's next 20 ms pacing tick."""
    import aioice

    class Timed(aioice.Connection):
        nominated_at = None

        def _check_list_maybe_complete(self):
            done = super()._check_list_maybe_complete()
            if done and self.nominated_at is None:
                self.nominated_at = time.monotonic()
            return done
    return Timed


async def _aioice_pair():
    timed = _timed_connection()
    a = timed(ice_controlling=True, components=1, use_ipv6=False)
    b = timed(ice_controlling=False, components=1, use_ipv6=False)
    await asyncio.gather(a.gather_candidates(), b.gather_candidates())
    for x, y in ((a, b), (b, a)):
        x.remote_username = y.local_username
        x.remote_password = y.local_password
        for c in y.local_candidates:
            await x.add_remote_candidate(c)
        await x.add_remote_candidate(None)
    t0 = time.monotonic()
    await asyncio.wait_for(asyncio.gather(a.connect(), b.connect()), 10)
    t_connect = time.monotonic() - t0
    t = max(a.nominated_at, b.nominated_at) - t0
    await a.close()
    await b.close()
    return t * 1000, t_connect * 1000


async def _ours_vs_aioice(our_controlling, aggressive=False):
    import aioice
    far = _timed_connection()(ice_controlling=not our_controlling, components=1, use_ipv6=False)
    ours = AsyncPeer(our_controlling, aggressive=aggressive)
    await asyncio.gather(far.gather_candidates(), ours.open())
    try:
        far.remote_username = ours.agent.ufrag
        far.remote_password = ours.agent.pwd
        for c in ours.candidates():
            await far.add_remote_candidate(aioice.Candidate.from_sdp(c))
        await far.add_remote_candidate(None)
        # each side holds the other's candidates before t0, as in the anchor
        ours.set_remote(far.local_username, far.local_password,
                        [c.to_sdp() for c in far.local_candidates])
        t0 = time.monotonic()
        # both start at t0, as the anchor's two connect() calls do: aioice's connect() first
        # runs to its first wait (it paces its checks with a 20 ms sleep), then ours starts.
        # (connect() is the task itself: wrapped in wait_for here, its body would only run
        # one loop turn after ours.)
        far_done = asyncio.ensure_future(far.connect())
        await asyncio.sleep(0)
        ours.start()
        await asyncio.wait_for(far_done, 10)
        t_connect = time.monotonic() - t0
        end = time.monotonic() + 5
        while ours.selected_at is None and time.monotonic() < end:
            await asyncio.sleep(0.001)
        if ours.selected_at is None or far.nominated_at is None:
            return None
        t = max(far.nominated_at, ours.selected_at) - t0
        return t * 1000, max(t_connect, ours.selected_at - t0) * 1000
    finally:
        ours.close()
        await far.close()


def timing():
    aioice_on_loopback()
    cases = (("anchor", "aioice vs aioice", _aioice_pair),
             ("ours_ctl", "ours controlling (regular) vs aioice controlled",
              lambda: _ours_vs_aioice(True)),
             ("ours_cted", "ours controlled vs aioice controlling (aggressive)",
              lambda: _ours_vs_aioice(False)),
             ("ours_aggr", "ours controlling AGGRESSIVE (not RFC 8445; shown, no target) vs "
              "aioice controlled", lambda: _ours_vs_aioice(True, aggressive=True)))
    results = {"ours": []}
    connect = {}
    for k, _, _ in cases:
        results[k] = []
        connect[k] = []
    for _ in range(ROUNDS):
        for k, _, f in cases:
            gc.collect()
            r = asyncio.run(f())
            results[k].append(r and r[0])
            connect[k].append(r and r[1])
        gc.collect()
        results["ours"].append(ours_vs_ours())
    med = {}
    for k, v in results.items():
        if any(x is None for x in v):
            print("ERROR %s: %d of %d rounds did not connect" % (k, v.count(None), len(v)))
            return False
        med[k] = statistics.median(v)
        print("%-10s to nominated pair: median %.2f ms, min %.2f, max %.2f (%d rounds)"
              % (k, med[k], min(v), max(v), len(v)), flush=True)
    for k, v in connect.items():
        print("%-10s to aioice's connect() returning: median %.1f ms (aioice paces its checks"
              " with a 20 ms sleep)" % (k, statistics.median(v)))
    for k, what in (("ours", "ours vs ours (regular nomination)"),
                    ("ours_ctl", cases[1][1]), ("ours_cted", cases[2][1])):
        print("TARGET ICE start to nominated pair on loopback, %s: %.2f ms (target <= aioice vs "
              "aioice %.2f ms) %s" % (what, med[k], med["anchor"],
                                      "met" if med[k] <= med["anchor"] else "MISSED"))
    print("INFO %s: %.2f ms; regular nomination's second round trip costs %.2f ms here"
          % (cases[3][1], med["ours_aggr"], med["ours_ctl"] - med["ours_aggr"]))
    return True


# --- two processes: each agent in a process of its own, like two hosts -------------------------

WORKER = Path(__file__).resolve().with_name("ice_worker.py")
SETTLE_S = 0.002  # after both "ready": both workers are blocked in poll() on the start pipe
ROUND_S = 0.03  # the parent sleeps while a round runs, so that it wakes on no core meanwhile
SKEW_LIMIT_S = 100e-6  # a round whose two sides woke further apart than this,
RUNQ_LIMIT_S = 100e-6  # or in which a side waited longer on a run queue, is disturbed
TWO_BUDGET_S = 120  # rounds until each case has ROUNDS undisturbed ones, at most this long,
TWO_MIN_ROUNDS = 7  # and at least this many undisturbed ones per case (else: ERROR)
TWO_CASES = (  # key, what, (impl, aggressive) controlling, (impl) controlled
    ("anchor", "aioice vs aioice", ("aioice", False), "aioice"),
    ("ours", "ours vs ours (regular nomination)", ("ours", False), "ours"),
    ("ours_ctl", "ours controlling (regular) vs aioice controlled", ("ours", False), "aioice"),
    ("ours_cted", "ours controlled vs aioice controlling (aggressive)", ("aioice", False),
     "ours"),
    ("ours_aggr", "ours controlling AGGRESSIVE (not RFC 8445; shown, no target) vs aioice "
     "controlled", ("ours", True), "aioice"))


class _Worker:
    """One tools/bench/ice_worker.py process: JSON lines on its stdin and stdout."""

    def __init__(self, impl, controlling, aggressive, barrier, cpu, rt_prio):
        self.proc = subprocess.Popen(
            [sys.executable, str(WORKER), impl, "1" if controlling else "0",
             "1" if aggressive else "0", str(barrier), str(cpu)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, pass_fds=(barrier,), cwd=str(ROOT),
            env=dict(os.environ, ICE_WORKER_RT=str(rt_prio)))
        self.buf = b""
        self.rt = self.read(60)["rt"]  # hello: imports done

    def send(self, obj):
        os.write(self.proc.stdin.fileno(), (json.dumps(obj) + "\n").encode())

    def read(self, timeout=15):
        fd = self.proc.stdout.fileno()
        end = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = end - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise RuntimeError("ICE worker %s: no answer in %d s" % (self.proc.args, timeout))
            chunk = os.read(fd, 65536)
            if not chunk:
                raise RuntimeError("ICE worker %s exited (%s)" % (self.proc.args,
                                                                   self.proc.wait()))
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def close(self):
        try:
            self.proc.stdin.close()
            self.proc.wait(5)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()


def _two_round(pair, barrier_r, barrier_w):
    """One round on a case's two workers (controlling, controlled): (time to a nominated pair on
    both sides from the first side's start, start skew, wake-up after the parent's write), in
    s, or None."""
    for w in pair:
        w.send({"op": "gather"})
    offers = [w.read() for w in pair]
    for w, far in zip(pair, reversed(offers)):
        w.send(dict(far, op="remote"))
    for w in pair:
        w.read()  # ready: gc done, blocking in poll() on the start pipe
    time.sleep(SETTLE_S)
    t_write = time.monotonic()
    os.write(barrier_w, b"x")  # one write wakes both
    time.sleep(ROUND_S)
    got = [w.read() for w in pair]
    os.read(barrier_r, 1)  # both are past the start pipe: shut it for the next round
    for w in pair:
        w.send({"op": "end"})
    for w in pair:
        w.read()
    if any(g["t_end"] is None for g in got):
        return None
    t0 = min(g["t_start"] for g in got)
    return (max(g["t_end"] for g in got) - t0,
            abs(got[0]["t_start"] - got[1]["t_start"]), t0 - t_write,
            max(g["runq_us"] for g in got) * 1e-6)


def _quartiles(v):
    q = statistics.quantiles(v, n=4)
    return q[0], q[2]


def two_processes():
    """The same cases with each agent in a process of its own (see the module docstring)."""
    pin = os.environ.get("BENCH_ICE_PIN", "1") == "1" and hasattr(os, "sched_getaffinity") \
        and len(os.sched_getaffinity(0)) >= 2
    cpus = sorted(os.sched_getaffinity(0))[:2] if pin else [-1, -1]
    rt_prio = 10 if os.environ.get("BENCH_ICE_RT", "1") == "1" else 0
    barrier_r, barrier_w = os.pipe()
    workers = {}
    try:
        for key, _, (impl_a, aggressive), impl_b in TWO_CASES:
            workers[key] = (_Worker(impl_a, True, aggressive, barrier_r, cpus[0], rt_prio),
                            _Worker(impl_b, False, False, barrier_r, cpus[1], rt_prio))
        rts = {w.rt for pair in workers.values() for w in pair}
        print("two processes: each agent in a process of its own (like two hosts), %s, %s; "
              "figures from the first side's start to a nominated pair on both sides"
              % ("the two sides pinned to cpus %d and %d (swapped every round)" % tuple(cpus)
                 if pin else "not pinned (BENCH_ICE_PIN=0)",
                 "every worker SCHED_FIFO priority %d" % rt_prio if rts == {True} else
                 "normal scheduling (%s)" % ("BENCH_ICE_RT=0" if not rt_prio
                                             else "SCHED_FIFO not permitted")), flush=True)
        results = {k: [] for k, _, _, _ in TWO_CASES}
        skew = {k: [] for k, _, _, _ in TWO_CASES}
        wake = {k: [] for k, _, _, _ in TWO_CASES}
        keys = [k for k, _, _, _ in TWO_CASES]
        disturbed = {k: 0 for k in keys}
        runq = {k: [] for k in keys}
        failed = {k: 0 for k in keys}
        every = {k: [] for k in keys}  # disturbed rounds too, for the record
        for k in keys:  # one round each to warm the workers up, not counted
            _two_round(workers[k], barrier_r, barrier_w)
        end = time.monotonic() + TWO_BUDGET_S
        i = 0
        while time.monotonic() < end:
            short = [k for k in keys if len(results[k]) < ROUNDS]
            if not short:
                break
            for k in short[i % len(short):] + short[:i % len(short)]:  # each first in turn
                if pin:  # the roles swap cores every try, in every case alike
                    for w, cpu in zip(workers[k], cpus[i % 2:] + cpus[:i % 2]):
                        os.sched_setaffinity(w.proc.pid, {cpu})
                r = _two_round(workers[k], barrier_r, barrier_w)
                if r is None:
                    failed[k] += 1
                elif r[1] > SKEW_LIMIT_S or r[3] > RUNQ_LIMIT_S:
                    disturbed[k] += 1  # another process held a core: not counted
                    every[k].append(r[0] * 1000)
                else:
                    every[k].append(r[0] * 1000)
                    results[k].append(r[0] * 1000)
                    skew[k].append(r[1] * 1e6)
                    wake[k].append(r[2] * 1e6)
                    runq[k].append(r[3] * 1e6)
            i += 1
    finally:
        os.close(barrier_w)  # a worker still waiting on the start pipe wakes to its end
        for pair in workers.values():
            for w in pair:
                w.close()
        os.close(barrier_r)
    med = {}
    short = []
    for k, what, _, _ in TWO_CASES:
        v = results[k]
        if failed[k]:
            print("ERROR two processes %s: %d rounds did not connect" % (k, failed[k]))
            return False
        if len(v) < min(TWO_MIN_ROUNDS, ROUNDS):
            short.append(k)
        if len(v) < 2:
            print("2proc %-10s only %d undisturbed rounds (%d disturbed)" % (k, len(v),
                                                                           disturbed[k]))
            continue
        med[k] = statistics.median(v)
        q1, q3 = _quartiles(v)
        print("2proc %-10s to nominated pair: median %.2f ms, quartiles %.2f-%.2f, min %.2f, "
              "max %.2f (%d undisturbed rounds; %d disturbed, not counted: with them the "
              "median is %.2f ms); start skew median %.0f us, wake-up median %.0f us, "
              "run-queue wait median %.0f us"
              % (k, med[k], q1, q3, min(v), max(v), len(v), disturbed[k],
                 statistics.median(every[k]), statistics.median(skew[k]),
                 statistics.median(wake[k]), statistics.median(runq[k])), flush=True)
    if short:
        print("ERROR two processes: fewer than %d undisturbed rounds in %d s for %s: the "
              "machine is too loaded to measure" % (TWO_MIN_ROUNDS, TWO_BUDGET_S,
                                                    ", ".join(short)))
        return False
    for k, what, _, _ in TWO_CASES[1:4]:
        print("TARGET ICE start to nominated pair on loopback, TWO PROCESSES (one per agent), "
              "%s: %.2f ms (target <= aioice vs aioice in two processes %.2f ms) %s"
              % (what, med[k], med["anchor"], "met" if med[k] <= med["anchor"] else "MISSED"))
    print("INFO two processes, %s: %.2f ms; regular nomination's second round trip costs %.2f ms "
          "here" % (TWO_CASES[4][1], med["ours_aggr"], med["ours_ctl"] - med["ours_aggr"]))
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
    print("one loop: both agents in one asyncio loop (ours vs ours: one udp.Loop) in one thread;"
          " figures are the sum of both agents' work", flush=True)
    ok = timing()
    ok = two_processes() and ok
    ok = heap() and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

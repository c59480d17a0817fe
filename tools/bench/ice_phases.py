"""The controlling agent's work per phase of one connection (`python tools/bench/ice_phases.py`).

Not a benchmark with targets: a count for work on the agent's check path. Our controlling agent
(regular nomination) against our controlled agent, in memory (no sockets, no loop), as in
bench_ice.py's case against aioice: the controlling side's four phases, each with what the
runtime does after a datagram (datagrams_to_send, next_event, timer):

1. start(): the check list and the first check;
2. the peer's check: answered;
3. the answer to the first check: the pair is valid, the USE-CANDIDATE check goes out;
4. the answer to that check: the pair is nominated, the "selected" event.

Prints the bytecodes each phase runs (sys.settrace opcode events, the controlling side only),
the functions that run the most of them, and the median time per phase over 3,000 connections
in a tight loop (warm caches: in bench_ice.py's loop, aioice's code and asyncio's run between,
and the same work takes two to three times as long).
"""
import collections
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "firmware"))

from zerotap.ice import agent as ice  # noqa: E402

A_ADDR = ("127.0.0.1", 40000)
B_ADDR = ("127.0.0.1", 40002)


def setup():
    a = ice.Agent(True, os.urandom)
    b = ice.Agent(False, os.urandom)
    a.gather([A_ADDR], 0)
    b.gather([B_ADDR], 0)
    for x in (a, b):
        while x.next_event() is not None:
            pass
    a.set_remote(b.ufrag, b.pwd, b.local_candidates())
    b.set_remote(a.ufrag, a.pwd, a.local_candidates())
    return a, b


def _after(a):
    out = a.datagrams_to_send()
    ev = a.next_event()
    a.timer()
    return out, ev


def run(a, b, phase):
    """One connection; PHASE(name, f) runs each of the controlling side's phases."""
    out = phase("1 start", lambda: (a.start(1), _after(a))[1][0])
    b.start(1)
    b_check = b.datagrams_to_send()
    b.receive(out[0][0], A_ADDR, 1)
    b_answer = b.datagrams_to_send()
    out = phase("2 peer check", lambda: (a.receive(b_check[0][0], B_ADDR, 1), _after(a))[1][0])
    out2 = phase("3 success 1", lambda: (a.receive(b_answer[0][0], B_ADDR, 1), _after(a))[1][0])
    b.receive(out[0][0], A_ADDR, 1)
    b.datagrams_to_send()
    b.receive(out2[0][0], A_ADDR, 1)
    last = b.datagrams_to_send()
    ev = phase("4 success 2", lambda: (a.receive(last[0][0], B_ADDR, 1), _after(a))[1][1])
    if ev is None or ev[0] != "selected":
        raise AssertionError("no selected event: %r" % (ev,))


def count():
    per_phase = collections.Counter()
    per_func = collections.defaultdict(collections.Counter)
    cur = [None]

    def tracer(frame, event, arg):
        frame.f_trace_opcodes = True
        if event == "opcode":
            per_phase[cur[0]] += 1
            per_func[cur[0]]["%s (%s)" % (frame.f_code.co_name,
                                          os.path.basename(frame.f_code.co_filename))] += 1
        return tracer

    def phase(name, f):
        cur[0] = name
        sys.settrace(tracer)
        try:
            return f()
        finally:
            sys.settrace(None)
    a, b = setup()
    run(a, b, phase)
    for k in sorted(per_phase):
        print("%-14s %5d bytecodes; most in %s" % (k, per_phase[k], ", ".join(
            "%s %d" % x for x in per_func[k].most_common(5))))
    print("all phases     %5d bytecodes" % sum(per_phase.values()))


def timing(n=3000):
    got = collections.defaultdict(list)

    def phase(name, f):
        t = time.perf_counter()
        r = f()
        got[name].append(time.perf_counter() - t)
        return r
    for _ in range(n):
        a, b = setup()
        run(a, b, phase)
    total = 0
    for k in sorted(got):
        m = statistics.median(got[k]) * 1e6
        total += m
        print("%-14s %6.1f us (median of %d, tight loop)" % (k, m, n))
    print("all phases     %6.1f us" % total)


if __name__ == "__main__":
    count()
    timing()

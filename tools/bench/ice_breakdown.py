"""Where the one-loop ICE figure goes (`python tools/bench/ice_breakdown.py [ROUNDS]`).

Not a benchmark with targets: an account of bench_ice.py's one-loop cases (the same functions,
run here with timers around their parts) that shows how much of "ours controlling (regular
nomination) vs aioice controlled" our code can still change. Cases, interleaved as in
bench_ice.py, each after a garbage collection: the anchor (aioice vs aioice), ours controlling
with regular nomination vs aioice, and ours controlling with aggressive nomination vs aioice.

Per round, inside the measured time (t0 to a nominated pair on both sides):

- ``ours``: time inside our side's loop callbacks (icepeers.AsyncPeer.start, _readable,
  _timer): the agent, the glue and our socket calls;
- ``ours sock``: of that, our socket calls (recvfrom, sendto; a timing proxy around the socket);
- ``aioice req`` / ``aioice resp``: time inside aioice's datagram_received for requests and for
  responses (the rest of a response, the check task's step after it, counts under ``tasks``);
- ``tasks``: the asyncio task steps (aioice's connect() and check tasks, the bench's own
  coroutine), less the ``ours`` time inside them (ours.start() runs in the bench's task);
- ``rest``: the round's time outside all of these (the event loop itself: select, handles).

Medians per case; then the budget: the anchor's median less what is NOT ours in the regular
case (total - ours), i.e. what our side could spend and still meet the target, beside what our
side spends now and its socket calls alone. A (small) timer overhead is in every figure alike.
"""
import asyncio
import gc
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench_ice  # noqa: E402
from icepeers import AsyncPeer, aioice_on_loopback  # noqa: E402

spans = []  # (what, start, end) in time.monotonic() seconds, the bench's clock
_in_task = [False]
_seen = {"far": [], "ours": []}  # this round's aioice connections and our peers


def _span(key, t0):
    spans.append((key, t0, time.monotonic()))


def _wrap_ours(name):
    f = getattr(AsyncPeer, name)

    def w(*a, **k):
        t = time.monotonic()
        try:
            return f(*a, **k)
        finally:
            _span("ours in task" if _in_task[0] else "ours", t)
    setattr(AsyncPeer, name, w)


class _TimedSock:
    """Our socket with its recvfrom/sendto timed."""

    def __init__(self, sock):
        self._s = sock

    def recvfrom(self, n):
        t = time.monotonic()
        try:
            return self._s.recvfrom(n)
        finally:
            _span("ours sock", t)

    def sendto(self, data, addr):
        t = time.monotonic()
        try:
            return self._s.sendto(data, addr)
        finally:
            _span("ours sock", t)

    def fileno(self):
        return self._s.fileno()

    def close(self):
        self._s.close()


def _instrument():
    import aioice.ice as aice
    for name in ("start", "_readable", "_timer"):
        _wrap_ours(name)
    open_ = AsyncPeer.open

    async def timed_open(self):
        await open_(self)
        self.sock = _TimedSock(self.sock)
        _seen["ours"].append(self)
    AsyncPeer.open = timed_open
    timed_connection = bench_ice._timed_connection

    def seen_connection():
        cls = timed_connection()

        class Seen(cls):
            def __init__(self, *a, **k):
                super().__init__(*a, **k)
                _seen["far"].append(self)
        return Seen
    bench_ice._timed_connection = seen_connection

    dr = aice.StunProtocol.datagram_received

    def timed_dr(self, data, addr):
        t = time.monotonic()
        try:
            return dr(self, data, addr)
        finally:
            # the class from the header (RFC 8489 section 5), as aioice will parse it
            cls = ((data[0] << 8) | data[1]) & 0x0110 if len(data) > 1 else 0
            _span("aioice req" if cls == 0 else "aioice resp", t)
    aice.StunProtocol.datagram_received = timed_dr

    run = asyncio.events.Handle._run

    def timed_run(self):
        cb = self._callback
        task = getattr(cb, "__self__", None)
        is_task = isinstance(task, asyncio.Task)
        if not is_task:
            return run(self)
        t = time.monotonic()
        _in_task[0] = True
        try:
            return run(self)
        finally:
            _in_task[0] = False
            _span("tasks", t)
    asyncio.events.Handle._run = timed_run


def _clipped(what, t0, t1):
    """Seconds of the spans WHAT inside [t0, t1]."""
    s = 0.0
    for k, a, b in spans:
        if k == what:
            s += max(0.0, min(b, t1) - max(a, t0))
    return s


def _units(units, t0, t1):
    """aioice's steps in the regular case: its answer to our first check and to the
    USE-CANDIDATE check (datagram_received), and its handling of the answer to its own check
    (datagram_received and the check task's step that follows it)."""
    inside = sorted((a, b, k) for k, a, b in spans if a >= t0 and a < t1)
    reqs = [b - a for a, b, k in inside if k == "aioice req"]
    if len(reqs) == 2:
        units["req1"].append(reqs[0] * 1000)
        units["req2"].append(reqs[1] * 1000)
    for i, (a, b, k) in enumerate(inside):
        if k == "aioice resp":
            step = [y - x for x, y, kk in inside[i + 1:] if kk == "tasks"][:1]
            if step:
                units["resp"].append((b - a + step[0]) * 1000)
            break


def _fifo(pid):
    """Ask for SCHED_FIFO priority 10 for PID (0: this process); whether it was granted."""
    import os
    try:
        os.sched_setscheduler(pid, os.SCHED_FIFO, os.sched_param(10))
    except OSError:  # PermissionError where real-time priority is not permitted
        return False
    return True


def hop(rounds=2000, wait=1.0, max_lost=10):
    """Half the round trip of a small datagram between two processes on loopback, each
    pinned to a core of its own (when there are two) and blocking in recv, at SCHED_FIFO
    priority where permitted, as bench_ice.py's two-process workers: what one hop of the
    two-process figure costs without any ICE work. Returns the median in ms, the datagrams
    lost (no echo within WAIT seconds; RuntimeError past MAX_LOST) and whether SCHED_FIFO was
    granted to this process and to the echo process. Bounded: the echo process ends when it
    hears nothing for 5 s, and is killed (by its pid) when the measurement ends, whatever
    happened; this process gets back its CPU pinning and scheduling."""
    import os
    import signal
    import socket
    cpus = sorted(os.sched_getaffinity(0))[:2]
    a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    a.bind(("127.0.0.1", 0))
    b.bind(("127.0.0.1", 0))
    a.settimeout(wait)
    b.settimeout(5.0)
    to = b.getsockname()
    affinity = os.sched_getaffinity(0)
    policy, param = os.sched_getscheduler(0), os.sched_getparam(0)
    pid = os.fork()
    if pid == 0:  # the echo side: until killed, or 5 s without a datagram
        try:
            a.close()
            if len(cpus) > 1:
                os.sched_setaffinity(0, {cpus[1]})
            _fifo(0)
            while True:
                data, addr = b.recvfrom(2048)
                b.sendto(data, addr)
        finally:
            os._exit(0)
    fifo = fifo_echo = False
    lost = 0
    try:
        b.close()
        if len(cpus) > 1:
            os.sched_setaffinity(0, {cpus[0]})
        fifo = _fifo(0)
        pad = bytes(76)
        rtt = []
        for i in range(rounds + 50):
            msg = i.to_bytes(4, "big") + pad  # numbered: a late echo of a lost round is skipped
            t = time.monotonic()
            a.sendto(msg, to)
            try:
                while a.recvfrom(2048)[0] != msg:
                    pass
            except socket.timeout:
                lost += 1
                if lost > max_lost:
                    raise RuntimeError("hop: %d datagrams without an echo within %.1f s"
                                       % (lost, wait))
                continue
            if i >= 50:
                rtt.append(time.monotonic() - t)
            time.sleep(0.0005)  # the far side goes back to sleep, as between ICE datagrams
        fifo_echo = os.sched_getscheduler(pid) == os.SCHED_FIFO
    finally:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        os.waitpid(pid, 0)
        a.close()
        try:
            os.sched_setscheduler(0, policy, param)
        except OSError:
            pass
        os.sched_setaffinity(0, affinity)
    return statistics.median(rtt) * 1000 / 2, lost, fifo, fifo_echo


def main(argv):
    rounds = int(argv[1]) if len(argv) > 1 else 201
    aioice_on_loopback()
    _instrument()
    cases = (("anchor", bench_ice._aioice_pair),
             ("ours_ctl", lambda: bench_ice._ours_vs_aioice(True)),
             ("ours_aggr", lambda: bench_ice._ours_vs_aioice(True, aggressive=True)))
    keys = ("total", "ours", "ours sock", "aioice req", "aioice resp", "tasks", "rest")
    res = {k: {x: [] for x in keys} for k, _ in cases}
    units = {"req1": [], "req2": [], "resp": []}  # aioice's steps in the regular case
    for _ in range(rounds):
        for k, f in cases:
            gc.collect()
            del spans[:]
            _seen["far"] = []
            _seen["ours"] = []
            r = asyncio.run(f())
            if r is None:
                continue
            total = r[0]
            t1 = max([c.nominated_at for c in _seen["far"]] +
                     [p.selected_at for p in _seen["ours"]])
            t0 = t1 - total / 1000
            parts = {x: _clipped(x, t0, t1) * 1000 for x in keys[1:6]}
            inner = _clipped("ours in task", t0, t1) * 1000
            parts["ours"] += inner
            parts["tasks"] -= inner
            parts["total"] = total
            if k == "ours_ctl":
                _units(units, t0, t1)
            parts["rest"] = total - parts["ours"] - parts["aioice req"] - \
                parts["aioice resp"] - parts["tasks"]
            for x in keys:
                res[k][x].append(parts[x])
    med = {k: {x: statistics.median(v) for x, v in d.items()} for k, d in res.items()}
    print("medians in ms over %d rounds (one loop, as bench_ice.py's first part)" % rounds)
    print("%-10s" % "" + "".join("%12s" % x for x in keys))
    for k, _ in cases:
        print("%-10s" % k + "".join("%12.3f" % med[k][x] for x in keys))
    ctl = med["ours_ctl"]
    not_ours = ctl["total"] - ctl["ours"]
    print("not ours in the regular case (aioice, tasks, loop): %.3f ms; anchor %.3f ms"
          % (not_ours, med["anchor"]["total"]))
    print("budget for our side to meet the target: %.3f ms; our side now %.3f ms, of which "
          "socket calls %.3f ms" % (med["anchor"]["total"] - not_ours, ctl["ours"],
                                    ctl["ours sock"]))
    print("aioice's extra request (regular - aggressive, in datagram_received): %.3f ms"
          % (ctl["aioice req"] - med["ours_aggr"]["aioice req"]))
    print("aioice's steps in the regular case (medians): answer to our first check %.3f ms, "
          "to the USE-CANDIDATE check %.3f ms; the answer to its own check %.3f ms"
          % tuple(statistics.median(units[x]) for x in ("req1", "req2", "resp")))
    half, lost, fifo, fifo_echo = hop()
    print("one hop between two processes (loopback datagram and wake-up, half a round "
          "trip): %.3f ms; SCHED_FIFO %s for this process, %s for the echo process; %d "
          "datagrams lost" % (half, "granted" if fifo else "NOT granted",
                              "granted" if fifo_echo else "NOT granted", lost))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

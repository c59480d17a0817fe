"""One ICE agent in a process of its own, for bench_ice.py's two-process measurement.

    [ICE_WORKER_RT=PRIO] python ice_worker.py IMPL CONTROLLING AGGRESSIVE BARRIER_FD CPU

IMPL is ``aioice`` (aioice's Connection in an asyncio event loop, as aioice runs) or ``ours``
(zerotap.ice.agent.Agent driven by zerotap.runtime.ice over a zerotap.runtime.udp.Loop, as the
box runs it). CONTROLLING and AGGRESSIVE are 0 or 1 (AGGRESSIVE only for ours); BARRIER_FD is
the read end of the start pipe the parent shares with every worker; CPU is the core to pin this
process to, or -1 for none; ICE_WORKER_RT asks for SCHED_FIFO at that priority (normal
scheduling when not permitted; the hello line says which). One worker serves many rounds: its
event loop (asyncio's, or our udp.Loop) lives as long as the process; each round makes a new
agent on a new socket.

Commands come as JSON lines on stdin, answers go as JSON lines on the stdout the process
started with (fd 1 is pointed at stderr, so that nothing else can write there):

- ``{"op": "gather"}``: make the agent on 127.0.0.1, gather its host candidate; answers
  ``{"ufrag", "pwd", "cands"}`` (candidates as SDP a=candidate values, RFC 8839);
- ``{"op": "remote", "ufrag", "pwd", "cands"}``: give the agent the peer's credentials and
  candidates (aioice: add_remote_candidate and end-of-candidates; ours: set_remote), collect
  garbage, answer ``{"ready": 1}``, then block in poll() on the start pipe without reading it.
  When the parent writes its one byte, both workers of the round wake; each takes
  ``t_start = time.monotonic()`` (CLOCK_MONOTONIC: one clock for every process of the host) and
  starts its agent at once (aioice: ``await connect()``; ours: ``start()``, then the udp loop).
  When its side holds a nominated pair it notes ``t_end = time.monotonic()`` (aioice: its check
  list completes; ours: the agent's "selected" event) and answers
  ``{"t_start", "t_end", "runq_us"}`` (t_end null if none within 5 s); runq_us is how long
  the process waited on a run queue (another task held its CPU) from just before the start
  pipe to its end, from /proc/self/schedstat. It goes on serving its socket
  (the peer may still need answers) until a line arrives on stdin;
- ``{"op": "end"}``: close the agent and its socket; answers ``{"closed": 1}``.
"""
import asyncio
import gc
import json
import os
import select
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parents[1] / "host_tests" / "cpython"))

from icepeers import aioice_on_loopback, from_sdp, to_sdp  # noqa: E402

from zerotap.ice import agent as ice  # noqa: E402
from zerotap.runtime import ice as rt  # noqa: E402
from zerotap.runtime import udp  # noqa: E402

CMD = 0  # stdin
TIMEOUT = 5.0


class Pipe:
    """JSON lines on raw fds (no buffered reader that could hide a line from poll())."""

    def __init__(self):
        self.out = os.dup(1)
        os.dup2(2, 1)  # stray prints go to stderr, not into the answers
        self.buf = b""

    def readline(self):
        while b"\n" not in self.buf:
            chunk = os.read(CMD, 65536)
            if not chunk:
                raise SystemExit(0)  # the parent closed the pipe
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def write(self, obj):
        os.write(self.out, (json.dumps(obj) + "\n").encode())


_SCHEDSTAT = os.open("/proc/self/schedstat", os.O_RDONLY)


def runq_ns():
    """Nanoseconds this process has waited on a run queue (runnable while another task held
    its CPU): /proc/self/schedstat's second field, about 1 us to read."""
    return int(os.pread(_SCHEDSTAT, 128, 0).split()[1])


def wait_barrier(fd):
    p = select.poll()
    p.register(fd, select.POLLIN)
    while not p.poll():
        pass
    return time.monotonic()


def cmd_waiting():
    return bool(select.select([CMD], [], [], 0)[0])


class Ours:
    def __init__(self, controlling, aggressive, barrier, pipe):
        self.controlling = controlling
        self.aggressive = aggressive
        self.barrier = barrier
        self.pipe = pipe
        self.loop = udp.Loop()  # the process's one loop, as on the box

    def gather(self):
        self.agent = ice.Agent(self.controlling, os.urandom, aggressive=self.aggressive)
        self.t_end = None
        self.driver = rt.Driver(self.loop, "127.0.0.1", 0, self.agent, on_event=self._event)
        self.agent.gather([("127.0.0.1", self.driver.port)], self.loop.clock())
        self.driver.flush(self.loop.clock())
        return {"ufrag": self.agent.ufrag, "pwd": self.agent.pwd,
                "cands": [to_sdp(c) for c in self.agent.local_candidates()]}

    def _event(self, ev):
        if ev[0] == "selected" and self.t_end is None:
            self.t_end = time.monotonic()
            self.runq_end = runq_ns()

    def run_round(self, msg):
        agent, driver, loop = self.agent, self.driver, self.loop
        agent.set_remote(msg["ufrag"], msg["pwd"], [from_sdp(c) for c in msg["cands"]])
        gc.collect()
        self.pipe.write({"ready": 1})
        runq0 = runq_ns()
        t_start = wait_barrier(self.barrier)
        agent.start(loop.clock())
        driver.flush(loop.clock())
        reported = []

        def done():
            if not reported:
                if self.t_end is None and time.monotonic() - t_start < TIMEOUT:
                    return False
                self.pipe.write({"t_start": t_start, "t_end": self.t_end,
                                 "runq_us": (self.runq_end - runq0) / 1000
                                 if self.t_end is not None else None})
                reported.append(1)
            return cmd_waiting()
        rt.run(loop, [driver], done, 60000, max_wait_ms=5)

    def end(self):
        self.driver.close()


class Aioice:
    def __init__(self, controlling, barrier, pipe):
        from bench_ice import _timed_connection

        class Timed(_timed_connection()):
            runq_end = None

            def _check_list_maybe_complete(self):
                done = super()._check_list_maybe_complete()
                if done and self.runq_end is None:
                    self.runq_end = runq_ns()
                return done
        aioice_on_loopback()
        self.timed = Timed
        self.controlling = controlling
        self.barrier = barrier
        self.pipe = pipe
        self.loop = asyncio.new_event_loop()  # the process's one loop, as aioice runs
        asyncio.set_event_loop(self.loop)

    def gather(self):
        return self.loop.run_until_complete(self._gather())

    async def _gather(self):
        self.conn = self.timed(ice_controlling=self.controlling, components=1, use_ipv6=False)
        await self.conn.gather_candidates()
        return {"ufrag": self.conn.local_username, "pwd": self.conn.local_password,
                "cands": [c.to_sdp() for c in self.conn.local_candidates]}

    def run_round(self, msg):
        self.loop.run_until_complete(self._round(msg))

    async def _round(self, msg):
        import aioice
        conn = self.conn
        conn.remote_username = msg["ufrag"]
        conn.remote_password = msg["pwd"]
        for c in msg["cands"]:
            await conn.add_remote_candidate(aioice.Candidate.from_sdp(c))
        await conn.add_remote_candidate(None)
        gc.collect()
        self.pipe.write({"ready": 1})
        runq0 = runq_ns()
        t_start = wait_barrier(self.barrier)
        try:
            if hasattr(asyncio, "timeout"):
                # connect() runs in this task: its body starts at once (wait_for would start
                # it one loop turn later)
                async with asyncio.timeout(TIMEOUT):
                    await conn.connect()
            else:  # Python < 3.11
                await asyncio.wait_for(conn.connect(), TIMEOUT)
        except (asyncio.TimeoutError, ConnectionError):
            pass
        self.pipe.write({"t_start": t_start, "t_end": conn.nominated_at,
                         "runq_us": (conn.runq_end - runq0) / 1000
                         if conn.runq_end is not None else None})
        # serve the socket until the parent's next line
        got = self.loop.create_future()
        self.loop.add_reader(CMD, lambda: got.done() or got.set_result(None))
        try:
            await got
        finally:
            self.loop.remove_reader(CMD)

    def end(self):
        self.loop.run_until_complete(self.conn.close())


def main(argv):
    impl, controlling, aggressive, barrier, cpu = argv[1], argv[2] == "1", argv[3] == "1", \
        int(argv[4]), int(argv[5])
    if cpu >= 0:
        os.sched_setaffinity(0, {cpu})
    rt_prio = int(os.environ.get("ICE_WORKER_RT", "0"))
    got_rt = False
    if rt_prio:
        # real-time FIFO priority, for every worker alike: a datagram's wake-up preempts
        # the shared host's other (normal) processes, as on a host of its own
        try:
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(rt_prio))
            got_rt = True
        except PermissionError:
            pass
    pipe = Pipe()
    if impl == "ours":
        worker = Ours(controlling, aggressive, barrier, pipe)
    elif impl == "aioice":
        if aggressive:
            raise ValueError("aioice always nominates aggressively when controlling")
        worker = Aioice(controlling, barrier, pipe)
    else:
        raise ValueError("IMPL must be ours or aioice, not %r" % impl)
    pipe.write({"hello": os.getpid(), "rt": got_rt})
    while True:
        msg = pipe.readline()
        op = msg["op"]
        if op == "gather":
            pipe.write(worker.gather())
        elif op == "remote":
            worker.run_round(msg)
        elif op == "end":
            worker.end()
            gc.collect()
            pipe.write({"closed": 1})
        else:
            raise ValueError("unknown op %r" % op)


if __name__ == "__main__":
    main(sys.argv)

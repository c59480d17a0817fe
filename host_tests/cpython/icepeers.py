"""Real far ICE agents for the tests and the benchmark, on loopback only.

- our agent in a thread of its own, over a real UDP socket (zerotap.runtime.ice);
- aioice (PyPI) in an asyncio loop. aioice gathers on every interface except 127.0.0.1, so
  its address discovery is pointed at 127.0.0.1 (``aioice_on_loopback``): no traffic leaves
  the machine;
- libnice (Debian gir1.2-nice-0.1) in a /usr/bin/python3 subprocess (host_tests/cpython/
  nice_agent.py), candidates and credentials exchanged as JSON lines on stdin/stdout.

Candidates cross as SDP ``a=candidate`` fields (RFC 8839), which all three understand.
"""
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from hostenv import FIRMWARE

sys.path.insert(0, str(FIRMWARE))
import zerotap  # noqa: E402,F401
from zerotap.ice import agent as ice  # noqa: E402
from zerotap.runtime import ice as rt  # noqa: E402
from zerotap.runtime import udp  # noqa: E402

HERE = Path(__file__).resolve().parent
_TYPES = {"host": ice.HOST, "srflx": ice.SRFLX, "prflx": ice.PRFLX, "relay": ice.RELAY}


def to_sdp(c):
    """RFC 8839 candidate-attribute value of our Candidate."""
    s = "%s %d udp %d %s %d typ %s" % (c.foundation, c.component, c.priority, c.addr[0],
                                       c.addr[1], ice.TYPE_NAMES[c.type])
    if c.related is not None:
        s += " raddr %s rport %d" % c.related
    return s


def from_sdp(text):
    f = text.split()
    if f[0].startswith("candidate:"):
        f[0] = f[0][len("candidate:"):]
    return ice.Candidate(_TYPES[f[7]], (f[4], int(f[5])), int(f[3]), f[0], component=int(f[1]))


def aioice_on_loopback():
    import aioice.ice
    aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"]


class OurPeer:
    """Our agent on 127.0.0.1 in a thread: gather, then ``connect(ufrag, pwd, cands)``; it
    answers every b"ping..." it receives with b"pong..." and records the time it was selected."""

    def __init__(self, controlling, **kw):
        self.loop = udp.Loop()
        self.agent = ice.Agent(controlling, os.urandom, **kw)
        self.got = []
        self.driver = rt.Driver(self.loop, "127.0.0.1", 0, self.agent, on_data=self._data)
        self.agent.gather([("127.0.0.1", self.driver.port)], self.loop.clock())
        self.driver.flush(self.loop.clock())
        self.selected_at = None
        self.started_at = None
        self.stop = False
        self.thread = None
        self._pending = []  # datagrams queued by other threads

    def _data(self, payload):
        self.got.append(bytes(payload))
        if payload.startswith(b"ping"):
            self.agent.send(b"pong" + payload[4:], self.loop.clock())

    def candidates(self):
        return [to_sdp(c) for c in self.agent.local_candidates()]

    def connect(self, ufrag, pwd, cands, timeout=15):
        self.agent.set_remote(ufrag, pwd, [from_sdp(c) for c in cands])
        self.started_at = time.monotonic()
        self.agent.start(self.loop.clock())
        self.driver.flush(self.loop.clock())
        self.thread = threading.Thread(target=self._run, args=(timeout,), daemon=True)
        self.thread.start()

    def _run(self, timeout):
        end = time.monotonic() + timeout

        def done():
            if self.selected_at is None and self.agent.selected is not None:
                self.selected_at = time.monotonic()
            while self._pending:
                self.agent.send(self._pending.pop(0), self.loop.clock())
                self.driver.flush(self.loop.clock())
            return self.stop or time.monotonic() > end or \
                self.agent.state in (ice.FAILED_STATE, ice.CLOSED)
        rt.run(self.loop, [self.driver], done, int(timeout * 1000) + 1000)

    def send(self, payload):
        """Queue a datagram from another thread: sent at the next wake-up (<= 50 ms)."""
        self._pending.append(payload)

    def close(self):
        self.stop = True
        if self.thread is not None:
            self.thread.join(5)
        self.loop.close_all()


class NicePeer:
    """libnice's agent in a /usr/bin/python3 subprocess (Debian python3-gi, gir1.2-nice-0.1)."""

    def __init__(self, controlling, aggressive=False):
        exe = "/usr/bin/python3"
        if not os.path.exists(exe):
            raise AssertionError("/usr/bin/python3 is missing: install Debian python3-gi")
        import tempfile
        self.errfile = tempfile.NamedTemporaryFile(prefix="zerotap-nice-", suffix=".log")
        self.proc = subprocess.Popen(
            [exe, str(HERE / "nice_agent.py"), "1" if controlling else "0",
             "1" if aggressive else "0"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=self.errfile, text=True, bufsize=1)
        self.lines = []
        self.log = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.hello = self.wait_for(lambda m: "ufrag" in m or "error" in m)
        if "error" in self.hello:
            raise AssertionError("libnice: " + self.hello["error"])

    def _read(self):
        for line in self.proc.stdout:
            if line.startswith("{"):  # GLib's debug log may share stdout
                self.lines.append(json.loads(line))
            else:
                self.log.append(line)

    def wait_for(self, pred, timeout=10):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            for m in self.lines:
                if pred(m):
                    return m
            if self.proc.poll() is not None and not self._reader.is_alive():
                break
            time.sleep(0.01)
        raise AssertionError("libnice agent: nothing matched in %.0f s; its lines %r, stderr %s"
                             "\n(it needs Debian gir1.2-nice-0.1 and python3-gi)"
                             % (timeout, self.lines, self._stderr()))

    def _stderr(self):
        with open(self.errfile.name, errors="replace") as f:
            return f.read()[-3000:]

    def write(self, obj):
        self.proc.stdin.write(json.dumps(obj) + "\n")
        self.proc.stdin.flush()

    def close(self):
        from hostenv import stop_process
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        stop_process(self.proc)


class AsyncPeer:
    """Our agent in an asyncio loop (beside aioice, in the same thread: no GIL contention), on a
    UDP socket bound to 127.0.0.1. ``await open()``, then ``set_remote(ufrag, pwd, cands)`` and
    ``start()`` (or ``start(ufrag, pwd, cands)`` for both).

    The socket is served without asyncio's datagram transport: a reader callback takes one
    datagram (at most 2 KiB; the loop calls again while more wait, so that no empty read raises)
    and sends what the agent answers at once; one loop timer at the agent's deadline, moved only
    when the deadline comes earlier (a timer that fires early just sleeps again)."""

    _BURST = 1  # datagrams per callback (a drain of several ends in a raising empty read)

    def __init__(self, controlling, **kw):
        self.agent = ice.Agent(controlling, os.urandom, **kw)
        self.got = []
        self.events = []
        self.selected_at = None
        self._handle = None
        self._when = None  # when the loop timer fires (agent ms)

    async def open(self):
        import asyncio
        import socket
        self.loop = asyncio.get_running_loop()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.setblocking(False)
        self.port = self.sock.getsockname()[1]
        self.loop.add_reader(self.sock.fileno(), self._readable)
        self.t0 = self.loop.time()
        self.agent.gather([("127.0.0.1", self.port)], self.now())
        self.flush()

    def now(self):
        return int(round((self.loop.time() - self.t0) * 1000))

    def candidates(self):
        return [to_sdp(c) for c in self.agent.local_candidates()]

    def set_remote(self, ufrag, pwd, cands):
        self.agent.set_remote(ufrag, pwd, [from_sdp(c) for c in cands])

    def start(self, ufrag=None, pwd=None, cands=None):
        if ufrag is not None:
            self.set_remote(ufrag, pwd, cands)
        self.agent.start(self.now())
        self.flush()

    def _readable(self):
        agent = self.agent
        sock = self.sock
        now = self.now()
        for _ in range(self._BURST):
            try:
                data, addr = sock.recvfrom(2048)
            except (BlockingIOError, InterruptedError):
                break
            got = agent.receive(data, addr, now)
            if got is not None:
                self.got.append(bytes(got))
            for out, to in agent.datagrams_to_send():
                sock.sendto(out, to)
        self._after()

    def flush(self):
        for data, addr in self.agent.datagrams_to_send():
            self.sock.sendto(data, addr)
        self._after()

    def _after(self):
        """Events, then the loop timer: moved only when the agent's deadline came earlier."""
        agent = self.agent
        ev = agent.next_event()
        while ev is not None:
            self.events.append(ev)
            if ev[0] == "selected" and self.selected_at is None:
                self.selected_at = time.monotonic()
            ev = agent.next_event()
        t = agent.timer()
        if t is not None and (self._when is None or t < self._when):
            if self._handle is not None:
                self._handle.cancel()
            self._when = t
            self._handle = self.loop.call_at(self.t0 + t / 1000, self._timer)

    def _timer(self):
        self._handle = None
        self._when = None
        now = self.now()
        t = self.agent.timer()
        if t is not None and t <= now:
            self.agent.handle_timer(now)
        self.flush()

    def close(self):
        if self._handle is not None:
            self._handle.cancel()
        self.loop.remove_reader(self.sock.fileno())
        self.sock.close()

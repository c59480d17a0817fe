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

from hostenv import FIRMWARE, need

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
    """libnice's agent in a /usr/bin/python3 subprocess (Debian python3-gi)."""

    def __init__(self, controlling, aggressive=False):
        need("python3", "Debian python3")
        exe = "/usr/bin/python3"
        if not os.path.exists(exe):
            raise AssertionError("/usr/bin/python3 is missing: install Debian python3-gi")
        self.proc = subprocess.Popen(
            [exe, str(HERE / "nice_agent.py"), "1" if controlling else "0",
             "1" if aggressive else "0"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, bufsize=1)
        self.hello = self.read()
        if self.hello.get("error"):
            raise AssertionError("libnice: " + self.hello["error"])

    def read(self, timeout=15):
        line = self.proc.stdout.readline()
        if not line:
            raise AssertionError("libnice agent exited: %s" % self.proc.stderr.read()[-2000:])
        return json.loads(line)

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

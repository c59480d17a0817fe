"""The ICE fallback end to end on loopback with real parts: two boxes (one under CPython, one
under the MicroPython unix port: host_tests/cpython/fallback_box.py) on real UDP sockets, a
provider path (a relay here) that drops every datagram with the ZRTP cookie at payload offset 4,
and the real helper (tools/icehelper, memory backend) over HTTPS with a test CA pinned in the
boxes' config. ZRTP blocked -> the number exchange as RFC 4733 events -> ICE -> both SECURE on
the direct path with equal SAS; audio both ways; only keepalives on the provider path after.
The network namespace lab (Kamailio, coturn, NATs) is not here yet: docs/fallback.md."""
import json
import select
import socket
import subprocess
import threading
import time

import pytest

from hostenv import ROOT, interpreter
from icehelper_proc import https_helper

BOX = ROOT / "host_tests" / "cpython" / "fallback_box.py"


def _udp_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Relay:
    """The provider's media relay: A's leg <-> B's leg; drops UDP with the ZRTP cookie, and
    with STRIP_PT RTP of that payload type (a provider that strips telephone-events)."""

    def __init__(self, a_box, b_box, strip_pt=None):
        self.strip_pt = strip_pt
        self.stripped = 0
        self.socks = []
        for _ in range(2):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind(("127.0.0.1", 0))
            self.socks.append(s)
        self.ports = [s.getsockname()[1] for s in self.socks]
        self.boxes = [a_box, b_box]  # where each side's box listens
        self.dropped = 0
        self.log = []  # (time, from side, length, first bytes)
        self.stop_flag = False
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def _run(self):
        while not self.stop_flag:
            r, _, _ = select.select(self.socks, [], [], 0.1)
            for s in r:
                data, src = s.recvfrom(4096)
                side = self.socks.index(s)
                if data[4:8] == b"ZRTP":
                    self.dropped += 1
                    continue
                if self.strip_pt is not None and len(data) >= 12 and \
                        data[1] & 0x7F == self.strip_pt:
                    self.stripped += 1
                    continue
                self.log.append((time.time(), side, len(data), data[:2]))
                # what box A sends to relay port 0 goes to box B from relay port 1
                self.socks[1 - side].sendto(data, ("127.0.0.1", self.boxes[1 - side]))

    def stop(self):
        self.stop_flag = True
        self.thread.join(5)
        for s in self.socks:
            s.close()


def _config(net_port, rtp_high, helper, ca, after_s=2, dtmf="auto"):
    return {"phone": {"sip": "127.0.0.1:%d" % _udp_port(), "allow": ["127.0.0.1"],
                      "rtp": "41000-41001"},
            "network": {"sip": "127.0.0.1:%d" % _udp_port(), "rtp": "%d-%d" % (net_port,
                                                                             rtp_high)},
            "ice": {"helper_url": "https://icehelper.test:%d" % helper.tls_port,
                    "helper_ca": str(ca.pem), "helper_address": "127.0.0.1",
                    "after_s": after_s, "deadline_s": 20, "dtmf": dtmf}}


def _start(interp, settings, tmp_path, name):
    path = tmp_path / (name + ".json")
    path.write_text(json.dumps(settings))
    cmd, env = interpreter(interp)
    return subprocess.Popen(cmd + [str(BOX), str(path)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)


def _result(proc):
    out, err = proc.communicate(timeout=90)
    assert proc.returncode == 0, err[-3000:]
    return json.loads(out.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def helper(tmp_path_factory):
    h, ca = https_helper(tmp_path_factory.mktemp("fbl"))
    yield h, ca
    h.stop()


def _ports():
    # two free consecutive pairs, far apart per box (RTP at the low end, ICE at the high end)
    while True:
        p = _udp_port()
        if p % 2 == 0 and p < 60000:
            return p


@pytest.mark.parametrize("a_interp,b_interp", [("cpython", "micropython")])
def test_zrtp_blocked_both_boxes_secure_on_the_direct_path(a_interp, b_interp, helper, tmp_path):
    h, ca = helper
    pa, pb = _ports(), _ports()
    relay = Relay(pa, pb).start()
    try:
        sa = {"config": _config(pa, pa + 3, h, ca), "direction": "out", "peer": "sip:b@x",
              "provider": ["127.0.0.1", relay.ports[0]], "run_s": 6, "limit_s": 60}
        sb = {"config": _config(pb, pb + 3, h, ca), "direction": "in", "peer": "sip:a@x",
              "provider": ["127.0.0.1", relay.ports[1]], "run_s": 6, "limit_s": 60}
        procs = [_start(a_interp, sa, tmp_path, "a"), _start(b_interp, sb, tmp_path, "b")]
        ra, rb = _result(procs[0]), _result(procs[1])
    finally:
        relay.stop()
    for r in (ra, rb):
        assert r["security"] == "secure" and r["step"] == "direct" and r["path"] == "direct", \
            (ra, rb)
        assert r["steps"][:1] == ["blocked"] and r["steps"][-1] == "direct", r["steps"]
        assert r["unauthenticated"] == 0
        assert r["to_phone_secure"] > 150, r  # about 6 s of the other phone's audio, via SRTP
    assert ra["sas"] == rb["sas"]
    assert ra["peer_id"] == rb["local_id"] and rb["peer_id"] == ra["local_id"]
    assert ra["phone_sample"] == "50" * 8 and rb["phone_sample"] == "30" * 8
    assert relay.dropped > 0  # ZRTP Hellos on the provider path
    # after both went SECURE, the provider path carried keepalives only (one per 5 s each way)
    secure_at = max(ra["secure_epoch"], rb["secure_epoch"]) + 0.2
    late = [e for e in relay.log if e[0] > secure_at]
    assert len(late) <= 4, late
    for e in late:
        assert e[2] == 172 and e[3][1] & 0x80, e  # G.711 with the marker bit

"""The host runtime on real loopback sockets, under both interpreters: the UDP wait helper, its
timers and stop, and a whole Box with its control socket."""
import json
import os
import socket

from support import scratch
from zerotap import config
from zerotap.runtime import box as runtime_box
from zerotap.runtime import udp


def _free_pair(loop, handler):
    # a random window keeps parallel test runs apart
    low = 20000 + 2 * (int.from_bytes(os.urandom(2), "big") % 5000)
    return loop.open_pair("127.0.0.1", low, low + 400, handler)


def test_datagrams_timers_and_stop():
    loop = udp.Loop()
    got = []

    def handler(ep, data, n, addr, now):
        got.append((ep.port, bytes(data[:n]), addr))

    a, b = _free_pair(loop, handler)
    assert b.port == a.port + 1 and a.port % 2 == 0
    assert a.send(b"hello", ("127.0.0.1", b.port))
    assert b.send(b"world", ("127.0.0.1", a.port))

    class App:
        fired = 0
        deadline = loop.clock() + 30

        def timer(self):
            return self.deadline

        def handle_timer(self, now):
            self.fired += 1
            self.deadline = now + 30
            if self.fired == 3:
                loop.stop()

    t0 = loop.clock()
    app = App()
    loop.run(app)
    assert app.fired == 3 and loop.clock() - t0 >= 60
    assert sorted(got) == sorted([(b.port, b"hello", ("127.0.0.1", a.port)),
                                  (a.port, b"world", ("127.0.0.1", b.port))])
    loop.close_all()
    assert a.closed and b.closed


def test_clock_is_monotonic():
    c = udp.Clock()
    last = c()
    for _ in range(1000):
        now = c()
        assert now >= last
        last = now


def test_send_errors_are_counted_not_raised():
    loop = udp.Loop()
    a, b = _free_pair(loop, lambda *args: None)
    assert not a.send(b"x" * 70000, ("127.0.0.1", b.port))  # larger than any datagram
    assert a.send_errors == 1
    loop.close_all()


def _config(tmp):
    loop = udp.Loop()
    ports = []
    for _ in range(3):
        p, q = _free_pair(loop, lambda *args: None)
        ports.append(p.port)
    loop.close_all()
    low = ports[0] + 1000
    return config.parse({
        "phone": {"sip": "127.0.0.1:%d" % ports[0], "allow": ["127.0.0.1"],
                  "rtp": "%d-%d" % (low, low + 9)},
        "network": {"sip": "127.0.0.1:%d" % ports[1], "rtp": "%d-%d" % (low + 10, low + 19)},
        "status": tmp + "/status.jsonl",
        "control": "127.0.0.1:%d" % ports[2],
    })


def test_box_answers_its_control_socket_and_stops():
    tmp = scratch("box")
    cfg = _config(tmp)
    logs = []
    b = runtime_box.Box(cfg, log=logs.append, name="T")
    client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    dest = socket.getaddrinfo(cfg.control[0], cfg.control[1])[0][-1]
    answers = []
    try:
        for cmd in (b"status", b"verify 7", b"verify", b"dance", b"stop"):
            client.sendto(cmd, dest)
            b.loop.run_once(500)
            answers.append(json.loads(client.recv(4096)))
    finally:
        client.close()
        b.shutdown()
    assert answers[0] == {"ok": True, "registered": False, "warning": None, "calls": []}
    assert answers[1] == {"ok": False, "error": "no call 7"}
    assert answers[2] == {"ok": False, "error": "usage: verify CALL"}
    assert answers[3] == {"ok": False, "error": "unknown command 'dance' (verify, unverify, "
                                                "toggle_verified, switch_call, status, stop)"}
    assert answers[4] == {"ok": True} and b.loop.stopping
    assert logs[-1] == "stopped"
    # a SIP OPTIONS through the phone side reaches nobody (no route), and is answered by nobody,
    # but the status stream file exists and is JSON lines
    with open(tmp + "/status.jsonl") as f:
        for line in f:
            json.loads(line)

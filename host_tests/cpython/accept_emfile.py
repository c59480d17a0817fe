"""A stream listener (zerotap.runtime.stream) on a process that runs out of file descriptors;
run by test_stream_emfile.py under CPython or MicroPython with a low RLIMIT_NOFILE.

    accept_emfile.py PORT        # listens on 127.0.0.1:PORT, echoes what each connection sends

It says on stdout, one line each: ``listening``; once the test's first connection is accepted,
it takes every descriptor left (UDP sockets until EMFILE) and says ``full ERRNO``; for
FULL_MS it serves as a box does (the test connects a second time and talks on the first
connection meanwhile), then frees the descriptors and says ``freed``; then it serves until the
second connection is accepted (at most 5 s) and one second more, and prints the JSON result:
``ready``: how often the listener was called during FULL_MS (each call tries an accept),
``log``: the log lines about accept during FULL_MS, ``conns``: the connections accepted then,
``after``: the connections once the descriptors were free."""
import json
import socket
import sys

from zerotap.runtime import stream, udp

FULL_MS = 3000

port = int(sys.argv[1])
logs = []
loop = udp.Loop()
streams = stream.Streams(loop, logs.append)
calls = [0]
_ready = stream.Listener.ready


def counted(self, flags, now):
    calls[0] += 1
    return _ready(self, flags, now)


stream.Listener.ready = counted


def echo(conn, kind, data, now):
    if kind == stream.DATA:
        conn.send(bytes(data))


def run(ms, until=None):
    end = loop.clock() + ms
    while loop.clock() < end:
        loop.run_once(20)
        loop.serve_timers()
        if until is not None and until():
            return True
    return False


def say(text):
    sys.stdout.write(text + "\n")
    try:
        sys.stdout.flush()
    except AttributeError:
        pass


streams.listen("127.0.0.1", port, echo, framed=False)
say("listening")
run(10000, lambda: len(streams.conns) == 1)
fill = []
err = 0
try:
    for _ in range(100000):
        fill.append(socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
except OSError as e:
    err = e.args[0]
say("full %d" % err)
calls[0] = 0
first = len(logs)
run(FULL_MS)
result = {"ready": calls[0], "log": [t for t in logs[first:] if "accept" in t],
          "conns": len(streams.conns)}
for s in fill:
    s.close()
say("freed")
run(5000, lambda: len(streams.conns) == 2)
run(1000)
result["after"] = len(streams.conns)
say(json.dumps(result))
streams.close_all()
loop.close_all()

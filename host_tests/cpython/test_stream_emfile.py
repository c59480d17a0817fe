"""A host out of file descriptors (EMFILE) with a connection waiting on the box's TCP listener
(the phone side's SIP over TCP, the web page): accept fails while the connection stays queued,
so a listener polled as before is ready at once again. It must not spin (a turn of the loop
each time, a log line each time, 100% CPU): it rests a second at a time and logs once; the
open connection keeps working, and the waiting one is taken once descriptors are free.
accept_emfile.py runs the listener under both interpreters with RLIMIT_NOFILE at 64."""
import json
import resource
import socket
import subprocess
from pathlib import Path

import pytest

from hostenv import interpreter, stop_process
from ports import udp_port

SCRIPT = Path(__file__).resolve().parent / "accept_emfile.py"


def _low_nofile():
    resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))


def _line(proc):
    line = proc.stdout.readline()
    assert line, proc.stderr.read()[-3000:]
    return line.strip()


def _echo(sock, data):
    sock.sendall(data)
    got = b""
    while len(got) < len(data):
        more = sock.recv(100)
        if not more:
            break
        got += more
    return got


@pytest.mark.parametrize("interp", ["cpython", "micropython"])
def test_accept_without_descriptors_rests_and_recovers(interp):
    cmd, env = interpreter(interp)
    port = udp_port()
    proc = subprocess.Popen(cmd + [str(SCRIPT), str(port)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, preexec_fn=_low_nofile)
    a = b = None
    try:
        assert _line(proc) == "listening"
        a = socket.create_connection(("127.0.0.1", port), timeout=5)
        full = _line(proc)
        assert full == "full 24", full  # EMFILE
        b = socket.create_connection(("127.0.0.1", port), timeout=5)  # queued: no accept yet
        b.settimeout(5)
        assert _echo(a, b"still here") == b"still here"  # the open connection works meanwhile
        assert _line(proc) == "freed"
        assert _echo(b, b"now me") == b"now me"  # taken once descriptors are free
        result = json.loads(_line(proc))
        assert proc.wait(10) == 0, proc.stderr.read()[-3000:]
    finally:
        for s in (a, b):
            if s is not None:
                s.close()
        stop_process(proc)
    # 3 s without descriptors: a try a second or so, not one per loop turn, and one log line
    assert result["ready"] <= 6, result
    assert len(result["log"]) == 1 and "accept" in result["log"][0], result
    assert result["conns"] == 1 and result["after"] == 2, result

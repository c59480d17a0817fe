"""A peer's large message on a box whose heap is nearly full (a board: 112 KiB): buffering it may
fail with MemoryError. That is one connection's fault: that connection closes with the reason
and the box's loop goes on (another connection's message comes through). The MemoryError used
to leave the stream layer and end the loop: the box restarted, every call ended. The listener
runs under the MicroPython unix port (stream_lowmem.py), a heap filled to FREE bytes."""
import socket
import subprocess
from pathlib import Path

from hostenv import interpreter, stop_process
from ports import udp_port

SCRIPT = Path(__file__).resolve().parent / "stream_lowmem.py"
FREE = 24000  # what is left: less than two copies of the message below


def _line(proc):
    line = proc.stdout.readline()
    assert line, proc.stderr.read()[-3000:]
    return line.strip()


def test_a_message_too_large_for_the_heap_closes_its_connection_only():
    cmd, env = interpreter("micropython")
    port = udp_port()
    proc = subprocess.Popen(cmd + [str(SCRIPT), str(port), str(FREE)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    big = small = None
    try:
        assert _line(proc) == "listening"
        big = socket.create_connection(("127.0.0.1", port), timeout=5)
        body = b"b" * 16000
        big.sendall(b"OPTIONS sip:x@example.test SIP/2.0\r\nContent-Length: %d\r\n\r\n"
                    % len(body))
        for i in range(0, len(body), 1000):  # as a peer's segments come
            big.sendall(body[i:i + 1000])
        closed = _line(proc)
        assert closed.startswith("closed out of memory"), closed
        small = socket.create_connection(("127.0.0.1", port), timeout=5)
        msg = b"OPTIONS sip:x@example.test SIP/2.0\r\nContent-Length: 0\r\n\r\n"
        small.sendall(msg)
        assert _line(proc) == "message %d" % len(msg)
        assert _line(proc) == "done"
        assert proc.wait(10) == 0, proc.stderr.read()[-3000:]
    finally:
        for s in (big, small):
            if s is not None:
                s.close()
        stop_process(proc)

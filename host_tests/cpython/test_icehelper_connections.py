"""Connections: what one hostile client can hold, and that other clients keep being served.

The helper runs as ``python tools/icehelper`` in its own process; its file-descriptor limit is
lowered with prlimit (as the unit's LimitNOFILE bounds it in production, only smaller), and the
hostile client connects from its own loopback address.
"""
import resource
import select
import socket
import time

import pytest

from icehelper_proc import Helper


def _connect(h, source, data=b""):
    s = socket.socket()
    s.settimeout(5)
    s.bind((source, 0))
    s.connect(("127.0.0.1", h.port))
    if data:
        s.sendall(data)
    return s


def _open_after(socks, seconds):
    """Those of SOCKS the server has not closed (EOF or a reset) within SECONDS: waits that long
    for each still open, reading and dropping whatever the server sends."""
    still = list(socks)
    end = time.monotonic() + seconds
    while still and time.monotonic() < end:
        ready, _, _ = select.select(still, [], [], max(0.0, min(0.5, end - time.monotonic())))
        for s in ready:
            try:
                gone = not s.recv(4096)
            except OSError:
                gone = True
            if gone:
                still.remove(s)
    return still


@pytest.fixture
def small_helper(tmp_path):
    h = Helper(tmp_path / "h", server={"max_connections_per_address": "20"}).start()
    # 128 descriptors: what LimitNOFILE is to a busy helper, reached here with a few sockets
    resource.prlimit(h.proc.pid, resource.RLIMIT_NOFILE, (128, 128))
    yield h
    assert h.stop() == 0, h.logs()


def test_idle_connections_of_one_address_do_not_lock_others_out(small_helper):
    h = small_helper
    hostile = []
    try:
        # 200 connections that send half a request line and wait: more than the process's 128
        # descriptors could hold
        for _ in range(200):
            hostile.append(_connect(h, "127.0.0.2", b"GET / HTTP/1.1\r\nHo"))
        # the server keeps at most 20 of the hostile address's connections (it resets the rest
        # as it accepts them: a few seconds while the accepts run into the descriptor limit)
        end = time.monotonic() + 10
        still_open = hostile
        while len(still_open) > 20 and time.monotonic() < end:
            still_open = _open_after(still_open, 0.5)
        assert len(still_open) <= 20, len(still_open)
        t0 = time.monotonic()
        status, body, _ = h.request("GET", "/healthz", source="127.0.0.3", timeout=5)
        assert status == 200 and body["status"] == "ok"
        assert h.request("PUT", "/", {}, source="127.0.0.3", timeout=5)[0] == 200
        assert time.monotonic() - t0 < 2
    finally:
        for s in hostile:
            s.close()
    # once they are gone, that address is served again
    assert h.request("GET", "/healthz", source="127.0.0.2", timeout=5)[0] == 200

"""The UDP loop's receive limit (issue 13): a datagram is handed on whole or not at all.

A 4 KB SIP datagram used to be cut at 2048 bytes and the cut message taken as valid. Now the
SIP sockets take what UDP carries (``udp.SIP_DATAGRAM_MAX``); a socket with a smaller limit
refuses a larger datagram with a reason instead of handing on its first part."""
import os

from zerotap.runtime import udp


def _free_pair(loop, handler, **kw):
    low = 20000 + 2 * (int.from_bytes(os.urandom(2), "big") % 5000)
    for port in range(low, low + 400, 2):
        try:
            a = loop.open("127.0.0.1", port, handler, **kw)
        except OSError:
            continue
        try:
            b = loop.open("127.0.0.1", port + 1, handler, **kw)
        except OSError:
            loop.close(a)
            continue
        return a, b
    raise AssertionError("no free ports")


def _serve(loop, rounds=20):
    for _ in range(rounds):
        loop.run_once(20)


def test_large_datagram_arrives_whole():
    loop = udp.Loop()
    got = []
    a, b = _free_pair(loop, lambda ep, data, n, addr, now: got.append(bytes(data[:n])),
                      max_datagram=udp.SIP_DATAGRAM_MAX)
    for size in (2049, 4096, 9000, 65507):
        payload = bytes((i * 7) & 0xFF for i in range(size))
        assert a.send(payload, ("127.0.0.1", b.port))
        _serve(loop)
        assert got and got[-1] == payload, (size, len(got[-1]) if got else None)
    loop.close_all()


def test_datagram_over_the_limit_is_refused_with_a_reason():
    logged = []
    loop = udp.Loop(log=logged.append)
    got = []
    a, b = _free_pair(loop, lambda ep, data, n, addr, now: got.append(bytes(data[:n])),
                      max_datagram=1000)
    assert a.send(b"x" * 1000, ("127.0.0.1", b.port))
    assert a.send(b"y" * 1001, ("127.0.0.1", b.port))
    assert a.send(b"z" * 3000, ("127.0.0.1", b.port))
    _serve(loop)
    assert got == [b"x" * 1000]
    assert b.oversize == 2 and loop.oversize == 2
    want = "udp: datagram over 1000 bytes from 127.0.0.1:%d on port %d refused, not cut" % (
        a.port, b.port)
    assert logged == [want, want], logged
    loop.close_all()


def test_default_limit_for_media_sockets():
    loop = udp.Loop()
    a, b = _free_pair(loop, lambda *args: None)
    assert b.max_datagram == udp.MAX_DATAGRAM
    loop.close_all()

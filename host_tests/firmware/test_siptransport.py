"""The box's SIP transports (zerotap.runtime.siptransport) on loopback sockets, both interpreters:
a large request switches from UDP to TCP with its Via changed (and falls back to UDP when TCP is
refused), phones may use TCP and get their responses on the same connection, messages arrive
whole."""
import os

from zerotap.runtime import siptransport, stream, udp


def _port():
    return 20000 + (int.from_bytes(os.urandom(2), "big") % 20000)


def _open_udp(loop, handler):
    for _ in range(50):
        try:
            return loop.open("127.0.0.1", _port(), handler, udp.SIP_DATAGRAM_MAX)
        except OSError:
            continue
    raise AssertionError("no port")


def _request(size):
    body = b"a=x\r\n" * (size // 5)
    return (b"INVITE sip:bob@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5080;branch=z9hG4bK1"
            b"\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\nContent-Length: %d\r\n\r\n" % len(body) + body)


def _serve(loop, until, limit_ms=3000):
    t0 = loop.clock()
    while not until():
        assert loop.clock() - t0 < limit_ms, "timed out"
        loop.run_once(20)
        loop.serve_timers()


def _setup():
    loop = udp.Loop()
    streams = stream.Streams(loop)
    got = []
    eps = [_open_udp(loop, lambda *a: None), _open_udp(loop, lambda *a: None)]
    t = siptransport.SipTransport(loop, streams, eps,
                                  lambda side, data, src, now, tr: got.append((side, data, src,
                                                                               tr)))
    return loop, streams, eps, t, got


def test_large_request_goes_over_tcp_with_its_via_changed():
    loop, streams, eps, t, got = _setup()
    far = []
    lst = None
    for _ in range(50):
        try:
            lst = streams.listen("127.0.0.1", _port(), lambda c, k, d, n: far.append((k, d)))
            break
        except OSError:
            continue
    small, big = _request(200), _request(4000)
    assert t.send(1, small, ("127.0.0.1", lst.port), "UDP")  # small: UDP, nothing on TCP
    assert t.send(1, big, ("127.0.0.1", lst.port), "UDP")
    _serve(loop, lambda: any(k == stream.MESSAGE for k, d in far))
    msgs = [d for k, d in far if k == stream.MESSAGE]
    assert msgs == [big.replace(b"Via: SIP/2.0/UDP ", b"Via: SIP/2.0/TCP ", 1)]
    assert t.switched == 1
    loop.close_all()


def test_large_request_falls_back_to_udp_when_tcp_is_refused():
    loop, streams, eps, t, got = _setup()
    far_udp = []
    far = _open_udp(loop, lambda ep, d, n, a, now: far_udp.append(bytes(d[:n])))
    big = _request(4000)  # no TCP listener on far's port: refused
    assert t.send(1, big, ("127.0.0.1", far.port), "UDP")
    _serve(loop, lambda: far_udp)
    assert far_udp == [big]  # whole, with its Via as it was
    loop.close_all()


def test_phone_over_tcp_gets_its_response_on_the_same_connection():
    loop, streams, eps, t, got = _setup()
    for _ in range(50):
        try:
            t.listen_phone_tcp("127.0.0.1", _port())
            break
        except OSError:
            continue
    phone = []
    c = streams.connect("127.0.0.1", t.listener.port, lambda c, k, d, n: phone.append((k, d)))
    req = _request(3000).replace(b"SIP/2.0/UDP", b"SIP/2.0/TCP")
    c.send(req)
    _serve(loop, lambda: got)
    side, data, src, tr = got[0]
    assert (side, data, tr) == (0, req, "TCP")
    resp = b"SIP/2.0 180 Ringing\r\nCall-ID: c\r\nContent-Length: 0\r\n\r\n"
    n_conns = len(streams.conns)
    assert t.send(0, resp, src, "TCP")
    _serve(loop, lambda: (stream.MESSAGE, resp) in phone)
    assert len(streams.conns) == n_conns  # no new connection
    loop.close_all()


def test_switch_via():
    sw = siptransport._switch_via
    two = b"INVITE x SIP/2.0\r\nVia: SIP/2.0/UDP a;branch=1\r\nVia: SIP/2.0/UDP b\r\n"
    assert sw(two, "TLS") == two.replace(b"UDP a", b"TLS a")
    assert sw(b"INVITE x SIP/2.0\r\nv: SIP/2.0/UDP a\r\n", "TCP") == \
        b"INVITE x SIP/2.0\r\nv: SIP/2.0/TCP a\r\n"


# --- destinations by name (RFC 3263): what the transport remembers of them -----------------------

class _Answer:
    error = None

    def __init__(self, name, ip):
        from zerotap import dns
        self.records = [dns.Record(name, dns.A, 60, ip)]


class _Client:
    """Every name has the address 127.0.0.1 (a DNS client with it cached)."""

    def rand(self, n):
        return os.urandom(n)

    def lookup(self, name, qtype, now):
        return _Answer(name, "127.0.0.1")


class _Resolver:
    def __init__(self):
        self.client = _Client()
        self.calls = 0

    def locate(self, done, host, port=None, transport=None, secure=False):
        from zerotap.sip import locate
        self.calls += 1
        loc = locate.Locate(self.client, host, port, transport, secure)
        done(loc, loc.step(0))
        return loc


def test_a_name_sent_to_on_another_port_goes_to_that_port():
    loop, streams, eps, t, got = _setup()
    t.resolver = _Resolver()
    a, b = [], []
    far_a = _open_udp(loop, lambda ep, d, n, addr, now: a.append(bytes(d[:n])))
    far_b = _open_udp(loop, lambda ep, d, n, addr, now: b.append(bytes(d[:n])))
    assert t.send(1, b"first", ("sip.example.test", far_a.port), "UDP")
    assert t.send(1, b"second", ("sip.example.test", far_b.port), "UDP")
    _serve(loop, lambda: len(a) + len(b) >= 2)
    assert a == [b"first"] and b == [b"second"], (a, b)
    loop.close_all()


def test_names_sent_to_are_remembered_in_a_bounded_table():
    # one entry per distinct name, never removed: a box up for months that calls many domains
    # (or a peer that makes it send to many names) grew it without bound
    loop, streams, eps, t, got = _setup()
    t.resolver = _Resolver()
    far = []
    dest = _open_udp(loop, lambda ep, d, n, addr, now: far.append(1))
    for i in range(200):
        assert t.send(1, b"x", ("h%d.example.test" % i, dest.port), "UDP")
    assert len(t.located) <= siptransport.LOCATED_MAX, len(t.located)
    # the names in use stay located: sending again to the last one asks no new lookup
    calls = t.resolver.calls
    assert t.send(1, b"y", ("h199.example.test", dest.port), "UDP")
    assert t.resolver.calls == calls
    loop.close_all()


# --- a datagram the system will not send (RFC 3261 §8.1.3.1, §16.9: a transport error) -----------

def test_a_request_whose_udp_send_fails_is_handed_to_failure():
    # sendto to the broadcast address on a socket without SO_BROADCAST fails (EACCES), as it
    # does toward a network without a route (ENETUNREACH): the request was only counted in the
    # socket's send_errors and logged nowhere; the phone got no answer and retransmitted to its
    # Timer B. Handed to failure (the box answers 503 with the reason), as a connection that
    # never opened is
    loop, streams, eps, t, got = _setup()
    failed = []
    t.failure = lambda side, messages, reason: failed.append((side, messages, reason))
    req = _request(200)
    assert t.send(1, req, ("255.255.255.255", 5060), "UDP") is False
    assert eps[1].send_errors == 1
    assert failed == [(1, [req], "udp 255.255.255.255:5060: the system refused to send")], failed
    assert t.last_error == failed[0][2]
    # a response that cannot be sent goes the same way (failure decides what it answers)
    resp = b"SIP/2.0 180 Ringing\r\nCall-ID: c\r\nContent-Length: 0\r\n\r\n"
    assert t.send(1, resp, ("255.255.255.255", 5060), "UDP") is False
    assert len(failed) == 2 and failed[1][1] == [resp]
    loop.close_all()


def test_a_large_request_whose_tcp_and_udp_both_fail_is_handed_to_failure():
    # over 1300 bytes: TCP first (RFC 3261 §18.1.1); the connection cannot be made, and the
    # UDP datagram after it cannot be sent either: failure, not silence
    loop, streams, eps, t, got = _setup()
    failed = []
    t.failure = lambda side, messages, reason: failed.append((side, messages, reason))
    big = _request(4000)
    t.send(1, big, ("255.255.255.255", 5060), "UDP")
    _serve(loop, lambda: failed, limit_ms=3000)
    assert failed[0][0] == 1 and failed[0][1] == [big], failed
    loop.close_all()

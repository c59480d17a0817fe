"""A next hop named by a host name without a port is located with RFC 3263 (sections 4.1, 4.2):
SRV first, then A/AAAA of the SRV target; A on the default port (5060, 5061 for TLS) only when
the name has no SRV record. The box (CPython and MicroPython) has no network.proxy, so its
requests go by Route and Request-URI; dnsmasq is its DNS server; a bare UDP socket from the test
is the phone, and plain sockets stand where the records point."""
import contextlib
import random
import socket
import time

import pytest

import ports
from boxproc import BoxProcess
from dnsmasq import Dnsmasq
from test_box_transports import RawUA
from testca import TestCA


def _loopback(port, kind=socket.SOCK_DGRAM):
    """A socket on a free loopback address of 127.0.0.0/8 (none of the usual 127.0.0.1) bound to
    PORT (5060 and 5061 are the defaults under test): (socket, address)."""
    for _ in range(50):
        host = "127.%d.%d.%d" % (random.randrange(16, 250), random.randrange(0, 250),
                                 random.randrange(2, 250))
        s = socket.socket(socket.AF_INET, kind)
        try:
            s.bind((host, port))
        except OSError:
            s.close()
            continue
        if kind == socket.SOCK_STREAM:
            s.listen(4)
        s.settimeout(0.2)
        return s, host
    raise AssertionError("no free loopback address for port %d" % port)


def _options(phone, box, uri, tag, route=None):
    msg = ("OPTIONS %s SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK%s;rport\r\n"
           "Max-Forwards: 70\r\n%sFrom: <sip:alice@127.0.0.1>;tag=%s\r\nTo: <%s>\r\n"
           "Call-ID: %s@srv\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
           % (uri, phone.port, tag, ("Route: <%s>\r\n" % route) if route else "", tag, uri, tag))
    phone.send(msg.encode(), ("127.0.0.1", box.phone_port))


def _datagram(sock, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            return sock.recvfrom(65535)[0]
        except OSError:
            continue
    return None


def _connection(sock, timeout=10):
    """The first bytes of the first connection accepted on SOCK (a TLS ClientHello), or None."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            conn, _ = sock.accept()
        except OSError:
            continue
        conn.settimeout(5)
        try:
            return conn.recv(16)
        finally:
            conn.close()
    return None


@contextlib.contextmanager
def _box_on_dns(tmp_path, interp, records, socks=(), network=None):
    """A box (INTERP) whose DNS server is a dnsmasq serving RECORDS, NETWORK more of its network
    config, and a bare UDP socket as its phone, all started: (dnsmasq, box, phone). After: the
    phone and the test's SOCKS closed, the box and dnsmasq stopped."""
    d = Dnsmasq(tmp_path / "dns", ports.udp_port(), records)
    box = BoxProcess(tmp_path / "box", "A", interpreter=interp)
    box.config["network"].update({"dns": ["127.0.0.1:%d" % d.port]})
    box.config["network"].update(network or {})
    phone = RawUA()
    try:
        d.start()
        box.start()
        yield d, box, phone
    finally:
        phone.close()
        for s in socks:
            s.close()
        box.stop()
        d.stop()


@pytest.mark.parametrize("interp", ["cpython", "micropython"])
def test_named_next_hop_without_a_port_asks_srv_first(tmp_path, interp):
    srv_target = ports.udp_port()  # where the SRV record of edge.test points
    srv_sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    srv_sock.bind(("127.0.0.1", srv_target))
    srv_sock.settimeout(0.2)
    edge_a, edge_host = _loopback(5060)    # edge.test's own A record, on 5060: not to be used
    plain_a, plain_host = _loopback(5060)  # plain.test: an A record only, no SRV
    tls_a, tls_host = _loopback(5061, socket.SOCK_STREAM)  # tls.test: an A record only
    records = [
        "srv-host=_sip._udp.edge.test,sip-t.edge.test,%d,10,0" % srv_target,
        "host-record=sip-t.edge.test,127.0.0.1",
        "host-record=edge.test,%s" % edge_host,
        "host-record=plain.test,%s" % plain_host,
        "host-record=tls.test,%s" % tls_host]
    ca = TestCA(tmp_path / "ca")
    with _box_on_dns(tmp_path, interp, records, (srv_sock, edge_a, plain_a, tls_a),
                     {"tls": {"ca": str(ca.pem)}}) as (d, box, phone):
        # a Route whose host has SRV records: the SRV target's port, not edge.test:5060
        _options(phone, box, "sip:bob@far.example", "r1", route="sip:edge.test;lr")
        got = _datagram(srv_sock)
        wrong = _datagram(edge_a, 1)
        assert got is not None and got.startswith(b"OPTIONS sip:bob@far.example SIP/2.0\r\n"), \
            (got, "at edge.test:5060: %r" % (wrong,), box.log()[-2000:])
        assert wrong is None
        # a Request-URI host with no SRV record: its A record on 5060
        _options(phone, box, "sip:bob@plain.test", "p1")
        got = _datagram(plain_a)
        assert got is not None and got.startswith(b"OPTIONS sip:bob@plain.test SIP/2.0\r\n"), \
            (got, box.log()[-2000:])
        # a TLS Route with no SRV record: its A record on 5061
        _options(phone, box, "sip:bob@far.example", "t1", route="sip:tls.test;transport=tls;lr")
        hello = _connection(tls_a)
        assert hello is not None and hello[:1] == b"\x16", (hello, box.log()[-2000:])
        dlog = d.log_text().lower()  # the queries carry 0x20 random letter case
    assert "query[srv] _sip._udp.edge.test" in dlog, dlog[-2000:]
    assert "query[srv] _sip._udp.plain.test" in dlog, dlog[-2000:]
    assert "query[srv] _sips._tcp.tls.test" in dlog, dlog[-2000:]


@pytest.mark.parametrize("interp", ["cpython", "micropython"])
def test_dotted_quad_with_a_leading_zero_is_not_an_address(tmp_path, interp):
    """`127.0.0.010` in a Request-URI: the system's resolver (inet_aton) reads the leading zero
    as octal, 127.0.0.8, where the text reads 127.0.0.10 (and config, the ICE offer and
    inet_pton refuse it). Not an address, then: a name for DNS, which does not know it (the box
    logs so); nothing goes to 127.0.0.8 (nor to 127.0.0.10)."""
    port = ports.udp_port()
    octal = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    octal.bind(("127.0.0.8", port))
    octal.settimeout(0.2)
    decimal = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    decimal.bind(("127.0.0.10", port))
    decimal.settimeout(0.2)
    with _box_on_dns(tmp_path, interp, [], (octal, decimal)) as (d, box, phone):
        _options(phone, box, "sip:bob@127.0.0.010:%d" % port, "z1")
        sent = _datagram(octal, 3), _datagram(decimal, 1)
        assert sent == (None, None), (sent, box.log()[-2000:])
        dlog = d.log_text().lower()
        blog = box.log()
    assert "query[a] 127.0.0.010 " in dlog, dlog[-2000:]
    assert "network: 127.0.0.010 A: " in blog, blog[-2000:]


@pytest.mark.parametrize("interp", ["cpython", "micropython"])
def test_transport_udp_in_the_uri_is_used_without_naptr(tmp_path, interp):
    """RFC 3263 section 4.1: a URI whose transport parameter names UDP is located over UDP: SRV
    of _sip._udp (section 4.2), no NAPTR, even when NAPTR would offer TCP first. The Route
    `sip:edge.test;transport=udp;lr`: the request reaches the _sip._udp SRV target as a datagram,
    and nothing connects to the TCP target NAPTR prefers."""
    udp_target = ports.udp_port()
    udp_sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp_sock.bind(("127.0.0.1", udp_target))
    udp_sock.settimeout(0.2)
    tcp_sock, tcp_host = _loopback(0, socket.SOCK_STREAM)
    tcp_target = tcp_sock.getsockname()[1]
    records = [
        "naptr-record=edge.test,10,50,s,SIP+D2T,,_sip._tcp.edge.test",
        "naptr-record=edge.test,20,50,s,SIP+D2U,,_sip._udp.edge.test",
        "srv-host=_sip._tcp.edge.test,tcp.edge.test,%d,10,0" % tcp_target,
        "srv-host=_sip._udp.edge.test,udp.edge.test,%d,10,0" % udp_target,
        "host-record=tcp.edge.test,%s" % tcp_host,
        "host-record=udp.edge.test,127.0.0.1"]
    with _box_on_dns(tmp_path, interp, records, (udp_sock, tcp_sock)) as (d, box, phone):
        _options(phone, box, "sip:bob@far.example", "u1", route="sip:edge.test;transport=udp;lr")
        got = _datagram(udp_sock)
        over_tcp = _connection(tcp_sock, 1)
        assert got is not None and got.startswith(b"OPTIONS sip:bob@far.example SIP/2.0\r\n"), \
            (got, "over TCP: %r" % (over_tcp,), box.log()[-2000:])
        assert over_tcp is None
        assert b"Via: SIP/2.0/UDP " in got, got
        dlog = d.log_text().lower()
    assert "query[srv] _sip._udp.edge.test" in dlog, dlog[-2000:]
    assert "query[naptr]" not in dlog, dlog[-2000:]


def _request(phone, box, method, uri, tag, route=None, cseq=1):
    msg = ("%s %s SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK%s;rport\r\n"
           "Max-Forwards: 70\r\n%sFrom: <sip:alice@127.0.0.1>;tag=%s\r\nTo: <%s>\r\n"
           "Call-ID: %s@srv\r\nCSeq: %d %s\r\n%sContent-Length: 0\r\n\r\n"
           % (method, uri, phone.port, tag, ("Route: <%s>\r\n" % route) if route else "", tag,
              uri, tag, cseq, method,
              "Contact: <sip:alice@127.0.0.1:%d>\r\n" % phone.port if method == "INVITE" else ""))
    phone.send(msg.encode(), ("127.0.0.1", box.phone_port))


def _final(phone, tag, timeout):
    """The first final response (not 1xx) of the phone's transaction TAG within TIMEOUT s, or
    None."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = _datagram(phone.sock, max(0.05, deadline - time.monotonic()))
        if got is not None and got.startswith(b"SIP/2.0 ") and not got.startswith(b"SIP/2.0 1") \
                and ("branch=z9hG4bK%s;" % tag).encode() in got:
            return got
    return None


@pytest.mark.parametrize("interp", ["cpython", "micropython"])
def test_next_hop_that_does_not_resolve_is_answered_503(tmp_path, interp):
    """RFC 3263 section 4.3, RFC 3261 section 16.7: a next hop whose name does not resolve (an
    unknown name, an SRV target with no address) gets the phone a prompt 503 with the reason in
    a Warning, not silence until its own Timer B (32 s); the status shows the reason. An ACK gets
    no answer; a name that resolves still takes the requests."""
    plain_a, plain_host = _loopback(5060)
    records = [
        "srv-host=_sip._udp.empty.test,gone.empty.test,5060,10,0",  # a target with no address
        "host-record=plain.test,%s" % plain_host]
    with _box_on_dns(tmp_path, interp, records, (plain_a,)) as (d, box, phone):
        _request(phone, box, "OPTIONS", "sip:bob@far.example", "n1", route="sip:nothere.test;lr")
        got = _final(phone, "n1", 2)
        assert got is not None and got.startswith(b"SIP/2.0 503 "), (got, box.log()[-2000:])
        assert b'Warning: 399 zerotap "network: nothere.test' in got, got
        _request(phone, box, "INVITE", "sip:bob@empty.test", "i1")
        got = _final(phone, "i1", 2)
        assert got is not None and got.startswith(b"SIP/2.0 503 "), (got, box.log()[-2000:])
        assert b'Warning: 399 zerotap "network: empty.test: ' in got, got
        _request(phone, box, "ACK", "sip:bob@nothere2.test", "a1")
        assert _final(phone, "a1", 1.5) is None
        _request(phone, box, "OPTIONS", "sip:bob@plain.test", "p1")
        got = _datagram(plain_a)
        assert got is not None and got.startswith(b"OPTIONS sip:bob@plain.test SIP/2.0\r\n"), \
            (got, box.log()[-2000:])
        errors = [s.get("registration_error") for s in box.statuses() if "call" not in s]
        blog = box.log()
    errors = [e for e in errors if e]
    assert errors and errors[0].startswith("network: nothere.test"), (errors, blog[-2000:])
    assert any(e.startswith("network: empty.test: ") for e in errors), errors


@pytest.mark.parametrize("interp", ["cpython", "micropython"])
def test_next_hop_by_name_without_a_resolver_is_answered_503(tmp_path, interp):
    """No network.dns and network.proxy no domain: the box has no resolver; a request whose next
    hop is a name gets the phone a prompt 503 saying so, not silence."""
    box = BoxProcess(tmp_path / "box", "A", interpreter=interp)
    phone = RawUA()
    try:
        box.start()
        _request(phone, box, "OPTIONS", "sip:bob@far.test", "r1")
        got = _final(phone, "r1", 2)
        _request(phone, box, "INVITE", "sip:bob@far.test", "r2")
        invite = []  # what the phone gets for its INVITE: no provisional after the final one
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline:
            d = _datagram(phone.sock, 0.3)
            if d is not None and b"branch=z9hG4bKr2;" in d:
                invite.append(d.split(b"\r\n", 1)[0])
        blog = box.log()
    finally:
        phone.close()
        box.stop()
    assert got is not None and got.startswith(b"SIP/2.0 503 "), (got, blog[-2000:])
    assert b'Warning: 399 zerotap "network: far.test: no DNS resolver configured"' in got, got
    assert invite and invite[-1] == b"SIP/2.0 503 Service Unavailable", (invite, blog[-2000:])
    assert "internal error" not in blog, blog[-2000:]


@pytest.mark.parametrize("interp", ["cpython", "micropython"])
def test_tls_next_hop_without_a_ca_is_answered_503(tmp_path, interp):
    """A Route that asks for TLS when the box has no network.tls.ca (nothing to check the server
    with): no connection, and the phone gets a prompt 503 saying why, not silence; nothing in
    clear either."""
    tls_sock, tls_host = _loopback(5061, socket.SOCK_STREAM)
    box = BoxProcess(tmp_path / "box", "A", interpreter=interp)
    phone = RawUA()
    try:
        box.start()
        _request(phone, box, "OPTIONS", "sip:bob@far.example", "c1",
                 route="sip:%s;transport=tls;lr" % tls_host)
        got = _final(phone, "c1", 2)
        hello = _connection(tls_sock, 0.5)
        blog = box.log()
    finally:
        phone.close()
        tls_sock.close()
        box.stop()
    assert got is not None and got.startswith(b"SIP/2.0 503 "), (got, blog[-2000:])
    assert b'Warning: 399 zerotap "network: tls: no CA configured' in got, got
    assert hello is None

"""The stream layer (zerotap.runtime.stream) and stream framing (zerotap.sip.framing), on real
loopback TCP sockets in the same loop as UDP, under both interpreters. TLS against a real TLS
server is in host_tests/cpython/test_stream_tls.py (it needs a CA made by the test)."""
import os
import time

from support import raises
from zerotap.runtime import stream, udp
from zerotap.sip import framing

INVITE = (b"INVITE sip:bob@example.test SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1;branch=z9hG4bK1\r\n"
          b"Content-Length: 5\r\n\r\nhello")


def _msg(body=b"", cl=None, name=b"Content-Length"):
    cl = len(body) if cl is None else cl
    return (b"OPTIONS sip:x@example.test SIP/2.0\r\nCall-ID: a\r\n" + name + b": " +
            str(cl).encode() + b"\r\n\r\n" + body)


# --- framing ------------------------------------------------------------------------------------
def test_framing_cuts_by_content_length_in_any_chunks():
    data = INVITE + _msg(b"x" * 300) + b"\r\n\r\n" + _msg(name=b"l")
    for step in (1, 2, 7, 64, len(data)):
        f = framing.Framer()
        got = []
        for i in range(0, len(data), step):
            got += f.feed(data[i:i + step])
        assert got == [(framing.MESSAGE, INVITE), (framing.MESSAGE, _msg(b"x" * 300)),
                       (framing.PING, b"\r\n\r\n"), (framing.MESSAGE, _msg(name=b"l"))], step
        assert f.pending() == 0


def test_framing_pong_only_when_expected():
    f = framing.Framer()
    assert f.feed(b"\r\n") == [] and f.pending() == 2  # a pong, or half a ping: wait
    f = framing.Framer()
    f.expect_pong = True
    assert f.feed(b"\r\n") == [(framing.PONG, b"\r\n")]
    assert f.feed(INVITE) == [(framing.MESSAGE, INVITE)]


def test_framing_errors_are_precise():
    def fed(data, **kw):
        return lambda: framing.Framer(**kw).feed(data)
    raises(fed(b"OPTIONS sip:x SIP/2.0\r\nCall-ID: a\r\n\r\n"),
           "framing: no Content-Length on a stream")
    raises(fed(_msg(cl="12x".encode() and 0)[:0] + b"OPTIONS s SIP/2.0\r\nl: 1x\r\n\r\n"),
           "framing: bad Content-Length '1x'")
    raises(fed(b"\x16\x03\x01\x02\x00garbage\r\n\r\n"), "framing: not a SIP message")
    raises(fed(_msg(cl=20000)), "framing: Content-Length 20000 beyond the limit 16384")
    raises(fed(b"OPTIONS " + b"a" * 200, max_header=100), "framing: header longer than 100 bytes")
    raises(fed(b"OPTIONS s SIP/2.0\r\nl: 1\r\nContent-Length: 2\r\n\r\n"),
           "framing: two different Content-Length values")
    f = framing.Framer()
    raises(lambda: f.feed(b"garbage\r\n\r\n"), "framing: not a SIP message")
    raises(lambda: f.feed(INVITE), "framing: not a SIP message")  # broken stays broken


def test_framing_hands_on_the_whole_messages_before_an_error_in_the_same_data():
    # a read that holds a whole message and then bytes that break the framing: the message was
    # lost with the error, or handed on, as the peer's segments happened to cut the stream (a
    # BYE then a message over the body limit, one segment: the BYE lost)
    bad = _msg(cl=20000)
    for data in (INVITE + bad, INVITE + b"\r\n\r\n" + b"garbage\r\n\r\n"):
        f = framing.Framer()
        got = f.feed(data)
        assert got[0] == (framing.MESSAGE, INVITE), got
        assert f.broken and f.pending() == 0
        raises(lambda: f.feed(INVITE), f.broken)  # broken stays broken
        f = framing.Framer()
        assert f.feed(data[:len(INVITE)]) == [(framing.MESSAGE, INVITE)]  # as when cut there


def _ms():
    return time.ticks_ms() if hasattr(time, "ticks_ms") else int(time.time() * 1000)


def test_framing_a_large_message_in_tiny_pieces_costs_what_small_ones_do():
    # a peer (the phone side's TCP listener takes anyone on the LAN) that sends a large message
    # a byte at a time: each piece copied and searched the whole buffer again, so the work grew
    # with the square of the message (32 KB: 7 s of CPU on the unix port, minutes on a board,
    # every call's media stalled meanwhile). The same bytes in the same number of pieces cost
    # about the same whether they make one large message or 64 small ones
    def message(pad, body):
        return (b"OPTIONS sip:x SIP/2.0\r\nX-Pad: " + b"a" * pad +
                b"\r\nContent-Length: %d\r\n\r\n" % body + b"b" * body)

    def cost(data, count):
        f = framing.Framer()
        got = 0
        t0 = _ms()
        for i in range(len(data)):
            got += len(f.feed(data[i:i + 1]))
        t = _ms() - t0
        assert got == count and f.pending() == 0
        return t

    large = message(7000, 16000)
    small = message(7000 // 64, 16000 // 64) * 64
    assert len(large) < len(small) < len(large) + 64 * 64
    one, many = cost(large, 1), cost(small, 64)
    print("framing: one large message %d ms, 64 small %d ms" % (one, many))
    assert one <= 3 * many + 100, (one, many)


def test_framing_takes_any_token_as_a_method():
    # RFC 4475 section 3.1.1.4 (intmeth, a valid message whose Via says TCP): a method is any
    # token, "!interesting-Method..." included; the stream must not close on it (with the
    # messages pipelined behind it)
    from vectors import VECTORS
    with open(VECTORS + "/sip_rfc4475/intmeth.dat", "rb") as f:
        intmeth = f.read()
    f = framing.Framer()
    assert f.feed(intmeth + INVITE) == [(framing.MESSAGE, intmeth), (framing.MESSAGE, INVITE)]
    raises(lambda: framing.Framer().feed(b"!garbage\r\nl: 0\r\n\r\n"),
           "framing: not a SIP message")


# --- streams on loopback ------------------------------------------------------------------------
def _port():
    return 20000 + (int.from_bytes(os.urandom(2), "big") % 20000)


def _listen(streams, handler, **listen_args):
    for _ in range(50):
        try:
            return streams.listen("127.0.0.1", _port(), handler, **listen_args)
        except OSError:
            continue
    raise AssertionError("no free TCP port")


def _serve(loop, until, limit_ms=3000):
    t0 = loop.clock()
    while not until():
        assert loop.clock() - t0 < limit_ms, "timed out"
        loop.run_once(20)
        loop.serve_timers()


class Recorder:
    def __init__(self):
        self.events = []
        self.conns = []

    def __call__(self, conn, kind, data, now):
        if conn not in self.conns:
            self.conns.append(conn)
        self.events.append((conn, kind, data))

    def kinds(self, conn=None):
        return [(k, d) for c, k, d in self.events if conn is None or c is conn]


def _client_and_server(**connect_args):
    """A loop, its Streams, a listener with a Recorder (server), and a connection to it with
    another (client): (loop, streams, server, listener, client, connection)."""
    loop = udp.Loop()
    streams = stream.Streams(loop)
    server = Recorder()
    lst = _listen(streams, server)
    client = Recorder()
    c = streams.connect("127.0.0.1", lst.port, client, **connect_args)
    return loop, streams, server, lst, client, c


def test_tcp_messages_both_ways_beside_udp():
    loop, streams, server, lst, client, c = _client_and_server()
    assert streams.find("TCP", "127.0.0.1", lst.port) is c  # reuse while it opens
    big = _msg(b"v" * 9000)
    assert c.send(INVITE) and c.send(big)
    # a UDP socket in the same loop keeps working
    got_udp = []
    ep = loop.open("127.0.0.1", 0 or _port(), lambda e, d, n, a, t: got_udp.append(bytes(d[:n])))
    ep.send(b"udp", ("127.0.0.1", ep.port))
    _serve(loop, lambda: len(server.kinds()) >= 3 and got_udp)
    assert client.kinds(c)[0] == (stream.OPEN_EVENT, None)
    s_conn = server.conns[0]
    assert server.kinds() == [(stream.OPEN_EVENT, None), (stream.MESSAGE, INVITE),
                              (stream.MESSAGE, big)]
    assert s_conn.inbound and s_conn.peer[1] != lst.port
    s_conn.send(_msg(b"answer"))
    _serve(loop, lambda: len(client.kinds(c)) >= 2)
    assert client.kinds(c)[1] == (stream.MESSAGE, _msg(b"answer"))
    assert got_udp == [b"udp"]
    loop.close_all()
    assert c.closed and s_conn.closed


def test_keepalive_ping_pong_and_missing_pong():
    loop, streams, server, lst, client, c = _client_and_server(keepalive_ms=100)
    _serve(loop, lambda: c.is_open and server.conns)
    t_open = loop.clock()
    _serve(loop, lambda: c.ping_sent_at is not None)
    assert loop.clock() - t_open >= 80
    _serve(loop, lambda: c.ping_sent_at is None)  # the server's framer answered the pong
    assert c.is_open
    # a server that does not answer pings: the client closes after PONG_MS
    old = stream.PONG_MS
    stream.PONG_MS = 150
    try:
        server.conns[0].framer = None  # raw: it no longer answers pings
        _serve(loop, lambda: c.ping_sent_at is not None)
        _serve(loop, lambda: c.closed)
        assert c.close_reason == "keepalive: no pong within 0 s"
    finally:
        stream.PONG_MS = old
    loop.close_all()


def test_malformed_input_closes_that_connection_only():
    logged = []
    loop = udp.Loop()
    streams = stream.Streams(loop, logged.append)
    server = Recorder()
    lst = _listen(streams, server)
    good = streams.connect("127.0.0.1", lst.port, Recorder())
    bad = streams.connect("127.0.0.1", lst.port, Recorder())
    stops = streams.connect("127.0.0.1", lst.port, Recorder())
    _serve(loop, lambda: len(server.conns) == 3)
    old = stream.MESSAGE_MS
    stream.MESSAGE_MS = 200
    try:
        bad.send(b"\x16\x03\x01 not sip at all\r\n\r\n")
        stops.send(_msg(b"short", cl=50))  # Content-Length beyond the data, then nothing
        _serve(loop, lambda: len([c for c in server.conns if c.closed]) == 2)
    finally:
        stream.MESSAGE_MS = old
    reasons = sorted(c.close_reason for c in server.conns if c.closed)
    assert reasons == ["a message unfinished after 0 s", "framing: not a SIP message"], reasons
    good.send(INVITE)
    _serve(loop, lambda: (stream.MESSAGE, INVITE) in server.kinds())
    assert [c for c in server.conns if not c.closed][0].received_messages == 1
    # a whole message, then garbage, in one write: the message comes, then the close
    both = streams.connect("127.0.0.1", lst.port, Recorder())
    _serve(loop, lambda: len(server.conns) == 4)
    both.send(_msg(b"last") + b"\x16\x03\x01 not sip\r\n\r\n")
    _serve(loop, lambda: server.conns[3].closed)
    assert server.conns[3].received_messages == 1
    assert server.conns[3].close_reason == "framing: not a SIP message"
    assert (stream.MESSAGE, _msg(b"last")) in server.kinds()
    server.conns.pop()
    assert any("closed: framing: not a SIP message" in t for t in logged), logged
    # the peer stops in the middle of a message: closed with that reason
    half = streams.connect("127.0.0.1", lst.port, Recorder())
    _serve(loop, lambda: len(server.conns) == 4)
    half.send(_msg(b"12345", cl=10))
    _serve(loop, lambda: server.conns[3].partial_since is not None)
    half.close()
    _serve(loop, lambda: server.conns[3].closed)
    assert server.conns[3].close_reason == "the peer stopped in the middle of a message"
    loop.close_all()


def test_connect_refused_has_its_reason():
    loop = udp.Loop()
    streams = stream.Streams(loop)
    lst = _listen(streams, Recorder())
    port = lst.port
    lst.close()
    rec = Recorder()
    c = streams.connect("127.0.0.1", port, rec)
    _serve(loop, lambda: c.closed)
    assert c.close_reason == "connect failed: [Errno 111] connection refused", c.close_reason
    assert rec.kinds() == [(stream.CLOSED_EVENT, c.close_reason)]
    assert streams.find("TCP", "127.0.0.1", port) is None
    loop.close_all()


def test_tls_needs_a_name_and_a_ca():
    loop = udp.Loop()
    streams = stream.Streams(loop)
    raises(lambda: stream.client_context(), "tls: no CA given (a bundle or a pinned CA)")
    raises(lambda: streams.connect("127.0.0.1", 5061, None, tls=object()),
           "tls: a server name is needed for the certificate check")
    loop.close_all()


def test_raw_streams_carry_bytes_as_they_come():
    """framed=False (the ICE helper's HTTPS client): DATA events with the bytes as read, no SIP
    framing, no keepalive answers."""
    loop = udp.Loop()
    streams = stream.Streams(loop)
    server = Recorder()
    lst = _listen(streams, server, framed=False)
    client = Recorder()
    c = streams.connect("127.0.0.1", lst.port, client, framed=False)
    c.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    _serve(loop, lambda: [k for k, d in server.kinds() if k == stream.DATA])
    got = b"".join(d for k, d in server.kinds() if k == stream.DATA)
    assert got == b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
    server.conns[0].send(b"\r\n\r\nHTTP/1.1 200 OK\r\n")  # a ping would be answered if framed
    _serve(loop, lambda: [k for k, d in client.kinds(c) if k == stream.DATA])
    assert b"".join(d for k, d in client.kinds(c) if k == stream.DATA) == \
        b"\r\n\r\nHTTP/1.1 200 OK\r\n"
    loop.close_all()


def test_a_listener_keeps_at_most_max_inbound_connections():
    loop = udp.Loop()
    streams = stream.Streams(loop)
    server = Recorder()
    lst = _listen(streams, server)
    clients = []
    for i in range(stream.MAX_INBOUND):
        c = streams.connect("127.0.0.1", lst.port, Recorder())
        clients.append(c)
        _serve(loop, lambda: len(server.conns) == i + 1)
    clients[1].send(INVITE)  # the others stay quiet; clients[0] is the quietest
    _serve(loop, lambda: (stream.MESSAGE, INVITE) in server.kinds())
    extra = streams.connect("127.0.0.1", lst.port, Recorder())
    _serve(loop, lambda: len(server.conns) == stream.MAX_INBOUND + 1)
    closed = [c for c in server.conns if c.closed]
    assert len(closed) == 1 and closed[0] is server.conns[0], closed
    assert closed[0].close_reason.startswith("too many connections on port")
    assert len([c for c in streams.conns if c.inbound]) == stream.MAX_INBOUND
    loop.close_all()


def test_close_after_flush_closes_once_a_queued_answer_is_written():
    """A server's last answer larger than the socket takes at once (a board's lwIP send buffer
    is about 5.7 KB; here the test makes both buffers small) stays queued; once the peer has read
    it all, the connection closes: a web page streamed without Content-Length ends there (the
    browser waits for it), and its socket is given back."""
    import socket
    answer = b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + b"p" * 60000
    loop = udp.Loop()
    streams = stream.Streams(loop)
    server = []

    def on_server(conn, kind, data, now):
        if kind == stream.OPEN_EVENT:
            conn.sock.setsockopt(socket.SOL_SOCKET, 7, 4096)  # SO_SNDBUF (Linux)
            server.append(conn)
            conn.send(answer)
            conn.close_after_flush()

    lst = _listen(streams, on_server, framed=False)
    client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        client.setsockopt(socket.SOL_SOCKET, 8, 4096)  # SO_RCVBUF (Linux), before connect
        client.connect(socket.getaddrinfo("127.0.0.1", lst.port)[0][-1])
        client.setblocking(False)
        got = []
        eof = []

        def read():
            while True:
                try:
                    data = client.recv(8192)
                except OSError:
                    return
                if data is None:
                    return
                if not data:
                    eof.append(True)
                    return
                got.append(data)

        def done():
            read()
            return eof
        _serve(loop, lambda: server)
        assert server[0].out, "the answer was written at once: the buffers are too large"
        try:
            _serve(loop, done, limit_ms=2000)
        except AssertionError:
            pass
        assert b"".join(got) == answer
        assert eof, "the connection stayed open after its last answer was written"
        assert server[0].closed and server[0] not in streams.conns
    finally:
        client.close()
        loop.close_all()


def test_a_keepalive_ping_into_a_reset_connection_closes_that_connection_only():
    """The peer resets the connection (RST) after the loop's last poll and before its timers:
    the keepalive ping's write fails (ECONNRESET). That closes the connection with the reason;
    it must not leave the timer and end the loop (every call with it)."""
    import socket
    import struct
    import time
    loop, streams, server, lst, client, c = _client_and_server(keepalive_ms=100)
    _serve(loop, lambda: c.is_open and server.conns)
    s = server.conns[0]
    s.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()  # an RST to the client
    time.sleep(0.05)  # it arrives; no poll here: the timers run first
    try:
        streams.handle_timer(loop.clock() + 1000)  # the ping is due
        assert c.closed and c.close_reason.startswith("[Errno"), c.close_reason
        assert (stream.CLOSED_EVENT, c.close_reason) in client.kinds(c)
    finally:
        loop.close_all()

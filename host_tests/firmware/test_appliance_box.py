"""Issue 14, the host runtime on loopback sockets under both interpreters: one fault ends one call
(the other call's media still flows), a dead call ends after media.timeout_s, a fault in the loop
itself ends the loop (the process or the board restarts), and the sockets a call takes."""
import os
import socket

from support import scratch
from zerotap import config
from zerotap import status as st
from zerotap.runtime import box as runtime_box
from zerotap.runtime import udp
from zerotap.sip import message


class FakeClock:
    def __init__(self):
        self.now = 1000

    def __call__(self):
        return self.now


def _ports(n):
    loop = udp.Loop()
    low = 20000 + 2 * (int.from_bytes(os.urandom(2), "big") % 5000)
    out = []
    for _ in range(n):
        out.append(loop.open_pair("127.0.0.1", low, low + 400, lambda *a: None)[0].port)
        low = out[-1] + 2
    loop.close_all()
    return out


def _box(tmp, timeout_s=0, clock=None, cfg=None, dns=None):
    if cfg is not None:
        logs = []
        b = runtime_box.Box(cfg, log=logs.append, name="T")
        return b, logs
    p = _ports(3)
    low = p[2] + 100
    network = {"sip": "127.0.0.1:%d" % p[1], "rtp": "%d-%d" % (low + 20, low + 39)}
    if dns is not None:
        network["dns"] = ["127.0.0.1:%d" % dns]
    cfg = config.parse({
        "phone": {"sip": "127.0.0.1:%d" % p[0], "allow": ["127.0.0.1"],
                  "rtp": "%d-%d" % (low, low + 19)},
        "network": network,
        "media": {"timeout_s": timeout_s},
        "zrtp": {"cache": tmp + "/cache"},
        "status": tmp + "/status.jsonl",
        "control": "127.0.0.1:%d" % p[2]})
    logs = []
    b = runtime_box.Box(cfg, loop=udp.Loop(clock) if clock else None, log=logs.append, name="T")
    b.faults = True
    return b, logs


def _addr(port):
    return socket.getaddrinfo("127.0.0.1", port, 0, socket.SOCK_DGRAM)[0][-1]


_next_free = []


def _udp():
    """A non-blocking UDP socket on a free loopback port: (socket, port). MicroPython's sockets
    have no getsockname: the port is probed free first."""
    while True:
        if not _next_free:
            _next_free.extend(_ports(8))
        port = _next_free.pop()
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            s.bind(_addr(port))
        except OSError:
            s.close()
            continue
        s.settimeout(0)
        return s, port


class Peer:
    """A scripted SIP user agent on loopback: one SIP socket, one RTP socket per call."""

    def __init__(self, name):
        self.name = name
        self.sip, self.port = _udp()
        self.rtp = []
        self.rtp_port = {}
        self.got = []  # SIP messages received

    def new_rtp(self):
        s, port = _udp()
        self.rtp.append(s)
        self.rtp_port[id(s)] = port
        return s

    def sdp(self, rtp, host="127.0.0.1"):
        port = self.rtp_port[id(rtp)]
        return ("v=0\r\no=%s 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 %s\r\nt=0 0\r\n"
                "m=audio %d RTP/AVP 0\r\n" % (self.name, host, port))

    def send(self, data, port):
        self.sip.sendto(data, _addr(port))

    def receive(self):
        while True:
            try:
                data = self.sip.recv(4096)
            except OSError:
                return
            self.got.append(message.parse(data))

    def close(self):
        self.sip.close()
        for s in self.rtp:
            s.close()


def _turn(b, rounds=4):
    for _ in range(rounds):
        b.loop.run_once(20)
        t = b.timer()
        if t is not None and t <= b.loop.clock():
            b.handle_timer(b.loop.clock())


def _rtp(seq):
    return bytes([0x80, 0, seq >> 8, seq & 0xFF, 0, 0, 0, seq, 1, 2, 3, 4]) + b"\xff" * 160


def _drain(sock):
    n = 0
    while True:
        try:
            sock.recv(2048)
        except OSError:
            return n
        n += 1


def _audio_port(msg):
    """The port of the m=audio line of MSG's SDP."""
    return int(msg.body.decode().split("m=audio ")[1].split()[0])


def _invite(b, phone, far, cid, prtp, phone_host="127.0.0.1"):
    """The phone's INVITE (Call-ID CID, its media on PRTP, its SDP naming PHONE_HOST) goes
    through the box to the far peer; returns (the INVITE as the far peer got it, the box's rtp
    port toward the far peer)."""
    body = phone.sdp(prtp, phone_host).encode()
    inv = ("INVITE sip:bob@127.0.0.1:%d SIP/2.0\r\n"
           "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK%s;rport\r\n"
           "From: <sip:alice@127.0.0.1>;tag=a%s\r\nTo: <sip:bob@127.0.0.1:%d>\r\n"
           "Call-ID: %s\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\n"
           "Contact: <sip:alice@127.0.0.1:%d>\r\nContent-Type: application/sdp\r\n"
           "Content-Length: %d\r\n\r\n" % (far.port, phone.port, cid, cid, far.port, cid,
                                           phone.port, len(body))).encode() + body
    phone.send(inv, b.cfg.phone.port)
    _turn(b)
    far.receive()
    fwd = far.got[-1]
    assert fwd.method == "INVITE", fwd
    return fwd, _audio_port(fwd)


def _answer(b, far, fwd, cid, frtp, code, reason, far_host="127.0.0.1"):
    """The far peer answers the INVITE fwd (code, reason) with an SDP naming FAR_HOST."""
    body = far.sdp(frtp, far_host).encode()
    lines = ["SIP/2.0 %d %s" % (code, reason)] + ["Via: " + v for v in fwd.get_all("Via")]
    lines += ["Record-Route: " + r for r in fwd.get_all("Record-Route")]
    lines += ["From: " + fwd.get("From"), "To: %s;tag=b%s" % (fwd.get("To"), cid),
              "Call-ID: " + cid, "CSeq: 1 INVITE", "Contact: <sip:bob@127.0.0.1:%d>" % far.port,
              "Content-Type: application/sdp", "Content-Length: %d" % len(body)]
    far.send(("\r\n".join(lines) + "\r\n\r\n").encode() + body, b.cfg.network.port)
    _turn(b)


def _call(b, phone, far, cid, far_host="127.0.0.1", phone_host="127.0.0.1"):
    """The phone calls the far peer through the box (the SDPs name PHONE_HOST and FAR_HOST);
    returns (phone rtp, far rtp, box rtp ports toward phone and far)."""
    prtp, frtp = phone.new_rtp(), far.new_rtp()
    fwd, box_net = _invite(b, phone, far, cid, prtp, phone_host)
    _answer(b, far, fwd, cid, frtp, 200, "OK", far_host)
    phone.receive()
    ok = phone.got[-1]
    assert ok.status == 200, ok
    return prtp, frtp, _audio_port(ok), box_net


def _relays(b, prtp, frtp, box_phone, box_net, seq):
    """RTP both ways through the box: how many arrived at each end."""
    _drain(prtp)
    _drain(frtp)
    prtp.sendto(_rtp(seq), _addr(box_phone))
    frtp.sendto(_rtp(seq), _addr(box_net))
    _turn(b)
    return _drain(frtp), _drain(prtp)


def _relays_until_both(b, prtp, frtp, box_phone, box_net, seqs):
    """_relays with each seq of seqs until a packet arrives at both ends: the last count."""
    got = (0, 0)
    for seq in seqs:
        got = _relays(b, prtp, frtp, box_phone, box_net, seq)
        if got == (1, 1):
            break
    return got


def _stranger(host):
    """A non-blocking UDP socket on another loopback address (host), any port: a stranger."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(socket.getaddrinfo(host, 0, 0, socket.SOCK_DGRAM)[0][-1])
    s.setblocking(False)
    return s


def _byes(peer, cid):
    peer.receive()
    return [m for m in peer.got if m.is_request and m.method == "BYE" and
            m.get("Call-ID") == cid]


def _open_fds():
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:
        return None


class BoxAndPeers:
    """`with BoxAndPeers(tag, timeout_s=..., clock=...) as (b, logs, phone, far):` the box (_box,
    on the scratch directory TAG) with a phone ("alice") and a far end ("bob"), both Peers; the
    box is shut down and both peers closed however the test ends."""

    def __init__(self, tag, **box_args):
        self.tag = tag
        self.box_args = box_args

    def __enter__(self):
        self.b, logs = _box(scratch(self.tag), **self.box_args)
        self.phone, self.far = Peer("alice"), Peer("bob")
        return self.b, logs, self.phone, self.far

    def __exit__(self, *exc):
        self.b.shutdown()
        self.phone.close()
        self.far.close()


def test_a_fault_in_one_calls_media_ends_that_call_only():
    with BoxAndPeers("appl-fault") as (b, logs, phone, far):
        c1 = _call(b, phone, far, "call-one")
        c2 = _call(b, phone, far, "call-two")
        assert _relays(b, *c1, seq=1) == (1, 1) and _relays(b, *c2, seq=1) == (1, 1)
        # the socket budget (boards/README.md): two calls, and room for an ICE socket each
        rb = runtime_box
        assert len(b.loop._by_key) == rb.fixed_sockets(b.cfg) + 2 * rb.SOCKETS_PER_CALL == 8
        # a board: with the phone's TCP listener (phone.tcp, the default) all 10 are spoken for
        assert b.cfg.phone.tcp and rb.fixed_sockets(b.cfg) == 4
        assert rb.fixed_sockets(b.cfg) + rb.BOARD_CALLS * (
            rb.SOCKETS_PER_CALL + rb.ICE_SOCKETS_PER_CALL) == rb.BOARD_SOCKETS
        first, second = b.status.calls
        assert b.inject_fault([str(first.call), "media"]) is first
        _relays(b, *c1, seq=2)  # the next datagram of call one raises in its handler
        _turn(b)
        for peer in (phone, far):
            byes = _byes(peer, "call-one")
            assert len(byes) == 1, peer.name
            reason = byes[0].get("Reason")
            assert reason.startswith('SIP;cause=200;text="ZeroTap: internal error in the '
                                     "call's media: RuntimeError('injected fault: media handler'"), \
                reason
            assert _byes(peer, "call-two") == []
        assert first.security == st.FAILED and first.state == st.ENDED
        assert "injected fault: media handler" in first.error
        assert b.status.calls == [second] and len(b.media) == 1
        assert _relays(b, *c2, seq=3) == (1, 1)  # the other call still flows both ways
        assert not b.loop.stopping
        assert any("call %d: internal error in the call's media" % first.call in t for t in logs)


def test_a_fault_in_one_calls_timer_and_engine_hook():
    with BoxAndPeers("appl-timer") as (b, logs, phone, far):
        c1 = _call(b, phone, far, "t-one")
        c2 = _call(b, phone, far, "t-two")
        one, two = b.status.calls
        b.inject_fault([str(one.call), "timer"])
        # a timer of call one comes due (its media watch is off: give it a ZRTP-free deadline)
        m1 = b.media[0]
        m1.watch.timeout_ms = 1
        m1.watch.running = True
        _turn(b)
        assert one.security == st.FAILED and "injected fault: timer" in one.error
        assert len(_byes(phone, "t-one")) == 1 and len(_byes(far, "t-one")) == 1
        assert _relays(b, *c2, seq=5) == (1, 1)
        for words, msg in ((["2", "engine"], "call 2 has no ZRTP engine (clear mode)"),
                           (["2", "heat"],
                            "fault: WHERE is media, timer, engine or now, not 'heat'"),
                           (["9", "media"], "no call 9"),
                           (["x"], "usage: fault CALL|next media|timer|engine|now, or fault loop")):
            try:
                b.inject_fault(words)
            except ValueError as e:
                assert str(e) == msg, (str(e), msg)
            else:
                assert False, words
        b.faults = False
        try:
            b.inject_fault(["loop"])
        except ValueError as e:
            assert str(e) == "fault injection is off (ZEROTAP_FAULTS=1 turns it on)"
        else:
            assert False


def test_a_dead_far_end_ends_the_call_after_media_timeout_and_frees_its_sockets():
    clock = FakeClock()
    with BoxAndPeers("appl-dead", timeout_s=5, clock=clock) as (b, logs, phone, far):
        before = _open_fds()
        fixed = runtime_box.fixed_sockets(b.cfg)
        assert len(b.loop._by_key) == fixed
        c1 = _call(b, phone, far, "dead-one")
        during = _open_fds()
        assert len(b.loop._by_key) == fixed + runtime_box.SOCKETS_PER_CALL
        assert _relays(b, *c1, seq=1) == (1, 1)
        call = b.status.calls[0]
        for step in range(9):  # the phone keeps talking, the far end is gone
            clock.now += 500
            c1[0].sendto(_rtp(10 + step), _addr(c1[2]))
            _turn(b, 2)
        assert b.status.calls == [call]  # 4.5 s: alive
        clock.now += 600
        c1[0].sendto(_rtp(30), _addr(c1[2]))
        _turn(b, 2)
        assert b.status.calls == [] and call.state == st.ENDED
        assert call.error == "no media from the network for 5 s" and call.security != st.FAILED
        for peer in (phone, far):
            byes = _byes(peer, "dead-one")
            assert len(byes) == 1 and byes[0].get("Reason") == (
                'SIP;cause=200;text="ZeroTap: no media from the network for 5 s"'), peer.name
        assert b.media == [] and len(b.loop._by_key) == fixed
        if before is not None:
            # the two RTP sockets the test's peers made are the rest
            assert during - before - 2 == runtime_box.SOCKETS_PER_CALL, (before, during)
            assert _open_fds() == before + 2


def test_a_fault_in_the_loop_ends_run_after_a_clean_shutdown():
    b, logs = _box(scratch("appl-loop"))
    b.inject_fault(["loop"])
    try:
        b.run()
    except RuntimeError as e:
        assert str(e) == "injected fault: the loop"
    else:
        assert False, "run() returned"
    assert b.fault == "loop fault: RuntimeError('injected fault: the loop',)" or \
        b.fault == "loop fault: RuntimeError('injected fault: the loop')", b.fault
    assert b.stopped and logs[-1] == "stopped" and b.fault in logs


def test_bindings_survive_a_restart_of_the_box():
    tmp = scratch("appl-bind")
    b, logs = _box(tmp)
    phone, registrar = Peer("alice"), Peer("registrar")
    try:
        reg = ("REGISTER sip:127.0.0.1:%d SIP/2.0\r\n"
               "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bKreg1;rport\r\n"
               "From: <sip:alice@127.0.0.1>;tag=r1\r\nTo: <sip:alice@127.0.0.1>\r\n"
               "Call-ID: reg-1\r\nCSeq: 1 REGISTER\r\nMax-Forwards: 70\r\nExpires: 300\r\n"
               "Contact: <sip:alice@127.0.0.1:%d>\r\nContent-Length: 0\r\n\r\n"
               % (registrar.port, phone.port, phone.port)).encode()
        phone.send(reg, b.cfg.phone.port)
        _turn(b)
        registrar.receive()
        fwd = registrar.got[-1]
        contact = fwd.get("Contact")
        assert contact == "<sip:alice@127.0.0.1:%d;zt=1>" % b.cfg.network.port, contact
        lines = ["SIP/2.0 200 OK"] + ["Via: " + v for v in fwd.get_all("Via")]
        lines += ["From: " + fwd.get("From"), "To: %s;tag=reg" % fwd.get("To"),
                  "Call-ID: reg-1", "CSeq: 1 REGISTER", "Contact: %s;expires=300" % contact,
                  "Content-Length: 0"]
        registrar.send(("\r\n".join(lines) + "\r\n\r\n").encode(), b.cfg.network.port)
        _turn(b)
        phone.receive()
        assert phone.got[-1].status == 200 and b.status.registered
        cfg = b.cfg
        b.shutdown()
        # the box restarts; the phone does not register again
        b, logs = _box(tmp, cfg=cfg)
        assert "bindings: 1 restored" in logs and b.status.registered
        frtp = registrar.new_rtp()
        body = registrar.sdp(frtp).encode()
        inv = ("INVITE sip:alice@127.0.0.1:%d;zt=1 SIP/2.0\r\n"
               "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bKin1;rport\r\n"
               "From: <sip:bob@127.0.0.1>;tag=b1\r\nTo: <sip:alice@127.0.0.1>\r\n"
               "Call-ID: in-1\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\n"
               "Contact: <sip:bob@127.0.0.1:%d>\r\nContent-Type: application/sdp\r\n"
               "Content-Length: %d\r\n\r\n" % (cfg.network.port, registrar.port, registrar.port,
                                                 len(body))).encode() + body
        registrar.send(inv, cfg.network.port)
        _turn(b)
        phone.receive()
        got = phone.got[-1]
        assert got.is_request and got.method == "INVITE", got
        assert str(got.uri) == "sip:alice@127.0.0.1:%d" % phone.port
        assert b.status.calls[0].direction == "in"
    finally:
        b.shutdown()
        phone.close()
        registrar.close()


def test_unreadable_bindings_are_set_aside():
    tmp = scratch("appl-bindbad")
    from zerotap.storage import Storage
    Storage(tmp + "/cache").write(runtime_box.BINDINGS_FILE, b'[["x", 1]]')
    b, logs = _box(tmp)
    try:
        assert b.proxy.bindings == {}
        assert any(t.startswith("bindings: bindings.json unreadable (bindings: not an object") and
                   t.endswith("kept as bindings.json.bad") for t in logs), logs
    finally:
        b.shutdown()


def test_bindings_of_the_wrong_shape_are_set_aside_and_the_box_starts():
    """bindings.json is JSON but not what the box wrote (a contact or an address of record that
    is not text: another firmware's file, or one written by hand):
    the file is set aside and the box starts without it. The proxy's parser raised
    AttributeError here, out of the box's start: on a board, no box at every boot until the
    file is erased by hand."""
    from zerotap.storage import Storage
    for i, data in enumerate((b'{"bindings": [["1", 5, "sip:a@127.0.0.1", 60]]}',
                              b'{"bindings": [["1", null, null, 60]]}')):
        tmp = scratch("appl-bindshape%d" % i)
        Storage(tmp + "/cache").write(runtime_box.BINDINGS_FILE, data)
        b, logs = _box(tmp)
        try:
            assert b.proxy.bindings == {}
            assert any(t.startswith("bindings: bindings.json unreadable (") and
                       t.endswith("kept as bindings.json.bad") for t in logs), logs
        finally:
            b.shutdown()


def test_an_early_media_call_ringing_longer_than_the_media_timeout_is_not_ended():
    """A 183 with SDP (early media) and no RTP while the callee rings (early media is optional,
    RFC 3960): the media watch is for answered calls (docs/appliance.md: an early call that never
    answers ends after 5 minutes), so the call still rings after media.timeout_s; once answered,
    silence ends it as before."""
    clock = FakeClock()
    with BoxAndPeers("appl-early183", timeout_s=5, clock=clock) as (b, logs, phone, far):
        prtp, frtp = phone.new_rtp(), far.new_rtp()
        fwd, box_net = _invite(b, phone, far, "ring-long", prtp)
        _answer(b, far, fwd, "ring-long", frtp, 183, "Session Progress")
        call = b.status.calls[0]
        for _ in range(4):  # 20 s of ringing, not a packet either way
            clock.now += 5000
            _turn(b, 2)
        far.receive()
        assert b.status.calls == [call] and call.state == st.CALLING, call.error
        assert [m for m in far.got if m.is_request and m.method == "CANCEL"] == []
        _answer(b, far, fwd, "ring-long", frtp, 200, "OK")
        assert call.state == st.ACTIVE
        clock.now += 4900
        _turn(b, 2)
        assert b.status.calls == [call]
        clock.now += 200
        _turn(b, 2)
        assert b.status.calls == [] and call.error == "no media from the network for 5 s", call.error


def test_a_status_file_that_cannot_be_written_fails_no_call():
    """The status stream (``status``: a JSON line per change) on a full disk: each write fails
    with ENOSPC (``/dev/full``; MicroPython writes at once, CPython when its buffer flushes).
    The status model's listeners run inside the proxy and the calls' media: a failed line must
    not abort the INVITE it reports (the call never reached the far end) or a call. It is
    logged, once."""
    d = scratch("appl-full")
    p = _ports(3)
    low = p[2] + 100
    cfg = config.parse({
        "phone": {"sip": "127.0.0.1:%d" % p[0], "allow": ["127.0.0.1"],
                  "rtp": "%d-%d" % (low, low + 19)},
        "network": {"sip": "127.0.0.1:%d" % p[1], "rtp": "%d-%d" % (low + 20, low + 39)},
        "zrtp": {"cache": d + "/cache"}, "status": "/dev/full",
        "control": "127.0.0.1:%d" % p[2]})
    b, logs = _box(d, cfg=cfg)
    phone, far = Peer("alice"), Peer("bob")
    try:
        c = _call(b, phone, far, "full-call")
        assert _relays(b, *c, seq=1) == (1, 1)
        assert b.status.calls[0].state == st.ACTIVE
        assert len([t for t in logs if t.startswith("status: cannot write /dev/full")]) == 1, logs
        assert not [t for t in logs if "internal error" in t], logs
    finally:
        b.shutdown()
        phone.close()
        far.close()


def _reinvite(b, phone, far, ok, cid, cseq, sdp):
    """The phone's re-INVITE in the dialog of OK (the 200 it got) with SDP, through the box; the
    far end answers 200 with its own SDP (a held party's answer: its address, as always)."""
    body = sdp.encode()
    lines = ["INVITE sip:bob@127.0.0.1:%d SIP/2.0" % far.port,
             "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bKre%s%d;rport" % (phone.port, cid, cseq),
             "From: " + ok.get("From"), "To: " + ok.get("To"), "Call-ID: " + cid,
             "CSeq: %d INVITE" % cseq, "Max-Forwards: 70",
             "Contact: <sip:alice@127.0.0.1:%d>" % phone.port]
    lines += ["Route: " + r for r in ok.get_all("Record-Route")]
    lines += ["Content-Type: application/sdp", "Content-Length: %d" % len(body)]
    phone.send(("\r\n".join(lines) + "\r\n\r\n").encode() + body, b.cfg.phone.port)
    _turn(b)
    far.receive()
    fwd = far.got[-1]
    assert fwd.method == "INVITE" and fwd.cseq().number == cseq, fwd
    body = far.sdp(far.rtp[-1]).encode()
    resp = ["SIP/2.0 200 OK"] + ["Via: " + v for v in fwd.get_all("Via")]
    resp += ["From: " + fwd.get("From"), "To: " + fwd.get("To"), "Call-ID: " + cid,
             "CSeq: %d INVITE" % cseq, "Contact: <sip:bob@127.0.0.1:%d>" % far.port,
             "Content-Type: application/sdp", "Content-Length: %d" % len(body)]
    far.send(("\r\n".join(resp) + "\r\n\r\n").encode() + body, b.cfg.network.port)
    _turn(b)
    phone.receive()
    assert phone.got[-1].status == 200 and phone.got[-1].cseq().number == cseq


def test_a_call_on_hold_longer_than_the_media_timeout_is_not_ended():
    """The phone holds the call the RFC 2543 way (``c=IN IP4 0.0.0.0``, which the box relays:
    the far end has nowhere to send, RTCP included) for longer than media.timeout_s: the
    silence is the hold's, not a dead peer's, so the call stays; after the resume, silence
    ends it as before."""
    clock = FakeClock()
    with BoxAndPeers("appl-hold", timeout_s=5, clock=clock) as (b, logs, phone, far):
        c = _call(b, phone, far, "hold-call")
        ok = phone.got[-1]
        call = b.status.calls[0]
        held = ("v=0\r\no=alice 1 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\n"
                "m=audio %d RTP/AVP 0\r\na=sendonly\r\n" % phone.rtp_port[id(c[0])])
        _reinvite(b, phone, far, ok, "hold-call", 2, held)
        for _ in range(4):  # 20 s on hold, not a packet either way
            clock.now += 5000
            _turn(b, 2)
        assert b.status.calls == [call], call.error
        _reinvite(b, phone, far, ok, "hold-call", 3, phone.sdp(c[0]))  # resumed
        clock.now += 4900
        _turn(b, 2)
        assert b.status.calls == [call], call.error
        clock.now += 200
        _turn(b, 2)
        assert b.status.calls == [] and call.error.startswith("no media from the "), call.error


def _dns_answers(sock, names, asked):
    """Answer the DNS queries waiting on SOCK: an A record of NAMES (lower-case name -> IPv4), or
    NXDOMAIN; each name asked is appended to ASKED."""
    while True:
        try:
            q, src = sock.recvfrom(512)
        except OSError:
            return
        pos = 12
        labels = []
        while q[pos]:
            labels.append(q[pos + 1:pos + 1 + q[pos]].decode())
            pos += 1 + q[pos]
        end = pos + 5  # the root label, QTYPE, QCLASS
        name = ".".join(labels).lower()
        asked.append(name)
        ip = names.get(name)
        head = q[:2] + (b"\x81\x80" if ip else b"\x81\x83") + b"\x00\x01"
        head += (b"\x00\x01" if ip else b"\x00\x00") + b"\x00\x00\x00\x00"
        out = head + q[12:end]
        if ip:
            out += b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04"
            out += bytes(int(x) for x in ip.split("."))
        sock.sendto(out, src)


def _named_turns(b, dns, names, asked, rounds=6):
    for _ in range(rounds):
        _dns_answers(dns, names, asked)
        _turn(b, 1)


def test_a_far_end_whose_sdp_names_its_media_host_gets_media_once_the_name_resolves():
    """RFC 8866 section 5.7: the connection address may be a name (``c=IN IP4 media.far.test``).
    The box resolves it once through its resolver, in the loop (never the blocking system
    lookup), and media flows to the address it resolves to, the host the latch takes media
    from. A name that does not resolve leaves that one call's media nowhere to go (logged),
    and another call goes on."""
    dns, dns_port = _udp()
    names = {"media.far.test": "127.0.0.1"}
    asked = []
    try:
        with BoxAndPeers("named-media-host", dns=dns_port) as (b, logs, phone, far):
            prtp, frtp, box_phone, box_net = _call(b, phone, far, "named1", "Media.Far.Test")
            _named_turns(b, dns, names, asked)
            seq = 1
            # the far end's media comes from the resolved host: the latch takes it to the phone
            # and the phone's media goes to the far end
            for _ in range(3):
                to_far, to_phone = _relays(b, prtp, frtp, box_phone, box_net, seq)
                seq += 1
                if to_far and to_phone:
                    break
            assert (to_far, to_phone) == (1, 1), (to_far, to_phone, logs[-5:])
            assert b.media[0].eps[2].send_errors == 0
            assert asked == ["media.far.test"], asked
            # the name is asked once, not per packet
            for _ in range(5):
                _relays(b, prtp, frtp, box_phone, box_net, seq)
                seq += 1
            _named_turns(b, dns, names, asked, 2)
            assert asked == ["media.far.test"], asked
            # a name that does not resolve: that call's media waits, logged; the first goes on
            p2, f2, bp2, bn2 = _call(b, phone, far, "named2", "nowhere.far.test")
            _named_turns(b, dns, names, asked)
            assert asked[-1] == "nowhere.far.test", asked
            assert _relays(b, p2, f2, bp2, bn2, seq)[0] == 0
            assert [t for t in logs if "nowhere.far.test" in t and "resolve" in t], logs[-5:]
            m2 = b.media[1]
            assert m2.session.counters.no_route >= 1 and m2.eps[2].send_errors == 0
            assert _relays(b, prtp, frtp, box_phone, box_net, seq + 1) == (1, 1)
    finally:
        dns.close()


def test_a_named_media_host_is_resolved_by_the_systems_servers_without_network_dns():
    """No network.dns and the provider by address (the box made no resolver at boot): the media
    host's name goes to the system's DNS servers (resolv.conf), through a resolver in the loop
    made for it and closed with the box."""
    from zerotap.runtime import resolver as _resolver
    dns, dns_port = _udp()
    asked = []
    real = _resolver.system_servers
    _resolver.system_servers = lambda path="/etc/resolv.conf": [("127.0.0.1", dns_port)]
    try:
        with BoxAndPeers("named-media-host-system") as (b, logs, phone, far):
            assert b.net.resolver is None
            prtp, frtp, box_phone, box_net = _call(b, phone, far, "named3", "media.far.test")
            _named_turns(b, dns, {"media.far.test": "127.0.0.1"}, asked)
            assert asked == ["media.far.test"], asked
            got = _relays_until_both(b, prtp, frtp, box_phone, box_net, range(1, 4))
            assert got == (1, 1), (got, logs[-5:])
    finally:
        _resolver.system_servers = real
        dns.close()


def test_a_far_sdp_whose_media_host_has_non_ascii_digits_ends_nothing_but_its_media():
    """A far SDP whose connection address looks like a dotted quad but has a digit outside ASCII
    (``c=IN IP4 192.0.2.\\u00b2``, UTF-8 on the wire) is a name, not an address, on both
    interpreters: it goes to the box's resolver like any name (which finds nothing), that call's
    media has nowhere to go, and another call goes on."""
    dns, dns_port = _udp()
    asked = []
    try:
        with BoxAndPeers("non-ascii-media-host", dns=dns_port) as (b, logs, phone, far):
            prtp, frtp, box_phone, box_net = _call(b, phone, far, "odd1", "192.0.2.\u00b2")
            _named_turns(b, dns, {}, asked)
            assert len(b.media) == 1 and b.media[0].faulted is None, logs[-5:]
            assert _relays(b, prtp, frtp, box_phone, box_net, 1)[0] == 0
            assert b.media[0].session.counters.no_route >= 1, logs[-5:]
            assert b.media[0].eps[2].send_errors == 0
            p2, f2, bp2, bn2 = _call(b, phone, far, "odd2")
            got = _relays_until_both(b, p2, f2, bp2, bn2, range(2, 5))
            assert got == (1, 1), (got, logs[-5:])
    finally:
        dns.close()


def _udp6():
    """A non-blocking UDP socket on ::1 and a free port: (socket, port)."""
    while True:
        port = _ports(1)[0]
        s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        try:
            s.bind(socket.getaddrinfo("::1", port, 0, socket.SOCK_DGRAM)[0][-1])
        except OSError:
            s.close()
            continue
        s.setblocking(False)
        return s, port


def test_a_phone_whose_sdp_writes_its_ipv6_address_in_full_is_heard():
    """RFC 4291 section 2.2: an IPv6 address has several text forms. A phone on ::1 whose SDP
    says ``c=IN IP6 0:0:0:0:0:0:0:1`` sends its media from ::1 (the form the socket gives): it is
    the phone's host, and its audio reaches the far end (the phone leg takes media only from the
    phone's host, whatever form the SDP wrote it in)."""
    p = _ports(3)
    low = p[2] + 100
    tmp = scratch("ipv6-phone")
    cfg = config.parse({
        "phone": {"sip": "[::1]:%d" % p[0], "allow": ["::1"], "rtp": "%d-%d" % (low, low + 19)},
        "network": {"sip": "127.0.0.1:%d" % p[1], "rtp": "%d-%d" % (low + 20, low + 39)},
        "media": {"timeout_s": 0}, "zrtp": {"cache": tmp + "/cache"},
        "status": tmp + "/status.jsonl", "control": "127.0.0.1:%d" % p[2]})
    logs = []
    b = runtime_box.Box(cfg, log=logs.append, name="T")
    far = Peer("bob")
    psip, pport = _udp6()
    prtp, prtp_port = _udp6()
    try:
        body = ("v=0\r\no=alice 1 1 IN IP6 0:0:0:0:0:0:0:1\r\ns=-\r\nc=IN IP6 0:0:0:0:0:0:0:1\r\n"
                "t=0 0\r\nm=audio %d RTP/AVP 0\r\n" % prtp_port).encode()
        inv = ("INVITE sip:bob@127.0.0.1:%d SIP/2.0\r\n"
               "Via: SIP/2.0/UDP [::1]:%d;branch=z9hG4bKv6;rport\r\n"
               "From: <sip:alice@[::1]>;tag=av6\r\nTo: <sip:bob@127.0.0.1:%d>\r\n"
               "Call-ID: v6\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\n"
               "Contact: <sip:alice@[::1]:%d>\r\nContent-Type: application/sdp\r\n"
               "Content-Length: %d\r\n\r\n" % (far.port, pport, far.port, pport,
                                               len(body))).encode() + body
        box6 = socket.getaddrinfo("::1", cfg.phone.port, 0, socket.SOCK_DGRAM)[0][-1]
        psip.sendto(inv, box6)
        _turn(b)
        far.receive()
        fwd = [m for m in far.got if m.is_request and m.method == "INVITE"][-1]
        frtp = far.new_rtp()
        fbody = far.sdp(frtp).encode()
        lines = ["SIP/2.0 200 OK"] + ["Via: " + v for v in fwd.get_all("Via")]
        lines += ["Record-Route: " + r for r in fwd.get_all("Record-Route")]
        lines += ["From: " + fwd.get("From"), "To: %s;tag=bv6" % fwd.get("To"),
                  "Call-ID: v6", "CSeq: 1 INVITE", "Contact: <sip:bob@127.0.0.1:%d>" % far.port,
                  "Content-Type: application/sdp", "Content-Length: %d" % len(fbody)]
        far.send(("\r\n".join(lines) + "\r\n\r\n").encode() + fbody, cfg.network.port)
        _turn(b)
        ok = message.parse(psip.recv(4096))
        assert ok.status == 200, ok
        box_phone = socket.getaddrinfo("::1", _audio_port(ok), 0, socket.SOCK_DGRAM)[0][-1]
        box_net = _audio_port(fwd)
        got = (0, 0)
        for seq in range(1, 4):
            _drain(prtp)
            _drain(frtp)
            prtp.sendto(_rtp(seq), box_phone)
            frtp.sendto(_rtp(seq), _addr(box_net))
            _turn(b)
            got = (_drain(frtp), _drain(prtp))
            if got == (1, 1):
                break
        counters = b.media[0].session.counters
        assert got == (1, 1), (got, counters.stranger, logs[-5:])
        assert counters.stranger == 0
    finally:
        b.shutdown()
        far.close()
        psip.close()
        prtp.close()


def test_a_phone_whose_sdp_names_its_host_by_a_name_takes_no_strangers_meanwhile():
    """The phone's SDP names its media host by name (``c=IN IP4 phone.lan.test``) and the name
    does not resolve (or has not yet): the phone leg takes media from no host until it does.
    Before, the call knew no phone host meanwhile: a stranger on the LAN (127.0.0.2 here) was
    latched as the phone, heard the far end's audio and spoke into the call as the phone."""
    dns, dns_port = _udp()
    stranger = _stranger("127.0.0.2")
    asked = []
    try:
        with BoxAndPeers("named-phone-host", dns=dns_port) as (b, logs, phone, far):
            prtp, frtp, box_phone, box_net = _call(b, phone, far, "nph1",
                                                   phone_host="phone.lan.test")
            _named_turns(b, dns, {}, asked)
            assert asked == ["phone.lan.test"], asked
            heard = spoke = 0
            for seq in range(1, 4):
                stranger.sendto(_rtp(seq), _addr(box_phone))
                _turn(b, 1)
                frtp.sendto(_rtp(seq), _addr(box_net))
                _turn(b)
                heard += _drain(stranger)
                spoke += _drain(frtp)
            assert (heard, spoke) == (0, 0), (heard, spoke, logs[-5:])
            assert b.media[0].session.counters.stranger >= 3
            # a name that resolves: the phone at that address is heard, and hears the far end
            p2, f2, bp2, bn2 = _call(b, phone, far, "nph2", phone_host="phone2.lan.test")
            _named_turns(b, dns, {"phone2.lan.test": "127.0.0.1"}, asked)
            got = _relays_until_both(b, p2, f2, bp2, bn2, range(10, 13))
            assert got == (1, 1), (got, logs[-5:])
    finally:
        stranger.close()
        dns.close()


def test_a_fork_opened_while_the_phone_s_host_name_resolves_takes_no_strangers():
    """As above, with forking (RFC 3261 section 16.7): a fork's session (its 183 with SDP) opened
    while the phone's host name is still being resolved takes, like the first one, media on the
    phone leg from no host until the name resolves."""
    import test_appliance_forks as forks
    dns, dns_port = _udp()
    stranger = _stranger("127.0.0.2")
    try:
        with BoxAndPeers("named-phone-fork", dns=dns_port) as (b, logs, phone, far):
            prtp, fa, fb = phone.new_rtp(), far.new_rtp(), far.new_rtp()
            fwd, box_net = _invite(b, phone, far, "nphf", prtp, "phone.lan.test")
            # the DNS server does not answer yet: the name is still being resolved
            forks._to_phone(b, far, phone, forks._response(fwd, 183, "Session Progress", "A",
                                                           far, fa))
            got = forks._to_phone(b, far, phone, forks._response(fwd, 183, "Session Progress",
                                                                 "B", far, fb))
            m = b.media[0]
            assert sorted(m.forks) == ["A", "B"] and m.session is m.forks["B"]
            box_phone = _audio_port(got)
            for seq in range(1, 4):
                stranger.sendto(_rtp(seq), _addr(box_phone))
                _turn(b, 1)
            assert (_drain(fa), _drain(fb)) == (0, 0), logs[-5:]
            assert m.session.counters.stranger == 3
    finally:
        stranger.close()
        dns.close()


def test_a_stranger_on_the_phone_leg_does_not_keep_a_dead_call_alive():
    """The phone stops sending (it lost power) while the far end still talks, and another host
    on the LAN (127.0.0.2) keeps sending to the box's phone-side port: its packets are dropped as
    a stranger's (the phone leg takes media only from the phone's host), so they are no sign of
    the phone's life either: the call ends after media.timeout_s as for a silent phone."""
    clock = FakeClock()
    stranger = _stranger("127.0.0.2")
    try:
        with BoxAndPeers("appl-stranger-alive", timeout_s=5, clock=clock) as (b, logs, phone,
                                                                                far):
            prtp, frtp, box_phone, box_net = _call(b, phone, far, "stranger-alive")
            call = b.status.calls[0]
            for seq in range(1, 8):  # 7 s: the far end and the stranger send, the phone not
                clock.now += 1000
                stranger.sendto(_rtp(seq), _addr(box_phone))
                frtp.sendto(_rtp(seq), _addr(box_net))
                _turn(b, 2)
            assert b.status.calls == [], logs[-5:]
            assert call.error == "no media from the phone for 5 s", call.error
    finally:
        stranger.close()


def test_a_phone_that_sends_from_another_of_its_addresses_than_its_sdp_names_is_heard():
    """A phone with two addresses (two interfaces, a VPN) may name one in its SDP
    (``c=IN IP4 127.0.0.2`` here) while its packets, routed toward the box, leave from the other
    (127.0.0.1), the one its SIP comes from too. The phone leg takes media from the phone's
    host: the one its SDP named and the one its SIP comes from; another host stays a stranger."""
    stranger = _stranger("127.0.0.3")
    try:
        with BoxAndPeers("multihomed-phone") as (b, logs, phone, far):
            prtp, frtp, box_phone, box_net = _call(b, phone, far, "mh1", phone_host="127.0.0.2")
            spoke = 0
            for seq in range(1, 4):
                _drain(frtp)
                prtp.sendto(_rtp(seq), _addr(box_phone))
                _turn(b)
                spoke += _drain(frtp)
            assert spoke == 3, (spoke, b.media[0].session.counters.stranger, logs[-5:])
            stranger.sendto(_rtp(9), _addr(box_phone))
            _turn(b)
            assert _drain(frtp) == 0 and b.media[0].session.counters.stranger == 1
    finally:
        stranger.close()

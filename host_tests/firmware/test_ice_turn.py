"""The TURN client (RFC 8656) against icesim's TURN server: 401 then credentials, 438 stale
nonce, wrong credentials reported, permissions, channels, data both ways, refresh and release;
coturn's REST credentials; ChannelData parsing."""
from icesim import PORT_RESTRICTED, Net
from support import Xorshift32, raises

from zerotap.crypto import hmac_sha1
from zerotap.ice import stun, turn

SERVER = ("198.51.100.2", 3478)


class _Client:
    """A TurnClient shaped like an agent for icesim (receive -> payload, events)."""

    def __init__(self, user="user", password="secret", seed=1):
        rng = Xorshift32(seed)
        self.t = turn.TurnClient(SERVER, user, password,
                                 lambda n: bytes(rng.next() & 0xFF for _ in range(n)))
        self.got = []

    def receive(self, data, addr, now):
        got = self.t.receive(data, addr, now)
        if got is not None:
            self.got.append(got)
        return None

    def datagrams_to_send(self):
        return self.t.datagrams_to_send()

    def next_event(self):
        return self.t.next_event()

    def timer(self):
        return self.t.timer()

    def handle_timer(self, now):
        self.t.handle_timer(now)


class _Peer:
    """A plain UDP peer that echoes what it receives, prefixed with b'echo:'."""

    def __init__(self):
        self.out = []
        self.got = []

    def receive(self, data, addr, now):
        self.got.append((bytes(data), addr))
        self.out.append((b"echo:" + bytes(data), addr))

    def datagrams_to_send(self):
        out = self.out
        self.out = []
        return out

    def next_event(self):
        return None

    def timer(self):
        return None

    def handle_timer(self, now):
        pass


class _Closed:
    """A closed socket: sends what was queued before, hears nothing."""

    def __init__(self, out):
        self.out = out

    def receive(self, data, addr, now):
        return None

    def datagrams_to_send(self):
        out = self.out
        self.out = []
        return out

    def next_event(self):
        return None

    def timer(self):
        return None

    def handle_timer(self, now):
        pass


def _world(user="user", password="secret"):
    net = Net(seed=2)
    srv = net.turn_server(SERVER[0], SERVER[1], "user", "secret")
    c = _Client(user, password)
    nat = net.nat("203.0.113.1", PORT_RESTRICTED)
    hc = net.host("10.0.1.2", 5000, c, nat)
    peer = _Peer()
    hp = net.host("203.0.113.77", 6000, peer)
    return net, srv, c, hc, peer, hp


def _allocate(net, c, hc):
    c.t.start(net.now)
    net.run(net.now + 5000, stop=lambda: hc.event("allocated") or hc.event("error"))


def test_allocate_with_401_challenge():
    net, srv, c, hc, peer, hp = _world()
    _allocate(net, c, hc)
    e = hc.event("allocated")
    assert e is not None, hc.events
    assert e[2] == ("198.51.100.2", 50000)  # relayed
    assert e[3] == ("203.0.113.1", 40000)  # mapped: the NAT's address
    assert c.t.state == turn.ALLOCATED and c.t.realm == "sim.test"
    assert srv.requests[:2] == [(stun.ALLOCATE, 401), (stun.ALLOCATE, 200)]


def test_wrong_credentials_are_reported():
    net, srv, c, hc, peer, hp = _world(password="wrong")
    _allocate(net, c, hc)
    e = hc.event("error")
    assert e is not None and e[2:] == (401, "Unauthenticated", "Allocate"), hc.events
    assert c.t.state == turn.FAILED
    assert srv.requests == [(stun.ALLOCATE, 401), (stun.ALLOCATE, 401)]


def test_stale_nonce_is_retried():
    net, srv, c, hc, peer, hp = _world()
    _allocate(net, c, hc)
    srv.stale()
    c.t.refresh(net.now)
    net.run(net.now + 2000)
    assert srv.requests[-2:] == [(stun.REFRESH, 438), (stun.REFRESH, 200)]
    assert c.t.nonce == srv.nonce and c.t.state == turn.ALLOCATED
    assert hc.event("error") is None


def test_permission_send_indication_and_data_indication():
    net, srv, c, hc, peer, hp = _world()
    _allocate(net, c, hc)
    # queued until the permission is installed, then sent as a Send indication
    assert c.t.send(b"hello", hp.addr, net.now)
    assert not c.t.permitted(hp.addr[0])
    net.run(net.now + 1000)
    assert c.t.permitted(hp.addr[0])
    assert hc.event("permission") is not None
    assert peer.got == [(b"hello", c.t.relayed)]
    # the echo came back as a Data indication
    assert c.got == [(hp.addr, b"echo:hello")]


def test_channel_bind_and_channel_data():
    net, srv, c, hc, peer, hp = _world()
    _allocate(net, c, hc)
    c.t.bind(hp.addr, net.now)
    net.run(net.now + 1000)
    e = hc.event("channel")
    assert e is not None and e[3] == 0x4000
    assert c.t.channel(hp.addr) == 0x4000
    assert c.t.permitted(hp.addr[0])  # ChannelBind installs the permission too
    c.t.send(b"over a channel", hp.addr, net.now)
    out = c.t.datagrams_to_send()
    assert out == [(b"\x40\x00\x00\x0eover a channel", SERVER)]
    for data, addr in out:
        net.send_from_host(hc, data, addr, net.now)
    net.run(net.now + 1000)
    assert peer.got[-1] == (b"over a channel", c.t.relayed)
    assert c.got[-1] == (hp.addr, b"echo:over a channel")


def test_refreshes_and_release():
    net, srv, c, hc, peer, hp = _world()
    _allocate(net, c, hc)
    c.t.bind(hp.addr, net.now)
    net.run(net.now + 1000)
    t0 = net.now
    net.run(t0 + 700000)  # past the allocation, permission and channel lifetimes
    methods = [m for m, code in srv.requests if code == 200]
    assert methods.count(stun.REFRESH) >= 1
    assert methods.count(stun.CREATE_PERMISSION) >= 2
    assert methods.count(stun.CHANNEL_BIND) >= 2
    assert c.t.state == turn.ALLOCATED
    c.t.release(net.now)
    net.run(net.now + 1000)
    assert hc.event("released") is not None and c.t.state == turn.RELEASED


def test_forged_success_is_ignored():
    net, srv, c, hc, peer, hp = _world()
    _allocate(net, c, hc)
    c.t.refresh(net.now)
    data, addr = c.t.datagrams_to_send()[0]
    req = stun.parse(data)
    forged = stun.Message(stun.REFRESH, stun.SUCCESS, req.tid).add(stun.LIFETIME, 1)
    assert c.t.receive(forged.encode(key=b"not the key", fingerprint=True), SERVER,
                       net.now) is None
    assert c.t.expires > net.now + 100000  # the forged LIFETIME 1 was not taken
    assert len(c.t._tx) == 1  # still waiting for the real answer


def test_rest_credentials():
    # coturn's TURN REST API: username "<expiry>:<name>", password base64(HMAC-SHA1)
    user, password = turn.rest_credentials("north", "box1", 1700000000)
    assert user == "1700000000:box1"
    import binascii
    assert binascii.a2b_base64(password) == hmac_sha1(b"north", b"1700000000:box1")
    assert len(password) == 28 and "\n" not in password


def test_channel_data_parsing():
    assert turn.parse_channel_data(b"\x40\x01\x00\x02hi") == (0x4001, b"hi")
    assert turn.parse_channel_data(b"\x40\x01\x00\x02hi\x00\x00") == (0x4001, b"hi")  # padded
    raises(lambda: turn.parse_channel_data(b"\x40\x01\x00"),
           "ChannelData shorter than its 4-byte header")
    raises(lambda: turn.parse_channel_data(b"\x50\x00\x00\x00"),
           "ChannelData channel number 0x5000 is outside 0x4000..0x4FFF")
    raises(lambda: turn.parse_channel_data(b"\x40\x00\x00\x05abc"),
           "ChannelData length 5 runs past the 3 bytes after the header")
    net, srv, c, hc, peer, hp = _world()
    _allocate(net, c, hc)
    raises(lambda: c.t.receive(b"\x40\x00\x00\x09abc", SERVER, net.now),
           "ChannelData length 9 runs past the 3 bytes after the header")
    bad = stun.Message(stun.DATA, stun.INDICATION, bytes(12)).add(stun.DATA_ATTR, b"x")
    raises(lambda: c.t.receive(bad.encode(), SERVER, net.now),
           "TURN Data indication without XOR-PEER-ADDRESS or DATA")


def test_released_while_allocating_frees_what_the_allocate_makes():
    # the call ends (the socket closes at once) just after the authenticated Allocate went out:
    # a Refresh of LIFETIME 0 follows it, so the server keeps no allocation on the 5-tuple
    net, srv, c, hc, peer, hp = _world()
    c.t.start(net.now)
    net.run(net.now + 5000, stop=lambda: c.t.key is not None)
    assert c.t.state == turn.ALLOCATING
    c.t.release(net.now)
    assert [stun.parse(d).method for d, a in c.t._out] == [stun.REFRESH]
    wire = c.t.datagrams_to_send()
    hc.agent = _Closed(wire)  # the socket sends what was queued and closes
    net.run(net.now + 3000)
    assert srv.requests[-2:] == [(stun.ALLOCATE, 200), (stun.REFRESH, 200)], srv.requests
    assert srv.allocs == {}


def test_437_on_allocate_frees_the_stale_allocation_and_allocates_again():
    # a previous call from the same 5-tuple lost its release: its allocation is still there
    net, srv, c, hc, peer, hp = _world()
    _allocate(net, c, hc)
    stale = c.t.relayed
    c2 = _Client(seed=9)
    hc.agent = c2
    c2.t.start(net.now)
    net.run(net.now + 5000, stop=lambda: c2.t.state != turn.ALLOCATING)
    assert c2.t.state == turn.ALLOCATED, (c2.t.state, srv.requests)
    assert (stun.ALLOCATE, 437) in srv.requests
    assert c2.t.relayed != stale and len(srv.allocs) == 1
    assert hc.event("error") is None


def test_437_twice_is_reported_once():
    # the stale allocation cannot be freed (here: it comes back at once): no relayed address,
    # one error event for the Allocate (the agent counts it as the end of its TURN gathering)
    net, srv, c, hc, peer, hp = _world()
    _allocate(net, c, hc)
    c2 = _Client(seed=9)
    hc.agent = c2
    public, orig = list(srv.allocs.items())[0]
    real = srv.receive

    def receive(net_, data, src, dst, now):
        real(net_, data, src, dst, now)
        if public not in srv.allocs:
            srv.allocs[public] = orig  # a stale allocation the server keeps
    srv.receive = receive
    c2.t.start(net.now)
    net.run(net.now + 5000, stop=lambda: c2.t.state != turn.ALLOCATING)
    assert c2.t.state == turn.FAILED
    errors = [e for e in hc.events if e[0] == "error"]
    assert len(errors) == 1 and errors[0][2] == 437 and errors[0][4] == "Allocate", errors


def _error(req, code, attrs=()):
    m = stun.Message(req.method, stun.ERROR, req.tid).add(stun.ERROR_CODE, (code, "Error"))
    for t, v in attrs:
        m.add(t, v)
    return m.encode(fingerprint=True)  # no MESSAGE-INTEGRITY


def _past_401(seed):
    """A client whose first Allocate got 401 with a realm and nonce (its authenticated Allocate
    is queued)."""
    rng = Xorshift32(seed)
    c = turn.TurnClient(SERVER, "user", "secret",
                        lambda n: bytes(rng.next() & 0xFF for _ in range(n)))
    c.start(0)
    req = stun.parse(c.datagrams_to_send()[0][0])
    c.receive(_error(req, 401, [(stun.REALM, "r"), (stun.NONCE, b"n")]), SERVER, 10)
    return c


def test_unsigned_437_to_the_authenticated_allocate_is_taken_as_stale():
    # coturn answers 437 before it checks credentials: unsigned, also to an authenticated
    # Allocate (another Allocate from the same 5-tuple won). Taken: stale Refresh, Allocate again
    c = _past_401(3)
    authed = stun.parse(c.datagrams_to_send()[0][0])
    assert authed.method == stun.ALLOCATE and c.key is not None
    c.receive(_error(authed, 437), SERVER, 20)
    out = [stun.parse(d) for d, a in c.datagrams_to_send()]
    assert [(m.method, m.get(stun.LIFETIME)) for m in out] == [(stun.REFRESH, 0)]
    assert c.state == turn.ALLOCATING and c._stale_tries == 1 and c.next_event() is None
    c.handle_timer(20 + turn.STALE_RETRY_MS)
    again = [stun.parse(d) for d, a in c.datagrams_to_send()]
    assert [m.method for m in again if m.method == stun.ALLOCATE] == [stun.ALLOCATE]


def test_unsigned_437_to_an_authenticated_refresh_is_discarded():
    c = _past_401(4)
    c.datagrams_to_send()
    c.release(20)  # the Refresh of LIFETIME 0 while the Allocate is under way
    ref = stun.parse(c.datagrams_to_send()[0][0])
    assert ref.method == stun.REFRESH
    c.receive(_error(ref, 437), SERVER, 30)
    assert ref.tid in c._tx and c.next_event() is None  # still waiting for a signed answer


def test_released_during_a_refresh_asks_for_no_more_timer():
    # a Refresh is under way (the periodic one; a server granting a short LIFETIME makes it
    # come early) when the client releases the allocation: the Refresh's success arrives
    # before the release's. Released, the client must not leave a deadline that handle_timer
    # never consumes (the runtime would call it again and again: a busy loop for the call)
    net, srv, c, hc, peer, hp = _world()
    _allocate(net, c, hc)
    c.t.refresh(net.now)
    c.t.release(net.now)
    net.run(net.now + 2000)
    assert hc.event("released") is not None and c.t.state == turn.RELEASED
    assert srv.requests[-2:] == [(stun.REFRESH, 200), (stun.REFRESH, 200)]
    assert c.t.timer() is None
    net.run(net.now + 700000)  # past where the Refresh's lifetime would have been renewed
    d = c.t.timer()
    assert d is None, d
    assert c.t.datagrams_to_send() == []


def test_released_before_the_401_allocates_nothing():
    # released while the first, unauthenticated Allocate is still out (its 401 not yet in: the
    # server is slow or its first answers were lost) and the socket stays open (a direct path
    # won, the call goes on): the 401 that comes later must not lead to an authenticated
    # Allocate, an allocation held and refreshed at the server for the rest of the call
    net, srv, c, hc, peer, hp = _world()
    c.t.start(net.now)
    assert c.t.key is None
    c.t.release(net.now)
    net.run(net.now + 700000)
    assert srv.allocs == {}, srv.requests
    assert [code for m, code in srv.requests] == [401]
    assert c.t.state == turn.RELEASED and hc.event("allocated") is None
    assert c.t.timer() is None

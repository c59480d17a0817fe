"""Our STUN and TURN client against coturn (Debian ``coturn``) on loopback: Binding, Allocate
with coturn's temporary (REST) credentials after a 401, a 438 stale nonce, permissions,
channels, data relayed between two of our clients, expired and wrong credentials refused."""
import os
import socket
import sys
import time

from coturn import REALM, Coturn
from hostenv import FIRMWARE

sys.path.insert(0, str(FIRMWARE))
from zerotap.ice import stun, turn  # noqa: E402
from zerotap.runtime import ice as rt  # noqa: E402
from zerotap.runtime import udp  # noqa: E402


def _client(loop, srv, user, password):
    got = []
    t = turn.TurnClient(srv.addr, user, password, os.urandom, software="zerotap-test")
    d = rt.Driver(loop, "127.0.0.1", 0, t, on_data=got.append)
    d.got = got
    return t, d


def _allocate(loop, drivers):
    for d in drivers:
        d.core.start(loop.clock())
        d.flush(loop.clock())
    return rt.run(loop, drivers, lambda: all(d.event("allocated") or d.event("error")
                                             for d in drivers), 5000)


def test_binding():
    with Coturn() as srv:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 0))
        s.settimeout(2)
        m = stun.Message(stun.BINDING, stun.REQUEST, os.urandom(12))
        s.sendto(m.encode(fingerprint=True), srv.addr)
        data, addr = s.recvfrom(2048)
        r = stun.parse(data)  # coturn adds FINGERPRINT (--fingerprint): parse checks it
        assert r.cls == stun.SUCCESS and r.tid == m.tid
        assert r.get(stun.XOR_MAPPED_ADDRESS) == s.getsockname()
        assert r.has(stun.FINGERPRINT)
        assert r.encode() == data  # byte for byte
        s.close()


def test_allocate_permissions_channels_and_data():
    with Coturn() as srv:
        loop = udp.Loop()
        ua, pa = srv.credentials("alice")
        ub, pb = srv.credentials("bob")
        ta, da = _client(loop, srv, ua, pa)
        tb, db = _client(loop, srv, ub, pb)
        assert _allocate(loop, [da, db]), (da.events, db.events)
        for t, d in ((ta, da), (tb, db)):
            assert t.state == turn.ALLOCATED, d.events
            assert t.realm == REALM and t.nonce  # learned from the 401
            assert t.relayed[0] == "127.0.0.1" and t.relayed[1] != srv.addr[1]
            assert t.mapped == ("127.0.0.1", d.port)
        # Send/Data indications: each permits the other's relayed address first
        now = loop.clock()
        tb.permit([ta.relayed[0]], now)
        db.flush(now)
        assert rt.run(loop, [da, db], lambda: tb.permitted(ta.relayed[0]), 3000)
        ta.send(b"indication a->b", tb.relayed, loop.clock())
        da.flush(loop.clock())
        assert rt.run(loop, [da, db], lambda: db.got, 3000), db.events
        assert db.got == [(ta.relayed, b"indication a->b")]
        tb.send(b"indication b->a", ta.relayed, loop.clock())
        db.flush(loop.clock())
        assert rt.run(loop, [da, db], lambda: da.got, 3000)
        assert da.got == [(tb.relayed, b"indication b->a")]
        # channels both ways: ChannelData on the wire
        ta.bind(tb.relayed, loop.clock())
        tb.bind(ta.relayed, loop.clock())
        da.flush(loop.clock())
        db.flush(loop.clock())
        assert rt.run(loop, [da, db], lambda: ta.channel(tb.relayed) and tb.channel(ta.relayed),
                      3000), (da.events, db.events)
        ta.send(b"channel a->b", tb.relayed, loop.clock())
        wire = ta.datagrams_to_send()
        assert wire[0][0][:2] == ta.channel(tb.relayed).to_bytes(2, "big")
        for data, addr in wire:
            da.ep.send(data, addr)
        tb.send(b"channel b->a", ta.relayed, loop.clock())
        db.flush(loop.clock())
        assert rt.run(loop, [da, db], lambda: len(da.got) == 2 and len(db.got) == 2, 3000)
        assert db.got[1] == (ta.relayed, b"channel a->b")
        assert da.got[1] == (tb.relayed, b"channel b->a")
        # coturn relays ChannelData to a peer with a channel as ChannelData: 20 datagrams
        for i in range(20):
            ta.send(b"burst %d" % i, tb.relayed, loop.clock())
        da.flush(loop.clock())
        assert rt.run(loop, [da, db], lambda: len(db.got) == 22, 3000)
        assert [p for _, p in db.got[2:]] == [b"burst %d" % i for i in range(20)]
        # release
        for t, d in ((ta, da), (tb, db)):
            t.release(loop.clock())
            d.flush(loop.clock())
        assert rt.run(loop, [da, db], lambda: da.event("released") and db.event("released"),
                      3000)
        loop.close_all()


def test_stale_nonce_438_is_retried():
    with Coturn(extra=["--stale-nonce=1"]) as srv:
        loop = udp.Loop()
        user, password = srv.credentials("carol")
        t, d = _client(loop, srv, user, password)
        assert _allocate(loop, [d]) and t.state == turn.ALLOCATED, d.events
        first = t.nonce
        time.sleep(2.2)  # the nonce goes stale
        expires = t.expires
        t.refresh(loop.clock())
        d.flush(loop.clock())
        assert rt.run(loop, [d], lambda: t.nonce != first and not t._tx, 5000), d.events
        assert t.expires > expires and t.state == turn.ALLOCATED
        assert d.event("error") is None
        loop.close_all()


def test_expired_and_wrong_credentials_refused():
    with Coturn() as srv:
        loop = udp.Loop()
        expired = srv.credentials("dave", ttl=-60)
        wrong = turn.rest_credentials("not-the-secret", "erin", int(time.time()) + 600)
        drivers = []
        for user, password in (expired, wrong):
            t, d = _client(loop, srv, user, password)
            drivers.append(d)
        assert _allocate(loop, drivers)
        for d in drivers:
            e = d.event("error")
            assert e is not None and e[1] == 401 and e[3] == "Allocate", d.events
            assert d.core.state == turn.FAILED and d.core.relayed is None
        loop.close_all()


def test_agents_with_coturn_as_stun_and_turn_server():
    """Two agents use coturn as their STUN and TURN server (one address for both): gathering
    ends quickly (the Binding answer is told apart from the TURN answers), and a relay-only
    agent connects through its allocation, with ChannelData on the selected path."""
    from zerotap.ice import agent as ice
    with Coturn() as srv:
        loop = udp.Loop()
        drivers = []
        for controlling, relay_only in ((True, True), (False, False)):
            user, password = srv.credentials("agent%d" % controlling)
            a = ice.Agent(controlling, os.urandom, stun_server=srv.addr,
                          turn=(srv.addr, user, password), relay_only=relay_only)
            d = rt.Driver(loop, "127.0.0.1", 0, a)
            a.gather([("127.0.0.1", d.port)], loop.clock())
            d.flush(loop.clock())
            drivers.append(d)
        t0 = time.monotonic()
        assert rt.run(loop, drivers, lambda: all(d.event("gathered") for d in drivers), 5000)
        assert time.monotonic() - t0 < 1.0  # no request waited for a timeout
        da, db = drivers
        a, b = da.core, db.core
        assert [c.type for c in a.local_candidates()] == [ice.RELAY]
        # on loopback the mapped address is the host address: no server-reflexive candidate
        assert sorted(c.type for c in b.local_candidates()) == [ice.HOST, ice.RELAY]
        a.set_remote(b.ufrag, b.pwd, b.local_candidates())
        b.set_remote(a.ufrag, a.pwd, a.local_candidates())
        for d in drivers:
            d.core.start(loop.clock())
            d.flush(loop.clock())
        assert rt.run(loop, drivers, lambda: a.selected is not None and b.selected is not None,
                      5000), (da.events, db.events)
        assert a.selected.local.type == ice.RELAY
        assert rt.run(loop, drivers, lambda: a.turn.channel(a.selected.remote.addr), 3000)
        got = []
        db.on_data = got.append
        a.send(b"through coturn", loop.clock())
        wire = a.datagrams_to_send()
        assert len(wire) == 1 and 0x40 <= wire[0][0][0] <= 0x4F and wire[0][1] == srv.addr
        da.ep.send(wire[0][0], wire[0][1])
        assert rt.run(loop, drivers, lambda: got, 3000)
        assert got == [b"through coturn"]
        for d in drivers:
            d.core.close(loop.clock())
            d.flush(loop.clock())
        loop.close_all()


def _call(loop, srv, port, user, password, end="release"):
    """One call's ICE agent on PORT with coturn as its TURN server: gather, then end it as the
    fallback does (agent.close, what it queued is sent, the socket closes at once): END is
    "release" (after gathering), "allocating" (just after the authenticated Allocate went out)
    or "lost" (no release reaches coturn). Returns the agent, its events and its port."""
    from zerotap.ice import agent as ice
    a = ice.Agent(True, os.urandom, turn=(srv.addr, user, password))
    d = rt.Driver(loop, "127.0.0.1", port, a)
    a.gather([("127.0.0.1", d.port)], loop.clock())
    d.flush(loop.clock())
    if end == "allocating":
        assert rt.run(loop, [d], lambda: a.turn.key is not None, 3000), d.events
    else:
        assert rt.run(loop, [d], lambda: d.event("gathered"), 15000), d.events
    if end != "lost":
        a.close(loop.clock())
        d.flush(loop.clock())
    d.close()
    return a, d.events, d.port


def _relayed(a):
    from zerotap.ice import agent as ice
    return [c.addr for c in a.local_candidates() if c.type == ice.RELAY]


def test_two_calls_in_a_row_from_the_same_port_both_relayed():
    """The ICE socket is always the top port of network.rtp: the next call's Allocate comes from
    the same 5-tuple. A call released after gathering leaves nothing at coturn (a call a moment
    later gets no 437); a call right after the release (coturn frees it only at its next
    one-second tick: 437), or right after a call that ended while its Allocate was under way,
    still gets its relayed candidate."""
    with Coturn() as srv:
        loop = udp.Loop()
        user, password = srv.credentials("box")
        a1, ev1, port = _call(loop, srv, 0, user, password)
        assert _relayed(a1), ev1
        time.sleep(1.5)
        a2, ev2, _ = _call(loop, srv, port, user, password)
        assert _relayed(a2), ev2
        assert getattr(a2.turn, "_stale_tries", 0) == 0, "437: the last allocation lives on"
        a3, ev3, _ = _call(loop, srv, port, user, password)  # at once
        assert _relayed(a3) and [e for e in ev3 if e[0] == "turn-error"] == [], ev3
        time.sleep(1.5)
        a4, ev4, _ = _call(loop, srv, port, user, password, "allocating")
        # its authenticated Allocate went out; then the call ended (a Refresh of LIFETIME 0
        # followed; coturn may handle it before that Allocate, which it authenticates apart)
        # (under load its success may already have been taken before the call ended: then the
        # release is the plain one)
        assert a4.turn.state in (turn.ALLOCATING, turn.ALLOCATED), (a4.turn.state, ev4)
        assert getattr(a4.turn, "_stale_tries", 0) == 0, ev4
        a5, ev5, _ = _call(loop, srv, port, user, password)
        assert _relayed(a5) and [e for e in ev5 if e[0] == "turn-error"] == [], ev5
        loop.close_all()


def test_437_on_allocate_frees_the_stale_allocation_from_the_same_user():
    """A call whose release never reached coturn left its allocation: the next call from the
    same port gets 437, frees it (Refresh of LIFETIME 0, same user name) and allocates again.
    Under another user name (a later REST credential) that Refresh frees nothing: no relayed
    candidate for that call, one turn-error 437, gathering still ends."""
    with Coturn() as srv:
        loop = udp.Loop()
        user, password = srv.credentials("box")
        a1, ev1, port = _call(loop, srv, 0, user, password, "lost")
        assert _relayed(a1), ev1
        a2, ev2, _ = _call(loop, srv, port, user, password, "lost")
        assert getattr(a2.turn, "_stale_tries", 0) >= 1 and _relayed(a2), ev2
        assert _relayed(a2) != _relayed(a1)
        user3, password3 = srv.credentials("box", ttl=900)
        a3, ev3, _ = _call(loop, srv, port, user3, password3)
        errs = [e for e in ev3 if e[0] == "turn-error"]
        assert not _relayed(a3) and len(errs) == 1 and errs[0][1] == 437, ev3
        assert ev3[-1][0] == "gathered"
        loop.close_all()


def test_unsigned_437_to_the_authenticated_allocate_frees_and_allocates_again():
    """Another Allocate from the same 5-tuple under the same user name (the previous call's, which
    coturn authenticated late: it ended while that Allocate was under way) wins between our 401
    and our authenticated Allocate: coturn answers that one 437 "wrong transaction ID" WITHOUT
    MESSAGE-INTEGRITY (it checks the transaction before the credentials). The client takes that
    437 as on the first Allocate (frees the stale allocation, allocates again) instead of
    discarding it and timing out."""
    with Coturn() as srv:
        user, password = srv.credentials("box")
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 0))
        s.settimeout(0.05)
        now = lambda: int(time.monotonic() * 1000)  # noqa: E731
        c = turn.TurnClient(srv.addr, user, password, os.urandom, rto=100)
        other = turn.TurnClient(srv.addr, user, password, os.urandom, rto=100)

        def pump(done, ms):
            end = now() + ms
            while not done() and now() < end:
                for cl in (c, other):
                    for data, addr in cl.datagrams_to_send():
                        s.sendto(data, addr)
                try:
                    data, addr = s.recvfrom(2048)
                    c.receive(data, addr, now())
                    other.receive(data, addr, now())
                except socket.timeout:
                    pass
                for cl in (c, other):
                    t = cl.timer()
                    if t is not None and t <= now():
                        cl.handle_timer(now())
            return done()

        try:
            c.start(now())
            for data, addr in c.datagrams_to_send():
                s.sendto(data, addr)
            data, addr = s.recvfrom(2048)  # the 401
            c.receive(data, addr, now())
            assert c.key is not None and c._tx, "401 expected"
            held = c.datagrams_to_send()  # our authenticated Allocate waits ...
            other.realm, other.nonce, other.key = c.realm, c.nonce, c.key
            other.start(now())  # ... while the other one gets there first
            assert pump(lambda: other.state == turn.ALLOCATED, 3000)
            for data, addr in held:
                s.sendto(data, addr)
            assert pump(lambda: c.state in (turn.ALLOCATED, turn.FAILED), 8000), c.state
            events = []
            while True:
                e = c.next_event()
                if e is None:
                    break
                events.append(e)
            assert c.state == turn.ALLOCATED and c._stale_tries >= 1, events
            assert [e for e in events if e[0] == "error"] == [], events
            assert c.relayed != other.relayed
        finally:
            s.close()

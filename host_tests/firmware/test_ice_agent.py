"""The ICE agent (RFC 8445) against itself on a simulated network (icesim.py): NAT models, loss,
a relay; role conflicts, aggressive nomination, early checks, consent freshness (RFC 7675)."""
import binascii

from icesim import (ENDPOINT_INDEPENDENT, NAT_NAMES, NONE, PORT_RESTRICTED, SYMMETRIC, Net)
from support import Xorshift32

from zerotap.ice import agent as ice
from zerotap.ice import offer, stun
from zerotap.ice.agent import _relayed

STUN = ("198.51.100.1", 3478)
TURN = ("198.51.100.2", 3478)
KINDS = (NONE, ENDPOINT_INDEPENDENT, PORT_RESTRICTED, SYMMETRIC)


def _rand(seed):
    rng = Xorshift32(seed)

    def rand(n):
        return bytes(rng.next() & 0xFF for _ in range(n))
    return rand


def _place(net, i, kind, agent, lan_nat=None):
    if lan_nat is not None:
        return net.host("10.0.9.%d" % (i + 1), 5000, agent, lan_nat)
    if kind == NONE:
        return net.host("203.0.113.%d" % (100 + i), 5000, agent)
    nat = net.nat("203.0.113.%d" % i, kind)
    return net.host("10.0.%d.2" % i, 5000, agent, nat)


def _setup(ka, kb, relay=False, seed=1, loss=0.0, a_kw=None, b_kw=None, same_lan=False):
    net = Net(seed=seed, loss=loss)
    net.stun_server(STUN[0], STUN[1])
    tsrv = net.turn_server(TURN[0], TURN[1], "user", "secret") if relay else None
    cfg = {"stun_server": STUN}
    if relay:
        cfg["turn"] = (TURN, "user", "secret")
    kw_a = dict(cfg)
    kw_a.update(a_kw or {})
    kw_b = dict(cfg)
    kw_b.update(b_kw or {})
    a = ice.Agent(kw_a.pop("controlling", True), _rand(seed * 2 + 1), **kw_a)
    b = ice.Agent(kw_b.pop("controlling", False), _rand(seed * 2 + 2), **kw_b)
    lan = net.nat("203.0.113.50", PORT_RESTRICTED) if same_lan else None
    ha = _place(net, 1, ka, a, lan)
    hb = _place(net, 2, kb, b, lan)
    a.gather([ha.addr], 0)
    b.gather([hb.addr], 0)
    net.run(20000, stop=lambda: ha.event("gathered") and hb.event("gathered"))
    assert ha.event("gathered") and hb.event("gathered")
    return net, ha, hb, tsrv


def _exchange_offers(ha, hb):
    """Each side reads the other's offer through the ZSipOs JSON, as the helper would carry it."""
    for me, other in ((ha, hb), (hb, ha)):
        o = other.agent
        text = offer.to_json(o.ufrag, o.pwd, o.local_candidates(), o.default_candidate())
        ufrag, pwd, cands = offer.from_json(text)
        me.agent.set_remote(ufrag, pwd, cands)


def _done(h):
    return h.event("selected") or h.event("failed")


def _connect(net, ha, hb, limit=120000, start_b_late=0):
    _exchange_offers(ha, hb)
    ha.agent.start(net.now)
    if start_b_late:
        net.run(net.now + start_b_late)
    hb.agent.start(net.now)
    net.run(net.now + limit, stop=lambda: _done(ha) and _done(hb))
    return bool(ha.event("selected") and hb.event("selected"))


def _data_flows(net, ha, hb):
    assert ha.agent.send(b"from a", net.now)
    assert hb.agent.send(b"from b", net.now)
    net.run(net.now + 1000)
    return b"from a" in hb.data and b"from b" in ha.data


def _can_connect(ka, kb):
    """Without a relay: a symmetric NAT only gets through to a peer that filters nothing."""
    for x, y in ((ka, kb), (kb, ka)):
        if x == SYMMETRIC and y in (PORT_RESTRICTED, SYMMETRIC):
            return False
    return True


def _selected(h):
    e = h.event("selected")
    return e[2], e[3]  # local, remote


def test_nat_matrix_without_relay():
    for ka in KINDS:
        for kb in KINDS:
            net, ha, hb, _ = _setup(ka, kb)
            ok = _connect(net, ha, hb)
            what = "%s vs %s" % (NAT_NAMES[ka], NAT_NAMES[kb])
            assert ok == _can_connect(ka, kb), what
            if ok:
                assert _data_flows(net, ha, hb), what
                # both ends agree on the path: what A sends to, B receives from
                assert _selected(ha)[1].addr == hb.agent.selected.remote.addr or \
                    ha.agent.selected is not None, what
            else:
                assert ha.event("failed") or hb.event("failed"), what


def test_nat_matrix_with_relay():
    for ka in KINDS:
        for kb in KINDS:
            net, ha, hb, tsrv = _setup(ka, kb, relay=True)
            types_a = [c.type for c in ha.agent.local_candidates()]
            assert ice.RELAY in types_a
            ok = _connect(net, ha, hb)
            what = "%s vs %s" % (NAT_NAMES[ka], NAT_NAMES[kb])
            assert ok, what
            assert _data_flows(net, ha, hb), what
            relayed = ha.agent.selected.local.type == ice.RELAY or \
                hb.agent.selected.local.type == ice.RELAY
            # a relay is used exactly when there is no direct way
            assert relayed == (not _can_connect(ka, kb)), what


def test_symmetric_pair_relays_over_a_channel():
    net, ha, hb, tsrv = _setup(SYMMETRIC, SYMMETRIC, relay=True)
    assert _connect(net, ha, hb)
    net.run(net.now + 2000)  # the ChannelBind completes
    relay_side = ha if ha.agent.selected.local.type == ice.RELAY else hb
    t = relay_side.agent.turn
    assert t.channel(relay_side.agent.selected.remote.addr) is not None
    assert _data_flows(net, ha, hb)
    # the first Allocate of each agent met a 401 and was repeated with credentials
    assert (3, 401) in tsrv.requests and (3, 200) in tsrv.requests


def test_symmetric_pair_fails_without_relay_in_time():
    net, ha, hb, _ = _setup(SYMMETRIC, SYMMETRIC)
    assert not _connect(net, ha, hb)
    e = ha.event("failed")
    assert e is not None and e[2] == "all pairs failed"
    assert e[1] < 60000 + net.now  # within the checks' own timeouts


def test_loss():
    # 20% loss each way: retransmissions get through, for several seeds
    for seed in (3, 4, 5):
        net, ha, hb, _ = _setup(PORT_RESTRICTED, ENDPOINT_INDEPENDENT, seed=seed, loss=0.2)
        assert _connect(net, ha, hb), seed
    net, ha, hb, _ = _setup(SYMMETRIC, SYMMETRIC, relay=True, seed=7, loss=0.1)
    assert _connect(net, ha, hb)


def test_same_lan_uses_host_candidates():
    net, ha, hb, _ = _setup(PORT_RESTRICTED, PORT_RESTRICTED, same_lan=True)
    assert _connect(net, ha, hb)
    local, remote = _selected(ha)
    assert local.type == ice.HOST and remote.type == ice.HOST
    assert _data_flows(net, ha, hb)


def test_without_host_candidates():
    net, ha, hb, _ = _setup(ENDPOINT_INDEPENDENT, PORT_RESTRICTED, a_kw={"host": False},
                            b_kw={"host": False})
    for h in (ha, hb):
        types = [c.type for c in h.agent.local_candidates()]
        assert ice.HOST not in types and ice.SRFLX in types, types
        text = offer.to_json(h.agent.ufrag, h.agent.pwd, h.agent.local_candidates())
        assert "10.0." not in text
    assert _connect(net, ha, hb)


def test_role_conflict_both_controlling():
    net, ha, hb, _ = _setup(NONE, PORT_RESTRICTED, b_kw={"controlling": True})
    assert _connect(net, ha, hb)
    roles = (ha.agent.controlling, hb.agent.controlling)
    assert roles in ((True, False), (False, True))
    # the larger tie-breaker keeps the role (RFC 8445 section 7.3.1.1)
    winner = ha if ha.agent.tiebreaker > hb.agent.tiebreaker else hb
    assert winner.agent.controlling
    loser = hb if winner is ha else ha
    assert loser.event("role") is not None


def test_role_conflict_both_controlled():
    net, ha, hb, _ = _setup(ENDPOINT_INDEPENDENT, NONE, a_kw={"controlling": False})
    assert _connect(net, ha, hb)
    assert ha.agent.controlling != hb.agent.controlling


def test_controlled_accepts_aggressive_nomination():
    net, ha, hb, _ = _setup(PORT_RESTRICTED, ENDPOINT_INDEPENDENT, a_kw={"aggressive": True})
    assert _connect(net, ha, hb)
    assert hb.agent.selected.nominated
    assert _data_flows(net, ha, hb)


def test_regular_nomination_is_one_pair():
    net, ha, hb, _ = _setup(NONE, NONE)
    assert _connect(net, ha, hb)
    nominated = [p for p in hb.agent.pairs if p.nominated]
    assert len(nominated) == 1
    assert ha.agent.selected.nominated


def test_early_checks_before_the_peer_starts():
    # B learns A's offer 3 s after A starts checking: A's checks are answered and remembered
    net, ha, hb, _ = _setup(NONE, PORT_RESTRICTED)
    assert _connect(net, ha, hb, start_b_late=3000)
    assert _data_flows(net, ha, hb)


def test_consent_lost():
    net, ha, hb, _ = _setup(NONE, ENDPOINT_INDEPENDENT)
    assert _connect(net, ha, hb)
    t0 = net.now
    net.run(t0 + 20000)
    assert ha.event("consent-lost") is None  # consent checks keep it fresh
    hb.mute = True
    t1 = net.now
    net.run(t1 + 40000, stop=lambda: ha.event("consent-lost"))
    e = ha.event("consent-lost")
    assert e is not None
    assert 25000 <= e[1] - t1 <= 31000, e[1] - t1
    assert not ha.agent.send(b"x", net.now)  # no sending without consent


def test_controlled_fails_without_nomination():
    # the controlling side never nominates (huge wait, checks answered): controlled gives up
    net, ha, hb, _ = _setup(NONE, NONE, a_kw={"nominate_wait": 10 ** 9})
    _exchange_offers(ha, hb)
    ha.agent.start(net.now)
    hb.agent.start(net.now)
    ha.agent._nominating = True  # keep A from nominating when its checks run out
    net.run(net.now + 60000, stop=lambda: hb.event("failed"))
    e = hb.event("failed")
    assert e is not None and e[2] == "no nomination"


def test_candidates_priorities_and_foundations():
    net, ha, hb, _ = _setup(PORT_RESTRICTED, NONE, relay=True)
    cands = ha.agent.local_candidates()
    by_type = {}
    for c in cands:
        by_type[c.type] = c
    host, srflx, relay = by_type[ice.HOST], by_type[ice.SRFLX], by_type[ice.RELAY]
    # RFC 8445 section 5.1.2.1 with type preferences 126 / 100 / 0 and local preference 65535
    assert host.priority == (126 << 24) + (65535 << 8) + 255 == 2130706431
    assert srflx.priority == (100 << 24) + (65535 << 8) + 255
    assert relay.priority == (65535 << 8) + 255
    assert host.foundation == "Ha000102"  # 10.0.1.2, pjnath's style
    assert srflx.foundation == "Sa000102" and srflx.related == host.addr
    assert relay.foundation == "Rc6336402"  # the TURN server 198.51.100.2
    assert srflx.addr[0] == "203.0.113.1"
    assert ha.agent.default_candidate() is relay
    assert ice.pair_priority(10, 20) == (10 << 32) + 40
    assert ice.pair_priority(20, 10) == (10 << 32) + 41


def test_malformed_input_is_dropped():
    net, ha, hb, _ = _setup(NONE, NONE)
    a = ha.agent
    bad = b"\x00\x01\x00\x04\x21\x12\xa4\x42" + bytes(12) + b"\x00\x06\x00\x08"
    assert a.receive(bad, ("203.0.113.9", 1), net.now) is None
    assert a.last_error == "STUN attribute 0x0006 at offset 20: length 8 runs past the end of" \
        " the message"
    # an unauthenticated check gets a 400 and changes nothing
    from zerotap.ice import stun
    m = stun.Message(stun.BINDING, stun.REQUEST, bytes(range(12)))
    m.add(stun.USERNAME, a.ufrag + ":x")
    assert a.receive(m.encode(fingerprint=True), ("203.0.113.9", 1), net.now) is None
    out = a.datagrams_to_send()
    assert len(out) == 1 and stun.parse(out[0][0]).error_code() == 400
    # a wrong password gets a 401
    assert a.receive(m.encode(key=b"wrong", fingerprint=True), ("203.0.113.9", 1),
                     net.now) is None
    out = a.datagrams_to_send()
    assert len(out) == 1 and stun.parse(out[0][0]).error_code() == 401
    assert a.remotes == [] and a.pairs == []


def test_turn_refused_gathering_goes_on():
    # wrong TURN credentials: the agent reports the 401 and finishes gathering without a relay
    net, ha, hb, tsrv = _setup(NONE, ENDPOINT_INDEPENDENT, relay=True,
                               a_kw={"turn": (TURN, "user", "wrong")})
    e = ha.event("turn-error")
    assert e is not None and e[2:] == (401, "Unauthenticated", "Allocate"), ha.events
    assert ice.RELAY not in [c.type for c in ha.agent.local_candidates()]
    assert ice.RELAY in [c.type for c in hb.agent.local_candidates()]
    assert _connect(net, ha, hb)


def test_ipv6_hosts():
    net = Net(seed=9)
    a = ice.Agent(True, _rand(91))
    b = ice.Agent(False, _rand(92))
    ha = net.host("2001:db8::a", 5000, a)
    hb = net.host("2001:db8::b", 6000, b)
    a.gather([ha.addr], 0)
    b.gather([hb.addr], 0)
    net.run(100)
    text = offer.to_json(b.ufrag, b.pwd, b.local_candidates())
    assert '"[2001:db8::b]:6000"' in text
    raw = binascii.unhexlify("20010db800000000000000000000000b")
    assert b.local_candidates()[0].foundation == "H%x" % (binascii.crc32(raw) & 0xFFFFFFFF)
    assert _connect(net, ha, hb)
    assert ha.agent.selected.remote.addr == ("2001:db8::b", 6000)
    assert _data_flows(net, ha, hb)


def test_relay_only():
    # relay-only on one side: the path goes through its relay even on one LAN
    net, ha, hb, tsrv = _setup(PORT_RESTRICTED, PORT_RESTRICTED, relay=True, same_lan=True,
                               a_kw={"relay_only": True})
    types = [c.type for c in ha.agent.local_candidates()]
    assert types == [ice.RELAY], types
    assert _connect(net, ha, hb)
    assert ha.agent.selected.local.type == ice.RELAY
    assert _data_flows(net, ha, hb)
    # b never learned a's own addresses
    assert all(r.addr[0] == TURN[0] for r in hb.agent.remotes), hb.agent.remotes


def test_a_check_counts_the_first_of_a_repeated_attribute():
    # RFC 8489 section 14: only the first of an attribute repeated in a message counts; a check
    # from an unknown source with PRIORITY twice gives a peer-reflexive candidate of the first
    from zerotap.ice import stun
    a = ice.Agent(False, _rand(7))
    a.gather([("192.0.2.1", 4000)], 0)
    a.set_remote("RUFR", "remote-password-0123456789", [])
    a.start(0)
    m = stun.Message(stun.BINDING, stun.REQUEST, bytes(range(12)))
    m.add(stun.USERNAME, a.ufrag + ":RUFR").add(stun.PRIORITY, 1234).add(stun.PRIORITY, 99)
    m.add(stun.ICE_CONTROLLING, 5).add(stun.USE_CANDIDATE).add(stun.USE_CANDIDATE)
    m.add(stun.USERNAME, "x:y")
    assert a.receive(m.encode(key=a.pwd.encode(), fingerprint=True), ("192.0.2.9", 5000),
                     1) is None
    out = a.datagrams_to_send()
    r = stun.parse(out[0][0])
    assert r.cls == stun.SUCCESS and r.get(stun.XOR_MAPPED_ADDRESS) == ("192.0.2.9", 5000)
    assert [(c.type, c.addr, c.priority) for c in a.remotes] == [
        (ice.PRFLX, ("192.0.2.9", 5000), 1234)]
    assert a.pairs[0].remote_nominated


def _slow_box_run(slow, ta, late, a_kw=None):
    """Port-restricted NATs on both sides and a TURN relay; one box paces its checks every TA ms
    (a slow box under load), B starts LATE ms after A. The direct pair needs B's own check first
    (A's NAT drops nothing, B's drops A's first checks), the relay pairs do not."""
    kw = {"ta": ta}
    akw = dict(a_kw or {})
    if slow == "a":
        akw.update(kw)
    net, ha, hb, _ = _setup(PORT_RESTRICTED, PORT_RESTRICTED, relay=True, a_kw=akw,
                            b_kw=kw if slow == "b" else None)
    _exchange_offers(ha, hb)
    t0 = net.now
    ha.agent.start(net.now)
    if late:
        net.run(net.now + late)
    hb.agent.start(net.now)
    net.run(net.now + 60000, stop=lambda: _done(ha) and _done(hb))
    return net, ha, hb, t0


def test_a_slow_box_behind_port_restricted_nats_still_gets_the_direct_pair():
    # A relay pair becomes valid first; the direct (server-reflexive) pair a little later. The
    # controlling agent must not settle for the relay while a better pair is still being checked.
    for slow in ("a", "b"):
        for ta in (20, 100, 200, 300):
            for late in (0, 300, 700):
                net, ha, hb, t0 = _slow_box_run(slow, ta, late)
                what = (slow, ta, late)
                assert ha.event("selected") and hb.event("selected"), what
                assert not _relayed(ha.agent.selected), (what, ha.agent.selected)
                assert not _relayed(hb.agent.selected), (what, hb.agent.selected)
                assert ha.event("selected")[1] - t0 < 4000, (what, ha.event("selected"))
                assert _data_flows(net, ha, hb), what
    # a box 50 times slower than ta sends its first direct check after 3 s: the default
    # relay_wait gives up on it, a longer one waits for it (25 times slower, 500 ms, its
    # check came at 2 s: A's own check goes again at once then, RFC 8445 section 7.3.1.4, and
    # the direct pair is valid within relay_wait)
    net, ha, hb, t0 = _slow_box_run("b", 1000, 300)
    assert _relayed(ha.agent.selected) and _relayed(hb.agent.selected)
    assert 1500 <= ha.event("selected")[1] - t0 < 2500, ha.event("selected")[1] - t0
    net, ha, hb, t0 = _slow_box_run("b", 1000, 300, a_kw={"relay_wait": 5000})
    assert not _relayed(ha.agent.selected) and not _relayed(hb.agent.selected)
    assert _data_flows(net, ha, hb)


def test_relay_wait_bounds_the_wait_when_only_the_relay_works():
    # symmetric NATs: the direct checks run on for tens of seconds; the relay is nominated
    # relay_wait ms after it became valid, not when the direct checks give up
    for wait in (200, 1500):
        net, ha, hb, _ = _setup(SYMMETRIC, SYMMETRIC, relay=True, a_kw={"relay_wait": wait})
        t0 = net.now
        _connect(net, ha, hb, 60000)
        sel = ha.event("selected")
        assert sel and hb.event("selected"), wait
        assert _relayed(ha.agent.selected) and _relayed(hb.agent.selected)
        pending = [p for p in ha.agent.pairs if not _relayed(p) and p.state == ice.IN_PROGRESS]
        assert pending, "the direct checks were still running"
        assert wait <= sel[1] - t0 < wait + 1000, (wait, sel[1] - t0)
        assert _data_flows(net, ha, hb)


def _refuse_direct_checks(net, h, delay):
    """H's firewall answers every direct Binding request with a signed 403, DELAY ms late, and
    drops those from the peer's relayed address (so that relay pair stays in progress); checks
    that come through H's own TURN allocation reach the agent."""
    agent = h.agent

    def receive(data, src, now):
        if src != TURN and stun.is_stun(data):
            m = stun.parse(data)
            if m.cls == stun.REQUEST and m.method == stun.BINDING:
                if src[0] != TURN[0]:
                    net._queue(now + delay - net.latency, src, h.addr,
                               stun.error_response(m, 403, agent.pwd.encode()))
                return
        got = agent.receive(data, src, now)
        if got is not None:
            h.data.append(bytes(got))
    h.receive = receive


def test_the_relay_is_nominated_once_every_direct_pair_failed():
    # a relay pair is valid first, then every direct check gets an error while a lower relay
    # pair is still in progress: nothing better can come, so the valid relay pair is nominated
    # at once rather than relay_wait after it became valid
    for delay in (300, 600, 1000):
        net, ha, hb, _ = _setup(NONE, NONE, relay=True, a_kw={"relay_wait": 5000})
        _refuse_direct_checks(net, hb, delay)
        t0 = net.now
        _connect(net, ha, hb, 60000)
        sel = ha.event("selected")
        assert sel and hb.event("selected"), delay
        assert _relayed(ha.agent.selected) and _relayed(hb.agent.selected), delay
        direct = [p for p in ha.agent.pairs if not _relayed(p)]
        assert direct and all(p.state == ice.FAILED for p in direct), (delay, direct)
        pending = [p for p in ha.agent.pairs if p.state == ice.IN_PROGRESS]
        assert pending, "a relay pair was still being checked"
        assert sel[1] - t0 < delay + 500, (delay, sel[1] - t0)
        assert _data_flows(net, ha, hb), delay


def test_relay_wait_is_a_clear_error_when_bad():
    for bad in (-1, "1500", None):
        try:
            ice.Agent(True, _rand(1), relay_wait=bad)
        except ValueError as e:
            assert str(e) == "relay_wait must be a number of ms >= 0, not %r" % (bad,), str(e)
        else:
            assert False, bad


def test_checks_from_many_sources_keep_the_remote_candidates_bounded():
    # a peer that knows the credentials (the helper serves the offer to whoever asks with the
    # id) sends authenticated checks from ever new ports: every one is answered, but the
    # peer-reflexive candidates it makes are bounded by the check list (MAX_PAIRS), not kept
    # one per source for the rest of the call
    from zerotap.ice import stun
    a = ice.Agent(False, _rand(11))
    a.gather([("192.0.2.1", 4000)], 0)
    a.set_remote("RUFR", "remote-password-0123456789", [])
    a.start(0)
    key = a.pwd.encode()
    n = ice.MAX_PAIRS + 60
    for i in range(n):
        m = stun.Message(stun.BINDING, stun.REQUEST, i.to_bytes(12, "big"))
        m.add(stun.USERNAME, a.ufrag + ":RUFR").add(stun.PRIORITY, 1234)
        m.add(stun.ICE_CONTROLLING, 5)
        assert a.receive(m.encode(key=key, fingerprint=True), ("192.0.2.9", 1000 + i),
                         1 + i) is None
        out = a.datagrams_to_send()
        assert stun.parse(out[0][0]).cls == stun.SUCCESS  # answered all the same
    assert len(a.pairs) == ice.MAX_PAIRS
    assert len(a.remotes) == ice.MAX_PAIRS, len(a.remotes)
    # every remote candidate kept is one the check list pairs
    assert [r.addr for r in a.remotes] == [("192.0.2.9", 1000 + i) for i in range(ice.MAX_PAIRS)]


def _outage_at_turn_refresh(when):
    """Two agents behind symmetric NATs connected through a relay; the relaying side's
    datagrams are all lost for 9 s from WHEN(turn client) on: a short outage (a Wi-Fi
    roam), which consent freshness (30 s) rides out. Returns (net, relaying host, other)."""
    net, ha, hb, tsrv = _setup(SYMMETRIC, SYMMETRIC, relay=True, seed=3)
    assert _connect(net, ha, hb)
    net.run(net.now + 2000)  # the ChannelBind completes
    h, other = (ha, hb) if ha.agent.selected.local.type == ice.RELAY else (hb, ha)
    t = h.agent.turn
    assert t.channel(h.agent.selected.remote.addr) is not None
    start = when(t) - 50
    net.run(start)
    h.mute = True
    net.run(start + 9000)
    h.mute = False
    return net, h, other


def _outage_keeps_the_relayed_path(when):
    """The outage of _outage_at_turn_refresh(WHEN), then 200 s: no consent lost, both agents
    still connected, data flowing on the relayed path."""
    net, h, other = _outage_at_turn_refresh(when)
    net.run(net.now + 200000, stop=lambda: h.event("consent-lost") or other.event("consent-lost"))
    assert h.event("consent-lost") is None and other.event("consent-lost") is None
    assert h.agent.state == ice.CONNECTED and other.agent.state == ice.CONNECTED
    assert _data_flows(net, h, other)


def test_a_short_outage_at_the_permission_refresh_keeps_the_relayed_path():
    # the CreatePermission refresh (240 s) meets the outage; the server's permission would
    # lapse at 300 s and the relay drop everything for that peer: consent lost, the call's
    # path gone, though the network came back after 9 s
    def perm_refresh(t):
        return min(p[1] for p in t._perms.values())
    _outage_keeps_the_relayed_path(perm_refresh)


def test_a_short_outage_at_the_allocation_and_channel_refresh_keeps_the_relayed_path():
    # the allocation's Refresh and the ChannelBind refresh (540 s) meet the outage: the
    # allocation would lapse at 600 s, and a channel given up by the client while the server
    # still relays on it drops what comes in on it
    def alloc_refresh(t):
        return t._refresh_at
    _outage_keeps_the_relayed_path(alloc_refresh)


def test_a_check_in_progress_goes_again_when_the_peer_checks_that_pair():
    # RFC 8445 section 7.3.1.4: a check from the peer on a pair whose own check is in progress
    # triggers a check at once. Behind two port-restricted NATs A's checks are dropped by B's
    # NAT until B starts (here 10 s and 16 s later): B's check opens it; A's next
    # retransmission was seconds away (7.5 s, 15.5 s, 31.5 s after its first), so the path
    # came up that long after B started, past the fallback's 20 s ICE deadline in the second
    for late in (10000, 16000):
        net, ha, hb, _ = _setup(PORT_RESTRICTED, PORT_RESTRICTED)
        t0 = net.now
        assert _connect(net, ha, hb, start_b_late=late)
        for h in (ha, hb):
            took = h.event("selected")[1] - t0 - late
            assert took < 1000, (late, took)
        assert _data_flows(net, ha, hb)

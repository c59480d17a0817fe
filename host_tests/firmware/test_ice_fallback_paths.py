"""The ICE fallback on harder provider paths and NATs (fallbacksim.py, icesim.py): a provider
that strips RFC 4733 telephone-events (a PSTN leg) -> the number goes as in-band tones in the
phone's G.711 stream; symmetric NATs on both sides -> the pair goes through TURN (permissions,
a channel, ZRTP and SRTP over the relay)."""
from fallbacksim import PROV, Sim
from icesim import SYMMETRIC

from zerotap import status
from zerotap.dtmf import events
from zerotap.ice import agent as ice
from zerotap.ice import fallback as fbmod

LIMIT = fbmod.AFTER_MS + fbmod.DEADLINE_MS


def _event_packets(sim, side):
    return [d for t, s, dst, d in sim.net.provider_log
            if s == PROV[side] and len(d) >= 12 and d[1] & 0x7F == events.DEFAULT_PT]


def _secure(sim):
    a, b = sim.boxes
    assert sim.both_secure(), (a.fb.step, a.fb.reason, b.fb.step, b.fb.reason)
    assert a.call.sas == b.call.sas and a.call.sas
    assert a.fb.peer_id == b.fb.local_id and b.fb.peer_id == a.fb.local_id


def test_no_telephone_event_in_the_sdp_the_number_goes_as_tones():
    sim = Sim(blocked=True, strip_events=True, sdp_events=False)
    end = sim.run(LIMIT, stop=sim.both_secure)
    _secure(sim)
    assert end < LIMIT
    for i, box in enumerate(sim.boxes):
        assert box.fb.frames_sent[1] >= 1 and box.fb.frames_sent[0] == 0, box.fb.frames_sent
        assert box.fb._peer_form == 1  # the peer's frame came as tones
        assert _event_packets(sim, i) == []
    assert sim.net.events_dropped == 0


def test_tones_with_ten_percent_loss_on_the_provider_path_still_secure_in_time():
    # 100 ms tones: a lost 20 ms packet leaves 40 ms of tone in one piece (the detector's need)
    for seed in (2, 11, 13):
        sim = Sim(blocked=True, seed=seed, loss=0.1, strip_events=True, sdp_events=False)
        end = sim.run(LIMIT, stop=sim.both_secure)
        assert sim.both_secure(), (seed, [(b.fb.step, b.fb.reason) for b in sim.boxes])
        assert end < LIMIT
        assert sim.boxes[0].fb.frames_sent[0] == 0


def test_a_provider_that_strips_events_the_sdp_announced():
    # both SDPs say telephone-event, the provider drops them: a silent peer gets every other
    # frame as tones, and each box answers in the form it hears
    sim = Sim(blocked=True, strip_events=True, sdp_events=True)
    end = sim.run(LIMIT, stop=sim.both_secure)
    _secure(sim)
    assert end < LIMIT
    assert sim.net.events_dropped > 0
    for box in sim.boxes:
        assert box.fb.frames_sent[0] >= 1 and box.fb.frames_sent[1] >= 1, box.fb.frames_sent


def test_ice_dtmf_inband_forces_tones_and_events_still_heard():
    sim = Sim(blocked=True, dtmf="inband")
    sim.run(LIMIT, stop=sim.both_secure)
    _secure(sim)
    for i, box in enumerate(sim.boxes):
        assert _event_packets(sim, i) == [] and box.fb.frames_sent[0] == 0
    # a box set to rfc4733 and one set to inband still meet: we receive both forms always
    sim = Sim(blocked=True)
    sim.boxes[1].fb.dtmf = "inband"
    sim.run(LIMIT, stop=sim.both_secure)
    _secure(sim)
    # the inband box never sent events; the other began with events (and may answer the
    # tones it heard with tones)
    assert sim.boxes[0].fb.frames_sent[0] >= 1 and sim.boxes[1].fb.frames_sent[0] == 0


def test_events_when_both_sdps_carry_them():
    sim = Sim(blocked=True, sdp_events=True)
    end = sim.run(LIMIT, stop=sim.both_secure)
    _secure(sim)
    for i, box in enumerate(sim.boxes):
        assert box.fb.frames_sent[1] == 0 and _event_packets(sim, i)
    assert end < 8000


def test_symmetric_nats_on_both_sides_go_through_turn():
    sim = Sim(blocked=True, nat=SYMMETRIC, turn=True)
    end = sim.run(LIMIT, stop=sim.both_secure)
    _secure(sim)
    assert end < LIMIT
    a, b = sim.boxes
    relayed = [box for box in (a, b) if box.fb.selected[0].type == ice.RELAY]
    assert relayed, [(box.fb.selected[0], box.fb.selected[1]) for box in (a, b)]
    for box in relayed:
        t = box.fb.agent.turn
        # a permission for the peer and a channel bound to it; data moves as ChannelData
        assert t.channel(box.fb.selected[1].addr) is not None
    # no permission and no relayed pair for the peer's private (LAN) addresses: a TURN server
    # on the public side cannot reach them (coturn would end the allocation)
    for box in (a, b):
        for p in box.fb.agent.pairs:
            assert not (p.local.type == ice.RELAY and ice.private(p.remote.addr[0])), p
    for alloc in sim.turn_server.allocs.values():
        assert alloc["perms"] and not [ip for ip in alloc["perms"] if ice.private(ip)]
    methods = [m for m, code in sim.turn_server.requests if code == 200]
    from zerotap.ice import stun
    assert stun.ALLOCATE in methods and stun.CREATE_PERMISSION in methods
    assert stun.CHANNEL_BIND in methods
    # SRTP both ways over the relay
    a.to_phone = b.to_phone = 0
    sim.run(end + 3000)
    assert a.to_phone > 100 and b.to_phone > 100, (a.to_phone, b.to_phone)
    assert a.session.counters.unauthenticated == 0 and b.session.counters.unauthenticated == 0
    assert a.call.security == status.SECURE and a.call.path == "direct"


def test_private_addresses():
    for ip in ("10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.5", "169.254.9.9",
               "100.64.0.1", "127.0.0.1", "fd00::1", "FE80::1", "::1"):
        assert ice.private(ip), ip
    for ip in ("172.32.0.1", "192.0.2.1", "198.51.100.7", "100.128.0.1", "8.8.8.8",
               "2001:db8::1", "turn.example.org"):
        assert not ice.private(ip), ip


def test_turn_servers_from_the_helper_by_address_or_name():
    from zerotap.runtime.fallback import _turn_from_helper
    turn = {"username": "1900000000:box", "password": "p",
            "uris": ["turn:198.51.100.9:3478?transport=tcp", "turn:198.51.100.9:3479?transport=udp"]}
    assert _turn_from_helper(turn) == (("198.51.100.9", 3479), "1900000000:box", "p")
    turn["uris"] = ["stun:x.test", "turn:turn.example.test?transport=udp"]
    assert _turn_from_helper(turn) == (("turn.example.test", 3478), "1900000000:box", "p")
    turn["uris"] = ["turns:turn.example.test:5349"]
    assert _turn_from_helper(turn) is None
    assert _turn_from_helper({"uris": ["turn:198.51.100.9:3478"]}) is None


def test_turn_from_the_helper_slow_gathering_the_peer_asks_again_until_candidates():
    # no ice.stun/ice.turn: the agents wait for the helper's PUT answer; its TURN server does not
    # answer, so gathering ends only when the Allocate times out (about 8 s), long after the
    # peer holds the number and fetched the offer (issue 17: it failed with "ufrag is not ...")
    sim = Sim(blocked=True, helper_turn={"server": ["198.51.100.99", 3478],
                                         "username": "1900000000:box", "password": "p"})
    seen = set()

    def stop():
        for box in sim.boxes:
            o = sim.helper.offers.get(box.fb.local_id or "")
            if o is not None:
                seen.add((o[0]["ufrag"], len(o[0]["candidates"]) > 0))
        return sim.both_secure()
    end = sim.run(LIMIT, stop=stop)
    _secure(sim)
    assert end < LIMIT
    # every stored offer carried the agent's real credentials, also before it had candidates
    assert seen and all(len(u) >= 4 for u, n in seen), seen
    assert any(not n for u, n in seen) and any(n for u, n in seen)
    for box in sim.boxes:
        a = box.fb.agent
        assert sim.helper.offers[box.fb.local_id][0]["ufrag"] == a.ufrag
        # the peer asked again (?wait) while the offer had no candidates
        assert sum(1 for m, p in sim.helper.requests if m == "GET") >= 2


def test_turn_released_when_a_direct_pair_wins_and_at_hang_up():
    # port-restricted NATs: a server-reflexive pair wins; the allocations made while gathering
    # are released at once (the next call from the same port would get 437 otherwise)
    sim = Sim(blocked=True, turn=True)
    sim.run(LIMIT, stop=sim.both_secure)
    _secure(sim)
    for box in sim.boxes:
        assert box.fb.agent.selected.local.type != ice.RELAY
    sim.run(sim.net.now + 1000)
    assert sim.turn_server.allocs == {}
    # symmetric NATs: a relayed pair wins; the allocation it uses lives until the call ends
    # (a box whose side of the pair is not relayed released its own)
    sim = Sim(blocked=True, nat=SYMMETRIC, turn=True)
    sim.run(LIMIT, stop=sim.both_secure)
    _secure(sim)
    sim.run(sim.net.now + 1000)
    relayed = [b for b in sim.boxes if b.fb.agent.selected.local.type == ice.RELAY]
    assert relayed and len(sim.turn_server.allocs) == len(relayed)
    assert [a["relay"] for a in sim.turn_server.allocs.values()] == \
        [b.fb.agent.turn.relayed for b in relayed]
    for box in sim.boxes:
        box.session.close()  # hang-up
    sim.run(sim.net.now + 1000)
    assert sim.turn_server.allocs == {}


def test_hang_up_in_every_step_frees_the_socket_the_allocation_and_the_helper_record():
    # box A's call ends while its PUT is on its way, while the numbers go, while ICE checks,
    # while ZRTP runs on the direct path, and once SECURE (direct). Our offer stayed at the
    # helper (readable by anyone who asks for the number, with our addresses, until the helper
    # expires it) when the call ended SECURE (direct), and when the PUT's answer came after the
    # hang-up (the number came back to nobody, and nobody deleted it)
    def put_pending(a):
        return a.fb._put_pending

    def step(name):
        return lambda a: a.fb.step == name and not a.fb._put_pending
    for phase, when in (("put", put_pending), (fbmod.EXCHANGE, step(fbmod.EXCHANGE)),
                        (fbmod.CONNECT, step(fbmod.CONNECT)), (fbmod.ZRTP, step(fbmod.ZRTP)),
                        (fbmod.DIRECT, step(fbmod.DIRECT))):
        sim = Sim(blocked=True, turn=True, helper_ms=150)
        a, b = sim.boxes
        sim.run(LIMIT, stop=lambda: when(a))
        assert when(a), (phase, a.fb.step)
        ufrag = a.fb.agent.ufrag
        ours = [k for k, o in sim.helper.offers.items() if o[0]["ufrag"] == ufrag]
        assert phase == "put" or ours, phase
        a.session.close()  # hang-up
        sim.run(sim.net.now + 3000)
        assert not a.ice_open and a.ice_closed == 1, phase
        # the TURN allocation released (Refresh, LIFETIME 0)
        mine = [c for c in sim.turn_server.allocs if c[0] == "203.0.113.1"]
        assert mine == [], (phase, mine)
        # our offer deleted at the helper
        left = [k for k, o in sim.helper.offers.items() if o[0]["ufrag"] == ufrag]
        assert left == [], (phase, left)

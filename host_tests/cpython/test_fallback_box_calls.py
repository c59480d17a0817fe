"""The runtime box's call media (zerotap.runtime.box.CallMedia) with the ICE fallback, two boxes in
one CPython process on loopback: the provider path is a relay that drops ZRTP, the helper is the
real tools/icehelper (plain HTTP, as for tests), each box's phone a UDP socket of the test playing
G.711. What the proxy would do on SIP is called on the call media directly (set_remote for an SDP,
answered for a 2xx, close for a BYE): a re-INVITE during the call is one more set_remote. Also:
many calls in a row leave nothing behind (sockets, timer sources, requests, per-call objects,
offers at the helper)."""
import socket
import sys
import time

import pytest

from hostenv import FIRMWARE
from icehelper_proc import Helper
from test_fallback_loopback import Relay, _udp_port

sys.path.insert(0, str(FIRMWARE))
from zerotap import config  # noqa: E402
from zerotap import status as st  # noqa: E402
from zerotap.runtime import box as rb  # noqa: E402
from zerotap.runtime import secure  # noqa: E402


@pytest.fixture(scope="module")
def helper(tmp_path_factory):
    h = Helper(tmp_path_factory.mktemp("fbr") / "helper").start()
    yield h
    h.stop()


def _even_port():
    while True:
        p = _udp_port()
        if p % 2 == 0 and p < 60000:
            return p


def _box(tmp, name, helper, timeout_s=60):
    net, phone = _even_port(), _even_port()
    cfg = config.parse({
        "phone": {"sip": "127.0.0.1:%d" % _udp_port(), "allow": ["127.0.0.1"],
                  "rtp": "%d-%d" % (phone, phone + 1)},
        "network": {"sip": "127.0.0.1:%d" % _udp_port(), "rtp": "%d-%d" % (net, net + 3)},
        "media": {"clear": "pass", "timeout_s": timeout_s},
        "zrtp": {"cache": str(tmp / (name + ".cache"))},
        "control": "127.0.0.1:%d" % _udp_port(),
        "ice": {"helper_url": "http://127.0.0.1:%d" % helper.port, "after_s": 2,
                "deadline_s": 20}})
    return rb.Box(cfg, log=lambda text: None, name=name,
                  secure_factory=secure.factory(cfg)), net


class Phone:
    """A phone's RTP socket: G.711 every 20 ms toward its box; counts what comes back."""

    def __init__(self, mark):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.setblocking(False)
        self.port = self.sock.getsockname()[1]
        self.mark = mark
        self.seq = 100
        self.at = 0
        self.heard = 0
        self.dest = None

    def turn(self, now):
        if self.dest is not None and now >= self.at:
            self.at = now + 0.02
            q, ts = self.seq & 0xFFFF, (self.seq * 160) & 0xFFFFFFFF
            self.seq += 1
            hdr = bytes((0x80, 0, q >> 8, q & 0xFF, ts >> 24, (ts >> 16) & 0xFF, (ts >> 8) & 0xFF,
                         ts & 0xFF, 0x12, 0x34, 0x56, self.mark))
            self.sock.sendto(hdr + bytes([self.mark]) * 160, self.dest)
        while True:
            try:
                data = self.sock.recv(2048)
            except OSError:
                return
            if len(data) == 172 and data[12] != self.mark:
                self.heard += 1


def _run(boxes, phones, secs, stop=None):
    end = time.time() + secs
    while time.time() < end:
        if stop is not None and stop():
            return True
        for b in boxes:
            b.loop.run_once(5)
            t = b.timer()
            if t is not None and t <= b.loop.clock():
                b.handle_timer(b.loop.clock())
            b.loop.serve_timers()
        for p in phones:
            p.turn(time.time())
    return stop is not None and stop()


def _open_calls(boxes, phones, relay, call_id=1, peers=(1, 0)):
    """A call on each box (CALL_ID, to sip:peer<PEERS[i]>@x), ACTIVE and answered, as the proxy
    would make it: its phone side PHONES[i], its provider side the RELAY. The call media, box by
    box."""
    medias = []
    for i, box in enumerate(boxes):
        call = box.status.new_call(call_id, "out" if i == 0 else "in", "sip:peer%d@x" % peers[i])
        call.set_state(st.ACTIVE)
        m = box.media_factory.open(call)
        medias.append(m)
        m.set_remote(0, "127.0.0.1", phones[i].port, event_types=(101,))
        m.set_remote(1, "127.0.0.1", relay.ports[i], event_types=(101,))
        phones[i].dest = ("127.0.0.1", m.ports(0)[0])
        m.answered(box.loop.clock())
    return medias


def _direct(medias):
    return all(m.call_status.security == st.SECURE and m.call_status.path == "direct"
               for m in medias)


def _until_direct(boxes, phones, medias):
    """Runs the boxes until every call is SECURE on the direct path, 40 s at most."""
    assert _run(boxes, phones, 40, lambda: _direct(medias)), [
        (m.call_status.security, m.call_status.error, m.fallback.step) for m in medias]


def _close(boxes, phones, *relays):
    for relay in relays:
        if relay is not None:
            relay.stop()
    for box in boxes:
        box.shutdown()
    for p in phones:
        p.sock.close()


def test_a_reinvite_moving_the_provider_media_keeps_the_secure_direct_call(helper, tmp_path):
    # both calls SECURE on the direct path; a re-INVITE (a session refresh, the provider's SBC
    # moving its media anchor) names another port of the provider's media. The box took it for
    # the far party's media moving after SECURE and started a new ZRTP exchange, on the direct
    # path with the old peer, whose box was SECURE already: the call fell out of SECURE and its
    # audio stopped
    a, pa = _box(tmp_path, "A", helper)
    b, pb = _box(tmp_path, "B", helper)
    relay = Relay(pa, pb).start()
    relay2 = None
    boxes, phones = (a, b), (Phone(0x30), Phone(0x50))
    try:
        medias = _open_calls(boxes, phones, relay)
        _until_direct(boxes, phones, medias)
        sas = medias[0].call_status.sas
        assert sas == medias[1].call_status.sas
        # the provider moves its media anchor for box A's side: a re-INVITE names another port
        relay2 = Relay(pa, pb).start()
        medias[0].set_remote(1, "127.0.0.1", relay2.ports[0], event_types=(101,))
        _run(boxes, phones, 3)
        for p in phones:
            p.heard = 0
        _run(boxes, phones, 3)
        for m in medias:
            c = m.call_status
            assert c.security == st.SECURE and c.path == "direct" and c.sas == sas and \
                not c.mitm, (c.security, c.error, m.rekeys)
        assert phones[0].heard > 50 and phones[1].heard > 50, (phones[0].heard, phones[1].heard)
        # the provider path's keepalives go where the re-INVITE said
        assert [n for t, side, n, head in relay2.log if side == 0], relay2.log
    finally:
        _close(boxes, phones, relay, relay2)


def _counts(box):
    import gc
    from zerotap.ice import agent, fallback
    from zerotap.runtime import fallback as rfallback
    gc.collect()
    objs = [o for o in gc.get_objects() if isinstance(o, (fallback.Fallback, agent.Agent,
                                                            rfallback.CallFallback,
                                                            rb.CallMedia))]
    http = box.fallback._http
    return {"sockets": len(box.loop._by_key), "timer_sources": len(box.loop._timer_sources),
            "media": len(box.media), "http_pending": len(http.pending) if http else 0,
            "http_closing": len(http._closing) if http else 0, "objects": len(objs),
            "peers": len(box.fallback.memory.peers), "addresses": len(box.fallback.addresses)}


def test_many_fallback_calls_leave_nothing_behind(helper, tmp_path):
    # a box that runs for months: after N calls through the fallback (SECURE direct, then
    # hang-up; every other one hung up while the numbers go) the same sockets, timer sources,
    # requests and per-call objects (none) as after the first, and no offer left at the helper
    a, pa = _box(tmp_path, "A", helper)
    b, pb = _box(tmp_path, "B", helper)
    relay = Relay(pa, pb).start()
    boxes, phones = (a, b), (Phone(0x30), Phone(0x50))
    seen = []
    ids = []
    try:
        for n in range(4):
            medias = _open_calls(boxes, phones, relay, n + 1, (0, 1))

            def direct():
                return _direct(medias)

            def exchanging():  # every other call ends while the numbers go
                return all(m.fallback.local_id is not None for m in medias)
            assert _run(boxes, phones, 40, exchanging if n % 2 else direct), \
                [(m.call_status.security, m.call_status.error) for m in medias]
            _run(boxes, phones, 0.2 if n % 2 else 1)
            for i, box in enumerate(boxes):
                ids.append(medias[i].fallback.local_id)
                medias[i].close()
                phones[i].dest = None
            del medias
            _run(boxes, phones, 3)  # the DELETEs and the TURN releases go out
            seen.append([_counts(box) for box in boxes])
        assert seen[-1] == seen[1] and seen[-2] == seen[0], seen
        assert all(c["media"] == 0 and c["http_pending"] == 0 for c in seen[-1]), seen[-1]
        # and none of the offers stayed at the helper
        assert len(ids) == 8 and None not in ids
        for i in ids:
            assert helper.request("GET", "/" + i)[0] == 404, i
    finally:
        _close(boxes, phones, relay)


def test_a_call_on_the_direct_path_is_not_ended_as_dead_when_the_provider_path_goes_quiet(
        helper, tmp_path):
    # media.timeout_s 5 (its least): both calls SECURE (direct), audio flowing there; the
    # provider's media relay then goes away (only the peer's 5 s keepalives came that way
    # anyway). The media watch heard only the provider path's socket, so it took the call for
    # dead and ended it, though its media flowed on the direct path
    a, pa = _box(tmp_path, "A", helper, timeout_s=5)
    b, pb = _box(tmp_path, "B", helper, timeout_s=5)
    relay = Relay(pa, pb).start()
    boxes, phones = (a, b), (Phone(0x30), Phone(0x50))
    try:
        medias = _open_calls(boxes, phones, relay)
        _until_direct(boxes, phones, medias)
        relay.stop()
        _run(boxes, phones, 8)
        for p in phones:
            p.heard = 0
        _run(boxes, phones, 2)
        for m in medias:
            assert m.faulted is None and m.call_status.error is None, m.call_status.error
            assert m.call_status.security == st.SECURE
        assert phones[0].heard > 50 and phones[1].heard > 50, (phones[0].heard, phones[1].heard)
    finally:
        _close(boxes, phones, relay)


def test_a_fault_on_the_direct_path_ends_that_call_not_the_box(helper, tmp_path):
    # issue 14, one fault, one call: the call's ZRTP engine on the direct path raises (the
    # control's fault injection, "engine") while ZRTP runs there. Its packet came in on the ICE
    # socket, whose handler let the exception out into the box's loop: the box restarted and
    # every call ended. The media socket's handler ends that call alone
    a, pa = _box(tmp_path, "A", helper)
    b, pb = _box(tmp_path, "B", helper)
    relay = Relay(pa, pb).start()
    boxes, phones = (a, b), (Phone(0x30), Phone(0x50))
    try:
        medias = _open_calls(boxes, phones, relay)
        assert _run(boxes, phones, 40, lambda: medias[0].fallback.step == "zrtp")
        medias[0].inject("engine")
        _run(boxes, phones, 3)  # raised out of the loop before
        assert medias[0].faulted is not None and "ICE fallback" in medias[0].faulted, \
            medias[0].faulted
    finally:
        _close(boxes, phones, relay)


def test_a_strangers_datagrams_on_the_ice_socket_do_not_keep_a_dead_call_alive(helper, tmp_path):
    # media.timeout_s 5: both calls SECURE (direct), then box B vanishes with the provider's
    # relay (power cut, link gone). Box A's call is dead and must end in about 5 s. But a stranger
    # sends datagrams to A's ICE socket (its port is the top of network.rtp, the same in every
    # call): every one of them counted as the far end heard, and the dead call was kept for as
    # long as the stranger went on
    a, pa = _box(tmp_path, "A", helper, timeout_s=5)
    b, pb = _box(tmp_path, "B", helper, timeout_s=5)
    relay = Relay(pa, pb).start()
    boxes, phones = (a, b), (Phone(0x30), Phone(0x50))
    stranger = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    stranger.bind(("127.0.0.1", 0))
    try:
        medias = _open_calls(boxes, phones, relay)
        _until_direct(boxes, phones, medias)
        target = medias[0].fallback.io.ep.sock.getsockname()
        relay.stop()
        b.shutdown()
        pkt = bytes((0x80, 0, 0, 1, 0, 0, 0, 1, 9, 9, 9, 9)) + b"\x42" * 160
        at = [0]

        def spray():
            if time.time() >= at[0]:
                at[0] = time.time() + 0.05
                stranger.sendto(pkt, target)
            return medias[0].faulted is not None
        assert _run((a,), phones[:1], 12, spray), medias[0].call_status.as_dict()
        assert "network" in medias[0].faulted, medias[0].faulted
    finally:
        stranger.close()
        _close((a,), phones, relay)

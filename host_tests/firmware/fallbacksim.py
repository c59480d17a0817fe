"""Two boxes on the simulated network of icesim.py, for the ICE fallback tests: each box is a
media session (real ZRTP engines, X25519 to keep the MicroPython runner quick, real SRTP), a
fallback machine and an ICE agent; its phone sends G.711 every 20 ms. The provider path joins the
two boxes' network RTP legs at public addresses, and (``blocked``) drops every UDP datagram that
carries the ZRTP cookie at payload offset 4, as the lab's nftables rule does. A small helper
(the icehelper API: PUT, POST with the token, GET with 404 while unknown, DELETE) answers after
``helper_ms``; ``helper_down`` makes every request fail. ``strip_events``: the provider drops
RFC 4733 telephone-events (PT 101), as a PSTN leg does; ``sdp_events`` is what the boxes' SDPs
said (None: not told; False: no telephone-event); ``nat`` SYMMETRIC with ``turn`` gives both boxes
a TURN server (coturn's REST credentials, as the helper hands them out); ``phone_ms`` is the
phones' packet time.

    sim = Sim(blocked=True)
    sim.run(30000, stop=sim.both_secure)
"""
from icesim import PORT_RESTRICTED, Net
from support import Xorshift32

from zerotap import media, status
from zerotap.dtmf import frame
from zerotap.ice import agent as ice
from zerotap.ice import fallback as fbmod
from zerotap.zrtp import algorithms, engine

import json

STUN = ("198.51.100.1", 3478)
TURN = ("198.51.100.2", 3478)
PROV = (("192.0.2.1", 42000), ("192.0.2.2", 43000))
PHONE = (("10.0.0.2", 4000), ("10.0.1.2", 4100))
ZRTP_COOKIE = b"ZRTP"


def rand_from(seed):
    rng = Xorshift32(seed)

    def rand(n):
        return bytes(rng.next() & 0xFF for _ in range(n))
    return rand


class BlockingNet(Net):
    """The provider drops UDP whose payload has the ZRTP cookie at offset 4."""

    def __init__(self, blocked, provider, strip_events=False, **kw):
        Net.__init__(self, **kw)
        self.blocked = blocked
        self.strip_events = strip_events
        self.events_dropped = 0
        self.provider = provider  # provider-path addresses
        self.zrtp_dropped = 0
        self.provider_log = []  # (now, src, dst, data) on the provider path, audio aside
        self.provider_audio = 0

    def _queue(self, now, dst, src, data, lan=False):
        if dst in self.provider or src in self.provider:
            if self.blocked and bytes(data[4:8]) == ZRTP_COOKIE:
                self.zrtp_dropped += 1
                return
            if self.strip_events and len(data) >= 12 and data[1] & 0x7F == 101:
                self.events_dropped += 1
                return
            # plain audio is only counted (the MicroPython heap is small)
            if len(data) <= 16 or data[1] & 0x80 or data[1] & 0x7F not in (0, 8):
                self.provider_log.append((now, src, dst, bytes(data)))
            else:
                self.provider_audio += 1
        Net._queue(self, now, dst, src, data, lan)


class Helper:
    def __init__(self, sim, rand):
        self.sim = sim
        self.rand = rand
        self.offers = {}
        self.down = False
        self.requests = []

    def handle(self, method, path, body, headers):
        self.requests.append((method, path))
        if self.down:
            return None
        hdr = dict(headers)
        path = path.split("?")[0]
        if method == "PUT":
            i = frame.make_id(self.rand)
            tok = "t" + i
            self.offers[i] = [json.loads(body), tok]
            ans = {"id": i, "token": tok}
            if self.sim.helper_turn is not None:
                ans["turn"] = self.sim.helper_turn
            return 200, json.dumps(ans).encode()
        key = path.strip("/")
        got = self.offers.get(key)
        if got is None:
            return 404, b'{"error": "not found"}'
        if method == "GET":
            return 200, json.dumps(got[0]).encode()
        if hdr.get("X-icestorage-token") != got[1]:
            return 404, b'{"error": "not found"}'
        if method == "POST":
            got[0].update(json.loads(body))
            return 200, json.dumps({"id": key, "token": got[1]}).encode()
        if method == "DELETE":
            del self.offers[key]
            return 200, b'{"deleted": true}'
        return 405, b"{}"


class Box(fbmod.FallbackIO):
    def __init__(self, sim, i, caller, memory=None, box=True, after_ms=fbmod.AFTER_MS,
                 deadline_ms=fbmod.DEADLINE_MS, dtmf="auto", sdp_events=None, phone_ms=20):
        self.sim = sim
        self.i = i
        self.status = status.BoxStatus()
        self.call = self.status.new_call(1, "out" if caller else "in", "peer")
        self.call.set_state(status.ACTIVE)  # answered (the fallback counts from the answer)
        self.to_phone = 0  # packets relayed to the phone
        self.last_to_phone = None
        self.net_out = []
        self.ice_out = []
        self.pending = []  # [due, tag, method, path, body, headers]
        self.ice_open = False
        self.ice_closed = 0
        self.zid_seed = 0x1000 + i
        self.legs_made = 0
        self.agents_made = 0  # each later agent (a retry) draws credentials of its own
        leg = self._leg() if box else None
        self.session = media.MediaSession(self._transmit, "pass", leg, self.call)
        if leg is not None:
            leg.bind(self.session)
        self.session.set_remote(0, PHONE[i][0], PHONE[i][1])
        self.session.set_remote(1, PROV[1 - i][0], PROV[1 - i][1])
        self.fb = None
        if box:
            self.fb = fbmod.Fallback(self.session, self, caller, rand_from(77 + i), self._leg,
                                     self._agent, status=self.call, peer="sip:peer%d" % (1 - i),
                                     memory=memory, after_ms=after_ms, deadline_ms=deadline_ms,
                                     dtmf=dtmf)
            self.session.fallback = self.fb
            if sdp_events is not None:
                for side in (0, 1):
                    self.fb.sdp_events(side, (101,) if sdp_events else ())
        self.phone_at = 0
        self.phone_seq = 1000 * (i + 1)
        self.phone_ts = 50000 * (i + 1)
        self.phone_ssrc = 0x11110000 + i
        self.phone_on = True
        self.phone_ms = phone_ms  # the phone's packet time (ptime)

    def _leg(self):
        self.legs_made += 1
        cfg = engine.Config(offer=algorithms.Offer(key_agreements=("X255",)))
        return media.ZrtpLeg(engine.Engine(self.zid_seed, config=cfg), self.call)

    def _agent(self, controlling, turn):
        tconf = None
        if self.sim.helper_turn is not None and not turn:
            return None  # no ice.stun/ice.turn: wait for the helper's PUT answer
        seed = 5 + self.i + 10 * self.agents_made
        self.agents_made += 1
        if self.sim.helper_turn is not None:
            # the helper's TURN server (at an address where nothing answers: gathering ends
            # only when the Allocate times out)
            return ice.Agent(controlling, rand_from(seed), stun_server=STUN,
                             turn=(tuple(turn["server"]), turn["username"], turn["password"]))
        if self.sim.turn:
            tconf = (TURN, "1900000000:box", "secret")
        return ice.Agent(controlling, rand_from(seed), stun_server=STUN, turn=tconf)

    # FallbackIO
    def open_ice(self):
        self.ice_open = True
        return [self.sim.ice_hosts[self.i].addr]

    def send_ice(self, data, addr):
        self.ice_out.append((bytes(data), addr))

    def close_ice(self):
        self.ice_open = False
        self.ice_closed += 1

    def helper(self, tag, method, path, body, headers):
        self.pending.append([self.sim.net.now + self.sim.helper_ms, tag, method, path, body,
                             headers])

    def _transmit(self, leg, buf, n, addr):
        data = bytes(buf[:n])
        if leg == media.NET_RTP:
            self.net_out.append((data, addr))
        elif leg == media.PHONE_RTP:
            self.to_phone += 1
            self.last_to_phone = data
        elif self.fb is not None and leg == self.fb.ice_leg:
            self.fb.send_media(data, n)

    def phone_packet(self, now):
        s = self.phone_seq & 0xFFFF
        ts = self.phone_ts & 0xFFFFFFFF
        ssrc = self.phone_ssrc
        payload = bytes(((self.i * 50 + k + s) & 0x7F) for k in range(8 * self.phone_ms))
        pkt = bytearray(bytes((0x80, 0, s >> 8, s & 0xFF, ts >> 24, (ts >> 16) & 0xFF,
                               (ts >> 8) & 0xFF, ts & 0xFF, ssrc >> 24, (ssrc >> 16) & 0xFF,
                               (ssrc >> 8) & 0xFF, ssrc & 0xFF)) + payload)
        self.phone_seq += 1
        self.phone_ts += 8 * self.phone_ms
        return pkt

    def timer(self):
        t = self.session.timer()
        if self.phone_on and (t is None or self.phone_at < t):
            t = self.phone_at
        for p in self.pending:
            if t is None or p[0] < t:
                t = p[0]
        return t

    def handle_timer(self, now):
        if self.phone_on and now >= self.phone_at:
            self.phone_at = now + self.phone_ms
            pkt = self.phone_packet(now)
            self.session.receive(media.PHONE_RTP, pkt, len(pkt), PHONE[self.i], now)
        due = [p for p in self.pending if p[0] <= now]
        self.pending = [p for p in self.pending if p[0] > now]
        for p in due:
            got = self.sim.helper.handle(p[2], p[3], p[4], p[5])
            if got is None:
                self.fb.helper_failed(p[1], "connection refused", now)
            else:
                self.fb.helper_reply(p[1], got[0], got[1], now)
        t = self.session.timer()
        if t is not None and t <= now:
            self.session.handle_timer(now)


class ProviderNode:
    """The box's provider-path RTP leg, as an icesim host's "agent"; it also runs the box's
    timers (phone, helper answers, media session, fallback)."""

    def __init__(self, box):
        self.box = box

    def receive(self, data, src, now):
        buf = bytearray(data)
        self.box.session.receive(media.NET_RTP, buf, len(buf), src, now)

    def datagrams_to_send(self):
        out = self.box.net_out
        self.box.net_out = []
        return out

    def next_event(self):
        return None

    def timer(self):
        return self.box.timer()

    def handle_timer(self, now):
        self.box.handle_timer(now)


class IceNode:
    def __init__(self, box):
        self.box = box

    def receive(self, data, src, now):
        if self.box.ice_open:
            self.box.fb.receive_ice(data, src, now)

    def datagrams_to_send(self):
        out = self.box.ice_out
        self.box.ice_out = []
        return out

    def next_event(self):
        return None

    def timer(self):
        return None

    def handle_timer(self, now):
        pass


class Sim:
    def __init__(self, blocked=True, seed=1, loss=0.0, nat=PORT_RESTRICTED, memory=(None, None),
                 b_is_box=True, helper_ms=40, after_ms=fbmod.AFTER_MS,
                 deadline_ms=fbmod.DEADLINE_MS, strip_events=False, dtmf="auto",
                 sdp_events=None, turn=False, helper_turn=None, phone_ms=20):
        self.net = BlockingNet(blocked, PROV, strip_events, seed=seed, loss=loss)
        self.net.stun_server(STUN[0], STUN[1])
        self.turn = turn
        self.helper_turn = helper_turn  # the helper's PUT answer carries this "turn" part
        self.turn_server = None
        if turn:
            self.turn_server = self.net.turn_server(TURN[0], TURN[1], "1900000000:box", "secret")
        self.helper_ms = helper_ms
        self.helper = Helper(self, rand_from(seed + 100))
        self.ice_hosts = []
        self.boxes = []
        for i in range(2):
            natobj = self.net.nat("203.0.113.%d" % (i + 1), nat)
            self.ice_hosts.append(self.net.host("10.0.%d.9" % (i + 1), 5000, None, natobj))
        for i in range(2):
            box = Box(self, i, i == 0, memory=memory[i], box=(i == 0 or b_is_box),
                      after_ms=after_ms, deadline_ms=deadline_ms, dtmf=dtmf,
                      sdp_events=sdp_events, phone_ms=phone_ms)
            self.boxes.append(box)
            self.ice_hosts[i].agent = IceNode(box)
            self.net.host(PROV[i][0], PROV[i][1], ProviderNode(box))
        # the first ZRTP leg starts on the provider path when the call is answered
        for box in self.boxes:
            if box.session.secure is not None:
                box.session.secure.start(0)

    def run(self, until, stop=None):
        return self.net.run(until, stop)

    def both_secure(self):
        a, b = self.boxes
        return a.call.security == status.SECURE and b.call.security == status.SECURE and \
            a.fb.step == fbmod.DIRECT and b.fb.step == fbmod.DIRECT

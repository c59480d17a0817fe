"""A simulated network for the ICE tests, alike under CPython and MicroPython: a deterministic
clock, NATs, loss, a STUN server and a small TURN server built on zerotap.ice.stun.

    net = Net(seed=1, loss=0.1)
    nat = net.nat("203.0.113.1", PORT_RESTRICTED)      # a NAT with its own private LAN
    a = net.host("10.0.1.2", 5000, agent, nat)          # an agent behind it
    net.stun_server("198.51.100.1", 3478); net.turn_server("198.51.100.2", 3478, "u", "p")
    net.run(until_ms)                                   # deliver, tick timers, collect events

NAT models (RFC 4787 terms):
- ENDPOINT_INDEPENDENT: endpoint-independent mapping and filtering ("full cone");
- PORT_RESTRICTED: endpoint-independent mapping, address-and-port-dependent filtering;
- SYMMETRIC: address-and-port-dependent mapping and filtering.
Packets take LATENCY ms one way; LOSS drops that share of them (Xorshift32, reproducible).
"""
from support import Xorshift32

from zerotap.ice import stun, turn

NONE = 0
ENDPOINT_INDEPENDENT = 1
PORT_RESTRICTED = 2
SYMMETRIC = 3
NAT_NAMES = ("public", "endpoint-independent", "port-restricted", "symmetric")


class Nat:
    def __init__(self, kind, public_ip):
        self.kind = kind
        self.ip = public_ip
        self.out = {}  # mapping key -> public port
        self.back = {}  # public port -> [private addr, allowed remotes]
        self.next_port = 40000

    def outbound(self, src, dst):
        key = (src, dst) if self.kind == SYMMETRIC else src
        port = self.out.get(key)
        if port is None:
            port = self.next_port
            self.next_port += 7
            self.out[key] = port
            self.back[port] = [src, []]
        entry = self.back[port]
        if dst not in entry[1]:
            entry[1].append(dst)
        return (self.ip, port)

    def inbound(self, port, src):
        entry = self.back.get(port)
        if entry is None:
            return None
        if self.kind == ENDPOINT_INDEPENDENT or src in entry[1]:
            return entry[0]
        return None


class Host:
    """An agent at a private (behind NAT) or public address."""

    def __init__(self, net, addr, agent, nat):
        self.net = net
        self.addr = addr
        self.agent = agent
        self.nat = nat
        self.events = []
        self.data = []  # application payloads received
        self.mute = False  # drop everything this host sends

    def receive(self, data, src, now):
        got = self.agent.receive(data, src, now)
        if got is not None:
            self.data.append(bytes(got))

    def event(self, kind):
        for e in self.events:
            if e[0] == kind:
                return e
        return None


class StunServer:
    def __init__(self, addr):
        self.addr = addr

    def receive(self, net, data, src, dst, now):
        try:
            m = stun.parse(data)
        except ValueError:
            return
        if m.method == stun.BINDING and m.cls == stun.REQUEST:
            r = stun.Message(stun.BINDING, stun.SUCCESS, m.tid)
            r.add(stun.XOR_MAPPED_ADDRESS, src)
            net.send_public(dst, src, r.encode(fingerprint=True), now)


class TurnServer:
    """Enough of RFC 8656 for the agent: long-term credentials with a nonce (``stale()`` makes
    the next request get a 438), Allocate, Refresh, CreatePermission, ChannelBind, Send and Data
    indications, ChannelData; permissions by IP, relayed addresses on the server's IP.
    Permissions last 300 s and channels 600 s from their last install or refresh (RFC 8656
    sections 9 and 12): nothing is relayed for a peer whose permission has expired. An
    allocation lasts its LIFETIME from the last Allocate or Refresh."""

    def __init__(self, addr, username, password, realm="sim.test"):
        self.addr = addr
        self.username = username
        self.password = password
        self.realm = realm
        self.nonce = b"n0"
        self.allocs = {}  # client addr -> alloc dict
        self.by_relay = {}  # relay port -> client addr
        self.next_port = 50000
        self.requests = []  # (method, code) answered, for the tests

    def stale(self):
        self.nonce = b"n" + str(len(self.nonce)).encode()

    def _key(self):
        return stun.long_term_key(self.username, self.realm, self.password)

    def _alloc(self, client, now):
        """The allocation of CLIENT, None when there is none or it expired (then freed)."""
        a = self.allocs.get(client)
        if a is not None and a["until"] <= now:
            del self.allocs[client]
            self.by_relay.pop(a["relay"][1], None)
            a = None
        return a

    def receive(self, net, data, src, dst, now):
        if dst != self.addr:  # to a relayed address, from a peer
            client = self.by_relay.get(dst[1])
            a = self._alloc(client, now) if client is not None else None
            if a is None:
                return
            if a["perms"].get(src[0], -1) <= now:
                return
            num = a["chan_by_peer"].get(src)
            if num is not None and a["chan_until"].get(num, -1) > now:
                net.send_public(self.addr, client, turn.channel_data(num, data), now)
            else:
                m = stun.Message(stun.DATA, stun.INDICATION, bytes(12))
                m.add(stun.XOR_PEER_ADDRESS, src)
                m.add(stun.DATA_ATTR, bytes(data))
                net.send_public(self.addr, client, m.encode(), now)
            return
        if 0x40 <= data[0] <= 0x4F:
            a = self._alloc(src, now)
            if a is None:
                return
            num, payload = turn.parse_channel_data(data)
            peer = a["peer_by_chan"].get(num)
            if peer is not None and a["chan_until"].get(num, -1) > now and \
                    a["perms"].get(peer[0], -1) > now:
                net.send_public(a["relay"], peer, payload, now)
            return
        m = stun.parse(data)
        if m.cls == stun.INDICATION and m.method == stun.SEND:
            a = self._alloc(src, now)
            peer = m.get(stun.XOR_PEER_ADDRESS)
            if a is not None and a["perms"].get(peer[0], -1) > now:
                net.send_public(a["relay"], peer, m.get(stun.DATA_ATTR), now)
            return
        if m.cls != stun.REQUEST:
            return
        if m.method == stun.BINDING:
            r = stun.Message(stun.BINDING, stun.SUCCESS, m.tid)
            r.add(stun.XOR_MAPPED_ADDRESS, src)
            net.send_public(self.addr, src, r.encode(fingerprint=True), now)
            return
        if m.integrity_at < 0:
            self._error(net, m, src, 401, now)
            return
        if m.get(stun.NONCE) != self.nonce:
            self._error(net, m, src, 438, now)
            return
        if m.get(stun.USERNAME) != self.username or not m.check(self._key()):
            self._error(net, m, src, 401, now)
            return
        key = self._key()
        r = stun.Message(m.method, stun.SUCCESS, m.tid)
        a = self._alloc(src, now)
        if m.method == stun.ALLOCATE:
            if a is not None and a.get("tid", m.tid) != m.tid:
                # as coturn: another allocation holds this 5-tuple (RFC 8656 section 7.2)
                self._error(net, m, src, 437, now)
                return
            if a is None:
                relay = (self.addr[0], self.next_port)
                self.next_port += 1
                a = {"relay": relay, "perms": {}, "chan_by_peer": {}, "peer_by_chan": {},
                     "chan_until": {}, "tid": m.tid, "until": now + 600000}
                self.allocs[src] = a
                self.by_relay[relay[1]] = src
            r.add(stun.XOR_RELAYED_ADDRESS, a["relay"])
            r.add(stun.XOR_MAPPED_ADDRESS, src)
            r.add(stun.LIFETIME, 600)
        elif a is None:
            self._error(net, m, src, 437, now)
            return
        elif m.method == stun.REFRESH:
            r.add(stun.LIFETIME, m.get(stun.LIFETIME))
            if not m.get(stun.LIFETIME):  # LIFETIME 0: the allocation is freed
                del self.allocs[src]
                self.by_relay.pop(a["relay"][1], None)
            else:
                a["until"] = now + m.get(stun.LIFETIME) * 1000
        elif m.method == stun.CREATE_PERMISSION:
            for peer in m.get_all(stun.XOR_PEER_ADDRESS):
                a["perms"][peer[0]] = now + 300000
        elif m.method == stun.CHANNEL_BIND:
            peer = m.get(stun.XOR_PEER_ADDRESS)
            num = m.get(stun.CHANNEL_NUMBER)
            a["chan_by_peer"][peer] = num
            a["peer_by_chan"][num] = peer
            a["chan_until"][num] = now + 600000
            a["perms"][peer[0]] = now + 300000  # ChannelBind installs or refreshes it too
        self.requests.append((m.method, 200))
        net.send_public(self.addr, src, r.encode(key=key, fingerprint=True), now)

    def _error(self, net, m, src, code, now):
        self.requests.append((m.method, code))
        r = stun.Message(m.method, stun.ERROR, m.tid)
        r.add(stun.ERROR_CODE, (code, stun.REASONS.get(code, "Error")))
        r.add(stun.REALM, self.realm)
        r.add(stun.NONCE, self.nonce)
        # an answer to an authenticated request is signed (401 and 438 are not: RFC 8489 9.2.4)
        key = self._key() if code not in (401, 438) and m.integrity_at >= 0 else None
        net.send_public(self.addr, src, r.encode(key=key, fingerprint=True), now)


class Net:
    def __init__(self, seed=1, loss=0.0, latency=10):
        self.rng = Xorshift32(seed)
        self.loss = loss
        self.latency = latency
        self.queue = []  # [time, seq, kind, dst, src, data]
        self.seq = 0
        self.hosts = []
        self.by_addr = {}
        self.nats = {}  # public ip -> Nat
        self.servers = {}  # public ip -> server
        self.now = 0
        self.delivered = 0
        self.dropped = 0

    def nat(self, public_ip, kind):
        n = Nat(kind, public_ip)
        self.nats[public_ip] = n
        return n

    def host(self, ip, port, agent, nat=None):
        h = Host(self, (ip, port), agent, nat)
        self.hosts.append(h)
        self.by_addr[(ip, port)] = h
        return h

    def stun_server(self, ip, port):
        s = StunServer((ip, port))
        self.servers[ip] = s
        return s

    def turn_server(self, ip, port, user, password):
        s = TurnServer((ip, port), user, password)
        self.servers[ip] = s
        return s

    def _lose(self):
        return self.loss > 0 and self.rng.chance(self.loss)

    def send_from_host(self, host, data, dst, now):
        if host.mute or self._lose():
            self.dropped += 1
            return
        peer = self.by_addr.get(dst)
        if host.nat is not None and peer is not None and peer.nat is host.nat:
            self._queue(now, dst, host.addr, data, True)  # same LAN
            return
        src = host.addr
        if host.nat is not None:
            src = host.nat.outbound(host.addr, dst)
        self._queue(now, dst, src, data)

    def send_public(self, src, dst, data, now):
        if self._lose():
            self.dropped += 1
            return
        self._queue(now, dst, src, data)

    def _queue(self, now, dst, src, data, lan=False):
        self.seq += 1
        self.queue.append([now + self.latency, self.seq, dst, src, bytes(data), lan])

    def _deliver(self, dst, src, data, now, lan):
        nat = self.nats.get(dst[0])
        if nat is not None:
            priv = nat.inbound(dst[1], src)
            if priv is None:
                return
            dst = priv
        h = self.by_addr.get(dst)
        if h is not None:
            if h.nat is not None and nat is None and not lan:
                return  # a private address from outside its LAN: not routed
            self.delivered += 1
            h.receive(data, src, now)
            return
        s = self.servers.get(dst[0])
        if s is not None:
            self.delivered += 1
            s.receive(self, data, src, dst, now)

    def _flush(self, now):
        for h in self.hosts:
            for data, dst in h.agent.datagrams_to_send():
                self.send_from_host(h, data, dst, now)
            ev = h.agent.next_event()
            while ev is not None:
                h.events.append((ev[0], now) + tuple(ev[1:]))
                ev = h.agent.next_event()

    def run(self, until, stop=None):
        """Run to time UNTIL (ms) or until STOP() is true; returns the time reached."""
        now = self.now
        self._flush(now)
        while True:
            t = None
            for h in self.hosts:
                d = h.agent.timer()
                if d is not None and (t is None or d < t):
                    t = d
            for item in self.queue:
                if t is None or item[0] < t:
                    t = item[0]
            if t is None or t > until:
                self.now = until
                return until
            now = max(now, t)
            self.now = now
            due = [q for q in self.queue if q[0] <= now]
            if due:
                self.queue = [q for q in self.queue if q[0] > now]
                due.sort(key=lambda q: q[1])
                for q in due:
                    self._deliver(q[2], q[3], q[4], now, q[5])
            for h in self.hosts:
                d = h.agent.timer()
                if d is not None and d <= now:
                    h.agent.handle_timer(now)
            self._flush(now)
            if stop is not None and stop():
                return now

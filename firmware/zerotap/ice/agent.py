"""A full ICE agent (RFC 8445): one stream, one component (1), UDP, on ONE socket; sans-IO.

    a = Agent(controlling=True, rand=os.urandom, stun_server=("198.51.100.9", 3478),
              turn=(("198.51.100.9", 3478), "user", "pass"))
    a.gather([("192.168.1.5", 40000)], now)      # the addresses of the one UDP socket
    ... feed datagrams, send what it asks for, until the ("gathered",) event ...
    offer = a.local_candidates(), a.ufrag, a.pwd
    a.set_remote(ufrag, pwd, candidates)          # Candidate objects (see offer.py)
    a.start(now)                                  # connectivity checks
    payload = a.receive(data, addr, now)          # application data (direct or relayed) or None
    a.send(payload, now)                          # on the selected pair (direct or via TURN)
    a.datagrams_to_send() -> [(data, addr)]       # what the runtime sends from the socket
    a.timer() -> deadline ms or None; a.handle_timer(now)
    a.next_event()                                # see EVENTS below

Events: ``("candidate", cand)``, ``("gathered",)``, ``("selected", local, remote)``,
``("failed", reason)``, ``("consent-lost",)``, ``("turn-error", code, reason, what)``,
``("role", controlling)`` after a role conflict switched the role.

What it follows:

- Candidates (RFC 8445 section 5.1): host candidates from the given addresses, server-reflexive
  from a Binding to the STUN server and from the TURN Allocate's XOR-MAPPED-ADDRESS, relayed from
  TURN. Priority ``2^24 type_pref + 2^8 local_pref + (256 - component)`` with type preferences
  host 126, peer-reflexive 110, server-reflexive 100, relayed 0 (section 5.1.2.2). Foundations
  are pjnath's (what ZSipOs boxes send): a type letter (H, S, P, R) and the base IPv4 address in
  hex (``Hc0a80a05``), the TURN server's address for relayed ones; IPv6 uses a CRC-32 of the
  address. ``host=False`` leaves host candidates out of the offer (they still serve as the base
  that checks leave from); ``relay_only=True`` offers and uses the relayed candidate alone (no
  direct check leaves the socket, direct checks are not answered): the peer learns only the
  TURN server's address.
- Check list (6.1.2): pairs of every local base (host, relayed) with every remote candidate of
  the same family, pair priority ``2^32 MIN(G,D) + 2 MAX(G,D) + (G>D ? 1 : 0)``, pruned of
  duplicates, at most ``MAX_PAIRS``; the first pair of each foundation Waiting, the rest Frozen.
- Pacing (6.1.4.2): one check per ``ta`` ms: the triggered-check queue first, then the best
  Waiting pair, then the best Frozen one.
- Checks (7.2): USERNAME ``rufrag:lufrag``, PRIORITY (peer-reflexive priority), ICE-CONTROLLING or
  ICE-CONTROLLED with the tie-breaker, USE-CANDIDATE when nominating, MESSAGE-INTEGRITY with the
  remote password, FINGERPRINT. Responses must come from where the request went (7.2.5.2.1).
  A mapped address the agent does not know is a local peer-reflexive candidate (7.2.5.3.1).
  A 487 switches the role and repeats the check (7.2.5.1).
- Incoming checks (7.3): 400 without USERNAME or MESSAGE-INTEGRITY, 401 for a wrong one, 420
  for unknown comprehension-required attributes, the role-conflict rules of 7.3.1.1, a remote
  peer-reflexive candidate for an unknown source (7.3.1.3), triggered checks (7.3.1.4).
  Checks that arrive before ``start`` are answered and remembered (early checks).
- Nomination: when controlling, regular nomination (8.1.1): once the best valid pair cannot be
  beaten by a pair still being checked, or ``nominate_wait`` ms after the first valid pair, a
  check with USE-CANDIDATE on it. Stopping criterion (8.1.1 leaves it to the agent): while the
  valid list holds only relayed pairs (a relayed candidate at either end) and a direct pair
  (host, server- or peer-reflexive at both ends) is still being checked, the wait is
  ``relay_wait`` ms after the first valid pair instead: behind port-restricted NATs the direct
  pair succeeds only after the peer's own check opened its NAT, which a slow peer sends late,
  while the relay pairs need no such opening. A direct pair that becomes valid in that time is
  nominated ``nominate_wait`` ms after it (or at once when nothing better is pending); when
  every direct pair failed the relay is nominated at once, so only the case where nothing but
  the relay works (symmetric NATs) pays the longer wait. Once a pair is nominated the
  controlling agent keeps it (8.1.1 forbids nominating another without an ICE restart).
  When controlled, USE-CANDIDATE on any check nominates its pair once that pair is valid
  (7.3.1.5), which also accepts RFC 5245 aggressive nomination (pjnath, aioice); the
  highest-priority nominated pair is the selected one, and a later, better nomination replaces
  it (another ``selected`` event). ``aggressive=True`` makes a controlling agent put
  USE-CANDIDATE in every check (RFC 5245 aggressive nomination, deprecated by RFC 8445; the
  tests use it to play pjnath's part).
- Consent freshness (RFC 7675): after selection a Binding request on the selected pair every
  ``consent_interval`` ms (randomised 0.8..1.2); no authenticated answer for ``consent_timeout``
  ms gives ``consent-lost`` and the agent stops sending.
- The controlled agent fails when no pair is nominated ``nomination_timeout`` ms after the checks
  ran out (pjnath waits 10 s too); any agent fails when every pair failed.
"""
import binascii

from micropython import const

from zerotap.ice import stun
from zerotap.ice import turn as turnmod

# Candidate types, numbered as pjnath's pj_ice_cand_type (the ZSipOs offer's "type")
HOST = const(0)
SRFLX = const(1)
PRFLX = const(2)
RELAY = const(3)
TYPE_NAMES = ("host", "srflx", "prflx", "relay")
TYPE_PREFERENCE = (126, 100, 110, 0)  # RFC 8445 section 5.1.2.2, by type number
_LETTER = "HSPR"

# Pair states (RFC 8445 section 6.1.2.6)
FROZEN = const(0)
WAITING = const(1)
IN_PROGRESS = const(2)
SUCCEEDED = const(3)
FAILED = const(4)
PAIR_STATE_NAMES = ("frozen", "waiting", "in-progress", "succeeded", "failed")

# A consent check's transaction (RFC 7675): fewer sends than a connectivity check's (stun.RC,
# stun.RM), as consent_timeout, not one transaction, decides when consent is lost
_CONSENT_RC = const(4)
_CONSENT_RM = const(8)

# Agent states
NEW = const(0)
GATHERING = const(1)
CHECKING = const(2)
CONNECTED = const(3)
FAILED_STATE = const(4)
CLOSED = const(5)
STATE_NAMES = ("new", "gathering", "checking", "connected", "failed", "closed")

MAX_PAIRS = const(100)  # RFC 8445 section 6.1.2.5

# The fixed parts of a check and its answer (stun.encode_raw packs them without a Message)
_BINDING_REQUEST = stun.message_type(stun.BINDING, stun.REQUEST)
_BINDING_SUCCESS = stun.message_type(stun.BINDING, stun.SUCCESS)
_PRIORITY_HEAD = b"\x00\x24\x00\x04"  # PRIORITY, 4 bytes
_CONTROLLED_HEAD = b"\x80\x29\x00\x08"  # ICE-CONTROLLED, 8 bytes
_CONTROLLING_HEAD = b"\x80\x2a\x00\x08"  # ICE-CONTROLLING, 8 bytes
_USE_CANDIDATE_ATTR = b"\x00\x25\x00\x00"
# what an incoming check carries (RFC 8445 section 7.2.2), by its slot in _on_request
_CHECK_ATTRS = {stun.USERNAME: 0, stun.PRIORITY: 1, stun.ICE_CONTROLLING: 2,
                stun.ICE_CONTROLLED: 3, stun.USE_CANDIDATE: 4}
ICE_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def priority(ctype, local_pref=65535, component=1):
    """RFC 8445 section 5.1.2.1."""
    return (TYPE_PREFERENCE[ctype] << 24) + (local_pref << 8) + (256 - component)


def pair_priority(g, d):
    """RFC 8445 section 6.1.2.3: G is the controlling agent's candidate priority."""
    return (min(g, d) << 32) + 2 * max(g, d) + (1 if g > d else 0)


def foundation(ctype, ip):
    """pjnath's foundation: type letter + the IPv4 address as 8 hex digits (CRC-32 for IPv6)."""
    raw = stun.ip_to_bytes(ip)
    n = int.from_bytes(raw, "big") if len(raw) == 4 else binascii.crc32(raw) & 0xFFFFFFFF
    return "%s%x" % (_LETTER[ctype], n)


def ice_string(rand, n):
    """N ice-chars (RFC 8445 section 5.3) from N random bytes."""
    return "".join(ICE_CHARS[b & 63] for b in rand(n))


class Candidate:
    """One candidate: ``type`` (HOST..RELAY), ``addr`` and ``base`` ``(ip, port)``, ``priority``,
    ``foundation``, ``component``, ``related`` (the base or mapped address, or None)."""

    def __init__(self, ctype, addr, priority, foundation, base=None, component=1, related=None):
        self.type = ctype
        self.addr = addr
        self.base = base or addr
        self.priority = priority
        self.foundation = foundation
        self.component = component
        self.related = related

    def __repr__(self):
        return "<%s %s:%d prio %d %s>" % (TYPE_NAMES[self.type], self.addr[0], self.addr[1],
                                         self.priority, self.foundation)


def _relayed(pair):
    """A pair through a TURN relay: a relayed candidate at either end."""
    return pair.local.type == RELAY or pair.remote.type == RELAY


def _family(addr):
    return 6 if ":" in addr[0] else 4


def private(ip):
    """True for an address that a server on the public side cannot reach: RFC 1918, shared
    (100.64/10), link-local, loopback; IPv6 ULA (fc00::/7), link-local (fe80::/10), ::1."""
    if ":" in ip:
        low = ip.lower()
        return low == "::1" or low[:2] in ("fc", "fd") or low[:4] in ("fe80", "fe9", "fea",
                                                                     "feb")
    parts = ip.split(".")
    if len(parts) != 4:
        return False
    try:
        a, b = int(parts[0]), int(parts[1])
    except ValueError:
        return False
    return a == 10 or a == 127 or (a == 172 and 16 <= b <= 31) or (a == 192 and b == 168) or \
        (a == 169 and b == 254) or (a == 100 and 64 <= b <= 127)


class Pair:
    def __init__(self, local, remote, controlling):
        self.local = local
        self.remote = remote
        self.state = FROZEN
        self.nominated = False
        self.remote_nominated = False  # USE-CANDIDATE seen from the controlling peer
        self.mapped = None  # the local address the peer saw (valid pair's local candidate)
        self.found = local.foundation + ":" + remote.foundation
        self.set_priority(controlling)

    def set_priority(self, controlling):
        lp, rp = self.local.priority, self.remote.priority
        self.priority = pair_priority(lp, rp) if controlling else pair_priority(rp, lp)

    def foundation(self):
        return self.found

    def __repr__(self):
        return "<pair %r -> %r %s%s>" % (self.local, self.remote, PAIR_STATE_NAMES[self.state],
                                         " nominated" if self.nominated else "")


class _Check:
    """An outstanding Binding request: a connectivity check, a consent check or a gathering
    request to the STUN server (pair None)."""

    def __init__(self, tx, pair, nominate, consent=False, controlling=False):
        self.tx = tx
        self.pair = pair
        self.nominate = nominate
        self.consent = consent
        self.controlling = controlling


class Agent:
    def __init__(self, controlling, rand, ufrag=None, pwd=None, stun_server=None, turn=None,
                 host=True, ta=20, rto=500, software=None, tiebreaker=None,
                 nominate_wait=200, nomination_timeout=10000, consent_interval=5000,
                 consent_timeout=30000, gather_rto=100, aggressive=False, relay_only=False,
                 relay_wait=1500):
        if type(relay_wait) is not int or relay_wait < 0:
            raise ValueError("relay_wait must be a number of ms >= 0, not %r" % (relay_wait,))
        self.controlling = bool(controlling)
        self.rand = rand
        self.ufrag = ufrag or ice_string(rand, 8)
        self.pwd = pwd or ice_string(rand, 24)
        self._key = stun.IntegrityKey(self.pwd.encode())
        self._remote_key = None
        self.tiebreaker = tiebreaker if tiebreaker is not None else \
            int.from_bytes(rand(8), "big")
        self.stun_server = stun_server
        self.turn_config = turn
        self.host = host and not relay_only
        self.relay_only = relay_only  # offer and use relayed candidates only
        self.ta = ta
        self.rto = rto
        self.gather_rto = gather_rto
        self.software = software
        self.nominate_wait = nominate_wait
        self.relay_wait = relay_wait  # the wait while only relayed pairs are valid
        self.aggressive = aggressive  # RFC 5245 aggressive nomination when controlling (tests)
        self.nomination_timeout = nomination_timeout
        self.consent_interval = consent_interval
        self.consent_timeout = consent_timeout
        self.state = NEW
        self.turn = None
        self.remote_ufrag = None
        self.remote_pwd = None
        self._user_attr = None  # USERNAME of our checks, packed once the remote ufrag is known
        self._heads = {}  # (local priority << 1) | controlling -> a check's fixed attributes
        self.locals = []  # Candidates: host (advertised or not), srflx, relay
        self.remotes = []
        self.pairs = []  # the check list, best first
        self.selected = None
        self._triggered = []
        self._early = []  # (src, via_relay, priority, use_candidate) before start()
        self._checks = {}  # tid -> _Check
        self._out = []
        self._events = []
        self._gather_pending = 0
        self._next_check = None
        self._nominate_at = None
        self._valid_at = None  # when the first valid pair appeared (controlling, not nominated)
        self._direct_valid_at = None  # when the first valid direct (not relayed) pair appeared
        self._nominating = False
        self._idle_since = None
        self._consent_at = None
        self._consent_expiry = None
        self._prflx_count = 0
        self.consents = 0  # consent checks answered (RFC 7675)

    # --- outputs ------------------------------------------------------------------------------
    def datagrams_to_send(self):
        out = self._out
        self._out = []
        if self.turn is not None:
            t = self.turn.datagrams_to_send()
            if t:
                out.extend(t)
        return out

    def next_event(self):
        return self._events.pop(0) if self._events else None

    def _event(self, *ev):
        self._events.append(ev)

    def _set_state(self, state):
        # the agent's states: new -> gathering -> checking -> connected, or failed/closed
        self.state = state

    def local_candidates(self):
        """The candidates to offer: host (unless ``host=False``), srflx, relay; best first."""
        if self.relay_only:
            out = [c for c in self.locals if c.type == RELAY]
        else:
            out = [c for c in self.locals if c.type != HOST or self.host]
        out.sort(key=lambda c: -c.priority)
        return out

    def default_candidate(self):
        """The offer's default candidate: relayed, else server-reflexive, else host (pjnath)."""
        best = None
        for c in self.local_candidates():
            if best is None or (c.type == RELAY) or (c.type == SRFLX and best.type == HOST):
                best = c
        return best

    # --- gathering ----------------------------------------------------------------------------
    def gather(self, local_addrs, now):
        """Host candidates for LOCAL_ADDRS (the socket's addresses), then a Binding to the STUN
        server and an Allocate to the TURN server from that socket."""
        self._set_state(GATHERING)
        pref = 65535
        for addr in local_addrs:
            c = Candidate(HOST, addr, priority(HOST, pref), foundation(HOST, addr[0]))
            self.locals.append(c)
            if self.host:
                self._event("candidate", c)
            pref -= 1
        if self.stun_server is not None and local_addrs and not self.relay_only:
            m = stun.Message(stun.BINDING, stun.REQUEST, self.rand(12))
            data = m.encode(fingerprint=True)
            tx = stun.Transaction(None, data, self.stun_server, now, rto=self.gather_rto)
            self._checks[m.tid] = _Check(tx, None, False)
            self._out.append((data, self.stun_server))
            self._gather_pending += 1
        if self.turn_config is not None and local_addrs:
            server, user, password = self.turn_config
            self.turn = turnmod.TurnClient(server, user, password, self.rand,
                                           software=self.software, rto=self.gather_rto)
            self.turn.start(now)
            self._gather_pending += 1
        if not self._gather_pending:
            self._event("gathered")

    def _gathered_one(self):
        self._gather_pending -= 1
        if self._gather_pending == 0:
            self._event("gathered")

    def _add_srflx(self, mapped):
        base = self._primary_base()
        if base is None or mapped is None:
            return
        for c in self.locals:
            if c.addr == mapped and c.type in (HOST, SRFLX):
                return  # redundant (RFC 8445 section 5.1.3)
        c = Candidate(SRFLX, mapped, priority(SRFLX), foundation(SRFLX, base.addr[0]),
                      base=base.addr, related=base.addr)
        self.locals.append(c)
        self._event("candidate", c)

    def _primary_base(self):
        for c in self.locals:
            if c.type == HOST:
                return c
        return None

    def _turn_events(self, now):
        t = self.turn
        ev = t.next_event()
        while ev is not None:
            kind = ev[0]
            if kind == "allocated":
                relayed, mapped = ev[1], ev[2]
                c = Candidate(RELAY, relayed, priority(RELAY),
                              foundation(RELAY, t.server[0]), related=mapped)
                self.locals.append(c)
                self._event("candidate", c)
                if not self.relay_only:
                    self._add_srflx(mapped)
                if self.state == GATHERING:
                    self._gathered_one()
                elif self.state == CHECKING:
                    self._pair_local(c, now)
            elif kind == "error":
                self._event("turn-error", ev[1], ev[2], ev[3])
                if ev[3] == "Allocate" and self.state == GATHERING:
                    self._gathered_one()
            ev = t.next_event()

    # --- remote side and the check list -------------------------------------------------------
    def set_remote(self, ufrag, pwd, candidates):
        self.remote_ufrag = ufrag
        self.remote_pwd = pwd
        self._remote_key = stun.IntegrityKey(pwd.encode())
        self._user_attr = stun.pack_attr(stun.USERNAME, (ufrag + ":" + self.ufrag).encode())
        self._heads = {}
        for c in candidates:
            if c.component == 1:
                self._add_remote(c)

    def _add_remote(self, c):
        for r in self.remotes:
            if r.addr == c.addr:
                return r
        self.remotes.append(c)
        return c

    def _bases(self):
        if self.relay_only:
            return [c for c in self.locals if c.type == RELAY]
        return [c for c in self.locals if c.type in (HOST, RELAY)]

    def start(self, now):
        """Form the check list and start the checks (the remote side must be set)."""
        if self.remote_pwd is None:
            raise ValueError("ICE start before the remote ufrag and pwd are set")
        self._set_state(CHECKING)
        for local in self._bases():
            for remote in self.remotes:
                self._new_pair(local, remote)
        self._sort()
        seen = []
        for p in self.pairs:  # RFC 8445 section 6.1.2.6: first of each foundation waits
            f = p.found
            if f not in seen:
                seen.append(f)
                p.state = WAITING
        self._permit_remotes(now)
        early = self._early
        self._early = []
        for src, via_relay, prio, use in early:
            self._incoming_check(src, via_relay, prio, use, now)
        self._idle_since = None
        # the first check goes at once (RFC 8445 section 6.1.4.2 paces the ones after it)
        self._next_check = now + self.ta if self._pace(now) else None

    def _permit_remotes(self, now):
        if self.turn is not None and self.turn.state == turnmod.ALLOCATED:
            ips = []
            for r in self.remotes:
                if _family(r.addr) == _family(self.turn.relayed) and r.addr[0] not in ips and \
                        not self._unreachable_by_relay(r.addr):
                    ips.append(r.addr[0])
            self.turn.permit(ips, now)

    def _pair_local(self, local, now):
        """A relayed candidate that arrived after start: pair it too."""
        for remote in self.remotes:
            p = self._new_pair(local, remote)
            if p is not None:
                p.state = WAITING
        self._sort()
        self._permit_remotes(now)
        self._wake(now)

    def _unreachable_by_relay(self, addr):
        """A private address of the peer's LAN seen from a TURN server on the public side:
        no permission, no pair (coturn ends an allocation whose relay socket gets 'network
        unreachable' sending there)."""
        server = self.turn_config[0] if self.turn_config is not None else None
        return private(addr[0]) and server is not None and not private(server[0])

    def _new_pair(self, local, remote):
        if _family(local.addr) != _family(remote.addr):
            return None
        relay = local.type == RELAY
        if relay and self._unreachable_by_relay(remote.addr):
            return None
        for p in self.pairs:  # prune: one pair per base and remote address (6.1.2.4)
            if (p.local.type == RELAY) == relay and p.local.base == local.base and \
                    p.remote.addr == remote.addr:
                return None
        if len(self.pairs) >= MAX_PAIRS:
            return None
        p = Pair(local, remote, self.controlling)
        self.pairs.append(p)
        return p

    def _sort(self):
        self.pairs.sort(key=lambda p: -p.priority)

    def _find_pair(self, via_relay, remote_addr):
        for p in self.pairs:
            if (p.local.type == RELAY) == via_relay and p.remote.addr == remote_addr:
                return p
        return None

    def _local_for(self, via_relay):
        for c in self.locals:
            if (c.type == RELAY) == via_relay and c.type in (HOST, RELAY):
                return c
        return None

    def _wake(self, now):
        if self._next_check is None or self._next_check > now + self.ta:
            self._next_check = now

    # --- sending ------------------------------------------------------------------------------
    def _emit(self, data, local, addr, now):
        if local is not None and local.type == RELAY:
            if self.turn is not None:
                self.turn.send(data, addr, now)
        else:
            self._out.append((data, addr))

    def send(self, payload, now):
        """Send application data on the selected pair; False when there is none (or consent
        was lost)."""
        p = self.selected
        if p is None or self.state != CONNECTED:
            return False
        self._emit(payload, p.local, p.remote.addr, now)
        return True

    def _send_check(self, pair, now, nominate=False, consent=False):
        # packed by hand (stun.encode_raw): USERNAME, PRIORITY, ICE-CONTROLLING/-CONTROLLED,
        # USE-CANDIDATE, MESSAGE-INTEGRITY, FINGERPRINT (RFC 8445 section 7.2.2)
        tid = bytes(self.rand(12))
        controlling = self.controlling
        if controlling and self.aggressive and not consent:
            nominate = True
        local = pair.local
        # USERNAME, PRIORITY and the role with its tie-breaker: the same for every check from
        # one local candidate in one role, so packed once (set_remote starts afresh)
        head = self._heads.get((local.priority << 1) | controlling)
        if head is None:
            head = self._check_head(local.priority, controlling)
        data = stun.encode_raw(_BINDING_REQUEST, tid, head + _USE_CANDIDATE_ATTR if nominate
                               else head, self._remote_key, False, True)
        if consent:
            tx = stun.Transaction(None, data, pair.remote.addr, now, self.rto, _CONSENT_RC,
                                  _CONSENT_RM, local)
        else:
            tx = stun.Transaction(None, data, pair.remote.addr, now, self.rto, stun.RC, stun.RM,
                                  local)
            pair.state = IN_PROGRESS
        self._checks[tid] = _Check(tx, pair, nominate, consent, self.controlling)
        self._emit(data, pair.local, pair.remote.addr, now)

    def _check_head(self, local_priority, controlling):
        prio = priority(PRFLX, (local_priority >> 8) & 0xFFFF)
        head = self._user_attr + _PRIORITY_HEAD + prio.to_bytes(4, "big") + \
            (_CONTROLLING_HEAD if controlling else _CONTROLLED_HEAD) + \
            self.tiebreaker.to_bytes(8, "big")
        self._heads[(local_priority << 1) | controlling] = head
        return head

    # --- input --------------------------------------------------------------------------------
    def receive(self, data, addr, now):
        """Handle one datagram from ADDR. Returns application data (a direct non-STUN datagram,
        or data relayed by the TURN server) or None. Malformed STUN is dropped (ValueError is
        caught here; :attr:`last_error` keeps its text)."""
        via_relay = False
        if self.turn is not None and addr == self.turn.server and self.turn.wants(data):
            try:
                got = self.turn.receive(data, addr, now)
            except ValueError as e:
                self.last_error = str(e)
                got = None
            self._turn_events(now)
            if got is None:
                return None
            addr, data = got
            via_relay = True
        # media is the common case: its first byte (RTP, ChannelData) rules STUN out at once
        if not data or data[0] >= 0x40 or not stun.is_stun(data):
            return data if via_relay else bytes(data)
        try:
            msg = stun.parse(data)
        except ValueError as e:
            self.last_error = str(e)
            return None
        if msg.cls == stun.REQUEST and msg.method == stun.BINDING:
            self._on_request(msg, addr, via_relay, now)
        elif msg.cls in (stun.SUCCESS, stun.ERROR):
            self._on_response(msg, addr, via_relay, now)
        return None

    last_error = None

    def _respond(self, data, addr, via_relay, now):
        self._emit(data, self._local_for(via_relay) if via_relay else None, addr, now)

    def _on_request(self, msg, src, via_relay, now):
        """RFC 8445 section 7.3 (and RFC 8489 section 9.1.3 for the credentials)."""
        if self.relay_only and not via_relay:
            return  # only the relayed address is ours to answer on
        # one pass over the attributes for what a check carries (RFC 8445 section 7.2.2); last
        # to first, so that the first of a repeated attribute is the one kept
        got = [None, None, None, None, False]
        for a in reversed(msg.attrs):
            i = _CHECK_ATTRS.get(a[0])
            if i is not None:
                got[i] = a[1] if i < 4 else True
        user, prio, controlling, controlled, use = got
        key = self._key
        if user is None or msg.integrity_at < 0:
            self._respond(stun.error_response(msg, 400), src, via_relay, now)
            return
        head, sep, tail = user.partition(":")
        if head != self.ufrag or not sep or (self.remote_ufrag is not None and
                                               tail != self.remote_ufrag):
            self._respond(stun.error_response(msg, 401), src, via_relay, now)
            return
        if not msg.check(key):
            self._respond(stun.error_response(msg, 401), src, via_relay, now)
            return
        if msg.unknown:
            self._respond(stun.error_response(msg, 420, key, extra=[
                [stun.UNKNOWN_ATTRIBUTES, msg.unknown]]), src, via_relay, now)
            return
        # Role conflict, RFC 8445 section 7.3.1.1
        theirs = controlling
        if self.controlling and theirs is not None:
            if self.tiebreaker >= theirs:
                self._respond(stun.error_response(msg, 487, key), src, via_relay, now)
                return
            self._switch_role(False)
        theirs = controlled
        if not self.controlling and theirs is not None:
            if self.tiebreaker >= theirs:
                self._switch_role(True)
            else:
                self._respond(stun.error_response(msg, 487, key), src, via_relay, now)
                return
        tid = msg.tid
        self._respond(stun.encode_raw(_BINDING_SUCCESS, tid, stun.xor_mapped_attr(src, tid), key,
                                      False, True), src, via_relay, now)
        if prio is None:
            prio = 0
        if self.state != CHECKING and self.state != CONNECTED:
            if len(self._early) < 16:
                self._early.append((src, via_relay, prio, use))
            return
        self._incoming_check(src, via_relay, prio, use, now)

    def _incoming_check(self, src, via_relay, prio, use, now):
        remote = None
        for r in self.remotes:
            if r.addr == src:
                remote = r
        new = remote is None
        if new:  # RFC 8445 section 7.3.1.3: a remote peer-reflexive candidate
            remote = Candidate(PRFLX, src, prio, "rp%d" % (self._prflx_count + 1))
        pair = self._find_pair(via_relay, src)
        if pair is None:
            local = self._local_for(via_relay)
            if local is None:
                return
            pair = self._new_pair(local, remote)
            if pair is None:
                return
            self._sort()
        if new:  # kept with its pair only: the check list's bound (MAX_PAIRS) bounds them
            self._prflx_count += 1
            self.remotes.append(remote)
        # Triggered check, RFC 8445 section 7.3.1.4
        if pair.state in (FROZEN, WAITING, FAILED):
            pair.state = WAITING
            if pair not in self._triggered:
                self._triggered.append(pair)
            self._wake(now)
        elif pair.state == IN_PROGRESS:
            # 7.3.1.4 too: the peer's check shows the path open now. Our check, unanswered
            # for an RTO already, most likely met the peer's NAT still closed: it goes again
            # at once (as pjnath does), not at its next retransmission, seconds away
            for c in self._checks.values():
                if c.pair is pair and not c.consent and c.tx.sent > 1:
                    self._emit(c.tx.data, c.tx.via, c.tx.addr, now)
                    break
        # Nomination seen by the controlled agent, RFC 8445 section 7.3.1.5
        if use and not self.controlling:
            pair.remote_nominated = True
            if pair.state == SUCCEEDED:
                self._nominated(pair, now)

    def _switch_role(self, controlling):
        self.controlling = controlling
        for p in self.pairs:
            p.set_priority(controlling)
        self._sort()
        self._event("role", controlling)

    def _on_response(self, msg, src, via_relay, now):
        check = self._checks.get(msg.tid)
        if check is None:
            return
        pair = check.pair
        if pair is None:  # the gathering Binding to the STUN server
            if via_relay or src != check.tx.addr:
                return
            del self._checks[msg.tid]
            if msg.cls == stun.SUCCESS:
                self._add_srflx(msg.get(stun.XOR_MAPPED_ADDRESS) or msg.get(stun.MAPPED_ADDRESS))
            self._gathered_one()
            return
        if not msg.check(self._remote_key):
            return  # RFC 8489 9.1.4: not from the peer; the transaction goes on
        del self._checks[msg.tid]
        if check.consent:
            if msg.cls == stun.SUCCESS and src == pair.remote.addr and \
                    via_relay == (pair.local.type == RELAY) and pair is self.selected:
                self._consent_expiry = now + self.consent_timeout
                self.consents += 1
            return
        if src != pair.remote.addr or via_relay != (pair.local.type == RELAY):
            pair.state = FAILED  # RFC 8445 section 7.2.5.2.1: non-symmetric
            self._check_done(now)
            return
        if msg.cls == stun.ERROR:
            if msg.error_code() == 487:  # RFC 8445 section 7.2.5.1
                self._switch_role(not check.controlling)
                pair.state = WAITING
                if pair not in self._triggered:
                    self._triggered.append(pair)
                self._wake(now)
            else:
                pair.state = FAILED
                self._check_done(now)
            return
        self._succeeded(pair, msg, check, now)

    def _succeeded(self, pair, msg, check, now):
        mapped = msg.get(stun.XOR_MAPPED_ADDRESS)
        pair.state = SUCCEEDED
        pair.mapped = pair.local
        if mapped is not None and mapped != pair.local.addr:
            known = None
            for c in self.locals:
                if c.addr == mapped:
                    known = c
            if known is None:  # RFC 8445 section 7.2.5.3.1: a local peer-reflexive candidate
                known = Candidate(PRFLX, mapped, priority(PRFLX), foundation(PRFLX,
                                                                             pair.local.base[0]),
                                  base=pair.local.base, related=pair.local.base)
            pair.mapped = known
        # RFC 8445 section 7.2.5.3.3: unfreeze the pairs of the same foundation
        f = pair.found
        for p in self.pairs:
            if p.state == FROZEN and p.found == f:
                p.state = WAITING
        if check.nominate and check.controlling:
            self._nominated(pair, now)
        elif not self.controlling and pair.remote_nominated:
            self._nominated(pair, now)
        elif self.controlling and self.selected is None and not self._nominating:
            self._maybe_nominate(now)
        self._check_done(now)

    def _best_valid(self):
        for p in self.pairs:  # sorted, best first
            if p.state == SUCCEEDED:
                return p
        return None

    def _maybe_nominate(self, now):
        """Regular nomination (RFC 8445 section 8.1.1): nominate the best valid pair once no
        better pair is still pending, or ``nominate_wait`` ms after the first valid pair;
        ``relay_wait`` ms when only relayed pairs are valid and a direct one is pending."""
        best = self._best_valid()
        if best is None:
            return
        if self._valid_at is None:
            self._valid_at = now
        relayed = _relayed(best)
        if not relayed and self._direct_valid_at is None:
            self._direct_valid_at = now
        pending = False
        direct_pending = False
        for p in self.pairs:
            if p is best:
                break
            if p.state in (FROZEN, WAITING, IN_PROGRESS):
                pending = True
                if not _relayed(p):
                    direct_pending = True
                    break
        if not pending:
            self._nominate(best, now)
            return
        long_wait = max(self.relay_wait, self.nominate_wait)
        if not relayed:  # a direct pair: the short wait, from when the first one was valid
            at = min(self._valid_at + long_wait, self._direct_valid_at + self.nominate_wait)
        elif direct_pending:
            at = self._valid_at + long_wait
        else:
            at = self._valid_at + self.nominate_wait
        if at <= now:
            self._nominate(best, now)
        else:
            self._nominate_at = at

    def _nominate(self, pair, now):
        self._nominating = True
        self._nominate_at = None
        self._send_check(pair, now, nominate=True)

    def _nominated(self, pair, now):
        pair.nominated = True
        cur = self.selected
        if cur is not None and cur.priority >= pair.priority and self.state == CONNECTED:
            return
        self.selected = pair
        if self.state != CONNECTED:
            self._consent_expiry = now + self.consent_timeout
            self._consent_at = now + self._consent_delay()
        self._set_state(CONNECTED)
        if self.controlling:  # RFC 8445 section 8.1.2: stop checking
            self._triggered = []
            for p in self.pairs:
                if p.state in (FROZEN, WAITING):
                    p.state = FAILED
        if pair.local.type == RELAY and self.turn is not None:
            self.turn.bind(pair.remote.addr, now)
        self._event("selected", pair.mapped or pair.local, pair.remote)

    def _consent_delay(self):
        # RFC 7675 section 5.1: randomised 0.8..1.2 of the interval
        r = self.rand(1)[0]
        return self.consent_interval * (80 + r * 40 // 255) // 100

    def _check_done(self, now):
        """Fail when every pair failed; start the controlled side's nomination clock; when
        controlling, re-judge the nomination (a pair that failed may be the last better one)."""
        if self.state != CHECKING:
            return
        pending = False
        valid = False
        for p in self.pairs:
            if p.state in (FROZEN, WAITING, IN_PROGRESS):
                pending = True
            elif p.state == SUCCEEDED:
                valid = True
        if valid and self.controlling and self.selected is None and not self._nominating:
            # a pair just failed: re-judge (when it was the last direct pair still being
            # checked, the valid relay pair is nominated now, not relay_wait later)
            self._maybe_nominate(now)
            if self._nominating:
                return
        if pending or self._triggered:
            self._idle_since = None
            return
        if not valid:
            if not self._pending_relay():
                self._fail("all pairs failed", now)
            return
        if self.controlling and not self._nominating:
            self._nominate(self._best_valid(), now)
        elif self._idle_since is None:
            self._idle_since = now

    def _pending_relay(self):
        return self.turn is not None and self.turn.state == turnmod.ALLOCATING

    def _fail(self, reason, now):
        self._set_state(FAILED_STATE)
        self._event("failed", reason)

    # --- timers -------------------------------------------------------------------------------
    def timer(self):
        # the earliest of the deadlines below (None: no deadline), without a list per call:
        # the runtime asks after every datagram
        t = None
        for c in self._checks.values():
            d = c.tx.deadline
            if t is None or d < t:
                t = d
        state = self.state
        if state == CHECKING or (state == CONNECTED and not self.controlling):
            d = self._next_check
            if d is not None and (t is None or d < t) and (self._triggered or
                                                          self._has_waiting()):
                t = d
        if state == CHECKING:
            d = self._nominate_at
            if d is not None and (t is None or d < t):
                t = d
            if self._idle_since is not None:
                d = self._idle_since + self.nomination_timeout
                if t is None or d < t:
                    t = d
        elif state == CONNECTED:
            d = self._consent_at
            if d is not None and (t is None or d < t):
                t = d
            d = self._consent_expiry
            if d is not None and (t is None or d < t):
                t = d
        if self.turn is not None:
            d = self.turn.timer()
            if d is not None and (t is None or d < t):
                t = d
        return t

    def _has_waiting(self):
        for p in self.pairs:
            if p.state in (WAITING, FROZEN):
                return True
        return False

    def handle_timer(self, now):
        for tid in list(self._checks):
            c = self._checks.get(tid)
            if c is None or c.tx.deadline > now:
                continue
            data = c.tx.due(now)
            if data is not None:
                self._emit(data, c.tx.via, c.tx.addr, now)
                continue
            del self._checks[tid]
            if c.pair is None:
                self._gathered_one()
            elif not c.consent:
                c.pair.state = FAILED
                if c.nominate:
                    self._nominating = False
                self._check_done(now)
        if self.turn is not None:
            self.turn.handle_timer(now)
            self._turn_events(now)
        if self.state == CHECKING or (self.state == CONNECTED and not self.controlling):
            if self._next_check is not None and self._next_check <= now:
                if self._pace(now):
                    self._next_check = now + self.ta
                else:
                    self._next_check = None
        if self.state == CHECKING:
            if self._nominate_at is not None and self._nominate_at <= now and \
                    not self._nominating:
                self._nominate_at = None
                self._maybe_nominate(now)  # re-judged: a direct pair may have come up
            if self._idle_since is not None and now >= self._idle_since + \
                    self.nomination_timeout:
                self._fail("no nomination", now)
        if self.state == CONNECTED:
            if self._consent_expiry is not None and now >= self._consent_expiry:
                self._consent_at = self._consent_expiry = None
                self._set_state(FAILED_STATE)
                self._event("consent-lost")
            elif self._consent_at is not None and now >= self._consent_at:
                self._consent_at = now + self._consent_delay()
                self._send_check(self.selected, now, consent=True)

    def _pace(self, now):
        """One check (RFC 8445 section 6.1.4.2); False when there was nothing to check."""
        while self._triggered:
            p = self._triggered.pop(0)
            if p.state != SUCCEEDED:
                self._send_check(p, now)
                return True
        if self.state != CHECKING:
            return False
        for want in (WAITING, FROZEN):
            for p in self.pairs:
                if p.state == want:
                    self._send_check(p, now)
                    return True
        return False

    def set_credentials(self, ufrag, pwd):
        """Use UFRAG/PWD (chosen before the agent existed, already published) from here on;
        only before :meth:`gather`."""
        self.ufrag = ufrag
        self.pwd = pwd
        self._key = stun.IntegrityKey(pwd.encode())

    def close(self, now):
        """Stop: release the TURN allocation (Refresh with LIFETIME 0)."""
        if self.turn is not None:
            self.turn.release(now)
        self._set_state(CLOSED)

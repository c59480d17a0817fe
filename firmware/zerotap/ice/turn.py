"""A TURN client over UDP (RFC 8656), sans-IO: one allocation on one server.

    c = TurnClient(("198.51.100.9", 3478), user, password, rand)
    c.start(now)                         # Allocate; 401 -> REALM/NONCE -> Allocate again
    for data, addr in c.datagrams_to_send(): sock.sendto(data, addr)
    got = c.receive(data, addr, now)     # (peer, payload) for relayed data, else None
    c.handle_timer(now) at c.timer()     # retransmissions, Refresh, permission/channel refresh
    c.send(payload, peer, now)           # ChannelData once a channel is bound, else a Send
                                         # indication; creates the permission first if needed
    c.bind(peer, now)                    # ChannelBind (numbers 0x4000..0x4FFF)
    c.next_event()                       # ("allocated", relayed, mapped) | ("error", code,
                                         # reason, what) | ("permission", ip) | ("channel", peer,
                                         # number) | ("released",)

Long-term credentials (RFC 8489 section 9.2): the first Allocate goes without them; the 401
answer gives REALM and NONCE; the key is MD5(username:realm:password). A 438 (Stale Nonce) takes
the new NONCE and repeats the request, at most ``MAX_RETRIES`` times per request. A 401 to a
request that already carried credentials is final: an ("error", 401, reason, "Allocate") event
(coturn answers so to an expired REST credential) and the client is ``FAILED``. Responses to
authenticated requests are discarded unless their MESSAGE-INTEGRITY checks (RFC 8489 9.2.5), so
a forged answer only costs retransmissions; except a 437 to an Allocate (coturn sends it unsigned
also to an authenticated Allocate when another one from the same 5-tuple won): it frees the stale
allocation and allocates again, at most ``STALE_TRIES`` times.

:func:`rest_credentials` makes coturn's temporary credentials (the "TURN REST API" of coturn's
README): username ``"<expiry>:<name>"``, password base64(HMAC-SHA1(secret, username)).
"""
import binascii

from micropython import const

from zerotap import crypto
from zerotap.ice import stun

IDLE = const(0)
ALLOCATING = const(1)
ALLOCATED = const(2)
FAILED = const(3)
RELEASED = const(4)
STATE_NAMES = ("idle", "allocating", "allocated", "failed", "released")

UDP = const(17)
DEFAULT_LIFETIME = const(600)  # s, RFC 8656 section 3.2
PERMISSION_LIFETIME = const(300000)  # ms, RFC 8656 section 9
PERMISSION_REFRESH = const(240000)  # ms: one minute early
CHANNEL_LIFETIME = const(600000)  # ms, RFC 8656 section 12
CHANNEL_REFRESH = const(540000)
CHANNEL_FIRST = const(0x4000)  # RFC 8656 section 12
CHANNEL_LAST = const(0x4FFF)
MAX_RETRIES = const(3)  # 401/438 rounds per request
MAX_QUEUED = const(8)  # datagrams waiting for a permission, per peer IP
# The refreshes' RTO, whatever the client's (an agent gathers with 100 ms): RFC 8489's 500 ms
# makes a transaction of 39.5 s, which outlasts any outage consent freshness rides out (30 s);
# a refresh given up earlier lets the server drop the permission, channel or allocation
_REFRESH_RTO = const(500)

_METHOD_NAMES = {stun.ALLOCATE: "Allocate", stun.REFRESH: "Refresh",
                 stun.CREATE_PERMISSION: "CreatePermission", stun.CHANNEL_BIND: "ChannelBind"}


def rest_credentials(secret, name, expiry):
    """coturn's temporary credentials valid until EXPIRY (Unix seconds) for NAME:
    ``("<expiry>:<name>", base64(HMAC-SHA1(secret, username)))``."""
    if isinstance(secret, str):
        secret = secret.encode()
    username = "%d:%s" % (expiry, name)
    password = binascii.b2a_base64(crypto.hmac_sha1(secret, username.encode())).strip()
    return username, password.decode()


def channel_data(number, payload):
    """A ChannelData message (RFC 8656 section 12.4): number, length, data; no padding over UDP."""
    n = len(payload)
    return bytes((number >> 8, number & 0xFF, n >> 8, n & 0xFF)) + payload


def parse_channel_data(data):
    """``(number, payload)`` of a ChannelData message; ValueError names what is wrong."""
    if len(data) < 4:
        raise ValueError("ChannelData shorter than its 4-byte header")
    number = (data[0] << 8) | data[1]
    if number < CHANNEL_FIRST or number > CHANNEL_LAST:
        raise ValueError("ChannelData channel number 0x%04x is outside 0x4000..0x4FFF" % number)
    n = (data[2] << 8) | data[3]
    if n > len(data) - 4:
        raise ValueError("ChannelData length %d runs past the %d bytes after the header"
                         % (n, len(data) - 4))
    return number, bytes(data[4:4 + n])


STALE_TRIES = const(2)  # Allocates sent again after a 437 ...
STALE_RETRY_MS = const(1100)  # ... this long after it (coturn frees a released one within 1 s)
_STALE = "stale"  # the Refresh that frees a stale allocation after a 437 on Allocate


class _Request:
    rto = 0  # its transaction's RTO; 0: the client's

    def __init__(self, method, attrs, what):
        self.method = method
        self.attrs = attrs  # the request's own attributes, without credentials
        self.what = what  # context: a peer list, a (peer, number), a lifetime
        self.retries = 0


class TurnClient:
    """One allocation on SERVER with long-term credentials USERNAME/PASSWORD."""

    def __init__(self, server, username, password, rand, lifetime=DEFAULT_LIFETIME,
                 software=None, rto=500):
        self.server = server
        self.username = username
        self.password = password
        self.rand = rand
        self.lifetime = lifetime
        self.software = software
        self.rto = rto
        self.state = IDLE
        self.realm = None
        self.nonce = None
        self.key = None
        self.relayed = None
        self.mapped = None
        self.expires = 0
        self._refresh_at = None
        self._out = []
        self._events = []
        self._tx = {}  # tid -> (Transaction, _Request)
        self._perms = {}  # ip -> [expires_ms or 0 while pending, refresh_at or None, queue]
        self._channels = {}  # peer -> [number, bound, refresh_at]
        self._by_number = {}
        self._next_channel = CHANNEL_FIRST
        self._release = False  # released while allocating: release what the Allocate makes
        self._stale_tries = 0  # Allocates sent again after a 437 (a stale allocation)
        self._allocate_at = None  # when the next of them goes

    # --- outputs ------------------------------------------------------------------------------
    def datagrams_to_send(self):
        out = self._out
        self._out = []
        return out

    def next_event(self):
        return self._events.pop(0) if self._events else None

    def timer(self):
        t = self._allocate_at
        for tx, _ in self._tx.values():
            if t is None or tx.deadline < t:
                t = tx.deadline
        if self.state != ALLOCATED:
            # released or failed: no allocation, permission or channel is refreshed any more
            # (handle_timer would not consume their deadlines: the caller would spin on them)
            return t
        if self._refresh_at is not None and (t is None or self._refresh_at < t):
            t = self._refresh_at
        for p in self._perms.values():
            if p[1] is not None and (t is None or p[1] < t):
                t = p[1]
        for c in self._channels.values():
            if c[2] is not None and (t is None or c[2] < t):
                t = c[2]
        return t

    # --- requests -----------------------------------------------------------------------------
    def _request(self, req, now):
        tid = self.rand(12)
        m = stun.Message(req.method, stun.REQUEST, tid, list(req.attrs))
        if self.software:
            m.add(stun.SOFTWARE, self.software)
        if self.key is not None:
            m.add(stun.USERNAME, self.username)
            m.add(stun.REALM, self.realm)
            m.add(stun.NONCE, self.nonce)
            data = m.encode(key=self.key, fingerprint=True)
        else:
            data = m.encode(fingerprint=True)
        tx = stun.Transaction(None, data, self.server, now, rto=req.rto or self.rto)
        tx.authed = self.key is not None
        self._tx[tid] = (tx, req)
        self._out.append((data, self.server))

    def start(self, now):
        """Send the Allocate request (REQUESTED-TRANSPORT UDP, LIFETIME)."""
        self._set_state(ALLOCATING)
        self._request(_Request(stun.ALLOCATE, [[stun.REQUESTED_TRANSPORT, UDP],
                                               [stun.LIFETIME, self.lifetime]], None), now)

    def refresh(self, now, lifetime=None):
        lt = self.lifetime if lifetime is None else lifetime
        req = _Request(stun.REFRESH, [[stun.LIFETIME, lt]], lt)
        if lt:
            req.rto = _REFRESH_RTO
        self._request(req, now)

    def release(self, now):
        """Refresh with LIFETIME 0 (RFC 8656 section 7): the server frees the allocation.

        Also while the Allocate is still under way once the 401 taught the credentials: the
        Refresh follows the authenticated Allocate on the same 5-tuple, so the server frees
        what that Allocate makes even when the socket closes at once (the answer is not
        waited for); and should the Allocate's success still arrive, it is released again."""
        if self.state == ALLOCATED:
            self.refresh(now, 0)
            self._refresh_at = None
        elif self.state == ALLOCATING and self._allocate_at is not None:
            self._allocate_at = None  # waiting after a 437: nothing of ours is allocated
            self._set_state(RELEASED)
        elif self.state == ALLOCATING and self.key is not None:
            self._release = True
            self.refresh(now, 0)
        elif self.state == ALLOCATING:
            # the Allocate without credentials (before its 401) makes nothing: its answer is
            # not wanted, no authenticated one follows
            self._tx.clear()
            self._set_state(RELEASED)

    def permit(self, ips, now):
        """CreatePermission for every IP in IPS not yet permitted or pending (one request)."""
        new = [ip for ip in ips if ip not in self._perms]
        for ip in new:
            self._perms[ip] = [0, None, []]
        if new and self.state == ALLOCATED:
            self._permission_request(new, now)

    def _permission_request(self, ips, now, rto=0):
        req = _Request(stun.CREATE_PERMISSION, [[stun.XOR_PEER_ADDRESS, (ip, 0)] for ip in ips],
                       ips)
        req.rto = rto
        self._request(req, now)

    def permitted(self, ip):
        p = self._perms.get(ip)
        return p is not None and p[0] > 0

    def bind(self, peer, now):
        """ChannelBind PEER to the next free channel number (no-op when bound or binding)."""
        if peer in self._channels or self.state != ALLOCATED:
            return
        number = self._next_channel
        if number > CHANNEL_LAST:
            return
        self._next_channel += 1
        self._channels[peer] = [number, False, None]
        self._by_number[number] = peer
        self._channel_request(peer, number, now)

    def _channel_request(self, peer, number, now, rto=0):
        req = _Request(stun.CHANNEL_BIND, [[stun.CHANNEL_NUMBER, number],
                                           [stun.XOR_PEER_ADDRESS, peer]], (peer, number))
        req.rto = rto
        self._request(req, now)

    def channel(self, peer):
        """The bound channel number for PEER, or None."""
        c = self._channels.get(peer)
        return c[0] if c is not None and c[1] else None

    def send(self, payload, peer, now):
        """Relay PAYLOAD to PEER: ChannelData when a channel is bound, a Send indication when
        the permission is installed; otherwise queue it (up to MAX_QUEUED) and ask for the
        permission. Returns False when it had to drop the datagram."""
        if self.state != ALLOCATED:
            return False
        c = self._channels.get(peer)
        if c is not None and c[1]:
            self._out.append((channel_data(c[0], payload), self.server))
            return True
        p = self._perms.get(peer[0])
        if p is None:
            self.permit([peer[0]], now)
            p = self._perms[peer[0]]
        if p[0] > 0:
            self._send_indication(payload, peer)
            return True
        if len(p[2]) >= MAX_QUEUED:
            return False
        p[2].append((payload, peer))
        return True

    def _send_indication(self, payload, peer):
        m = stun.Message(stun.SEND, stun.INDICATION, self.rand(12))
        m.add(stun.XOR_PEER_ADDRESS, peer)
        m.add(stun.DATA_ATTR, payload)
        self._out.append((m.encode(), self.server))

    # --- input --------------------------------------------------------------------------------
    def wants(self, data):
        """True when DATA (from the server) is for this client: ChannelData, a Data indication,
        or an answer to one of its requests. The server's other answers (a Binding response to
        whoever shares the socket) are not."""
        if not data:
            return False
        if 0x40 <= data[0] <= 0x4F:
            return True
        if len(data) < stun.HEADER_LENGTH:
            return False
        if data[0] == 0x00 and data[1] == 0x17:  # Data indication (method 7, class 0x010)
            return True
        return bytes(data[8:20]) in self._tx

    def receive(self, data, addr, now):
        """Handle a datagram from the server. Returns ``(peer, payload)`` for relayed data, else
        None. Raises ValueError for a malformed message (nothing changes then)."""
        if addr != self.server or not data:
            return None
        b0 = data[0]
        if 0x40 <= b0 <= 0x4F:  # ChannelData, RFC 7983 section 7
            number, payload = parse_channel_data(data)
            peer = self._by_number.get(number)
            if peer is None:
                return None
            return peer, payload
        msg = stun.parse(data)
        if msg.cls == stun.INDICATION:
            if msg.method == stun.DATA:
                peer = msg.get(stun.XOR_PEER_ADDRESS)
                payload = msg.get(stun.DATA_ATTR)
                if peer is None or payload is None:
                    raise ValueError("TURN Data indication without XOR-PEER-ADDRESS or DATA")
                return peer, payload
            return None
        if msg.cls == stun.REQUEST:
            return None
        entry = self._tx.get(msg.tid)
        if entry is None:
            return None
        tx, req = entry
        code = msg.error_code() if msg.cls == stun.ERROR else None
        sent_key = tx.authed
        if sent_key and code not in (401, 438) and not msg.check(self.key) and \
                not (code == 437 and req.method == stun.ALLOCATE):
            return None  # RFC 8489 section 9.2.5: discard, retransmissions go on
        # the exception: coturn answers 437 to an Allocate from a 5-tuple that already holds an
        # allocation before it checks credentials, so without MESSAGE-INTEGRITY also when ours
        # went with them (the previous call's Allocate won the race). Discarding it would only
        # time out; taken, it frees the stale allocation and allocates again (at most
        # STALE_TRIES times, as on the first Allocate), which is all a forged one can cause.
        del self._tx[msg.tid]
        if code in (401, 438):
            realm = msg.get(stun.REALM)
            nonce = msg.get(stun.NONCE)
            final = (code == 401 and sent_key) or realm is None or nonce is None or \
                req.retries >= MAX_RETRIES
            if not final:
                self.realm = realm
                self.nonce = nonce
                self.key = stun.long_term_key(self.username, realm, self.password)
                req.retries += 1
                self._request(req, now)
                return None
        if code is not None:
            self._failed(req, code, msg.get(stun.ERROR_CODE)[1], now)
            return None
        self._succeeded(req, msg, now)
        return None

    def _succeeded(self, req, msg, now):
        method = req.method
        if method == stun.ALLOCATE:
            relayed = msg.get(stun.XOR_RELAYED_ADDRESS)
            if relayed is None:
                self._failed(req, 0, "no XOR-RELAYED-ADDRESS in the Allocate response", now)
                return
            self.relayed = relayed
            self.mapped = msg.get(stun.XOR_MAPPED_ADDRESS)
            self._set_lifetime(msg.get(stun.LIFETIME, self.lifetime), now)
            self._set_state(ALLOCATED)
            if self._release:
                self.release(now)
                return
            self._events.append(("allocated", self.relayed, self.mapped))
            pending = [ip for ip, p in self._perms.items() if p[0] == 0]
            if pending:
                self._permission_request(pending, now)
        elif method == stun.REFRESH:
            if req.what == _STALE:
                pass  # freed: the Allocate goes again at _allocate_at
            elif req.what == 0:
                self._set_state(RELEASED)
                self._events.append(("released",))
            else:
                self._set_lifetime(msg.get(stun.LIFETIME, req.what), now)
        elif method == stun.CREATE_PERMISSION:
            for ip in req.what:
                p = self._perms.get(ip)
                if p is None:
                    continue
                first = p[0] == 0
                p[0] = now + PERMISSION_LIFETIME
                p[1] = now + PERMISSION_REFRESH
                if first:
                    self._events.append(("permission", ip))
                queue = p[2]
                p[2] = []
                for payload, peer in queue:
                    self.send(payload, peer, now)
        elif method == stun.CHANNEL_BIND:
            peer, number = req.what
            c = self._channels.get(peer)
            if c is not None:
                first = not c[1]
                c[1] = True
                c[2] = now + CHANNEL_REFRESH
                # ChannelBind installs or refreshes the permission too (RFC 8656 section 12)
                p = self._perms.get(peer[0])
                if p is None:
                    self._perms[peer[0]] = [now + PERMISSION_LIFETIME, now + PERMISSION_REFRESH,
                                            []]
                if first:
                    self._events.append(("channel", peer, number))

    def _failed(self, req, code, reason, now):
        if req.what == _STALE:
            return  # the stale allocation was not ours to free: the Allocate retries tell
        if req.method == stun.ALLOCATE and code == 437 and self._stale_tries < STALE_TRIES and \
                not self._release:
            # RFC 8656 section 7.2: an allocation already holds this 5-tuple: the previous call
            # from the same port (coturn frees a released allocation only at its next one-second
            # tick, and one whose release was lost lives its lifetime). Free it with a Refresh of
            # LIFETIME 0 under our credentials (that works when it was made under the same user
            # name; coturn answers 437 already to the unauthenticated Allocate, so the Refresh
            # may go without credentials first and learn them from its 401), and Allocate again
            # STALE_RETRY_MS later, at most STALE_TRIES times; then the 437 ends this
            # allocation (no relayed candidate for this call).
            self._stale_tries += 1
            if self._stale_tries == 1:
                self._request(_Request(stun.REFRESH, [[stun.LIFETIME, 0]], _STALE), now)
            self._allocate_at = now + STALE_RETRY_MS
            return
        self._events.append(("error", code, reason, _METHOD_NAMES.get(req.method, "?")))
        if req.method == stun.ALLOCATE or (req.method == stun.REFRESH and code == 437):
            self._set_state(FAILED)
            self._refresh_at = None
        elif req.method == stun.CREATE_PERMISSION:
            for ip in req.what:
                self._perms.pop(ip, None)
        elif req.method == stun.CHANNEL_BIND:
            peer, number = req.what
            self._channels.pop(peer, None)
            self._by_number.pop(number, None)

    def _set_lifetime(self, seconds, now):
        self.expires = now + seconds * 1000
        # Refresh a minute before expiry, or at half the lifetime when it is short
        early = 60000 if seconds > 120 else seconds * 500
        self._refresh_at = now + seconds * 1000 - early if seconds else None

    def _set_state(self, state):
        self.state = state

    def handle_timer(self, now):
        for tid in list(self._tx):
            tx, req = self._tx[tid]
            if tx.deadline <= now:
                data = tx.due(now)
                if data is not None:
                    self._out.append((data, self.server))
                else:
                    del self._tx[tid]
                    self._failed(req, 0, "timeout", now)
        if self._allocate_at is not None and self._allocate_at <= now:
            self._allocate_at = None
            if self.state == ALLOCATING:
                # without credentials, as the first time: coturn's 437 (or 441) to a request
                # under another user name than the stale allocation's is not signed with our
                # key, so an authenticated retry would only hear silence until its timeout
                self.key = None
                self.start(now)
        if self._refresh_at is not None and self._refresh_at <= now and self.state == ALLOCATED:
            self._refresh_at = None
            self.refresh(now)
        if self.state != ALLOCATED:
            return
        due = []
        for ip, p in self._perms.items():
            if p[1] is not None and p[1] <= now:
                p[1] = None
                due.append(ip)
        if due:
            self._permission_request(due, now, _REFRESH_RTO)
        for peer, c in self._channels.items():
            if c[2] is not None and c[2] <= now:
                c[2] = None
                self._channel_request(peer, c[0], now, _REFRESH_RTO)

"""The box's SIP proxy, sans-IO: two sides (the phone, the network), one record-routing proxy.

    proxy = Proxy(cfg, media, status, log)
    for side, data, addr in proxy.receive(PHONE, datagram, ("192.168.1.20", 5062), now_ms):
        ...                                     # the runtime sends DATA on SIDE's socket to ADDR
    proxy.timer() / proxy.handle_timer(now_ms)  # registrations and stale calls expire
    proxy.shutdown(now_ms)                      # BYE both legs of every call (SIGINT/SIGTERM)

What it does (RFC 3261 section 16, as a stateless proxy that keeps dialog state for the media):

- Requests from the phone go out on the network side, requests from the network go to the phone.
  Responses retrace the Via path. The box adds its Via (with ``rport``, RFC 3581) and answers
  ``received``/``rport`` on the Via it received. Its branch is a hash of the incoming branch and the
  side, so retransmissions, CANCEL and the ACK of a non-2xx response get the same branch (RFC 3261
  section 16.11).
- Dialog-creating requests get two Record-Route entries, one per side (RFC 5658 double
  record-routing), so that every in-dialog request (re-INVITE, UPDATE, PRACK, ACK, BYE, INFO)
  traverses the box on the right socket. The box removes Route entries that name it.
- REGISTER from the phone passes with its digest credentials untouched; its Contact is rewritten to
  the box's network address with a key (``;zt=N``), so the registrar's later INVITE for the phone
  reaches the box, which sends it on to the phone's real contact. The 200 OK shows the phone its own
  contact again. The ``gruu`` option tag is removed from REGISTER so the registrar binds the box's
  contact and no GRUU routes around it (RFC 5627).
- Without ``network.proxy``, requests are routed by Route and Request-URI; with it, initial
  requests from the phone go to that proxy first (an outbound proxy, RFC 3261 section 8.1.2).
  A request from the network goes to the phone that registered through it, or to
  ``phone.contact``, or to a phone that is in a call through the box, and nowhere else: a Route
  never redirects it (the box is no open relay, issue 12). Dialog-creating requests (INVITE,
  SUBSCRIBE, REFER, NOTIFY) from the network are taken only from the provider (``network.proxy``,
  the registrar the phone registered with, ``network.allow``); others get 403. At most
  :data:`INCOMING_RINGING_LIMIT` incoming calls ring at once (486 beyond) and at most
  :data:`INCOMING_RATE_CALLS` start per :data:`INCOMING_RATE_WINDOW_MS` (503 with Retry-After);
  a refused request opens no media sockets.
- Bodies: SDP in INVITE, 183, 2xx, ACK, UPDATE and PRACK is rewritten (:mod:`zerotap.sip.rewrite`)
  so that media flows through the box's media session for the call.
- Forking (issue 14): each SDP belongs to the dialog of its callee's tag (``_callee_tag``); the
  call's media gets a session per early dialog (``media.dialog(tag)``), and the 2xx that wins
  closes the others (``media.confirmed(tag)``, ``Call.tag``). Messages of a fork that lost (its
  late 2xx, the phone's ACK and BYE for it) pass with their SDP rewritten and change nothing of
  the winner's dialog or media.
- Malformed requests get 400 (when a response can be built), requests from phones outside
  ``phone.allow`` get 403, Max-Forwards 0 gets 483; nothing malformed escapes as an exception.
- Transports (docs/transports.md): a message comes with the transport it arrived on; each
  request leaves over the transport its next hop asks for (``transport=``, ``sips:``), else
  ``network.transport`` toward the network and UDP toward the phone; the box's Via names it (with
  ``alias`` on TCP/TLS, RFC 5923), and each Record-Route entry names the transport of its own leg.
  Requests that came over TCP/TLS get ``received``/``rport`` so that their responses go back on
  that connection. Outputs over TCP/TLS carry the transport as a fourth element.
- NAT (:mod:`zerotap.sip.nat`): the public address the registrar reports (``received``/``rport``
  on the box's Via) or STUN finds is what Via, Contact, Record-Route and SDP show toward the
  network; the phone side keeps the LAN address.

A request passes six steps (``Proxy._request``), each of which may answer it instead:
``_admit`` (phone.allow, the Via it came with, loops, Max-Forwards), ``_provider`` (who may start a
dialog from the network), ``_routes`` (Route entries
naming the box), ``_register`` (REGISTER's Contact), ``_target`` (requests to the box itself and
toward the phone), ``_track`` (the call: opened, dialog and SDP noted, ended), then ``_forward``
(Record-Route, next hop, Via). Each call has one phase, :data:`EARLY`, :data:`CHALLENGED`,
:data:`CONFIRMED` or :data:`ENDED` (see :class:`Call`), which also says when the proxy must next
look at it (:meth:`Call.deadline`).
"""
from zerotap import crypto
from zerotap.config import ip_bytes
from zerotap.sip import headers as _hdr
from zerotap.sip import message as _sip
from zerotap.sip import locate as _locate
from zerotap.sip import nat as _nat
from zerotap.sip import rewrite
from zerotap.sip import uri as _urimod
from zerotap.sip.uri import join_hostport, unbracket
from zerotap import status as _status

PHONE = 0
NETWORK = 1
SIDE_NAMES = ("phone", "network")

BRANCH_MAGIC = "z9hG4bK"  # RFC 3261 section 8.1.1.7
DEFAULT_MAX_FORWARDS = 70
REGISTRATION_GRACE_MS = 10000
CALL_SETUP_LIMIT_MS = 300000  # Timer C: an INVITE with no answer and no 18x for 5 minutes
ENDED_LINGER_MS = 32000  # Timer J/H: keep an ended call for late retransmissions (64*T1)

SDP_TYPE = "application/sdp"

# The box is no open relay (issue 12). Requests that start a dialog from the network side come
# only from the provider: network.proxy, the registrar the phone registers with (the source of
# its REGISTER responses), network.allow. Unanswered incoming calls are capped and rate-limited.
DIALOG_METHODS = ("INVITE", "SUBSCRIBE", "REFER", "NOTIFY")
INCOMING_RINGING_LIMIT = 4  # incoming calls not answered yet; more get 486 Busy Here
INCOMING_RATE_CALLS = 8  # new incoming calls per window; more get 503 with Retry-After
INCOMING_RATE_WINDOW_MS = 10000
_LEARNED_MAX = 16  # provider and phone addresses the proxy learns (oldest forgotten)
# registering the phones again after a network change: sent again every REREGISTER_RETRY_MS
# while no answer came (the link may be up before its routes are), at most REREGISTER_TRIES more
REREGISTER_RETRY_MS = 2000
REREGISTER_TRIES = 4


def _uri(value):
    """The URI (a zerotap.sip.uri.Uri) of a name-addr or addr-spec value: Route, Record-Route,
    Contact (the parser has checked every one of those)."""
    return _hdr.parse_address(value).uri


def _hop(uri):
    """(host without brackets, port or None) of a SIP URI a request goes to next; the port is
    filled in by :func:`_port_for` once the transport is known."""
    host, _ = uri.address()  # ValueError for a URI that is not sip/sips
    return host, uri.port


def _port_for(dest, transport):
    """DEST with the default port of TRANSPORT when it names none (RFC 3263 section 4.2: 5061
    for TLS, 5060 else); a host name without a port stays so: the transport locates it (RFC 3263
    section 4.1: SRV first, A with the default port only without SRV)."""
    if dest[1] is not None or not _locate.is_ip(dest[0]):
        return dest
    return dest[0], _locate.DEFAULT_PORT[transport]


def _sent_by(via):
    """A Via's sent-by as a socket address (host without brackets, port or None)."""
    return unbracket(via.host), via.port


def _remember(items, item):
    """Add ITEM to the list ITEMS (no repeats), forgetting the oldest beyond _LEARNED_MAX."""
    if item in items:
        return
    items.append(item)
    if len(items) > _LEARNED_MAX:
        items.pop(0)


def _out(side, data, dest, transport, named=False):
    """What the runtime sends: (side, bytes, (host, port)) over UDP, with a fourth element, the
    transport (TCP, TLS; UDP that the next hop's URI NAMED for a name without a port: RFC 3263
    section 4.1, it is located without NAPTR), otherwise."""
    if transport == "UDP" and (not named or dest[1] is not None):
        return (side, data, dest)
    return (side, data, dest, transport)


def _has_sdp(msg):
    return bool(msg.body) and msg.content_type() == SDP_TYPE


def _multipart(msg):
    return bool(msg.body) and (msg.content_type() or "").startswith("multipart/")


def _unrelayable(msg):
    """Why the box cannot relay the audio of MSG's body (a 2xx to INVITE), or None when it can."""
    if _multipart(msg):
        return "a multipart body"
    if not _has_sdp(msg):
        return None  # no SDP here: the offer/answer is elsewhere (ACK, PRACK)
    try:
        seen = rewrite.read(msg.body)
    except ValueError as e:
        return str(e)
    if seen.host is None:
        return "no audio stream to relay"
    return None


class Binding:
    """A phone registered through the box: its real contact and the key the registrar knows."""

    def __init__(self, key, contact_uri, aor, expires_at):
        self.key = key
        self.contact_uri = contact_uri  # the phone's own Contact URI (a zerotap.sip.uri.Uri)
        self.aor = aor
        self.expires_at = expires_at
        self.confirmed = False  # the registrar's 2xx listed it (only those are kept on flash)
        self.upstream = []  # the box's contact URIs (text) for it that the registrar's 2xx listed


# A call's phase (Call.phase): where it is in its life, and so when the proxy must next look at it.
EARLY = "early"  # the INVITE is on its way, no final response yet: forgotten CALL_SETUP_LIMIT_MS
# after it or its last provisional response (Timer C, RFC 3261 section 16.8)
CHALLENGED = "challenged"  # a 401/407 to the INVITE: kept ENDED_LINGER_MS for the retry with credentials
CONFIRMED = "confirmed"  # a 2xx to the INVITE: the call lasts until BYE (or shutdown)
ENDED = "ended"  # media closed; kept ENDED_LINGER_MS for late retransmissions (Timer J/H)
PHASES = (EARLY, CHALLENGED, CONFIRMED, ENDED)


class Call:
    """What the box knows of one call (one Call-ID): its phase, status, media and dialog state.

    EARLY -> CONFIRMED (2xx) -> ENDED (BYE, shutdown); EARLY -> CHALLENGED (401/407) -> EARLY (the
    INVITE again, with credentials); EARLY or CHALLENGED -> ENDED (CANCEL, a final error, expiry)."""

    def __init__(self, call_id, number, direction, status, media, now_ms):
        self.call_id = call_id
        self.number = number
        self.direction = direction  # the side the initial INVITE came from
        self.status = status
        self.media = media
        self.created = now_ms
        self.heard = now_ms  # the INVITE, or the last provisional response but 100 (Timer C)
        self.phase = EARLY
        self.since = now_ms  # when the call entered its phase
        # dialog state for BYE at shutdown: per side, what that side said
        self.uri = [None, None]  # From/To values (with tags) as each side uses them
        self.contact = [None, None]  # remote target (a Uri) of each side's UA
        self.route = [[], []]  # route set toward each side (beyond the box)
        self.cseq = [0, 0]  # the last CSeq each side sent
        self.session_expires = None  # RFC 4028: the session's end unless refreshed (now_ms)
        self.was_confirmed = False  # a 2xx came: an INVITE without To tag can no longer start it
        # the INVITE as the box forwarded it, while it has no final response: (request, dest,
        # transport, out_side, the caller's Vias as received): what CANCEL and the box's own
        # final response to the caller need (issue 14: a fault in an early dialog)
        self.pending = None
        self.box_answered = None  # the To tag of the final response the box gave the caller
        self.tag = None  # forking: the callee's tag of the dialog whose 2xx won

    def enter(self, phase, now_ms):
        self.phase = phase
        self.since = now_ms

    def deadline(self):
        """When the proxy must next look at this call, or None."""
        phase = self.phase
        if phase == EARLY:
            return self.heard + CALL_SETUP_LIMIT_MS
        if phase == CONFIRMED:
            return self.session_expires
        return self.since + ENDED_LINGER_MS  # CHALLENGED, ENDED


class _Forward:
    """One request on its way through the box: what the steps of :meth:`Proxy._request` share."""

    def __init__(self, side, req, src, now_ms):
        self.side = side
        self.out_side = 1 - side
        self.req = req
        self.src = src
        self.now_ms = now_ms
        self.top = None  # the Via the request came with (received/rport noted)
        self.branch = None  # the box's branch for its own Via
        self.routes = None  # the Route entries beyond the box
        self.dest = None  # where it goes, when a step decided it
        self.to_tag = None
        self.call = None
        self.opened = False  # this request opened its call


class Proxy:
    def __init__(self, cfg, media, status=None, log=None, rand=None):
        """CFG: a zerotap.config.Config. MEDIA: the media factory (``open(call) -> session with
        .ports(side) -> (rtp, rtcp)``, ``.hello_hash()``, ``.set_remote()``, ``.set_peer_hash()``,
        ``.answered(now)``, ``.close()``). STATUS: a BoxStatus. LOG: a function of one string."""
        self.cfg = cfg
        self.media = media
        self.status = status or _status.BoxStatus()
        self.log = log or (lambda text: None)
        self.addr = [(cfg.phone.address, cfg.phone.port), (cfg.network.address, cfg.network.port)]
        self.bound = [(cfg.phone.host, cfg.phone.port), (cfg.network.host, cfg.network.port)]
        # transports (docs/transports.md): the network side's transport toward the provider,
        # its public address behind NAT (zerotap.sip.nat), the transport of the message at hand
        net = cfg.network
        self.net_transport = getattr(net, "transport", "UDP")
        keepalive = getattr(net, "keepalive_s", 0)
        self.nat = _nat.Nat(self.addr[NETWORK], keepalive * 1000 if keepalive else None,
                            getattr(net, "stun", None), rand, self.log)
        self.public_seen = []  # public addresses the box had, still its own for late responses
        self.transport_in = "UDP"
        self.calls = {}
        self.bindings = {}  # key -> Binding
        self._by_contact = {}  # the phone's contact URI (text) -> key
        self._next_key = 1
        self._next_call = 1
        self.rejected = 0
        self.malformed = 0
        self.outbox = []  # datagrams the timers made (BYEs): the runtime sends take_outbox()
        self.providers = []  # hosts that may start dialogs from the network (besides network.allow)
        proxy_host = cfg.network.proxy[0] if cfg.network.proxy is not None else None
        if proxy_host is not None and ip_bytes(unbracket(proxy_host)) is not None:
            self.providers.append(unbracket(proxy_host))
        self._phones = []  # (host, port) of phones that sent requests through the box
        self._incoming = []  # start times of incoming calls in the rate window
        # network changes (issue 14): the last REGISTER the box forwarded for each AOR, as it
        # left ((request, dest, transport)), which the box sends again for the phone
        self.registers = {}
        self._register_branches = []  # the box's branches of the REGISTERs it forwarded or sent
        self.rand = rand
        self._rereg_cseq = 0
        self._rereg_tag = None
        self._replaced = None  # the box's contact address before a re-bind: removed upstream
        self._rereg_due = None  # when to send the REGISTERs again while none was answered
        self._rereg_tries = 0

    # --- entry points ----------------------------------------------------------------------------
    def receive(self, side, data, src, now_ms, transport="UDP"):
        """A message DATA from SRC (host, port) on SIDE, over TRANSPORT (UDP, TCP, TLS). Returns
        [(side, bytes, (host, port))], with a fourth element, the transport, for TCP and TLS."""
        self.transport_in = transport
        if len(data) < 4 or data[:4] == b"\r\n\r\n" or not data.strip():
            return []  # RFC 5626 section 4.4.1 keep-alive
        if side == NETWORK and _nat.is_stun(data):
            if self.nat.stun_response(data):
                self._public_changed()
            return []
        try:
            msg = _sip.parse(data)
        except ValueError as e:
            self.malformed += 1
            self.log("sip: malformed message from %s %s: %s" % (SIDE_NAMES[side],
                                                                join_hostport(*src), e))
            return self._bad_request(side, e, src)
        try:
            if msg.is_request:
                return self._request(side, msg, src, now_ms)
            return self._response(side, msg, src, now_ms)
        except ValueError as e:
            self.malformed += 1
            self.log("sip: refused %s from %s %s: %s" % (
                msg.method if msg.is_request else "response", SIDE_NAMES[side],
                join_hostport(*src), e))
            if msg.is_request and msg.method != "ACK":
                return self._reply(side, msg, src, 400, "Bad Request")
            return []

    def timer(self):
        deadlines = [b.expires_at + REGISTRATION_GRACE_MS for b in self.bindings.values()]
        deadlines += [c.deadline() for c in self.calls.values()]
        deadlines.append(self._rereg_due)
        deadlines = [t for t in deadlines if t is not None]
        return min(deadlines) if deadlines else None

    def handle_timer(self, now_ms):
        if self._rereg_due is not None and now_ms >= self._rereg_due:
            self._rereg_tries += 1
            if self._rereg_tries > REREGISTER_TRIES:
                self._rereg_due = None
                self.log("sip: no answer to registering again after the network change")
                self.status.set_registration_error("registering again after the network "
                                                   "change: no answer")
            else:
                self.outbox += self.reregister(now_ms, again=True)
        for key in list(self.bindings):
            if self.bindings[key].expires_at + REGISTRATION_GRACE_MS <= now_ms:
                self._drop_binding(key)
        for cid in list(self.calls):
            call = self.calls[cid]
            t = call.deadline()
            if t is None or t > now_ms:
                continue
            if call.phase == ENDED:
                del self.calls[cid]
            elif call.phase == CONFIRMED:  # RFC 4028: the session was not refreshed in time
                self.outbox += self.end_call(call.media, now_ms, "session timer expired",
                                             failed=False) or []
            elif call.phase == CHALLENGED:
                self._end(call, now_ms, "authentication not retried")  # lingers from now
            else:  # EARLY: Timer C fired (RFC 3261 16.8): CANCEL, 408 to the caller; it
                # lingers for the callee's 487, or a 2xx that crossed (_after_cancel)
                self.outbox += self._cancel(call, "no answer", 408)
                self._end(call, now_ms, "no answer")

    # --- responses the box makes itself ------------------------------------------------------------
    def _reply(self, side, req, src, code, reason):
        try:
            return self._send_reply(side, _sip.make_response(req, code, reason), src)
        except ValueError as e:
            self.log("sip: cannot answer %d: %s" % (code, e))
            return []

    def _send_reply(self, side, resp, src):
        try:
            dest = src
            transport = self.transport_in
            vias = resp.get_all("Via")
            try:
                top = _hdr.parse_via(vias[0]) if vias else None
            except ValueError:
                top = None  # a Via the parser refused: the answer goes where the request came from
            if top is not None:
                self._note_source(top, src, self.transport_in != "UDP")
                resp.set("Via", [str(top)] + vias[1:])
                dest = top.response_address()
                transport = self._via_transport(top)
            return [_out(side, resp.serialize(), dest, transport)]
        except ValueError as e:
            self.log("sip: cannot answer: %s" % (e,))
            return []

    def _bad_request(self, side, error, src):
        """The 400 (or 505) that the parser says a refused request deserves (RFC 3261 8.2), or
        nothing for a malformed response or ACK."""
        response = getattr(error, "response", None)
        if response is None:
            return []
        if side == PHONE and src[0] not in self.cfg.phone.allow:
            return []
        try:
            resp = response()  # None for an ACK, a response, or what is not a request
        except ValueError:
            return []
        if resp is None:
            return []
        return self._send_reply(side, resp, src)

    # --- requests --------------------------------------------------------------------------------
    @staticmethod
    def _note_source(via, src, stream=False):
        # RFC 3261 section 18.2.1: received when sent-by differs from the source; RFC 3581
        # section 4: with rport, always received (even when equal) and rport set to the port.
        # Over TCP/TLS (STREAM) both, always: they name the connection the request came on,
        # where its responses must go (RFC 3261 section 18.2.2)
        rport = via.has_param("rport") or stream
        if rport or unbracket(via.host) != src[0]:
            via.set_param("received", src[0])
        if rport:
            via.set_param("rport", str(src[1]))

    def _ours(self, uri):
        """True when URI (a Uri) names one of the box's own SIP sockets."""
        if not uri.is_sip():
            return False
        a = uri.address()
        return a in self.addr or a in self.bound or a in self.public_seen

    def _request(self, side, req, src, now_ms):
        """A request from SIDE, in steps; a step returns the answer that stops it, or None."""
        fwd = _Forward(side, req, src, now_ms)
        try:
            for step in (self._admit, self._provider, self._routes, self._register, self._target,
                         self._track):
                out = step(fwd)
                if out is not None:
                    return out
            return self._forward(fwd)
        except ValueError as e:
            call = fwd.call
            if fwd.opened and call is not None:
                # refused after its call opened: no call rings on, no media sockets stay held
                self._end(call, now_ms, "request refused: %s" % e)
                if self.calls.get(call.call_id) is call:
                    del self.calls[call.call_id]
            raise

    def _admit(self, fwd):
        """May the request pass at all? phone.allow, the Via it came with, loops, Max-Forwards."""
        side, req, src = fwd.side, fwd.req, fwd.src
        method = req.method
        if side == PHONE and src[0] not in self.cfg.phone.allow:
            self.rejected += 1
            self.log("sip: %s from %s refused: not in phone.allow" % (method, src[0]))
            if method == "ACK":
                return []
            return self._reply(side, req, src, 403, "Forbidden")
        vias = req.vias()
        top = fwd.top = vias[0]
        incoming_branch = top.branch or ""
        self._note_source(top, src, self.transport_in != "UDP")
        # loop detection (RFC 3261 section 16.3 item 4): our own Via with this very branch
        branch = fwd.branch = self._branch(incoming_branch, req, fwd.out_side)
        for v in vias[1:]:
            if _sent_by(v) == self.addr[fwd.out_side] and v.branch == branch:
                return self._reply(side, req, src, 482, "Loop Detected")
        # Max-Forwards (RFC 3261 section 16.3 item 3 and 16.6 item 3)
        mf = req.max_forwards()
        if mf is None:
            mf = DEFAULT_MAX_FORWARDS
        if mf == 0:
            if method == "OPTIONS":
                return self._reply(side, req, src, 200, "OK")
            return [] if method == "ACK" else self._reply(side, req, src, 483, "Too Many Hops")
        req.set("Max-Forwards", str(mf - 1))
        return None

    def trust_provider(self, host):
        """HOST (an address) may start dialogs from the network: the runtime adds network.proxy's
        resolved address; the proxy adds the source of the phone's REGISTER responses itself."""
        _remember(self.providers, host)

    def _provider(self, fwd):
        """Requests that start a dialog from the network: only from the provider (issue 12)."""
        side, req, src = fwd.side, fwd.req, fwd.src
        if side == PHONE:
            _remember(self._phones, src)
            return None
        if req.method not in DIALOG_METHODS or req.address("To").tag is not None:
            return None
        allow = self.cfg.network.allow
        if src[0] in self.providers or (allow is not None and src[0] in allow):
            return None
        self.rejected += 1
        self.log("sip: %s from %s refused: not network.proxy, the registrar or network.allow"
                 % (req.method, src[0]))
        return self._reply(side, req, src, 403, "Forbidden")

    def _routes(self, fwd):
        """Route: remove the entries that name the box (RFC 3261 section 16.4)."""
        req = fwd.req
        routes = fwd.routes = req.get_all("Route")
        while routes and self._ours(_uri(routes[0])):
            routes.pop(0)
        if self._ours(req.uri) and req.uri.user is None and routes:
            # a strict router before us put our Record-Route URI (no user part) in the
            # Request-URI (RFC 3261 16.4); a Request-URI for a user at the box is not that, and
            # its Route entries never choose where it goes (issue 12)
            req.uri = _uri(routes.pop())
        if req.has("Route"):
            req.set("Route", routes)
        return None

    def _register(self, fwd):
        """REGISTER (from the phone only): the box's contact instead of the phone's."""
        side, req = fwd.side, fwd.req
        if req.method != "REGISTER":
            return None
        if side != PHONE:
            return self._reply(side, req, fwd.src, 403, "Forbidden")
        self._register_request(req, fwd.src, fwd.now_ms)
        if not fwd.routes and self._ours(req.uri):
            # the phone has the box as its registrar: the registrar is the AoR's domain
            # (RFC 3261 section 10.2); the credentials stay as the phone made them
            aor = req.address("To").uri
            host, port = aor.address()
            req.uri = _urimod.Uri("sip", aor.host, port=None if port == 5060 else port)
        return None

    def _target(self, fwd):
        """Requests addressed to the box itself, and requests toward the phone: where they go."""
        side, req, src, routes = fwd.side, fwd.req, fwd.src, fwd.routes
        method = req.method
        if side == PHONE and method != "REGISTER" and not routes and self._ours(req.uri):
            # addressed to the box itself (a phone whose server is the box)
            if method == "OPTIONS":
                return self._reply(side, req, src, 200, "OK")  # keep-alive
            if method == "ACK":
                return []
            if self.cfg.network.proxy is None:
                return self._reply(side, req, src, 404, "Not Found")
            req.uri = req.address("To").uri  # on to the AoR, through network.proxy
            fwd.dest = self.cfg.network.proxy
        if fwd.out_side == PHONE:
            # toward the phone side only a phone: never where a Route or a Request-URI points
            # (issue 12); the box is the last hop before the phone, so no Route is left to keep
            if routes:
                fwd.routes = []
                req.set("Route", [])
            dest = fwd.dest = self._phone_target(req)
            if dest is None:
                return self._reply(side, req, src, 480, "Temporarily Unavailable")
            if dest[0] not in self.cfg.phone.allow or not self._is_phone(dest):
                self.rejected += 1
                self.log("sip: %s toward %s refused: not a phone of the box" % (method, join_hostport(*dest)))
                return [] if method == "ACK" else self._reply(side, req, src, 403, "Forbidden")
        return None

    def _is_phone(self, dest):
        """A phone that registered through the box, phone.contact, a phone that sent requests
        through it, or the contact a phone gave in one of its calls."""
        if dest in self._phones:
            return True
        for b in self.bindings.values():
            if b.contact_uri.address() == dest:
                return True
        if self.cfg.phone.contact and _urimod.parse(self.cfg.phone.contact).address() == dest:
            return True
        for call in self.calls.values():
            c = call.contact[PHONE]
            if c is not None and c.address() == dest:
                return True
        return False

    def _track(self, fwd):
        """The call the request belongs to: opened by an initial INVITE, its dialog and media
        noted, ended by BYE or CANCEL."""
        side, req, src, now_ms = fwd.side, fwd.req, fwd.src, fwd.now_ms
        method = req.method
        to_tag = fwd.to_tag = req.address("To").tag
        if method in ("INVITE", "UPDATE", "PRACK", "ACK") and _multipart(req):
            # its SDP part would carry media past the box (issue 14): refused, never passed
            self.log("sip: %s with a multipart body from the %s refused" % (method,
                                                                             SIDE_NAMES[side]))
            return [] if method == "ACK" else self._reply(side, req, src, 488,
                                                          "Not Acceptable Here")
        call = self.calls.get(req.call_id())
        if (method == "INVITE" and to_tag is None and call is not None and call.phase == ENDED
                and not call.was_confirmed and call.direction == side
                and req.cseq().number > call.cseq[side]):
            # the UA tries again with the same Call-ID and a higher CSeq after a 3xx (RFC 3261
            # section 8.1.3.4), a 422 (RFC 4028 section 8.2) or another final error: a new call
            del self.calls[call.call_id]
            call = None
        if method == "INVITE" and to_tag is None and call is None:
            if _has_sdp(req):
                seen = rewrite.read(req.body)  # a bad offer gets its 400 before any call exists
                if seen.host is None:
                    raise ValueError("SDP: no audio stream to relay")
            if side == NETWORK:
                refused = self._incoming_limits(fwd)
                if refused is not None:
                    return refused
            call = self._new_call(side, req, now_ms)
            if call is None:
                return self._reply(side, req, src, 503, "Service Unavailable")
            fwd.opened = True
        fwd.call = call
        if method == "ACK" and call is not None and call.box_answered is not None and \
                to_tag == call.box_answered:
            return []  # the ACK of the box's own final response ends here (RFC 3261 17.2.1)
        if call is None:
            if _has_sdp(req) and method in ("INVITE", "UPDATE"):
                # SDP for a call the box does not know: it cannot put itself in the path
                return self._reply(side, req, src, 481, "Call/Transaction Does Not Exist")
            return None
        if method == "INVITE" and to_tag is None and call.phase == CHALLENGED:
            call.enter(EARLY, now_ms)  # the retry with credentials
        if call.phase != ENDED:
            other = self._other_dialog(call, side, req)  # a fork that lost (its late 2xx)
            if not other:
                self._note_dialog(call, side, req)
            if method in ("INVITE", "UPDATE", "PRACK", "ACK") and req.body:
                self._media_body(call, side, req, now_ms, src)
            if method == "BYE" and not other:
                self._end(call, now_ms, None)
        elif _has_sdp(req) and method in ("INVITE", "UPDATE"):
            return self._reply(side, req, src, 481, "Call/Transaction Does Not Exist")
        if method == "CANCEL" and call.phase != CONFIRMED:
            self._end(call, now_ms, None)
        return None

    def _incoming_limits(self, fwd):
        """The cap on ringing incoming calls and their rate (issue 12): the answer that refuses
        this one, or None (and it counts)."""
        now_ms = fwd.now_ms
        ringing = 0
        for c in self.calls.values():
            if c.direction == NETWORK and c.phase in (EARLY, CHALLENGED):
                ringing += 1
        if ringing >= INCOMING_RINGING_LIMIT:
            self.rejected += 1
            self.log("sip: incoming INVITE refused: %d calls ringing already" % ringing)
            return self._reply(fwd.side, fwd.req, fwd.src, 486, "Busy Here")
        self._incoming = [t for t in self._incoming if now_ms - t < INCOMING_RATE_WINDOW_MS]
        if len(self._incoming) >= INCOMING_RATE_CALLS:
            self.rejected += 1
            wait = (self._incoming[0] + INCOMING_RATE_WINDOW_MS - now_ms + 999) // 1000
            self.log("sip: incoming INVITE refused: %d calls in %d s" % (len(self._incoming),
                                                                         INCOMING_RATE_WINDOW_MS // 1000))
            try:
                resp = _sip.make_response(fwd.req, 503, "Service Unavailable")
                resp.set("Retry-After", str(max(1, wait)))
            except ValueError as e:
                self.log("sip: cannot answer 503: %s" % (e,))
                return []
            return self._send_reply(fwd.side, resp, fwd.src)
        self._incoming.append(now_ms)
        return None

    def _forward(self, fwd):
        """Record-Route, the next hop, the box's Via: the request as it leaves."""
        side, out_side, req = fwd.side, fwd.out_side, fwd.req
        dest = fwd.dest
        pending = fwd.call.pending if fwd.call is not None else None
        if dest is None and req.method == "ACK" and pending and \
                pending[0].vias()[0].branch == fwd.branch:
            # the ACK of a final error: where its INVITE went (RFC 3261 section 17.1.1.3)
            dest, transport, named = pending[1], pending[2], False
        else:
            if dest is None:
                dest = self._next_hop(out_side, req, fwd.routes, fwd.to_tag)
            transport, named = self._transport_to(out_side, req, fwd.routes, dest)
            dest = _port_for(dest, transport)
        # Record-Route for dialog-creating requests (RFC 3261 section 16.6 item 4, RFC 5658);
        # each entry names the transport of its own leg
        if fwd.to_tag is None and req.method in ("INVITE", "SUBSCRIBE", "REFER", "NOTIFY"):
            req.insert("Record-Route", self._rr(side, self.transport_in))
            req.insert("Record-Route", self._rr(out_side, transport))
        host, port = self._adv(out_side, transport)
        params = [["branch", fwd.branch], ["rport", None]]
        if transport != "UDP":
            params.append(["alias", None])  # RFC 5923: reuse this connection toward the box
        own = _hdr.Via(transport, _urimod.bracket(host), port, params)
        vias_in = [str(fwd.top)] + req.get_all("Via")[1:]
        req.set("Via", [str(own)] + vias_in)
        if out_side == NETWORK and req.method == "REGISTER":
            self.nat.flow(dest, transport, fwd.now_ms)
            self.registers[str(req.address("To").uri)] = (req, dest, transport)
            _remember(self._register_branches, fwd.branch)
        call = fwd.call
        if req.method == "INVITE" and fwd.to_tag is None and call is not None and \
                call.phase == EARLY:
            call.pending = (req, dest, transport, out_side, vias_in)
        return [_out(out_side, req.serialize(), dest, transport, named)]

    def _rr(self, side, transport="UDP"):
        tp = "" if transport == "UDP" else ";transport=%s" % transport.lower()
        return "<sip:%s%s;lr>" % (join_hostport(*self._adv(side, transport)), tp)

    # --- transports and NAT (docs/transports.md) -------------------------------------------------
    def _adv(self, side, transport="UDP"):
        """The address the box shows on SIDE: on the network side behind NAT its public address
        (over UDP the mapped port; over TCP/TLS its own port, which RFC 5923 aliases map)."""
        if side == NETWORK and self.nat.public is not None:
            if transport == "UDP":
                return self.nat.public
            return self.nat.public[0], self.addr[NETWORK][1]
        return self.addr[side]

    def _public_changed(self):
        pub = self.nat.public
        for a in (pub, (pub[0], self.addr[NETWORK][1])):
            _remember(self.public_seen, a)  # the recent ones: a new one each day for months
        if hasattr(self.status, "set_public"):
            self.status.set_public("%s:%d" % pub)

    @staticmethod
    def _via_transport(via):
        t = (via.transport or "UDP").upper()
        return t if t in _locate.TRANSPORTS else "UDP"

    def _transport_to(self, out_side, req, routes, dest):
        """(transport, named) of a request toward OUT_SIDE: the next hop's URI names it
        (transport=, sips:); else network.transport toward the network, UDP toward the phone."""
        uri = _uri(routes[0]) if routes else req.uri
        if out_side == NETWORK and self.cfg.network.proxy is not None and \
                dest == self.cfg.network.proxy:
            return self.net_transport, False
        try:
            t, _ = _locate.transport_of(uri)
        except ValueError:
            t = None
        if t is None:
            return (self.net_transport if out_side == NETWORK else "UDP"), False
        return t, True

    def _branch(self, incoming, req, out_side):
        # RFC 3261 section 16.11: a stateless proxy derives its branch from the incoming one.
        if incoming.startswith(BRANCH_MAGIC):
            seed = incoming
        else:  # RFC 2543 peers: the transaction is Call-ID, CSeq number, From tag, Request-URI
            seed = "%s|%s|%s|%s" % (req.call_id(), req.cseq().number, req.address("From").tag,
                                    req.uri)
        if req.method == "CANCEL" or req.method == "ACK":
            method = "INVITE"
        else:
            method = req.method
        h = crypto.sha1(("%s|%d|%s" % (seed, out_side, method)).encode())
        return BRANCH_MAGIC + "zt" + "".join("%02x" % b for b in h[:10])

    def _next_hop(self, out_side, req, routes, to_tag):
        if routes:
            first = _uri(routes[0])
            if not first.has_param("lr"):  # a strict router next (RFC 3261 section 16.6 item 6)
                routes.append("<%s>" % req.uri)
                req.uri = _uri(routes.pop(0))
                req.set("Route", routes)
            return _hop(first)
        if out_side == NETWORK and self.cfg.network.proxy is not None and (
                to_tag is None or not _locate.is_ip(_urimod.unbracket(req.uri.host or ""))):
            # an outbound proxy (RFC 3261 section 8.1.2); also for a request without a route
            # set toward a domain (an ACK to a 407 carries the AoR): the proxy knows the domain
            return self.cfg.network.proxy
        host, port = _hop(req.uri)
        return (req.uri.param("maddr") or host), port

    def _phone_target(self, req):
        """Where a request from the network goes on the phone side; R-URI rewritten if needed."""
        host, port = req.uri.address()
        key = req.uri.param("zt")
        if key is not None and key in self.bindings:
            return self._retarget(req, self.bindings[key].contact_uri)
        if (host, port) in self.addr or (host, port) in self.bound:
            # addressed to the box itself: the phone that registered, or phone.contact
            if self.bindings:
                return self._retarget(req, self.bindings[max(self.bindings)].contact_uri)
            if self.cfg.phone.contact:
                return self._retarget(req, _urimod.parse(self.cfg.phone.contact))
            return None
        return host, port

    @staticmethod
    def _retarget(req, uri):
        """Request-URI := URI (RFC 3261 section 16.5); returns where the request goes."""
        req.uri = uri.copy()
        return uri.address()

    # --- REGISTER --------------------------------------------------------------------------------
    def _forwarded_register(self, via):
        """True when VIA (the box's, atop a response) is that of a REGISTER the box forwarded or
        sent itself (one of the last _LEARNED_MAX)."""
        return via.branch in self._register_branches

    def _register_request(self, req, src, now_ms):
        contacts = req.addresses("Contact")
        aor = str(req.address("To").uri)
        default_exp = req.get("Expires")
        out = []
        for c in contacts:
            if c.is_star():
                out.append(c)
                continue
            uri = c.uri
            text = str(uri)
            key = self._by_contact.get(text)
            if key is None:
                key = str(self._next_key)
                self._next_key += 1
                self._by_contact[text] = key
            exp = c.param("expires") or default_exp or "3600"
            exp = int(exp) if _urimod.is_digits(exp.strip()) else 3600
            b = self.bindings.get(key)
            if b is None:
                b = Binding(key, uri, aor, now_ms + 1000 * exp)
                self.bindings[key] = b
            c.uri = self._box_contact(key, uri)
            out.append(c)
        if contacts:
            req.set("Contact", [str(c) for c in out])
        # RFC 5627: without "gruu" the registrar binds the box's contact, not a GRUU
        sup = req.get_all("Supported")
        if sup:
            req.set("Supported", [t for t in sup if t.strip().lower() != "gruu"])

    def _box_contact(self, key, uri, where=None):
        """The box's contact for the phone's contact URI under KEY: the box's network address
        (or WHERE, (host, port)) with ``;zt=KEY``, the phone's user part kept."""
        host, port = where or self._adv(NETWORK, self.net_transport)
        sip = uri.is_sip()
        params = [["zt", key]]
        if self.net_transport != "UDP":
            params.append(["transport", self.net_transport.lower()])
        return _urimod.Uri("sip", _urimod.bracket(host), uri.user if sip else None, port,
                           params, password=uri.password if sip else None)

    def _register_response(self, resp, now_ms):
        values = resp.get_all("Contact")
        if not values:
            return
        registered = False
        seen = {}
        for i in range(len(values)):
            c = _hdr.parse_address(values[i], "Contact", star=True)
            if c.is_star() or not c.uri.is_sip():
                continue
            key = c.uri.param("zt")
            b = self.bindings.get(key) if key is not None else None
            if b is None:
                continue
            seen.setdefault(key, []).append(str(c.uri))
            b.upstream = seen[key]
            exp = c.param("expires")
            if exp is not None and _urimod.is_digits(exp):
                if int(exp) == 0:
                    self._drop_binding(key)
                else:
                    b.expires_at = now_ms + 1000 * int(exp)
                    registered = True
            else:
                registered = True
            b.confirmed = True
            c.uri = b.contact_uri.copy()  # the phone sees its own contact again
            values[i] = str(c)
        resp.set("Contact", values)
        if registered != self.status.registered or \
                (registered and self.status.registration_error is not None):
            self.status.set_registered(registered)  # a 200 clears an earlier failure's error

    def _drop_binding(self, key):
        b = self.bindings.pop(key, None)
        if b is not None:
            self._by_contact.pop(str(b.contact_uri), None)
        if not self.bindings and self.status.registered:
            self.status.set_registered(False)

    # --- calls -----------------------------------------------------------------------------------
    def _new_call(self, side, req, now_ms):
        number = self._next_call
        self._next_call += 1
        if side == PHONE:
            peer = str(req.address("To").uri)
            direction = "out"
        else:
            peer = str(req.address("From").uri)
            direction = "in"
        st = self.status.new_call(number, direction, peer)
        try:
            media = self.media.open(st)
        except OSError as e:
            self.log("call %d: no media ports: %s" % (number, e))
            self.status.end_call(st)
            return None
        call = Call(req.call_id(), number, side, st, media, now_ms)
        self.calls[call.call_id] = call
        self.log("call %d: %s %s" % (number, direction, peer))
        return call

    def _note_dialog(self, call, side, msg):
        """Remember what BYE at shutdown needs: From/To (with tags), contacts, CSeqs."""
        if msg.is_request:
            cseq = msg.cseq()
            if cseq.method not in ("ACK", "CANCEL"):
                call.cseq[side] = max(call.cseq[side], cseq.number)
            call.uri[side] = msg.get("From")
            if call.uri[1 - side] is None:
                call.uri[1 - side] = msg.get("To")
        contacts = msg.addresses("Contact")
        if contacts and not contacts[0].is_star():
            call.contact[side] = contacts[0].uri

    def _note_routes(self, call, msg, side_of_uas):
        # The Record-Route of a 2xx, as the box saw it: entries above its own lead to the UAS
        # (the nearest one last: reversed, as a UAC takes them, RFC 3261 section 12.1.2),
        # entries below lead back to the UAC (in order, as a UAS takes them, section 12.1.1).
        rr = msg.get_all("Record-Route")
        mine = [i for i in range(len(rr)) if self._ours(_uri(rr[i]))]
        if not mine:
            return
        first, last = mine[0], mine[-1]
        call.route[side_of_uas] = list(reversed(rr[:first]))
        call.route[1 - side_of_uas] = rr[last + 1:]

    @staticmethod
    def _callee_tag(call, side, msg):
        """The tag the called UA gave MSG's dialog (To in what the caller sends, From in what the
        callee sends): forks of one INVITE differ in it (RFC 3261 section 12.1)."""
        if msg.is_request:
            from_caller = side == call.direction
        else:
            from_caller = side != call.direction
        return msg.address("To" if from_caller else "From").tag

    def _other_dialog(self, call, side, msg):
        """True for a message of a dialog other than the one whose 2xx won (a fork that
        answered late: the caller ACKs and BYEs it; its media never touches the call's)."""
        if call.tag is None:
            return False
        tag = self._callee_tag(call, side, msg)
        return tag is not None and tag != call.tag

    def _media_body(self, call, side, msg, now_ms, src=None):
        """Rewrite MSG's SDP so that its media flows through the box, and tell the call's media
        where SIDE's media goes (and, from the phone, SRC: the host its SIP came from, which
        its media may come from too). Forking (issue 14): the SDP belongs to the dialog of its
        callee's tag, which gets a media session of its own (``media.dialog``); the SDP of a
        fork that lost is rewritten (nothing bypasses the box) but changes no media."""
        if msg.content_type() != SDP_TYPE:
            return
        out_side = 1 - side
        session = call.media
        other = self._other_dialog(call, side, msg)
        if not other:
            session.dialog(self._callee_tag(call, side, msg), now_ms)
        rtp_port, rtcp_port = session.ports(out_side)
        zhash = session.hello_hash() if out_side == NETWORK else None
        # RTCP on a port of its own but the next one: a=rtcp says where (RFC 3605)
        new_body, seen = rewrite.rewrite(msg.body, self._adv(out_side)[0], rtp_port, zhash,
                                         rtcp_port if rtcp_port != rtp_port + 1 else None)
        if seen.host is None:
            raise ValueError("SDP: no audio stream to relay")
        if other:
            msg.body = new_body
            return
        session.set_remote(side, seen.host if not seen.hold or seen.host not in ("0.0.0.0", "::")
                           else None, seen.port, seen.rtcp_port or None, seen.event_types)
        if side == PHONE and src is not None and hasattr(session, "phone_source"):
            session.phone_source(src[0])
        if side == NETWORK:
            session.set_peer_hash(seen.zrtp_hash)
        msg.body = new_body

    def _end(self, call, now_ms, reason):
        if call.phase == ENDED:
            return
        call.enter(ENDED, now_ms)
        try:
            call.media.close()
        finally:
            if reason:
                self.log("call %d ended: %s" % (call.number, reason))
            self.status.end_call(call.status)

    # --- responses -------------------------------------------------------------------------------
    def _response(self, side, resp, src, now_ms):
        vias = resp.vias()
        top = vias[0]
        if _sent_by(top) not in (self.addr[side], self.bound[side]) and \
                _sent_by(top) not in self.public_seen:
            self.log("sip: response from %s not for the box (top Via %s), dropped"
                     % (join_hostport(*src), top))
            return []
        if not (top.branch or "").startswith(BRANCH_MAGIC + "zt"):
            return []
        if len(vias) == 1:
            if (top.branch or "").startswith(BRANCH_MAGIC + "ztreg") and \
                    self._forwarded_register(top):
                return self._reregistered(resp, now_ms)
            return []  # a response to a request the box made itself (BYE at shutdown)
        method = resp.cseq().method
        # the registrar's answer: a response to a REGISTER the box forwarded (its branch; the
        # CSeq of a response is only its sender's word)
        registrar = side == NETWORK and method == "REGISTER" and self._forwarded_register(top)
        # RFC 3581: received/rport on the box's Via say where the registrar saw it. Only the
        # registrar's word counts: in any other response the far UA wrote the box's Via itself
        # (a proxy between pops only its own)
        if registrar and self.nat.learn_via(top, self.transport_in):
            self._public_changed()
        resp.set("Via", resp.get_all("Via")[1:])
        dest = vias[1].response_address()
        if side == NETWORK and (dest[0] not in self.cfg.phone.allow or not self._is_phone(dest)):
            # the callee wrote the phone's Via in its response: toward the phone side only a
            # phone, as for requests (docs/trust.md section 8)
            self.rejected += 1
            self.log("sip: %d toward %s dropped: not a phone of the box"
                     % (resp.status, join_hostport(*dest)))
            return []
        code = resp.status
        call = self.calls.get(resp.call_id())
        if call is not None and method == "INVITE" and call.phase == ENDED and 200 <= code < 300 \
                and not call.was_confirmed and call.box_answered is None and call.pending:
            # a 2xx that crossed the caller's CANCEL (RFC 3261 section 9.1): the call's media is
            # closed and its SDP would take the media past the box. The caller gets the 487 its
            # CANCEL asked for from the box, the callee ACK and BYE (_after_cancel)
            self.log("call %d: %d after the CANCEL: ACK and BYE" % (call.number, code))
            return self._answer_caller(call, 487) + self._after_cancel(call, side, resp, now_ms)
        if call is not None and call.box_answered is not None and method == "INVITE":
            return self._after_cancel(call, side, resp, now_ms)
        if registrar:
            _remember(self.providers, src[0])  # the registrar: it may call the phone
            if 200 <= code < 300:
                self._register_response(resp, now_ms)
        if code < 200 and _multipart(resp):
            # a provisional answer's multipart SDP would carry early media past the box: the
            # phone gets the response without a body (no early media) instead
            self.log("sip: %d with a multipart body: its body is removed" % code)
            resp.body = b""
            resp.remove("Content-Type")
        if (call is not None and call.phase != ENDED and method == "INVITE" and 200 <= code < 300
                and call.phase != CONFIRMED and resp.body):
            why = _unrelayable(resp)
            if why is not None:
                return self._refuse_answer(call, side, resp, dest, now_ms, why)
        if call is not None and call.phase != ENDED and self._other_dialog(call, side, resp):
            # a fork that lost answers late: the phone gets it (and ACKs and BYEs it, RFC 3261
            # section 13.2.2.4) with its SDP rewritten; the winner's dialog and media stay
            if resp.body and code < 300:
                self._media_body(call, side, resp, now_ms, src)
            return [_out(1 - side, resp.serialize(), dest, self._via_transport(vias[1]))]
        if call is not None and call.phase != ENDED:
            self._note_dialog(call, side, resp)
            if method == "INVITE":
                if 100 < code < 200:
                    call.heard = now_ms  # RFC 3261 16.7 item 2: Timer C starts again
                if 200 <= code < 300:
                    if call.phase != CONFIRMED:
                        self._note_routes(call, resp, side)
                        call.uri[side] = resp.get("To")
                        call.enter(CONFIRMED, now_ms)
                        call.was_confirmed = True
                        call.pending = None
                        call.tag = self._callee_tag(call, side, resp)
                        call.media.confirmed(call.tag, now_ms)  # the other forks' media closed
                    call.status.set_state(_status.ACTIVE)
                if resp.body and code < 300:
                    self._media_body(call, side, resp, now_ms, src)
                if 200 <= code < 300 or (code == 183 and resp.body):
                    call.media.answered(now_ms)
                if code in (401, 407) and call.phase != CONFIRMED:
                    # RFC 3261 section 22.2: the UA retries the INVITE with credentials, same
                    # Call-ID; keep the call (and its media ports) for that long
                    call.enter(CHALLENGED, now_ms)
                elif code >= 300 and call.phase != CONFIRMED:
                    self._end(call, now_ms, "%d %s" % (code, resp.reason))  # pending: its ACK
            elif method in ("UPDATE", "PRACK") and resp.body and code < 300:
                self._media_body(call, side, resp, now_ms, src)
            if method in ("INVITE", "UPDATE") and 200 <= code < 300:
                self._session_timer(call, resp, now_ms)
        return [_out(1 - side, resp.serialize(), dest, self._via_transport(vias[1]))]

    # --- shutdown --------------------------------------------------------------------------------
    def shutdown(self, now_ms):
        """End every call: BYE toward both parties of confirmed calls (the box speaks for each to
        the other), media closed. Returns the datagrams to send."""
        out = []
        for call in list(self.calls.values()):
            if call.phase == ENDED:
                continue
            if call.phase == CONFIRMED:
                for side in (PHONE, NETWORK):
                    dg = self._bye(call, side)
                    if dg is not None:
                        out.append(dg)
            self._end(call, now_ms, "box shutting down")
        return out

    def _bye(self, call, to_side, text="ZeroTap box shutting down"):
        """A BYE to TO_SIDE's party, as if from the other party (RFC 3261 section 15.1.1), with
        TEXT in its Reason header (RFC 3326)."""
        frm = 1 - to_side
        target = call.contact[to_side]
        if target is None or call.uri[frm] is None or call.uri[to_side] is None:
            return None
        try:
            req = _sip.Request("BYE", target.copy())
            routes = call.route[to_side]
            dest = _hop(_uri(routes[0]) if routes else target)
            transport, named = self._transport_to(to_side, req, routes, dest)
            dest = _port_for(dest, transport)
            branch = "%s%s%d%d" % (BRANCH_MAGIC, "ztbye", call.number, to_side)
            req.add("Via", self._own_via(to_side, transport, branch))
            req.add("Max-Forwards", str(DEFAULT_MAX_FORWARDS))
            for r in routes:
                req.add("Route", r)
            req.add("From", call.uri[frm])
            req.add("To", call.uri[to_side])
            req.add("Call-ID", call.call_id)
            req.add("CSeq", "%d BYE" % (call.cseq[frm] + 1))
            req.add("Reason", 'SIP;cause=200;text="%s"' % text.replace('"', "'").replace("\\", "/"))
            return _out(to_side, req.serialize(), dest, transport, named)
        except ValueError as e:
            self.log("call %d: cannot build BYE: %s" % (call.number, e))
            return None

    def _own_via(self, side, transport, branch):
        """The box's Via on a request it makes itself toward SIDE over TRANSPORT (with alias on
        TCP/TLS, RFC 5923, as on the requests it forwards)."""
        host, port = self._adv(side, transport)
        params = ";branch=%s;rport" % branch
        if transport != "UDP":
            params += ";alias"
        return "SIP/2.0/%s %s%s" % (transport, join_hostport(_urimod.bracket(host), port), params)

    # --- calls the box ends itself (issue 14) ------------------------------------------------------
    def end_call(self, media, now_ms, reason, failed=True):
        """End the call whose media is MEDIA because of REASON (a fault in its media, timers or
        engine; no media for ``media.timeout_s``; an expired session timer): BYE to both parties
        (RFC 3261 section 15.1.1, the box speaking for each to the other, REASON in the Reason
        header), the media closed, the status ``failed`` with REASON when FAILED, else ended.

        A call with no final response yet (EARLY) is cancelled toward the callee (CANCEL, RFC
        3261 section 9.1, over the INVITE's transport) and the caller gets ``500`` with REASON;
        the box ACKs the callee's 487 itself (:meth:`_after_cancel`). A call challenged for
        credentials (CHALLENGED) has no transaction open: it just ends.

        Returns the datagrams to send; a call that is not the proxy's (or already ended) gives
        []."""
        call = None
        for c in self.calls.values():
            if c.media is media:
                call = c
                break
        if call is None or call.phase == ENDED:
            return []
        if failed and call.status.security != _status.FAILED:
            call.status.fail(reason)
        if call.phase == EARLY:
            out = self._cancel(call, reason)
            self._end(call, now_ms, reason)
            return out
        if call.phase != CONFIRMED:
            self._end(call, now_ms, reason)
            return []
        out = []
        for side in (PHONE, NETWORK):
            dg = self._bye(call, side, "ZeroTap: " + reason)
            if dg is not None:
                out.append(dg)
        self._end(call, now_ms, reason)
        return out

    def _cancel(self, call, reason, code=500):
        """CANCEL toward the callee of CALL's pending INVITE and the box's own final response
        CODE to the caller (with REASON in a Reason header, RFC 3326)."""
        if call.pending is None:
            return []
        req, dest, transport, out_side, vias_in = call.pending
        text = ("ZeroTap: " + reason).replace('"', "'").replace("\\", "/")
        try:
            cancel = _sip.make_cancel(req)
            cancel.add("Reason", 'SIP;cause=%d;text="%s"' % (code, text))
            return [_out(out_side, cancel.serialize(), dest, transport)] + \
                self._answer_caller(call, code, text)
        except ValueError as e:
            self.log("call %d: cannot build CANCEL: %s" % (call.number, e))
            return []

    def _answer_caller(self, call, code, text=None):
        """The box's own final response CODE to the caller of CALL's pending INVITE (TEXT in a
        Reason header); the caller's ACK of it ends at the box. Raises ValueError."""
        req, _, _, out_side, vias_in = call.pending
        tag = "zt%d" % call.number
        resp = _sip.make_response(req, code, None, tag)
        resp.set("Via", vias_in)
        if text:
            resp.add("Reason", 'SIP;cause=%d;text="%s"' % (code, text))
        top = _hdr.parse_via(vias_in[0])
        call.box_answered = tag
        return [_out(1 - out_side, resp.serialize(), top.response_address(),
                     self._via_transport(top))]

    def _after_cancel(self, call, side, resp, now_ms):
        """A response to the INVITE of a call the box cancelled and answered itself: nothing
        reaches the caller. A final error gets the box's ACK (hop by hop, RFC 3261 section
        17.1.1.3); a 2xx that crossed the CANCEL gets ACK and BYE (RFC 3261 section 9.1)."""
        code = resp.status
        if code < 200 or call.pending is None:
            return []
        req, dest, transport, out_side, _ = call.pending
        if code >= 300:
            try:
                return [_out(out_side, _sip.make_ack(req, resp).serialize(), dest, transport)]
            except ValueError as e:
                self.log("call %d: cannot build ACK: %s" % (call.number, e))
                return []
        self._note_dialog(call, side, resp)
        self._note_routes(call, resp, side)
        call.uri[side] = resp.get("To")
        out = self._ack_2xx(call, side, resp)
        bye = self._bye(call, side, "ZeroTap: the call was cancelled")
        if bye is not None:
            out.append(bye)
        return out

    def take_outbox(self):
        """The datagrams :meth:`handle_timer` made (BYE both ways of a call whose session timer
        expired), [(side, bytes, (host, port))]; the list is emptied."""
        out = self.outbox
        self.outbox = []
        return out

    def _session_timer(self, call, resp, now_ms):
        """RFC 4028: a 2xx to INVITE or UPDATE with Session-Expires sets the session interval;
        a 2xx without it turns the session timer off (section 9). Unless a refresh (another 2xx)
        comes first, the box ends the call with BYE both ways when the interval has passed."""
        value = resp.get("Session-Expires")  # or its compact form x
        if value is None:
            call.session_expires = None
            return
        delta = value.split(";")[0].strip()
        if not _urimod.is_digits(delta) or int(delta) == 0:
            # the UAs' business: the box passes the 2xx and keeps no timer of its own
            self.log("call %d: Session-Expires %r ignored" % (call.number, value))
            call.session_expires = None
            return
        call.session_expires = now_ms + 1000 * int(delta)

    def _refuse_answer(self, call, side, resp, dest, now_ms, why):
        """A 2xx whose audio the box cannot relay (WHY): the box completes the answerer's dialog
        (ACK, RFC 3261 section 13.2.2.4) and ends it (BYE with the reason), and the caller gets
        488 instead of the 2xx, so that no media bypasses the box and nobody waits."""
        reason = "the answer has %s" % why if why.startswith("a ") else "the answer: %s" % why
        self.log("call %d: %s; ACK and BYE to the %s" % (call.number, reason, SIDE_NAMES[side]))
        self._note_dialog(call, side, resp)
        self._note_routes(call, resp, side)
        call.uri[side] = resp.get("To")
        out = self._ack_2xx(call, side, resp)
        bye = self._bye(call, side, "ZeroTap: " + reason)
        if bye is not None:
            out.append(bye)
        refusal = _sip.Response(488, "Not Acceptable Here")
        for name in ("Via", "From", "To", "Call-ID", "CSeq"):
            for value in resp.get_all(name):
                refusal.add(name, value)
        refusal.add("Reason", 'SIP;cause=488;text="ZeroTap: %s"' % reason.replace('"', "'"))
        out.append(_out(1 - side, refusal.serialize(), dest,
                        self._via_transport(refusal.vias()[0])))
        call.status.fail(reason)
        self._end(call, now_ms, reason)
        return out

    def _ack_2xx(self, call, side, resp):
        """The ACK of a 2xx from SIDE that the box completes itself (RFC 3261 section 13.2.2.4),
        on the transport of that leg: [(side, bytes, dest[, transport])], or [] when it cannot
        be built."""
        target = call.contact[side]
        if target is None:
            return []
        try:
            ack = _sip.Request("ACK", target.copy())
            routes = call.route[side]
            dest = _hop(_uri(routes[0]) if routes else target)
            transport, named = self._transport_to(side, ack, routes, dest)
            dest = _port_for(dest, transport)
            ack.add("Via", self._own_via(side, transport, "%sztack%d" % (BRANCH_MAGIC,
                                                                         call.number)))
            ack.add("Max-Forwards", str(DEFAULT_MAX_FORWARDS))
            for r in routes:
                ack.add("Route", r)
            ack.add("From", resp.get("From"))
            ack.add("To", resp.get("To"))
            ack.add("Call-ID", call.call_id)
            ack.add("CSeq", "%d ACK" % resp.cseq().number)
            return [_out(side, ack.serialize(), dest, transport, named)]
        except ValueError as e:
            self.log("call %d: cannot build ACK: %s" % (call.number, e))
            return []

    # --- network changes (issue 14) -----------------------------------------------------------
    def readdress(self, side, address, bound):
        """SIDE's socket is bound again, to BOUND, advertising ADDRESS (a new DHCP lease): what
        the box shows from now on. The old addresses stay the box's own for late responses;
        on the network side the public address behind NAT is forgotten (the router maps the
        new address afresh) and the contacts the registrar has for the old one are removed by
        the next :meth:`reregister`."""
        if side == NETWORK and self._replaced is None:
            self._replaced = self._adv(NETWORK, self.net_transport)
        for a in (self.addr[side], self.bound[side]):
            _remember(self.public_seen, a)
        if self.nat.public is not None and side == NETWORK:
            _remember(self.public_seen, self.nat.public)
        self.addr[side] = (address, self.addr[side][1])
        self.bound[side] = (bound, self.bound[side][1])
        if side == NETWORK:
            self.nat.local = self.addr[NETWORK]
            self.nat.public = None
            self.nat.source = None
            if getattr(self.status, "public", None) is not None:
                self.status.set_public(None)

    def reregister(self, now_ms, again=False):
        """REGISTER again, for the phones, every confirmed binding upstream (after the link came
        back, or with a new address): the request the phone last sent through the box, with the
        box's contacts at its present address (those at the address it had, with
        ``expires=0``). The phone's credentials go as it gave them: they hold while the
        registrar's nonce does (the box never knows a password). It uses a Call-ID of its own
        (the phone's with a suffix) and its own CSeq, so that the registrar takes it whatever
        the phone's CSeq, and the phone's next refresh after it (RFC 3261 section 10.3: another
        Call-ID updates a binding). Sent again after REREGISTER_RETRY_MS while none was
        answered (AGAIN: such a retry). Returns [(side, bytes, dest[, transport])]."""
        out = []
        replaced = self._replaced
        if not again:
            self._rereg_tries = 0
        if self._rereg_tag is None:
            rnd = self.rand(4) if self.rand is not None else b"\0\0\0\0"
            self._rereg_tag = "".join("%02x" % b for b in rnd)
        for aor in sorted(self.registers):
            req, dest, transport = self.registers[aor]
            keys = sorted(k for k, b in self.bindings.items() if b.aor == aor and b.confirmed)
            if not keys:
                continue
            self._rereg_cseq += 1
            try:
                r = _sip.Request("REGISTER", req.uri.copy())
                branch = "%sztreg%s%d" % (BRANCH_MAGIC, self._rereg_tag, self._rereg_cseq)
                r.add("Via", self._own_via(NETWORK, transport, branch))
                _remember(self._register_branches, branch)
                r.add("Max-Forwards", str(DEFAULT_MAX_FORWARDS))
                for name in ("Route", "From", "To"):
                    for v in req.get_all(name):
                        r.add(name, v)
                r.add("Call-ID", "%s-zt%s" % (req.call_id(), self._rereg_tag))
                r.add("CSeq", "%d REGISTER" % self._rereg_cseq)
                for k in keys:
                    b = self.bindings[k]
                    left = max(1, (b.expires_at - now_ms) // 1000)
                    new = str(self._box_contact(k, b.contact_uri))
                    r.add("Contact", "<%s>;expires=%d" % (new, left))
                    # the contacts the registrar listed at another address (or, when it
                    # listed none, the one at the address the box had): removed
                    old = list(b.upstream)
                    if not old and replaced is not None:
                        old = [str(self._box_contact(k, b.contact_uri, replaced))]
                    for u in old:
                        if u != new:
                            r.add("Contact", "<%s>;expires=0" % u)
                for name in ("Authorization", "Proxy-Authorization", "Supported", "User-Agent"):
                    for v in req.get_all(name):
                        r.add(name, v)
                out.append(_out(NETWORK, r.serialize(), dest, transport))
            except ValueError as e:
                self.log("sip: cannot register %s again: %s" % (aor, e))
                continue
            self.nat.flow(dest, transport, now_ms)
            self.log("sip: %s registered again for the phone (%d contact%s)"
                     % (aor, len(keys), "" if len(keys) == 1 else "s"))
        self._rereg_due = now_ms + REREGISTER_RETRY_MS if out else None
        return out

    def _reregistered(self, resp, now_ms):
        """The registrar's answer to :meth:`reregister`: bindings renewed, or why not."""
        code = resp.status
        if code < 200 or (code == 503 and '399 zerotap "' in (resp.get("Warning") or "")):
            # the box's own 503: the REGISTER could not be sent (no route yet after the change,
            # runtime/network.py); no answer from the registrar: it goes again at _rereg_due
            return []
        self._rereg_due = None
        if code < 300:
            self._replaced = None  # the registrar removed the contacts at the old address
            if self.nat.learn_via(resp.vias()[0], self.transport_in):
                self._public_changed()
            self._register_response(resp, now_ms)
            self.log("sip: registered again (%d %s)" % (code, resp.reason))
            return []
        why = "registering again after the network change: %d %s" % (code, resp.reason)
        if code in (401, 407):
            why += " (the phone's next REGISTER renews it)"
        self.log("sip: " + why)
        self.status.set_registration_error(why)
        return []

    # --- bindings across a restart (issue 14) --------------------------------------------------------
    def export_bindings(self, now_ms):
        """What flash keeps across a restart, as plain data: ``{"bindings": [[key, contact, aor,
        seconds left], ...], "providers": [host, ...]}``: the confirmed bindings (sorted by key)
        and the hosts that may start dialogs from the network (the registrar among them, so that
        its calls for the phone are taken after the restart too)."""
        out = []
        for key in sorted(self.bindings, key=lambda k: (len(k), k)):
            b = self.bindings[key]
            if b.confirmed:
                out.append([key, str(b.contact_uri), b.aor,
                            max(0, (b.expires_at - now_ms) // 1000)])
        return {"bindings": out, "providers": list(self.providers)}

    def binding_keys(self):
        """What must be saved again when it changes: the confirmed (key, contact) pairs."""
        return (sorted((k, str(b.contact_uri)) for k, b in self.bindings.items() if b.confirmed),
                list(self.providers))

    def import_bindings(self, items, now_ms):
        """Bindings saved by :meth:`export_bindings` before a restart: the registrar still routes
        calls for the phone to ``;zt=KEY``, and the phone does not know the box restarted.
        Bad entries raise ValueError (the caller sets the file aside)."""
        if not isinstance(items, dict) or not isinstance(items.get("bindings"), list):
            raise ValueError("bindings: not an object with a bindings list")
        providers = items.get("providers", [])
        if not isinstance(providers, list) or [h for h in providers if not isinstance(h, str)]:
            raise ValueError("bindings: bad providers %r" % (providers,))
        items = items["bindings"]
        for item in items:
            if not isinstance(item, list) or len(item) != 4:
                raise ValueError("bindings: bad entry %r" % (item,))
            key, contact, aor, left = item
            if not isinstance(key, str) or not _urimod.is_digits(key) or not isinstance(left, int):
                raise ValueError("bindings: bad entry %r" % (item,))
            uri = _urimod.parse(contact)
            b = Binding(key, uri, aor, now_ms + 1000 * left)
            b.confirmed = True
            self.bindings[key] = b
            self._by_contact[str(uri)] = key
            if int(key) >= self._next_key:
                self._next_key = int(key) + 1
        for host in providers:
            _remember(self.providers, host)
        if self.bindings and not self.status.registered:
            self.status.set_registered(True)

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
  A request from the network that names the box goes to the phone that registered through it, or
  to ``phone.contact``.
- Bodies: SDP in INVITE, 183, 2xx, ACK, UPDATE and PRACK is rewritten (:mod:`zerotap.sip.rewrite`)
  so that media flows through the box's media session for the call.
- Malformed requests get 400 (when a response can be built), requests from phones outside
  ``phone.allow`` get 403, Max-Forwards 0 gets 483; nothing malformed escapes as an exception.
"""
import hashlib

from zerotap.sip import message as _sip
from zerotap.sip import rewrite
from zerotap.sip import uri as _urimod
from zerotap import status as _status

PHONE = 0
NETWORK = 1
SIDE_NAMES = ("phone", "network")

BRANCH_MAGIC = "z9hG4bK"  # RFC 3261 section 8.1.1.7
DEFAULT_MAX_FORWARDS = 70
REGISTRATION_GRACE_MS = 10000
CALL_SETUP_LIMIT_MS = 300000  # an INVITE left unanswered for 5 minutes is forgotten
ENDED_LINGER_MS = 32000  # Timer J/H: keep an ended call for late retransmissions (64*T1)

SDP_TYPE = "application/sdp"


# --- small header-value helpers (the parser gives the values; these read their insides) ---------

def _param(value, name):
    """The value of ;NAME=... in a header value (after the URI part), "" for a flag, or None."""
    body = value
    gt = body.rfind(">")
    if gt >= 0:
        body = body[gt + 1:]
    for part in body.split(";")[1:]:
        k, _, v = part.partition("=")
        if k.strip().lower() == name:
            return v.strip().strip('"')
    return None


def _tag(value):
    return _param(value, "tag")


def _uri_of(value):
    """The URI inside a name-addr (``"Bob" <sip:bob@h>;tag=1``) or addr-spec."""
    lt = value.find("<")
    if lt >= 0:
        gt = value.find(">", lt)
        if gt < 0:
            raise ValueError("unterminated <URI> in %r" % value)
        return value[lt + 1:gt]
    return value.split(";")[0].strip()


def uri_hostport(uri, default_port=5060):
    """(host, port, params) of a sip:/sips: URI; IPv6 references lose their brackets."""
    i = uri.find(":")
    if i < 0 or uri[:i].lower() not in ("sip", "sips"):
        raise ValueError("not a SIP URI: %r" % uri)
    rest = uri[i + 1:]
    q = rest.find("?")
    if q >= 0:
        rest = rest[:q]
    at = rest.rfind("@")
    if at >= 0:
        rest = rest[at + 1:]
    hostport, _, params = rest.partition(";")
    if hostport.startswith("["):
        end = hostport.find("]")
        if end < 0:
            raise ValueError("bad IPv6 reference in %r" % uri)
        host = hostport[1:end]
        portpart = hostport[end + 1:]
    else:
        host, _, port = hostport.partition(":")
        portpart = ":" + port if port else ""
    if portpart:
        if not portpart.startswith(":") or not portpart[1:].isdigit():
            raise ValueError("bad port in %r" % uri)
        port = int(portpart[1:])
    else:
        port = default_port
    if not host:
        raise ValueError("no host in %r" % uri)
    plist = {}
    for p in params.split(";") if params else ():
        k, _, v = p.partition("=")
        plist[k.lower()] = v
    return host, port, plist


def _hostport_text(host, port):
    if ":" in host:
        return "[%s]:%d" % (host, port)
    return "%s:%d" % (host, port)


class Via:
    """One Via value: ``SIP/2.0/UDP host:port;branch=...;rport;received=...``"""

    def __init__(self, value):
        head, _, params = value.strip().partition(";")
        parts = head.split()
        if len(parts) != 2 or parts[0].upper().count("/") != 2:
            raise ValueError("bad Via %r" % value)
        self.protocol = parts[0]
        sentby = parts[1]
        if sentby.startswith("["):
            end = sentby.find("]")
            if end < 0:
                raise ValueError("bad Via sent-by %r" % sentby)
            self.host = sentby[1:end]
            rest = sentby[end + 1:]
            self.port = int(rest[1:]) if rest.startswith(":") and rest[1:].isdigit() else None
        else:
            host, _, port = sentby.partition(":")
            if port and not port.isdigit():
                raise ValueError("bad Via port %r" % sentby)
            self.host = host
            self.port = int(port) if port else None
        if not self.host:
            raise ValueError("bad Via sent-by %r" % sentby)
        self.params = []
        for p in params.split(";") if params else ():
            k, eq, v = p.strip().partition("=")
            self.params.append((k.strip(), v.strip() if eq else None))

    def get(self, name):
        for k, v in self.params:
            if k.lower() == name:
                return "" if v is None else v
        return None

    def set(self, name, value):
        for i in range(len(self.params)):
            if self.params[i][0].lower() == name:
                self.params[i] = (self.params[i][0], value)
                return
        self.params.append((name, value))

    def __str__(self):
        out = self.protocol + " " + (_hostport_text(self.host, self.port) if self.port else
                                     ("[%s]" % self.host if ":" in self.host else self.host))
        for k, v in self.params:
            out += ";" + k if v is None else ";%s=%s" % (k, v)
        return out

    def reply_address(self):
        """Where a response to this Via goes (RFC 3261 section 18.2.2, RFC 3581 section 4)."""
        host = self.get("received") or self.host
        rport = self.get("rport")
        if rport:
            return host, int(rport)
        return host, self.port or 5060


# --- the message adapter: everything the proxy asks of zerotap.sip.message ----------------------

def _is_request(msg):
    return isinstance(msg, _sip.Request)


def _values(msg, name):
    return msg.get_all(name)


def _set_values(msg, name, values):
    """Replace every NAME header by one header per value, at the place of the first one (on top
    when NAME was absent, as RFC 3261 section 16.6 wants for Via and Record-Route)."""
    if msg.has(name):
        msg.set(name, list(values))
    else:
        for v in reversed(values):
            msg.insert(name, v)


def _ruri(req):
    return str(req.uri)


def _set_ruri(req, text):
    req.uri = _urimod.parse(text)


def _body(msg):
    return msg.body or b""


def _set_body(msg, body, content_type=None):
    msg.body = body
    if content_type:
        msg.set("Content-Type", content_type)


def _content_type(msg):
    v = msg.get("Content-Type")
    return v.split(";")[0].strip().lower() if v else None


def _cseq(msg):
    v = msg.get("CSeq")
    if not v:
        raise ValueError("missing CSeq")
    num, _, method = v.strip().partition(" ")
    if not num.isdigit() or not method.strip():
        raise ValueError("bad CSeq %r" % v)
    return int(num), method.strip().upper()


class Binding:
    """A phone registered through the box: its real contact and the key the registrar knows."""

    def __init__(self, key, contact_value, aor, expires_at):
        self.key = key
        self.contact_value = contact_value  # the phone's Contact value as it sent it
        self.contact_uri = _uri_of(contact_value)
        self.aor = aor
        self.expires_at = expires_at


class Call:
    """What the box knows of one call (one Call-ID): its status, media and dialog state."""

    def __init__(self, call_id, number, direction, status, media, now_ms):
        self.call_id = call_id
        self.number = number
        self.direction = direction  # the side the initial INVITE came from
        self.status = status
        self.media = media
        self.created = now_ms
        self.confirmed = False
        self.ended_at = None
        # dialog state for BYE at shutdown: per side, what that side said
        self.uri = [None, None]  # From/To values as each side uses them
        self.tag = [None, None]
        self.contact = [None, None]  # remote target of each side's UA
        self.route = [[], []]  # route set toward each side (beyond the box)
        self.cseq = [0, 0]  # the last CSeq each side sent
        self.bye_sent = False
        self.challenged_until = None  # a 401/407 to the INVITE: the UA may retry with credentials


class Proxy:
    def __init__(self, cfg, media, status=None, log=None, rng=None):
        """CFG: a zerotap.config.Config. MEDIA: the media factory (``open(call) -> session with
        .ports(side) -> (rtp, rtcp)``, ``.hello_hash()``, ``.set_remote()``, ``.set_peer_hash()``,
        ``.answered(now)``, ``.close()``). STATUS: a BoxStatus. LOG: a function of one string."""
        self.cfg = cfg
        self.media = media
        self.status = status or _status.BoxStatus()
        self.log = log or (lambda text: None)
        self.rng = rng
        self.addr = [(cfg.phone.address, cfg.phone.port), (cfg.network.address, cfg.network.port)]
        self.bound = [(cfg.phone.host, cfg.phone.port), (cfg.network.host, cfg.network.port)]
        self.calls = {}
        self.bindings = {}  # key -> Binding
        self._by_contact = {}  # the phone's contact URI -> key
        self._next_key = 1
        self._next_call = 1
        self.rejected = 0
        self.malformed = 0

    # --- entry points ----------------------------------------------------------------------------
    def receive(self, side, data, src, now_ms):
        """A datagram DATA from SRC (host, port) on SIDE. Returns [(side, bytes, (host, port))]."""
        if len(data) < 4 or data[:4] in (b"\r\n\r\n",) or data.strip() == b"":
            return []  # RFC 5626 section 4.4.1 keep-alive
        try:
            msg = _sip.parse(data)
        except ValueError as e:
            self.malformed += 1
            self.log("sip: malformed message from %s %s: %s" % (SIDE_NAMES[side],
                                                                _hostport_text(*src), e))
            return self._bad_request(side, e, src)
        try:
            if _is_request(msg):
                return self._request(side, msg, src, now_ms)
            return self._response(side, msg, src, now_ms)
        except ValueError as e:
            self.malformed += 1
            self.log("sip: refused %s from %s %s: %s" % (
                msg.method if _is_request(msg) else "response", SIDE_NAMES[side],
                _hostport_text(*src), e))
            if _is_request(msg) and msg.method != "ACK":
                return self._reply(side, msg, src, 400, "Bad Request")
            return []

    def timer(self):
        deadline = None
        for b in self.bindings.values():
            t = b.expires_at + REGISTRATION_GRACE_MS
            if deadline is None or t < deadline:
                deadline = t
        for call in self.calls.values():
            if call.ended_at is not None:
                t = call.ended_at + ENDED_LINGER_MS
            elif call.challenged_until is not None:
                t = call.challenged_until
            else:
                t = None if call.confirmed else call.created + CALL_SETUP_LIMIT_MS
            if t is not None and (deadline is None or t < deadline):
                deadline = t
        return deadline

    def handle_timer(self, now_ms):
        for key in list(self.bindings):
            b = self.bindings[key]
            if b.expires_at + REGISTRATION_GRACE_MS <= now_ms:
                self._drop_binding(key)
        for cid in list(self.calls):
            call = self.calls[cid]
            if call.ended_at is not None:
                if call.ended_at + ENDED_LINGER_MS <= now_ms:
                    del self.calls[cid]
            elif call.challenged_until is not None and call.challenged_until <= now_ms:
                self._end(call, now_ms, "authentication not retried")
            elif not call.confirmed and call.created + CALL_SETUP_LIMIT_MS <= now_ms:
                self._end(call, now_ms, "no answer")
                del self.calls[cid]

    def active_calls(self):
        return [c for c in self.calls.values() if c.ended_at is None]

    # --- responses the box makes itself ------------------------------------------------------------
    def _reply(self, side, req, src, code, reason):
        try:
            return self._send_reply(side, _sip.make_response(req, code, reason), src)
        except ValueError as e:
            self.log("sip: cannot answer %d: %s" % (code, e))
            return []

    def _send_reply(self, side, resp, src):
        try:
            vias = _values(resp, "Via")
            if vias:
                top = Via(vias[0])
                self._note_source(top, src)
                vias[0] = str(top)
                _set_values(resp, "Via", vias)
                dest = top.reply_address()
            else:
                dest = src
            return [(side, resp.serialize(), dest)]
        except ValueError as e:
            self.log("sip: cannot answer: %s" % (e,))
            return []

    def _bad_request(self, side, error, src):
        """The 400 (or 505) that the parser says a refused request deserves (RFC 3261 8.2), or
        nothing for a malformed response or ACK."""
        response = getattr(error, "response", None)
        if response is None:
            return []
        req = getattr(error, "message", None)
        if req is not None and getattr(req, "method", None) == "ACK":
            return []
        if side == PHONE and src[0] not in self.cfg.allow:
            return []
        try:
            resp = response()
        except ValueError:
            return []
        if resp is None:
            return []
        return self._send_reply(side, resp, src)

    # --- requests --------------------------------------------------------------------------------
    @staticmethod
    def _note_source(via, src):
        # RFC 3261 section 18.2.1 and RFC 3581 section 4
        if via.host != src[0]:
            via.set("received", src[0])
        if via.get("rport") is not None:
            via.set("rport", str(src[1]))

    def _ours(self, uri):
        try:
            host, port, _ = uri_hostport(uri)
        except ValueError:
            return False
        return (host, port) in self.addr or (host, port) in self.bound

    def _request(self, side, req, src, now_ms):
        method = req.method
        if side == PHONE and src[0] not in self.cfg.allow:
            self.rejected += 1
            self.log("sip: %s from %s refused: not in phone.allow" % (method, src[0]))
            if method == "ACK":
                return []
            return self._reply(side, req, src, 403, "Forbidden")
        vias = _values(req, "Via")
        if not vias:
            raise ValueError("no Via")
        top = Via(vias[0])
        incoming_branch = top.get("branch") or ""
        self._note_source(top, src)
        vias[0] = str(top)
        _cseq(req)
        call_id = req.get("Call-ID")
        if not call_id:
            raise ValueError("missing Call-ID")
        if not req.get("From") or not req.get("To"):
            raise ValueError("missing From or To")
        # loop detection (RFC 3261 section 16.3 item 4): our own Via with this very branch
        out_side = 1 - side
        branch = self._branch(incoming_branch, req, out_side)
        for v in vias[1:]:
            try:
                vv = Via(v)
            except ValueError:
                continue
            if (vv.host, vv.port) == self.addr[out_side] and vv.get("branch") == branch:
                return self._reply(side, req, src, 482, "Loop Detected")
        # Max-Forwards (RFC 3261 section 16.3 item 3 and 16.6 item 3)
        mf = req.get("Max-Forwards")
        if mf is None:
            mf = DEFAULT_MAX_FORWARDS
        else:
            mf = mf.strip()
            if not mf.isdigit():
                raise ValueError("bad Max-Forwards %r" % mf)
            mf = int(mf)
        if mf == 0:
            if method == "OPTIONS":
                return self._reply(side, req, src, 200, "OK")
            return [] if method == "ACK" else self._reply(side, req, src, 483, "Too Many Hops")
        req.set("Max-Forwards", str(mf - 1))
        # Route: remove the entries that name the box (RFC 3261 section 16.4)
        routes = _values(req, "Route")
        while routes and self._ours(_uri_of(routes[0])):
            routes.pop(0)
        if self._ours(_ruri(req)) and routes:  # a strict router before us (RFC 3261 16.4)
            _set_ruri(req, _uri_of(routes.pop()))
        _set_values(req, "Route", routes)

        to_tag = _tag(req.get("To") or "")
        call = self.calls.get(call_id)
        dest = None
        if method == "REGISTER":
            if side != PHONE:
                return self._reply(side, req, src, 403, "Forbidden")
            self._register_request(req, src, now_ms)
            if not routes and self._ours(_ruri(req)):
                # the phone has the box as its registrar: the registrar is the AoR's domain
                # (RFC 3261 section 10.2); the credentials stay as the phone made them
                host, port, _ = uri_hostport(_uri_of(req.get("To")))
                _set_ruri(req, "sip:" + _hostport_text(host, port) if port != 5060 else
                          "sip:" + (("[%s]" % host) if ":" in host else host))
        if side == PHONE and method != "REGISTER" and not routes and self._ours(_ruri(req)):
            # addressed to the box itself (a phone whose server is the box)
            if method == "OPTIONS":
                return self._reply(side, req, src, 200, "OK")  # keep-alive
            if method == "ACK":
                return []
            if self.cfg.proxy is None:
                return self._reply(side, req, src, 404, "Not Found")
            _set_ruri(req, _uri_of(req.get("To")))  # on to the AoR, through network.proxy
            dest = self.cfg.proxy
        if out_side == PHONE and not routes:
            dest = self._phone_target(req)
            if dest is None:
                return self._reply(side, req, src, 480, "Temporarily Unavailable")
            if dest[0] not in self.cfg.allow:
                self.rejected += 1
                return self._reply(side, req, src, 403, "Forbidden")

        if method == "INVITE" and to_tag is None and call is None:
            if _body(req) and _content_type(req) == SDP_TYPE:
                seen = rewrite.read(_body(req))  # a bad offer gets its 400 before any call exists
                if seen.host is None:
                    raise ValueError("SDP: no audio stream to relay")
            call = self._new_call(side, req, now_ms)
            if call is None:
                return self._reply(side, req, src, 503, "Service Unavailable")
        if call is not None and method == "INVITE" and to_tag is None:
            call.challenged_until = None
        if call is not None and call.ended_at is None:
            self._note_dialog(call, side, req)
            if method in ("INVITE", "UPDATE", "PRACK", "ACK") and _body(req):
                self._media_body(call, side, req, now_ms)
            if method == "BYE":
                self._end(call, now_ms, None)
        elif _body(req) and _content_type(req) == SDP_TYPE and method in ("INVITE", "UPDATE"):
            # SDP for a call the box does not know: it cannot put itself in the path
            return self._reply(side, req, src, 481, "Call/Transaction Does Not Exist")
        if method == "CANCEL" and call is not None and not call.confirmed:
            self._end(call, now_ms, None)

        # Record-Route for dialog-creating requests (RFC 3261 section 16.6 item 4, RFC 5658)
        if to_tag is None and method in ("INVITE", "SUBSCRIBE", "REFER", "NOTIFY"):
            rr = _values(req, "Record-Route")
            rr = [self._rr(out_side), self._rr(side)] + rr
            _set_values(req, "Record-Route", rr)

        if dest is None:
            dest = self._next_hop(out_side, req, routes, to_tag)
        via = Via("SIP/2.0/UDP " + _hostport_text(*self.addr[out_side]))
        via.set("branch", branch)
        via.set("rport", None)
        _set_values(req, "Via", [str(via)] + vias)
        return [(out_side, req.serialize(), dest)]

    def _rr(self, side):
        return "<sip:%s;lr>" % _hostport_text(*self.addr[side])

    def _branch(self, incoming, req, out_side):
        # RFC 3261 section 16.11: a stateless proxy derives its branch from the incoming one.
        if incoming.startswith(BRANCH_MAGIC):
            seed = incoming
        else:  # RFC 2543 peers: the transaction is Call-ID, CSeq number, From tag, Request-URI
            seed = "%s|%s|%s|%s" % (req.get("Call-ID"), _cseq(req)[0], _tag(req.get("From")),
                                    _ruri(req))
        if req.method == "CANCEL" or req.method == "ACK":
            method = "INVITE"
        else:
            method = req.method
        h = hashlib.sha1(("%s|%d|%s" % (seed, out_side, method)).encode()).digest()
        return BRANCH_MAGIC + "zt" + "".join("%02x" % b for b in h[:10])

    def _next_hop(self, out_side, req, routes, to_tag):
        if routes:
            host, port, params = uri_hostport(_uri_of(routes[0]))
            if "lr" not in params:  # a strict router next (RFC 3261 section 16.6 item 6)
                routes.append("<%s>" % _ruri(req))
                _set_ruri(req, _uri_of(routes.pop(0)))
                _set_values(req, "Route", routes)
            return host, port
        if out_side == NETWORK and to_tag is None and self.cfg.proxy is not None \
                and req.method != "ACK":
            return self.cfg.proxy
        if out_side == NETWORK and self.cfg.proxy is not None and req.method in ("ACK", "CANCEL") \
                and to_tag is None:
            return self.cfg.proxy
        host, port, params = uri_hostport(_ruri(req))
        maddr = params.get("maddr")
        return (maddr or host), port

    def _phone_target(self, req):
        """Where a request from the network goes on the phone side; R-URI rewritten if needed."""
        uri = _ruri(req)
        try:
            host, port, params = uri_hostport(uri)
        except ValueError:
            raise ValueError("bad Request-URI %r" % uri)
        key = params.get("zt")
        if key is not None and key in self.bindings:
            b = self.bindings[key]
            _set_ruri(req, b.contact_uri)
            h, p, _ = uri_hostport(b.contact_uri)
            return h, p
        if (host, port) in self.addr or (host, port) in self.bound:
            # addressed to the box itself: the phone that registered, or phone.contact
            if self.bindings:
                b = self.bindings[max(self.bindings)]
                _set_ruri(req, b.contact_uri)
                h, p, _ = uri_hostport(b.contact_uri)
                return h, p
            if self.cfg.phone_contact:
                _set_ruri(req, self.cfg.phone_contact)
                h, p, _ = uri_hostport(self.cfg.phone_contact)
                return h, p
            return None
        return host, port

    # --- REGISTER --------------------------------------------------------------------------------
    def _register_request(self, req, src, now_ms):
        contacts = _values(req, "Contact")
        out = []
        aor = _uri_of(req.get("To"))
        default_exp = req.get("Expires")
        for c in contacts:
            if c.strip() == "*":
                out.append(c)
                continue
            uri = _uri_of(c)
            key = self._by_contact.get(uri)
            if key is None:
                key = str(self._next_key)
                self._next_key += 1
                self._by_contact[uri] = key
            exp = _param(c, "expires") or default_exp or "3600"
            exp = int(exp) if exp.strip().isdigit() else 3600
            b = self.bindings.get(key)
            if b is None:
                b = Binding(key, c, aor, now_ms + 1000 * exp)
                self.bindings[key] = b
            b.contact_value = c
            user = ""
            at = uri.find("@")
            if at >= 0:
                user = uri[uri.find(":") + 1:at] + "@"
            new_uri = "sip:%s%s;zt=%s" % (user, _hostport_text(*self.addr[NETWORK]), key)
            lt = c.find("<")
            if lt >= 0:
                gt = c.find(">", lt)
                out.append(c[:lt + 1] + new_uri + c[gt:])
            else:
                head = c.split(";")[0]
                out.append("<" + new_uri + ">" + c[len(head):])
        if contacts:
            _set_values(req, "Contact", out)
        # RFC 5627: without "gruu" the registrar binds the box's contact, not a GRUU
        sup = req.get_all("Supported")
        if sup:
            kept = [t for t in sup if t.strip().lower() != "gruu"]
            _set_values(req, "Supported", kept)

    def _register_response(self, resp, now_ms):
        contacts = _values(resp, "Contact")
        if not contacts:
            return
        out = []
        registered = False
        for c in contacts:
            try:
                uri = _uri_of(c)
                _, _, params = uri_hostport(uri)
            except ValueError:
                out.append(c)
                continue
            key = params.get("zt")
            b = self.bindings.get(key) if key is not None else None
            if b is None:
                out.append(c)
                continue
            exp = _param(c, "expires")
            if exp is not None and exp.isdigit():
                if int(exp) == 0:
                    self._drop_binding(key)
                else:
                    b.expires_at = now_ms + 1000 * int(exp)
                    registered = True
            else:
                registered = True
            lt = c.find("<")
            gt = c.find(">", lt)
            if lt >= 0 and gt > lt:
                out.append(c[:lt + 1] + b.contact_uri + c[gt:])
            else:
                out.append("<" + b.contact_uri + ">" + c[len(c.split(";")[0]):])
        _set_values(resp, "Contact", out)
        if registered != self.status.registered:
            self.status.set_registered(registered)

    def _drop_binding(self, key):
        b = self.bindings.pop(key, None)
        if b is not None:
            self._by_contact.pop(b.contact_uri, None)
        if not self.bindings and self.status.registered:
            self.status.set_registered(False)

    # --- calls -----------------------------------------------------------------------------------
    def _new_call(self, side, req, now_ms):
        number = self._next_call
        self._next_call += 1
        if side == PHONE:
            peer = _uri_of(req.get("To"))
            direction = "out"
        else:
            peer = _uri_of(req.get("From"))
            direction = "in"
        st = self.status.new_call(number, direction, peer)
        try:
            media = self.media.open(st)
        except OSError as e:
            self.log("call %d: no media ports: %s" % (number, e))
            self.status.end_call(st)
            return None
        call = Call(req.get("Call-ID"), number, side, st, media, now_ms)
        self.calls[call.call_id] = call
        self.log("call %d: %s %s" % (number, direction, peer))
        return call

    def _note_dialog(self, call, side, msg):
        """Remember what BYE at shutdown needs: tags, URIs, contacts, route sets, CSeqs."""
        if _is_request(msg):
            num, method = _cseq(msg)
            if method not in ("ACK", "CANCEL"):
                call.cseq[side] = max(call.cseq[side], num)
            call.uri[side] = msg.get("From")
            call.tag[side] = _tag(msg.get("From"))
            if call.uri[1 - side] is None:
                call.uri[1 - side] = msg.get("To")
        contacts = _values(msg, "Contact")
        if contacts and contacts[0].strip() != "*":
            call.contact[side] = _uri_of(contacts[0])

    def _note_routes(self, call, msg, side_of_uas):
        # The Record-Route of a 2xx, as the box saw it: entries above its own lead to the UAS,
        # entries below lead back to the UAC (RFC 3261 section 12.1).
        rr = _values(msg, "Record-Route")
        mine = [i for i in range(len(rr)) if self._ours(_uri_of(rr[i]))]
        if not mine:
            return
        first, last = mine[0], mine[-1]
        call.route[side_of_uas] = rr[:first]
        call.route[1 - side_of_uas] = list(reversed(rr[last + 1:]))

    def _media_body(self, call, side, msg, now_ms):
        if _content_type(msg) != SDP_TYPE:
            return
        out_side = 1 - side
        session = call.media
        rtp_port = session.ports(out_side)[0]
        zhash = session.hello_hash() if out_side == NETWORK else None
        new_body, seen = rewrite.rewrite(_body(msg), self.addr[out_side][0], rtp_port, zhash)
        if seen.host is None:
            raise ValueError("SDP: no audio stream to relay")
        session.set_remote(side, seen.host if not seen.hold or seen.host not in ("0.0.0.0", "::")
                           else None, seen.port, seen.rtcp_port or None)
        if side == NETWORK:
            session.set_peer_hash(seen.zrtp_hash)
        _set_body(msg, new_body)

    def _end(self, call, now_ms, reason):
        if call.ended_at is not None:
            return
        call.ended_at = now_ms
        try:
            call.media.close()
        finally:
            if reason:
                self.log("call %d ended: %s" % (call.number, reason))
            self.status.end_call(call.status)

    # --- responses -------------------------------------------------------------------------------
    def _response(self, side, resp, src, now_ms):
        vias = _values(resp, "Via")
        if not vias:
            raise ValueError("response without Via")
        top = Via(vias[0])
        if (top.host, top.port) not in (self.addr[side], self.bound[side]):
            self.log("sip: response from %s not for the box (top Via %s), dropped"
                     % (_hostport_text(*src), vias[0]))
            return []
        if not (top.get("branch") or "").startswith(BRANCH_MAGIC + "zt"):
            return []
        vias.pop(0)
        if not vias:
            return []  # a response to a request the box made itself (BYE at shutdown)
        _set_values(resp, "Via", vias)
        dest = Via(vias[0]).reply_address()
        out_side = 1 - side
        num, method = _cseq(resp)
        code = resp.status
        call = self.calls.get(resp.get("Call-ID"))
        if method == "REGISTER" and side == NETWORK and 200 <= code < 300:
            self._register_response(resp, now_ms)
        if call is not None and call.ended_at is None:
            self._note_dialog(call, side, resp)
            if method == "INVITE":
                if 200 <= code < 300:
                    if not call.confirmed:
                        self._note_routes(call, resp, side)
                        call.uri[side] = resp.get("To")
                        call.tag[side] = _tag(resp.get("To"))
                    call.confirmed = True
                    call.status.set_state(_status.ACTIVE)
                if _body(resp) and code < 300:
                    self._media_body(call, side, resp, now_ms)
                if 200 <= code < 300 or (code == 183 and _body(resp)):
                    call.media.answered(now_ms)
                if code in (401, 407) and not call.confirmed:
                    # RFC 3261 section 22.2: the UA retries the INVITE with credentials, same
                    # Call-ID; keep the call (and its media ports) for that long
                    call.challenged_until = now_ms + ENDED_LINGER_MS
                elif code >= 300 and not call.confirmed:
                    self._end(call, now_ms, "%d %s" % (code, resp.reason))
            elif method in ("UPDATE", "PRACK") and _body(resp) and code < 300:
                self._media_body(call, side, resp, now_ms)
        return [(out_side, resp.serialize(), dest)]

    # --- shutdown --------------------------------------------------------------------------------
    def shutdown(self, now_ms):
        """End every call: BYE toward both parties of confirmed calls (the box speaks for each to
        the other), media closed. Returns the datagrams to send."""
        out = []
        for call in list(self.calls.values()):
            if call.ended_at is not None:
                continue
            if call.confirmed:
                for side in (PHONE, NETWORK):
                    dg = self._bye(call, side)
                    if dg is not None:
                        out.append(dg)
            self._end(call, now_ms, "box shutting down")
        return out

    def _bye(self, call, to_side):
        """A BYE to TO_SIDE's party, as if from the other party (RFC 3261 section 15.1.1)."""
        frm = 1 - to_side
        target = call.contact[to_side]
        if target is None or call.uri[frm] is None or call.uri[to_side] is None:
            return None
        try:
            req = _sip.Request("BYE", target)
            branch = "%s%s%d%d" % (BRANCH_MAGIC, "ztbye", call.number, to_side)
            req.add("Via", "SIP/2.0/UDP %s;branch=%s;rport" % (_hostport_text(*self.addr[to_side]),
                                                              branch))
            req.add("Max-Forwards", str(DEFAULT_MAX_FORWARDS))
            for r in call.route[to_side]:
                req.add("Route", r)
            req.add("From", call.uri[frm])
            req.add("To", call.uri[to_side])
            req.add("Call-ID", call.call_id)
            req.add("CSeq", "%d BYE" % (call.cseq[frm] + 1))
            req.add("Reason", 'SIP;cause=200;text="ZeroTap box shutting down"')
            req.body = b""
            routes = call.route[to_side]
            if routes:
                host, port, _ = uri_hostport(_uri_of(routes[0]))
            else:
                host, port, _ = uri_hostport(target)
            call.bye_sent = True
            return (to_side, req.serialize(), (host, port))
        except ValueError as e:
            self.log("call %d: cannot build BYE: %s" % (call.number, e))
            return None

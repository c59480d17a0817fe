"""The ICE fallback of a call, wired to the runtime: the :class:`zerotap.ice.fallback.FallbackIO`
of one call (:class:`CallFallback`) and what the box shares between calls (:class:`BoxFallback`:
the helper's HTTPS client, the remembered peers).

Sockets (the board's budget, docs/fallback.md): a call's ICE socket (one UDP socket: host,
server-reflexive and relayed candidates all use it) is opened only when the fallback starts and
closed when it fails or the call ends; a helper request holds one TCP/TLS socket for its length
and no longer (``Connection: close``).

    bf = BoxFallback(cfg, loop, streams, log, resolver=box.resolve)   # one per box
    fb = bf.attach(call_media, call_status, session, make_leg)   # per call

Names (the helper URL's host without ``ice.helper_address``, ``ice.stun``, ``ice.turn``'s server,
the TURN URIs the helper hands out) are resolved through :mod:`zerotap.runtime.resolver` in the
loop, never by a blocking lookup: the box's (``Box.resolve``: made on first use, re-pointed with
a new DHCP lease), else one of its own toward ``network.dns`` or the system's servers, opened on
demand. The helper's name is looked up before
each request (the resolver caches by TTL); a STUN/TURN name while the fallback prepares: the agent
is made once the addresses are known, and a name that does not resolve ends the attempt
("cannot resolve ...").
"""
import os

from zerotap.ice import agent as _agent
from zerotap.ice import fallback as _fallback
from zerotap.runtime import http as _http


def _turn_from_helper(turn):
    """``((host, port), username, password)`` from the helper's PUT answer ``turn`` (coturn's
    REST scheme: ``uris`` like ``turn:198.51.100.9:3478?transport=udp``), or None. UDP only;
    HOST an IPv4 address or a name (resolved by the caller); port 3478 when absent."""
    if not isinstance(turn, dict):
        return None
    user, pwd, uris = turn.get("username"), turn.get("password"), turn.get("uris") or []
    if not isinstance(user, str) or not isinstance(pwd, str):
        return None
    for uri in uris:
        if not isinstance(uri, str) or not uri.startswith("turn:"):
            continue
        rest = uri[5:].split("?")[0]
        if "transport=tcp" in uri:
            continue
        host, _, port = rest.rpartition(":")
        if not host:
            host, port = rest, "3478"
        if host and not host.startswith("[") and port.isdigit():
            return ((host, int(port)), user, pwd)
    return None


# how long a STUN/TURN server's address, once resolved, serves the agents made from it: the
# length of one attempt's preparation, not the box's lifetime (a server that moves is found again
# at the next attempt; within the answer's TTL the resolver answers from its cache)
ADDRESS_KEEP_MS = 60000


class BoxFallback:
    def __init__(self, cfg, loop, streams, log=None, rand=None, resolver=None):
        self.cfg = cfg
        # the box's resolve(done, host), a resolver (address(done, host)), or one of our own
        # made on demand
        self.resolver = resolver
        self._own_resolver = False
        self.addresses = {}  # server name -> (IPv4 address, when resolved): for ADDRESS_KEEP_MS
        self.ice = cfg.ice
        self.loop = loop
        self.streams = streams
        self.log = log
        self.rand = rand or os.urandom
        self.memory = _fallback.PeerMemory()
        self._http = None

    def http(self):
        if self._http is None:
            ctx = None
            if self.ice.helper_url.startswith("https:"):
                from zerotap.runtime import stream as _stream
                ctx = _stream.client_context(cafile=self.ice.helper_ca)
            self._http = _http.HelperHttp(self.streams, self.ice.helper_url, ctx=ctx,
                                          address=self.ice.helper_address, log=self.log,
                                          resolve=self.resolve)
        return self._http

    def resolve(self, done, host):
        """DONE(ip, None) or DONE(None, reason) for HOST, through the loop's resolver."""
        from zerotap.sip import locate as _locate
        if _locate.is_ip(host):
            done(host, None)
            return
        r = self.resolver
        if r is None:
            from zerotap.runtime import resolver as _resolver
            servers = getattr(self.cfg.network, "dns", None) or _resolver.system_servers()
            if not servers:
                done(None, "no DNS resolver (network.dns, or the system's)")
                return
            r = self.resolver = _resolver.Resolver(self.loop, servers, self.rand, self.log)
            self._own_resolver = True
        elif callable(r):  # the box's resolve: its resolver, the one a new lease re-points
            r(done, host)
            return
        r.address(done, host)

    def _servers(self, fb, servers):
        """SERVERS [(host, port) or None] with names replaced by addresses, or None while some
        are being resolved (FB's agent_ready follows; a failure ends FB's attempt)."""
        from zerotap.sip import locate as _locate
        now = self.loop.clock()
        known = self.addresses
        for name in list(known):  # older answers are asked again (the resolver keeps the TTL)
            if known[name][1] + ADDRESS_KEEP_MS <= now:
                del known[name]
        missing = [a[0] for a in servers if a is not None and not _locate.is_ip(a[0])
                   and a[0] not in known]
        if not missing:
            return [None if a is None else (known[a[0]][0] if a[0] in known else a[0], a[1])
                    for a in servers]
        for host in missing:
            def done(ip, err, host=host):
                now = self.loop.clock()
                if ip is None:
                    fb.fail("cannot resolve %s: %s" % (host, err), now)
                    return
                self.addresses[host] = (ip, now)
                fb.agent_ready(now)
            self.resolve(done, host)
        return None

    def attach(self, call_media, call_status, session, make_leg):
        io = CallFallback(self, call_media)
        ice = self.ice

        def make_agent(controlling, turn):
            stun = ice.stun
            tconf = ice.turn
            if stun is None and tconf is None and turn is None:
                return None  # wait for the helper's TURN credentials (its PUT answer)
            if tconf is None and turn:
                tconf = _turn_from_helper(turn)
                if tconf is not None and stun is None:
                    stun = tconf[0]  # coturn answers STUN Binding too
            got = self._servers(fb, [stun, tconf[0] if tconf is not None else None])
            if got is None:
                return None  # names being resolved: fb.agent_ready(now) follows
            stun = got[0]
            if tconf is not None:
                tconf = (got[1], tconf[1], tconf[2])
            return _agent.Agent(controlling, self.rand, stun_server=stun, turn=tconf,
                                host=ice.host_candidates)

        fb = _fallback.Fallback(session, io, call_status.direction == "out", self.rand, make_leg,
                                make_agent, status=call_status, peer=call_status.peer,
                                memory=self.memory, after_ms=ice.after_s * 1000,
                                deadline_ms=ice.deadline_s * 1000, tone_ms=ice.tone_ms,
                                gap_ms=ice.tone_ms,
                                clear=ice.clear, log=self.log, dtmf=ice.dtmf)
        io.fb = fb
        session.fallback = fb
        return fb

    def close(self):
        if self._http is not None:
            self._http.close()
            self._http = None
        if self._own_resolver and self.resolver is not None:
            self.resolver.close()
            self.resolver = None
            self._own_resolver = False


class CallFallback(_fallback.FallbackIO):
    """One call's ICE socket and helper requests."""

    def __init__(self, box_fallback, call_media):
        self.bf = box_fallback
        self.call_media = call_media
        self.fb = None
        self.ep = None

    def open_ice(self):
        cfg = self.bf.cfg
        host = cfg.network.host
        low, high = cfg.network.rtp
        err = None
        # a port of network.rtp (what a firewall already lets through), counted down from the top
        # so that the RTP pairs counted up from the bottom rarely meet it
        for port in range(high, low - 1, -1):
            try:
                self.ep = self.bf.loop.open(host, port, self._datagram)
                break
            except OSError as e:
                err = e
        else:
            raise err or OSError("no port free in network.rtp")
        return [(cfg.network.address if host in ("0.0.0.0", "::") else host, port)]

    def _guard(self, f, *args):
        """F(*ARGS), this call's: a fault in it ends this call alone, as in its media handler
        (runtime.box: one fault, one call), not the box's loop."""
        try:
            f(*args)
        except Exception as e:
            m = self.call_media
            if m is None:
                raise
            m.box.call_fault(m, "ICE fallback", e)

    def _datagram(self, ep, data, n, addr, now):
        m = self.call_media
        if self.fb is not None:
            # _guard's work inline: no argument tuple per datagram on the direct media path
            try:
                # media on the direct path: the media watch hears the far end here (the selected
                # pair's far end, not a stranger)
                if self.fb.receive_ice(bytes(memoryview(data)[:n]), addr, now) and m is not None:
                    m.watch.heard(1, now)
            except Exception as e:
                if m is None:
                    raise
                m.box.call_fault(m, "ICE fallback", e)

    def send_ice(self, data, addr):
        if self.ep is not None and not self.ep.closed:
            self.ep.send(data, addr)

    def close_ice(self):
        if self.ep is not None:
            self.ep.close()
            self.ep = None

    def helper(self, tag, method, path, body, headers):
        fb = self.fb
        try:
            http = self.bf.http()
        except (OSError, ValueError) as e:
            reason = "no trust for the helper: %s" % e
            fb.helper_failed(tag, reason, self.bf.loop.clock())
            return
        g = self._guard
        http.request(tag, method, path, body, headers,
                     lambda t, status, b, now: g(fb.helper_reply, t, status, b, now),
                     lambda t, reason, now: g(fb.helper_failed, t, reason, now))

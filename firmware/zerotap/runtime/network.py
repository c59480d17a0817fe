"""The box's SIP transports, DNS and NAT upkeep, wired into its loop (docs/transports.md).

    net = BoxNetwork(box)     # after box.sip (the two UDP sockets) and box.proxy exist
    net.send(out)             # the proxy's [(side, bytes, (host, port)[, transport])]
    net.close()

It holds the stream layer (:mod:`zerotap.runtime.stream`), the SIP transport
(:mod:`zerotap.runtime.siptransport`; phone-side TCP when ``phone.tcp``), the resolver
(:mod:`zerotap.runtime.resolver`, when network.proxy is a domain or ``network.dns`` is given)
and serves the proxy's NAT state (:mod:`zerotap.sip.nat`) from the loop's timers: UDP keepalives
on the registrar's flow and the STUN Binding to ``network.stun``.

When a connection toward the network fails before it opened (refused, a timeout, a certificate
that does not verify), the requests waiting on it are answered toward the phone with
``503 Service Unavailable`` carrying the reason in a Warning header (RFC 3261 §20.43), and the
status shows it (``registration`` error); nothing is sent in clear instead.
"""
import os
import sys

from zerotap.runtime import siptransport, stream
from zerotap.sip import locate as _locate
from zerotap.sip import message as _sip

STUN_EVERY_MS = 300000


class BoxNetwork:
    def __init__(self, box):
        self.box = box
        cfg = box.cfg
        net = cfg.network
        self.log = box.log
        loop = box.loop
        self.streams = stream.Streams(loop, self.log)
        tls = None
        tls_name = None
        tls_cfg = getattr(net, "tls", None)
        if tls_cfg is not None:
            try:
                tls = stream.client_context(cafile=tls_cfg.ca)
            except (OSError, ValueError) as e:
                self._status_error("network: tls: cannot load network.tls.ca %s: %s"
                                   % (tls_cfg.ca, e))
            tls_name = tls_cfg.name
        proxy = net.proxy
        if tls_name is None and proxy is not None and not _locate.is_ip(proxy[0]):
            tls_name = proxy[0]
        self.resolver = None
        # where the resolver comes from when the config names none: read again at each new
        # address (a board's DHCP lease, boot sets it; the host's resolv.conf)
        self.dns_source = getattr(net, "dns_source", None)
        servers = getattr(net, "dns", None)
        if servers or (proxy is not None and not _locate.is_ip(proxy[0])):
            # imported only here: a box whose proxy is an address loads no DNS code (issue 19)
            from zerotap.runtime import resolver as _resolver
            if not servers:
                if self.dns_source is None:
                    self.dns_source = _resolver.system_servers
                servers = self.dns_source()
            if servers:
                self.resolver = _resolver.Resolver(loop, servers, os.urandom, self.log)
            else:
                self._status_error("network: no DNS resolver (network.dns, or the system's)")
        keepalive = getattr(net, "keepalive_s", 0)
        self.transport = siptransport.SipTransport(
            loop, streams=self.streams, udp_eps=box.sip, deliver=self._deliver, log=self.log,
            tls=tls, tls_name=tls_name, keepalive_ms=keepalive * 1000 if keepalive else None,
            resolver=self.resolver, large_over_tcp=(False, True))
        self.transport.failure = self._failed
        self.transport.located_hook = self._located
        if getattr(cfg.phone, "tcp", False):
            try:
                self.transport.listen_phone_tcp(cfg.phone.host, cfg.phone.port)
            except OSError as e:
                self.log("phone: no TCP on %s:%d: %s" % (cfg.phone.host, cfg.phone.port, e))
        self.nat = box.proxy.nat
        box.status.set_transport(getattr(net, "transport", "UDP"))
        self._stun_next = loop.clock() if self.nat.stun is not None else None
        loop.add_timer_source(self)

    def _status_error(self, text):
        self.log(text)
        self.box.status.set_registration_error(text)

    # --- in and out -----------------------------------------------------------------------------
    def _deliver(self, side, data, src, now, transport):
        self.box._receive(side, data, src, now, transport)

    def send(self, out):
        now = self.box.loop.clock()
        for item in out:
            side, data, dest = item[0], item[1], item[2]
            if side == 0 and data.startswith(b"SIP/2.0 503 ") and b'399 zerotap "' not in data:
                self._server_busy()
            transport = item[3] if len(item) > 3 else None  # None: UDP, or NAPTR for a name
            try:
                self.transport.send(side, data, dest, transport)
            except OSError as e:  # getaddrinfo of a name that does not resolve
                self.log("sip: cannot send to %s:%s: %s" % (dest[0], dest[1], e))
            if side == 1:
                self.nat.sent(now)

    def _located(self, name, targets):
        """RFC 3263 located NAME: when it is network.proxy's domain, its targets are the
        provider, which may start dialogs from the network (docs/trust.md, the open-relay rules)."""
        proxy = self.box.cfg.network.proxy
        if proxy is not None and name == proxy[0]:
            for t in targets:
                self.box.proxy.trust_provider(t.host)

    def _server_busy(self):
        """The provider answered 503 (RFC 3263 §4.3): when network.proxy is a domain, its next
        target takes the next requests (the phone's retry among them)."""
        proxy = self.box.cfg.network.proxy
        if proxy is not None and not _locate.is_ip(proxy[0]):
            self.transport.failed(proxy[0], "503 Service Unavailable")

    def _failed(self, side, messages, reason):
        """Requests that waited on a connection that never opened, or on a name that did not
        resolve: 503 toward the phone."""
        if side != 1:
            return
        text = "network: " + reason
        self._status_error(text)
        now = self.box.loop.clock()
        for data in messages:
            try:
                req = _sip.parse(data)
            except ValueError:
                continue
            if not req.is_request or req.method == "ACK":
                continue
            resp = _sip.make_response(req, 503, "Service Unavailable")
            resp.add("Warning", '399 zerotap "%s"' % text.replace('"', "'"))
            # handed to the proxy as if the network had answered: it takes the box's Via off
            # and sends the answer on to the phone
            self.box._receive(1, resp.serialize(), ("0.0.0.0", 0), now, "UDP")

    # --- timers (a loop timer source) ------------------------------------------------------------
    def timer(self):
        t = self.nat.timer()
        if self._stun_next is not None and (t is None or self._stun_next < t):
            t = self._stun_next
        return t

    def handle_timer(self, now):
        if self._stun_next is not None and now >= self._stun_next:
            req = self.nat.stun_request(now)
            if req is not None:
                self.box.sip[1].send(req, self.nat.stun)
            self._stun_next = now + STUN_EVERY_MS
        for data, dest in self.nat.keepalives(now):
            if dest is None:
                continue
            if _locate.is_ip(dest[0]):
                self.box.sip[1].send(data, dest)
            else:  # the registrar by name: where RFC 3263 located it (cached), never blocking
                self.transport.send(1, data, dest)

    def rebind(self, sides):
        """The box's address changed; SIDES were bound again (:meth:`Box.rebind`): the
        connections made from the old address are closed, and the phone side's TCP listener
        listens on the new one."""
        for c in list(self.streams.conns):
            if not c.inbound or 0 in sides:
                c.close("the box's address changed")
        servers = self.dns_source() if self.dns_source is not None else None
        if servers:  # the new network's resolver: the old one may be out of reach
            if getattr(self.box.cfg.network, "dns_source", None) is not None:
                self.box.cfg.network.dns = servers  # for a resolver made later (Box.resolve)
            if self.resolver is not None:
                self.resolver.use(servers)
        t = self.transport
        if 0 in sides and t.listener is not None:
            t.listener.close()
            t.listener = None
            cfg = self.box.cfg
            try:
                t.listen_phone_tcp(cfg.phone.host, cfg.phone.port)
            except OSError as e:
                self.log("phone: no TCP on %s:%d: %s" % (cfg.phone.host, cfg.phone.port, e))

    def close(self):
        self.box.loop.remove_timer_source(self)
        if self.resolver is not None:
            self.resolver.close()
        self.streams.close_all("box shutting down")

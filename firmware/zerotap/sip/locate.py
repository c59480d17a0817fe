"""Locating SIP servers (RFC 3263 §4), sans-IO over :class:`zerotap.dns.Client`.

    loc = Locate(client, "example.test", rand=rand)      # or port=, transport=, secure=True
    targets = loc.step(now_ms)      # None while DNS answers are pending (send client.datagrams()
                                    # and call step again when one arrives or the client's timer
                                    # fires); else the ordered [Target] (empty: loc.error says why)
    t = loc.current()               # Target(transport, host, port, server_name)
    t = loc.failed(now_ms, "503")   # the next target after a transport error, a timeout or a 503
                                    # (RFC 3263 §4.3), or None when every target failed

The steps (RFC 3263 §4.1, §4.2):
  - a numeric host: that address; the transport from ``transport=``, else TLS for ``sips:``,
    else UDP; the port as given, else 5060 (5061 for TLS);
  - a name with a port: A/AAAA of the name, transport as above;
  - a name with ``transport=`` and no port: SRV ``_sip._udp``/``_sip._tcp``/``_sips._tcp``, else
    A/AAAA with the default port;
  - a name alone: NAPTR; records with flag ``s`` and a service this box speaks (``SIP+D2U``,
    ``SIP+D2T``, ``SIPS+D2T``; only ``SIPS+D2T`` for a ``sips:`` URI) in order/preference; their
    replacement is an SRV name. Without usable NAPTR: SRV for each transport the box speaks, in
    its preference order; without SRV: A/AAAA with UDP (TLS for ``sips:``) and the default port.
  - SRV records by priority, weighted random within a priority (RFC 2782, RAND injected); a
    target "." means "not offered here".
The TLS name to check (``server_name``) is the domain of the URI, not the SRV target (RFC 5922
§4.1). Answers are cached by TTL in the DNS client; a Locate computed again after they expire
asks again.

:mod:`zerotap.dns` is imported by a Locate when it first needs it: a box whose proxy is an
address (``is_ip``, ``transport_of`` only) never loads the DNS code into its heap (issue 19).
"""

UDP = "UDP"
TCP = "TCP"
TLS = "TLS"
TRANSPORTS = (UDP, TCP, TLS)
DEFAULT_PORT = {UDP: 5060, TCP: 5060, TLS: 5061}
NAPTR_SERVICES = {"SIP+D2U": UDP, "SIP+D2T": TCP, "SIPS+D2T": TLS}
SRV_PREFIX = {UDP: "_sip._udp.", TCP: "_sip._tcp.", TLS: "_sips._tcp."}


def is_ip(host):
    """True for an IPv4 dotted quad or an IPv6 address (text, no brackets). No leading zero:
    the system's resolver reads "010.1.1.1" as octal, 8.1.1.1 (inet_pton, config refuse it)."""
    if ":" in host:
        return True
    parts = host.split(".")
    if len(parts) != 4:
        return False
    for p in parts:
        if not p or len(p) > 3 or not all("0" <= c <= "9" for c in p) or int(p) > 255 or \
                p[0] == "0" and len(p) > 1:
            return False
    return True


def transport_of(uri):
    """(transport, secure) of a SIP URI (a zerotap.sip.uri.Uri): ``transport=`` (UDP/TCP/TLS;
    ``sips:`` with no parameter or ``tcp`` means TLS), or None when the URI names none."""
    secure = uri.scheme == "sips"
    t = uri.param("transport")
    if t is None:
        return (TLS if secure else None), secure
    t = t.upper()
    if t == "TCP" and secure:
        return TLS, True
    if t not in TRANSPORTS:
        raise ValueError("unsupported transport %r" % t.lower())
    return t, secure


class Target:
    def __init__(self, transport, host, port, server_name):
        self.transport = transport
        self.host = host
        self.port = port
        self.server_name = server_name

    def key(self):
        return (self.transport, self.host, self.port)

    def __eq__(self, other):
        return isinstance(other, Target) and self.key() == other.key()

    def __repr__(self):
        return "<%s %s:%d (%s)>" % (self.transport, self.host, self.port, self.server_name)


def weighted_order(records, rand):
    """SRV records (values (priority, weight, port, target)) in RFC 2782 order: by priority, and
    within one priority picked at random with chances proportional to weight (weight 0 records
    first in the running sum, as the RFC says, so they get a small chance)."""
    out = []
    for prio in sorted(set(r.value[0] for r in records)):
        group = [r for r in records if r.value[0] == prio]
        group.sort(key=lambda r: r.value[1])  # weight 0 first (RFC 2782)
        while group:
            total = sum(r.value[1] for r in group)
            b = rand(4)
            pick = ((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) % (total + 1)
            running = 0
            chosen = len(group) - 1
            for i in range(len(group)):
                running += group[i].value[1]
                if running >= pick:
                    chosen = i
                    break
            out.append(group.pop(chosen))
    return out


class Locate:
    def __init__(self, client, host, port=None, transport=None, secure=False,
                 transports=TRANSPORTS, families=None, rand=None):
        if transport is not None and transport not in TRANSPORTS:
            raise ValueError("unsupported transport %r" % transport)
        self.client = client
        self.host = host.lower()
        self.port = port
        self.transport = transport
        self.secure = secure
        self.transports = (TLS,) if secure else tuple(transports)
        if families is None:
            from zerotap import dns
            families = (dns.A,)
        self.families = families
        self.rand = rand or client.rand
        self.targets = None
        self.index = 0
        self.error = None
        self._order = {}  # SRV name -> (the Answer it was ordered from, ordered records)

    # --- the walk -------------------------------------------------------------------------------
    def step(self, now_ms):
        """The ordered targets, or None while answers are pending."""
        self.error = None
        targets = self._walk(now_ms)
        if targets is None:
            return None
        seen = []
        for t in targets:
            if t not in seen:
                seen.append(t)
        if self.targets is None or [t.key() for t in seen] != [t.key() for t in self.targets] \
                or self.index >= len(seen):
            self.targets = seen  # new targets, or every one failed: a new round from the first
            self.index = 0
        if not seen and self.error is None:
            self.error = "%s: no SIP server found" % self.host
        return seen

    def _default_transport(self):
        if self.transport is not None:
            return self.transport
        return TLS if self.secure else UDP

    def _walk(self, now):
        from zerotap import dns
        host = self.host
        if is_ip(host):
            t = self._default_transport()
            return [Target(t, host, self.port or DEFAULT_PORT[t], host)]
        if self.port is not None:
            t = self._default_transport()
            return self._addresses(host, t, self.port, now)
        if self.transport is not None:
            got = self._srv(SRV_PREFIX[self.transport] + host, self.transport, now)
            if got is None:
                return None
            if got:
                return got
            return self._addresses(host, self.transport, DEFAULT_PORT[self.transport], now)
        naptr = self.client.lookup(host, dns.NAPTR, now)
        if naptr is None:
            return None
        usable = []
        for r in naptr.records:
            order, pref, flags, services, regexp, replacement = r.value
            t = NAPTR_SERVICES.get(services.upper())
            if flags.lower() == "s" and t in self.transports and replacement:
                usable.append(((order, pref), t, replacement))
        usable.sort(key=lambda u: u[0])
        if usable:
            out = []
            pending = False
            for _, t, name in usable:
                got = self._srv(name, t, now)
                if got is None:
                    pending = True
                else:
                    out += got
            return None if pending else out
        # RFC 3263 §4.1: no NAPTR: SRV for every transport the box speaks
        out = []
        pending = False
        for t in self.transports:
            got = self._srv(SRV_PREFIX[t] + host, t, now)
            if got is None:
                pending = True
            else:
                out += got
        if pending:
            return None
        if out:
            return out
        t = self._default_transport()
        return self._addresses(host, t, DEFAULT_PORT[t], now)

    def _srv(self, name, transport, now):
        from zerotap import dns
        a = self.client.lookup(name, dns.SRV, now)
        if a is None:
            return None
        if a.error:
            self.error = "%s SRV: %s" % (name, a.error)
        memo = self._order.get(name)
        if memo is None or memo[0] is not a:
            memo = (a, weighted_order(a.records, self.rand))
            self._order[name] = memo
        out = []
        pending = False
        for r in memo[1]:
            prio, weight, port, target = r.value
            if target == "" or target == ".":
                continue
            got = self._addresses(target, transport, port, now)
            if got is None:
                pending = True
            else:
                out += got
        return None if pending else out

    def _addresses(self, name, transport, port, now):
        from zerotap import dns
        if is_ip(name):
            return [Target(transport, name, port, self.host)]
        out = []
        pending = False
        for fam in self.families:
            a = self.client.lookup(name, fam, now)
            if a is None:
                pending = True
                continue
            if a.error:
                self.error = "%s %s: %s" % (name, dns.type_name(fam), a.error)
            for r in a.records:
                out.append(Target(transport, r.value, port, self.host))
        return None if pending else out

    # --- failover (RFC 3263 §4.3) -------------------------------------------------------------
    def current(self):
        if not self.targets or self.index >= len(self.targets):
            return None
        return self.targets[self.index]

    def failed(self, now_ms, reason):
        """The current target failed (a transport error, a timeout, a 503): the next one, or None
        when all have failed (then :meth:`current` is None until the next :meth:`step` starts
        a new round from the first)."""
        self.index += 1
        t = self.current()
        if t is None:
            self.error = "%s: every target failed, last: %s" % (self.host, reason)
        return t

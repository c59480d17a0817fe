"""DNS in the loop: :class:`zerotap.dns.Client` on a UDP socket of :mod:`zerotap.runtime.udp`,
and RFC 3263 server location (:mod:`zerotap.sip.locate`) that never blocks the loop.

    r = Resolver(loop, [("192.0.2.53", 53)])        # or system_servers()
    loc = r.locate(done, "example.test", secure=False)   # done(loc, targets) once known
    loc.current(), loc.failed(now, reason)           # failover, as in zerotap.sip.locate
    r.address(done, "turn.example.test")             # done(ip or None, error): an A lookup

The UDP socket (one per address family of the servers asked) is opened when a query goes out and
closed when none is pending (a board has 10 lwIP sockets in all); when none can be opened, the
query waits for the client's next try, and after the last one its lookup fails ("no answer from
the resolver"). Answers are cached by TTL; a later ``locate`` of the same name is answered from
the cache without a datagram.
"""
import os

from zerotap import dns
from zerotap.runtime.udp import host_text
from zerotap.sip import locate as _locate


def system_servers(path="/etc/resolv.conf"):
    """The ``nameserver`` lines of PATH as [(host, 53)] (the host's resolver), or []."""
    out = []
    try:
        with open(path) as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 2 and parts[0] == "nameserver":
                    out.append((parts[1].split("%")[0], 53))
    except OSError:
        pass
    return out


def _texts(servers):
    # an answer's source is the socket's text of the address ("::1", not "0:0::1"): the
    # client takes answers only from the server it asked, compared as text
    return [(host_text(h), p) for h, p in servers]


class _Address:
    """An address lookup among the resolver's waiting items (``step`` as Locate has it)."""

    def __init__(self, client, host, qtype):
        self.client = client
        self.host = host
        self.qtype = qtype
        self.error = None

    def step(self, now):
        ans = self.client.lookup(self.host, self.qtype, now)
        if ans is None:
            return None
        ips = [r.value for r in ans.records if r.rtype == self.qtype]
        if not ips:
            self.error = ans.error or "no address for %s" % self.host
        return ips


class Resolver:
    def __init__(self, loop, servers, rand=None, log=None, bind="0.0.0.0"):
        self.loop = loop
        self.log = log or (lambda text: None)
        self.client = dns.Client(_texts(servers), rand or os.urandom, lambda t: self.log(t))
        self.bind = bind
        self.ep = None  # toward IPv4 servers; ep6 toward IPv6 ones (network.dns may list both)
        self.ep6 = None
        self.waiting = []  # [(Locate, done)]
        loop.add_timer_source(self)

    def use(self, servers):
        """Ask SERVERS from now on (a new network's resolver)."""
        self.client.use(_texts(servers))

    def locate(self, done, host, port=None, transport=None, secure=False,
               transports=_locate.TRANSPORTS, families=(dns.A,)):
        """Start locating HOST; DONE(loc, targets) is called once the targets are known
        (possibly at once, from the cache). Returns the :class:`zerotap.sip.locate.Locate`."""
        loc = _locate.Locate(self.client, host, port, transport, secure, transports, families)
        self.waiting.append((loc, done))
        self._pump(self.loop.clock())
        return loc

    def address(self, done, host, qtype=dns.A):
        """Resolve HOST to one address (A; AAAA with QTYPE): DONE(ip, None) once known,
        DONE(None, reason) when it does not resolve; at once for a literal or a cached name.
        Never blocks: the query goes out from the loop like the others."""
        if _locate.is_ip(host):
            done(host, None)
            return None
        item = _Address(self.client, host, qtype)
        self.waiting.append((item, lambda it, ips: done(ips[0] if ips else None, it.error)))
        self._pump(self.loop.clock())
        return item

    def _pump(self, now):
        again = True
        while again:
            again = False
            for item in list(self.waiting):
                loc, done = item
                targets = loc.step(now)
                if targets is not None:
                    self.waiting.remove(item)
                    done(loc, targets)
                    again = True
        out = self.client.datagrams()
        for data, dest in out:
            ep = self._socket(":" in dest[0])
            if ep is not None:
                ep.send(data, dest)
        if not self.client.pending and not out:
            self._close()

    def _socket(self, six):
        ep = self.ep6 if six else self.ep
        if ep is None:
            try:
                ep = self.loop.open("::" if six else self.bind, 0, self._on_datagram)
            except OSError as e:  # no socket left (a board's 10): the client's retries try again
                self.log("dns: no socket for the query: %s" % (e,))
                return None
            if six:
                self.ep6 = ep
            else:
                self.ep = ep
        return ep

    def _close(self):
        for ep in (self.ep, self.ep6):
            if ep is not None:
                ep.close()
        self.ep = self.ep6 = None

    def _on_datagram(self, ep, data, n, addr, now):
        self.client.receive(bytes(data[:n]), addr, now)
        self._pump(now)

    def timer(self):
        return self.client.timer()

    def handle_timer(self, now):
        self.client.handle_timer(now)
        self._pump(now)

    def close(self):
        self.loop.remove_timer_source(self)
        self._close()

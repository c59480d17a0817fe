"""Is the box's network link up, and which address does it have? Sans-IO: what the runtime read
of the link (up or not, the address) and ``now_ms`` in, actions out (issue 14).

    w = LinkWatch(poll_ms=1000)
    w.start(True, "10.0.0.2", now_ms)      # what the box started with
    w.deadline()                           # when to read the link next (ms)
    for kind, value in w.update(up, address, now_ms):
        ...                                # DOWN, REBIND (old, new), REREGISTER, UP address,
                                           # RECONNECT (ask the interface to join again)

- The link goes down, or loses its address (a DHCP lease lost): ``DOWN`` once; the status
  shows ``network: down``. While it stays down, ``RECONNECT`` every ``reconnect_ms`` (a board's
  Wi-Fi station joins again; the host ignores it).
- It comes back with the address it had: ``REREGISTER`` (the NAT in front may have forgotten
  the box) and ``UP``. With another address (a new DHCP lease), ``REBIND`` (old, new) first: the
  sockets bound to the old address are bound to the new one, and what the box advertises
  (Via, Contact, Record-Route, SDP) changes with it.
- The address changes while the link stays up (a lease renewed with another address):
  ``REBIND``, ``REREGISTER``, ``UP`` with no ``DOWN`` between.

A link that drops and comes back between two reads goes unnoticed, unless its address changed:
one read per ``poll_ms`` (1 s by default) is what "within a few seconds" costs.

The runtime reads the link through :mod:`zerotap.runtime.link`; on the host it reads the
kernel's files, whose text this module parses too (:func:`ipv4_of`, :func:`ipv6_of`), so that
the parsing runs under test on both interpreters.
"""
DOWN = "down"
UP = "up"
REBIND = "rebind"
REREGISTER = "reregister"
RECONNECT = "reconnect"

POLL_MS = 1000
RECONNECT_MS = 15000


class LinkWatch:
    def __init__(self, poll_ms=POLL_MS, reconnect_ms=RECONNECT_MS):
        if poll_ms <= 0:
            raise ValueError("link watch: poll_ms must be positive, not %d" % poll_ms)
        self.poll_ms = poll_ms
        self.reconnect_ms = reconnect_ms
        self.up = False  # as the status was last told
        self.address = None  # the address the box's sockets are bound to (advertise)
        self.down_since = None
        self._reconnect_at = None
        self._next = None

    def start(self, up, address, now_ms):
        """The link as the box found it when it started (its sockets bound to ADDRESS)."""
        self.up = bool(up) and address is not None
        self.address = address
        self.down_since = None if self.up else now_ms
        self._reconnect_at = None if self.up else now_ms + self.reconnect_ms
        self._next = now_ms + self.poll_ms

    def deadline(self):
        return self._next

    def update(self, up, address, now_ms):
        """What the runtime read of the link at NOW_MS: UP (bool) and ADDRESS (text, or None
        while it has none). Returns [(kind, value)] to act on, in order."""
        self._next = now_ms + self.poll_ms
        if not up or not address:
            if self.up:
                self.up = False
                self.down_since = now_ms
                self._reconnect_at = now_ms + self.reconnect_ms
                return [(DOWN, None)]
            if self._reconnect_at is not None and now_ms >= self._reconnect_at:
                self._reconnect_at = now_ms + self.reconnect_ms
                return [(RECONNECT, None)]
            return []
        out = []
        if address != self.address:
            old = self.address
            self.address = address
            out.append((REBIND, (old, address)))
        if out or not self.up:
            self.up = True
            self.down_since = None
            self._reconnect_at = None
            out.append((REREGISTER, None))
            out.append((UP, address))
        return out


# --- the kernel's text (Linux /proc, for the host) ------------------------------------------------
def _hex_ipv4(text):
    """/proc/net/route's address: 8 hex digits in host (little-endian) byte order."""
    if len(text) != 8:
        raise ValueError("route: bad address %r" % text)
    v = int(text, 16)
    return v & 0xFF, (v >> 8) & 0xFF, (v >> 16) & 0xFF, (v >> 24) & 0xFF


def _ipv4_bytes(text):
    parts = text.split(".")
    if len(parts) != 4:
        return None
    try:
        b = tuple(int(p) for p in parts)
    except ValueError:
        return None
    for x in b:
        if not 0 <= x <= 255:
            return None
    return b


def ipv4_of(interface, route_text, fib_trie_text):
    """The IPv4 address of INTERFACE, from /proc/net/route (the subnets the interface reaches
    directly: routes without a gateway) and /proc/net/fib_trie (the host's local addresses:
    ``/32 host LOCAL`` leaves): the first local address inside one of those subnets, or None
    (no link, no address). ValueError for text that is not what the kernel writes."""
    lines = route_text.split("\n")
    if not lines or not lines[0].startswith("Iface"):
        raise ValueError("route: no header line")
    nets = []
    for line in lines[1:]:
        f = line.split()
        if not f:
            continue
        if len(f) < 8:
            raise ValueError("route: short line %r" % line)
        if f[0] != interface or int(f[3], 16) & 0x0002:  # RTF_GATEWAY: not on the link
            continue
        nets.append((_hex_ipv4(f[1]), _hex_ipv4(f[7])))
    if not nets:
        return None
    local = []
    last = None
    for line in fib_trie_text.split("\n"):
        s = line.strip()
        if s.startswith("|--"):
            last = s[3:].strip()
        elif s == "/32 host LOCAL" and last is not None and last not in local:
            local.append(last)
    for addr in local:
        b = _ipv4_bytes(addr)
        if b is None:
            continue
        for net, mask in nets:
            if net == (0, 0, 0, 0) and mask == (0, 0, 0, 0):
                continue  # a default route without gateway names no subnet
            if all((b[i] & mask[i]) == net[i] for i in range(4)):
                return addr
    return None


IFA_F_TENTATIVE = 0x40  # an address still in duplicate address detection (RFC 4862)
IFA_F_DADFAILED = 0x08


def ipv6_of(interface, if_inet6_text):
    """The first global IPv6 address of INTERFACE in /proc/net/if_inet6 (address, index, prefix
    length, scope, flags, name), tentative and failed ones left out, or None."""
    from zerotap.dns import format_ipv6
    for line in if_inet6_text.split("\n"):
        f = line.split()
        if not f:
            continue
        if len(f) != 6 or len(f[0]) != 32:
            raise ValueError("if_inet6: bad line %r" % line)
        if f[5] != interface or int(f[3], 16) != 0:  # scope 0: global
            continue
        if int(f[4], 16) & (IFA_F_TENTATIVE | IFA_F_DADFAILED):
            continue
        raw = bytes(int(f[0][i:i + 2], 16) for i in range(0, 32, 2))
        return format_ipv6(raw)
    return None

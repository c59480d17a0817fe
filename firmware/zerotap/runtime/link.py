"""Reading the box's network link, and following it (issue 14): the I/O side of
:mod:`zerotap.netwatch`.

    source = HostLink("eth0")       # the host: the kernel's files (CPython and the unix port)
    source = NicLink(nic)           # a board: network.WLAN / network.LAN
    source.state()                  # (up, address or None); never raises
    Follower(box, source)           # a loop timer source: reads the link every second and
                                    # tells the box (Box.link_down, rebind, reregister, link_up)

``HostLink`` reads ``/sys/class/net/IF/operstate`` and ``carrier`` (up, and a cable or a peer
there) and the interface's address from ``/proc/net/route`` with ``/proc/net/fib_trie`` (IPv4)
or ``/proc/net/if_inet6`` (IPv6): plain files, which both interpreters read, of the network
namespace the box runs in. ``NicLink`` asks the board's interface (``isconnected()``, then
``ipconfig("addr4")`` or ``ifconfig()``); its ``reconnect`` makes a Wi-Fi station join again.
"""
from zerotap import netwatch


def _read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


class HostLink:
    def __init__(self, interface, ipv6=False, root=""):
        if not interface or "/" in interface or interface in (".", ".."):
            raise ValueError("network.interface: bad interface name %r" % (interface,))
        self.interface = interface
        self.ipv6 = ipv6
        self.root = root  # tests: a directory standing in for /

    def state(self):
        base = self.root + "/sys/class/net/" + self.interface + "/"
        oper = _read(base + "operstate")
        if oper is None:
            return False, None  # no such interface (yet)
        if oper.strip() not in ("up", "unknown"):
            return False, None
        carrier = _read(base + "carrier")  # unreadable while the interface is down
        if carrier is not None and carrier.strip() != "1":
            return False, None
        try:
            if self.ipv6:
                text = _read(self.root + "/proc/net/if_inet6")
                return True, netwatch.ipv6_of(self.interface, text or "")
            route = _read(self.root + "/proc/net/route")
            trie = _read(self.root + "/proc/net/fib_trie")
            if route is None or trie is None:
                return True, None
            return True, netwatch.ipv4_of(self.interface, route, trie)
        except ValueError:
            return True, None

    def reconnect(self):
        pass  # the host's own network manager brings its links back


class NicLink:
    """A board's interface (``network.WLAN`` or ``network.LAN``)."""

    def __init__(self, nic):
        self.nic = nic

    def state(self):
        from zerotap import board
        try:
            if not self.nic.isconnected():
                return False, None
            return True, board.address(self.nic)
        except (OSError, AttributeError, TypeError, ValueError):
            return False, None

    def reconnect(self):
        """A Wi-Fi station joins its network again (the driver keeps the SSID and key);
        Ethernet comes back by itself when the cable does."""
        connect = getattr(self.nic, "connect", None)
        if connect is None:
            return
        try:
            connect()
        except (OSError, TypeError, ValueError):
            pass


class Follower:
    """A loop timer source: reads SOURCE every ``poll_ms`` and tells BOX what changed."""

    def __init__(self, box, source, address, poll_ms=None):
        self.box = box
        self.source = source
        self.watch = netwatch.LinkWatch(poll_ms or netwatch.POLL_MS, netwatch.RECONNECT_MS)
        now = box.loop.clock()
        self.watch.start(True, address, now)
        box.loop.add_timer_source(self)

    def timer(self):
        return self.watch.deadline()

    def handle_timer(self, now):
        if now < self.watch.deadline():
            return
        up, address = self.source.state()
        for kind, value in self.watch.update(up, address, now):
            if kind == netwatch.DOWN:
                self.box.link_down(now)
            elif kind == netwatch.REBIND:
                self.box.rebind(value[0], value[1], now)
            elif kind == netwatch.REREGISTER:
                self.box.reregister(now)
            elif kind == netwatch.UP:
                self.box.link_up(value, now)
            elif kind == netwatch.RECONNECT:
                self.box.log("network: still down; asking the interface to join again")
                self.source.reconnect()

    def close(self):
        self.box.loop.remove_timer_source(self)

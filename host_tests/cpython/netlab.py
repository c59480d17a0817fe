"""A home network behind NAT and a piece of "internet", in network namespaces that a test makes
and removes (also on failure). No namespace has a link to the root namespace.

    with Netlab(udp_timeout_s=5) as lab:
        lab.run("lan", [...])                 # a command inside the LAN namespace
        lab.popen("net", [...])               # a process there (stop it by PID)
        lab.prefix("net")                     # ["ip", "netns", "exec", NAME]

    lan  10.77.1.2/24 (the box and its phone)        default route via 10.77.1.1
    nat  10.77.1.1/24 | 203.0.113.1/24               forwards; masquerades LAN -> net
    net  203.0.113.2/24 (+ .3, .4: more "hosts")     the provider, the far phone, DNS

The NAT is nftables ``masquerade`` (port-restricted cone, ports preserved where free). With
UDP_TIMEOUT_S the NAT namespace's conntrack UDP timeouts (``nf_conntrack_udp_timeout`` and
``..._stream``, per namespace) make its UDP mappings expire that fast, as a cheap home router
does.
Names are ``zt<pid>-lan``/``-nat``/``-net`` (at most 15 characters).
"""
import os
import subprocess

LAN_ADDR = "10.77.1.2"
LAN_GW = "10.77.1.1"
NAT_PUBLIC = "203.0.113.1"
NET_ADDR = "203.0.113.2"
NET_EXTRA = ("203.0.113.3", "203.0.113.4")


def _ip(*args, check=True):
    return subprocess.run(["ip"] + list(args), capture_output=True, text=True, check=check)


class Namespaces:
    """Network namespaces ``zt<pid>-<key>`` (one per key of KEYS) that a test makes and removes,
    also on failure; what every lab of the tests shares (this one, fallbacklab.FallbackLab)."""
    KEYS = ()

    def __init__(self):
        self.pid = os.getpid() % 10000000
        self.ns = {k: "zt%d-%s" % (self.pid, k) for k in self.KEYS}
        self.made = []

    def prefix(self, where):
        return ["ip", "netns", "exec", self.ns[where]]

    def run(self, where, cmd, **kw):
        kw.setdefault("capture_output", True)
        kw.setdefault("text", True)
        return subprocess.run(self.prefix(where) + list(cmd), **kw)

    def popen(self, where, cmd, **kw):
        return subprocess.Popen(self.prefix(where) + list(cmd), **kw)

    def nft(self, where, script):
        out = self.run(where, ["nft", "-f", "-"], input=script)
        if out.returncode != 0:
            raise AssertionError("nft in %s failed: %s\n%s" % (where, out.stderr, script))

    def __enter__(self):
        try:
            self._make()
        except BaseException:
            self.remove()
            raise
        return self

    def __exit__(self, *exc):
        self.remove()

    def _add_all(self):
        """Every namespace of KEYS, with its loopback up."""
        for k in self.KEYS:
            _ip("netns", "add", self.ns[k])
            self.made.append(self.ns[k])
            self.run(k, ["ip", "link", "set", "lo", "up"], check=True)

    def _site(self, site, nat, net, lan_ip, gw, public, net_ip):
        """A site behind a NAT, wired to the "internet" namespace NET (keys of KEYS): SITE's eth0
        (LAN_IP) to NAT's lan (GW), NAT's wan (PUBLIC) to NET's ``to<site>`` (NET_IP), default
        routes through the NAT and on to NET, forwarding on in the NAT. The NAT's rules are the
        caller's."""
        ns_site, ns_nat, ns_net = self.ns[site], self.ns[nat], self.ns[net]
        _ip("-n", ns_site, "link", "add", "eth0", "type", "veth", "peer", "name",
            "lan", "netns", ns_nat)
        _ip("-n", ns_nat, "link", "add", "wan", "type", "veth", "peer", "name",
            "to" + site, "netns", ns_net)
        _ip("-n", ns_site, "addr", "add", lan_ip + "/24", "dev", "eth0")
        _ip("-n", ns_nat, "addr", "add", gw + "/24", "dev", "lan")
        _ip("-n", ns_nat, "addr", "add", public + "/24", "dev", "wan")
        _ip("-n", ns_net, "addr", "add", net_ip + "/24", "dev", "to" + site)
        for ns, dev in ((ns_site, "eth0"), (ns_nat, "lan"), (ns_nat, "wan"), (ns_net, "to" + site)):
            _ip("-n", ns, "link", "set", dev, "up")
        _ip("-n", ns_site, "route", "add", "default", "via", gw)
        _ip("-n", ns_nat, "route", "add", "default", "via", net_ip)
        self.run(nat, ["sysctl", "-qw", "net.ipv4.ip_forward=1"], check=True)

    def remove(self):
        for name in reversed(self.made):
            _ip("netns", "del", name, check=False)
        self.made = []


class Netlab(Namespaces):
    KEYS = ("lan", "nat", "net")

    def __init__(self, udp_timeout_s=None):
        Namespaces.__init__(self)
        self.veth = {k: "zt%d%s" % (self.pid, k[0]) for k in ("lan", "net")}
        self.udp_timeout_s = udp_timeout_s

    def _make(self):
        self._add_all()
        lan, nat, net = self.ns["lan"], self.ns["nat"], self.ns["net"]
        # veth pairs made directly between namespaces (never in the root namespace)
        _ip("-n", lan, "link", "add", "eth0", "type", "veth", "peer", "name", self.veth["lan"],
            "netns", nat)
        _ip("-n", net, "link", "add", "eth0", "type", "veth", "peer", "name", self.veth["net"],
            "netns", nat)
        _ip("-n", lan, "addr", "add", LAN_ADDR + "/24", "dev", "eth0")
        _ip("-n", nat, "addr", "add", LAN_GW + "/24", "dev", self.veth["lan"])
        _ip("-n", nat, "addr", "add", NAT_PUBLIC + "/24", "dev", self.veth["net"])
        _ip("-n", net, "addr", "add", NET_ADDR + "/24", "dev", "eth0")
        for extra in NET_EXTRA:
            _ip("-n", net, "addr", "add", extra + "/24", "dev", "eth0")
        for ns, dev in ((lan, "eth0"), (nat, self.veth["lan"]), (nat, self.veth["net"]),
                        (net, "eth0")):
            _ip("-n", ns, "link", "set", dev, "up")
        _ip("-n", lan, "route", "add", "default", "via", LAN_GW)
        self.run("nat", ["sysctl", "-qw", "net.ipv4.ip_forward=1"], check=True)
        lines = ["table ip zt_nat {"]
        if self.udp_timeout_s:
            # the NAT namespace's own conntrack UDP timeouts. (An nftables "ct timeout" policy
            # loads on this kernel but was not applied to new UDP flows: conntrack still showed
            # 30 s; the per-namespace sysctls are.)
            t = int(self.udp_timeout_s)
            for key in ("nf_conntrack_udp_timeout", "nf_conntrack_udp_timeout_stream"):
                out = self.run("nat", ["sysctl", "-qw", "net.netfilter.%s=%d" % (key, t)])
                if out.returncode != 0:
                    raise AssertionError("sysctl %s in the NAT namespace: %s" % (key, out.stderr))
        lines += ["  chain post {", "    type nat hook postrouting priority srcnat;",
                  "    oifname \"%s\" masquerade;" % self.veth["net"], "  }", "}", ""]
        self.nft("nat", "\n".join(lines))

"""Two sites behind NAT and an "internet", in network namespaces that a test makes and removes
(also on failure), for the ICE fallback. No namespace has a link to the root namespace.

    with FallbackLab(symmetric=False) as lab:
        lab.run("a", [...]); lab.popen("net", [...]); lab.prefix("b")

    a    10.77.1.2/24, gw 10.77.1.1         site A's box
    na   10.77.1.1 | 203.0.113.1/24         site A's NAT (masquerade; "random": symmetric)
    b    10.77.2.2/24, gw 10.77.2.1         site B's box
    nb   10.77.2.1 | 198.51.100.1/24        site B's NAT
    net  203.0.113.2/24 and 198.51.100.2/24 the internet: forwards between the NATs, and hosts
                                            the provider's media relay, the helper and coturn

Names are ``zt<pid>-<k>`` (at most 15 characters).
"""
from netlab import Namespaces, _ip

SITES = {"a": ("10.77.1.2", "10.77.1.1", "203.0.113.1", "203.0.113.2"),
         "b": ("10.77.2.2", "10.77.2.1", "198.51.100.1", "198.51.100.2")}


class FallbackLab(Namespaces):
    KEYS = ("a", "na", "b", "nb", "net")

    def __init__(self, symmetric=False):
        Namespaces.__init__(self)
        self.symmetric = symmetric

    def _make(self):
        self._add_all()
        net = self.ns["net"]
        for site, nat in (("a", "na"), ("b", "nb")):
            lan_ip, gw, public, net_ip = SITES[site]
            _ip("-n", self.ns[site], "link", "add", "eth0", "type", "veth", "peer", "name",
                "lan", "netns", self.ns[nat])
            _ip("-n", self.ns[nat], "link", "add", "wan", "type", "veth", "peer", "name",
                "to" + site, "netns", net)
            _ip("-n", self.ns[site], "addr", "add", lan_ip + "/24", "dev", "eth0")
            _ip("-n", self.ns[nat], "addr", "add", gw + "/24", "dev", "lan")
            _ip("-n", self.ns[nat], "addr", "add", public + "/24", "dev", "wan")
            _ip("-n", net, "addr", "add", net_ip + "/24", "dev", "to" + site)
            for ns, dev in ((self.ns[site], "eth0"), (self.ns[nat], "lan"),
                            (self.ns[nat], "wan"), (net, "to" + site)):
                _ip("-n", ns, "link", "set", dev, "up")
            _ip("-n", self.ns[site], "route", "add", "default", "via", gw)
            _ip("-n", self.ns[nat], "route", "add", "default", "via", net_ip)
            self.run(nat, ["sysctl", "-qw", "net.ipv4.ip_forward=1"], check=True)
            # unsolicited packets from outside are dropped before their conntrack entry is
            # confirmed, as a home router does: otherwise such an entry takes the port that the
            # box's own later packets would be mapped to, and masquerade picks another
            self.nft(nat, "table ip zt_nat {\n  chain post {\n    type nat hook postrouting "
                          "priority srcnat;\n    oifname \"wan\" masquerade%s;\n  }\n"
                          "  chain in {\n    type filter hook input priority filter;\n"
                          "    iifname \"wan\" ct state new drop;\n  }\n}\n"
                     % (" random" if self.symmetric else ""))
        self.run("net", ["sysctl", "-qw", "net.ipv4.ip_forward=1"], check=True)

    def block_zrtp_at_provider(self, ports):
        """The provider drops UDP to its media relay (PORTS) whose payload carries the ZRTP
        cookie at offset 4; the direct path between the sites is forwarded, not filtered."""
        self.nft("net", "table inet zt_prov {\n  chain in {\n    type filter hook input "
                        "priority filter;\n    udp dport { %s } udp length > 20 @th,96,32 "
                        "0x5a525450 counter drop\n  }\n}\n" % ", ".join(str(p) for p in ports))

    def zrtp_dropped(self):
        out = self.run("net", ["nft", "list", "table", "inet", "zt_prov"])
        for line in out.stdout.splitlines():
            if "counter packets" in line:
                return int(line.split("counter packets")[1].split()[0])
        return 0

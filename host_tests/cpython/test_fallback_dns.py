"""The ICE fallback finds its servers by name (issue 17): the helper URL's host (no
``ice.helper_address``) and the STUN server (``ice.stun`` = ``stun.test:PORT``) are resolved
through ``network.dns`` by the loop's non-blocking resolver, against a real DNS server (dnsmasq,
started by the test on a free loopback port). Two boxes (CPython and MicroPython,
fallback_box.py), ZRTP dropped by the provider relay, the real helper over HTTPS and coturn as
the STUN server: both SECURE on the direct path, and dnsmasq saw the boxes' queries. A STUN name
that does not exist ends the attempt in CLEAR with the reason."""
import json

from coturn import Coturn
from dnsmasq import Dnsmasq
from ports import udp_port
from test_fallback_loopback import Relay, _ports, _result, _start, helper  # noqa: F401


def _config(net_port, helper, ca, dns_port, stun):
    return {"phone": {"sip": "127.0.0.1:%d" % udp_port(), "allow": ["127.0.0.1"],
                      "rtp": "41000-41001"},
            "network": {"sip": "127.0.0.1:%d" % udp_port(),
                        "rtp": "%d-%d" % (net_port, net_port + 3),
                        "dns": ["127.0.0.1:%d" % dns_port]},
            "ice": {"helper_url": "https://icehelper.test:%d" % helper.tls_port,
                    "helper_ca": str(ca.pem), "stun": stun, "after_s": 2, "deadline_s": 20}}


def test_helper_and_stun_by_name_both_secure(helper, tmp_path):  # noqa: F811
    h, ca = helper
    with Coturn() as turn:
        d = Dnsmasq(tmp_path / "dns", udp_port(), ["host-record=icehelper.test,127.0.0.1",
                                                   "host-record=stun.test,127.0.0.1"]).start()
        pa, pb = _ports(), _ports()
        relay = Relay(pa, pb).start()
        try:
            stun = "stun.test:%d" % turn.addr[1]
            common = {"run_s": 2, "limit_s": 60}
            sa = dict(common, config=_config(pa, h, ca, d.port, stun), direction="out",
                      peer="sip:b@x", provider=["127.0.0.1", relay.ports[0]])
            sb = dict(common, config=_config(pb, h, ca, d.port, stun), direction="in",
                      peer="sip:a@x", provider=["127.0.0.1", relay.ports[1]])
            procs = [_start("cpython", sa, tmp_path, "a"),
                     _start("micropython", sb, tmp_path, "b")]
            ra, rb = _result(procs[0]), _result(procs[1])
            log = d.log_text().lower()  # the queries' letters have a random case (0x20)
        finally:
            relay.stop()
            d.stop()
    for r in (ra, rb):
        assert r["security"] == "secure" and r["step"] == "direct", (r["reason"], r["log"][-20:])
        # the agent was made once stun.test was resolved (on loopback its server-reflexive
        # candidate equals the host one and is left out as redundant)
        assert any(" gathered host:127.0.0.1:" in line for line in r["log"]), r["log"]
    assert ra["sas"] == rb["sas"]
    assert log.count("query[a] icehelper.test") >= 2, log[-2000:]
    assert log.count("query[a] stun.test") >= 2, log[-2000:]


def test_a_stun_name_that_does_not_resolve_ends_clear_with_the_reason(helper, tmp_path):  # noqa
    h, ca = helper
    d = Dnsmasq(tmp_path / "dns", udp_port(), ["host-record=icehelper.test,127.0.0.1"]).start()
    try:
        pa = _ports()
        s = {"config": _config(pa, h, ca, d.port, "nostun.test:3478"), "direction": "out",
             "peer": "sip:b@x", "provider": ["127.0.0.1", udp_port()], "run_s": 1,
             "limit_s": 20}
        r = _result(_start("cpython", s, tmp_path, "a"))
    finally:
        d.stop()
    assert r["step"] == "failed" and r["security"] == "clear", json.dumps(r)[:2000]
    assert r["reason"].startswith("cannot resolve nostun.test: "), r["reason"]
    assert r["failed_ms"] < 2000 + 3000, r["failed_ms"]

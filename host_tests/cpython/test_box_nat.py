"""The box behind a home router (issue 13, tests 1 and 4), in network namespaces the test makes
and removes: the box and a plain linphonec in a LAN behind an nftables masquerade NAT whose UDP
mappings expire after NAT_TIMEOUT_S; Kamailio and the far linphonec in an "internet" namespace.

The box learns its public address from its registrar's responses (rport/received), advertises it
toward the network only, and keeps the mapping open with keepalives (network.keepalive_s shorter
than the router's timeout). After three times the router's timeout with no call, the far phone
calls: the near phone rings, the call becomes SECURE with the same SAS on the box and the far
phone; then the near phone calls out, SECURE again.
"""
import re
import time

import pytest

from boxpeers import DOMAIN, call_secure, hang_up, nat_site, stop_all
from boxproc import BoxProcess
from netlab import LAN_ADDR, NAT_PUBLIC, NET_ADDR, Netlab

NAT_TIMEOUT_S = 3
KEEPALIVE_S = 1


@pytest.mark.parametrize("interp", ["cpython", "micropython"])
def test_box_behind_nat_keeps_ringing_and_calls_are_secure(tmp_path, interp):
    with nat_site(tmp_path, interp, KEEPALIVE_S, NAT_TIMEOUT_S) as (lab, k, box, alice, bob):
        time.sleep(3 * NAT_TIMEOUT_S + 1)  # the router would have forgotten us by now
        s_in, sas_bob = call_secure(bob, "sip:alice@%s" % DOMAIN, [box], peer=bob)
        hang_up(bob, alice)
        mark = len(bob.lines)
        alice.call("sip:bob@%s" % DOMAIN)
        s_out = box.wait_secure(40, call=2)
        sas_out = bob.wait_for(r"Call \d+ is fully encrypted and auth token is (\S+)\.", 40,
                               start=mark).group(1)
        time.sleep(1)
        alice.terminate_call()
        log = k.log_text()
    assert s_in["direction"] == "in" and s_in["sas"] == sas_bob, (s_in, sas_bob)
    assert s_out["direction"] == "out" and s_out["sas"] == sas_out, (s_out, sas_out)
    box_lines = [s for s in box.statuses() if "call" not in s]
    assert box_lines[-1]["public"] == "%s:5080" % NAT_PUBLIC, box_lines[-1]
    assert box_lines[-1]["registered"]
    # the registrar saw the box only from the NAT's address, and the box advertised that one
    assert re.search(r"REQ INVITE sip:bob@%s from udp:%s:5080" % (DOMAIN, NAT_PUBLIC), log), log
    assert LAN_ADDR not in log.split("REQ INVITE sip:bob@")[1][:400] if "REQ INVITE sip:bob@" in \
        log else True


def test_without_keepalives_the_router_forgets_the_box(tmp_path):
    """The control: the same set-up with network.keepalive_s 0; after three NAT timeouts the far
    phone's INVITE no longer reaches the box (so the test above proves the keepalives)."""
    with nat_site(tmp_path, "cpython", 0, NAT_TIMEOUT_S) as (lab, k, box, alice, bob):
        time.sleep(3 * NAT_TIMEOUT_S + 1)
        bob.call("sip:alice@%s" % DOMAIN)
        time.sleep(8)
        statuses = box.call_statuses()
    assert statuses == [], statuses


def test_public_address_from_stun_at_coturn(tmp_path):
    """network.stun: the box asks coturn (Debian coturn, STUN only, in the "internet") for its
    public address before any SIP: the NAT's address, port preserved, shown in the status."""
    import subprocess
    from hostenv import need, stop_process, text_of, wait_until
    exe = need("turnserver", "the Debian package coturn")
    with Netlab() as lab:
        log = tmp_path / "coturn.log"
        turn = lab.popen("net", [exe, "-n", "--stun-only", "--no-tls", "--no-dtls", "--no-cli",
                                 "--listening-ip", NET_ADDR, "--listening-port", "3478",
                                 "--log-file", "stdout", "--simple-log"],
                         stdout=open(log, "wb"), stderr=subprocess.STDOUT)
        box = BoxProcess(tmp_path / "box", "A")
        box.prefix = lab.prefix("lan")
        box.config["network"]["sip"] = "%s:5080" % LAN_ADDR
        box.config["network"]["stun"] = "%s:3478" % NET_ADDR
        try:
            assert wait_until(lambda: "Total General servers" in text_of(log), 10, turn), \
                text_of(log)
            box.start()
            assert wait_until(lambda: any(s.get("public") for s in box.statuses()
                                          if "call" not in s), 10), box.log()
        finally:
            stop_all(box)
            stop_process(turn)
    lines = [s for s in box.statuses() if "call" not in s and s.get("public")]
    assert lines[-1]["public"] == "%s:5080" % NAT_PUBLIC, lines[-1]
    assert "nat: public address %s:5080 (from stun)" % NAT_PUBLIC in box.log()

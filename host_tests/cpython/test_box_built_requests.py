"""Issue 14: the requests the box builds itself (CANCEL, ACK, BYE) reach a provider it speaks
TLS with, with real peers only: Kamailio with its TLS module and a CA the test makes, alice's
linphonec behind the box (the box toward Kamailio over TLS), bob's linphonec registered at
Kamailio directly.

1. A fault in alice's call while bob's phone rings: the box cancels it over TLS (Kamailio sees
   the CANCEL from tls:, bob's phone stops ringing) and alice gets the box's final response.
2. A fault in an answered SECURE call: the box's BYE reaches bob over TLS, alice gets hers.
"""
import re

from boxpeers import DOMAIN, USERS, provider_account, start_all, stop_all, wait_registered
from hostenv import wait_until
from linphone import Linphone
from test_box_transports import _provider, _tls_box


def test_the_boxs_cancel_and_bye_go_over_tls_to_the_provider(tmp_path):
    ca, k = _provider(tmp_path)
    box = _tls_box(tmp_path, "A", k, ca)
    box.extra_env["ZEROTAP_FAULTS"] = "1"
    a = Linphone(tmp_path / "alice", account=provider_account("alice", box.phone_uri))
    b = Linphone(tmp_path / "bob", encryption="zrtp",
                 account={"identity": "sip:bob@%s" % DOMAIN, "proxy": "sip:127.0.0.1:%d" % k.udp,
                          "register": True, "username": "bob", "password": USERS["bob"],
                          "realm": DOMAIN, "expires": 300})
    try:
        start_all(k, box, a, b)
        wait_registered(20, a, b)
        # 1. bob's phone rings; the call fails in the box before anybody answers
        a.call("sip:bob@%s" % DOMAIN)
        b.wait_for(r"Receiving new incoming call", 20)
        first = box.wait_status(lambda s: s["state"] == "calling", 10, "call 1")
        assert box.control("fault %d now" % first["call"])["ok"]
        end1 = box.wait_status(lambda s: s["call"] == first["call"] and s["state"] == "ended",
                               10, "call 1 ended")
        b.wait_ended(10)
        a.wait_ended(10)
        # 2. bob answers the next call: SECURE, then a fault: BYE both ways
        mark_a, mark_b = len(a.lines), len(b.lines)
        a.call("sip:bob@%s" % DOMAIN)
        b.wait_for(r"Receiving new incoming call", 20, start=mark_b)
        b.command("answer")
        second = box.wait_secure(40)
        assert box.control("fault %d now" % second["call"])["ok"]
        b.wait_for(r"Call \d+ .*(ended|error)", 10, start=mark_b)
        a.wait_for(r"Call \d+ .*(ended|error)", 10, start=mark_a)
        end2 = box.wait_status(lambda s: s["call"] == second["call"] and s["state"] == "ended",
                               10, "call 2 ended")
        assert wait_until(lambda: re.search(r"REQ BYE \S+ from tls:", k.log_text()), 5)
        log = k.log_text()
    finally:
        stop_all(a, b, box, k)
    assert end1["security"] == "failed" and end1["error"] == \
        "internal error in the call's media: RuntimeError('injected fault: now')", end1
    assert re.search(r"REQ CANCEL sip:bob@%s from tls:127\.0\.0\.1" % DOMAIN, log), log[-3000:]
    assert "ZeroTap: internal error in the call" in a.log_text()  # the 500's Reason
    assert end2["security"] == "failed", end2
    assert "ZeroTap: internal error in the call" in b.log_text()  # the BYE's Reason

"""Issue 14, network changes, with real peers in network namespaces the test makes and removes:
the box and a plain linphonec (alice) in a LAN behind an nftables NAT, Kamailio and the far
linphonec (bob, ZRTP) in the "internet" (netlab.Netlab). The box follows the LAN interface
(``network.interface``).

The LAN link goes down: within a few seconds the box's status says ``network: down``. While it
is down the LAN gets another address (a new DHCP lease); the link comes back: the box binds its
network socket to the new address, registers alice's binding at Kamailio again (alice does not
register), the status says ``up`` with the new address, and bob's call reaches alice's phone and
is SECURE with the same SAS on the box and at bob.
"""
import re
import time

import pytest

from boxpeers import DOMAIN, box_lines, call_secure, hang_up, nat_site
from hostenv import wait_until
from netlab import LAN_ADDR, LAN_GW, NAT_PUBLIC

NEW_ADDR = "10.77.1.5"


def _wait_box(box, pred, timeout, what, start=0):
    """Wait for a box status line (not a call's) from the START-th on that PRED accepts."""
    if wait_until(lambda: any(pred(s) for s in box_lines(box)[start:]), timeout, box.proc,
                  interval=0.05):
        return
    raise AssertionError("box: no %s within %d s: %s\n%s" % (
        what, timeout, box_lines(box)[-5:], box.log()[-3000:]))


@pytest.mark.parametrize("interp", ["cpython", "micropython"])
def test_link_down_new_address_up_then_an_incoming_call_is_secure(tmp_path, interp):
    with nat_site(tmp_path, interp, 20, interface="eth0") as (lab, k, box, alice, bob):
        _wait_box(box, lambda s: s["registered"], 10, "registered")
        registers = k.log_text().count("REQ REGISTER sip:%s" % DOMAIN)
        alice_lines = len(alice.lines)
        # the link goes down
        seen = len(box_lines(box))
        t0 = time.monotonic()
        lab.run("lan", ["ip", "link", "set", "eth0", "down"], check=True)
        _wait_box(box, lambda s: s["network"] == "down", 5, "network down", seen)
        took_down = time.monotonic() - t0
        # a new lease while it is down, then the link comes back
        lab.run("lan", ["ip", "addr", "flush", "dev", "eth0"], check=True)
        lab.run("lan", ["ip", "addr", "add", NEW_ADDR + "/24", "dev", "eth0"], check=True)
        t1 = time.monotonic()
        lab.run("lan", ["ip", "link", "set", "eth0", "up"], check=True)
        lab.run("lan", ["ip", "route", "replace", "default", "via", LAN_GW], check=True)
        _wait_box(box, lambda s: s["network"] == "up" and s["ip"] == NEW_ADDR, 5,
                  "network up with the new address")
        took_up = time.monotonic() - t1
        assert wait_until(lambda: "sip: registered again (200 OK)" in box.log(), 10), \
            box.log()[-3000:]
        # bob calls alice: the call reaches her phone through the new address
        s_in, sas_bob = call_secure(bob, "sip:alice@%s" % DOMAIN, [box], peer=bob)
        alice.wait_connected(10)
        hang_up(bob, alice)
        log = k.log_text()
    assert took_down <= 3, took_down
    assert took_up <= 3, took_up
    lines = [(s["network"], s["ip"]) for s in box_lines(box)]
    first_up = lines.index(("up", LAN_ADDR))  # (the lines before it: the box starting)
    down = lines.index(("down", None), first_up)
    assert ("up", NEW_ADDR) in lines[down:] and lines[-1] == ("up", NEW_ADDR), lines
    assert "network: address %s -> %s: the sockets are bound again" % (LAN_ADDR, NEW_ADDR) \
        in box.log()
    assert s_in["direction"] == "in" and s_in["sas"] == sas_bob, (s_in, sas_bob)
    # one REGISTER more at Kamailio: the box's, for alice (her phone never registered again)
    assert log.count("REQ REGISTER sip:%s" % DOMAIN) == registers + 1, log[-4000:]
    assert not [x for x in alice.lines[alice_lines:] if "Registration" in x and "ok" in x]
    assert re.search(r"REQ REGISTER sip:%s from udp:%s:" % (DOMAIN, NAT_PUBLIC), log)

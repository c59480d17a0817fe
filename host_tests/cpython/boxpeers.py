"""The real peers of a box test (Kamailio, boxes, linphonecs, dnsmasq ...) as one group: started
in order, phones registered, a call placed until the boxes say SECURE, hung up, and every peer
stopped whatever became of the others. The box tests (test_box_*.py; test_web_browser.py its
stop_all) share these:

    try:
        start_all(kam, box_a, box_b, alice, bob)        # in this order
        wait_registered(20, alice, bob)
        sa, sb = call_secure(alice, "sip:bob@" + dom, [box_a, box_b])  # their SECURE statuses
        hang_up(alice, bob)                             # after 1 s of media; bob's end waited for
    finally:
        stop_all(alice, bob, box_a, box_b, kam)         # each one, even when another fails
    box_lines(box_a)                                    # the box's own status lines, no call's

and, for a box behind a home router in network namespaces (netlab.Netlab):

    with nat_site(tmp_path, "micropython", keepalive_s=1) as (lab, k, box, alice, bob):
        ...  # all four running, both phones registered; stopped and the lab removed after
"""
import time
from contextlib import contextmanager

from boxproc import BoxProcess
from kamailio_provider import Provider
from linphone import Linphone
from netlab import LAN_ADDR, NET_ADDR, NET_EXTRA, Netlab

DOMAIN = "sip.example.test"
USERS = {"alice": "alice-pw", "bob": "bob-pw"}


def start_all(*things):
    """Start each of THINGS, in the order given (a provider before the boxes that register at
    it, the boxes before their phones)."""
    for t in things:
        t.start()


def stop_all(*things):
    """Stop each of THINGS (None is passed over); one that fails to stop is reported and the
    others are stopped all the same."""
    for t in things:
        if t is not None:
            try:
                t.stop()
            except Exception as e:  # keep stopping the others
                print("stop %r: %r" % (t, e))


def wait_registered(timeout, *phones):
    """Until each of PHONES (linphonecs) has registered, TIMEOUT seconds for each."""
    for p in phones:
        p.wait_registered(timeout)


def call_secure(caller, uri, boxes, timeout=40, call=None, peer=None, peer_timeout=None):
    """CALLER calls URI; waits TIMEOUT seconds at most until each of BOXES says SECURE for call
    number CALL (default: any), then, with PEER (a ZRTP linphonec), PEER_TIMEOUT (default
    TIMEOUT) until PEER's call is encrypted. Returns the boxes' statuses, then PEER's SAS."""
    caller.call(uri)
    got = [box.wait_secure(timeout, call=call) for box in boxes]
    if peer is not None:
        got.append(peer.wait_encrypted(timeout if peer_timeout is None else peer_timeout))
    return got


def hang_up(phone, other, media_s=1):
    """After MEDIA_S seconds more of the call, PHONE hangs up; until OTHER's call has ended."""
    time.sleep(media_s)
    phone.terminate_call()
    other.wait_ended()


def box_lines(box):
    """The box's own status lines (network, registration), not its calls'."""
    return [s for s in box.statuses() if "call" not in s]


def provider_account(user, proxy, domain=DOMAIN):
    """A linphonec account that registers USER (password USER-pw) at DOMAIN through PROXY (a SIP
    URI: the box's phone side, or the provider itself)."""
    return {"identity": "sip:%s@%s" % (user, domain), "proxy": proxy, "route": proxy,
            "register": True, "username": user, "password": USERS[user], "realm": domain,
            "expires": 300}


def _nat_site(lab, tmp_path, interp, keepalive_s):
    """Kamailio and the far phone bob (ZRTP) in the "internet", the box and its plain phone alice
    in the LAN behind the NAT; nothing started yet."""
    k = Provider(tmp_path / "kam", NET_ADDR, 5060, 5060, USERS, domain=DOMAIN,
                 prefix=lab.prefix("net"))
    box = BoxProcess(tmp_path / "box", "A", interpreter=interp, proxy="%s:5060" % NET_ADDR)
    box.prefix = lab.prefix("lan")
    box.config["network"]["sip"] = "%s:5080" % LAN_ADDR
    box.config["network"]["keepalive_s"] = keepalive_s
    alice = Linphone(tmp_path / "alice", prefix=lab.prefix("lan"), auto_answer=True,
                     account=provider_account("alice", box.phone_uri))
    bob = Linphone(tmp_path / "bob", prefix=lab.prefix("net"), address=NET_EXTRA[0],
                   encryption="zrtp", auto_answer=True,
                   account=provider_account("bob", "sip:%s:5060" % NET_ADDR))
    return k, box, alice, bob


@contextmanager
def nat_site(tmp_path, interp, keepalive_s, udp_timeout_s=None, **network):
    """A Netlab (the router's UDP mappings expire after UDP_TIMEOUT_S) with Kamailio and bob in
    the "internet", the box (under INTERP, network.keepalive_s KEEPALIVE_S, NETWORK added to its
    network config) and alice in the LAN: all started and both phones registered. Yields (lab,
    kamailio, box, alice, bob); at the end all four are stopped, then the lab is removed."""
    with Netlab(udp_timeout_s=udp_timeout_s) as lab:
        k, box, alice, bob = _nat_site(lab, tmp_path, interp, keepalive_s)
        box.config["network"].update(network)
        try:
            start_all(k, box, alice, bob)
            wait_registered(20, alice, bob)
            yield lab, k, box, alice, bob
        finally:
            stop_all(alice, bob, box, k)

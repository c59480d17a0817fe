"""Issue 14, network changes: the link watch (sans-IO), the kernel's text it reads on the host,
the proxy registering the phones again, and the host runtime re-binding its sockets on loopback
(127.0.0.1 -> 127.0.0.2) under both interpreters."""
import os

from support import error_text, scratch
from vectors import load
from zerotap import config, netwatch
from zerotap import status as st
from zerotap.runtime import link as runtime_link
from zerotap.sip import message, proxy

import test_appliance_box as tb
import test_proxy_core as core

A, B = "10.77.1.2", "10.77.1.5"


# --- the watch ---------------------------------------------------------------------------------
def test_the_watch_reports_a_drop_once_and_asks_the_interface_to_join_again():
    w = netwatch.LinkWatch(poll_ms=1000, reconnect_ms=15000)
    w.start(True, A, 0)
    assert w.deadline() == 1000
    assert w.update(True, A, 1000) == []
    assert w.update(False, None, 2000) == [(netwatch.DOWN, None)]
    assert w.deadline() == 3000
    assert w.update(False, None, 3000) == []
    assert w.update(True, None, 9000) == []  # up, but no address yet (DHCP): still down
    assert w.update(False, None, 17000) == [(netwatch.RECONNECT, None)]
    assert w.update(False, None, 18000) == []
    assert w.update(False, None, 32000) == [(netwatch.RECONNECT, None)]


def test_the_link_back_with_its_address_registers_again_without_a_rebind():
    w = netwatch.LinkWatch()
    w.start(True, A, 0)
    w.update(False, None, 1000)
    assert w.update(True, A, 2000) == [(netwatch.REREGISTER, None), (netwatch.UP, A)]
    assert w.update(True, A, 3000) == []


def test_a_new_address_after_a_drop_rebinds_first():
    w = netwatch.LinkWatch()
    w.start(True, A, 0)
    w.update(False, None, 1000)
    assert w.update(True, B, 2000) == [(netwatch.REBIND, (A, B)), (netwatch.REREGISTER, None),
                                       (netwatch.UP, B)]
    assert w.address == B and w.up


def test_a_new_address_without_a_drop_rebinds_too():
    w = netwatch.LinkWatch()
    w.start(True, A, 0)
    assert w.update(True, B, 1000) == [(netwatch.REBIND, (A, B)), (netwatch.REREGISTER, None),
                                       (netwatch.UP, B)]


def test_a_box_started_without_a_link_comes_up_when_it_does():
    w = netwatch.LinkWatch()
    w.start(False, None, 0)
    assert w.update(True, A, 1000) == [(netwatch.REBIND, (None, A)),
                                       (netwatch.REREGISTER, None), (netwatch.UP, A)]


def test_the_poll_interval_must_be_positive():
    assert error_text(netwatch.LinkWatch, 0) == "link watch: poll_ms must be positive, not 0"


# --- the kernel's text ---------------------------------------------------------------------------
def test_the_interface_address_from_proc_net_matches_iproute2():
    v = load("proc_net_link.json")
    up = v["up"]
    for iface, want in v["expect_ipv4"].items():
        assert netwatch.ipv4_of(iface, up["route"], up["fib_trie"]) == want, iface
    for iface, want in v["expect_ipv6"].items():
        assert netwatch.ipv6_of(iface, up["if_inet6"]) == want, iface
    down = v["down"]
    for iface, want in v["expect_down_ipv4"].items():
        assert netwatch.ipv4_of(iface, down["route"], down["fib_trie"]) == want, iface
    assert netwatch.ipv4_of("eth9", up["route"], up["fib_trie"]) is None


def test_text_that_is_not_the_kernels_is_refused():
    assert error_text(netwatch.ipv4_of, "eth0", "eth0 0 0\n", "") == "route: no header line"
    assert error_text(netwatch.ipv4_of, "eth0", "Iface\tDestination\neth0\t0001\n", "") == \
        "route: short line 'eth0\\t0001'"
    assert error_text(netwatch.ipv6_of, "eth0", "fe80 02 40 20 80 eth0\n") == \
        "if_inet6: bad line 'fe80 02 40 20 80 eth0'"


def _fake_root(name, oper, carrier, v):
    root = scratch(name)
    for d in ("/sys", "/sys/class", "/sys/class/net", "/sys/class/net/eth0", "/proc",
              "/proc/net"):
        try:
            os.mkdir(root + d)
        except OSError:
            pass
    files = {"/sys/class/net/eth0/operstate": oper + "\n", "/proc/net/route": v["route"],
             "/proc/net/fib_trie": v["fib_trie"], "/proc/net/if_inet6": v["if_inet6"]}
    if carrier is not None:
        files["/sys/class/net/eth0/carrier"] = carrier + "\n"
    else:
        try:
            os.remove(root + "/sys/class/net/eth0/carrier")
        except OSError:
            pass
    for path, text in files.items():
        with open(root + path, "w") as f:
            f.write(text)
    return root


def test_the_host_link_reads_operstate_carrier_and_the_address():
    v = load("proc_net_link.json")
    root = _fake_root("link-up", "up", "1", v["up"])
    assert runtime_link.HostLink("eth0", root=root).state() == (True, A)
    assert runtime_link.HostLink("eth0", ipv6=True, root=root).state() == (True, "2001:db8::2")
    assert runtime_link.HostLink("eth7", root=root).state() == (False, None)  # no such link
    root = _fake_root("link-nocarrier", "lowerlayerdown", "0", v["up"])
    assert runtime_link.HostLink("eth0", root=root).state() == (False, None)
    root = _fake_root("link-down", "down", None, v["down"])
    assert runtime_link.HostLink("eth0", root=root).state() == (False, None)
    assert error_text(runtime_link.HostLink, "../x") == \
        "network.interface: bad interface name '../x'"


def test_network_interface_is_validated_and_named():
    obj = {"phone": {"sip": "127.0.0.1:5070", "allow": ["127.0.0.1"], "rtp": "40000-40099"},
           "network": {"sip": "10.77.1.2:5080", "rtp": "42000-42099", "interface": "eth0"}}
    assert config.parse(obj).network.interface == "eth0"
    for bad, msg in (("eth0/x", "network.interface: bad interface name 'eth0/x'"),
                     ("averyverylongname", "network.interface: must have 1 to 15 characters"),
                     (5, "network.interface: must be a string, not a number")):
        obj["network"]["interface"] = bad
        assert error_text(config.parse, obj) == msg, bad
    del obj["network"]["interface"]
    assert config.parse(obj).network.interface is None


# --- the proxy registers the phones again ---------------------------------------------------
REGISTRAR = ("192.0.2.10", 5060)


def _register(p, now):
    req = ("REGISTER sip:example.test SIP/2.0\r\n"
           "Via: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bK.reg1;rport\r\n"
           "From: <sip:alice@example.test>;tag=r1\r\nTo: <sip:alice@example.test>\r\n"
           "Call-ID: reg-alice\r\nCSeq: 21 REGISTER\r\nMax-Forwards: 70\r\n"
           "Route: <sip:192.0.2.10;lr>\r\n"
           "Authorization: Digest realm=\"example.test\", nonce=\"n1\", username=\"alice\", "
           "uri=\"sip:example.test\", response=\"0123456789abcdef0123456789abcdef\"\r\n"
           "Contact: <sip:alice@127.0.0.1:5062>;expires=600\r\nExpires: 600\r\n"
           "Content-Length: 0\r\n\r\n").encode()
    side, fwd, dest = core._one(p.receive(proxy.PHONE, req, core.PHONE, now))
    assert side == proxy.NETWORK and dest == REGISTRAR
    ok = message.make_response(fwd, 200, "OK", "reg")
    ok.set("Contact", [fwd.get("Contact") + ";expires=600"])
    p.receive(proxy.NETWORK, ok.serialize(), REGISTRAR, now + 50)
    return fwd


def test_the_proxy_registers_the_bindings_again_from_the_new_address():
    p, box, logs = core._proxy()
    fwd = _register(p, 1000)
    assert box.registered
    old_contact = fwd.get("Contact")
    assert old_contact == "<sip:alice@198.51.100.7:5080;zt=1>;expires=600"
    p.readdress(proxy.NETWORK, "198.51.100.9", "198.51.100.9")
    out = p.reregister(11000)
    assert len(out) == 1
    side, data, dest = out[0]
    assert side == proxy.NETWORK and dest == REGISTRAR
    r = message.parse(data)
    assert r.method == "REGISTER" and str(r.uri) == "sip:example.test"
    vias = r.vias()
    assert len(vias) == 1 and (vias[0].host, vias[0].port) == ("198.51.100.9", 5080)
    assert vias[0].branch.startswith("z9hG4bKztreg")
    assert r.get_all("Contact") == ["<sip:alice@198.51.100.9:5080;zt=1>;expires=590",
                                    "<sip:alice@198.51.100.7:5080;zt=1>;expires=0"]
    # the phone's credentials, route, From and To as it sent them; a Call-ID of the box's own
    for h in ("Authorization", "Route", "From", "To"):
        assert r.get(h) == fwd.get(h), h
    assert r.get("Call-ID").startswith("reg-alice-zt") and r.get("CSeq") == "1 REGISTER"
    # the registrar's 200 renews the binding; a 401 shows why it could not
    ok = message.make_response(r, 200, "OK", "reg")
    ok.set("Contact", ["<sip:alice@198.51.100.9:5080;zt=1>;expires=600"])
    assert p.receive(proxy.NETWORK, ok.serialize(), REGISTRAR, 11050) == []
    assert p.bindings["1"].expires_at == 11050 + 600000 and box.registration_error is None
    r2 = message.parse(p.reregister(12000)[0][1])
    assert r2.get("CSeq") == "2 REGISTER" and len(r2.get_all("Contact")) == 1  # no old one now
    no = message.make_response(r2, 401, "Unauthorized", "reg")
    assert p.receive(proxy.NETWORK, no.serialize(), REGISTRAR, 12050) == []
    assert box.registration_error == ("registering again after the network change: 401 "
                                      "Unauthorized (the phone's next REGISTER renews it)")
    # the phone's own next REGISTER carries the new address
    fwd2 = _register(p, 13000)
    assert fwd2.get("Contact") == "<sip:alice@198.51.100.9:5080;zt=1>;expires=600"


def test_an_unanswered_register_is_sent_again_then_given_up():
    p, box, logs = core._proxy()
    _register(p, 1000)
    p.readdress(proxy.NETWORK, "198.51.100.9", "198.51.100.9")
    first = message.parse(p.reregister(5000)[0][1])
    assert p.timer() == 5000 + proxy.REREGISTER_RETRY_MS
    seqs = []
    now = 5000
    for _ in range(proxy.REREGISTER_TRIES):
        now = p.timer()
        p.handle_timer(now)
        out = p.take_outbox()
        r = message.parse(out[0][1])
        seqs.append(r.get("CSeq"))
        assert len(r.get_all("Contact")) == 2  # the old contact still to be removed
    assert [first.get("CSeq")] + seqs == ["%d REGISTER" % i for i in range(1, 6)]
    p.handle_timer(p.timer())
    assert p.take_outbox() == [] and box.registration_error == (
        "registering again after the network change: no answer")
    assert p.timer() > now + 100000  # nothing more due (the binding's expiry)


def test_a_late_response_to_the_old_address_is_still_the_boxs():
    p, _, _ = core._proxy()
    _, fwd, _ = core._forward_invite(p)
    p.readdress(proxy.NETWORK, "198.51.100.9", "198.51.100.9")
    out = p.receive(proxy.NETWORK, core._response(fwd, 180, "Ringing"), core.FAR, 1100)
    assert len(out) == 1 and out[0][0] == proxy.PHONE


def test_nothing_to_register_again_without_a_register():
    p, _, _ = core._proxy()
    assert p.reregister(1000) == []


# --- the host runtime re-binds on loopback --------------------------------------------------
class FakeLink:
    def __init__(self, address):
        self.up = True
        self.address = address
        self.reconnects = 0

    def state(self):
        return (self.up, self.address if self.up else None)

    def reconnect(self):
        self.reconnects += 1


def _turn(b, rounds=4):
    """tb._turn, and the loop's timer sources (the link follower, the stream layer)."""
    for _ in range(rounds):
        tb._turn(b, 1)
        b.loop.serve_timers()


def _network_lines(path):
    import json
    out = []
    with open(path) as f:
        for line in f:
            d = json.loads(line)
            if "call" not in d:
                out.append((d["network"], d["ip"]))
    return out


def test_the_box_follows_its_link_down_up_and_to_a_new_address():
    d = scratch("appl-link")
    b, logs = tb._box(d)
    phone, registrar, far = tb.Peer("alice"), tb.Peer("reg"), tb.Peer("bob")
    link = FakeLink("127.0.0.1")
    b.follow_link(link, poll_ms=30)
    try:
        b.status.set_network(True, "127.0.0.1")
        # the phone registers through the box; the registrar confirms
        phone.send(("REGISTER sip:127.0.0.1:%d SIP/2.0\r\n"
                    "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bKr1;rport\r\n"
                    "From: <sip:alice@127.0.0.1>;tag=r1\r\nTo: <sip:alice@127.0.0.1>\r\n"
                    "Call-ID: reg-1\r\nCSeq: 1 REGISTER\r\nMax-Forwards: 70\r\n"
                    "Route: <sip:127.0.0.1:%d;lr>\r\n"
                    "Contact: <sip:alice@127.0.0.1:%d>\r\nExpires: 600\r\nContent-Length: 0\r\n\r\n"
                    % (registrar.port, phone.port, registrar.port, phone.port)).encode(),
                   b.cfg.phone.port)
        _turn(b)
        registrar.receive()
        reg = registrar.got[-1]
        ok = message.make_response(reg, 200, "OK", "k")
        ok.set("Contact", [reg.get("Contact") + ";expires=600"])
        registrar.send(ok.serialize(), b.cfg.network.port)
        _turn(b)
        assert b.status.registered
        c = tb._call(b, phone, far, "link-call")
        # the link drops: network down, the call goes on
        link.up = False
        _turn(b, 6)
        assert b.status.network == st.NET_DOWN and len(b.media) == 1
        # it comes back with another address: the call ends (BYE to the phone), the sockets are
        # bound on 127.0.0.2, the registrar gets a REGISTER from there
        port = b.cfg.network.port
        link.up, link.address = True, "127.0.0.2"
        _turn(b, 6)
        assert b.status.network == st.NET_UP and b.status.ip == "127.0.0.2"
        assert b.cfg.network.host == "127.0.0.2" and b.sip[1].host == "127.0.0.2"
        # the phone side had the address too (as on a board): it moves as well, its TCP
        # listener with it
        assert b.cfg.network.port == port and b.sip[0].host == "127.0.0.2"
        assert b.net.transport.listener.host == "127.0.0.2"
        assert b.media == [] and len(tb._byes(phone, "link-call")) == 1
        registrar.receive()
        again = [m for m in registrar.got if m.is_request and m.method == "REGISTER"][-1]
        assert again.get_all("Contact")[0].startswith("<sip:alice@127.0.0.2:%d;zt=1>" % port)
        assert again.get_all("Contact")[1] == "<sip:alice@127.0.0.1:%d;zt=1>;expires=0" % port
        assert again.vias()[0].host == "127.0.0.2"
        # the new socket answers: the registrar's 200 comes back through it
        ok = message.make_response(again, 200, "OK", "k")
        ok.set("Contact", [again.get_all("Contact")[0]])
        registrar.send(ok.serialize(), port)  # to 127.0.0.1: nobody listens there now
        _turn(b)
        assert "sip: registered again (200 OK)" not in logs
        import socket
        registrar.sip.sendto(ok.serialize(),
                             socket.getaddrinfo("127.0.0.2", port, 0, socket.SOCK_DGRAM)[0][-1])
        _turn(b)
        assert "sip: registered again (200 OK)" in logs, logs[-5:]
        assert "network: address 127.0.0.1 -> 127.0.0.2: the sockets are bound again" in logs
        assert c is not None
    finally:
        b.shutdown()
        for p in (phone, registrar, far):
            p.close()
    lines = _network_lines(d + "/status.jsonl")
    assert ("down", None) in lines and lines[-1] == ("up", "127.0.0.2"), lines
    assert lines.index(("down", None)) < lines.index(("up", "127.0.0.2"))


def _link_cfg(d, p, network=None, **more):
    """A box's config on the ports p (phone SIP, network SIP, control, ...), its RTP ranges
    above the last of them, its files in d; network: more of the network section, more: more
    sections."""
    low = p[-1] + 100
    obj = {
        "phone": {"sip": "127.0.0.1:%d" % p[0], "allow": ["127.0.0.1"],
                  "rtp": "%d-%d" % (low, low + 19)},
        "network": {"sip": "127.0.0.1:%d" % p[1], "rtp": "%d-%d" % (low + 20, low + 39)},
        "zrtp": {"cache": d + "/cache"}, "status": d + "/status.jsonl",
        "control": "127.0.0.1:%d" % p[2]}
    obj["network"].update(network or {})
    obj.update(more)
    return config.parse(obj)


def test_the_web_page_listens_on_the_new_address_too():
    import socket
    d = scratch("appl-link-web")
    p = tb._ports(4)
    cfg = _link_cfg(d, p, web={"listen": "127.0.0.1:%d" % p[3]})
    b, logs = tb._box(d, cfg=cfg)
    link = FakeLink("127.0.0.1")
    b.follow_link(link, poll_ms=20)
    try:
        link.address = "127.0.0.2"
        _turn(b, 4)
        assert b.web.listener.host == "127.0.0.2" and b.web.listener.port == p[3], logs[-4:]
        assert b.cfg.web.listen == ("127.0.0.2", p[3])
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.connect(socket.getaddrinfo("127.0.0.2", p[3], 0, socket.SOCK_STREAM)[0][-1])
        finally:
            s.close()
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        refused = False
        try:
            s.connect(socket.getaddrinfo("127.0.0.1", p[3], 0, socket.SOCK_STREAM)[0][-1])
        except OSError:
            refused = True
        finally:
            s.close()
        assert refused, "the old address still takes connections"
    finally:
        b.shutdown()


def test_a_box_advertising_a_forwarded_public_address_keeps_it_while_it_follows_its_link():
    """``network.address`` is what the box advertises, not what its interface has: behind a
    router that forwards the ports, the public address (config.py's example, 203.0.113.5). The
    host box follows ``network.interface`` (``python -m zerotap run`` gives no address): the
    interface's own, unchanged, address is no address change. Nothing is bound again, the
    public address stays advertised, and a call goes on."""
    d = scratch("appl-link-public")
    p = tb._ports(3)
    cfg = _link_cfg(d, p, network={"address": "203.0.113.5"})
    b, logs = tb._box(d, cfg=cfg)
    phone, far = tb.Peer("alice"), tb.Peer("bob")
    try:
        c = tb._call(b, phone, far, "public-call")
        b.follow_link(FakeLink("127.0.0.1"), poll_ms=20)  # as __main__ does: no address given
        _turn(b, 8)  # 20 ms turns: several reads of the link
        assert not [t for t in logs if t.startswith("network: address ")], logs
        assert b.cfg.network.address == "203.0.113.5" and len(b.media) == 1
        assert tb._byes(phone, "public-call") == [] and c is not None
    finally:
        b.shutdown()
        phone.close()
        far.close()


def test_a_box_started_before_its_link_has_an_address_keeps_its_forwarded_public_address():
    """As above, but the interface has no address yet when the box starts (DHCP late, the cable
    still out): when the link comes up with the address the box's sockets are bound to, that is
    no address change either. Nothing is bound again and the public address stays advertised."""
    d = scratch("appl-link-public-late")
    p = tb._ports(3)
    cfg = _link_cfg(d, p, network={"address": "203.0.113.5"})
    b, logs = tb._box(d, cfg=cfg)
    try:
        link = FakeLink("127.0.0.1")
        link.up = False  # no address yet
        b.follow_link(link, poll_ms=20)  # as __main__ does: no address given
        _turn(b, 4)
        link.up = True  # DHCP answered: the address the sockets are bound to
        _turn(b, 8)
        assert not [t for t in logs if t.startswith("network: address ")], logs
        assert b.cfg.network.address == "203.0.113.5"
    finally:
        b.shutdown()

"""A box up for weeks and months without a reset, sans-IO (so also on the board32 rig, a 32-bit
board with 112 KiB of heap): what grows with time and must not. The Box itself (sockets) is in
test_months_box.py."""


def _nat_register(p, i, public):
    """The phone's REGISTER number I through the box, and the registrar's 200 OK saying it saw the
    box from PUBLIC (received/rport on the box's Via: the router mapped it there)."""
    from zerotap.sip import message, proxy
    reg = ("REGISTER sip:127.0.0.1:5070 SIP/2.0\r\n"
           "Via: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bKr%d;rport\r\n"
           "From: <sip:alice@sip.example.test>;tag=r1\r\nTo: <sip:alice@sip.example.test>\r\n"
           "Call-ID: reg-1\r\nCSeq: %d REGISTER\r\nMax-Forwards: 70\r\n"
           "Contact: <sip:alice@127.0.0.1:5062>\r\nExpires: 300\r\nContent-Length: 0\r\n\r\n" % (i, i)).encode()
    out = p.receive(proxy.PHONE, reg, ("127.0.0.1", 5062), 1000 * i)
    assert len(out) == 1, out
    msg = message.parse(out[0][1])
    resp = message.make_response(msg, 200, "OK")
    via = resp.vias()[0]
    via.set_param("received", public[0])
    via.set_param("rport", str(public[1]))
    resp.set("Via", [str(via)] + resp.get_all("Via")[1:])
    resp.set("Contact", "<sip:alice@%s:%d>;expires=300" % public)
    back = p.receive(proxy.NETWORK, resp.serialize(), ("192.0.2.10", 5060), 1000 * i + 50)
    assert len(back) == 1 and back[0][2] == ("127.0.0.1", 5062), back  # the phone has its 200


def test_a_nat_that_maps_the_box_anew_each_day_costs_no_heap_over_months():
    # A router that gives the box a new public address every day (a DSL line reconnected each
    # night, a carrier NAT's new port): the registrar's answers tell the box (RFC 3581), and the
    # box takes responses sent to its recent public addresses as its own. Each change kept two
    # more addresses for good: a board's heap ran out within the year.
    from support import heap_done, heap_used
    from zerotap import config, status
    from test_proxy_core import FakeFactory
    from zerotap.sip import proxy
    p = proxy.Proxy(config.parse({
        "phone": {"sip": "127.0.0.1:5070", "allow": ["127.0.0.1"], "rtp": "40000-40099"},
        "network": {"sip": "10.0.0.2:5080", "rtp": "42000-42099", "proxy": "192.0.2.10:5060"}}),
        FakeFactory(), status.BoxStatus(), lambda text: None)
    day = 0
    try:
        heap_used()  # (CPython: the tracing starts here; what was made before is not counted)
        while day < 60:
            day += 1
            _nat_register(p, day, ("203.0.%d.%d" % (day // 200, day % 200 + 1), 40000 + day))
        before = heap_used()
        while day < 240:
            day += 1
            _nat_register(p, day, ("203.0.%d.%d" % (day // 200, day % 200 + 1), 40000 + day))
        grown = heap_used() - before
    finally:
        heap_done()
    assert p.nat.public == ("203.0.1.41", 40240)
    # the latest address is still the box's own (a late response to it is taken)
    assert ("203.0.1.41", 40240) in p.public_seen
    assert grown < 2048, "180 days of new public addresses kept %d bytes" % grown

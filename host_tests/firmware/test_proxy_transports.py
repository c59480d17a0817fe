"""The proxy's transports (issue 13), sans-IO: each hop's transport (network.transport, the
URI's transport= or sips:), the box's Via (with alias on streams), Record-Route entries that name
the transport of their own leg, REGISTER contacts, the public address behind NAT toward the
network only, and responses over the connection the request came on."""
from test_proxy_core import PHONE, SDP_FAR, FakeFactory, _invite
from zerotap import config, status
from zerotap.sip import message, proxy

KAM = ("192.0.2.10", 5061)


def _one(out):
    assert len(out) == 1, out
    return out[0]


def _proxy(transport="tls", **network):
    obj = {"phone": {"sip": "127.0.0.1:5070", "allow": ["127.0.0.1"], "rtp": "40000-40099"},
           "network": {"sip": "10.0.0.2:5080", "rtp": "42000-42099",
                       "proxy": "%s:%d" % KAM, "transport": transport}}
    if transport == "tls":
        obj["network"]["tls"] = {"ca": "ca.pem", "name": "sip.example.test"}
    obj["network"].update(network)
    return proxy.Proxy(config.parse(obj), FakeFactory(), status.BoxStatus(), lambda t: None)


def test_outgoing_invite_goes_over_tls_with_per_leg_record_routes():
    p = _proxy()
    out = _one(p.receive(proxy.PHONE, _invite(uri="sip:bob@sip.example.test"), PHONE, 1000))
    side, data, dest, transport = out
    assert (side, dest, transport) == (proxy.NETWORK, KAM, "TLS")
    msg = message.parse(data)
    via = msg.vias()[0]
    assert via.transport == "TLS" and via.has_param("alias") and via.has_param("rport")
    rr = msg.get_all("Record-Route")
    assert rr == ["<sip:10.0.0.2:5080;transport=tls;lr>", "<sip:127.0.0.1:5070;lr>"]


def test_incoming_invite_over_tls_record_routes_the_phone_leg_without_tls():
    p = _proxy(transport="tls")
    body = SDP_FAR.encode()
    invite = ("INVITE sip:alice@10.0.0.2:5080 SIP/2.0\r\n"
              "Via: SIP/2.0/TLS 192.0.2.10:5061;branch=z9hG4bKk1;rport\r\n"
              "From: <sip:bob@sip.example.test>;tag=b1\r\nTo: <sip:alice@sip.example.test>\r\n"
              "Call-ID: in-1\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\n"
              "Contact: <sip:bob@192.0.2.50:5060>\r\nContent-Type: application/sdp\r\n"
              "Content-Length: %d\r\n\r\n" % len(body)).encode() + body
    p.cfg.phone.contact = "sip:alice@127.0.0.1:5062"
    out = _one(p.receive(proxy.NETWORK, invite, ("192.0.2.10", 40123), 1000, "TLS"))
    side, data, dest = out[:3]
    assert side == proxy.PHONE and dest == PHONE and len(out) == 3  # UDP to the phone
    msg = message.parse(data)
    assert msg.get_all("Record-Route") == ["<sip:127.0.0.1:5070;lr>",
                                           "<sip:10.0.0.2:5080;transport=tls;lr>"]
    # its response goes back over TLS to the connection's address (received/rport)
    resp = message.make_response(msg, 180, "Ringing")
    back = _one(p.receive(proxy.PHONE, resp.serialize(), PHONE, 1100))
    assert back[2] == ("192.0.2.10", 40123) and back[3] == "TLS"


def test_register_contact_carries_transport_and_public_address_after_rport():
    p = _proxy(transport="tcp")
    reg = ("REGISTER sip:127.0.0.1:5070 SIP/2.0\r\n"
           "Via: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bKr1;rport\r\n"
           "From: <sip:alice@sip.example.test>;tag=r1\r\nTo: <sip:alice@sip.example.test>\r\n"
           "Call-ID: reg-1\r\nCSeq: 1 REGISTER\r\nMax-Forwards: 70\r\n"
           "Contact: <sip:alice@127.0.0.1:5062>\r\nExpires: 300\r\nContent-Length: 0\r\n\r\n"
           ).encode()
    side, data, dest, transport = _one(p.receive(proxy.PHONE, reg, PHONE, 1000))
    assert transport == "TCP" and dest == KAM
    msg = message.parse(data)
    contact = msg.addresses("Contact")[0].uri
    assert (contact.host, contact.port, contact.param("transport")) == ("10.0.0.2", 5080, "tcp")
    # the registrar saw us from the router: received/rport on our Via
    resp = message.make_response(msg, 401, "Unauthorized")
    via = resp.vias()[0]
    via.set_param("received", "203.0.113.1")
    via.set_param("rport", "61000")
    resp.set("Via", [str(via)] + resp.get_all("Via")[1:])
    _one(p.receive(proxy.NETWORK, resp.serialize(), KAM, 1100, "TCP"))
    assert p.nat.public == ("203.0.113.1", 5080)  # over TCP: the box's own port (RFC 5923)
    assert p.status.public == "203.0.113.1:5080"
    side, data, dest, transport = _one(p.receive(proxy.PHONE, reg.replace(b"CSeq: 1", b"CSeq: 2"),
                                                 PHONE, 1200))
    msg = message.parse(data)
    assert str(msg.vias()[0]).startswith("SIP/2.0/TCP 203.0.113.1:5080;")
    contact = msg.addresses("Contact")[0].uri
    assert (contact.host, contact.port) == ("203.0.113.1", 5080)
    # the phone side keeps the LAN address: a call from the phone, its phone-side entries
    out = _one(p.receive(proxy.PHONE, _invite(uri="sip:bob@sip.example.test"), PHONE, 1300))
    msg = message.parse(out[1])
    assert msg.get_all("Record-Route") == ["<sip:203.0.113.1:5080;transport=tcp;lr>",
                                           "<sip:127.0.0.1:5070;lr>"]
    assert b"c=IN IP4 203.0.113.1" in msg.body


def _bye_via_route(route):
    """An in-dialog BYE from the phone whose route set is ROUTE (bytes)."""
    return (b"BYE sip:bob@192.0.2.50:5060 SIP/2.0\r\n"
            b"Via: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bKb1;rport\r\n"
            b"Route: " + route + b"\r\n"
            b"From: <sip:alice@127.0.0.1>;tag=a1\r\nTo: <sip:bob@192.0.2.50>;tag=b1\r\n"
            b"Call-ID: x-1\r\nCSeq: 2 BYE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n")


def test_uri_transport_wins_over_network_transport():
    p = _proxy(transport="udp", proxy="192.0.2.10:5060")
    # an in-dialog request whose route set says TLS
    bye = _bye_via_route(b"<sip:192.0.2.10:5061;transport=tls;lr>")
    out = _one(p.receive(proxy.PHONE, bye, PHONE, 1000))
    assert out[2] == ("192.0.2.10", 5061) and out[3] == "TLS"
    sips = bye.replace(b"Route: <sip:192.0.2.10:5061;transport=tls;lr>\r\n", b"").replace(
        b"BYE sip:bob@192.0.2.50:5060", b"BYE sips:bob@192.0.2.50:5061")
    out = _one(p.receive(proxy.PHONE, sips, PHONE, 1000))
    assert out[3] == "TLS"


def test_a_callee_cannot_set_the_boxs_public_address_through_its_answer():
    # The far UA writes the response it sends back, the box's Via included (a proxy between
    # only pops its own). received/rport there is the callee's word, not the registrar's: taking
    # it would show the callee's address in the box's Contact, Via, Record-Route and SDP
    # (incoming calls and media would go to the callee). Only the registrar's answer counts.
    from test_proxy_core import _response
    p = _proxy(transport="udp", proxy="192.0.2.10:5060")
    out = _one(p.receive(proxy.PHONE, _invite(uri="sip:bob@sip.example.test"), PHONE, 1000))
    fwd = message.parse(out[1])
    via = fwd.vias()[0]
    via.set_param("received", "203.0.113.66")
    via.set_param("rport", "4444")
    fwd.set("Via", [str(via)] + fwd.get_all("Via")[1:])
    out = _one(p.receive(proxy.NETWORK, _response(fwd, 200, "OK", SDP_FAR), ("192.0.2.10", 5060),
                         1200))
    assert out[2] == PHONE
    assert p.nat.public is None and p.status.public is None
    out = _one(p.receive(proxy.PHONE, _invite(uri="sip:bob@sip.example.test", branch="z9hG4bK2",
                                              cseq="21 INVITE").replace(b"c140wxXF0q", b"call-2"),
                         PHONE, 1300))
    msg = message.parse(out[1])
    assert str(msg.vias()[0]).startswith("SIP/2.0/UDP 10.0.0.2:5080;")
    assert b"c=IN IP4 10.0.0.2" in msg.body and b"203.0.113.66" not in out[1]


def test_a_response_that_claims_another_method_changes_no_registration():
    # CSeq in a response is the sender's word too: a callee answering the box's INVITE with
    # "CSeq: 20 REGISTER" must not pass for the registrar (public address, bindings). Only a
    # response to a REGISTER the box forwarded (its branch) is the registrar's.
    from test_proxy_core import _response
    p = _proxy(transport="udp", proxy="192.0.2.10:5060")
    reg = ("REGISTER sip:127.0.0.1:5070 SIP/2.0\r\n"
           "Via: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bKr1;rport\r\n"
           "From: <sip:alice@sip.example.test>;tag=r1\r\nTo: <sip:alice@sip.example.test>\r\n"
           "Call-ID: reg-1\r\nCSeq: 1 REGISTER\r\nMax-Forwards: 70\r\n"
           "Contact: <sip:alice@127.0.0.1:5062>\r\nExpires: 300\r\nContent-Length: 0\r\n\r\n"
           ).encode()
    out = _one(p.receive(proxy.PHONE, reg, PHONE, 1000))
    msg = message.parse(out[1])
    box_contact = msg.get("Contact")
    ok = message.make_response(msg, 200, "OK")
    ok.add("Contact", box_contact + ";expires=300")
    _one(p.receive(proxy.NETWORK, ok.serialize(), ("192.0.2.10", 5060), 1100))
    assert list(p.bindings) == ["1"] and p.status.registered and p.nat.public is None
    out = _one(p.receive(proxy.PHONE, _invite(uri="sip:bob@sip.example.test"), PHONE, 1200))
    fwd = message.parse(out[1])
    via = fwd.vias()[0]
    via.set_param("received", "203.0.113.66")
    via.set_param("rport", "4444")
    fwd.set("Via", [str(via)] + fwd.get_all("Via")[1:])
    fwd.set("CSeq", "20 REGISTER")
    forged = _response(fwd, 200, "OK", extra="Contact: %s;expires=0" % box_contact)
    p.receive(proxy.NETWORK, forged, ("192.0.2.10", 5060), 1300)
    assert p.nat.public is None
    assert list(p.bindings) == ["1"] and p.status.registered


def test_only_the_answer_to_the_boxs_own_register_is_taken_as_such():
    # The box's own REGISTER (reregister, after a network change) has a branch of its own
    # (z9hG4bKztreg<tag><n>); a response with that prefix from anybody, the box having sent
    # nothing, must not set the public address nor remove the phone's binding.
    p = _proxy(transport="udp", proxy="192.0.2.10:5060")
    reg = ("REGISTER sip:127.0.0.1:5070 SIP/2.0\r\n"
           "Via: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bKr1;rport\r\n"
           "From: <sip:alice@sip.example.test>;tag=r1\r\nTo: <sip:alice@sip.example.test>\r\n"
           "Call-ID: reg-1\r\nCSeq: 1 REGISTER\r\nMax-Forwards: 70\r\n"
           "Contact: <sip:alice@127.0.0.1:5062>\r\nExpires: 300\r\nContent-Length: 0\r\n\r\n"
           ).encode()
    msg = message.parse(_one(p.receive(proxy.PHONE, reg, PHONE, 1000))[1])
    box_contact = msg.get("Contact")
    ok = message.make_response(msg, 200, "OK")
    ok.add("Contact", box_contact + ";expires=300")
    _one(p.receive(proxy.NETWORK, ok.serialize(), ("192.0.2.10", 5060), 1100))
    assert list(p.bindings) == ["1"] and p.nat.public is None
    forged = ("SIP/2.0 200 OK\r\n"
              "Via: SIP/2.0/UDP 10.0.0.2:5080;branch=z9hG4bKztreg0;rport=4444;"
              "received=203.0.113.66\r\n"
              "From: <sip:alice@sip.example.test>;tag=x\r\n"
              "To: <sip:alice@sip.example.test>;tag=y\r\n"
              "Call-ID: whatever\r\nCSeq: 1 REGISTER\r\nContact: %s;expires=0\r\n"
              "Content-Length: 0\r\n\r\n" % box_contact).encode()
    assert p.receive(proxy.NETWORK, forged, ("198.51.100.66", 5060), 1200) == []
    assert p.nat.public is None and list(p.bindings) == ["1"] and p.status.registered
    # the answer to a REGISTER the box did send is still taken
    again = message.parse(p.reregister(1300)[0][1])
    ok = message.make_response(again, 200, "OK")
    via = ok.vias()[0]
    via.set_param("received", "203.0.113.1")
    via.set_param("rport", "61000")
    ok.set("Via", [str(via)])
    ok.add("Contact", box_contact + ";expires=300")
    assert p.receive(proxy.NETWORK, ok.serialize(), ("192.0.2.10", 5060), 1400) == []
    assert p.nat.public == ("203.0.113.1", 61000) and list(p.bindings) == ["1"]


def test_a_tls_hop_without_a_port_goes_to_5061():
    # RFC 3261 section 19.1.2 and RFC 3263 section 4.2: the default port of TLS (and sips:)
    # is 5061; a Record-Route entry or a sips: target that names no port is no TLS on 5060
    p = _proxy(transport="udp", proxy="192.0.2.10:5060")
    bye = _bye_via_route(b"<sip:192.0.2.10;transport=tls;lr>")
    out = _one(p.receive(proxy.PHONE, bye, PHONE, 1000))
    assert out[2] == ("192.0.2.10", 5061) and out[3] == "TLS"
    sips = bye.replace(b"Route: <sip:192.0.2.10;transport=tls;lr>\r\n", b"").replace(
        b"BYE sip:bob@192.0.2.50:5060", b"BYE sips:bob@192.0.2.50")
    out = _one(p.receive(proxy.PHONE, sips, PHONE, 1000))
    assert out[2] == ("192.0.2.50", 5061) and out[3] == "TLS"
    # UDP and TCP keep 5060
    out = _one(p.receive(proxy.PHONE, bye.replace(b"transport=tls", b"transport=tcp"), PHONE, 1000))
    assert out[2] == ("192.0.2.10", 5060) and out[3] == "TCP"

"""Issue 14, sans-IO: what the box builds itself when it ends a call. A fault in a call that is
not answered yet (an early dialog) cancels it upstream (CANCEL, RFC 3261 section 9.1) and answers
the caller (500 with the reason), and the box ACKs the callee's 487 itself; the requests the box
builds (BYE, CANCEL, ACK) leave on the transport of their leg (TCP, TLS), not UDP only."""
from test_proxy_core import FAR, PHONE, SDP_FAR, _forward_invite, _invite, _proxy, _response
from test_proxy_transports import KAM, _proxy as _tls_proxy
from zerotap import status as st
from zerotap.sip import message, proxy

REASON = "internal error in the call's engine: RuntimeError('x')"


def _by_method(out):
    got = {}
    for item in out:
        m = message.parse(item[1])
        got[m.method if m.is_request else m.status] = (item[0], m, item[2],
                                                       item[3] if len(item) > 3 else "UDP")
    return got


def test_a_fault_in_an_unanswered_outgoing_call_cancels_it_and_answers_the_phone():
    p, box, logs = _proxy()
    _, fwd, dest = _forward_invite(p)
    media = p.media.opened[0]
    call = box.calls[0]
    out = p.end_call(media, 1100, REASON)
    assert out is not None, "the early call must end now, not wait for an answer"
    got = _by_method(out)
    assert sorted(got, key=str) == [500, "CANCEL"], got
    side, cancel, cdest, _ = got["CANCEL"]
    # RFC 3261 section 9.1: the INVITE's Request-URI, top Via (the box's branch), From, To,
    # Call-ID, CSeq number; sent where the INVITE went
    assert side == proxy.NETWORK and cdest == dest
    assert str(cancel.uri) == str(fwd.uri)
    assert cancel.get_all("Via") == [fwd.get_all("Via")[0]]
    for h in ("From", "To", "Call-ID"):
        assert cancel.get(h) == fwd.get(h), h
    assert cancel.get("CSeq") == "20 CANCEL"
    side, resp, rdest, _ = got[500]
    assert side == proxy.PHONE and rdest == PHONE
    assert [v.host for v in resp.vias()] == ["127.0.0.1"]  # the phone's own Via only
    assert resp.address("To").tag, "a final response needs a To tag"
    assert resp.get("CSeq") == "20 INVITE" and resp.get("Call-ID") == "c140wxXF0q"
    assert "ZeroTap: " + REASON in resp.get("Reason")
    assert media.closed and box.calls == [] and call.security == st.FAILED
    assert call.error == REASON
    # the callee answers the CANCEL with 200 and the INVITE with 487: nothing reaches the phone,
    # the box ACKs the 487 itself (hop by hop, RFC 3261 section 17.1.1.3)
    ok = message.make_response(cancel, 200, "OK").serialize()
    assert p.receive(proxy.NETWORK, ok, FAR, 1150) == []
    out = p.receive(proxy.NETWORK, _response(fwd, 487, "Request Terminated"), FAR, 1160)
    got = _by_method(out)
    assert list(got) == ["ACK"], got
    side, ack, adest, _ = got["ACK"]
    assert side == proxy.NETWORK and adest == dest
    assert ack.get_all("Via") == [fwd.get_all("Via")[0]] and ack.get("CSeq") == "20 ACK"
    assert ack.address("To").tag == "fcd4026e"
    # the phone's ACK of the box's 500 ends at the box
    ack500 = message.make_ack(message.parse(_invite()), resp).serialize()
    assert p.receive(proxy.PHONE, ack500, PHONE, 1170) == []


def test_a_fault_in_a_ringing_incoming_call_cancels_it_toward_the_phone():
    p, box, _ = _proxy(phone_contact="sip:alice@127.0.0.1:5062")
    p.providers.append(FAR[0])
    body = SDP_FAR.encode()
    invite = ("INVITE sip:alice@198.51.100.7:5080 SIP/2.0\r\n"
              "Via: SIP/2.0/UDP 192.0.2.50:5060;branch=z9hG4bKin1;rport\r\n"
              "From: <sip:bob@192.0.2.50>;tag=b1\r\nTo: <sip:alice@198.51.100.7>\r\n"
              "Call-ID: in-1\r\nCSeq: 7 INVITE\r\nMax-Forwards: 70\r\n"
              "Contact: <sip:bob@192.0.2.50:5060>\r\nContent-Type: application/sdp\r\n"
              "Content-Length: %d\r\n\r\n" % len(body)).encode() + body
    out = p.receive(proxy.NETWORK, invite, FAR, 1000)
    assert len(out) == 1 and out[0][0] == proxy.PHONE
    got = _by_method(p.end_call(p.media.opened[0], 1100, REASON))
    assert got["CANCEL"][0] == proxy.PHONE and got["CANCEL"][2] == PHONE
    assert got[500][0] == proxy.NETWORK and got[500][2] == FAR
    assert box.calls == []


def test_a_challenged_call_ends_at_once_with_nothing_to_send():
    p, box, _ = _proxy()
    _, fwd, _ = _forward_invite(p)
    p.receive(proxy.NETWORK, _response(fwd, 407, "Proxy Authentication Required"), FAR, 1100)
    assert p.end_call(p.media.opened[0], 1200, REASON) == []
    assert box.calls == [] and p.media.opened[0].closed


def _tls_call(p):
    out = p.receive(proxy.PHONE, _invite(uri="sip:bob@sip.example.test"), PHONE, 1000)
    assert len(out) == 1 and out[0][3] == "TLS"
    return message.parse(out[0][1])


def test_the_cancel_of_an_early_call_goes_over_the_invites_tls():
    p = _tls_proxy()
    _tls_call(p)
    got = _by_method(p.end_call(p.media.opened[0], 1100, REASON))
    side, cancel, dest, transport = got["CANCEL"]
    assert (side, dest, transport) == (proxy.NETWORK, KAM, "TLS")
    assert cancel.vias()[0].transport == "TLS"
    assert got[500][3] == "UDP"  # the phone's leg is UDP


def test_the_byes_the_box_builds_go_on_the_transport_of_their_leg():
    p = _tls_proxy()
    fwd = _tls_call(p)
    # Kamailio record-routes itself with its TLS address; the answer comes over TLS
    resp = _response(fwd, 200, "OK", SDP_FAR).replace(
        b"Via: ", b"Record-Route: <sip:192.0.2.10:5061;transport=tls;lr>\r\nVia: ", 1)
    p.receive(proxy.NETWORK, resp, ("192.0.2.10", 5061), 1200, "TLS")
    got = {}
    for item in p.end_call(p.media.opened[0], 3000, "no media from the network for 5 s",
                           failed=False):
        got[item[0]] = item
    net = got[proxy.NETWORK]
    assert len(net) == 4 and net[2] == KAM and net[3] == "TLS", net
    bye = message.parse(net[1])
    assert bye.method == "BYE" and bye.vias()[0].transport == "TLS"
    assert bye.vias()[0].has_param("alias")
    assert len(got[proxy.PHONE]) == 3  # UDP toward the phone


def test_the_ack_and_bye_of_a_refused_answer_go_over_tls():
    p = _tls_proxy()
    fwd = _tls_call(p)
    resp = _response(fwd, 200, "OK", "v=0\r\no=- 1 1 IN IP4 192.0.2.50\r\ns=-\r\nt=0 0\r\n"
                     "m=video 30000 RTP/AVP 96\r\n").replace(
        b"Via: ", b"Record-Route: <sip:192.0.2.10:5061;transport=tls;lr>\r\nVia: ", 1)
    out = p.receive(proxy.NETWORK, resp, ("192.0.2.10", 5061), 1200, "TLS")
    got = _by_method(out)
    assert got["ACK"][2:] == (KAM, "TLS") and got["BYE"][2:] == (KAM, "TLS"), got
    assert got["ACK"][1].vias()[0].transport == "TLS"
    assert got[488][0] == proxy.PHONE and got[488][3] == "UDP"


def test_the_boxs_bye_follows_the_route_set_in_rfc_order():
    """A proxy with two Record-Route entries (Kamailio's double record-routing from TLS to UDP):
    the box's BYE toward the callee goes first to the entry nearest the box (RFC 3261 section
    12.1.2: the Record-Route of the response, reversed), and toward the caller the entries below
    the box come in order (section 12.1.1)."""
    p = _tls_proxy()
    fwd = _tls_call(p)
    resp = _response(fwd, 200, "OK", SDP_FAR).replace(
        b"Via: ", b"Record-Route: <sip:192.0.2.10:5060;r2=on;lr>\r\n"
        b"Record-Route: <sip:192.0.2.10:5061;transport=tls;r2=on;lr>\r\nVia: ", 1)
    p.receive(proxy.NETWORK, resp, ("192.0.2.10", 5061), 1200, "TLS")
    got = {}
    for item in p.end_call(p.media.opened[0], 3000, "x"):
        got[item[0]] = item
    net = got[proxy.NETWORK]
    assert net[2:] == (KAM, "TLS"), net
    bye = message.parse(net[1])
    assert bye.get_all("Route") == ["<sip:192.0.2.10:5061;transport=tls;r2=on;lr>",
                                    "<sip:192.0.2.10:5060;r2=on;lr>"]

"""The proxy core, sans-IO: routing, Via/rport, Record-Route, REGISTER, SDP rewrite, refusals.

Messages are shaped like linphonec's (Linphonec/5.1.65): Via with rport, gruu, a=zrtp-hash.
"""
from zerotap import config, seams, status
from zerotap.sip import message, proxy

PHONE_SIP = 5070
NET_SIP = 5080
PHONE = ("127.0.0.1", 5062)  # the desk phone
FAR = ("192.0.2.50", 5060)  # somebody on the network


def _cfg(**extra):
    obj = {"phone": {"sip": "127.0.0.1:%d" % PHONE_SIP, "allow": ["127.0.0.1", "10.0.0.0/8"],
                     "rtp": "40000-40099"},
           "network": {"sip": "198.51.100.7:%d" % NET_SIP, "rtp": "42000-42099"}}
    for k, v in extra.items():
        side, key = k.split("_", 1)
        obj[side][key] = v
    return config.parse(obj)


class FakeMedia(seams.CallMedia):
    """What the proxy asks of a call's media session; records what it was told."""

    def __init__(self, number):
        self.number = number
        self.remote = {}
        self.peer_hash = None
        self.answered_at = None
        self.closed = False

    def ports(self, side):
        base = (40000 if side == proxy.PHONE else 42000) + 2 * self.number
        return base, base + 1

    def hello_hash(self):
        return "1.10 " + "ab" * 32

    def set_remote(self, side, host, port, rtcp_port=None, event_types=None):
        self.remote[side] = (host, port)

    def set_peer_hash(self, value):
        self.peer_hash = value

    def answered(self, now_ms):
        self.answered_at = now_ms

    def close(self):
        self.closed = True


class FakeFactory(seams.MediaFactory):
    def __init__(self):
        self.opened = []

    def open(self, call_status):
        m = FakeMedia(len(self.opened))
        self.opened.append(m)
        return m


def test_the_fakes_fill_their_seams():
    assert seams.abstract(FakeMedia) == [] and seams.abstract(FakeFactory) == []
    assert seams.abstract(seams.CallMedia) == ["close", "ports", "set_remote"]


def _proxy(**extra):
    box = status.BoxStatus()
    logs = []
    p = proxy.Proxy(_cfg(**extra), FakeFactory(), box, logs.append)
    return p, box, logs


SDP_PHONE = ("v=0\r\no=alice 888 3353 IN IP4 127.0.0.1\r\ns=Talk\r\nc=IN IP4 127.0.0.1\r\n"
             "t=0 0\r\nm=audio 23216 RTP/AVP 0 96\r\na=rtpmap:96 telephone-event/8000\r\n"
             "a=zrtp-hash:1.10 f44663b9e11040bf258a58042a47163ebcb8e362541a76ee95a2514748c69c35\r\n"
             "a=rtcp-fb:* trr-int 1000\r\n")
SDP_FAR = ("v=0\r\no=bob 1 1 IN IP4 192.0.2.50\r\ns=Talk\r\nc=IN IP4 192.0.2.50\r\nt=0 0\r\n"
           "m=audio 30000 RTP/AVP 0 96\r\na=rtpmap:96 telephone-event/8000\r\n"
           "a=zrtp-hash:1.10 " + "cd" * 32 + "\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 "
           "inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVzcyAoc2VxKQ==\r\n")


def _invite(sdp=SDP_PHONE, branch="z9hG4bK.KA8M82Eqj", cseq="20 INVITE", uri="sip:bob@192.0.2.50",
            extra=""):
    body = sdp.encode()
    return ("INVITE %s SIP/2.0\r\n"
            "Via: SIP/2.0/UDP 127.0.0.1:5062;branch=%s;rport\r\n"
            "From: <sip:alice@127.0.0.1>;tag=mWSSwrRMI\r\nTo: sip:bob@192.0.2.50\r\n"
            "CSeq: %s\r\nCall-ID: c140wxXF0q\r\nMax-Forwards: 70\r\n"
            "Supported: replaces, outbound, gruu\r\n%s"
            "Content-Type: application/sdp\r\nContent-Length: %d\r\n"
            "Contact: <sip:alice@127.0.0.1:5062>\r\nUser-Agent: Linphonec/5.1.65\r\n\r\n"
            % (uri, branch, cseq, extra, len(body))).encode() + body


def _one(out):
    assert len(out) == 1, out
    side, data, dest = out[0]
    return side, message.parse(data), dest


def _forward_invite(p):
    side, fwd, dest = _one(p.receive(proxy.PHONE, _invite(), PHONE, 1000))
    return side, fwd, dest


def test_invite_from_phone_goes_to_the_network_with_via_rr_and_rewritten_sdp():
    p, box, _ = _proxy()
    side, fwd, dest = _forward_invite(p)
    assert side == proxy.NETWORK and dest == ("192.0.2.50", 5060)
    vias = fwd.vias()
    assert len(vias) == 2
    top = vias[0]
    assert (top.host, top.port) == ("198.51.100.7", NET_SIP)
    assert top.branch.startswith("z9hG4bK") and top.has_param("rport") and top.param("rport") is None
    # RFC 3581 section 4: the phone's Via gets the port it sent from, and received even though
    # its sent-by host is the source address already
    assert vias[1].param("rport") == "5062" and vias[1].param("received") == "127.0.0.1"
    assert fwd.get("Max-Forwards") == "69"
    assert fwd.get_all("Record-Route") == ["<sip:198.51.100.7:5080;lr>",
                                           "<sip:127.0.0.1:5070;lr>"]
    sdp = fwd.body.decode()
    assert "c=IN IP4 198.51.100.7\r\n" in sdp and "m=audio 42000 RTP/AVP 0 96\r\n" in sdp
    assert "a=zrtp-hash:1.10 " + "ab" * 32 in sdp and "f44663b9" not in sdp
    assert "a=rtpmap:96 telephone-event/8000" in sdp and "a=rtcp-fb:* trr-int 1000" in sdp
    assert fwd.get("Content-Length") == str(len(fwd.body))
    media = p.media.opened[0]
    assert media.remote[proxy.PHONE] == ("127.0.0.1", 23216)
    call = box.calls[0]
    assert call.direction == "out" and call.peer == "sip:bob@192.0.2.50"
    assert call.state == status.CALLING


def _response(fwd, code, reason, sdp=None, to_tag="fcd4026e", extra=""):
    """The far end's answer to FWD (what it got from the box), Via and Record-Route copied."""
    lines = ["SIP/2.0 %d %s" % (code, reason)]
    for v in fwd.get_all("Via"):
        lines.append("Via: " + v)
    for r in fwd.get_all("Record-Route"):
        lines.append("Record-Route: " + r)
    lines += ["From: " + fwd.get("From"), "To: %s;tag=%s" % (fwd.get("To"), to_tag),
              "Call-ID: " + fwd.get("Call-ID"), "CSeq: " + fwd.get("CSeq"),
              "Contact: <sip:bob@192.0.2.50:5060>"]
    if extra:
        lines.append(extra)
    body = sdp.encode() if sdp else b""
    if sdp:
        lines.append("Content-Type: application/sdp")
    lines.append("Content-Length: %d" % len(body))
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def test_answer_goes_back_to_the_phone_with_the_box_media_and_no_zrtp_or_crypto():
    p, box, _ = _proxy()
    _, fwd, _ = _forward_invite(p)
    side, resp, dest = _one(p.receive(proxy.NETWORK, _response(fwd, 200, "OK", SDP_FAR), FAR,
                                      1200))
    assert side == proxy.PHONE and dest == PHONE  # the phone's Via: 127.0.0.1:5062, rport
    assert len(resp.get_all("Via")) == 1
    sdp = resp.body.decode()
    assert "c=IN IP4 127.0.0.1\r\n" in sdp and "m=audio 40000 RTP/AVP 0 96\r\n" in sdp
    assert "zrtp-hash" not in sdp and "a=crypto" not in sdp
    media = p.media.opened[0]
    assert media.remote[proxy.NETWORK] == ("192.0.2.50", 30000)
    assert media.peer_hash == ("1.10", "cd" * 32)
    assert media.answered_at == 1200
    assert box.calls[0].state == status.ACTIVE


def test_183_early_media_is_rewritten_and_starts_media():
    p, _, _ = _proxy()
    _, fwd, _ = _forward_invite(p)
    _, resp, _ = _one(p.receive(proxy.NETWORK, _response(fwd, 183, "Session Progress", SDP_FAR),
                                FAR, 1100))
    assert b"m=audio 40000 " in resp.body and b"zrtp-hash" not in resp.body
    assert p.media.opened[0].answered_at == 1100


def test_in_dialog_bye_from_the_network_follows_the_route_set_to_the_phone():
    p, box, _ = _proxy()
    _, fwd, _ = _forward_invite(p)
    p.receive(proxy.NETWORK, _response(fwd, 200, "OK", SDP_FAR), FAR, 1200)
    bye = ("BYE sip:alice@127.0.0.1:5062 SIP/2.0\r\n"
           "Via: SIP/2.0/UDP 192.0.2.50:5060;branch=z9hG4bKbye1;rport\r\n"
           "Route: <sip:198.51.100.7:5080;lr>\r\nRoute: <sip:127.0.0.1:5070;lr>\r\n"
           "From: sip:bob@192.0.2.50;tag=fcd4026e\r\nTo: <sip:alice@127.0.0.1>;tag=mWSSwrRMI\r\n"
           "Call-ID: c140wxXF0q\r\nCSeq: 5 BYE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n")
    side, fwd_bye, dest = _one(p.receive(proxy.NETWORK, bye.encode(), FAR, 5000))
    assert side == proxy.PHONE and dest == PHONE
    assert fwd_bye.get_all("Route") == []
    assert fwd_bye.vias()[0].host == "127.0.0.1"
    assert p.media.opened[0].closed and box.calls == []


def test_cancel_and_non_2xx_ack_get_the_invites_branch():
    p, _, _ = _proxy()
    _, fwd, _ = _forward_invite(p)
    branch = fwd.vias()[0].branch
    # a retransmitted INVITE gets the same branch (RFC 3261 section 16.11), and no second call
    _, again, _ = _one(p.receive(proxy.PHONE, _invite(), PHONE, 1600))
    assert again.vias()[0].branch == branch
    assert len(p.media.opened) == 1
    cancel = _invite(sdp="").replace(b"INVITE sip:bob@192.0.2.50 SIP/2.0",
                                     b"CANCEL sip:bob@192.0.2.50 SIP/2.0")
    cancel = cancel.replace(b"CSeq: 20 INVITE", b"CSeq: 20 CANCEL")
    cancel = cancel.replace(b"Content-Type: application/sdp\r\n", b"")
    _, fwd_cancel, _ = _one(p.receive(proxy.PHONE, cancel, PHONE, 1500))
    assert fwd_cancel.vias()[0].branch == branch
    assert p.media.opened[0].closed  # CANCEL before an answer ends the call


def test_final_error_ends_the_call_but_a_407_waits_for_the_retry():
    p, box, _ = _proxy()
    _, fwd, _ = _forward_invite(p)
    p.receive(proxy.NETWORK, _response(fwd, 407, "Proxy Authentication Required",
                                       extra='Proxy-Authenticate: Digest realm="x", nonce="n"'),
              FAR, 1100)
    assert box.calls and not p.media.opened[0].closed
    _, fwd2, _ = _one(p.receive(proxy.PHONE, _invite(branch="z9hG4bK.retry", cseq="21 INVITE",
                                                     extra='Proxy-Authorization: Digest '
                                                     'username="alice", realm="x", nonce="n", '
                                                     'uri="sip:bob@192.0.2.50", '
                                                     'response="00"\r\n'),
                                PHONE, 1200))
    assert fwd2.get("Proxy-Authorization").startswith("Digest username=\"alice\"")
    assert len(p.media.opened) == 1
    p.receive(proxy.NETWORK, _response(fwd2, 486, "Busy Here"), FAR, 1300)
    assert p.media.opened[0].closed and box.calls == []


def test_register_rewrites_contact_and_incoming_calls_reach_the_phone():
    p, box, _ = _proxy(network_proxy="203.0.113.9:5060")
    reg = ("REGISTER sip:example.org SIP/2.0\r\n"
           "Via: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bK.sAecOJ3LT;rport\r\n"
           "From: <sip:alice@example.org>;tag=PphMmJuJI\r\nTo: sip:alice@example.org\r\n"
           "CSeq: 21 REGISTER\r\nCall-ID: r1ltsV6l0F\r\nMax-Forwards: 70\r\n"
           "Supported: replaces, outbound, gruu\r\n"
           "Contact: <sip:alice@127.0.0.1:5062;transport=udp>;+sip.instance="
           "\"<urn:uuid:d582d612-15d3-00f7-8300-f07759d473f3>\"\r\nExpires: 600\r\n"
           "Authorization: Digest realm=\"example.org\", nonce=\"awQv\", username=\"alice\", "
           "uri=\"sip:example.org\", response=\"10ba31c5db315ec4e7bbe2d0c93e30cb\"\r\n"
           "Content-Length: 0\r\n\r\n")
    side, fwd, dest = _one(p.receive(proxy.PHONE, reg.encode(), PHONE, 0))
    assert side == proxy.NETWORK and dest == ("203.0.113.9", 5060)
    contact = fwd.get("Contact")
    assert contact.startswith("<sip:alice@198.51.100.7:5080;zt=1>;+sip.instance="), contact
    assert fwd.get("Authorization") == ("Digest realm=\"example.org\", nonce=\"awQv\", "
                                        "username=\"alice\", uri=\"sip:example.org\", "
                                        "response=\"10ba31c5db315ec4e7bbe2d0c93e30cb\"")
    assert "gruu" not in fwd.get_all("Supported") and "outbound" in fwd.get_all("Supported")
    ok = _response(fwd, 200, "OK").replace(
        b"Contact: <sip:bob@192.0.2.50:5060>",
        ("Contact: " + contact + ";expires=600").encode())
    _, resp, dest = _one(p.receive(proxy.NETWORK, ok, ("203.0.113.9", 5060), 10))
    assert dest == PHONE
    assert resp.get("Contact").startswith("<sip:alice@127.0.0.1:5062;transport=udp>")
    assert box.registered
    invite = ("INVITE sip:alice@198.51.100.7:5080;zt=1 SIP/2.0\r\n"
              "Via: SIP/2.0/UDP 203.0.113.9:5060;branch=z9hG4bKk1\r\n"
              "Record-Route: <sip:203.0.113.9;lr>\r\n"
              "From: <sip:bob@example.org>;tag=x1\r\nTo: <sip:alice@example.org>\r\n"
              "Call-ID: in1\r\nCSeq: 1 INVITE\r\nMax-Forwards: 69\r\n"
              "Contact: <sip:bob@192.0.2.50>\r\nContent-Type: application/sdp\r\n"
              "Content-Length: %d\r\n\r\n%s" % (len(SDP_FAR), SDP_FAR))
    side, fwd_inv, dest = _one(p.receive(proxy.NETWORK, invite.encode(), ("203.0.113.9", 5060),
                                         100))
    assert side == proxy.PHONE and dest == PHONE
    assert str(fwd_inv.uri) == "sip:alice@127.0.0.1:5062;transport=udp"
    assert fwd_inv.get_all("Record-Route")[:2] == ["<sip:127.0.0.1:5070;lr>",
                                                   "<sip:198.51.100.7:5080;lr>"]
    assert b"zrtp-hash" not in fwd_inv.body and b"a=crypto" not in fwd_inv.body
    assert b"m=audio 40000 " in fwd_inv.body
    assert box.calls[0].direction == "in" and box.calls[0].peer == "sip:bob@example.org"


def test_a_registration_clears_the_error_of_an_earlier_failure():
    """The provider could not be reached once (a name that did not resolve, a connection that
    never opened: the network layer shows the reason as the registration error); the phone's
    next REGISTER is answered 200 by the provider: the error goes, although the box was
    registered all along (it said so on the display and web page until the box restarted)."""
    p, box, _ = _proxy(network_proxy="203.0.113.9:5060")

    def register(cseq, branch):
        reg = ("REGISTER sip:example.org SIP/2.0\r\n"
               "Via: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bK.%s;rport\r\n"
               "From: <sip:alice@example.org>;tag=PphMmJuJI\r\nTo: sip:alice@example.org\r\n"
               "CSeq: %d REGISTER\r\nCall-ID: r1ltsV6l0F\r\nMax-Forwards: 70\r\n"
               "Contact: <sip:alice@127.0.0.1:5062;transport=udp>\r\nExpires: 600\r\n"
               "Content-Length: 0\r\n\r\n" % (branch, cseq))
        _, fwd, _ = _one(p.receive(proxy.PHONE, reg.encode(), PHONE, cseq * 1000))
        ok = _response(fwd, 200, "OK").replace(
            b"Contact: <sip:bob@192.0.2.50:5060>",
            ("Contact: " + fwd.get("Contact") + ";expires=600").encode())
        _, resp, dest = _one(p.receive(proxy.NETWORK, ok, ("203.0.113.9", 5060), cseq * 1000))
        assert dest == PHONE and resp.status == 200

    register(1, "r1")
    assert box.registered and box.registration_error is None
    box.set_registration_error("network: sip.example.org: no SIP server found")
    register(2, "r2")
    assert box.registered
    assert box.registration_error is None, box.registration_error


def test_phone_outside_allow_gets_403():
    p, box, logs = _proxy()
    side, resp, dest = _one(p.receive(proxy.PHONE, _invite(), ("192.168.9.9", 5062), 0))
    assert side == proxy.PHONE and resp.status == 403 and dest == ("192.168.9.9", 5062)
    assert box.calls == [] and "not in phone.allow" in logs[-1]


def test_malformed_requests_get_400_and_garbage_gets_nothing():
    p, box, logs = _proxy()
    bad = _invite().replace(b"CSeq: 20 INVITE", b"CSeq: 20 BYE")
    side, resp, dest = _one(p.receive(proxy.PHONE, bad, PHONE, 0))
    assert resp.status == 400 and dest == PHONE
    bad_sdp = _invite(sdp="v=0\r\nc=IN IP4 127.0.0.1\r\nm=audio notaport RTP/AVP 0\r\n")
    _, resp, _ = _one(p.receive(proxy.PHONE, bad_sdp, PHONE, 0))
    assert resp.status == 400 and box.calls == [] and p.media.opened == []
    assert "SDP: bad port in m= line" in logs[-1], logs[-1]
    for junk in (b"\x00\x01\x02" * 50, b"INVITE sip:", b"SIP/2.0 200 OK\r\n\r\n", b"\r\n\r\n"):
        assert p.receive(proxy.NETWORK, junk, FAR, 0) == []
    assert p.malformed >= 4


def test_a_request_with_a_broken_via_gets_its_400_where_it_came_from():
    # RFC 3261 section 8.2: the parser refused the Via, so the 400 goes back to the source
    # address (the Via cannot say where); the proxy must not stop on it
    p, _, logs = _proxy()
    for via in (b"Via: SIP/2.0/UDP 127.0h=z9hG4bK1;rport", b"Via: SIP/2.0/UDP 127.0.0.1:5062;;"):
        bad = _invite().replace(b"Via: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bK.KA8M82Eqj;rport",
                                via)
        out = p.receive(proxy.PHONE, bad, PHONE, 0)
        assert len(out) == 1 and out[0][0] == proxy.PHONE and out[0][2] == PHONE, out
        assert out[0][1].startswith(b"SIP/2.0 400 Via: "), out[0][1][:60]
        assert b"\r\n" + via + b"\r\n" in out[0][1]  # copied as it came (RFC 3261 8.2.6.2)


def test_a_response_from_the_network_goes_only_to_a_phone():
    # The callee writes its response, the phone's Via in it included: received/rport there
    # would make the box send the callee's bytes from its phone-side socket to any host and
    # port of the LAN (docs/trust.md section 8: toward the phone side only a phone).
    p, _, logs = _proxy()
    _, fwd, _ = _forward_invite(p)
    vias = fwd.vias()
    vias[1].set_param("received", "10.9.9.9")
    vias[1].set_param("rport", "1900")
    fwd.set("Via", [str(v) for v in vias])
    assert p.receive(proxy.NETWORK, _response(fwd, 180, "Ringing"), FAR, 1100) == []
    assert "not a phone of the box" in logs[-1], logs[-1]
    # the phone's own Via as the box forwarded it still brings the answer home
    _, fwd, _ = _forward_invite(p)
    side, resp, dest = _one(p.receive(proxy.NETWORK, _response(fwd, 180, "Ringing"), FAR, 1200))
    assert side == proxy.PHONE and dest == PHONE and resp.status == 180


def test_an_invite_that_cannot_be_forwarded_leaves_no_call_behind():
    # The call (its status on the display, its media sockets) opens before the request goes
    # on; a request refused after that (a tel: Request-URI or Route with no network.proxy to
    # send it to) got its 400 but left the call ringing on the display for 5 minutes, holding
    # media sockets: a few of them and the board has no sockets left for real calls.
    for extra, uri in (("", "tel:+15551234"), ("Route: <tel:+1555>\r\n", "sip:bob@192.0.2.50")):
        p, box, logs = _proxy()
        side, resp, dest = _one(p.receive(proxy.PHONE, _invite(uri=uri, extra=extra), PHONE, 0))
        assert resp.status == 400 and dest == PHONE
        assert p.calls == {} and box.calls == []
        assert [m.closed for m in p.media.opened] == [True]
        assert p.timer() is None


def test_max_forwards_zero_gets_483():
    p, _, _ = _proxy()
    _, resp, _ = _one(p.receive(proxy.PHONE, _invite().replace(b"Max-Forwards: 70",
                                                               b"Max-Forwards: 0"), PHONE, 0))
    assert resp.status == 483


def test_initial_requests_go_to_network_proxy():
    p, _, _ = _proxy(network_proxy="203.0.113.9:5060")
    _, fwd, dest = _one(p.receive(proxy.PHONE, _invite(), PHONE, 0))
    assert dest == ("203.0.113.9", 5060) and str(fwd.uri) == "sip:bob@192.0.2.50"


def test_call_to_the_box_goes_to_phone_contact_and_needs_one():
    # FAR may call in: network.allow (test_trust_relay.py: nobody else may)
    p, _, _ = _proxy(network_allow=["192.0.2.0/24"])
    invite = _invite(uri="sip:alice@198.51.100.7:5080").replace(b"127.0.0.1:5062;branch",
                                                                 b"192.0.2.50:5060;branch")
    _, resp, _ = _one(p.receive(proxy.NETWORK, invite, FAR, 0))
    assert resp.status == 480
    p, _, _ = _proxy(phone_contact="sip:desk@127.0.0.1:5062", network_allow=["192.0.2.0/24"])
    side, fwd, dest = _one(p.receive(proxy.NETWORK, invite, FAR, 0))
    assert side == proxy.PHONE and dest == PHONE and str(fwd.uri) == "sip:desk@127.0.0.1:5062"


def test_two_calls_get_two_media_sessions():
    p, box, _ = _proxy()
    _one(p.receive(proxy.PHONE, _invite(), PHONE, 0))
    second = _invite(branch="z9hG4bK.two").replace(b"c140wxXF0q", b"second-call")
    _one(p.receive(proxy.PHONE, second, PHONE, 0))
    assert len(p.media.opened) == 2 and len(box.calls) == 2
    assert [c.call for c in box.calls] == [1, 2]


def test_hold_and_resume_pass_through():
    p, _, _ = _proxy()
    _, fwd, _ = _forward_invite(p)
    p.receive(proxy.NETWORK, _response(fwd, 200, "OK", SDP_FAR), FAR, 1200)
    hold = SDP_PHONE.replace("a=rtcp-fb:* trr-int 1000\r\n", "a=sendonly\r\n")
    reinvite = _invite(sdp=hold, branch="z9hG4bK.hold", cseq="21 INVITE").replace(
        b"To: sip:bob@192.0.2.50", b"To: <sip:bob@192.0.2.50>;tag=fcd4026e")
    _, fwd2, _ = _one(p.receive(proxy.PHONE, reinvite, PHONE, 2000))
    assert b"a=sendonly\r\n" in fwd2.body and b"m=audio 42000 " in fwd2.body
    assert fwd2.get_all("Record-Route") == []  # in-dialog: no new Record-Route
    old_hold = SDP_PHONE.replace("c=IN IP4 127.0.0.1", "c=IN IP4 0.0.0.0")
    _, fwd3, _ = _one(p.receive(proxy.PHONE, _invite(sdp=old_hold, branch="z9hG4bK.h2",
                                                     cseq="22 INVITE").replace(
        b"To: sip:bob@192.0.2.50", b"To: <sip:bob@192.0.2.50>;tag=fcd4026e"), PHONE, 2100))
    assert b"c=IN IP4 0.0.0.0\r\n" in fwd3.body
    assert len(p.media.opened) == 1


def test_shutdown_says_bye_to_both_parties():
    p, box, _ = _proxy()
    _, fwd, _ = _forward_invite(p)
    p.receive(proxy.NETWORK, _response(fwd, 200, "OK", SDP_FAR), FAR, 1200)
    out = p.shutdown(5000)
    assert len(out) == 2
    by_side = {}
    for side, data, dest in out:
        by_side[side] = (message.parse(data), dest)
    to_phone, dest = by_side[proxy.PHONE]
    assert to_phone.method == "BYE" and dest == ("127.0.0.1", 5062)
    assert str(to_phone.uri) == "sip:alice@127.0.0.1:5062"
    assert to_phone.address("To").tag == "mWSSwrRMI"
    assert to_phone.address("From").tag == "fcd4026e"
    to_far, dest = by_side[proxy.NETWORK]
    assert dest == ("192.0.2.50", 5060) and to_far.cseq().number == 21
    assert to_far.address("From").tag == "mWSSwrRMI"
    assert box.calls == [] and p.media.opened[0].closed


def _in_dialog(method, cseq, body=b"", ctype=None):
    lines = ["%s sip:bob@192.0.2.50:5060 SIP/2.0" % method,
             "Via: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bK.%s%d;rport" % (method, cseq),
             "Route: <sip:127.0.0.1:5070;lr>", "Route: <sip:198.51.100.7:5080;lr>",
             "From: <sip:alice@127.0.0.1>;tag=mWSSwrRMI",
             "To: <sip:bob@192.0.2.50>;tag=fcd4026e", "Call-ID: c140wxXF0q",
             "CSeq: %d %s" % (cseq, method), "Max-Forwards: 70"]
    if ctype:
        lines.append("Content-Type: " + ctype)
    lines.append("Content-Length: %d" % len(body))
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def test_update_info_options_and_prack_follow_the_dialog():
    p, _, _ = _proxy()
    _, fwd, _ = _forward_invite(p)
    p.receive(proxy.NETWORK, _response(fwd, 200, "OK", SDP_FAR), FAR, 1200)
    side, upd, dest = _one(p.receive(proxy.PHONE, _in_dialog("UPDATE", 22, SDP_PHONE.encode(),
                                                               "application/sdp"), PHONE, 3000))
    assert side == proxy.NETWORK and dest == ("192.0.2.50", 5060)
    assert upd.get_all("Route") == [] and b"m=audio 42000 " in upd.body
    assert b"a=zrtp-hash:1.10 " + b"ab" * 32 in upd.body
    info = b"Signal=1\r\nDuration=160\r\n"
    _, inf, _ = _one(p.receive(proxy.PHONE, _in_dialog("INFO", 23, info,
                                                       "application/dtmf-relay"), PHONE, 3100))
    assert inf.body == info and inf.method == "INFO"
    _, opt, _ = _one(p.receive(proxy.PHONE, _in_dialog("OPTIONS", 24), PHONE, 3200))
    assert opt.method == "OPTIONS" and len(opt.get_all("Via")) == 2
    _, pr, _ = _one(p.receive(proxy.PHONE, _in_dialog("PRACK", 25), PHONE, 3300))
    assert pr.method == "PRACK"
    # the 200 to UPDATE with SDP is rewritten toward the phone
    _, resp, dest = _one(p.receive(proxy.NETWORK, _response(upd, 200, "OK", SDP_FAR), FAR, 3400))
    assert dest == PHONE and b"m=audio 40000 " in resp.body and b"zrtp-hash" not in resp.body
    assert len(p.media.opened) == 1


def test_requests_addressed_to_the_box_itself():
    p, _, _ = _proxy()
    opt = _in_dialog("OPTIONS", 1).replace(b"OPTIONS sip:bob@192.0.2.50:5060",
                                           b"OPTIONS sip:127.0.0.1:5070").replace(
        b"Route: <sip:127.0.0.1:5070;lr>\r\nRoute: <sip:198.51.100.7:5080;lr>\r\n", b"")
    side, resp, dest = _one(p.receive(proxy.PHONE, opt, PHONE, 0))
    assert side == proxy.PHONE and resp.status == 200 and dest == PHONE
    sub = opt.replace(b"OPTIONS", b"SUBSCRIBE")
    _, resp, _ = _one(p.receive(proxy.PHONE, sub, PHONE, 0))
    assert resp.status == 404
    p, _, _ = _proxy(network_proxy="203.0.113.9:5060")
    side, fwd, dest = _one(p.receive(proxy.PHONE, sub, PHONE, 0))
    assert side == proxy.NETWORK and dest == ("203.0.113.9", 5060)
    assert str(fwd.uri) == "sip:bob@192.0.2.50"


def _phase(p):
    return p.calls["c140wxXF0q"].phase


def test_a_call_walks_through_its_phases_and_their_deadlines():
    p, box, logs = _proxy()
    limit, linger = proxy.CALL_SETUP_LIMIT_MS, proxy.ENDED_LINGER_MS
    _, fwd, _ = _forward_invite(p)  # at 1000
    assert _phase(p) == proxy.EARLY and p.timer() == 1000 + limit
    p.receive(proxy.NETWORK, _response(fwd, 407, "Proxy Authentication Required",
                                       extra='Proxy-Authenticate: Digest realm="x", nonce="n"'),
              FAR, 1100)
    assert _phase(p) == proxy.CHALLENGED and p.timer() == 1100 + linger
    _, fwd2, _ = _one(p.receive(proxy.PHONE, _invite(branch="z9hG4bK.retry", cseq="21 INVITE"),
                                PHONE, 1200))
    assert _phase(p) == proxy.EARLY and p.timer() == 1000 + limit  # the setup limit counts from the first
    p.receive(proxy.NETWORK, _response(fwd2, 200, "OK", SDP_FAR), FAR, 1300)
    assert _phase(p) == proxy.CONFIRMED and p.timer() is None
    p.handle_timer(1000 + limit)  # a confirmed call has no deadline
    assert _phase(p) == proxy.CONFIRMED and not p.media.opened[0].closed
    _one(p.receive(proxy.PHONE, _in_dialog("BYE", 22), PHONE, 5000))
    assert _phase(p) == proxy.ENDED and p.media.opened[0].closed and box.calls == []
    assert p.timer() == 5000 + linger
    p.handle_timer(5000 + linger - 1)
    assert "c140wxXF0q" in p.calls  # still there for late retransmissions
    p.handle_timer(5000 + linger)
    assert p.calls == {} and p.timer() is None


def test_an_unanswered_or_unretried_call_expires():
    p, box, logs = _proxy()
    _forward_invite(p)
    p.handle_timer(1000 + proxy.CALL_SETUP_LIMIT_MS)
    # ended, CANCEL and 408 sent (test_proxy_dialogs.py); it lingers for the callee's answer
    assert _phase(p) == proxy.ENDED and box.calls == [] and "no answer" in logs[-1]
    p.handle_timer(1000 + proxy.CALL_SETUP_LIMIT_MS + proxy.ENDED_LINGER_MS)
    assert p.calls == {}
    p, box, logs = _proxy()
    _, fwd, _ = _forward_invite(p)
    p.receive(proxy.NETWORK, _response(fwd, 401, "Unauthorized",
                                       extra='WWW-Authenticate: Digest realm="x", nonce="n"'),
              FAR, 1100)
    p.handle_timer(1100 + proxy.ENDED_LINGER_MS)
    assert _phase(p) == proxy.ENDED and p.media.opened[0].closed and box.calls == []
    assert "authentication not retried" in logs[-1]
    assert p.timer() == 1100 + 2 * proxy.ENDED_LINGER_MS  # it lingers from its end

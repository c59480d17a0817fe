"""RFC 4475 and RFC 5118 torture messages against zerotap.sip.message.

The messages and the reaction the RFCs allow come from host_tests/vectors/sip_rfc4475.json (+ the
.dat files) and sip_rfc5118.json. Valid messages must parse, and survive parse -> serialize ->
parse with the same start line, header fields and body. Invalid ones must get a reaction the RFC
allows; the reason text is ours and asserted here exactly.
"""
from vectors import VECTORS, load
from zerotap.sip import message, sdp, uri
from zerotap.sip.headers import unquote

RFC4475 = load("sip_rfc4475.json")["messages"]
RFC5118 = load("sip_rfc5118.json")["messages"]

# Why we reject each invalid RFC 4475 message (ParseError text).
REJECTED = {
    "badinv01": "Via: empty parameter",
    "clerr": "Content-Length 9999 is larger than the body (154 bytes)",
    "ncl": "bad Content-Length '-999'",
    "scalar02": "CSeq: not a 32-bit number: '36893488147419103232'",
    "scalarlg": "CSeq: not a 32-bit number: '9292394834772304023312'",
    "quotbal": "To: unterminated quoted string",
    "ltgtruri": "Request-URI is enclosed in <>",
    "lwsruri": "whitespace in the Request-URI",
    "lwsstart": "more than one SP between Request-Line elements",
    "trws": "whitespace at the end of the Request-Line",
    "escruri": "Request-URI has headers",
    "regbadct": "Contact: URI with '?' must be enclosed in <>",
    "badaspec": "To: whitespace inside <>",
    "baddn": "From: display name needs quotes: 'Bell, Alexander'",
    "badvers": "SIP version 7.0 is not supported",
    "mismatch01": "CSeq method INVITE does not match the request method OPTIONS",
    "mismatch02": "CSeq method INVITE does not match the request method NEWMETHOD",
    "bigcode": "bad status code '4294967301'",
    "insuf": "missing header fields: From, To, Call-ID",
    "multi01": "more than one Call-ID header field",
    "mcl01": "more than one Content-Length header field",
}
# Invalid messages we accept, as the RFC allows: the box does not use the Date header field
# (RFC 4475 §3.1.2.12), so it forwards it untouched rather than refuse the call.
LIBERAL = ("baddate",)


def _data(name):
    with open(VECTORS + "/sip_rfc4475/" + name + ".dat", "rb") as f:
        return f.read()


def _parse(name):
    return message.parse(_data(name))


def _fields(msg):
    return [(message.key(n), v) for n, v in msg.items() if message.key(n) != "content-length"]


def _same(a, b):
    assert a.start_line() == b.start_line()
    assert _fields(a) == _fields(b)
    assert a.body == b.body


def _round_trip(msg):
    again = message.parse(msg.serialize())
    _same(msg, again)
    assert again.serialize() == msg.serialize()
    assert int(again.get("content-length")) == len(msg.body)


def test_rfc4475_manifest_lists_every_file():
    assert len(RFC4475) == 49
    for entry in RFC4475:
        assert len(_data(entry["file"][:-4])) > 100


def test_rfc4475_each_message_gets_a_reaction_the_rfc_allows():
    checked = 0
    for entry in RFC4475:
        name = entry["file"][:-4]
        try:
            msg = message.parse(_data(name))
        except message.ParseError as e:
            assert entry["syntax"] == "invalid", (name, str(e))
            outcome = "drop" if e.status is None else e.status
            assert outcome in entry["answer"], (name, outcome)
            assert str(e) == REJECTED[name], (name, str(e))
            if e.status is None:
                assert e.response() is None
            else:
                reply = e.response()
                assert reply.status == e.status and reply.reason == str(e)
                for field in ("via", "from", "to", "call-id", "cseq"):
                    assert reply.get_all(field) == e.message.get_all(field), (name, field)
            checked += 1
            continue
        if entry["syntax"] == "invalid":
            assert name in LIBERAL and None in entry["answer"], name
        else:
            assert name not in REJECTED, name
        _round_trip(msg)
        checked += 1
    assert checked == 49


def test_wsinv_short_tortuous_invite():
    msg = _parse("wsinv")
    assert msg.method == "INVITE" and str(msg.uri) == "sip:vivekg@chair-dnrc.example.com;unknownparam"
    assert msg.uri.has_param("unknownparam") and msg.uri.param("unknownparam") is None
    to = msg.address("to")
    assert to.display is None and to.tag == "1918181833n" and str(to.uri) == "sip:vivekg@chair-dnrc.example.com"
    frm = msg.address("FROM")
    assert frm.display == 'J Rosenberg \\"' and frm.tag == "98asjd8"
    assert msg.max_forwards() == 68
    c = msg.cseq()
    assert c.number == 9 and c.method == "INVITE"
    assert msg.call_id() == "wsinv.ndaksdj@192.0.2.1"
    vias = msg.vias()
    assert [(v.transport, v.host, v.port, v.branch) for v in vias] == [
        ("UDP", "192.0.2.2", None, "390skdjuw"),
        ("TCP", "spindle.example.com", None, "z9hG4bK9ikj8"),
        ("UDP", "192.168.255.111", None, "z9hG4bK30239")]
    assert msg.get("Subject") == "" and msg.get("s") == ""
    assert msg.get("NewFangledHeader") == "newfangled value continued newfangled value"
    assert msg.get_all("UnknownHeaderWithUnusualValue") == [";;,,;;,;"]
    contact = msg.addresses("m")
    assert len(contact) == 1
    assert contact[0].display == 'Quoted string ""' and contact[0].uri.user == "jdrosen"
    assert contact[0].param("newparam") == "newvalue" and contact[0].has_param("secondparam")
    assert contact[0].param("secondparam") is None and contact[0].param("q") == "0.33"
    route = msg.addresses("Route")[0]
    assert route.uri.host == "services.example.com" and route.uri.has_param("lr")
    assert route.uri.param("unknownwith") == "value" and route.uri.has_param("unknown-no-value")
    assert len(msg.body) == 150 and msg.content_type() == "application/sdp"


def test_intmeth_wide_range_of_characters():
    msg = _parse("intmeth")
    assert msg.method == "!interesting-Method0123456789_*+`.%indeed'~"
    u = msg.uri
    assert u.user == "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*"
    assert u.password == "&it+has=1,weird!*pas$wo~d_too.(doesn't-it)" and u.host == "example.com"
    assert msg.vias()[0].branch == "z9hG4bK-.!%66*_+`'~"
    to = msg.address("To")
    assert to.display == "BEL:\x07 NUL:\x00 DEL:\x7f"
    assert str(to).startswith('"BEL:\\\x07 NUL:\\\x00 DEL:\\\x7f" <sip:1_unusual.URI')
    from zerotap.sip.headers import parse_address
    assert parse_address(str(to)).display == to.display and str(parse_address(str(to))) == str(to)
    frm = msg.address("From")
    assert frm.display == "token1~` token2'+_ token3*%!.-" and frm.tag == "_token~1'+`*%!-."
    assert unquote(frm.param("fromParam''~+*_!.-%")) == "\u0440\u0430\u0431\u043e\u0442\u0430\u044e\u0449\u0438\u0439"
    assert msg.call_id() == "intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{"
    assert msg.cseq().number == 139122385 and msg.max_forwards() == 255
    assert msg.get("extensionHeader-!.%*+_`'~") == "\ufeff\u5927\u505c\u96fb"


def test_escapes_stay_escaped_until_asked():
    msg = _parse("esc01")
    assert msg.uri.user == "sips%3Auser%40example.com" and msg.uri.host == "example.net"
    assert uri.unescape(msg.uri.user) == b"sips:user@example.com"
    assert uri.unescape(msg.address("To").uri.user) == b"user"
    assert uri.unescape(msg.address("From").uri.user) == b"I have spaces"
    contact = msg.addresses("Contact")[0].uri
    assert contact.has_param("%6C%72") and contact.param("n%61me") == "v%61lue%25%34%31"
    assert uri.unescape(contact.param("n%61me")) == b"value%41"  # never unescaped twice
    reg = _parse("escnull")
    assert uri.unescape(reg.address("To").uri.user) == b"null-\x00-null"
    assert [uri.unescape(a.uri.user) for a in reg.addresses("Contact")] == [b"\x00", b"\x00\x00"]


def test_percent_that_is_not_an_escape():
    msg = _parse("esc02")
    assert msg.method == "RE%47IST%45R" and msg.cseq().method == "RE%47IST%45R"
    assert msg.address("To").display == "%Z%45"
    assert len(msg.addresses("Contact")) == 2  # C%6Fntact is another header field
    assert msg.get("C%6Fntact") == "<sip:alias2@host2.example.com>"
    assert msg.vias()[0].branch == "z9hG4bK209%fzsnel234"


def test_display_name_without_lws_and_long_values():
    assert _parse("lwsdisp").address("From").display == "caller"
    msg = _parse("longreq")
    assert len(msg.vias()) == 34
    assert msg.vias()[0].host == "sip33.example.com" and msg.vias()[-1].host == "host.example.com"
    assert msg.vias()[-1].param("received") == "192.0.2.5"
    assert len(msg.call_id()) > 100 and len(msg.address("From").tag) > 50
    assert msg.address("To").uri.port == 6000


def test_udp_framing_cuts_extra_octets_and_keeps_binary_bodies():
    msg = _parse("dblreq")
    assert msg.method == "REGISTER" and msg.body == b""
    assert b"INVITE" not in msg.serialize()
    mp = _parse("mpart01")
    assert len(mp.body) == 553 and b"\x00" in mp.body
    assert mp.content_type() == "multipart/mixed"
    old = _parse("inv2543")  # RFC 2543 style: no Content-Length, no Max-Forwards, no branch
    assert old.get("Content-Length") is None and old.max_forwards() is None
    assert old.body.startswith(b"v=0\r\n") and old.body.endswith(b"RTP/AVP 0\r\n")
    assert old.vias()[0].branch is None and old.address("From").tag is None


def test_uri_user_parts_transports_and_reasons():
    msg = _parse("semiuri")
    assert msg.uri.user == "user;par=u%40example.net" and msg.uri.host == "example.com"
    assert msg.uri.params == []
    assert msg.get_all("Accept") == ["application/sdp", "application/pkcs7-mime", "multipart/mixed",
                                     "multipart/signed", "message/sip", "message/sipfrag"]
    assert [v.transport for v in _parse("transports").vias()] == ["UDP", "SCTP", "TLS", "UNKNOWN", "TCP"]
    un = _parse("unreason")
    assert un.status == 200 and un.reason.startswith("= 2**3 * 5**2 \u043d\u043e \u0441\u0442\u043e")
    no = _parse("noreason")
    assert no.status == 100 and no.reason == ""
    assert no.serialize().startswith(b"SIP/2.0 100 \r\n")


def test_application_layer_messages_parse():
    assert str(_parse("unkscm").uri) == "nobodyknowsthisscheme:totallyopaquecontent"
    u = _parse("novelsc").uri
    assert u.scheme == "soap.beep" and u.opaque == "//192.0.2.103:3002" and not u.is_sip()
    msg = _parse("unksm2")
    assert msg.address("To").uri.scheme == "isbn" and msg.address("To").uri.opaque == "2983792873"
    assert str(msg.address("From").uri) == "http://www.example.com"
    assert str(msg.addresses("Contact")[0].uri) == "name:John_Smith"
    assert _parse("bext01").get_all("Proxy-Require") == ["noProxiesSupportThis", "norDoAnyProxiesSupportThis"]
    assert _parse("invut").content_type() == "application/unknownformat"
    assert _parse("regaut01").get("Authorization") == "NoOneKnowsThisScheme opaque-data=here"
    assert _parse("bcast").vias()[1].host == "255.255.255.255"
    assert _parse("zeromf").max_forwards() == 0
    assert _parse("badbranch").vias()[0].branch == "z9hG4bK"
    c1 = _parse("cparam01").addresses("Contact")[0]
    assert c1.has_param("unknownparam") and c1.uri.params == []  # addr-spec: a header parameter
    c2 = _parse("cparam02").addresses("Contact")[0]
    assert c2.params == [] and c2.uri.has_param("unknownparam")  # in <>: a URI parameter
    c3 = _parse("regescrt").addresses("Contact")[0]
    assert c3.uri.headers == "Route=%3Csip:sip.example.com%3E"
    assert _parse("sdp01").get("Accept") == "text/nobodyKnowsThis"
    assert _parse("baddate").get("Date") == "Fri, 01 Jan 2010 16:00:00 EST"


def _expect_5118(msg, expect, section):
    if "ruri_host" in expect:
        assert msg.uri.host == expect["ruri_host"], section
    if "ruri_port" in expect:
        assert msg.uri.port == expect["ruri_port"], section
    if "vias" in expect:
        assert [[v.transport, v.host, v.port] for v in msg.vias()] == expect["vias"], section
    top = msg.vias()[0]
    if "received" in expect:
        assert top.param("received") == expect["received"], section
    if "branch" in expect:
        assert top.branch == expect["branch"], section
    if "contact_host" in expect:
        assert msg.addresses("Contact")[0].uri.host == expect["contact_host"], section
    if "sdp_connections" in expect:
        s = sdp.parse(msg.body)
        assert [s.media_connection(m).address for m in s.media] == expect["sdp_connections"], section


def test_rfc5118_ipv6_messages():
    assert len(RFC5118) == 12
    for entry in RFC5118:
        data = entry["text"].encode()
        if entry["syntax"] == "invalid":
            try:
                message.parse(data)
            except message.ParseError as e:
                assert e.status == entry["answer"]
                assert str(e) == "bad Request-URI: bad port 'db8::10'"
                continue
            assert False, entry["section"]
        msg = message.parse(data)  # valid, or robustness asked for ("invalid-robust")
        _expect_5118(msg, entry["expect"], entry["section"])
        assert msg.serialize() == data  # canonical input: byte for byte

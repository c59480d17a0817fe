"""zerotap.sip.message: header access and editing, serialization, responses, precise errors.

The INVITE follows RFC 3261 §24.2 (F1); canonical messages must come back byte for byte.
"""
from zerotap.sip import message
from zerotap.sip.headers import parse_address, parse_via

SDP = (b"v=0\r\n"
       b"o=alice 2890844526 2890844526 IN IP4 pc33.atlanta.com\r\n"
       b"s=Session SDP\r\n"
       b"c=IN IP4 pc33.atlanta.com\r\n"
       b"t=0 0\r\n"
       b"m=audio 49172 RTP/AVP 0\r\n"
       b"a=rtpmap:0 PCMU/8000\r\n")

INVITE = (b"INVITE sip:bob@biloxi.com SIP/2.0\r\n"
          b"Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bKnashds8\r\n"
          b"Max-Forwards: 70\r\n"
          b"To: Bob <sip:bob@biloxi.com>\r\n"
          b"From: Alice <sip:alice@atlanta.com>;tag=1928301774\r\n"
          b"Call-ID: a84b4c76e66710\r\n"
          b"CSeq: 314159 INVITE\r\n"
          b"Contact: <sip:alice@pc33.atlanta.com>\r\n"
          b"Content-Type: application/sdp\r\n"
          b"Content-Length: %d\r\n"
          b"\r\n") % len(SDP) + SDP


def _error(data):
    try:
        message.parse(data)
    except message.ParseError as e:
        assert isinstance(e, ValueError)
        return e
    return None


def _minimal(start=b"OPTIONS sip:bob@biloxi.com SIP/2.0", extra=b"", cseq=b"1 OPTIONS"):
    return (start + b"\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\n"
            b"To: <sip:c@d>\r\nCall-ID: x1\r\nCSeq: " + cseq + b"\r\n" + extra + b"\r\n")


def test_canonical_invite_round_trips_byte_for_byte():
    assert b"Content-Length: 156\r\n" in INVITE
    msg = message.parse(INVITE)
    assert msg.is_request and msg.method == "INVITE" and str(msg.uri) == "sip:bob@biloxi.com"
    assert msg.body == SDP and msg.serialize() == INVITE
    assert msg.copy().serialize() == INVITE
    assert repr(msg) == "<INVITE sip:bob@biloxi.com SIP/2.0>"


def test_header_names_are_case_insensitive_with_compact_forms():
    msg = message.parse(INVITE)
    for name in ("Call-ID", "call-id", "CALL-ID", "i", "I"):
        assert msg.get(name) == "a84b4c76e66710"
    assert msg.get("v") == "SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bKnashds8"
    assert msg.get("m") == "<sip:alice@pc33.atlanta.com>" and msg.get("l") == "156"
    assert msg.get("Subject") is None and msg.get("Subject", "-") == "-" and msg.get_all("Subject") == []
    assert msg.has("t") and not msg.has("Route")
    compact = message.parse(INVITE.replace(b"Call-ID:", b"i:").replace(b"Via:", b"v:"))
    assert compact.call_id() == "a84b4c76e66710" and compact.items()[0][0] == "v"
    assert compact.serialize() == INVITE.replace(b"Call-ID:", b"i:").replace(b"Via:", b"v:")


def test_lists_split_outside_quotes_and_angle_brackets():
    extra = (b'Contact: "Smith, J" <sip:j@a.example;x=1,2>;q=0.5, <sip:k@b.example>\r\n'
             b"Contact: sip:l@c.example\r\n"
             b"Record-Route: <sip:p1.example;lr>,<sip:p2.example;lr>\r\n"
             b"Allow: INVITE, ACK,CANCEL\r\n"
             b'Warning: 370 devnull "Choose, a bigger pipe", 399 x "y"\r\n'
             b"Authorization: Digest username=\"bob\", realm=\"biloxi.com\", nonce=\"n\"\r\n"
             b"X-Unknown: a, b\r\n")
    msg = message.parse(_minimal(extra=extra))
    assert msg.get_all("Contact") == ['"Smith, J" <sip:j@a.example;x=1,2>;q=0.5', "<sip:k@b.example>",
                                      "sip:l@c.example"]
    contacts = msg.addresses("m")
    assert [c.display for c in contacts] == ["Smith, J", None, None]
    assert contacts[0].uri.param("x") == "1,2" and contacts[0].param("q") == "0.5"
    assert [str(a.uri) for a in msg.addresses("Record-Route")] == ["sip:p1.example;lr", "sip:p2.example;lr"]
    assert msg.get_all("Allow") == ["INVITE", "ACK", "CANCEL"]
    assert msg.get_all("Warning") == ['370 devnull "Choose, a bigger pipe"', '399 x "y"']
    assert msg.get_all("Authorization") == ['Digest username="bob", realm="biloxi.com", nonce="n"']
    assert msg.get_all("X-Unknown") == ["a, b"]
    assert msg.get("Contact") == '"Smith, J" <sip:j@a.example;x=1,2>;q=0.5'


def test_folding_joins_with_one_space():
    extra = b"Subject: first\r\n  second\r\n\tthird\r\nX-Empty:\r\n value\r\nX-Blank: b\r\n \r\n"
    msg = message.parse(_minimal(extra=extra))
    assert msg.get("Subject") == "first second third" and msg.get("X-Empty") == "value"
    assert msg.get("X-Blank") == "b"  # a continuation of only whitespace adds nothing
    assert b"Subject: first second third\r\n" in msg.serialize()


def test_editing_headers_keeps_order_and_unknown_fields():
    msg = message.parse(_minimal(extra=b"X-A: 1\r\nRoute: <sip:p1;lr>, <sip:p2;lr>\r\nX-B: 2\r\n"))
    msg.insert("Via", "SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKbox;rport")
    msg.insert("Record-Route", "<sip:10.0.0.1;lr>")
    assert [n for n, v in msg.items()][:3] == ["Record-Route", "Via", "Via"]
    assert msg.vias()[0].host == "10.0.0.1" and len(msg.vias()) == 2
    assert msg.pop("Route") == "<sip:p1;lr>" and msg.get_all("Route") == ["<sip:p2;lr>"]
    assert msg.pop("Route") == "<sip:p2;lr>" and not msg.has("Route") and msg.pop("Route") is None
    msg.add("X-A", "3")
    assert msg.get_all("x-a") == ["1", "3"]
    msg.add("X-New", "n")
    assert msg.items()[-1] == ("X-New", "n")
    msg.set("Contact", ["<sip:a@10.0.0.1>", "<sip:b@10.0.0.1>"])
    assert msg.get_all("Contact") == ["<sip:a@10.0.0.1>", "<sip:b@10.0.0.1>"]
    msg.set("x-a", "only")
    assert msg.get_all("X-A") == ["only"] and [n for n, v in msg.items()].index("x-a") == 7
    assert msg.remove("Contact") == 2 and msg.remove("Contact") == 0
    msg.set("Max-Forwards", 69)
    assert msg.max_forwards() == 69
    assert message.parse(msg.serialize()).items() == msg.items() + [("Content-Length", "0")]


def test_via_with_rport_received_and_ipv6():
    v = parse_via("SIP / 2.0 / UDP [2001:db8::9:1] : 5062 ; branch = z9hG4bK7 ; rport")
    assert (v.protocol, v.version, v.transport, v.host, v.port) == ("SIP", "2.0", "UDP", "[2001:db8::9:1]", 5062)
    assert v.branch == "z9hG4bK7" and v.has_param("rport") and v.param("rport") is None
    v.set_param("received", "2001:db8::9:255")
    v.set_param("rport", "5063")
    assert str(v) == "SIP/2.0/UDP [2001:db8::9:1]:5062;branch=z9hG4bK7;rport=5063;received=2001:db8::9:255"
    assert v.sent_by() == "[2001:db8::9:1]:5062"
    assert v.del_param("RPORT") and not v.has_param("rport") and not v.del_param("rport")
    w = parse_via("SIP/2.0/TCP host.example.com;maddr=224.2.0.1;ttl=16;x=\"a;b\"")
    assert w.port is None and w.param("ttl") == "16" and w.param("x") == '"a;b"'


def test_addresses_display_names_and_params():
    a = parse_address('"Bob \\"B\\"" <sip:bob@biloxi.com;transport=udp>;tag=8x;expires=60')
    assert a.display == 'Bob "B"' and a.tag == "8x" and a.param("expires") == "60"
    assert str(a) == '"Bob \\"B\\"" <sip:bob@biloxi.com;transport=udp>;tag=8x;expires=60'
    b = parse_address("sip:+1-201-555-0123@gw.example;user=phone;tag=9")
    assert b.display is None and b.uri.user == "+1-201-555-0123" and b.tag == "9"
    assert b.uri.params == [] and b.param("user") == "phone"  # addr-spec: parameters are the header's
    assert str(b) == "<sip:+1-201-555-0123@gw.example>;user=phone;tag=9"
    c = parse_address("Bob  Smith <tel:+1-201-555-0123;phone-context=example.com>")
    assert c.display == "Bob Smith" and c.uri.scheme == "tel" and c.uri.user == "+1-201-555-0123"
    assert c.uri.param("phone-context") == "example.com" and c.uri.host is None
    assert str(c) == "Bob Smith <tel:+1-201-555-0123;phone-context=example.com>"
    d = parse_address('"" <sip:x@y>')
    assert d.display == "" and str(d) == '"" <sip:x@y>'
    e = parse_address('"Alice" <sip:alice@example.org>;+sip.instance="<urn:uuid:1>"')
    assert e.display == "Alice" and str(e) == '"Alice" <sip:alice@example.org>;+sip.instance="<urn:uuid:1>"'
    e.uri = parse_address("<sip:alice@192.0.2.1:5080;zt=1>").uri  # a proxy's rewrite keeps the quotes
    assert str(e) == '"Alice" <sip:alice@192.0.2.1:5080;zt=1>;+sip.instance="<urn:uuid:1>"'
    e.display = "Bob"
    assert str(e) == "Bob <sip:alice@192.0.2.1:5080;zt=1>;+sip.instance=\"<urn:uuid:1>\""
    assert str(parse_address("*", star=True)) == "*" and parse_address("*", star=True).is_star()


def test_make_response_copies_the_right_fields():
    msg = message.parse(INVITE.replace(b"Via: SIP/2.0/UDP pc33", b"Via: SIP/2.0/UDP p1;branch=z9hG4bK2\r\nv: SIP/2.0/UDP pc33"))
    resp = message.make_response(msg, 180, to_tag="b0b")
    assert resp.status == 180 and resp.reason == "Ringing" and not resp.is_request
    assert resp.get_all("Via") == msg.get_all("Via") and len(resp.get_all("Via")) == 2
    assert resp.address("To").tag == "b0b" and resp.get("From") == msg.get("From")
    assert resp.call_id() == msg.call_id() and str(resp.cseq()) == "314159 INVITE"
    assert not resp.has("Contact") and resp.body == b""
    data = resp.serialize()
    assert data.startswith(b"SIP/2.0 180 Ringing\r\nVia: SIP/2.0/UDP p1;branch=z9hG4bK2\r\n")
    assert data.endswith(b"To: Bob <sip:bob@biloxi.com>;tag=b0b\r\n"
                         b"From: Alice <sip:alice@atlanta.com>;tag=1928301774\r\nCall-ID: a84b4c76e66710\r\n"
                         b"CSeq: 314159 INVITE\r\nContent-Length: 0\r\n\r\n")
    again = message.make_response(message.parse(data), 200, "Fine", to_tag="other")
    assert again.address("To").tag == "b0b" and again.start_line() == "SIP/2.0 200 Fine"
    assert message.make_response(msg, 100).address("To").tag is None
    assert message.Response(699).reason == "" and message.Response(486).reason == "Busy Here"


def test_response_parse_and_reason_phrases():
    data = (b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1;received=192.0.2.2;rport=5062\r\n"
            b"From: <sip:a@b>;tag=1\r\nTo: <sip:c@d>;tag=2\r\nCall-ID: x1\r\nCSeq: 1 OPTIONS\r\n"
            b"Content-Length: 0\r\n\r\n")
    r = message.parse(data)
    assert r.status == 200 and r.reason == "OK" and r.serialize() == data
    v = r.vias()[0]
    assert v.param("received") == "192.0.2.2" and v.param("rport") == "5062"
    assert message.parse(data.replace(b"200 OK", b"200")).reason == ""
    lower = message.parse(data.replace(b"SIP/2.0 200", b"sip/2.0 200"))
    assert lower.status == 200 and lower.version == "sip/2.0"
    assert str(_error(data.replace(b"SIP/2.0 200", b"s\xc4\xb1p/2.0 200"))) == \
        "not a SIP request or response: 's\\u0131p/2.0 200 OK'"


def test_body_framing():
    body = b"v=0\r\n"
    msg = message.parse(_minimal(extra=b"Content-Length: 5\r\n") + body + b"garbage")
    assert msg.body == body
    msg = message.parse(_minimal() + b"no length: to the end\x00")
    assert msg.body == b"no length: to the end\x00"
    msg.body = b"abc"
    assert message.parse(msg.serialize()).body == b"abc" and msg.serialize().endswith(b"Content-Length: 3\r\n\r\nabc")
    lf = message.parse(_minimal().replace(b"\r\n", b"\n") + b"x")
    assert lf.body == b"x" and lf.call_id() == "x1"
    assert message.parse(b"\r\n\r\n" + _minimal()).method == "OPTIONS"
    assert message.parse(_minimal()[:-2]).body == b""  # no empty line at the very end
    assert message.parse(bytearray(_minimal())).method == "OPTIONS"
    assert message.parse(memoryview(_minimal())).method == "OPTIONS"


def test_bad_requests_get_a_400_with_the_reason():
    cases = [
        (_minimal(extra=b"Content-Length: 10\r\n") + b"short", 400, "Content-Length 10 is larger than the body (5 bytes)"),
        (_minimal(extra=b"Content-Length: 1x\r\n"), 400, "bad Content-Length '1x'"),
        (_minimal(extra=b"Content-Length: 99999999999\r\n"), 400, "bad Content-Length '99999999999'"),
        (_minimal(extra=b"Max-Forwards: 256\r\n"), 400, "Max-Forwards: 256 is over 255"),
        (_minimal(extra=b"Max-Forwards: -1\r\n"), 400, "Max-Forwards: not a 32-bit number: '-1'"),
        (_minimal(cseq=b"1 INVITE"), 400, "CSeq method INVITE does not match the request method OPTIONS"),
        (_minimal(cseq=b"4294967296 OPTIONS"), 400, "CSeq: not a 32-bit number: '4294967296'"),
        (_minimal(cseq=b"OPTIONS"), 400, "CSeq: expected 'number method', got 'OPTIONS'"),
        (_minimal(extra=b"Bad Header: x\r\n"), 400, "bad header line 'Bad Header: x'"),
        (_minimal(extra=b"NoColon\r\n"), 400, "bad header line 'NoColon'"),
        (_minimal(extra=b"X-CR: a\rb\r\n"), 400, "bad header line 'X-CR: a\\x0db'"),
        (_minimal(extra=b"X-CR: a\r\n \rb\r\n"), 400, "bad header line ' \\x0db'"),
        (_minimal(extra=b"X-Bin: \xff\xfe\r\n"), 400, "header line is not UTF-8"),
        (_minimal(extra=b"Via: SIP/2.0/UDP\r\n"), 400, "Via: no sent-by after UDP"),
        (_minimal(extra=b"Via: SIP/2.0/UDP h:99999\r\n"), 400, "Via: bad port '99999'"),
        (_minimal(extra=b"Via: SIP/2.0/UDP h;received=nope\r\n"), 400, "Via: received is not an IP address: 'nope'"),
        (_minimal(extra=b"Via: SIP/2.0/UDP h;rport=x\r\n"), 400, "Via: bad rport 'x'"),
        (_minimal(extra=b"Via: SIP/2.0/UDP h;ttl=256\r\n"), 400, "Via: bad ttl '256'"),
        (_minimal(extra=b"Via: SIP/2.0/UDP h;branch\r\n"), 400, "Via: bad branch None"),
        (_minimal(extra=b"Via: SIP/2.0/UDP h,\r\n"), 400, "empty Via value"),
        (_minimal(extra=b"Via: SIP/2.0 UDP h\r\n"), 400, "Via: no sent-protocol in 'SIP/2.0 UDP h'"),
        (_minimal(extra=b"Via: SIP/2.0/UDP h p\r\n"), 400, "Via: bad sent-by host 'h p'"),
        (_minimal(extra=b"Via: SIP/2.0/UDP h_@x\r\n"), 400, "Via: bad sent-by host 'h_@x'"),
        (_minimal(extra=b"Route: sip:p1;lr\r\n"), 400, "Route: URI not enclosed in <>"),
        (_minimal(extra=b"Record-Route: <sip:p1;lr\r\n"), 400, "Record-Route: no closing >"),
        (_minimal(extra=b"Contact: <sip:a@b>;tag=a b\r\n"), 400, "Contact: unexpected 'b'"),
        (_minimal(extra=b"Contact: <sip:a@b>;=x\r\n"), 400, "Contact: empty parameter"),
        (_minimal(extra=b"Contact: <sip:a@b>;x=\r\n"), 400, "Contact: no value for parameter x"),
        (_minimal(extra=b'Contact: <sip:a@b>;x="y\r\n'), 400, "Contact: unterminated quoted string in parameter x"),
        (_minimal(extra=b"Contact: <nourischeme>\r\n"), 400, "Contact: no URI scheme in 'nourischeme'"),
        (_minimal(extra=b"Contact: <sip:>\r\n"), 400, "Contact: empty URI after 'sip:'"),
        (_minimal(extra=b"Contact: <sip:@host>\r\n"), 400, "Contact: empty user part in 'sip:@host'"),
        (_minimal(extra=b"Contact: <sip:a@[::1>\r\n"), 400, "Contact: unterminated IPv6 reference '[::1'"),
        (_minimal(extra=b"Contact: <sip:a@ho st>\r\n"), 400, "Contact: whitespace inside <>"),
        (_minimal(extra=b"Contact: \"x\" sip:a@b\r\n"), 400, "Contact: display name not followed by <URI>"),
        (_minimal(extra=b"CSeq: 2 OPTIONS\r\n"), 400, "more than one CSeq header field"),
        (_minimal().replace(b"To: <sip:c@d>\r\n", b""), 400, "missing header field: To"),
        (_minimal().replace(b"Call-ID: x1", b"Call-ID: x 1"), 400, "bad Call-ID 'x 1'"),
        (_minimal().replace(b"tag=1", b"tag=a\"b"), 400, "From: unexpected '\"b'"),
        (_minimal().replace(b"tag=1", b"tag=\"q\""), 400, "From: bad tag '\"q\"'"),
        (_minimal(b"OPTIONS sip:bob@biloxi.com SIP/2.0 "), 400, "whitespace at the end of the Request-Line"),
        (_minimal(b"OPTIONS  sip:bob@biloxi.com SIP/2.0"), 400, "more than one SP between Request-Line elements"),
        (_minimal(b"OPTIONS sip:bob@biloxi.com SIP/2"), 400, "bad SIP-Version 'SIP/2'"),
        (_minimal(b"OPTIONS sip:bob@biloxi.com SIP/3.0"), 505, "SIP version 3.0 is not supported"),
        (_minimal(b"OPTIONS sip:bob@biloxi.com extra SIP/2.0"), 400, "whitespace in the Request-URI"),
        (_minimal(b"OPTIONS bob@biloxi.com SIP/2.0"), 400, "bad Request-URI: no URI scheme in 'bob@biloxi.com'"),
        (_minimal(b"OPTIONS s!p:bob SIP/2.0"), 400, "bad Request-URI: bad URI scheme 's!p'"),
        (_minimal(b"OPTIONS sip:bob@biloxi.com:http SIP/2.0"), 400, "bad Request-URI: bad port 'http'"),
        (b"\r\nOPTIONS sip:x SIP/2.0\r\n\r\n", 400, "missing header fields: Via, From, To, Call-ID, CSeq"),
        (b"OPTIONS sip:x SIP/2.0\r\n continued\r\n\r\n", 400, "continuation line before any header field"),
    ]
    for data, status, reason in cases:
        e = _error(data)
        assert e is not None, data
        assert (e.status, str(e)) == (status, reason), (data, e.status, str(e))
        reply = e.response()
        assert reply.status == status and reply.reason == reason.replace("\xa7", "?")
        assert reply.get("Call-ID") == e.message.get("Call-ID")


def test_what_cannot_be_answered_is_only_reported():
    cases = [
        (b"", "empty datagram (a keep-alive?)"),
        (b"\r\n\r\n", "empty datagram (a keep-alive?)"),
        (b"hello world\r\n\r\n", "not a SIP request or response: 'hello world'"),
        (b"\xff\xfe INVITE\r\n\r\n", "start line is not UTF-8"),
        (b"SIP/2.0 2000 OK\r\n\r\n", "bad status code '2000'"),
        (b"SIP/2.0 099 Low\r\n\r\n", "bad status code '099'"),
        (b"SIP/3.0 200 OK\r\n\r\n", "bad Status-Line version 'SIP/3.0'"),
        (b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h\r\n\r\n", "missing header fields: From, To, Call-ID, CSeq"),
        (b"INVITE\r\n\r\n", "not a SIP request or response: 'INVITE'"),
        (_minimal(b"OPTIONS sip:b s\xc4\xb1p/2.0"), "not a SIP request or response: 'OPTIONS sip:b s\\u0131p/2.0'"),
        (b"OPTIONS sip:x SIP/2.0\r\n" + b"X: y\r\n" * 300 + b"\r\n", "more than 256 header lines"),
    ]
    for data, reason in cases:
        e = _error(data)
        assert e is not None and str(e) == reason, (data, e and str(e))
        assert e.status is None and e.response() is None


def test_response_to_a_request_with_a_broken_to_gets_no_tag():
    e = _error(_minimal().replace(b"To: <sip:c@d>", b"To: \"broken <sip:c@d>"))
    assert str(e) == "To: unterminated quoted string"
    reply = e.response(to_tag="abc")
    assert reply.get("To") == "\"broken <sip:c@d>"
    e = _error(_minimal(extra=b"Max-Forwards: x\r\n"))
    assert e.response(to_tag="abc").address("To").tag == "abc"


def test_cancel_and_ack_for_a_non_2xx():
    invite = message.parse(INVITE.replace(b"Max-Forwards: 70\r\n", b"Max-Forwards: 70\r\nRoute: <sip:p1.example;lr>\r\n")
                           .replace(b"Via: SIP/2.0/UDP pc33", b"Via: SIP/2.0/UDP box;branch=z9hG4bKtop\r\nVia: SIP/2.0/UDP pc33"))
    cancel = message.make_cancel(invite)
    assert cancel.start_line() == "CANCEL sip:bob@biloxi.com SIP/2.0"
    assert cancel.get_all("Via") == ["SIP/2.0/UDP box;branch=z9hG4bKtop"]  # RFC 3261 §9.1: top Via only
    assert str(cancel.cseq()) == "314159 CANCEL" and cancel.get("To") == invite.get("To")
    assert cancel.get("From") == invite.get("From") and cancel.call_id() == invite.call_id()
    assert cancel.get_all("Route") == ["<sip:p1.example;lr>"] and cancel.max_forwards() == 70
    assert cancel.body == b"" and not cancel.has("Contact") and not cancel.has("Content-Type")
    busy = message.make_response(invite, 486, to_tag="x9")
    ack = message.make_ack(invite, busy)
    assert ack.start_line() == "ACK sip:bob@biloxi.com SIP/2.0"
    assert ack.get_all("Via") == ["SIP/2.0/UDP box;branch=z9hG4bKtop"] and str(ack.cseq()) == "314159 ACK"
    assert ack.address("To").tag == "x9" and ack.get_all("Route") == ["<sip:p1.example;lr>"]
    assert message.parse(ack.serialize()).serialize() == ack.serialize()
    assert invite.cseq().method == "INVITE" and len(invite.vias()) == 2  # the INVITE is untouched


def test_edits_refuse_what_would_break_framing():
    msg = message.parse(_minimal())
    for name, value, reason in (("X-A", "a\r\nVia: SIP/2.0/UDP evil", "line break in the value of X-A"),
                                ("X-A", "a\nb", "line break in the value of X-A"),
                                ("X A", "b", "bad header name 'X A'"),
                                ("", "b", "bad header name ''")):
        for edit in (msg.set, msg.add, msg.insert):
            try:
                edit(name, value)
            except ValueError as e:
                assert str(e) == reason
            else:
                assert False, (edit, name, value)
    msg.add("X-Pad", "  padded\t")
    assert msg.get("X-Pad") == "padded" and message.parse(msg.serialize()).get("X-Pad") == "padded"


def test_response_address_follows_rfc3261_and_rfc3581():
    cases = [
        # RFC 3581 §4 example: received and rport together
        ("SIP/2.0/UDP 10.1.1.1:4540;received=192.0.2.1;rport=9988;branch=z9hG4bKkjshdyff", ("192.0.2.1", 9988)),
        # rport asked for but not filled in: received with the sent-by port (RFC 3261 §18.2.2)
        ("SIP/2.0/UDP 10.1.1.1:4540;received=192.0.2.1;rport", ("192.0.2.1", 4540)),
        ("SIP/2.0/UDP 10.1.1.1;received=192.0.2.1", ("192.0.2.1", 5060)),
        ("SIP/2.0/UDP 10.1.1.1:4540;rport", ("10.1.1.1", 4540)),
        # rport filled in without received (the source address was the sent-by host)
        ("SIP/2.0/UDP 10.1.1.1:4540;rport=9988", ("10.1.1.1", 9988)),
        ("SIP/2.0/UDP pc33.atlanta.com", ("pc33.atlanta.com", 5060)),
        ("SIP/2.0/UDP 10.1.1.1:4540;maddr=239.255.255.1;received=192.0.2.1;rport=9", ("239.255.255.1", 4540)),
        ("SIP/2.0/UDP [2001:db8::9:1]:6050;received=[2001:db8::9:255];rport=6051", ("2001:db8::9:255", 6051)),
        ("SIP/2.0/UDP [2001:db8::9:1];received=2001:db8::9:255", ("2001:db8::9:255", 5060)),
        ("SIP/2.0/UDP [::1]:5062", ("::1", 5062)),
    ]
    for text, want in cases:
        assert parse_via(text).response_address() == want, text
    from zerotap.sip import uri
    assert uri.parse("sip:bob@[2001:db8::10]:5070;lr").address() == ("2001:db8::10", 5070)
    assert uri.parse("sips:bob@biloxi.com").address(5061) == ("biloxi.com", 5061)


def test_a_broken_ack_is_never_answered():
    e = _error(_minimal(b"ACK sip:bob@biloxi.com SIP/2.0", cseq=b"1 INVITE"))
    assert str(e) == "CSeq method INVITE does not match the request method ACK"
    assert e.status is None and e.response() is None and e.message.method == "ACK"
    e = _error(_minimal(b"ACK sip:bob@biloxi.com SIP/3.0", cseq=b"1 ACK"))
    assert str(e) == "SIP version 3.0 is not supported" and e.status is None and e.response() is None

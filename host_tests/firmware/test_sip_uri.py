"""zerotap.sip.uri: SIP/SIPS/tel URIs (RFC 3261 §19.1, RFC 3966), round trips and errors."""
from support import error_text
from zerotap.sip import uri


def test_sip_uri_parts_round_trip():
    # RFC 3261 §19.1.3 examples
    cases = [
        ("sip:alice@atlanta.com", ("alice", None, "atlanta.com", None, [], None)),
        ("sip:alice:secretword@atlanta.com;transport=tcp",
         ("alice", "secretword", "atlanta.com", None, [["transport", "tcp"]], None)),
        ("sips:alice@atlanta.com?subject=project%20x&priority=urgent",
         ("alice", None, "atlanta.com", None, [], "subject=project%20x&priority=urgent")),
        ("sip:+1-212-555-1212:1234@gateway.com;user=phone",
         ("+1-212-555-1212", "1234", "gateway.com", None, [["user", "phone"]], None)),
        ("sips:1212@gateway.com", ("1212", None, "gateway.com", None, [], None)),
        ("sip:alice@192.0.2.4", ("alice", None, "192.0.2.4", None, [], None)),
        ("sip:atlanta.com;method=REGISTER?to=alice%40atlanta.com",
         (None, None, "atlanta.com", None, [["method", "REGISTER"]], "to=alice%40atlanta.com")),
        ("sip:alice;day=tuesday@atlanta.com", ("alice;day=tuesday", None, "atlanta.com", None, [], None)),
        ("sip:bob@[2001:db8::10]:5070;lr;maddr=[2001:db8::1]",
         ("bob", None, "[2001:db8::10]", 5070, [["lr", None], ["maddr", "[2001:db8::1]"]], None)),
        ("sip:127.0.0.1:5060", (None, None, "127.0.0.1", 5060, [], None)),
    ]
    for text, (user, password, host, port, params, headers) in cases:
        u = uri.parse(text)
        assert (u.user, u.password, u.host, u.port, u.params, u.headers) == \
            (user, password, host, port, params, headers), text
        assert str(u) == text and u.is_sip()
        assert u.copy() == u and u.copy() is not u


def test_scheme_is_case_insensitive_host_is_kept():
    u = uri.parse("SIPS:Bob@BiloxI.com")
    assert u.scheme == "sips" and u.host == "BiloxI.com" and str(u) == "sips:Bob@BiloxI.com"


def test_params_api():
    u = uri.parse("sip:p.example;LR;transport=UDP")
    assert u.has_param("lr") and u.param("lr") is None and u.param("Transport") == "UDP"
    assert u.param("maddr") is None and u.param("maddr", "-") == "-"
    u.set_param("transport", "tcp")
    u.set_param("rport")
    u.port = 5070
    assert str(u) == "sip:p.example:5070;LR;transport=tcp;rport" and u.host_port() == "p.example:5070"
    assert u.del_param("lr") and not u.del_param("lr")
    assert str(u) == "sip:p.example:5070;transport=tcp;rport"
    built = uri.Uri("sip", "10.0.0.1", "bob", 5062, [["lr", None]])
    assert str(built) == "sip:bob@10.0.0.1:5062;lr"


def test_tel_and_other_schemes():
    t = uri.parse("tel:+1-201-555-0123;ext=1234;phone-context=example.com")
    assert t.scheme == "tel" and t.user == "+1-201-555-0123" and t.host is None and not t.is_sip()
    assert t.param("ext") == "1234" and str(t) == "tel:+1-201-555-0123;ext=1234;phone-context=example.com"
    for text in ("urn:service:sos", "http://www.example.com/a?b=c", "mailto:a@b", "im:x@y"):
        u = uri.parse(text)
        assert u.opaque == text[text.index(":") + 1:] and str(u) == text and u.host is None


def test_addresses_for_sockets_and_back():
    # what a socket gives and takes (no brackets) <-> what a URI or a Via sent-by carries
    assert uri.bracket("2001:db8::1") == "[2001:db8::1]" and uri.bracket("[::1]") == "[::1]"
    assert uri.bracket("192.0.2.1") == "192.0.2.1" and uri.bracket("pc33.example") == "pc33.example"
    assert uri.join_hostport("2001:db8::1", 5070) == "[2001:db8::1]:5070"
    assert uri.join_hostport("[::1]") == "[::1]" and uri.join_hostport("192.0.2.1", 5060) == "192.0.2.1:5060"
    for host, port in (("2001:db8::1", 5070), ("192.0.2.1", 5060), ("::1", 1)):
        text = uri.join_hostport(host, port)
        h, p = uri.split_hostport(text)
        assert (uri.unbracket(h), p) == (host, port)
        assert uri.parse("sip:bob@" + text).address() == (host, port)
    for text in ("tel:+1-201-555-0123", "urn:service:sos"):
        try:
            uri.parse(text).address()
        except ValueError as e:
            assert str(e) == "not a SIP URI: %r" % text, str(e)
        else:
            assert False, text


def test_unescape():
    assert uri.unescape("sips%3Auser%40example.com") == b"sips:user@example.com"
    assert uri.unescape("null-%00-null") == b"null-\x00-null"
    assert uri.unescape("%e2%82%ac") == "\u20ac".encode() and uri.unescape("plain") == b"plain"
    for bad in ("%", "%4", "%zz", "a%4g"):
        try:
            uri.unescape(bad)
        except ValueError as e:
            assert str(e) == "bad escape in %r" % bad
        else:
            assert False, bad


def test_bad_uris_get_precise_reasons():
    cases = [
        ("", "no URI scheme in ''"),
        ("alice@atlanta.com", "no URI scheme in 'alice@atlanta.com'"),
        (":x", "no URI scheme in ':x'"),
        ("1sip:x", "bad URI scheme '1sip'"),
        ("si p:x", "bad URI scheme 'si p'"),
        ("sip:", "empty URI after 'sip:'"),
        ("sip:a b@c", "URI contains ' '"),
        ("sip:a@b>", "URI contains '>'"),
        ("sip:a\x00@b", "URI contains '\\x00'"),
        ("sip:@host", "empty user part in 'sip:@host'"),
        ("sip:user@", "empty host"),
        ("sip:user@host;", "empty URI parameter name in ';'"),
        ("sip:user@host;a=1;;b", "empty URI parameter name in ';a=1;;b'"),
        ("sip:user@ho$t", "bad host 'ho$t'"),
        ("sip:user@host:", "bad port ''"),
        ("sip:user@host:65536", "bad port '65536'"),
        ("sip:user@host:+80", "bad port '+80'"),
        ("sip:user@host:\u0665", "bad port '\\u0665'"),
        ("sip:user@[::1", "unterminated IPv6 reference '[::1'"),
        ("sip:user@[::1]x", "bad text after IPv6 reference '[::1]x'"),
        ("sip:user@[xyz]", "bad IPv6 reference '[xyz]'"),
        ("sip:user@[]", "bad IPv6 reference '[]'"),
        ("sip:2001:db8::10", "bad port 'db8::10'"),
        ("tel:", "empty URI after 'tel:'"),
        ("tel:;x=1", "empty tel number in 'tel:;x=1'"),
    ]
    for text, reason in cases:
        assert error_text(uri.parse, text) == reason, (text, error_text(uri.parse, text))

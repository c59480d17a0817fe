"""zerotap.sip.sdp against the SDP examples of RFC 4317, RFC 3264, RFC 4566 and RFC 8866
(host_tests/vectors/sip_sdp_examples.json), plus the edits the box makes."""
from support import error_text
from vectors import load
from zerotap.sip import sdp

EXAMPLES = load("sip_sdp_examples.json")["descriptions"]

HELLO_HASH = "1.10 fe30efd02423cb054e50efd0248742ac7a52c8f91bc2df881ae642c371ba46df"  # RFC 6189 §8.1

# A plain audio offer with SDES keys (RFC 4568 §4 style) and a peer's zrtp-hash (RFC 6189 §8.1).
SECURE_OFFER = (
    "v=0\r\n"
    "o=alice 2890844526 2890844526 IN IP4 192.0.2.10\r\n"
    "s=-\r\n"
    "c=IN IP4 192.0.2.10\r\n"
    "t=0 0\r\n"
    "a=zrtp-hash:" + HELLO_HASH + "\r\n"
    "m=audio 49170 RTP/SAVP 0 101\r\n"
    "a=rtpmap:0 PCMU/8000\r\n"
    "a=rtpmap:101 telephone-event/8000\r\n"
    "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^20|1:32\r\n"
    "a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:NzB4d1BINUAvLEw6UzF3WSJ+PSdFcGdUJShpX1Zj|2^20|1:32\r\n"
    "a=zrtp-hash:" + HELLO_HASH + "\r\n"
    "a=rtcp:49171 IN IP4 192.0.2.10\r\n"
    "a=sendrecv\r\n"
)


def test_rfc_examples_round_trip_byte_for_byte():
    assert len(EXAMPLES) == 60
    for ex in EXAMPLES:
        s = sdp.parse(ex["text"].encode())
        assert s.serialize() == ex["text"].encode(), (ex["source"], ex["role"])
        assert sdp.parse(ex["text"]).serialize() == s.serialize()  # str input too


def test_rfc_examples_fields():
    for ex in EXAMPLES:
        s = sdp.parse(ex["text"])
        o = s.origin()
        assert [o.username, o.sess_id, o.sess_version, o.nettype, o.addrtype, o.address] == ex["origin"]
        got = []
        for m in s.media:
            got.append([m.media, m.port, m.proto, m.fmts, s.media_connection(m).address,
                        s.direction(m), len(m.attributes())])
        assert got == ex["media"], (ex["source"], ex["role"])


def test_hold_and_port_zero_from_rfc4317():
    hold = [ex for ex in EXAMPLES if ex["source"] == "RFC 4317 §3.1" and ex["role"] == "Answer"][0]
    s = sdp.parse(hold["text"])
    assert s.direction(s.media[0]) == "sendonly" and s.connection().address == "placeholder.biloxi.example.com"
    declined = [ex for ex in EXAMPLES if ex["source"] == "RFC 4317 §2.2" and ex["role"] == "Answer"][0]
    s = sdp.parse(declined["text"])
    assert [m.port for m in s.media] == [49172, 0]
    assert s.media[0].rtpmap() == {"0": "PCMU/8000", "8": "PCMA/8000"}
    black_hole = [ex for ex in EXAMPLES if ex["source"] == "RFC 4317 §5.2" and ex["role"] == "Offer"][0]
    assert sdp.parse(black_hole["text"]).connection().address == "0.0.0.0"
    multicast = [ex for ex in EXAMPLES if ex["source"] == "RFC 4566 §5"][0]
    s = sdp.parse(multicast["text"])
    assert s.connection().address == "224.2.17.12/127" and s.direction() == "recvonly"
    assert s.get_attr("recvonly", "absent") is None and s.has_attr("recvonly")


def test_box_rewrite_toward_the_phone_strips_keys_and_moves_media():
    s = sdp.parse(SECURE_OFFER)
    m = s.media[0]
    assert sdp.parse_zrtp_hash(m.get_attr("zrtp-hash")) == ("1.10", HELLO_HASH[5:])
    assert len(m.get_attrs("crypto")) == 2
    assert s.strip_attr("zrtp-hash") == 2 and m.remove_attr("crypto") == 2
    assert m.remove_attr("crypto") == 0
    assert sdp.parse_rtcp(m.get_attr("rtcp"))[0] == 49171
    assert m.remove_attr("rtcp") == 1
    m.port = 40000
    m.proto = "RTP/AVP"
    s.set_connection("127.0.0.1")
    o = s.origin()
    o.address = "127.0.0.1"
    o.sess_version = str(int(o.sess_version) + 1)
    s.set_origin(o)
    assert s.serialize() == (
        b"v=0\r\n"
        b"o=alice 2890844526 2890844527 IN IP4 127.0.0.1\r\n"
        b"s=-\r\n"
        b"c=IN IP4 127.0.0.1\r\n"
        b"t=0 0\r\n"
        b"m=audio 40000 RTP/AVP 0 101\r\n"
        b"a=rtpmap:0 PCMU/8000\r\n"
        b"a=rtpmap:101 telephone-event/8000\r\n"
        b"a=sendrecv\r\n")


def test_box_rewrite_toward_the_network_adds_its_hash_and_media_address():
    s = sdp.parse(SECURE_OFFER)
    s.strip_attr("zrtp-hash")
    m = s.media[0]
    m.remove_attr("crypto")
    m.add_attr("zrtp-hash", "1.10 " + "ab" * 32)
    m.set_connection("2001:db8::7")
    assert m.connection().addrtype == "IP6" and s.media_connection(m).address == "2001:db8::7"
    assert sdp.addrtype_of("2001:db8::7") == "IP6" and sdp.addrtype_of("192.0.2.1") == "IP4"
    assert s.connection().address == "192.0.2.10"
    text = s.serialize().decode()
    assert "m=audio 49170 RTP/SAVP 0 101\r\nc=IN IP6 2001:db8::7\r\na=rtpmap:0 PCMU/8000\r\n" in text
    assert text.endswith("a=sendrecv\r\na=zrtp-hash:1.10 " + "ab" * 32 + "\r\n")
    assert sdp.parse(text).media[0].get_attrs("zrtp-hash") == ["1.10 " + "ab" * 32]


def test_direction_edits_hold_and_resume():
    s = sdp.parse(SECURE_OFFER)
    m = s.media[0]
    m.set_direction("sendonly")  # RFC 3264 §8.4: hold
    assert s.direction(m) == "sendonly" and m.get_attrs("sendrecv") == []
    m.lines.append(["a", "inactive"])  # a second, conflicting one
    m.set_direction("sendrecv")
    assert [n for n, v in m.attributes() if n in sdp.DIRECTIONS] == ["sendrecv"]
    bare = sdp.parse("v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\nm=audio 1 RTP/AVP 0\r\n")
    assert bare.direction(bare.media[0]) == "sendrecv" and bare.media_connection(bare.media[0]) is None
    bare.media[0].set_direction("inactive")
    assert bare.serialize().endswith(b"m=audio 1 RTP/AVP 0\r\na=inactive\r\n")
    try:
        bare.media[0].set_direction("hold")
    except ValueError as e:
        assert str(e) == "not an SDP direction: 'hold'"
    else:
        assert False


def test_set_attr_replaces_in_place():
    s = sdp.parse(SECURE_OFFER)
    m = s.media[0]
    m.set_attr("crypto", "9 X inline:Y")
    assert m.get_attrs("crypto") == ["9 X inline:Y"]
    assert [n for n, v in m.attributes()][2] == "crypto"
    m.set_attr("ptime", "20")
    assert m.attributes()[-1] == ("ptime", "20")
    for name, value, reason in (("x", "a\r\nc=IN IP4 6.6.6.6", "a=x: line break in the value"),
                                ("bad name", None, "a=: bad attribute name 'bad name'")):
        for edit in (m.add_attr, m.set_attr):
            try:
                edit(name, value)
            except ValueError as e:
                assert str(e) == reason
            else:
                assert False, (name, value)


def test_port_count_lf_line_ends_and_unknown_lines():
    text = ("v=0\no=- 7 7 IN IP4 192.0.2.1\ns=x\nt=0 0\nx=unknown\n"
            "m=video 49170/2 RTP/AVP 31\nb=AS:64\nk=prompt\na=rtpmap:31 H261/90000\n\n")
    s = sdp.parse(text)
    m = s.media[0]
    assert m.port == 49170 and m.port_count == 2 and m.m_line() == "video 49170/2 RTP/AVP 31"
    assert s.serialize() == text.rstrip("\n").replace("\n", "\r\n").encode() + b"\r\n"
    m.set_connection("192.0.2.9")
    assert m.lines[0] == ["c", "IN IP4 192.0.2.9"]


def test_bad_descriptions_get_precise_reasons():
    good = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\n"
    cases = [
        (b"", "empty SDP"),
        (b"\xff\xfe", "SDP is not UTF-8"),
        ("v=1\r\n", "SDP line 1: expected v=0, got 'v=1'"),
        ("o=- 1 1 IN IP4 a\r\n", "SDP line 1: expected v=0, got 'o=- 1 1 IN IP4 a'"),
        ("v=0\r\nhello\r\n", "SDP line 2: expected <type>=<value>, got 'hello'"),
        ("v=0\r\n\r\ns=x\r\n", "SDP line 2: expected <type>=<value>, got ''"),
        ("v=0\r\nO=x\r\n", "SDP line 2: expected <type>=<value>, got 'O=x'"),
        ("v=0\r\no=- 1 IN IP4 192.0.2.1\r\ns=-\r\n", "SDP line 2: o=: expected 6 fields, got 5"),
        ("v=0\r\no=- x 1 IN IP4 a\r\ns=-\r\n", "SDP line 2: o=: sess-id and sess-version must be numbers"),
        ("v=0\r\ns=-\r\n", "SDP has no o= line"),
        (good + "c=IN IP4\r\n", "SDP line 5: c=: expected 'nettype addrtype address', got 'IN IP4'"),
        (good + "m=audio 5000 RTP/AVP\r\n",
         "SDP line 5: m=: expected 'media port proto fmt...', got 'audio 5000 RTP/AVP'"),
        (good + "m=audio 65536 RTP/AVP 0\r\n", "SDP line 5: m=: bad port '65536'"),
        (good + "m=audio -1 RTP/AVP 0\r\n", "SDP line 5: m=: bad port '-1'"),
        (good + "m=audio 5000/x RTP/AVP 0\r\n", "SDP line 5: m=: bad port count '5000/x'"),
        (good + "a=bad name\r\n", "SDP line 5: a=: bad attribute name 'bad name'"),
        (good + "a=:x\r\n", "SDP line 5: a=: bad attribute name ''"),
        (good + "a=x\ry\r\n", "SDP line 5: NUL or CR inside the line"),
        (good + "s=a\x00b\r\n", "SDP line 5: NUL or CR inside the line"),
    ]
    for data, reason in cases:
        assert error_text(sdp.parse, data) == reason, (data, error_text(sdp.parse, data))


def test_missing_s_and_t_lines_are_let_through():
    s = sdp.parse("v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\nm=audio 4000 RTP/AVP 0\r\nc=IN IP4 192.0.2.1\r\n")
    assert s.media[0].port == 4000 and s.media_connection(s.media[0]).address == "192.0.2.1"


def test_attribute_helpers_reject_bad_values():
    cases = [
        (sdp.parse_zrtp_hash, "1.10", "zrtp-hash: expected 'version hash', got '1.10'"),
        (sdp.parse_zrtp_hash, "1.10 abc", "zrtp-hash: hash is not 64 hex digits"),
        (sdp.parse_zrtp_hash, "1.10 " + "g" * 64, "zrtp-hash: hash is not 64 hex digits"),
        (sdp.parse_zrtp_hash, None, "zrtp-hash: expected 'version hash', got ''"),
        (sdp.parse_rtcp, "x", "rtcp: bad port in 'x'"),
        (sdp.parse_rtcp, "99999", "rtcp: bad port in '99999'"),
        (sdp.parse_rtcp, "5000 IN IP4", "rtcp: expected 'port nettype addrtype address', got '5000 IN IP4'"),
    ]
    for func, value, reason in cases:
        try:
            func(value)
        except ValueError as e:
            assert str(e) == reason, (value, str(e))
        else:
            assert False, value
    port, conn = sdp.parse_rtcp("53020 IN IP6 2001:db8::1")
    assert port == 53020 and conn.addrtype == "IP6" and conn.address == "2001:db8::1"
    assert sdp.parse_rtcp("53020") == (53020, None)


def test_a_session_built_from_scratch():
    s = sdp.Session()
    s.lines.append(["v", "0"])
    s.set_origin(sdp.Origin("zerotap", "1", "1", "2001:db8::1", "IP6"))
    s.lines.append(["s", "-"])
    s.set_connection("2001:db8::1")
    s.lines.append(["t", "0 0"])
    m = sdp.Media("audio", 40000, "RTP/AVP", ["0", "101"])
    m.add_attr("rtpmap", "0 PCMU/8000")
    m.add_attr("sendrecv")
    s.media.append(m)
    text = s.serialize()
    assert text == (b"v=0\r\no=zerotap 1 1 IN IP6 2001:db8::1\r\ns=-\r\nc=IN IP6 2001:db8::1\r\nt=0 0\r\n"
                    b"m=audio 40000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n")
    assert sdp.parse(text).serialize() == text

"""Messages recorded from linphonec 5.1.65 (host_tests/vectors/sip_linphone.json): they parse,
serialize back (one SP after each colon, Content-Length added when absent), and a proxy's edits
leave the digest credentials of a REGISTER valid (RFC 2617 §3.2.2, computed here with MD5)."""
import binascii
import hashlib

from vectors import load
from zerotap.sip import message, sdp
from zerotap.sip.headers import split_list, unquote

CAPTURES = load("sip_linphone.json")["messages"]


def _find(what):
    for c in CAPTURES:
        if c["what"].startswith(what):
            return c["text"].encode()
    raise AssertionError(what)


def _expected_bytes(raw):
    """What our serializer writes for RAW: one SP after the colon, Content-Length at the end when
    the sender left it out (bodiless UDP messages from belle-sip)."""
    head, sep, body = raw.partition(b"\r\n\r\n")
    lines = []
    for line in head.split(b"\r\n"):
        name, colon, value = line.partition(b":")
        lines.append(name + b": " + value.lstrip(b" ") if colon and lines else line)
    if not any(l.lower().startswith(b"content-length:") for l in lines):
        lines.append(b"Content-Length: %d" % len(body))
    return b"\r\n".join(lines) + sep + body


def test_every_capture_parses_and_serializes_back():
    assert len(CAPTURES) == 10
    for c in CAPTURES:
        raw = c["text"].encode()
        msg = message.parse(raw)
        assert msg.serialize() == _expected_bytes(raw), c["what"]
        again = message.parse(msg.serialize())
        assert again.items()[:len(msg.items())] == msg.items() and again.body == msg.body


def test_linphone_offer_and_answer():
    invite = message.parse(_find("INVITE from linphonec"))
    assert invite.vias()[0].has_param("rport") and invite.vias()[0].branch.startswith("z9hG4bK.")
    contact = invite.addresses("Contact")[0]
    assert contact.uri.param("transport") == "udp" and unquote(contact.param("+sip.instance")).startswith("<urn:uuid:")
    assert invite.get_all("Allow")[-1] == "UPDATE" and len(invite.get_all("Allow")) == 12
    offer = sdp.parse(invite.body)
    assert offer.serialize() == invite.body
    m = offer.media[0]
    assert m.fmts == ["0", "18", "96"] and m.rtpmap()["96"] == "telephone-event/8000"
    assert sdp.parse_zrtp_hash(m.get_attr("zrtp-hash"))[1] == \
        "6ed85b1d2e48ad30cc4c28756f52bb66e49a317439aa1b41ee1e917d5769ef7d"
    assert offer.get_attr("rtcp-xr").startswith("rcvr-rtt=all:10000")
    assert m.get_attrs("rtcp-fb") == ["* trr-int 5000", "* ccm tmmbr"]
    ok = message.parse(_find("200 to our INVITE"))
    assert ok.status == 200 and ok.reason == "Ok" and ok.address("To").tag == "9PsAPL3"
    answer = sdp.parse(ok.body)
    assert answer.media[0].port == 39575 and answer.direction(answer.media[0]) == "sendrecv"
    assert answer.media[0].remove_attr("zrtp-hash") == 1
    trying = message.parse(_find("100 to our INVITE"))
    assert trying.address("To").tag is None and trying.get("To") == "sip:alice@127.0.0.1"


def _digest(value):
    scheme, _, rest = value.partition(" ")
    params = {}
    for item in split_list(rest):
        name, _, v = item.partition("=")
        params[name.strip()] = unquote(v.strip())
    return scheme, params


def _md5(text):
    return binascii.hexlify(hashlib.md5(text.encode()).digest()).decode()


def test_digest_register_survives_a_proxy_hop():
    for what in ("REGISTER with Authorization", "REGISTER with expiry 0"):
        reg = message.parse(_find(what))
        # what a proxy does on the way (RFC 3261 §16.6): a Via on top, Max-Forwards down
        reg.insert("Via", "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKproxy1;rport")
        reg.set("Max-Forwards", reg.max_forwards() - 1)
        fwd = message.parse(reg.serialize())
        scheme, p = _digest(fwd.get("Authorization"))
        assert scheme == "Digest" and p["username"] == "alice" and p["realm"] == "example.org"
        ha1 = _md5("alice:example.org:secret")
        ha2 = _md5("%s:%s" % (fwd.method, p["uri"]))
        expected = _md5(":".join((ha1, p["nonce"], p["nc"], p["cnonce"], p["qop"], ha2)))
        assert p["response"] == expected, what
        assert len(fwd.vias()) == 2 and fwd.max_forwards() == 69
    first = message.parse(_find("REGISTER from linphonec"))
    assert first.get_all("Accept") == ["application/sdp", "text/plain", "application/vnd.gsma.rcs-ft-http+xml"]
    assert first.addresses("m")[0].display == "Alice" and first.get("Expires") == "3600"
    assert message.parse(_find("REGISTER with expiry 0")).get("Expires") == "0"

"""Issue 12, item 8: the box is no open relay. Requests from the network leave on the phone side
only toward a phone that registered through the box or toward phone.contact (a Route never
redirects them); dialog-creating requests from the network are taken only from the provider
(network.proxy, the registrar the phone registers with, network.allow), others get 403; unanswered
incoming calls are capped and rate-limited; media sockets are opened only for calls the box
accepted. Runs under both interpreters."""
from zerotap import config, seams, status
from zerotap.sip import message, proxy

PHONE = ("127.0.0.1", 5062)
PROVIDER = ("192.0.2.10", 5060)
STRANGER = ("198.51.100.66", 5060)
SDP = ("v=0\r\no=bob 1 1 IN IP4 192.0.2.50\r\ns=Talk\r\nc=IN IP4 192.0.2.50\r\nt=0 0\r\n"
       "m=audio 30000 RTP/AVP 0\r\n")


def _cfg(**network):
    net = {"sip": "198.51.100.7:5080", "rtp": "42000-42099"}
    net.update(network)
    return config.parse({"phone": {"sip": "127.0.0.1:5070", "allow": ["127.0.0.1", "10.0.0.0/8"],
                                   "rtp": "40000-40099", "contact": "sip:desk@127.0.0.1:5062"},
                         "network": net})


class _Media(seams.CallMedia):  # the seam fills dialog() and confirmed()
    def __init__(self, number):
        self.number = number

    def ports(self, side):
        base = (40000 if side == proxy.PHONE else 42000) + 2 * self.number
        return base, base + 1

    def hello_hash(self):
        return "1.10 " + "ab" * 32

    def set_remote(self, *args, **kw):
        pass

    def set_peer_hash(self, value):
        pass

    def answered(self, now_ms):
        pass

    def close(self):
        pass


class _Factory:
    def __init__(self):
        self.opened = []

    def open(self, call_status):
        m = _Media(len(self.opened))
        self.opened.append(m)
        return m


def _proxy(**network):
    p = proxy.Proxy(_cfg(**network), _Factory(), status.BoxStatus(), lambda text: None)
    return p


def _invite(src, uri="sip:alice@198.51.100.7:5080", call_id="in1", route=None, branch="z9hG4bKi1"):
    extra = "Route: %s\r\n" % route if route else ""
    return ("INVITE %s SIP/2.0\r\n"
            "Via: SIP/2.0/UDP %s:%d;branch=%s\r\n%s"
            "From: <sip:bob@example.org>;tag=x1\r\nTo: <sip:alice@example.org>\r\n"
            "Call-ID: %s\r\nCSeq: 1 INVITE\r\nMax-Forwards: 69\r\n"
            "Contact: <sip:bob@192.0.2.50>\r\nContent-Type: application/sdp\r\n"
            "Content-Length: %d\r\n\r\n%s" % (uri, src[0], src[1], branch, extra, call_id, len(SDP), SDP)).encode()


def _one(out):
    assert len(out) == 1, out
    side, data, dest = out[0]
    return side, message.parse(data), dest


def test_a_route_never_sends_a_network_request_elsewhere():
    # a host far away, and one on the phone's LAN (inside phone.allow) that is not the phone
    for target in ("203.0.113.99", "10.9.9.9"):
        p = _proxy(proxy="192.0.2.10:5060")
        out = p.receive(proxy.NETWORK, _invite(PROVIDER, route="<sip:%s;lr>" % target), PROVIDER, 0)
        for side, data, dest in out:
            assert dest[0] != target, (side, dest)
        side, msg, dest = _one(out)
        # to phone.contact, and only there
        assert side == proxy.PHONE and dest == PHONE and msg.method == "INVITE", (side, dest)
        assert msg.get_all("Route") == [] and str(msg.uri) == "sip:desk@127.0.0.1:5062"


def test_network_requests_reach_only_a_registered_phone_or_phone_contact():
    p = _proxy(proxy="192.0.2.10:5060")
    # a Request-URI naming another host on the phone side (inside phone.allow, never registered)
    side, msg, dest = _one(p.receive(proxy.NETWORK, _invite(PROVIDER, uri="sip:x@10.0.0.77:5060"), PROVIDER, 0))
    assert side == proxy.NETWORK and dest == PROVIDER and msg.status == 403, (side, dest)
    assert p.media.opened == []


def test_dialog_creating_requests_only_from_the_provider():
    p = _proxy(proxy="192.0.2.10:5060")
    side, msg, dest = _one(p.receive(proxy.NETWORK, _invite(STRANGER), STRANGER, 0))
    assert side == proxy.NETWORK and msg.status == 403 and dest == STRANGER
    assert p.media.opened == [] and p.calls == {}  # no call, no media sockets
    side, msg, dest = _one(p.receive(proxy.NETWORK, _invite(PROVIDER, call_id="in2"), PROVIDER, 0))
    assert side == proxy.PHONE and msg.method == "INVITE" and len(p.media.opened) == 1
    # network.allow adds hosts (a second edge of the provider, say)
    p = _proxy(proxy="192.0.2.10:5060", allow=["198.51.100.0/24"])
    side, msg, dest = _one(p.receive(proxy.NETWORK, _invite(STRANGER), STRANGER, 0))
    assert side == proxy.PHONE and msg.method == "INVITE"
    # without network.proxy or network.allow nobody may call in
    p = _proxy()
    side, msg, dest = _one(p.receive(proxy.NETWORK, _invite(STRANGER), STRANGER, 0))
    assert msg.status == 403 and p.media.opened == []


def test_unanswered_incoming_calls_are_capped_and_rate_limited():
    p = _proxy(proxy="192.0.2.10:5060")
    codes = []
    for i in range(proxy.INCOMING_RINGING_LIMIT + 2):
        out = p.receive(proxy.NETWORK, _invite(PROVIDER, call_id="ring%d" % i, branch="z9hG4bKr%d" % i),
                        PROVIDER, 100 * i)
        side, msg, dest = _one(out)
        codes.append(msg.status if not msg.is_request else "fwd")
    assert codes[:proxy.INCOMING_RINGING_LIMIT] == ["fwd"] * proxy.INCOMING_RINGING_LIMIT, codes
    assert codes[proxy.INCOMING_RINGING_LIMIT:] == [486, 486], codes
    assert len(p.media.opened) == proxy.INCOMING_RINGING_LIMIT  # the refused ones opened nothing
    # the rate: a burst of calls that end at once still meets a limit
    p = _proxy(proxy="192.0.2.10:5060")
    n, refused = 0, 0
    for i in range(proxy.INCOMING_RATE_CALLS + 3):
        out = p.receive(proxy.NETWORK, _invite(PROVIDER, call_id="b%d" % i, branch="z9hG4bKb%d" % i), PROVIDER, i)
        side, msg, dest = _one(out)
        if msg.is_request:
            n += 1
            cancel = ("CANCEL sip:alice@198.51.100.7:5080 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.10:5060;"
                      "branch=z9hG4bKb%d\r\nFrom: <sip:bob@example.org>;tag=x1\r\nTo: <sip:alice@example.org>\r\n"
                      "Call-ID: b%d\r\nCSeq: 1 CANCEL\r\nMax-Forwards: 69\r\nContent-Length: 0\r\n\r\n" % (i, i))
            p.receive(proxy.NETWORK, cancel.encode(), PROVIDER, i)
        else:
            assert msg.status == 503 and msg.get("Retry-After") is not None
            refused += 1
    assert n == proxy.INCOMING_RATE_CALLS and refused == 3
    # once the window has passed, calls come in again
    out = p.receive(proxy.NETWORK, _invite(PROVIDER, call_id="later", branch="z9hG4bKlater"), PROVIDER,
                    proxy.INCOMING_RATE_WINDOW_MS + 10)
    assert _one(out)[1].is_request

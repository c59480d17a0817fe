"""The box's NAT state (zerotap.sip.nat): public address from rport/received and from STUN
(RFC 5769 sample responses), keepalives on the flow."""
from support import raises
from vectors import load, unhex

from zerotap.sip import headers, nat

V = load("stun_rfc5769.json")
VIA = "SIP/2.0/UDP 10.0.0.2:5080;branch=z9hG4bK1"
TCP_VIA = "SIP/2.0/TCP 10.0.0.2:5080;branch=z9hG4bK1"


def test_stun_rfc5769_responses():
    for key in ("response_ipv4", "response_ipv6"):
        data = unhex(V[key]["hex"])
        assert nat.is_stun(data)
        txid = data[8:20]
        assert list(nat.binding_response(data, txid)) == V[key]["mapped"]
    data = unhex(V["response_ipv4"]["hex"])
    raises(lambda: nat.binding_response(data, b"\x00" * 12), "stun: transaction id does not match")
    raises(lambda: nat.binding_response(data[:-4], data[8:20]),
           "stun: length 60 does not match the datagram (76 bytes)")
    req = unhex(V["request"]["hex"])
    raises(lambda: nat.binding_response(req, req[8:20]),
           "stun: not a Binding success response (type 0x0001)")
    assert not nat.is_stun(b"SIP/2.0 200 OK\r\n\r\n\r\n")


def test_binding_request_bytes():
    txid = bytes(range(12))
    assert nat.binding_request(txid) == unhex("000100002112a442") + txid


def test_learn_from_via_and_stun():
    n = nat.Nat(("10.0.0.2", 5080), keepalive_ms=None, stun=("198.51.100.9", 3478),
                rand=lambda k: bytes(range(k)))
    assert n.advertised() == ("10.0.0.2", 5080)
    same = headers.parse_via(VIA + ";rport=5080;received=10.0.0.2")
    assert not n.learn_via(same) and n.public is None
    via = headers.parse_via(VIA + ";rport=61000;received=203.0.113.1")
    assert n.learn_via(via) and n.advertised() == ("203.0.113.1", 61000) and n.source == "rport"
    assert not n.learn_via(via)
    # over TCP only the address counts: the source port is the connection's
    t = nat.Nat(("10.0.0.2", 5080))
    tcp = headers.parse_via(TCP_VIA + ";rport=40001;received=10.0.0.2")
    assert not t.learn_via(tcp, "TCP") and t.public is None
    tcp = headers.parse_via(TCP_VIA + ";rport=40001;received=203.0.113.1")
    assert t.learn_via(tcp, "TCP") and t.public == ("203.0.113.1", 5080)
    req = n.stun_request(0)
    assert req == nat.binding_request(bytes(range(12)))
    resp = bytearray(unhex(V["response_ipv4"]["hex"]))
    resp[8:20] = bytes(range(12))  # the RFC's response, re-addressed to our transaction
    assert n.stun_response(bytes(resp))
    assert n.public == ("192.0.2.1", 32853) and n.source == "stun"
    assert not n.stun_response(bytes(resp))  # answered once


def test_keepalive_schedule():
    n = nat.Nat(("10.0.0.2", 5080), keepalive_ms=1000)
    assert n.timer() is None
    n.flow(("198.51.100.5", 5060), "UDP", 0)
    assert n.timer() == 1000
    assert n.keepalives(999) == []
    assert n.keepalives(1000) == [(b"\r\n\r\n", ("198.51.100.5", 5060))]
    assert n.timer() == 2000
    n.sent(1500)
    assert n.timer() == 2500
    n.flow(("198.51.100.5", 5061), "TLS", 1600)  # streams ping themselves
    assert n.timer() is None


def test_a_stun_server_that_never_answers_gets_seven_requests_then_the_attempt_ends():
    # RFC 5389 section 7.2.1: a request over UDP is retransmitted at doubling intervals, Rc = 7
    # requests in all, and the transaction fails Rm = 16 RTOs after the last. network.stun
    # pointing at a server that is down (or filtered) got a Binding request every second for
    # ever: 300 per attempt, the next attempt (BoxNetwork, every 5 min) starting before.
    n = nat.Nat(("10.0.0.2", 5080), stun=("198.51.100.9", 3478),
                rand=lambda k: bytes(range(k)))
    sent = [0]
    assert n.stun_request(0) == nat.binding_request(bytes(range(12)))
    for _ in range(400):
        t = n.timer()
        if t is None or t > 300000:
            break
        for data, dest in n.keepalives(t):
            assert dest == ("198.51.100.9", 3478) and data == nat.binding_request(bytes(range(12)))
            sent.append(t)
    assert len(sent) == 7, sent
    gaps = [b - a for a, b in zip(sent, sent[1:])]
    assert gaps == [nat.STUN_RETRY_MS << i for i in range(6)], gaps
    assert n.timer() is None  # the attempt is over: nothing more until the next stun_request
    resp = bytearray(unhex(V["response_ipv4"]["hex"]))
    resp[8:20] = bytes(range(12))
    assert n.stun_response(bytes(resp))  # a late answer to our request is still taken
    # the next attempt starts afresh
    assert n.stun_request(300000) is not None and n.timer() == 300000 + nat.STUN_RETRY_MS

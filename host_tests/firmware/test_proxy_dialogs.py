"""The proxy's dialogs at their edges, sans-IO: responses that cross a CANCEL, calls that ring
long, the box giving up on a call. Nothing the box cannot relay reaches either side with the
other side's media address (the call's media would bypass the box: no ZRTP, no SRTP)."""
from test_proxy_core import (FAR, PHONE, SDP_FAR, SDP_PHONE, _forward_invite, _invite, _proxy,
                             _response)
from zerotap.sip import message, proxy


def _parsed(out):
    return [(o[0], message.parse(o[1]), o[2]) for o in out]


def _cancel_from_phone():
    c = _invite(sdp="").replace(b"INVITE sip:bob@192.0.2.50 SIP/2.0",
                                b"CANCEL sip:bob@192.0.2.50 SIP/2.0")
    return c.replace(b"CSeq: 20 INVITE", b"CSeq: 20 CANCEL").replace(
        b"Content-Type: application/sdp\r\n", b"")


def _no_far_media(msgs):
    for side, m, dest in msgs:
        if side == proxy.PHONE and m.body:
            assert b"192.0.2.50" not in m.body and b"a=crypto" not in m.body, m.body


def test_a_200_that_crosses_the_phones_cancel_is_acked_and_byed_and_the_phone_gets_487():
    # RFC 3261 9.1: a CANCEL does not stop a 2xx already on its way. The box closed the call's
    # media at the CANCEL; the 200 then went to the phone as the far end wrote it: its address,
    # its a=crypto keys, its a=zrtp-hash. A phone that took it talked to the far end directly,
    # in clear, while the box showed no call. Now the box completes the far end's dialog (ACK,
    # BYE) and gives the phone the 487 its CANCEL asked for
    p, box, logs = _proxy()
    _, fwd, _ = _forward_invite(p)
    p.receive(proxy.NETWORK, _response(fwd, 180, "Ringing"), FAR, 1100)
    p.receive(proxy.PHONE, _cancel_from_phone(), PHONE, 1500)
    assert p.media.opened[0].closed
    out = _parsed(p.receive(proxy.NETWORK, _response(fwd, 200, "OK", SDP_FAR), FAR, 1600))
    _no_far_media(out)
    to_far = [(m.method, dest) for side, m, dest in out if side == proxy.NETWORK]
    assert to_far == [("ACK", ("192.0.2.50", 5060)), ("BYE", ("192.0.2.50", 5060))], to_far
    to_phone = [m for side, m, dest in out if side == proxy.PHONE]
    assert [m.status for m in to_phone] == [487], to_phone
    tag = to_phone[0].address("To").tag
    assert tag and to_phone[0].get("Via") == fwd.get_all("Via")[1]
    # the phone's ACK of that 487 ends at the box; a retransmitted 200 gets ACK and BYE again
    ack = _invite(sdp="").replace(b"INVITE sip:bob@192.0.2.50 SIP/2.0",
                                  b"ACK sip:bob@192.0.2.50 SIP/2.0")
    ack = ack.replace(b"CSeq: 20 INVITE", b"CSeq: 20 ACK").replace(
        b"To: sip:bob@192.0.2.50", b"To: sip:bob@192.0.2.50;tag=" + tag.encode())
    assert p.receive(proxy.PHONE, ack, PHONE, 1700) == []
    again = _parsed(p.receive(proxy.NETWORK, _response(fwd, 200, "OK", SDP_FAR), FAR, 2000))
    assert [(s, m.method) for s, m, d in again] == [(proxy.NETWORK, "ACK"),
                                                     (proxy.NETWORK, "BYE")]
    assert box.calls == []


def test_a_487_after_the_phones_cancel_still_reaches_the_phone():
    p, box, logs = _proxy()
    _, fwd, _ = _forward_invite(p)
    p.receive(proxy.PHONE, _cancel_from_phone(), PHONE, 1500)
    out = _parsed(p.receive(proxy.NETWORK, _response(fwd, 487, "Request Terminated"), FAR,
                            1600))
    assert [(s, m.status) for s, m, d in out] == [(proxy.PHONE, 487)]


def test_a_phones_200_that_crosses_the_callers_cancel_is_acked_and_byed_there():
    # the same race on an incoming call: the phone's 200 went to the network with the phone's
    # own address and no a=zrtp-hash
    p, box, logs = _proxy(phone_contact="sip:desk@127.0.0.1:5062", network_allow=["192.0.2.0/24"])
    invite = _invite(sdp=SDP_FAR, uri="sip:alice@198.51.100.7:5080").replace(
        b"127.0.0.1:5062;branch", b"192.0.2.50:5060;branch").replace(
        b"Contact: <sip:alice@127.0.0.1:5062>", b"Contact: <sip:bob@192.0.2.50:5060>")
    [(side, fwd, dest)] = _parsed(p.receive(proxy.NETWORK, invite, FAR, 1000))
    assert side == proxy.PHONE
    cancel = invite.split(b"\r\n\r\n")[0].replace(b"INVITE sip:", b"CANCEL sip:").replace(
        b"CSeq: 20 INVITE", b"CSeq: 20 CANCEL").replace(b"Content-Type: application/sdp\r\n",
                                                        b"")
    cancel = cancel.split(b"Content-Length:")[0] + b"Content-Length: 0\r\n\r\n"
    p.receive(proxy.NETWORK, cancel, FAR, 1500)
    ok = _response(fwd, 200, "OK", SDP_PHONE).replace(b"Contact: <sip:bob@192.0.2.50:5060>",
                                                      b"Contact: <sip:desk@127.0.0.1:5062>")
    out = _parsed(p.receive(proxy.PHONE, ok, PHONE, 1600))
    for side, m, dest in out:
        if side == proxy.NETWORK:
            assert b"127.0.0.1" not in m.body, m.body
    to_phone = [(m.method, dest) for side, m, dest in out if side == proxy.PHONE]
    assert to_phone == [("ACK", PHONE), ("BYE", PHONE)], to_phone
    assert [m.status for side, m, dest in out if side == proxy.NETWORK] == [487]


def test_a_call_that_rings_past_the_setup_limit_with_provisionals_stays_relayed():
    # RFC 3261 16.7 item 2 (Timer C): a provisional response other than 100 resets the limit;
    # a UAS that does not answer sends one every minute (13.3.1.1), a queue with early media
    # for longer than five minutes is common. The box forgot the call at CALL_SETUP_LIMIT_MS
    # after the INVITE whatever came: its early media stopped, and the 200 that came then went
    # to the phone as the far end wrote it (its address, its keys): a call in clear past the box
    p, box, logs = _proxy()
    _, fwd, _ = _forward_invite(p)  # at 1000
    t = 1000
    while t < 1000 + proxy.CALL_SETUP_LIMIT_MS + 120000:
        t += 60000
        out = _parsed(p.receive(proxy.NETWORK, _response(fwd, 183, "Session Progress", SDP_FAR),
                                FAR, t))
        _no_far_media(out)
        assert p.timer() == t + proxy.CALL_SETUP_LIMIT_MS
        p.handle_timer(t + 1)
        assert not p.media.opened[0].closed, t
    out = _parsed(p.receive(proxy.NETWORK, _response(fwd, 200, "OK", SDP_FAR), FAR, t + 1000))
    _no_far_media(out)
    assert [(s, m.status) for s, m, d in out] == [(proxy.PHONE, 200)]
    assert b"m=audio 40000 " in out[0][1].body
    assert box.calls[0].state == "active"


def test_a_call_past_its_setup_limit_is_cancelled_and_the_caller_gets_408():
    # RFC 3261 16.8: when Timer C fires the proxy CANCELs the INVITE (a provisional came) and
    # the caller gets 408. The box forgot the call without a word: the phone, past Timer B with
    # its 180, rang on for ever, the far end too, and an answer then went past the box
    p, box, logs = _proxy()
    _, fwd, _ = _forward_invite(p)  # at 1000
    p.receive(proxy.NETWORK, _response(fwd, 180, "Ringing"), FAR, 2000)
    p.handle_timer(2000 + proxy.CALL_SETUP_LIMIT_MS)
    out = _parsed(p.take_outbox())
    assert [(s, m.method if m.is_request else m.status, d) for s, m, d in out] == [
        (proxy.NETWORK, "CANCEL", ("192.0.2.50", 5060)), (proxy.PHONE, 408, PHONE)], out
    assert out[0][1].vias()[0].branch == fwd.vias()[0].branch  # the INVITE's (RFC 3261 9.1)
    assert p.media.opened[0].closed and box.calls == [] and "no answer" in logs[-1]
    # the far end's 487 is the box's to ACK; a 200 that crossed the CANCEL gets ACK and BYE
    out = _parsed(p.receive(proxy.NETWORK, _response(fwd, 200, "OK", SDP_FAR), FAR, 303000))
    _no_far_media(out)
    assert [(s, m.method) for s, m, d in out] == [(proxy.NETWORK, "ACK"), (proxy.NETWORK, "BYE")]
    p.handle_timer(2000 + proxy.CALL_SETUP_LIMIT_MS + proxy.ENDED_LINGER_MS)
    assert p.calls == {}


def test_the_ack_of_a_final_error_goes_where_its_invite_went():
    # RFC 3261 17.1.1.3 (and 16.11: a stateless proxy's routing must send it the same way): the
    # ACK of a non-2xx final response goes to the INVITE's next hop. With network.proxy and a
    # Request-URI naming an address, the ACK (it has a To tag) went to that address instead of
    # the proxy: the proxy, never ACKed, sent its 486 or 407 again until its Timer H, and a
    # stranger got the ACK
    for code, reason in ((486, "Busy Here"), (407, "Proxy Authentication Required"),
                         (503, "Service Unavailable")):
        p, box, logs = _proxy(network_proxy="203.0.113.9:5060")
        [(side, fwd, dest)] = _parsed(p.receive(proxy.PHONE, _invite(), PHONE, 1000))
        assert dest == ("203.0.113.9", 5060)
        p.receive(proxy.NETWORK, _response(fwd, code, reason), ("203.0.113.9", 5060), 1100)
        ack = _invite(sdp="").replace(b"INVITE sip:bob@192.0.2.50 SIP/2.0",
                                      b"ACK sip:bob@192.0.2.50 SIP/2.0")
        ack = ack.replace(b"CSeq: 20 INVITE", b"CSeq: 20 ACK").replace(
            b"To: sip:bob@192.0.2.50", b"To: sip:bob@192.0.2.50;tag=fcd4026e").replace(
            b"Content-Type: application/sdp\r\n", b"")
        [(side, fwd_ack, dest)] = _parsed(p.receive(proxy.PHONE, ack, PHONE, 1200))
        assert (side, dest) == (proxy.NETWORK, ("203.0.113.9", 5060)), (code, dest)
        assert fwd_ack.vias()[0].branch == fwd.vias()[0].branch


def test_a_register_again_that_could_not_be_sent_is_sent_again():
    # after a network change the link may be up before its routes are: the REGISTER the box
    # sends for the phone fails at sendto, and the box answers it 503 itself (its Warning 399
    # zerotap: runtime/network.py, as for a connection that never opened). That is no answer
    # from the registrar: the REGISTER goes again after REREGISTER_RETRY_MS. The box's own 503
    # ended the retries, and the binding at the old address stayed until the phone's refresh
    from test_appliance_link import _register
    p, box, logs = _proxy()
    _register(p, 1000)
    p.readdress(proxy.NETWORK, "198.51.100.9", "198.51.100.9")
    [(side, first, dest)] = _parsed(p.reregister(5000))
    resp = message.make_response(first, 503, "Service Unavailable")
    resp.add("Warning", '399 zerotap "network: udp 192.0.2.10:5060: the system refused to send"')
    assert p.receive(proxy.NETWORK, resp.serialize(), ("0.0.0.0", 0), 5001) == []
    assert p.timer() == 5000 + proxy.REREGISTER_RETRY_MS
    p.handle_timer(p.timer())
    again = _parsed(p.take_outbox())
    assert [m.method for s, m, d in again] == ["REGISTER"], again
    # the registrar's own 503 is an answer (it says why): no more tries
    resp = message.make_response(again[0][1], 503, "Service Unavailable")
    assert p.receive(proxy.NETWORK, resp.serialize(), ("192.0.2.10", 5060), 7100) == []
    assert "503" in box.registration_error and p.timer() > 100000

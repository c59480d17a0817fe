"""The box's SIP path end to end on loopback sockets, both interpreters: the proxy, the SIP
transport and the runtime together (the harness of test_appliance_box)."""
from test_appliance_box import BoxAndPeers, _turn
from zerotap import status as st


def _invite_to(b, phone, target, cid, sdp):
    inv = ("INVITE sip:bob@%s SIP/2.0\r\n"
           "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK%s;rport\r\n"
           "From: <sip:alice@127.0.0.1>;tag=a%s\r\nTo: <sip:bob@%s>\r\n"
           "Call-ID: %s\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\n"
           "Contact: <sip:alice@127.0.0.1:%d>\r\nContent-Type: application/sdp\r\n"
           "Content-Length: %d\r\n\r\n" % (target, phone.port, cid, cid, target, cid,
                                           phone.port, len(sdp))).encode() + sdp
    phone.send(inv, b.cfg.phone.port)
    _turn(b)


def _responses(peer, cid):
    peer.receive()
    return [m for m in peer.got if not m.is_request and m.get("Call-ID") == cid]


def test_an_invite_the_system_refuses_to_send_is_answered_503_and_its_call_ends():
    # RFC 3261 §8.1.3.1, §16.9: a request the proxy could not forward (a transport error:
    # sendto refused, here toward the broadcast address; in the field, no route) is answered
    # 503. Before, the failed sendto was only counted: the phone heard nothing until its
    # Timer B (32 s) and the call's media sockets stayed open for CALL_SETUP_LIMIT_MS
    with BoxAndPeers("sip-sendto") as (b, logs, phone, far):
        prtp = phone.new_rtp()
        _invite_to(b, phone, "255.255.255.255:5060", "refused", phone.sdp(prtp).encode())
        got = _responses(phone, "refused")
        assert [r.status for r in got if r.status >= 200] == [503], [r.status for r in got]
        warning = got[-1].get("Warning") or ""
        assert "udp 255.255.255.255:5060" in warning, warning
        call = b.proxy.calls["refused"]
        assert call.phase == "ended" and call.status.state == st.ENDED
        assert [m for m in b.media if m.call_status is call.status] == []  # its sockets closed


def test_an_invite_to_an_ipv6_address_from_an_ipv4_box_is_answered_503_and_the_box_goes_on():
    # the box's network socket is IPv4; the phone calls sip:bob@[::1] (or ACKs and BYEs a far
    # end whose Contact is an IPv6 address). On CPython sendto raised TypeError ("AF_INET
    # address must be a pair"), which udp.Endpoint.send does not count: it left the loop's
    # handler and ended the box's loop (a restart, every call ended). On MicroPython it is an
    # OSError. Either way: 503 to the phone, and the next call goes through
    with BoxAndPeers("sip-v6") as (b, logs, phone, far):
        prtp = phone.new_rtp()
        _invite_to(b, phone, "[::1]:5060", "v6", phone.sdp(prtp).encode())
        got = _responses(phone, "v6")
        assert [r.status for r in got if r.status >= 200] == [503], [r.status for r in got]
        assert "udp [::1]:5060" in (got[-1].get("Warning") or ""), got[-1].get("Warning")
        _invite_to(b, phone, "127.0.0.1:%d" % far.port, "next", phone.sdp(prtp).encode())
        far.receive()
        assert [m.method for m in far.got if m.is_request] == ["INVITE"]

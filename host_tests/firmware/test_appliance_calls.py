"""Issue 14, sans-IO: calls the box ends itself. The proxy's end_call (BYE both ways with the
reason, status failed; an unanswered call waits for its answer), RFC 4028 session timers, the media
watch (media.timeout_s) and its config key."""
from zerotap import config, watch
from zerotap import status as st
from zerotap.sip import message, proxy

import test_proxy_core as core


def _answered(extra=""):
    p, box, logs = core._proxy()
    _, fwd, _ = core._forward_invite(p)
    p.receive(proxy.NETWORK, core._response(fwd, 200, "OK", core.SDP_FAR, extra=extra),
              core.FAR, 1200)
    return p, box, logs


def _byes(out):
    got = {}
    for side, data, dest in out:
        m = message.parse(data)
        assert m.method == "BYE", m.method
        got[side] = (m, dest)
    return got


def test_end_call_says_bye_both_ways_with_the_reason_and_fails_the_call():
    p, box, logs = _answered()
    media = p.media.opened[0]
    call = box.calls[0]
    out = p.end_call(media, 3000, "internal error in the call's media: RuntimeError('x')")
    byes = _byes(out)
    assert sorted(byes) == [proxy.PHONE, proxy.NETWORK]
    to_phone, dest = byes[proxy.PHONE]
    assert dest == core.PHONE and str(to_phone.uri) == "sip:alice@127.0.0.1:5062"
    assert to_phone.get("Reason") == ('SIP;cause=200;text="ZeroTap: internal error in the '
                                      "call's media: RuntimeError('x')\"")
    to_far, dest = byes[proxy.NETWORK]
    assert dest == core.FAR and to_far.get("Call-ID") == "c140wxXF0q"
    assert media.closed and box.calls == []
    assert call.security == st.FAILED and call.state == st.ENDED
    assert call.error == "internal error in the call's media: RuntimeError('x')"
    assert p.end_call(media, 3100, "again") == []  # ended once


def test_end_call_of_an_unanswered_call_cancels_it_and_a_crossing_2xx_gets_ack_and_bye():
    """(test_appliance_early.py has the CANCEL itself.) A 2xx that crossed the box's CANCEL
    reaches nobody but its sender: ACK and BYE toward it, nothing toward the phone."""
    p, box, _ = core._proxy()
    _, fwd, _ = core._forward_invite(p)
    media = p.media.opened[0]
    out = p.end_call(media, 1100, "internal error in the call's engine: E()")
    assert [message.parse(d[1]).is_request for d in out] == [True, False]
    assert message.parse(out[0][1]).method == "CANCEL" and message.parse(out[1][1]).status == 500
    assert media.closed and box.calls == []
    out = p.receive(proxy.NETWORK, core._response(fwd, 200, "OK", core.SDP_FAR), core.FAR, 1200)
    got = [(side, message.parse(data).method) for side, data, dest in out]
    assert got == [(proxy.NETWORK, "ACK"), (proxy.NETWORK, "BYE")], got


def test_end_call_of_a_stranger_media_is_nothing():
    p, _, _ = _answered()
    assert p.end_call(object(), 2000, "x") == []


def test_session_timer_ends_an_unrefreshed_call_with_bye_both_ways():
    p, box, logs = _answered("Session-Expires: 90;refresher=uac")
    call = p.calls["c140wxXF0q"]
    assert call.session_expires == 1200 + 90000 and p.timer() == 91200
    p.handle_timer(91199)
    assert p.take_outbox() == [] and box.calls
    p.handle_timer(91200)
    byes = _byes(p.take_outbox())
    assert sorted(byes) == [0, 1]
    assert byes[0][0].get("Reason") == 'SIP;cause=200;text="ZeroTap: session timer expired"'
    assert box.calls == [] and p.media.opened[0].closed
    assert "call 1 ended: session timer expired" in logs
    assert p.take_outbox() == []


def test_session_timer_refreshed_by_a_reinvite_2xx_and_off_without_the_header():
    p, _, _ = _answered("Session-Expires: 90;refresher=uac")
    call = p.calls["c140wxXF0q"]
    reinvite = core._invite(cseq="21 INVITE").replace(
        b"To: sip:bob@192.0.2.50", b"To: sip:bob@192.0.2.50;tag=fcd4026e")
    _, fwd, _ = core._one(p.receive(proxy.PHONE, reinvite, core.PHONE, 60000))
    p.receive(proxy.NETWORK, core._response(fwd, 200, "OK", core.SDP_FAR,
                                            extra="x: 120"), core.FAR, 60100)
    assert call.session_expires == 60100 + 120000
    _, fwd, _ = core._one(p.receive(proxy.PHONE, reinvite.replace(b"21 INVITE", b"22 INVITE"),
                                    core.PHONE, 70000))
    p.receive(proxy.NETWORK, core._response(fwd, 200, "OK", core.SDP_FAR), core.FAR, 70100)
    assert call.session_expires is None and p.timer() is None


def test_a_bad_session_expires_is_logged_and_the_answer_passes():
    p, box, logs = core._proxy()
    _, fwd, _ = core._forward_invite(p)
    out = p.receive(proxy.NETWORK, core._response(fwd, 200, "OK", core.SDP_FAR,
                                                  extra="Session-Expires: soon"), core.FAR, 1200)
    assert len(out) == 1 and box.calls[0].state == st.ACTIVE
    assert "call 1: Session-Expires 'soon' ignored" in logs


def test_media_watch_names_the_silent_side():
    w = watch.MediaWatch(10000)
    assert w.deadline() is None and w.expired(10 ** 9) is None  # not answered yet
    w.start(1000)
    assert w.deadline() == 11000
    w.heard(1, 5000)
    w.heard(0, 8000)
    assert w.deadline() == 15000 and w.expired(14999) is None
    assert w.expired(15000) == "no media from the network for 10 s"
    w.heard(1, 15000)
    assert w.expired(18000) == "no media from the phone for 10 s"


def test_media_watch_leaves_a_held_side_alone_and_restarts_it_on_resume():
    w = watch.MediaWatch(10000)
    w.start(0)
    w.hold(1, True)
    w.heard(0, 50000)
    assert w.deadline() == 60000 and w.expired(59000) is None
    w.hold(1, False, 59000)
    assert w.deadline() == 60000 and w.expired(60000) == "no media from the phone for 10 s"
    w.heard(0, 60000)
    assert w.deadline() == 69000
    off = watch.MediaWatch(0)
    off.start(0)
    assert off.deadline() is None and off.expired(10 ** 9) is None
    try:
        watch.MediaWatch(-1)
    except ValueError as e:
        assert str(e) == "media watch: the timeout must not be negative, not -1"
    else:
        assert False


def _cfg(media):
    return config.parse({"phone": {"sip": "127.0.0.1:5070", "allow": ["127.0.0.1"],
                                   "rtp": "40000-40009"},
                         "network": {"sip": "127.0.0.1:5080", "rtp": "42000-42009"},
                         "media": media})


def test_media_timeout_s_is_validated_and_named():
    assert _cfg({}).media.timeout_s == config.DEFAULT_MEDIA_TIMEOUT_S == 60
    assert _cfg({"timeout_s": 0}).media.timeout_s == 0
    assert _cfg({"timeout_s": 5}).media.timeout_s == 5
    for bad, msg in ((4, "media.timeout_s: must be 0 (never) or between 5 and 3600, not 4"),
                     (3601, "media.timeout_s: must be 0 (never) or between 5 and 3600, not 3601"),
                     ("60", "media.timeout_s: must be a number, not a string"),
                     (True, "media.timeout_s: must be a number, not a boolean"),
                     (1.5, "media.timeout_s: must be a number, not a float")):
        try:
            _cfg({"timeout_s": bad})
        except config.ConfigError as e:
            assert str(e) == msg and e.key == "media.timeout_s", (str(e), msg)
        else:
            assert False, bad


def test_rewrite_says_where_rtcp_goes_when_it_shares_the_rtp_port():
    from zerotap.sip import rewrite
    body, seen = rewrite.rewrite(core.SDP_FAR.encode(), "127.0.0.1", 40000, "1.10 " + "ab" * 32,
                                 40000)
    text = body.decode()
    assert "m=audio 40000 RTP/AVP 0 96\r\na=rtcp:40000\r\na=zrtp-hash:1.10 " in text, text
    assert text.count("a=rtcp:") == 1
    body, _ = rewrite.rewrite(core.SDP_FAR.encode(), "127.0.0.1", 40000)
    assert b"a=rtcp:" not in body


def test_the_proxy_asks_for_rtcp_on_the_rtp_port_of_a_one_socket_side():
    p, box, _ = core._proxy()

    class OneSocket(core.FakeMedia):
        def ports(self, side):
            base = (40000 if side == proxy.PHONE else 42000) + 2 * self.number
            return base, base

    class Factory(core.FakeFactory):
        def open(self, call_status):
            m = OneSocket(len(self.opened))
            self.opened.append(m)
            return m

    p.media = Factory()
    _, fwd, _ = core._forward_invite(p)
    assert b"m=audio 42000 RTP/AVP 0 96\r\na=rtcp:42000\r\n" in fwd.body, fwd.body
    _, resp, _ = core._one(p.receive(proxy.NETWORK, core._response(fwd, 200, "OK", core.SDP_FAR),
                                     core.FAR, 1200))
    assert b"m=audio 40000 RTP/AVP 0 96\r\na=rtcp:40000\r\n" in resp.body, resp.body


def _retry_after(code, reason, extra=""):
    p, box, logs = core._proxy()
    _, fwd, _ = core._forward_invite(p)
    side, resp, dest = core._one(p.receive(proxy.NETWORK, core._response(fwd, code, reason,
                                                                         extra=extra),
                                           core.FAR, 1100))
    assert side == proxy.PHONE and resp.status == code and box.calls == []
    first = p.media.opened[0]
    assert first.closed
    # the phone's retry: same Call-ID, a higher CSeq
    side, fwd2, dest = core._one(p.receive(proxy.PHONE, core._invite(cseq="21 INVITE",
                                                                     branch="z9hG4bK.retry"),
                                           core.PHONE, 1300))
    assert side == proxy.NETWORK and fwd2.method == "INVITE", fwd2
    assert len(p.media.opened) == 2 and b"m=audio 42002 " in fwd2.body  # new media
    side, ok, _ = core._one(p.receive(proxy.NETWORK, core._response(fwd2, 200, "OK",
                                                                    core.SDP_FAR), core.FAR, 1400))
    assert ok.status == 200 and box.calls[0].state == st.ACTIVE
    assert p.calls["c140wxXF0q"].phase == proxy.CONFIRMED
    return p


def test_the_retry_after_a_302_connects():
    _retry_after(302, "Moved Temporarily", "Contact: <sip:bob@192.0.2.60>")


def test_the_retry_after_a_422_connects():
    _retry_after(422, "Session Interval Too Small", "Min-SE: 1800")


def test_a_retransmitted_invite_after_the_final_error_does_not_start_a_call():
    p, box, _ = core._proxy()
    _, fwd, _ = core._forward_invite(p)
    p.receive(proxy.NETWORK, core._response(fwd, 486, "Busy Here"), core.FAR, 1100)
    out = p.receive(proxy.PHONE, core._invite(), core.PHONE, 1200)  # the same CSeq 20
    side, resp, _ = core._one(out)
    assert resp.status == 481 and len(p.media.opened) == 1 and box.calls == []


MULTIPART = ("--b1\r\nContent-Type: application/sdp\r\n\r\n" + core.SDP_PHONE +
             "\r\n--b1\r\nContent-Type: application/pidf+xml\r\n\r\n<presence/>\r\n--b1--\r\n")


def test_a_multipart_offer_is_refused_with_488_and_opens_no_call():
    p, box, logs = core._proxy()
    inv = core._invite(sdp=MULTIPART).replace(b"Content-Type: application/sdp",
                                              b"Content-Type: multipart/mixed;boundary=b1")
    side, resp, dest = core._one(p.receive(proxy.PHONE, inv, core.PHONE, 1000))
    assert side == proxy.PHONE and resp.status == 488 and dest == core.PHONE
    assert box.calls == [] and p.media.opened == [] and p.calls == {}
    assert "sip: INVITE with a multipart body from the phone refused" in logs


SDP_VIDEO_ONLY = ("v=0\r\no=bob 1 1 IN IP4 192.0.2.50\r\ns=-\r\nc=IN IP4 192.0.2.50\r\nt=0 0\r\n"
                  "m=video 30002 RTP/AVP 96\r\na=rtpmap:96 VP8/90000\r\n")


def test_a_2xx_without_relayable_audio_gets_ack_and_bye_and_the_phone_488():
    p, box, logs = core._proxy()
    _, fwd, _ = core._forward_invite(p)
    call = box.calls[0]
    out = p.receive(proxy.NETWORK, core._response(fwd, 200, "OK", SDP_VIDEO_ONLY), core.FAR, 1200)
    got = [(side, message.parse(data), dest) for side, data, dest in out]
    assert [(g[0], g[1].method if g[1].is_request else g[1].status) for g in got] == [
        (proxy.NETWORK, "ACK"), (proxy.NETWORK, "BYE"), (proxy.PHONE, 488)], got
    ack, bye, refusal = got[0][1], got[1][1], got[2][1]
    assert got[0][2] == core.FAR and str(ack.uri) == "sip:bob@192.0.2.50:5060"
    assert ack.get("CSeq") == "20 ACK" and ack.get("To").endswith("tag=fcd4026e")
    assert bye.get("CSeq") == "21 BYE" and bye.get("Reason") == (
        'SIP;cause=200;text="ZeroTap: the answer: no audio stream to relay"'), bye.get("Reason")
    assert got[2][2] == core.PHONE and refusal.get("Call-ID") == "c140wxXF0q"
    assert len(refusal.get_all("Via")) == 1 and refusal.body in (b"", None)
    assert "ZeroTap: the answer" in refusal.get("Reason")
    assert call.security == st.FAILED and call.state == st.ENDED and box.calls == []
    assert p.media.opened[0].closed


def test_a_multipart_183_reaches_the_phone_without_its_body():
    p, box, logs = core._proxy()
    _, fwd, _ = core._forward_invite(p)
    body = MULTIPART.replace(core.SDP_PHONE, core.SDP_FAR)
    resp = core._response(fwd, 183, "Session Progress", body).replace(
        b"Content-Type: application/sdp", b"Content-Type: multipart/mixed;boundary=b1")
    side, got, dest = core._one(p.receive(proxy.NETWORK, resp, core.FAR, 1100))
    assert side == proxy.PHONE and got.status == 183 and not got.body
    assert got.get("Content-Type") is None and got.get("Content-Length") == "0"
    assert p.media.opened[0].answered_at is None  # no early media started

"""linphonec hangs up a ringing call through the box while the far end answers: the far end's
200 crosses linphonec's CANCEL (RFC 3261 9.1). The far end is a script (test_box_dialogs.Pbx) so
that the race is certain: it answers the CANCEL 200 and the INVITE 200, with an SDP naming its
own media and an a=crypto key. The box closed the call's media at the CANCEL; that 200 went on to
linphonec as the far end wrote it (its key in linphonec's log, media that would bypass the box).
Now the box ACKs and BYEs the far end itself and linphonec gets the 487 its CANCEL asked for: its
call ends, and nothing of the far end's SDP reaches it."""
from boxpeers import start_all, stop_all
from boxproc import BoxProcess
from hostenv import wait_until
from linphone import Linphone
from test_box_dialogs import Pbx

KEY = "inline:ZeroTapCrossingTwoHundredWithItsOwnKeyXYZ0123456789ab"


def test_a_200_crossing_linphonecs_cancel_is_acked_and_byed_by_the_box(tmp_path):
    box = BoxProcess(tmp_path / "box", "A")
    alice = Linphone(tmp_path / "alice", account=box.phone_account("alice"))
    pbx = Pbx()
    try:
        start_all(box, alice)
        alice.call("sip:queue@127.0.0.1:%d" % pbx.port)
        inv = pbx.wait(lambda m: m.is_request and m.method == "INVITE", "the box's INVITE")
        cid = inv.call_id()
        head, to = pbx.uas_head(inv)
        pbx.send(["SIP/2.0 180 Ringing"] + head, b"", inv.src)
        alice.wait_for(r"(?i)ringing|remote ringing", 10)
        alice.terminate_call()
        cancel = pbx.wait(lambda m: m.is_request and m.method == "CANCEL", "the CANCEL")
        chead = ["Via: %s" % v for v in cancel.get_all("Via")]
        chead += ["From: %s" % cancel.get("From"), "To: %s" % to, "Call-ID: %s" % cid,
                  "CSeq: %s" % cancel.get("CSeq")]
        # the 200 to the INVITE was on its way: it comes after the 200 to the CANCEL
        pbx.send(["SIP/2.0 200 OK"] + chead, b"", cancel.src)
        sdp = ("v=0\r\no=pbx 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
               "m=audio 40404 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
               "a=crypto:1 AES_CM_128_HMAC_SHA1_80 %s\r\n" % KEY).encode()
        pbx.send(["SIP/2.0 200 OK"] + head + ["Contact: <sip:pbx@127.0.0.1:%d>" % pbx.port,
                                              "Content-Type: application/sdp"], sdp, inv.src)
        ack = pbx.wait(lambda m: m.is_request and m.method == "ACK" and m.call_id() == cid,
                       "the box's ACK of the 200")
        bye = pbx.wait(lambda m: m.is_request and m.method == "BYE" and m.call_id() == cid,
                       "the box's BYE")
        pbx.send(["SIP/2.0 200 OK"] + ["Via: %s" % v for v in bye.get_all("Via")] +
                 ["From: %s" % bye.get("From"), "To: %s" % bye.get("To"), "Call-ID: %s" % cid,
                  "CSeq: %s" % bye.get("CSeq")], b"", bye.src)
        alice.wait_ended(15)
        assert wait_until(lambda: "487" in alice.log_text(), 10, interval=0.2)
        log = alice.log_text()
    finally:
        stop_all(alice, box)
        pbx.close()
    assert ack.get("To") == to and bye.get("To") == to
    assert KEY not in log and "40404" not in log  # nothing of the far end's SDP reached it
    assert "200 after the CANCEL: ACK and BYE" in box.log(), box.log()[-3000:]

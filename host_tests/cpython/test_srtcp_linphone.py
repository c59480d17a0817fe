"""SRTCP with a real ZRTP peer when the negotiated auth tag is HS32: linphonec (bzrtp with
mediastreamer2 over libsrtp) protects SRTCP with the negotiated 32-bit tag as well, as GNU ZRTP
does; RFC 4568's 80-bit SRTCP tag of the SDES suites does not apply to ZRTP-keyed sessions. A box
that used 80 bits there had every RTCP packet refused both ways, and raised its unauthenticated
media alarm on a good call."""
import re
import time

from boxpeers import start_all, stop_all
from boxproc import BoxProcess
from linphone import Linphone
from test_box_calls import assert_audio_both_ways, talk


def _rtcp_received(phone):
    counts = re.findall(r"received rtcp\s+(\d+) packets", phone.log_text())
    assert counts, "no RTCP statistics in %s's log" % phone.name
    return int(counts[-1])


def test_hs32_srtcp_both_ways_with_linphonec(tmp_path):
    for cipher in ("AES1", "AES3"):
        d = tmp_path / cipher
        box = BoxProcess(d / "box", "A", zrtp={"cipher": [cipher], "auth": ["HS32"]})
        a = Linphone(d / "alice", account=box.phone_account("alice"))
        # linphonec prefers HS32 too: bzrtp takes HS80 as implied by any Hello (RFC 6189 section
        # 5.1.4: mandatory), and its Commit may win the contention
        b = Linphone(d / "bob", encryption="zrtp", auto_answer=True,
                     zrtp={"cipher": "MS_ZRTP_CIPHER_" + cipher, "auth": "MS_ZRTP_AUTHTAG_HS32"})
        try:
            start_all(box, a, b)
            wa, wb = talk(d, a, b, seconds=16)
            a.call("sip:bob@127.0.0.1:%d" % b.sip_port)
            b.wait_encrypted(20)
            st = box.wait_secure(10)
            assert (st["cipher"], st["auth"]) == (cipher, "HS32"), st
            assert b.algorithms()["auth"] == "HS32"
            time.sleep(12)  # linphonec sends RTCP every 5 s
            st = box.call_statuses(st["call"])[-1]
            a.terminate_call()
            a.wait_ended()
        finally:
            stop_all(a, b, box)
        assert not st["mitm"], st  # no "unauthenticated media" alarm on this good call
        assert "unauthenticated" not in box.log(), box.log()
        assert "srtp_unprotect_rtcp() failed" not in b.log_text(), cipher
        assert _rtcp_received(b) >= 1, cipher  # the box's SRTCP, through libsrtp
        assert _rtcp_received(a) >= 1, cipher  # linphonec's SRTCP, unprotected by the box
        assert_audio_both_ways(d, a, b, wa, wb)

"""linphonec (liblinphone/mediastreamer2) sends DTMF during a call to a tiny SIP answerer of ours
on loopback; our code decodes it: the RFC 2833/4733 events with EventReceiver, and, when the
answer offers no telephone-event, the in-band tones in the PCMU stream with the Detector."""
import dtmf_sip
from zerotap.dtmf import detector, events


def test_rfc4733_events_from_linphonec(tmp_path):
    keys = "0123456789*#55"
    ans = dtmf_sip.linphone_dtmf(tmp_path, keys, rfc2833=True)
    rx = events.EventReceiver(ans.event_pt)
    downs = ""
    ups = 0
    for t, packet in ans.packets:
        for kind, digit, ts, duration in rx.receive_packet(packet, int(t * 1000)):
            if kind == events.KEY_DOWN:
                downs += digit
            else:
                ups += 1
    assert downs == keys
    assert ups == len(keys)


def test_inband_tones_from_linphonec(tmp_path):
    keys = "159*0#"
    ans = dtmf_sip.linphone_dtmf(tmp_path, keys, rfc2833=False)
    audio = []
    for _, packet in ans.packets:
        marker, pt, seq, ts, ssrc, payload = events.parse_rtp(packet)
        assert pt != ans.event_pt or not ans.events
        if pt == 0:
            audio.append((seq, payload))
    assert len(audio) > 100
    audio.sort()
    det = detector.Detector(detector.PCMU)
    found = ""
    for _, payload in audio:
        found += "".join(k for k, _ in det.feed(payload))
    assert found == keys

"""The phone's keypad codes end to end, with real peers: linphonec as the plain desk phone types
``*#1`` during a secure call through the box (on CPython, and on the MicroPython unix port) to
linphonec (ZRTP), RFC 4733 events on.

- the box's status stream says verified (then not, after ``*#0``), and its display (PNG snapshot,
  terminal frames on stdout, the control's ``screen``) shows VERIFIED;
- the far linphonec receives exactly the keys that form no code (``5``, and ``*7`` re-sent by the
  box), and none of the codes' keys;
- on the wire (dumpcap/tshark): the phone leg carries every key typed as telephone-events; the
  network leg (SRTP: the RTP header stays readable) carries telephone-events only for ``5``, ``*``
  and ``7``, on the phone's own stream.
"""
import time

import pytest

import audio
import ports
from boxproc import BoxProcess
from capture import Capture
from linphone import Linphone


def _events_by_key(packets, pt):
    """{rtp timestamp: number of packets} of the telephone-events in PACKETS."""
    out = {}
    for p in packets:
        if p.kind == "rtp" and p.pt == pt:
            out[p.timestamp] = out.get(p.timestamp, 0) + 1
    return out


@pytest.mark.parametrize("interpreter", ["cpython", "micropython"])
def test_keypad_code_verifies_and_is_not_forwarded(tmp_path, interpreter):
    box = BoxProcess(tmp_path / "box", "A", interpreter=interpreter)
    box.config["board"] = {"display": {"png": str(tmp_path / "panel.png"), "terminal": True}}
    box.stdout_path = tmp_path / "terminal.txt"
    a = Linphone(tmp_path / "alice", ports.udp_port(), ports.udp_pair(), encryption="none",
                 rfc2833=True, account={"identity": "sip:alice@127.0.0.1",
                                        "proxy": box.phone_uri, "register": False})
    b = Linphone(tmp_path / "bob", ports.udp_port(), ports.udp_pair(), encryption="zrtp",
                 auto_answer=True, rfc2833=True)
    cap = Capture(tmp_path / "keys.pcapng", [a.rtp_port, b.rtp_port],
                  ranges=[box.phone_rtp, box.network_rtp])
    try:
        cap.start()
        box.start()
        a.start()
        b.start()
        a.play(audio.write_signal(tmp_path / "alice.wav", 3, seconds=30))
        a.call("sip:bob@127.0.0.1:%d" % b.sip_port)
        b.wait_encrypted(20)
        st = box.wait_secure(10)
        assert st["verified"] is False
        time.sleep(1.0)
        a.dtmf("*#1")  # linphonec sends one key a second
        box.wait_status(lambda s: s["verified"] is True, 10, "verified by the keypad")
        time.sleep(0.3)
        shown = box.control("status")
        a.dtmf("5")
        b.wait_for(r"Receiving tone 5 from", 6)
        a.dtmf("*7")
        b.wait_for(r"Receiving tone 7 from", 8)
        a.dtmf("*#0")
        box.wait_status(lambda s: s["verified"] is False and s["security"] == "secure", 10,
                        "unverified by the keypad")
        time.sleep(1.5)
        a.terminate_call()
        a.wait_ended()
    finally:
        for p in (a, b, box, cap):
            p.stop()
    assert shown["screen"] == "verified" and shown["calls"][0]["verified"] is True, shown
    media = shown["calls"][0]["media"]
    assert media["keys_held"] > 0 and media["unauthenticated"] == 0
    assert b.tones_received() == "5*7", b.tones_received()
    assert (tmp_path / "panel.png").stat().st_size > 1000
    frames = (tmp_path / "terminal.txt").read_text().split("\x1b[H\x1b[2J")
    assert len(frames) >= 6 and all(len(f.splitlines()) == 35 for f in frames[1:])

    pkts = cap.packets(media_ports=[box.phone_rtp, box.network_rtp, a.rtp_port, b.rtp_port])
    phone = [p for p in pkts if a.rtp_port in (p.src, p.dst) and p.src == a.rtp_port]
    network = [p for p in pkts if b.rtp_port in (p.src, p.dst) and p.dst == b.rtp_port]
    pts = set(p.pt for p in phone if p.kind == "rtp" and p.length == 16)
    assert len(pts) == 1, pts  # 12-byte header + one 4-byte event: telephone-event
    pt = pts.pop()
    typed = _events_by_key(phone, pt)
    sent = _events_by_key(network, pt)
    assert len(typed) == 9, typed  # * # 1 5 * 7 * # 0
    assert len(sent) == 3, sent  # 5, then * and 7 re-sent; nothing of *#1 or *#0
    assert len([ts for ts in sent if ts in typed]) == 1  # 5 went live, with its own timestamp
    ssrcs = set(p.ssrc for p in network if p.kind == "rtp" and p.pt == pt)
    audio_ssrcs = set(p.ssrc for p in network if p.kind == "rtp" and p.pt == 0)
    assert ssrcs <= audio_ssrcs and len(ssrcs) == 1  # on the phone's own stream

"""Our ICE agent against libnice (Debian gir1.2-nice-0.1, through Debian's python3-gi in a
/usr/bin/python3 subprocess) over real UDP sockets on 127.0.0.1: libnice controlling with its
regular and with its aggressive nomination (pjnath, which ZSipOs boxes use, is aggressive), and
libnice controlled under our regular nomination. Data flows both ways; libnice runs RFC 7675
consent freshness against us."""
import time

from icepeers import NicePeer, OurPeer


def _session(our_controlling, aggressive):
    far = NicePeer(not our_controlling, aggressive)
    ours = OurPeer(our_controlling)
    try:
        far.write({"ufrag": ours.agent.ufrag, "pwd": ours.agent.pwd,
                   "candidates": ours.candidates()})
        far.wait_for(lambda m: "remote_added" in m)
        h = far.hello
        ours.connect(h["ufrag"], h["pwd"], h["candidates"])
        far.wait_for(lambda m: m.get("state") == "ready")
        sel = far.wait_for(lambda m: "selected" in m)
        end = time.monotonic() + 5
        while ours.agent.selected is None and time.monotonic() < end:
            time.sleep(0.01)
        p = ours.agent.selected
        assert p is not None and p.nominated, ours.driver.events
        # both ends name the same two addresses
        assert "127.0.0.1 %d" % p.remote.addr[1] in sel["selected"][0]
        assert "127.0.0.1 %d" % ours.driver.port in sel["selected"][1]
        far.write({"send": "ping 1"})
        far.wait_for(lambda m: m.get("recv") == "pong 1")
        assert ours.got[0] == b"ping 1"
        ours.send(b"hello from zerotap")
        far.wait_for(lambda m: m.get("recv") == "hello from zerotap")
        return ours, far
    finally:
        ours.close()
        far.close()


def test_libnice_controlling_regular():
    ours, far = _session(False, aggressive=False)
    assert not ours.agent.controlling


def test_libnice_controlling_aggressive():
    ours, far = _session(False, aggressive=True)
    assert not ours.agent.controlling


def test_libnice_controlled():
    ours, far = _session(True, aggressive=False)
    assert ours.agent.controlling


def test_consent_freshness_both_ways():
    """Connected for 12 s: libnice (RFC 7675 on) keeps consent from our answers, and our
    consent checks (every ~5 s) are answered by libnice."""
    far = NicePeer(True, aggressive=False)
    ours = OurPeer(False)
    try:
        far.write({"ufrag": ours.agent.ufrag, "pwd": ours.agent.pwd,
                   "candidates": ours.candidates()})
        h = far.hello
        ours.connect(h["ufrag"], h["pwd"], h["candidates"], timeout=30)
        far.wait_for(lambda m: m.get("state") == "ready")
        time.sleep(12)
        assert ours.agent.consents >= 1
        assert ours.driver.event("consent-lost") is None
        states = [m["state"] for m in far.lines if "state" in m]
        assert states[-1] == "ready", states  # libnice never lost consent
        far.write({"send": "ping 2"})
        far.wait_for(lambda m: m.get("recv") == "pong 2")
    finally:
        ours.close()
        far.close()

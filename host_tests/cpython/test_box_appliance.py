"""Issue 14 end to end: the box as an appliance that never needs a power cycle.

- one fault ends one call: with real linphonecs, one call's ZRTP engine and another call's media
  handler are made to raise (the control's ``fault``, ZEROTAP_FAULTS=1); those calls end with BYE
  both ways and status ``failed`` with the reason, while the first call stays SECURE with audio
  both ways and the box answers its control;
- a fault in the loop itself ends the process with exit code 70, which the shipped systemd unit
  (boards/host/zerotap.service, checked by systemd-analyze) restarts;
- a far linphonec killed with SIGKILL mid-call: the box ends the call within media.timeout_s, the
  near phone gets BYE, and the box's sockets are freed (its open descriptors counted).
"""
import os
import signal
import subprocess
import time

from boxproc import BoxProcess
from hostenv import ROOT, need, wait_until
from linphone import Linphone
from test_box_calls import assert_audio_both_ways, stop_all, talk

UNIT = ROOT / "boards" / "host" / "zerotap.service"


def _fds(proc):
    return len(os.listdir("/proc/%d/fd" % proc.pid))


def test_the_systemd_unit_restarts_the_box_on_failure():
    exe = need("systemd-analyze", "the Debian package systemd")
    r = subprocess.run([exe, "verify", str(UNIT)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stderr.strip() == "", r.stderr
    text = UNIT.read_text()
    lines = [line.strip() for line in text.splitlines()]
    assert "Restart=on-failure" in lines and "KillSignal=SIGTERM" in lines
    assert any(line.startswith("ExecStart=") and " -m zerotap run " in line for line in lines)


def test_a_loop_fault_exits_70_and_fault_injection_is_off_by_default(tmp_path):
    box = BoxProcess(tmp_path / "box", "A")
    box.start()
    try:
        r = box.control("fault loop")
        assert r == {"ok": False, "error": "fault injection is off (ZEROTAP_FAULTS=1 turns it on)"}
    finally:
        assert box.stop() == 0
    box = BoxProcess(tmp_path / "box2", "B")
    box.extra_env["ZEROTAP_FAULTS"] = "1"
    box.start()
    try:
        assert box.control("fault loop") == {"ok": True, "call": None}
        assert wait_until(lambda: box.proc.poll() is not None, 10)
    finally:
        code = box.stop()
    assert code == 70, (code, box.log()[-2000:])
    log = box.log()
    assert "loop fault: RuntimeError('injected fault: the loop')" in log and "stopped" in log


def test_one_fault_ends_one_call_the_other_stays_secure_with_audio(tmp_path):
    box = BoxProcess(tmp_path / "box", "A")
    box.extra_env["ZEROTAP_FAULTS"] = "1"
    a = Linphone(tmp_path / "alice", account=box.phone_account("alice"))
    b = Linphone(tmp_path / "bob", encryption="zrtp", auto_answer=True)
    c = Linphone(tmp_path / "carol", account=box.phone_account("carol"))
    d = Linphone(tmp_path / "dave", encryption="zrtp", auto_answer=True)
    try:
        box.start()
        for p in (a, b, c, d):
            p.start()
        wa, wb = talk(tmp_path, a, b, seconds=30)
        a.call("sip:bob@127.0.0.1:%d" % b.sip_port)
        first = box.wait_secure(30)
        # call 2: its ZRTP engine raises as soon as it is used
        assert box.control("fault next engine")["ok"]
        c.call("sip:dave@127.0.0.1:%d" % d.sip_port)
        two = box.wait_status(lambda s: s["call"] != first["call"] and s["state"] == "ended",
                              30, "call 2 ended")
        c.wait_ended(15)
        d.wait_ended(15)
        # call 3: SECURE, then its media handler raises on its next datagram
        ended_lines = len(c.lines)
        c.call("sip:dave@127.0.0.1:%d" % d.sip_port)
        three = box.wait_status(lambda s: s["call"] not in (first["call"], two["call"]) and
                                s["security"] == "secure", 30, "call 3 SECURE")
        assert box.control("fault %d media" % three["call"])["ok"]
        box.wait_status(lambda s: s["call"] == three["call"] and s["state"] == "ended", 15,
                        "call 3 ended")
        c.wait_for(r"Call \d+ .*(ended|error)", 15, start=ended_lines)
        # the box still answers its control, and call 1 is SECURE
        r = box.control("status")
        assert r["ok"] and [x["call"] for x in r["calls"]] == [first["call"]], r
        assert r["calls"][0]["security"] == "secure" and not r["calls"][0]["mitm"], r
        time.sleep(4)
        a.terminate_call()
        a.wait_ended()
        box.wait_status(lambda s: s["call"] == first["call"] and s["state"] == "ended", 10,
                        "call 1 ended")
    finally:
        stop_all(a, b, c, d, box)
    lines = box.call_statuses()
    two_end = [s for s in box.call_statuses(two["call"]) if s["state"] == "ended"][-1]
    assert two_end["security"] == "failed", two_end
    assert "injected fault: ZRTP engine" in two_end["error"], two_end
    three_end = [s for s in box.call_statuses(three["call"]) if s["state"] == "ended"][-1]
    assert three_end["security"] == "failed", three_end
    assert "internal error in the call's media: RuntimeError('injected fault: media handler')" \
        == three_end["error"], three_end
    for s in box.call_statuses(first["call"]):  # call 1 never failed nor alarmed
        assert s["security"] != "failed" and not s["mitm"], s
    assert [s for s in lines if s["call"] == first["call"]][-1]["state"] == "ended"
    # the BYEs the box sent carry the reason (RFC 3326)
    for peer in (c, d):
        assert "ZeroTap: internal error in the call" in peer.log_text(), peer.name
    assert_audio_both_ways(tmp_path, a, b, wa, wb)


def test_a_far_phone_killed_mid_call_ends_within_media_timeout(tmp_path):
    box = BoxProcess(tmp_path / "box", "A")
    box.config["media"] = {"timeout_s": 5}
    a = Linphone(tmp_path / "alice", account=box.phone_account("alice"))
    b = Linphone(tmp_path / "bob", encryption="zrtp", auto_answer=True)
    try:
        box.start()
        idle = _fds(box.proc)
        a.start()
        b.start()
        talk(tmp_path, a, b, seconds=30)
        a.call("sip:bob@127.0.0.1:%d" % b.sip_port)
        st = box.wait_secure(30)
        during = _fds(box.proc)
        b.proc.send_signal(signal.SIGKILL)  # the far phone loses power: no BYE, no media
        killed = time.monotonic()
        b.proc.wait(5)
        a.wait_ended(12)
        took = time.monotonic() - killed
        end = box.wait_status(lambda s: s["call"] == st["call"] and s["state"] == "ended", 5)
        freed = _fds(box.proc)
    finally:
        stop_all(a, b, box)
    assert during - idle == 2, (idle, during)  # one socket per side (boards/README.md)
    assert freed == idle, (idle, freed)
    assert 4.5 <= took <= 9, took
    assert end["error"] == "no media from the network for 5 s", end
    assert end["security"] == "secure" and not end["mitm"], end
    assert "ZeroTap: no media from the network for 5 s" in a.log_text()


def test_after_a_restart_an_incoming_call_reaches_the_phone_without_a_new_register(tmp_path):
    """bob registers through his box at Kamailio (digest auth); the box restarts (SIGINT, then the
    same config and cache); alice, registered at Kamailio directly, calls bob by his AOR: the call
    reaches bob's linphonec and goes SECURE, and no REGISTER passed the box again."""
    from kamailio import Kamailio
    import ports
    kam = Kamailio(tmp_path / "kam", ports.udp_port(), {"alice": "alice-pw", "bob": "bob-pw"})
    dom = kam.domain
    box = BoxProcess(tmp_path / "boxB", "B", proxy=dom)
    a = Linphone(tmp_path / "alice", encryption="zrtp",
                 account={"identity": "sip:alice@%s" % dom, "proxy": "sip:%s" % dom,
                          "register": True, "username": "alice", "password": "alice-pw",
                          "realm": "127.0.0.1", "expires": 600})
    b = Linphone(tmp_path / "bob", auto_answer=True,
                 account={"identity": "sip:bob@%s" % dom, "proxy": box.phone_uri,
                          "register": True, "username": "bob", "password": "bob-pw",
                          "realm": "127.0.0.1", "expires": 600})
    try:
        kam.start()
        box.start()
        a.start()
        b.start()
        for p in (a, b):
            p.wait_registered(15)
        assert wait_until(lambda: (tmp_path / "boxB" / "cache" / "bindings.json").exists(), 5)
        registers = kam.log_text().count("REQ REGISTER")
        assert box.stop() == 0
        box.start()  # the same ports, config and cache
        assert "bindings: 1 restored" in box.log()
        a.call("sip:bob@%s" % dom)
        st = box.wait_secure(30)
        b.wait_connected(10)
        time.sleep(1)
        a.terminate_call()
        b.wait_ended()
    finally:
        stop_all(a, b, box, kam)
    assert st["direction"] == "in" and st["sas"], st
    assert kam.log_text().count("REQ REGISTER") == registers  # bob did not register again

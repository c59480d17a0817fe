"""The SAS-verified flags of both ends through real calls with linphonec (bzrtp), RFC 6189
section 7.1: each end sends in its Confirm the verified flag of its own cache (V), and the box
shows a call as verified only when its own cache says so, a retained secret matched, and the
peer's V agrees. When they disagree the box shows the call unverified (the SAS is to be read
again) but keeps its own flag: the peer's V=0 never clears the box's cache. bzrtp shows the same
in every call."""
import re
import sqlite3
import time

from boxpeers import start_all, stop_all
from boxproc import BoxProcess
from linphone import Linphone

_SAS_RE = re.compile(r"ZRTP secrets on: SAS is (\S+) previously verified (\w+)")


def _call(box, a, b, n, seen):
    """Call N: alice -> box -> bob until SECURE; returns the box's status line for it."""
    a.call("sip:bob@127.0.0.1:%d" % b.sip_port)
    st = box.wait_status(lambda s: s["call"] not in seen and s["security"] == "secure", 25, "call %d SECURE" % n)
    seen.add(st["call"])
    return st


def _hang_up(box, a, call):
    a.terminate_call()
    box.wait_status(lambda s: s["call"] == call and s["state"] == "ended", 15, "call %d ended" % call)


def _bob_previously_verified(b, count):
    """bob's "previously verified" for each of its first COUNT secure calls, from its log."""
    deadline = time.monotonic() + 10
    while True:
        found = _SAS_RE.findall(b.log_text())
        if len(found) >= count or time.monotonic() > deadline:
            return [v == "yes" for _, v in found]
        time.sleep(0.1)


def _bob_pvs(b):
    db = sqlite3.connect(str(b.home / ".linphone-zidcache"))
    try:
        return [r[0] for r in db.execute("SELECT pvs FROM zrtp")]
    finally:
        db.close()


def _bob_verifies(b):
    """bob's user confirms the SAS (`zrtp-set-verified`), until bzrtp's cache holds it: linphonec
    now and then drops the command."""
    for _ in range(10):
        b.command("zrtp-set-verified")
        deadline = time.monotonic() + 1
        while time.monotonic() < deadline:
            if _bob_pvs(b) == [b"\x01"]:  # a one-byte blob
                return
            time.sleep(0.1)
    raise AssertionError("linphonec never stored the SAS verified flag: %r" % (_bob_pvs(b),))


def test_verified_flags_disagreeing_and_agreeing_with_linphonec(tmp_path):
    box = BoxProcess(tmp_path / "box", "A")
    a = Linphone(tmp_path / "alice", account=box.phone_account("alice"))
    b = Linphone(tmp_path / "bob", encryption="zrtp", auto_answer=True)
    seen = set()
    try:
        start_all(box, a, b)
        # 1: a new peer; only the box's user confirms the SAS
        st1 = _call(box, a, b, 1, seen)
        assert st1["cache"] == "new" and st1["verified"] is False, st1
        r = box.control("verify %d" % st1["call"])
        assert r["ok"] and r["call"]["verified"] is True, r
        _hang_up(box, a, st1["call"])
        # 2: the box's cache says verified, bob's V=0: shown unverified, the SAS to be read again
        st2 = _call(box, a, b, 2, seen)
        assert st2["cache"] == "match" and st2["verified"] is False, st2
        # now bob's user confirms the SAS; the box's user does nothing this time
        assert len(_bob_previously_verified(b, 2)) == 2  # bob's side of call 2 is secure too
        _bob_verifies(b)
        _hang_up(box, a, st2["call"])
        # 3: both caches say verified: the box shows it, from its own flag kept through call 2
        st3 = _call(box, a, b, 3, seen)
        assert st3["cache"] == "match" and st3["verified"] is True and not st3["mitm"], st3
        # the box's user withdraws the confirmation
        r = box.control("unverify %d" % st3["call"])
        assert r["ok"] and r["call"]["verified"] is False, r
        _hang_up(box, a, st3["call"])
        # 4: bob's V=1 does not make the box's call verified: its own flag governs
        st4 = _call(box, a, b, 4, seen)
        assert st4["cache"] == "match" and st4["verified"] is False, st4
        _hang_up(box, a, st4["call"])
    finally:
        stop_all(a, b, box)
    # both ends show the same in every call: bzrtp too shows a call verified only when both V agree
    shown = [st["verified"] for st in (st1, st2, st3, st4)]
    assert _bob_previously_verified(b, 4)[:4] == shown == [False, False, True, False], b.log_text()[-2000:]
    # and bzrtp, like the box, keeps its own flag through the peer's V=0 of call 4
    assert _bob_pvs(b) == [b"\x01"], _bob_pvs(b)

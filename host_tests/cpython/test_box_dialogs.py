"""Issue 14 with real peers: dialogs that fork, retry and move.

- forking: Kamailio forks the phone's call to two linphonecs registered under one AOR; both
  answer 183 with early media (``incoming_calls_early_media``), each fork gets a media session of
  its own in the box; the one that answers ends SECURE with audio both ways and the SAS of that
  linphonec, the other fork's media is closed (the box's log, its sockets counted);
"""
import os
import re
import time

import ports
from boxproc import BoxProcess
from hostenv import wait_until
from kamailio import Kamailio
from linphone import Linphone
from test_box_calls import assert_audio_both_ways, stop_all, talk


def _fds(proc):
    return len(os.listdir("/proc/%d/fd" % proc.pid))


def _kam_account(dom, user, proxy=None, register=True):
    return {"identity": "sip:%s@%s" % (user, dom), "proxy": proxy or "sip:%s" % dom,
            "register": register, "username": user, "password": "%s-pw" % user,
            "realm": "127.0.0.1", "expires": 600}


def test_kamailio_forks_to_two_contacts_the_answering_one_is_secure_the_other_closed(tmp_path):
    # no GRUU: linphonec would put it in its Contact, and this Kamailio does not route GRUUs
    kam = Kamailio(tmp_path / "kam", ports.udp_port(), {"alice": "alice-pw", "bob": "bob-pw"},
                   gruu=False)
    dom = kam.domain
    box = BoxProcess(tmp_path / "box", "A", proxy=dom)
    early = {"sip": ["incoming_calls_early_media=1"]}
    a = Linphone(tmp_path / "alice", account=_kam_account(dom, "alice", box.phone_uri, False))
    b1 = Linphone(tmp_path / "bob1", encryption="zrtp", extra_rc=early,
                  account=_kam_account(dom, "bob"))
    b2 = Linphone(tmp_path / "bob2", encryption="zrtp", extra_rc=early,
                  account=_kam_account(dom, "bob"))
    try:
        kam.start()
        box.start()
        for p in (a, b1, b2):
            p.start()
        b1.wait_registered(15)
        b2.wait_registered(15)
        idle = _fds(box.proc)
        wa, wb = talk(tmp_path, a, b2, seconds=20)
        a.call("sip:bob@%s" % dom)
        assert wait_until(lambda: "(2 early dialogs)" in box.log(), 20), box.log()[-3000:]
        during = _fds(box.proc)
        b1.wait_for(r"Receiving new incoming call", 10)
        b2.wait_for(r"Receiving new incoming call", 10)
        b2.command("answer")
        st = box.wait_secure(30)
        sas = b2.wait_encrypted(20)
        b1.wait_ended(15)  # Kamailio cancelled the fork that lost
        assert wait_until(lambda: "lost, its media closed" in box.log(), 5), box.log()[-3000:]
        after = _fds(box.proc)
        time.sleep(4)
        r = box.control("status")
        a.terminate_call()
        a.wait_ended()
        b2.wait_ended()
    finally:
        stop_all(a, b1, b2, box, kam)
    log = box.log()
    assert during - idle == 2 and after == during, (idle, during, after)  # forks take no socket
    assert st["sas"] == sas, (st, sas)
    assert r["ok"] and r["calls"][0]["security"] == "secure" and not r["calls"][0]["mitm"], r
    assert r["calls"][0]["sas"] == sas, r
    forks = re.findall(r"fork (\S+) brings its own media session", log)
    lost = re.findall(r"fork (\S+) lost, its media closed", log)
    assert len(forks) == 1 and len(lost) == 1, log[-3000:]
    for s in box.call_statuses():  # never the losing fork's SAS, never an alarm
        assert s["sas"] in (None, sas) and not s["mitm"], s
    assert_audio_both_ways(tmp_path, a, b2, wa, wb)

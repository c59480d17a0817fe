"""Issue 14 with real peers: dialogs that fork, retry and move.

- forking: Kamailio forks the phone's call to two linphonecs registered under one AOR; both
  answer 183 with early media (``incoming_calls_early_media``), each fork gets a media session of
  its own in the box; the one that answers ends SECURE with audio both ways and the SAS of that
  linphonec, the other fork's media is closed (the box's log, its sockets counted);
- Call-ID reuse through Kamailio. 422: linphonec (its session timer asks for 90 s) gets 422 with
  Min-SE 1800 and retries with the same Call-ID: that call connects, SECURE. 302: linphonec follows
  a 302 but with a NEW Call-ID (so it is no test of the reuse), hence a scripted phone: it calls an
  old number, gets 302 with the new Contact, ACKs, retries with the same Call-ID and a higher CSeq
  to the Contact, and that call connects SECURE with a linphonec.
"""
import os
import re
import socket
import time
import uuid

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


# Kamailio's answers to first attempts (before authentication): 302 for the old number, 422 for a
# session interval below 1800 s; every INVITE's Call-ID and Session-Expires logged
RETRY = r'''    if (is_method("INVITE")) { xlog("L_INFO", "FIRST $rU $ci SE=$hdr(Session-Expires)\n"); }
    if (is_method("INVITE") && $rU == "old") {
        append_to_reply("Contact: <sip:bob@127.0.0.1:%d>\r\n");
        sl_send_reply("302", "Moved Temporarily");
        exit;
    }
    if (is_method("INVITE") && $fU == "robot") {
        record_route();
        if (lookup("location")) { t_relay(); } else { sl_send_reply("404", "Not Found"); }
        exit;
    }
    if (is_method("INVITE") && $(hdr(Session-Expires){s.int}) < 1800) {
        append_to_reply("Min-SE: 1800\r\n");
        sl_send_reply("422", "Session Interval Too Small");
        exit;
    }'''


def test_422_through_kamailio_linphonec_retries_with_the_same_call_id_and_connects(tmp_path):
    port = ports.udp_port()
    kam = Kamailio(tmp_path / "kam", port, {"alice": "alice-pw", "bob": "bob-pw"},
                   first=RETRY % port, gruu=False)
    dom = kam.domain
    box = BoxProcess(tmp_path / "box", "A", proxy=dom)
    a = Linphone(tmp_path / "alice", account=_kam_account(dom, "alice", box.phone_uri, False),
                 extra_rc={"sip": ["session_expires_enabled=1", "session_expires_value=90"]})
    b = Linphone(tmp_path / "bob", encryption="zrtp", auto_answer=True,
                 account=_kam_account(dom, "bob"))
    try:
        kam.start()
        box.start()
        a.start()
        b.start()
        b.wait_registered(15)
        a.call("sip:old@%s" % dom)
        st = box.wait_secure(30)
        sas = b.wait_encrypted(20)
        a.wait_connected(10)
        a.terminate_call()
        a.wait_ended()
        b.wait_ended()
    finally:
        stop_all(a, b, box, kam)
    tried = re.findall(r"FIRST (\S+) (\S+) SE=(\S*)", kam.log_text())
    users = [t[0] for t in tried]
    assert users[0] == "old" and users[1:] and set(users[1:]) == {"bob"}, tried
    assert tried[0][1] != tried[1][1], tried  # linphonec follows the 302 with a new Call-ID
    assert len(set(t[1] for t in tried[1:])) == 1, tried  # the retry after 422: the same
    assert [t[2].split(";")[0] for t in tried][:2] == ["90", "90"], tried
    assert tried[-1][2].split(";")[0] == "1800", tried
    log = box.log()
    assert "call 1 ended: 302 Moved Temporarily" in log, log[-3000:]
    assert "call 2 ended: 422 Session Interval Too Small" in log, log[-3000:]
    assert st["call"] == 3 and st["sas"] == sas, st
    assert "481" not in kam.log_text()


def _uri(value):
    return re.search(r"<([^>]+)>", value).group(1)


class ScriptedPhone:
    """A SIP phone as a script, for what linphonec does not do (reuse the Call-ID after a 302):
    one UDP socket toward the box's phone side, an RTP socket for its SDP."""

    def __init__(self, box):
        self.box = box
        self.sip = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sip.bind(("127.0.0.1", 0))
        self.sip.settimeout(0.2)
        self.rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.rtp.bind(("127.0.0.1", 0))
        self.port = self.sip.getsockname()[1]
        self.call_id = uuid.uuid4().hex
        self.tag = uuid.uuid4().hex[:8]

    def request(self, method, uri, cseq, to, branch, routes=(), body=b""):
        lines = ["%s %s SIP/2.0" % (method, uri),
                 "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK%s;rport" % (self.port, branch),
                 "Max-Forwards: 70", "From: <sip:robot@127.0.0.1>;tag=%s" % self.tag,
                 "To: %s" % to, "Call-ID: %s" % self.call_id, "CSeq: %d %s" % (cseq, method),
                 "Contact: <sip:robot@127.0.0.1:%d>" % self.port]
        lines += ["Route: %s" % r for r in routes]
        if body:
            lines.append("Content-Type: application/sdp")
        lines.append("Content-Length: %d" % len(body))
        self.sip.sendto(("\r\n".join(lines) + "\r\n\r\n").encode() + body,
                        ("127.0.0.1", self.box.phone_port))

    def invite(self, uri, cseq, to):
        port = self.rtp.getsockname()[1]
        sdp = ("v=0\r\no=robot 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
               "m=audio %d RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n" % port).encode()
        self.request("INVITE", uri, cseq, to, "inv%d" % cseq, body=sdp)

    def final(self, timeout=15):
        """The next final response (the provisional ones skipped): (code, {name: [values]})."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                data = self.sip.recv(65536)
            except socket.timeout:
                continue
            head = data.split(b"\r\n\r\n")[0].decode()
            first, *rest = head.split("\r\n")
            if not first.startswith("SIP/2.0 ") or int(first.split()[1]) < 200:
                continue
            headers = {}
            for line in rest:
                name, _, value = line.partition(":")
                headers.setdefault(name.strip().lower(), []).append(value.strip())
            return int(first.split()[1]), headers
        raise AssertionError("robot: no final response within %d s" % timeout)

    def close(self):
        self.sip.close()
        self.rtp.close()


def test_302_through_kamailio_the_retry_with_the_same_call_id_connects(tmp_path):
    port = ports.udp_port()
    kam = Kamailio(tmp_path / "kam", port, {"bob": "bob-pw"}, first=RETRY % port, gruu=False)
    dom = kam.domain
    box = BoxProcess(tmp_path / "box", "A", proxy=dom)
    b = Linphone(tmp_path / "bob", encryption="zrtp", auto_answer=True,
                 account=_kam_account(dom, "bob"))
    robot = None
    try:
        kam.start()
        box.start()
        b.start()
        b.wait_registered(15)
        robot = ScriptedPhone(box)
        to = "<sip:old@%s>" % dom
        robot.invite("sip:old@%s" % dom, 1, to)
        code, h = robot.final()
        assert code == 302, (code, h)
        contact = _uri(h["contact"][0])
        robot.request("ACK", "sip:old@%s" % dom, 1, h["to"][0], "inv1")
        robot.invite(contact, 2, "<%s>" % contact)  # the same Call-ID, a higher CSeq
        code, h = robot.final()
        assert code == 200, (code, h)
        routes = list(reversed(", ".join(h["record-route"]).split(", ")))
        target = _uri(h["contact"][0])
        robot.request("ACK", target, 2, h["to"][0], "ack2", routes)
        st = box.wait_secure(30)
        sas = b.wait_encrypted(20)
        robot.request("BYE", target, 3, h["to"][0], "bye3", routes)
        b.wait_ended(10)
    finally:
        if robot is not None:
            robot.close()
        stop_all(b, box, kam)
    tried = re.findall(r"FIRST (\S+) (\S+) SE=", kam.log_text())
    assert [t[0] for t in tried] == ["old", "bob"], tried
    assert tried[0][1] == tried[1][1] == robot.call_id, tried
    log = box.log()
    assert "call 1 ended: 302 Moved Temporarily" in log, log[-3000:]
    assert st["call"] == 2 and st["sas"] == sas, st

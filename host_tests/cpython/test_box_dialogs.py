"""Issue 14 with real peers: dialogs that fork, retry and move.

- forking: Kamailio forks the phone's call to two linphonecs registered under one AOR; both
  answer 183 with early media (``incoming_calls_early_media``), each fork gets a media session of
  its own in the box; the first fork (not the one the phone hears last) answers: the box
  switches to its session, ends SECURE with audio both ways and the SAS of that linphonec, and
  closes the other fork's media (the box's log, its sockets counted). The box under CPython and
  under MicroPython (here and for the media move);
- Call-ID reuse through Kamailio. 422: linphonec (its session timer asks for 90 s) gets 422 with
  Min-SE 1800 and retries with the same Call-ID: that call connects, SECURE. 302: linphonec follows
  a 302 but with a NEW Call-ID (so it is no test of the reuse), hence a scripted phone: it calls an
  old number, gets 302 with the new Contact, ACKs, retries with the same Call-ID and a higher CSeq
  to the Contact, and that call connects SECURE with a linphonec.
- media that moves: a scripted PBX (a small 3PCC B2BUA, RFC 3725) bridges the box's call to
  linphonec A (the box's offer to A, A's answer to the box: direct media, ZRTP between the box and
  A, SECURE with A's SAS); then it ends A's leg and moves the media to linphonec B: an INVITE
  without SDP to B, B's offer in a re-INVITE to the box, the box's answer in the ACK to B. The box
  runs a new ZRTP exchange with B: status negotiating, then SECURE with B's SAS (equal on both
  sides), and no MITM alarm at any time.
"""
import os
import re
import socket
import time
import uuid

import pytest

import ports
from boxpeers import call_secure, start_all, stop_all, wait_registered
from boxproc import BoxProcess
from hostenv import wait_until
from kamailio import Kamailio
from linphone import Linphone
from test_box_calls import assert_audio_both_ways, talk
from zerotap.sip import message


def _fds(proc):
    return len(os.listdir("/proc/%d/fd" % proc.pid))


def _kam_account(dom, user, proxy=None, register=True):
    return {"identity": "sip:%s@%s" % (user, dom), "proxy": proxy or "sip:%s" % dom,
            "register": register, "username": user, "password": "%s-pw" % user,
            "realm": "127.0.0.1", "expires": 600}


@pytest.mark.parametrize("interpreter", ["cpython", "micropython"])
def test_kamailio_forks_to_two_contacts_the_answering_one_is_secure_the_other_closed(tmp_path,
                                                                                   interpreter):
    # no GRUU: linphonec would put it in its Contact, and this Kamailio does not route GRUUs
    kam = Kamailio(tmp_path / "kam", ports.udp_port(), {"alice": "alice-pw", "bob": "bob-pw"},
                   gruu=False)
    dom = kam.domain
    box = BoxProcess(tmp_path / "box", "A", proxy=dom, interpreter=interpreter)
    early = {"sip": ["incoming_calls_early_media=1"]}
    a = Linphone(tmp_path / "alice", account=_kam_account(dom, "alice", box.phone_uri, False))
    b1 = Linphone(tmp_path / "bob1", encryption="zrtp", extra_rc=early,
                  account=_kam_account(dom, "bob"))
    b2 = Linphone(tmp_path / "bob2", encryption="zrtp", extra_rc=early,
                  account=_kam_account(dom, "bob"))
    try:
        start_all(kam, box, a, b1, b2)
        wait_registered(15, b1, b2)
        idle = _fds(box.proc)
        _, w1 = talk(tmp_path, a, b1, seed_b=2, seconds=20)
        wa, w2 = talk(tmp_path, a, b2, seed_b=3, seconds=20)
        wavs = {b1.name: w1, b2.name: w2}
        a.call("sip:bob@%s" % dom)
        assert wait_until(lambda: "(2 early dialogs)" in box.log(), 20), box.log()[-3000:]
        during = _fds(box.proc)
        b1.wait_for(r"Receiving new incoming call", 10)
        b2.wait_for(r"Receiving new incoming call", 10)
        # the fork that answers is the first one, not the one the phone hears last: the box
        # switches to its session (and its ZRTP status) when its 2xx wins
        second = re.search(r"fork (\S+) brings its own media session", box.log()).group(1)
        win, lose = (b2, b1) if "tag=%s" % second in b1.log_text() else (b1, b2)
        win.command("answer")
        sas = win.wait_encrypted(20)
        st = box.wait_status(lambda s: s["security"] == "secure" and s["sas"] == sas, 30,
                             "SECURE with the SAS of the fork that answered")
        lose.wait_ended(15)  # Kamailio cancelled the fork that lost
        assert wait_until(lambda: "lost, its media closed" in box.log(), 5), box.log()[-3000:]
        after = _fds(box.proc)
        time.sleep(4)
        r = box.control("status")
        a.terminate_call()
        a.wait_ended()
        win.wait_ended()
    finally:
        stop_all(a, b1, b2, box, kam)
    log = box.log()
    assert during - idle == 2 and after == during, (idle, during, after)  # forks take no socket
    assert r["ok"] and r["calls"][0]["security"] == "secure" and not r["calls"][0]["mitm"], r
    assert r["calls"][0]["sas"] == sas, r
    forks = re.findall(r"fork (\S+) brings its own media session", log)
    lost = re.findall(r"fork (\S+) lost, its media closed", log)
    assert forks == lost == [second], log[-3000:]  # the first fork answered, the second lost
    lines = box.call_statuses(st["call"])
    shown = [s["sas"] for s in lines]
    i = shown.index(sas)
    assert set(shown[i:]) == {sas}, shown  # once the winner's SAS shows, only it
    for s in lines:
        assert not s["mitm"], s
    assert_audio_both_ways(tmp_path, a, win, wa, wavs[win.name])


# Kamailio's answers to first attempts (before authentication): 302 for the old number, 422 for a
# session interval below 1800 s; every INVITE's Call-ID and Session-Expires logged
RETRY = r'''    if (is_method("INVITE")) {
        xlog("L_INFO", "FIRST $rU $ci SE=$hdr(Session-Expires)\n");
    }
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
        start_all(kam, box, a, b)
        b.wait_registered(15)
        st, sas = call_secure(a, "sip:old@%s" % dom, [box], 30, peer=b, peer_timeout=20)
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
        start_all(kam, box, b)
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


class Pbx:
    """A scripted PBX that moves media (third party call control, RFC 3725): the UAS of the box's
    call, the UAC of its legs to linphonecs, on one UDP socket. Messages are matched by Call-ID
    (and method or status); the ones not asked for yet are kept."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.kept = []
        self.n = 0

    def send(self, text, body, addr):
        if isinstance(text, list):
            text = "\r\n".join(text + ["Content-Length: %d" % len(body)]) + "\r\n\r\n"
        self.sock.sendto(text.encode() + body, addr)

    def wait(self, pred, what, timeout=15):
        deadline = time.monotonic() + timeout
        while True:
            for m in self.kept:
                if pred(m):
                    self.kept.remove(m)
                    return m
            if time.monotonic() > deadline:
                raise AssertionError("pbx: no %s within %d s" % (what, timeout))
            try:
                data, addr = self.sock.recvfrom(65536)
            except socket.timeout:
                continue
            if data.strip():
                m = message.parse(data)
                m.src = addr
                self.kept.append(m)

    @staticmethod
    def uas_head(inv, tag="pbxcall"):
        """The headers of the PBX's responses to INV as its UAS (Via, Record-Route, From, To with
        TAG, Call-ID, CSeq), and that To."""
        to = inv.get("To") + ";tag=" + tag
        head = ["Via: %s" % v for v in inv.get_all("Via")]
        head += ["Record-Route: %s" % r for r in inv.get_all("Record-Route")]
        head += ["From: %s" % inv.get("From"), "To: %s" % to, "Call-ID: %s" % inv.call_id(),
                 "CSeq: %s" % inv.get("CSeq")]
        return head, to

    def final(self, call_id, method="INVITE"):
        return self.wait(lambda m: not m.is_request and m.call_id() == call_id and
                         m.status >= 200 and m.cseq().method == method,
                         "final response to %s %s" % (method, call_id))

    def request(self, method, uri, addr, call_id, cseq, frm, to, body=b"", routes=()):
        self.n += 1
        lines = ["%s %s SIP/2.0" % (method, uri),
                 "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bKpbx%d%s;rport"
                 % (self.port, self.n, method.lower()),
                 "Max-Forwards: 70", "From: %s" % frm, "To: %s" % to, "Call-ID: %s" % call_id,
                 "CSeq: %d %s" % (cseq, method), "Contact: <sip:pbx@127.0.0.1:%d>" % self.port]
        lines += ["Route: %s" % r for r in routes]
        if body:
            lines.append("Content-Type: application/sdp")
        self.send(lines, body, addr)

    def invite_leg(self, peer, body):
        """INVITE linphonec PEER (auto-answering) with BODY (an offer, or none); its 200 ACKed
        when BODY was an offer. Returns (call_id, 200, from, to)."""
        cid = "pbx-leg-%s" % uuid.uuid4().hex[:10]
        frm = "<sip:pbx@127.0.0.1:%d>;tag=p%s" % (self.port, cid[-6:])
        uri = "sip:%s@127.0.0.1:%d" % (peer.name, peer.sip_port)
        self.request("INVITE", uri, ("127.0.0.1", peer.sip_port), cid, 1, frm, "<%s>" % uri, body)
        ok = self.final(cid)
        assert ok.status == 200, ok.status
        return cid, ok, frm, ok.get("To")

    def ack_leg(self, peer, leg, body=b""):
        cid, ok, frm, to = leg
        self.request("ACK", _uri(ok.get("Contact")), ("127.0.0.1", peer.sip_port), cid, 1, frm, to,
                     body)

    def bye_leg(self, peer, leg):
        cid, ok, frm, to = leg
        self.request("BYE", _uri(ok.get("Contact")), ("127.0.0.1", peer.sip_port), cid, 2, frm, to)

    def close(self):
        self.sock.close()


@pytest.mark.parametrize("interpreter", ["cpython", "micropython"])
def test_a_reinvite_moves_the_far_media_to_another_linphonec_new_sas_no_alarm(tmp_path,
                                                                             interpreter):
    box = BoxProcess(tmp_path / "box", "A", interpreter=interpreter)
    alice = Linphone(tmp_path / "alice", account=box.phone_account("alice"))
    pa = Linphone(tmp_path / "pa", encryption="zrtp", auto_answer=True)
    pb = Linphone(tmp_path / "pb", encryption="zrtp", auto_answer=True)
    pbx = Pbx()
    try:
        start_all(box, alice, pa, pb)
        alice.call("sip:queue@127.0.0.1:%d" % pbx.port)
        inv = pbx.wait(lambda m: m.is_request and m.method == "INVITE", "the box's INVITE")
        cid = inv.call_id()
        head, to = pbx.uas_head(inv)
        pbx.send(["SIP/2.0 100 Trying"] + head, b"", inv.src)
        # 1. bridge the box's call to A: the box's offer to A, A's answer to the box
        leg_a = pbx.invite_leg(pa, inv.body)
        pbx.ack_leg(pa, leg_a)
        pbx.send(["SIP/2.0 200 OK"] + head + ["Contact: <sip:pbx@127.0.0.1:%d>" % pbx.port,
                                              "Content-Type: application/sdp"],
                 leg_a[1].body, inv.src)
        first = box.wait_secure(30)
        sas_a = pa.wait_encrypted(20)
        assert first["sas"] == sas_a, (first, sas_a)
        # 2. move: A's leg ends, B's offer goes to the box in a re-INVITE (through the box's
        # Record-Route), the box's answer to B in the ACK
        pbx.bye_leg(pa, leg_a)
        pa.wait_ended(10)
        leg_b = pbx.invite_leg(pb, b"")  # no SDP: B's 200 carries its offer
        routes = inv.get_all("Record-Route")
        target = _uri(inv.get("Contact"))
        box_net = ("127.0.0.1", box.network_port)
        pbx.request("INVITE", target, box_net, cid, 1, to, inv.get("From"), leg_b[1].body, routes)
        answer = pbx.final(cid)
        assert answer.status == 200 and b"a=zrtp-hash:" in answer.body, answer.status
        pbx.request("ACK", target, box_net, cid, 1, to, inv.get("From"), b"", routes)
        pbx.ack_leg(pb, leg_b, answer.body)
        sas_b = pb.wait_encrypted(30)
        second = box.wait_status(lambda s: s["call"] == first["call"] and
                                 s["security"] == "secure" and s["sas"] == sas_b, 30,
                                 "SECURE with B's SAS")
        time.sleep(2)  # media flows a while with the new keys: no alarm may come
        r = box.control("status")
    finally:
        stop_all(alice, pa, pb, box)
        pbx.close()
    assert sas_b != sas_a and second["peer_zid"] != first["peer_zid"], (first, second)
    lines = box.call_statuses(first["call"])
    seen = []
    for s in lines:  # what the user saw, each change once
        if not seen or seen[-1] != (s["security"], s["sas"]):
            seen.append((s["security"], s["sas"]))
    i = seen.index(("secure", sas_a))
    assert seen[i:] == [("secure", sas_a), ("negotiating", None), ("secure", sas_b)], seen
    for s in lines:
        assert not s["mitm"] and not s.get("dropped"), s
    assert r["ok"] and r["calls"][0]["sas"] == sas_b and not r["calls"][0]["mitm"], r
    assert "the far media moved to 127.0.0.1:%d after SECURE: a new ZRTP exchange" % pb.rtp_port \
        in box.log()

"""The box toward a provider over TCP and TLS (issue 13), with real peers only: Kamailio with its
TLS module and a CA the test makes, plain linphonec desk phones behind the boxes, the boxes under
CPython and MicroPython.

1. Box A reaches Kamailio over TLS, box B over TCP; both phones register through their boxes
   and call each other both ways: SECURE with the same SAS on both boxes.
2. A phone's ~4 KB INVITE over UDP reaches the far side whole: the box sends it on over TCP.
3. Kamailio's certificate names another host: the registration is refused with the reason (the
   phone gets 503 with it, the box's status shows it) and Kamailio never sees a SIP message.
"""
import re
import time

import pytest

import ports
from boxpeers import (DOMAIN, USERS, box_lines, call_secure, hang_up, provider_account, start_all,
                      stop_all, wait_registered)
from boxproc import BoxProcess
from hostenv import wait_until
from kamailio_provider import Provider, tcp_port
from linphone import Linphone
from testca import TestCA


def _provider(tmp_path, cert_name=DOMAIN):
    ca = TestCA(tmp_path / "ca")
    key, cert = ca.issue(cert_name, ["127.0.0.1"])
    sip = tcp_port()  # UDP and TCP on one port, as providers do (5060)
    k = Provider(tmp_path / "kam", "127.0.0.1", sip, sip, USERS,
                 tls=(key, cert), tls_port=tcp_port(), domain=DOMAIN)
    return ca, k


def _tls_box(tmp_path, name, k, ca, interpreter="cpython"):
    box = BoxProcess(tmp_path / ("box" + name), name, interpreter=interpreter,
                     proxy="127.0.0.1:%d" % k.tls)
    box.config["network"].update({"transport": "tls",
                                  "tls": {"ca": str(ca.pem), "name": DOMAIN}})
    return box


def _tcp_box(tmp_path, name, k, interpreter="cpython"):
    box = BoxProcess(tmp_path / ("box" + name), name, interpreter=interpreter,
                     proxy="127.0.0.1:%d" % k.tcp)
    box.config["network"]["transport"] = "tcp"
    return box


@pytest.mark.parametrize("interp", ["cpython", "micropython"])
def test_tls_and_tcp_boxes_call_each_other_secure(tmp_path, interp):
    ca, k = _provider(tmp_path)
    box_a = _tls_box(tmp_path, "A", k, ca, interp)
    box_b = _tcp_box(tmp_path, "B", k)
    a = Linphone(tmp_path / "alice", account=provider_account("alice", box_a.phone_uri),
                 auto_answer=True)
    b = Linphone(tmp_path / "bob", account=provider_account("bob", box_b.phone_uri),
                 auto_answer=True)
    try:
        start_all(k, box_a, box_b, a, b)
        wait_registered(20, a, b)
        # A (TLS) calls B (TCP)
        sa, sb = call_secure(a, "sip:bob@%s" % DOMAIN, [box_a, box_b])
        hang_up(a, b)
        # B calls A: the INVITE reaches box A over its TLS connection
        sa2, sb2 = call_secure(b, "sip:alice@%s" % DOMAIN, [box_a, box_b], call=2)
        hang_up(b, a)
        log = k.log_text()
    finally:
        stop_all(a, b, box_a, box_b, k)
    assert sa["sas"] and sa["sas"] == sb["sas"], (sa, sb)
    assert sa2["sas"] and sa2["sas"] == sb2["sas"], (sa2, sb2)
    assert sa["direction"] == "out" and sb["direction"] == "in"
    assert sa2["direction"] == "in" and sb2["direction"] == "out"
    assert re.search(r"REQ REGISTER sip:%s from tls:127\.0\.0\.1" % DOMAIN, log)
    assert re.search(r"REQ REGISTER sip:%s from tcp:127\.0\.0\.1" % DOMAIN, log)
    assert re.search(r"REQ INVITE sip:bob@%s from tls:" % DOMAIN, log)
    assert re.search(r"REQ INVITE sip:alice@%s from tcp:" % DOMAIN, log)
    assert re.search(r"REQ BYE .* from (tls|tcp):", log)
    assert not re.search(r"REQ \S+ \S+ from udp:", log)  # nothing went over UDP
    lines = box_lines(box_a)
    assert lines and lines[-1]["transport"] == "TLS"
    assert any(s["registered"] for s in lines)


class RawUA:
    """A bare SIP endpoint on a loopback UDP socket: sends what the test writes, collects what
    comes."""

    def __init__(self):
        import socket
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.sock.settimeout(0.2)

    def send(self, data, dest):
        self.sock.sendto(data, dest)

    def wait(self, pred, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                data, src = self.sock.recvfrom(65535)
            except OSError:
                continue
            if pred(data):
                return data, src
        raise AssertionError("no matching message within %d s" % timeout)

    def close(self):
        self.sock.close()


CODECS = [(96 + i, "X-CODEC%d/8000" % i) for i in range(30)]


def _sdp(port, tag):
    lines = ["v=0", "o=%s 1 1 IN IP4 127.0.0.1" % tag, "s=-", "c=IN IP4 127.0.0.1", "t=0 0",
             "m=audio %d RTP/AVP 0 %s" % (port, " ".join(str(pt) for pt, _ in CODECS)),
             "a=rtpmap:0 PCMU/8000"]
    lines += ["a=rtpmap:%d %s" % (pt, name) for pt, name in CODECS]
    lines += ["a=fmtp:%d mode=%s" % (pt, "x" * 20) for pt, _ in CODECS]
    return ("\r\n".join(lines) + "\r\n").encode()


def _pad(prefix, n):
    return "".join("%s-%02d: %s\r\n" % (prefix, i, "p" * 40) for i in range(n))


def _header(msg, name):
    for line in msg.split(b"\r\n"):
        if line.lower().startswith(name.lower() + b":"):
            return line.split(b":", 1)[1].strip().decode()
    return None


def _assert_whole(msg, pad, fmtp):
    """MSG as it arrived has all 30 of the PAD headers _pad() wrote, a Content-Length that is
    its body's, and every codec of _sdp() (with its fmtp line when FMTP). Returns the body."""
    for i in range(30):
        assert ("%s-%02d: %s" % (pad, i, "p" * 40)).encode() in msg, i
    body = msg.split(b"\r\n\r\n", 1)[1]
    assert int(_header(msg, b"Content-Length")) == len(body)
    for pt, name in CODECS:
        assert ("a=rtpmap:%d %s" % (pt, name)).encode() in body
        if fmtp:
            assert ("a=fmtp:%d mode=%s" % (pt, "x" * 20)).encode() in body
    return body


def test_large_invite_over_tcp_and_large_answer_come_through_whole(tmp_path):
    ca, k = _provider(tmp_path)
    k.auth = False
    box = BoxProcess(tmp_path / "boxA", "A", proxy="127.0.0.1:%d" % k.udp)  # UDP toward it
    phone, far = RawUA(), RawUA()
    try:
        start_all(k, box)
        kam = ("127.0.0.1", k.udp)
        far.send(("REGISTER sip:%s SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bKr1;"
                  "rport\r\nMax-Forwards: 70\r\nFrom: <sip:bob@%s>;tag=r1\r\nTo: <sip:bob@%s>\r\n"
                  "Call-ID: reg-bob\r\nCSeq: 1 REGISTER\r\nContact: <sip:bob@127.0.0.1:%d>\r\n"
                  "Expires: 300\r\nContent-Length: 0\r\n\r\n" % (DOMAIN, far.port, DOMAIN,
                                                                 DOMAIN, far.port)).encode(),
                 kam)
        far.wait(lambda d: d.startswith(b"SIP/2.0 200"))
        body = _sdp(40000, "alice")
        invite = ("INVITE sip:bob@%s SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bKbig1;"
                  "rport\r\nMax-Forwards: 70\r\nFrom: <sip:alice@%s>;tag=a1\r\n"
                  "To: <sip:bob@%s>\r\nCall-ID: big-1\r\nCSeq: 1 INVITE\r\n"
                  "Contact: <sip:alice@127.0.0.1:%d>\r\n%sContent-Type: application/sdp\r\n"
                  "Content-Length: %d\r\n\r\n" % (DOMAIN, phone.port, DOMAIN, DOMAIN, phone.port,
                                                 _pad("X-Pad", 30), len(body))).encode() + body
        assert len(invite) > 4000
        phone.send(invite, ("127.0.0.1", box.phone_port))
        got, src = far.wait(lambda d: d.startswith(b"INVITE "))
        # whole: every header the phone wrote, in order, and every codec of the SDP
        fbody = _assert_whole(got, "X-Pad", fmtp=True)
        assert b"a=zrtp-hash:" in fbody  # the box's own, it rewrote the SDP
        log = k.log_text()
        m = re.search(r"REQ INVITE sip:bob@%s from (\w+):127\.0\.0\.1:\d+ len (\d+)" % DOMAIN,
                      log)
        assert m and m.group(1) == "tcp" and int(m.group(2)) > 4000, log[-2000:]
        # a large answer comes back whole
        vias = [line for line in got.split(b"\r\n") if line.lower().startswith(b"via:")]
        rrs = [line for line in got.split(b"\r\n") if line.lower().startswith(b"record-route:")]
        abody = _sdp(41000, "bob")
        answer = (b"SIP/2.0 200 OK\r\n" + b"\r\n".join(vias + rrs) + b"\r\n" +
                  ("From: <sip:alice@%s>;tag=a1\r\nTo: <sip:bob@%s>;tag=b1\r\nCall-ID: big-1\r\n"
                   "CSeq: 1 INVITE\r\nContact: <sip:bob@127.0.0.1:%d>\r\n%s"
                   "Content-Type: application/sdp\r\nContent-Length: %d\r\n\r\n"
                   % (DOMAIN, DOMAIN, far.port, _pad("X-Answer", 30), len(abody))).encode() +
                  abody)
        assert len(answer) > 4000
        far.send(answer, src)
        resp, _ = phone.wait(lambda d: d.startswith(b"SIP/2.0 200"))
        rbody = _assert_whole(resp, "X-Answer", fmtp=False)
        assert b"zrtp-hash" not in rbody  # stripped toward the phone
    finally:
        phone.close()
        far.close()
        stop_all(box, k)


@pytest.mark.parametrize("interp", ["cpython", "micropython"])
def test_wrong_certificate_name_refuses_registration_with_the_reason(tmp_path, interp):
    ca, k = _provider(tmp_path, cert_name="other.example.test")
    box = _tls_box(tmp_path, "A", k, ca, interp)
    a = Linphone(tmp_path / "alice", account=provider_account("alice", box.phone_uri))
    try:
        start_all(k, box, a)
        assert wait_until(lambda: "LinphoneRegistrationFailed" in a.log_text(), 20,
                          interval=0.2), a.log_text()[-2000:]
        assert wait_until(lambda: any(s.get("registration_error") for s in box_lines(box)),
                          10, interval=0.1)
        time.sleep(1)
        log = k.log_text()
        alog = a.log_text()
    finally:
        stop_all(a, box, k)
    err = [s["registration_error"] for s in box_lines(box) if s.get("registration_error")][-1]
    assert err.startswith("network: tls: certificate verify failed: "), err
    assert "tls: certificate verify failed" in box.log()
    assert re.search(r"503 Service Unavailable", alog), alog[-3000:]
    assert "REQ " not in log  # Kamailio never got a SIP request, over no transport
    assert not any(s["registered"] for s in box_lines(box))


def test_dns_srv_failover_to_the_second_target(tmp_path):
    """network.proxy is a domain: dnsmasq serves NAPTR -> SRV (two targets) -> A; the first
    target is down, the box fails over to the second and the phone registers."""
    from dnsmasq import Dnsmasq
    dom = "voip.test"
    sip = tcp_port()
    down = tcp_port()  # nothing listens there
    k = Provider(tmp_path / "kam", "127.0.0.1", sip, sip, USERS, domain=dom)
    d = Dnsmasq(tmp_path / "dns", ports.udp_port(), [
        "naptr-record=%s,10,10,s,SIP+D2T,,_sip._tcp.%s" % (dom, dom),
        "srv-host=_sip._tcp.%s,sip-a.%s,%d,10,0" % (dom, dom, down),
        "srv-host=_sip._tcp.%s,sip-b.%s,%d,20,0" % (dom, dom, sip),
        "host-record=sip-a.%s,127.0.0.1" % dom,
        "host-record=sip-b.%s,127.0.0.1" % dom])
    box = BoxProcess(tmp_path / "boxA", "A", proxy=dom)
    box.config["network"]["dns"] = ["127.0.0.1:%d" % d.port]
    acct = provider_account("alice", box.phone_uri)
    acct.update({"identity": "sip:alice@%s" % dom, "realm": dom})
    a = Linphone(tmp_path / "alice", account=acct)
    try:
        start_all(k, d, box, a)
        a.wait_registered(20)
        log = k.log_text()
        dlog = d.log_text()
    finally:
        stop_all(a, box, d, k)
    assert re.search(r"REQ REGISTER sip:%s from tcp:127\.0\.0\.1" % dom, log)
    assert "query[NAPTR]" in dlog and "query[SRV]" in dlog
    blog = box.log()
    assert "connect failed: [Errno 111] connection refused" in blog, blog
    assert re.search(r"network: %s failed \(connect failed.*\), next: <TCP 127\.0\.0\.1:%d"
                     % (dom, sip), blog), blog
    assert any(s["registered"] for s in box_lines(box))


def test_phone_over_tcp_and_malformed_streams_close_one_connection_only(tmp_path):
    """A linphonec that talks TCP to the box calls a ZRTP linphonec through it (SECURE, equal
    SAS). Meanwhile other connections to the box's phone-side TCP port send garbage, stop in the
    middle of a message, or a valid OPTIONS: the first two are closed with their reasons, the
    third is answered, and the call goes on until the phone hangs up over its TCP connection."""
    import socket
    box = BoxProcess(tmp_path / "box", "A")
    phone_tcp = "sip:127.0.0.1:%d;transport=tcp" % box.phone_port
    a = Linphone(tmp_path / "alice", tcp_port=tcp_port(),
                 account={"identity": "sip:alice@127.0.0.1", "proxy": phone_tcp,
                          "route": phone_tcp, "register": False})
    b = Linphone(tmp_path / "bob", encryption="zrtp", auto_answer=True)
    conns = []
    try:
        start_all(box, a, b)
        a.call("sip:bob@127.0.0.1:%d" % b.sip_port)
        sas = b.wait_encrypted(30)
        st = box.wait_secure(10)
        for _ in range(3):
            c = socket.create_connection(("127.0.0.1", box.phone_port), timeout=15)
            conns.append(c)
        garbage, stall, good = conns
        garbage.sendall(b"\x16\x03\x01\x00\x10 no SIP at all\r\n\r\n")
        stall.sendall(b"OPTIONS sip:127.0.0.1:%d SIP/2.0\r\nContent-Length: 500\r\n\r\nshort"
                      % box.phone_port)
        t0 = time.monotonic()
        assert garbage.recv(100) == b""  # closed by the box
        options = ("OPTIONS sip:127.0.0.1:%d SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:9;branch="
                   "z9hG4bKopt1\r\nMax-Forwards: 70\r\nFrom: <sip:x@127.0.0.1>;tag=o1\r\n"
                   "To: <sip:127.0.0.1:%d>\r\nCall-ID: opt-1\r\nCSeq: 1 OPTIONS\r\n"
                   "Content-Length: 0\r\n\r\n" % (box.phone_port, box.phone_port)).encode()
        good.sendall(options)
        answer = good.recv(4096)
        assert answer.startswith(b"SIP/2.0 200 OK"), answer
        assert stall.recv(100) == b""  # closed when the message did not complete in time
        waited = time.monotonic() - t0
        assert 8 < waited < 14, waited
        good.sendall(options.replace(b"opt-1", b"opt-2").replace(b"kopt1", b"kopt2"))
        assert good.recv(4096).startswith(b"SIP/2.0 200 OK")  # still served
        calls = box.call_statuses()
        assert calls[-1]["state"] == "active" and calls[-1]["security"] == "secure", calls[-1]
        a.terminate_call()
        b.wait_ended()
        box.wait_status(lambda s: s["state"] == "ended", 10, "ended")
    finally:
        for c in conns:
            c.close()
        stop_all(a, b, box)
    assert st["sas"] == sas
    log = box.log()
    assert "closed: framing: not a SIP message" in log, log
    assert "closed: a message unfinished after 10 s" in log, log


def test_far_phone_over_tls_at_kamailio_and_box_over_tls(tmp_path):
    """The far phone is a ZRTP linphonec registered at Kamailio over TLS (verifying Kamailio's
    certificate with the test CA); the near phone is a plain linphonec behind the box, which
    reaches Kamailio over TLS. Calls both ways: SECURE, the box's SAS equals the far phone's."""
    ca, k = _provider(tmp_path)
    box = _tls_box(tmp_path, "A", k, ca)
    alice = Linphone(tmp_path / "alice", account=provider_account("alice", box.phone_uri),
                     auto_answer=True)
    far = "sip:127.0.0.1:%d;transport=tls" % k.tls
    bob = Linphone(tmp_path / "bob", encryption="zrtp", auto_answer=True, tls_port=tcp_port(),
                   root_ca=str(ca.pem), account=provider_account("bob", far))
    try:
        start_all(k, box, alice, bob)
        wait_registered(20, alice, bob)
        s_out, sas_out = call_secure(alice, "sip:bob@%s" % DOMAIN, [box], peer=bob)
        hang_up(alice, bob)
        [s_in] = call_secure(bob, "sip:alice@%s" % DOMAIN, [box], call=2)
        hang_up(bob, alice)
        log = k.log_text()
        blog = bob.log_text()
    finally:
        stop_all(alice, bob, box, k)
    assert s_out["sas"] == sas_out, (s_out, sas_out)
    assert s_in["sas"] and s_in["direction"] == "in"
    assert s_in["sas"] in blog
    assert re.search(r"REQ REGISTER sip:%s from tls:.* len" % DOMAIN, log)
    assert not re.search(r"REQ \S+ \S+ from (udp|tcp):", log), "not all over TLS"


def test_dns_failover_on_503(tmp_path):
    """Both SRV targets are up, the first answers 503 (overloaded): the phone gets that 503, and
    its retry goes to the second target, which registers it (RFC 3263 section 4.3)."""
    from dnsmasq import Dnsmasq
    dom = "voip.test"
    p1, p2 = tcp_port(), tcp_port()
    k1 = Provider(tmp_path / "kam1", "127.0.0.1", p1, p1, USERS, domain=dom, auth=False,
                  busy=True)
    k2 = Provider(tmp_path / "kam2", "127.0.0.1", p2, p2, USERS, domain=dom, auth=False)
    d = Dnsmasq(tmp_path / "dns", ports.udp_port(), [
        "srv-host=_sip._udp.%s,sip-a.%s,%d,10,0" % (dom, dom, p1),
        "srv-host=_sip._udp.%s,sip-b.%s,%d,20,0" % (dom, dom, p2),
        "host-record=sip-a.%s,127.0.0.1" % dom, "host-record=sip-b.%s,127.0.0.1" % dom])
    box = BoxProcess(tmp_path / "boxA", "A", proxy=dom)
    box.config["network"]["dns"] = ["127.0.0.1:%d" % d.port]
    box.config["network"]["transport"] = "udp"
    phone = RawUA()
    try:
        start_all(k1, k2, d, box)

        def register(cseq):
            phone.send(("REGISTER sip:127.0.0.1:%d SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;"
                        "branch=z9hG4bKreg%d;rport\r\nMax-Forwards: 70\r\n"
                        "From: <sip:alice@%s>;tag=r1\r\nTo: <sip:alice@%s>\r\nCall-ID: reg-503\r\n"
                        "CSeq: %d REGISTER\r\nContact: <sip:alice@127.0.0.1:%d>\r\nExpires: 300\r\n"
                        "Content-Length: 0\r\n\r\n" % (box.phone_port, phone.port, cseq, dom, dom,
                                                       cseq, phone.port)).encode(),
                       ("127.0.0.1", box.phone_port))
            return phone.wait(lambda m: m.startswith(b"SIP/2.0 ") and
                              b"CSeq: %d REGISTER" % cseq in m, 10)[0]
        first = register(1)
        second = register(2)
        log1, log2 = k1.log_text(), k2.log_text()
    finally:
        phone.close()
        stop_all(box, d, k2, k1)
    assert first.startswith(b"SIP/2.0 503"), first[:200]
    assert second.startswith(b"SIP/2.0 200"), second[:200]
    assert log1.count("REQ REGISTER") == 1 and log2.count("REQ REGISTER") == 1
    assert re.search(r"network: %s failed \(503 Service Unavailable\), next: <UDP 127\.0\.0\.1:%d"
                     % (dom, p2), box.log()), box.log()

"""Issue 14, forking: one media session per early dialog. Forks of one INVITE (RFC 3261 section
16.7) answer with different To tags; each that brings SDP gets a media session of its own (its own
secure leg, its own far address on the call's one network socket), the phone hears the latest
one, and when a fork's 2xx wins the other forks' sessions are closed and the winner stays. A fork
that answers late is rewritten for the phone (which ACKs and BYEs it) and touches nothing of the
winner's. Runtime on loopback sockets with fake secure legs; the engine's shared Hello with real
ZRTP engines."""
from support import scratch
from zerotap import status as st
from zerotap.runtime import box as runtime_box
from zerotap.sip import message, proxy
from zerotap import storage as _storage
from zerotap.zrtp import cache as _cache, engine as _engine

import test_appliance_box as rig
import test_proxy_core as core
import test_appliance_moves as moves


def _response(fwd, code, reason, tag, far, rtp=None, cseq="1 INVITE"):
    body = far.sdp(rtp).encode() if rtp is not None else b""
    lines = ["SIP/2.0 %d %s" % (code, reason)] + ["Via: " + v for v in fwd.get_all("Via")]
    lines += ["Record-Route: " + r for r in fwd.get_all("Record-Route")]
    lines += ["From: " + fwd.get("From"), "To: %s;tag=%s" % (fwd.get("To"), tag),
              "Call-ID: " + fwd.get("Call-ID"), "CSeq: " + cseq,
              "Contact: <sip:bob@127.0.0.1:%d>" % far.port]
    if body:
        lines.append("Content-Type: application/sdp")
    lines.append("Content-Length: %d" % len(body))
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def _to_phone(b, far, phone, data):
    far.send(data, b.cfg.network.port)
    rig._turn(b)
    phone.receive()
    return phone.got[-1]


class Forked:
    """The phone calls; two forks (To tags A and B) answer 183 with SDP of their own. Used as
    ``with Forked(name) as f:``, the box and both peers are closed when the block ends."""

    def __init__(self, tmp):
        self.b, self.logs = rig._box(scratch(tmp))
        self.factory = moves.FakeFactory()
        self.b.secure_factory = self.b.media_factory.secure_factory = self.factory
        self.phone, self.far = rig.Peer("alice"), rig.Peer("bob")
        try:
            self.prtp = self.phone.new_rtp()
            self.fa, self.fb = self.far.new_rtp(), self.far.new_rtp()
            self.before = rig._open_fds()
            self.fwd, self.box_net = rig._invite(self.b, self.phone, self.far, "fork1", self.prtp)
            self.ra = self.answer(183, "Session Progress", "A", self.fa)
            self.rb = self.answer(183, "Session Progress", "B", self.fb)
        except Exception:
            self.close()
            raise

    def answer(self, code, reason, tag, rtp=None):
        """The far peer answers CODE REASON as the fork with To tag TAG (with SDP for its socket
        RTP, when given); returns what the phone gets."""
        return _to_phone(self.b, self.far, self.phone,
                         _response(self.fwd, code, reason, tag, self.far, rtp))

    def close(self):
        self.b.shutdown()
        self.phone.close()
        self.far.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def test_each_fork_with_sdp_gets_a_session_the_phone_hears_the_latest():
    with Forked("fork-two") as f:
        b, factory, far, prtp, box_net = f.b, f.factory, f.far, f.prtp, f.box_net
        fa, fb = f.fa, f.fb
        assert f.ra.status == 183 and f.rb.status == 183
        m = b.media[0]
        assert len(b.media) == 1 and sorted(m.forks) == ["A", "B"]
        sa, sb = m.forks["A"], m.forks["B"]
        assert sa is not sb and m.session is sb and len(factory.legs) == 2
        assert sa.secure is factory.legs[0] and sb.secure is factory.legs[1]
        assert sa.paths[0].remote[0] == ("127.0.0.1", far.rtp_port[id(fa)])
        assert sb.paths[0].remote[0] == ("127.0.0.1", far.rtp_port[id(fb)])
        assert len(factory.legs[0].started) == 1 and len(factory.legs[1].started) == 1
        # one media port toward the phone for every fork: the same socket, no new one
        box_phone = rig._audio_port(f.ra)
        assert rig._audio_port(f.rb) == box_phone
        if f.before is not None:
            assert rig._open_fds() - f.before == 2  # forking takes no socket (boards/README.md)
        # each fork's media lands in its own session; the phone hears the active one (B)
        rig._drain(prtp)
        fa.sendto(rig._rtp(1), rig._addr(box_net))
        rig._turn(b)
        assert rig._drain(prtp) == 0 and sa.counters.no_route == 1 and sb.counters.relayed_in == 0
        fb.sendto(rig._rtp(2), rig._addr(box_net))
        rig._turn(b)
        assert rig._drain(prtp) == 1 and sb.counters.relayed_in == 1
        # the phone's media goes to B only
        rig._drain(fa)
        rig._drain(fb)
        prtp.sendto(rig._rtp(3), rig._addr(box_phone))
        rig._turn(b)
        assert rig._drain(fb) == 1 and rig._drain(fa) == 0
        assert "call 1: fork B brings its own media session (2 early dialogs)" in f.logs


def test_the_winning_fork_stays_and_the_others_media_is_closed():
    with Forked("fork-win") as f:
        b, factory, phone, far, prtp, fa, fb, box_net = (f.b, f.factory, f.phone, f.far, f.prtp,
                                                         f.fa, f.fb, f.box_net)
        m = b.media[0]
        sa, sb = m.forks["A"], m.forks["B"]
        # the phone heard A last: it is active until B's 2xx wins
        f.answer(183, "Session Progress", "A", fa)
        assert m.session is sa
        ok = f.answer(200, "OK", "B", fb)
        assert ok.status == 200 and ok.get("To").endswith("tag=B")
        assert m.session is sb and m.forks == {"B": sb} and m.forks_closed == 1
        assert sa.closed and factory.legs[0].closed and not sb.closed
        assert not factory.legs[1].closed
        assert "call 1: fork A lost, its media closed" in f.logs
        if f.before is not None:
            assert rig._open_fds() - f.before == 2  # the winner keeps the call's two sockets
        # the winner's media flows both ways
        got_far, got_phone = rig._relays(b, prtp, fb, rig._audio_port(ok), box_net, 5)
        assert (got_far, got_phone) == (1, 1)
        # the loser's late packets (it has not seen its CANCEL yet) reach nobody
        strangers = sb.counters.stranger
        fa.sendto(rig._rtp(7), rig._addr(box_net))
        rig._turn(b)
        assert rig._drain(prtp) == 0 and sb.counters.stranger == strangers + 1
        assert sb.counters.relayed_in == 1
        # A answers late: the phone gets it rewritten (no media around the box) and BYEs it;
        # B's media and dialog stay
        late = f.answer(200, "OK", "A", fa)
        assert late.status == 200 and late.get("To").endswith("tag=A")
        assert b"c=IN IP4 127.0.0.1" in late.body and rig._audio_port(late) == rig._audio_port(ok)
        assert sb.paths[0].remote[0] == ("127.0.0.1", far.rtp_port[id(fb)])
        call = b.proxy.calls["fork1"]
        assert call.tag == "B" and call.phase == "confirmed"
        bye = ("BYE sip:bob@127.0.0.1:%d SIP/2.0\r\n"
               "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bKbyeA;rport\r\n"
               "Route: <sip:127.0.0.1:%d;lr>\r\n"
               "From: <sip:alice@127.0.0.1>;tag=afork1\r\nTo: <sip:bob@127.0.0.1:%d>;tag=A\r\n"
               "Call-ID: fork1\r\nCSeq: 2 BYE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
               % (far.port, phone.port, b.cfg.phone.port, far.port)).encode()
        phone.send(bye, b.cfg.phone.port)
        rig._turn(b)
        assert call.phase == "confirmed" and b.media == [m] and not sb.closed
        assert rig._relays(b, prtp, fb, rig._audio_port(ok), box_net, 6) == (1, 1)
    assert sb.closed


def test_a_fork_status_is_kept_until_it_is_the_one_the_phone_hears():
    with Forked("fork-st") as f:
        m = f.b.media[0]
        sa, sb = m.forks["A"], m.forks["B"]
        # A (not heard by the phone) goes SECURE: the status does not show A's SAS
        sa.status.set_secure("aaaa", "B32", "S256", "AES1", "HS80", "X255", "00" * 12,
                             st.CACHE_NEW, False)
        assert m.call_status.sas is None
        sb.status.negotiating()
        assert m.call_status.security == st.NEGOTIATING
        # B wins before its exchange ends: still negotiating, A's SAS never shown
        f.answer(200, "OK", "B", f.fb)
        assert m.call_status.sas is None and m.call_status.security == st.NEGOTIATING
        sb.status.set_secure("bbbb", "B32", "S256", "AES1", "HS80", "X255", "11" * 12,
                             st.CACHE_NEW, False)
        assert m.call_status.sas == "bbbb" and m.call_status.security == st.SECURE
    # and a fork that finished while the phone heard another shows its SAS once it is active
    with Forked("fork-st2") as f:
        m = f.b.media[0]
        sa = m.forks["A"]
        sa.status.set_secure("aaaa", "B32", "S256", "AES1", "HS80", "X255", "00" * 12,
                             st.CACHE_NEW, False)
        assert m.call_status.sas is None
        f.answer(200, "OK", "A", f.fa)
        assert m.session is sa and m.call_status.sas == "aaaa"
        assert m.call_status.security == st.SECURE and m.forks_closed == 1


def test_a_fork_that_brought_no_sdp_before_its_2xx_gets_a_session_then():
    with Forked("fork-late") as f:
        b, factory, far, prtp, box_net = f.b, f.factory, f.far, f.prtp, f.box_net
        m = b.media[0]
        fc = far.new_rtp()
        f.answer(180, "Ringing", "C")
        assert sorted(m.forks) == ["A", "B"]  # a 180 without SDP opens nothing
        ok = f.answer(200, "OK", "C", fc)
        assert ok.status == 200 and list(m.forks) == ["C"] and m.forks_closed == 2
        assert m.session.paths[0].remote[0] == ("127.0.0.1", far.rtp_port[id(fc)])
        assert factory.legs[0].closed and factory.legs[1].closed and len(factory.legs) == 3
        assert rig._relays(b, prtp, fc, rig._audio_port(ok), box_net, 9) == (1, 1)


def test_forks_beyond_the_cap_share_the_last_session():
    with Forked("fork-cap") as f:
        b, factory, far, logs = f.b, f.factory, f.far, f.logs
        m = b.media[0]
        for tag in ("C", "D", "E"):
            f.answer(183, "Session Progress", tag, far.new_rtp())
        assert len(m.forks) == runtime_box.MAX_FORKS == 4 and "E" not in m.forks
        assert "call 1: more than 4 forks with SDP; dialog E shares a session" in logs
        # E answers: it gets its own session all the same, and the four others close
        fe = far.new_rtp()
        ok = f.answer(200, "OK", "E", fe)
        assert ok.status == 200 and list(m.forks) == ["E"] and m.forks_closed == 4
        assert len(factory.legs) == 5 and [leg.closed for leg in factory.legs] == [True] * 4 + [False]
        assert rig._relays(b, f.prtp, fe, rig._audio_port(ok), f.box_net, 11) == (1, 1)


def test_a_fork_engine_shares_the_hello_the_offer_announced():
    cache = _cache.Cache(_storage.Storage(scratch("fork-engine")))  # the box's one ZID
    first = _engine.Engine(1, cache=cache)
    fork = _engine.Engine(2, cache=cache)
    assert fork.hello_hash() != first.hello_hash()
    fork.share_hello(first)
    assert fork.hello_hash() == first.hello_hash()
    assert fork.ssrc != first.ssrc
    fork.start(0)
    try:
        fork.share_hello(first)
        assert False, "share_hello after start"
    except ValueError as e:
        assert str(e) == "share_hello: the engine has started already"


def test_a_fork_media_goes_to_the_session_whose_sdp_named_it_before_any_latch():
    with Forked("fork-sdp") as f:
        b, fb = f.b, f.fb
        m = b.media[0]
        sa, sb = m.forks["A"], m.forks["B"]
        fb_addr = ("127.0.0.1", f.far.rtp_port[id(fb)])
        # A's path latched to B's address (B's packets came before B's 183, from A's host)
        sa.paths[0].remote[0] = fb_addr
        fb.sendto(rig._rtp(4), rig._addr(f.box_net))
        rig._turn(b)
        assert sb.counters.relayed_in == 1 and sa.counters.relayed_in == 0
        assert sa.counters.no_route == 0 and sb.sdp_remote[0] == fb_addr


class DialogMedia(core.FakeMedia):
    """The proxy's fake media, recording which dialog each SDP was for."""

    def __init__(self, number):
        core.FakeMedia.__init__(self, number)
        self.said = []

    def dialog(self, tag, now_ms=None):
        self.said.append(("dialog", tag))

    def confirmed(self, tag, now_ms=None):
        self.said.append(("confirmed", tag))

    def set_remote(self, side, host, port, rtcp_port=None, event_types=None):
        core.FakeMedia.set_remote(self, side, host, port, rtcp_port, event_types)
        self.said.append(("remote", side, host, port))

    def answered(self, now_ms):
        self.said.append(("answered",))


class DialogFactory(core.FakeFactory):
    def open(self, call_status):
        m = DialogMedia(len(self.opened))
        self.opened.append(m)
        return m


SDP_FORK2 = core.SDP_FAR.replace("192.0.2.50", "192.0.2.51").replace("30000", "31000")


def test_the_proxy_names_each_sdp_dialog_and_the_winner():
    p = proxy.Proxy(core._cfg(), DialogFactory(), st.BoxStatus(), [].append)
    _, fwd, _ = core._forward_invite(p)
    m = p.media.opened[0]
    assert m.said == [("dialog", None), ("remote", 0, "127.0.0.1", 23216)]
    del m.said[:]
    p.receive(proxy.NETWORK, core._response(fwd, 183, "Session Progress", core.SDP_FAR,
                                            to_tag="f1"), core.FAR, 1100)
    p.receive(proxy.NETWORK, core._response(fwd, 183, "Session Progress", SDP_FORK2,
                                            to_tag="f2"), core.FAR, 1150)
    assert m.said == [("dialog", "f1"), ("remote", 1, "192.0.2.50", 30000), ("answered",),
                      ("dialog", "f2"), ("remote", 1, "192.0.2.51", 31000), ("answered",)]
    del m.said[:]
    side, ok, _ = core._one(p.receive(proxy.NETWORK, core._response(fwd, 200, "OK", SDP_FORK2,
                                                                    to_tag="f2"), core.FAR, 1200))
    assert ok.status == 200 and side == proxy.PHONE
    assert m.said == [("confirmed", "f2"), ("dialog", "f2"), ("remote", 1, "192.0.2.51", 31000),
                      ("answered",)]
    call = p.calls["c140wxXF0q"]
    assert call.tag == "f2" and call.phase == proxy.CONFIRMED
    # the callee's in-dialog UPDATE names its dialog by its From tag
    del m.said[:]
    body = core.SDP_FAR.replace("30000", "30010").encode()
    upd = ("UPDATE sip:alice@127.0.0.1:5062 SIP/2.0\r\n"
           "Via: SIP/2.0/UDP 192.0.2.50:5060;branch=z9hG4bKupd1\r\n"
           "Route: <sip:198.51.100.7:%d;lr>\r\n"
           "From: <sip:bob@192.0.2.50>;tag=f2\r\nTo: <sip:alice@127.0.0.1>;tag=mWSSwrRMI\r\n"
           "Call-ID: c140wxXF0q\r\nCSeq: 5 UPDATE\r\nMax-Forwards: 70\r\n"
           "Contact: <sip:bob@192.0.2.50:5060>\r\nContent-Type: application/sdp\r\n"
           "Content-Length: %d\r\n\r\n" % (core.NET_SIP, len(body))).encode() + body
    side, fwd_upd, _ = core._one(p.receive(proxy.NETWORK, upd, core.FAR, 1300))
    assert side == proxy.PHONE and fwd_upd.method == "UPDATE"
    assert m.said == [("dialog", "f2"), ("remote", 1, "192.0.2.50", 30010)]
    # fork f1 answers late: rewritten for the phone, nothing told to the media
    del m.said[:]
    side, late, _ = core._one(p.receive(proxy.NETWORK, core._response(fwd, 200, "OK",
                                                                      core.SDP_FAR, to_tag="f1"),
                                        core.FAR, 1400))
    assert side == proxy.PHONE and late.status == 200 and m.said == []
    assert b"192.0.2.50" not in late.body and b"m=audio 40000 " in late.body
    assert call.tag == "f2" and call.uri[proxy.NETWORK].endswith("tag=f2")

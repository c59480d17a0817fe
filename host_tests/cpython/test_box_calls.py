"""The box end to end, with real peers only (issue "The box", tests 1 to 6).

- linphonec (Debian linphone-cli, ZRTP by bzrtp) as the plain desk phone and as the ZRTP peer;
- baresip (Debian baresip-core, no ZRTP module) as the peer without ZRTP: linphonec cannot be one,
  it runs ZRTP even with media_encryption=none once the other side offers it;
- Kamailio as registrar and proxy with digest authentication;
- the box itself under CPython and under the MicroPython unix port;
- dumpcap/tshark for proof from the wire.

Audio is checked by correlation: each talker plays its own band-limited noise, and the recording
at the other end must contain it (median window correlation above 0.9; another talker's signal
scores below 0.2).
"""
import socket
import threading
import time

import audio
import ports
from baresip import Baresip
from boxpeers import call_secure, hang_up, start_all, stop_all, wait_registered
from boxproc import BoxProcess
from capture import Capture, LegReport
from kamailio import Kamailio
from linphone import Linphone

AUDIO_MIN = 0.9  # a relayed signal scores ~0.999, a foreign one ~0.08


def talk(tmp_path, a, b, seed_a=1, seed_b=2, seconds=6):
    """Both phones play their own signal and record what they hear."""
    wa = audio.write_signal(tmp_path / ("%s.wav" % a.name), seed_a, seconds=seconds)
    wb = audio.write_signal(tmp_path / ("%s.wav" % b.name), seed_b, seconds=seconds)
    a.play(wa)
    b.play(wb)
    a.record(tmp_path / ("%s_heard.wav" % a.name))
    b.record(tmp_path / ("%s_heard.wav" % b.name))
    return wa, wb


def heard(tmp_path, listener, talker_wav, other_wav):
    rec = tmp_path / ("%s_heard.wav" % listener.name)
    return audio.correlation(rec, talker_wav), audio.correlation(rec, other_wav)


def assert_audio_both_ways(tmp_path, a, b, wa, wb):
    got, foreign = heard(tmp_path, b, wa, wb)
    assert got > AUDIO_MIN and foreign < 0.3, ("a -> b", got, foreign)
    got, foreign = heard(tmp_path, a, wb, wa)
    assert got > AUDIO_MIN and foreign < 0.3, ("b -> a", got, foreign)


def same_algorithms(box_status, peer_algorithms):
    mine = {k: box_status[k] for k in ("cipher", "ka", "hash", "auth", "sas_type")}
    return mine == peer_algorithms, (mine, peer_algorithms)


def in_range(port, rng):
    return port is not None and rng[0] <= port <= rng[1]


# --- 1 ----------------------------------------------------------------------------------------

def test_plain_phone_through_box_to_zrtp_linphonec(tmp_path):
    """linphonec (plain) -> box -> linphonec (ZRTP mandatory): SAS and algorithms equal, audio
    both ways, and the wire shows ZRTP then only SRTP on the network leg, no ZRTP on the phone leg."""
    box = BoxProcess(tmp_path / "box", "A")
    a = Linphone(tmp_path / "alice", account=box.phone_account("alice"))
    b = Linphone(tmp_path / "bob", encryption="zrtp", auto_answer=True)
    cap = Capture(tmp_path / "call.pcapng", [a.rtp_port, a.rtp_port + 1, b.rtp_port,
                                             b.rtp_port + 1],
                  ranges=[box.phone_rtp, box.network_rtp])
    try:
        start_all(cap, box, a, b)
        wa, wb = talk(tmp_path, a, b)
        a.call("sip:bob@127.0.0.1:%d" % b.sip_port)
        sas = b.wait_encrypted(20)
        st = box.wait_secure(10)
        # the local control marks the SAS verified (as `python -m zerotap control verify N`)
        r = box.control("verify %d" % st["call"])
        assert r["ok"] and r["call"]["verified"] is True, r
        box.wait_status(lambda s: s["verified"] is True, 5, "verified")
        assert box.control("unverify %d" % st["call"])["call"]["verified"] is False
        time.sleep(4)
        a.terminate_call()
        a.wait_ended()
        box.wait_status(lambda s: s["state"] == "ended", 10, "ended")
    finally:
        stop_all(a, b, box, cap)
    assert st["sas"] == sas, (st, sas)
    ok, detail = same_algorithms(st, b.algorithms())
    assert ok, detail
    assert st["peer_zid"] and st["cache"] == "new" and not st["mitm"]
    assert_audio_both_ways(tmp_path, a, b, wa, wb)

    pkts = cap.packets(media_ports=[box.phone_rtp, box.network_rtp, a.rtp_port, a.rtp_port + 1,
                                    b.rtp_port, b.rtp_port + 1])
    report = LegReport(pkts, (a.rtp_port, a.rtp_port + 1),
                       lambda p: b.rtp_port in p.ports() or b.rtp_port + 1 in p.ports())
    assert report.zrtp_phone == 0, report
    assert report.complete_exchange(), report
    assert report.srtp_before == 0, report
    assert report.plain_after == 0, report
    assert report.matched > 100 and report.srtp > 100, report
    assert report.proves_secure(), report


# --- 2 ----------------------------------------------------------------------------------------

def test_box_on_cpython_to_box_on_micropython(tmp_path):
    """phone -> box (CPython) -> box (MicroPython unix port) -> phone: both boxes SECURE with the
    same SAS, audio both ways; SIGINT ends the MicroPython box cleanly."""
    pb_port = ports.udp_port()
    box_b = BoxProcess(tmp_path / "boxB", "B", interpreter="micropython",
                       phone_contact="sip:bob@127.0.0.1:%d" % pb_port)
    box_a = BoxProcess(tmp_path / "boxA", "A")
    a = Linphone(tmp_path / "alice", account=box_a.phone_account("alice"))
    b = Linphone(tmp_path / "bob", auto_answer=True, sip_port=pb_port)
    try:
        start_all(box_b, box_a, a, b)
        wa, wb = talk(tmp_path, a, b)
        sa, sb = call_secure(a, "sip:bob@%s" % box_b.network_hostport, [box_a, box_b], 30)
        time.sleep(4)
        a.terminate_call()
        a.wait_ended()
        box_b.wait_status(lambda s: s["state"] == "ended", 10, "ended")
        assert box_b.stop() == 0
    finally:
        stop_all(a, b, box_a, box_b)
    assert sa["sas"] == sb["sas"] and sa["sas"], (sa, sb)
    for k in ("cipher", "ka", "hash", "auth", "sas_type"):
        assert sa[k] == sb[k], (k, sa, sb)
    assert not a.seen("encrypted") and not b.seen("encrypted"), "a phone ran ZRTP itself"
    assert_audio_both_ways(tmp_path, a, b, wa, wb)
    assert "stopped" in box_b.log()


# --- 3 ----------------------------------------------------------------------------------------

def test_through_kamailio_with_digest_auth(tmp_path):
    """Both phones register through their boxes at Kamailio (digest auth) and call each other by
    address-of-record; both boxes SECURE with the same SAS."""
    kam = Kamailio(tmp_path / "kam", ports.udp_port(), {"alice": "alice-pw", "bob": "bob-pw"})
    dom = kam.domain
    box_a = BoxProcess(tmp_path / "boxA", "A", proxy=dom)
    box_b = BoxProcess(tmp_path / "boxB", "B", proxy=dom)

    def account(box, user):
        # the phone's server is its box (linphonec sends REGISTER straight to its server and
        # ignores an outbound route for it, like many desk phones)
        return {"identity": "sip:%s@%s" % (user, dom), "proxy": box.phone_uri,
                "register": True, "username": user,
                "password": "%s-pw" % user, "realm": "127.0.0.1", "expires": 300}

    a = Linphone(tmp_path / "alice", account=account(box_a, "alice"))
    b = Linphone(tmp_path / "bob", auto_answer=True, account=account(box_b, "bob"))
    try:
        start_all(kam, box_a, box_b, a, b)
        wait_registered(15, a, b)
        wa, wb = talk(tmp_path, a, b)
        sa, sb = call_secure(a, "sip:bob@%s" % dom, [box_a, box_b], 30)
        hang_up(a, b, media_s=4)
    finally:
        stop_all(a, b, box_a, box_b, kam)
    assert sa["sas"] == sb["sas"] and sa["sas"], (sa, sb)
    assert sa["direction"] == "out" and sb["direction"] == "in"
    log = kam.log_text()
    assert "REQ REGISTER" in log and "REQ INVITE sip:bob@" in log
    assert "REPLY 200" in log
    assert_audio_both_ways(tmp_path, a, b, wa, wb)


# --- 4 ----------------------------------------------------------------------------------------

def test_peer_without_zrtp_stays_clear(tmp_path):
    """A peer with no ZRTP (baresip): the call works both ways, the status says CLEAR and never
    SECURE."""
    box = BoxProcess(tmp_path / "box", "A")
    a = Linphone(tmp_path / "alice", account=box.phone_account("alice"))
    carol_wav = audio.write_signal(tmp_path / "carol.wav", 3, seconds=20)
    c = Baresip(tmp_path / "carol", "carol", ports.udp_port(), ports.udp_range(10), carol_wav,
                ports.udp_port())
    alice_wav = audio.write_signal(tmp_path / "alice.wav", 1, seconds=8)
    try:
        start_all(box, c, a)
        a.play(alice_wav)
        a.record(tmp_path / "alice_heard.wav")
        a.call(c.uri)
        a.wait_connected(15)
        box.wait_status(lambda s: s["state"] == "active", 10, "active")
        # NoPeer comes after about 4 s of unanswered Hellos
        st = box.wait_status(lambda s: s["security"] == "clear" and s["state"] == "active"
                             and s["error"], 15, "CLEAR after the Hellos went unanswered")
        time.sleep(1)
        a.terminate_call()
        a.wait_ended()
    finally:
        stop_all(a, c, box)
    lines = box.call_statuses()
    assert lines and all(s["security"] != "secure" for s in lines), lines
    assert all(s["sas"] is None for s in lines)
    assert "ZRTP" in st["error"]
    got = audio.correlation(tmp_path / "alice_heard.wav", carol_wav)
    assert got > AUDIO_MIN, ("carol -> alice", got)
    dumps = c.received()
    assert dumps, "baresip recorded nothing"
    got = max(audio.correlation(d, alice_wav) for d in dumps)
    assert got > AUDIO_MIN, ("alice -> carol", got)


# --- 5 ----------------------------------------------------------------------------------------

def _secure_call(tmp_path, n, box_a, box_b, pb_port, nb=None):
    """Call N on box A (NB on box B, default N) between two plain phones."""
    nb = n if nb is None else nb
    a = Linphone(tmp_path / ("alice%d" % n), account=box_a.phone_account("alice"))
    b = Linphone(tmp_path / ("bob%d" % n), auto_answer=True, sip_port=pb_port)
    try:
        start_all(a, b)
        a.call("sip:bob@%s" % box_b.network_hostport)
        sa = box_a.wait_secure(20, call=n)
        sb = box_b.wait_secure(20, call=nb)
        a.terminate_call()
        a.wait_ended()
        box_a.wait_status(lambda s: s["call"] == n and s["state"] == "ended", 10, "ended")
        box_b.wait_status(lambda s: s["call"] == nb and s["state"] == "ended", 10, "ended")
    finally:
        stop_all(a, b)
    return sa, sb


def test_cache_match_then_mismatch(tmp_path):
    """Second call between the same boxes: cache match on both. Box B's retained secrets wiped
    (its ZID kept): box A shows a cache mismatch (a possible MitM), never verified."""
    pb_port = ports.udp_port()
    box_b = BoxProcess(tmp_path / "boxB", "B", phone_contact="sip:bob@127.0.0.1:%d" % pb_port)
    box_a = BoxProcess(tmp_path / "boxA", "A")
    try:
        box_b.start()
        box_a.start()
        sa, sb = _secure_call(tmp_path, 1, box_a, box_b, pb_port)
        assert sa["cache"] == "new" and sb["cache"] == "new", (sa, sb)
        assert sa["peer_zid"] and sb["peer_zid"]
        sa2, sb2 = _secure_call(tmp_path, 2, box_a, box_b, pb_port)
        assert sa2["cache"] == "match" and sb2["cache"] == "match", (sa2, sb2)
        assert sa2["sas"] == sb2["sas"] and not sa2["mitm"]
        # mark call 2 verified on box A through the local control: the cache keeps it
        # (the call is over, so the control refuses it: check the refusal text)
        r = box_a.control("verify 2")
        assert r == {"ok": False, "error": "no call 2"}, r
        box_b.stop()
        _wipe_secrets(box_b.dir / "cache")
        box_b.start()
        sa3, sb3 = _secure_call(tmp_path, 3, box_a, box_b, pb_port, nb=1)
    finally:
        stop_all(box_a, box_b)
    assert sa3["peer_zid"] == sa["peer_zid"], "box B kept its ZID"
    assert sa3["cache"] == "mismatch" and sa3["mitm"] is True and sa3["verified"] is False, sa3
    assert sb3["cache"] == "new", sb3
    assert sa3["sas"] == sb3["sas"]


def _wipe_secrets(cache_dir):
    """Forget every peer in a box's cache file, keeping its own ZID (as after a flash reset of
    the secrets only)."""
    from zerotap import storage
    from zerotap.zrtp import cache
    c = cache.Cache(storage.Storage(str(cache_dir)))
    zid = c.zid
    peers = list(c.peers())
    assert peers, "nothing cached to wipe"
    for p in peers:
        c.forget(p)
    c.save()
    assert cache.Cache(storage.Storage(str(cache_dir))).zid == zid


# --- 6 ----------------------------------------------------------------------------------------

MALFORMED = [
    # (what, datagram, answer expected)
    ("CSeq method mismatch",
     b"INVITE sip:x@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%(port)d;branch=z9hG4bKm1\r\n"
     b"From: <sip:m@127.0.0.1>;tag=1\r\nTo: <sip:x@127.0.0.1>\r\nCall-ID: bad1\r\n"
     b"CSeq: 1 BYE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n", b"SIP/2.0 400"),
    ("bad SDP m= line",
     b"INVITE sip:x@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%(port)d;branch=z9hG4bKm2\r\n"
     b"From: <sip:m@127.0.0.1>;tag=1\r\nTo: <sip:x@127.0.0.1:9>\r\nCall-ID: bad2\r\n"
     b"CSeq: 1 INVITE\r\nMax-Forwards: 70\r\nContent-Type: application/sdp\r\n"
     b"Content-Length: 52\r\n\r\nv=0\r\nc=IN IP4 127.0.0.1\r\nm=audio notaport RTP/AVP 0\r\n",
     b"SIP/2.0 400"),
    ("missing Call-ID",
     b"OPTIONS sip:x@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%(port)d;branch=z9hG4bKm3\r\n"
     b"From: <sip:m@127.0.0.1>;tag=1\r\nTo: <sip:x@127.0.0.1>\r\nCSeq: 1 OPTIONS\r\n\r\n",
     b"SIP/2.0 400"),
    ("binary garbage", bytes(range(256)) * 3, None),
    ("truncated start line", b"INVITE sip:", None),
    ("response with a foreign Via",
     b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 10.9.9.9:5060;branch=z9hG4bKzz\r\n"
     b"From: <sip:m@127.0.0.1>;tag=1\r\nTo: <sip:x@127.0.0.1>;tag=2\r\nCall-ID: bad4\r\n"
     b"CSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n", None),
]


def _hammer(box, results):
    """Send every malformed datagram to both SIP ports; collect what came back."""
    for side_port in (box.phone_port, box.network_port):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 0))
        s.settimeout(1.0)
        port = s.getsockname()[1]
        try:
            for what, data, want in MALFORMED:
                if b"%(port)d" in data:
                    data = data % {b"port": port}
                s.sendto(data, ("127.0.0.1", side_port))
                try:
                    answer = s.recvfrom(65536)[0]
                except socket.timeout:
                    answer = None
                results.append((side_port, what, want, answer))
        finally:
            s.close()


def test_malformed_sip_and_sdp_while_a_call_goes_on(tmp_path):
    """Malformed SIP and SDP on both ports are rejected (400 where a request can be answered) and
    logged, while a secure call through the same box keeps its audio."""
    box = BoxProcess(tmp_path / "box", "A")
    a = Linphone(tmp_path / "alice", account=box.phone_account("alice"))
    b = Linphone(tmp_path / "bob", encryption="zrtp", auto_answer=True)
    results = []
    try:
        start_all(box, a, b)
        wa, wb = talk(tmp_path, a, b)
        a.call("sip:bob@127.0.0.1:%d" % b.sip_port)
        box.wait_secure(20)
        t = threading.Thread(target=_hammer, args=(box, results))
        t.start()
        t.join(30)
        time.sleep(3)
        st = box.control("status")
        a.terminate_call()
        a.wait_ended()
    finally:
        stop_all(a, b, box)
    assert len(results) == 2 * len(MALFORMED), results
    for port, what, want, answer in results:
        if want is None:
            assert answer is None, (what, answer)
        elif port == box.network_port and answer is not None and answer.startswith(b"SIP/2.0 403"):
            # from the network, a well-formed request toward a host that is not a phone of the box
            # is refused (403) before its body is read (the box is no open relay: test_trust_relay)
            assert want == b"SIP/2.0 400" and b"INVITE" in [d for w, d, _ in MALFORMED if w == what][0], what
        else:
            assert answer is not None and answer.startswith(want), (what, port, answer)
    assert st["ok"] and len(st["calls"]) == 1 and st["calls"][0]["security"] == "secure", st
    log = box.log()
    assert log.count("malformed") + log.count("refused") >= 2 * 4, log
    assert "internal error" not in log
    assert_audio_both_ways(tmp_path, a, b, wa, wb)


# --- two calls at once --------------------------------------------------------------------------

def test_two_simultaneous_secure_calls_through_one_box(tmp_path):
    """Two phones behind one box call two ZRTP linphonecs at the same time: two SECURE calls, each
    with its peer's SAS, audio on both."""
    box = BoxProcess(tmp_path / "box", "A")
    callers = [Linphone(tmp_path / ("alice%d" % i), account=box.phone_account("alice%d" % i))
               for i in (1, 2)]
    callees = [Linphone(tmp_path / ("bob%d" % i), encryption="zrtp", auto_answer=True) for i in (1, 2)]
    try:
        start_all(box, *(callers + callees))
        # four linphonecs and the box share the CI's two cores: the first and last half-second
        # windows of a call often come out glitched (jitter buffers adapting, the hang-up), so the
        # calls last long enough (about ten windows) that the median speaks for the call
        wavs = [talk(tmp_path, a, b, seed_a=10 + i, seed_b=20 + i, seconds=9)
                for i, (a, b) in enumerate(zip(callers, callees))]
        for a, b in zip(callers, callees):
            a.call("sip:%s@127.0.0.1:%d" % (b.name, b.sip_port))
        sas = [b.wait_encrypted(30) for b in callees]
        secure = [box.wait_status(lambda s, n=b.name: s["security"] == "secure" and
                                  s["peer"].startswith("sip:%s@" % n), 10, "SECURE")
                  for b in callees]
        st = box.control("status")
        time.sleep(6)
        for a in callers:
            a.terminate_call()
        for a in callers:
            a.wait_ended()
    finally:
        stop_all(*(callers + callees + [box]))
    assert len(st["calls"]) == 2 and all(c["security"] == "secure" for c in st["calls"]), st
    assert [s["sas"] for s in secure] == sas and sas[0] != sas[1], (secure, sas)
    assert secure[0]["call"] != secure[1]["call"]
    for (a, b), (wa, wb) in zip(zip(callers, callees), wavs):
        assert_audio_both_ways(tmp_path, a, b, wa, wb)

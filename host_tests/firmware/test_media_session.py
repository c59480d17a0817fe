"""The media session, sans-IO: two boxes' network legs wired back to back in memory, each with its
real ZRTP engine (X25519, so that the MicroPython runner stays quick) and SRTP."""
from support import raises
from backtoback import NET_A, NET_B, PHONE_A, PHONE_B, MediaBox, media_pair, rtp, run_to_secure
from zerotap import media, status


def _rtcp_rr(ssrc=0x01020304):
    # RFC 3550 section 6.4.2: an empty receiver report
    return bytearray(bytes((0x80, 201, 0, 1, ssrc >> 24, (ssrc >> 16) & 0xFF, (ssrc >> 8) & 0xFF,
                            ssrc & 0xFF)))


def _run(a, b, now, until_ms):
    """Deliver network-leg packets both ways and fire timers, until both are secure."""
    t = run_to_secure(a, b, now, until_ms)
    if t is None:
        raise AssertionError("not secure by %d ms" % until_ms)
    return t


def test_zrtp_and_stun_from_the_phone_are_dropped():
    a = MediaBox("a")
    a.session.set_remote(1, NET_B[0], NET_B[1])
    zrtp = bytearray(b"\x10\x00\x00\x01ZRTP" + b"\x00" * 20)
    stun = bytearray(b"\x00\x01\x00\x00\x21\x12\xa4\x42" + b"\x00" * 12)
    for pkt in (zrtp, stun):
        a.session.receive(media.PHONE_RTP, pkt, len(pkt), PHONE_A, 0)
    assert a.take() == []
    c = a.session.counters
    assert c.zrtp_from_phone == 1 and c.stun == 1


def test_clear_policy_before_secure():
    for policy, want in (("pass", b"\x11" * 160), ("mute", b"\xff" * 160), ("block", None)):
        a = MediaBox("a", policy)
        a.session.set_remote(1, NET_B[0], NET_B[1])
        pkt = rtp(1)
        a.session.receive(media.PHONE_RTP, pkt, len(pkt), PHONE_A, 0)
        out = a.take(media.NET_RTP)
        if want is None:
            assert out == [] and a.session.counters.clear_held == 1, policy
        else:
            assert len(out) == 1 and out[0][1][12:] == want and out[0][2] == NET_B, policy
    # mute: a codec the box cannot silence is dropped, never relayed
    a = MediaBox("a", "mute")
    a.session.set_remote(1, NET_B[0], NET_B[1])
    pkt = rtp(2, pt=96)
    a.session.receive(media.PHONE_RTP, pkt, len(pkt), PHONE_A, 0)
    assert a.take() == []


def test_secure_relay_both_ways_with_equal_sas():
    a, b = media_pair()
    now = _run(a, b, 0, 20000)
    sa, sb = a.call, b.call
    assert sa.security == status.SECURE and sb.security == status.SECURE
    assert sa.sas == sb.sas and sa.sas_type == sb.sas_type and sa.ka == "X255"
    assert sa.peer_zid and sb.peer_zid and sa.peer_zid != sb.peer_zid
    for seq in range(10, 20):
        plain = rtp(seq, bytes(range(160)))
        a.session.receive(media.PHONE_RTP, bytearray(plain), len(plain), PHONE_A, now)
        (leg, wire, dest), = a.take(media.NET_RTP)
        assert dest == NET_B and len(wire) == len(plain) + 10  # HS80 tag
        assert wire[:12] == plain[:12] and wire[12:172] != plain[12:]
        b.session.receive(media.NET_RTP, bytearray(wire), len(wire), NET_A, now)
        (leg, out, dest), = b.take(media.PHONE_RTP)
        assert out == plain and dest == PHONE_B
    rr = _rtcp_rr()
    b.session.receive(media.PHONE_RTCP, bytearray(rr), len(rr), (PHONE_B[0], PHONE_B[1] + 1), now)
    (leg, wire, dest), = b.take(media.NET_RTCP)
    assert leg == media.NET_RTCP and len(wire) == len(rr) + 4 + 10  # E||index, tag
    a.session.receive(media.NET_RTCP, bytearray(wire), len(wire), (NET_B[0], NET_B[1] + 1), now)
    (leg, out, dest), = a.take(media.PHONE_RTCP)
    assert out == rr and dest == (PHONE_A[0], PHONE_A[1] + 1)
    # a replayed SRTP packet is dropped and counted, not relayed twice
    a.session.receive(media.PHONE_RTP, rtp(30), 172, PHONE_A, now)
    (leg, wire, dest), = a.take(media.NET_RTP)
    for _ in range(2):
        b.session.receive(media.NET_RTP, bytearray(wire), len(wire), NET_A, now)
    assert len(b.take(media.PHONE_RTP)) == 1 and b.session.counters.replayed == 1


def test_plain_rtp_after_secure_is_dropped_counted_and_alarmed():
    a, b = media_pair()
    now = _run(a, b, 0, 20000)
    assert not b.call.mitm
    # just after SECURE the peer may still send a few plain packets (RFC 6189 section 4.6)
    early = rtp(40)
    b.session.receive(media.NET_RTP, early, len(early), NET_A, now + 10)
    assert b.take() == [] and b.session.counters.unauthenticated == 1 and not b.call.mitm
    later = now + media.SWITCH_GRACE_MS + 1
    for seq in range(41, 44):
        pkt = rtp(seq)
        b.session.receive(media.NET_RTP, pkt, len(pkt), NET_A, later)
    assert b.take() == [], "plain RTP reached the phone after SECURE"
    assert b.session.counters.unauthenticated == 4
    assert b.call.mitm and "4 unauthenticated" in b.call.error
    assert b.call.security == status.SECURE  # the alarm does not pretend the keys changed
    rr = _rtcp_rr()
    b.session.receive(media.NET_RTCP, rr, len(rr), NET_A, later)
    assert b.take() == [] and b.session.counters.unauthenticated == 5


def test_peer_without_zrtp_leaves_the_call_clear():
    a = MediaBox("a")
    a.session.set_remote(0, PHONE_A[0], PHONE_A[1])
    a.session.set_remote(1, NET_B[0], NET_B[1])
    a.session.secure.start(0)
    seen = []
    a.status.listen(lambda box, call: seen.append(call.security if call else None))
    now = 0
    while now < 15000:
        t = a.session.timer()
        if t is not None and t <= now:
            a.session.handle_timer(now)
        now += 50
        # the peer's plain audio keeps flowing to the phone meanwhile
        if now % 1000 == 0:
            pkt = rtp(now // 1000)
            a.session.receive(media.NET_RTP, pkt, len(pkt), NET_B, now)
    hellos = [s for s in a.take(media.NET_RTP) if s[1][4:8] == b"ZRTP"]
    assert len(hellos) >= 10
    assert len(a.take(media.PHONE_RTP)) == 15 and a.session.counters.relayed_in == 15
    assert a.call.security == status.CLEAR and "ZRTP" in a.call.error
    assert status.SECURE not in seen


ICE_B = ("203.0.113.9", 50000)  # box B's address on a second network path


def test_a_second_network_path_carries_media_and_zrtp_rtcp_stays_on_the_provider_path():
    a, b = media_pair()
    now = _run(a, b, 0, 20000)
    s = a.session
    assert [p.name for p in s.paths] == [media.PROVIDER] and s.path is s.paths[0]
    ice = s.add_path(media.Path("ice", 4, None))  # legs after the provider path's; no RTCP
    ice.set_remote(ICE_B[0], ICE_B[1])
    s.use(ice)
    assert s.rtp_remote() == ICE_B
    plain = rtp(50, bytes(range(160)))
    s.receive(media.PHONE_RTP, bytearray(plain), len(plain), PHONE_A, now)
    (leg, wire, dest), = a.take()
    assert leg == 4 and dest == ICE_B and len(wire) == len(plain) + 10  # SRTP, on the new path
    rr = _rtcp_rr()
    s.receive(media.PHONE_RTCP, bytearray(rr), len(rr), (PHONE_A[0], PHONE_A[1] + 1), now)
    (leg, wire, dest), = a.take()
    assert leg == media.NET_RTCP and dest == (NET_B[0], NET_B[1] + 1)  # the provider path's RTCP
    # what comes in on the new path reaches the phone, and the new path latches its sender
    b.session.receive(media.PHONE_RTP, rtp(51), 172, PHONE_B, now)
    (leg, wire, dest), = b.take(media.NET_RTP)
    s.receive(4, bytearray(wire), len(wire), (ICE_B[0], ICE_B[1] + 2), now)
    (leg, out, dest), = a.take()
    assert leg == media.PHONE_RTP and out == rtp(51) and ice.remote[0] == (ICE_B[0], ICE_B[1] + 2)
    # ZRTP goes out on the active path
    assert s.send_zrtp(b"\x10\x00\x00\x01ZRTP")
    assert [(leg, dest) for leg, _, dest in a.take()] == [(4, (ICE_B[0], ICE_B[1] + 2))]
    s.use(s.paths[0])
    assert s.rtp_remote() == NET_B


def test_paths_refuse_legs_out_of_order_and_strangers():
    s = MediaBox("a").session
    raises(lambda: s.add_path(media.Path("ice", 5, None)), "path ice: leg 5, the next free leg is 4")
    raises(lambda: s.add_path(media.Path("ice", 4, 6)), "path ice: leg 6, the next free leg is 5")
    assert len(s.paths) == 1 and len(s._leg_path) == 4  # nothing half added
    raises(lambda: s.use(media.Path("other", 4, 5)), "path other is not one of this call's")
    s.add_path(media.Path("ice", 4, 5))
    assert len(s.paths) == 2 and s.path is s.paths[0]  # added, not used yet


def test_media_from_a_stranger_on_the_phone_leg_is_dropped():
    # Only the phone (the host its SDP named) speaks into the call: RTP or RTCP sent to the box's
    # phone-side port from any other host is dropped and counted, in clear and after SECURE, so
    # that no one on the phone's LAN can put audio into the protected stream toward the peer.
    stranger = ("10.0.0.66", PHONE_A[1])
    a = MediaBox("a")
    a.session.set_remote(0, PHONE_A[0], PHONE_A[1])
    a.session.set_remote(1, NET_B[0], NET_B[1])
    a.session.receive(media.PHONE_RTP, rtp(1), 172, stranger, 0)
    rr = _rtcp_rr()
    a.session.receive(media.PHONE_RTCP, rr, len(rr), (stranger[0], stranger[1] + 1), 0)
    assert a.take() == [] and a.session.counters.stranger == 2
    a.session.receive(media.PHONE_RTP, rtp(2), 172, PHONE_A, 0)
    assert len(a.take(media.NET_RTP)) == 1
    a, b = media_pair()
    now = _run(a, b, 0, 20000)
    a.take()
    a.session.receive(media.PHONE_RTP, rtp(30), 172, stranger, now)
    assert a.take() == [] and a.session.counters.stranger == 1
    a.session.receive(media.PHONE_RTP, rtp(31), 172, PHONE_A, now)
    assert len(a.take(media.NET_RTP)) == 1


def test_a_stranger_on_the_phone_leg_is_dropped_while_the_phone_holds():
    # a hold the old way (RFC 2543: c=0.0.0.0) names no host; the phone is still the host it was
    stranger = ("10.0.0.66", PHONE_A[1])
    a, b = media_pair()
    now = _run(a, b, 0, 20000)
    a.take()
    a.session.set_remote(0, None, PHONE_A[1])
    a.session.receive(media.PHONE_RTP, rtp(30), 172, stranger, now)
    assert a.take() == [] and a.session.counters.stranger == 1
    a.session.set_remote(0, PHONE_A[0], PHONE_A[1])  # resumed
    a.session.receive(media.PHONE_RTP, rtp(31), 172, PHONE_A, now)
    assert len(a.take(media.NET_RTP)) == 1


def test_mute_relays_no_audio_from_a_packet_whose_padding_count_is_too_large():
    # RFC 3550 section 5.1: the last octet counts the padding; a count larger than the payload is
    # malformed, and a receiver that then ignores the padding (PJSIP does) plays the whole payload:
    # under media.clear = mute such a packet must not carry its audio through, either way
    for count in (255, 161, 0):
        a = MediaBox("a", "mute")
        a.session.set_remote(0, PHONE_A[0], PHONE_A[1])
        a.session.set_remote(1, NET_B[0], NET_B[1])
        pkt = rtp(1, b"\x11" * 159 + bytes((count,)))
        pkt[0] |= 0x20
        a.session.receive(media.PHONE_RTP, bytearray(pkt), len(pkt), PHONE_A, 0)
        a.session.receive(media.NET_RTP, bytearray(pkt), len(pkt), NET_B, 0)
        for _, data, _ in a.take():
            assert b"\x11" not in data[12:], count


def test_a_fork_s_session_given_the_phone_s_host_drops_strangers():
    # the runtime gives a fork's session the first one's phone path by assignment
    # (runtime/box.py: phone.remote and phone.sdp_host), not through set_remote
    first = MediaBox("a")
    first.session.set_remote(0, PHONE_A[0], PHONE_A[1])
    a = MediaBox("a")
    a.session.phone.remote = list(first.session.phone.remote)
    a.session.phone.sdp_host = first.session.phone.sdp_host
    a.session.set_remote(1, NET_B[0], NET_B[1])
    a.session.receive(media.PHONE_RTP, rtp(1), 172, ("10.0.0.66", PHONE_A[1]), 0)
    assert a.take() == [] and a.session.counters.stranger == 1


def test_authentic_packets_of_too_many_ssrcs_are_dropped_without_an_alarm():
    # The peer's keys protect packets on ever new SSRCs: past srtp.MAX_SSRCS they are dropped
    # and counted as errors; they did authenticate, so no "unauthenticated" alarm is raised,
    # and the peer's own stream still reaches the phone.
    from zerotap import srtp
    a, b = media_pair()
    now = _run(a, b, 0, 20000) + media.SWITCH_GRACE_MS + 1
    tx = a.session.secure.tx
    for i in range(srtp.MAX_SSRCS + 20):
        tx._tx.by_ssrc.clear()  # a's own bound aside: the hostile sender has no such bound
        tx._tx.last = None
        wire = bytearray(tx.protect(bytes(rtp(1, ssrc=0x5000 + i))))
        b.session.receive(media.NET_RTP, wire, len(wire), NET_A, now)
    assert len(b.take(media.PHONE_RTP)) == srtp.MAX_SSRCS
    c = b.session.counters
    assert c.errors == 20 and c.unauthenticated == 0 and not b.call.mitm, c.as_dict()
    plain = rtp(2, ssrc=0x5000)
    tx._tx.by_ssrc.clear()
    tx._tx.last = None
    wire = bytearray(tx.protect(bytes(plain)))
    b.session.receive(media.NET_RTP, wire, len(wire), NET_A, now)
    assert [p[1] for p in b.take(media.PHONE_RTP)] == [plain]


def test_hs32_keys_give_srtcp_the_32_bit_tag_of_zrtp_peers():
    # bzrtp with mediastreamer2 and GNU ZRTP protect SRTCP with the negotiated tag, HS32 too
    # (test_srtcp_linphone checks it against linphonec); an 80-bit tag here had every RTCP packet
    # refused both ways and the unauthenticated-media alarm raised on a good call
    from zerotap.zrtp import algorithms, engine
    a = MediaBox("a")
    b = MediaBox("b")
    for box in (a, b):
        offer = algorithms.Offer(key_agreements=("X255",), auth_tags=("HS32",))
        box.engine = engine.Engine(box.engine.ssrc, config=engine.Config(offer=offer))
        box.leg.engine = box.engine
    a.session.set_remote(0, PHONE_A[0], PHONE_A[1])
    a.session.set_remote(1, NET_B[0], NET_B[1])
    b.session.set_remote(0, PHONE_B[0], PHONE_B[1])
    b.session.set_remote(1, NET_A[0], NET_A[1])
    now = _run(a, b, 0, 20000)
    assert a.call.auth == b.call.auth == "HS32"
    plain = rtp(10)
    a.session.receive(media.PHONE_RTP, bytearray(plain), len(plain), PHONE_A, now)
    (leg, wire, dest), = a.take(media.NET_RTP)
    assert len(wire) == len(plain) + 4
    rr = _rtcp_rr()
    a.session.receive(media.PHONE_RTCP, bytearray(rr), len(rr), (PHONE_A[0], PHONE_A[1] + 1), now)
    (leg, wire, dest), = a.take(media.NET_RTCP)
    assert len(wire) == len(rr) + 4 + 4  # E||index, the 32-bit tag
    b.session.receive(media.NET_RTCP, bytearray(wire), len(wire), (NET_A[0], NET_A[1] + 1), now)
    (leg, out, dest), = b.take(media.PHONE_RTCP)
    assert out == rr and b.session.counters.unauthenticated == 0

"""The ZRTP engine's checks and timers: T1/T2 schedules, retransmissions, the Hello hash, loops,
versions, Error/ErrorACK, GoClear, SASrelay, bad DH values, hvi, Confirm MACs, Ping, and mutated
packets. Runs under both interpreters."""
from support import Xorshift32, raises
from backtoback import events, shuttle
from zerotap import crypto
from zerotap.zrtp import algorithms, engine as E, packets

A_SSRC, B_SSRC = 0x0A0A0A0A, 0x0B0B0B0B


def _pair(offer_a=None, offer_b=None, **kw):
    a = E.Engine(A_SSRC, config=E.Config(offer=offer_a, initiate=kw.get("initiate_a", True),
                                         allow_clear=kw.get("allow_clear", False),
                                         timeout_ms=kw.get("timeout_ms", 60000)), key_pool=kw.get("pool_a"))
    b = E.Engine(B_SSRC, config=E.Config(offer=offer_b, initiate=kw.get("initiate_b", False)),
                 key_pool=kw.get("pool_b"))
    return a, b


def _types(pkts):
    return [packets.message_type(p[12:-4]).decode().rstrip() for p in pkts]


def _secure(a, b):
    a.start(0)
    b.start(0)
    shuttle(a, b)
    assert a.state == E.SECURE and b.state == E.SECURE, (a.state, b.state)
    return events(a), events(b)


T2_ROUNDS = 40


def _frame_from(engine, message):
    return packets.frame(0x0100, engine.ssrc, message)


def test_hello_timer_t1_and_no_peer():
    a = E.Engine(A_SSRC)
    a.start(0)
    times, pkts = [], []
    now = 0
    while now < 20000:
        for p in a.datagrams_to_send():
            times.append(now)
            pkts.append(p)
        t = a.timer()
        if t is None:
            break
        now = t
        a.handle_timer(now)
    assert times[:6] == [0, 50, 150, 350, 550, 750]  # 50 ms doubling to 200 ms (section 6)
    assert len(pkts) == 21 and _types(pkts) == ["Hello"] * 21
    seqs = [(p[2] << 8) | p[3] for p in pkts]
    assert 0 < seqs[0] < 0x1000 and seqs == list(range(seqs[0], seqs[0] + 21))
    assert all(p[4:-4] == pkts[0][4:-4] for p in pkts)  # same message, new sequence number and CRC
    ev = events(a)
    assert len(ev) == 1 and isinstance(ev[0], E.NoPeer) and ev[0].hellos == 21
    assert a.timer() is None and a.state == E.DISCOVERY  # still listening


def test_hellos_go_on_for_12_s_once_the_peer_is_heard():
    a, b = _pair()
    a.start(0)
    b.start(0)
    a.datagrams_to_send()
    hello_b = b.datagrams_to_send()[0]
    a.receive(hello_b, 1000)  # heard: a sends HelloACK and keeps its Hello going
    times = []
    now = 1000
    while True:
        for p in a.datagrams_to_send():
            if _types([p]) == ["Hello"]:
                times.append(now)
        t = a.timer()
        if t is None or a.state == E.FAILED:
            break
        now = t
        a.handle_timer(now)
    assert times[-1] - times[0] >= 12000 and len(times) == 63
    ev = events(a)
    assert a.state == E.FAILED and ev[-1].code == 0xB0 and ev[-1].fatal and not ev[-1].sent


def test_commit_timer_t2_then_timeout():
    a, b = _pair(initiate_b=False)
    a.start(0)
    b.start(0)
    b.receive(a.datagrams_to_send()[0], 0)
    for p in b.datagrams_to_send():
        a.receive(p, 0)  # b's HelloACK and Hello: a commits (once its key pair is made)
    while a.busy:
        a.handle_timer(0)
    out = a.datagrams_to_send()
    assert "Commit" in _types(out)
    commit = [p for p in out if _types([p]) == ["Commit"]][0]
    times = [0]
    now = 0
    while a.state != E.FAILED:
        now = a.timer()
        a.handle_timer(now)
        for p in a.datagrams_to_send():
            assert p[4:-4] == commit[4:-4]
            times.append(now)
    gaps = [y - x for x, y in zip(times, times[1:])]
    assert gaps == [150, 300, 600, 1200, 1200, 1200, 1200, 1200, 1200, 1200]  # 150 ms doubling to 1.2 s, 10 retries
    assert now - times[-1] == 1200
    ev = events(a)
    assert ev[-1].code == 0xB0 and ev[-1].fatal


def test_responder_answers_repeats_and_only_repeats():
    a, b = _pair(initiate_b=False)
    a.start(0)
    b.start(0)
    last = {}

    def record(src, p):
        last.setdefault((id(src), _types([p])[0]), []).append(p)
        return p

    shuttle(a, b, tamper=record)
    assert a.state == b.state == E.SECURE
    for typ, answer in (("Commit", "DHPart1"), ("DHPart2", "Confirm1"), ("Confirm2", "Conf2ACK")):
        repeat = last[(id(a), typ)][-1]
        b.receive(packets.reframe(repeat, 0x0FFF), 10)
        again = b.datagrams_to_send()
        if typ != "Confirm2":
            assert again == [], typ  # a secure responder only answers Confirm2 repeats
            continue
        assert _types(again) == [answer]
    # before secure: repeats of Commit and DHPart2 get the same DHPart1/Confirm1 again
    a, b = _pair(initiate_b=False)
    a.start(0)
    b.start(0)
    seen = {}

    def hold_confirm1(src, p):
        t = _types([p])[0]
        seen.setdefault(t, []).append(p)
        return None if t == "Confirm1" else p

    shuttle(a, b, tamper=hold_confirm1)
    assert b.state == E.CONFIRM1_SENT and a.state == E.DHPART2_SENT
    b.receive(seen["DHPart2"][0], 5)
    again = b.datagrams_to_send()
    assert _types(again) == ["Confirm1"] and again[0][4:-4] == seen["Confirm1"][0][4:-4]
    assert again[0][2:4] != seen["Confirm1"][0][2:4]
    b.receive(seen["Commit"][0], 6)
    assert b.datagrams_to_send() == []  # a DH responder past DHPart1 ignores Commit repeats


def test_srtp_confirms_when_conf2ack_is_lost():
    a, b = _pair(initiate_b=False)
    a.start(0)
    b.start(0)
    shuttle(a, b, tamper=lambda src, p: None if _types([p]) == ["Conf2ACK"] else p)
    assert a.state == E.CONFIRM2_SENT and b.state == E.SECURE
    assert [type(e) for e in events(a)] == [E.Sas]
    a.srtp_authenticated(50)
    ev = events(a)
    assert a.state == E.SECURE and len(ev) == 1 and isinstance(ev[0], E.Secure) and a.timer() is None


def test_peer_hello_hash():
    a, b = _pair()
    assert a.hello_hash().startswith("1.10 ") and len(a.hello_hash()) == 69
    a.set_peer_hello_hash(b.hello_hash())
    b.set_peer_hello_hash(a.hello_hash().split()[1])  # the version is optional
    _secure(a, b)
    # a Hello that does not match is ignored and reported once
    a, b = _pair()
    c = E.Engine(0x0C0C0C0C)
    a.set_peer_hello_hash(c.hello_hash())
    a.start(0)
    b.start(0)
    shuttle(a, b)
    ev = events(a)
    assert a.state == E.DISCOVERY and len(ev) == 1 and ev[0].code is None and not ev[0].fatal
    assert "does not match the a=zrtp-hash" in ev[0].reason
    assert a.dropped >= 1
    # learnt after the Hello was taken: the exchange ends
    a, b = _pair(initiate_a=False)
    a.start(0)
    b.start(0)
    b.receive(a.datagrams_to_send()[0], 0)
    a.receive(b.datagrams_to_send()[-1], 0)
    a.set_peer_hello_hash(c.hello_hash())
    ev = events(a)
    assert a.state == E.FAILED and ev[-1].fatal and "does not match the a=zrtp-hash" in ev[-1].reason
    raises(lambda: a.set_peer_hello_hash("1.10 abc"), "a=zrtp-hash needs 64 hex digits, got 3")
    raises(lambda: a.set_peer_hello_hash("2.0 " + "0" * 64), "a=zrtp-hash: unsupported version '2.0'")
    raises(lambda: a.set_peer_hello_hash("x" * 64), "a=zrtp-hash is not hex: '%s'" % ("x" * 64))


def test_a_rejected_hello_is_the_reason_when_the_exchange_times_out():
    # The peer's Hello does not match its a=zrtp-hash (a man in the middle, or a signalling path
    # that rewrote it): ignored; when the exchange then times out, its fatal Error (what the status
    # shows) names that Hello, not only "not secure after 60 s" with the cause in a log line.
    a, b = _pair(timeout_ms=5000)
    a.set_peer_hello_hash(E.Engine(0x0C0C0C0C).hello_hash())
    a.start(0)
    b.start(0)
    shuttle(a, b)
    now = 0
    for _ in range(200):
        t = a.timer()
        if t is None or a.state == E.FAILED:
            break
        now = t
        a.handle_timer(now)
    ev = events(a)
    assert a.state == E.FAILED and now == 5000 and ev[-1].fatal and ev[-1].code == 0xB0, ev
    assert "not secure 5000 ms" in ev[-1].reason and "does not match the a=zrtp-hash" in ev[-1].reason


def test_hello_with_our_own_zid_is_dropped_with_a_warning():
    # RFC 6189 says Error 0x90; but a Hello is unauthenticated and anyone can send one with our
    # (public) ZID: it must not end the exchange (issue 12, test_trust_exchange.py)
    a = E.Engine(A_SSRC)
    a.start(0)
    hello = a.datagrams_to_send()[0]
    a.receive(hello, 10)  # our own Hello came back
    ev = events(a)
    assert a.state == E.DISCOVERY and len(ev) == 1 and not ev[0].fatal and "own ZID" in ev[0].reason
    assert a.datagrams_to_send() == [] and a.dropped == 1


def _hello_with_version(engine, version):
    h = packets.parse(engine._hello)
    h.version = version
    return _frame_from(engine, packets.seal(h.encode(), engine._h[2]))


def test_version_negotiation():
    a, b = _pair()
    a.start(0)
    a.datagrams_to_send()
    a.receive(_hello_with_version(b, b"2.00"), 5)  # newer: wait for the peer to come down to 1.10
    assert a.state == E.DISCOVERY and a.datagrams_to_send() == [] and not events(a)
    # older than ours: RFC 6189 section 4.1.1 says Error 0x30, but an unauthenticated Hello must
    # not end the exchange (issue 12): dropped, with a warning
    a.receive(_hello_with_version(b, b"1.00"), 6)
    ev = events(a)
    assert a.state == E.DISCOVERY and len(ev) == 1 and not ev[0].fatal and "version" in ev[0].reason
    assert a.datagrams_to_send() == []
    # 1.1x versions are 1.10 compatible
    a, b = _pair()
    a.start(0)
    a.datagrams_to_send()
    a.receive(_hello_with_version(b, b"1.11"), 5)
    assert _types(a.datagrams_to_send())[0] == "HelloACK"


def test_error_from_the_peer():
    a, b = _pair(initiate_b=False)
    a.start(0)
    b.start(0)
    b.receive(a.datagrams_to_send()[0], 0)
    for p in b.datagrams_to_send():
        a.receive(p, 0)
    a.datagrams_to_send()
    err = _frame_from(b, packets.Error(0x52).encode())
    a.receive(err, 10)
    ev = events(a)
    assert a.state == E.FAILED and len(ev) == 1
    assert (ev[0].code, ev[0].received, ev[0].sent, ev[0].fatal) == (0x52, True, False, True)
    assert ev[0].reason == "peer sent Error 0x52: Cipher Type not supported"
    assert _types(a.datagrams_to_send()) == ["ErrorACK"]
    a.receive(packets.reframe(err, 0x0101), 20)  # the peer lost our ErrorACK
    assert _types(a.datagrams_to_send()) == ["ErrorACK"] and not events(a)
    assert a.timer() is None


def _goclear_from(x, label=b"GoClear"):
    k = x._keys
    mackey = k.mackeyi if x.role == E.INITIATOR else k.mackeyr
    return _frame_from(x, packets.GoClear(x._hash.hmac(mackey, label)[:8]).encode())


def test_goclear_is_refused_by_default():
    a, b = _pair()
    _secure(a, b)
    a.receive(_goclear_from(b, b"GoClear?"), 5)  # a bad clear_mac: dropped
    assert a.datagrams_to_send() == [] and not events(a)
    a.receive(_goclear_from(b), 6)
    ev = events(a)
    assert a.state == E.SECURE and len(ev) == 1 and isinstance(ev[0], E.PeerCleared) and not ev[0].accepted
    out = a.datagrams_to_send()
    assert _types(out) == ["Error"] and packets.parse(out[0][12:-4]).code == 0x100
    ack = _frame_from(b, packets.Ack(packets.ERRORACK).encode())
    a.receive(ack, 7)
    assert a.timer() is None and a.state == E.SECURE


def test_goclear_accepted_when_allowed():
    a, b = _pair(allow_clear=True)
    ea, eb = _secure(a, b)
    a.receive(_goclear_from(b), 6)
    ev = events(a)
    assert a.state == E.CLEAR and isinstance(ev[0], E.PeerCleared) and ev[0].accepted
    assert _types(a.datagrams_to_send()) == ["ClearACK"]


def test_sas_relay_from_an_untrusted_mitm_is_ignored():
    a, b = _pair()
    _secure(a, b)
    k = b._keys
    zk, mk = (k.zrtpkeyi, k.mackeyi) if b.role == E.INITIATOR else (k.zrtpkeyr, k.mackeyr)
    relay = packets.SasRelay.seal(packets.SasRelayBody(True, False, False, b"B32 ", bytes(range(32))), bytes(16),
                                  zk, mk, b._hash.hmac)
    a.receive(_frame_from(b, relay.encode()), 5)
    ev = events(a)
    assert _types(a.datagrams_to_send()) == ["RelayACK"]
    assert len(ev) == 1 and ev[0].code == 0x63 and not ev[0].fatal and a.state == E.SECURE


def test_ping_gets_a_ping_ack():
    a = E.Engine(A_SSRC)
    a.start(0)
    a.datagrams_to_send()
    a.receive(packets.frame(9, 0xFEEDF00D, packets.Ping(packets.VERSION, b"endpoint").encode()), 1)
    out = a.datagrams_to_send()
    assert _types(out) == ["PingACK"]
    ack = packets.parse(out[0][12:-4])
    assert ack.received_hash == b"endpoint" and ack.ssrc == 0xFEEDF00D and ack.version == b"1.10"
    assert a.state == E.DISCOVERY


class _BadPool:
    """A key pool whose DH key pair has an invalid public value."""

    def __init__(self, ka, public):
        self.ka, self.public = ka, public

    def ready(self, ka):
        return 1

    def take(self, ka):
        kp = crypto.generate(ka)
        if ka == self.ka:
            kp.public = self.public
        return kp


def test_bad_dh_public_values():
    for ka, public in (("DH3k", bytes(383) + b"\x01"), ("DH2k", b"\xff" * 256), ("X255", bytes(32))):
        offer = algorithms.Offer(key_agreements=[ka])
        a, b = _pair(offer, offer, pool_b=_BadPool(ka, public))
        a.start(0)
        b.start(0)
        shuttle(a, b)
        ev = events(a)
        assert a.state == E.FAILED and ev[-1].code == 0x61 and ev[-1].sent, (ka, a.state, ev)
        assert b.state == E.FAILED and events(b)[-1].received  # the Error reached the peer


def test_bad_hvi():
    a, b = _pair()
    a.start(0)
    b.start(0)

    def swap_dhpart(src, p):
        if src is a and _types([p]) == ["DHPart2"]:
            a._keypair = crypto.generate("X255")
            return _frame_from(a, a._build_dhpart(2, b"Initiator"))
        return p

    shuttle(a, b, tamper=swap_dhpart)
    ev = events(b)
    assert b.state == E.FAILED and ev[-1].code == 0x62 and ev[-1].sent


def test_tampered_confirm_fails_the_mac():
    a, b = _pair()
    a.start(0)
    b.start(0)

    def flip(src, p):
        if _types([p]) == ["Confirm1"]:
            m = bytearray(p[12:-4])
            m[40] ^= 0x01  # inside the encrypted part
            return packets.frame(0x0200, src.ssrc, bytes(m))
        return p

    shuttle(a, b, tamper=flip)
    # a Confirm1 whose MAC fails is dropped (issue 12: a stranger can send one); when no good one
    # comes, the DHPart2 retransmissions run out and the exchange ends with Error 0x70
    assert a.state == E.DHPART2_SENT and not [e for e in events(a) if e.fatal]
    now = 0
    for _ in range(T2_ROUNDS):
        t = a.timer()
        if t is None or a.state == E.FAILED:
            break
        now = t
        a.handle_timer(now)
        for p in a.datagrams_to_send():
            if _types([p]) == ["DHPart2"]:
                b.receive(p, now)
                for q in b.datagrams_to_send():
                    a.receive(flip(b, q), now)
    ev = events(a)
    assert a.state == E.FAILED and ev[-1].code == 0x70 and ev[-1].sent and "MAC" in ev[-1].reason, ev


def test_commit_with_unsupported_algorithms():
    for field, value, code in (("hash", b"S512", 0x51), ("cipher", b"2FS1", 0x52), ("auth_tag", b"SK32", 0x54),
                               ("sas", b"B16 ", 0x55), ("key_agreement", b"EC52", 0x53),
                               ("key_agreement", b"Prsh", 0x53)):
        a, b = _pair(initiate_b=True, initiate_a=False)
        a.start(0)
        b.start(0)

        def change(src, p):
            if src is b and _types([p]) == ["Commit"]:
                c = packets.parse(p[12:-4])
                setattr(c, field, value)
                if value == b"Prsh":
                    c.nonce, c.key_id, c.hvi = bytes(16), bytes(8), None
                return _frame_from(b, packets.seal(c.encode(), b._h[1]))
            return p

        shuttle(a, b, tamper=change)
        ev = events(a)
        assert a.state == E.FAILED and ev[-1].code == code and ev[-1].sent, (field, value, ev)


def test_a_preshared_commit_in_contention_is_discarded_for_our_dh_commit():
    # Both commit at once, the peer in preshared mode (a GNU ZRTP-era peer with a cache, say):
    # the Preshared Commit is discarded and our DH Commit proceeds (RFC 6189 section 4.2). It
    # ended the exchange with Error 0x20 (a Prsh Commit carries no hvi to compare).
    a, b = _pair(initiate_a=True, initiate_b=False)
    a.start(0)
    b.start(0)
    shuttle(a, b, until=lambda: a.state == E.COMMIT_SENT, rounds=3)
    assert a.state == E.COMMIT_SENT and b.state == E.DISCOVERY
    c = packets.Commit(b._h[2], b.zid, b"S256", b"AES1", b"HS80", b"Prsh", b"B32 ", nonce=bytes(16), key_id=bytes(8))
    a.receive(_frame_from(b, packets.seal(c.encode(), b._h[1])), 1)  # chains to b's Hello: the peer's
    assert a.state == E.COMMIT_SENT and a.role == E.INITIATOR and not events(a)
    shuttle(a, b)  # the peer answers our Commit
    assert a.state == b.state == E.SECURE and a.sas == b.sas


def test_commit_that_breaks_the_hash_chain_is_dropped():
    a, b = _pair(initiate_b=True, initiate_a=False)
    a.start(0)
    b.start(0)

    def forge(src, p):
        if src is b and _types([p]) == ["Commit"]:
            c = packets.parse(p[12:-4])
            c.h2 = crypto.sha256(b"not the chain")
            return _frame_from(b, packets.seal(c.encode(), b._h[1]))
        return p

    shuttle(a, b, tamper=forge)
    assert a.state == E.DISCOVERY and a.dropped >= 1 and not events(a)


def test_exchange_timeout_after_the_peer_went_silent():
    a, b = _pair(initiate_a=False, initiate_b=False, timeout_ms=5000)
    a.start(0)
    b.start(0)
    shuttle(a, b)  # Hellos and HelloACKs; nobody commits
    assert a.state == E.DISCOVERY
    now = 0
    while a.state != E.FAILED and now < 10000:
        t = a.timer()
        if t is None:
            break
        now = t
        a.handle_timer(now)
    ev = events(a)
    assert a.state == E.FAILED and ev[-1].code == 0xB0 and now == 5000


def _mutate(rng, p):
    kind = rng.next() % 4
    m = bytearray(p[12:-4])
    if kind == 0:  # flip one bit in the message, CRC fixed: passes the CRC
        i = rng.next() % len(m)
        m[i] ^= 1 << (rng.next() % 8)
        return packets.frame((p[2] << 8) | p[3], 0x0B0B0B0B, bytes(m))
    if kind == 1:  # truncate
        return p[:rng.next() % len(p)]
    if kind == 2:  # random bytes in place, CRC fixed
        for _ in range(1 + rng.next() % 4):
            m[rng.next() % len(m)] = rng.next() & 0xFF
        return packets.frame((p[2] << 8) | p[3], 0x0B0B0B0B, bytes(m))
    return p[:-1] + bytes((p[-1] ^ 0xFF,))  # bad CRC


def test_mutated_packets_never_make_an_engine_secure_with_other_keys():
    rng = Xorshift32(6189)
    for run in range(12):
        a, b = _pair(initiate_b=bool(run & 1), initiate_a=not (run & 2))
        a.start(0)
        b.start(0)
        count = [0]

        def maybe(src, p):
            count[0] += 1
            if rng.next() % 3 == 0:
                bad = _mutate(rng, p)
                (b if src is a else a).receive(bad, count[0])  # the mutated copy goes first
            return p

        shuttle(a, b, tamper=maybe)
        for x, y in ((a, b), (b, a)):
            if x.state == E.SECURE:
                assert y.state in (E.SECURE, E.CONFIRM2_SENT) and x._keys.srtp_key_i == y._keys.srtp_key_i
                assert x.sas == y.sas
            if x.state == E.FAILED:
                assert events(x)[-1].fatal


def test_confirm_with_a_broken_hash_chain():
    # A Confirm1 that authenticates (the peer knows the keys) but reveals an H0 that does not hash
    # to the H1 of its DHPart1: the last link of the hash chain fails (section 9).
    a, b = _pair()
    a.start(0)
    b.start(0)

    def forge(src, p):
        if src is b and _types([p]) == ["Confirm1"]:
            k = b._keys
            body = packets.ConfirmBody(crypto.sha256(b"not H0"), expiry=0xFFFFFFFF)
            c = packets.Confirm.seal(1, body, bytes(16), k.zrtpkeyr, k.mackeyr, b._hash.hmac)
            return _frame_from(b, c.encode())
        return p

    shuttle(a, b, tamper=forge)
    ev = events(a)
    assert a.state == E.FAILED and ev[-1].code == 0x70 and "H0" in ev[-1].reason


def test_receive_takes_buffers_and_ignores_junk():
    a, b = _pair()
    a.start(0)
    b.start(0)
    hello = b.datagrams_to_send()[0]
    for junk in (b"", b"\x80\x00" + bytes(30), bytes(28), b"ZRTP" * 10, bytearray(hello[:-4]) + b"\0\0\0\0"):
        a.receive(junk, 1)  # never raises
    assert a.dropped == 5 and a.state == E.DISCOVERY
    buf = bytearray(200)
    buf[:len(hello)] = hello
    a.receive(memoryview(buf)[:len(hello)], 2)  # a slice of the caller's receive buffer
    assert _types(a.datagrams_to_send())[:1] == ["Hello"] and a.peer_zid == b.zid

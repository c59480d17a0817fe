"""Issue 12, items 2 and 3: a failure after SECURE reaches the user (the call leaves SECURE, the
status and the display raise the alarm, media follows the clear policy), and no stranger takes
part in the exchange: ZRTP only from the peer's media address, one unauthenticated packet from
elsewhere neither ends nor corrupts the exchange, the Hello hash is checked before anything else
in a Hello, a good Confirm1 is never replaced by a bad one, and plain RTP from another host is not
relayed to the phone before SECURE. Runs under both interpreters."""
from backtoback import NET_A, NET_B, PHONE_A, MediaBox, events, media_pair, rtp, run_to_secure, shuttle
from zerotap import crypto, media, status
from zerotap.ui import canvas, screens
from zerotap.zrtp import algorithms, engine as E, keys, packets

STRANGER = ("203.0.113.9", 43000)


def _frame(message, ssrc=0x0BADBEEF):
    return packets.frame(0x0100, ssrc, message)


# --- 2: a failure after SECURE reaches the user ------------------------------------------------------

def test_a_late_zrtp_hash_that_does_not_match_ends_secure_loudly():
    for policy in ("pass", "block"):
        a, b = media_pair(policy)
        now = run_to_secure(a, b, 0, 20000)
        assert now is not None and a.call.security == status.SECURE
        # a fast exchange; the 200 OK brings an a=zrtp-hash that is not the peer's Hello's
        a.leg.set_peer_hash(("1.10", "ab" * 32))
        assert a.engine.state == E.FAILED
        assert a.call.security == status.FAILED and a.call.mitm, (a.call.security, a.call.error)
        assert "after SECURE" in a.call.error
        assert not a.leg.is_secure and not a.leg.can_unprotect
        buf = bytearray(canvas.buffer_size(128, 64))
        assert screens.render(a.status, canvas.frame(buf, 128, 64), 128, 64) == screens.ALARM
        # media follows the clear policy now: pass relays the phone's audio in clear, block nothing
        pkt = rtp(50)
        a.session.receive(media.PHONE_RTP, pkt, len(pkt), PHONE_A, now + 10)
        out = a.take(media.NET_RTP)
        if policy == "block":
            assert out == [], out
        else:
            assert len(out) == 1 and out[0][1] == bytes(rtp(50)), "not plain: still SRTP?"


def test_an_unacknowledged_error_after_secure_ends_secure_loudly():
    a, b = media_pair()
    now = run_to_secure(a, b, 0, 20000)
    # the peer asks to go clear; the box refuses with Error 0x100, which is never acknowledged
    k = b.engine._keys
    mackey = k.mackeyi if b.engine.role == E.INITIATOR else k.mackeyr
    clear_mac = b.engine._hash.hmac(mackey, b"GoClear")[:8]
    g = _frame(packets.GoClear(clear_mac).encode(), b.engine.ssrc)
    a.session.receive(media.NET_RTP, bytearray(g), len(g), NET_B, now + 10)
    t = now + 10
    for _ in range(200):  # Error retransmissions, none answered
        a.take()
        nxt = a.session.timer()
        if nxt is None:
            break
        t = max(t, nxt)
        a.session.handle_timer(t)
    assert a.engine.state == E.FAILED
    assert a.call.security == status.FAILED and a.call.mitm and not a.leg.is_secure


def test_a_forged_goclear_after_secure_is_dropped_without_an_error():
    # anyone on the path can send a GoClear in clear; only its clear_mac (keyed with the peer's
    # mackey) tells the peer's from a forgery. A forged one must not start the Error above, whose
    # T2 timer would end the secure call: it is dropped, nothing is sent, no timer runs.
    a, b = media_pair()
    now = run_to_secure(a, b, 0, 20000)
    k = b.engine._keys
    theirs = k.mackeyi if b.engine.role == E.INITIATOR else k.mackeyr
    ours = k.mackeyr if b.engine.role == E.INITIATOR else k.mackeyi
    right = b.engine._hash.hmac(theirs, b"GoClear")[:8]
    forged = (bytes(8), b"\xff" * 8, b.engine._hash.hmac(ours, b"GoClear")[:8],  # the box's own key
              b.engine._hash.hmac(theirs, b"GoClear ")[:8], bytes([right[0] ^ 1]) + right[1:])
    t = now + 10
    for clear_mac in forged:
        dropped = a.engine.dropped
        g = _frame(packets.GoClear(clear_mac).encode(), b.engine.ssrc)
        a.session.receive(media.NET_RTP, bytearray(g), len(g), NET_B, t)
        assert a.engine.dropped == dropped + 1, clear_mac
        assert not [p for p in a.take() if p[1][12:20] == b"Error   "], clear_mac
        assert a.engine._rtx.message is None and a.engine.timer() is None, clear_mac
        assert a.engine.state == E.SECURE and a.call.security == status.SECURE and not a.call.mitm, clear_mac
        assert a.call.error is None, a.call.error
    for _ in range(200):  # 30 s of the session's timers: nothing ends the call
        nxt = a.session.timer()
        if nxt is None or nxt > t + 30000:
            break
        t = max(t, nxt)
        a.session.handle_timer(t)
        a.take()
    assert a.engine.state == E.SECURE
    assert a.call.security == status.SECURE and not a.call.mitm and a.leg.is_secure


# --- 3: no stranger in the exchange --------------------------------------------------------------------

def test_zrtp_from_another_host_is_not_taken():
    a, b = media_pair()
    b.session.secure.start(0)
    hello = b.take(media.NET_RTP)[0][1]
    a.session.receive(media.NET_RTP, bytearray(hello), len(hello), STRANGER, 0)
    assert a.engine.state in (E.IDLE, E.DISCOVERY) and a.engine._peer_hello is None
    assert a.session.counters.stranger == 1
    # the same from the peer's host is taken
    a.session.receive(media.NET_RTP, bytearray(hello), len(hello), NET_B, 0)
    assert a.engine._peer_hello is not None


def test_before_the_answer_no_exchange_completes_with_anybody():
    a = MediaBox("a")  # an outgoing call: the answer (and its media address) not there yet
    m = MediaBox("m")
    m.session.set_remote(1, NET_A[0], NET_A[1])
    m.session.secure.start(0)
    for _ in range(5):
        for _, data, _ in m.take(media.NET_RTP):
            a.session.receive(media.NET_RTP, bytearray(data), len(data), STRANGER, 0)
        for _, data, _ in a.take(media.NET_RTP):
            m.session.receive(media.NET_RTP, bytearray(data), len(data), NET_A, 0)
    assert not a.leg.is_secure and a.engine._peer_hello is None and a.session.counters.stranger >= 1


def test_an_error_from_elsewhere_does_not_end_the_exchange():
    a, b = media_pair()
    err = _frame(packets.Error(packets.ERROR_TIMEOUT).encode())
    sent = [False]

    def inject(now, dst, data):
        if not sent[0] and dst is a:
            sent[0] = True
            return a, err, STRANGER
        return None

    assert run_to_secure(a, b, 0, 20000, inject) is not None
    assert sent[0] and a.call.security == status.SECURE


def _engines(hash_known=True):
    a = E.Engine(0x0A0A0A0A, config=E.Config(offer=algorithms.Offer(key_agreements=("X255",))))
    b = E.Engine(0x0B0B0B0B, config=E.Config(offer=algorithms.Offer(key_agreements=("X255",)), initiate=False))
    if hash_known:
        a.set_peer_hello_hash(b.hello_hash())
    return a, b


def _forged_hello(victim, version=packets.VERSION, zid=None):
    h = packets.Hello(version, b"Mallory         ", bytes(32), zid or victim.zid, False, False, False,
                      [b"S256"], [b"AES1"], [b"HS80"], [b"X255"], [b"B32 "])
    return _frame(packets.seal(h.encode(), bytes(32)))


def test_a_forged_hello_neither_ends_nor_corrupts_the_exchange():
    for hash_known in (True, False):
        for forged in ("own zid", "old version"):
            a, b = _engines(hash_known)
            a.start(0)
            b.start(0)
            if forged == "own zid":
                p = _forged_hello(a)
            else:
                p = _forged_hello(a, version=b"1.00", zid=b"mallory-zid1")
            a.receive(p, 0)  # first, before the real Hello
            assert a.state != E.FAILED, (hash_known, forged)
            shuttle(a, b)
            assert a.state == E.SECURE and b.state == E.SECURE, (hash_known, forged, a.state, b.state)


def test_the_hello_hash_is_checked_before_any_other_check():
    a, b = _engines(True)
    a.start(0)
    a.receive(_forged_hello(a), 0)  # our own ZID: with the hash known, it is a stranger's Hello
    errors = events(a)
    assert a.state == E.DISCOVERY and a.dropped == 1
    assert all(not e.fatal for e in errors) and errors and "a=zrtp-hash" in errors[0].reason, errors


def _confirm1_forgery(p):
    """The Confirm1 of packet P with one bit of its confirm_mac flipped (message offset 12, after
    preamble, length and type): what a stranger without the keys can send."""
    msg = bytearray(p[12:-4])
    msg[12] ^= 1
    return _frame(bytes(msg))


def test_one_bad_confirm1_does_not_end_the_exchange():
    a, b = _engines(False)
    a.start(0)
    b.start(0)
    forged = [False]

    def tamper(src, p):
        if src is b and p[16:24] == b"Confirm1" and not forged[0]:
            forged[0] = True
            a.receive(_confirm1_forgery(p), 0)  # the stranger's copy first
        return p

    shuttle(a, b, tamper=tamper)
    assert forged[0] and a.state == E.SECURE and b.state == E.SECURE, (a.state, b.state)


def test_a_good_stored_confirm1_is_never_replaced_by_a_bad_one():
    py = crypto.backend("python")  # slow DH in slices: the Confirm1 waits while it is computed
    a = E.Engine(0x0A0A0A0A, config=E.Config(offer=algorithms.Offer(key_agreements=("X255",))), ka_backend=py)
    b = E.Engine(0x0B0B0B0B, config=E.Config(offer=algorithms.Offer(key_agreements=("X255",)), initiate=False))
    a.start(0)
    b.start(0)
    held = []

    def tamper(src, dst, p):
        if src is b and p[16:24] == b"Confirm1":
            held.append(p)
            return None
        return p

    # run until B has sent its Confirm1 while A, the initiator, still computes the DH result
    for _ in range(400):
        for src, dst in ((a, b), (b, a)):
            for p in src.datagrams_to_send():
                p = tamper(src, dst, p)
                if p is not None:
                    dst.receive(p, 0)
        while b.busy:
            b.handle_timer(0)
        if held:
            break
        if a.busy:
            a.handle_timer(0)
    assert held and a.busy and a.state == E.DHPART2_SENT, (a.state, a.busy, held)
    a.receive(held[0], 0)  # the good Confirm1, stored until the keys exist
    a.receive(_confirm1_forgery(held[0]), 0)  # then a bad one
    shuttle(a, b)
    assert a.state == E.SECURE and b.state == E.SECURE, (a.state, b.state)


def test_rtp_from_a_stranger_is_not_relayed_to_the_phone_before_secure():
    a = MediaBox("a")
    a.session.set_remote(0, PHONE_A[0], PHONE_A[1])
    a.session.set_remote(1, NET_B[0], NET_B[1])
    pkt = rtp(1)
    a.session.receive(media.NET_RTP, pkt, len(pkt), STRANGER, 0)
    assert a.take(media.PHONE_RTP) == [] and a.session.counters.stranger == 1
    pkt = rtp(2)
    a.session.receive(media.NET_RTP, pkt, len(pkt), NET_B, 0)
    assert len(a.take(media.PHONE_RTP)) == 1
    # and a stranger cannot steal the stream's address by latching either
    assert a.session.rtp_remote() == NET_B

"""Issue 14, media that moves: after SECURE, an SDP (re-INVITE, UPDATE) naming another far media
address starts a new secure leg (a new ZRTP exchange: status NEGOTIATING, then SECURE with the new
SAS) instead of an alarm; the same address, or hold, keeps the leg; a move no SDP announced still
raises the alarm. The secure legs here are fakes that record what the box asks of them (the seam
of zerotap.seams.SecureLeg); the ZRTP exchange itself is the engine's, tested elsewhere."""
from support import scratch
from zerotap import seams
from zerotap import status as st
from zerotap.runtime import box as runtime_box

import test_appliance_box as rig


class FakeLeg(seams.SecureLeg):
    def __init__(self, number):
        self.number = number
        self.started = []
        self.closed = False
        self.peer_hash = None
        self.session = None

    def bind(self, session):
        self.session = session

    def hello_hash(self):
        return "1.10 " + "%02x" % self.number * 32

    def set_peer_hash(self, value):
        self.peer_hash = value

    def start(self, now_ms):
        self.started.append(now_ms)

    def receive_zrtp(self, buf, n, now_ms):
        pass

    def timer(self):
        return None

    def handle_timer(self, now_ms):
        pass

    def protect(self, buf, n, rtcp):
        return n

    def unprotect(self, buf, n, rtcp, now_ms):
        return 0  # nothing authenticates: what an unannounced peer's packets do

    def set_verified(self, verified):
        pass

    def close(self):
        self.closed = True
        self.is_secure = False
        self.can_unprotect = False


class FakeFactory(seams.SecureFactory):
    def __init__(self):
        self.legs = []

    def leg(self, call_status, call_media):
        leg = FakeLeg(len(self.legs))
        self.legs.append(leg)
        return leg


def test_the_fakes_fill_their_seams():
    assert seams.abstract(FakeLeg) == [] and seams.abstract(FakeFactory) == []


def _secure_call(tmp):
    b, logs = rig._box(tmp)
    factory = FakeFactory()
    b.secure_factory = b.media_factory.secure_factory = factory
    call = b.status.new_call(1, "out", "sip:bob@192.0.2.50")
    m = b.media_factory.open(call)
    m.set_remote(0, "127.0.0.1", 30000)
    m.set_remote(1, "192.0.2.50", 40000)
    m.answered(b.loop.clock())
    leg = factory.legs[0]
    leg.is_secure = leg.can_unprotect = True
    call.set_secure("abcd", "B32", "S256", "AES1", "HS80", "X255", "00" * 12, st.CACHE_NEW, False)
    return b, logs, factory, call, m


def test_an_announced_move_after_secure_starts_a_new_exchange():
    b, logs, factory, call, m = _secure_call(scratch("appl-move"))
    try:
        seen = []
        b.status.listen(lambda box, c: seen.append((c.security, c.sas) if c else None))
        m.set_remote(1, "192.0.2.99", 41000)  # a re-INVITE moved the far media
        assert len(factory.legs) == 2 and factory.legs[0].closed
        new = factory.legs[1]
        assert m.session.secure is new and new.session is m.session and len(new.started) == 1
        assert m.session.rtp_remote() == ("192.0.2.99", 41000) and m.rekeys == 1
        assert call.security == st.NEGOTIATING and call.sas is None and not call.mitm
        assert seen == [(st.NEGOTIATING, None)]
        assert m.hello_hash() == new.hello_hash()  # the SDP of the move carries the new Hello
        m.set_peer_hash(("1.10", "ef" * 32))
        assert new.peer_hash == ("1.10", "ef" * 32)
        assert ("call 1: the far media moved to 192.0.2.99:41000 after SECURE: a new ZRTP "
                "exchange") in logs
    finally:
        m.close()
        b.shutdown()


def test_the_same_address_hold_and_before_secure_keep_the_leg():
    b, logs, factory, call, m = _secure_call(scratch("appl-same"))
    try:
        m.set_remote(1, "192.0.2.50", 40000)  # a session refresh: the same media
        m.set_remote(1, None, 40000)  # hold
        m.set_remote(1, "192.0.2.50", 40000)  # resume
        m.set_remote(0, "127.0.0.1", 30002)  # the phone side moves: nothing to key
        assert len(factory.legs) == 1 and m.rekeys == 0 and call.security == st.SECURE
    finally:
        m.close()
        b.shutdown()
    b, logs, factory, call, m = _secure_call(scratch("appl-early"))
    try:
        factory.legs[0].is_secure = False  # not SECURE yet: a move is the ongoing exchange's
        m.set_remote(1, "192.0.2.99", 41000)
        assert len(factory.legs) == 1 and m.rekeys == 0
    finally:
        m.close()
        b.shutdown()


def test_an_unannounced_move_still_raises_the_alarm():
    b, logs, factory, call, m = _secure_call(scratch("appl-stranger"))
    try:
        m.session.secure.secure_at = -10 ** 6  # long past the switch grace
        pkt = bytearray(rig._rtp(7)) + bytearray(20)
        m.session.receive(2, pkt, 172, ("192.0.2.77", 41000), b.loop.clock())
        assert call.mitm and call.security == st.SECURE and len(factory.legs) == 1
        assert "unauthenticated" in call.error
    finally:
        m.close()
        b.shutdown()


def _key_packets(key, seq, ts):
    """The phone's RFC 4733 packets for one KEY (its start and its end): seq SEQ on, time TS."""
    event = "0123456789*#".index(key)
    out = []
    for i, (flags, duration) in enumerate(((0x0A, 160), (0x8A, 800))):
        head = bytes((0x80, 101, (seq + i) >> 8 & 0xFF, (seq + i) & 0xFF)) + ts.to_bytes(4, "big")
        out.append(bytearray(head + b"\x11\x22\x33\x44" + bytes((event, flags, duration >> 8,
                                                                 duration & 0xFF))))
    return out


def test_a_keypad_code_applies_only_to_the_sas_shown_when_its_first_key_came():
    # The person compares call 1's SAS and types *#1; while they type, the far media moves
    # (a re-INVITE) and a new exchange brings another SAS before the last key: the code marked
    # the NEW SAS verified, which nobody compared (the panel's button and the page check it).
    b, logs, factory, call, m = _secure_call(scratch("appl-keypad-move"))
    try:
        m.session.add_event_types((101,))
        now = [b.loop.clock()]
        seq = [100]

        def typed(keys):
            for key in keys:
                for pkt in _key_packets(key, seq[0], seq[0] * 160):
                    m.session.receive(0, pkt, len(pkt), ("127.0.0.1", 30000), now[0])
                seq[0] += 2
                now[0] += 300

        typed("*#")
        m.set_remote(1, "192.0.2.99", 41000)  # the far media moved: a new exchange
        factory.legs[1].is_secure = factory.legs[1].can_unprotect = True
        call.set_secure("zz99", "B32", "S256", "AES1", "HS80", "X255", "11" * 12, st.CACHE_NEW,
                        False)
        typed("1")
        assert call.security == st.SECURE and call.sas == "zz99"
        assert not call.verified  # nobody compared zz99
        typed("*#1")  # typed whole on the new SAS: it is the one compared
        assert call.verified and m.session.counters.keys_held > 0
    finally:
        m.close()
        b.shutdown()


def test_a_stranger_on_the_network_leg_does_not_keep_a_dead_secure_call_alive():
    """After SECURE the far end goes silent (its box lost power) while another host (127.0.0.2)
    keeps sending to the box's network-side port: its packets fail SRTP's checks, and a stranger
    sending garbage is not the far end either; the call must end after media.timeout_s as for a
    silent far end. The watch counted every datagram on the network socket as the far end's, so
    the dead call (its sockets, a call slot) lived as long as the stranger sent."""
    clock = rig.FakeClock()
    stranger = rig._stranger("127.0.0.2")
    try:
        with rig.BoxAndPeers("appl-net-stranger", timeout_s=5, clock=clock) as (b, logs, phone,
                                                                                  far):
            factory = FakeFactory()
            b.secure_factory = b.media_factory.secure_factory = factory
            prtp, frtp, box_phone, box_net = rig._call(b, phone, far, "net-stranger")
            call = b.status.calls[0]
            leg = factory.legs[0]
            leg.is_secure = leg.can_unprotect = True
            call.set_secure("abcd", "B32", "S256", "AES1", "HS80", "X255", "00" * 12,
                            st.CACHE_NEW, False)
            for seq in range(1, 8):  # 7 s: the phone and the stranger send, the far end not
                clock.now += 1000
                prtp.sendto(rig._rtp(seq), rig._addr(box_phone))
                stranger.sendto(rig._rtp(seq), rig._addr(box_net))
                stranger.sendto(b"\x00" * 8, rig._addr(box_net))  # nor anything else
                rig._turn(b, 2)
            assert b.status.calls == [], logs[-5:]
            assert call.error == "no media from the network for 5 s", call.error
    finally:
        stranger.close()

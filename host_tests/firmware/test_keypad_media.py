"""The keypad codes on the media path (zerotap.phonekeys), fed with what a real phone sent: the RTP
stream linphonec sent while its user typed ``*#1``, ``5``, ``*7``, ``*`` and ``*#0`` during a call
(host_tests/vectors/keypad_linphonec_stream.json, made by host_tests/cpython/keypad_fixtures.py).

What must hold: both codes act and none of their keys reach the network; ``5`` passes live, packet
for packet; ``*7`` and the lone ``*`` are released and re-sent as events on the phone's own stream;
the stream toward the network has no gap in its sequence numbers and its timestamps keep running;
and through a secure call (two media sessions with their real ZRTP engines and SRTP) the far box
decodes exactly those keys, without a single SRTP failure."""
from array import array

import vectors

from zerotap import media, status
from zerotap.dtmf import events
from zerotap.phonekeys import DROP, PASS, RENUMBER, PhoneKeys
from zerotap.ui.keypad import KeypadMatcher
from zerotap.zrtp import algorithms, engine

def _load():
    # the 68 KB file is read in pieces (vectors.each), one packet's JSON at a time, into four
    # arrays made at full size at once (a growing list fragments a board's heap; a list of 983
    # tuples of bytes does not fit 112 KiB on 32 bits): the headers (or whole event packets) one
    # after the other, where each starts, its time in ms and its audio payload's length
    name = "keypad_linphonec_stream.json"
    pt, typed = vectors.fields(name, "payload_type", "typed")
    n = vectors.count(name, "packets")
    heads = bytearray(16 * n)  # an event packet is 16 bytes, an audio header 12
    start = array("I", bytes(4 * (n + 1)))
    ms = array("I", bytes(4 * n))
    length = array("H", bytes(2 * n))
    at = 0
    for i, p in enumerate(vectors.each(name, "packets")):
        head = vectors.unhex(p["hex"] if "hex" in p else p["header"])
        heads[at:at + len(head)] = head
        start[i] = at
        at += len(head)
        ms[i] = p["ms"]
        length[i] = p.get("payload", 0)
    start[n] = at
    return pt, "".join(typed), (heads, start, ms, length, n)


PT, TYPED, _STREAM = _load()
SILENCE = b"\xff" * 160


def _recorded(i):
    """(ms, header or whole event packet, audio payload length) of recorded packet I."""
    heads, start, ms, length, _ = _STREAM
    return ms[i], bytes(heads[start[i]:start[i + 1]]), length[i]


def _count():
    return _STREAM[4]


def _packets():
    """(ms, packet) as linphonec sent them, one at a time, audio payloads PCMU silence."""
    for i in range(_count()):
        ms, head, length = _recorded(i)
        yield ms, head + SILENCE[:length] if length else head


def _header(packet):
    seq = (packet[2] << 8) | packet[3]
    ts = int.from_bytes(packet[4:8], "big")
    return packet[1] & 0x7F, seq, ts, int.from_bytes(packet[8:12], "big")


def _keys_in(packets, pt=PT):
    rx = events.EventReceiver(pt)
    keys = ""
    for ms, packet in packets:
        for kind, digit, _, _ in rx.receive_packet(packet, ms):
            if kind == events.KEY_DOWN:
                keys += digit
    return keys


def _filter_stream(keys, start_ms=0):
    """Every recorded packet through KEYS at its time, timers fired as they fall due; yields the
    packets toward the network, in order, as (ms, bytes), one at a time (a whole call's packets
    do not fit a board's heap: the checks read them as they come)."""
    def fire(until):
        t = keys.timer()
        while t is not None and t <= until:
            for pkt in keys.handle_timer(t):
                yield t, bytes(pkt)
            t = keys.timer()

    for ms, data in _packets():
        now = start_ms + ms
        for x in fire(now):
            yield x
        buf = bytearray(data)
        verdict = keys.filter(buf, len(buf), now)
        assert verdict in (PASS, RENUMBER, DROP)
        if verdict == DROP:
            continue
        if verdict == RENUMBER:
            keys.renumber(buf)
        yield now, bytes(buf)
    for x in fire(start_ms + 60000):
        yield x


def test_the_recording_holds_what_was_typed():
    # the vector itself: linphonec sent every key typed, as RFC 4733 events with audio around them
    assert TYPED == "*#15*7**#0" and _keys_in(_packets()) == TYPED
    assert len([1 for i in range(_count()) if _recorded(i)[2]]) > 700


def test_codes_act_and_ordinary_keys_reach_the_network_once():
    actions = []
    keys = PhoneKeys(KeypadMatcher(), actions.append)
    keys.add_event_types((PT,))
    sent = []  # 5's event packets toward the network

    def watch(stream):
        for ms, p in stream:
            if p[1] & 0x7F == PT and p[12] == 5:
                sent.append(p)
            yield ms, p
    assert _keys_in(watch(_filter_stream(keys))) == "5*7*"
    assert actions == ["verified", "unverified"]
    assert keys.actions == 2 and keys.released == 3  # "*7" when 7 came, "*" after the timeout
    # 5 passed live: its packets are linphonec's own, with their timestamp
    five = [p for _, p in _packets() if p[1] & 0x7F == PT and p[12] == 5]
    assert len(sent) == len(five) == 7
    assert [_header(p)[2] for p in sent] == [_header(p)[2] for p in five]


def test_the_network_leg_sees_one_gapless_stream():
    keys = PhoneKeys(KeypadMatcher(), lambda action: None)
    keys.add_event_types((PT,))
    out = _filter_stream(keys)
    ssrc = _header(_recorded(0)[1])[3]
    prev_seq = prev_ts = None
    last_audio_ts = None
    resent = []
    for ms, p in out:
        if p[1] & 0x7F == PT and p[12] in (10, 7):
            resent.append(p)
        pt, seq, ts, s = _header(p)
        assert s == ssrc  # the phone's own stream
        if prev_seq is not None:
            # the next number, or the same again (the three end packets of a live key)
            assert seq in ((prev_seq + 1) & 0xFFFF, prev_seq), (ms, prev_seq, seq)
        prev_seq = seq
        if pt == 0:
            assert last_audio_ts is None or ts > last_audio_ts
            last_audio_ts = ts
        elif prev_ts is not None:
            # an event starts where the stream's clock is: not before the audio before it
            assert ts >= prev_ts, (ms, prev_ts, ts)
        prev_ts = ts if pt == 0 else prev_ts
    # re-sent events are whole: a marker on the first packet, three end packets (RFC 4733
    # 2.5.1.2, 2.5.1.4), the phone's payload type
    ends = [p for p in resent if p[13] & 0x80]
    assert len(ends) == 3 * 3 and len([p for p in resent if p[1] & 0x80]) == 3


def _same_packets(out):
    # OUT (a stream) gives the recorded packets unchanged, in order, and nothing more (compared
    # pair by pair as they come: lists of a whole call's packets do not fit a board's heap)
    recorded = _packets()
    n = 0
    for _, got in out:
        want = next(recorded, None)
        if want is None or got != want[1]:
            return False
        n += 1
    return n == _count()


def test_without_event_types_or_codes_everything_passes():
    keys = PhoneKeys(KeypadMatcher(), lambda action: None)  # the SDP named no telephone-event
    assert _same_packets(_filter_stream(keys))
    keys = PhoneKeys(KeypadMatcher({}), lambda action: None)  # codes off (board.keypad: {})
    keys.add_event_types((PT,))
    assert _same_packets(_filter_stream(keys)) and keys.caught == 0


def test_audio_with_the_event_payload_type_is_never_read_as_keys():
    # a mistaken payload type (PCMU's 0 taken for telephone-event): its 160-byte packets stay audio
    keys = PhoneKeys(KeypadMatcher(), lambda action: None)
    keys.add_event_types((0,))
    n = 0
    for _ in _filter_stream(keys):
        n += 1
    assert n == _count() and keys.caught == 0


# --- through a secure call -------------------------------------------------------------------------

PHONE_A = ("10.0.0.2", 4000)
PHONE_B = ("10.0.1.2", 4100)
NET_A = ("192.0.2.1", 42000)
NET_B = ("192.0.2.2", 43000)


class _Box:
    def __init__(self, name, keypad):
        self.status = status.BoxStatus()
        self.call = self.status.new_call(1, "out", "peer")
        self.sent = []
        cfg = engine.Config(offer=algorithms.Offer(key_agreements=("X255",)))
        self.leg = media.ZrtpLeg(engine.Engine(0x2000 + len(name), config=cfg), self.call)
        keys = None
        if keypad:
            keys = PhoneKeys(KeypadMatcher(), self._action)
        self.session = media.MediaSession(self._transmit, "pass", self.leg, self.call, None, keys)
        self.leg.bind(self.session)

    def _action(self, action):
        self.leg.set_verified(action == "verified")
        self.call.set_verified(action == "verified")

    def _transmit(self, leg, buf, n, addr):
        self.sent.append((leg, bytes(buf[:n])))

    def take(self, leg):
        out = [d for lg, d in self.sent if lg == leg]
        self.sent = [(lg, d) for lg, d in self.sent if lg != leg]
        return out


def _exchange(a, b, now):
    for src, dst, addr in ((a, b, NET_A), (b, a, NET_B)):
        for data in src.take(media.NET_RTP):
            dst.session.receive(media.NET_RTP, bytearray(data), len(data), addr, now)
    for box in (a, b):
        t = box.session.timer()
        while t is not None and t <= now:
            box.session.handle_timer(now)
            t = box.session.timer()


def test_through_a_secure_call_the_far_box_gets_exactly_the_forwarded_keys():
    a, b = _Box("a", True), _Box("b", False)
    a.session.set_remote(0, PHONE_A[0], PHONE_A[1])
    a.session.set_remote(1, NET_B[0], NET_B[1])
    b.session.set_remote(0, PHONE_B[0], PHONE_B[1])
    b.session.set_remote(1, NET_A[0], NET_A[1])
    a.session.add_event_types((PT,))
    now = 0
    a.leg.start(now)
    b.leg.start(now)
    while not (a.leg.is_secure and b.leg.is_secure) and now < 20000:
        _exchange(a, b, now)
        now += 10
    assert a.call.security == status.SECURE and b.call.security == status.SECURE
    start = now + 2000  # past the switch to SRTP
    verified = []
    a.status.listen(lambda box, call: verified.append(call.verified) if call else None)
    heard = []  # the event packets box B gave its phone
    audio = [0]

    def listen():
        for p in b.take(media.PHONE_RTP):
            if p[1] & 0x7F == PT:
                heard.append((now, p))
            else:
                audio[0] += 1

    for ms, data in _packets():
        t = start + ms
        while now < t:
            _exchange(a, b, now)
            listen()
            now += 10
        a.session.receive(media.PHONE_RTP, bytearray(data), len(data), PHONE_A, now)
    for _ in range(500):  # the lone * is released 3 s after it was typed
        _exchange(a, b, now)
        listen()
        now += 10
    assert _keys_in(heard) == "5*7*"
    assert verified == [True, False]  # *#1, then *#0
    c = b.session.counters
    assert c.unauthenticated == 0 and c.replayed == 0 and c.errors == 0
    # every event packet arrives once per sequence number (SRTP lets one of linphonec's three
    # identical end packets through: the others replay its index): 5's own 5, and the re-sent
    heard_events = {}
    for _, p in heard:
        if p[1] & 0x7F == PT:
            heard_events[_header(p)[1]] = p
    assert a.session.counters.keys_sent > 0
    assert len(heard_events) == 5 + a.session.counters.keys_sent
    assert audio[0] > 700  # the audio went through too


def test_audio_through_the_filter_allocates_nothing():
    # the media path's promise: under MicroPython the heap is locked while audio packets pass
    import micropython

    lock = getattr(micropython, "heap_lock", None)
    unlock = getattr(micropython, "heap_unlock", None)
    keys = PhoneKeys(KeypadMatcher(), lambda action: None)
    keys.add_event_types((PT,))
    buf = bytearray(_recorded(0)[1] + SILENCE)
    verdicts = [keys.filter(buf, len(buf), 0)]
    for i in range(1, 200):
        buf[3] = i & 0xFF
        buf[2] = i >> 8
        if lock is not None:
            lock()
        try:
            v = keys.filter(buf, len(buf), 20 * i)
        finally:
            if unlock is not None:
                unlock()
        verdicts.append(v)
    assert verdicts == [PASS] * 200


def test_the_sdp_rewrite_reads_telephone_event_payload_types():
    from zerotap.sip import rewrite

    def events(sdp):
        return rewrite.rewrite(sdp, None, 0, None)[1].event_types

    invite = [m for m in vectors.load("sip_linphone.json")["messages"]
              if m["what"].startswith("INVITE from linphonec")][0]["text"].encode()
    assert events(invite[invite.index(b"\r\n\r\n") + 4:]) == [96]  # linphonec: a=rtpmap:96 telephone-event
    answer = (b"v=0\r\nc=IN IP4 127.0.0.1\r\n"
              b"m=audio 4000 RTP/AVP 0 101 102\r\na=rtpmap:0 PCMU/8000\r\n"
              b"a=rtpmap:101 TELEPHONE-EVENT/8000\r\na=rtpmap:102 telephone-event/16000\r\n"
              b"m=video 5000 RTP/AVP 103\r\na=rtpmap:103 telephone-event/8000\r\n")
    # the name is case-insensitive; events on a 16 kHz clock, and other streams, are left alone
    assert events(answer) == [101]
    assert events(b"v=0\r\nc=IN IP4 127.0.0.1\r\nm=audio 4000 RTP/AVP 0\r\n"
                  b"a=rtpmap:x telephone-event/8000\r\n") == []


def test_keys_from_a_stranger_on_the_phone_leg_do_nothing():
    # *#1 typed by someone else on the phone's LAN (the recorded stream, sent to the box's
    # phone-side port from another host) must not mark the SAS verified, nor reach the network
    actions = []
    sent = []
    keys = PhoneKeys(KeypadMatcher(), actions.append)
    session = media.MediaSession(lambda leg, buf, n, addr: sent.append(leg), "pass", None, None,
                                 None, keys)
    session.set_remote(0, PHONE_A[0], PHONE_A[1])
    session.set_remote(1, NET_B[0], NET_B[1])
    session.add_event_types((PT,))
    for ms, data in _packets():
        session.receive(media.PHONE_RTP, bytearray(data), len(data), ("10.0.0.66", 4000), ms)
        session.handle_timer(ms)
    session.handle_timer(60000)
    assert actions == [] and sent == [] and keys.caught == 0
    for ms, data in _packets():  # the phone itself: both codes act
        session.receive(media.PHONE_RTP, bytearray(data), len(data), PHONE_A, 60000 + ms)
        session.handle_timer(60000 + ms)
    assert actions == ["verified", "unverified"]

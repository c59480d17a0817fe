"""The ICE fallback (zerotap.ice.fallback) with two boxes on a simulated network (fallbacksim.py,
icesim.py: a deterministic clock, port-restricted NATs, a provider path that drops ZRTP): the
boxes swap their numbers as RFC 4733 events, meet over ICE and go SECURE there with equal SAS."""
from fallbacksim import PHONE, PROV, Sim
from support import raises

import json

from zerotap import media, status
from zerotap.dtmf import events, frame
from zerotap.ice import agent as ice_agent
from zerotap.ice import fallback as fbmod
from zerotap.ice import helper_client as hc
from zerotap.phonekeys import PhoneKeys
from zerotap.ui.keypad import KeypadMatcher


def _keys_on_provider(sim, src):
    """The DTMF keys box SRC sent on the provider path, in order (one per RTP timestamp)."""
    out = []
    seen = []
    for now, s, d, data in sim.net.provider_log:
        if s != PROV[src] or len(data) != 16 or data[1] & 0x7F != events.DEFAULT_PT:
            continue
        ts = bytes(data[4:8])
        if ts in seen:
            continue
        seen.append(ts)
        out.append("0123456789*#ABCD"[data[12]])
    return "".join(out)


def _secured(**sim_args):
    """A Sim with ZRTP blocked (sim_args: more of its arguments), run until both boxes are
    SECURE or 30 s: (sim, the time it stopped, box a, box b)."""
    sim = Sim(blocked=True, **sim_args)
    end = sim.run(30000, stop=sim.both_secure)
    a, b = sim.boxes
    return sim, end, a, b


def test_zrtp_blocked_two_boxes_go_secure_on_the_direct_path_with_equal_sas():
    sim, end, a, b = _secured()
    assert sim.both_secure(), (a.fb.step, a.fb.reason, b.fb.step, b.fb.reason)
    assert sim.net.zrtp_dropped > 0
    assert a.call.sas == b.call.sas and a.call.sas
    assert a.call.path == "direct" and a.call.fallback == fbmod.DIRECT
    # the fallback started after after_ms of media, without peer ZRTP; under 8 s in all
    assert a.fb.started_at >= fbmod.AFTER_MS and end < 8000, end
    # the numbers went as ZSipOs frames: *A + id + check digits, then #A once the peer's id held
    ka = _keys_on_provider(sim, 0)
    kb = _keys_on_provider(sim, 1)
    assert ka.startswith(frame.encode(a.fb.local_id)), ka
    assert frame.encode(b.fb.local_id, confirm=True) in kb or \
        frame.encode(b.fb.local_id) in kb, kb
    assert a.fb.peer_id == b.fb.local_id and b.fb.peer_id == a.fb.local_id
    # a fresh ZRTP engine ran on the ICE path: media now goes there, SRTP-protected
    assert a.session.path is a.fb.path and a.legs_made == 2
    a.to_phone = b.to_phone = 0
    sim.run(end + 12000)
    assert b.to_phone > 400, b.to_phone
    sample = b.last_to_phone
    assert sample[12:] == bytes(((0 * 50 + k + ((sample[2] << 8 | sample[3]) - a.fb._offset))
                                 & 0x7F) for k in range(160))
    assert a.to_phone > 400
    # the provider path: only keepalives (G.711 silence, marker bit) after the switch
    late = [d for t, s, dst, d in sim.net.provider_log if t > end + 100 and s == PROV[0]]
    assert 2 <= len(late) <= 3, len(late)
    for d in late:
        assert d[1] == 0x80 and d[12:] == b"\xff" * 160
    # and nothing from there reaches the phone
    assert a.fb.provider_dropped >= 2
    assert a.session.counters.unauthenticated == 0


def test_a_lone_star_starts_nothing():
    sim = Sim(blocked=False)
    b = sim.boxes[1]
    # a person presses * on the far phone before ZRTP ends: one event, no frame
    sender = events.EventSender(0x5555, events.DEFAULT_PT)
    sender.start("*", 0, 100, 8000)
    t = 0
    while sender.busy:
        for pkt in sender.datagrams_to_send(t):
            buf = bytearray(pkt)
            b.session.receive(media.NET_RTP, buf, len(buf), PROV[0], t)
        t += 20
    sim.run(15000)
    assert b.fb.step == fbmod.WATCH and b.fb.attempts == 0
    assert b.call.security == status.SECURE  # ZRTP passed on the provider path: no fallback
    assert sim.boxes[0].fb.step == fbmod.WATCH and not sim.boxes[0].fb.agent


def test_zrtp_passing_means_no_fallback():
    sim = Sim(blocked=False)
    sim.run(15000)
    for box in sim.boxes:
        assert box.call.security == status.SECURE and box.fb.step == fbmod.WATCH
        assert box.fb.attempts == 0 and not box.ice_open
    assert sim.helper.requests == []


def test_no_box_at_the_far_end_ends_clear_within_the_deadline_and_restores_audio():
    sim = Sim(blocked=True, b_is_box=False)
    a = sim.boxes[0]
    sim.run(fbmod.AFTER_MS + fbmod.DEADLINE_MS + 500)
    assert a.fb.step == fbmod.FAILED and a.fb.reason == "no box at the far end answered"
    assert a.call.security == status.CLEAR
    assert a.call.error == "ICE fallback: no box at the far end answered"
    # TURN/agent closed, socket closed, our offer deleted, audio no longer muted
    assert a.fb.agent is None and not a.ice_open and a.ice_closed == 1
    assert ("DELETE", "/" + a.fb.local_id) in sim.helper.requests
    assert sim.helper.offers == {}
    assert a.session.policy == "pass"
    n = len(sim.net.provider_log)
    sim.run(sim.net.now + 3000)
    keys = [d for t, s, dst, d in sim.net.provider_log[n:] if s == PROV[0] and d[1] & 0x7F != 0]
    assert keys == []  # DTMF stopped
    # clear audio flows again: phone B's samples reach phone A unchanged
    assert a.to_phone and a.last_to_phone[12:] != b"\xff" * 160
    # the retry action starts it again
    assert a.fb.retry(sim.net.now) and a.fb.step == fbmod.PREPARE and a.session.policy == "mute"


def test_helper_down_ends_clear_with_the_reason_and_media_keeps_flowing():
    sim = Sim(blocked=True)
    sim.helper.down = True
    a, b = sim.boxes
    sim.run(fbmod.AFTER_MS + 1000)
    assert a.fb.step == fbmod.FAILED and a.fb.reason == "helper: connection refused"
    assert a.call.security == status.CLEAR and "helper" in a.call.error
    assert a.session.policy == "pass" and not a.ice_open
    before = a.to_phone
    sim.run(sim.net.now + 1000)
    assert a.to_phone - before >= 45  # 50 packets/s from phone B still arrive


def test_deadline_ends_the_fallback_when_ice_cannot_connect():
    sim = Sim(blocked=True)
    a, b = sim.boxes
    # the boxes swap numbers, but nothing passes between their ICE sockets
    for h in sim.ice_hosts:
        h.mute = True
    sim.run(fbmod.AFTER_MS + fbmod.DEADLINE_MS + 500)
    assert a.fb.peer_id == b.fb.local_id  # the exchange worked
    assert a.fb.step == fbmod.FAILED and b.fb.step == fbmod.FAILED
    for box in (a, b):
        assert box.call.security == status.CLEAR and box.call.error.startswith("ICE fallback: ")
        assert box.fb.reason.startswith("deadline") or box.fb.reason.startswith("ICE failed"), \
            box.fb.reason
    assert a.fb.started_at + fbmod.DEADLINE_MS >= sim.net.now - 500 - fbmod.DEADLINE_MS


def test_a_remembered_peer_starts_the_fallback_at_once():
    mem_a, mem_b = fbmod.PeerMemory(), fbmod.PeerMemory()
    sim = Sim(blocked=True, memory=(mem_a, mem_b))
    first = sim.run(30000, stop=sim.both_secure)
    assert sim.both_secure()
    assert "sip:peer1" in mem_a and "sip:peer0" in mem_b
    sim2 = Sim(blocked=True, memory=(mem_a, mem_b))
    second = sim2.run(30000, stop=sim2.both_secure)
    assert sim2.both_secure()
    assert sim2.boxes[0].fb.started_at < 100 and second < first - 3000, (first, second)


def test_peer_memory_is_bounded():
    m = fbmod.PeerMemory(size=2)
    for p in ("a", "b", "c"):
        m.remember(p)
    assert "a" not in m and "b" in m and "c" in m
    m.forget("b")
    assert m.peers == ["c"]


def test_the_status_walks_the_steps_and_the_panel_shows_them():
    from zerotap.ui import canvas, screens
    sim = Sim(blocked=True)
    a = sim.boxes[0]
    steps = []
    shown = []

    def seen(box, call):
        if call is not None and (not steps or steps[-1] != call.fallback):
            steps.append(call.fallback)
            buf = bytearray(canvas.buffer_size(128, 64))
            shown.append(screens.render(box, canvas.frame(buf, 128, 64), 128, 64))
    a.status.listen(seen)
    sim.run(30000, stop=sim.both_secure)
    assert [s for s in steps if s] == ["blocked", "exchanging", "connecting", "zrtp", "direct"], \
        steps
    assert "fallback" in shown and shown[-1] == "secure"
    assert a.call.as_dict()["path"] == "direct" and a.call.as_dict()["fallback"] == "direct"


def test_the_status_path_is_direct_while_zrtp_runs_on_the_ice_path():
    # in the zrtp step the media are held on the ICE path: the status must not say "provider"
    sim = Sim(blocked=True)
    a = sim.boxes[0]
    seen = []

    def record(box, call):
        if call is not None and call.fallback in ("connecting", "zrtp", "direct"):
            seen.append((call.fallback, call.path))
    a.status.listen(record)
    sim.run(30000, stop=sim.both_secure)
    assert ("zrtp", "direct") in seen, seen
    assert ("zrtp", "provider") not in seen, seen
    assert ("connecting", "direct") not in seen, seen


def test_turn_taking_a_frame_never_starts_while_the_peer_sends():
    # ZSipOs boxes ignore what arrives while they send (ICE.md 1.4): B starts first, A waits
    sim = Sim(blocked=True)
    a, b = sim.boxes
    b.fb.after_ms = 3500
    sim.run(30000, stop=sim.both_secure)
    assert sim.both_secure()
    marks = []
    for now, s, d, data in sim.net.provider_log:
        if len(data) == 16 and data[1] == 0x80 | events.DEFAULT_PT:
            marks.append((now, 0 if s == PROV[0] else 1))
    first_a = [t for t, side in marks if side == 0][0]
    b_before = [t for t, side in marks if side == 1 and t < first_a]
    assert len(b_before) == 14  # B's whole *A frame came first
    assert first_a >= b_before[-1] + fbmod.GAP_MS
    # and A's first frame is already the confirmation: it holds B's id
    assert _keys_on_provider(sim, 0).startswith(frame.encode(a.fb.local_id, confirm=True))
    # every event packet of ours is the 16 bytes a ZSipOs receiver looks for
    for now, s, d, data in sim.net.provider_log:
        if data[1] & 0x7F == events.DEFAULT_PT:
            assert len(data) == 16


def test_ten_percent_loss_on_the_provider_path_still_secure_in_time():
    for seed in (2, 3, 5):
        sim = Sim(blocked=True, seed=seed, loss=0.1)
        end = sim.run(fbmod.AFTER_MS + fbmod.DEADLINE_MS, stop=sim.both_secure)
        assert sim.both_secure(), (seed, [(b.fb.step, b.fb.reason) for b in sim.boxes])
        assert end < fbmod.AFTER_MS + fbmod.DEADLINE_MS


def test_zrtp_failing_on_the_provider_path_starts_the_fallback_from_the_timer():
    # the exchange on the provider path fails at once: the peer answers our Hello, then refuses
    # with an Error (here in place of its Commit or DHPart: every ZRTP peer shares the mandatory
    # algorithms, RFC 6189 5.2, so no policy of two engines can disagree), and the fallback must
    # start without waiting for anything else to wake it (its timer says it is due)
    from zerotap.zrtp import packets
    sim = Sim(blocked=False)
    net = sim.net
    queue = net._queue
    refused = []

    def refuse(now, dst, src, data, lan=False):
        if src == PROV[1] and bytes(data[4:8]) == packets.MAGIC_COOKIE and \
                bytes(data[16:24]) in (b"Commit  ", b"DHPart1 ", b"DHPart2 "):
            seq, ssrc, _ = packets.unframe(data)
            data = packets.frame(seq, ssrc, packets.Error(packets.ERROR_KEY_AGREEMENT).encode())
            refused.append(now)
        queue(now, dst, src, data, lan)
    net._queue = refuse
    a = sim.boxes[0]
    sim.run(1500)
    assert refused
    assert a.call.security != status.SECURE
    assert a.fb.attempts == 1 and a.fb.step != fbmod.WATCH, (a.fb.step, a.fb.attempts)


def _press(sim, box, digit):
    """The user of BOX's phone presses DIGIT: RFC 4733 events in the phone's stream (its SSRC,
    its sequence numbers shared with its audio), from now on, one every 20 ms."""
    s = events.EventSender(box.phone_ssrc, events.DEFAULT_PT)
    t = sim.net.now
    s.start(digit, t, (box.phone_seq - 1) & 0xFFFF, box.phone_ts)
    while s.busy:
        sim.run(t)
        for pkt in s.datagrams_to_send(t):
            buf = bytearray(pkt)
            buf[2] = (box.phone_seq >> 8) & 0xFF
            buf[3] = box.phone_seq & 0xFF
            box.phone_seq += 1
            box.session.receive(media.PHONE_RTP, buf, len(buf), PHONE[box.i], t)
        t += 20


def _phone_keys(box):
    """The keys (RFC 4733 KEY_DOWN) that reach BOX's phone from now on, in a list."""
    got = []
    rx = events.EventReceiver()
    send = box.session.transmit

    def transmit(leg, buf, n, addr):
        if leg == media.PHONE_RTP and buf[1] & 0x7F == events.DEFAULT_PT:
            for k in rx.receive_packet(bytes(buf[:n]), box.sim.net.now):
                if k[0] == events.KEY_DOWN:
                    got.append(k[1])
        send(leg, buf, n, addr)
    box.session.transmit = transmit
    return got


def _keys_from_a_to_b(sim, end, digits, then_ms):
    """From 3 s after END, a's phone presses DIGITS and the sim runs THEN_MS more: (a's SRTP
    errors before the keys, the list of keys that reach b's phone)."""
    a, b = sim.boxes
    sim.run(end + 3000)
    errors = a.session.counters.errors
    got = _phone_keys(b)
    for digit in digits:
        _press(sim, a, digit)
    sim.run(sim.net.now + then_ms)
    return errors, got


def test_the_phones_keys_after_the_fallback_reach_the_far_phone_whatever_its_ptime():
    # phones at 40 ms: the frames (20 ms packets) shifted the phone's sequence numbers; its own
    # keys (a voicemail PIN over the SECURE call) were left unshifted, reused numbers the audio
    # had used, and SRTP refused every one of them (errors) -- none reached the far phone
    sim, end, a, b = _secured(phone_ms=40)
    assert sim.both_secure() and a.fb._offset != 0
    errors, got = _keys_from_a_to_b(sim, end, "59", 500)
    assert a.session.counters.errors == errors
    assert got == ["5", "9"], got


def test_keys_the_keypad_held_back_reach_the_far_phone_after_the_fallback():
    # * may start a keypad code (*#1), so the keypad filter holds it back; 5 then releases *5,
    # re-sent by the box in the phone's stream. They went out without the fallback's renumbering
    # (phones at 40 ms: the frames shifted the stream), on sequence numbers the audio had used:
    # SRTP refused them (errors) and no key reached the far phone
    sim, end, a, b = _secured(phone_ms=40)
    assert sim.both_secure() and a.fb._offset != 0
    a.session.keys = PhoneKeys(KeypadMatcher(), lambda action: None)
    a.session.add_event_types((events.DEFAULT_PT,))
    errors, got = _keys_from_a_to_b(sim, end, "*5", 1000)
    assert a.session.keys.released == 2
    assert a.session.counters.errors == errors, a.session.counters.errors - errors
    assert got == ["*", "5"], got


def test_keys_the_keypad_held_back_never_go_in_clear_on_the_direct_path():
    # ice.clear pass: after the switch to the ICE path, before ZRTP there went SECURE, the
    # fallback holds the phone's stream back (nothing in clear on the ICE path). The keys the
    # keypad filter released (*5) went past it: 12 plain event packets on the ICE path
    sim = Sim(blocked=True)
    a, b = sim.boxes
    a.fb.clear = "pass"
    a.session.keys = PhoneKeys(KeypadMatcher(), lambda action: None)
    a.session.add_event_types((events.DEFAULT_PT,))
    sim.run(30000, stop=lambda: a.fb.step == fbmod.ZRTP and a.session.path is a.fb.path)
    assert a.fb.step == fbmod.ZRTP and not a.session.secure.is_secure
    b.ice_open = False  # B hears nothing for now: ZRTP on the ICE path stays unfinished
    clear = []
    send = a.session.transmit

    def transmit(leg, buf, n, addr):
        if leg == a.fb.ice_leg and not a.session.secure.is_secure and \
                buf[1] & 0x7F == events.DEFAULT_PT:
            clear.append(n)
        send(leg, buf, n, addr)
    a.session.transmit = transmit
    _press(sim, a, "*")
    _press(sim, a, "5")
    sim.run(sim.net.now + 600)
    assert a.session.keys.released == 2 and not a.session.secure.is_secure
    assert clear == [], len(clear)


def test_the_phones_keys_never_break_into_a_frame_of_ours():
    # ice.clear pass (audio flows while the fallback runs): the user presses 5 while A's *A frame
    # plays in the phone's stream. The key's packets were passed into the frame, with sequence
    # numbers the frame used: the peer read *A...5... and dropped the frame
    sim = Sim(blocked=True)
    a, b = sim.boxes
    a.fb.clear = "pass"
    sim.run(30000, stop=lambda: a.fb._sender is not None and a.fb._sender.busy)
    sim.run(sim.net.now + 200)
    _press(sim, a, "5")
    sim.run(30000, stop=sim.both_secure)
    assert sim.both_secure()
    assert _keys_on_provider(sim, 0).startswith(frame.encode(a.fb.local_id)), \
        _keys_on_provider(sim, 0)
    seqs = [(d[2] << 8) | d[3] for t, s, dst, d in sim.net.provider_log
            if s == PROV[0] and d[1] & 0x7F == events.DEFAULT_PT]
    assert len(seqs) == len(set(seqs))  # no sequence number used twice


def test_a_put_answer_whose_token_is_not_text_ends_the_attempt_not_the_box():
    # the helper answers {"id": ..., "token": 12345}: the number was taken, and the token went into
    # the POST's header, where building the request raised TypeError (not ValueError) out of the
    # runtime's HTTP client and its loop: the box restarted, every call ended
    sim = Sim(blocked=True)
    handle = sim.helper.handle

    def helper(method, path, body, headers):
        got = handle(method, path, body, headers)
        if method == "PUT":
            obj = json.loads(got[1])
            obj["token"] = 12345
            return 200, json.dumps(obj).encode()
        return got
    sim.helper.handle = helper
    a = sim.boxes[0]
    start = a.helper
    url = hc.parse_url("https://helper.example.org/ice")

    def request(tag, method, path, body, headers):
        try:
            hc.request(url, method, path, body, headers)  # what the runtime sends
        except ValueError as e:
            a.fb.helper_failed(tag, str(e), sim.net.now)
            return
        start(tag, method, path, body, headers)
    a.helper = request
    sim.run(fbmod.AFTER_MS + 1000)
    assert a.fb.step == fbmod.FAILED and a.fb.attempts == 1
    assert a.fb.reason == "helper: PUT answer is not {id, token}", a.fb.reason
    # and the client refuses such a header by name
    raises(lambda: hc.request(url, "POST", "/1", b"{}", [("X-icestorage-token", 12345)]),
           "http: header 'X-icestorage-token' has a value that is not text")


def test_helper_answers_nested_too_deep_are_refused_not_raised():
    # 60,000 bytes of "[" (within the client's 64 KB body): json.loads raised RecursionError on
    # CPython and MemoryError on MicroPython, neither a ValueError: out of helper_reply, out of
    # the runtime's loop (the box restarted)
    deep = b"[" * 60000
    for method, reason in (("PUT", "helper: PUT answer is not {id, token}"),
                           ("GET", "the peer's offer: not JSON")):
        sim = Sim(blocked=True)
        handle = sim.helper.handle

        def helper(m, path, body, headers, method=method, handle=handle):
            got = handle(m, path, body, headers)
            return (200, deep) if m == method else got
        sim.helper.handle = helper
        a = sim.boxes[0]
        sim.run(12000, stop=lambda: a.fb.step == fbmod.FAILED)
        assert a.fb.step == fbmod.FAILED and a.fb.reason == reason, (method, a.fb.reason)


def _peer_frame(box, digits, pt, t=0):
    """DIGITS from the far box as RFC 4733 events with payload type PT, into BOX from the
    provider path (20 ms apart from T)."""
    sender = events.EventSender(0x5555, pt)
    sender.start(digits, t, 100, 8000)
    while sender.busy:
        for pkt in sender.datagrams_to_send(t):
            buf = bytearray(pkt)
            box.session.receive(media.NET_RTP, buf, len(buf), PROV[1], t)
        t += 20
    return t


def test_the_peers_frame_in_the_payload_type_our_sdp_named_is_heard():
    # RFC 3264 section 5.1: the far end sends events with the payload type of the SDP it got from
    # us (the phone's, 101); the network's SDP named 96. The receiver listened to the type added
    # last only (96), and never heard the peer's *A frame
    sim = Sim(blocked=True)
    a = sim.boxes[0]
    a.fb.sdp_events(0, (101,))
    a.fb.sdp_events(1, (96,))
    peer = "3947361825"
    assert frame.valid_id(peer)
    _peer_frame(a, frame.encode(peer), 101)
    assert a.fb.peer_id == peer and a.fb.step != fbmod.WATCH, (a.fb.peer_id, a.fb.step)


def test_our_frames_go_in_the_payload_type_the_network_sdp_named():
    # an incoming call: the network's offer names telephone-event 97, the phone's answer 96.
    # RFC 3264 section 5.1: what we send toward the network carries the type the network's SDP
    # named. The frames went in the type added last, the phone's 96
    sim = Sim(blocked=True)
    a = sim.boxes[0]
    a.fb.sdp_events(1, (97,))
    a.fb.sdp_events(0, (96,))
    sim.run(30000, stop=lambda: a.fb.frames_sent[0] >= 1 and not a.fb._sender.busy)
    pts = set(d[1] & 0x7F for t, s, dst, d in sim.net.provider_log
              if s == PROV[0] and len(d) == 16)
    assert pts == {97}, pts


def test_the_answer_for_a_number_superseded_meanwhile_is_not_taken():
    # A holds the peer's number X and asked the helper for X's offer; before the answer comes, a
    # frame with another number Y arrives (the peer's retry, or X was a misread). The answer for
    # X was taken as the peer's offer: ICE ran with X's credentials and Y was never fetched
    sim = Sim(blocked=True, helper_ms=300)
    a, b = sim.boxes
    sim.run(30000, stop=lambda: a.fb._get_pending)
    x = a.fb.peer_id
    assert x == b.fb.local_id
    y = "2946183750"
    assert frame.valid_id(y) and y != x
    sim.net.strip_events = True  # B's own frames do not reach A from now on
    end = _peer_frame(a, frame.encode(y), events.DEFAULT_PT, sim.net.now)
    assert a.fb.peer_id == y
    sim.run(end + 1000)  # (the frame's clock ran on to END)
    assert a.fb._peer_offer is None and not a.fb._ice_started
    assert ("GET", "/%s?wait=%d" % (y, fbmod.GET_WAIT_S)) in sim.helper.requests


def test_a_frame_or_the_retry_action_on_a_secure_call_starts_no_fallback():
    # ZRTP went through on the provider path: both calls SECURE. A *A frame then arrives at each
    # box there as RFC 4733 events in clear (unauthenticated: anyone on the path can send them),
    # and the fallback started on the SECURE call: its frames went in clear into the SRTP stream,
    # the boxes met over ICE and the SECURE leg was closed for a fresh one there; when that one
    # did not finish (here: the peer's ICE socket goes deaf), the fallback failed back to the
    # provider path with no secure leg at all, the audio in clear, and the status still SECURE
    sim = Sim(blocked=False)
    a, b = sim.boxes
    sim.run(6000)
    assert a.call.security == status.SECURE and b.call.security == status.SECURE
    _peer_frame(a, frame.encode("3947361825"), events.DEFAULT_PT, sim.net.now)
    _peer_frame(b, frame.encode("2946183750"), events.DEFAULT_PT, sim.net.now)
    sim.run(30000, stop=lambda: a.fb.step == fbmod.ZRTP and b.fb.step == fbmod.ZRTP)
    b.ice_open = False
    sim.run(sim.net.now + fbmod.DEADLINE_MS + 1000)
    for box in (a, b):
        sec = box.session.secure
        if box.call.security == status.SECURE:  # never SECURE without SRTP under it
            assert sec is not None and sec.is_secure, (box.i, box.fb.step, box.fb.reason)
    for box in (a, b):
        assert box.call.security == status.SECURE and box.session.secure.is_secure
        assert box.fb.step == fbmod.WATCH and box.fb.attempts == 0, (box.i, box.fb.step)
    assert sim.helper.requests == []
    # the user's retry action (control, keypad code, button) on a SECURE call does nothing
    assert not a.fb.retry(sim.net.now)
    assert a.fb.step == fbmod.WATCH and not a.ice_open and a.session.policy == "pass"


def test_consent_lost_on_the_direct_path_the_call_is_no_longer_shown_secure():
    # RFC 7675: the direct path stops answering consent checks in the middle of the call; after
    # 30 s the agent stops sending. The box raised the alarm, but the call stayed SECURE in the
    # status (stream, control, web page) while no media went anywhere
    sim = Sim(blocked=True)
    a, b = sim.boxes
    end = sim.run(30000, stop=sim.both_secure)
    assert sim.both_secure()
    for h in sim.ice_hosts:
        h.mute = True
    n = len(sim.net.provider_log)
    audio = sim.net.provider_audio
    sim.run(end + 40000)
    for box in (a, b):
        assert box.fb.agent.state != ice_agent.CONNECTED
        assert box.call.security != status.SECURE and not box.call.verified, box.call.security
        assert box.call.mitm and "consent" in box.call.error, box.call.error
    # and nothing went in clear on the provider path: keepalives (silence) only
    assert sim.net.provider_audio == audio
    for t, s, d, data in sim.net.provider_log[n:]:
        assert data[12:] in (b"\xff" * 160, b"\xd5" * 160), data[:16]


def test_a_helper_failure_after_secure_direct_leaves_the_call_secure():
    # the helper stored our POST, but its answer was lost; the runtime gives up on the request
    # after two tries of 5 s, by when the call is SECURE (direct). The failure ended the fallback
    # then: back to the provider path, the direct path's ZRTP leg closed, the audio in clear
    # there, while the status still said SECURE
    sim = Sim(blocked=True)
    a, b = sim.boxes
    lost = []
    start = a.helper

    def request(tag, method, path, body, headers):
        if method == "POST":
            sim.helper.handle(method, path, body, headers)  # stored; the answer is lost
            lost.append(tag)
            return
        start(tag, method, path, body, headers)
    a.helper = request
    sim.run(30000, stop=sim.both_secure)
    assert sim.both_secure() and [t[0] for t in lost] == ["post"]
    a.fb.helper_failed(lost[0], "no answer within 5000 ms", sim.net.now)
    a.fb.helper_reply(lost[0], 500, b"", sim.net.now)  # or an error status, as late
    sim.run(sim.net.now + 2000)
    assert a.call.security == status.SECURE and a.session.secure.is_secure
    assert a.fb.step == fbmod.DIRECT and a.session.path is a.fb.path, a.fb.reason


def test_a_strangers_packets_on_the_ice_socket_do_not_reach_the_phone():
    # while ZRTP runs on the direct path (not SECURE yet; ice.clear pass), a datagram from a
    # stranger arrives at the call's ICE socket (its port is the top of network.rtp, the same in
    # every call). The fallback handed it to the media session as if it came from the selected
    # pair's far end: the stranger's audio reached the phone (the provider path takes media only
    # from the peer's host before SECURE), and its ZRTP would reach the fresh engine
    sim = Sim(blocked=True)
    a, b = sim.boxes
    a.fb.clear = "pass"
    sim.run(30000, stop=lambda: a.fb.step == fbmod.ZRTP and a.session.path is a.fb.path)
    assert a.fb.step == fbmod.ZRTP and not a.session.secure.is_secure
    b.ice_open = False  # B hears nothing for now: ZRTP on the ICE path stays unfinished
    stranger = ("198.51.100.66", 4000)
    assert stranger != a.fb.selected[1].addr
    got = _phone_packets(a)
    before = a.session.counters.stranger
    for k in range(5):
        pkt = bytes((0x80, 0, 0, k, 0, 0, k, 0, 9, 9, 9, 9)) + b"\x42" * 160
        a.fb.receive_ice(pkt, stranger, sim.net.now)
    sim.run(sim.net.now + 100)
    assert [p for p in got if p[12:] == b"\x42" * 160] == []
    assert a.session.counters.stranger - before == 5


def _phone_packets(box):
    """The packets that reach BOX's phone from now on, in a list."""
    got = []
    send = box.session.transmit

    def transmit(leg, buf, n, addr):
        if leg == media.PHONE_RTP:
            got.append(bytes(buf[:n]))
        send(leg, buf, n, addr)
    box.session.transmit = transmit
    return got


def test_the_tone_detector_goes_once_secure_on_the_direct_path():
    # docs/fallback.md: the in-band detector (4.6 KB of heap on the unix port, one per call) is
    # made with the first G.711 packet from the provider path and dropped once the call is
    # SECURE. After the switch to the direct path it was kept for the rest of the call: two
    # calls SECURE (direct) held two on a board with a few hundred bytes of margin
    sim = Sim(blocked=True)
    a, b = sim.boxes
    sim.run(30000, stop=lambda: a.fb._tones is not None and b.fb._tones is not None)
    assert a.fb._tones is not None and b.fb._tones is not None  # made while watching
    end = sim.run(30000, stop=sim.both_secure)
    assert sim.both_secure()
    sim.run(end + 1000)
    assert a.fb._tones is None and b.fb._tones is None


def test_early_media_longer_than_after_s_starts_no_fallback_before_the_answer():
    # the provider plays ringback as early media (a 183 with SDP) for 8 s; the far end (a ZRTP
    # phone without a box) answers then and speaks ZRTP on the provider path, which carries it.
    # The fallback counted after_s from the first early-media packet: it started while the call
    # still rang, muted the ringback, closed the provider path's ZRTP leg, and the call, whose
    # ZRTP would have gone through, ended CLEAR ("no box at the far end answered")
    import fallbacksim
    own = fallbacksim.Box._leg
    fallbacksim.Box._leg = lambda box: own(box) if box.i == 0 else None  # B: not answered yet
    try:
        sim = Sim(blocked=False)
    finally:
        fallbacksim.Box._leg = own
    a, b = sim.boxes
    b.session.fallback = b.fb = None  # a ZRTP phone, no box
    a.call.set_state(status.RINGING)
    sim.run(8000)
    assert a.fb.step == fbmod.WATCH and a.fb.attempts == 0, (a.fb.step, a.fb.reason)
    a.call.set_state(status.ACTIVE)  # the 2xx
    leg = own(b)
    leg.bind(b.session)
    b.session.secure = leg
    leg.start(sim.net.now)
    sim.run(sim.net.now + fbmod.AFTER_MS + fbmod.DEADLINE_MS)
    assert a.call.security == status.SECURE and b.call.security == status.SECURE, \
        (a.call.security, a.call.error)
    assert a.fb.attempts == 0 and a.call.path == "provider"

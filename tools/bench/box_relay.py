"""The box's media path, measured in-process; runs under CPython and the MicroPython unix port.

    python tools/bench/box_relay.py            (PYTHONPATH=firmware)
    micropython tools/bench/box_relay.py       (MICROPYPATH=firmware)

Two media sessions (box A's and box B's network legs) are wired back to back and made SECURE by
their real ZRTP engines (X25519), each with the keypad filter a box gives every call
(zerotap.phonekeys, the default codes, telephone-event as payload type 101). Then one G.711
packet (12 + 160 bytes) goes phone -> box A (keypad filter, SRTP protect) -> box B (SRTP
unprotect) -> phone, N times. It prints JSON lines:

    {"what": "relay", "us_per_packet": ..., "packets": N}       one box, one packet, one direction
    {"what": "relay_without_keypad", ...}                       the same without the keypad filter
    {"what": "keypad_filter", ...}                              the filter alone, an audio packet
    {"what": "heap", "calls": 0|1|2, "bytes": ...}              MicroPython: gc.mem_alloc()
"""
import gc
import json
import sys
import time

from zerotap import media, status
from zerotap.phonekeys import PhoneKeys
from zerotap.ui.keypad import KeypadMatcher
from zerotap.zrtp import algorithms, engine

try:
    _ticks_us = time.ticks_us
    _ticks_diff = time.ticks_diff

    def _now_us():
        return _ticks_us()

    def _elapsed(t0):
        return _ticks_diff(_ticks_us(), t0)
except AttributeError:
    def _now_us():
        return time.perf_counter()

    def _elapsed(t0):
        return (time.perf_counter() - t0) * 1e6

NET_A = ("192.0.2.1", 42000)
NET_B = ("192.0.2.2", 43000)
PHONE = ("10.0.0.2", 4000)


class Side:
    def __init__(self, number, keypad=True):
        self.box = status.BoxStatus()
        self.call = self.box.new_call(number, "out", "peer")
        cfg = engine.Config(offer=algorithms.Offer(key_agreements=("X255",)))
        self.leg = media.ZrtpLeg(engine.Engine(0x1000 + number, config=cfg), self.call)
        self.out = []
        keys = None
        if keypad:
            keys = PhoneKeys(KeypadMatcher(), lambda action: None)
            keys.add_event_types((101,))
        self.session = media.MediaSession(self._transmit, "pass", self.leg, self.call, None, keys)
        self.leg.bind(self.session)
        self.last = None

    def _transmit(self, leg, buf, n, addr):
        if leg == media.NET_RTP and buf[4:8] == b"ZRTP":
            self.out.append(bytes(buf[:n]))
        else:
            self.last = (leg, buf, n)


def secure_pair(number, keypad=True):
    a, b = Side(number, keypad), Side(number + 100, keypad)
    a.session.set_remote(0, PHONE[0], PHONE[1])
    a.session.set_remote(1, NET_B[0], NET_B[1])
    b.session.set_remote(0, PHONE[0], PHONE[1] + 2)
    b.session.set_remote(1, NET_A[0], NET_A[1])
    now = 0
    a.leg.start(now)
    b.leg.start(now)
    while not (a.leg.is_secure and b.leg.is_secure):
        moved = False
        for src, dst, addr in ((a, b, NET_A), (b, a, NET_B)):
            pkts, src.out = src.out, []
            for p in pkts:
                moved = True
                buf = bytearray(p)
                dst.session.receive(media.NET_RTP, buf, len(buf), addr, now)
        for s in (a, b):
            t = s.session.timer()
            if t is not None and t <= now:
                s.session.handle_timer(now)
                moved = True
        if not moved:
            now += 10
        if now > 60000:
            raise RuntimeError("not secure")
    return a, b


def relay(n, keypad=True):
    a, b = secure_pair(1, keypad)
    pkt = bytes((0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4)) + bytes(160)
    buf_a = bytearray(2048)
    buf_b = bytearray(2048)
    now = 100000
    t0 = _now_us()
    for seq in range(1, n + 1):
        buf_a[:172] = pkt
        buf_a[2] = (seq >> 8) & 0xFF
        buf_a[3] = seq & 0xFF
        a.session.receive(media.PHONE_RTP, buf_a, 172, PHONE, now)
        leg, wire, m = a.last
        buf_b[:m] = wire[:m]
        b.session.receive(media.NET_RTP, buf_b, m, NET_A, now)
    us = _elapsed(t0)
    assert b.last[2] == 172 and bytes(b.last[1][:172])[12:] == pkt[12:]
    assert a.session.counters.relayed_out == n and b.session.counters.relayed_in == n
    # one packet crossed two boxes (protect at A, unprotect at B): one box's cost per packet
    return us / n / 2


def keypad_filter(n, rounds=5):
    """The keypad filter alone on an audio packet (its fast path), best of ROUNDS, in us."""
    keys = PhoneKeys(KeypadMatcher(), lambda action: None)
    keys.add_event_types((101,))
    buf = bytearray(bytes((0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4)) + bytes(160))
    best = None
    for _ in range(rounds):
        t0 = _now_us()
        for seq in range(n):
            buf[2] = (seq >> 8) & 0xFF
            buf[3] = seq & 0xFF
            keys.filter(buf, 172, seq * 20)
        total = _elapsed(t0)
        t0 = _now_us()
        for seq in range(n):
            buf[2] = (seq >> 8) & 0xFF
            buf[3] = seq & 0xFF
        loop = _elapsed(t0)
        us = (total - loop) / n
        best = us if best is None or us < best else best
    return best


def heap():
    if not hasattr(gc, "mem_alloc"):
        return []
    out = []
    keep = []
    for calls in range(3):
        if calls:
            a, b = secure_pair(calls * 10)
            b = None  # box B's half lives in the other box
            keep.append(a)
        gc.collect()
        out.append({"what": "heap", "calls": calls, "bytes": gc.mem_alloc()})
    return out


def main(argv):
    n = int(argv[1]) if len(argv) > 1 else 2000
    gc.collect()
    print(json.dumps({"what": "relay", "us_per_packet": relay(n), "packets": n}))
    gc.collect()
    print(json.dumps({"what": "relay_without_keypad", "us_per_packet": relay(n, False),
                      "packets": n}))
    print(json.dumps({"what": "keypad_filter", "us_per_packet": keypad_filter(5 * n),
                      "packets": 5 * n}))
    for line in heap():
        print(json.dumps(line))


main(sys.argv)

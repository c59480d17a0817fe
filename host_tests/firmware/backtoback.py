"""Two ZRTP engines, or two boxes' media sessions, back to back in memory, alike under CPython and
MicroPython (imports only firmware modules):

    shuttle(a, b, tamper=f)            # two ZRTP engines exchange packets until nothing moves
    evs = events(a)                    # every event an engine has queued, in order
    a, b = media_pair("block")         # two boxes' media sessions back to back (MediaBox)
    now = run_to_secure(a, b, 0, 20000)  # packets both ways until both are SECURE (or None)

Apart from support.py so that the many tests that need none of this do not carry its code on the
32-bit rig's 112 KiB heap.
"""


def events(x):
    """Every event X (a ZRTP engine, or anything with next_event()) has queued, in order; its
    queue is empty after."""
    out = []
    ev = x.next_event()
    while ev is not None:
        out.append(ev)
        ev = x.next_event()
    return out


def shuttle(a, b, now=0, until=None, tamper=None, rounds=200):
    """Deliver every packet between two ZRTP engines A and B both ways (no loss) at NOW, running
    each one's slices of work while it is busy, until nothing moves, UNTIL() is true or ROUNDS
    rounds have passed. TAMPER(src, packet) may change or drop (None) a packet. Returns the
    packets each side sent, in order: {id(a): [...], id(b): [...]}."""
    sent = {id(a): [], id(b): []}
    for _ in range(rounds):
        moved = False
        for src, dst in ((a, b), (b, a)):
            for p in src.datagrams_to_send():
                sent[id(src)].append(p)
                if tamper is not None:
                    p = tamper(src, p)
                if p is not None:
                    moved = True
                    dst.receive(p, now)
            while src.busy:
                src.handle_timer(now)
                moved = True
        if until is not None and until():
            break
        if not moved:
            break
    return sent


# Two boxes' network media legs back to back in memory (each box's phone leg faces its own phone)
PHONE_A = ("10.0.0.2", 4000)
PHONE_B = ("10.0.1.2", 4100)
NET_A = ("192.0.2.1", 42000)  # box A's network media address, as box B sees it
NET_B = ("192.0.2.2", 43000)


def rtp(seq, payload=b"\x11" * 160, ssrc=0x01020304, pt=0):
    """An RTP packet (a bytearray): sequence number SEQ, timestamp SEQ & 0xFF."""
    return bytearray(bytes((0x80, pt, seq >> 8, seq & 0xFF, 0, 0, 0, seq & 0xFF,
                            ssrc >> 24, (ssrc >> 16) & 0xFF, (ssrc >> 8) & 0xFF, ssrc & 0xFF))
                     + payload)


class MediaBox:
    """One call's media session (zerotap.media.MediaSession) as a box runs it, with its real ZRTP
    engine (X25519, so that the MicroPython runner stays quick; INITIATE as in engine.Config) and
    SRTP. What it transmits is kept in .sent as (leg, bytes, addr); take() hands it out."""

    def __init__(self, name, policy="pass", initiate=True):
        from zerotap import media, status
        from zerotap.zrtp import algorithms, engine
        self.status = status.BoxStatus()
        self.call = self.status.new_call(1, "out", "peer")
        self.sent = []
        cfg = engine.Config(offer=algorithms.Offer(key_agreements=("X255",)), initiate=initiate)
        self.engine = engine.Engine(0x1000 + len(name), config=cfg)
        self.leg = media.ZrtpLeg(self.engine, self.call)
        self.session = media.MediaSession(self._transmit, policy, self.leg, self.call)
        self.leg.bind(self.session)

    def _transmit(self, leg, buf, n, addr):
        self.sent.append((leg, bytes(buf[:n]), addr))

    def take(self, leg=None):
        """What was transmitted on LEG (on any leg when None) since the last take, in order."""
        out = [s for s in self.sent if leg is None or s[0] == leg]
        self.sent = [s for s in self.sent if not (leg is None or s[0] == leg)]
        return out


def media_pair(policy="pass", initiate_b=True):
    """Boxes A and B (MediaBox, clear-media POLICY), each facing its phone (PHONE_A, PHONE_B) and
    the other box (NET_B, NET_A)."""
    a, b = MediaBox("a", policy), MediaBox("b", policy, initiate=initiate_b)
    a.session.set_remote(0, PHONE_A[0], PHONE_A[1])
    a.session.set_remote(1, NET_B[0], NET_B[1])
    b.session.set_remote(0, PHONE_B[0], PHONE_B[1])
    b.session.set_remote(1, NET_A[0], NET_A[1])
    return a, b


def run_to_secure(a, b, now, until_ms, inject=None):
    """Deliver the network-leg packets of a media_pair both ways and fire timers, from NOW until
    both are secure with nothing left to send: returns that time (ms), or None at UNTIL_MS.
    INJECT(now, dst, data), after each delivery, may return (box, packet, addr) to hand one more
    datagram to a box."""
    from zerotap import media
    a.session.secure.start(now)
    b.session.secure.start(now)
    while now < until_ms:
        moved = False
        for src, dst, addr in ((a, b, NET_A), (b, a, NET_B)):
            for leg, data, _ in src.take(media.NET_RTP):
                moved = True
                dst.session.receive(media.NET_RTP, bytearray(data), len(data), addr, now)
                if inject is not None:
                    extra = inject(now, dst, data)
                    if extra is not None:
                        box, pkt, at = extra
                        box.session.receive(media.NET_RTP, bytearray(pkt), len(pkt), at, now)
        for box in (a, b):
            t = box.session.timer()
            if t is not None and t <= now:
                box.session.handle_timer(now)
                moved = True
        if a.leg.is_secure and b.leg.is_secure and not a.sent and not b.sent:
            return now
        if not moved:
            now += 10
    return None

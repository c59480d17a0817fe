"""Is a call's media still alive? Sans-IO: ``now_ms`` in, a deadline and a verdict out.

    w = MediaWatch(timeout_ms)         # media.timeout_s * 1000; 0: never
    w.start(now_ms)                    # the call was answered
    w.heard(side, now_ms)              # a datagram from SIDE (0 the phone, 1 the network)
    w.hold(side, True)                 # SIDE's SDP put its media on hold: its silence is fine
    w.deadline()                       # when to look next (ms), or None
    w.expired(now_ms)                  # None, or the reason the call is dead

A call whose phone or far end sent nothing (RTP, RTCP, ZRTP) for the timeout is dead: the far
phone lost power, or the box lost its network, and the BYE that would have ended the call never
comes. The runtime then ends it with BYE both ways (``Proxy.end_call``), which frees its sockets.
A side on hold (its SDP has no address) is not watched; its watch starts again when it resumes.
"""
SIDES = ("phone", "network")


class MediaWatch:
    def __init__(self, timeout_ms):
        if timeout_ms < 0:
            raise ValueError("media watch: the timeout must not be negative, not %d" % timeout_ms)
        self.timeout_ms = timeout_ms
        self.running = False
        self.last = [0, 0]  # now_ms each side was last heard (or the watch started)
        self.held = [False, False]

    def start(self, now_ms):
        """Begin watching (the call was answered); each side has the timeout from now."""
        if self.running:
            return
        self.running = True
        self.last[0] = self.last[1] = now_ms

    def heard(self, side, now_ms):
        if now_ms > self.last[side]:
            self.last[side] = now_ms

    def hold(self, side, held, now_ms=None):
        """SIDE on hold (HELD True) or back (False, its timeout counting from NOW_MS)."""
        if self.held[side] and not held and now_ms is not None:
            self.last[side] = now_ms
        self.held[side] = bool(held)

    def deadline(self):
        if not self.running or not self.timeout_ms:
            return None
        t = None
        for side in (0, 1):
            if not self.held[side]:
                d = self.last[side] + self.timeout_ms
                if t is None or d < t:
                    t = d
        return t

    def expired(self, now_ms):
        """None while both sides are alive (or held), else the reason, naming the silent side."""
        if not self.running or not self.timeout_ms:
            return None
        for side in (1, 0):
            if not self.held[side] and now_ms - self.last[side] >= self.timeout_ms:
                return "no media from the %s for %d s" % (SIDES[side], self.timeout_ms // 1000)
        return None

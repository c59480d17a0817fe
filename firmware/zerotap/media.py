"""One call's media, sans-IO: plain RTP/RTCP on the phone leg; ZRTP, then SRTP/SRTCP, on the
network leg.

The runtime owns four sockets per call (phone RTP/RTCP, network RTP/RTCP) and hands every datagram
to :meth:`MediaSession.receive` with its leg; the session calls ``transmit(leg, buf, n, addr)``
for what goes out. It never touches a socket or the clock: ``now_ms`` comes in, the next ZRTP
deadline goes out through :meth:`timer`.

Rules (RFC 6189 section 10, and the box's promise to its user):
- ZRTP (and STUN) packets from the phone are dropped: the phone's stack must never run ZRTP with
  the far end, the box does.
- Before SECURE, audio follows ``media.clear``: ``pass`` relays it (the status says CLEAR or
  NEGOTIATING), ``mute`` relays silence (G.711 only; other payloads are dropped), ``block``
  relays nothing.
- After SECURE, audio from the phone is SRTP-protected toward the network, SRTP from the network is
  unprotected toward the phone, and anything from the network that does not authenticate (plain
  RTP above all) is dropped, counted, and raised as an alarm: it never reaches the phone.
- A peer without ZRTP leaves the call working in clear, and the status CLEAR.
"""
from micropython import const

PHONE_RTP = const(0)
PHONE_RTCP = const(1)
NET_RTP = const(2)
NET_RTCP = const(3)
LEG_NAMES = ("phone-rtp", "phone-rtcp", "net-rtp", "net-rtcp")

POLICY_PASS = "pass"
POLICY_MUTE = "mute"
POLICY_BLOCK = "block"

# G.711 silence (RFC 3551 section 4.5.14): the codeword for zero amplitude
_SILENCE = {0: 0xFF, 8: 0xD5}

_KIND_RTP = const(1)
_KIND_RTCP = const(2)
_KIND_ZRTP = const(3)
_KIND_STUN = const(4)
_KIND_OTHER = const(0)


def demux(buf, n):
    """What a datagram on a media port is, by its first bytes and the word at offset 4:
    ZRTP (RFC 6189 section 5: version 0, cookie 0x5A525450), STUN (RFC 5389 section 6: top bits
    00, magic cookie 0x2112A442), RTCP (RFC 5761 section 4: version 2, packet type 192-223) or RTP
    (version 2)."""
    if n < 8:
        return _KIND_OTHER
    b0 = buf[0]
    if b0 & 0xC0 == 0x80:
        if n >= 12 or 192 <= buf[1] <= 223:
            return _KIND_RTCP if 192 <= buf[1] <= 223 else _KIND_RTP
        return _KIND_OTHER
    if b0 == 0x10 and buf[4] == 0x5A and buf[5] == 0x52 and buf[6] == 0x54 and buf[7] == 0x50:
        return _KIND_ZRTP
    if b0 & 0xC0 == 0 and buf[4] == 0x21 and buf[5] == 0x12 and buf[6] == 0xA4 and buf[7] == 0x42:
        return _KIND_STUN
    return _KIND_OTHER


def payload_offset(buf, n):
    """Where an RTP packet's payload starts (RFC 3550 section 5.1: CSRCs, extension), or -1."""
    if n < 12:
        return -1
    off = 12 + 4 * (buf[0] & 0x0F)
    if buf[0] & 0x10:
        if off + 4 > n:
            return -1
        off += 4 + 4 * ((buf[off + 2] << 8) | buf[off + 3])
    return off if off <= n else -1


class Counters:
    """What the media path dropped and why; a status line may carry them."""

    def __init__(self):
        self.relayed_out = 0  # phone -> network
        self.relayed_in = 0  # network -> phone
        self.zrtp_from_phone = 0
        self.stun = 0
        self.unknown = 0
        self.clear_held = 0  # audio held back by media.clear = block/mute before SECURE
        self.no_route = 0  # nowhere to send yet
        self.unauthenticated = 0  # network packets after SECURE that failed SRTP/SRTCP checks
        self.replayed = 0
        self.errors = 0

    def as_dict(self):
        return {k: getattr(self, k) for k in ("relayed_out", "relayed_in", "zrtp_from_phone",
                                              "stun", "unknown", "clear_held", "no_route",
                                              "unauthenticated", "replayed", "errors")}


class MediaSession:
    """The media of one call. ``secure`` (an object from :mod:`zerotap.securemedia`, or None in
    clear mode) does ZRTP and SRTP on the network leg."""

    def __init__(self, transmit, policy=POLICY_PASS, secure=None, status=None, log=None):
        self.transmit = transmit
        self.policy = policy
        self.secure = secure
        self.status = status
        self.log = log
        self.remote = [None, None, None, None]  # (host, port) per leg
        self._sdp_host = [None, None]  # per side (0 phone, 1 network): latch only from this host
        self.counters = Counters()
        self.closed = False
        self._alarmed = False
        self._scratch = bytearray(2048)

    # --- addresses from SDP ----------------------------------------------------------------------
    def set_remote(self, side, host, rtp_port, rtcp_port=None):
        """Media of SIDE (0 phone, 1 network) goes to HOST:RTP_PORT (and RTCP_PORT, default +1)."""
        base = 2 * side
        if host is None or rtp_port == 0:
            self.remote[base] = self.remote[base + 1] = None
            self._sdp_host[side] = host
            return
        self._sdp_host[side] = host
        self.remote[base] = (host, rtp_port)
        self.remote[base + 1] = (host, rtcp_port or rtp_port + 1)

    def _latch(self, leg, addr):
        # Symmetric RTP (RFC 4961): answer where the packets come from, but only from the host the
        # SDP named, so that a stranger cannot steal the stream.
        cur = self.remote[leg]
        if cur != addr and (addr[0] == self._sdp_host[leg >> 1] or cur is None and
                            self._sdp_host[leg >> 1] is None):
            self.remote[leg] = addr

    # --- packets ---------------------------------------------------------------------------------
    def receive(self, leg, buf, n, addr, now_ms):
        """A datagram BUF[:N] from ADDR arrived on LEG."""
        if self.closed:
            return
        kind = demux(buf, n)
        if leg <= PHONE_RTCP:
            self._from_phone(leg, kind, buf, n, addr, now_ms)
        else:
            self._from_network(leg, kind, buf, n, addr, now_ms)

    def _from_phone(self, leg, kind, buf, n, addr, now_ms):
        c = self.counters
        if kind == _KIND_ZRTP:
            c.zrtp_from_phone += 1  # RFC 6189 section 10: never let the phone run ZRTP
            return
        if kind == _KIND_STUN:
            c.stun += 1
            return
        if kind != _KIND_RTP and kind != _KIND_RTCP:
            c.unknown += 1
            return
        self._latch(leg, addr)
        out_leg = leg + 2
        dest = self.remote[out_leg]
        if dest is None:
            c.no_route += 1
            return
        sec = self.secure
        if sec is not None and sec.is_secure:
            n = sec.protect(buf, n, kind == _KIND_RTCP)
            if n <= 0:
                c.errors += 1
                return
        elif not self._clear_allowed(kind, buf, n):
            c.clear_held += 1
            return
        c.relayed_out += 1
        self.transmit(out_leg, buf, n, dest)

    def _clear_allowed(self, kind, buf, n):
        """media.clear before SECURE; MUTE rewrites G.711 payloads to silence in place."""
        p = self.policy
        if p == POLICY_PASS:
            return True
        if p == POLICY_BLOCK:
            return False
        if kind == _KIND_RTCP:
            return True  # reports carry no audio
        start = payload_offset(buf, n)
        fill = _SILENCE.get(buf[1] & 0x7F)
        if start < 0 or fill is None:
            return False
        end = n - (buf[n - 1] if buf[0] & 0x20 and n > start else 0)
        for i in range(start, end):
            buf[i] = fill
        return True

    def _from_network(self, leg, kind, buf, n, addr, now_ms):
        c = self.counters
        sec = self.secure
        if kind == _KIND_ZRTP:
            if leg == NET_RTP and sec is not None:
                self._latch(leg, addr)
                sec.receive_zrtp(buf, n, addr, now_ms)
            else:
                c.unknown += 1
            return
        if kind == _KIND_STUN:
            c.stun += 1
            return
        if kind != _KIND_RTP and kind != _KIND_RTCP:
            c.unknown += 1
            return
        if sec is not None and sec.is_secure:
            n2 = sec.unprotect(buf, n, kind == _KIND_RTCP)
            if n2 <= 0:
                if n2 == -2:
                    c.replayed += 1
                    return
                c.unauthenticated += 1
                self._alarm()
                return
            n = n2
        elif sec is not None and sec.failed_closed:
            c.clear_held += 1  # ZRTP failed and the peer sends audio: CLEAR, say so, relay per policy
            if self.policy == POLICY_BLOCK:
                return
        elif not self._clear_allowed(kind, buf, n):
            c.clear_held += 1
            return
        self._latch(leg, addr)
        dest = self.remote[leg - 2]
        if dest is None:
            c.no_route += 1
            return
        c.relayed_in += 1
        self.transmit(leg - 2, buf, n, dest)

    def _alarm(self):
        # Plain or forged media after SECURE: drop it, count it, tell the user once per burst.
        if not self._alarmed and self.status is not None:
            self._alarmed = True
            self.status.alarm("unauthenticated media from the network after SECURE, dropped")
        if self.log:
            n = self.counters.unauthenticated
            if n & (n - 1) == 0:  # 1, 2, 4, 8, ...: a log line that cannot flood
                self.log("media: %d unauthenticated packets dropped after SECURE" % n)

    # --- ZRTP timers -----------------------------------------------------------------------------
    def timer(self):
        sec = self.secure
        return sec.timer() if sec is not None else None

    def handle_timer(self, now_ms):
        if self.secure is not None:
            self.secure.handle_timer(now_ms)

    def close(self):
        self.closed = True
        if self.secure is not None:
            self.secure.close()

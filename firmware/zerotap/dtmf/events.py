"""RFC 4733 telephone-events: the DTMF keys as RTP packets (the "telephone-event" payload).

Payload (RFC 4733 section 2.3)::

     0                   1                   2                   3
     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |     event     |E|R| volume    |          duration             |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

:class:`EventSender` joins an RTP stream the box relays: it keeps the stream's SSRC and continues
its sequence numbers and timestamps, and gives back the packets to send over time (sans-IO, driven
by ``now_ms``). :class:`EventReceiver` turns received packets into key presses, each exactly once,
whatever the loss, duplication or reordering: a key is identified by its event code and RTP
timestamp (section 2.5.2.1), never by the marker bit.
"""
import struct

from micropython import const

from zerotap.dtmf import EVENT_DIGITS, check_digits

PAYLOAD_LEN = const(4)
RTP_HEADER_LEN = const(12)  # RFC 3550 section 5.1, without CSRCs
RTP_VERSION = const(2)
E_BIT = const(0x80)
R_BIT = const(0x40)
VOLUME_MASK = const(0x3F)
DURATION_MAX = const(0xFFFF)
END_PACKETS = const(3)  # section 2.5.1.4: the final packet is sent a total of three times
DEFAULT_PT = 101  # a common dynamic payload type for telephone-event/8000


# ---- payload ---------------------------------------------------------------------------------

def parse_event(payload):
    """One telephone-event payload block: ``(event, end, volume, duration)``.

    Only the first 4-byte block is read; RFC 2198 redundancy is not supported.
    """
    if len(payload) < PAYLOAD_LEN:
        raise ValueError("telephone-event: payload of %d bytes, need 4" % len(payload))
    event = payload[0]
    flags = payload[1]
    duration = (payload[2] << 8) | payload[3]
    return event, bool(flags & E_BIT), flags & VOLUME_MASK, duration


def build_event(event, end, volume, duration):
    """The 4-byte telephone-event payload (R bit zero, section 2.3.3)."""
    if not 0 <= event <= 255:
        raise ValueError("telephone-event: event %r out of 0..255" % (event,))
    if not 0 <= volume <= VOLUME_MASK:
        raise ValueError("telephone-event: volume %r out of 0..63" % (volume,))
    if not 0 <= duration <= DURATION_MAX:
        raise ValueError("telephone-event: duration %r out of 0..65535" % (duration,))
    return bytes((event, (E_BIT if end else 0) | volume, duration >> 8, duration & 0xFF))


def event_code(digit):
    i = EVENT_DIGITS.find(digit)
    if i < 0:
        raise ValueError("telephone-event: %r is not a DTMF symbol" % (digit,))
    return i


# ---- RTP header (RFC 3550 section 5.1), just what the events need ---------------------------

def build_rtp(marker, payload_type, seq, timestamp, ssrc, payload):
    """A version-2 RTP packet without padding, extension or CSRCs."""
    return struct.pack(">BBHII", RTP_VERSION << 6, (0x80 if marker else 0) | payload_type,
                       seq & 0xFFFF, timestamp & 0xFFFFFFFF, ssrc & 0xFFFFFFFF) + bytes(payload)


def parse_rtp(packet):
    """``(marker, payload_type, seq, timestamp, ssrc, payload)`` of an RTP packet."""
    n = len(packet)
    if n < RTP_HEADER_LEN:
        raise ValueError("rtp: packet of %d bytes, header needs 12" % n)
    b0, b1, seq, ts, ssrc = struct.unpack(">BBHII", packet[:RTP_HEADER_LEN])
    if b0 >> 6 != RTP_VERSION:
        raise ValueError("rtp: version %d, expected 2" % (b0 >> 6))
    start = RTP_HEADER_LEN + 4 * (b0 & 0x0F)
    if b0 & 0x10:  # header extension: 16-bit profile, 16-bit length in words
        if n < start + 4:
            raise ValueError("rtp: extension header cut short")
        start += 4 + 4 * ((packet[start + 2] << 8) | packet[start + 3])
    end = n
    if b0 & 0x20:  # padding: the last byte counts the padding bytes
        end -= packet[n - 1]
    if start > end:
        raise ValueError("rtp: header of %d bytes in a packet of %d" % (start, n))
    return bool(b1 & 0x80), b1 & 0x7F, seq, ts, ssrc, bytes(packet[start:end])


# ---- sender ----------------------------------------------------------------------------------

class EventSender:
    """Plays keys as RFC 4733 events on a stream that the box relays, sans-IO.

    The media path calls :meth:`start` with the stream's last sent sequence number and timestamp
    (and when that timestamp was current), then sends what :meth:`datagrams_to_send` returns at
    the times :meth:`get_timer` asks for. While ``busy`` it holds the stream's audio back. Once
    done, it resumes the stream at ``next_seq`` with the timestamp :meth:`timestamp_at` gives.

    Each key: an event timestamp = the stream's timestamp when the key starts; a packet every
    ``interval_ms`` with the duration so far (the first with the marker bit, section 2.5.1.2);
    the final packet, E bit set, three times (section 2.5.1.4); every packet gets the next
    sequence number (section 2.5.1.6). Keys follow each other ``tone_ms + gap_ms`` apart.
    """

    def __init__(self, ssrc, payload_type=DEFAULT_PT, clock_rate=8000, interval_ms=20,
                 tone_ms=80, gap_ms=60, volume=10):
        if not 0 <= payload_type <= 127:
            raise ValueError("telephone-event: payload type %r out of 0..127" % (payload_type,))
        if interval_ms <= 0 or tone_ms <= 0 or gap_ms < 0:
            raise ValueError("telephone-event: interval_ms and tone_ms must be > 0, gap_ms >= 0")
        if tone_ms * clock_rate // 1000 > DURATION_MAX:
            raise ValueError("telephone-event: tone_ms %d exceeds the 16-bit duration" % tone_ms)
        if not 0 <= volume <= VOLUME_MASK:
            raise ValueError("telephone-event: volume %r out of 0..63" % (volume,))
        self.ssrc = ssrc & 0xFFFFFFFF
        self.payload_type = payload_type
        self.clock_rate = clock_rate
        self.interval_ms = interval_ms
        self.tone_ms = tone_ms
        self.gap_ms = gap_ms
        self.volume = volume
        self._queue = []  # (due_ms, marker, event, end, duration, key_start_ms)
        self._base_ts = 0
        self._base_ms = 0
        self.next_seq = 0

    def start(self, digits, now_ms, last_seq, last_timestamp, last_timestamp_ms=None):
        """Queue DIGITS, starting at NOW_MS, continuing the stream after LAST_SEQ/LAST_TIMESTAMP.

        LAST_TIMESTAMP was the stream's timestamp at LAST_TIMESTAMP_MS (default NOW_MS).
        """
        digits = check_digits(digits)
        if self._queue:
            raise ValueError("telephone-event: still sending, wait until done")
        self.next_seq = (last_seq + 1) & 0xFFFF
        self._base_ts = last_timestamp & 0xFFFFFFFF
        self._base_ms = now_ms if last_timestamp_ms is None else last_timestamp_ms
        iv = self.interval_ms
        updates = (self.tone_ms + iv - 1) // iv
        for i, digit in enumerate(digits):
            t0 = now_ms + i * (self.tone_ms + self.gap_ms)
            code = event_code(digit)
            for k in range(1, updates + 1):
                last = k == updates
                dur = self.tone_ms if last else k * iv
                for r in range(END_PACKETS if last else 1):
                    self._queue.append((t0 + (k + r) * iv, k == 1 and r == 0, code, last,
                                        dur * self.clock_rate // 1000, t0))
        # Retransmitted ends of one key may fall after the next key's first update: keep time order.
        self._queue.sort(key=lambda p: p[0])

    @property
    def busy(self):
        return bool(self._queue)

    def cancel(self):
        """Drop what is still queued (a key cut short); ``next_seq`` stays where the stream is."""
        self._queue = []

    def timestamp_at(self, now_ms):
        """The stream's RTP timestamp at NOW_MS (it runs on with the clock while events play)."""
        return (self._base_ts + (now_ms - self._base_ms) * self.clock_rate // 1000) & 0xFFFFFFFF

    def get_timer(self):
        """When the next packet is due (ms), or None."""
        return self._queue[0][0] if self._queue else None

    def datagrams_to_send(self, now_ms):
        """The packets due at NOW_MS, in order."""
        out = []
        while self._queue and self._queue[0][0] <= now_ms:
            due, marker, code, end, duration, t0 = self._queue.pop(0)
            payload = build_event(code, end, self.volume, duration)
            out.append(build_rtp(marker, self.payload_type, self.next_seq, self.timestamp_at(t0),
                                 self.ssrc, payload))
            self.next_seq = (self.next_seq + 1) & 0xFFFF
        return out


# ---- receiver --------------------------------------------------------------------------------

KEY_DOWN = "down"
KEY_UP = "up"
_RECENT = const(32)  # events remembered for de-duplication
_STALE = const(80000)  # a timestamp this far behind the newest event is a leftover (10 s at 8 kHz)


def _ts_diff(a, b):
    """a - b in 32-bit serial arithmetic (RFC 1982 style), signed."""
    d = (a - b) & 0xFFFFFFFF
    return d - 0x100000000 if d & 0x80000000 else d


class EventReceiver:
    """Turns telephone-event packets into key presses, sans-IO.

    :meth:`receive` returns a list of ``(KEY_DOWN, digit, timestamp, 0)`` when a key is first
    seen, and ``(KEY_UP, digit, timestamp, duration)`` when its end is known: an E-bit packet, or
    ``end_timeout_ms`` without news (:meth:`handle_timer`). Each key is reported once, identified
    by (event, RTP timestamp) and never by the marker bit (section 2.5.2.1); duplicates, late
    packets and retransmitted ends are ignored. Non-DTMF events (flash and others) are ignored.
    """

    def __init__(self, payload_type=DEFAULT_PT, clock_rate=8000, end_timeout_ms=500):
        self.payload_type = payload_type
        self.clock_rate = clock_rate
        self.end_timeout_ms = end_timeout_ms
        self._ssrc = None
        self._recent = []  # [event, timestamp, ended, duration, last_ms], oldest first
        self._newest = None

    def receive_packet(self, packet, now_ms):
        """Parse an RTP packet and pass its telephone-event to :meth:`receive` (other payload
        types give no events). A malformed packet raises ValueError."""
        marker, pt, seq, ts, ssrc, payload = parse_rtp(packet)
        if pt != self.payload_type:
            return []
        return self.receive(ssrc, ts, payload, now_ms)

    def receive(self, ssrc, timestamp, payload, now_ms):
        """One telephone-event payload with its RTP SSRC and timestamp."""
        event, end, volume, duration = parse_event(payload)
        out = self.handle_timer(now_ms)
        if ssrc != self._ssrc:  # a new stream: forget the old one's events
            self._ssrc = ssrc
            self._recent = []
            self._newest = None
        if event >= len(EVENT_DIGITS):
            return out
        digit = EVENT_DIGITS[event]
        for rec in self._recent:
            if rec[0] == event and rec[1] == timestamp:
                rec[4] = now_ms
                if duration > rec[3]:
                    rec[3] = duration
                if end and not rec[2]:
                    rec[2] = True
                    out.append((KEY_UP, digit, timestamp, rec[3]))
                return out
        if self._newest is not None and _ts_diff(timestamp, self._newest) < -_STALE:
            return out  # a leftover of an event long forgotten
        if self._newest is None or _ts_diff(timestamp, self._newest) > 0:
            self._newest = timestamp
        self._recent.append([event, timestamp, end, duration, now_ms])
        if len(self._recent) > _RECENT:
            self._recent.pop(0)
        out.append((KEY_DOWN, digit, timestamp, 0))
        if end:
            out.append((KEY_UP, digit, timestamp, duration))
        return out

    def get_timer(self):
        """When an unfinished key times out (ms), or None."""
        t = None
        for rec in self._recent:
            if not rec[2]:
                due = rec[4] + self.end_timeout_ms
                if t is None or due < t:
                    t = due
        return t

    def handle_timer(self, now_ms):
        """Keys whose end packets were all lost: ``KEY_UP`` with the last duration seen."""
        out = []
        for rec in self._recent:
            if not rec[2] and now_ms >= rec[4] + self.end_timeout_ms:
                rec[2] = True
                out.append((KEY_UP, EVENT_DIGITS[rec[0]], rec[1], rec[3]))
        return out

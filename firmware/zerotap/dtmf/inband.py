"""In-band DTMF in an RTP stream of G.711, sans-IO: what the ICE fallback's number exchange uses
when the provider path carries no telephone-event (a PSTN leg, a provider that strips RFC 4733
events or renders them as tones).

    s = ToneSender(ssrc, pt=0)                             # PT 0 (PCMU) or 8 (PCMA)
    s.start("*A123...", now_ms, last_seq, last_ts, last_ts_ms)
    s.get_timer(); s.datagrams_to_send(now_ms)             # RTP packets of 20 ms, paced
    r = ToneReceiver()
    r.receive_packet(packet, n)  -> ["*", ...]             # keys confirmed in that packet

:class:`ToneSender` has :class:`zerotap.dtmf.events.EventSender`'s interface (``start``,
``busy``, ``cancel``, ``next_seq``, ``get_timer``, ``datagrams_to_send``), so the fallback plays
either in the phone's stream: the phone's SSRC, its sequence numbers and timestamps continued, one
packet of ``ptime_ms`` every ``ptime_ms`` (the first with the marker bit: a talkspurt starts),
the tones from :class:`zerotap.dtmf.tones.ToneGenerator` encoded with the G.711 tables.

:class:`ToneReceiver` feeds the G.711 payloads of a stream (PT 0 or 8; other payload types are
not audio it can read) to one :class:`zerotap.dtmf.detector.Detector` per codec, made on first
use (4.6 KB on the unix port).
"""
from zerotap import g711
from zerotap.dtmf import check_digits
from zerotap.dtmf import events as _events
from zerotap.dtmf import tones as _tones
from zerotap.dtmf.detector import Detector

CODECS = {0: g711.PCMU, 8: g711.PCMA}
TONE_MS = 100  # five 20 ms packets: with any one of them lost, 40 ms of tone stay in one piece
GAP_MS = 60  # (the detector finds every 40 ms tone); 10 % loss: test_ice_fallback_paths.py


class ToneSender:
    def __init__(self, ssrc, payload_type=0, tone_ms=TONE_MS, gap_ms=GAP_MS, ptime_ms=20,
                 level_dbm0=_tones.LEVEL_DBM0, twist_db=_tones.TWIST_DB, clock_rate=8000):
        if payload_type not in CODECS:
            raise ValueError("dtmf tones: payload type %r is not G.711 (0 PCMU or 8 PCMA)"
                             % (payload_type,))
        if ptime_ms <= 0 or ptime_ms > 60:
            raise ValueError("dtmf tones: ptime_ms must be 1..60, not %r" % (ptime_ms,))
        self.ssrc = ssrc & 0xFFFFFFFF
        self.payload_type = payload_type
        self.codec = CODECS[payload_type]
        self.tone_ms = tone_ms
        self.gap_ms = gap_ms
        self.ptime_ms = ptime_ms
        self.level_dbm0 = level_dbm0
        self.twist_db = twist_db
        self.clock_rate = clock_rate
        self._gen = None
        self._due = None  # the next packet's time (ms)
        self._ts = 0  # the next packet's RTP timestamp
        self._first = False
        self._frame = bytearray(clock_rate * ptime_ms // 1000)
        self._base_ts = 0
        self._base_ms = 0
        self.next_seq = 0

    def start(self, digits, now_ms, last_seq, last_timestamp, last_timestamp_ms=None):
        """Queue DIGITS from NOW_MS on, continuing the stream after LAST_SEQ/LAST_TIMESTAMP
        (the stream's timestamp at LAST_TIMESTAMP_MS, default NOW_MS)."""
        digits = check_digits(digits)
        if self.busy:
            raise ValueError("dtmf tones: still sending, wait until done")
        self._gen = _tones.ToneGenerator(digits, self.tone_ms, self.gap_ms, self.level_dbm0,
                                         self.twist_db)
        self.next_seq = (last_seq + 1) & 0xFFFF
        self._base_ts = last_timestamp & 0xFFFFFFFF
        self._base_ms = now_ms if last_timestamp_ms is None else last_timestamp_ms
        self._ts = self.timestamp_at(now_ms)
        self._due = now_ms
        self._first = True

    @property
    def busy(self):
        return self._gen is not None

    def cancel(self):
        """Stop at once (a frame cut short); ``next_seq`` stays where the stream is."""
        self._gen = None
        self._due = None

    def timestamp_at(self, now_ms):
        return (self._base_ts + (now_ms - self._base_ms) * self.clock_rate // 1000) & 0xFFFFFFFF

    def get_timer(self):
        return self._due if self._gen is not None else None

    def datagrams_to_send(self, now_ms):
        """The packets due at NOW_MS, in order (one per ``ptime_ms`` of audio)."""
        out = []
        frame = self._frame
        while self._gen is not None and self._due <= now_ms:
            self._gen.read_frame(self.codec, frame)
            out.append(_events.build_rtp(self._first, self.payload_type, self.next_seq,
                                         self._ts, self.ssrc, bytes(frame)))
            self._first = False
            self.next_seq = (self.next_seq + 1) & 0xFFFF
            self._ts = (self._ts + len(frame)) & 0xFFFFFFFF
            self._due += self.ptime_ms
            if self._gen.done:
                self._gen = None
                self._due = None
        return out


class ToneReceiver:
    """Keys found in the G.711 audio of one RTP stream (any SSRC: the provider may renumber)."""

    def __init__(self):
        self._det = {}  # payload type -> Detector

    def receive_packet(self, packet, n=None):
        """Feed the payload of the RTP PACKET (its first N bytes); return the keys confirmed in
        it (a list, often empty). Packets that are not G.711 are ignored."""
        if n is None:
            n = len(packet)
        if n < 13 or packet[0] & 0xC0 != 0x80:
            return []
        pt = packet[1] & 0x7F
        if pt not in CODECS:
            return []
        start = 12 + 4 * (packet[0] & 0x0F)
        if packet[0] & 0x10:  # header extension
            if n < start + 4:
                return []
            start += 4 + 4 * ((packet[start + 2] << 8) | packet[start + 3])
        end = n
        if packet[0] & 0x20:  # padding
            end -= packet[n - 1]
        if end <= start:
            return []
        det = self._det.get(pt)
        if det is None:
            det = self._det[pt] = Detector(CODECS[pt])
        found = det.feed(memoryview(packet)[start:end])
        return [k for k, _ in found]

    def close(self):
        self._det = {}

"""The phone's keypad on the media path: RFC 4733 telephone-events from the phone are matched
against the keypad codes, sans-IO, one filter per call (phone -> network only).

    keys = PhoneKeys(KeypadMatcher(codes), on_action, log, call)  # zerotap.ui.keypad
    keys.add_event_types((101,))                          # telephone-event payload types (SDP)
    verdict = keys.filter(buf, n, now_ms)                 # every RTP packet from the phone
        PASS      forward it as it is
        RENUMBER  call keys.renumber(buf) (a writable copy), then forward it
        DROP      do not forward it
    keys.timer()                                          # next deadline (ms) or None
    for packet in keys.handle_timer(now_ms): ...          # re-sent keys, toward the network

- A key that forms, or may still start, a code (``*#1``) is held back: none of its packets are
  forwarded. A complete code becomes ``on_action(action)`` (``verified``/``unverified``) and its
  keys are never forwarded. With CALL (the call's status), the code acts only when the call's SAS
  is still the one it had at the code's first key: a new exchange meanwhile (the far media moved)
  brought a SAS nobody compared.
- Keys that form no code (``*`` then ``5``, or ``*`` alone for longer than the matcher's timeout)
  are released: re-sent as new RFC 4733 events (:class:`zerotap.dtmf.events.EventSender`) with the
  phone's SSRC and payload type, sequence numbers continuing the stream and timestamps running on
  with its clock (RFC 4733 section 2.5.1). While they play, the phone's own packets are held back,
  so that the events and the audio never share sequence numbers.
- An ordinary key while nothing is held back passes live, packet for packet: the box adds no delay.
- Sequence numbers: every packet held back or dropped is taken out of the numbering, every re-sent
  packet adds one, so the network leg sees one gapless stream (RFC 3550 section 5.1: a gap would
  read as loss), and SRTP's index estimation (RFC 3711 section 3.3.1) stays in step.

A packet counts as a telephone-event only when its payload type is one the SDP mapped to
``telephone-event`` and its payload is one 4-byte event block (section 2.3): a mistaken payload
type can then never turn audio into keys. Payload types stay empty until the SDP names one, and
then every packet passes untouched.
"""
import micropython
from micropython import const

from zerotap import rtp as _rtp
from zerotap.dtmf import EVENT_DIGITS
from zerotap.dtmf import events as _events
from zerotap.ui.keypad import ACTION, FORWARD

PASS = const(0)
RENUMBER = const(1)
DROP = const(-1)

_RECENT_KEYS = const(16)  # keys whose verdict is remembered (for their update and end packets)
_CLOCK_RATE = const(8000)  # telephone-event/8000 (RFC 4733 section 7.1.1)


class PhoneKeys:
    def __init__(self, matcher, on_action, log=None, call=None):
        self.matcher = matcher
        self.on_action = on_action
        self.log = log
        self.call = call
        self._sas = None  # the call's SAS at the first key of the code being typed
        self.event_types = []
        self.caught = 0  # keys held back (those of codes, and those released later)
        self.released = 0  # keys re-sent
        self.actions = 0  # codes recognised
        self._reset(-1, -1)

    def _reset(self, ssrc_hi, ssrc_lo):
        # A new stream (a new SSRC, RFC 3550 section 8): its own numbering and its own keys. The
        # SSRC and timestamps are kept as 16-bit halves and bytes: a board's small ints hold
        # 30 bits, and the media path must not allocate per packet.
        self._ssrc_hi = ssrc_hi
        self._ssrc_lo = ssrc_lo
        self._highest = -1  # the newest sequence number seen from the phone (-1: none yet)
        self.delta = 0  # sequence number toward the network = from the phone + delta
        self._last_out = None  # the newest sequence number the network leg got
        self._receiver = _events.EventReceiver()
        self._keys = []  # [event, timestamp, live]
        self._pending = ""  # keys to re-send once the sender is free
        self._sender = None
        self._pt = None  # the payload type the phone's events use
        self._clock = bytearray(4)  # the newest packet's RTP timestamp: the stream's clock ...
        self._clock_ms = -1  # ... at this time (-1: none yet)
        self.matcher.held = ""

    def add_event_types(self, types):
        for pt in types:
            if 0 <= pt <= 127 and pt not in self.event_types:
                self.event_types.append(pt)

    # --- packets from the phone ------------------------------------------------------------------
    @micropython.native
    def filter(self, buf, n, now_ms):
        """An RTP packet BUF[:N] from the phone: PASS, RENUMBER or DROP. Audio allocates nothing."""
        if n < 12 or buf[0] >> 6 != 2:
            return PASS  # the media path counts what it cannot parse
        hi = (buf[8] << 8) | buf[9]
        lo = (buf[10] << 8) | buf[11]
        if hi != self._ssrc_hi or lo != self._ssrc_lo:
            self._reset(hi, lo)
        seq = (buf[2] << 8) | buf[3]
        h = self._highest
        # newer: 1 to 32767 ahead in 16-bit serial arithmetic (RFC 1982)
        newer = h < 0 or 0 < ((seq - h) & 0xFFFF) < 0x8000
        if newer:
            self._highest = seq
        live = -1
        if self.event_types and (buf[1] & 0x7F) in self.event_types:
            live = self._event(buf, n, now_ms)
        if live < 0:  # audio (or anything that is not one DTMF event block)
            live = 1 if self._sender is None else 0
            if newer:
                c = self._clock
                c[0] = buf[4]
                c[1] = buf[5]
                c[2] = buf[6]
                c[3] = buf[7]
                self._clock_ms = now_ms
        if not live:
            if newer:
                self.delta -= 1  # close the gap the held-back packet leaves
            return DROP
        if newer:
            self._last_out = (seq + self.delta) & 0xFFFF
        return RENUMBER if self.delta & 0xFFFF else PASS

    def renumber(self, buf):
        seq = (((buf[2] << 8) | buf[3]) + self.delta) & 0xFFFF
        buf[2] = seq >> 8
        buf[3] = seq & 0xFF

    def _event(self, buf, n, now_ms):
        """1 when this telephone-event packet passes live, 0 when it is held back, -1 when it is
        not one event block after all."""
        hl = _rtp.header_length(buf, n)
        end = n - buf[n - 1] if buf[0] & 0x20 else n  # RTP padding (RFC 3550 section 5.1)
        if hl < 0 or end - hl != _events.PAYLOAD_LEN:
            return -1
        pt = buf[1] & 0x7F
        ssrc = (self._ssrc_hi << 16) | self._ssrc_lo
        ts = int.from_bytes(bytes(buf[4:8]), "big")
        payload = bytes(buf[hl:hl + _events.PAYLOAD_LEN])
        event = payload[0]
        duration = (payload[2] << 8) | payload[3]
        clock = (ts + duration) & 0xFFFFFFFF  # where the stream's clock is now, near enough
        if self._clock_ms < 0 or ((clock - self._clock_int()) & 0xFFFFFFFF) < 0x80000000:
            self._clock[:] = clock.to_bytes(4, "big")
            self._clock_ms = now_ms
        for kind, digit, key_ts, _ in self._receiver.receive(ssrc, ts, payload, now_ms):
            if kind == _events.KEY_DOWN and key_ts == ts and EVENT_DIGITS[event] == digit:
                self._pt = pt
                self._keys.append([event, ts, self._key_down(digit, now_ms)])
                if len(self._keys) > _RECENT_KEYS:
                    self._keys.pop(0)
        for rec in self._keys:
            if rec[0] == event and rec[1] == ts:
                return 1 if rec[2] else 0
        return 1 if self._sender is None else 0  # not a DTMF key (flash, ...): like audio

    def _clock_int(self):
        return int.from_bytes(bytes(self._clock), "big")

    def _key_down(self, digit, now_ms):
        forwarded = ""
        d = self.matcher.deadline()
        for kind, value in self.matcher.feed(digit, now_ms):
            if kind == FORWARD:
                forwarded += value
            elif kind == ACTION:
                self.actions += 1
                ok = self.call is None or self.call.sas == self._sas
                if self.log:
                    self.log("keypad: code for %s%s" % (value, "" if ok else
                                                        " ignored: a new SAS since its first key"))
                if ok:
                    self.on_action(value)
        if self.call is not None and self.matcher.deadline() != d:
            self._sas = self.call.sas  # a code began: it is for the SAS shown now
        if (forwarded == digit and not self.matcher.held and not self._pending
                and self._sender is None):
            return True  # an ordinary key, nothing held back before it: it passes as it comes
        self.caught += 1
        if forwarded:
            self._release(forwarded, now_ms)
        return False

    # --- re-sending released keys ------------------------------------------------------------------
    def _release(self, keys, now_ms):
        self._pending += keys
        self.released += len(keys)
        if self._sender is None:
            self._start(now_ms)

    def _start(self, now_ms):
        if not self._pending or self._pt is None:
            self._pending = ""
            return
        last = self._last_out
        if last is None:  # nothing forwarded yet: go on from just before the held-back packets
            last = (self._highest + self.delta) & 0xFFFF
        sender = _events.EventSender((self._ssrc_hi << 16) | self._ssrc_lo, self._pt, _CLOCK_RATE)
        sender.start(self._pending, now_ms, last, self._clock_int(), self._clock_ms)
        self._pending = ""
        self._sender = sender

    def timer(self):
        t = self.matcher.deadline()
        if self._sender is not None:
            s = self._sender.get_timer()
            if s is not None and (t is None or s < t):
                t = s
        return t

    def handle_timer(self, now_ms):
        """Keys held back too long are released; returns the re-sent packets now due."""
        for kind, value in self.matcher.poll(now_ms):
            if kind == FORWARD:
                self._release(value, now_ms)
        sender = self._sender
        if sender is None:
            return []
        out = sender.datagrams_to_send(now_ms)
        if out:
            self.delta += len(out)
            self._last_out = (sender.next_seq - 1) & 0xFFFF
        if not sender.busy:
            self._sender = None
            if self._pending:
                self._start(now_ms)
        return out

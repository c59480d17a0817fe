"""In-band DTMF generation: the two sines of each key, at a configurable level and timing.

The output is 8 kHz 16-bit linear audio (little-endian bytes) or G.711 frames (PCMU/PCMA) that the
box can put into the RTP stream it relays. Synthesis is integer-only and identical on every
runtime: a 30-bit phase accumulator per tone and a 1024-entry sine table.

Defaults follow the ZSipOs boxes' number exchange: 80 ms of tone and 60 ms of pause per key. Levels
are per tone in dBm0 (0 dBm0 is a sine of peak :data:`DBM0_PEAK`); ``twist_db`` raises the column
tone above the row tone, as telephones do (ITU-T Q.23 allows the high group to be louder).
"""
import math
import sys
from array import array

import micropython
from micropython import const

from zerotap import g711
from zerotap.dtmf import check_digits, key_frequencies
from zerotap.dtmf.detector import DBM0_PEAK, LINEAR, RATE

TONE_MS = 80
GAP_MS = 60
LEVEL_DBM0 = -8.0
TWIST_DB = 2.0

_PHASE_BITS = const(30)  # phase accumulator width: fits a MicroPython small int on 32 bits
_PHASE_MASK = const(0x3FFFFFFF)
_INDEX_SHIFT = const(20)  # 30-bit phase -> 10-bit table index
_SINE = array("h", [int(round(16384 * math.sin(2 * math.pi * i / 1024))) for i in range(1024)])

_MICROPYTHON = sys.implementation.name == "micropython"

# Synth state, array('i'): phase, increment, amplitude of the row tone, then of the column tone.
_PH_R = const(0)
_INC_R = const(1)
_AMP_R = const(2)
_PH_C = const(3)
_INC_C = const(4)
_AMP_C = const(5)


@micropython.viper
def _synth_viper(out, off: int, n: int, st, table):
    o = ptr16(out)
    s = ptr32(st)
    t = ptr16(table)
    pr = int(s[0])
    ir = int(s[1])
    ar = int(s[2])
    pc = int(s[3])
    ic = int(s[4])
    ac = int(s[5])
    i = 0
    while i < n:
        # Table values are Q14 (|v| <= 16384) and amplitudes <= 32767: each product < 2**29.
        vr = (t[pr >> 20] ^ 0x8000) - 0x8000
        vc = (t[pc >> 20] ^ 0x8000) - 0x8000
        v = (vr * ar + vc * ac) >> 14
        if v > 32767:
            v = 32767
        elif v < -32768:
            v = -32768
        o[off + i] = v
        pr = (pr + ir) & 0x3FFFFFFF
        pc = (pc + ic) & 0x3FFFFFFF
        i += 1
    s[0] = pr
    s[3] = pc


def _synth_python(out, off, n, st, table):
    samples = memoryview(out).cast("h")
    pr, ir, ar, pc, ic, ac = st[0], st[1], st[2], st[3], st[4], st[5]
    for i in range(off, off + n):
        v = (table[pr >> 20] * ar + table[pc >> 20] * ac) >> 14
        samples[i] = 32767 if v > 32767 else (-32768 if v < -32768 else v)
        pr = (pr + ir) & 0x3FFFFFFF
        pc = (pc + ic) & 0x3FFFFFFF
    st[0] = pr
    st[3] = pc


_synth = _synth_viper if _MICROPYTHON else _synth_python


def amplitude(level_dbm0):
    """Peak amplitude in 16-bit linear PCM of a sine at LEVEL_DBM0."""
    return int(round(DBM0_PEAK * 10 ** (level_dbm0 / 20)))


class ToneGenerator:
    """Plays DIGITS as DTMF, sans-IO: the caller pulls samples or frames at its own pace.

    Each key is ``tone_ms`` of tone followed by ``gap_ms`` of silence; ``lead_ms`` of silence
    comes first. ``level_dbm0`` is the row tone's level, ``level_dbm0 + twist_db`` the column's.
    """

    def __init__(self, digits, tone_ms=TONE_MS, gap_ms=GAP_MS, level_dbm0=LEVEL_DBM0,
                 twist_db=TWIST_DB, lead_ms=0):
        self.digits = check_digits(digits)
        if tone_ms <= 0 or gap_ms < 0 or lead_ms < 0:
            raise ValueError("dtmf tones: tone_ms must be > 0, gap_ms and lead_ms >= 0")
        if level_dbm0 > 0 or level_dbm0 + twist_db > 0:
            raise ValueError("dtmf tones: levels above 0 dBm0 per tone would clip")
        self._tone = tone_ms * RATE // 1000
        self._gap = gap_ms * RATE // 1000
        self._lead = lead_ms * RATE // 1000
        self._amp_r = amplitude(level_dbm0)
        self._amp_c = amplitude(level_dbm0 + twist_db)
        self._st = array("i", [0] * 6)
        self._pos = 0  # sample position in the whole sequence
        self.total = self._lead + len(self.digits) * (self._tone + self._gap)
        self._scratch = None

    @property
    def done(self):
        return self._pos >= self.total

    def _start_key(self, digit):
        fr, fc = key_frequencies(digit)
        st = self._st
        st[_PH_R] = 0
        st[_INC_R] = (fr << _PHASE_BITS) // RATE
        st[_AMP_R] = self._amp_r
        st[_PH_C] = 0
        st[_INC_C] = (fc << _PHASE_BITS) // RATE
        st[_AMP_C] = self._amp_c

    def read(self, out, n, offset=0):
        """Write up to N linear samples into OUT (a bytearray) from sample OFFSET; return how many.

        Returns 0 once every key was played.
        """
        if (offset + n) * 2 > len(out):
            raise ValueError("dtmf tones: output holds %d samples, %d asked at %d"
                             % (len(out) // 2, n, offset))
        written = 0
        period = self._tone + self._gap
        while written < n and self._pos < self.total:
            p = self._pos - self._lead
            if p < 0:
                k = min(n - written, -p)
                _silence(out, offset + written, k)
            else:
                key, within = divmod(p, period)
                if within < self._tone:
                    if within == 0:
                        self._start_key(self.digits[key])
                    k = min(n - written, self._tone - within)
                    _synth(out, offset + written, k, self._st, _SINE)
                else:
                    k = min(n - written, period - within)
                    _silence(out, offset + written, k)
            written += k
            self._pos += k
        return written

    def read_frame(self, codec, frame):
        """Fill FRAME with the next ``len(frame)`` samples (G.711 bytes, or linear when codec is
        LINEAR and the frame holds 16-bit samples), padding with silence at the end.

        Returns False when nothing was left to play (FRAME is then silence).
        """
        if codec == LINEAR:
            n = len(frame) // 2
            got = self.read(frame, n)
            _silence(frame, got, n - got)
            return got > 0
        n = len(frame)
        if self._scratch is None or len(self._scratch) < 2 * n:
            self._scratch = bytearray(2 * n)
        got = self.read(self._scratch, n)
        _silence(self._scratch, got, n - got)
        g711.encode(codec, self._scratch, frame, n)
        return got > 0


def _silence(out, off, n):
    for i in range(2 * off, 2 * (off + n)):
        out[i] = 0


def generate(digits, **options):
    """The whole DTMF sequence for DIGITS as 16-bit little-endian linear samples (a bytearray)."""
    gen = ToneGenerator(digits, **options)
    out = bytearray(2 * gen.total)
    gen.read(out, gen.total)
    return out

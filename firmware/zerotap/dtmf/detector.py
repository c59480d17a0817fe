"""In-band DTMF detection: a Goertzel filter bank over 8 kHz audio (PCMU, PCMA or 16-bit linear).

The audio is cut into blocks of 80 samples (10 ms). For each block, eight Goertzel filters give the
complex spectrum at the eight DTMF frequencies, and the block energy is summed (the front end, the
only per-sample work). Each block is then judged (the decision), in the manner of ITU-T Q.24:

- energy: both tones at least ``LEVEL_MIN_DBM0`` per tone, and the two tones together carry at
  least 70 % of the block's energy (speech, music and noise spread theirs);
- twist: the column tone at most 9 dB above the row tone ("normal"), at most 5 dB below it
  ("reverse"), measured over two blocks (11 and 7 dB over one); Q.24 asks for 8 and 4 dB;
- relative peak: every other filter of each group at least 3 dB under the strongest;
- frequency: the phase advance of each tone from one block to the next measures its frequency; it
  must lie within 2.5 % of the nominal one, which accepts the +-1.5 % and rejects the +-3.5 % of
  Q.24 (a tone so far off that the phase wraps loses the energy test instead);
- steadiness: block energy within 1.6 dB, each tone's power within 6 dB, of the previous
  block's.

A block *hits* a key when it and the previous block pass these tests with the same key. Two hits
in a row (three blocks, 30 ms of tone) confirm the key once the second harmonics pass: over the
last two blocks, both harmonics together at least 10 dB under both tones (speech has strong
harmonics; sines do not). So a 40 ms tone is always found, and a tone of 23 ms or less never is:
the outer blocks must hold about 70 % tone to pass (at 80 alignments to the blocks, none of the
23 ms tones is found, a few of the 25 ms ones, all from 36 ms). The key ends after four blocks
without a hit: a pause of 40 ms always separates two presses, and a break of up to 10 ms inside a
tone never does.

The front end and the decision run in viper on MicroPython; on CPython, plain-Python twins of
both compute the very same integers (test_dtmf_twins.py compares them on the same audio).
Fixed-point ranges hold on 32-bit words: samples enter the filters as 11-bit values, so a
Goertzel state stays under 2**18.3 and a product with a coefficient (< 2**12.8) under 2**31.
"""
import math
import sys
from array import array

import micropython
from micropython import const

from zerotap.g711 import ALAW_TABLE, PCMA, PCMU, ULAW_TABLE

from zerotap.dtmf import COLUMN_HZ, KEYPAD, ROW_HZ

LINEAR = const(-1)  # codec value for 16-bit little-endian linear samples
RATE = const(8000)
BLOCK = const(80)  # samples per decision block (10 ms)
_RAW = const(1680)  # samples held by the input buffer: one block of history, then 20 blocks
_MAX_BLOCKS = const(20)  # blocks per front-end call

# 0 dBm0 as the peak of a sine in 16-bit linear PCM: 3.17 dB below mu-law full scale (G.711).
DBM0_PEAK = 22627
LEVEL_MIN_DBM0 = -38  # each tone must reach this level (the tests cover -3 to -30 dBm0)

# Goertzel coefficients 2*cos(w) at the eight frequencies, Q12 (test_dtmf_detector checks them).
_C0 = const(6995)
_C1 = const(6739)
_C2 = const(6425)
_C3 = const(6055)
_C4 = const(4768)
_C5 = const(4081)
_C6 = const(3271)
_C7 = const(2329)
GOERTZEL_COEFS = (_C0, _C1, _C2, _C3, _C4, _C5, _C6, _C7)

# Decision thresholds (see the module text). Powers are |X|^2 / 64 of 11-bit samples: a full-block
# tone of amplitude A has power 25*A^2 and energy 40*A^2.
_RATIO_NUM = const(7)  # 16 * (P_row + P_col) >= 7 * energy: 70 % of the energy in the tones
_TWIST_NORMAL = const(254)  # 32 * P_col <= 254 * P_row over two blocks: 9 dB
_TWIST_REVERSE = const(101)  # 32 * P_row <= 101 * P_col over two blocks: 5 dB
_TWIST_NORMAL_1 = const(403)  # the same over one block, looser (the other tone's leakage moves a
_TWIST_REVERSE_1 = const(160)  # weak tone's power by +-2 dB): 11 dB and 7 dB
_STEADY = const(11)  # energy: 16 * new >= 11 * old and back, within 1.6 dB
_STEADY_TONE = const(4)  # each tone: 16 * new >= 4 * old and back, within 6 dB (the other tone's
# leakage moves a weak tone's power by several dB from block to block at full twist)
_MISSES_END = const(4)  # blocks without a hit that end a key
_HARMONIC_DIV = 10  # both second harmonics together under 1/10 (-10 dB) of both tones

# Decision state, an array('i'); entries never hold negative numbers (viper ptr32 reads unsigned).
_S_PASS = const(0)  # the previous block passed
_S_KEY = const(1)  # key of the previous block + 1 (0: none)
_S_E = const(2)  # energy of the previous block
_S_PR = const(3)  # row power of the previous block
_S_PC = const(4)  # column power of the previous block
_S_RUN = const(5)  # hits in a row
_S_CAND = const(6)  # key of those hits + 1
_S_CUR = const(7)  # key being pressed + 1 (0: none)
_S_MISS = const(8)  # blocks without a hit of the current key
_S_LEN = const(9)

_MICROPYTHON = sys.implementation.name == "micropython"


def _q12(x):
    return int(round(x * 4096))


_FREQS = ROW_HZ + COLUMN_HZ
_W = [2 * math.pi * f / RATE for f in _FREQS]
_ALLOWED = 0.025  # relative frequency error accepted by the phase test


def _i16_table(values):
    out = bytearray(2 * len(values))
    for i, v in enumerate(values):
        v &= 0xFFFF
        out[2 * i] = v & 0xFF
        out[2 * i + 1] = v >> 8
    return bytes(out)


# Per filter, Q12: cos w, sin w (to turn the Goertzel state into a complex value); cos, sin of the
# phase a nominal tone turns through in one block; cos, sin of the largest phase error allowed.
_TABLE = _i16_table(
    [_q12(math.cos(w)) for w in _W]
    + [_q12(math.sin(w)) for w in _W]
    + [_q12(math.cos(w * BLOCK)) for w in _W]
    + [_q12(math.sin(w * BLOCK)) for w in _W]
    + [_q12(math.cos(2 * math.pi * _ALLOWED * f * BLOCK / RATE)) for f in _FREQS]
    + [_q12(math.sin(2 * math.pi * _ALLOWED * f * BLOCK / RATE)) for f in _FREQS]
)
_COS = [_q12(math.cos(w)) for w in _W]
_SIN = [_q12(math.sin(w)) for w in _W]
# The tones and their second harmonics, for the check over two blocks: Goertzel coefficient,
# cos, sin (Q12) of each frequency, the eight tones first.
_H_C = [_q12(2 * math.cos(m * w)) for m in (1, 2) for w in _W]
_H_COS = [_q12(math.cos(m * w)) for m in (1, 2) for w in _W]
_H_SIN = [_q12(math.sin(m * w)) for m in (1, 2) for w in _W]

# The smallest per-tone power accepted, in the filter's units (25 * A^2 for amplitude A, 11-bit).
_LEVEL_MIN = int(25 * (DBM0_PEAK * 10 ** (LEVEL_MIN_DBM0 / 20) / 32) ** 2)


# ---- front end -------------------------------------------------------------------------------

@micropython.viper
def _front_viper(raw, start: int, nblocks: int, fy, fe):
    """Goertzel at the 8 frequencies and the energy of NBLOCKS blocks of RAW from sample START.

    Writes 16 int16 per block to FY (real, imaginary of each filter, >> 3) and the energy to FE.
    """
    p = ptr16(raw)
    y = ptr16(fy)
    e = ptr32(fe)
    t = ptr16(_TABLE)
    b = 0
    while b < nblocks:
        a0 = 0
        b0 = 0
        a1 = 0
        b1 = 0
        a2 = 0
        b2 = 0
        a3 = 0
        b3 = 0
        a4 = 0
        b4 = 0
        a5 = 0
        b5 = 0
        a6 = 0
        b6 = 0
        a7 = 0
        b7 = 0
        en = 0
        i = start + b * 80
        end = i + 80
        while i < end:
            x = ((p[i] ^ 0x8000) - 0x8000) >> 5
            en += x * x
            s = x + ((_C0 * a0) >> 12) - b0
            b0 = a0
            a0 = s
            s = x + ((_C1 * a1) >> 12) - b1
            b1 = a1
            a1 = s
            s = x + ((_C2 * a2) >> 12) - b2
            b2 = a2
            a2 = s
            s = x + ((_C3 * a3) >> 12) - b3
            b3 = a3
            a3 = s
            s = x + ((_C4 * a4) >> 12) - b4
            b4 = a4
            a4 = s
            s = x + ((_C5 * a5) >> 12) - b5
            b5 = a5
            a5 = s
            s = x + ((_C6 * a6) >> 12) - b6
            b6 = a6
            a6 = s
            s = x + ((_C7 * a7) >> 12) - b7
            b7 = a7
            a7 = s
            i += 1
        e[b] = en
        o = b * 16
        # y = s1 - exp(-jw) * s2, scaled down by 8: |y| <= 80 * 1024 / 8 fits int16.
        c = (t[0] ^ 0x8000) - 0x8000
        n = (t[8] ^ 0x8000) - 0x8000
        y[o] = (a0 - ((c * b0) >> 12)) >> 3
        y[o + 1] = ((n * b0) >> 12) >> 3
        c = (t[1] ^ 0x8000) - 0x8000
        n = (t[9] ^ 0x8000) - 0x8000
        y[o + 2] = (a1 - ((c * b1) >> 12)) >> 3
        y[o + 3] = ((n * b1) >> 12) >> 3
        c = (t[2] ^ 0x8000) - 0x8000
        n = (t[10] ^ 0x8000) - 0x8000
        y[o + 4] = (a2 - ((c * b2) >> 12)) >> 3
        y[o + 5] = ((n * b2) >> 12) >> 3
        c = (t[3] ^ 0x8000) - 0x8000
        n = (t[11] ^ 0x8000) - 0x8000
        y[o + 6] = (a3 - ((c * b3) >> 12)) >> 3
        y[o + 7] = ((n * b3) >> 12) >> 3
        c = (t[4] ^ 0x8000) - 0x8000
        n = (t[12] ^ 0x8000) - 0x8000
        y[o + 8] = (a4 - ((c * b4) >> 12)) >> 3
        y[o + 9] = ((n * b4) >> 12) >> 3
        c = (t[5] ^ 0x8000) - 0x8000
        n = (t[13] ^ 0x8000) - 0x8000
        y[o + 10] = (a5 - ((c * b5) >> 12)) >> 3
        y[o + 11] = ((n * b5) >> 12) >> 3
        c = (t[6] ^ 0x8000) - 0x8000
        n = (t[14] ^ 0x8000) - 0x8000
        y[o + 12] = (a6 - ((c * b6) >> 12)) >> 3
        y[o + 13] = ((n * b6) >> 12) >> 3
        c = (t[7] ^ 0x8000) - 0x8000
        n = (t[15] ^ 0x8000) - 0x8000
        y[o + 14] = (a7 - ((c * b7) >> 12)) >> 3
        y[o + 15] = ((n * b7) >> 12) >> 3
        b += 1


def _front_python(raw, start, nblocks, fy, fe):
    """The CPython twin of :func:`_front_viper`: the same integers, from plain Python."""
    samples = memoryview(raw).cast("h")
    cos = _COS
    sin = _SIN
    for b in range(nblocks):
        a0 = b0 = a1 = b1 = a2 = b2 = a3 = b3 = a4 = b4 = a5 = b5 = a6 = b6 = a7 = b7 = 0
        en = 0
        i = start + b * 80
        for v in samples[i:i + 80]:
            x = v >> 5
            en += x * x
            a0, b0 = x + ((6995 * a0) >> 12) - b0, a0
            a1, b1 = x + ((6739 * a1) >> 12) - b1, a1
            a2, b2 = x + ((6425 * a2) >> 12) - b2, a2
            a3, b3 = x + ((6055 * a3) >> 12) - b3, a3
            a4, b4 = x + ((4768 * a4) >> 12) - b4, a4
            a5, b5 = x + ((4081 * a5) >> 12) - b5, a5
            a6, b6 = x + ((3271 * a6) >> 12) - b6, a6
            a7, b7 = x + ((2329 * a7) >> 12) - b7, a7
        fe[b] = en
        o = b * 16
        k = 0
        for s1, s2 in ((a0, b0), (a1, b1), (a2, b2), (a3, b3), (a4, b4), (a5, b5), (a6, b6),
                       (a7, b7)):
            fy[o] = (s1 - ((cos[k] * s2) >> 12)) >> 3
            fy[o + 1] = ((sin[k] * s2) >> 12) >> 3
            o += 2
            k += 1




@micropython.viper
def _twist_ok(pr: int, pc: int) -> int:
    """1 if row and column powers PR, PC (two blocks, halved: < 2**27) meet the twist limits."""
    while pr > 0x1FFFFF or pc > 0x1FFFFF:
        pr >>= 1
        pc >>= 1
    if 32 * pc > _TWIST_NORMAL * pr or 32 * pr > _TWIST_REVERSE * pc:
        return 0
    return 1


# ---- decision --------------------------------------------------------------------------------

@micropython.viper
def _phase_ok_viper(y, o: int, q, k: int, t) -> int:
    """1 if filter K turned by its nominal phase (within the allowed error) since the last block.

    Y holds this block's values at O; Q the previous block's values.
    """
    yp = ptr16(y)
    qp = ptr16(q)
    tp = ptr16(t)
    yr = (yp[o + 2 * k] ^ 0x8000) - 0x8000
    yi = (yp[o + 2 * k + 1] ^ 0x8000) - 0x8000
    qr = (qp[2 * k] ^ 0x8000) - 0x8000
    qi = (qp[2 * k + 1] ^ 0x8000) - 0x8000
    # P = y * conj(q); each product < 2**26.6, so the sums fit 32 bits.
    a = yr * qr + yi * qi
    b = yi * qr - yr * qi
    while a > 131071 or a < -131071 or b > 131071 or b < -131071:
        a >>= 1
        b >>= 1
    rc = (tp[16 + k] ^ 0x8000) - 0x8000
    rs = (tp[24 + k] ^ 0x8000) - 0x8000
    # Turn P back by the nominal advance: what is left is the frequency error times 2*pi*10 ms.
    a2 = (a * rc + b * rs) >> 12
    b2 = (b * rc - a * rs) >> 12
    if b2 < 0:
        b2 = 0 - b2
    ca = (tp[32 + k] ^ 0x8000) - 0x8000
    sa = (tp[40 + k] ^ 0x8000) - 0x8000
    # |angle| <= allowed  <=>  |b2| cos(allowed) <= a2 sin(allowed), for an allowed angle < pi.
    if b2 * ca <= a2 * sa:
        return 1
    return 0


@micropython.viper
def _decide_viper(fy, fe, first: int, nblocks: int, st, prev) -> int:
    """Judge blocks FIRST.. of FY/FE, updating ST and PREV (the previous block's filter values).

    Returns the index of a block that confirms a new key (the caller checks its harmonics and
    resumes after it), or NBLOCKS when all were judged.
    """
    y = ptr16(fy)
    e = ptr32(fe)
    s = ptr32(st)
    q = ptr16(prev)
    b = first
    while b < nblocks:
        o = b * 16
        # Strongest and second strongest filter of each group.
        r = 0
        pr = 0
        r2 = 0
        c = 4
        pc = 0
        c2 = 0
        k = 0
        while k < 8:
            vr = (y[o + 2 * k] ^ 0x8000) - 0x8000
            vi = (y[o + 2 * k + 1] ^ 0x8000) - 0x8000
            pw = vr * vr + vi * vi
            if k < 4:
                if pw > pr:
                    r2 = pr
                    pr = pw
                    r = k
                elif pw > r2:
                    r2 = pw
            else:
                if pw > pc:
                    c2 = pc
                    pc = pw
                    c = k
                elif pw > c2:
                    c2 = pw
            k += 1
        en = int(e[b])
        key = r * 4 + (c - 4) + 1
        ok = 1
        if pr < int(_LEVEL_MIN) or pc < int(_LEVEL_MIN):
            ok = 0
        if ok:
            # Scale powers and energy to at most 2**21 so that the products below fit 31 bits.
            sh = 0
            while (en >> sh) > 0x1FFFFF:
                sh += 1
            npr = pr >> sh
            npc = pc >> sh
            nen = en >> sh
            if 32 * npc > _TWIST_NORMAL_1 * npr or 32 * npr > _TWIST_REVERSE_1 * npc:
                ok = 0
            elif 2 * (r2 >> sh) > npr or 2 * (c2 >> sh) > npc:
                ok = 0
            elif 16 * (npr + npc) < _RATIO_NUM * nen:
                ok = 0
        hit = 0
        if ok and s[_S_PASS] and int(s[_S_KEY]) == key:
            pe = int(s[_S_E]) >> 1
            ppr = int(s[_S_PR]) >> 1
            ppc = int(s[_S_PC]) >> 1
            he = en >> 1
            hr = pr >> 1
            hc = pc >> 1
            if (16 * he >= _STEADY * pe and 16 * pe >= _STEADY * he
                    and 16 * hr >= _STEADY_TONE * ppr and 16 * ppr >= _STEADY_TONE * hr
                    and 16 * hc >= _STEADY_TONE * ppc and 16 * ppc >= _STEADY_TONE * hc
                    and _twist_ok(hr + ppr, hc + ppc)):
                if _phase_ok_viper(fy, o, prev, r, _TABLE) and _phase_ok_viper(fy, o, prev, c, _TABLE):
                    hit = 1
        # Remember this block for the next one.
        s[_S_PASS] = ok
        s[_S_KEY] = key
        s[_S_E] = en
        s[_S_PR] = pr
        s[_S_PC] = pc
        k = 0
        while k < 16:
            q[k] = y[o + k]
            k += 1
        if hit:
            if int(s[_S_CAND]) == key:
                s[_S_RUN] = int(s[_S_RUN]) + 1
            else:
                s[_S_CAND] = key
                s[_S_RUN] = 1
        else:
            s[_S_RUN] = 0
            s[_S_CAND] = 0
        cur = int(s[_S_CUR])
        if cur:
            if hit and key == cur:
                s[_S_MISS] = 0
            else:
                s[_S_MISS] = int(s[_S_MISS]) + 1
                if int(s[_S_MISS]) >= _MISSES_END:
                    s[_S_CUR] = 0
                    cur = 0
        if int(s[_S_RUN]) >= 2 and int(s[_S_CAND]) != cur:
            return b
        b += 1
    return nblocks


@micropython.viper
def _tone_power_viper(raw, start: int, coef: int, cos: int, sin: int) -> int:
    """Goertzel power at one frequency over the 160 samples of RAW from START.

    Samples enter as 10-bit values here (a 160-sample state stays under 2**18.3).
    """
    p = ptr16(raw)
    a = 0
    b = 0
    i = start
    end = start + 160
    while i < end:
        x = ((p[i] ^ 0x8000) - 0x8000) >> 6
        s = x + ((coef * a) >> 12) - b
        b = a
        a = s
        i += 1
    yr = (a - ((cos * b) >> 12)) >> 3
    yi = ((sin * b) >> 12) >> 3
    return yr * yr + yi * yi


@micropython.viper
def _move_viper(raw, dst: int, src: int, n: int):
    p = ptr16(raw)
    i = 0
    while i < n:
        p[dst + i] = p[src + i]
        i += 1


@micropython.viper
def _load_viper(table, data, pos: int, n: int, raw, at: int):
    """Copy N samples of DATA from sample POS into RAW at sample AT, as linear int16.

    TABLE is a G.711 decoding table (256 int16), or None when DATA is already linear.
    """
    d = ptr16(raw)
    i = 0
    if table:
        t = ptr16(table)
        s = ptr8(data)
        while i < n:
            d[at + i] = t[s[pos + i]]
            i += 1
    else:
        # Byte loads: a payload inside a packet need not be 2-byte aligned (Xtensa faults on it).
        w = ptr8(data)
        j = 2 * pos
        while i < n:
            d[at + i] = w[j] | (w[j + 1] << 8)
            j += 2
            i += 1


def _move_python(raw, dst, src, n):
    raw[2 * dst:2 * (dst + n)] = raw[2 * src:2 * (src + n)]


def _load_python(table, data, pos, n, raw, at):
    if table is None:
        raw[2 * at:2 * (at + n)] = memoryview(data)[2 * pos:2 * (pos + n)]
    else:
        out = memoryview(raw).cast("h")
        out[at:at + n] = array("h", [table[c] for c in memoryview(data)[pos:pos + n]])


# ---- the CPython twins of the decision (same integers; the tests compare them) ---------------

_T16 = list(array("h", _TABLE))


def _phase_ok_python(y, o, q, k):
    t = _T16
    yr = y[o + 2 * k]
    yi = y[o + 2 * k + 1]
    qr = q[2 * k]
    qi = q[2 * k + 1]
    a = yr * qr + yi * qi
    b = yi * qr - yr * qi
    while a > 131071 or a < -131071 or b > 131071 or b < -131071:
        a >>= 1
        b >>= 1
    rc = t[16 + k]
    rs = t[24 + k]
    a2 = (a * rc + b * rs) >> 12
    b2 = abs((b * rc - a * rs) >> 12)
    return b2 * t[32 + k] <= a2 * t[40 + k]


def _decide_python(fy, fe, first, nblocks, s, q):
    for b in range(first, nblocks):
        o = b * 16
        v = fy[o:o + 16]
        p0 = v[0] * v[0] + v[1] * v[1]
        p1 = v[2] * v[2] + v[3] * v[3]
        p2 = v[4] * v[4] + v[5] * v[5]
        p3 = v[6] * v[6] + v[7] * v[7]
        p4 = v[8] * v[8] + v[9] * v[9]
        p5 = v[10] * v[10] + v[11] * v[11]
        p6 = v[12] * v[12] + v[13] * v[13]
        p7 = v[14] * v[14] + v[15] * v[15]
        r = r2 = pr = 0
        for k, pw in ((0, p0), (1, p1), (2, p2), (3, p3)):
            if pw > pr:
                r2, pr, r = pr, pw, k
            elif pw > r2:
                r2 = pw
        c = 4
        c2 = pc = 0
        for k, pw in ((4, p4), (5, p5), (6, p6), (7, p7)):
            if pw > pc:
                c2, pc, c = pc, pw, k
            elif pw > c2:
                c2 = pw
        en = fe[b]
        key = r * 4 + (c - 4) + 1
        ok = 1
        if pr < _LEVEL_MIN or pc < _LEVEL_MIN:
            ok = 0
        else:
            sh = 0
            while (en >> sh) > 0x1FFFFF:
                sh += 1
            npr = pr >> sh
            npc = pc >> sh
            nen = en >> sh
            if 32 * npc > _TWIST_NORMAL_1 * npr or 32 * npr > _TWIST_REVERSE_1 * npc:
                ok = 0
            elif 2 * (r2 >> sh) > npr or 2 * (c2 >> sh) > npc:
                ok = 0
            elif 16 * (npr + npc) < _RATIO_NUM * nen:
                ok = 0
        hit = 0
        if ok and s[_S_PASS] and s[_S_KEY] == key:
            pe = s[_S_E] >> 1
            ppr = s[_S_PR] >> 1
            ppc = s[_S_PC] >> 1
            he = en >> 1
            hr = pr >> 1
            hc = pc >> 1
            if (16 * he >= _STEADY * pe and 16 * pe >= _STEADY * he
                    and 16 * hr >= _STEADY_TONE * ppr and 16 * ppr >= _STEADY_TONE * hr
                    and 16 * hc >= _STEADY_TONE * ppc and 16 * ppc >= _STEADY_TONE * hc
                    and _twist_ok(hr + ppr, hc + ppc)):
                if _phase_ok_python(fy, o, q, r) and _phase_ok_python(fy, o, q, c):
                    hit = 1
        s[_S_PASS] = ok
        s[_S_KEY] = key
        s[_S_E] = en
        s[_S_PR] = pr
        s[_S_PC] = pc
        q[0:16] = v
        if hit:
            if s[_S_CAND] == key:
                s[_S_RUN] += 1
            else:
                s[_S_CAND] = key
                s[_S_RUN] = 1
        else:
            s[_S_RUN] = 0
            s[_S_CAND] = 0
        cur = s[_S_CUR]
        if cur:
            if hit and key == cur:
                s[_S_MISS] = 0
            else:
                s[_S_MISS] += 1
                if s[_S_MISS] >= _MISSES_END:
                    s[_S_CUR] = 0
                    cur = 0
        if s[_S_RUN] >= 2 and s[_S_CAND] != cur:
            return b
    return nblocks


def _tone_power_python(raw, start, coef, cos, sin):
    a = b = 0
    for v in memoryview(raw).cast("h")[start:start + 160]:
        a, b = (v >> 6) + ((coef * a) >> 12) - b, a
    yr = (a - ((cos * b) >> 12)) >> 3
    yi = ((sin * b) >> 12) >> 3
    return yr * yr + yi * yi


if _MICROPYTHON:
    _front = _front_viper
    _decide = _decide_viper
    _tone_power = _tone_power_viper
    _move = _move_viper
    _load = _load_viper
else:
    _front = _front_python
    _decide = _decide_python
    _tone_power = _tone_power_python
    _move = _move_python
    _load = _load_python


class Detector:
    """Streaming DTMF detector, sans-IO: feed it audio, it returns the keys it confirmed.

    ``codec`` is ``LINEAR`` (16-bit little-endian samples, 2 bytes each), ``PCMU`` or ``PCMA``
    (one byte per sample). The audio is 8 kHz mono. Nothing is allocated per call unless a key
    is found.
    """

    def __init__(self, codec=LINEAR):
        if codec != LINEAR and codec != PCMU and codec != PCMA:
            raise ValueError("dtmf detector: unknown codec %r (LINEAR, PCMU or PCMA)" % (codec,))
        self.codec = codec
        self._table = None
        if codec != LINEAR:
            self._table = ULAW_TABLE if codec == PCMU else ALAW_TABLE
            if not _MICROPYTHON:
                self._table = list(array("h", self._table))
        # Samples: a block of history (the harmonic check looks at two blocks), then the samples
        # not judged yet from _head to _end. Compacted only when full, not on every call.
        self._raw = bytearray(2 * _RAW)
        self._head = BLOCK
        self._end = BLOCK
        self._fy = array("h", bytes(32 * _MAX_BLOCKS))
        self._fe = array("i", bytes(4 * _MAX_BLOCKS))
        self._st = array("i", bytes(4 * _S_LEN))
        self._prev = array("h", bytes(32))
        self._blocks = 0  # blocks judged since the start
        self.samples = 0  # samples fed since the start

    def reset(self):
        """Forget all audio and any key in progress."""
        for i in range(_S_LEN):
            self._st[i] = 0
        self._head = self._end = BLOCK

    @property
    def pressed(self):
        """The key held down right now, or None."""
        cur = self._st[_S_CUR]
        return KEYPAD[cur - 1] if cur else None

    def feed(self, data):
        """Feed audio; return a list of ``(key, sample)`` for each key confirmed in it.

        ``sample`` counts from the first sample fed and marks where the key's tone began (to
        within one block). Returns an empty tuple when nothing was found.
        """
        n = len(data)
        table = self._table
        if table is None:
            if n & 1:
                raise ValueError("dtmf detector: linear audio must hold whole 16-bit samples")
            n >>= 1
        raw = self._raw
        found = ()
        pos = 0
        head = self._head
        end = self._end
        while pos < n:
            if end == _RAW:
                # Full: move the history block and the samples not judged yet to the front.
                _move(raw, 0, head - BLOCK, end - head + BLOCK)
                end -= head - BLOCK
                head = BLOCK
            k = _RAW - end
            if k > n - pos:
                k = n - pos
            _load(table, data, pos, k, raw, end)
            end += k
            pos += k
            nb = (end - head) // BLOCK
            if nb:
                _front(raw, head, nb, self._fy, self._fe)
                b = _decide(self._fy, self._fe, 0, nb, self._st, self._prev)
                if b < nb:
                    found = self._confirm(head, b, nb, found)
                self._blocks += nb
                head += nb * BLOCK
        self._head = head
        self._end = end
        self.samples += n
        return found

    def _confirm(self, head, b, nb, found):
        st = self._st
        while b < nb:
            key = st[_S_CAND] - 1
            if self._harmonics_ok(head + (b - 1) * BLOCK, key):
                st[_S_CUR] = key + 1
                st[_S_MISS] = 0
                if not found:
                    found = []
                # The key's tone began two blocks before the block that confirmed it.
                found.append((KEYPAD[key], (self._blocks + b - 2) * BLOCK))
            b = _decide(self._fy, self._fe, b + 1, nb, st, self._prev)
        return found

    def _harmonics_ok(self, start, key):
        # The two blocks from START (the confirming block and the one before): full of tone.
        raw = self._raw
        tones = harmonics = 0
        for k in (key >> 2, 4 + (key & 3)):
            tones += _tone_power(raw, start, _H_C[k], _H_COS[k], _H_SIN[k])
            harmonics += _tone_power(raw, start, _H_C[8 + k], _H_COS[8 + k], _H_SIN[8 + k])
        return harmonics * _HARMONIC_DIV <= tones


def detect(data, codec=LINEAR):
    """All keys in a whole recording, as a string (a convenience over :class:`Detector`)."""
    det = Detector(codec)
    return "".join(k for k, _ in det.feed(data))

"""Tone generation: timing, level and frequencies, checked with a plain DFT written here."""
import math
import os
import struct

from support import scratch
from zerotap import g711
from zerotap.dtmf import KEYPAD, tones, wav

FREQS = (697, 770, 852, 941, 1209, 1336, 1477, 1633)


def _samples(buf):
    return struct.unpack("<%dh" % (len(buf) // 2), buf)


def _power(x, f):
    re = im = 0.0
    for n, v in enumerate(x):
        w = 2 * math.pi * f * n / 8000
        re += v * math.cos(w)
        im -= v * math.sin(w)
    return (re * re + im * im) / (len(x) / 2) ** 2  # a sine of amplitude A gives A*A


def test_each_key_has_its_two_frequencies():
    for i, key in enumerate(KEYPAD):
        x = _samples(tones.generate(key, tone_ms=100, gap_ms=0, level_dbm0=-10, twist_db=0))
        powers = [_power(x, f) for f in FREQS]
        a = tones.amplitude(-10)
        row, col = i >> 2, 4 + (i & 3)
        for k, p in enumerate(powers):
            if k in (row, col):
                assert abs(math.sqrt(p) - a) < 0.02 * a, (key, k, p)
            else:
                assert p < 0.01 * a * a, (key, k, p)


def test_levels_and_twist():
    assert tones.amplitude(0) == 22627
    assert tones.amplitude(-20) == 2263
    x = _samples(tones.generate("1", tone_ms=100, gap_ms=0, level_dbm0=-12, twist_db=3))
    ratio_db = 10 * math.log10(_power(x, 1209) / _power(x, 697))
    assert abs(ratio_db - 3) < 0.1


def test_timing():
    gen = tones.ToneGenerator("12", tone_ms=50, gap_ms=30, lead_ms=20)
    assert gen.total == 160 + 2 * (400 + 240)
    x = _samples(tones.generate("12", tone_ms=50, gap_ms=30, lead_ms=20))
    assert len(x) == gen.total
    assert max(abs(v) for v in x[:160]) == 0
    assert max(abs(v) for v in x[160:560]) > 5000
    assert max(abs(v) for v in x[560:800]) == 0
    assert max(abs(v) for v in x[800:1200]) > 5000
    assert max(abs(v) for v in x[1200:]) == 0


def test_frames_match_the_whole():
    whole = tones.generate("5#", lead_ms=10)
    for codec in (tones.LINEAR, g711.PCMU, g711.PCMA):
        gen = tones.ToneGenerator("5#", lead_ms=10)
        size = 320 if codec == tones.LINEAR else 160
        frame = bytearray(size)
        out = bytearray()
        while gen.read_frame(codec, frame):
            out += frame
        n = len(whole) // 2
        if codec == tones.LINEAR:
            assert bytes(out[:2 * n]) == bytes(whole)
        else:
            assert bytes(out[:n]) == g711.encode_bytes(codec, whole)
        assert len(out) >= len(whole) // (1 if codec == tones.LINEAR else 2)
        assert gen.done


def test_wav_round_trip():
    path = scratch("dtmf-tones") + "/tones.wav"
    samples = tones.generate("9", tone_ms=20, gap_ms=0)
    for codec, data in ((tones.LINEAR, samples), (g711.PCMU, g711.encode_bytes(g711.PCMU, samples)),
                        (g711.PCMA, g711.encode_bytes(g711.PCMA, samples))):
        wav.write(path, data, codec)
        info = wav.read_info(path)
        assert (info.codec, info.rate, info.channels, info.length) == (codec, 8000, 1, len(data))
        assert b"".join(wav.read_chunks(path, 100)) == bytes(data)
    os.remove(path)


def test_bad_arguments():
    for kw, msg in (({"digits": "12E"}, "dtmf: 'E' is not a DTMF symbol (0-9 * # A-D)"),
                    ({"digits": "1", "tone_ms": 0},
                     "dtmf tones: tone_ms must be > 0, gap_ms and lead_ms >= 0"),
                    ({"digits": "1", "level_dbm0": -1, "twist_db": 2},
                     "dtmf tones: levels above 0 dBm0 per tone would clip")):
        try:
            tones.ToneGenerator(**kw)
            assert False, msg
        except ValueError as e:
            assert str(e) == msg
    for head, msg in ((b"RIFX" + bytes(40), "wav: not a RIFF/WAVE file"),
                      (b"RIFF\x00\x00\x00\x00WAVEdata\x04\x00\x00\x00abcd",
                       "wav: data chunk before the fmt chunk"),
                      (wav.header(tones.LINEAR, 4)[:20] + struct.pack("<HHIIHH", 1, 1, 8000, 8000, 1, 8)
                       + b"data\x04\x00\x00\x00",
                       "wav: format 1 with 8 bits; need 16-bit PCM, mu-law or A-law")):
        try:
            wav.parse_header(head)
            assert False, msg
        except ValueError as e:
            assert str(e) == msg

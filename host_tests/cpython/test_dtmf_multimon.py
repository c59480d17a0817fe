"""Our generated tones, written as WAV, decoded by multimon-ng: all 16 keys, and framed numbers."""
import os

import dtmf_audio as A
from zerotap import g711
from zerotap.dtmf import KEYPAD, frame, tones, wav


def test_all_16_keys(tmp_path):
    path = tmp_path / "keys.wav"
    wav.write(str(path), tones.generate(KEYPAD * 2, lead_ms=100))
    assert A.multimon_decode(path) == KEYPAD * 2


def test_levels_and_timings(tmp_path):
    for i, opts in enumerate(({"level_dbm0": -25.0}, {"level_dbm0": -3.0, "twist_db": 3.0},
                              {"tone_ms": 50, "gap_ms": 50}, {"tone_ms": 200, "gap_ms": 100})):
        path = tmp_path / ("k%d.wav" % i)
        wav.write(str(path), tones.generate(KEYPAD, lead_ms=100, **opts))
        assert A.multimon_decode(path) == KEYPAD, opts


def test_g711_encoded_tones(tmp_path):
    linear = tones.generate(KEYPAD, lead_ms=100)
    for codec in (g711.PCMU, g711.PCMA):
        path = tmp_path / ("g%d.wav" % codec)
        wav.write(str(path), g711.encode_bytes(codec, linear), codec)
        assert A.multimon_decode(path) == KEYPAD, codec


def test_every_framed_number(tmp_path):
    ids = [frame.make_id(os.urandom) for _ in range(25)] + ["1234567890", "9876543210",
                                                             "1010101010"]
    texts = []
    parts = []
    for n, id_digits in enumerate(ids):
        text = frame.encode(id_digits, confirm=bool(n & 1))
        texts.append(text)
        parts.append(tones.generate(text, lead_ms=300))
    path = tmp_path / "frames.wav"
    wav.write(str(path), b"".join(parts))
    got = A.multimon_decode(path)
    assert got == "".join(texts)
    # And our own decoder agrees, frame by frame.
    from zerotap.dtmf import detector
    det = detector.Detector()
    dec = frame.FrameDecoder()
    frames = []
    for key, sample in det.feed(b"".join(parts)):
        r = dec.feed(key, sample // 8)
        if r:
            frames.append(r)
    assert frames == [(frame.CONFIRM if n & 1 else frame.OFFER, i) for n, i in enumerate(ids)]

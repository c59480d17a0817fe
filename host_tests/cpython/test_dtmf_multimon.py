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


def test_the_fallbacks_in_band_frames(tmp_path):
    """What the ICE fallback sends when the call has no telephone-event (dtmf/inband.py): 20 ms
    G.711 packets of 100 ms tones and 60 ms pauses, payloads end to end, as a peer receives them."""
    from zerotap.dtmf import inband
    for pt, codec in ((0, g711.PCMU), (8, g711.PCMA)):
        texts = [frame.encode(frame.make_id(os.urandom), confirm=bool(n & 1)) for n in range(4)]
        audio = bytearray()
        silence = g711.encode_bytes(codec, bytes(2 * 800))
        for text in texts:
            s = inband.ToneSender(0x1234, pt)
            s.start(text, 0, 10, 1000)
            while s.busy:
                for p in s.datagrams_to_send(s.get_timer()):
                    assert len(p) == 172 and p[1] & 0x7F == pt
                    audio += p[12:]
            audio += silence  # 100 ms between frames
        path = tmp_path / ("fb%d.wav" % pt)
        wav.write(str(path), bytes(silence + audio), codec)
        assert A.multimon_decode(path) == "".join(texts), pt

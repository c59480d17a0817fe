"""In-band detection on stored audio made by sox and espeak-ng (host_tests/vectors/dtmf_*.wav,
listed with what they must give in dtmf_fixtures.json), and on our own generated tones."""
import math

import vectors
from zerotap import g711
from zerotap.dtmf import KEYPAD, detector, tones, wav

KEYS = KEYPAD


def _detect_file(name, frame=160):
    path = vectors.VECTORS + "/" + name
    info = wav.read_info(path)
    det = detector.Detector(info.codec)
    width = 2 if info.codec == detector.LINEAR else 1
    found = []
    for piece in wav.read_chunks(path, 4000):
        mv = memoryview(piece)
        for i in range(0, len(piece), frame * width):
            found.extend(det.feed(mv[i:i + frame * width]))
    return found


def test_fixtures_give_exactly_their_keys():
    cases = vectors.load("dtmf_fixtures.json")
    assert len(cases) >= 11
    for case in cases:
        got = "".join(k for k, _ in _detect_file(case["file"]))
        assert got == case["expect"], "%s (%s): got %r, expected %r" % (
            case["file"], case["what"], got, case["expect"])


def test_frame_size_does_not_change_keys_or_positions():
    reference = _detect_file("dtmf_keys_pcmu.wav", 160)
    assert "".join(k for k, _ in reference) == KEYS
    for frame in (1, 37, 80, 240, 2000):
        assert _detect_file("dtmf_keys_pcmu.wav", frame) == reference, frame


def test_positions_mark_the_tone_starts():
    # dtmf_keys_pcmu.wav: 60 ms of silence, then 70 ms tone + 70 ms pause per key.
    found = _detect_file("dtmf_keys_pcmu.wav")
    for i, (key, pos) in enumerate(found):
        start = 480 + i * 1120
        assert start - 80 <= pos <= start + 80, (key, pos, start)


def test_goertzel_coefficients_are_the_dtmf_frequencies():
    coefs = detector.GOERTZEL_COEFS
    freqs = (697, 770, 852, 941, 1209, 1336, 1477, 1633)
    for c, f in zip(coefs, freqs):
        assert c == int(round(2 * math.cos(2 * math.pi * f / 8000) * 4096)), f


def test_own_tones_in_each_codec():
    linear = tones.generate(KEYS, lead_ms=30)
    assert detector.detect(linear) == KEYS
    for codec in (g711.PCMU, g711.PCMA):
        coded = g711.encode_bytes(codec, linear)
        det = detector.Detector(codec)
        got = []
        for i in range(0, len(coded), 160):
            got.extend(k for k, _ in det.feed(coded[i:i + 160]))
        assert "".join(got) == KEYS, codec


def test_repeated_key_needs_a_pause_of_40_ms():
    # The same key twice with a 40 ms pause is two presses.
    assert detector.detect(tones.generate("55", tone_ms=60, gap_ms=40, lead_ms=20)) == "55"
    # A 10 ms break inside a tone is bridged: one press.
    a = tones.generate("5", tone_ms=60, gap_ms=10, lead_ms=20)
    b = tones.generate("5", tone_ms=60, gap_ms=60)
    assert detector.detect(a + b) == "5"


def test_pressed_follows_the_tone():
    det = detector.Detector()
    assert det.pressed is None
    det.feed(tones.generate("7", tone_ms=100, gap_ms=0, lead_ms=20))
    assert det.pressed == "7"
    det.feed(bytes(2 * 400))
    assert det.pressed is None


def test_silence_and_full_scale_square_give_nothing():
    assert detector.detect(bytes(16000)) == ""
    square = bytearray()
    for i in range(8000):
        square += b"\xff\x7f" if (i // 4) & 1 else b"\x00\x80"
    assert detector.detect(square) == ""


def test_bad_input_is_refused():
    try:
        detector.Detector(3)
        assert False
    except ValueError as e:
        assert str(e) == "dtmf detector: unknown codec 3 (LINEAR, PCMU or PCMA)"
    try:
        detector.Detector().feed(b"\x00\x00\x00")
        assert False
    except ValueError as e:
        assert str(e) == "dtmf detector: linear audio must hold whole 16-bit samples"

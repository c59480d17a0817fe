"""The viper code (run here through zerotap/shim.py) and its plain-Python twins on CPython compute
the very same integers: features, decisions, tone powers, buffer moves, synthesis and G.711."""
import random
from array import array

import dtmf_audio as A
from zerotap import g711
from zerotap.dtmf import detector as D
from zerotap.dtmf import tones as T


def mixed_audio():
    rnd = random.Random(5)
    noise = array("h", (int(rnd.gauss(0, 3000)) for _ in range(4000))).tobytes()
    full = array("h", (rnd.choice((-32768, 32767)) for _ in range(800))).tobytes()
    return (A.sequence("19*D", tone_ms=60, gap_ms=50, level_row=-3, level_col=-3) + noise + full
            + A.speech(A.TEXTS[1], "en", speed=220)[:24000] + T.generate("5A", lead_ms=15))


def test_front_end_twins():
    audio = mixed_audio()
    nb = len(audio) // 160
    a = (array("h", bytes(32 * nb)), array("i", bytes(4 * nb)))
    b = (array("h", bytes(32 * nb)), array("i", bytes(4 * nb)))
    D._front_viper(audio, 0, nb, *a)
    D._front_python(audio, 0, nb, *b)
    assert a == b


def test_decision_twins():
    audio = mixed_audio()
    nb = len(audio) // 160
    fy, fe = array("h", bytes(32 * nb)), array("i", bytes(4 * nb))
    D._front_python(audio, 0, nb, fy, fe)
    states = []
    for decide in (D._decide_viper, D._decide_python):
        st, prev = array("i", bytes(4 * D._S_LEN)), array("h", bytes(32))
        trace = []
        b = 0
        while b < nb:
            b = decide(fy, fe, b, nb, st, prev)
            trace.append((b, list(st), list(prev)))
            if b < nb:
                st[D._S_CUR] = st[D._S_CAND]  # as a confirmation does
                b += 1
        states.append(trace)
    assert states[0] == states[1]
    assert len(states[0]) > 3  # keys were confirmed along the way


def test_small_twins():
    audio = mixed_audio()
    for start in (0, 800, 3000, 9000):
        for k in range(16):
            args = (audio, start, D._H_C[k], D._H_COS[k], D._H_SIN[k])
            assert D._tone_power_viper(*args) == D._tone_power_python(*args)
    r1, r2 = bytearray(audio[:4000]), bytearray(audio[:4000])
    D._move_viper(r1, 3, 700, 900)
    D._move_python(r2, 3, 700, 900)
    assert r1 == r2
    for table in (None, g711.ULAW_TABLE):
        o1, o2 = bytearray(2000), bytearray(2000)
        D._load_viper(table, audio, 37, 400, o1, 11)
        D._load_python(None if table is None else list(array("h", table)), audio, 37, 400, o2, 11)
        assert o1 == o2


def test_synth_and_g711_twins():
    st1 = array("i", [0, 95 << 20, 30000, 7, 163 << 20, 32767])
    st2 = array("i", st1)
    o1, o2 = bytearray(4000), bytearray(4000)
    T._synth_viper(o1, 5, 1500, st1, T._SINE)
    T._synth_python(o2, 5, 1500, st2, T._SINE)
    assert o1 == o2 and st1 == st2
    lin = bytes(range(256)) * 40
    for codec in (g711.PCMU, g711.PCMA):
        coded = bytearray(len(lin) // 2)
        g711._encode_viper(codec, lin, coded, len(coded), 0)
        assert bytes(coded) == g711.encode_bytes(codec, lin)
        back = bytearray(2 * len(coded))
        g711._decode_viper(g711.ULAW_TABLE if codec == g711.PCMU else g711.ALAW_TABLE, coded, back,
                           len(coded), 0)
        assert back == g711.decode_bytes(codec, coded)

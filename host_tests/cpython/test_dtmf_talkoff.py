"""Talk-off: more than 10 minutes of speech (espeak-ng: 20 voices, varied speeds, pitches and
texts) and music-like sound (sox: chords, sweeps, vibrato, tremolo, plucks, square waves with
noise) must give no key at all. Target: 0 false keys; the count is printed."""
import dtmf_audio as A

SPEECH_S = 330
MUSIC_S = 330


def test_speech_gives_no_keys():
    audio = A.speech_corpus(SPEECH_S)
    assert len(audio) >= SPEECH_S * 16000
    found = A.detect(audio)
    print("talk-off speech: %.0f s, %d false keys %r" % (len(audio) / 16000, len(found), found))
    assert found == []


def test_music_gives_no_keys():
    audio = A.music_corpus(MUSIC_S)
    assert len(audio) >= MUSIC_S * 16000
    found = A.detect(audio)
    print("talk-off music: %.0f s, %d false keys %r" % (len(audio) / 16000, len(found), found))
    assert found == []


def test_speech_over_keys_still_finds_the_keys():
    # Keys 6 dB above speech: the speech must not hide them (or make extra ones).
    keys = A.sequence(A.KEYPAD, tone_ms=100, gap_ms=200, level_row=-8, level_col=-6)
    speech = A.speech(A.TEXTS[0], "en+m3", speed=150)
    import array
    k = array.array("h", keys)
    s = array.array("h", speech)
    for i in range(min(len(k), len(s))):
        k[i] = max(-32768, min(32767, k[i] + s[i] // 4))
    found = A.detect(k.tobytes())
    assert "".join(x for x, _ in found) == A.KEYPAD

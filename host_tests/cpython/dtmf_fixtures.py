"""Write the small audio fixtures that the MicroPython runner's DTMF tests read.

    .venv/bin/python host_tests/cpython/dtmf_fixtures.py

Everything comes from independent tools (sox, espeak-ng, linphonec); our code only reads it.
The CPython tests make the same kinds of audio afresh, at test time, in far greater quantity.
"""
import json
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import dtmf_audio as A  # noqa: E402

VECTORS = HERE.parent / "vectors"
K = A.KEYPAD
KEYS_TYPED = "15590*#3"  # linphonec sends 0-9, * and # (a repeated key too)


def wav(name, samples, encoding):
    """Save 16-bit SAMPLES as a WAV file in ENCODING (signed-integer, u-law, a-law) via sox."""
    A.write_wav(VECTORS / name, samples, encoding)
    return name


def main():
    cases = []

    def case(name, samples, encoding, expect, what):
        cases.append({"file": wav(name, samples, encoding), "expect": expect, "what": what})

    case("dtmf_keys_pcmu.wav", A.sequence(K), "u-law", K, "16 keys, -10 dBm0, 70/70 ms")
    case("dtmf_levels.wav", A.sequence(K, level_row=-3, level_col=-3)
         + A.sequence(K, level_row=-30, level_col=-30), "signed-integer", K + K,
         "16 keys at -3 dBm0, then at -30 dBm0 per tone")
    case("dtmf_noise15_pcma.wav", A.sequence(K, level_row=-20, level_col=-20, snr_db=15), "a-law",
         K, "white noise at 15 dB SNR")
    case("dtmf_freq_accept_pcmu.wav", A.shifted(K, 0.015, 0.015) + A.shifted(K, -0.015, -0.015)
         + A.shifted(K, 0.015, -0.015), "u-law", K * 3, "both tones +1.5 %, -1.5 %, and +-1.5 %")
    reject = b"".join(A.shifted(K, r, c)
                      for r, c in ((0.035, 0), (-0.035, 0), (0, 0.035), (0, -0.035)))
    case("dtmf_freq_reject_pcma.wav", reject, "a-law", "", "one tone 3.5 % off, each way")
    case("dtmf_duration_pcmu.wav", A.aligned(K, 40, 40), "u-law", K,
         "40 ms tones and 40 ms pauses, every block alignment")
    case("dtmf_short_pcmu.wav", A.aligned(K + K, 23, 60), "u-law", "", "23 ms tones")
    case("dtmf_twist_pcmu.wav", A.sequence(K, level_row=-16, level_col=-8)
         + A.sequence(K, level_row=-8, level_col=-12), "u-law", K + K,
         "twist +8 dB (normal), -4 dB (reverse)")
    case("dtmf_twist_reject_pcmu.wav", A.sequence(K, level_row=-19, level_col=-8)
         + A.sequence(K, level_row=-8, level_col=-15), "u-law", "", "twist +11 dB, -7 dB")
    speech = b"".join(A.speech(A.TEXTS[i], v, speed=s, pitch=p) for i, (v, s, p) in enumerate(
        (("en", 160, 50), ("en+f3", 200, 70), ("de", 140, 40), ("en+m3", 180, 30),
         ("fr", 170, 60), ("en+f5", 220, 90))))
    case("dtmf_speech_pcmu.wav", speech, "u-law", "", "espeak-ng speech, six voices")
    case("dtmf_music_pcma.wav", A.music_corpus(30, seed=5), "a-law", "",
         "sox chords, sweeps, vibrato, tremolo, plucks")
    (VECTORS / "dtmf_fixtures.json").write_text(json.dumps(cases, indent=1) + "\n")

    # RFC 2833/4733 events exactly as linphonec (mediastreamer2) sent them to us.
    import dtmf_sip
    with tempfile.TemporaryDirectory() as d:
        ans = dtmf_sip.linphone_dtmf(d, KEYS_TYPED, rfc2833=True)
    t0 = ans.packets[0][0]
    events = {"source": "linphonec (liblinphone/mediastreamer2), keys typed during a call",
              "payload_type": ans.event_pt, "keys": KEYS_TYPED,
              "packets": [{"ms": int(round((t - t0) * 1000)), "hex": p.hex()}
                          for t, p in ans.packets]}
    (VECTORS / "dtmf_linphone_events.json").write_text(json.dumps(events, indent=1) + "\n")

    # G.711 as sox codes it: all 256 codes decoded, and a spread of 16-bit values encoded.
    import struct
    codes = bytes(range(256))
    values = list(range(-32768, 32768, 61)) + [32767, -1, 0, 1, 2, 3, 4, 5, 7, 8, -7, -8, -9]
    lin = struct.pack("<%dh" % len(values), *values)
    g711 = {"source": "sox 14.4 (-D, no dither)", "values": values}
    for enc, key in (("u-law", "ulaw"), ("a-law", "alaw")):
        g711[key + "_decoded"] = list(struct.unpack("<256h", A.sox_decode(codes, enc)))
        g711[key + "_encoded"] = A.sox_encode(lin, enc).hex()
    (VECTORS / "g711_sox.json").write_text(json.dumps(g711) + "\n")


if __name__ == "__main__":
    main()

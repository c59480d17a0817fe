"""Audio made by independent tools for the DTMF and G.711 tests: sox for tones, noise, music-like
sounds and G.711 coding, espeak-ng for speech, multimon-ng to decode.

Every function returns 8 kHz mono 16-bit little-endian samples (bytes) made at call time; nothing
generated is committed except the small fixtures that dtmf_fixtures.py writes (host_tests/vectors/
dtmf_*, read by the MicroPython runner). :func:`detect` runs our own detector over such audio.
"""
import math
import random
import subprocess

from hostenv import need

RATE = 8000
DBM0_PEAK = 22627  # the peak of a 0 dBm0 sine in 16-bit PCM (G.711: 3.17 dB under mu-law full scale)
ROW_HZ = (697, 770, 852, 941)
COLUMN_HZ = (1209, 1336, 1477, 1633)
KEYPAD = "123A456B789C*0#D"


def sox():
    return need("sox", "the Debian package sox")


def _bits(encoding):
    return "16" if encoding == "signed-integer" else "8"


def raw(encoding="signed-integer"):
    """sox's options for headerless 8 kHz mono audio on a pipe: 16-bit little-endian PCM, or
    G.711 bytes (ENCODING ``u-law`` or ``a-law``)."""
    little = ["-L"] if encoding == "signed-integer" else []
    return ["-t", "raw", "-r", str(RATE), "-e", encoding, "-b", _bits(encoding), "-c", "1"] \
        + little + ["-"]


def run_sox(args, stdin=None):
    # -R: repeatable (seeded) noise and dither, so that fixtures can be made again byte for byte.
    r = subprocess.run([sox(), "-R"] + args, input=stdin, capture_output=True, timeout=120)
    if r.returncode != 0:
        raise RuntimeError("sox failed: %s" % r.stderr.decode(errors="replace"))
    return r.stdout


def gain(level_dbm0):
    """sox volume factor for a sine whose peak is LEVEL_DBM0."""
    return DBM0_PEAK / 32768 * 10 ** (level_dbm0 / 20)


def key_pair(key):
    i = KEYPAD.index(key)
    return ROW_HZ[i >> 2], COLUMN_HZ[i & 3]


def tone_pair(f_row, f_col, ms, level_row=-10.0, level_col=-10.0, snr_db=None):
    """Two sines from sox (plus white noise at SNR_DB below the pair's power), MS long."""
    seconds = "%.6f" % (ms / 1000.0)
    a, b = gain(level_row), gain(level_col)
    args = ["-D", "-n"] + raw() + ["synth", seconds, "sine", "%.4f" % f_row, "sine",
                                         "%.4f" % f_col]
    remix = "1v%.6f,2v%.6f" % (a, b)
    if snr_db is not None:
        # sox white noise is uniform on [-1, 1]: power 1/3.
        power = (a * a + b * b) / 2
        v = math.sqrt(3 * power / 10 ** (snr_db / 10))
        args += ["whitenoise"]
        remix += ",3v%.6f" % v
    return run_sox(args + ["remix", remix])


def silence(ms):
    return bytes(2 * (RATE * ms // 1000))


def key_tone(key, ms, **kw):
    fr, fc = key_pair(key)
    return tone_pair(fr, fc, ms, **kw)


def sequence(keys, tone_ms=70, gap_ms=70, lead_ms=60, **kw):
    """KEYS as sox tones, each TONE_MS long with GAP_MS of silence after it."""
    parts = [silence(lead_ms)]
    for key in keys:
        parts.append(key_tone(key, tone_ms, **kw))
        parts.append(silence(gap_ms))
    return b"".join(parts)


def add_noise(audio, snr_db, seed):
    """AUDIO plus white noise SNR_DB under AUDIO's mean power (Python's random, seeded)."""
    import array
    s = array.array("h", audio)
    power = sum(v * v for v in s) / max(1, len(s))
    sigma = math.sqrt(power / 10 ** (snr_db / 10))
    rnd = random.Random(seed)
    out = array.array("h", (max(-32768, min(32767, int(round(v + rnd.gauss(0, sigma))))) for v in s))
    return out.tobytes()


# ---- talk-off material ---------------------------------------------------------------------------

TEXTS = [
    "The quick brown fox jumps over the lazy dog while the committee debates the budget.",
    "Please call me back at your earliest convenience, the number is on the invoice.",
    "One, two, three, four, five, six, seven, eight, nine, ten, star, hash, zero.",
    "Seventy seven Sunset Strip, eleven eleven Elm Street, and nine hundred ninety nine.",
    "Is anybody there? Hello? Hello! I can hear you but the line is very noisy today.",
    "Beautiful music, singing, humming and whistling: la la la, mmmm, ooooh, eeeee, aaaah.",
    "She sells sea shells by the sea shore, and the shells she sells are surely sea shells.",
    "Meet me at the station at half past nine, bring the tickets and the umbrella.",
    "Our quarterly results exceeded expectations despite the volatile market conditions.",
    "Would you like to hear the menu again? Press one for sales, two for support.",
]
VOICES = ["en", "en-us", "en+f3", "en+m3", "en+f5", "de", "fr", "es", "it", "en+whisper",
          "en-gb-scotland", "nl", "pt", "pl", "en+f2", "en+m7", "sv", "cs", "en+klatt", "fi"]


def speech(text, voice="en", speed=160, pitch=50):
    """espeak-ng speaking TEXT, resampled by sox to 8 kHz 16-bit."""
    espeak = need("espeak-ng", "the Debian package espeak-ng")
    r = subprocess.run([espeak, "-v", voice, "-s", str(speed), "-p", str(pitch), "--stdout", text],
                       capture_output=True, timeout=120)
    if r.returncode != 0:
        raise RuntimeError("espeak-ng failed: %s" % r.stderr.decode(errors="replace"))
    return run_sox(["-D", "-t", "wav", "-"] + raw() + ["gain", "-n", "-6"], stdin=r.stdout)


def speech_corpus(seconds, seed=7):
    """At least SECONDS of speech: varied voices, speeds, pitches and texts."""
    rnd = random.Random(seed)
    parts, total = [], 0
    i = 0
    while total < seconds * RATE * 2:
        voice = VOICES[i % len(VOICES)]
        text = TEXTS[(i * 3 + 1) % len(TEXTS)]
        audio = speech(text, voice, speed=rnd.choice((110, 140, 170, 200, 240)),
                       pitch=rnd.choice((20, 35, 50, 65, 80, 99)))
        parts.append(audio)
        total += len(audio)
        i += 1
    return b"".join(parts)


# Equal-tempered notes from C3 to C7.
def _note(n):
    return 440.0 * 2 ** ((n - 69) / 12)


def music_corpus(seconds, seed=11):
    """At least SECONDS of music-like sound from sox: chords, sweeps, vibrato, tremolo, noise."""
    rnd = random.Random(seed)
    parts, total = [], 0
    kind = 0
    while total < seconds * RATE * 2:
        dur = rnd.choice((0.5, 1.0, 2.0))
        d = "%.3f" % dur
        k = kind % 6
        if k == 0:  # chord of 3 or 4 notes, with a little of each note's harmonics
            root = rnd.randrange(48, 84)
            notes = [root] + [root + step for step in rnd.choice(((4, 7), (3, 7), (4, 7, 11),
                                                                   (3, 7, 10), (5, 9), (7, 12)))]
            args = ["synth", d] + [x for n in notes for x in ("sine", "%.3f" % _note(n))]
            remix = ",".join("%dv%.3f" % (j + 1, 0.5 / len(notes)) for j in range(len(notes)))
            audio = run_sox(["-D", "-n"] + raw() + args + ["remix", remix, "fade", "0.01",
                                                               d, "0.05"])
        elif k == 1:  # sweep
            lo, hi = rnd.choice(((300, 2000), (600, 1700), (2000, 500), (900, 1300), (200, 3500)))
            audio = run_sox(["-D", "-n"] + raw() + ["synth", d, rnd.choice(("sine", "triangle")),
                                                        "%d-%d" % (lo, hi), "vol", "0.4"])
        elif k == 2:  # vibrato: a note whose frequency wobbles at a few Hz
            f = _note(rnd.randrange(60, 90))
            audio = run_sox(["-D", "-n"] + raw() + ["synth", d, "sine", "%.2f" % f, "synth",
                                                        d, "sine", "fmod",
                                                        "%.1f" % rnd.uniform(3, 8), "vol", "0.4"])
        elif k == 3:  # tremolo on a two-note interval
            a, b = rnd.randrange(55, 90), rnd.randrange(55, 90)
            audio = run_sox(["-D", "-n"] + raw() + ["synth", d, "sine", "%.2f" % _note(a),
                                                        "sine", "%.2f" % _note(b), "remix",
                                                        "1v0.3,2v0.3", "tremolo",
                                                        "%.1f" % rnd.uniform(4, 10), "60"])
        elif k == 4:  # plucked strings
            n = rnd.randrange(45, 80)
            audio = run_sox(["-D", "-n"] + raw() + ["synth", d, "pluck", "%.2f" % _note(n),
                                                        "vol", "0.5"])
        else:  # a square-wave melody note (rich in harmonics) with pink noise
            n = rnd.randrange(50, 80)
            audio = run_sox(["-D", "-n"] + raw() + ["synth", d, "square", "%.2f" % _note(n),
                                                        "pinknoise", "remix", "1v0.2,2v0.05"])
        parts.append(audio)
        total += len(audio)
        kind += 1
    return b"".join(parts)


# ---- multimon-ng -----------------------------------------------------------------------------

def multimon_decode(wav_path):
    """The DTMF keys that multimon-ng finds in a WAV file (it resamples with sox itself)."""
    mm = need("multimon-ng", "the Debian package multimon-ng")
    sox()
    r = subprocess.run([mm, "-q", "-c", "-a", "DTMF", "-t", "wav", str(wav_path)],
                       capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        raise RuntimeError("multimon-ng failed: %s" % r.stderr)
    keys = []
    for line in r.stdout.splitlines():
        if line.startswith("DTMF: "):
            keys.append(line[6:].strip())
    return "".join(keys)


def write_wav(path, samples, encoding="signed-integer", dither=False):
    """SAMPLES (16-bit little-endian bytes) as an 8 kHz mono WAV file that sox writes in ENCODING
    (``signed-integer``, ``u-law``, ``a-law``); DITHER lets sox dither (seeded) on the way down."""
    run_sox(([] if dither else ["-D"]) + raw() + ["-e", encoding, "-b", _bits(encoding),
                                                  str(path)], stdin=bytes(samples))


def sox_encode(samples, encoding):
    """16-bit SAMPLES as sox codes them in G.711 ENCODING (``u-law``, ``a-law``), no dither."""
    return run_sox(["-D"] + raw() + raw(encoding), stdin=samples)


def sox_decode(codes, encoding):
    """G.711 CODES as sox decodes them to 16-bit samples."""
    return run_sox(["-D"] + raw(encoding) + raw(), stdin=codes)


def shifted(keys, row=0.0, col=0.0, ms=70, gap=70, **kw):
    """KEYS with their row and column tones off by the fractions ROW and COL (sox sines)."""
    parts = [silence(60)]
    for key in keys:
        fr, fc = key_pair(key)
        parts.append(tone_pair(fr * (1 + row), fc * (1 + col), ms, **kw))
        parts.append(silence(gap))
    return b"".join(parts)


def aligned(keys, ms, gap, step=7):
    """KEYS as MS-long tones at every alignment to the detector's 10 ms blocks: before key i a
    lead of (i * STEP) % 80 samples."""
    parts = [silence(60)]
    for i, key in enumerate(keys):
        parts.append(bytes(2 * (i * step % 80)))
        parts.append(key_tone(key, ms))
        parts.append(silence(gap))
    return b"".join(parts)


def detect(audio, frame=160):
    """[(key, sample)]: what our detector finds in AUDIO fed in frames of FRAME samples."""
    from zerotap.dtmf import detector
    det = detector.Detector()
    found = []
    for i in range(0, len(audio), 2 * frame):
        found.extend(det.feed(audio[i:i + 2 * frame]))
    return found


def with_harmonics(key, ms, level=-10.0, harmonic_db=-20.0):
    """A key whose two tones each carry a second harmonic HARMONIC_DB under them (sox sines)."""
    fr, fc = key_pair(key)
    a, h = gain(level), gain(level + harmonic_db)
    return run_sox(["-D", "-n"] + raw() + ["synth", "%.6f" % (ms / 1000.0), "sine", str(fr),
                                                "sine", str(fc), "sine", str(2 * fr), "sine",
                                                str(2 * fc), "remix",
                                                "1v%.6f,2v%.6f,3v%.6f,4v%.6f" % (a, a, h, h)])

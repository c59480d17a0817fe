"""python -m zerotap.dtmf encode DIGITS OUT.wav | decode IN.wav

encode [--tone-ms N] [--gap-ms N] [--level DBM0] [--twist DB] [--lead-ms N] DIGITS OUT.wav
    writes DIGITS as DTMF tones, 8 kHz mono 16-bit PCM.
decode IN.wav
    prints the keys found in an 8 kHz mono WAV file (16-bit PCM, mu-law or A-law).
Runs on CPython and MicroPython alike.
"""
import sys

USAGE = """usage: python -m zerotap.dtmf encode [options] DIGITS OUT.wav
       python -m zerotap.dtmf decode IN.wav
encode options: --tone-ms N (80) --gap-ms N (60) --level DBM0 (-8, row tone)
                --twist DB (2, column above row) --lead-ms N (0)
encode writes 8 kHz mono 16-bit PCM; decode reads 8 kHz mono 16-bit PCM, mu-law or A-law
and prints the keys found."""

from zerotap.dtmf import detector, tones, wav

_OPTIONS = {"--tone-ms": "tone_ms", "--gap-ms": "gap_ms", "--level": "level_dbm0",
            "--twist": "twist_db", "--lead-ms": "lead_ms"}


def _usage(msg=None):
    if msg:
        print("zerotap.dtmf: %s" % msg)
    print(USAGE)
    return 2


def encode(args):
    options = {}
    rest = []
    i = 0
    while i < len(args):
        a = args[i]
        if a in _OPTIONS:
            if i + 1 >= len(args):
                raise ValueError("%s needs a value" % a)
            value = float(args[i + 1])
            name = _OPTIONS[a]
            options[name] = value if name in ("level_dbm0", "twist_db") else int(value)
            i += 2
        else:
            rest.append(a)
            i += 1
    if len(rest) != 2:
        raise ValueError("encode takes DIGITS and OUT.wav")
    samples = tones.generate(rest[0], **options)
    wav.write(rest[1], samples)
    return 0


def decode(args):
    if len(args) != 1:
        raise ValueError("decode takes IN.wav")
    info = wav.read_info(args[0])
    if info.rate != 8000 or info.channels != 1:
        raise ValueError("%s is %d Hz with %d channels; need 8000 Hz mono"
                         % (args[0], info.rate, info.channels))
    det = detector.Detector(info.codec)
    keys = []
    for piece in wav.read_chunks(args[0]):
        for key, _ in det.feed(piece):
            keys.append(key)
    print("".join(keys))
    return 0


def main(argv):
    if len(argv) < 1 or argv[0] not in ("encode", "decode"):
        return _usage()
    try:
        return encode(argv[1:]) if argv[0] == "encode" else decode(argv[1:])
    except (ValueError, OSError) as e:
        return _usage(str(e))


sys.exit(main(sys.argv[1:]))

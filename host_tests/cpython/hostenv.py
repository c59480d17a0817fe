"""Helpers for CPython-only tests: the repo's paths, and tools that must be present.

A test that needs a real tool or peer calls :func:`need`. When the tool is missing the test FAILS
with the name of the package to install: it never skips quietly.
"""
import os
import shutil
import sys
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

#!/usr/bin/env bash
# Host setup behind `make test`, `make demo` and `make bench`.
# It installs what is missing and nothing else, so a second run does no work:
#   1. Debian packages listed in tools/debian-packages.txt (apt-get, as root or with sudo);
#   2. .venv with the Python packages of pyproject.toml's `dev` extra, the host package in
#      editable mode, and the native CPython extension when native/ has one.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}

say() { printf 'setup: %s\n' "$*"; }

# --- 1. Debian packages -------------------------------------------------------------------------
mapfile -t wanted < <(sed -e 's/#.*//' -e 's/[[:space:]]//g' -e '/^$/d' tools/debian-packages.txt)
missing=()
for pkg in "${wanted[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if ((${#missing[@]})); then
    if [ "$(id -u)" -eq 0 ]; then
        sudo=()
    elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        sudo=(sudo)
    else
        echo "setup: missing Debian packages, install them as root and run again: apt-get install ${missing[*]}" >&2
        exit 1
    fi
    say "installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    "${sudo[@]}" apt-get update -q >/dev/null || say "apt-get update failed; trying the install with the lists at hand"
    "${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi

# --- 2. Python environment ----------------------------------------------------------------------
if [ ! -x "$VENV/bin/python" ]; then
    say "creating $VENV"
    "$PYTHON" -m venv "$VENV"
fi

# What the editable install depends on: a change in any of these reinstalls, nothing else does.
inputs=(pyproject.toml)
[ -f setup.py ] && inputs+=(setup.py)
[ -d native ] && while IFS= read -r -d '' f; do inputs+=("$f"); done < <(find native -type f \( -name '*.c' -o -name '*.h' \) -print0 | sort -z)
digest=$(cat "${inputs[@]}" | sha256sum | cut -c1-32)
stamp="$VENV/.zerotap-installed"
if [ "$(cat "$stamp" 2>/dev/null)" != "$digest" ]; then
    say "installing Python packages and the host package into $VENV"
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check -e '.[dev]'
    echo "$digest" >"$stamp"
fi

# --- 3. Display drivers for the driver-path tests (downloaded once into .venv, never committed) ---
"$VENV/bin/python" host_tests/cpython/ui_drivers.py

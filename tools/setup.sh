#!/usr/bin/env bash
# Host setup behind `make test`, `make demo` and `make bench`.
# It installs what is missing and nothing else, so a second run does no work:
#   1. Debian packages listed in tools/debian-packages.txt (apt-get, as root or with sudo);
#   2. .venv with the Python packages of pyproject.toml's `dev` extra, the host package in
#      editable mode, and the native CPython extension when native/ has one.
#   3. the display drivers of the driver-path tests (host_tests/cpython/ui_drivers.py).
# `make check` runs it as SETUP_DEBIAN=0 SETUP_EXTRA=check SETUP_DRIVERS=0 ZEROTAP_NATIVE=auto: no apt,
# only pytest and micropython, no drivers, and the native module only when mbedTLS's headers exist.
#   SETUP_DEBIAN=0     skip step 1 (a user without root; nothing that needs a Debian package runs)
#   SETUP_EXTRA=name   the pyproject.toml extra to install (default dev)
#   SETUP_DRIVERS=0    skip step 3
#   ZEROTAP_NATIVE=0   build no native extension; auto: build it when mbedtls/aes.h is found
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}
SETUP_DEBIAN=${SETUP_DEBIAN:-1}
SETUP_EXTRA=${SETUP_EXTRA:-dev}
SETUP_DRIVERS=${SETUP_DRIVERS:-1}
ZEROTAP_NATIVE=${ZEROTAP_NATIVE:-1}

say() { printf 'setup: %s\n' "$*"; }

# --- 1. Debian packages -------------------------------------------------------------------------
if [ "$SETUP_DEBIAN" = 0 ]; then
    say "SETUP_DEBIAN=0: Debian packages not checked"
    wanted=()
else
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
fi

# --- 2. Python environment ----------------------------------------------------------------------
if [ ! -x "$VENV/bin/python" ]; then
    say "creating $VENV"
    "$PYTHON" -m venv "$VENV"
fi

if [ "$ZEROTAP_NATIVE" = auto ]; then
    ZEROTAP_NATIVE=0
    for d in /usr/include /usr/local/include; do
        [ -f "$d/mbedtls/aes.h" ] && ZEROTAP_NATIVE=1
    done
fi
export ZEROTAP_NATIVE  # setup.py builds the _zcrypto extension only when it is 1

# What the editable install depends on: a change in any of these reinstalls, nothing else does.
inputs=(pyproject.toml)
[ -f setup.py ] && inputs+=(setup.py)
[ -d native ] && while IFS= read -r -d '' f; do inputs+=("$f"); done < <(find native -type f \( -name '*.c' -o -name '*.h' \) -print0 | sort -z)
digest=$( (cat "${inputs[@]}"; echo "extra=$SETUP_EXTRA native=$ZEROTAP_NATIVE") | sha256sum | cut -c1-32)
stamp="$VENV/.zerotap-installed"
if [ "$(cat "$stamp" 2>/dev/null)" != "$digest" ]; then
    say "installing Python packages ($SETUP_EXTRA) and the host package into $VENV"
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check -e ".[$SETUP_EXTRA]"
    echo "$digest" >"$stamp"
fi

# --- 3. Display drivers for the driver-path tests (downloaded once into .venv, never committed) ---
if [ "$SETUP_DRIVERS" != 0 ]; then
    "$VENV/bin/python" host_tests/cpython/ui_drivers.py
fi

#!/usr/bin/env bash
# `make check`: the quick path for a contributor without root. .venv only (no Debian packages, no
# real peers): the firmware tests under CPython (pytest) and under the MicroPython unix port
# (host_tests/mp_runner.py), on every crypto backend that loads, the native one included when
# mbedTLS's headers are there. It ends by saying what it did not run; `make test` runs everything.
set -uo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
start=$(date +%s)
say() { printf 'check: %s\n' "$*"; }

SETUP_DEBIAN=0 SETUP_EXTRA=${SETUP_EXTRA:-check} SETUP_DRIVERS=0 ZEROTAP_NATIVE=${ZEROTAP_NATIVE:-auto} \
    VENV="$VENV" bash tools/setup.sh || exit 1

rc=0
say "CPython: pytest host_tests/firmware"
"$VENV/bin/python" -m pytest -q -p no:cacheprovider host_tests/firmware || rc=1
say "MicroPython unix port: host_tests/mp_runner.py"
"$VENV/bin/micropython" host_tests/mp_runner.py || rc=1

backends=$("$VENV/bin/python" -c 'from zerotap import crypto; print(" ".join(crypto.backends()))')
mp_backends=$(MICROPYPATH=firmware "$VENV/bin/micropython" -c 'from zerotap import crypto; print(" ".join(crypto.backends()))')
echo
say "crypto backends tested: CPython: $backends; MicroPython: $mp_backends"
case " $backends " in
    *" native "*) say "native module (_zcrypto over mbedTLS): built and tested" ;;
    *) if [ "${ZEROTAP_NATIVE:-auto}" = 0 ]; then why="ZEROTAP_NATIVE=0"
       else why="no mbedTLS headers (mbedtls/aes.h; Debian libmbedtls-dev)"; fi
       say "native module NOT built and NOT tested: $why" ;;
esac
say "NOT run (make test runs them, as root or with the Debian packages of tools/debian-packages.txt):"
for f in host_tests/cpython/test_*.py; do
    printf '  %s\n' "$f"
done
say "  (real peers: linphonec, Kamailio with TLS, baresip, bzrtp, libsrtp, tshark, sox, multimon-ng,"
say "   espeak-ng, coturn, aioice, libnice, Redis, dnsmasq, nftables namespaces, Chromium;"
say "   the ICE helper server, Hypothesis, the mpy-cross compile check, the display drivers)"
say "took $(($(date +%s) - start)) s; $([ $rc = 0 ] && echo passed || echo FAILED)"
exit $rc

#!/usr/bin/env bash
# The freeze manifest checked without a board: MicroPython's unix port built from a MicroPython
# checkout you provide, with what boards/zerotap_manifest.py freezes (the zerotap package without
# the host-only modules) and a board's board.py frozen in, then a board's boot test and the heap
# after the box's imports on a small fixed heap, the package taken from the frozen bytecode only.
#
#   [MBEDTLS=<mbedTLS checkout>] tools/firmware_unix.sh <MicroPython checkout> [board] [heap]
#   (defaults: olimex_esp32_poe, a 320 KiB heap)
#
# The checkout is not modified: mpy-cross and the port build into build/firmware-unix/. The
# board's own manifest.py also includes the esp32 port's modules and micropython-lib's ssd1306
# (require()), which need the esp32 port and the micropython-lib submodule: here only the zerotap
# part and board.py are frozen. The unix port is built without btree (its submodule need not be
# checked out).
set -euo pipefail
MPY_DIR=$(cd "${1:?usage: tools/firmware_unix.sh <MicroPython checkout> [board] [heap]}" && pwd)
BOARD=${2:-olimex_esp32_poe}
HEAP=${3:-320k}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=$ROOT/build/firmware-unix/$BOARD
[ -f "$MPY_DIR/py/mkenv.mk" ] && [ -f "$MPY_DIR/ports/unix/Makefile" ] ||
    { echo "firmware_unix: $MPY_DIR is not a MicroPython checkout" >&2; exit 2; }
[ -f "$ROOT/boards/$BOARD/board.py" ] || { echo "firmware_unix: no board $BOARD" >&2; exit 2; }
mkdir -p "$OUT"
cat >"$OUT/manifest.py" <<MANIFEST
include("$ROOT/boards/zerotap_manifest.py")
module("board.py", base_path="$ROOT/boards/$BOARD", opt=3)
MANIFEST
# MicroPython's build insists on micropython-lib's README.md; this manifest require()s nothing
# from it, so an empty stand-in does when the checkout's submodule is not initialised
MPY_LIB=$MPY_DIR/lib/micropython-lib
if [ ! -f "$MPY_LIB/README.md" ]; then
    MPY_LIB=$OUT/no-micropython-lib && mkdir -p "$MPY_LIB" && touch "$MPY_LIB/README.md"
fi
# viper and native code (crypto, DTMF) need mpy-cross told the CPU, as the esp32 port tells it
# xtensawin
case $(uname -m) in
    x86_64) MARCH=x64 ;; i?86) MARCH=x86 ;; *) echo "firmware_unix: no mpy-cross -march for $(uname -m)" >&2; exit 2 ;;
esac
# crypto (cryptolib, hashlib) comes with the port's ssl module: from the checkout's lib/mbedtls,
# or MBEDTLS=<an mbedTLS checkout> (the commit MicroPython pins there); neither: no ssl, and the
# box's import stops at "no crypto backend"
if [ -n "${MBEDTLS:-}" ]; then
    SSL=(MBEDTLS_DIR="$(realpath --relative-to="$MPY_DIR" "$MBEDTLS")")
elif [ -f "$MPY_DIR/lib/mbedtls/include/mbedtls/ssl.h" ]; then
    SSL=()
else
    SSL=(MICROPY_PY_SSL=0)
fi
jobs=$(nproc)
make -s -C "$MPY_DIR/mpy-cross" BUILD="$OUT/mpy-cross" -j"$jobs"
make -s -C "$MPY_DIR/ports/unix" VARIANT=standard BUILD="$OUT/unix" FROZEN_MANIFEST="$OUT/manifest.py" \
    MPY_LIB_DIR="$MPY_LIB" MPY_CROSS_FLAGS="-march=$MARCH" MICROPY_MPYCROSS="$OUT/mpy-cross/mpy-cross" MICROPY_PY_BTREE=0 "${SSL[@]}" -j"$jobs"
MP=$OUT/unix/micropython
echo "firmware_unix: built $MP"
# only the frozen package: no firmware/ on the path (the tests' own helpers come from host_tests)
cd "$ROOT"
MICROPYPATH=".frozen:$ROOT/host_tests/firmware" "$MP" -X heapsize="$HEAP" -c "
import gc, sys
gc.collect(); base = gc.mem_alloc()
import zerotap.runtime.boot, zerotap.runtime.box, zerotap.media, zerotap.zrtp.engine, zerotap.sip.proxy
gc.collect()
try:  # a frozen module's __file__ names no file on disk
    open(zerotap.runtime.boot.__file__).close()
    raise SystemExit('firmware_unix: zerotap came from source files, not the frozen bytecode')
except OSError:
    pass
print('firmware_unix: the box imported from frozen bytecode on a %s heap: %d bytes in use after import' % ('$HEAP', gc.mem_alloc() - base))
"
# test_manifests_... reads firmware/ sources, which this tree has not: it fails here by design.
# the boards' boot test (board.py with stub machine/network modules, the boot up to the box's
# loop on loopback) from a tree without firmware/ sources
T=$OUT/tree
rm -rf "$T" && mkdir -p "$T/host_tests/firmware" "$T/host_tests/vectors"
cp -r "$ROOT/boards" "$T/"
cp "$ROOT/host_tests/mp_runner.py" "$T/host_tests/"
cp "$ROOT"/host_tests/firmware/{test_boards_wiring.py,support.py,vectors.py} "$T/host_tests/firmware/"
cp "$ROOT/host_tests/vectors/boards_wiring.json" "$T/host_tests/vectors/"
cd "$T"
MICROPYPATH=".frozen" "$MP" -X heapsize="$HEAP" host_tests/mp_runner.py test_boards_wiring.py

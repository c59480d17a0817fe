"""Build MicroPython for a board with ZeroTap frozen in, from a MicroPython checkout you provide.

    make firmware BOARD=olimex_esp32_poe MPY_DIR=../micropython            # build
    make firmware BOARD=olimex_esp32_poe MPY_DIR=../micropython DRY_RUN=1  # check, show the steps

Which way a board takes (boards/README.md, "Deploy"): a board WITHOUT PSRAM leaves MicroPython
about 112 KiB of heap, too little for the box's bytecode loaded from .mpy files (354 KB of them,
compiled into that heap at import): it needs this firmware, with the `zerotap` package frozen
(bytecode in flash, run from there). Only a board WITH PSRAM (a WROVER module) can run the
stock firmware with .mpy files (`make deploy`).

The build is MicroPython's own esp32 build (ports/esp32/README.md in the checkout): ESP-IDF in the
version that README names, set up in this shell (`source <esp-idf>/export.sh`), then
`make -C mpy-cross`, `make submodules` and `make` in ports/esp32 with BOARD, FROZEN_MANIFEST
(boards/<name>/manifest.py) and USER_C_MODULES (native/zcrypto, the fast crypto). This script
checks those prerequisites first and stops with what is missing; DRY_RUN=1 stops after the checks
and prints the commands. The image lands in build/firmware/<board>/firmware.bin.
"""
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BOARDS = ROOT / "boards"

# board -> (MicroPython board, its variant, the module on it, PSRAM?, chip for esptool, offset)
TARGETS = {
    "olimex_esp32_poe": ("OLIMEX_ESP32_POE", "", "ESP32-WROOM-32E (ESP32-POE, ESP32-POE-ISO)",
                         False, "esp32", "0x1000"),
    "wt32_eth01": ("ESP32_GENERIC", "", "ESP32-D0WD(-V3), 4 MB flash, no PSRAM", False, "esp32",
                   "0x1000"),
    "esp32_devkit": ("ESP32_GENERIC", "", "ESP32-WROOM-32 (DevKitC); a WROVER DevKitC has PSRAM",
                     False, "esp32", "0x1000"),
    "heltec_wifi_kit_32": ("ESP32_GENERIC", "", "ESP32-D0WDQ6 (V2; V3: ESP32-S3FN8), no PSRAM",
                           False, "esp32", "0x1000"),
}
# Heltec V3 (board.py V3 = True): ESP32-S3, no PSRAM either; its image starts at 0x0.
S3 = ("ESP32_GENERIC_S3", "", "ESP32-S3FN8 (Heltec V3), no PSRAM", False, "esp32s3", "0x0")


class Refused(SystemExit):
    pass


def target(board):
    if board not in TARGETS:
        known = sorted(TARGETS)
        raise Refused("firmware: unknown board %r (boards with a firmware build: %s)"
                      % (board, ", ".join(known)))
    if board == "heltec_wifi_kit_32" and "\nV3 = True" in (BOARDS / board / "board.py").read_text():
        return S3
    return TARGETS[board]


def problems(mpy_dir, mpy_board, env):
    """What is missing for the build, as sentences (empty: all there)."""
    out = []
    mpy = Path(mpy_dir)
    if not (mpy / "py" / "mkenv.mk").is_file() or not (mpy / "ports" / "esp32" / "Makefile").is_file():
        out.append("MPY_DIR=%s is not a MicroPython checkout (no py/mkenv.mk and "
                   "ports/esp32/Makefile)" % mpy_dir)
        return out
    if not (mpy / "ports" / "esp32" / "boards" / mpy_board).is_dir():
        out.append("this MicroPython has no esp32 board %s (ports/esp32/boards/): use a newer "
                   "checkout" % mpy_board)
    idf = env.get("IDF_PATH", "")
    if not idf or not (Path(idf) / "tools" / "idf.py").is_file():
        out.append("ESP-IDF is not set up in this shell (IDF_PATH %s): install the version that "
                   "%s/ports/esp32/README.md names and run `source <esp-idf>/export.sh`"
                   % ("unset" if not idf else "has no tools/idf.py", mpy_dir))
    elif not shutil.which("idf.py", path=env.get("PATH")):
        out.append("idf.py is not on PATH: run `source %s/export.sh` in this shell" % idf)
    if not shutil.which("cmake", path=env.get("PATH")):
        out.append("cmake is not on PATH (ESP-IDF's export.sh provides it)")
    return out


def plan(board, mpy_dir):
    mpy_board, variant, _, _, _, _ = target(board)
    mpy = Path(mpy_dir).resolve()
    build = ROOT / "build" / "firmware" / board
    make = ["make", "-C", str(mpy / "ports" / "esp32"), "BOARD=" + mpy_board]
    if variant:
        make.append("BOARD_VARIANT=" + variant)
    frozen = "FROZEN_MANIFEST=" + str(BOARDS / board / "manifest.py")  # also tells submodules
    return build, [                                                  # to fetch micropython-lib
        ["make", "-C", str(mpy / "mpy-cross")],
        make + [frozen, "submodules"],
        make + ["BUILD=" + str(build), frozen,
                "USER_C_MODULES=" + str(ROOT / "native" / "zcrypto" / "micropython.cmake")],
    ]


def main(env):
    board = env.get("BOARD", "")
    mpy_dir = env.get("MPY_DIR", "")
    dry = env.get("DRY_RUN", "") not in ("", "0")
    if not board or not mpy_dir:
        raise Refused("firmware: make firmware BOARD=<%s> MPY_DIR=<MicroPython checkout> "
                      "(ESP-IDF set up as MicroPython's ports/esp32/README.md says)"
                      % "|".join(sorted(TARGETS)))
    mpy_board, variant, module, psram, chip, offset = target(board)
    missing = problems(mpy_dir, mpy_board, env)
    if missing:
        raise Refused("firmware: cannot build %s:\n  - %s" % (board, "\n  - ".join(missing)))
    build, steps = plan(board, mpy_dir)
    print("firmware: %s on %s (%s): MicroPython %s%s, zerotap frozen (boards/%s/manifest.py)"
          % (board, module, "PSRAM" if psram else "no PSRAM", mpy_board,
             " variant " + variant if variant else "", board))
    for cmd in steps:
        print("  $ " + " ".join(cmd), flush=True)
        if not dry:
            r = subprocess.run(cmd, env=env)
            if r.returncode != 0:
                raise Refused("firmware: `%s` failed (exit %d)" % (" ".join(cmd), r.returncode))
    image = build / "firmware.bin"
    print("firmware: %s %s" % ("would build" if dry else "built", image.relative_to(ROOT)))
    print("then flash it and copy main.py and your config (boards/README.md, \"Deploy\"):")
    print("  $ esptool.py --chip %s --port /dev/ttyUSB0 erase_flash" % chip)
    print("  $ esptool.py --chip %s --port /dev/ttyUSB0 --baud 460800 write_flash -z %s %s"
          % (chip, offset, image.relative_to(ROOT)))
    print("  $ make deploy BOARD=%s PORT=/dev/ttyUSB0 FROZEN=1" % board)
    return 0


if __name__ == "__main__":
    sys.exit(main(dict(os.environ)))

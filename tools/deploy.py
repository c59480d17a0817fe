"""Put ZeroTap on a board: precompile with mpy-cross, copy with mpremote, list what is there.

    make deploy BOARD=esp32_devkit PORT=/dev/ttyUSB0 PSRAM=1   # stock firmware, a WROVER board
    make deploy BOARD=olimex_esp32_poe PORT=/dev/ttyUSB0 FROZEN=1  # after `make firmware`
    make deploy BOARD=esp32_devkit DRY_RUN=1        # what would be copied, without a board

Stock MicroPython with .mpy files only on a board with PSRAM: without it MicroPython has about
112 KiB of heap and the box's bytecode, loaded from .mpy files, does not fit beside the box. Such
a board runs the firmware with the package frozen in (`make firmware`, tools/firmware.py), and
FROZEN=1 copies only main.py onto it. A board's PSRAM is tools/firmware.py's TARGETS; PSRAM=1
says this one has it (a WROVER module) after all.

The firmware package goes to /lib/zerotap as .mpy files (compiled for the board's CPU), the board's
board.py as board.mpy and its main.py as is (MicroPython runs main.py only as source). micropython-
lib's ssd1306 driver is installed on the board with `mpremote mip install ssd1306` (it needs the
internet on this machine); a custom build freezes it instead (boards/<name>/manifest.py).

Modules that only the host uses stay off the board (HOST_ONLY in boards/zerotap_manifest.py, which
the freeze manifests include too): the command lines, CPython's stand-ins for MicroPython's
modules, WAV files, PNG snapshots, the terminal panel and the gallery of sample screens. Nothing a
board imports needs them (test_deploy_dry_run.py runs a board's boot without them under the
MicroPython unix port).
"""
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIRMWARE = ROOT / "firmware"
BOARDS = ROOT / "boards"


def board_files():
    """firmware/zerotap's modules for a board (boards/zerotap_manifest.py: the freeze manifest's
    list too), as paths relative to firmware/, and the host-only ones left out."""
    env = {}
    exec((BOARDS / "zerotap_manifest.py").read_text(), env)
    return env["board_files"](str(FIRMWARE)), env["HOST_ONLY"]


def _tool(name):
    local = Path(sys.executable).parent / name
    return str(local) if local.exists() else name


def plan(board):
    """[(source, target on the board, compile?)] for BOARD."""
    bdir = BOARDS / board
    if not (bdir / "board.py").is_file():
        known = sorted(p.name for p in BOARDS.iterdir() if (p / "board.py").is_file() and p.name != "host")
        raise SystemExit("deploy: unknown board %r (known: %s)" % (board, ", ".join(known)))
    if board == "host":
        raise SystemExit("deploy: the host board runs from the source tree; nothing to deploy")
    items = []
    for rel in board_files()[0]:
        items.append((FIRMWARE / rel, "/lib/" + rel[:-3] + ".mpy", True))
    items.append((bdir / "board.py", "/board.mpy", True))
    items.append((bdir / "main.py", "/main.py", False))
    return items


def _arch(board):
    for line in (BOARDS / board / "board.py").read_text().splitlines():
        if line.startswith("ARCH ="):
            return line.split("=", 1)[1].split("#")[0].strip().strip('"')
    return "xtensawin"


def _psram_note(board, psram):
    """Why the stock firmware and .mpy files do not suit BOARD, or None when they do."""
    sys.path.insert(0, str(ROOT / "tools"))
    import firmware
    try:
        _, _, module, has_psram, _, _ = firmware.target(board)
    except firmware.Refused:
        return None
    if has_psram or psram:
        return None
    return ("%s (%s) has no PSRAM: its ~112 KiB heap cannot hold the box's .mpy bytecode. "
            "Build the firmware with zerotap frozen in: make firmware BOARD=%s "
            "MPY_DIR=<MicroPython checkout>, flash it, then make deploy BOARD=%s PORT=<port> "
            "FROZEN=1 (copies main.py). A board that has PSRAM after all (a WROVER module): "
            "PSRAM=1." % (board, module, board, board))


def compile_all(items, arch, build):
    mpy_cross = _tool("mpy-cross")
    out = []
    for src, target, compile_it in items:
        if not compile_it:
            out.append((src, target))
            continue
        dst = build / target.lstrip("/")
        dst.parent.mkdir(parents=True, exist_ok=True)
        r = subprocess.run([mpy_cross, "-march=" + arch, "-O2", "-s", target.lstrip("/")[:-4] + ".py",
                            "-o", str(dst), str(src)], capture_output=True, text=True)
        if r.returncode != 0:
            raise SystemExit("deploy: mpy-cross failed on %s:\n%s" % (src, r.stderr or r.stdout))
        out.append((dst, target))
    return out


def main(argv):
    board = os.environ.get("BOARD") or (argv[0] if argv else "")
    port = os.environ.get("PORT", "")
    dry = os.environ.get("DRY_RUN", "") not in ("", "0")
    if not board:
        raise SystemExit("deploy: say which board: make deploy BOARD=<name> PORT=<serial port>")
    if not dry and not port:
        raise SystemExit("deploy: say which serial port: make deploy BOARD=%s PORT=/dev/ttyUSB0 "
                         "(or DRY_RUN=1)" % board)
    frozen = os.environ.get("FROZEN", "") not in ("", "0")
    items = plan(board)
    if frozen:  # the package and board.py are in the firmware (make firmware): main.py only
        items = [i for i in items if i[1] == "/main.py"]
    else:
        note = _psram_note(board, os.environ.get("PSRAM", "") not in ("", "0"))
        if note and not dry:
            raise SystemExit("deploy: " + note)
        if note:
            print("deploy: note: " + note)
    arch = _arch(board)
    build = ROOT / "build" / "deploy" / board
    files = compile_all(items, arch, build)
    total = sum(p.stat().st_size for p, _ in files)
    mpy = sum(p.stat().st_size for p, t in files if t.endswith(".mpy"))
    print("deploy: %s (%s), %d files, %d bytes (.mpy: %d bytes)%s"
          % (board, arch, len(files), total, mpy, ", dry run" if dry else " to " + port))
    dirs = sorted({t.rsplit("/", 1)[0] for _, t in files if t.count("/") > 1})
    mpremote = [_tool("mpremote"), "connect", port] if port else None
    steps = []
    for d in dirs:
        parts = d.strip("/").split("/")
        for i in range(1, len(parts) + 1):
            sub = "/" + "/".join(parts[:i])
            if ("mkdir", sub) not in steps:
                steps.append(("mkdir", sub))
    for p, t in files:
        steps.append(("cp", (p, t)))
    n = len(files)
    i = 0
    for kind, arg in steps:
        if kind == "mkdir":
            if dry:
                print("  mkdir :%s" % arg)
            else:
                subprocess.run(mpremote + ["fs", "mkdir", ":" + arg], capture_output=True)
            continue
        i += 1
        p, t = arg
        print("  [%d/%d] %s -> :%s (%d bytes)" % (i, n, p.relative_to(ROOT), t, p.stat().st_size))
        if not dry:
            r = subprocess.run(mpremote + ["fs", "cp", str(p), ":" + t], capture_output=True, text=True)
            if r.returncode != 0:
                raise SystemExit("deploy: copy failed: %s" % (r.stderr or r.stdout))
    if dry:
        if not frozen:
            print("  mip install ssd1306 (micropython-lib)")
        print("deploy: dry run, nothing copied; the board would hold:")
        for _, t in sorted(files, key=lambda f: f[1]):
            print("  :" + t)
        return 0
    r = subprocess.run(mpremote + ["mip", "install", "ssd1306"], text=True) if not frozen else None
    if r is not None and r.returncode != 0:
        print("deploy: `mip install ssd1306` failed; install it later or freeze it (manifest.py)")
    print("deploy: on the board:")
    subprocess.run(mpremote + ["fs", "ls", "-r", ":/"])  # mpremote >= 1.24 lists recursively
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

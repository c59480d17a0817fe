# The zerotap package for a board's freeze manifest (included by boards/<name>/manifest.py), and the
# list of what tools/deploy.py copies: every module of firmware/zerotap except those only the host
# uses. MicroPython's manifest runner executes this file with the manifest's directory as the
# working directory; tools/deploy.py and the tests execute it with `package` standing in.
import os

FIRMWARE = "../firmware"  # relative to boards/
HOST_ONLY = (
    "zerotap/__main__.py",  # python -m zerotap: the host's command line
    "zerotap/shim.py",  # CPython's stand-ins for micropython, ptr8, ...
    "zerotap/dtmf/__main__.py",  # python -m zerotap.dtmf
    "zerotap/dtmf/wav.py",  # WAV files for that command line
    "zerotap/ui/gallery.py",  # sample screens (golden images, the demo)
    "zerotap/ui/png.py",  # PNG snapshots
    "zerotap/ui/terminal.py",  # the panel in a terminal
    "zerotap/ui/hostpanel.py",  # the host's panel (terminal and PNG)
)


def board_files(root, package="zerotap"):
    """Paths of the package's .py files under ROOT, relative to ROOT, host-only ones left out."""
    out = []
    stack = [package]
    while stack:
        rel = stack.pop()
        for name in sorted(os.listdir(root + "/" + rel)):
            path = rel + "/" + name
            if name.endswith(".py"):
                if path not in HOST_ONLY:
                    out.append(path)
            elif not name.startswith(".") and "." not in name:
                try:
                    os.listdir(root + "/" + path)
                except OSError:
                    continue
                stack.append(path)
    return sorted(out)


if "package" in globals():  # under MicroPython's manifest runner (files relative to the package)
    package("zerotap", files=[f[len("zerotap/"):] for f in board_files(FIRMWARE)],
            base_path=FIRMWARE, opt=3)

"""The host's panel: drawn in the terminal with half blocks, and saved as PNG snapshots.

``python -m zerotap run`` uses it when ``board.display.terminal`` or ``board.display.png`` is set;
``boards/host/demo.py`` shows two of them side by side. Works on CPython and on the MicroPython
unix port; never deployed to a board (tools/deploy.py leaves it out).
"""
import os
import sys

from zerotap.ui import png, terminal

CLEAR_SCREEN = "\x1b[H\x1b[2J"


class HostPanel:
    def __init__(self, width=128, height=64, snapshot=None, out=None, title=None):
        self.width = width
        self.height = height
        self.snapshot = snapshot  # PNG path rewritten at every frame, or None
        self.out = out  # a text stream for the terminal drawing, or None
        self.title = title
        self.frame = bytearray(width * height // 8)
        self.level = 255
        self.shown = 0

    def show(self, buf):
        self.frame[:] = buf
        self.shown += 1
        if self.snapshot:
            # a whole file or none for whoever watches it: a temporary file, then rename
            png.write(self.snapshot + ".tmp", self.frame, self.width, self.height, 3,
                      png.OLED_PALETTE)
            os.rename(self.snapshot + ".tmp", self.snapshot)
        self._draw()

    def _draw(self):
        if self.out is None or not self.shown:
            return
        self.out.write(CLEAR_SCREEN + "\n".join(self.lines()) + "\n")
        try:
            self.out.flush()
        except (AttributeError, OSError):
            pass

    def lines(self):
        out = terminal.lines(self.frame, self.width, self.height)
        if self.title:
            title = (" " + self.title)[:self.width + 2]
            out.insert(0, title + " " * (self.width + 2 - len(title)))
        if self.level < 128:
            out.append(" (dimmed)")
        return out

    def contrast(self, level):
        if level != self.level:
            self.level = level
            self._draw()  # "(dimmed)" under the panel


def stdout():
    return sys.stdout

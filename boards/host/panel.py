"""The host's panel: drawn in the terminal with half blocks, and saved as PNG snapshots.

Works on CPython and on the MicroPython unix port.
"""
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
            png.write(self.snapshot, self.frame, self.width, self.height, 3, png.OLED_PALETTE)
        if self.out is not None:
            self.out.write(CLEAR_SCREEN + "\n".join(self.lines()) + "\n")

    def lines(self):
        out = terminal.lines(self.frame, self.width, self.height)
        if self.title:
            title = (" " + self.title)[:self.width + 2]
            out.insert(0, title + " " * (self.width + 2 - len(title)))
        if self.level < 128:
            out.append(" (dimmed)")
        return out

    def contrast(self, level):
        self.level = level


def stdout():
    return sys.stdout

"""The host as a board: CPython or the MicroPython unix port, storage in a directory, the display in
the terminal and as PNG. The button is the local control (``python -m zerotap control``), which
sends the same action names as the board button (``toggle_verified``, ``switch_call``)."""
import os

from zerotap import boardconf
from zerotap.status import BoxStatus
from zerotap.storage import Storage
from zerotap.ui.display import Display

import panel as host_panel

NAME = "host"
ARCH = None  # nothing to precompile: the host runs the sources
STORAGE = os.getenv("ZEROTAP_HOME") or "zerotap-data"
LAN = None


def display(settings, snapshot=None, out=None, title=None):
    return host_panel.HostPanel(settings.width, settings.height, snapshot, out, title)


def button():
    return None  # the local control stands in for the button


def start(ip="127.0.0.1", snapshot=None, out=None, title=None, now_ms=0):
    """A status model, storage and a display for a box running on this machine."""
    status = BoxStatus()
    storage = Storage(STORAGE)
    settings = boardconf.BoardConfig()
    data = storage.read("board.json")
    if data is not None:
        settings = boardconf.loads(data.decode())
    panel = display(settings, snapshot, out, title)
    disp = Display(panel, status, dim_after_ms=settings.dim_after_s * 1000, now_ms=now_ms)
    status.set_network(True, ip)
    disp.tick(now_ms)
    return status, disp, panel

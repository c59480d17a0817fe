"""The host as a board: CPython or the MicroPython unix port, storage in a directory, the display in
the terminal and as PNG. Its main is ``python -m zerotap run CONFIG.json`` (the display when
``board.display.terminal`` or ``board.display.png`` is set); the button is the local control
(``python -m zerotap control``), which sends the same actions as a board's button
(``toggle_verified``, ``switch_call``)."""
import os

from zerotap.ui.hostpanel import HostPanel

NAME = "host"
ARCH = None  # nothing to precompile: the host runs the sources
STORAGE = os.getenv("ZEROTAP_HOME") or "zerotap-data"
LAN = None


def display(settings, out=None, title=None):
    """A panel drawn on OUT (a text stream) and written to ``settings.display.png``."""
    d = settings.display
    return HostPanel(d.width, d.height, d.png, out, title)


def button():
    return None  # the local control stands in for the button


def link(interface):
    """The host's network link for the box to follow (``network.interface``): the interface's
    state from /sys/class/net and its address from /proc/net (both interpreters read them)."""
    from zerotap.runtime.link import HostLink
    return HostLink(interface)

"""Two boxes side by side in the terminal (and as PNG): the host board's demo view.

    python boards/host/demo.py --script            # a scripted call between alice's and bob's box
    python boards/host/demo.py --gallery           # every screen, one after the other
    python boards/host/demo.py --follow A.jsonl B.jsonl
                                                   # two running boxes' JSON status streams

--png DIR writes each panel as DIR/left.png and DIR/right.png at every frame, --delay S sets the
pause between frames, --once prints frames one after another instead of redrawing in place.
Runs on CPython and on the MicroPython unix port (``micropython boards/host/demo.py --script``).
"""
import json
import sys
import time

HERE = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
sys.path.insert(0, HERE)
sys.path.insert(0, HERE + "/../../firmware")

from zerotap import status as st  # noqa: E402
from zerotap.ui import button, canvas, gallery, screens, terminal  # noqa: E402
from zerotap.ui.display import Display  # noqa: E402

from zerotap.ui import hostpanel as host_panel  # noqa: E402


def _sleep(s):
    if s > 0:
        time.sleep(s)


class Side:
    def __init__(self, title, png_path=None, height=64):
        self.status = st.BoxStatus()
        self.panel = host_panel.HostPanel(128, height, png_path, None, title)
        self.display = Display(self.panel, self.status)

    def tick(self, now_ms):
        return self.display.tick(now_ms)


def _draw(sides, once):
    lines = terminal.side_by_side([s.panel.lines() for s in sides], 3)
    if not once:
        sys.stdout.write(host_panel.CLEAR_SCREEN)
    sys.stdout.write("\n".join(lines) + "\n")


def script(left, right):
    """alice calls bob; both boxes negotiate ZRTP, show the same SAS, and bob verifies it."""
    a, b = left.status, right.status
    yield "both boxes boot"
    a.set_network(True, "192.168.1.50")
    b.set_network(True, "192.168.2.60")
    yield "the phones register through their boxes"
    a.set_registered(True)
    b.set_registered(True)
    yield "registered"
    ca = a.new_call(1, "out", "sip:bob@192.168.2.60")
    cb = b.new_call(1, "in", "sip:alice@192.168.1.50")
    yield "alice dials bob"
    ca.set_state(st.ACTIVE)
    cb.set_state(st.ACTIVE)
    yield "bob answers: media flows, not yet encrypted"
    ca.negotiating()
    cb.negotiating()
    yield "ZRTP key exchange"
    for c in (ca, cb):
        c.set_secure("ouga", "B32", "S256", "AES1", "HS80", "DH3k", "00" * 12, st.CACHE_NEW, False)
    yield "SRTP keys: both boxes show the same SAS"
    button.apply(button.TOGGLE_VERIFIED, b)
    button.apply(button.TOGGLE_VERIFIED, a)
    yield "they read the SAS to each other and press the button"
    a.end_call(ca)
    b.end_call(cb)
    yield "hang up"


def run_gallery(left, right):
    samples = gallery.SAMPLES
    for i in range(0, len(samples), 2):
        for side, j in ((left, i), (right, i + 1)):
            if j < len(samples):
                side.status = samples[j][1]()
                side.display = Display(side.panel, side.status)
                side.panel.title = samples[j][0]
        yield "gallery"


def follow(left, right, paths, delay):
    """Replay two JSON status streams (one call status per line, as the box writes them)."""
    files = [open(p) for p in paths]
    calls = [{}, {}]
    while True:
        moved = False
        for i in range(2):
            line = files[i].readline()
            if not line:
                continue
            moved = True
            side = (left, right)[i]
            d = json.loads(line)
            _apply(side.status, calls[i], d)
        if not moved:
            return
        yield "follow"


def _apply(box, calls, d):
    key = d.get("call")
    call = calls.get(key)
    if call is None:
        call = box.new_call(key, d.get("direction", "out"), d.get("peer"))
        calls[key] = call
    call.state = d.get("state", call.state)
    if d.get("security") == st.SECURE:
        call.set_secure(d.get("sas"), d.get("sas_type"), d.get("hash"), d.get("cipher"),
                        d.get("auth"), d.get("ka"), d.get("peer_zid"), d.get("cache"),
                        d.get("verified"))
    elif d.get("security") == st.FAILED:
        call.fail(d.get("error") or "failed")
    elif d.get("security") == st.NEGOTIATING:
        call.negotiating()
    if d.get("state") == st.ENDED:
        box.end_call(call)
        del calls[key]
    box.changed(call)


def _make_dirs(path):
    """PATH and its parents, as `mkdir -p` (MicroPython's os has no makedirs)."""
    import os
    part = ""
    for name in path.split("/"):
        part = part + name + "/" if part or name else "/"
        if name:
            try:
                os.mkdir(part.rstrip("/"))
            except OSError:  # there already (or not makeable: the PNG write then says why)
                pass


def main(argv):
    mode = "--script"
    png_dir = None
    delay = 1.5
    once = False
    paths = []
    i = 0
    while i < len(argv):
        a = argv[i]
        if a in ("--script", "--gallery"):
            mode = a
        elif a == "--follow":
            mode = a
            paths = argv[i + 1:i + 3]
            i += 2
        elif a == "--png":
            png_dir = argv[i + 1]
            i += 1
        elif a == "--delay":
            delay = float(argv[i + 1])
            i += 1
        elif a == "--once":
            once = True
        else:
            print(__doc__)
            return 2
        i += 1
    if png_dir:
        png_dir = png_dir.rstrip("/") or "/"
        _make_dirs(png_dir)
    left = Side("alice's box", png_dir and png_dir + "/left.png")
    right = Side("bob's box", png_dir and png_dir + "/right.png")
    if mode == "--script":
        steps = script(left, right)
    elif mode == "--gallery":
        steps = run_gallery(left, right)
    else:
        if len(paths) != 2:
            print("--follow needs two files")
            return 2
        steps = follow(left, right, paths, delay)
    now = 0
    for caption in steps:
        left.tick(now)
        right.tick(now)
        _draw((left, right), once)
        print("  " + caption)
        _sleep(delay)
        now += int(delay * 1000) + 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

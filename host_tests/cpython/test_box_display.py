"""`python -m zerotap run` with the display on (board.display.terminal and .png), under CPython and
the MicroPython unix port: the PNG snapshot and the terminal drawing are the very frame that
zerotap.ui.screens renders for the box's status (screens whose pixels the golden-image tests pin
down), and the control reports the screen shown."""
import pytest

from boxproc import BoxProcess
from zerotap import status as st
from zerotap.ui import canvas, png, screens, terminal


def _frame(box_status):
    buf = bytearray(canvas.buffer_size(128, 64))
    name = screens.render(box_status, canvas.frame(buf, 128, 64), 128, 64)
    return name, buf


@pytest.mark.parametrize("interpreter", ["cpython", "micropython"])
def test_running_box_draws_its_panel(tmp_path, interpreter):
    box = BoxProcess(tmp_path / "box", "A", interpreter=interpreter)
    snapshot = tmp_path / "panel.png"
    box.config["board"] = {"display": {"png": str(snapshot), "terminal": True}}
    box.stdout_path = tmp_path / "terminal.txt"
    try:
        box.start()
        reply = box.control("status")
    finally:
        box.stop()
    assert reply["screen"] == "network_up" and reply["ip"] == "127.0.0.1", reply
    want = st.BoxStatus()
    want.set_network(True, "127.0.0.1")  # what the box says: up, the phone not registered
    name, frame = _frame(want)
    assert name == screens.NETWORK_UP
    assert snapshot.read_bytes() == png.encode(frame, 128, 64, 3, png.OLED_PALETTE)
    text = box.stdout_path.read_text()
    last = text.split("\x1b[H\x1b[2J")[-1].splitlines()
    assert last[1:] == terminal.lines(frame, 128, 64), "\n".join(last)
    assert last[0].startswith(" A ")  # the box's name as the panel's title

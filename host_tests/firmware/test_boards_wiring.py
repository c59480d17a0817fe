"""Every board module imports with stub machine/network/ssd1306 modules that record the calls; the
network.LAN arguments, the I2C pins and the button match each board's documented wiring
(host_tests/vectors/boards_wiring.json); Ethernet falls back to Wi-Fi."""
import sys

import vectors
from support import scratch

from zerotap import board as zboard
from zerotap import boardconf
from zerotap import status as st

BOARDS_DIR = vectors.VECTORS.rsplit("/", 2)[0] + "/boards"
WIRING = vectors.load("boards_wiring.json")
BOARDS = ("esp32_devkit", "olimex_esp32_poe", "wt32_eth01", "heltec_wifi_kit_32")

CALLS = []


class _Pin:
    IN = "IN"
    OUT = "OUT"
    PULL_UP = "PULL_UP"

    def __init__(self, pin, mode=None, pull=None, value=None):
        self.id = pin
        self.mode = mode
        self.level = value
        CALLS.append(("Pin", pin, mode, pull, value))

    def value(self, v=None):
        if v is None:
            return 1  # released (pulled up)
        self.level = v
        CALLS.append(("Pin.value", self.id, v))


class _I2C:
    def __init__(self, id, scl=None, sda=None, freq=None):
        self.scl = scl.id
        self.sda = sda.id
        CALLS.append(("I2C", id, scl.id, sda.id, freq))

    def scan(self):
        return [0x3C]


class _Machine:
    Pin = _Pin
    I2C = _I2C


class _Nic:
    def __init__(self, kind, connects, args):
        self.kind = kind
        self.connects = connects
        self.args = args
        self.on = False

    def active(self, on=None):
        if on is not None:
            self.on = on
            CALLS.append((self.kind + ".active", on))
        return self.on

    def connect(self, ssid, password):
        CALLS.append(("WLAN.connect", ssid, password))

    def isconnected(self):
        return self.connects

    def ipconfig(self, what):
        assert what == "addr4"
        return ("192.0.2.7" if self.connects else "0.0.0.0", 24)


class _Network:
    PHY_LAN8720 = "PHY_LAN8720"
    STA_IF = 0
    lan_connects = True

    def LAN(self, **kw):
        CALLS.append(("LAN", kw))
        return _Nic("LAN", self.lan_connects, kw)

    def WLAN(self, interface):
        CALLS.append(("WLAN", interface))
        return _Nic("WLAN", True, None)


class _Time:
    def __init__(self):
        self.now = 0

    def ticks_ms(self):
        return self.now

    def ticks_diff(self, a, b):
        return a - b

    def sleep_ms(self, ms):
        self.now += ms


class _SSD1306_I2C:
    def __init__(self, width, height, i2c, addr=0x3C, external_vcc=False):
        self.width = width
        self.height = height
        self.i2c = i2c
        self.addr = addr
        self.buffer = bytearray(width * height // 8)
        CALLS.append(("SSD1306_I2C", width, height, addr))

    def show(self):
        CALLS.append(("show",))

    def contrast(self, level):
        CALLS.append(("contrast", level))


class _Ssd1306Module:
    SSD1306_I2C = _SSD1306_I2C


STUBS = {"machine": _Machine(), "network": _Network(), "time": _Time(), "ssd1306": _Ssd1306Module()}


def _stubbed(func, *args):
    """FUNC(*ARGS) with the stub modules installed, and the real ones back afterwards."""
    saved = {}
    for mod in STUBS:
        saved[mod] = sys.modules.get(mod)
        sys.modules[mod] = STUBS[mod]
    try:
        return func(*args)
    finally:
        for mod in saved:
            if saved[mod] is None:
                del sys.modules[mod]
            else:
                sys.modules[mod] = saved[mod]


def _load(name):
    if "board" in sys.modules:
        del sys.modules["board"]
    sys.path.insert(0, BOARDS_DIR + "/" + name)
    try:
        import board
    finally:
        sys.path.pop(0)
    del sys.modules["board"]
    return board


def _import(name):
    return _stubbed(_load, name)


def _lan_call(kw):
    """network.LAN's keyword arguments, with Pins replaced by their numbers."""
    out = {}
    for k in kw:
        v = kw[k]
        out[k] = v.id if isinstance(v, _Pin) else v
    return out


def test_every_board_module_imports_and_names_itself():
    for name in BOARDS:
        b = _import(name)
        assert b.NAME == name and b.STORAGE == "/data" and b.ARCH == "xtensawin"


def test_network_lan_parameters_match_the_documented_wiring():
    for name in BOARDS:
        want = WIRING[name]["lan"]
        b = _import(name)
        del CALLS[:]
        status = st.BoxStatus()
        net = STUBS["network"]
        net.lan_connects = True
        settings = boardconf.BoardConfig()
        nic, ip = zboard.network_up(STUBS["machine"], net, STUBS["time"], b.LAN, settings, status)
        lans = [c[1] for c in CALLS if c[0] == "LAN"]
        if want is None:
            assert lans == [] and nic is None and status.network == st.NET_DOWN, name
            continue
        assert len(lans) == 1, name
        got = _lan_call(lans[0])
        mode = got.pop("ref_clk_mode")
        want = dict(want)
        assert mode == want.pop("ref_clk_mode"), name
        assert got == want, (name, got, want)
        assert ip == "192.0.2.7" and status.network == st.NET_UP and status.ip == ip


def test_ethernet_falls_back_to_wifi():
    for name in BOARDS:
        b = _import(name)
        del CALLS[:]
        status = st.BoxStatus()
        net = STUBS["network"]
        net.lan_connects = False
        settings = boardconf.loads('{"wifi": {"ssid": "office", "password": "pw"}}')
        nic, ip = zboard.network_up(STUBS["machine"], net, STUBS["time"], b.LAN, settings, status)
        net.lan_connects = True
        assert ("WLAN.connect", "office", "pw") in CALLS, name
        if b.LAN is not None:
            i = CALLS.index(("LAN.active", False))
            assert i < CALLS.index(("WLAN", 0)), "Ethernet is shut down before Wi-Fi starts"
        assert nic.kind == "WLAN" and status.ip == "192.0.2.7"


def test_display_and_button_pins_match_the_documented_wiring():
    for name in BOARDS:
        want = WIRING[name]
        b = _import(name)
        del CALLS[:]
        panel = _stubbed(b.display, boardconf.BoardConfig())
        i2c = [c for c in CALLS if c[0] == "I2C"]
        assert len(i2c) == 1 and (i2c[0][2], i2c[0][3]) == (want["i2c"]["scl"], want["i2c"]["sda"]), name
        assert ("SSD1306_I2C", 128, 64, 0x3C) in CALLS
        assert panel.width == 128 and panel.height == 64
        if "oled_reset" in want:
            assert ("Pin.value", want["oled_reset"], 0) in CALLS, name
        del CALLS[:]
        btn = b.button()
        assert CALLS[0][1] == want["button"], name
        assert btn.pressed() is False


def test_start_brings_up_display_button_and_network():
    b = _import("olimex_esp32_poe")
    b.STORAGE = scratch("boards")
    del CALLS[:]
    STUBS["network"].lan_connects = True
    ui = _stubbed(zboard.start, b, STUBS["machine"], STUBS["network"], STUBS["time"])
    assert ui.status.network == st.NET_UP and ui.status.ip == "192.0.2.7"
    assert ui.poll(STUBS["time"].ticks_ms()) == "network_up"
    assert ("show",) in CALLS
    assert ui.keypad_key("*", 0) == "" and ui.keypad_key("5", 10) == "*5"


def test_manifests_require_micropython_lib_ssd1306():
    for name in BOARDS:
        seen = []
        env = {
            "include": lambda p: seen.append(("include", p)),
            "require": lambda p: seen.append(("require", p)),
            "package": lambda p, base_path=None, opt=None: seen.append(("package", p, base_path)),
            "module": lambda p, opt=None: seen.append(("module", p)),
        }
        with open(BOARDS_DIR + "/" + name + "/manifest.py") as f:
            exec(f.read(), env)
        assert ("require", "ssd1306") in seen, name
        assert ("package", "zerotap", "../../firmware") in seen and ("module", "board.py") in seen

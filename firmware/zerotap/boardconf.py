"""``board.json``: what a board needs beyond ``config.json`` (Wi-Fi, the display, the button, the
keypad codes). Every refusal names its key, like ``config.json``'s.

    {
      "wifi":    {"ssid": "home", "password": "secret"},
      "display": {"width": 128, "height": 64, "address": 60, "flip": false},
      "dim_after_s": 60,
      "button":  {"hold_ms": 800},
      "keypad":  {"*#1": "verified", "*#0": "unverified"}
    }

All keys are optional. Without ``wifi`` a board with Ethernet uses only Ethernet, and a Wi-Fi-only
board stays offline (NETWORK DOWN). ``keypad: {}`` turns the keypad codes off.
"""
import json

from zerotap.ui import keypad


class BoardConfigError(ValueError):
    def __init__(self, key, message):
        super().__init__("%s: %s" % (key, message))
        self.key = key
        self.reason = message


class BoardConfig:
    def __init__(self):
        self.wifi_ssid = None
        self.wifi_password = None
        self.width = 128
        self.height = 64
        self.address = 0x3C
        self.flip = False
        self.dim_after_s = 60
        self.hold_ms = 800
        self.keypad = dict(keypad.DEFAULT_CODES)


def _obj(key, value, allowed):
    if not isinstance(value, dict):
        raise BoardConfigError(key, "must be an object")
    for name in value:
        if name not in allowed:
            raise BoardConfigError((key + "." if key else "") + name, "unknown key")
    return value


def _int(key, value, low, high):
    if not isinstance(value, int) or isinstance(value, bool):
        raise BoardConfigError(key, "must be a number")
    if not low <= value <= high:
        raise BoardConfigError(key, "must be between %d and %d, not %d" % (low, high, value))
    return value


def _str(key, value, low, high):
    if not isinstance(value, str):
        raise BoardConfigError(key, "must be a string")
    if not low <= len(value) <= high:
        raise BoardConfigError(key, "must have %d to %d characters" % (low, high))
    return value


def parse(obj):
    cfg = BoardConfig()
    _obj("", obj, ("wifi", "display", "dim_after_s", "button", "keypad"))
    if "wifi" in obj:
        wifi = _obj("wifi", obj["wifi"], ("ssid", "password"))
        if "ssid" not in wifi:
            raise BoardConfigError("wifi.ssid", "missing")
        cfg.wifi_ssid = _str("wifi.ssid", wifi["ssid"], 1, 32)  # IEEE 802.11: at most 32 octets
        cfg.wifi_password = _str("wifi.password", wifi.get("password", ""), 0, 63)
    if "display" in obj:
        d = _obj("display", obj["display"], ("width", "height", "address", "flip"))
        if "width" in d and d["width"] != 128:
            raise BoardConfigError("display.width", "must be 128")
        if "height" in d and d["height"] not in (32, 64):
            raise BoardConfigError("display.height", "must be 32 or 64")
        cfg.height = d.get("height", 64)
        if "address" in d:
            cfg.address = _int("display.address", d["address"], 0x08, 0x77)
        if "flip" in d:
            if not isinstance(d["flip"], bool):
                raise BoardConfigError("display.flip", "must be true or false")
            cfg.flip = d["flip"]
    if "dim_after_s" in obj:
        cfg.dim_after_s = _int("dim_after_s", obj["dim_after_s"], 5, 86400)
    if "button" in obj:
        b = _obj("button", obj["button"], ("hold_ms",))
        if "hold_ms" in b:
            cfg.hold_ms = _int("button.hold_ms", b["hold_ms"], 200, 10000)
    if "keypad" in obj:
        codes = obj["keypad"]
        try:
            keypad.check_codes(codes)
        except ValueError as e:
            text = str(e)
            key, _, message = text.partition(": ")
            raise BoardConfigError(key, message)
        cfg.keypad = dict(codes)
    return cfg


def loads(text):
    try:
        obj = json.loads(text)
    except ValueError as e:
        raise BoardConfigError("board", "not valid JSON (%s)" % (e,))
    return parse(obj)

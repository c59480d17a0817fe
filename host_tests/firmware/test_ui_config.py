"""board.json refusals name their key; a bad config.json leaves the last good one in use and shows
CONFIG ERROR with the key at fault."""
import json

from support import fresh_storage
from zerotap import boardconf, lastgood
from zerotap import status as st
from zerotap.ui import canvas, screens


class _KeyError(ValueError):
    """Like zerotap.config.ConfigError: a ValueError with the key at fault."""

    def __init__(self, key, message):
        super().__init__("%s: %s" % (key, message))
        self.key = key
        self.reason = message


def _parse(text):
    obj = json.loads(text)
    if not isinstance(obj.get("port"), int):
        raise _KeyError("network.sip", "bad port %r" % (obj.get("port"),))
    return obj


def test_good_config_is_used_and_kept():
    s = fresh_storage("good")
    box = st.BoxStatus()
    s.write("config.json", b'{"port": 5060}')
    cfg, err = lastgood.load(s, "config.json", _parse, box)
    assert cfg == {"port": 5060} and err is None and box.config_error is None
    assert s.read("config.json.good") == b'{"port": 5060}'


def test_bad_config_keeps_the_last_good_and_names_the_key():
    s = fresh_storage("bad")
    box = st.BoxStatus()
    s.write("config.json", b'{"port": 5060}')
    lastgood.load(s, "config.json", _parse, box)
    s.write("config.json", b'{"port": "x"}')
    cfg, err = lastgood.load(s, "config.json", _parse, box)
    assert cfg == {"port": 5060}
    assert err == ("network.sip", "bad port 'x'") and box.config_error == err
    assert s.read("config.json") == b'{"port": "x"}'  # left for the person to fix
    assert s.read("config.json.good") == b'{"port": 5060}'
    buf = bytearray(canvas.buffer_size(128, 64))
    box.set_network(True, "10.0.0.2")
    log = []
    assert screens.render(box, canvas.frame(buf, 128, 64), 128, 64, log) == screens.CONFIG_ERROR
    assert "network.sip" in log and "last good in use" in log
    s.write("config.json", b'{"port": 5070}')  # fixed: the error goes away
    cfg, err = lastgood.load(s, "config.json", _parse, box)
    assert cfg == {"port": 5070} and err is None and box.config_error is None


def test_broken_json_and_missing_file_without_a_good_copy():
    s = fresh_storage("nogood")
    box = st.BoxStatus()
    box.set_network(True, "10.0.0.2")
    cfg, err = lastgood.load(s, "config.json", _parse, box)
    assert cfg is None and err == ("config", "config.json is missing")
    log = []
    buf = bytearray(canvas.buffer_size(128, 64))
    assert screens.render(box, canvas.frame(buf, 128, 64), 128, 64, log) == screens.CONFIG_ERROR
    assert "last good in use" not in log  # there is none
    s.write("config.json", b"{not json")
    cfg, err = lastgood.load(s, "config.json", boardconf.loads)
    assert cfg is None and err[0] == "board" and err[1].startswith("not valid JSON")
    s.write("config.json", b"\xff\xfe")
    cfg, err = lastgood.load(s, "config.json", _parse)
    assert cfg is None and err[0] == "config"


def test_board_json_defaults_and_values():
    cfg = boardconf.loads("{}")
    assert cfg.width == 128 and cfg.height == 64 and cfg.address == 0x3C
    assert cfg.keypad == {"*#1": "verified", "*#0": "unverified"} and cfg.wifi_ssid is None
    cfg = boardconf.loads(json.dumps({
        "wifi": {"ssid": "home", "password": "secret"}, "display": {"height": 32, "address": 61},
        "dim_after_s": 30, "button": {"hold_ms": 1000}, "keypad": {"##9": "verified"}}))
    assert (cfg.wifi_ssid, cfg.wifi_password, cfg.height, cfg.address) == ("home", "secret", 32, 61)
    assert cfg.dim_after_s == 30 and cfg.hold_ms == 1000 and cfg.keypad == {"##9": "verified"}


def test_every_board_json_refusal_names_its_key():
    cases = (
        ("[]", "", "must be an object"),
        ('{"wlan": {}}', "wlan", "unknown key"),
        ('{"wifi": {"password": "x"}}', "wifi.ssid", "missing"),
        ('{"wifi": {"ssid": ""}}', "wifi.ssid", "must have 1 to 32 characters"),
        ('{"wifi": {"ssid": "a", "password": 5}}', "wifi.password", "must be a string"),
        ('{"wifi": {"ssid": "a", "pass": "x"}}', "wifi.pass", "unknown key"),
        ('{"display": {"height": 48}}', "display.height", "must be 32 or 64"),
        ('{"display": {"width": 96}}', "display.width", "must be 128"),
        ('{"display": {"address": 300}}', "display.address", "must be between 8 and 119, not 300"),
        ('{"display": {"flip": 1}}', "display.flip", "must be true or false"),
        ('{"dim_after_s": true}', "dim_after_s", "must be a number"),
        ('{"dim_after_s": 1}', "dim_after_s", "must be between 5 and 86400, not 1"),
        ('{"button": {"hold_ms": 50}}', "button.hold_ms", "must be between 200 and 10000, not 50"),
        ('{"keypad": {"*#1": "reboot"}}', "keypad.*#1", "unknown action 'reboot'"),
        ('{"keypad": []}', "keypad", "must be an object of code -> action"),
        ("{oops", "board", None),
    )
    for text, key, message in cases:
        try:
            boardconf.loads(text)
            raise AssertionError("accepted %s" % text)
        except boardconf.BoardConfigError as e:
            assert e.key == key, (text, e.key)
            if message is not None:
                assert e.reason == message, (text, e.reason)
                assert str(e) == "%s: %s" % (key, message)

"""config.json's ``board`` key (display, button, keypad, Wi-Fi): refusals name their key; a bad
config.json leaves the last good one in use and shows CONFIG ERROR with the key at fault."""
import json

from support import fresh_storage

from zerotap import config, lastgood
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
    s = fresh_storage("ui-config-good")
    box = st.BoxStatus()
    s.write("config.json", b'{"port": 5060}')
    cfg, err = lastgood.load(s, "config.json", _parse, box)
    assert cfg == {"port": 5060} and err is None and box.config_error is None
    assert s.read("config.json.good") == b'{"port": 5060}'


def test_bad_config_keeps_the_last_good_and_names_the_key():
    s = fresh_storage("ui-config-bad")
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
    s = fresh_storage("ui-config-nogood")
    box = st.BoxStatus()
    box.set_network(True, "10.0.0.2")
    cfg, err = lastgood.load(s, "config.json", _parse, box)
    assert cfg is None and err == ("config", "config.json is missing")
    log = []
    buf = bytearray(canvas.buffer_size(128, 64))
    assert screens.render(box, canvas.frame(buf, 128, 64), 128, 64, log) == screens.CONFIG_ERROR
    assert "last good in use" not in log  # there is none
    s.write("config.json", b"{not json")
    cfg, err = lastgood.load(s, "config.json", config.loads)
    assert cfg is None and err[0] == "config" and err[1].startswith("not valid JSON")
    s.write("config.json", b"\xff\xfe")
    cfg, err = lastgood.load(s, "config.json", _parse)
    assert cfg is None and err[0] == "config"


_BASE_CONFIG = {
    "phone": {"sip": "127.0.0.1:5070", "allow": ["127.0.0.1"], "rtp": "40000-40009"},
    "network": {"sip": "127.0.0.1:5080", "rtp": "42000-42009"},
}


def _with_board(board, status=None):
    obj = dict(_BASE_CONFIG)
    if board is not None:
        obj["board"] = board
    if status is not None:
        obj["status"] = status
    return obj


def test_board_defaults_and_values():
    cfg = config.parse(_with_board(None)).board
    d = cfg.display
    assert d.width == 128 and d.height == 64 and d.address == 0x3C and not d.flip
    assert cfg.keypad == {"*#1": "verified", "*#0": "unverified"} and cfg.wifi.ssid is None
    assert cfg.dim_after_s == 60 and cfg.button.hold_ms == 800
    assert not d.terminal and d.png is None and not cfg.host_display()
    cfg = config.parse(_with_board({
        "wifi": {"ssid": "home", "password": "secret"},
        "display": {"height": 32, "address": 61, "flip": True, "terminal": True, "png": "p.png"},
        "dim_after_s": 30, "button": {"hold_ms": 1000}, "keypad": {"##9": "verified"}},
        status="status.jsonl")).board
    d = cfg.display
    assert (cfg.wifi.ssid, cfg.wifi.password, d.height, d.address) == ("home", "secret", 32, 61)
    assert cfg.dim_after_s == 30 and cfg.button.hold_ms == 1000 and cfg.keypad == {"##9": "verified"}
    assert d.flip and d.terminal and d.png == "p.png" and cfg.host_display()
    assert config.parse(_with_board({"keypad": {}})).board.keypad == {}  # codes off


def test_every_board_refusal_names_its_key():
    cases = (
        ([], "board", "must be an object, not a list"),
        ({"wlan": {}}, "board.wlan", "unknown key"),
        ({"wifi": {"password": "x"}}, "board.wifi.ssid", "missing"),
        ({"wifi": {"ssid": ""}}, "board.wifi.ssid", "must have 1 to 32 characters"),
        ({"wifi": {"ssid": "a", "password": 5}}, "board.wifi.password",
         "must be a string, not a number"),
        ({"wifi": {"ssid": "a", "pass": "x"}}, "board.wifi.pass", "unknown key"),
        ({"display": {"height": 48}}, "board.display.height", "must be 32 or 64, not 48"),
        ({"display": {"width": 96}}, "board.display.width", "must be 128, not 96"),
        ({"display": {"address": 300}}, "board.display.address",
         "must be between 8 and 119, not 300"),
        ({"display": {"flip": 1}}, "board.display.flip", "must be true or false, not a number"),
        ({"display": {"terminal": True}}, "board.display.terminal",
         'the panel and the status lines (status "-") would share stdout: give status a file'),
        ({"display": {"png": ""}}, "board.display.png", "must have 1 to 4096 characters"),
        ({"display": {"colour": "blue"}}, "board.display.colour", "unknown key"),
        ({"dim_after_s": True}, "board.dim_after_s", "must be a number, not a boolean"),
        ({"dim_after_s": 1}, "board.dim_after_s", "must be between 5 and 86400, not 1"),
        ({"button": {"hold_ms": 50}}, "board.button.hold_ms",
         "must be between 200 and 10000, not 50"),
        ({"keypad": {"*#1": "reboot"}}, "board.keypad.*#1", "unknown action 'reboot'"),
        ({"keypad": {"*#": "verified", "*#1": "verified"}}, "board.keypad.*#",
         "is the start of code *#1"),
        ({"keypad": {"*x": "verified"}}, "board.keypad.*x", "'x' is not a DTMF key (0-9 * # A-D)"),
        ({"keypad": []}, "board.keypad", "must be an object of code -> action"),
    )
    for board, key, message in cases:
        try:
            config.parse(_with_board(board))
            raise AssertionError("accepted %r" % (board,))
        except config.ConfigError as e:
            assert e.key == key, (board, e.key)
            assert e.reason == message, (board, e.reason)
            assert str(e) == "%s: %s" % (key, message)


def test_a_board_may_bind_the_wildcard_without_an_address():
    obj = {"phone": {"sip": "0.0.0.0:5060", "allow": ["192.168.1.0/24"], "rtp": "40000-40009"},
           "network": {"sip": "0.0.0.0:5062", "rtp": "42000-42009"}}
    try:
        config.parse(obj)
        raise AssertionError("the host accepted a wildcard bind without an address")
    except config.ConfigError as e:
        assert str(e) == "phone.address: missing: phone.sip binds the wildcard address"
    cfg = config.parse(obj, dhcp=True)
    assert cfg.phone.address is None and cfg.network.address is None  # filled in at boot
    assert cfg.phone.host == "0.0.0.0" and cfg.network.port == 5062


class _FullFlash:
    """os, except that the flash is full: a rename of NAME.tmp fails with ENOSPC (28)."""

    def __init__(self, name):
        import os
        self.os = os
        self.name = name

    def stat(self, path):
        return self.os.stat(path)

    def mkdir(self, path):
        return self.os.mkdir(path)

    def rename(self, old, new):
        if new.endswith("/" + self.name):
            raise OSError(28)
        return self.os.rename(old, new)


def test_a_full_flash_does_not_stop_a_good_config():
    # the copy to config.json.good is a convenience: a flash too full to take it must not stop a
    # box whose config.json is good (boot raised OSError out of lastgood.load: no box at all)
    from zerotap.storage import Storage
    s = fresh_storage("ui-config-full")
    box = st.BoxStatus()
    s.write("config.json", b'{"port": 5060}')
    lastgood.load(s, "config.json", _parse, box)
    s.write("config.json", b'{"port": 5070}')  # a new config, saved by the web page
    full = Storage(s.directory, fs=_FullFlash("config.json.good"))
    cfg, err = lastgood.load(full, "config.json", _parse, box)
    assert cfg == {"port": 5070} and err is None and box.config_error is None
    assert s.read("config.json.good") == b'{"port": 5060}'  # the old good copy is whole


def test_a_config_that_cannot_be_read_runs_the_last_good():
    # config.json is there but reading it fails (here a real one: a directory in its place, as
    # a flash's damaged metadata may leave; littlefs answers such reads with EIO): like a config
    # that does not parse, the good copy runs and CONFIG ERROR says why. The OSError left
    # lastgood.load, and boot with it: no box, on a board at every boot.
    import os
    s = fresh_storage("ui-config-unreadable")
    box = st.BoxStatus()
    s.write("config.json", b'{"port": 5060}')
    lastgood.load(s, "config.json", _parse, box)
    s.remove("config.json")
    os.mkdir(s.path("config.json"))
    try:
        cfg, err = lastgood.load(s, "config.json", _parse, box)
    finally:
        os.rmdir(s.path("config.json"))
    assert cfg == {"port": 5060}, cfg
    assert err[0] == "config" and err[1].startswith("config.json cannot be read"), err
    assert box.config_error[0] == "config" and box.config_fallback, box.config_error

"""A board's main (zerotap.runtime.boot, with the stub board modules of test_boards_wiring)
serves the web page and shows its first-start password on the panel (docs/web.md)."""
import json

from support import scratch
from test_boards_wiring import _board_config, _boot

from zerotap import storage
from zerotap.runtime import web  # noqa: F401  (imported with the real time module)
from zerotap.ui import screens


def test_boot_serves_the_web_page_and_shows_its_first_password():
    d = scratch("boards-web")
    cfg = _board_config(d)
    port = int(cfg["control"].split(":")[1]) + 1
    cfg["web"] = {"listen": "127.0.0.1:%d" % port}
    result, logs, replies = _boot("olimex_esp32_poe", d, {"config.json": json.dumps(cfg)},
                                  stop_after_ms=500, commands=("status",))
    assert result is not None and result.web is not None, logs
    said = [t for t in logs if t.startswith("web: first start: the page's password is ")]
    assert len(said) == 1, logs
    password = said[0].split()[-4]
    assert replies[0]["screen"] == screens.WEB_PASSWORD, replies
    record = storage.Storage(d + "/zerotap-cache").read("web_password")
    assert record is not None and password.encode() not in record and len(record) == 52
    assert result.config_store[1] == "config.json" and result.wifi_board in (True, False)


def test_the_page_s_password_and_tokens_come_from_the_box_s_random_source():
    # an Ethernet board never starts its radio: os.urandom (esp_random) alone is then no true
    # random source (zerotap.crypto.drbg); the page's password, its salt, the session and CSRF
    # tokens drew from it all the same
    from zerotap.crypto import drbg
    d = scratch("boards-web-random")
    cfg = _board_config(d)
    cfg["web"] = {"listen": "127.0.0.1:%d" % (int(cfg["control"].split(":")[1]) + 1)}
    real = drbg.random_bytes
    drawn = []

    def counting(n):
        drawn.append(n)
        return real(n)
    drbg.random_bytes = counting
    try:
        before = len(drawn)
        guard, password = web.password_guard(d + "/pw", lambda text: None)
        assert password is not None and len(drawn) > before  # the password and its salt
        result, logs, _ = _boot("olimex_esp32_poe", d, {"config.json": json.dumps(cfg)},
                                stop_after_ms=200)
        assert result is not None and result.web is not None, logs
        for source in (result.web.app.random, result.web.guard.random):
            before = len(drawn)
            assert len(source(16)) == 16 and len(drawn) == before + 1
    finally:
        drbg.random_bytes = real

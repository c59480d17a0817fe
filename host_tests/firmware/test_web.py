"""The web page's sans-IO parts (zerotap.web): request parsing with its limits, the password
record, sessions, CSRF, the login rate limit, the config form, and the pages through WebApp with
the real config validation and a real Storage (docs/web.md)."""
import json

from support import Xorshift32, fresh_storage, raises, scratch
from zerotap import config
from zerotap.web import app as _app
from zerotap.web import auth
from zerotap.web import http


def _random(seed=7):
    rng = Xorshift32(seed)

    def random(n):
        return bytes(rng.next() & 0xFF for _ in range(n))
    return random


def _err(func):
    try:
        func()
    except (http.HttpError, auth.AuthError) as e:
        return e.status, str(e)
    raise AssertionError("no error")


# --- HTTP ---------------------------------------------------------------------------------------
def test_request_in_pieces():
    p = http.RequestParser()
    assert p.feed(b"POST /config?x=1 HTTP/1.1\r\nHost: b\r\nContent-Le") is None
    assert p.feed(b"ngth: 10\r\nCookie: a=1; zt=abc\r\n\r\nk=v+w") is None
    r = p.feed(b"%21&z")
    assert (r.method, r.path, r.query) == ("POST", "/config", {"x": "1"})
    assert r.cookie("zt") == "abc" and r.cookie("a") == "1" and r.cookie("q") is None
    r.headers["content-type"] = "application/x-www-form-urlencoded"
    assert r.form() == {"k": "v w!", "z": ""}


def test_request_limits():
    assert _err(lambda: http.RequestParser().feed(b"GET /" + b"a" * 5000)) == (
        431, "request head over 4096 bytes")
    many = b"GET / HTTP/1.1\r\n" + b"X: y\r\n" * 33 + b"\r\n"
    assert _err(lambda: http.RequestParser().feed(many)) == (431, "over 32 header lines")
    big = b"POST / HTTP/1.1\r\nContent-Length: 8193\r\n\r\n"
    assert _err(lambda: http.RequestParser().feed(big)) == (413, "body over 8192 bytes")
    assert _err(lambda: http.RequestParser().feed(b"POST / HTTP/1.1\r\n\r\n")) == (
        411, "a POST needs a Content-Length")
    chunked = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
    assert _err(lambda: http.RequestParser().feed(chunked))[0] == 501
    assert _err(lambda: http.RequestParser().feed(b"PUT / HTTP/1.1\r\n\r\n")) == (
        501, "method PUT not implemented")
    assert _err(lambda: http.RequestParser().feed(b"GET http://x/ HTTP/1.1\r\n\r\n")) == (
        400, "the target must be a path")
    assert _err(lambda: http.RequestParser().feed(b"GET / HTTP/1.1\r\nBad\r\n\r\n")) == (
        400, "bad header line")
    extra = b"GET / HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\n\r\n"
    assert _err(lambda: http.RequestParser().feed(extra))[0] == 400


def test_form_escapes():
    assert http.parse_form("a=%E2%82%AC&b=%zz1".split("&")[0]) == {"a": "\u20ac"}
    raises(lambda: http.parse_form("b=%zz"), "bad percent escape '%zz'")
    assert http.escape("<a href='x'>&\"") == "&lt;a href=&#39;x&#39;&gt;&amp;&quot;"


def test_response_headers():
    out = http.response(200, "héllo", headers=[("Set-Cookie", "a=b")])
    head, _, body = out.partition(b"\r\n\r\n")
    assert body == "héllo".encode()
    assert b"Content-Length: 6\r\n" in head and b"Connection: close" in head
    assert b"Set-Cookie: a=b" in head and b"X-Frame-Options: DENY" in head
    assert b"Content-Security-Policy: default-src 'self'" in head


# --- auth ---------------------------------------------------------------------------------------
def test_password_has_no_default_and_no_ambiguous_letters():
    a = auth.new_password(_random(1))
    b = auth.new_password(_random(2))
    assert a != b and len(a) == 10
    for c in a + b:
        assert c in auth.ALPHABET and c not in "01ilo"


def test_record_checks_the_password():
    rec = auth.password_record("secretpw12", bytes(range(16)))
    assert len(rec) == 52 and b"secretpw12" not in rec
    g = auth.Guard(rec, _random())
    assert _err(lambda: g.login("10.0.0.2", "wrong", 0)) == (403, "wrong password")
    token = g.login("10.0.0.2", "secretpw12", 1)
    s = g.session(token, 2)
    assert s is not None and len(token) == 32 and len(s.csrf) == 32 and s.csrf != token
    assert g.session(token[:-1] + "x", 2) is None
    raises(lambda: auth.Guard(rec[:40], _random()), "web password record: corrupt (40 bytes)")


def test_login_rate_limit_doubles_per_source():
    g = auth.Guard(auth.password_record("pw", bytes(16)), _random())
    for i in range(auth.FREE_FAILURES):
        assert _err(lambda: g.login("10.0.0.2", "x", i))[0] == 403
    last = auth.FREE_FAILURES - 1
    # now a wait, even for the right password
    assert _err(lambda: g.login("10.0.0.2", "pw", last + 1)) == (
        429, "too many wrong passwords: try again in 2 s")
    assert g.login("10.0.0.3", "pw", last + 1)  # another source is not held up
    t = last + auth.BASE_DELAY_MS
    assert _err(lambda: g.login("10.0.0.2", "bad", t))[0] == 403
    assert g.wait_ms("10.0.0.2", t) == 2 * auth.BASE_DELAY_MS
    t += 2 * auth.BASE_DELAY_MS
    assert g.login("10.0.0.2", "pw", t)  # success clears the count
    assert g.wait_ms("10.0.0.2", t) == 0


def test_login_rate_limit_over_all_sources():
    g = auth.Guard(auth.password_record("pw", bytes(16)), _random())
    for i in range(auth.GLOBAL_FAILURES):
        _err(lambda: g.login("10.0.1.%d" % i, "x", i))
    assert _err(lambda: g.login("10.0.2.1", "pw", 100))[0] == 429
    assert g.login("10.0.2.1", "pw", auth.GLOBAL_WINDOW_MS + 20)


def test_csrf_and_sessions():
    g = auth.Guard(auth.password_record("pw", bytes(16)), _random())
    tok = g.login("a", "pw", 0)
    s = g.session(tok, 0)
    g.check_csrf(s, s.csrf)
    assert _err(lambda: g.check_csrf(s, None)) == (
        403, "missing or wrong CSRF token: reload the page")
    assert _err(lambda: g.check_csrf(s, s.csrf[:-1] + "0" if s.csrf[-1] != "0" else "1"))[0] == 403
    assert g.session(tok, auth.IDLE_MS + 1) is None  # idle too long
    toks = [g.login("a", "pw", 10 + i) for i in range(auth.MAX_SESSIONS + 1)]
    assert g.session(toks[0], 100) is None and g.session(toks[-1], 100) is not None
    g.logout(toks[-1])
    assert g.session(toks[-1], 101) is None


# --- config ---------------------------------------------------------------------------------------
BASE = {"phone": {"sip": "127.0.0.1:5070", "allow": ["127.0.0.1"], "rtp": "40000-40009"},
        "network": {"sip": "127.0.0.1:5080", "rtp": "42000-42009"},
        "board": {"wifi": {"ssid": "office", "password": "wifisecret"}},
        "web": {"listen": "127.0.0.1:8080"}}


def _cfg(**web):
    d = json.loads(json.dumps(BASE))
    d["web"] = web
    return d


def test_web_listen_validated():
    assert config.parse(BASE).web.listen == ("127.0.0.1", 8080)
    del_web = json.loads(json.dumps(BASE))
    del del_web["web"]
    assert config.parse(del_web).web is None
    raises(lambda: config.parse(_cfg(listen="10.0.0.1:80")),
           "web.listen: must be on the phone side (127.0.0.1, phone.sip's address), not 10.0.0.1")
    raises(lambda: config.parse(_cfg(listen="127.0.0.1:5070")),
           "web.listen: port 5070 is a SIP socket's")
    raises(lambda: config.parse(_cfg()), "web.listen: missing")
    raises(lambda: config.parse(_cfg(listen="127.0.0.1:80", port=1)), "web.port: unknown key")


def test_form_fields_hide_secrets_and_merge_types():
    fields = _app.form_fields(BASE)
    keys = [k for k, _, _ in fields]
    assert "phone.allow" in keys and "board.wifi.ssid" in keys and "web.listen" in keys
    shown = dict((k, t) for k, t, _ in fields)
    assert shown["board.wifi.password"] == "" and shown["phone.allow"] == '["127.0.0.1"]'
    form = dict(shown)
    form["board.wifi.ssid"] = "lab"
    form["phone.allow"] = '["127.0.0.1", "10.0.0.0/8"]'
    new = _app.merge_form(BASE, form)
    assert new["board"]["wifi"] == {"ssid": "lab", "password": "wifisecret"}  # secret kept
    assert new["phone"]["allow"] == ["127.0.0.1", "10.0.0.0/8"]
    form["phone.allow"] = "[oops"
    raises(lambda: _app.merge_form(BASE, form), "phone.allow: not valid JSON: '[oops'")
    raises(lambda: _app.merge_form(BASE, {"phone.nope": "1"}), "phone.nope: unknown key")
    assert _app.is_secret("network.turn.secret") and not _app.is_secret("phone.sip")


def test_wifi_board_offers_the_wifi_keys():
    d = json.loads(json.dumps(BASE))
    del d["board"]
    keys = [k for k, _, _ in _app.form_fields(d, wifi=True)]
    assert "board.wifi.ssid" in keys and "board.wifi.password" in keys
    assert "board" not in _app.merge_form(d, {"board.wifi.ssid": ""}, wifi=True)


# --- the pages ----------------------------------------------------------------------------------
class _Host:
    """The pages' view of a box: a real Storage and the real config validation."""

    def __init__(self):
        self.storage = fresh_storage("web")
        self.storage.write("config.json", json.dumps(BASE).encode())
        self.acts = []
        self.wifi = False

    def status(self):
        return {"ok": True, "network": "up", "calls": [{"call": 1, "security": "secure",
                                                        "sas": "ab12", "verified": False}]}

    def act(self, action, call, sas=None):
        if call != 1:
            raise ValueError("no call %d" % call)
        self.acts.append((action, call))

    def config_text(self):
        return self.storage.read("config.json").decode()

    def save_config(self, text):
        config.loads(text)
        self.storage.write("config.json", text.encode())

    def device(self):
        return [("board", "test")]


def _req(method, path, body=b"", cookies=None):
    head = "%s %s HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n" % (method, path)
    if cookies:
        head += "Cookie: %s\r\n" % "; ".join("%s=%s" % kv for kv in cookies.items())
    if method == "POST":
        head += "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n" % len(
            body)
    return http.RequestParser().feed(head.encode() + b"\r\n" + body)


def _split(out):
    head, _, body = out.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    return int(lines[0].split()[1]), lines[1:], body.decode()


def _cookie(lines, name):
    for h in lines:
        if h.startswith("Set-Cookie: %s=" % name):
            return h.split(";")[0].split("=", 1)[1], h
    return None, None


def _logged_in():
    host = _Host()
    app = _app.WebApp(host, auth.Guard(auth.password_record("pw", bytes(16)), _random()),
                      _random(3))
    out, _ = app.handle(_req("GET", "/login"), "127.0.0.1", 0)
    code, lines, body = _split(out)
    lt, _ = _cookie(lines, "ztl")
    assert code == 200 and ('value="%s"' % lt) in body
    out, _ = app.handle(_req("POST", "/login", ("csrf=%s&password=pw" % lt).encode(),
                             {"ztl": lt}), "127.0.0.1", 1)
    code, lines, _ = _split(out)
    tok, header = _cookie(lines, "zt")
    assert code == 303 and "Location: /" in lines
    assert "HttpOnly" in header and "SameSite=Strict" in header
    csrf = app.guard.session(tok, 2).csrf
    return app, host, tok, csrf


def test_pages_need_a_session():
    app, host, tok, csrf = _logged_in()
    for path in ("/", "/config", "/device"):
        code, lines, _ = _split(app.handle(_req("GET", path), "127.0.0.1", 3)[0])
        assert code == 303 and "Location: /login" in lines
    assert _split(app.handle(_req("GET", "/api/status"), "127.0.0.1", 3)[0])[0] == 403
    code, _, body = _split(app.handle(_req("GET", "/api/status", cookies={"zt": tok}),
                                      "127.0.0.1", 3)[0])
    assert code == 200 and json.loads(body)["calls"][0]["sas"] == "ab12"


def test_login_form_needs_its_csrf_token():
    app, _, _, _ = _logged_in()
    out, _ = app.handle(_req("POST", "/login", b"password=pw"), "127.0.0.1", 5)
    assert _split(out)[0] == 403


def test_action_needs_csrf():
    app, host, tok, csrf = _logged_in()
    out, _ = app.handle(_req("POST", "/action", b"call=1&action=verified", {"zt": tok}),
                        "127.0.0.1", 3)
    code, _, body = _split(out)
    assert code == 403 and "CSRF" in body and host.acts == []
    body = ("csrf=%s&call=1&action=verified&sas=ab12" % csrf).encode()
    code, lines, _ = _split(app.handle(_req("POST", "/action", body, {"zt": tok}),
                                       "127.0.0.1", 4)[0])
    assert code == 303 and host.acts == [("verified", 1)]
    body = ("csrf=%s&call=2&action=verified&sas=ab12" % csrf).encode()
    code, _, text = _split(app.handle(_req("POST", "/action", body, {"zt": tok}),
                                      "127.0.0.1", 4)[0])
    assert code == 400 and "no call 2" in text


def test_config_page_refuses_naming_the_key_and_saves_a_good_one():
    app, host, tok, csrf = _logged_in()
    code, _, page = _split(app.handle(_req("GET", "/config", cookies={"zt": tok}),
                                      "127.0.0.1", 3)[0])
    assert code == 200 and "wifisecret" not in page and 'name="web.listen"' in page
    body = "csrf=%s&media.clear=loud" % csrf
    host.storage.write("config.json", json.dumps(dict(BASE, media={"clear": "pass"})).encode())
    code, _, page = _split(app.handle(_req("POST", "/config", body.encode(), {"zt": tok}),
                                      "127.0.0.1", 4)[0])
    assert code == 400 and "Refused: <b>media.clear</b>" in page and "Nothing was saved" in page
    assert json.loads(host.config_text())["media"]["clear"] == "pass"
    body = "csrf=%s&media.clear=mute&board.wifi.password=" % csrf
    out, after = app.handle(_req("POST", "/config", body.encode(), {"zt": tok}), "127.0.0.1", 5)
    assert _split(out)[0] == 200 and after == "restart"
    saved = json.loads(host.config_text())
    assert saved["media"]["clear"] == "mute" and saved["board"]["wifi"]["password"] == "wifisecret"


def test_config_page_refuses_an_rtp_range_without_an_even_odd_pair():
    # the form shares the config's validation: a range with no RTP/RTCP pair is named and
    # nothing is saved
    app, host, tok, csrf = _logged_in()
    body = "csrf=%s&phone.rtp=40001-40002" % csrf
    code, _, page = _split(app.handle(_req("POST", "/config", body.encode(), {"zt": tok}),
                                      "127.0.0.1", 4)[0])
    assert code == 400 and "Refused: <b>phone.rtp</b>: bad port range" in page
    assert "no even/odd port pair (RTP, RTCP) in it" in page and "Nothing was saved" in page
    assert json.loads(host.config_text())["phone"]["rtp"] == "40000-40009"


def test_no_page_carries_a_secret():
    app, host, tok, csrf = _logged_in()
    for path in ("/", "/config", "/device", "/api/status", "/s.js", "/s.css"):
        out, _ = app.handle(_req("GET", path, cookies={"zt": tok}), "127.0.0.1", 3)
        assert b"wifisecret" not in out and _split(out)[0] == 200, path


def test_logout_ends_the_session():
    app, host, tok, csrf = _logged_in()
    out, _ = app.handle(_req("POST", "/logout", ("csrf=" + csrf).encode(), {"zt": tok}),
                        "127.0.0.1", 3)
    assert _split(out)[0] == 303 and app.guard.session(tok, 4) is None


def test_login_page_loaded_twice_keeps_its_token():
    app, _, _, _ = _logged_in()
    code, lines, body = _split(app.handle(_req("GET", "/login"), "127.0.0.1", 3)[0])
    first, _ = _cookie(lines, "ztl")
    code, lines, body = _split(app.handle(_req("GET", "/login", cookies={"ztl": first}),
                                          "127.0.0.1", 4)[0])
    assert _cookie(lines, "ztl")[0] == first and ('value="%s"' % first) in body
    assert _split(app.handle(_req("GET", "/favicon.ico"), "127.0.0.1", 5)[0])[0] == 404


# --- the ICE fallback's step and its retry (docs/fallback.md) ------------------------------------
class _FallbackHost(_Host):
    def status(self):
        return {"ok": True, "network": "up", "calls": [
            {"call": 1, "security": "clear", "fallback": "failed", "path": "provider",
             "error": "ICE fallback: no box at the far end answered"},
            {"call": 2, "security": "secure", "sas": "ab12", "verified": False,
             "fallback": "direct", "path": "direct"}]}

    def act(self, action, call, sas=None):
        if call != 1:
            raise ValueError("call %d has no ICE fallback to retry" % call)
        self.acts.append((action, call))


def test_status_shows_the_fallback_step_and_offers_its_retry():
    app, _, tok, csrf = _logged_in()
    app.host = host = _FallbackHost()
    code, _, body = _split(app.handle(_req("GET", "/api/status", cookies={"zt": tok}),
                                      "127.0.0.1", 3)[0])
    calls = json.loads(body)["calls"]
    assert code == 200 and [(c["fallback"], c["path"]) for c in calls] == [
        ("failed", "provider"), ("direct", "direct")]
    # the script renders the step and the path of every call, and the retry form (with the
    # session's CSRF token) for a failed fallback only
    js = app.handle(_req("GET", "/s.js", cookies={"zt": tok}), "127.0.0.1", 3)[0].decode()
    assert "Fallback: <b id=fb'" in js and "'</b>, path <span id=path'" in js
    assert "(c.fallback=='failed'?f(c,'retry_fallback'):'')" in js
    assert "k=='unverified'?'Not verified':'Retry the fallback'" in js
    code, _, page = _split(app.handle(_req("GET", "/", cookies={"zt": tok}), "127.0.0.1", 3)[0])
    assert code == 200 and ('data-csrf="%s"' % csrf) in page
    # the retry form's POST: refused without the CSRF token, done with it
    code, _, text = _split(app.handle(_req("POST", "/action", b"call=1&action=retry_fallback",
                                           {"zt": tok}), "127.0.0.1", 4)[0])
    assert code == 403 and "CSRF" in text and host.acts == []
    body = ("csrf=%s&call=1&action=retry_fallback" % csrf).encode()
    code, lines, _ = _split(app.handle(_req("POST", "/action", body, {"zt": tok}),
                                       "127.0.0.1", 5)[0])
    assert code == 303 and "Location: /" in lines and host.acts == [("retry_fallback", 1)]
    body = ("csrf=%s&call=2&action=retry_fallback" % csrf).encode()
    code, _, text = _split(app.handle(_req("POST", "/action", body, {"zt": tok}),
                                      "127.0.0.1", 6)[0])
    assert code == 400 and "call 2 has no ICE fallback to retry" in text
    body = ("csrf=%s&call=1&action=reboot" % csrf).encode()
    code, _, text = _split(app.handle(_req("POST", "/action", body, {"zt": tok}),
                                      "127.0.0.1", 7)[0])
    assert code == 400 and "verified, unverified or retry_fallback" in text
    assert host.acts == [("retry_fallback", 1)]


class _Box:
    """What the control and the page's host use of a Box: its status and Box.action."""

    def __init__(self, retried):
        from zerotap import status
        from zerotap.runtime import control
        self.status = status.BoxStatus()
        self.acted = []
        self.retried = retried

        class _Control(control.Control):
            def __init__(self, box):  # no socket: commands only
                self.box = box
        self.control = _Control(self)
        self.front = None

    def action(self, name, call=None):
        self.acted.append((name, call.call))
        return call if self.retried else None


def test_the_page_retries_through_the_control_action():
    from zerotap.runtime import web
    box = _Box(retried=True)
    call = box.status.new_call(1, "out", "sip:bob@x")
    call.set_fallback("failed", "ICE fallback: no box at the far end answered")
    host = web.BoxHost(box)
    assert [(c["fallback"], c["path"]) for c in host.status()["calls"]] == [("failed", "provider")]
    host.act("retry_fallback", 1)
    assert box.acted == [("retry_fallback", 1)]
    raises(lambda: host.act("retry_fallback", 2), "no call 2")
    box.retried = False  # Box.action found no fallback that could start again
    raises(lambda: host.act("retry_fallback", 1),
           "call 1 has no ICE fallback to retry (it runs, or the call has none)")


# --- DNS rebinding (review round 8) -----------------------------------------------------------
def _req_host(method, path, host, body=b"", cookies=None):
    head = "%s %s HTTP/1.1\r\nHost: %s\r\n" % (method, path, host)
    if cookies:
        head += "Cookie: %s\r\n" % "; ".join("%s=%s" % kv for kv in cookies.items())
    if method == "POST":
        head += "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n" % len(
            body)
    return http.RequestParser().feed(head.encode() + b"\r\n" + body)


def test_a_rebound_name_gets_no_page_and_cannot_lock_the_owner_out():
    # a web site the phone-side browser visits rebinds its own name to the box's address: its
    # script is then same-origin with the box (Host: its name) and could fetch /login and post
    # wrong passwords from the owner's own browser (the same source): the login rate limit
    # would lock the owner out, again and again. Only a Host that is an address (or localhost)
    # is served.
    host = _Host()
    app = _app.WebApp(host, auth.Guard(auth.password_record("pw", bytes(16)), _random()),
                      _random(3))
    evil = "rebind.attacker.example"
    t = 0
    for i in range(auth.FREE_FAILURES + 1):
        code, lines, body = _split(app.handle(_req_host("GET", "/login", evil), "127.0.0.1",
                                              t)[0])
        assert code == 403 and "Host" in body and _cookie(lines, "ztl")[0] is None, (code, body)
        form = ("csrf=%s&password=guess%d" % ("ab" * 16, i)).encode()
        code, _, body = _split(app.handle(_req_host("POST", "/login", evil + ":8080", form,
                                                    {"ztl": "ab" * 16}), "127.0.0.1", t)[0])
        assert code == 403 and "Host" in body, (code, body)
        t += auth.BASE_DELAY_MS
    assert app.guard.wait_ms("127.0.0.1", t) == 0
    for name in ("127.0.0.1:8080", "127.0.0.1", "[::1]:8080", "localhost:8080"):
        out, _ = app.handle(_req_host("GET", "/login", name), "127.0.0.1", t)
        assert _split(out)[0] == 200, name
    lt = "cd" * 16
    out, _ = app.handle(_req_host("POST", "/login", "127.0.0.1:8080",
                                  ("csrf=%s&password=pw" % lt).encode(), {"ztl": lt}),
                        "127.0.0.1", t)
    assert _split(out)[0] == 303
    for bad in ("127.0.0.1.attacker.example", "[::1", "127.0.0.1:x", "", "a b"):
        assert _split(app.handle(_req_host("GET", "/s.js", bad), "127.0.0.1", t)[0])[0] == 403, bad


def test_content_length_takes_ascii_digits_only():
    # CPython's str.isdigit() is true for '²' and '٣' too: int('²') then raised a bare
    # ValueError out of the parser, the server sent no answer and held the connection
    for digits in (b"\xc2\xb2", b"1\xc2\xb2", b"\xd9\xa3", b"+1", b"-1", b"1 1", b""):
        head = b"POST / HTTP/1.1\r\nContent-Length: " + digits + b"\r\n\r\n"
        assert _err(lambda: http.RequestParser().feed(head)) == (400, "bad Content-Length"), digits


def test_a_field_nested_too_deep_is_refused_naming_it():
    # CPython's json.loads raises RecursionError (not a ValueError) on a few thousand '[': the
    # save answered 500 instead of naming the field
    deep = "[" * 3000
    raises(lambda: _app.merge_form(BASE, {"phone.allow": deep}), "phone.allow: not valid JSON: '"
           + deep[:40] + "'")
    app, host, tok, csrf = _logged_in()
    before = host.config_text()
    # through the page: 200 deep (over the 16 that config.json_value takes, and a body that a
    # board's heap, fragmented by this file's earlier tests, still takes whole)
    body = ("csrf=%s&phone.allow=%s" % (csrf, "%5B" * 200)).encode()
    code, _, page = _split(app.handle(_req("POST", "/config", body, {"zt": tok}), "127.0.0.1",
                                      4)[0])
    assert code == 400 and "Refused: <b>phone.allow</b>" in page and host.config_text() == before
    try:
        config.loads(deep)
        raise AssertionError("accepted")
    except config.ConfigError as e:
        assert e.key == "config" and str(e).startswith("config: not valid JSON"), e


def test_a_broken_config_file_leaves_the_form_on_the_last_good_config():
    # a board whose config.json does not parse runs its last good copy (zerotap.lastgood) and
    # says so; the page where the person fixes it answered 500 (json.loads of the broken file)
    from zerotap.runtime import udp, web

    class _StoreBox:
        wifi_board = False

    store = fresh_storage("web-broken-config")
    store.write("config.json.good", json.dumps(BASE).encode())
    for broken in (b'{"phone": {"sip": "127.0.0.1:50', b"\x00" * 40, b"[1, 2]", b"\xff{}"):
        store.write("config.json", broken)
        box = _StoreBox()
        box.loop = udp.Loop()
        box.cfg = config.loads(json.dumps(BASE))
        box.config_store = (store, "config.json")
        app, _, tok, csrf = _logged_in()
        app.host = web.BoxHost(box)
        code, _, page = _split(app.handle(_req("GET", "/config", cookies={"zt": tok}),
                                          "127.0.0.1", 3)[0])
        assert code == 200 and 'name="web.listen" value="127.0.0.1:8080"' in page, broken
        assert "wifisecret" not in page
        body = ("csrf=%s&board.wifi.ssid=lab" % csrf).encode()
        out, after = app.handle(_req("POST", "/config", body, {"zt": tok}), "127.0.0.1", 4)
        assert _split(out)[0] == 200 and after == "restart", (broken, out[-300:])
        saved = json.loads(store.read("config.json").decode())
        assert saved["board"]["wifi"] == {"ssid": "lab", "password": "wifisecret"}
        assert saved["phone"] == BASE["phone"]


def test_a_save_the_flash_cannot_take_is_refused_and_says_why():
    # a full flash (ENOSPC at the write): the save answered a bare 500 "internal error", the
    # person's typed values gone and no reason given; the old config.json stays whole
    from zerotap.runtime import udp, web
    from zerotap.storage import Storage

    class _Full:
        def stat(self, path):
            import os
            return os.stat(path)

        def rename(self, old, new):
            raise OSError(28)

    class _StoreBox:
        wifi_board = False

    good = fresh_storage("web-full-flash")
    good.write("config.json", json.dumps(BASE).encode())
    box = _StoreBox()
    box.loop = udp.Loop()
    box.cfg = config.loads(json.dumps(BASE))
    box.config_store = (Storage(good.directory, fs=_Full()), "config.json")
    app, _, tok, csrf = _logged_in()
    app.host = web.BoxHost(box)
    body = ("csrf=%s&board.wifi.ssid=lab" % csrf).encode()
    out, after = app.handle(_req("POST", "/config", body, {"zt": tok}), "127.0.0.1", 4)
    code, _, page = _split(out)
    assert code == 500 and after is None and "Refused: <b>config</b>: cannot save" in page, page
    assert "Nothing was saved" in page and 'name="board.wifi.ssid" value="lab"' in page
    assert json.loads(good.read("config.json").decode()) == BASE


class _SavingBox:
    """What web.BoxHost reads of a box for a save: its loop, config and config store."""
    wifi_board = False


def _saving_box(name):
    """(store, box): a box on a fresh store NAME holding BASE as config.json."""
    from zerotap.runtime import udp
    store = fresh_storage(name)
    store.write("config.json", json.dumps(BASE).encode())
    box = _SavingBox()
    box.loop = udp.Loop()
    box.cfg = config.loads(json.dumps(BASE))
    box.config_store = (store, "config.json")
    return store, box


def test_a_config_with_an_address_not_the_box_s_is_refused_before_it_is_saved():
    # phone.sip typed as an address the box does not have: the save passed (the syntax is
    # good), the box restarted on it and could not bind: the host's process exited, a board
    # halted on CONFIG ERROR with that config already copied to config.json.good: no page left
    # to fix it from
    from zerotap.runtime import web

    store, box = _saving_box("web-unbindable")
    app, _, tok, csrf = _logged_in()
    app.host = web.BoxHost(box)
    body = ("csrf=%s&phone.sip=192.0.2.1:5070&web.listen=192.0.2.1:8080" % csrf).encode()
    out, after = app.handle(_req("POST", "/config", body, {"zt": tok}), "127.0.0.1", 4)
    code, _, page = _split(out)
    assert code == 400 and after is None, page[-400:]
    assert "Refused: <b>phone.sip</b>: cannot bind 192.0.2.1" in page
    assert "Nothing was saved" in page
    assert json.loads(store.read("config.json").decode()) == BASE
    body = ("csrf=%s&board.wifi.ssid=lab" % csrf).encode()
    out, after = app.handle(_req("POST", "/config", body, {"zt": tok}), "127.0.0.1", 5)
    assert _split(out)[0] == 200 and after == "restart"


def test_a_web_port_another_program_holds_is_refused_before_it_is_saved():
    # web.listen moved to a port something else listens on: saved, and the box could not start
    # again (WebServer's listen raises in Box()): no box, no page
    from zerotap.runtime import stream, udp, web

    store, box = _saving_box("web-port-taken")
    box.net = _SavingBox()
    box.net.streams = stream.Streams(box.loop)
    other = None
    for port in range(21000 + 2 * (len(store.directory) % 500), 23000, 7):
        try:  # a TCP port that this test can hold (the way another program would)
            other = stream.Streams(udp.Loop()).listen("127.0.0.1", port, None, framed=False)
            break
        except OSError:
            pass
    try:
        app, _, tok, csrf = _logged_in()
        app.host = web.BoxHost(box)
        body = ("csrf=%s&web.listen=127.0.0.1:%d" % (csrf, port)).encode()
        out, after = app.handle(_req("POST", "/config", body, {"zt": tok}), "127.0.0.1", 4)
        code, _, page = _split(out)
        assert code == 400 and after is None, page[-300:]
        assert ("Refused: <b>web.listen</b>: cannot listen on 127.0.0.1:%d" % port) in page
        assert json.loads(store.read("config.json").decode()) == BASE
    finally:
        other.close()
    out, after = app.handle(_req("POST", "/config", body, {"zt": tok}), "127.0.0.1", 5)
    assert _split(out)[0] == 200 and after == "restart"  # free again: saved


# --- the action applies to the SAS the page showed (review round 10) ----------------------------
def test_verified_on_the_page_applies_only_to_the_sas_it_showed():
    # The page shows call 1's SAS; the person reads it aloud with the far end and presses
    # "SAS matches: verified". Meanwhile the call's far media moved (a re-INVITE to another
    # peer): a new ZRTP exchange, a new SAS, which nobody compared. The press named only the
    # call, and the box marked the new exchange VERIFIED (the trust cache keeps the flag for
    # the new peer's ZID).
    from test_months_box import _config
    from zerotap import status
    from zerotap.runtime import box as runtime_box
    from zerotap.runtime import web

    b = runtime_box.Box(_config(scratch("web-sas-shown")), log=lambda text: None, name="S")
    try:
        app, _, tok, csrf = _logged_in()
        app.host = web.BoxHost(b)
        call = b.status.new_call(1, "out", "sip:bob@x")
        call.set_secure("ab12", "B32", "S256", "AES1", "HS32", "X255", "aa" * 12,
                        status.CACHE_NEW, False)
        code, _, body = _split(app.handle(_req("GET", "/api/status", cookies={"zt": tok}),
                                          "127.0.0.1", 3)[0])
        shown = json.loads(body)["calls"][0]
        assert code == 200 and shown["sas"] == "ab12" and shown["verified"] is False
        # the page's form carries the SAS it shows
        js = app.handle(_req("GET", "/s.js", cookies={"zt": tok}), "127.0.0.1", 3)[0].decode()
        assert "name=sas value=\"'+e(c.sas)+'\"" in js
        call.rekeying()
        call.set_secure("zz99", "B32", "S256", "AES1", "HS32", "X255", "bb" * 12,
                        status.CACHE_NEW, False)
        body = "csrf=%s&call=1&action=verified&sas=%s" % (csrf, shown["sas"])
        code, _, text = _split(app.handle(_req("POST", "/action", body.encode(), {"zt": tok}),
                                          "127.0.0.1", 4)[0])
        assert code == 400 and "SAS is now zz99, not ab12" in text, text[-300:]
        assert call.verified is False
        body = "csrf=%s&call=1&action=verified" % csrf  # no SAS named: nothing to hold it to
        code, _, text = _split(app.handle(_req("POST", "/action", body.encode(), {"zt": tok}),
                                          "127.0.0.1", 5)[0])
        assert code == 400 and call.verified is False
        body = "csrf=%s&call=1&action=verified&sas=zz99" % csrf  # the page shows the new one
        code, lines, _ = _split(app.handle(_req("POST", "/action", body.encode(), {"zt": tok}),
                                           "127.0.0.1", 6)[0])
        assert code == 303 and call.verified is True
        body = "csrf=%s&call=1&action=unverified&sas=ab12" % csrf
        code, _, text = _split(app.handle(_req("POST", "/action", body.encode(), {"zt": tok}),
                                          "127.0.0.1", 7)[0])
        assert code == 400 and call.verified is True
        # the local control takes the SAS too (python -m zerotap control verify 1 zz99)
        raises(lambda: b.control.command(["unverify", "1", "ab12"]),
               "call 1's SAS is now zz99, not ab12")
        assert b.control.command(["unverify", "1", "zz99"])["call"]["verified"] is False
        assert b.control.command(["verify", "1"])["call"]["verified"] is True
    finally:
        b.shutdown()


def test_a_config_whose_status_file_or_trust_cache_cannot_open_is_refused_before_it_is_saved():
    # status (the JSON lines' file) typed as a path in a folder that does not exist, or
    # zrtp.cache as a folder that cannot be made: the save passed, the box restarted on it and
    # could not start (the host's process exits with "cannot start: status: cannot open",
    # its service manager starts it again on the same file): no box, no page to fix it from
    from zerotap.runtime import web

    store, box = _saving_box("web-unopenable")
    d = scratch("web-unopenable-paths")
    with open(d + "/a-file", "w") as f:
        f.write("not a folder")
    base = dict(BASE, status=d + "/status.jsonl", zrtp={"cache": d + "/cache"})
    store.write("config.json", json.dumps(base).encode())
    app, _, tok, csrf = _logged_in()
    app.host = web.BoxHost(box)
    for key, value in (("status", d + "/no-such-folder/status.jsonl"),
                       ("zrtp.cache", d + "/a-file/cache")):
        body = ("csrf=%s&%s=%s" % (csrf, key, value)).encode()
        out, after = app.handle(_req("POST", "/config", body, {"zt": tok}), "127.0.0.1", 4)
        code, _, page = _split(out)
        assert code == 400 and after is None, page[-400:]
        assert ("Refused: <b>%s</b>: cannot open %s" % (key, value)) in page, page[-400:]
        assert json.loads(store.read("config.json").decode()) == base
    body = ("csrf=%s&status=%s" % (csrf, d + "/status2.jsonl")).encode()
    out, after = app.handle(_req("POST", "/config", body, {"zt": tok}), "127.0.0.1", 5)
    assert _split(out)[0] == 200 and after == "restart"
    assert json.loads(store.read("config.json").decode())["status"] == d + "/status2.jsonl"


def test_fuzzed_requests_get_an_answer_or_a_refusal_and_nothing_else():
    # bounded fuzz (review round 10): well-formed requests mutated (bytes cut, inserted,
    # flipped, lines repeated) and fed in random pieces: the parser gives a Request or an
    # HttpError with a status it knows, its buffer stays within its limits, and the app answers
    # every request it gets with one response
    rng = Xorshift32(1010)
    app, _, tok, csrf = _logged_in()
    seeds = [b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: zt=%s\r\n\r\n" % tok.encode(),
             b"POST /action HTTP/1.1\r\nHost: [::1]:80\r\nCookie: zt=%s\r\nContent-Type: "
             b"application/x-www-form-urlencoded\r\nContent-Length: 45\r\n\r\ncsrf=%s&call=1&"
             b"action=verified&sas=ab12" % (tok.encode(), csrf.encode()),
             b"POST /login HTTP/1.1\r\nContent-Length: 22\r\nCookie: ztl=ab\r\n\r\n"
             b"csrf=ab&password=%41%zz",
             b"GET /config?x=%C3%A9 HTTP/1.0\r\nHost: localhost:8080\r\n\r\n",
             b"HEAD /s.js HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"]
    pieces = [b"\r\n", b"\r\n\r\n", b":", b" ", b"%", b"%zz", b"\xff", b"\x00", b"&", b"=",
              b"Content-Length: 99999\r\n", b"Content-Length: \xd9\xa1\r\n", b"Host: [\r\n",
              b"\xe2\x80\xa8", b"9" * 20]
    answered = refused = 0
    for _ in range(1500):
        d = bytearray(seeds[rng.next() % len(seeds)])
        for _ in range(rng.next() % 6):
            at = rng.next() % (len(d) + 1)
            op = rng.next() % 4
            if op == 0:
                d[at:at + 1 + rng.next() % 8] = b""
            elif op == 1:
                d[at:at] = pieces[rng.next() % len(pieces)]
            elif op == 2 and at < len(d):
                d[at] = rng.next() & 0xFF
            else:
                d[at:at] = d[:rng.next() % 40]
        p = http.RequestParser()
        req = None
        i = 0
        try:
            while req is None and i < len(d):
                n = 1 + rng.next() % 64
                req = p.feed(bytes(d[i:i + n]))
                i += n
                assert len(p.buf) <= http.MAX_HEAD + http.MAX_BODY
        except http.HttpError as e:
            assert e.status in http.REASONS, e.status
            refused += 1
            continue
        if req is None:
            continue
        out = []
        app.serve(req, "127.0.0.1", 10, out.append)
        assert out and out[0][:9] == b"HTTP/1.1 " and int(out[0][9:12]) in http.REASONS, out[:1]
        answered += 1
    assert answered > 150 and refused > 300, (answered, refused)

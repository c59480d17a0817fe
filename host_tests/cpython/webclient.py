"""The box's web page from tests: a plain HTTP client with cookies (http.client), and headless
Chromium (Debian's chromium and chromium-driver) driven by selenium.

    box = web_box(tmp_path / "box", "A", "cpython")       # a BoxProcess with web.listen set
    pw = password_of(box)                                   # from the box's log (first start)
    c = WebClient(box.web_port).login(pw)                   # a session; c.csrf for forms
    code, headers, body = c.get("/api/status")
    with chromium(tmp_path) as driver: ...
"""
import contextlib
import http.client
import re
import socket

import ports
from boxproc import BoxProcess
from hostenv import need


def web_box(directory, name, interpreter="cpython", wifi_secret="wifi-secret-1234", **kw):
    box = BoxProcess(directory, name, interpreter=interpreter, **kw)
    box.web_port = ports.udp_port()
    for _ in range(50):  # the same number must be free for TCP too
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", box.web_port))
            break
        except OSError:
            box.web_port = ports.udp_port()
        finally:
            s.close()
    box.config["web"] = {"listen": "127.0.0.1:%d" % box.web_port}
    box.config["board"] = {"wifi": {"ssid": "office", "password": wifi_secret},
                           "display": {"png": str(box.dir / "panel.png")}}
    box.wifi_secret = wifi_secret
    return box


def password_of(box):
    m = re.search(r"the page's password is (\w+)", box.log())
    assert m, "no first-start password in the log:\n" + box.log()[-2000:]
    return m.group(1)


class WebClient:
    def __init__(self, port, source="127.0.0.1"):
        self.port = port
        self.source = source
        self.cookies = {}
        self.csrf = None
        self.responses = []  # every raw body seen (tests look for secrets in them)

    def request(self, method, path, form=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10,
                                          source_address=(self.source, 0))
        headers = {}
        if self.cookies:
            headers["Cookie"] = "; ".join("%s=%s" % kv for kv in self.cookies.items())
        body = None
        if form is not None:
            from urllib.parse import urlencode
            body = urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            conn.request(method, path, body, headers)
            r = conn.getresponse()
            data = r.read()
        finally:
            conn.close()
        for k, v in r.getheaders():
            if k.lower() == "set-cookie":
                name, _, value = v.split(";")[0].partition("=")
                if value:
                    self.cookies[name] = value
                else:
                    self.cookies.pop(name, None)
        self.responses.append(bytes(str(r.getheaders()), "utf-8") + data)
        return r.status, dict(r.getheaders()), data.decode("utf-8", "replace")

    def get(self, path):
        return self.request("GET", path)

    def post(self, path, form):
        return self.request("POST", path, form)

    def login(self, password):
        code, _, page = self.get("/login")
        token = re.search(r'name="csrf" value="(\w+)"', page).group(1)
        code, headers, _ = self.post("/login", {"csrf": token, "password": password})
        assert code == 303 and headers.get("Location") == "/", (code, headers)
        code, _, page = self.get("/")
        self.csrf = re.search(r'data-csrf="(\w+)"', page).group(1)
        return self


CHROMIUM_ARGS = ("--headless=new", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-default-apps",
                 "--window-size=412,900")  # a phone's width


@contextlib.contextmanager
def chromium(tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    opts = webdriver.ChromeOptions()
    opts.binary_location = need("chromium", "the Debian package chromium")
    for a in CHROMIUM_ARGS:
        opts.add_argument(a)
    profile = tmp_path / "chromium-profile"
    profile.mkdir(parents=True, exist_ok=True)
    opts.add_argument("--user-data-dir=%s" % profile)
    service = Service(need("chromedriver", "the Debian package chromium-driver"),
                      log_output=str(tmp_path / "chromedriver.log"))
    driver = webdriver.Chrome(service=service, options=opts)
    try:
        driver.set_page_load_timeout(20)
        yield driver
    finally:
        driver.quit()  # ends chromedriver and the chromium it started

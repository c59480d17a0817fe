"""The box's web page (docs/web.md) with real peers: headless Chromium (Debian's, driven by
selenium through Debian's chromium-driver) on the page of a box relaying a live secure call
between two linphonecs, on CPython and on the MicroPython unix port; the security checks over
plain HTTP; the heap with two secure calls on the MicroPython unix port.

Screenshots go to the test's directory; with ZEROTAP_WEB_SCREENSHOTS=1 the CPython run writes
the documentation's docs/screens/web_*.png instead (a deliberate refresh, as tools/ui_golden.py
is for the panel)."""
import json
import os
import re
import socket
import threading
import time

import pytest
from boxpeers import stop_all
from hostenv import ROOT, wait_until
from linphone import Linphone
from test_box_dialogs import Pbx
from webclient import WebClient, chromium, password_of, web_box

INTERPRETERS = ("cpython", "micropython")


def _secure_call(tmp_path, box, tag=""):
    a = Linphone(tmp_path / ("alice" + tag), account=box.phone_account("alice" + tag))
    b = Linphone(tmp_path / ("bob" + tag), encryption="zrtp", auto_answer=True)
    a.start()
    b.start()
    a.call("sip:bob@127.0.0.1:%d" % b.sip_port)
    return a, b, b.wait_encrypted(25)


def _wait(driver, what, timeout=15):
    from selenium.webdriver.support.ui import WebDriverWait
    return WebDriverWait(driver, timeout, poll_frequency=0.2).until(lambda d: what(d))


def _text(driver, element_id):
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    from selenium.webdriver.common.by import By
    try:
        return driver.find_element(By.ID, element_id).text
    except (NoSuchElementException, StaleElementReferenceException):
        return None


def _login(driver, url, password):
    from selenium.webdriver.common.by import By
    driver.get(url + "/")
    _wait(driver, lambda d: d.current_url.endswith("/login"))
    driver.find_element(By.ID, "pw").send_keys(password)
    driver.find_element(By.ID, "login").click()
    _wait(driver, lambda d: not d.current_url.endswith("/login"))


def _set_field(driver, key, value):
    from selenium.webdriver.common.by import By
    field = driver.find_element(By.ID, key)
    field.clear()
    field.send_keys(value)
    driver.find_element(By.ID, "save").click()


@pytest.mark.parametrize("interpreter", INTERPRETERS)
def test_browser_reads_sas_verifies_and_configures(tmp_path, interpreter):
    box = web_box(tmp_path / "box", "W", interpreter, clear="pass")
    a = b = None
    shots = tmp_path
    if interpreter == "cpython" and os.environ.get("ZEROTAP_WEB_SCREENSHOTS") == "1":
        shots = ROOT / "docs" / "screens"
    try:
        box.start()
        password = password_of(box)
        url = "http://127.0.0.1:%d" % box.web_port
        a, b, sas = _secure_call(tmp_path, box)
        st = box.wait_secure(15)
        n = st["call"]
        assert box.control("status")["screen"] == "secure"
        with chromium(tmp_path) as driver:
            _login(driver, url, password)
            # the SAS of the live call, as the far phone (linphonec) printed it
            _wait(driver, lambda d: _text(d, "sas%d" % n) == sas)
            assert "not verified" in _text(driver, "sec%d" % n)
            driver.save_screenshot(str(shots / "web_status.png"))
            from selenium.webdriver.common.by import By
            driver.find_element(By.ID, "verified%d" % n).click()
            _wait(driver, lambda d: (_text(d, "sec%d" % n) or "").endswith("SECURE VERIFIED"))
            box.wait_status(lambda s: s["call"] == n and s["verified"] is True, 5, "verified")
            assert wait_until(lambda: box.control("status").get("screen") == "verified", 5)
            driver.save_screenshot(str(shots / "web_verified.png"))

            driver.get(url + "/device")
            heap = _text(driver, "heap")
            assert ("bytes free" in heap) == (interpreter == "micropython"), heap
            assert "ZeroTap" in _text(driver, "firmware")
            driver.save_screenshot(str(shots / "web_device.png"))

            driver.get(url + "/config")
            assert driver.find_element(By.ID, "board.wifi.password").get_attribute("value") == ""
            before = box.config_path.read_text()
            _set_field(driver, "media.clear", "loud")
            refused = _wait(driver, lambda d: _text(d, "refused"))
            assert "media.clear" in refused and "Nothing was saved" in refused, refused
            assert box.config_path.read_text() == before  # nothing lost, nothing written
            driver.save_screenshot(str(shots / "web_config_refused.png"))
            _set_field(driver, "media.clear", "mute")
            _wait(driver, lambda d: _text(d, "saved"))
            # the box loop restarts with the new config (the call ends with it)
            assert wait_until(lambda: box.log().count("listening:") == 2, 20), box.log()[-2000:]
            saved = json.loads(box.config_path.read_text())
            assert saved["media"]["clear"] == "mute"
            assert saved["board"]["wifi"]["password"] == box.wifi_secret  # the secret kept
            _login(driver, url, password)  # sessions end with the restart
            driver.get(url + "/config")
            assert driver.find_element(By.ID, "media.clear").get_attribute("value") == "mute"
            driver.get(url + "/")
            _wait(driver, lambda d: "Registration" in (_text(d, "st") or ""))
            driver.get(url + "/config")
            driver.save_screenshot(str(shots / "web_config.png"))
            assert box.wifi_secret not in driver.page_source
    finally:
        stop_all(a, b, box)


def test_browser_shows_the_fallback_step_and_retries(tmp_path):
    """A real ICE fallback on a CPython box: no ZRTP comes over the provider path (the far end,
    a script, answers with a plain SDP and sends plain audio, as a provider that filters ZRTP would
    leave it; a box and a peer that both speak ZRTP always agree, RFC 6189 5.2), so after the
    phone's first media the fallback starts; its helper does not answer (a closed loopback
    port), so it fails. The page shows the step and the path; the retry form posts (with its
    CSRF token) and the fallback starts again (the status stream shows its first step a second
    time)."""
    box = web_box(tmp_path / "box", "F", "cpython", clear="pass")
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
    box.config["ice"] = {"helper_url": "http://127.0.0.1:%d" % closed.getsockname()[1],
                         "helper_address": "127.0.0.1", "after_s": 1, "deadline_s": 5}
    a = pbx = None
    talking = threading.Event()
    talking.set()
    quiet = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    quiet.bind(("127.0.0.1", 0))  # the far end's media: plain audio, no ZRTP
    shots = tmp_path
    if os.environ.get("ZEROTAP_WEB_SCREENSHOTS") == "1":
        shots = ROOT / "docs" / "screens"
    try:
        box.start()
        password = password_of(box)
        url = "http://127.0.0.1:%d" % box.web_port
        a = Linphone(tmp_path / "alice", account=box.phone_account("alice"))
        pbx = Pbx()
        a.start()
        a.call("sip:bob@127.0.0.1:%d" % pbx.port)
        inv = pbx.wait(lambda m: m.is_request and m.method == "INVITE", "the box's INVITE")
        head, _ = pbx.uas_head(inv, "far")
        sdp = ("v=0\r\no=far 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
               "m=audio %d RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
               % quiet.getsockname()[1]).encode()
        pbx.send(["SIP/2.0 200 OK"] + head + ["Contact: <sip:far@127.0.0.1:%d>" % pbx.port,
                                              "Content-Type: application/sdp"], sdp, inv.src)
        # the far end's plain audio toward the box's network side, for at most 60 s
        box_media = ("127.0.0.1", int(re.search(rb"m=audio (\d+)", inv.body).group(1)))
        threading.Thread(target=_plain_audio, args=(quiet, box_media, talking), daemon=True).start()
        st = box.wait_status(lambda s: s.get("fallback") == "failed", 20, "a failed fallback")
        n = st["call"]
        started = len([s for s in box.call_statuses(n) if s.get("fallback") == "blocked"])
        assert started >= 1
        from selenium.webdriver.common.by import By
        with chromium(tmp_path) as driver:
            _login(driver, url, password)
            _wait(driver, lambda d: _text(d, "fb%d" % n) == "failed")
            assert _text(driver, "path%d" % n) == "provider"
            assert "ICE fallback" in _text(driver, "call%d" % n)
            driver.save_screenshot(str(shots / "web_fallback.png"))
            driver.find_element(By.ID, "retry_fallback%d" % n).click()
            box.wait_status(lambda s: s["call"] == n and len([
                x for x in box.call_statuses(n) if x.get("fallback") == "blocked"]) > started,
                10, "the fallback started again")
            _wait(driver, lambda d: _text(d, "fb%d" % n) not in (None, ""))
    finally:
        talking.clear()
        time.sleep(0.05)
        closed.close()
        quiet.close()
        stop_all(a, box)
        if pbx is not None:
            pbx.close()


def _plain_audio(sock, dest, talking, seconds=60):
    """PCMU silence from SOCK to DEST every 20 ms while TALKING is set, for at most SECONDS."""
    seq, ts = 1, 0
    end = time.monotonic() + seconds
    while talking.is_set() and time.monotonic() < end:
        try:
            sock.sendto(bytes((0x80, 0, seq >> 8, seq & 0xFF, ts >> 24, (ts >> 16) & 0xFF,
                               (ts >> 8) & 0xFF, ts & 0xFF, 0xFA, 0x0E, 0, 1)) + b"\xff" * 160,
                        dest)
        except OSError:
            return
        seq = (seq + 1) & 0xFFFF
        ts = (ts + 160) & 0xFFFFFFFF
        time.sleep(0.02)


def _raw(port, source, data=b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"):
    """What a client at SOURCE gets back (b"" when the box closes without a byte)."""
    s = socket.socket()
    s.settimeout(5)
    try:
        s.bind((source, 0))
        s.connect(("127.0.0.1", port))
        try:
            s.sendall(data)
            got = b""
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    return got
                got += chunk
        except (ConnectionResetError, BrokenPipeError):
            return b""
    finally:
        s.close()


@pytest.mark.parametrize("interpreter", INTERPRETERS)
def test_page_security(tmp_path, interpreter):
    box = web_box(tmp_path / "box", "S", interpreter, clear="pass",
                  allow=("127.0.0.1", "127.0.0.3", "127.0.0.4"))
    try:
        box.start()
        password = password_of(box)
        # the network side (a source outside phone.allow) gets nothing at all
        assert _raw(box.web_port, "127.0.0.2") == b""
        assert _raw(box.web_port, "127.0.0.1").startswith(b"HTTP/1.1 303")
        # a name rebound to the box's address (DNS rebinding) gets no page, not even the login
        assert _raw(box.web_port, "127.0.0.1", b"GET /login HTTP/1.1\r\nHost: rebind.example:"
                    b"80\r\n\r\n").startswith(b"HTTP/1.1 403")
        # wrong passwords: three refused, then a wait, even for the right one
        guess = WebClient(box.web_port, "127.0.0.4")
        codes = []
        for pw in ("a", "b", "c", password):
            code, _, page = guess.get("/login")
            token = re.search(r'name="csrf" value="(\w+)"', page).group(1)
            codes.append(guess.post("/login", {"csrf": token, "password": pw})[0])
        assert codes == [403, 403, 403, 429], codes
        # a login form without its CSRF token is refused
        c = WebClient(box.web_port, "127.0.0.3")
        assert c.post("/login", {"password": password})[0] == 403
        c.login(password)
        # forms without their CSRF token are refused, and change nothing
        before = box.config_path.read_text()
        code, _, page = c.post("/config", {"media.clear": "mute"})
        assert code == 403 and "CSRF" in page
        assert c.post("/action", {"call": "1", "action": "verified"})[0] == 403
        assert box.config_path.read_text() == before
        # every page, and no response carries a secret
        for path in ("/", "/api/status", "/config", "/device", "/s.js", "/s.css"):
            assert c.get(path)[0] == 200, path
        code, _, page = c.post("/config", {"csrf": c.csrf, "media.clear": "loud"})
        assert code == 400 and "media.clear" in page
        for body in c.responses + guess.responses:
            assert box.wifi_secret.encode() not in body
            assert password.encode() not in body
        # a connection that brings no request is closed after REQUEST_MS (10 s), answered nothing
        idle = socket.create_connection(("127.0.0.1", box.web_port), timeout=20)
        t0 = time.monotonic()
        try:
            assert idle.recv(100) == b""
        finally:
            idle.close()
        assert 9 < time.monotonic() - t0 < 15
        # oversize requests are refused by the parser's limits
        assert _raw(box.web_port, "127.0.0.1", b"GET /" + b"a" * 5000).startswith(
            b"HTTP/1.1 431")
    finally:
        stop_all(box)


def test_heap_with_two_secure_calls_micropython(tmp_path):
    """The page served while two secure calls run through the MicroPython unix port box: the
    heap the device page reports (after a collection), with no call and with two."""
    box = web_box(tmp_path / "box", "M", "micropython")
    calls = []
    try:
        box.start()
        c = WebClient(box.web_port).login(password_of(box))
        heap0 = c.get("/device")[2]
        for tag in ("1", "2"):
            calls.append(_secure_call(tmp_path, box, tag))
        for _ in range(50):
            st = json.loads(c.get("/api/status")[2])
            if [x["security"] for x in st["calls"]] == ["secure", "secure"]:
                break
            time.sleep(0.2)
        assert sorted(x["sas"] for x in st["calls"]) == sorted(s for _, _, s in calls), st
        c.get("/")
        c.get("/config")
        heap2 = c.get("/device")[2]
        free0, used0 = map(int, re.search(r"(\d+) bytes free, (\d+) used", heap0).groups())
        free2, used2 = map(int, re.search(r"(\d+) bytes free, (\d+) used", heap2).groups())
        print("HEAP idle: %d used, %d free; two secure calls + page: %d used, %d free"
              % (used0, free0, used2, free2))
        (tmp_path / "heap.txt").write_text("%d %d %d %d\n" % (used0, free0, used2, free2))
        assert free2 > 0 and used2 > used0
    finally:
        for a, b, _ in calls:
            stop_all(a, b)
        stop_all(box)


def test_a_long_peer_keeps_the_page_on_a_phone_s_screen(tmp_path):
    """A live secure call whose far end is a long SIP URI (a user part of 240 characters, no
    space to break at), on the page in a phone-wide Chromium: the page must not grow wider
    than the screen (the SAS and the verified button pushed off it, a page to scroll sideways
    to read the SAS), and the URI is shown as text, not markup."""
    box = web_box(tmp_path / "box", "L", "cpython", clear="pass")
    a = b = None
    user = "<b>" + "x" * 240
    try:
        box.start()
        password = password_of(box)
        url = "http://127.0.0.1:%d" % box.web_port
        a = Linphone(tmp_path / "alice", account=box.phone_account("alice"))
        b = Linphone(tmp_path / "bob", encryption="zrtp", auto_answer=True)
        a.start()
        b.start()
        a.call("sip:%s@127.0.0.1:%d" % (user.replace("<", "%3C").replace(">", "%3E"),
                                         b.sip_port))
        sas = b.wait_encrypted(25)
        st = box.wait_secure(15)
        n = st["call"]
        assert "x" * 240 in st["peer"], st["peer"]
        with chromium(tmp_path) as driver:
            _login(driver, url, password)
            _wait(driver, lambda d: _text(d, "sas%d" % n) == sas)
            assert "x" * 240 in _text(driver, "call%d" % n)
            from selenium.webdriver.common.by import By
            assert driver.find_elements(By.CSS_SELECTOR, "#call%d b b" % n) == []  # no markup
            wide = driver.execute_script(
                "return [document.documentElement.scrollWidth, window.innerWidth,"
                " document.getElementById('verified%d').getBoundingClientRect().right]" % n)
            driver.save_screenshot(str(tmp_path / "long_peer.png"))
            assert wide[0] <= wide[1] and wide[2] <= wide[1], wide
    finally:
        stop_all(a, b, box)


def test_a_box_that_stops_answering_takes_the_call_off_the_page(tmp_path):
    """The page shows a live secure call's SAS; then the box stops answering (its loop stuck:
    the box process stopped, its listening socket still taking connections; then gone). The
    page went on showing SECURE and the SAS of a call it knew nothing more of (a failed poll
    changed nothing), for as long as the tab stayed open. Within a few polls it must say that
    the box does not answer, with no call and no SAS; and show the calls again once it does."""
    import signal
    box = web_box(tmp_path / "box", "T", "cpython", clear="pass")
    a = b = None
    try:
        box.start()
        password = password_of(box)
        url = "http://127.0.0.1:%d" % box.web_port
        a, b, sas = _secure_call(tmp_path, box)
        n = box.wait_secure(15)["call"]
        with chromium(tmp_path) as driver:
            _login(driver, url, password)
            _wait(driver, lambda d: _text(d, "sas%d" % n) == sas)
            os.kill(box.proc.pid, signal.SIGSTOP)
            try:
                t0 = time.monotonic()
                _wait(driver, lambda d: _text(d, "sas%d" % n) is None, 10)
                assert time.monotonic() - t0 < 8
                page = _text(driver, "st")
                assert "SECURE" not in page and sas not in page and "does not answer" in page, page
            finally:
                os.kill(box.proc.pid, signal.SIGCONT)
            _wait(driver, lambda d: _text(d, "sas%d" % n) == sas, 10)  # answering again
    finally:
        stop_all(a, b, box)

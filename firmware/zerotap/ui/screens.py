"""The screens: a pure function from the status model to pixels, for 128x64 and 128x32 panels.

:func:`render` reads a :class:`zerotap.status.BoxStatus`, clears the frame buffer, draws the one
screen that the status calls for and returns its name. It draws with ``fill_rect`` and ZeroTap's own
glyphs only (:mod:`zerotap.ui.canvas`), so the pixels are the same on MicroPython and CPython.

The rule that matters most: the word SECURE, the lock and the SAS appear only for a call whose
``security`` is ``"secure"``. Everything else says what it is: CLEAR, ZRTP (negotiating), FAILED.
A cache mismatch or an alarm inverts the whole panel.

Which screen (first match wins):

1. a call is shown (``box.shown_call()``):
   - ``mitm`` set: ``mismatch`` (a ZRTP cache mismatch, RFC 6189 section 4.3.2: the SAS must be
     compared) when the call is secure with ``cache == "mismatch"``, else ``alarm``;
   - ``secure``: ``verified`` or ``secure`` (``SECURE (direct)`` when the ICE fallback moved the
     media to the direct path);
   - the ICE fallback running (``fallback`` ``blocked``, ``exchanging``, ``connecting`` or
     ``zrtp``): ``fallback``, "ZRTP blocked" and the step ("exchanging number", "connecting",
     "ZRTP (direct)"); audio follows ``ice.clear`` meanwhile;
   - ``failed``: ``failed`` with the reason;
   - ``negotiating``: ``negotiating``;
   - not answered yet: ``ringing`` (incoming) or ``calling`` (outgoing);
   - otherwise ``clear`` (with the reason when the ICE fallback failed);
2. ``config_error``: the key at fault and the message;
3. ``boot`` while booting; ``network_down``; ``network_up`` (with the IP, the phone not registered);
   ``idle`` (the phone registered).

With more than one call, the header shows ``n/N`` for the shown call, and the 128x64 screens say
how to switch (hold the button). A call whose exchange ends in a cache mismatch, or that raises an
alarm, is shown at once (``BoxStatus.show``): no warning waits behind another call's calm screen.
"""
from zerotap import status as st
from zerotap.ui import canvas

BOOT = "boot"
NETWORK_DOWN = "network_down"
NETWORK_UP = "network_up"
IDLE = "idle"
RINGING = "ringing"
CALLING = "calling"
CLEAR = "clear"
NEGOTIATING = "negotiating"
SECURE = "secure"
VERIFIED = "verified"
MISMATCH = "mismatch"
ALARM = "alarm"
FAILED = "failed"
CONFIG_ERROR = "config_error"
FALLBACK = "fallback"
WEB_PASSWORD = "web_password"  # the web page's first-start password (docs/web.md)

SCREENS = (BOOT, NETWORK_DOWN, NETWORK_UP, IDLE, RINGING, CALLING, CLEAR, NEGOTIATING, SECURE,
           VERIFIED, MISMATCH, ALARM, FAILED, CONFIG_ERROR, FALLBACK, WEB_PASSWORD)
# the ICE fallback's running steps (zerotap.ice.fallback) and what the panel says for each
FALLBACK_STEPS = {"blocked": "getting a number", "exchanging": "exchanging number",
                  "connecting": "connecting", "zrtp": "ZRTP (direct)"}
SECURE_SCREENS = (SECURE, VERIFIED, MISMATCH)  # the only screens that show a SAS

SIZES = ((128, 64), (128, 32))

# Icons (our own): 7 columns, 8 rows.
LOCK = ("..###..", ".#...#.", ".#...#.", "#######", "###.###", "###.###", "#######")
CHECK = ("......#", ".....##", "#...##.", "##.##..", ".###...", "..#....")
WARN = ("...#...", "..###..", "..#.#..", ".##.##.", ".##.##.", "#######", "###.###", "#######")

LINE = 9  # pixels from one text line to the next on the 64-pixel panel
HOLD_HINT = "hold: next call"


class _Pen:
    """The frame buffer plus what was drawn, for tests (LOG is a list or None)."""

    def __init__(self, fb, width, height, log, ink=1):
        self.fb = fb
        self.w = width
        self.h = height
        self.log = log
        self.ink = ink

    def note(self, what):
        if self.log is not None:
            self.log.append(what)

    def text(self, s, x, y, scale=1, gap=None):
        self.note(s)
        return canvas.text(self.fb, s, x, y, scale, self.ink, gap)

    def center(self, s, y, scale=1, gap=None):
        s = canvas.fit(s, self.w, scale)
        self.note(s)
        return canvas.centered(self.fb, s, y, self.w, scale, self.ink, gap)

    def right(self, s, y):
        self.note(s)
        return canvas.text(self.fb, s, self.w - canvas.text_width(s), y, 1, self.ink)

    def icon(self, name, rows, x, y):
        self.note("icon:" + name)
        canvas.icon(self.fb, rows, x, y, self.ink)

    def bar(self, y, h):
        """An inverted band: lit background, text drawn dark on it until end_bar()."""
        self.fb.fill_rect(0, y, self.w, h, self.ink)
        self.ink ^= 1

    def end_bar(self):
        self.ink ^= 1


def _peer(call):
    peer = call.peer or "unknown"
    if peer.startswith("sip:") or peer.startswith("tel:"):
        peer = peer[4:]
    elif peer.startswith("sips:"):
        peer = peer[5:]
    return peer


def wrap(text, width, lines):
    """TEXT in at most LINES lines of WIDTH characters, broken at spaces where possible."""
    out = []
    words = text.split()
    cur = ""
    for word in words:
        while len(word) > width:
            if cur:
                out.append(cur)
                cur = ""
            out.append(word[:width])
            word = word[width:]
        if not cur:
            cur = word
        elif len(cur) + 1 + len(word) <= width:
            cur += " " + word
        else:
            out.append(cur)
            cur = word
    if cur:
        out.append(cur)
    if len(out) > lines:
        out = out[:lines]
        last = out[-1]
        out[-1] = (last[:width - 1] if len(last) >= width else last) + "~"
    return out


def algorithms(call):
    """The negotiated algorithms on one line: key agreement, cipher, auth tag, hash."""
    return " ".join(a for a in (call.ka, call.cipher, call.auth, call.hash) if a)


def sas_words(call):
    """The SAS as it is spoken: 4 characters (B32), or the two PGP words (B256)."""
    sas = call.sas or ""
    if call.sas_type == "B256" or " " in sas or ":" in sas:
        return sas.replace(":", " ").split()
    return [sas]


def _indicator(box, call):
    n = len(box.calls)
    if n < 2:
        return None
    return "%d/%d" % (box.calls.index(call) + 1, n)


def _header(pen, label, icons=(), right=None, inverted=False):
    """The top line: icons, a label, and the call indicator at the right."""
    if inverted:
        pen.bar(0, 9)
    x = 1
    for name, rows in icons:
        pen.icon(name, rows, x, 1)
        x += 9
    room = pen.w - x - (canvas.text_width(right) + 4 if right else 0)
    pen.text(canvas.fit(label, room), x, 1)
    if right:
        pen.right(right, 1)
    if inverted:
        pen.end_bar()


def _sas(pen, call, y, tall):
    """The SAS, as large as the panel allows: B32 fills the width, B256 as two words."""
    words = sas_words(call)
    w = pen.w
    if len(words) == 1:
        sas = words[0]
        scale = 4 if tall else 2
        n = len(sas) or 1
        # spread the characters over the whole width (RFC 6189 section 7: read aloud, one by one)
        cell = (w - 8) // n
        glyph = canvas.text_width("x", scale)
        x = 4 + (cell - glyph) // 2
        pen.note(sas)
        for ch in sas:
            canvas.char(pen.fb, ch, x, y, scale, pen.ink)
            x += cell
        return y + 8 * scale
    if tall:
        for word in words[:2]:
            scale = 2 if canvas.text_width(word, 2, 1) <= w else 1
            pen.center(word, y + (4 if scale == 1 else 0), scale, 1 if scale == 2 else None)
            y += 17
        return y
    for word in words[:2]:
        pen.center(word, y)
        y += 8
    return y


def _secure(pen, box, call, name):
    tall = pen.h >= 64
    ind = _indicator(box, call)
    if name == MISMATCH:
        _header(pen, "CACHE MISMATCH", (("warn", WARN),), ind)
    elif name == VERIFIED:
        _header(pen, "SECURE VERIFIED", (("lock", LOCK), ("check", CHECK)), ind)
    else:
        _header(pen, "SECURE (direct)" if call.path == "direct" else "SECURE", (("lock", LOCK),),
                ind)
    words = sas_words(call)
    if tall:
        _sas(pen, call, 11, True)
        if name == MISMATCH:
            hint = "compare SAS! MITM?"
        elif len(box.calls) > 1:
            hint = HOLD_HINT
        elif name == VERIFIED:
            hint = "SAS verified"
        else:
            hint = "compare SAS, press"
        pen.center(hint, 46 if len(words) == 1 else 47)
        pen.center(algorithms(call), 56)
        return
    if len(words) == 1:
        # 128x32: the SAS at 3x on the left, the algorithms in two short lines on the right
        x = 0
        pen.note(words[0])
        for ch in words[0]:
            canvas.char(pen.fb, ch, x, 9, 3, pen.ink)
            x += 18
        lines = ("compare", "SAS!", "MITM?") if name == MISMATCH else (
            " ".join(a for a in (call.ka, call.cipher) if a),
            " ".join(a for a in (call.auth, call.hash) if a))
        y = 9 if len(lines) == 3 else 12
        for line in lines:
            pen.text(line, pen.w - canvas.text_width(line) - 1, y)
            y += 8 if len(lines) == 3 else 10
        return
    _sas(pen, call, 9, False)
    pen.center("compare SAS! MITM?" if name == MISMATCH else algorithms(call), 25)


def _call(pen, box, call):
    tall = pen.h >= 64
    ind = _indicator(box, call)
    peer = _peer(call)
    sec = call.security
    if call.mitm:
        name = MISMATCH if (sec == st.SECURE and call.cache == st.CACHE_MISMATCH) else ALARM
    elif sec == st.SECURE:
        name = VERIFIED if call.verified else SECURE
    elif getattr(call, "fallback", None) in FALLBACK_STEPS:
        name = FALLBACK
    elif sec == st.FAILED:
        name = FAILED
    elif sec == st.NEGOTIATING:
        name = NEGOTIATING
    elif call.state in (st.RINGING, st.CALLING):
        name = RINGING if call.state == st.RINGING else CALLING
    else:
        name = CLEAR

    if name == MISMATCH or name == ALARM:
        # the whole panel inverted: it must not look like any calm screen
        pen.fb.fill_rect(0, 0, pen.w, pen.h, 1)
        pen.ink = 0
    if name in SECURE_SCREENS:
        _secure(pen, box, call, name)
        return name
    if name == ALARM:
        _header(pen, "ALARM", (("warn", WARN),), ind)
        reason = call.error or "unexpected media"
        if tall:
            pen.center("ALARM", 12, 2)
            y = 31
            for line in wrap(reason, 21, 3):
                pen.center(line, y)
                y += LINE
        else:
            y = 9
            for line in wrap(reason, 21, 3):
                pen.center(line, y)
                y += 8
        return name
    if name == FALLBACK:
        step = FALLBACK_STEPS[call.fallback]
        _header(pen, peer, (), ind)
        if tall:
            pen.center("ZRTP", 13, 2)
            pen.center("blocked", 29)
            pen.center(step, 42)
            pen.center(HOLD_HINT if ind else "not encrypted yet", 55)
        else:
            pen.center("ZRTP blocked", 10)
            pen.center(step, 21)
        return name
    failed_fb = getattr(call, "fallback", None) == "failed" and call.error
    if name == CLEAR and failed_fb:
        reason = call.error
        if reason.startswith("ICE fallback: "):
            reason = reason[len("ICE fallback: "):]
        _header(pen, peer, (), ind)
        if tall:
            pen.center("CLEAR", 12, 2)
            pen.center("NOT ENCRYPTED", 29)
            y = 40
            for line in wrap(reason, 21, 2):
                pen.center(line, y)
                y += LINE
        else:
            pen.center("CLEAR NOT ENCRYPTED", 9)
            y = 17
            for line in wrap(reason, 21, 2):
                pen.center(line, y)
                y += 8
        return name
    if name == CLEAR:
        if tall:
            _header(pen, peer, (), ind)
            pen.center("CLEAR", 13, 4)
            pen.center("NOT ENCRYPTED", 45)
            pen.center(HOLD_HINT if ind else "anyone may listen", 55)
        elif ind:
            pen.center("CLEAR", 0, 3)
            pen.right(ind, 24)
            pen.text(canvas.fit("NOT ENCRYPTED", pen.w - 30), 0, 24)
        else:
            pen.center("CLEAR", 2, 4)
        return name
    if name == FAILED:
        if tall:
            _header(pen, peer, (), ind)
            pen.center("FAILED", 12, 2)
            pen.center("call NOT encrypted", 30)
            y = 40
            for line in wrap(call.error or "no reason given", 21, 2):
                pen.center(line, y)
                y += LINE
        else:
            pen.center("FAILED", 0, 2)
            if ind:
                pen.right(ind, 0)
            y = 17
            for line in wrap(call.error or "no reason given", 21, 2):
                pen.center(line, y)
                y += 8
        return name
    if name == NEGOTIATING:
        if tall:
            _header(pen, peer, (), ind)
            pen.center("ZRTP...", 14, 2)
            pen.center("key exchange", 34)
            pen.center(HOLD_HINT if ind else "not encrypted yet", 46)
        else:
            _header(pen, peer, (), ind)
            pen.center("ZRTP...", 9, 2)
        return name
    # ringing or calling
    label = "INCOMING CALL" if name == RINGING else "CALLING"
    if tall:
        _header(pen, label, (), ind, inverted=True)
        y = 16
        for line in wrap(peer, 21, 2):
            pen.center(line, y)
            y += LINE
        pen.center(HOLD_HINT if ind else "not encrypted yet", 46)
    else:
        _header(pen, label, (), ind, inverted=True)
        pen.center(canvas.fit(peer, pen.w), 12)
        pen.center("not encrypted yet", 24)
    return name


def _idle(pen, box):
    tall = pen.h >= 64
    if box.config_error is not None:
        key, message = box.config_error
        _header(pen, "CONFIG ERROR", (("warn", WARN),), None, inverted=True)
        if tall:
            pen.center(canvas.fit(key, pen.w), 13)
            y = 25
            for line in wrap(message, 21, 3):
                pen.center(line, y)
                y += LINE
            if box.config_fallback:  # zerotap.lastgood: the last good config is in use
                pen.center("last good in use", 55)
        else:
            pen.center(canvas.fit(key, pen.w), 9)
            y = 17
            for line in wrap(message, 21, 2):
                pen.center(line, y)
                y += 8
        return CONFIG_ERROR
    if box.booting:
        if tall:
            pen.center("ZeroTap", 12, 2)
            pen.center("starting...", 36)
        else:
            pen.center("ZeroTap", 0, 2)
            pen.center("starting...", 20)
        return BOOT
    if box.network != st.NET_UP:
        if tall:
            _header(pen, "NETWORK", (), None, inverted=True)
            pen.center("NO NETWORK", 16, 2)
            pen.center("check the cable", 36)
            pen.center("or the Wi-Fi settings", 45)
        else:
            pen.center("NO NETWORK", 0, 2)
            pen.center("check cable / Wi-Fi", 20)
        _warning(pen, box)
        return NETWORK_DOWN
    ip = box.ip or "no address"
    password = getattr(box, "web_password", None)
    if password:  # until somebody logs in to the page (zerotap.runtime.web)
        port = getattr(box, "web_port", 80)
        url = ip + ("" if port == 80 else ":%d" % port)  # the browser adds http://
        if tall:
            _header(pen, "WEB PAGE", (), None, inverted=True)
            pen.center(canvas.fit(url, pen.w), 13)
            pen.center("password:", 25)
            pen.center(password, 36, 2)
            pen.center("log in to hide this", 55)
        else:
            pen.center(canvas.fit(url, pen.w), 0)
            pen.center(password, 10, 2)
            pen.center("web page password", 25)
        return WEB_PASSWORD
    if not box.registered:
        if tall:
            _header(pen, "NETWORK UP", (), None, inverted=True)
            pen.center("IP address", 14)
            pen.center(ip, 24)
            pen.center("phone not", 38)
            pen.center("registered yet", 47)
            _transport_line(pen, box, 56)
        else:
            _header(pen, "NETWORK UP", (), None, inverted=True)
            pen.center(ip, 12)
            if not (box.warning or getattr(box, "registration_error", None)):
                pen.center("phone not registered", 23)
        _warning(pen, box)
        return NETWORK_UP
    if tall:
        _header(pen, "ZeroTap", (), None, inverted=True)
        pen.center("READY", 14, 2)
        pen.center(ip, 34)
        pen.center("phone registered", 44)
        _transport_line(pen, box)
    else:
        pen.center("READY", 0, 2)
        pen.center(ip, 17)
        if not (box.warning or getattr(box, "registration_error", None)):
            pen.center("phone registered", 25)
    _warning(pen, box)
    return IDLE


def _transport_line(pen, box, y=54):
    """The transport toward the provider and the public address behind NAT (docs/transports.md),
    on the tall panel, when there is more to say than plain UDP without NAT."""
    transport = getattr(box, "transport", "UDP")
    public = getattr(box, "public", None)
    if (transport == "UDP" and not public) or box.warning or \
            getattr(box, "registration_error", None):
        return
    pen.center(canvas.fit(transport + (" " + public if public else ""), pen.w), y)


def _warning(pen, box):
    text = box.warning or getattr(box, "registration_error", None)
    if text:
        y = pen.h - 9 if pen.h >= 64 else pen.h - 8
        pen.bar(y, pen.h - y)
        pen.center(canvas.fit("! " + text, pen.w), y + 1 if pen.h >= 64 else y)
        pen.end_bar()


def render(box, fb, width, height, log=None):
    """Draw the screen for BOX into FB (WIDTHxHEIGHT) and return the screen's name.

    LOG, when a list, receives every string drawn and ``icon:<name>`` for every icon.
    """
    if height < 32 or width < 128:
        raise ValueError("panel %dx%d is too small: 128x32 at least" % (width, height))
    fb.fill(0)
    pen = _Pen(fb, width, height, log)
    call = box.shown_call()
    if call is not None:
        return _call(pen, box, call)
    return _idle(pen, box)

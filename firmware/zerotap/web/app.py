"""The pages of the box's web page: sans-IO (a :class:`zerotap.web.http.Request` in, response
bytes out). docs/web.md is the user's guide.

    app = WebApp(host, guard)
    out, after = app.handle(request, source, now_ms)   # AFTER: None, or "restart" (the box loop
                                                       # restarts once OUT went out)

HOST is what the pages need of the box (:class:`zerotap.runtime.web.BoxHost` on a box; tests
pass their own): ``status()`` (the control's ``status`` reply), ``act(action, call, sas)`` (SAS:
the one the page showed, or None), ``config_text()``, ``save_config(text)`` (validates as at
boot, raises ``ConfigError`` naming the key, writes atomically), ``device()`` (a dict) and
``wifi`` (True on a Wi-Fi board).

Pages: ``/login``, ``/`` (status, with the actions: verified / not verified for a secure call,
"Retry the fallback" for a call whose ICE fallback failed), ``/config``, ``/device``; ``/api/status``
(JSON, polled by ``/s.js``), ``/s.css``, ``/s.js``. Every form carries a CSRF token (the login
form a double-submit one: a cookie and a field). Secrets (keys named ``password`` or
``secret``) are never sent: their fields are empty, and an empty field keeps the stored value.
"""
import json

from zerotap.web import auth as _auth
from zerotap.web.http import HttpError, escape, response

COOKIE = "zt"
LOGIN_COOKIE = "ztl"
SECRET_WORDS = ("password", "secret")
ACTIONS = {"verified": "verified", "unverified": "unverified", "retry_fallback": "retry_fallback"}

CSS = b"""body{font:16px sans-serif;margin:0 auto;max-width:40em;padding:.5em;overflow-wrap:break-word}
nav a{margin-right:1em}h1{font-size:1.3em}.sas{font:bold 2.6em monospace;letter-spacing:.1em}
.call{border:1px solid #888;border-radius:6px;padding:.5em;margin:.5em 0}.bad{color:#b00}
.ok{color:#070}input,select,button{font-size:1em;padding:.3em}input{width:100%;box-sizing:border-box}
label{display:block;margin-top:.5em;font-size:.85em;color:#444}button{margin:.3em .3em 0 0}
.err{background:#fdd;padding:.5em}table{border-collapse:collapse}td{padding:.2em .6em .2em 0}"""

JS = b"""var t=document.getElementById('st'),w=0;function e(s){return String(s==null?'':s)
.replace(/[&<>"']/g,function(c){return'&#'+c.charCodeAt(0)+';'})}
function f(c,k){var x=document.body.dataset.csrf;return'<form method=post action=/action>'+
'<input type=hidden name=csrf value="'+e(x)+'"><input type=hidden name=call value="'+c.call+
'"><input type=hidden name=sas value="'+e(c.sas)+'"><button name=action value='+k+' id='+k+
c.call+'>'+(k=='verified'?'SAS matches: verified':
k=='unverified'?'Not verified':'Retry the fallback')+'</button></form>'}
function r(s){var h='<p>Network: '+e(s.network)+' '+e(s.ip)+' ('+e(s.transport)+
(s.public?', public '+e(s.public):'')+')<br>Registration: '+(s.registered?'<b class=ok>registered</b>':
'<b class=bad>not registered</b> '+e(s.registration_error))+'</p>';if(s.warning)h+=
'<p class=err>'+e(s.warning)+'</p>';if(s.config_error)h+='<p class=err>Config refused: '+
e(s.config_error.join(': '))+(s.config_fallback?' (last good config in use)':'')+'</p>';
if(!s.calls.length)h+='<p>No call.</p>';s.calls.forEach(function(c){var v=c.security==
'secure';h+='<div class=call id=call'+c.call+'><b>Call '+c.call+'</b> '+e(c.direction)+' '+
e(c.peer)+' '+e(c.state)+'<br>Security: <b id=sec'+c.call+' class='+(v?'ok':'bad')+'>'+
e(c.security).toUpperCase()+(v?(c.verified?' VERIFIED':' not verified'):'')+'</b>';if(c.mitm)
h+=' <b class=bad>ALARM</b>';if(c.error)h+='<br>'+e(c.error);if(c.fallback)h+='<br>Fallback: <b id=fb'+c.call+
(c.fallback=='failed'?' class=bad':'')+'>'+e(c.fallback)+'</b>, path <span id=path'+c.call+'>'+
e(c.path)+'</span>'+(c.fallback=='failed'?f(c,'retry_fallback'):'');if(v){h+='<div class=sas id=sas'+
c.call+'>'+e(c.sas)+'</div>'+e([c.ka,c.cipher,c.auth,c.hash,c.sas_type].join(' '))+
'<br>Cache: '+e(c.cache)+f(c,c.verified?'unverified':'verified')}h+='</div>'});
t.innerHTML=h;w=Date.now()}function p(){if(w&&Date.now()-w>5000)t.innerHTML='<p class=err>'+
'The box does not answer: its calls are not shown.</p>';fetch('/api/status').then(function(x)
{if(x.status==403)location='/login';return x.json()}).then(r).catch(function(){})}
if(t){p();setInterval(p,1500)}"""


def _page_start(title, csrf=None, nav=True):
    """The page up to its body: head, navigation and title."""
    links = ('<nav><a href="/">Status</a><a href="/config">Configuration</a>'
             '<a href="/device">Device</a>' + _form("/logout", csrf, "<button>Log out</button>",
                                                   inline=True) + "</nav>") if nav else ""
    return ('<!DOCTYPE html><html><head><meta charset="utf-8"><meta name="viewport" '
            'content="width=device-width,initial-scale=1"><title>ZeroTap: %s</title>'
            '<link rel="stylesheet" href="/s.css"></head><body%s>%s<h1>%s</h1>'
            % (escape(title), ' data-csrf="%s"' % escape(csrf) if csrf else "", links,
               escape(title)))


PAGE_END = '<script src="/s.js"></script></body></html>'


def _page(title, body, csrf=None, nav=True):
    return _page_start(title, csrf, nav) + body + PAGE_END


def _form(action, csrf, inner, inline=False):
    return ('<form method="post" action="%s"%s><input type="hidden" name="csrf" value="%s">%s'
            '</form>' % (action, ' style="display:inline"' if inline else "", escape(csrf or ""),
                         inner))


def is_address_host(text):
    """True when a Host header (RFC 9110 section 7.2) names an IP address or ``localhost``,
    with or without a port: no DNS name, so no name rebound to the box's address."""
    from zerotap.config import ip_bytes
    bracket = text.startswith("[")
    if bracket:
        end = text.find("]")
        if end < 0:
            return False
        name, rest = text[1:end], text[end + 1:]
    else:
        name, sep, port = text.partition(":")
        rest = sep + port
    if rest and (rest[0] != ":" or len(rest) < 2 or
                 not all(c in "0123456789" for c in rest[1:])):
        return False
    if name == "localhost":
        return not bracket
    packed = ip_bytes(name)
    return packed is not None and (len(packed) == 16) == bracket


def is_secret(key):
    last = key.split(".")[-1].split("[")[0].lower()
    for w in SECRET_WORDS:
        if w in last:
            return True
    return False


def leaves(obj, prefix=""):
    """(dotted key, value) for every leaf of a config object (a list is one leaf), one at a time."""
    for k in sorted(obj):
        key = prefix + k
        v = obj[k]
        if isinstance(v, dict) and v:
            for leaf in leaves(v, key + "."):
                yield leaf
        else:
            yield key, v


def flatten(obj):
    """[(dotted key, value)] for every leaf of a config object (a list is one leaf)."""
    return list(leaves(obj))


def _set(obj, key, value):
    parts = key.split(".")
    for p in parts[:-1]:
        if not isinstance(obj.get(p), dict):
            obj[p] = {}
        obj = obj[p]
    obj[parts[-1]] = value


def _field_text(value):
    return value if isinstance(value, str) else json.dumps(value)


def fields(obj, wifi=False):
    """The configuration form's fields, one at a time: (key, shown text, secret); secrets shown
    empty; on a Wi-Fi board the Wi-Fi keys are offered even when absent (last)."""
    ssid = password = wifi  # still to offer (two flags: no dict of every key, the heap)
    for k, v in leaves(obj):
        if k == "board.wifi.ssid":
            ssid = False
        elif k == "board.wifi.password":
            password = False
        secret = is_secret(k)
        yield k, "" if secret else _field_text(v), secret
    if ssid:
        yield "board.wifi.ssid", "", False
    if password:
        yield "board.wifi.password", "", True


def form_fields(obj, wifi=False):
    """The configuration form's fields: [(key, shown text, secret)]; secrets shown empty."""
    return list(fields(obj, wifi))


def merge_form(current, form, wifi=False):
    """The config object that FORM (field name -> text) makes of CURRENT (a decoded config.json).
    A field's JSON type is the stored value's: a string stays text, anything else is parsed as
    JSON. An empty secret field keeps the stored secret. ConfigError naming the key for a value
    that is not JSON; unknown fields are refused."""
    from zerotap.config import ConfigError, json_value
    new = json.loads(json.dumps(current))
    stored = dict(flatten(current))
    known = [k for k, _, _ in form_fields(current, wifi)]
    for name in form:
        if name == "csrf":
            continue
        if name not in known:
            raise ConfigError(name, "unknown key")
    for key in known:
        if key not in form:
            continue
        text = form[key]
        old = stored.get(key)
        if is_secret(key) and text == "":
            continue
        if key not in stored and text == "":
            continue  # an offered key (Wi-Fi) left empty: not added
        if isinstance(old, str) or (old is None and key not in stored):
            value = text
        else:
            try:
                value = json_value(text)
            except ValueError:
                raise ConfigError(key, "not valid JSON: %r" % text[:40])
        _set(new, key, value)
    return new


class Streamed:
    """A response written in pieces: STATUS, then the strings CHUNKS yields, each sent as it
    comes (no Content-Length: ``Connection: close`` ends the body). Only the piece at hand is
    in the heap, not the page and its copies."""

    def __init__(self, status, chunks, ctype="text/html; charset=utf-8"):
        self.status = status
        self.chunks = chunks
        self.ctype = ctype

    def write(self, write, head_only=False):
        """Each piece through WRITE(bytes); stops when WRITE returns False (the connection
        closed)."""
        if write(response(self.status, None, self.ctype)) is False or head_only:
            return
        for c in self.chunks:
            if write(c.encode()) is False:
                return


class WebApp:
    def __init__(self, host, guard, random):
        self.host = host
        self.guard = guard
        self.random = random
        self.served = 0

    def handle(self, req, source, now):
        """(response bytes, AFTER) for REQ from SOURCE (an address of the phone side): the whole
        response at once (tests; :meth:`serve` writes it in pieces)."""
        out, after = self.answer(req, source, now)
        if isinstance(out, Streamed):
            parts = []
            out.write(parts.append)
            out = b"".join(parts)
        return out, after

    def serve(self, req, source, now, write):
        """Write the response to REQ through WRITE(bytes), in pieces where the page is large
        (a HEAD gets the head only); returns AFTER."""
        out, after = self.answer(req, source, now)
        if isinstance(out, Streamed):
            out.write(write, req.method == "HEAD")
        else:
            write(out if req.method != "HEAD" else out[:out.find(b"\r\n\r\n") + 4])
        return after

    def answer(self, req, source, now):
        """(response bytes or a :class:`Streamed`, AFTER)."""
        self.served += 1
        try:
            return self._route(req, source, now)
        except HttpError as e:
            return response(e.status, _page("Error", "<p class=err>%s</p>" % escape(e),
                                            nav=False)), None
        except _auth.AuthError as e:
            if e.status == 403 and req.path != "/login" and "not logged in" in str(e):
                return _redirect("/login"), None
            return response(e.status, _page("Refused", "<p class=err>%s</p><p><a href=/>Back"
                                            "</a></p>" % escape(e), nav=False)), None

    def _route(self, req, source, now):
        path, m = req.path, req.method
        host = req.headers.get("host")
        if host is not None and not is_address_host(host):
            # DNS rebinding: a site's script whose name now points at the box (docs/web.md)
            raise HttpError(403, "Host %r: open the page by the box's address" % host[:64])
        if path == "/s.css":
            return response(200, CSS, "text/css"), None
        if path == "/s.js":
            return response(200, JS, "application/javascript"), None
        if path == "/favicon.ico":
            raise HttpError(404, "no icon")
        if path == "/login":
            return self._login(req, source, now), None
        session = self.guard.session(req.cookie(COOKIE), now)
        if session is None:
            if path == "/api/status":
                raise _auth.AuthError(403, "login required")
            if m == "POST":
                raise _auth.AuthError(403, "not logged in")
            return _redirect("/login"), None
        if m == "POST":
            self.guard.check_csrf(session, req.form().get("csrf"))
        routes = {"/": self._status, "/api/status": self._api, "/device": self._device,
                  "/config": self._config, "/action": self._action, "/logout": self._logout}
        f = routes.get(path)
        if f is None:
            raise HttpError(404, "no page %s" % path[:64])
        if m == "POST" and path in ("/", "/api/status", "/device"):
            raise HttpError(405, "POST not allowed here")
        if m != "POST" and path in ("/action", "/logout"):
            raise HttpError(405, "POST only")
        return f(req, session)

    # --- login ----------------------------------------------------------------------------------
    def _login(self, req, source, now):
        if req.method == "POST":
            form = req.form()
            c = req.cookie(LOGIN_COOKIE)
            if not c or not _auth.same(c.encode(), form.get("csrf", "").encode()):
                raise _auth.AuthError(403, "missing or wrong CSRF token: reload the page")
            token = self.guard.login(source, form.get("password", ""), now)
            return _redirect("/", [("Set-Cookie", "%s=%s; Path=/; HttpOnly; SameSite=Strict"
                                    % (COOKIE, token)),
                                   ("Set-Cookie", "%s=; Path=/login; Max-Age=0; HttpOnly"
                                    % LOGIN_COOKIE)])
        t = req.cookie(LOGIN_COOKIE)  # a browser may load the page twice: keep one token
        if not t or len(t) != 32 or not all(c in "0123456789abcdef" for c in t):
            t = _auth._hex(self.random(16))
        wait = self.guard.wait_ms(source, now)
        note = ("<p class=err>Too many wrong passwords: wait %d s.</p>" % ((wait + 999) // 1000)
                if wait else "")
        body = (note + '<form method="post" action="/login"><input type="hidden" name="csrf" '
                'value="%s"><label for=pw>Password (shown on the box\'s display at first start)'
                '</label><input type="password" id=pw name="password" autocomplete='
                '"current-password"><button id=login>Log in</button></form>' % t)
        return response(200, _page("Log in", body, nav=False),
                        headers=[("Set-Cookie", "%s=%s; Path=/login; HttpOnly; SameSite=Strict"
                                  % (LOGIN_COOKIE, t))])

    def _logout(self, req, session):
        self.guard.logout(session.token)
        return _redirect("/login", [("Set-Cookie", "%s=; Path=/; Max-Age=0; HttpOnly"
                                     % COOKIE)]), None

    # --- pages ----------------------------------------------------------------------------------
    def _status(self, req, session):
        return response(200, _page("Status", '<div id="st">Loading...</div>', session.csrf)), None

    def _api(self, req, session):
        st = self.host.status()
        st.pop("ok", None)
        return response(200, json.dumps(st), "application/json"), None

    def _action(self, req, session):
        form = req.form()
        action = ACTIONS.get(form.get("action"))
        call = form.get("call", "")
        if action is None or not call.isdigit():
            raise HttpError(400, "action must be verified, unverified or retry_fallback, with a call "
                                 "number")
        sas = form.get("sas")
        if action != "retry_fallback" and not sas:  # the SAS the page showed, and no other
            raise HttpError(400, "verified or not verified: the form names the SAS it showed")
        try:
            self.host.act(action, int(call), sas)
        except ValueError as e:
            raise HttpError(400, str(e))
        return _redirect("/"), None

    def _device(self, req, session):
        rows = "".join("<tr><td>%s</td><td id=%s>%s</td></tr>" % (escape(k), escape(k),
                                                                  escape(v))
                       for k, v in self.host.device())
        return response(200, _page("Device", "<table>%s</table>" % rows, session.csrf)), None

    def _config(self, req, session):
        from zerotap.config import ConfigError
        current = json.loads(self.host.config_text())
        error = None
        status = 400
        if req.method == "POST":
            form = req.form()
            try:
                new = merge_form(current, form, self.host.wifi)
                self.host.save_config(json.dumps(new))
            except ConfigError as e:
                error = (e.key, e.reason)
            except OSError as e:  # the flash cannot take it (full): the old file stays whole
                error, status = ("config", "cannot save (%s)" % (e,)), 500
            else:
                body = ("<p class=ok id=saved>Saved. The box restarts with the new configuration; "
                        "this page comes back in a few seconds.</p><p><a href=/>Status</a></p>")
                return response(200, _page("Configuration", body, session.csrf)), "restart"
            shown = dict(form)
        else:
            shown = None
        return Streamed(status if error else 200,
                        self._config_page(current, shown, error, session.csrf)), None

    def _config_page(self, current, shown, error, csrf):
        """The configuration page in pieces: one field at a time (a board's config has some 50
        fields; as one string, with its copies, the page needed 63 KB of heap, issue 18)."""
        yield _page_start("Configuration", csrf)
        if error:
            yield ("<p class=err id=refused>Refused: <b>%s</b>: %s. Nothing was saved.</p>"
                   % (escape(error[0]), escape(error[1])))
        yield ('<form method="post" action="/config"><input type="hidden" name="csrf" value="%s">'
               % escape(csrf or ""))
        for key, text, secret in fields(current, self.host.wifi):
            if shown is not None and not secret and key in shown:
                text = shown[key]
            bad = error is not None and (error[0] == key or error[0].startswith(key + "[")
                                         or error[0].startswith(key + "."))
            k = escape(key)
            yield ('<label for="%s"%s>%s%s</label><input id="%s" name="%s" value="%s"%s>'
                   % (k, ' class=bad' if bad else "", k, " (secret: empty keeps it)" if secret else "",
                      k, k, escape(text), ' type="password" autocomplete="off"' if secret else ""))
        yield '<button id=save>Save and restart</button></form>' + PAGE_END


def _redirect(to, headers=()):
    return response(303, b"", headers=[("Location", to)] + list(headers))

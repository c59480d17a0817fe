"""The box's web page on the runtime's stream layer, in the box's own loop (docs/web.md).

    web = WebServer(box, cfg.web)    # Box does this when the config has ``web.listen``

A plain TCP listener of :class:`zerotap.runtime.stream.Streams` (``framed=False``): each
connection's bytes go to a :class:`zerotap.web.http.RequestParser`; the whole request goes to
:class:`zerotap.web.app.WebApp`; the answer is queued and the connection closed once it is
written. A connection from a source outside ``phone.allow`` is closed at once, before a byte is
read or written (the network side gets nothing). At most ``MAX_CONNS`` connections at a time;
one that has not brought a whole request within ``REQUEST_MS`` is closed (a browser's idle
preconnection must not hold a place).

The password: at first start a new one is made (:func:`zerotap.web.auth.new_password`), its
record (salt and derived key, never the password) written to ``web_password`` in the
``zrtp.cache`` directory, and the password shown on the front panel and logged once on the
console. Delete that file to get a new one at the next start.

A saved configuration restarts the box loop: the launcher (``python -m zerotap run``, a board's
``main``) sets ``box.config_store`` = (Storage, name) and loops while ``box.restart`` is set.
"""
import gc
import json
import sys

from zerotap import __version__
from zerotap.crypto import drbg as _drbg
from zerotap.runtime import stream
from zerotap.storage import Storage
from zerotap.web import app as _app
from zerotap.web import auth as _auth
from zerotap.web import http as _http

MAX_CONNS = 4
# the bytes all unfinished requests may hold together: one whole request's (four slow clients
# each with a form's worth held four times the page's share of a board's heap)
BUFFERED = _http.MAX_HEAD + _http.MAX_BODY
REQUEST_MS = 10000  # a connection must bring its whole request within this (browsers preconnect)
PASSWORD_FILE = "web_password"


class BoxHost:
    """What the pages need of the box (:class:`zerotap.web.app.WebApp`'s HOST)."""

    def __init__(self, box):
        self.box = box

    @property
    def wifi(self):
        return getattr(self.box, "wifi_board", False)

    def status(self):
        return self.box.control.command(["status"])

    def act(self, action, call, sas=None):
        """ACTION (``verified``, ``unverified``, ``retry_fallback``) on call number CALL, as the
        local control does it (ValueError with the reason when it does not apply); SAS: only
        while that is the call's SAS."""
        words = {"verified": "verify", "unverified": "unverify"}.get(action, action)
        self.box.control.command([words, str(call)] + ([sas] if sas else []))

    def _store(self):
        store = getattr(self.box, "config_store", None)
        if store is None:
            from zerotap.config import ConfigError
            raise ConfigError("config", "this box was started without a config file to save")
        return store

    def config_text(self):
        """The config file's text; its last good copy when the file is missing or is no JSON
        object (a file the box refused at boot, :mod:`zerotap.lastgood`: the form must still
        come up to fix it); "{}" without either."""
        storage, name = self._store()
        for n in (name, name + ".good"):
            data = storage.read(n)
            if data is None:
                continue
            try:
                text = data.decode()
                if isinstance(json.loads(text), dict):
                    return text
            except (ValueError, RuntimeError):  # not UTF-8, not JSON, nested too deep
                pass
        return "{}"

    def save_config(self, text):
        """Validate as at boot (ConfigError naming the key), then replace the file atomically;
        the box loop restarts with it (:mod:`zerotap.lastgood` keeps the last good copy)."""
        from zerotap import config as _config
        parse = getattr(self.box, "config_parser", None) or _config.loads
        self._bindable(parse(text))
        storage, name = self._store()
        storage.write(name, text.encode())

    def _bindable(self, cfg):
        """ConfigError naming the key when an address of CFG is not this box's, or its status
        file or trust cache cannot be opened: the box could not start again on it (the host's
        process would exit; a board would halt on CONFIG ERROR with that config already its
        last good one), and no page would be left to fix it. Port 0: the ports in use are the
        box's own."""
        from zerotap.config import ConfigError
        loop = self.box.loop
        for key, host in (("phone.sip", cfg.phone.host), ("network.sip", cfg.network.host),
                          ("control", cfg.control[0])):
            try:
                loop.close(loop.open(host, 0, None))
            except OSError as e:
                raise ConfigError(key, "cannot bind %s (%s): not an address of this box"
                                  % (host, e))
        for key, path in (("status", cfg.status), ("zrtp.cache", cfg.zrtp.cache)):
            try:  # as the box opens them at its start
                if key == "zrtp.cache":
                    Storage(path)
                elif path != "-":
                    open(path, "a").close()
            except OSError as e:
                raise ConfigError(key, "cannot open %s (%s)" % (path, e))
        web, now = cfg.web, self.box.cfg.web
        if web is not None and (now is None or now.listen[1] != web.listen[1]):
            host, port = web.listen  # a new port for the page: is it free (a program holds it)?
            try:
                self.box.net.streams.listen(host, port, None, framed=False).close()
            except OSError as e:
                raise ConfigError("web.listen", "cannot listen on %s:%d (%s)" % (host, port, e))

    def device(self):
        impl = sys.implementation
        rows = [("board", getattr(self.box, "board_name", None) or "host (%s)" % sys.platform),
                ("firmware", "ZeroTap " + __version__),
                ("interpreter", "%s %s" % (impl.name, ".".join(str(x) for x in impl.version[:3]))),
                # the box's loop clock: made with the loop at the box's start (a config saved here
                # starts it again), never wraps, not moved when NTP sets the wall clock
                ("uptime", _uptime(self.box.loop.clock() // 1000))]
        gc.collect()
        free = getattr(gc, "mem_free", None)
        if free is not None:
            rows.append(("heap", "%d bytes free, %d used" % (free(), gc.mem_alloc())))
        else:
            rows.append(("heap", "n/a (CPython)"))
        rows.append(("reset", _reset_reason()))
        return rows


def _uptime(s):
    return "%dd %02d:%02d:%02d" % (s // 86400, s // 3600 % 24, s // 60 % 60, s % 60)


def _reset_reason():
    try:
        import machine
    except ImportError:
        machine = None
    if getattr(machine, "reset_cause", None) is None:  # CPython, the MicroPython unix port
        return "n/a (host)"
    cause = machine.reset_cause()
    for name in ("PWRON_RESET", "HARD_RESET", "WDT_RESET", "DEEPSLEEP_RESET", "SOFT_RESET"):
        if getattr(machine, name, None) == cause:
            return name.lower().replace("_", " ")
    return "cause %d" % cause


def _random(n):
    """N bytes from the box's random source (:mod:`zerotap.crypto.drbg`): on an Ethernet board
    ``os.urandom`` alone is no true random source, and the password and tokens guard VERIFIED."""
    return _drbg.random_bytes(n)


def password_guard(directory, log, random=_random):
    """(Guard, new password or None): the stored record, or a new password at first start."""
    storage = Storage(directory)
    record = storage.read(PASSWORD_FILE)
    password = None
    if record is not None:
        try:
            return _auth.Guard(record, random), None
        except ValueError as e:
            log("web: %s: a new password is made" % (e,))
    password = _auth.new_password(random)
    record = _auth.password_record(password, random(16))
    storage.write(PASSWORD_FILE, record)
    return _auth.Guard(record, random), password


class WebServer:
    def __init__(self, box, settings):
        self.box = box
        self.allow = box.cfg.phone.allow
        self.guard, password = password_guard(box.cfg.zrtp.cache, box.log)
        if password is not None:
            box.log("web: first start: the page's password is %s (also on the display)"
                    % password)
            box.status.web_password = password  # the panel shows it until someone logs in
            box.status.web_port = settings.listen[1]
            box.status.changed()
        self.app = _app.WebApp(BoxHost(box), self.guard, _random)
        host, port = settings.listen
        self.streams = box.net.streams
        self.listener = self.streams.listen(host, port, self._event, framed=False)
        self.parsers = {}
        self.opened = {}  # id(conn) -> (conn, deadline) until its request is whole
        self.refused = 0
        box.loop.add_timer_source(self)
        box.log("web: http://%s:%d/ (phone side)" % (host if ":" not in host else
                                                     "[%s]" % host, port))

    def _event(self, conn, kind, data, now):
        key = id(conn)
        if kind == stream.OPEN_EVENT:
            if conn.peer[0] not in self.allow or len(self.parsers) >= MAX_CONNS:
                self.refused += 1
                conn.close()  # nothing is read, nothing is written
                return
            self.parsers[key] = _http.RequestParser()
            self.opened[key] = (conn, now + REQUEST_MS)
            return
        if kind == stream.CLOSED_EVENT:
            self.opened.pop(key, None)
            p = self.parsers.pop(key, None)
            if p is not None and getattr(p, "after", None) == "restart":
                self.box.request_restart()
            return
        p = self.parsers.get(key)
        if p is None or kind != stream.DATA:
            return
        held = len(data)
        for q in self.parsers.values():
            held += len(q.buf)
        try:
            if held > BUFFERED:
                raise _http.HttpError(503, "busy with other requests: try again")
            req = p.feed(data)
        except _http.HttpError as e:
            self.opened.pop(key, None)
            conn.send(_http.response(e.status, _http.escape(str(e)), "text/plain"))
            conn.close_after_flush()
            return
        if req is None:
            return
        self.opened.pop(key, None)
        first = []

        def write(data):  # each piece goes to the socket (or its queue) as it is made
            if not first:
                first.append(bytes(data[:13]))
            return conn.send(data)
        try:
            after = self.app.serve(req, conn.peer[0], now, write)
        except Exception as e:  # a page's error must not leave the browser waiting
            self.box.log("web: internal error on %s %s: %r" % (req.method, req.path[:64], e))
            after = None
            if not first:
                conn.send(_http.response(500, "internal error", "text/plain"))
        if req.path == "/login" and req.method == "POST" and first and b"303" in first[0]:
            self._logged_in()
        p.after = after
        conn.close_after_flush()

    def _logged_in(self):
        st = self.box.status
        if getattr(st, "web_password", None):
            st.web_password = None  # somebody has it: off the panel
            st.changed()

    def timer(self):
        t = None
        for conn, deadline in self.opened.values():
            if t is None or deadline < t:
                t = deadline
        return t

    def handle_timer(self, now):
        for key in list(self.opened):
            conn, deadline = self.opened[key]
            if deadline <= now:
                del self.opened[key]
                conn.close()

    def rebind(self, host):
        """The box's address changed (issue 14): listen on HOST, the same port."""
        port = self.listener.port
        self.listener.close()
        try:
            self.listener = self.streams.listen(host, port, self._event, framed=False)
        except OSError as e:
            self.box.log("web: cannot listen on %s:%d: %s" % (host, port, e))

    def close(self):
        self.box.loop.remove_timer_source(self)
        self.listener.close()

"""The ICE helper server and a real redis-server, started by tests on loopback and stopped by PID.

    r = Redis(tmp_path / "redis").start()
    h = Helper(tmp_path / "h1", backend="redis", redis_port=r.port).start()
    status, body, headers = h.request("PUT", "/", {})
    h.stop(); r.stop()

:class:`Helper` runs ``python tools/icehelper --config FILE`` in its own process (as an operator
does), with a plain-HTTP port and optionally HTTPS; :meth:`Helper.request` is a small
``http.client`` client that can send from another loopback address (``source``), which the
per-address limits tell apart.
"""
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading

from hostenv import ROOT, need, stop_process, text_of, wait_until

_lock = threading.Lock()
_given = set()


def tcp_port():
    """A free TCP port on 127.0.0.1, never handed out twice by this process."""
    with _lock:
        for _ in range(200):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
            s.close()
            if port not in _given:
                _given.add(port)
                return port
    raise RuntimeError("no free TCP port")


def _answers(port, host="127.0.0.1"):
    try:
        socket.create_connection((host, port), timeout=0.2).close()
        return True
    except OSError:
        return False


class Redis:
    """redis-server on 127.0.0.1, in memory only (no RDB, no AOF), in its own folder."""

    def __init__(self, folder, port=None):
        self.folder = folder
        self.port = port or tcp_port()
        self.proc = None

    def start(self):
        binary = need("redis-server", "redis-server")
        self.folder.mkdir(parents=True, exist_ok=True)
        self.log = self.folder / ("redis-%d.log" % self.port)
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                 "--appendonly", "no", "--dir", str(self.folder), "--protected-mode", "yes"],
                stdout=out, stderr=subprocess.STDOUT)
        if not wait_until(lambda: _answers(self.port), 10, self.proc):
            self.stop()
            raise RuntimeError("redis-server did not start:\n" + text_of(self.log))
        return self

    def stop(self):
        stop_process(self.proc)
        self.proc = None


class Helper:
    """``python tools/icehelper`` with a config written from the keyword arguments."""

    def __init__(self, folder, backend="memory", redis_port=None, https=False, cert=None,
                 key=None, limits=None, store=None, turn=None, server=None):
        self.folder = folder
        self.port = tcp_port()
        self.tls_port = tcp_port() if https else None
        lines = ["[server]", "http = 127.0.0.1:%d" % self.port, "log_level = debug"]
        if https:
            lines += ["https = 127.0.0.1:%d" % self.tls_port, "cert = %s" % cert, "key = %s" % key]
        lines += ["%s = %s" % kv for kv in (server or {}).items()]
        lines += ["[store]", "backend = %s" % backend]
        if redis_port:
            lines += ["redis_url = redis://127.0.0.1:%d/0" % redis_port]
        lines += ["%s = %s" % kv for kv in (store or {}).items()]
        # Tests make many requests from 127.0.0.1: limits are off unless a test sets them.
        limits = dict({"put": "0/1", "post": "0/1", "get": "0/1", "miss": "0/1"}, **(limits or {}))
        lines += ["[limits]"] + ["%s = %s" % kv for kv in limits.items()]
        if turn:
            lines += ["[turn]"] + ["%s = %s" % kv for kv in turn.items()]
        self.config_text = "\n".join(lines) + "\n"
        self.proc = None

    def start(self):
        self.folder.mkdir(parents=True, exist_ok=True)
        conf = self.folder / "icehelper.conf"
        conf.write_text(self.config_text)
        self.log = self.folder / "icehelper.log"
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen([sys.executable, str(ROOT / "tools/icehelper"),
                                          "--config", str(conf)], stdout=out,
                                         stderr=subprocess.STDOUT, cwd=str(self.folder))
        if not wait_until(lambda: _answers(self.port), 15, self.proc):
            self.stop()
            raise RuntimeError("icehelper did not start:\n" + text_of(self.log))
        return self

    def stop(self):
        return stop_process(self.proc)

    def kill(self):
        """SIGKILL: a front end that dies without warning."""
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(5)

    def logs(self):
        return text_of(self.log)

    def request(self, method, path, body=None, headers=None, source=None, raw=None, timeout=10):
        """``(status, parsed JSON or text, headers)``. BODY is sent as JSON, RAW as it is."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout,
                                          source_address=(source, 0) if source else None)
        try:
            data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
            hdrs = {"Content-Type": "application/json"}
            hdrs.update(headers or {})
            conn.request(method, path, body=data, headers=hdrs)
            resp = conn.getresponse()
            text = resp.read().decode()
            try:
                parsed = json.loads(text)
            except ValueError:
                parsed = text
            return resp.status, parsed, dict(resp.getheaders())
        finally:
            conn.close()


def https_helper(folder, **kw):
    """A Helper (KW as for Helper) also serving HTTPS as icehelper.test on 127.0.0.1, with a
    certificate from a new test CA under FOLDER, started: (helper, ca); the boxes pin ca.pem."""
    from testca import TestCA
    ca = TestCA(folder / "ca")
    key, cert = ca.issue("icehelper.test", ips=("127.0.0.1",))
    return Helper(folder / "helper", https=True, cert=cert, key=key, **kw).start(), ca


def candidate(i=0, **changes):
    """A candidate as ZSipOs writes it (icestream.pxi comp2list)."""
    cand = {"foundation": "Hc0a80a%02x" % i, "prio": 2130706431 - i, "compid": 1,
            "addr": "192.168.10.%d:%d" % (5 + i, 20012 + 2 * i), "default": i == 0, "type": 0}
    cand.update(changes)
    return cand

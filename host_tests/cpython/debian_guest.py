"""A Debian server for tests of what installs on one (tools/icehelper/install.sh and its unit): a
minimal Debian of this machine's release, made by ``debootstrap`` once and cached, booted with
``systemd-nspawn -b`` (systemd as its PID 1) in a network namespace that the test makes.

    root = rootfs(["python3", "coturn"], wheels="tools/icehelper/requirements.txt")
    with Guest(root, netns="zt123-srv", binds={ROOT: "/root/zerotap"}) as g:
        g.run(["systemctl", "is-active", "ssh"])        # a command inside (nsenter)
        g.wheels                                       # the guest's path of the wheels

- The tree: ``build/debian-rootfs/<key>/`` where KEY hashes the release, the package list and the
  requirements, so a changed list builds a new tree and an unchanged one costs nothing after the
  first run (a fresh clone pays it once). Built under a lock in a temporary folder and renamed
  into place when complete. debootstrap fetches from the Debian archive that this machine's apt
  uses; that fetch and ``pip download`` of the wheels on the host are the only traffic that
  leaves the machine.
- The guest is offline: its apt sources are emptied (every package it needs is installed by
  debootstrap's ``--include``), its Python packages come as wheels on a read-only bind mount, and
  its only network is the namespace NETNS (no link to the root namespace).
- ``--volatile=overlay``: the guest writes into a tmpfs over the cached tree, so every boot starts
  from the tree as debootstrap left it and the cache is never changed by a test.
- Stopped by the PID of systemd-nspawn (SIGTERM: an orderly poweroff of the guest), and when that
  does not end it, by SIGKILL to the guest's PID 1 (its whole PID namespace goes with it).
"""
import ctypes
import fcntl
import glob
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import threading
from pathlib import Path

from hostenv import ROOT, need, stop_process, text_of, wait_until

CACHE = ROOT / "build" / "debian-rootfs"
GUEST_WHEELS = "/srv/wheels"
GUEST_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
CLONE_NEWNET = 0x40000000


def codename():
    """This machine's Debian release (VERSION_CODENAME of /etc/os-release)."""
    m = re.search(r"^VERSION_CODENAME=\"?([a-z]+)", text_of("/etc/os-release"), re.M)
    assert m, "/etc/os-release names no VERSION_CODENAME: not a Debian machine?"
    return m.group(1)


def apt_mirror(release):
    """The Debian archive that this machine's apt takes RELEASE from (its sources, one-line or
    deb822), or None (debootstrap's default then)."""
    for path in ["/etc/apt/sources.list"] + sorted(glob.glob("/etc/apt/sources.list.d/*")):
        text = text_of(path)
        if path.endswith(".sources"):
            for block in re.split(r"\n\s*\n", text):
                fields = dict(re.findall(r"^([A-Za-z-]+):\s*(.*)$", block, re.M))
                if "deb" in fields.get("Types", "").split() and \
                        release in fields.get("Suites", "").split() and fields.get("URIs"):
                    return fields["URIs"].split()[0]
        else:
            for line in text.splitlines():
                words = re.sub(r"\[[^]]*\]", " ", line.split("#")[0]).split()
                if len(words) >= 3 and words[0] == "deb" and words[2] == release:
                    return words[1]
    return None


def rootfs(packages, wheels=None, extra_wheels=()):
    """The cached tree (a Path) with PACKAGES installed, built when missing; with WHEELS (a
    requirements file) the wheels of those requirements (and EXTRA_WHEELS) in ``<key>/wheels``."""
    debootstrap = need("debootstrap", "Debian debootstrap")
    release = codename()
    spec = {"release": release, "variant": "minbase", "packages": sorted(packages),
            "wheels": Path(wheels).read_text() if wheels else None,
            "extra_wheels": sorted(extra_wheels)}
    key = "%s-%s" % (release, hashlib.sha256(json.dumps(spec, sort_keys=True).encode())
                     .hexdigest()[:12])
    done = CACHE / key
    if (done / "complete").is_file():
        return done
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another test run building the same tree: wait for it
        if (done / "complete").is_file():
            return done
        for old in CACHE.glob("*.tmp-*"):  # a build that died half-way
            shutil.rmtree(old, ignore_errors=True)
        tmp = CACHE / ("%s.tmp-%d" % (key, os.getpid()))
        try:
            tmp.mkdir()
            args = [debootstrap, "--variant=minbase", "--include=" + ",".join(sorted(packages)),
                    release, str(tmp / "root")]
            mirror = apt_mirror(release)
            if mirror:
                args.append(mirror)
            r = subprocess.run(args, capture_output=True, text=True, timeout=900)
            assert r.returncode == 0, "debootstrap failed:\n%s\n%s" % (r.stdout[-3000:],
                                                                       r.stderr[-3000:])
            # offline: nothing to fetch, apt-get install finds what debootstrap installed
            (tmp / "root/etc/apt/sources.list").write_text(
                "# a test guest without network: debootstrap --include installed its packages\n")
            for f in glob.glob(str(tmp / "root/etc/apt/sources.list.d/*")):
                os.unlink(f)
            shutil.rmtree(tmp / "root/var/lib/apt/lists", ignore_errors=True)
            (tmp / "root/var/lib/apt/lists/partial").mkdir(parents=True)
            (tmp / "root/etc/hostname").write_text("guest\n")
            if wheels:
                # the guest's release is this machine's: the same Python minor version and glibc
                r = subprocess.run([need("pip", "pip (make setup)"), "download", "-q",
                                    "--only-binary=:all:", "-d", str(tmp / "wheels"),
                                    "-r", str(wheels)] + list(extra_wheels),
                                   capture_output=True, text=True, timeout=600)
                assert r.returncode == 0, "pip download failed:\n%s" % r.stderr[-3000:]
            (tmp / "spec.json").write_text(json.dumps(spec, indent=1))
            (tmp / "complete").write_text("")
            os.rename(tmp, done)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return done


def in_netns(name, fn, *args):
    """FN(*ARGS) run in a thread that entered the network namespace NAME (``ip netns``): the
    sockets it opens live there. Returns what FN returns, raises what it raises."""
    libc = ctypes.CDLL(None, use_errno=True)
    out = {}

    def body():
        try:
            fd = os.open("/run/netns/" + name, os.O_RDONLY)
            try:
                if libc.setns(fd, CLONE_NEWNET) != 0:
                    raise OSError(ctypes.get_errno(), "setns into %s" % name)
            finally:
                os.close(fd)
            out["value"] = fn(*args)
        except BaseException as e:  # handed to the caller
            out["error"] = e

    t = threading.Thread(target=body, daemon=True)
    t.start()
    t.join()
    if "error" in out:
        raise out["error"]
    return out.get("value")


class Guest:
    """The tree at TREE (from :func:`rootfs`) booted by systemd-nspawn in the network namespace
    NETNS, with BINDS (host path -> guest path) mounted read-only."""

    def __init__(self, tree, netns, binds=None, name=None):
        self.tree = Path(tree)
        self.netns = netns
        self.binds = dict(binds or {})
        if (self.tree / "wheels").is_dir():
            self.binds[self.tree / "wheels"] = GUEST_WHEELS
        self.name = name or "zt%d" % (os.getpid() % 10000000)
        self.proc = None
        self.pid1 = None
        self.log = self.tree.parent / ("%s.boot-%d.log" % (self.tree.name, os.getpid()))

    def start(self):
        nspawn = need("systemd-nspawn", "Debian systemd-container")
        self.nsenter = need("nsenter", "Debian util-linux")
        args = [nspawn, "-q", "-D", str(self.tree / "root"), "-M", self.name, "-b",
                "--volatile=overlay", "--register=no", "--keep-unit", "--console=read-only",
                "--network-namespace-path=/run/netns/" + self.netns]
        args += ["--bind-ro=%s:%s" % (h, g) for h, g in self.binds.items()]
        self._out = open(self.log, "w")
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=self._out,
                                     stderr=subprocess.STDOUT)

        def pid1():
            try:
                kids = Path("/proc/%d/task/%d/children" % (self.proc.pid, self.proc.pid)) \
                    .read_text().split()
            except OSError:
                return None
            self.pid1 = int(kids[0]) if kids else None
            return self.pid1

        assert wait_until(pid1, 30, self.proc), "systemd-nspawn did not start:\n" + self.logs()
        state = {}

        def booted():  # "offline" until its systemd answers, then --wait waits for the boot
            state["r"] = self.run(["systemctl", "is-system-running", "--wait"], timeout=90)
            return state["r"].stdout.strip() in ("running", "degraded")

        assert wait_until(booted, 90, self.proc, interval=0.2), \
            "the guest did not boot: %r\n%s" % (state.get("r"), self.logs())
        return self

    def run(self, cmd, timeout=120, env=None, **kw):
        """CMD inside the guest as root (all its namespaces), with a clean environment."""
        e = ["env", "-i", "PATH=" + GUEST_PATH, "LANG=C.UTF-8", "HOME=/root"]
        e += ["%s=%s" % kv for kv in (env or {}).items()]
        kw.setdefault("capture_output", True)
        kw.setdefault("text", True)
        return subprocess.run([self.nsenter, "-t", str(self.pid1), "-m", "-u", "-i", "-n", "-p",
                               "-C", "--"] + e + list(cmd), timeout=timeout, **kw)

    def read(self, path):
        r = self.run(["cat", path])
        assert r.returncode == 0, "%s: %s" % (path, r.stderr)
        return r.stdout

    def logs(self):
        return text_of(self.log)[-4000:]

    def stop(self):
        if self.proc is not None:
            # nspawn turns SIGTERM into SIGRTMIN+3 for the guest's systemd: a clean poweroff
            stop_process(self.proc, signal.SIGTERM, timeout=30)
        if self.pid1 and _alive(self.pid1, self.proc):
            os.kill(self.pid1, signal.SIGKILL)
            wait_until(lambda: not _alive(self.pid1, self.proc), 10)
        if getattr(self, "_out", None):
            self._out.close()
        self.proc = None

    def __enter__(self):
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc):
        self.stop()


def _alive(pid, parent):
    """PID still the guest's systemd (not exited, not a zombie, not a reused PID)."""
    try:
        stat = Path("/proc/%d/stat" % pid).read_text()
    except OSError:
        return False
    return stat.startswith("%d (systemd) " % pid) and stat.rsplit(")", 1)[1].split()[0] != "Z"

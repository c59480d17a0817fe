"""The helper's deploy files, checked quickly on this machine: the systemd unit through
systemd-analyze verify, compose.yaml against the Compose Specification's schema, its coturn
entrypoint through sh, install.sh through bash -n and its argument checks. They run for real in
test_icehelper_deploy_systemd.py (install.sh and the unit in a booted Debian) and
test_icehelper_deploy_compose.py (compose.yaml under podman-compose)."""
import json
import os
import shutil
import stat
import subprocess

from hostenv import ROOT, need

HERE = ROOT / "tools" / "icehelper"


def test_the_unit_verifies():
    """Every directive of icehelper.service as shipped; only the interpreter's path is this
    machine's (verify insists that ExecStart's program exists, /opt/icehelper is not installed)."""
    exe = need("systemd-analyze", "the Debian package systemd")
    text = (HERE / "icehelper.service").read_text()
    assert "ExecStart=/opt/icehelper/venv/bin/python /opt/icehelper/tools/icehelper " in text
    python = shutil.which("python3")
    unit = ROOT / "build" / "verify" / "icehelper.service"
    unit.parent.mkdir(parents=True, exist_ok=True)
    unit.write_text(text.replace("ExecStart=/opt/icehelper/venv/bin/python",
                                 "ExecStart=" + python))
    r = subprocess.run([exe, "verify", str(unit)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stderr.strip() == "", r.stderr
    for line in ("User=icehelper", "NoNewPrivileges=yes", "ProtectSystem=strict",
                 "CapabilityBoundingSet=CAP_NET_BIND_SERVICE", "Restart=on-failure"):
        assert line in text.splitlines(), line


def test_compose_file_follows_the_compose_specification():
    exe = need("check-jsonschema", "the check-jsonschema Python package")
    r = subprocess.run([exe, "--builtin-schema", "vendor.compose-spec",
                        str(HERE / "compose.yaml")], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    bad = ROOT / "build" / "verify" / "compose-bad.yaml"
    bad.parent.mkdir(parents=True, exist_ok=True)
    bad.write_text((HERE / "compose.yaml").read_text().replace("restart:", "restarts:", 1))
    r = subprocess.run([exe, "--builtin-schema", "vendor.compose-spec", str(bad)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode != 0 and "restarts" in r.stdout  # the check does look


def _compose():
    """compose.yaml as data: YAML parsed the way check-jsonschema parses it (ruamel.yaml)."""
    from ruamel.yaml import YAML
    return YAML(typ="safe").load((HERE / "compose.yaml").read_text())


def test_compose_refers_to_files_that_exist():
    c = _compose()
    mounts = c["x-helper"]["volumes"] + c["services"]["coturn"]["volumes"]
    assert mounts == ["./compose.conf:/etc/icehelper/icehelper.conf:ro",
                      "./compose-turnserver.conf:/etc/coturn/turnserver.conf:ro"]
    for m in mounts:
        assert (HERE / m.split(":")[0]).is_file(), m
    assert c["x-helper"]["build"]["dockerfile"] == "tools/icehelper/Dockerfile"
    assert (ROOT / c["x-helper"]["build"]["dockerfile"]).is_file()
    for line in (HERE / "Dockerfile").read_text().splitlines():
        if line.startswith("COPY "):
            for src in line.split()[1:-1]:
                assert list(ROOT.glob(src)), src
    conf = (HERE / "compose.conf").read_text()
    targets = {s["target"] for s in c["x-helper"]["secrets"]}
    assert {"/etc/icehelper/turn-secret", "/etc/icehelper/tls/fullchain.pem",
            "/etc/icehelper/tls/privkey.pem"} <= targets
    for path in ("/etc/icehelper/turn-secret", "/etc/icehelper/tls/fullchain.pem",
                 "/etc/icehelper/tls/privkey.pem"):
        assert path in conf, path


def test_coturn_gets_the_shared_secret_in_its_config_not_on_its_command_line(tmp_path):
    """The coturn service's entrypoint and command as the container runs them (compose turns $$
    into $; the container's paths here are files under tmp_path), with a turnserver that records
    what it was given."""
    c = _compose()["services"]["coturn"]
    secret = "0123456789abcdef" * 4
    (tmp_path / "turn_secret").write_text(secret + "\n")
    seen = tmp_path / "seen.json"
    fake = tmp_path / "bin" / "turnserver"
    fake.parent.mkdir()
    fake.write_text("#!/usr/bin/env python3\nimport json, sys, os, stat\n"
                    "conf = sys.argv[sys.argv.index('-c') + 1]\n"
                    "json.dump({'argv': sys.argv[1:], 'conf': open(conf).read(), "
                    "'mode': stat.S_IMODE(os.stat(conf).st_mode)}, open(%r, 'w'))\n" % str(seen))
    fake.chmod(0o755)
    swap = {"/run/secrets/turn_secret": str(tmp_path / "turn_secret"),
            "/etc/coturn/turnserver.conf": str(HERE / "compose-turnserver.conf"),
            "/tmp/turnserver.conf": str(tmp_path / "turnserver.conf")}

    def container(arg):
        arg = arg.replace("$$", "$")
        for a, b in swap.items():
            arg = arg.replace(a, b)
        return arg

    argv = [container(a) for a in c["entrypoint"] + list(c.get("command") or [])]
    env = dict(os.environ, PATH="%s:%s" % (fake.parent, os.environ["PATH"]))
    r = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=30)
    assert r.returncode == 0, r.stderr
    got = json.loads(seen.read_text())
    assert not any(secret in a or "SECRET" in a for a in got["argv"]), got["argv"]
    lines = got["conf"].splitlines()
    assert "static-auth-secret=" + secret in lines and "use-auth-secret" in lines
    assert got["conf"].startswith((HERE / "compose-turnserver.conf").read_text())
    assert got["mode"] & (stat.S_IRWXG | stat.S_IRWXO) == 0


def test_install_script_parses_and_refuses_bad_arguments():
    """What runs before install.sh changes anything: its checks of the arguments (on this
    machine; the whole script runs in test_icehelper_deploy_systemd.py's Debian guest)."""
    script = str(HERE / "install.sh")
    r = subprocess.run(["bash", "-n", script], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    r = subprocess.run(["bash", script, "--help"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0 and "--domain helper.example.org" in r.stdout
    r = subprocess.run(["bash", script, "--bogus"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and "install.sh: unknown option --bogus" in r.stderr
    if os.geteuid() != 0:
        r = subprocess.run(["bash", script, "--domain", "h.example"], capture_output=True,
                           text=True, timeout=30)
        assert r.returncode == 1 and "install.sh: run as root" in r.stderr
        return
    r = subprocess.run(["bash", script], capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and "--domain NAME is required" in r.stderr
    if not os.path.exists("/etc/icehelper/tls/fullchain.pem"):
        r = subprocess.run(["bash", script, "--domain", "h.example"], capture_output=True,
                           text=True, timeout=30)
        assert r.returncode == 2 and "give --cert FILE --key FILE, or --self-signed" in r.stderr

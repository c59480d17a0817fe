"""HTTPS in the helper's own process, with a test CA made here (``cryptography``), and the plain
HTTP port for ZSipOs boxes beside it."""
import datetime
import http.client
import ipaddress
import json
import ssl

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from icehelper_proc import Helper


def _name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make_ca_and_server(folder):
    """A CA and a server certificate for 127.0.0.1 signed by it: (ca.pem, cert.pem, key.pem)."""
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(_name("icehelper test CA"))
          .issuer_name(_name("icehelper test CA")).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(minutes=5))
          .not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                         critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(_name("127.0.0.1"))
            .issuer_name(ca.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(
                ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    folder.mkdir(parents=True, exist_ok=True)
    paths = folder / "ca.pem", folder / "cert.pem", folder / "key.pem"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    paths[2].chmod(0o600)
    return paths


@pytest.fixture(scope="module")
def tls_helper(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tls")
    ca, cert, key = make_ca_and_server(folder / "pki")
    h = Helper(folder / "helper", https=True, cert=cert, key=key).start()
    yield h, ca
    h.stop()


def _https(h, ctx, method, path, body=None, headers=None):
    conn = http.client.HTTPSConnection("127.0.0.1", h.tls_port, context=ctx, timeout=10)
    try:
        conn.request(method, path, body=None if body is None else json.dumps(body),
                     headers=headers or {})
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read())
    finally:
        conn.close()


def test_the_zsipos_flow_over_https_with_the_test_ca(tls_helper):
    h, ca = tls_helper
    ctx = ssl.create_default_context(cafile=str(ca))
    status, body = _https(h, ctx, "PUT", "/", {})
    assert status == 200
    assert _https(h, ctx, "POST", "/" + body["id"], {"ufrag": "tls"},
                  {"X-icestorage-token": body["token"]})[0] == 200
    assert _https(h, ctx, "GET", "/" + body["id"])[1]["ufrag"] == "tls"
    # the same store answers on the plain port (for ZSipOs boxes)
    assert h.request("GET", "/" + body["id"])[1]["ufrag"] == "tls"


def test_a_client_that_does_not_trust_the_ca_fails(tls_helper):
    h, _ = tls_helper
    with pytest.raises(ssl.SSLCertVerificationError):
        _https(h, ssl.create_default_context(), "PUT", "/", {})


def test_https_without_cert_is_refused_at_start(tmp_path):
    conf = tmp_path / "bad.conf"
    conf.write_text("[server]\nhttps = 127.0.0.1:1\n")
    import subprocess
    import sys
    from hostenv import ROOT
    r = subprocess.run([sys.executable, str(ROOT / "tools/icehelper"), "--config", str(conf)],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and "config: [server] https needs cert and key" in r.stderr

"""A test certificate authority, made fresh by each test (PyPI ``cryptography``).

    ca = TestCA(tmp_path)                                  # ca.pem (and ca.der)
    key, cert = ca.issue("sip.example.test", ["127.0.0.1"])  # server.key / server.pem paths
    ca.pem_text, ca.der                                    # for cadata / a pinned CA

Keys are P-256 (what an ESP32's mbedTLS handles fast). Certificates carry the name as CN and as
a subjectAltName (DNS, plus IP entries), are valid from an hour ago for a day, and the server
certificate has the serverAuth extended key usage.
"""
import datetime
import ipaddress
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


def _name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


class TestCA:
    __test__ = False  # not a pytest class

    def __init__(self, directory, name="ZeroTap Test CA"):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.timezone.utc)
        self.cert = (x509.CertificateBuilder().subject_name(_name(name)).issuer_name(_name(name))
                     .public_key(self.key.public_key()).serial_number(x509.random_serial_number())
                     .not_valid_before(now - datetime.timedelta(hours=1))
                     .not_valid_after(now + datetime.timedelta(days=1))
                     .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                     .add_extension(x509.KeyUsage(False, False, False, False, False, True, True,
                                                  False, False), critical=True)
                     .sign(self.key, hashes.SHA256()))
        self.pem_text = self.cert.public_bytes(serialization.Encoding.PEM).decode()
        self.der = self.cert.public_bytes(serialization.Encoding.DER)
        self.pem = self.dir / "ca.pem"
        self.pem.write_text(self.pem_text)
        (self.dir / "ca.der").write_bytes(self.der)

    def issue(self, dns_name, ips=(), stem=None):
        """(key path, certificate path) for a server named DNS_NAME (and IPS)."""
        stem = stem or dns_name.replace("*", "star")
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.timezone.utc)
        alt = [x509.DNSName(dns_name)] + [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
        cert = (x509.CertificateBuilder().subject_name(_name(dns_name))
                .issuer_name(self.cert.subject).public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(hours=1))
                .not_valid_after(now + datetime.timedelta(days=1))
                .add_extension(x509.SubjectAlternativeName(alt), critical=False)
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                               critical=False)
                .sign(self.key, hashes.SHA256()))
        kp = self.dir / (stem + ".key")
        cp = self.dir / (stem + ".pem")
        kp.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                         serialization.PrivateFormat.TraditionalOpenSSL,
                                         serialization.NoEncryption()))
        cp.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        return kp, cp

"""Every crypto backend against independent implementations on random inputs: OpenSSL through
`cryptography` (DH2k/DH3k, P-256/P-384 ECDH, X25519, AES modes, HMAC) and libsrtp through
pylibsrtp (the SRTP/SRTCP transform)."""
import hashlib
import hmac
import os
import random
import struct

import pylibsrtp
import pytest
from cryptography.hazmat.primitives.asymmetric import dh, ec, x25519
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from zerotap import crypto
from zerotap.crypto import dh as zdh

try:  # CFB moved to the "decrepit" module in newer releases
    from cryptography.hazmat.decrepit.ciphers.modes import CFB
except ImportError:  # pragma: no cover
    CFB = modes.CFB

ROUNDS = 3

# FFDH and CFB are "deprecated" in cryptography: they are exactly what ZRTP needs
pytestmark = pytest.mark.filterwarnings("ignore::cryptography.utils.CryptographyDeprecationWarning")


def _backends():
    names = crypto.backends()
    assert "python" in names
    return [(n, crypto.backend(n)) for n in names]


def test_dh_against_openssl():
    for ka, p, size in (("DH2k", zdh.P2048, 256), ("DH3k", zdh.P3072, 384)):
        pn = dh.DHParameterNumbers(p, 2)
        for name, b in _backends():
            for _ in range(ROUNDS):
                ours = b.generate(ka)
                theirs = pn.parameters().generate_private_key()
                y = theirs.public_key().public_numbers().y.to_bytes(size, "big")
                shared = b.agree(ours, y)
                peer = dh.DHPublicNumbers(int.from_bytes(ours.public, "big"), pn).public_key()
                assert shared == theirs.exchange(peer).rjust(size, b"\0"), (name, ka)


def test_ecdh_against_openssl():
    for ka, curve, size in (("EC25", ec.SECP256R1(), 32), ("EC38", ec.SECP384R1(), 48)):
        for name, b in _backends():
            for _ in range(ROUNDS):
                ours = b.generate(ka)
                theirs = ec.generate_private_key(curve)
                n = theirs.public_key().public_numbers()
                pv = n.x.to_bytes(size, "big") + n.y.to_bytes(size, "big")
                x, y = int.from_bytes(ours.public[:size], "big"), int.from_bytes(ours.public[size:], "big")
                peer = ec.EllipticCurvePublicNumbers(x, y, curve).public_key()
                assert b.agree(ours, pv) == theirs.exchange(ec.ECDH(), peer), (name, ka)


def test_x25519_against_openssl():
    for name, b in _backends():
        for _ in range(ROUNDS * 3):
            ours = b.generate("X255")
            theirs = x25519.X25519PrivateKey.generate()
            pv = theirs.public_key().public_bytes_raw()
            peer = x25519.X25519PublicKey.from_public_bytes(ours.public)
            assert b.agree(ours, pv) == theirs.exchange(peer), name
            # a secret known to OpenSSL gives the same public value here
            raw = os.urandom(32)
            want = x25519.X25519PrivateKey.from_private_bytes(raw).public_key().public_bytes_raw()
            assert b.keypair("X255", raw).public == want, name


def test_symmetric_primitives_against_openssl():
    rnd = random.Random(5)
    for name, b in _backends():
        for _ in range(10):
            key = os.urandom(rnd.choice((16, 32)))
            iv = os.urandom(16)
            data = os.urandom(rnd.randrange(0, 200))
            e = Cipher(algorithms.AES(key), modes.CTR(iv)).encryptor()
            assert b.aes_ctr(key, iv, data) == e.update(data) + e.finalize(), name
            e = Cipher(algorithms.AES(key), CFB(iv)).encryptor()
            ct = e.update(data) + e.finalize()
            assert b.aes_cfb_encrypt(key, iv, data) == ct and b.aes_cfb_decrypt(key, iv, ct) == data, name
            mkey = os.urandom(rnd.randrange(0, 200))
            for alg in ("sha1", "sha256", "sha384"):
                assert getattr(b, "hmac_" + alg)(mkey, data) == hmac.new(mkey, data, alg).digest(), (name, alg)
                assert getattr(b, alg)(data) == hashlib.new(alg, data).digest(), (name, alg)


def _kdf(master_key, master_salt, label, n):
    # RFC 3711 section 4.3.3 (key derivation rate 0): AES-CM over (salt XOR label << 48) << 16
    x = int.from_bytes(master_salt, "big") ^ (label << 48)
    e = Cipher(algorithms.AES(master_key), modes.CTR((x << 16).to_bytes(16, "big"))).encryptor()
    return e.update(bytes(n))


def test_srtp_transform_against_libsrtp():
    rnd = random.Random(7)
    for tag_len, profile in ((10, pylibsrtp.Policy.SRTP_PROFILE_AES128_CM_SHA1_80),
                             (4, pylibsrtp.Policy.SRTP_PROFILE_AES128_CM_SHA1_32)):
        master = os.urandom(30)
        mk, ms = master[:16], master[16:]
        tx = pylibsrtp.Session(pylibsrtp.Policy(key=master, ssrc_type=pylibsrtp.Policy.SSRC_ANY_OUTBOUND,
                                                srtp_profile=profile))
        ssrc = rnd.getrandbits(32)
        seq0 = rnd.randrange(0, 1 << 16)
        packets = []
        for i in range(40):
            seq = (seq0 + i) & 0xFFFF
            roc = 1 if seq < seq0 else 0
            plain = struct.pack(">BBHII", 0x80, 0, seq, i * 160, ssrc) + os.urandom(rnd.randrange(1, 300))
            packets.append((plain, tx.protect(plain), (roc << 16) | seq, roc))
        for name, b in _backends():
            t = b.SrtpTransform(_kdf(mk, ms, 0, 16), _kdf(mk, ms, 2, 14), _kdf(mk, ms, 1, 20), tag_len)
            for plain, want, index, roc in packets:
                buf = bytearray(plain) + bytearray(tag_len)
                n = t.protect(buf, 12, len(plain), len(plain), ssrc, index, roc)
                assert bytes(buf[:n]) == want, (name, tag_len)
                assert t.unprotect(buf, 12, len(plain), len(plain), ssrc, index, roc)
                assert bytes(buf[:len(plain)]) == plain

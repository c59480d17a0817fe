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



def test_dh_edge_exponents_against_python_pow():
    # The native DH multiplies by the generator's powers with shifts (a window of 0xF shifts the
    # most and folds the most bits back): every backend against Python's own pow()
    for ka, p in (("DH2k", zdh.P2048), ("DH3k", zdh.P3072)):
        size = len(zdh.GROUPS[ka][0].to_bytes(512, "big").lstrip(b"\0"))
        exps = [2, 3, 15, 16, 17, 255, (1 << 256) - 1, 1 << 255, int("f0" * 32, 16), int("0f" * 32, 16),
                int("8" + "0" * 63, 16) + 0xF, int("7" + "f" * 63, 16)]
        for name, b in _backends():
            for e in exps[:4] if name == "python" else exps:
                assert b.keypair(ka, e.to_bytes(32, "big")).public == pow(2, e, p).to_bytes(size, "big"), (name, ka, e)



P256_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def _p256_edge_scalars():
    """Scalars at the edges of the native P-256's signed 5-bit windows and of the group order:
    small ones, n - small, digits of 16 (the largest positive) and 17 (a borrow) in every window,
    alternating patterns, single bits at window borders."""
    ks = [1, 2, 3, 15, 16, 17, 31, 32, 33, 0x3FF, 0x400, P256_N - 1, P256_N - 2, P256_N - 16, P256_N - 17,
          (P256_N - 1) // 2, (P256_N + 1) // 2, 1 << 255, (1 << 255) - 1, (1 << 250) + 1, (1 << 128) - 1]
    for digit in (16, 17, 15, 31):
        ks.append(sum(digit << (5 * w) for w in range(51)) % P256_N)
    for pattern in ("a5", "5a", "ff00", "8421", "0f", "f0"):
        ks.append(int((pattern * 64)[:64], 16) % P256_N)
    for w in range(0, 256, 5):
        ks.append(1 << w)
        ks.append((1 << w) + (1 << (w + 4 if w + 4 < 256 else w)))
    return [k for k in ks if 0 < k < P256_N]


def test_p256_edge_scalars_against_openssl():
    # key generation (the fixed-base table) and the shared secret (the variable-base windows) of
    # every backend for scalars that stress the recoding, with peers G, -G, 2G and a random point
    curve = ec.SECP256R1()
    g = ec.derive_private_key(1, curve).public_key().public_numbers()
    g2 = ec.derive_private_key(2, curve).public_key().public_numbers()
    r = ec.generate_private_key(curve).public_key().public_numbers()
    p = 0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF
    peers = [(g.x, g.y), (g.x, p - g.y), (g2.x, g2.y), (r.x, r.y)]
    for name, b in _backends():
        scalars = _p256_edge_scalars() if name != "python" else _p256_edge_scalars()[:12]
        for k in scalars:
            theirs = ec.derive_private_key(k, curve)
            n = theirs.public_key().public_numbers()
            ours = b.keypair("EC25", k.to_bytes(32, "big"))
            assert ours.public == n.x.to_bytes(32, "big") + n.y.to_bytes(32, "big"), (name, hex(k))
            for x, y in peers:
                pv = x.to_bytes(32, "big") + y.to_bytes(32, "big")
                peer = ec.EllipticCurvePublicNumbers(x, y, curve).public_key()
                assert b.agree(ours, pv) == theirs.exchange(ec.ECDH(), peer), (name, hex(k), hex(x))


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

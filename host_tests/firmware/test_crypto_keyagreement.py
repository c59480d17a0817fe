"""Key agreement on every backend: RFC 7748 (X25519), RFC 5903 (P-256, P-384), RFC 3526 DH
vectors computed by OpenSSL, bad public values, resumable jobs and the key pool."""
from vectors import load, unhex
from support import each_backend, raises

X = load("crypto_x25519.json")
EC = load("crypto_ecdh.json")
DH = load("crypto_dh.json")


def test_public_lengths():
    for name, b in each_backend():
        for ka, n in (("DH2k", 256), ("DH3k", 384), ("EC25", 64), ("EC38", 96), ("X255", 32)):
            assert b.public_length(ka) == n
        raises(lambda: b.public_length("E255"), "unknown key agreement 'E255' (known: DH2k, DH3k, EC25, EC38, X255)")


def test_x25519_rfc7748_function_vectors():
    for name, b in each_backend():
        for v in X["function"]:
            kp = b.KeyPair("X255", unhex(v["scalar"]), None)
            assert b.agree(kp, unhex(v["u"])) == unhex(v["out"]), name


def test_x25519_rfc7748_iterated():
    # 1 iteration on every backend; the 1,000-iteration vector once per implementation of the
    # ladder (the pure backends share x25519.py; it takes ~8 s on the MicroPython unix port)
    done = []
    for name, b in each_backend():
        it = X["iterated"]
        k = u = unhex(it["start"])
        k, u = b.agree(b.KeyPair("X255", k, None), u), k
        assert k == unhex(it["after_1"]), name
        if b.KA_IMPL in done:
            continue
        done.append(b.KA_IMPL)
        for _ in range(999):
            k, u = b.agree(b.KeyPair("X255", k, None), u), k
        assert k == unhex(it["after_1000"]), name


def test_x25519_rfc7748_diffie_hellman():
    for name, b in each_backend():
        d = X["dh"]
        alice = b.keypair("X255", unhex(d["alice_private"]))
        bob = b.keypair("X255", unhex(d["bob_private"]))
        assert alice.public == unhex(d["alice_public"]) and bob.public == unhex(d["bob_public"]), name
        assert b.agree(alice, bob.public) == unhex(d["shared"]) == b.agree(bob, alice.public), name


def test_x25519_all_zero_result_rejected():
    for name, b in each_backend():
        kp = b.generate("X255")
        for u in X["small_order"]["u"]:
            raises(lambda: b.agree(kp, unhex(u)), "X255 shared secret is all zero")


def test_ecdh_rfc5903():
    for name, b in each_backend():
        for ka in ("EC25", "EC38"):
            v = EC[ka]
            i = b.keypair(ka, unhex(v["i"]))
            r = b.keypair(ka, unhex(v["r"]))
            assert i.public == unhex(v["gix"] + v["giy"]), (name, ka)
            assert r.public == unhex(v["grx"] + v["gry"]), (name, ka)
            # DHResult is the x-coordinate only (RFC 6189 section 4.4.1.4, RFC 5903 section 9)
            assert b.agree(i, r.public) == unhex(v["girx"]) == b.agree(r, i.public), (name, ka)


def test_ecdh_point_off_curve_rejected():
    for name, b in each_backend():
        for ka, curve in (("EC25", "P-256"), ("EC38", "P-384")):
            v = EC[ka]
            i = b.keypair(ka, unhex(v["i"]))
            good = bytearray(unhex(v["grx"] + v["gry"]))
            bad = bytearray(good)
            bad[-1] ^= 1
            raises(lambda: b.agree(i, bad), "%s public value is not a point on %s" % (ka, curve))
            n = len(good) // 2
            big_x = b"\xff" * n + bytes(good[n:])  # x >= p
            raises(lambda: b.agree(i, big_x), "%s public value is not a point on %s" % (ka, curve))
            raises(lambda: b.agree(i, bytes(2 * n)), "%s public value is not a point on %s" % (ka, curve))
            raises(lambda: b.agree(i, good[:-1]), "%s public value must be %d bytes, got %d" % (ka, 2 * n, 2 * n - 1))


def test_dh_vectors_computed_by_openssl():
    for name, b in each_backend():
        for ka in ("DH2k", "DH3k"):
            for v in DH[ka]:
                kp = b.keypair(ka, unhex(v["secret"]))
                assert kp.public == unhex(v["public"]), (name, ka)
                assert b.agree(kp, unhex(v["peer_public"])) == unhex(v["shared"]), (name, ka)


def test_dh_public_value_range_rfc6189_4_4_1_1():
    from zerotap.crypto import dh
    for name, b in each_backend():
        for ka, p, size in (("DH2k", dh.P2048, 256), ("DH3k", dh.P3072, 384)):
            kp = b.keypair(ka, unhex(DH[ka][0]["secret"]))
            for y in (1, p - 1):
                raises(lambda: b.agree(kp, y.to_bytes(size, "big")), "%s public value must not be 1 or p-1" % ka)
            for y in (0, p, p + 1, (1 << (8 * size)) - 1):
                raises(lambda: b.agree(kp, y.to_bytes(size, "big")), "%s public value must be in [2, p-2]" % ka)
            raises(lambda: b.agree(kp, bytes(size - 1)),
                    "%s public value must be %d bytes, got %d" % (ka, size, size - 1))
            # the edges of the range are accepted
            assert len(b.agree(kp, (2).to_bytes(size, "big"))) == size
            assert len(b.agree(kp, (p - 2).to_bytes(size, "big"))) == size


def test_generated_pairs_agree_across_backends():
    pairs = list(each_backend())  # this test compares them all at once: it keeps them all
    for ka in ("X255", "EC25", "DH2k"):
        keys = [(name, b, b.generate(ka)) for name, b in pairs]
        for name, b, kp in keys:
            assert len(kp.public) == b.public_length(ka) and kp.ka == ka
        a = keys[0][2]
        for name, b, kp in keys[1:] + keys[:1]:
            assert b.agree(kp, a.public) == keys[0][1].agree(a, kp.public), (name, ka)
        # the same secret gives the same public value on every backend
        pubs = [b.keypair(ka, a.secret).public for name, b in pairs]
        for pub in pubs:
            assert pub == a.public, ka


def test_jobs_step_and_match_one_shot():
    for name, b in each_backend():
        for ka in ("X255", "EC25", "DH2k"):
            job = b.KeyGeneration(ka)
            steps = 1
            while not job.step():
                steps += 1
                assert steps < 5000
            kp = job.result
            assert kp.ka == ka and len(kp.public) == b.public_length(ka)
            if b.KA_IMPL == "pure":
                assert steps > 10, (name, ka, steps)  # really resumable on the slow path
            peer = b.generate(ka)
            ag = b.Agreement(kp, peer.public)
            while not ag.step():
                pass
            assert ag.step() is True  # stays finished
            assert ag.result == b.agree(peer, kp.public), (name, ka)


def test_job_step_raises_the_agree_errors():
    for name, b in each_backend():
        kp = b.generate("X255")
        job = b.Agreement(kp, bytes(32))
        raises(lambda: [job.step() for _ in range(100)], "X255 shared secret is all zero")
        kp = b.keypair("DH2k", unhex(DH["DH2k"][0]["secret"]))
        job = b.Agreement(kp, (1).to_bytes(256, "big"))
        raises(job.step, "DH2k public value must not be 1 or p-1")


def test_key_pool_fills_while_idle_and_hands_out_ready_pairs():
    for name, b in each_backend():
        pool = b.KeyPool(["X255", "EC25"], size=2)
        steps = 0
        while pool.step():
            steps += 1
            assert steps < 20000
        assert pool.step() is False  # nothing pending
        a = pool.take("X255")
        c = pool.take("X255")
        assert a.public != c.public and a.ka == "X255"
        assert pool.step() is True  # refilling
        d = pool.take("X255")  # finishes the pair in progress, or makes one now
        assert d.ka == "X255" and d.public not in (a.public, c.public)
        e = pool.take("DH2k")  # not pooled: made now
        assert e.ka == "DH2k" and len(e.public) == 256
        raises(lambda: b.KeyPool(["X448"]), "unknown key agreement 'X448' (known: DH2k, DH3k, EC25, EC38, X255)")
        raises(lambda: b.KeyPool(["X255"], 0), "KeyPool size must be at least 1, got 0")


def test_wrong_secret_length():
    for name, b in each_backend():
        raises(lambda: b.keypair("EC38", bytes(32)), "EC38 secret must be 48 bytes, got 32")

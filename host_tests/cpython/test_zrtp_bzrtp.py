"""Our ZRTP engine against Debian's libbzrtp (bzrtp 5.1.64, Linphone's ZRTP) in-process, on a
simulated clock: both roles and Commit contention, every key agreement bzrtp has, every cipher,
auth tag, hash and SAS type, SRTP keys equal to those bzrtp hands its SRTP callback, the cache,
multistream, the Hello hash, and 200+ seeded runs with loss, duplication and reordering."""
import os
import random
import sqlite3

import pytest

import bzrtp
from zerotap.storage import Storage
from zerotap.zrtp import algorithms, cache as zcache, engine as E, packets, sas

OURS, THEIRS = 0x5A5A0001, 0xB2B20002


@pytest.fixture(autouse=True)
def _library():
    bzrtp.need()


def _engine(offer=None, initiate=True, cache=None, ssrc=OURS):
    return E.Engine(ssrc, cache=cache, config=E.Config(offer=offer, initiate=initiate))


def _check(duel):
    """Both secure, equal SAS, and our SRTP keys equal to the ones bzrtp gave its callback."""
    ours, bz = duel.ours, duel.theirs
    assert ours.state == E.SECURE, (ours.state, duel.events, [hex(r) for r in bz.results])
    assert bz.secure, [hex(r) for r in bz.results]
    sec = duel.of(E.Secure)
    assert len(sec) == 1
    s = sec[0]
    bs = bz.secrets
    assert s.local_key == bs["peer_key"] and s.local_salt == bs["peer_salt"]
    assert s.remote_key == bs["self_key"] and s.remote_salt == bs["self_salt"]
    # and to the separate sender/receiver hand-outs (srtpSecretsAvailable)
    assert bz.receiver_secrets["peer_key"] == s.local_key and bz.sender_secrets["self_key"] == s.remote_key
    if not s.multistream:
        assert s.sas == bs["sas"] == bz.sas
    assert (s.hash, s.cipher, s.auth, s.ka if s.ka != "E255" else "X255") == (bs["hash"], bs["cipher"], bs["auth"],
                                                                              bs["ka"])
    assert s.sas_type == bs["sas_type"]
    assert s.profile == algorithms.profile(algorithms.wire(s.cipher), algorithms.wire(s.auth))
    return s


def test_both_roles_and_commit_contention():
    roles, contention = set(), 0
    for seed in range(16):
        initiate = seed % 4 != 0
        ctx = bzrtp.BzrtpContext(THEIRS)
        try:
            ours = _engine(initiate=initiate)
            d = bzrtp.Duel(ours, ctx.main, seed=seed, start_theirs=(seed % 3) * 20, jitter=seed % 4).run()
            s = _check(d)
            roles.add(s.role)
            if not initiate:
                assert s.role == E.RESPONDER
            ours_commits = [p for p in d.sent["ours"] if p[16:24] == b"Commit  "]
            their_commits = [p for p in d.sent["bz"] if p[16:24] == b"Commit  "]
            if ours_commits and their_commits:
                contention += 1
        finally:
            ctx.close()
    assert roles == {E.INITIATOR, E.RESPONDER}
    assert contention >= 2  # both sent a Commit and hvi decided (section 4.2)


BZRTP_MATRIX = (
    # ka, hash, cipher, auth, sas
    ("DH3k", "S256", "AES1", "HS80", "B32"),
    ("DH3k", "S384", "AES3", "HS32", "B256"),
    ("DH2k", "S256", "AES3", "HS80", "B32"),
    ("DH2k", "S384", "AES1", "HS32", "B256"),
    ("X255", "S256", "AES1", "HS32", "B256"),
    ("X255", "S384", "AES3", "HS80", "B32"),
)


def test_every_algorithm_bzrtp_has_in_both_roles():
    for i, (ka, h, c, t, s) in enumerate(BZRTP_MATRIX):
        for initiate in (True, False):
            ctx = bzrtp.BzrtpContext(THEIRS, hashes=[h], ciphers=[c], auth_tags=[t], key_agreements=[ka], sas_types=[s])
            try:
                offer = algorithms.Offer(hashes=[h], ciphers=[c], auth_tags=[t], key_agreements=[ka], sas_types=[s])
                ours = _engine(offer, initiate=initiate)
                d = bzrtp.Duel(ours, ctx.main, seed=i, start_theirs=0 if initiate else 30).run()
                sec = _check(d)
                assert (sec.ka, sec.hash, sec.cipher, sec.auth, sec.sas_type) == (ka, h, c, t, s)
                if not initiate:
                    assert sec.role == E.RESPONDER
            finally:
                ctx.close()


def test_gnu_zrtp_name_for_curve25519_meets_bzrtp_name():
    # we offer X255 and E255; bzrtp knows X255 only, GNU ZRTP E255 only
    ctx = bzrtp.BzrtpContext(THEIRS)
    try:
        d = bzrtp.Duel(_engine(algorithms.Offer(key_agreements=["E255", "X255"])), ctx.main, seed=3).run()
        assert _check(d).ka == "X255"
    finally:
        ctx.close()


def test_linphone_default_offer():
    # Linphone's default ZRTP offer: S256; AES1, AES3; HS80, HS32; DH3k, Mult; B32
    for initiate in (True, False):
        ctx = bzrtp.BzrtpContext(THEIRS, hashes=["S256"], ciphers=["AES1", "AES3"], auth_tags=["HS80", "HS32"],
                                 key_agreements=["DH3k"], sas_types=["B32"])
        try:
            assert ctx.supported(bzrtp.KEYAGREEMENT_TYPE) == ["DH3k", "Mult"]
            d = bzrtp.Duel(_engine(initiate=initiate), ctx.main, seed=7).run()
            s = _check(d)
            assert (s.ka, s.hash, s.cipher, s.sas_type) == ("DH3k", "S256", "AES1", "B32")
        finally:
            ctx.close()


def test_seeded_lossy_runs():
    """216 runs: 0, 10 and 30 % loss, 10 % duplication, up to 40 ms of reordering jitter, random
    roles, start offsets and key agreements. Every run ends SECURE with equal SAS and keys, or in
    a clean failure we report; none hangs; none is SECURE with other keys."""
    outcomes = {}
    for seed in range(216):
        rnd = random.Random(seed)
        loss = (0.0, 0.1, 0.3)[seed % 3]
        ka = rnd.choice(("X255", "X255", "DH3k", "DH2k"))
        initiate = rnd.random() < 0.7
        ctx = bzrtp.BzrtpContext(THEIRS, key_agreements=[ka])
        try:
            ours = _engine(algorithms.Offer(key_agreements=[ka]), initiate=initiate)
            d = bzrtp.Duel(ours, ctx.main, seed=seed, loss=loss, dup=0.1, jitter=40,
                           start_ours=rnd.randrange(300), start_theirs=rnd.randrange(300)).run()
            bz = ctx.main
            assert ours.state in (E.SECURE, E.FAILED), (seed, ours.state)  # never hangs
            if ours.state == E.SECURE:
                s = d.of(E.Secure)[0]
                got = bz.secrets or bz.receiver_secrets
                assert got is not None, seed  # bzrtp derived keys, and they are ours
                assert s.local_key == got["peer_key"] and s.remote_key == got["self_key"], seed
                if bz.secure:
                    _check(d)
                    key = "secure"
                else:
                    key = "ours secure, bzrtp still confirming"
            else:
                errors = d.of(E.Error)
                assert errors and errors[-1].fatal, (seed, d.events)
                key = "failed: 0x%x" % (errors[-1].code or 0)
            outcomes[(loss, key)] = outcomes.get((loss, key), 0) + 1
        finally:
            ctx.close()
    print(sorted(outcomes.items()))
    secure_at = lambda l: outcomes.get((l, "secure"), 0)
    assert secure_at(0.0) == 72  # no loss: every run completes
    assert secure_at(0.1) >= 68
    assert secure_at(0.3) >= 55


def _sqlite_cache(path):
    return bzrtp.BzrtpContext(THEIRS, cache_path=str(path))


def test_cache_with_bzrtp(tmp_path):
    ours_store = Storage(str(tmp_path / "ours"))
    bz_file = tmp_path / "bzrtp.sqlite"

    def exchange(seed, verify=False):
        cache = zcache.Cache(ours_store)
        ctx = _sqlite_cache(bz_file)
        try:
            ours = _engine(cache=cache)
            s = _check(bzrtp.Duel(ours, ctx.main, seed=seed).run())
            if verify:  # both users read the SAS aloud and mark it
                ours.set_verified(True)
                ctx.sas_verified()
            ours.end()  # the call ends: our cache is written
            return s, ours, ctx.main
        finally:
            ctx.close()

    s, ours, bz = exchange(1, verify=True)
    assert s.cache == "new" and not s.verified and not bz.cache_mismatch and not bz.verified
    # the second exchange uses rs1 and both remember the verified SAS (the V flags)
    s, ours, bz = exchange(2)
    assert s.cache == "match" and s.verified and bz.verified and not bz.cache_mismatch
    s, ours, bz = exchange(3)
    assert s.cache == "match" and s.verified and bz.verified
    # bzrtp's secrets change behind our back: a mismatch, and our verified flag is cleared
    db = sqlite3.connect(str(bz_file))
    db.execute("UPDATE zrtp SET rs1 = ?, rs2 = NULL", (os.urandom(32),))
    db.commit()
    db.close()
    s, ours, bz = exchange(4)
    assert s.cache == "mismatch" and not s.verified and bz.cache_mismatch and not bz.verified
    assert not zcache.Cache(ours_store).verified(ours.peer_zid)
    # our side loses its secrets (same ZID): bzrtp sees a cache mismatch, we see a new peer
    cache = zcache.Cache(ours_store)
    cache.forget(ours.peer_zid)
    cache.save()
    s, ours, bz = exchange(5)
    assert s.cache == "new" and not s.verified and bz.cache_mismatch


def test_crossed_retained_secrets_with_bzrtp(tmp_path):
    """Our rs1 is bzrtp's rs2 and the other way round (two calls with the same peer ended in
    opposite orders on the two sides): bzrtp takes the initiator's rs1 first; so must we, in
    either role. As responder we took our own rs1, and the exchange failed on the Confirm MAC."""
    ours_store = Storage(str(tmp_path / "ours"))
    bz_file = tmp_path / "bzrtp.sqlite"
    older, newer = os.urandom(32), os.urandom(32)
    peer = None
    for initiate in (None, False, True):
        cache = zcache.Cache(ours_store)
        if peer is not None:
            cache.forget(peer)
            cache.store(peer, older)
            cache.store(peer, newer)  # ours: rs1 newer, rs2 older
            db = sqlite3.connect(str(bz_file))
            db.execute("UPDATE zrtp SET rs1 = ?, rs2 = ?", (older, newer))  # bzrtp's: crossed
            db.commit()
            db.close()
        ctx = _sqlite_cache(bz_file)
        try:
            ours = _engine(cache=cache, initiate=initiate is not False)
            s = _check(bzrtp.Duel(ours, ctx.main, seed=7).run())
            if initiate is False:
                assert s.role == E.RESPONDER
            if peer is not None:
                assert s.cache == "match" and not ctx.main.cache_mismatch, initiate
            peer = ours.peer_zid
            ours.end()
        finally:
            ctx.close()


def test_multistream_with_bzrtp():
    ctx = bzrtp.BzrtpContext(THEIRS)
    try:
        ours = _engine(algorithms.Offer(multistream=True))
        first = _check(bzrtp.Duel(ours, ctx.main, seed=1).run())
        ch2 = ctx.add_channel(THEIRS + 1)
        ours2 = ours.new_stream(OURS + 1)
        d = bzrtp.Duel(ours2, ch2, seed=2).run()
        s = _check(d)
        assert s.multistream and s.ka == "Mult" and s.sas == first.sas
        assert s.local_key not in (first.local_key, first.remote_key)
        assert not [p for p in d.sent["ours"] + d.sent["bz"] if p[16:23] == b"DHPart1"]
    finally:
        ctx.close()


def test_hello_hash_with_bzrtp():
    ctx = bzrtp.BzrtpContext(THEIRS)
    try:
        ours = _engine()
        assert ctx.main.set_peer_hello_hash(ours.hello_hash()) == 0
        ours.set_peer_hello_hash(ctx.main.hello_hash())
        d = bzrtp.Duel(ours, ctx.main, seed=1).run()
        _check(d)
        assert bzrtp.ERROR_HELLOHASH_MISMATCH not in ctx.main.results
    finally:
        ctx.close()
    # bzrtp given a wrong hash for our Hello refuses it: our hash is what bzrtp computes
    ctx = bzrtp.BzrtpContext(THEIRS)
    try:
        ours = _engine()
        other = _engine(ssrc=7)
        ctx.main.set_peer_hello_hash(other.hello_hash())
        d = bzrtp.Duel(ours, ctx.main, seed=1).run(limit_ms=3000)
        assert bzrtp.ERROR_HELLOHASH_MISMATCH in ctx.main.results and not ctx.main.secure
    finally:
        ctx.close()


def test_sas_renderings_match_bzrtp_for_every_b256_pair_and_many_b32():
    for hi in range(256):
        for lo in range(256):
            v = (hi << 24) | (lo << 16) | 0x1234
            assert sas.base256(v) == bzrtp.base256(v)
    rnd = random.Random(5)
    for _ in range(20000):
        v = rnd.getrandbits(32)
        assert sas.base32(v) == bzrtp.base32(v)


def test_crc_matches_bzrtp():
    rnd = random.Random(9)
    for n in range(1, 400, 7):
        data = bytes(rnd.getrandbits(8) for _ in range(n))
        assert packets.crc32c(data).to_bytes(4, "little") == bzrtp.crc32(data).to_bytes(4, "big")


def test_bzrtp_packets_round_trip_through_our_parser():
    ctx = bzrtp.BzrtpContext(THEIRS)
    try:
        d = bzrtp.Duel(_engine(), ctx.main, seed=4).run()
        _check(d)
        assert d.sent["bz"]
        for p in d.sent["bz"] + d.sent["ours"]:
            seq, ssrc, msg = packets.parse_packet(p)
            assert packets.frame(seq, ssrc, msg.encode()) == p
    finally:
        ctx.close()


def test_a_box_configured_without_a_mandatory_algorithm_takes_bzrtps_commit_for_it():
    # RFC 6189 section 5.2: a Hello's algorithm count of zero "means that only the mandatory-to-
    # implement algorithms are supported", and mandatory algorithms "MAY be included" in a list:
    # our Hello offers them even when the configuration leaves them out. bzrtp (like Linphone)
    # adds them to every Hello it reads, and its Commit picks its own first choice: HS80 against a
    # box set to "auth": ["HS32"], AES1 against "cipher": ["AES3"]. The box answers; the call is
    # secure with what bzrtp chose, in both roles.
    for offer, field, expected in ((algorithms.Offer(auth_tags=["HS32"]), "auth", "HS80"),
                                   (algorithms.Offer(ciphers=["AES3"]), "cipher", "AES1")):
        for seed, initiate in ((1, False), (2, True)):
            ctx = bzrtp.BzrtpContext(THEIRS, ciphers=["AES1", "AES3"], auth_tags=["HS80", "HS32"])
            try:
                ours = _engine(offer, initiate=initiate)
                d = bzrtp.Duel(ours, ctx.main, seed=seed, start_theirs=0 if initiate else 30).run()
                assert not d.of(E.Error), (field, initiate, d.events)
                s = _check(d)
                if not initiate:
                    assert s.role == E.RESPONDER
                    assert getattr(s, field) == expected, (field, s.__dict__)
            finally:
                ctx.close()

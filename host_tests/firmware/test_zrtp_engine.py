"""The ZRTP engine against itself on a simulated clock: both roles and Commit contention, every
algorithm, loss/duplication/reordering, the retained-secret cache, and multistream.

The interop with a real peer (bzrtp) is in host_tests/cpython/test_zrtp_bzrtp.py; these run under
both interpreters."""
import gc
import sys

from support import Xorshift32, fresh_storage
from zerotap import crypto
from zerotap.zrtp import algorithms, cache as zcache, engine as E

MICROPYTHON = sys.implementation.name == "micropython"


TERMINAL = (E.SECURE, E.FAILED, E.CLEAR)


class Sim:
    """Two engines joined by a simulated network with loss, duplication and reordering."""

    def __init__(self, a, b, seed=1, loss=0.0, dup=0.0, jitter=0, start_b=0):
        self.a, self.b = a, b
        self.rng = Xorshift32(seed * 2654435761 + 1)  # seeds 0, 1, 2... spread out
        self.loss, self.dup, self.jitter, self.start_b = loss, dup, jitter, start_b
        self.flight = []  # [arrival, order, destination, packet]
        self.order = 0
        self.events = {id(a): [], id(b): []}
        self.now = 0
        self.sent = {id(a): [], id(b): []}  # (time, packet)
        self.b_started = False

    def _post(self, src, dst):
        for p in src.datagrams_to_send():
            self.sent[id(src)].append((self.now, p))
            copies = 2 if self.rng.chance(self.dup) else 1
            for _ in range(copies):
                if self.rng.chance(self.loss):
                    continue
                self.order += 1
                self.flight.append([self.now + 1 + self.rng.below(self.jitter), self.order, dst, p])

    def run(self, limit_ms=130000):
        a, b = self.a, self.b
        a.start(0)
        while self.now <= limit_ms:
            if not self.b_started and self.now >= self.start_b:
                b.start(self.now)
                self.b_started = True
            for x in (a, b):
                t = x.timer()
                n = 0
                while t is not None and t <= self.now and n < 100000:
                    x.handle_timer(self.now)
                    n += 1
                    t = x.timer()
                    if t == self.now and not x.busy:
                        break
            self._post(a, b)
            self._post(b, a)
            self.flight.sort()
            while self.flight and self.flight[0][0] <= self.now:
                _, _, dst, p = self.flight.pop(0)
                if dst is b and not self.b_started:
                    continue
                dst.receive(p, self.now)
                self._post(a, b)
                self._post(b, a)
                self.flight.sort()
            for x in (a, b):
                while True:
                    ev = x.next_event()
                    if ev is None:
                        break
                    self.events[id(x)].append(ev)
            if a.state in TERMINAL and b.state in TERMINAL and not self.flight and a.timer() is None \
                    and b.timer() is None:
                break
            nxt = [f[0] for f in self.flight[:1]]
            for x in (a, b):
                t = x.timer()
                if t is not None:
                    nxt.append(t)
            if not self.b_started:
                nxt.append(self.start_b)
            if not nxt:
                break
            self.now = max(self.now + 1, min(nxt))
        return self

    def of(self, x, cls):
        return [e for e in self.events[id(x)] if isinstance(e, cls)]


def _engines(offer_a=None, offer_b=None, cache_a=None, cache_b=None, **kw):
    cfg_a = E.Config(offer=offer_a, initiate=kw.get("initiate_a", True))
    cfg_b = E.Config(offer=offer_b, initiate=kw.get("initiate_b", True))
    return (E.Engine(0x0A0A0A0A, cache=cache_a, config=cfg_a, ka_backend=kw.get("backend")),
            E.Engine(0x0B0B0B0B, cache=cache_b, config=cfg_b, ka_backend=kw.get("backend")))


def _check_secure_pair(sim, multistream=False):
    a, b = sim.a, sim.b
    assert a.state == E.SECURE and b.state == E.SECURE, (a.state, b.state, sim.events)
    sa, sb = sim.of(a, E.Secure), sim.of(b, E.Secure)
    assert len(sa) == 1 and len(sb) == 1
    sa, sb = sa[0], sb[0]
    assert {sa.role, sb.role} == {E.INITIATOR, E.RESPONDER}
    assert sa.local_key == sb.remote_key and sa.remote_key == sb.local_key
    assert sa.local_salt == sb.remote_salt and sa.remote_salt == sb.local_salt
    assert sa.local_key != sa.remote_key and len(sa.local_salt) == 14
    assert sa.sas == sb.sas and sa.sas is not None and sa.sas_type == sb.sas_type
    assert sa.profile == sb.profile
    assert (sa.hash, sa.cipher, sa.auth, sa.ka) == (sb.hash, sb.cipher, sb.auth, sb.ka)
    assert sa.peer_zid == E._hex(b.zid) and sb.peer_zid == E._hex(a.zid)
    assert sa.multistream == multistream and sb.multistream == multistream
    if not multistream:
        assert len(sim.of(a, E.Sas)) == 1 and len(sim.of(b, E.Sas)) == 1
        assert sim.of(a, E.Sas)[0].sas == sa.sas
    assert not sim.of(a, E.Error) and not sim.of(b, E.Error)
    return sa, sb


def test_both_roles_and_commit_contention():
    roles = set()
    for seed, ia, ib in ((1, True, False), (2, False, True), (3, True, True), (4, True, True), (5, True, True)):
        a, b = _engines(initiate_a=ia, initiate_b=ib)
        sim = Sim(a, b, seed=seed).run()
        sa, sb = _check_secure_pair(sim)
        if not ia:
            assert sa.role == E.RESPONDER
        if not ib:
            assert sb.role == E.RESPONDER
        roles.add(sa.role)
        assert sa.ka == "X255" and sa.cipher == "AES1" and sa.auth == "HS80" and sa.hash == "S256"
        assert sa.profile == "AES_CM_128_HMAC_SHA1_80" and sa.sas_type == "B32" and len(sa.sas) == 4
        assert sa.cache == "new" and sa.verified is False
        names = [type(e).__name__ for e in sim.events[id(a)]]
        assert names == ["Sas", "Secure"], names
    assert roles == {E.INITIATOR, E.RESPONDER}


def test_contention_when_both_commit_at_once():
    # Both start together with no delay: both send Commit; the lower hvi becomes responder (section 4.2).
    for seed in range(3):
        a, b = _engines()
        sim = Sim(a, b, seed=seed, jitter=0).run()
        _check_secure_pair(sim)
        commits = [p for x in (a, b) for _, p in sim.sent[id(x)] if p[16:24] == b"Commit  "]
        assert len(commits) >= 2  # both committed; one Commit was discarded


MATRIX = (
    # key agreement, hash, cipher, auth tag, SAS
    ("X255", "S256", "AES1", "HS80", "B32"),
    ("E255", "S384", "AES3", "HS32", "B256"),
    ("EC25", "S256", "AES3", "HS80", "B256"),
    ("EC38", "S384", "AES3", "HS32", "B32"),
    ("DH2k", "S384", "AES1", "HS32", "B32"),
    ("DH3k", "S256", "AES1", "HS80", "B32"),
    ("DH3k", "S384", "AES3", "HS32", "B256"),
)

PROFILE = {("AES1", "HS80"): "AES_CM_128_HMAC_SHA1_80", ("AES1", "HS32"): "AES_CM_128_HMAC_SHA1_32",
           ("AES3", "HS80"): "AES_256_CM_HMAC_SHA1_80", ("AES3", "HS32"): "AES_256_CM_HMAC_SHA1_32"}


def test_every_algorithm():
    for i, (ka, h, c, t, s) in enumerate(MATRIX):
        offer = algorithms.Offer(hashes=[h], ciphers=[c], auth_tags=[t], key_agreements=[ka], sas_types=[s])
        a, b = _engines(offer, offer)
        sim = Sim(a, b, seed=10 + i).run()
        sa, sb = _check_secure_pair(sim)
        assert (sa.ka, sa.hash, sa.cipher, sa.auth, sa.sas_type) == (ka, h, c, t, s), sa
        assert sa.profile == PROFILE[(c, t)]
        assert len(sa.local_key) == (16 if c == "AES1" else 32)
        if s == "B256":
            assert ":" in sa.sas
        else:
            assert len(sa.sas) == 4
        # let go of this pair before the next one: a DH3k exchange's bignums need blocks of 770
        # bytes, which a board's heap still strewn with the last pair's messages may not have
        a = b = sim = sa = sb = None
        gc.collect()


def test_negotiation_prefers_the_faster_first_choice():
    a, b = _engines(algorithms.Offer(key_agreements=["DH3k", "X255"]), algorithms.Offer(key_agreements=["X255", "DH3k"]))
    sa, _ = _check_secure_pair(Sim(a, b).run())
    assert sa.ka == "X255"
    # X255 and E255 name the same curve: GNU ZRTP's E255 meets us
    a, b = _engines(algorithms.Offer(key_agreements=["E255", "DH3k"]), None)
    sa, _ = _check_secure_pair(Sim(a, b).run())
    assert sa.ka == "E255"


def test_linphone_default_offer():
    # Linphone (bzrtp 5.1) by default: S256; AES1, AES3; HS80, HS32; DH3k, Mult; B32
    linphone = algorithms.Offer(hashes=["S256"], ciphers=["AES1", "AES3"], auth_tags=["HS80", "HS32"],
                                key_agreements=["DH3k"], sas_types=["B32"])
    for ia in (True, False):
        a, b = _engines(None, linphone, initiate_a=ia)
        sa, _ = _check_secure_pair(Sim(a, b, seed=3).run())
        assert (sa.ka, sa.hash, sa.cipher, sa.sas_type) == ("DH3k", "S256", "AES1", "B32")


def test_lossy_runs_end_secure_or_fail_cleanly():
    runs = 12 if MICROPYTHON else 60
    secure = failed = 0
    for seed in range(runs):
        loss = (0.0, 0.1, 0.3)[seed % 3]
        a, b = _engines()
        sim = Sim(a, b, seed=100 + seed, loss=loss, dup=0.1, jitter=40, start_b=(seed * 37) % 500).run()
        assert a.state in TERMINAL and b.state in TERMINAL or sim.now > 100000, (a.state, b.state)
        if a.state == E.SECURE and b.state == E.SECURE:
            _check_secure_pair(sim)
            secure += 1
            continue
        # a clean failure: the failed side reported why, nobody is secure with other keys
        for x in (a, b):
            if x.state == E.FAILED:
                assert sim.of(x, E.Error) and sim.of(x, E.Error)[-1].fatal
        for x, y in ((a, b), (b, a)):
            if x.state == E.SECURE and sim.of(y, E.Sas):
                assert sim.of(x, E.Secure)[0].local_key == sim.of(y, E.Sas)[0].remote_key
        failed += 1
    assert secure >= runs * 3 // 4, (secure, failed)


def _clock():
    t = [1700000000]
    return lambda: t[0]


def test_cache_second_exchange_uses_rs1_and_keeps_the_verified_state():
    ca, cb = zcache.Cache(None, clock=_clock()), zcache.Cache(None, clock=_clock())
    a, b = _engines(cache_a=ca, cache_b=cb)
    sa, sb = _check_secure_pair(Sim(a, b, seed=1).run())
    assert sa.cache == sb.cache == "new" and not sa.verified
    rs1 = ca.get(b.zid).rs1
    assert rs1 == cb.get(a.zid).rs1 and ca.get(b.zid).rs2 is None
    a.set_verified(True)
    b.set_verified(True)
    a, b = _engines(cache_a=ca, cache_b=cb)
    sa, sb = _check_secure_pair(Sim(a, b, seed=2).run())
    assert sa.cache == sb.cache == "match" and sa.verified and sb.verified
    assert ca.get(b.zid).rs2 == rs1 and ca.get(b.zid).rs1 != rs1  # rotated (section 4.6.1)
    a.set_verified(False)  # one side withdraws: the V flag it sends clears the other's too
    a, b = _engines(cache_a=ca, cache_b=cb)
    sa, sb = _check_secure_pair(Sim(a, b, seed=3).run())
    assert sa.cache == sb.cache == "match" and not sa.verified and not sb.verified
    assert ca.verified(b.zid) is False and cb.verified(a.zid) is True


def test_a_wiped_cache_gives_a_mismatch_on_the_other_side():
    ca, cb = zcache.Cache(None, clock=_clock()), zcache.Cache(None, clock=_clock())
    a, b = _engines(cache_a=ca, cache_b=cb)
    _check_secure_pair(Sim(a, b, seed=1).run())
    a.set_verified(True)
    b.set_verified(True)
    old = cb.get(a.zid).rs1
    ca.forget(b.zid)  # A lost its cache (same ZID)
    a, b = _engines(cache_a=ca, cache_b=cb)
    sa, sb = _check_secure_pair(Sim(a, b, seed=2).run())
    assert sa.cache == "new" and sb.cache == "mismatch"
    assert not sb.verified and not sa.verified
    assert cb.verified(a.zid) is False  # the SAS must be read again
    assert cb.get(a.zid).rs1 == old  # the new rs1 waits for the user's verdict
    b.set_verified(True)  # the user read the SAS: now the new rs1 is kept
    assert cb.get(a.zid).rs1 == ca.get(b.zid).rs1 != old
    a, b = _engines(cache_a=ca, cache_b=cb)
    sa, sb = _check_secure_pair(Sim(a, b, seed=3).run())
    assert sa.cache == sb.cache == "match"


def test_crossed_retained_secrets_pick_the_initiators_first():
    # Two calls between the same two boxes at once, ending in opposite orders on the two sides,
    # leave each side's rs1 as the other's rs2 (section 4.6.1 shifts them). Both sides must pick
    # the same s1: the initiator's rs1 when the responder has it, as bzrtp does. The responder
    # picked its own rs1 first, so s0 differed and every later call failed on the Confirm MAC
    # (test_zrtp_bzrtp checks the order against bzrtp).
    older, newer = bytes(range(32)), bytes(range(32, 64))
    for a_initiates in (True, False):
        ca, cb = zcache.Cache(None, clock=_clock()), zcache.Cache(None, clock=_clock())
        a, b = _engines(cache_a=ca, cache_b=cb, initiate_a=a_initiates, initiate_b=not a_initiates)
        for first, second, cache, peer in ((older, newer, ca, b), (newer, older, cb, a)):
            cache.store(peer.zid, first)
            cache.store(peer.zid, second)
        sa, sb = _check_secure_pair(Sim(a, b, seed=4).run())
        assert sa.cache == sb.cache == "match", a_initiates
        assert (sa.role == E.INITIATOR) == a_initiates
        assert ca.get(b.zid).rs1 == cb.get(a.zid).rs1 not in (older, newer)  # the new rs1, on both sides


def test_cache_is_written_when_the_call_ends():
    st = fresh_storage("zrtp-engine")
    ca = zcache.Cache(st, clock=_clock())
    a, b = _engines(cache_a=ca)
    _check_secure_pair(Sim(a, b, seed=1).run())
    a.set_verified(True)
    a.end()  # the call ends: one write (issue 12)
    again = zcache.Cache(st)
    assert again.zid == a.zid and again.get(b.zid).rs1 == ca.get(b.zid).rs1
    assert again.verified(b.zid)


def test_multistream_second_stream():
    ca, cb = zcache.Cache(None, clock=_clock()), zcache.Cache(None, clock=_clock())
    mult = algorithms.Offer(multistream=True)  # the box offers no Mult (it runs one stream)
    a, b = _engines(offer_a=mult, offer_b=mult, cache_a=ca, cache_b=cb)
    first_a, first_b = _check_secure_pair(Sim(a, b, seed=1).run())
    a2, b2 = a.new_stream(0x0A0A0A0B), b.new_stream(0x0B0B0B0C)
    sim = Sim(a2, b2, seed=2).run()
    sa, sb = _check_secure_pair(sim, multistream=True)
    assert sa.ka == "Mult" and sa.sas == first_a.sas and sa.cache == first_a.cache
    assert sa.local_key not in (first_a.local_key, first_a.remote_key)
    assert not sim.of(a2, E.Sas)
    commits = [p for x in (a2, b2) for _, p in sim.sent[id(x)] if p[16:24] == b"Commit  "]
    assert commits and all(p[80:84] == b"Mult" for p in commits)
    assert not [p for x in (a2, b2) for _, p in sim.sent[id(x)] if p[16:23] == b"DHPart1"]


def test_multistream_needs_a_secure_first_stream():
    a, _ = _engines()
    try:
        a.new_stream(5)
    except ValueError as e:
        assert str(e) == "multistream needs a secure DH stream first"
        return
    raise AssertionError("no ValueError")


def test_slices_keep_the_caller_responsive():
    # The pure backends compute DH in bounded slices: receive() returns after one slice and the
    # engine asks to be called again at once (timer() <= now) until the work is done.
    python = crypto.backend("python")
    offer = algorithms.Offer(key_agreements=["DH3k"])
    a, b = _engines(offer, offer, backend=python, initiate_b=False)
    sim = Sim(a, b, seed=1)
    busy_seen = [0, 0]  # busy timer calls, and those of them due at once (counts: a list of
    orig = a.handle_timer  # a thousand flags would need one 4 KB block on a board)

    def handle(now):
        if a.busy:
            busy_seen[0] += 1
            busy_seen[1] += a.timer() <= now
        orig(now)

    a.handle_timer = handle
    sim.run()
    _check_secure_pair(sim)
    assert busy_seen[0] > 10 and busy_seen[1] == busy_seen[0], busy_seen


def test_key_pool_answers_a_commit_at_once():
    # A key pair made while idle (crypto.KeyPool) lets the responder answer a Commit inside the
    # same receive() call, with no slow work left (section 4.4.1.2; bzrtp resends Commit for ~10 s).
    for ka in ("X255", "DH3k"):
        pool = crypto.KeyPool([ka], 1)
        while pool.step():
            pass
        assert pool.ready(ka) == 1
        offer = algorithms.Offer(key_agreements=[ka])
        a = E.Engine(1, config=E.Config(offer=offer))
        b = E.Engine(2, config=E.Config(offer=offer, initiate=False), key_pool=pool)
        a.start(0)
        b.start(0)
        for p in a.datagrams_to_send():
            b.receive(p, 0)
        assert pool.ready(ka) == 0 and b._keypair is not None and not b.busy  # taken when the Hello came
        for p in b.datagrams_to_send():
            a.receive(p, 0)
        while a.busy:
            a.handle_timer(0)
        commit = [p for p in a.datagrams_to_send() if p[16:24] == b"Commit  "]
        assert commit
        b.receive(commit[0], 1)
        out = b.datagrams_to_send()
        assert [p[16:24] for p in out] == [b"DHPart1 "] and not b.busy and b.state == E.DHPART1_SENT


def test_a_fork_made_after_the_first_went_secure_still_shares_its_hello():
    # Forking (issue 14) meets the engine that lets go (issue 19): the first fork's exchange may end
    # SECURE in early media before a second fork's SDP arrives; the second fork's engine must still
    # send the Hello that the offer's a=zrtp-hash announced, and reach SECURE with its own peer.
    box = zcache.Cache(None, clock=_clock())  # the box's one ZID, as every fork of a call has
    first, peer1 = _engines(cache_a=box)
    announced = first.hello_hash()
    _check_secure_pair(Sim(first, peer1, seed=7).run())
    fork = E.Engine(0x0C0C0C0C, cache=box, config=E.Config())
    fork.share_hello(first)
    assert fork.hello_hash() == announced
    peer2 = E.Engine(0x0D0D0D0D, config=E.Config())
    peer2.set_peer_hello_hash(announced)
    sa, _ = _check_secure_pair(Sim(fork, peer2, seed=8).run())
    assert sa.sas is not None

"""Issue 12, item 6: secrets do not linger. The DH secret and the DH result are overwritten once
s0 exists, s0 once the keys exist; the SRTP master keys, the ZRTP keys, ZRTPSess and this call's
new rs1 when the call ends (``Engine.wipe``); an SRTP session's keys on every backend
(``Session.wipe``). The trust cache keeps its own copy of the retained secret. Runs under both
interpreters (bytes objects cannot be overwritten by any interpreter: the secrets live in
bytearrays)."""
from support import each_backend
from backtoback import shuttle
from zerotap import crypto, srtp
from zerotap.zrtp import cache as zcache, engine as E, keys

PACKET = bytes((0x80, 0, 0, 1, 0, 0, 0, 160, 0x12, 0x34, 0x56, 0x78)) + bytes(160)


class _Recording:
    """The crypto module, with every key pair and DH result it makes recorded."""

    def __init__(self):
        self.keygens = []
        self.agreements = []

    def KeyGeneration(self, ka):
        job = crypto.KeyGeneration(ka)
        self.keygens.append(job)
        return job

    def Agreement(self, keypair, peer):
        job = crypto.Agreement(keypair, peer)
        self.agreements.append(job)
        return job

    def public_length(self, ka):
        return crypto.public_length(ka)


def _zero(b):
    return b is not None and len(b) > 0 and not any(b)


def _secure_pair(rec_a, rec_b, cache_a):
    a = E.Engine(0x0A0A0A0A, cache=cache_a, ka_backend=rec_a)
    b = E.Engine(0x0B0B0B0B, ka_backend=rec_b)
    a.start(0)
    b.start(0)
    shuttle(a, b)
    assert a.state == E.SECURE and b.state == E.SECURE
    ev = None
    while True:
        e = a.next_event()
        if e is None:
            break
        if isinstance(e, E.Secure):
            ev = e
    return a, b, ev


def test_dh_secret_dh_result_and_s0_are_overwritten_once_used():
    made = []
    real = keys.s0_dh

    def s0_dh(*args):
        s0 = real(*args)
        made.append(s0)
        return s0

    keys.s0_dh = s0_dh
    try:
        ra, rb = _Recording(), _Recording()
        _secure_pair(ra, rb, None)
    finally:
        keys.s0_dh = real
    pairs = [j.result for j in ra.keygens + rb.keygens if j.result is not None]
    assert pairs and all(_zero(kp.secret) for kp in pairs), [kp.secret for kp in pairs]
    results = [j.result for j in ra.agreements + rb.agreements]
    assert len(results) == 2 and all(_zero(r) for r in results)
    assert len(made) == 2 and all(_zero(s0) for s0 in made)


def test_the_ended_call_leaves_no_key_behind():
    cache = zcache.Cache(None)
    a, b, ev = _secure_pair(_Recording(), _Recording(), cache)
    held = [ev.local_key, ev.local_salt, ev.remote_key, ev.remote_salt]
    k = a._keys
    held += [k.mackeyi, k.mackeyr, k.zrtpkeyi, k.zrtpkeyr, k.zrtp_sess, k.new_rs1, k.sas_hash]
    assert not any(_zero(x) for x in held)
    kept = bytes(cache.get(b.zid).rs1)
    assert kept == bytes(k.new_rs1)
    a.wipe()
    assert all(_zero(x) for x in held), held
    assert a.session.call_rs1 is None and a.session.pending_rs1 is None
    assert cache.get(b.zid).rs1 == kept  # the cache's own copy stays


def test_an_srtp_session_overwrites_its_keys_on_every_backend():
    for name, b in each_backend():
        s = srtp.Session("AES_CM_128_HMAC_SHA1_80", b"k" * 16, b"s" * 14, backend=b)
        t = s._rtp
        assert len(s.protect(PACKET)) == len(PACKET) + 10
        s.wipe()
        assert s._rtp is None and s._rtcp is None
        try:
            s.protect(PACKET)
        except (AttributeError, ValueError):
            pass
        else:
            raise AssertionError("%s: a wiped session still protects" % name)
        if name == "python":
            assert not any(t._aes._hi) and not any(t._aes._lo) and _zero(t._ipad) and _zero(t._opad), name
        elif name == "micropython":
            assert _zero(t._ipad) and _zero(t._opad) and t._cipher is None, name
        else:  # native: the C state was zeroized; the transform refuses to run
            try:
                t.protect(bytearray(PACKET + bytes(10)), 12, len(PACKET), len(PACKET), 0x12345678, 1, -1)
            except ValueError as e:
                assert str(e) == "SRTP transform was wiped"
            else:
                raise AssertionError("native transform ran after wipe")


class _Outbox:
    """The media session as a ZRTP leg sees it: where its packets go."""

    def __init__(self):
        self.out = []

    def send_zrtp(self, packet):
        self.out.append(bytes(packet))
        return True


def test_the_end_of_a_call_wipes_its_media_keys():
    from zerotap import media, status
    from zerotap.zrtp import algorithms

    legs = []
    for ssrc, initiate in ((0x0A0A0A0A, True), (0x0B0B0B0B, False)):
        box = status.BoxStatus()
        call = box.new_call(1, "out", "peer")
        eng = E.Engine(ssrc, config=E.Config(offer=algorithms.Offer(key_agreements=("X255",)), initiate=initiate))
        leg = media.ZrtpLeg(eng, call)
        leg.bind(_Outbox())
        legs.append(leg)
    a, b = legs
    a.engine.start(0)
    b.engine.start(0)
    a.handle_timer(0)
    b.handle_timer(0)
    for _ in range(200):
        moved = False
        for src, dst in ((a, b), (b, a)):
            out, src.session.out = src.session.out, []
            for p in out:
                dst.receive_zrtp(bytearray(p), len(p), 0)
                moved = True
            while src.engine.busy:
                src.handle_timer(0)
                moved = True
        if not moved:
            break
    assert a.is_secure and b.is_secure
    k = a.engine._keys
    held = [k.srtp_key_i, k.srtp_key_r, k.srtp_salt_i, k.zrtp_sess, k.new_rs1]
    tx = a.tx
    assert not any(_zero(x) for x in held)
    a.close()  # the call ended
    assert all(_zero(x) for x in held) and a.tx is None and a.rx is None and tx._rtp is None

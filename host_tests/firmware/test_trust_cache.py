"""Issue 12, items 1, 4 and 7: the verified flag stands only on a retained secret, a flood of
newcomers cannot empty the trust cache, the cache clock survives reboots, flash writes are
counted, a failing write leaves the call SECURE with a warning, Mult is not offered and the
configured algorithms are the policy when we answer a Commit. Runs under both interpreters."""
from support import fresh_storage
from backtoback import events, shuttle
from zerotap.zrtp import algorithms, cache as zcache, engine as E, packets

PEER = b"peer-zid-123"


class _Clock:
    def __init__(self, t):
        self.t = t

    def __call__(self):
        return self.t


def _engine(ssrc, cache=None, expiry=0xFFFFFFFF, offer=None, initiate=True):
    return E.Engine(ssrc, cache=cache, config=E.Config(offer=offer, cache_expiry=expiry, initiate=initiate))


def _exchange(a, b, tamper=None):
    a.start(0)
    b.start(0)
    shuttle(a, b, tamper=tamper)
    ea, eb = events(a), events(b)
    sa = [e for e in ea if isinstance(e, E.Secure)]
    sb = [e for e in eb if isinstance(e, E.Secure)]
    return (sa[0] if sa else None), (sb[0] if sb else None), ea, eb


class _Storage:
    """A storage that counts writes, and fails them (flash full) when told."""

    def __init__(self):
        self.files = {}
        self.writes = 0
        self.full = False

    def read(self, name):
        return self.files.get(name)

    def write(self, name, data):
        if self.full:
            raise OSError(28, "No space left on device")
        self.writes += 1
        self.files[name] = bytes(data)

    def set_aside(self, name):
        self.files[name + ".bad"] = self.files.pop(name)
        return name + ".bad"

    def remove(self, name):  # the cache's records are files of their own (issue 19)
        self.files.pop(name, None)

    def names(self, prefix=""):
        return [n for n in self.files if n.startswith(prefix)]


# --- 1: VERIFIED only with a retained secret ---------------------------------------------------

def test_set_verified_never_makes_an_entry_without_secrets():
    c = zcache.Cache(None, clock=_Clock(1000))
    assert c.set_verified(PEER, True) is False
    assert c.get(PEER) is None and not c.verified(PEER) and len(c) == 0
    c.store(PEER, b"1" * 32, 0)  # the peer asked not to be cached (section 4.9)
    c.set_verified(PEER, True)
    assert c.get(PEER) is None and not c.verified(PEER)


def test_a_stranger_claiming_a_verified_zid_is_not_shown_verified():
    box_cache = zcache.Cache(None, clock=_Clock(1000))
    # a real peer sends cache expiry 0; the user reads the SAS and marks it verified
    box = _engine(0x0A0A0A0A, box_cache)
    peer = _engine(0x0B0B0B0B, zcache.Cache(None, clock=_Clock(1000)), expiry=0)
    sa, sb, _, _ = _exchange(box, peer)
    assert sa is not None and sb is not None and sa.cache == "new"
    box.set_verified(True)
    assert not box_cache.verified(peer.zid) and box_cache.get(peer.zid) is None
    # anyone can claim the peer's (public) ZID, know no secret and send V=1
    mallory_cache = zcache.Cache(None, clock=_Clock(1000))
    mallory_cache.zid = peer.zid
    mallory_cache.verified = lambda zid: True
    box = _engine(0x0A0A0A0B, box_cache)
    mallory = _engine(0x0C0C0C0C, mallory_cache)
    sa, sb, _, _ = _exchange(box, mallory)
    assert sa is not None and sa.cache == "new"
    assert sa.verified is False and sa.status()["verified"] is False, sa


def test_a_stranger_with_v1_and_a_live_but_unverified_entry_gets_no_verified():
    # the verified flag shows only when a retained secret MATCHED, not when the cache says verified
    box_cache = zcache.Cache(None, clock=_Clock(1000))
    box = _engine(0x0A0A0A0A, box_cache)
    peer_cache = zcache.Cache(None, clock=_Clock(1000))
    peer = _engine(0x0B0B0B0B, peer_cache)
    _exchange(box, peer)
    box.set_verified(True)
    peer.set_verified(True)
    assert box_cache.verified(peer.zid)
    mallory_cache = zcache.Cache(None, clock=_Clock(1000))
    mallory_cache.zid = peer.zid
    mallory_cache.verified = lambda zid: True
    sa, _, _, _ = _exchange(_engine(0x0A0A0A0B, box_cache), _engine(0x0C0C0C0C, mallory_cache))
    assert sa is not None and sa.cache == "mismatch" and sa.verified is False


def test_a_responder_with_a_cache_mismatch_sends_no_v_flag():
    # Our verified peer's ZID, a stranger without the retained secret, and the box answers the
    # Commit: the mismatch is known before the box sends Confirm1, whose V flag must then be
    # clear (RFC 6189 sections 4.3.2 and 7.1: the SAS must be read again). It said V=1: the
    # flag was read from the cache before the mismatch cleared it.
    box_cache = zcache.Cache(None, clock=_Clock(1000))
    box = _engine(0x0A0A0A0A, box_cache, initiate=False)
    peer = _engine(0x0B0B0B0B, zcache.Cache(None, clock=_Clock(1000)))
    _exchange(box, peer)
    box.set_verified(True)
    assert box_cache.verified(peer.zid)
    mallory_cache = zcache.Cache(None, clock=_Clock(1000))
    mallory_cache.zid = peer.zid
    box = _engine(0x0A0A0A0B, box_cache, initiate=False)
    mallory = _engine(0x0C0C0C0C, mallory_cache)
    confirms = []

    def keep(src, p):
        if src is box and packets.message_type(p[12:-4]) == packets.CONFIRM1:
            confirms.append(packets.parse(p[12:-4]))
        return p

    sa, sb, _, _ = _exchange(box, mallory, tamper=keep)
    assert sa is not None and sa.role == E.RESPONDER and sa.cache == "mismatch" and sa.verified is False
    k = mallory._keys
    assert confirms and confirms[0].open(k.zrtpkeyr, k.mackeyr, mallory._hash.hmac).v is False
    assert sb is not None and sb.verified is False and not box_cache.verified(peer.zid)


def test_verifying_after_the_entry_expired_stores_this_calls_secret_first():
    clock = _Clock(1000)
    box_cache = zcache.Cache(None, clock=clock)
    box = _engine(0x0A0A0A0A, box_cache)
    peer = _engine(0x0B0B0B0B, zcache.Cache(None, clock=_Clock(1000)), expiry=60)
    sa, sb, _, _ = _exchange(box, peer)
    assert sa is not None and box_cache.get(peer.zid) is not None
    rs1 = box_cache.get(peer.zid).rs1
    clock.t += 61  # the entry expires while the call is up; then the user verifies
    assert box_cache.get(peer.zid) is None
    box.set_verified(True)
    e = box_cache.get(peer.zid)
    assert e is not None and e.rs1 == rs1 and e.verified and box_cache.verified(peer.zid)


# --- 4: a cache a flood cannot empty -------------------------------------------------------------

def test_a_flood_of_newcomers_evicts_no_entry_with_a_secret():
    # records on storage, each call's written when it ends, as on a board (a cache of 256 entries
    # in RAM, storage None, does not fit a board's heap: 256 records of 1.3 KB)
    clock = _Clock(1000)
    c = zcache.Cache(fresh_storage("flood1"), clock=clock)
    c.store(PEER, b"v" * 32)
    c.set_verified(PEER, True)
    real = b"real-peer-00"
    c.store(real, b"r" * 32)
    assert c.save()
    warnings = []
    c.on_warning = warnings.append
    for i in range(zcache.MAX_ENTRIES + 10):  # spam calls, each a new ZID reaching SECURE
        clock.t += 1
        c.store(b"spam%08d" % i, b"s" * 32)
        assert c.save()
    assert len(c) == zcache.MAX_ENTRIES
    assert c.verified(PEER) and c.get(PEER).rs1 == b"v" * 32 and c.get(real).rs1 == b"r" * 32
    assert c.get(b"spam%08d" % (zcache.MAX_ENTRIES + 9)) is None  # not retained: the cache is full
    assert warnings and "ZRTP trust cache full" in warnings[-1] and c.warning == warnings[-1]
    c = None
    # expired entries make room, unverified ones first
    c2 = zcache.Cache(fresh_storage("flood2"), clock=clock)
    c2.store(PEER, b"v" * 32, 10)
    c2.set_verified(PEER, True)
    for i in range(zcache.MAX_ENTRIES - 1):
        c2.store(b"old%09d" % i, b"o" * 32, 10 if i == 5 else zcache.NEVER)
        assert c2.save()
    clock.t += 20
    assert c2.store(b"newcomer-001", b"n" * 32) is True
    assert c2.get(b"newcomer-001") is not None and b"old%09d" % 5 not in c2.peers() and PEER in c2.peers()


def test_the_cache_clock_survives_a_reboot():
    ticks = [0]
    clk = (lambda: ticks[0], lambda a, b: a - b)
    st = _Storage()
    c = zcache.Cache(st, ticks=clk)
    c.store(PEER, b"1" * 32, 100)
    ticks[0] += 50000
    c.store(b"other-peer-1", b"2" * 32)
    assert c.save()
    ticks[0] = 0  # a reboot: the uptime counter starts again
    d = zcache.Cache(st, ticks=clk)
    assert d.clock() >= 50 and d.get(PEER) is not None
    ticks[0] += 51000
    assert d.get(PEER) is None  # 100 s of box time passed across the reboot
    assert d.get(b"other-peer-1").last_used == 50


def test_flash_writes_none_without_secure_and_one_per_secure_call():
    st = _Storage()
    box_cache = zcache.Cache(st, clock=_Clock(1000))
    assert st.writes == 1  # the new ZID
    # five exchanges that never reach SECURE (a tampered Confirm1 / Confirm2 each time)
    for i in range(5):
        def spoil(src, p):
            if p[16:24] in (b"Confirm1", b"Confirm2"):
                return p[:40] + bytes((p[40] ^ 1,)) + p[41:]
            return p
        failed = _engine(0x0A0A0A00 + i, box_cache)
        sa, sb, _, _ = _exchange(failed, _engine(0x0B0B0B00 + i), spoil)
        assert sa is None
        failed.end()  # the call ends
    assert st.writes == 1
    box = _engine(0x0A0A0A0A, box_cache)
    peer = _engine(0x0B0B0B0B, zcache.Cache(None, clock=_Clock(1000)))
    sa, _, _, _ = _exchange(box, peer)
    assert sa is not None
    box.set_verified(True)  # the user's verdict, during the call
    box.set_verified(False)
    box.set_verified(True)
    assert st.writes == 1  # nothing yet: the call goes on
    box.end()
    assert st.writes == 2  # one write for the whole secure call
    again = zcache.Cache(st)
    assert again.verified(peer.zid) and again.get(peer.zid).rs1 == box_cache.get(peer.zid).rs1
    # the next call with the same peer: a match, one write again
    box = _engine(0x0A0A0A0B, box_cache)
    sa, _, _, _ = _exchange(box, _engine(0x0B0B0B0C, peer._session.cache))
    box.end()
    assert sa.cache == "match" and st.writes == 3


def test_a_failing_cache_write_leaves_the_call_secure_with_a_warning():
    st = _Storage()
    box_cache = zcache.Cache(st, clock=_Clock(1000))
    warnings = []
    box_cache.on_warning = warnings.append
    st.full = True
    box = _engine(0x0A0A0A0A, box_cache)
    sa, sb, ea, _ = _exchange(box, _engine(0x0B0B0B0B))
    assert box.state == E.SECURE and sa is not None and sb is not None, ea
    assert not [e for e in ea if isinstance(e, E.Error) and e.fatal]
    peer_zid = box.peer_zid
    box.set_verified(True)
    box.end()  # the call ends: the write fails (flash full), and says so
    assert warnings and "could not be written" in warnings[0] and "No space left" in warnings[0]
    assert box_cache.get(peer_zid) is not None  # kept in memory meanwhile
    st.full = False
    box = _engine(0x0A0A0A0B, box_cache)
    _exchange(box, _engine(0x0B0B0B0C))
    box.end()  # the next write carries it all
    assert zcache.Cache(st).verified(peer_zid)


# --- 7: say only what the box does ---------------------------------------------------------------

def test_hello_offers_no_multistream():
    eng = _engine(0x0A0A0A0A)
    eng.start(0)
    hello = packets.parse(packets.unframe(eng.datagrams_to_send()[0])[2])
    assert hello.name == "Hello" and algorithms.MULTISTREAM not in hello.key_agreements, hello.key_agreements
    assert algorithms.MULTISTREAM in algorithms.Offer(multistream=True).hello_key_agreements


def test_a_commit_outside_the_configured_policy_is_refused():
    # the box is configured for a policy; the peer commits an algorithm outside it that is not
    # one of the RFC's mandatory ones (those every Hello offers, see the test below), or
    # multistream
    # the reason (the panel's and the status's error) names the algorithm and the configuration
    # key readably
    for policy, field, value, code, reason in (
            (dict(hashes=["S256"]), "hash", b"S384", 0x51, "Commit chose hash S384, which zrtp.hash does not list"),
            (dict(ciphers=["AES1"]), "cipher", b"AES3", 0x52, "Commit chose cipher AES3, which zrtp.cipher does not list"),
            (dict(key_agreements=["DH3k"]), "key_agreement", b"X255", 0x53,
             "Commit chose key agreement X255, which zrtp.key_agreement does not list"),
            (dict(sas_types=["B32"]), "sas", b"B256", 0x55, "Commit chose SAS type B256, which zrtp.sas does not list"),
            (dict(), "key_agreement", algorithms.MULTISTREAM, 0x53,
             "Commit chose multistream (Mult), which the box does not run")):
        box = _engine(0x0A0A0A0A, offer=algorithms.Offer(**policy), initiate=False)
        peer = _engine(0x0B0B0B0B, offer=algorithms.Offer(key_agreements=["DH3k"]))

        def change(src, p, peer=peer, field=field, value=value):
            if src is peer and p[16:24] == b"Commit  ":
                c = packets.parse(p[12:-4])
                setattr(c, field, value)
                if value == algorithms.MULTISTREAM:
                    c.nonce, c.hvi = bytes(16), None
                return packets.frame(0x0100, peer.ssrc, packets.seal(c.encode(), peer._h[1]))
            return p

        sa, _, ea, _ = _exchange(box, peer, change)
        errors = [e for e in ea if isinstance(e, E.Error)]
        assert sa is None and box.state == E.FAILED and errors and errors[-1].code == code, (field, value, ea)
        assert errors[-1].reason == reason, errors[-1].reason


def test_a_commit_for_a_mandatory_algorithm_outside_the_configured_list_is_taken():
    # RFC 6189 section 5.2: "A count of zero means that only the mandatory-to-implement
    # algorithms are supported. Mandatory algorithms MAY be included in the algorithm list."
    # Every Hello offers them, listed or not, and a peer that commits one honours our Hello (bzrtp
    # and Linphone do: HS80 against a box set to "auth": ["HS32"]). The box takes such a Commit.
    policy = algorithms.Offer(hashes=["S384"], ciphers=["AES3"], auth_tags=["HS32"], key_agreements=["X255"],
                              sas_types=["B256"])
    peer_offer = algorithms.Offer(hashes=["S256"], ciphers=["AES1"], auth_tags=["HS80"], key_agreements=["DH3k"],
                                  sas_types=["B32"])
    box = _engine(0x0A0A0A0A, offer=policy, initiate=False)
    peer = _engine(0x0B0B0B0B, offer=peer_offer)
    sa, sb, ea, _ = _exchange(box, peer)
    assert sa is not None and sb is not None, ea
    assert (sa.hash, sa.cipher, sa.auth, sa.ka, sa.sas_type) == ("S256", "AES1", "HS80", "DH3k", "B32")
    assert sa.sas == sb.sas and sa.local_key == sb.remote_key
    # as initiator, the box too ranks the mandatory algorithms after its list: its own HS32 (which
    # the peer's Hello offers by leaving it out), and the mandatory ones where its list has nothing
    # in common with the peer's
    box = _engine(0x0A0A0A0A, offer=policy)
    peer = _engine(0x0B0B0B0B, offer=peer_offer, initiate=False)
    sa, sb, ea, _ = _exchange(box, peer)
    assert sa is not None and sb is not None and sa.role == E.INITIATOR, ea
    assert (sa.hash, sa.cipher, sa.auth, sa.ka, sa.sas_type) == ("S256", "AES1", "HS32", "DH3k", "B32")


def test_a_commit_naming_no_text_is_refused_with_its_family_error():
    # a hostile Commit's cipher block is not text: the refusal still names it (no internal error)
    box = _engine(0x0A0A0A0A, offer=algorithms.Offer(ciphers=["AES1"]), initiate=False)
    peer = _engine(0x0B0B0B0B, offer=algorithms.Offer(key_agreements=["DH3k"]))

    def change(src, p):
        if src is peer and p[16:24] == b"Commit  ":
            c = packets.parse(p[12:-4])
            c.cipher = b"\xff\xfe\x00\x80"
            return packets.frame(0x0100, peer.ssrc, packets.seal(c.encode(), peer._h[1]))
        return p

    sa, _, ea, _ = _exchange(box, peer, change)
    errors = [e for e in ea if isinstance(e, E.Error)]
    assert sa is None and errors and errors[-1].code == 0x52, ea
    assert errors[-1].reason.startswith("Commit chose cipher ") and "zrtp.cipher" in errors[-1].reason, errors[-1].reason


def test_a_hello_that_lists_no_algorithm_offers_the_mandatory_ones():
    # RFC 6189 section 5.2: counts of zero mean only the mandatory algorithms (implementations
    # that support nothing else send such a Hello); a box configured without them still agrees on
    # them with that peer, as initiator
    empty = packets.Hello.parse(packets.Hello(packets.VERSION, b"minimal         ", bytes(32), bytes(12)).encode())
    assert (empty.hashes, empty.ciphers, empty.auth_tags, empty.key_agreements, empty.sas_types) == ([],) * 5
    policy = algorithms.Offer(hashes=["S384"], ciphers=["AES3"], auth_tags=["HS32"], key_agreements=["X255"],
                              sas_types=["B256"])
    c = algorithms.choose(policy, empty)
    assert (c.hash, c.cipher, c.auth_tag, c.key_agreement, c.sas) == (b"S256", b"AES1", b"HS32", b"DH3k", b"B32 ")

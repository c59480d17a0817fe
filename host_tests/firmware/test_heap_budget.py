"""Heap budgets of the parts this suite owns, checked on both builds: on a 32-bit board (the
board32 rig, frozen firmware) against the budget itself, on the 64-bit unix port against the
budget scaled by 1.42, the factor measured between the two for the same objects (docs/heap.md).
CPython has no gc.mem_alloc: there the tests only run the code."""
import gc
import sys

from zerotap import crypto, srtp

FACTOR_64 = 1.42  # unix port (64-bit) / rv32 heap for the same runtime objects (docs/heap.md)
SRTP_SESSION_32 = 3072  # bytes: one srtp.Session with its RTP and RTCP transforms, one packet done


def _scaled(budget):
    return int(budget * FACTOR_64) if sys.maxsize > (1 << 32) else budget


def _used():
    gc.collect()
    return gc.mem_alloc() if hasattr(gc, "mem_alloc") else 0


def test_an_srtp_session_fits_its_budget():
    # the keystream scratch (1.6 KB) is shared by every transform, allocated once at import
    rtp = bytes([0x80, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 7]) + bytes(160)
    for name in crypto.backends():
        if name != crypto.BACKEND:  # the budget is the board's: the backend in use
            continue
        before = _used()
        tx = srtp.Session(srtp.AES_CM_128_HMAC_SHA1_80, bytes(16), bytes(14))
        packet = tx.protect(rtp)
        grown = _used() - before
        assert len(packet) == len(rtp) + 10
        if hasattr(gc, "mem_alloc"):
            assert grown <= _scaled(SRTP_SESSION_32), \
                "an SRTP session holds %d bytes (budget %d)" % (grown, _scaled(SRTP_SESSION_32))


# --- the engine lets go once SECURE (issue 19) ---------------------------------------------------

ENGINE_SECURE_32 = 3072  # bytes: one engine SECURE with X25519, what it still holds on 32 bits (8,064 on the unix port before it let go)


_CONFIGS = {}


def _configs(ka):
    """One engine Config per policy, shared by every call as the box shares its one
    (runtime/secure.py): the initiator's and the responder's."""
    if ka not in _CONFIGS:
        from zerotap.zrtp import algorithms, engine as E
        offer = algorithms.Offer(key_agreements=(ka,))
        _CONFIGS[ka] = (E.Config(offer=offer), E.Config(offer=offer, initiate=False))
    return _CONFIGS[ka]


def _secure_pair(ka="X255", log=None):
    """Two engines made SECURE by a real exchange (A initiates); LOG collects (sender, packet)."""
    from zerotap.zrtp import engine as E
    ca, cb = _configs(ka)
    a = E.Engine(0x0A0A0A0A, config=ca)
    b = E.Engine(0x0B0B0B0B, config=cb)
    a.start(0)
    b.start(0)
    for _ in range(200):
        moved = False
        for src, dst in ((a, b), (b, a)):
            for p in src.datagrams_to_send():
                moved = True
                if log is not None:
                    log.append((src, p))
                dst.receive(p, 0)
            while src.busy:
                src.handle_timer(0)
                moved = True
        if not moved:
            break
    assert a.state == E.SECURE and b.state == E.SECURE, (a.state, b.state)
    for x in (a, b):
        while x.next_event() is not None:
            pass
    return a, b


def _type(packet):
    from zerotap.zrtp import packets
    return packets.message_type(packets.unframe(packet)[2])


def test_a_secure_engine_keeps_no_messages_nor_hash_chain():
    a, b = _secure_pair()
    for x in (a, b):
        held = [n for n in ("_hello", "_peer_hello", "_commit", "_peer_commit", "_dhpart", "_peer_dhpart",
                            "_confirm", "_peer_confirm_raw", "_h", "_s1", "_context", "_keypair")
                if getattr(x, n) is not None]
        assert held == [], "a SECURE %s still holds %s" % (x.role, held)
        assert x._stashed_confirm1 == [] and x._rtx.message is None
    # what SECURE still needs stays: the SAS, the keys of GoClear/SASrelay, the Hello hash for the SDP
    assert a.sas == b.sas and a._keys.mackeyr is not None and a.hello_hash().startswith("1.10 ")


def test_late_repeats_after_secure_are_still_told_apart():
    from zerotap.zrtp import packets
    log = []
    a, b = _secure_pair(log=log)
    theirs = {}
    for src, p in log:
        theirs.setdefault((src is a, _type(p)), p)
    # the responder answers a repeated Confirm2 (its Conf2ACK was lost) from the digest it kept
    b.receive(theirs[(True, packets.CONFIRM2)], 10)
    assert [_type(p) for p in b.datagrams_to_send()] == [packets.CONF2ACK]
    # repeats of the peer's Hello and DHPart1 are ignored quietly, as the state table says
    dropped = a.dropped
    a.receive(theirs[(False, packets.HELLO)], 10)
    a.receive(theirs[(False, packets.DHPART1)], 10)
    assert a.dropped == dropped and a.datagrams_to_send() == []
    # a Hello that differs from the peer's is dropped and counted
    forged = bytearray(theirs[(False, packets.HELLO)])
    a.receive(packets.frame(7, 0x0B0B0B0B, _rehello(bytes(forged))), 12)
    assert a.dropped == dropped + 1
    assert a.state == b.state == "secure"


def _rehello(packet):
    """Another valid Hello message: the peer's with its client id changed and the MAC left as is."""
    from zerotap.zrtp import packets
    msg = bytearray(packets.unframe(packet)[2])
    msg[16] ^= 1  # a byte of the client identifier
    return bytes(msg)


def test_a_secure_engine_fits_its_budget():
    _secure_pair()  # the first exchange imports and makes what every later one shares
    base = _used()
    a, b = _secure_pair()
    both = _used() - base
    print("heap: two SECURE engines hold %d bytes" % both)
    a = b = None
    if hasattr(gc, "mem_alloc"):
        assert both <= 2 * _scaled(ENGINE_SECURE_32), \
            "two SECURE engines hold %d bytes (budget 2 x %d)" % (both, _scaled(ENGINE_SECURE_32))

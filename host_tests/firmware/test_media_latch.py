"""Latching on the network side behind NAT (issue 13): the box follows media to a new address
only when it is authenticated (SRTP that passes its tag, or a ZRTP Hello whose hash the peer's
SDP announced), never for plain RTP or an unannounced Hello from a stranger."""
from backtoback import NET_B, media_pair, rtp
from zerotap import media

NAT_B = ("198.51.100.7", 50000)  # where box B's media really comes from (its router)


def _hello(b, now=0):
    b.session.secure.start(now)
    for leg, data, _ in b.take(media.NET_RTP):
        if data[16:24] == b"Hello   ":
            return data
    raise AssertionError("no Hello")


def test_plain_rtp_from_a_stranger_does_not_move_the_latch():
    a, b = media_pair()
    a.session.receive(media.NET_RTP, rtp(1), 172, NAT_B, 0)
    assert a.session.path.remote[0] == NET_B


def test_announced_hello_moves_the_latch_an_unannounced_one_does_not():
    a, b = media_pair()
    hello = _hello(b)
    a.session.receive(media.NET_RTP, bytearray(hello), len(hello), NAT_B, 0)
    assert a.session.path.remote[0] == NET_B  # no a=zrtp-hash known: not authenticated
    version, hexhash = b.session.secure.hello_hash().split()
    a.session.secure.set_peer_hash((version, "00" * 32))  # another Hello's hash
    a.session.receive(media.NET_RTP, bytearray(hello), len(hello), NAT_B, 10)
    assert a.session.path.remote[0] == NET_B
    a2, b2 = media_pair()
    hello = _hello(b2)
    version, hexhash = b2.session.secure.hello_hash().split()
    a2.session.secure.set_peer_hash((version, hexhash))
    a2.session.receive(media.NET_RTP, bytearray(hello), len(hello), NAT_B, 10)
    assert a2.session.path.remote[0] == NAT_B


def test_srtp_that_authenticates_moves_the_latch():
    from backtoback import NET_A
    from test_media_session import _run
    a, b = media_pair()
    _run(a, b, 0, 20000)
    assert a.session.path.remote[0] == NET_B
    # B's phone talks; B's box protects it; it reaches A from B's router
    b.session.receive(media.PHONE_RTP, rtp(7), 172, ("10.0.1.2", 4100), 20000)
    out = b.take(media.NET_RTP)
    assert out
    srtp = out[-1][1]
    forged = bytearray(srtp)
    forged[-1] ^= 1
    a.session.receive(media.NET_RTP, forged, len(forged), NAT_B, 20001)
    assert a.session.path.remote[0] == NET_B  # a bad tag moves nothing
    a.session.receive(media.NET_RTP, bytearray(srtp), len(srtp), NAT_B, 20002)
    assert a.session.path.remote[0] == NAT_B


def test_a_replayed_hello_after_secure_does_not_move_the_latch():
    # The peer's Hello crosses the provider's path in clear: anyone who saw it can send it again.
    # Before SECURE it is how a peer behind NAT is found; after SECURE authenticated SRTP does
    # that, and a Hello from a third party must not send the protected stream to it.
    from test_media_session import _run
    a, b = media_pair()
    hello = _hello(b)
    version, hexhash = b.session.secure.hello_hash().split()
    a.session.secure.set_peer_hash((version, hexhash))
    b.sent = []
    now = _run(a, b, 10, 20000)
    assert a.session.path.remote[0] == NET_B
    third = ("203.0.113.9", 40000)
    a.session.receive(media.NET_RTP, bytearray(hello), len(hello), third, now)
    assert a.session.path.remote[0] == NET_B
    a.take()
    a.session.receive(media.PHONE_RTP, rtp(7), 172, ("10.0.0.2", 4000), now)
    assert [d[2] for d in a.take(media.NET_RTP)] == [NET_B]

"""STUN (RFC 8489): RFC 5769's vectors, exact errors for malformed messages, client
transactions (RTO, Rc, Rm), and ChannelData in the media port's demux (RFC 7983)."""
import gc

from support import raises
from vectors import load, unhex

from zerotap import crypto, rtp
from zerotap.ice import stun

V = load("stun_rfc5769.json")
TID = bytes(range(1, 13))


def test_rfc5769_request():
    v = V["request"]
    data = unhex(v["hex"])
    m = stun.parse(data)
    assert m.method == stun.BINDING and m.cls == stun.REQUEST
    assert m.get(stun.SOFTWARE) == v["software"]
    assert m.get(stun.PRIORITY) == v["priority"]
    assert m.get(stun.ICE_CONTROLLED) == int(v["ice_controlled"], 16)
    assert m.get(stun.USERNAME) == v["username"]
    key = v["password"].encode()
    m.verify(key)
    raises(lambda: m.verify(b"VOkJxbRl1RmTxUk/WvJxBr"), "STUN MESSAGE-INTEGRITY does not match")
    # byte for byte: as parsed, and signed again with the same key (padding of spaces kept)
    assert m.encode() == data
    assert m.encode(key=key, fingerprint=True) == data


def test_rfc5769_responses():
    for name in ("response_ipv4", "response_ipv6"):
        v = V[name]
        data = unhex(v["hex"])
        m = stun.parse(data)
        assert m.cls == stun.SUCCESS
        assert m.get(stun.SOFTWARE) == v["software"]
        assert m.get(stun.XOR_MAPPED_ADDRESS) == (v["mapped"][0], v["mapped"][1]), name
        m.verify(v["password"].encode())
        assert m.encode(key=v["password"].encode(), fingerprint=True) == data
        # built from scratch, with the vector's padding byte
        b = stun.Message(stun.BINDING, stun.SUCCESS, m.tid)
        b.attrs.append([stun.SOFTWARE, v["software"], b" "])
        b.add(stun.XOR_MAPPED_ADDRESS, (v["mapped"][0], v["mapped"][1]))
        assert b.encode(key=v["password"].encode(), fingerprint=True) == data


def test_rfc5769_with_a_prepared_key_and_packed_by_hand():
    # stun.IntegrityKey (the HMAC pads hashed once) and stun.encode_raw (the agent's fast path)
    # give the vectors' bytes, and the prepared key verifies and refuses as the plain one does
    v = V["request"]
    data = unhex(v["hex"])
    key = stun.IntegrityKey(v["password"].encode())
    m = stun.parse(data)
    m.verify(key)
    assert m.encode(key=key, fingerprint=True) == data
    assert not m.check(stun.IntegrityKey(b"VOkJxbRl1RmTxUk/WvJxBr"))
    for name in ("response_ipv4", "response_ipv6"):
        v = V[name]
        data = unhex(v["hex"])
        m = stun.parse(data)
        body = stun.pack_attr(stun.SOFTWARE, v["software"].encode())
        body = body[:-1] + b" "  # the vector pads SOFTWARE with a space
        body += stun.pack_attr(stun.XOR_MAPPED_ADDRESS, stun.pack_xor_address(
            (v["mapped"][0], v["mapped"][1]), m.tid))
        for key in (v["password"].encode(), stun.IntegrityKey(v["password"].encode())):
            assert stun.encode_raw(stun.message_type(stun.BINDING, stun.SUCCESS), m.tid, body,
                                   key, False, True) == data
            stun.parse(data).verify(key)
        # XOR-MAPPED-ADDRESS packed whole, as the agent answers a check: the vector's bytes again
        mapped = (v["mapped"][0], v["mapped"][1])
        attr = stun.xor_mapped_attr(mapped, m.tid)
        assert len(attr) == (12 if ":" not in mapped[0] else 24)
        assert stun.encode_raw(stun.message_type(stun.BINDING, stun.SUCCESS), m.tid,
                               body[:-len(attr)] + attr, key, False, True) == data


def test_rfc5769_long_term():
    v = V["request_long_term"]
    data = unhex(v["hex"])
    m = stun.parse(data)
    assert m.get(stun.USERNAME) == v["username"]
    assert m.get(stun.REALM) == v["realm"]
    assert m.get(stun.NONCE) == v["nonce"].encode()
    key = stun.long_term_key(v["username"], v["realm"], v["password"])
    m.verify(key)
    assert m.encode(key=key) == data
    raises(lambda: m.verify(stun.long_term_key(v["username"], v["realm"], "x")),
           "STUN MESSAGE-INTEGRITY does not match")


def test_message_types():
    for method in (stun.BINDING, stun.ALLOCATE, stun.REFRESH, stun.SEND, stun.DATA,
                   stun.CREATE_PERMISSION, stun.CHANNEL_BIND, 0xFFF):
        for cls in (stun.REQUEST, stun.INDICATION, stun.SUCCESS, stun.ERROR):
            m = stun.parse(stun.Message(method, cls, TID).encode())
            assert (m.method, m.cls) == (method, cls)
    assert stun.message_type(stun.BINDING, stun.SUCCESS) == 0x0101
    assert stun.message_type(stun.ALLOCATE, stun.ERROR) == 0x0113
    assert stun.message_type(stun.DATA, stun.INDICATION) == 0x0017


def test_attribute_round_trips():
    m = stun.Message(stun.ALLOCATE, stun.SUCCESS, TID)
    m.add(stun.XOR_RELAYED_ADDRESS, ("198.51.100.7", 49152))
    m.add(stun.XOR_MAPPED_ADDRESS, ("2001:db8::1", 5))
    m.add(stun.MAPPED_ADDRESS, ("::ffff:0:1", 65535))
    m.add(stun.LIFETIME, 600)
    m.add(stun.ERROR_CODE, (438, "Stale Nonce"))
    m.add(stun.CHANNEL_NUMBER, 0x4001)
    m.add(stun.REQUESTED_TRANSPORT, 17)
    m.add(stun.USE_CANDIDATE)
    m.add(stun.ICE_CONTROLLING, 0xFEDCBA9876543210)
    m.add(stun.DATA_ATTR, b"\x01\x02\x03")
    m.add(stun.UNKNOWN_ATTRIBUTES, [0x0031, 0x0032])
    m.add(0x7777, b"opaque")  # not in the table: kept as bytes
    for key in (None, b"k"):
        data = m.encode(key=key, fingerprint=True)
        p = stun.parse(data)
        for a in m.attrs:
            assert p.get(a[0]) == a[1], stun.attribute_name(a[0])
        assert p.unknown == [0x7777]
        assert p.encode() == data
        if key:
            p.verify(key)
    s = m.encode(key=b"k", sha256=True, fingerprint=True)
    p = stun.parse(s)
    p.verify(b"k")
    raises(lambda: p.verify(b"j"), "STUN MESSAGE-INTEGRITY-SHA256 does not match")
    raises(lambda: stun.parse(m.encode()).verify(b"k"), "STUN message has no MESSAGE-INTEGRITY")


def test_ip_text():
    for text in ("0.0.0.0", "255.255.255.255", "::", "::1", "2001:db8::", "1:0:0:2::3",
                 "2001:db8:0:1:1:1:1:1", "fe80::1:0:0:0"):
        assert stun.ip_from_bytes(stun.ip_to_bytes(text)) == text, text
    assert stun.ip_from_bytes(stun.ip_to_bytes("2001:0db8:0000:0000:0000:0000:0000:0001")) == \
        "2001:db8::1"
    for bad in ("1.2.3", "1.2.3.256", "1..2.3", "a.b.c.d", "1::2::3", "12345::", ":::", "1:2:3",
                "1:2:3:4:5:6:7:8:9", ""):
        raises(lambda: stun.ip_to_bytes(bad), "not an IP address: %r" % bad)


def _msg(body, mtype=b"\x00\x01", length=None):
    n = len(body) if length is None else length
    return mtype + bytes((n >> 8, n & 0xFF)) + b"\x21\x12\xa4\x42" + TID + body


def test_malformed_messages():
    raises(lambda: stun.parse(b"\x00\x01\x00\x00\x21\x12\xa4\x42"),
           "STUN message shorter than the 20-byte header")
    raises(lambda: stun.parse(_msg(b"", mtype=b"\xc0\x01")),
           "STUN message type 0xc001: the first two bits are not zero")
    raises(lambda: stun.parse(b"\x00\x01\x00\x00\x21\x12\xa4\x43" + TID),
           "STUN magic cookie 0x2112a443 is wrong")
    raises(lambda: stun.parse(_msg(b"\x00\x24\x00"), ),
           "STUN message length 3 is not a multiple of 4")
    raises(lambda: stun.parse(_msg(b"", length=8)),
           "STUN message length 8 does not match the 0 bytes after the header")
    raises(lambda: stun.parse(_msg(b"\x00\x24\x00\x08\x00\x00\x00\x01")),
           "STUN attribute 0x0024 at offset 20: length 8 runs past the end of the message")
    raises(lambda: stun.parse(_msg(b"\x00\x06\x00\x05abcd")),
           "STUN attribute 0x0006 at offset 20: length 5 runs past the end of the message")
    raises(lambda: stun.parse(_msg(b"\x00\x24\x00\x03\x00\x00\x00\x00")),
           "STUN PRIORITY: length 3, want 4")
    raises(lambda: stun.parse(_msg(b"\x80\x29\x00\x04\x00\x00\x00\x00")),
           "STUN ICE-CONTROLLED: length 4, want 8")
    raises(lambda: stun.parse(_msg(b"\x00\x25\x00\x04\x00\x00\x00\x00")),
           "STUN USE-CANDIDATE: length 4, want 0")
    raises(lambda: stun.parse(_msg(b"\x00\x20\x00\x04\x00\x03\x00\x00")),
           "STUN XOR-MAPPED-ADDRESS: address family 3 is unknown")
    raises(lambda: stun.parse(_msg(b"\x00\x20\x00\x07\x00\x01\x00\x00\x01\x02\x03\x00")),
           "STUN XOR-MAPPED-ADDRESS: length 7 is wrong for IPv4")
    raises(lambda: stun.parse(_msg(b"\x00\x01\x00\x08\x00\x02\x00\x00\x01\x02\x03\x04")),
           "STUN MAPPED-ADDRESS: length 8 is wrong for IPv6")
    raises(lambda: stun.parse(_msg(b"\x00\x16\x00\x02\x00\x01\x00\x00")),
           "STUN XOR-RELAYED-ADDRESS: length 2 is shorter than 4")
    raises(lambda: stun.parse(_msg(b"\x00\x09\x00\x02\x00\x00\x00\x00")),
           "STUN ERROR-CODE: length 2 is shorter than 4")
    raises(lambda: stun.parse(_msg(b"\x00\x09\x00\x04\x00\x00\x04\x64")),
           "STUN ERROR-CODE: number 100 is over 99")
    raises(lambda: stun.parse(_msg(b"\x00\x08\x00\x10" + bytes(16))),
           "STUN MESSAGE-INTEGRITY: length 16, want 20")
    raises(lambda: stun.parse(_msg(b"\x00\x1c\x00\x0c" + bytes(12))),
           "STUN MESSAGE-INTEGRITY-SHA256: length 12 is not 16..32 in steps of 4")
    raises(lambda: stun.parse(_msg(b"\x00\x0a\x00\x03\x00\x01\x02\x00")),
           "STUN UNKNOWN-ATTRIBUTES: length 3 is odd")
    raises(lambda: stun.parse(_msg(b"\x00\x06\x00\x02\xff\xfe\x00\x00")),
           "STUN USERNAME is not UTF-8")


def test_fingerprint_checks():
    data = stun.Message(stun.BINDING, stun.REQUEST, TID).add(stun.PRIORITY, 1).encode(
        fingerprint=True)
    stun.parse(data)
    bad = data[:-1] + bytes((data[-1] ^ 1,))
    raises(lambda: stun.parse(bad), "STUN FINGERPRINT does not match")
    # FINGERPRINT followed by another attribute
    body = data[20:] + b"\x00\x24\x00\x04\x00\x00\x00\x01"
    raises(lambda: stun.parse(_msg(body)), "STUN FINGERPRINT is not the last attribute")
    raises(lambda: stun.parse(_msg(b"\x80\x28\x00\x08" + bytes(8))),
           "STUN FINGERPRINT: length 8, want 4")



def _length_set(data, extra):
    """DATA (a whole message) with its header's length field counting EXTRA more bytes."""
    n = len(data) - 20 + extra
    return data[:2] + bytes((n >> 8, n & 0xFF)) + data[4:]


def _with_integrity(data, key, sha256=False):
    """DATA followed by MESSAGE-INTEGRITY (or -SHA256, 32 bytes) with KEY (RFC 8489 14.5, 14.6)."""
    head = _length_set(data, 36 if sha256 else 24)
    if sha256:
        return head + b"\x00\x1c\x00\x20" + crypto.hmac_sha256(key, head)
    return head + b"\x00\x08\x00\x14" + crypto.hmac_sha1(key, head)


def _with_fingerprint(data):
    head = _length_set(data, 8)
    return head + b"\x80\x28\x00\x04" + stun.crc_fingerprint(head).to_bytes(4, "big")


def _rfc5769_request_signed():
    """RFC 5769's request (MESSAGE-INTEGRITY, then FINGERPRINT), without its two last
    attributes, its key, and the whole vector: the helpers above rebuild the vector."""
    v = V["request"]
    data = unhex(v["hex"])
    bare = _length_set(data[:-32], 0)  # MESSAGE-INTEGRITY (24 bytes) and FINGERPRINT (8) off
    key = v["password"].encode()
    assert _with_fingerprint(_with_integrity(bare, key)) == data
    return bare, key, data


def test_fingerprint_after_message_integrity():
    # after MESSAGE-INTEGRITY (and after -SHA256, with or without MESSAGE-INTEGRITY before it)
    # FINGERPRINT is read at once (RFC 8489 section 14.5): last, 4 bytes and matching
    bare, key, data = _rfc5769_request_signed()
    for signed in (_with_integrity(bare, key),
                   _with_integrity(_with_integrity(bare, key), key, sha256=True),
                   _with_integrity(bare, key, sha256=True)):
        good = _with_fingerprint(signed)
        m = stun.parse(good)
        assert m.attrs[-1] == [stun.FINGERPRINT, int.from_bytes(good[-4:], "big")]
        m.verify(key)
        bad = good[:-1] + bytes((good[-1] ^ 1,))
        raises(lambda: stun.parse(bad), "STUN FINGERPRINT does not match")
        # not last: an attribute after it (one that would be ignored after MESSAGE-INTEGRITY)
        longer = _length_set(good, 8) + b"\x00\x24\x00\x04\x00\x00\x00\x01"
        raises(lambda: stun.parse(longer), "STUN FINGERPRINT is not the last attribute")
        eight = _length_set(signed, 12) + b"\x80\x28\x00\x08" + good[-4:] + bytes(4)
        raises(lambda: stun.parse(eight), "STUN FINGERPRINT: length 8, want 4")
    # RFC 5769's own request with its FINGERPRINT changed: refused the same way
    raises(lambda: stun.parse(data[:-4] + bytes(4)), "STUN FINGERPRINT does not match")


def _check_agrees(m, key):
    """m.check(KEY), asserted equal to whether m.verify(KEY) passes."""
    try:
        m.verify(key)
        passed = True
    except ValueError:
        passed = False
    got = m.check(key)
    assert got is passed, (got, passed)
    return got


def test_check_agrees_with_verify():
    bare, key, _ = _rfc5769_request_signed()
    other = b"VOkJxbRl1RmTxUk/WvJxBr"
    both = stun.parse(_with_fingerprint(_with_integrity(_with_integrity(bare, key), key, True)))
    assert both.integrity_at >= 0 and both.integrity256_at > both.integrity_at
    # MESSAGE-INTEGRITY alone (check's fast path) and with -SHA256 after it (-SHA256 counts,
    # RFC 8489 section 14.6): bytes keys and prepared ones, right and wrong
    for m in (stun.parse(_with_integrity(bare, key)), both):
        for k in (key, stun.IntegrityKey(key)):
            assert _check_agrees(m, k)
        for k in (other, stun.IntegrityKey(other)):
            assert not _check_agrees(m, k)
    raises(lambda: both.verify(stun.IntegrityKey(other)),
           "STUN MESSAGE-INTEGRITY-SHA256 does not match")
    # MESSAGE-INTEGRITY with one key, -SHA256 with another: only -SHA256's key passes
    mixed = stun.parse(_with_integrity(_with_integrity(bare, key), other, True))
    for k in (key, stun.IntegrityKey(key)):
        assert not _check_agrees(mixed, k)
    for k in (other, stun.IntegrityKey(other)):
        assert _check_agrees(mixed, k)
    # no integrity at all, and a message that was not parsed
    assert not _check_agrees(stun.parse(bare), key)
    assert not _check_agrees(stun.Message(stun.BINDING, stun.REQUEST, TID), key)


def test_prepared_key_in_two_pieces():
    # IntegrityKey.sha1(a, b): the HMAC of a + b, whether the hash states copy or not
    key = stun.IntegrityKey(b"pass")
    a, b = b"\x00\x01\x00\x08", bytes(range(40))
    want = crypto.hmac_sha1(b"pass", a + b)
    assert key.sha1(a + b) == want
    assert key.sha1(a, b) == want
    assert key.sha1(a, memoryview(b)) == want


def test_is_stun():
    bare, key, data = _rfc5769_request_signed()
    assert stun.is_stun(data) and stun.is_stun(memoryview(data)) and stun.is_stun(bare)
    for i, x in ((0, 0x40), (4, 0x20), (5, 0x13), (6, 0xA5), (7, 0x43), (3, 0x04)):
        b = bytearray(data)
        b[i] ^= x if i == 0 else 1
        assert not stun.is_stun(bytes(b)), i
    assert not stun.is_stun(data[:19]) and not stun.is_stun(data + bytes(4))
    zrtp = b"\x10\x00\x00\x01\x5a\x52\x54\x50" + bytes(12)  # ZRTP's cookie (RFC 6189 5)
    assert not stun.is_stun(zrtp)
    if hasattr(gc, "mem_alloc"):  # MicroPython: no heap per datagram (it runs for each one)
        gc.collect()
        gc.disable()
        try:
            before = gc.mem_alloc()
            for _ in range(20):
                stun.is_stun(data)
                stun.is_stun(zrtp)
            grown = gc.mem_alloc() - before
        finally:
            gc.enable()
        assert grown == 0, "is_stun allocated %d bytes" % grown


def test_integrity_covers_the_message():
    key = b"pass"
    data = stun.Message(stun.BINDING, stun.REQUEST, TID).add(stun.USERNAME, "a:b").encode(
        key=key)
    m = stun.parse(data)
    m.verify(key)
    flipped = bytearray(data)
    flipped[25] ^= 1  # a byte of USERNAME
    raises(lambda: stun.parse(bytes(flipped)).verify(key), "STUN MESSAGE-INTEGRITY does not match")
    # attributes after MESSAGE-INTEGRITY are ignored (RFC 8489 section 14.5)
    extra = data[20:] + b"\x00\x24\x00\x04\x00\x00\x00\x07"
    m = stun.parse(_msg(extra))
    assert not m.has(stun.PRIORITY)
    m.verify(key)


def test_transaction_schedule():
    # RFC 8489 section 6.2.1: RTO 500 ms, Rc 7, Rm 16: sends at 0, 500, 1500, 3500, 7500, 15500,
    # 31500 ms, timeout at 39500 ms
    tx = stun.Transaction(None, b"req", ("192.0.2.1", 3478), 0)
    sends = [0]
    while True:
        t = tx.deadline
        if tx.due(t) is None:
            break
        sends.append(t)
    assert sends == [0, 500, 1500, 3500, 7500, 15500, 31500], sends
    assert t == 39500 and tx.timed_out
    tx = stun.Transaction(None, b"req", ("192.0.2.1", 3478), 1000, rto=100, rc=3, rm=4)
    assert tx.due(tx.deadline) == b"req" and tx.deadline == 1300
    assert tx.due(tx.deadline) == b"req" and tx.deadline == 1700
    assert tx.due(tx.deadline) is None and tx.timed_out


def test_demux_channel_data():
    for first in (0x40, 0x4F):
        assert rtp.demux(bytes((first, 0x00, 0x00, 0x00))) == rtp.PACKET_CHANNEL_DATA
    assert rtp.demux(b"\x50\x00\x00\x00") == rtp.PACKET_UNKNOWN  # 80: not ChannelData
    assert rtp.demux(b"\x3f\x00\x00\x00") == rtp.PACKET_UNKNOWN
    assert rtp.demux(b"\x40\x00\x00") == rtp.PACKET_UNKNOWN  # shorter than the header
    req = stun.Message(stun.BINDING, stun.REQUEST, TID).encode(fingerprint=True)
    assert rtp.demux(req) == rtp.PACKET_STUN

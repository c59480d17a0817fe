"""Our STUN codec against aioice's (an independent implementation): our messages parse in
aioice and aioice's in ours, byte for byte both ways; and a Hypothesis fuzz of our parser."""
import os
import sys

from aioice import stun as astun
from hypothesis import given, settings
from hypothesis import strategies as st

from hostenv import FIRMWARE

sys.path.insert(0, str(FIRMWARE))
import zerotap  # noqa: E402,F401
from zerotap.ice import stun  # noqa: E402

KEY = b"0123456789abcdefghijklmn"

# (our type, aioice name, a value in our form, the same value in aioice's form)
SAMPLES = [
    (stun.USERNAME, "USERNAME", "rfrag:lfrag", "rfrag:lfrag"),
    (stun.PRIORITY, "PRIORITY", 1862270975, 1862270975),
    (stun.ICE_CONTROLLING, "ICE-CONTROLLING", 0x932FF9B151263B36, 0x932FF9B151263B36),
    (stun.ICE_CONTROLLED, "ICE-CONTROLLED", 1, 1),
    (stun.USE_CANDIDATE, "USE-CANDIDATE", None, None),
    (stun.XOR_MAPPED_ADDRESS, "XOR-MAPPED-ADDRESS", ("192.0.2.1", 32853), ("192.0.2.1", 32853)),
    (stun.XOR_PEER_ADDRESS, "XOR-PEER-ADDRESS", ("2001:db8::1", 9), ("2001:db8::1", 9)),
    (stun.XOR_RELAYED_ADDRESS, "XOR-RELAYED-ADDRESS", ("198.51.100.7", 49152),
     ("198.51.100.7", 49152)),
    (stun.MAPPED_ADDRESS, "MAPPED-ADDRESS", ("203.0.113.5", 1), ("203.0.113.5", 1)),
    (stun.ERROR_CODE, "ERROR-CODE", (487, "Role Conflict"), (487, "Role Conflict")),
    (stun.REALM, "REALM", "zerotap.test", "zerotap.test"),
    (stun.NONCE, "NONCE", b"abcdef0123", b"abcdef0123"),
    (stun.LIFETIME, "LIFETIME", 600, 600),
    (stun.REQUESTED_TRANSPORT, "REQUESTED-TRANSPORT", 17, 17 << 24),
    (stun.CHANNEL_NUMBER, "CHANNEL-NUMBER", 0x4001, 0x4001),
    (stun.DATA_ATTR, "DATA", b"\x80\x00payload", b"\x80\x00payload"),
    (stun.SOFTWARE, "SOFTWARE", "zerotap 0.1", "zerotap 0.1"),
]

METHODS = [(stun.BINDING, astun.Method.BINDING), (stun.ALLOCATE, astun.Method.ALLOCATE),
           (stun.CHANNEL_BIND, astun.Method.CHANNEL_BIND), (stun.SEND, astun.Method.SEND)]
CLASSES = [(stun.REQUEST, astun.Class.REQUEST), (stun.SUCCESS, astun.Class.RESPONSE),
           (stun.ERROR, astun.Class.ERROR), (stun.INDICATION, astun.Class.INDICATION)]


def _subsets():
    yield SAMPLES
    for i in range(0, len(SAMPLES), 3):
        yield SAMPLES[i:i + 4]


def test_ours_parse_in_aioice():
    for method, amethod in METHODS:
        for cls, acls in CLASSES:
            for attrs in _subsets():
                m = stun.Message(method, cls, os.urandom(12))
                for t, _, v, _ in attrs:
                    m.add(t, v)
                data = m.encode(key=KEY, fingerprint=True)
                a = astun.parse_message(data)
                assert (a.message_method, a.message_class) == (amethod, acls)
                assert a.transaction_id == m.tid
                for _, name, _, av in attrs:
                    assert a.attributes[name] == av, name
                assert a.check_message_integrity(KEY)
                assert bytes(a) == data  # aioice writes back the same bytes
                plain = m.encode()
                assert bytes(astun.parse_message(plain)) == plain


def test_aioice_parse_in_ours():
    for method, amethod in METHODS:
        for cls, acls in CLASSES:
            for attrs in _subsets():
                a = astun.Message(amethod, acls)
                for _, name, _, av in attrs:
                    a.attributes[name] = av
                a.add_message_integrity(KEY)
                data = bytes(a)
                m = stun.parse(data)
                assert (m.method, m.cls, m.tid) == (method, cls, a.transaction_id)
                for t, _, v, _ in attrs:
                    assert m.get(t) == v, stun.attribute_name(t)
                m.verify(KEY)
                assert m.encode() == data
                assert m.encode(key=KEY, fingerprint=True) == data


def test_aioice_sample_files():
    # the binary samples in aioice's own test suite are not shipped; build aioice's ICE checks
    a = astun.Message(astun.Method.BINDING, astun.Class.REQUEST)
    a.attributes["USERNAME"] = "AYeZ:sw7YvCSbcVex3bhi"
    a.attributes["PRIORITY"] = 1685987071
    a.attributes["SOFTWARE"] = "FireFox (WebRTC)"
    a.attributes["ICE-CONTROLLING"] = 5943294521425135761
    a.attributes["USE-CANDIDATE"] = None
    a.add_message_integrity(b"1Ixpp1LhzVVXZUj3Tdi1Ff")
    data = bytes(a)
    m = stun.parse(data)
    m.verify(b"1Ixpp1LhzVVXZUj3Tdi1Ff")
    assert m.has(stun.USE_CANDIDATE) and m.get(stun.ICE_CONTROLLING) == 5943294521425135761


@settings(max_examples=1500, deadline=None)
@given(st.binary(max_size=200))
def test_fuzz_random_bytes(data):
    try:
        m = stun.parse(data)
    except ValueError:
        return
    if m.integrity_at < 0 and m.integrity256_at < 0:
        assert m.encode() == data


_attr = st.tuples(st.integers(0, 0xFFFF), st.binary(max_size=40))


@settings(max_examples=1500, deadline=None)
@given(st.integers(0, 0x3FFF), st.binary(min_size=12, max_size=12), st.lists(_attr, max_size=6),
       st.integers(0, 3), st.integers(0, 255))
def test_fuzz_structured(mtype, tid, attrs, cut, flip):
    """Well-framed messages with random attribute types and values, some cut or with a byte
    flipped: parse either refuses with ValueError or gives a message that encodes back."""
    body = b""
    for t, v in attrs:
        body += t.to_bytes(2, "big") + len(v).to_bytes(2, "big") + v + bytes(-len(v) % 4)
    data = mtype.to_bytes(2, "big") + len(body).to_bytes(2, "big") + \
        b"\x21\x12\xa4\x42" + tid + body
    if cut == 1:
        data = data[:-1 - flip % 8]
    elif cut == 2 and len(data) > 20:
        b = bytearray(data)
        b[20 + flip % (len(data) - 20)] ^= 0xFF
        data = bytes(b)
    try:
        m = stun.parse(data)
    except ValueError as e:
        assert str(e).startswith("STUN ")
        return
    if m.integrity_at < 0 and m.integrity256_at < 0:
        assert m.encode() == data
    m.check(KEY)  # never raises

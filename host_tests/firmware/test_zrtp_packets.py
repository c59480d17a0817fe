"""ZRTP packets: bzrtp's CRC vectors and DH3k wire trace round-trip byte for byte; every message
type builds and parses; malformed packets give precise errors."""
from support import each_backend, raises
from vectors import load, unhex

from zerotap import crypto
from zerotap.zrtp import packets

TRACE = load("zrtp_bzrtp_dh3k_trace.json")


def test_crc_vectors_from_bzrtp():
    vs = load("zrtp_crc.json")["vectors"]
    assert len(vs) == 3
    for v in vs:
        data = unhex(v["data"])
        wire = unhex(v["crc_wire"])
        for name, backend in each_backend():
            crc = backend.crc32c(data)
            assert bytes((crc & 0xFF, (crc >> 8) & 0xFF, (crc >> 16) & 0xFF, crc >> 24)) == wire, name  # little-endian
        # frame() writes the same CRC field, and unframe() accepts the packet
        seq, ssrc, message = packets.unframe(data + wire)
        assert packets.frame(seq, ssrc, message) == data + wire


def test_bzrtp_trace_round_trips_byte_for_byte():
    types = []
    for p in TRACE["packets"]:
        raw = unhex(p["packet"])
        seq, ssrc, msg = packets.parse_packet(raw)
        assert seq == p["sequence"]
        assert ssrc == int(p["ssrc"], 16)
        assert msg.name == p["type"]
        assert msg.encode() == raw[12:-4]
        assert packets.frame(seq, ssrc, msg.encode()) == raw
        types.append(msg.name)
    assert types == ["Hello", "Hello", "HelloACK", "Commit", "DHPart1", "DHPart2", "Confirm1", "Confirm2", "Conf2ACK"]


def _trace():
    out = {}
    for p in TRACE["packets"]:
        raw = unhex(p["packet"])
        out[(p["type"], p["ssrc"])] = packets.parse(raw[12:-4])
    return out


def test_bzrtp_trace_fields():
    m = _trace()
    hello = m[("Hello", "12345678")]
    assert hello.version == b"1.10"
    assert hello.client_id == b"LINPHONE-ZRTPCPP"
    assert hello.hashes == [b"S256"]
    assert hello.key_agreements == [b"DH3k", b"DH2k", b"Mult"]
    assert hello.sas_types == [b"B32 "]
    commit = m[("Commit", "87654321")]
    assert (commit.hash, commit.cipher, commit.key_agreement, commit.sas) == (b"S256", b"AES1", b"DH3k", b"B32 ")
    assert commit.zid == m[("Hello", "87654321")].zid
    assert len(m[("DHPart1", "12345678")].pv) == 384
    assert len(m[("DHPart2", "87654321")].pv) == 384


def test_bzrtp_trace_hash_chain_and_macs():
    from zerotap.zrtp import keys

    m = _trace()
    chains = TRACE["hash_chain"]
    for ssrc in ("12345678", "87654321"):
        h = [unhex(x) for x in chains[ssrc]]
        assert keys.hash_chain(h[0]) == h
        hello = m[("Hello", ssrc)]
        assert hello.h3 == h[3]
        assert packets.mac_ok(hello.raw, h[2])  # Hello MAC keyed with H2
        assert not packets.mac_ok(hello.raw, h[1])
        assert packets.seal(hello.raw, h[2]) == hello.raw
    hi = [unhex(x) for x in chains["87654321"]]  # the initiator
    hr = [unhex(x) for x in chains["12345678"]]  # the responder
    commit = m[("Commit", "87654321")]
    assert commit.h2 == hi[2] and packets.mac_ok(commit.raw, hi[1])
    d1 = m[("DHPart1", "12345678")]
    assert d1.h1 == hr[1] and packets.mac_ok(d1.raw, hr[0])
    d2 = m[("DHPart2", "87654321")]
    assert d2.h1 == hi[1] and packets.mac_ok(d2.raw, hi[0])


def test_bzrtp_trace_hvi():
    from zerotap.zrtp import algorithms, keys

    m = _trace()
    commit = m[("Commit", "87654321")]
    hvi = keys.hvi(algorithms.Hash(b"S256"), m[("DHPart2", "87654321")].raw, m[("Hello", "12345678")].raw)
    assert hvi == commit.hvi
    hvi_wrong = keys.hvi(algorithms.Hash(b"S256"), m[("DHPart2", "87654321")].raw, m[("Hello", "87654321")].raw)
    assert hvi_wrong != commit.hvi


def test_bzrtp_trace_confirm_decryption_and_reencryption():
    m = _trace()
    chains = TRACE["hash_chain"]
    for typ, ssrc, zk, mk in (("Confirm1", "12345678", "zrtpkeyr", "mackeyr"),
                              ("Confirm2", "87654321", "zrtpkeyi", "mackeyi")):
        c = m[(typ, ssrc)]
        body = c.open(unhex(TRACE[zk]), unhex(TRACE[mk]), crypto.hmac_sha256)
        assert body.h0 == unhex(chains[ssrc][0])
        assert (body.e, body.v, body.a, body.d) == (False, False, False, False)
        assert body.expiry == 0xFFFFFFFF
        assert body.signature == b""
        again = packets.Confirm.seal(c.part, body, c.iv, unhex(TRACE[zk]), unhex(TRACE[mk]), crypto.hmac_sha256)
        assert again.encode() == c.raw
        # the other side's keys do not open it
        other_mk = "mackeyi" if mk == "mackeyr" else "mackeyr"
        assert not c.mac_ok(unhex(TRACE[other_mk]), crypto.hmac_sha256)
        raises(lambda: c.open(unhex(TRACE[zk]), unhex(TRACE[other_mk]), crypto.hmac_sha256),
                "%s: confirm_mac does not match" % typ)


def test_hello_hash_vectors():
    from zerotap.zrtp import keys

    import binascii
    m = _trace()
    for ssrc in ("12345678", "87654321"):
        want = TRACE["hello_hash"][ssrc]
        got = "1.10 " + binascii.hexlify(keys.hello_hash(m[("Hello", ssrc)].raw)).decode()
        assert got == want
    v = load("zrtp_hello_hash.json")
    raw = unhex(v["packet"])
    seq, ssrc, hello = packets.parse_packet(raw)  # a libzrtpcpp Hello
    assert hello.client_id == b"PJS ZRTP 3.0.0  "
    assert packets.frame(seq, ssrc, hello.encode()) == raw
    got = "1.10 " + binascii.hexlify(keys.hello_hash(hello.raw)).decode()
    assert got == v["zrtp_hash"]
    assert got != v["wrong_zrtp_hash"]


def _frame(message, seq=7, ssrc=0x01020304):
    return packets.frame(seq, ssrc, message)


def test_every_message_type_builds_and_round_trips():
    key = bytes(range(32))
    iv = bytes(range(16, 32))
    msgs = [
        packets.Hello(packets.VERSION, b"ZeroTap         ", bytes(32), bytes(range(12)), False, True, True,
                      [b"S256", b"S384"], [b"AES1"], [b"HS80", b"HS32"], [b"X255", b"DH3k", b"Mult"],
                      [b"B32 ", b"B256"], bytes(8)),
        packets.Ack(packets.HELLOACK),
        packets.Commit(bytes(32), bytes(12), b"S256", b"AES1", b"HS32", b"DH3k", b"B32 ", hvi=bytes(range(32))),
        packets.Commit(bytes(32), bytes(12), b"S256", b"AES1", b"HS32", b"Mult", b"B32 ", nonce=bytes(range(16))),
        packets.Commit(bytes(32), bytes(12), b"S256", b"AES1", b"HS32", b"Prsh", b"B32 ", nonce=bytes(16),
                       key_id=b"keyid123"),
        packets.DHPart(1, bytes(32), b"1" * 8, b"2" * 8, b"3" * 8, b"4" * 8, bytes(range(32)), b"m" * 8),
        packets.DHPart(2, bytes(32), b"1" * 8, b"2" * 8, b"3" * 8, b"4" * 8, bytes(384), b"m" * 8),
        packets.Confirm.seal(1, packets.ConfirmBody(bytes(32), False, True, False, True, 3600), iv, key[:16], key,
                             crypto.hmac_sha256),
        packets.Confirm.seal(2, packets.ConfirmBody(bytes(32), True, False, True, False, 0, b"X509abcd"), iv, key,
                             key, crypto.hmac_sha384),
        packets.Ack(packets.CONF2ACK),
        packets.Error(0x61),
        packets.Ack(packets.ERRORACK),
        packets.GoClear(b"clearmac"),
        packets.Ack(packets.CLEARACK),
        packets.SasRelay.seal(packets.SasRelayBody(True, False, True, b"B256", bytes(range(32))), iv, key[:16], key,
                              crypto.hmac_sha256),
        packets.Ack(packets.RELAYACK),
        packets.Ping(packets.VERSION, b"endpoint"),
        packets.PingAck(packets.VERSION, b"endpoint", b"received", 0xCAFEBABE),
    ]
    names = []
    for msg in msgs:
        encoded = msg.encode()
        raw = _frame(encoded)
        seq, ssrc, back = packets.parse_packet(raw)
        assert (seq, ssrc) == (7, 0x01020304)
        assert back.TYPE == msg.TYPE
        assert back.encode() == encoded
        assert _frame(back.encode()) == raw
        names.append(back.name)
    assert names == ["Hello", "HelloACK", "Commit", "Commit", "Commit", "DHPart1", "DHPart2", "Confirm1", "Confirm2",
                     "Conf2ACK", "Error", "ErrorACK", "GoClear", "ClearACK", "SASrelay", "RelayACK", "Ping", "PingACK"]


def test_parsed_fields():
    h = packets.Hello(packets.VERSION, b"ZeroTap         ", b"h" * 32, b"z" * 12, True, False, True, [b"S256"], [],
                      [], [b"X255", b"Mult"], [b"B32 "], b"m" * 8)
    back = packets.parse(h.encode())
    assert (back.s, back.m, back.p) == (True, False, True)
    assert back.key_agreements == [b"X255", b"Mult"] and back.ciphers == [] and back.mac == b"m" * 8
    c = packets.parse(packets.Commit(b"h" * 32, b"z" * 12, b"S384", b"AES3", b"HS80", b"Mult", b"B256",
                                     nonce=b"n" * 16, mac=b"m" * 8).encode())
    assert c.multistream and not c.preshared and c.nonce == b"n" * 16 and c.hvi is None and c.mac == b"m" * 8
    e = packets.parse(packets.Error(0x100).encode())
    assert e.code == 0x100 and e.text == "GoClear message received, but not allowed"
    a = packets.parse(packets.PingAck(packets.VERSION, b"a" * 8, b"b" * 8, 0x12345678).encode())
    assert (a.endpoint_hash, a.received_hash, a.ssrc) == (b"a" * 8, b"b" * 8, 0x12345678)
    key = bytes(16)
    s = packets.SasRelay.seal(packets.SasRelayBody(True, True, False, b"B32 ", b"s" * 32, b"PGP sig."), bytes(16),
                              key, key, crypto.hmac_sha256)
    body = packets.parse(s.encode()).open(key, key, crypto.hmac_sha256)
    assert (body.v, body.a, body.d, body.scheme, body.sashash, body.signature) == (True, True, False, b"B32 ",
                                                                                    b"s" * 32, b"PGP sig.")


def test_retransmission_reframes_with_a_new_sequence_number():
    raw = unhex(TRACE["packets"][0]["packet"])
    again = packets.reframe(raw, 0x0123)
    seq, ssrc, message = packets.unframe(again)
    assert seq == 0x0123 and again[4:-4] == raw[4:-4] and again[-4:] != raw[-4:]


def test_malformed_packets_give_precise_errors():
    good = unhex(TRACE["packets"][2]["packet"])  # a 28-byte HelloACK
    raises(lambda: packets.unframe(good[:27]), "ZRTP packet too short: 27 bytes, need at least 28")
    raises(lambda: packets.unframe(bytes(3076)), "ZRTP packet too long: 3076 bytes, at most 3072")
    raises(lambda: packets.unframe(good + b"\0\0"), "ZRTP packet length 30 is not a multiple of 4")
    raises(lambda: packets.unframe(b"\x20" + good[1:]), "ZRTP packet: first nibble is 2, must be 1")
    raises(lambda: packets.unframe(good[:4] + b"ZRTQ" + good[8:]), "ZRTP packet: no magic cookie")
    raises(lambda: packets.unframe(good[:-1] + bytes((good[-1] ^ 1,))), "ZRTP packet: bad CRC")
    msg = good[12:-4]
    raises(lambda: packets.unframe(_frame(b"QZ" + msg[2:])), "ZRTP message: bad preamble 0x515a, must be 0x505a")
    raises(lambda: packets.unframe(_frame(msg[:3] + b"\x04" + msg[4:])),
            "ZRTP message: length field says 4 words, the packet holds 3")
    raises(lambda: packets.parse(msg[:4] + b"Hullo   "), "ZRTP message: unknown type b'Hullo   '")
    raises(lambda: packets.parse(packets.header(packets.HELLOACK, 16) + bytes(4)), "HelloACK must be 12 bytes, got 16")
    raises(lambda: packets.parse(packets.header(packets.ERROR, 12)), "Error must be 16 bytes, got 12")
    raises(lambda: packets.parse(packets.header(packets.GOCLEAR, 24) + bytes(12)), "GoClear must be 20 bytes, got 24")
    raises(lambda: packets.parse(packets.header(packets.PING, 28) + bytes(16)), "Ping must be 24 bytes, got 28")
    raises(lambda: packets.parse(packets.header(packets.PINGACK, 32) + bytes(20)), "PingACK must be 36 bytes, got 32")
    hello = unhex(TRACE["packets"][0]["packet"])[12:-4]
    raises(lambda: packets.parse(hello[:2] + b"\x00\x14" + hello[4:80]), "Hello too short: 80 bytes, need at least 88")
    bad_count = hello[:79] + bytes((hello[79] + 1,)) + hello[80:]
    raises(lambda: packets.parse(bad_count), "Hello: length 120 bytes does not match its algorithm counts (124 bytes)")
    eight = hello[:77] + b"\x08" + hello[78:]
    raises(lambda: packets.parse(eight), "Hello: hash count 8 exceeds 7")
    commit = unhex(TRACE["packets"][3]["packet"])[12:-4]
    mult = commit[:2] + b"\x00\x1d" + commit[4:68] + b"Mult" + commit[72:]
    raises(lambda: packets.parse(mult), "Commit with key agreement b'Mult' must be 100 bytes, got 116")
    raises(lambda: packets.parse(commit[:2] + b"\x00\x18" + commit[4:96]), "Commit too short: 96 bytes, need at least 100")
    dh = unhex(TRACE["packets"][4]["packet"])[12:-4]
    raises(lambda: packets.parse(dh[:2] + b"\x00\x15" + dh[4:84]), "DHPart1 too short: 84 bytes, need at least 88")
    conf = unhex(TRACE["packets"][6]["packet"])[12:-4]
    raises(lambda: packets.parse(conf[:2] + b"\x00\x12" + conf[4:72]), "Confirm1 too short: 72 bytes, need at least 76")
    raises(lambda: packets.frame(0x10000, 1, msg), "ZRTP sequence number 65536 out of range")


def test_bad_encrypted_parts_give_precise_errors():
    key = bytes(16)
    # sig len 2 words, but no signature behind it
    bad = packets.ConfirmBody(bytes(32)).encode()
    bad = bad[:34] + b"\x02" + bad[35:]
    ct = crypto.aes_cfb_encrypt(key, bytes(16), bad)
    c = packets.Confirm(1, crypto.hmac_sha256(key, ct)[:8], bytes(16), ct)
    raises(lambda: c.open(key, key, crypto.hmac_sha256),
            "Confirm1: signature length 2 words does not match the 40 encrypted bytes")
    ct = crypto.aes_cfb_encrypt(key, bytes(16), bytes(40))
    s = packets.SasRelay(crypto.hmac_sha256(key, ct)[:8], bytes(16), ct)
    raises(lambda: s.open(key, bytes(1) + key[1:] + b"x", crypto.hmac_sha256), "SASrelay: MAC does not match")


def test_builders_check_field_lengths():
    raises(lambda: packets.Hello(zid=b"short").encode(), "Hello client identifier must be 16 bytes, got 0")
    raises(lambda: packets.Commit(bytes(32), bytes(12), b"S256", b"AES1", b"HS32", b"DH3k", b"B32 ").encode(),
            "Commit hvi must be 32 bytes, got 0")
    raises(lambda: packets.DHPart(1, bytes(32), bytes(8), bytes(8), bytes(8), bytes(8), bytes(3)).encode(),
            "DHPart1 public value must be a non-empty multiple of 4 bytes, got 3")
    raises(lambda: packets.Hello(packets.VERSION, bytes(16), bytes(32), bytes(12), hashes=[b"S256"] * 8).encode(),
            "Hello: at most 7 algorithms per family, got 8")

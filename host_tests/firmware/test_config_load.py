"""CONFIG.json: a good config loads; every refusal names the key at fault."""
import json

from support import config_refused
from zerotap import config


def _good():
    return {
        "phone": {"sip": "127.0.0.1:5070", "allow": ["127.0.0.1", "10.1.0.0/16", "::1"],
                  "rtp": "40000-40099"},
        "network": {"sip": "127.0.0.1:5080", "rtp": "42000-42099"},
    }


def test_minimal_config_gets_defaults():
    cfg = config.parse(_good())
    assert (cfg.phone.host, cfg.phone.port, cfg.phone.rtp) == ("127.0.0.1", 5070, (40000, 40099))
    assert (cfg.network.host, cfg.network.port) == ("127.0.0.1", 5080)
    assert cfg.network.address == "127.0.0.1"
    assert cfg.network.proxy is None and cfg.media.clear == "pass" and cfg.status == "-"
    assert cfg.zrtp.key_agreement == ["X255", "E255", "EC25", "DH3k"]
    assert cfg.control == ("127.0.0.1", 5079)


def test_full_config_from_json_text():
    obj = _good()
    obj["network"]["proxy"] = "sip.example.org:5060"
    obj["phone"]["contact"] = "sip:desk@127.0.0.1:5062"
    obj["zrtp"] = {"key_agreement": ["X255", "DH3k"], "cache": "/tmp/zc", "sas": ["B256"]}
    obj["media"] = {"clear": "block"}
    obj["status"] = "/tmp/status.jsonl"
    obj["control"] = "[::1]:6000"
    cfg = config.loads(json.dumps(obj))
    assert cfg.network.proxy == ("sip.example.org", 5060)
    assert cfg.phone.contact == "sip:desk@127.0.0.1:5062"
    assert cfg.zrtp.key_agreement == ["X255", "DH3k"] and cfg.zrtp.sas == ["B256"]
    assert cfg.zrtp.cache == "/tmp/zc" and cfg.media.clear == "block"
    assert cfg.control == ("::1", 6000)


def test_ipv6_sockets():
    obj = _good()
    obj["phone"]["sip"] = "[::1]:5070"
    obj["network"]["sip"] = "[2001:db8::1]:5080"
    cfg = config.parse(obj)
    assert (cfg.phone.host, cfg.phone.port) == ("::1", 5070)
    assert cfg.network.host == "2001:db8::1"


def test_allow_matches_addresses_and_cidrs():
    obj = _good()
    obj["phone"]["allow"] = ["192.168.1.0/24", "10.0.0.7", "2001:db8::/32", "172.16.0.0/12"]
    allow = config.parse(obj).phone.allow
    for host in ("192.168.1.1", "192.168.1.255", "10.0.0.7", "2001:db8:1::5", "172.31.255.1",
                 "::ffff:192.168.1.9"):
        assert host in allow, host
    for host in ("192.168.2.1", "10.0.0.8", "2001:db9::1", "172.32.0.1", "garbage", "::1"):
        assert host not in allow, host


def test_unknown_keys_areconfig_refused():
    obj = _good()
    obj["phone"]["alow"] = []
    config_refused(obj, "phone.alow", "unknown key")
    obj = _good()
    obj["media"] = {"clear": "pass", "loud": 1}
    config_refused(obj, "media.loud", "unknown key")
    obj = _good()
    obj["zrtp_cache"] = "x"
    config_refused(obj, "zrtp_cache", "unknown key")


def test_missing_keys_are_named():
    obj = _good()
    del obj["phone"]["allow"]
    config_refused(obj, "phone.allow", "missing")
    obj = _good()
    del obj["network"]
    config_refused(obj, "network", "missing")
    obj = _good()
    del obj["network"]["rtp"]
    config_refused(obj, "network.rtp", "missing")


def test_wrong_types_are_named():
    obj = _good()
    obj["phone"]["allow"] = "127.0.0.1"
    config_refused(obj, "phone.allow", "must be a list of addresses or CIDRs, not a string")
    obj = _good()
    obj["phone"]["sip"] = 5070
    config_refused(obj, "phone.sip", "must be a string 'host:port', not a number")
    obj = _good()
    obj["media"] = {"clear": True}
    config_refused(obj, "media.clear", "must be a string, not a boolean")
    obj = _good()
    obj["zrtp"] = {"cipher": "AES1"}
    config_refused(obj, "zrtp.cipher", "must be a list of ZRTP algorithm names, not a string")


def test_bad_addresses_are_named():
    cases = [
        (("phone", "sip"), "127.0.0.256:5070", "phone.sip", "bad IPv4 address '127.0.0.256'"),
        (("phone", "sip"), "127.0.0.1", "phone.sip", "bad address '127.0.0.1': want host:port"),
        (("phone", "sip"), "127.0.0.1:70000", "phone.sip", "bad port '70000'"),
        (("phone", "sip"), "[::1:5070", "phone.sip", "bad address '[::1:5070': want [IPv6]:port"),
        (("network", "sip"), "[fe80::1::2]:5", "network.sip", "bad IPv6 address 'fe80::1::2'"),
        (("network", "sip"), "box.local:5080", "network.sip", "bad IPv4 address 'box.local'"),
        (("network", "proxy"), "bad host:5060", "network.proxy", "bad host 'bad host'"),
        (("phone", "rtp"), "40000", "phone.rtp", "bad port range '40000': want LOW-HIGH"),
        (("phone", "rtp"), "40-99", "phone.rtp",
         "bad port range '40-99': want 1024 <= LOW < HIGH <= 65535"),
        (("phone", "contact"), "tel:123", "phone.contact", "bad SIP URI 'tel:123'"),
    ]
    for (side, key), value, name, text in cases:
        obj = _good()
        obj[side][key] = value
        config_refused(obj, name, text)
    obj = _good()
    obj["phone"]["allow"] = ["127.0.0.1", "10.0.0.0/33"]
    config_refused(obj, "phone.allow[1]", "bad address or CIDR '10.0.0.0/33'")
    obj = _good()
    obj["phone"]["allow"] = ["1.2.3"]
    config_refused(obj, "phone.allow[0]", "bad address or CIDR '1.2.3'")
    obj = _good()
    obj["control"] = "10.0.0.1:5079"
    config_refused(obj, "control", "must be a loopback address, not '10.0.0.1'")
    obj = _good()
    obj["network"]["sip"] = "0.0.0.0:5080"
    config_refused(obj, "network.address", "missing: network.sip binds the wildcard address")


def test_bad_values_are_named():
    obj = _good()
    obj["media"] = {"clear": "loud"}
    config_refused(obj, "media.clear", "must be one of pass, mute, block, not 'loud'")
    obj = _good()
    obj["zrtp"] = {"key_agreement": ["DH3k", "DH9k"]}
    config_refused(obj, "zrtp.key_agreement[1]",
                   "unknown algorithm 'DH9k' (known: DH3k, DH2k, EC25, EC38, X255, E255, Mult)")
    obj = _good()
    obj["zrtp"] = {"sas": ["B32", "B32"]}
    config_refused(obj, "zrtp.sas[1]", "'B32' listed twice")
    obj = _good()
    obj["network"]["sip"] = "127.0.0.1:5070"
    config_refused(obj, "network.sip", "same socket as phone.sip")
    obj = _good()
    obj["network"]["rtp"] = "40050-40200"
    config_refused(obj, "network.rtp", "overlaps phone.rtp on the same address")


def test_an_rtp_range_without_an_even_odd_pair_is_refused():
    # RTP takes an even port and RTCP the next odd one (RFC 3550 section 11): a range with no
    # such pair is refused at load, naming the key, not when the first call finds no port
    for side, value in (("phone", "40001-40002"), ("network", "42001-42002"),
                        ("phone", "65533-65534")):
        obj = _good()
        obj[side]["rtp"] = value
        config_refused(obj, side + ".rtp", "bad port range %r: no even/odd port pair "
                       "(RTP, RTCP) in it" % value)
    for value in ("40001-40001", "40002-40002"):  # a single port, odd or even
        obj = _good()
        obj["phone"]["rtp"] = value
        config_refused(obj, "phone.rtp",
                       "bad port range %r: want 1024 <= LOW < HIGH <= 65535" % value)
    for value, pair in (("40000-40001", (40000, 40001)), ("40001-40003", (40001, 40003)),
                        ("65534-65535", (65534, 65535))):
        obj = _good()
        obj["phone"]["rtp"] = value
        assert config.parse(obj).phone.rtp == pair


def test_not_json_and_not_an_object():
    try:
        config.loads("{nope")
        raise AssertionError("accepted bad JSON")
    except config.ConfigError as e:
        assert e.key == "config" and str(e).startswith("config: not valid JSON")
    config_refused([], "config", "must be an object, not a list")


def test_zrtp_defaults_have_one_home():
    # the README's documented offer; the config and the engine's default Offer both take it from
    # zerotap.zrtp.algorithms
    from zerotap.zrtp import algorithms

    cfg = config.parse(_good())
    documented = {"key_agreement": ["X255", "E255", "EC25", "DH3k"], "cipher": ["AES1", "AES3"],
                  "hash": ["S256"], "auth": ["HS80", "HS32"], "sas": ["B32", "B256"]}
    for kind in config.ZRTP_FAMILIES:
        assert getattr(cfg.zrtp, kind) == documented[kind], kind
        assert list(algorithms.DEFAULTS[kind]) == documented[kind], kind
    offer = algorithms.Offer()
    assert [algorithms.text(h) for h in offer.hashes] == documented["hash"]
    assert [algorithms.text(k) for k in offer.key_agreements] == documented["key_agreement"]
    assert cfg.zrtp.cache == "zerotap-cache"


def test_numbers_in_addresses_are_ascii_digits():
    # CPython's str.isdigit() is true for '²' and '٣': int('²') raised a bare ValueError (the
    # web page's save answered 500, a box at boot named no key) and '٣' passed as 3
    cases = [  # (the texts as repr() gives them: MicroPython escapes what CPython prints)
        (("phone", "sip"), "127.0.0.1:50\u00b2", "phone.sip", "bad port %r" % "50\u00b2"),
        (("network", "sip"), "127.0.0.\u0663:5080", "network.sip",
         "bad IPv4 address %r" % "127.0.0.\u0663"),
        (("phone", "rtp"), "4000\u00b2-40099", "phone.rtp",
         "bad port range %r: want LOW-HIGH" % "4000\u00b2-40099"),
        (("phone", "allow"), ["10.0.0.0/\u00b2"], "phone.allow[0]",
         "bad address or CIDR %r" % "10.0.0.0/\u00b2"),
    ]
    for (side, key), value, name, text in cases:
        obj = _good()
        obj[side][key] = value
        config_refused(obj, name, text)
    try:
        config.loads(json.dumps(dict(_good(), control="127.0.0.1:\u00b2")))
        raise AssertionError("accepted")
    except config.ConfigError as e:
        assert e.key == "control", e

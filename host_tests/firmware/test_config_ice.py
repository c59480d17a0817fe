"""The ``ice`` section of CONFIG.json (the ICE fallback, docs/fallback.md): defaults, and every
refusal names its key."""
from support import raises

from zerotap import config

BASE = {"phone": {"sip": "127.0.0.1:5070", "allow": ["127.0.0.1"], "rtp": "40000-40099"},
        "network": {"sip": "127.0.0.1:5080", "rtp": "42000-42099"}}


def _with(ice):
    obj = dict(BASE)
    obj["ice"] = ice
    return config.parse(obj).ice


def _refused(ice, text):
    raises(lambda: _with(ice), text)


def test_defaults_without_an_ice_section():
    ice = config.parse(dict(BASE)).ice
    assert not ice.enabled and ice.helper_url is None
    assert (ice.after_s, ice.deadline_s, ice.host_candidates, ice.dtmf, ice.tone_ms, ice.clear) \
        == (4, 20, True, "auto", 50, "mute")


def test_dtmf_forms():
    for form in ("auto", "rfc4733", "inband"):
        ice = _with({"helper_url": "http://192.0.2.80:9090", "dtmf": form})
        assert ice.dtmf == form


def test_a_full_ice_section():
    ice = _with({"helper_url": "https://helper.example.org/ice", "helper_ca": "helper-ca.pem",
                 "helper_address": "192.0.2.80", "stun": "stun.example.org:3478",
                 "turn": {"server": "198.51.100.9:3478", "username": "u", "password": "p"},
                 "after_s": 2, "deadline_s": 30, "host_candidates": False, "tone_ms": 60,
                 "clear": "block"})
    assert ice.enabled and ice.helper_url == "https://helper.example.org/ice"
    assert ice.helper_ca == "helper-ca.pem" and ice.helper_address == "192.0.2.80"
    assert ice.stun == ("stun.example.org", 3478)
    assert ice.turn == (("198.51.100.9", 3478), "u", "p")
    assert (ice.after_s, ice.deadline_s, ice.host_candidates, ice.tone_ms, ice.clear) == \
        (2, 30, False, 60, "block")
    # plain http (ZSipOs's own server, tests) needs no CA
    assert _with({"helper_url": "http://127.0.0.1:9090"}).enabled


def test_refusals_name_the_key():
    _refused({"helper": 1}, "ice.helper: unknown key")
    _refused({"helper_url": "ftp://x"}, "ice.helper_url: url 'ftp://x' must start with https:// "
                                        "(or http://)")
    _refused({"helper_url": "https://h.example"}, "ice.helper_ca: missing: an https helper needs "
                                                  "its CA (a PEM file)")
    _refused({"helper_url": 5}, "ice.helper_url: must be a string, not a number")
    _refused({"helper_address": "helper"}, "ice.helper_address: must be an IP address, not "
                                           "'helper'")
    _refused({"stun": "x"}, "ice.stun: bad address 'x': want host:port")
    _refused({"turn": {"server": "198.51.100.9:3478", "username": "u"}},
             "ice.turn.password: missing")
    _refused({"after_s": 61}, "ice.after_s: must be between 0 and 60, not 61")
    _refused({"deadline_s": 2}, "ice.deadline_s: must be between 5 and 120, not 2")
    _refused({"host_candidates": "no"}, "ice.host_candidates: must be true or false, not a string")
    _refused({"dtmf": "tones"}, "ice.dtmf: must be one of auto, rfc4733, inband, not 'tones'")
    _refused({"tone_ms": 10}, "ice.tone_ms: must be between 40 and 200, not 10")
    _refused({"clear": "loud"}, "ice.clear: must be one of pass, mute, block, not 'loud'")
    _refused({"enabled": True}, "ice.helper_url: missing: the fallback needs a helper")

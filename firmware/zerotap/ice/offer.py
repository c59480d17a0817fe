"""The ICE offer as ZSipOs boxes store it at the helper (their icestream.pxi conf2dict):

    {"ufrag": "...", "pwd": "...",
     "candidates": [{"foundation": "Hc0a80a05", "prio": 2130706431, "compid": 1,
                     "addr": "192.168.10.5:20012", "default": false, "type": 0}, ...]}

``type`` is pjnath's candidate type: 0 host, 1 srflx, 2 prflx, 3 relayed. Addresses are
``"a.b.c.d:port"`` or ``"[v6]:port"``, always UDP. A ZSipOs receiver fails the whole ICE with more
than 16 candidates, and a KeyError when a candidate lacks one of the six keys, so :func:`encode`
writes all six and refuses more than 16, and :func:`decode` is as strict, with a ValueError
naming the field (``offer: candidates[2].addr ...``).

    text = to_json(agent.ufrag, agent.pwd, agent.local_candidates(), agent.default_candidate())
    ufrag, pwd, cands = from_json(text)     # Candidate objects, every component
"""
import json

from zerotap.ice import stun
from zerotap.ice.agent import ICE_CHARS, Candidate

MAX_CANDIDATES = 16  # pjnath's PJ_ICE_MAX_CAND, ZSipOs's _PJ_ICE_MAX_CAND


def format_addr(addr):
    ip, port = addr
    return ("[%s]:%d" if ":" in ip else "%s:%d") % (ip, port)


def parse_addr(text):
    """``(ip, port)`` of ``"ip:port"`` or ``"[v6]:port"``; ValueError (without a prefix)."""
    if text.startswith("["):
        end = text.find("]:")
        if end < 0:
            raise ValueError("is not \"[ip]:port\"")
        ip, port = text[1:end], text[end + 2:]
        if ":" not in ip:
            raise ValueError("is not \"[ip]:port\"")
    else:
        ip, sep, port = text.rpartition(":")
        if not sep or ":" in ip:
            raise ValueError("is not \"ip:port\"")
    if not port or port.strip("0123456789") or len(port) > 5 or not 0 < int(port) < 65536:
        raise ValueError("has a bad port")
    try:
        raw = stun.ip_to_bytes(ip)
    except ValueError:
        raw = None
    # IPv4 as inet_pton takes it: no leading zero ("010.1.1.1" is 8.1.1.1 to the system's
    # resolver, but 10.1.1.1 to the STUN codec, so through TURN)
    if raw is None or len(raw) == 4 and stun.ip_from_bytes(raw) != ip:
        raise ValueError("has a bad IP address")
    return ip, int(port)


def _ice_chars(s, lo, hi):
    if not isinstance(s, str) or not lo <= len(s) <= hi:
        return False
    for ch in s:
        if ch not in ICE_CHARS:
            return False
    return True


def encode(ufrag, pwd, candidates, default=None):
    """The offer as a dict (JSON-ready). DEFAULT is the default candidate (or None)."""
    if len(candidates) > MAX_CANDIDATES:
        raise ValueError("offer: %d candidates, at most %d" % (len(candidates), MAX_CANDIDATES))
    out = []
    for c in candidates:
        out.append({"foundation": c.foundation, "prio": c.priority, "compid": c.component,
                    "addr": format_addr(c.addr), "default": c is default, "type": c.type})
    return {"ufrag": ufrag, "pwd": pwd, "candidates": out}


def to_json(ufrag, pwd, candidates, default=None):
    return json.dumps(encode(ufrag, pwd, candidates, default))


def _int(value, lo, hi):
    return isinstance(value, int) and not isinstance(value, bool) and lo <= value <= hi


def decode(obj):
    """``(ufrag, pwd, [Candidate])`` of an offer dict; ValueError naming the field."""
    if not isinstance(obj, dict):
        raise ValueError("offer: not a JSON object")
    for key in ("ufrag", "pwd", "candidates"):
        if key not in obj:
            raise ValueError("offer: %s missing" % key)
    ufrag, pwd = obj["ufrag"], obj["pwd"]
    # RFC 8445 section 5.3: ufrag 4..256, pwd 22..256 ice-chars
    if not _ice_chars(ufrag, 4, 256):
        raise ValueError("offer: ufrag is not 4..256 ice-chars")
    if not _ice_chars(pwd, 22, 256):
        raise ValueError("offer: pwd is not 22..256 ice-chars")
    cands = obj["candidates"]
    if not isinstance(cands, list):
        raise ValueError("offer: candidates is not a list")
    if len(cands) > MAX_CANDIDATES:
        raise ValueError("offer: %d candidates, at most %d" % (len(cands), MAX_CANDIDATES))
    out = []
    for i in range(len(cands)):
        c = cands[i]
        name = "offer: candidates[%d]" % i
        if not isinstance(c, dict):
            raise ValueError(name + " is not an object")
        for key in ("foundation", "prio", "compid", "addr", "default", "type"):
            if key not in c:
                raise ValueError("%s.%s missing" % (name, key))
        if not _ice_chars(c["foundation"], 1, 32):
            raise ValueError(name + ".foundation is not 1..32 ice-chars")
        if not _int(c["prio"], 1, 0xFFFFFFFF):
            raise ValueError(name + ".prio is not an integer in 1..2^32-1")
        if not _int(c["compid"], 1, 256):
            raise ValueError(name + ".compid is not an integer in 1..256")
        if not _int(c["type"], 0, 3):
            raise ValueError(name + ".type is not 0..3")
        if not isinstance(c["default"], bool):
            raise ValueError(name + ".default is not true or false")
        if not isinstance(c["addr"], str):
            raise ValueError(name + ".addr is not a string")
        try:
            addr = parse_addr(c["addr"])
        except ValueError as e:
            raise ValueError("%s.addr %s" % (name, e))
        out.append(Candidate(c["type"], addr, c["prio"], c["foundation"],
                             component=c["compid"]))
    return ufrag, pwd, out


def from_json(text):
    try:
        obj = json.loads(text)
    except ValueError:
        raise ValueError("offer: not JSON")
    return decode(obj)

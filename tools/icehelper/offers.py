"""What the helper accepts as an offer, checked before anything is stored.

An offer is a JSON object (ZSipOs stores any object). The helper checks the keys that the other
box relies on (ZSipOs ``icestream.pxi`` ``setRemoteId``): ``ufrag`` and ``pwd`` are strings, and
``candidates`` is a list of at most 16 objects, each with the six fields ``foundation`` (str),
``prio`` (int), ``compid`` (int), ``addr`` (``"a.b.c.d:port"`` or ``"[v6]:port"``), ``default``
(bool) and ``type`` (int 0-3). A box that stores a broken offer learns it at once (400 naming the
field) instead of the other box failing its ICE later.

:func:`encode_fields` returns the offer as ``{json key: json value}``, the form both stores keep:
a merge (``POST``) replaces whole top-level values, so checking each value on its own is enough,
and a ``GET`` reply is assembled from the stored JSON text without parsing it again.
"""
import json
import operator
import re
import socket
import sys

MAX_KEYS = 32
MAX_CANDIDATES = 16  # pjnath's PJ_ICE_MAX_CAND: more fails the whole ICE on a ZSipOs box
MAX_TEXT = 256  # RFC 8445 section 5.3: ufrag and pwd are at most 256 characters
# Keys the server owns: a client's values are dropped, as ZSipOs drops them.
SERVER_KEYS = ("_update_token", "expires")
CANDIDATE_FIELDS = (("foundation", str), ("prio", int), ("compid", int), ("addr", str),
                    ("default", bool), ("type", int))


class OfferError(ValueError):
    """A body the helper refuses; ``str()`` names the field."""


def parse(body):
    """The JSON object in BODY (bytes), or OfferError."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as e:
        raise OfferError("body: not JSON (%s)" % e) from None
    except RecursionError:  # "[[[[...": 4 KiB hold more levels than json's recursion allows
        raise OfferError("body: not JSON (nested too deeply)") from None
    if not isinstance(data, dict):
        raise OfferError("body: an offer is a JSON object, got %s" % type(data).__name__)
    return data


# The offer's top level walked here, each value parsed by json's C scanner, which tells where the
# value ends: the stored JSON text of a value is its text in the body, so nothing is encoded
# again (re-encoding the candidates cost more than parsing the whole body).
_SCAN = json.decoder.JSONDecoder().scan_once
_SCANSTRING = json.decoder.scanstring
_WS = re.compile(r"[ \t\n\r]*").match


def _top_level(text):
    """TEXT's top-level object as ``({key: value}, {key: its JSON text})``; ValueError (with the
    message json.loads would give) or, for a top level that is no object, None."""
    i = _WS(text, 0).end()
    if text[i:i + 1] != "{":
        return None
    data, raw = {}, {}
    i = _WS(text, i + 1).end()
    if text[i:i + 1] == "}":
        i += 1
    else:
        while True:
            if text[i:i + 1] != '"':
                raise json.JSONDecodeError("Expecting property name enclosed in double quotes",
                                           text, i)
            key, i = _SCANSTRING(text, i + 1, True)
            i = _WS(text, i).end()
            if text[i:i + 1] != ":":
                raise json.JSONDecodeError("Expecting ':' delimiter", text, i)
            i = _WS(text, i + 1).end()
            try:
                value, end = _SCAN(text, i)
            except StopIteration as e:
                raise json.JSONDecodeError("Expecting value", text, e.value) from None
            data[key] = value
            raw[key] = text[i:end]
            i = _WS(text, end).end()
            c = text[i:i + 1]
            i += 1
            if c == "}":
                break
            if c != ",":
                raise json.JSONDecodeError("Expecting ',' delimiter", text, i - 1)
            i = _WS(text, i).end()
    i = _WS(text, i).end()
    if i != len(text):
        raise json.JSONDecodeError("Extra data", text, i)
    return data, raw


def parse_offer(body):
    """BODY (bytes) as an offer or a merge, checked: ``({json key: json value}, has
    candidates)`` as :func:`encode_fields` gives it, each value the JSON text it has in BODY.

    msgspec's C decoder takes the common case (:func:`_parse_fast`); whatever it declines or
    refuses goes through :func:`_parse_offer_python`, which gives every error message."""
    if _FAST:
        got = _parse_fast(body)
        if got is not None:
            return got
    return _parse_offer_python(body)


def _parse_offer_python(body):
    """parse_offer in Python (json's scanner): every body, every error message."""
    try:
        # as json.loads(bytes) decodes (UTF-8, a BOM, or UTF-16/32 told by the zero bytes)
        text = body.decode(json.detect_encoding(body), "surrogatepass")
        if not body.isascii():
            _no_lone_surrogate(text)
        top = _top_level(text)
        if top is None:
            data = json.loads(text)  # the error, or what kind of value it is
            raise OfferError("body: an offer is a JSON object, got %s" % type(data).__name__)
    except (ValueError, UnicodeDecodeError) as e:
        if isinstance(e, OfferError):
            raise
        raise OfferError("body: not JSON (%s)" % e) from None
    except RecursionError:  # "[[[[...": 4 KiB hold more levels than json's recursion allows
        raise OfferError("body: not JSON (nested too deeply)") from None
    return encode_fields(*top)


def _no_lone_surrogate(text):
    """OfferError for a lone surrogate in TEXT (raw, not a \\u escape): json.loads takes one from
    "surrogatepass" decoding, but it has no UTF-8 form, so no store could keep or send it."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as e:
        raise OfferError("body: not UTF-8 text (a lone surrogate, U+%04X, at character %d)"
                         % (ord(text[e.start]), e.start)) from None


_COMPACT = json.JSONEncoder(separators=(",", ":")).encode
try:
    # json.dumps(value, separators=(",", ":")) without building an encoder per call (which costs
    # twice the encoding of a four-candidate list): C's encoder made once. No circular check, no
    # `default`: a value from json.loads holds only dicts, lists, str, int, float, bool and None.
    _C_ENCODE = json.encoder.c_make_encoder(None, None, json.encoder.encode_basestring_ascii,
                                            None, ":", ",", False, False, True)
except (AttributeError, TypeError):  # a Python without the C accelerator
    _C_ENCODE = None


def compact(value):
    """VALUE (from json.loads) as compact ASCII JSON text, as json.dumps with separators (",", ":")
    writes it."""
    if _C_ENCODE is None:
        return _COMPACT(value)
    return "".join(_C_ENCODE(value, 0))
_STRING = json.encoder.encode_basestring_ascii  # what json.dumps does with a str, without its setup


_V4, _V6 = socket.AF_INET, socket.AF_INET6
_inet_pton = socket.inet_pton


def _addr_ok(addr):
    """True for ``"a.b.c.d:port"`` or ``"[v6]:port"`` (the strict dotted quad / RFC 4291 text
    forms, as inet_pton takes them; port 1-65535)."""
    host, sep, port = addr.rpartition(":")
    if not sep or not (port.isdigit() and port.isascii()) or not 0 < int(port) < 65536:
        return False
    family = _V4
    if host[:1] == "[" and host[-1:] == "]":
        host, family = host[1:-1], _V6
    try:
        _inet_pton(family, host)
    except (OSError, ValueError):
        return False
    return True


# The common case of _addr_ok, "a.b.c.d:port" (octets 0-255 without leading zeros, as inet_pton
# takes them; port 1-65535 without a leading zero), in one C match. A text it does not match is
# not refused for that: _addr_ok decides (the test compares the two on generated addresses).
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])"
# the five-digit ports first: "[1-9][0-9]{0,3}" first would take four of their digits and give
# them back one at a time before the next alternative matched (a third of the match's time)
_PORT = r"(?:[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5]|[1-9][0-9]{0,3})"
_V4_TEXT = r"%s(?:\.%s){3}:%s" % (_OCTET, _OCTET, _PORT)
_V4_PORT = re.compile(_V4_TEXT, re.ASCII).fullmatch
# several of them joined by "," (which none of them holds): all candidates' addresses in one match
_V4_PORTS = re.compile(r"%s(?:,%s)*" % (_V4_TEXT, _V4_TEXT), re.ASCII).fullmatch


def _field_error(where, cand):
    for name, kind in CANDIDATE_FIELDS:
        if name not in cand:
            return "%s.%s: missing" % (where, name)
        value = cand[name]
        # bool is an int in Python: keep true/false out of the int fields and vice versa
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            return "%s.%s: %s expected, got %s" % (where, name, kind.__name__,
                                                 type(value).__name__)
    return "%s: bad" % where


def check_candidates(cands):
    """OfferError naming the first field of CANDS that breaks the rules."""
    if type(cands) is not list:
        raise OfferError("candidates: a list, got %s" % type(cands).__name__)
    if len(cands) > MAX_CANDIDATES:
        raise OfferError("candidates: at most %d, got %d" % (MAX_CANDIDATES, len(cands)))
    for i, cand in enumerate(cands):
        if type(cand) is not dict:
            raise OfferError("candidates[%d]: an object, got %s" % (i, type(cand).__name__))
        try:
            foundation, prio, compid = cand["foundation"], cand["prio"], cand["compid"]
            addr, default, kind = cand["addr"], cand["default"], cand["type"]
        except KeyError:
            raise OfferError(_field_error("candidates[%d]" % i, cand)) from None
        # exact types: JSON gives str, int, bool (never a subclass), and bool is no int here
        if not (type(foundation) is str and type(prio) is int and type(compid) is int
                and type(addr) is str and type(default) is bool and type(kind) is int):
            raise OfferError(_field_error("candidates[%d]" % i, cand))
        if not 0 < len(foundation) <= 32:
            raise OfferError("candidates[%d].foundation: 1 to 32 characters" % i)
        if not 0 <= prio < 4294967296:
            raise OfferError("candidates[%d].prio: 0 to 2**32-1" % i)
        if not 1 <= compid <= 256:
            raise OfferError("candidates[%d].compid: 1 to 256" % i)
        if not 0 <= kind <= 3:
            raise OfferError("candidates[%d].type: 0 (host) to 3 (relayed)" % i)
        if not _addr_ok(addr):
            raise OfferError("candidates[%d].addr: %r is not \"a.b.c.d:port\" or \"[v6]:port\""
                             % (i, addr))


# -- the fast path ---------------------------------------------------------------------------
# msgspec (C) splits the top level into {key: raw JSON text} and, in a second pass over the body,
# checks ufrag, pwd and the candidates (typed records with the rules of check_candidates as
# constraints; the addresses then in one regex match, or one by one by _addr_ok), about a fifth
# of the Python path's cost per offer. It answers only when the result is certainly the Python
# path's:
# - the body is strict UTF-8 (no BOM, no UTF-16/32, no encoded surrogates: json.loads's
#   detect_encoding and "surrogatepass" are the Python path's business);
# - no nesting comes near either recursion limit (the Python path answers "nested too deeply"
#   where json's limit is hit): the usual offer has only ufrag, pwd and candidates, each of
#   their values checked to its leaves by msgspec (a candidate with a seventh field goes to the
#   Python path), so its nesting is bounded; a body with other keys has at most 256 brackets
#   (msgspec itself answers RecursionError well before its stack runs out);
# - msgspec accepts it: its JSON grammar is json.loads's minus NaN/Infinity and lone surrogate
#   escapes (test_icehelper_offers.py compares the two paths on generated and mangled bodies);
#   its duplicate keys keep the last value, as json.loads does;
# - no run of digits is longer than sys.get_int_max_str_digits() (read at each call; 0 means no
#   limit): json.loads refuses such an integer literal, msgspec's Raw skips it unread.
# Any refusal (malformed JSON, a candidate that breaks a rule, a wrong type) returns None, and the
# Python path finds the same fault and words the message; nothing is decided here alone.
try:
    import msgspec
    from typing import Annotated, Union

    # gc=False: decoded structs hold no cycles; not tracking them spares the collector's count
    class _Candidate(msgspec.Struct, forbid_unknown_fields=True, gc=False):
        foundation: Annotated[str, msgspec.Meta(min_length=1, max_length=32)]
        prio: Annotated[int, msgspec.Meta(ge=0, le=4294967295)]
        compid: Annotated[int, msgspec.Meta(ge=1, le=256)]
        addr: str
        default: bool
        type: Annotated[int, msgspec.Meta(ge=0, le=3)]

    _Text = Annotated[str, msgspec.Meta(max_length=MAX_TEXT)]

    class _Checked(msgspec.Struct, gc=False):
        """The keys with rules, checked in one pass (other keys are skipped; a key given twice
        is checked each time, so its last value, the one kept, is checked too)."""
        ufrag: _Text = ""
        pwd: _Text = ""
        candidates: Union[Annotated[list[_Candidate], msgspec.Meta(max_length=MAX_CANDIDATES)],
                          msgspec.UnsetType] = msgspec.UNSET

    _TOP = msgspec.json.Decoder(dict[str, msgspec.Raw]).decode
    _CHECK = msgspec.json.Decoder(_Checked).decode
    _UNSET = msgspec.UNSET
    _REFUSED = (msgspec.DecodeError, msgspec.ValidationError, RecursionError)
    _FAST = True
except ImportError:  # msgspec not installed: the Python path does everything
    _FAST = False

# the JSON text of the keys every offer has, made once
_KEY_TEXT = {k: _STRING(k) for k in ("ufrag", "pwd", "candidates")}
_ADDR = operator.attrgetter("addr")
_int_max_str_digits = getattr(sys, "get_int_max_str_digits", lambda: 0)  # 0: no limit

_LONG_DIGITS = {}


def _long_digits(limit):
    """A pattern finding a run of more than LIMIT digits; the lookbehind starts it only at the
    start of a run, so a search stays linear in the body."""
    pattern = _LONG_DIGITS.get(limit)
    if pattern is None:
        pattern = _LONG_DIGITS[limit] = re.compile(rb"(?<![0-9])[0-9]{%d}" % (limit + 1))
    return pattern


def _parse_fast(body):
    """parse_offer's result for BODY, or None: then the Python path decides (see above)."""
    digits = _int_max_str_digits()
    if digits and len(body) > digits and _long_digits(digits).search(body):
        return None
    try:
        if not body.isascii():
            body.decode("utf-8")
        cands = _CHECK(body).candidates
        top = _TOP(body)
    except _REFUSED:
        return None
    except UnicodeDecodeError:
        return None
    if cands is _UNSET:
        ready = None
    elif cands:
        ready = True
        # the usual case in one match: every address "a.b.c.d:port" (the count of "," tells
        # that no address holds one); else each on its own, _addr_ok deciding
        addrs = ",".join(map(_ADDR, cands))
        if addrs.count(",") != len(cands) - 1 or _V4_PORTS(addrs) is None:
            for cand in cands:
                if _V4_PORT(cand.addr) is None and not _addr_ok(cand.addr):
                    return None
    else:
        ready = False
    try:  # the usual offer: only keys of _KEY_TEXT
        fields = {_KEY_TEXT[key]: str(raw, "utf-8") for key, raw in top.items()}
    except KeyError:
        if body.count(b"[") + body.count(b"{") > 256:
            return None
        fields = {}
        for key, raw in top.items():
            if key not in SERVER_KEYS:
                fields[_KEY_TEXT.get(key) or _STRING(key)] = str(raw, "utf-8")
        if len(fields) > MAX_KEYS:
            return None
    return fields, ready


def encode_fields(data, raw=None):
    """DATA (a parsed offer or merge) checked, as ``({json key: json value}, has candidates)``.

    ``has candidates`` is None when DATA has no ``candidates`` key (a merge leaves it as it was).
    RAW: ``{key: JSON text}`` of DATA's values as they came (parse_offer); else they are encoded.
    """
    fields = {}
    ready = None
    for key, value in data.items():
        if key in SERVER_KEYS:
            continue
        if key in ("ufrag", "pwd"):
            if not isinstance(value, str) or len(value) > MAX_TEXT:
                raise OfferError("%s: a string of at most %d characters" % (key, MAX_TEXT))
        elif key == "candidates":
            check_candidates(value)
            ready = bool(value)
        if raw is not None:
            fields[_STRING(key)] = raw[key]
            continue
        try:
            fields[_STRING(key)] = _STRING(value) if type(value) is str else compact(value)
        except RecursionError:  # parsed just within the limit, deeper in the stack to encode
            raise OfferError("body: not JSON (nested too deeply)") from None
    if len(fields) > MAX_KEYS:
        raise OfferError("body: at most %d keys, got %d" % (MAX_KEYS, len(fields)))
    return fields, ready


def fields_size(fields):
    return sum(map(len, fields)) + sum(map(len, fields.values()))


def render(fields, expires):
    """The GET reply: the stored object (FIELDS: a dict, or ``(json key, json value)`` pairs),
    keys sorted, plus ``expires`` (epoch seconds)."""
    items = list(fields.items() if type(fields) is dict else fields)
    items.append(('"expires"', repr(round(expires, 3))))
    items.sort()
    return "{" + ",".join(k + ":" + v for k, v in items) + "}"

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
import socket

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
    if not isinstance(data, dict):
        raise OfferError("body: an offer is a JSON object, got %s" % type(data).__name__)
    return data


_COMPACT = json.JSONEncoder(separators=(",", ":")).encode
_STRING = json.encoder.encode_basestring_ascii  # what json.dumps does with a str, without its setup


def _check_addr(where, addr):
    host, sep, port = addr.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host, family = host[1:-1], socket.AF_INET6
    else:
        family = socket.AF_INET
    try:
        if not sep or not (port.isascii() and port.isdigit()) or not 0 < int(port) < 65536:
            raise ValueError
        socket.inet_pton(family, host)  # the strict dotted quad / RFC 4291 text forms
    except (ValueError, OSError):
        raise OfferError("%s.addr: %r is not \"a.b.c.d:port\" or \"[v6]:port\"" % (where, addr)) \
            from None


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
        where = "candidates[%d]" % i
        if type(cand) is not dict:
            raise OfferError("%s: an object, got %s" % (where, type(cand).__name__))
        try:
            # exact types: JSON gives str, int, bool (never a subclass), and bool is no int here
            ok = (type(cand["foundation"]) is str and type(cand["prio"]) is int
                  and type(cand["compid"]) is int and type(cand["addr"]) is str
                  and type(cand["default"]) is bool and type(cand["type"]) is int)
        except KeyError:
            ok = False
        if not ok:
            raise OfferError(_field_error(where, cand))
        if not 0 < len(cand["foundation"]) <= 32:
            raise OfferError("%s.foundation: 1 to 32 characters" % where)
        if not 0 <= cand["prio"] < 1 << 32:
            raise OfferError("%s.prio: 0 to 2**32-1" % where)
        if not 1 <= cand["compid"] <= 256:
            raise OfferError("%s.compid: 1 to 256" % where)
        if not 0 <= cand["type"] <= 3:
            raise OfferError("%s.type: 0 (host) to 3 (relayed)" % where)
        _check_addr(where, cand["addr"])


def encode_fields(data):
    """DATA (a parsed offer or merge) checked, as ``({json key: json value}, has candidates)``.

    ``has candidates`` is None when DATA has no ``candidates`` key (a merge leaves it as it was).
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
        fields[_STRING(key)] = _STRING(value) if type(value) is str else _COMPACT(value)
    if len(fields) > MAX_KEYS:
        raise OfferError("body: at most %d keys, got %d" % (MAX_KEYS, len(fields)))
    return fields, ready


def fields_size(fields):
    return sum(len(k) + len(v) for k, v in fields.items())


def render(fields, expires):
    """The GET reply: the stored object, keys sorted, plus ``expires`` (epoch seconds)."""
    items = list(fields.items())
    items.append(('"expires"', repr(round(expires, 3))))
    items.sort()
    return "{" + ",".join(k + ":" + v for k, v in items) + "}"

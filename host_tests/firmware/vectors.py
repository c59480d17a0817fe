"""Known-answer vectors for the firmware tests, read from host_tests/vectors/ (JSON).

Works under CPython and MicroPython alike. On a board-sized heap a whole parsed file can be more
than the test has room for, so besides ``load(name)`` (the whole document) two readers take a
file in pieces, reading it in small chunks and parsing one value at a time:

    for case in each("srtp_libsrtp_fixtures.json", "cases"): ...  # doc["cases"], one element at a time
    n = count("keypad_linphonec_stream.json", "packets")  # len(doc["packets"]), nothing parsed
    pt, typed = fields("keypad_linphonec_stream.json", "payload_type", "typed")  # only these members
"""
import binascii
import json


def _directory():
    here = __file__
    i = here.rfind("/")
    tests = here[:i] if i >= 0 else "."
    j = tests.rfind("/")
    return (tests[:j] if j >= 0 else "..") + "/vectors"


VECTORS = _directory()


def load(name):
    """Return the parsed JSON file host_tests/vectors/NAME."""
    with open(VECTORS + "/" + name) as f:
        return json.load(f)


_CHUNK = 256


def _text(pieces, tail):
    # one string of PIECES + TAIL, made once (a join and a + would make it twice)
    pieces.append(tail)
    return "".join(pieces)


def _members(name, keep, split):
    # (key, JSON text) for each top-level member of the object in NAME whose key is in KEEP, and
    # (SPLIT, JSON text of one element) for each element of the array under key SPLIT; what is
    # not wanted is scanned past without being kept
    depth = 0
    in_str = esc = False
    key = last = None
    capture = 0  # 0: none; 1: a whole member's value (depth 1); 2: an element of SPLIT (depth 2)
    pieces = []
    str_start = -1
    with open(VECTORS + "/" + name) as f:
        while True:
            chunk = f.read(_CHUNK)
            if not chunk:
                break
            start = 0  # where the captured text of this chunk starts
            i = 0
            n = len(chunk)
            while i < n:
                c = chunk[i]
                if in_str:
                    if esc:
                        esc = False
                    elif c == "\\":
                        esc = True
                    elif c == '"':
                        in_str = False
                        if depth == 1 and not capture and str_start >= 0:
                            last = _text(pieces, chunk[str_start:i])
                            pieces = []
                            str_start = -1
                    i += 1
                    continue
                if c == '"':
                    in_str = True
                    if depth == 1 and not capture:
                        str_start = i + 1
                        pieces = []
                elif c == ":" and depth == 1:
                    key = last
                    if key in keep:
                        capture = 1
                        start = i + 1
                        pieces = []
                elif c in "[{":
                    depth += 1
                    if depth == 2 and key == split and c == "[" and not capture:
                        capture = 2
                        start = i + 1
                        pieces = []
                elif c in "]}":
                    if capture == 2 and depth == 2:
                        text = _text(pieces, chunk[start:i])
                        pieces = []
                        if text.strip():
                            yield key, text
                        capture = 0
                    elif capture == 1 and depth == 1:  # the object's end ends its last member
                        yield key, _text(pieces, chunk[start:i])
                        pieces = []
                        capture = 0
                    depth -= 1
                elif c == ",":
                    if capture == 2 and depth == 2:
                        yield key, _text(pieces, chunk[start:i])
                        pieces = []
                        start = i + 1
                    elif capture == 1 and depth == 1:
                        yield key, _text(pieces, chunk[start:i])
                        pieces = []
                        capture = 0
                i += 1
            if capture:
                pieces.append(chunk[start:])
            elif in_str and str_start >= 0:
                pieces.append(chunk[str_start:])
                str_start = 0


def each(name, key):
    """The elements of the array under top-level KEY of host_tests/vectors/NAME, parsed one at a
    time (the file is read in small chunks; nothing else of it is kept)."""
    found = False
    for _, text in _members(name, (), key):
        found = True
        yield json.loads(text)
    if not found:
        raise KeyError("%s has no non-empty array %r" % (name, key))


def count(name, key):
    """How many elements the array under top-level KEY of NAME has (none of them is parsed), so
    that a test can make its list at full size at once: a growing list fragments a board's heap."""
    n = 0
    for _ in _members(name, (), key):
        n += 1
    return n


def fields(name, *keys):
    """The values of the top-level members KEYS of host_tests/vectors/NAME, in that order; the
    other members are scanned past, never parsed."""
    got = {}
    for key, text in _members(name, keys, None):
        got[key] = json.loads(text)
    missing = [k for k in keys if k not in got]
    if missing:
        raise KeyError("%s has no member %s" % (name, ", ".join(missing)))
    return [got[k] for k in keys]


def unhex(text):
    """Hex string (spaces and newlines allowed) to bytes."""
    return binascii.unhexlify(text.replace(" ", "").replace("\n", ""))

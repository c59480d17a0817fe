"""Known-answer vectors for the firmware tests, read from host_tests/vectors/ (JSON).

Works under CPython and MicroPython alike. On a board-sized heap a whole parsed file can be more
than the test has room for, so besides ``load(name)`` (the whole document) these readers take a
file in pieces: they scan it in small chunks for the spans of the values wanted, and parse one
value at a time from its span (on MicroPython straight from the file, never as one string):

    for case in each("srtp_libsrtp_fixtures.json", "cases"): ...  # doc["cases"], one element at a time
    n = count("keypad_linphonec_stream.json", "packets")  # len(doc["packets"]), nothing parsed
    pt, typed = fields("keypad_linphonec_stream.json", "payload_type", "typed")  # only these members
"""
import binascii
import gc
import io
import json
import sys


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
_MICROPYTHON = sys.implementation.name == "micropython"


def _members(name, keep, split):
    # (key, start, end): the byte span in NAME of each top-level member's value whose key is in
    # KEEP, and of each element of the array under key SPLIT; nothing of the text is kept but keys
    depth = 0
    in_str = esc = False
    key = last = None
    capture = 0  # 0: none; 1: a whole member's value (depth 1); 2: an element of SPLIT (depth 2)
    key_parts = None  # the bytes of a depth-1 string while it is read (a key, or a value passed by)
    start = 0
    seen = False  # a byte other than white space since the array opened
    pos = 0  # the file offset of chunk[0]
    with open(VECTORS + "/" + name, "rb") as f:
        while True:
            chunk = f.read(_CHUNK)
            if not chunk:
                break
            str_from = 0
            n = len(chunk)
            for i in range(n):
                c = chunk[i]
                if capture == 2 and c > 32 and c != 93:  # not white space, not the closing ']'
                    seen = True
                if in_str:
                    if esc:
                        esc = False
                    elif c == 92:  # backslash
                        esc = True
                    elif c == 34:  # '"'
                        in_str = False
                        if key_parts is not None:
                            key_parts.append(chunk[str_from:i])
                            last = b"".join(key_parts).decode()
                            key_parts = None
                    continue
                if c == 34:
                    in_str = True
                    if depth == 1 and not capture:
                        key_parts = []
                        str_from = i + 1
                elif c == 58 and depth == 1:  # ':'
                    key = last
                    if key in keep:
                        capture = 1
                        start = pos + i + 1
                elif c == 91 or c == 123:  # '[' '{'
                    depth += 1
                    if depth == 2 and key == split and c == 91 and not capture:
                        capture = 2
                        start = pos + i + 1
                        seen = False
                elif c == 93 or c == 125:  # ']' '}'
                    if capture == 2 and depth == 2:
                        if seen:  # not the end of an empty array
                            yield key, start, pos + i
                        capture = 0
                    elif capture == 1 and depth == 1:  # the object's end ends its last member
                        yield key, start, pos + i
                        capture = 0
                    depth -= 1
                elif c == 44:  # ','
                    if capture == 2 and depth == 2:
                        yield key, start, pos + i
                        start = pos + i + 1
                    elif capture == 1 and depth == 1:
                        yield key, start, pos + i
                        capture = 0
            if key_parts is not None:
                key_parts.append(chunk[str_from:])
                str_from = 0
            pos += n


class _Span(io.IOBase if _MICROPYTHON else io.RawIOBase):
    # the bytes START..END of a file as a stream of their own, read in small chunks: json.load
    # parses one value from it without ever holding its whole text (MicroPython's json.load
    # reads a stream as it goes)
    def __init__(self, path, start, end):
        self._f = open(path, "rb")
        self._f.seek(start)
        self._left = end - start

    def readinto(self, buf):
        n = min(len(buf), self._left)
        if n <= 0:
            return 0
        got = self._f.readinto(memoryview(buf)[:n])
        self._left -= got
        return got

    def readable(self):
        return True

    def close(self):
        self._f.close()


def _parse(name, start, end):
    span = _Span(VECTORS + "/" + name, start, end)
    try:
        if _MICROPYTHON:
            return json.load(span)
        return json.loads(span.read(end - start).decode())
    finally:
        span.close()


def each(name, key):
    """The elements of the array under top-level KEY of host_tests/vectors/NAME, parsed one at a
    time (the file is read in small chunks; nothing else of it is kept)."""
    found = False
    n = 0
    for _, start, end in _members(name, (), key):
        found = True
        yield _parse(name, start, end)
        n += 1
        if _MICROPYTHON and n % 16 == 0:
            # what the caller keeps of each value would otherwise be strewn over the whole heap
            # between two collections, among the parser's garbage: collecting now and then keeps
            # it packed, so that large blocks stay free (a board's heap fragments otherwise)
            gc.collect()
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
    for key, start, end in _members(name, keys, None):
        got[key] = _parse(name, start, end)
    missing = [k for k in keys if k not in got]
    if missing:
        raise KeyError("%s has no member %s" % (name, ", ".join(missing)))
    return [got[k] for k in keys]


def unhex(text):
    """Hex string (spaces and newlines allowed) to bytes."""
    return binascii.unhexlify(text.replace(" ", "").replace("\n", ""))

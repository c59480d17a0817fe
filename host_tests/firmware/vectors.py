"""Known-answer vectors for the firmware tests, read from host_tests/vectors/ (JSON).

Works under CPython and MicroPython alike.
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


def unhex(text):
    """Hex string (spaces and newlines allowed) to bytes."""
    return binascii.unhexlify(text.replace(" ", "").replace("\n", ""))

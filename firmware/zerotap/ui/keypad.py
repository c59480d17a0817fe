"""Keypad codes, sans-IO: a short DTMF code typed on the phone during a call (``*#1`` marks the SAS
verified, ``*#0`` unverified) is caught by the box and not forwarded.

The media session feeds every RFC 4733 event it receives from the phone, one key at a time, as the
key's symbol (``0``-``9``, ``*``, ``#``, ``A``-``D``, as in RFC 4733 section 3.2). The matcher holds
back keys while they could still begin a code, and tells the caller what to do:

    matcher = KeypadMatcher()                    # or KeypadMatcher({"*#5": "verified", ...})
    for kind, value in matcher.feed(key, now_ms):
        if kind == FORWARD:  send the held-back keys in VALUE (a string) toward the network
        else:                ACTION: zerotap.ui.button.apply(VALUE, box)
    matcher.poll(now_ms)                         # from a timer: releases keys held too long

A code must be typed within ``timeout_ms`` from its first key; keys held back longer are released
unchanged, so ordinary dialling (IVR menus) is only delayed, never lost.
"""
from micropython import const

from zerotap import states

FORWARD = "forward"
ACTION = "action"
KEYS = "0123456789*#ABCD"
DEFAULT_CODES = {"*#1": states.SET_VERIFIED, "*#0": states.SET_UNVERIFIED}
TIMEOUT_MS = const(3000)


def check_codes(codes, key="keypad"):
    """Validate a {code: action} map; a refusal names the key at fault (KEY.<code>)."""
    if not isinstance(codes, dict):
        raise ValueError("%s: must be an object of code -> action" % key)
    for code in codes:
        if not isinstance(code, str) or len(code) < 2:
            raise ValueError("%s.%s: a code has at least 2 keys" % (key, code))
        for k in code:
            if k not in KEYS:
                raise ValueError("%s.%s: %r is not a DTMF key (0-9 * # A-D)" % (key, code, k))
        if codes[code] not in states.ACTIONS:
            raise ValueError("%s.%s: unknown action %r" % (key, code, codes[code]))
        for other in codes:
            if other != code and other.startswith(code):
                raise ValueError("%s.%s: is the start of code %s" % (key, code, other))
    return codes


class KeypadMatcher:
    def __init__(self, codes=None, timeout_ms=TIMEOUT_MS):
        self.codes = check_codes(DEFAULT_CODES if codes is None else codes)
        self.timeout_ms = timeout_ms
        self.held = ""
        self._since = 0

    def _could_start(self, keys):
        for code in self.codes:
            if code.startswith(keys):
                return True
        return False

    def feed(self, key, now_ms):
        """One key from the phone; returns a list of (FORWARD, keys) and (ACTION, name)."""
        if len(key) != 1 or key not in KEYS:
            raise ValueError("not a DTMF key: %r" % (key,))
        out = self.poll(now_ms)
        keys = self.held + key
        shifted = False
        while keys and not self._could_start(keys):
            # the oldest key cannot begin a code any more: let it through, try the rest
            out.append((FORWARD, keys[0]))
            keys = keys[1:]
            shifted = True
        if keys and (shifted or not self.held):
            self._since = now_ms
        action = self.codes.get(keys)
        if action is not None:
            out.append((ACTION, action))
            keys = ""
        self.held = keys
        return _merge(out)

    def poll(self, now_ms):
        """Release keys held back longer than the timeout."""
        if self.held and now_ms - self._since >= self.timeout_ms:
            keys = self.held
            self.held = ""
            return [(FORWARD, keys)]
        return []

    def deadline(self):
        """When poll() next has work, or None."""
        return self._since + self.timeout_ms if self.held else None


def _merge(events):
    out = []
    for kind, value in events:
        if out and kind == FORWARD and out[-1][0] == FORWARD:
            out[-1] = (FORWARD, out[-1][1] + value)
        else:
            out.append((kind, value))
    return out

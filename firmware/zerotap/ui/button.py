"""The board button, sans-IO: a short press toggles "verified" on the shown call, a long press
switches calls.

    button = Button()
    action = button.update(pin_is_pressed, now_ms)   # poll every 10-50 ms
    if action:
        apply(action, box)

:meth:`Button.update` debounces (a level must hold ``debounce_ms`` to count), reports
``SWITCH_CALL`` as soon as the press has lasted ``hold_ms`` (once per press), and ``TOGGLE_VERIFIED``
when a shorter press is released. The host's local control sends the same action names.
"""
from micropython import const

from zerotap.states import ACTIONS, SET_UNVERIFIED, SET_VERIFIED, SWITCH_CALL, TOGGLE_VERIFIED

DEBOUNCE_MS = const(30)
HOLD_MS = const(800)


class Button:
    def __init__(self, debounce_ms=DEBOUNCE_MS, hold_ms=HOLD_MS):
        if debounce_ms < 0 or hold_ms <= debounce_ms:
            raise ValueError("hold_ms must be longer than debounce_ms")
        self.debounce_ms = debounce_ms
        self.hold_ms = hold_ms
        self.pressed = False  # the debounced level
        self._raw = False
        self._raw_since = 0
        self._pressed_at = 0
        self._held = False

    def update(self, level, now_ms):
        """Feed the raw level (True = pressed) at NOW_MS; returns an action name or None."""
        level = bool(level)
        if level != self._raw:
            self._raw = level
            self._raw_since = now_ms
        action = None
        if self._raw != self.pressed and now_ms - self._raw_since >= self.debounce_ms:
            self.pressed = self._raw
            if self.pressed:
                self._pressed_at = self._raw_since
                self._held = False
            elif not self._held:
                action = TOGGLE_VERIFIED
        if self.pressed and not self._held and now_ms - self._pressed_at >= self.hold_ms:
            self._held = True
            action = SWITCH_CALL
        return action


def apply(action, box):
    """Carry out ACTION on BOX (a zerotap.status.BoxStatus). Returns True when something changed.

    Verifying applies only to the shown call and only while it is secure (the status model refuses
    anything else), so a press can never make an insecure call look verified.
    """
    if action not in ACTIONS:
        raise ValueError("unknown action %r" % (action,))
    if action == SWITCH_CALL:
        before = box.selected
        box.select_next()
        return box.selected != before
    call = box.shown_call()
    if call is None:
        return False
    before = call.verified
    if action == TOGGLE_VERIFIED:
        call.set_verified(not call.verified)
    else:
        call.set_verified(action == SET_VERIFIED)
    return call.verified != before

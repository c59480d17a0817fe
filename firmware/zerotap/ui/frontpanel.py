"""The box's front panel: the display and the button, served from the box's loop (sans-IO).

    front = FrontPanel(display, pin, Button(hold_ms=800), act)
    front.timer()               # the next deadline in ms (0: now), or None
    front.handle_timer(now_ms)  # polls the button, carries out its action, redraws and dims

PIN is anything with ``pressed()`` (:class:`zerotap.board.PinButton`), or None (the host, where the
local control stands in for the button). ACT(action) carries out a button action
(:data:`zerotap.ui.button.TOGGLE_VERIFIED` or :data:`~zerotap.ui.button.SWITCH_CALL`); the box's
runtime passes its own ``action``, which also tells the ZRTP engine, so that the trust cache keeps
the verified flag. A short press toggles verified only when the call and SAS the panel showed as
the press began are still the ones shown at its release.
"""
from micropython import const

from zerotap.states import TOGGLE_VERIFIED

POLL_MS = const(25)  # the button is read 40 times a second: debouncing needs a few reads


class FrontPanel:
    def __init__(self, display, pin=None, button=None, act=None):
        self.display = display
        self.pin = pin
        self.button = button
        self.act = act
        self._poll_at = 0
        self._pressed_on = None  # (call, SAS) shown when the press began
        if pin is not None and button is None:
            from zerotap.ui.button import Button
            self.button = Button()

    def timer(self):
        t = self.display.deadline()
        if self.pin is not None and (t is None or self._poll_at < t):
            t = self._poll_at
        return t

    def handle_timer(self, now_ms):
        if self.pin is not None and now_ms >= self._poll_at:
            self._poll_at = now_ms + POLL_MS
            was = self.button.pressed
            action = self.button.update(self.pin.pressed(), now_ms)
            if self.button.pressed and not was:
                self._pressed_on = self._shown()
            if action:
                self.display.wake()
                # the release toggles verified on what the panel showed when the press began,
                # or nothing (that call ended, or a new exchange brought another SAS)
                if self.act is not None and (action != TOGGLE_VERIFIED or
                                             self._shown() == self._pressed_on):
                    self.act(action)
        t = self.display.deadline()
        if t is not None and t <= now_ms:
            self.display.tick(now_ms)
        return self.display.screen

    def _shown(self):
        call = self.display.box.shown_call()
        return None if call is None else (call.call, call.sas)

"""The display: redraws the panel when the status changes, and dims it when nothing happens.

    display = Display(panel, box)          # box: zerotap.status.BoxStatus
    ...
    display.tick(now_ms)                   # from the main loop when display.deadline() is due

``panel`` is any object with ``width``, ``height``, ``show(buf)`` (a MONO_VLSB frame of
``width * height // 8`` bytes) and ``contrast(level)`` (0..255): :mod:`zerotap.ui.panels` adapts
micropython-lib's ``ssd1306``, adafruit-circuitpython-ssd1306 and the host's terminal/PNG panel.

A status change only marks the frame dirty; :meth:`Display.tick` draws it, so a burst of changes
costs one redraw. Burn-in: with no call and no event for ``dim_after_ms`` the panel goes to
``dim_level``; any call event (a change that concerns a call), a button press or a keypad code wakes
it at once. A shown call that is not secure, or an alarm, never dims.
"""
from micropython import const

from zerotap import status as st
from zerotap.ui import canvas, screens

BRIGHT = const(255)
DIM = const(1)
DIM_AFTER_MS = const(60000)


class Display:
    def __init__(self, panel, box, dim_after_ms=DIM_AFTER_MS, dim_level=DIM, bright_level=BRIGHT,
                 now_ms=0):
        self.panel = panel
        self.box = box
        self.width = panel.width
        self.height = panel.height
        self.buf = bytearray(canvas.buffer_size(self.width, self.height))
        self.fb = canvas.frame(self.buf, self.width, self.height)
        self.dim_after_ms = dim_after_ms
        self.dim_level = dim_level
        self.bright_level = bright_level
        self.screen = None
        self.dimmed = False
        self.dirty = True
        self.frames = 0
        self._last_event = now_ms
        self._woken = True
        box.listen(self._changed)
        panel.contrast(bright_level)

    def _changed(self, box, call):
        self.dirty = True
        if call is not None:
            self.wake()

    def wake(self):
        """A call event, a button press or a keypad code: full brightness from the next tick."""
        self._woken = True

    def _calm(self):
        """True when dimming cannot hide anything the person must see."""
        call = self.box.shown_call()
        if call is None:
            return self.box.config_error is None
        return call.security == st.SECURE and not call.mitm

    def deadline(self):
        """When :meth:`tick` next has work (ms; 0: now), or None until the status changes."""
        if self.dirty or self._woken:
            return 0
        if self.dimmed or not self._calm():
            return None  # only a status change (which marks the frame dirty) can change that
        return self._last_event + self.dim_after_ms

    def tick(self, now_ms):
        """Redraw when the status changed, and handle dimming. Returns the screen shown."""
        if self._woken:
            self._woken = False
            self._last_event = now_ms
            if self.dimmed:
                self.dimmed = False
                self.panel.contrast(self.bright_level)
        if self.dirty:
            self.dirty = False
            self.screen = screens.render(self.box, self.fb, self.width, self.height)
            self.panel.show(self.buf)
            self.frames += 1
        idle = now_ms - self._last_event
        if not self.dimmed and idle >= self.dim_after_ms and self._calm():
            self.dimmed = True
            self.panel.contrast(self.dim_level)
        elif self.dimmed and not self._calm():
            self.dimmed = False
            self._last_event = now_ms
            self.panel.contrast(self.bright_level)
        return self.screen

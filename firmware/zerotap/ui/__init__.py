"""The display, the button and the keypad codes.

Entry points for the box's runtime:

- :class:`zerotap.ui.display.Display` ``(panel, box_status)``: redraws on every status change and
  dims when idle; call ``tick(now_ms)`` from the main loop.
- :func:`zerotap.ui.screens.render` ``(box_status, framebuffer, width, height)``: the pure function
  from the status model to pixels (128x64 and 128x32).
- :class:`zerotap.ui.button.Button` and :func:`zerotap.ui.button.apply`: short press = toggle
  verified on the shown call, press-and-hold = next call.
- :class:`zerotap.ui.keypad.KeypadMatcher`: ``*#1`` / ``*#0`` typed on the phone, caught and not
  forwarded (on the media path by :mod:`zerotap.phonekeys`).
- :class:`zerotap.ui.frontpanel.FrontPanel`: the display and the button as the box's loop serves
  them (``timer()`` / ``handle_timer(now_ms)``).
- :mod:`zerotap.ui.panels`: adapters for micropython-lib's ``ssd1306`` and adafruit_ssd1306.
- :mod:`zerotap.ui.png`: PNG snapshots that are byte-identical on MicroPython and CPython, and
  :mod:`zerotap.ui.hostpanel`, the host's panel (terminal and PNG; never on a board).

Nothing is imported here, so ``import zerotap.ui.button`` on a board costs only that module.
"""

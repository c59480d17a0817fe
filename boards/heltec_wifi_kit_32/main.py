# Runs at every boot (MicroPython runs main.py after boot.py).
import time

import board

ui = board.start()  # storage, board.json, display, button, network
try:
    from zerotap.runtime import board_main  # the box: SIP proxy, media, ZRTP (zerotap.runtime)
except ImportError:
    board_main = None
if board_main is not None:
    board_main(ui)  # it calls ui.poll(now_ms) from its own loop
else:
    print("zerotap: no runtime in this build; the display and button run alone")
    while True:
        ui.poll(time.ticks_ms())
        time.sleep_ms(30)

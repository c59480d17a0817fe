# Freeze manifest for a custom MicroPython build (see ../README.md):
#   make -C ports/esp32 BOARD=ESP32_GENERIC FROZEN_MANIFEST=$PWD/manifest.py \
#        USER_C_MODULES=<zerotap>/native/zcrypto/micropython.cmake
# Paths are relative to this file.
include("$(PORT_DIR)/boards/manifest.py")  # the port's own frozen modules (asyncio, ...)
require("ssd1306")  # micropython-lib's SSD1306 driver, never copied into this repository
include("../zerotap_manifest.py")  # firmware/zerotap without the host-only modules
module("board.py", opt=3)

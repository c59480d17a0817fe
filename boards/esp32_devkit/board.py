"""ESP32 DevKitC (ESP32-WROOM-32) with an SSD1306 128x64 on I2C, Wi-Fi only.

Wiring (see README.md): OLED SDA -> GPIO21, SCL -> GPIO22 (the ESP32's usual I2C pins),
VCC -> 3V3, GND -> GND. Button: the on-board BOOT button (GPIO0, to ground).
"""
import machine
import network
import time

from zerotap import board as support

NAME = "esp32_devkit"
ARCH = "xtensawin"  # mpy-cross -march for precompiled .mpy
STORAGE = "/data"  # config.json and the ZRTP cache, on the flash file system
LAN = None  # no Ethernet: Wi-Fi from config.json's board.wifi
I2C = {"id": 0, "sda": 21, "scl": 22, "freq": 400000}
BUTTON = 0  # BOOT


def display(settings):
    return support.ssd1306_i2c(machine, time, I2C, settings)


def button():
    return support.PinButton(machine, BUTTON)

"""Heltec WiFi Kit 32 (V2, ESP32): the 0.96" SSD1306 128x64 on the board, Wi-Fi only.

On-board OLED (Heltec's pinout for the V2): SDA = GPIO4, SCL = GPIO15, reset = GPIO16 (the panel
stays dark until it is pulsed). Button: PRG on GPIO0. The V3 (ESP32-S3) moves the OLED to SDA 17,
SCL 18, reset 21 and powers it through Vext (GPIO36, low = on): set V3 = True below.
"""
import machine
import network
import time

from zerotap import board as support

NAME = "heltec_wifi_kit_32"
V3 = False
ARCH = "xtensawin"
STORAGE = "/data"
LAN = None
if V3:
    I2C = {"id": 0, "sda": 17, "scl": 18, "freq": 400000}
    OLED_RESET = 21
    VEXT = 36
else:
    I2C = {"id": 0, "sda": 4, "scl": 15, "freq": 400000}
    OLED_RESET = 16
    VEXT = None
BUTTON = 0  # PRG


def display(settings):
    return support.ssd1306_i2c(machine, time, I2C, settings, reset=OLED_RESET, vext=VEXT)


def button():
    return support.PinButton(machine, BUTTON)

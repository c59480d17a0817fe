"""Olimex ESP32-POE (and ESP32-POE-ISO): Ethernet with a LAN8720 PHY, the OLED on the UEXT connector.

Ethernet (Olimex ESP32-POE schematic; MicroPython's esp32 quick reference): RMII with MDC on GPIO23,
MDIO on GPIO18, PHY address 0, the PHY powered through GPIO12, and the 50 MHz reference clock driven
by the ESP32 on GPIO17. The OLED (Olimex MOD-OLED-128x64 or any SSD1306 module) on UEXT: pin 6 SDA
= GPIO13, pin 5 SCL = GPIO16. Button: BUT1 on GPIO34 (input only, pulled up on the board).
"""
import machine
import network
import time

from zerotap import board as support

NAME = "olimex_esp32_poe"
ARCH = "xtensawin"
STORAGE = "/data"
LAN = {"phy_type": "PHY_LAN8720", "phy_addr": 0, "mdc": 23, "mdio": 18, "power": 12,
       "ref_clk": 17, "ref_clk_mode": "OUT"}
I2C = {"id": 0, "sda": 13, "scl": 16, "freq": 400000}
BUTTON = 34  # BUT1: GPIO34 has no internal pull-up; the board has one


def display(settings):
    return support.ssd1306_i2c(machine, time, I2C, settings)


def button():
    return support.PinButton(machine, BUTTON, pull_up=False)

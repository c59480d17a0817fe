"""Wireless-Tag WT32-ETH01: Ethernet with a LAN8720 PHY; the OLED on free GPIOs.

Ethernet (WT32-ETH01 datasheet and schematic): RMII with MDC on GPIO23, MDIO on GPIO18, PHY address
1, and an external 50 MHz oscillator feeding GPIO0 (so the clock comes *in*); GPIO16 enables that
oscillator and is passed as the PHY's power pin. The OLED on the header: SDA = IO33, SCL = IO32
(pins that are not strapping pins). Button: a push button from IO4 to GND (internal pull-up).
"""
import machine
import network
import time

from zerotap import board as support

NAME = "wt32_eth01"
ARCH = "xtensawin"
STORAGE = "/data"
LAN = {"phy_type": "PHY_LAN8720", "phy_addr": 1, "mdc": 23, "mdio": 18, "power": 16,
       "ref_clk": 0, "ref_clk_mode": "IN"}
I2C = {"id": 0, "sda": 33, "scl": 32, "freq": 400000}
BUTTON = 4


def display(settings):
    return support.ssd1306_i2c(machine, time, I2C, settings)


def button():
    return support.PinButton(machine, BUTTON)

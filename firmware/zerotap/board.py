"""Board support: network bring-up, the display factory and the button, from a board's parameters.

Each ``boards/<name>/board.py`` holds only data (pins, the Ethernet PHY, the I2C bus) and calls
these functions with MicroPython's ``machine``, ``network`` and ``time`` modules, which are passed
in, never imported here: the tests pass stand-ins that record every call. What runs the board from
power-on is :func:`zerotap.runtime.boot.main`. SETTINGS below is ``config.json``'s ``board`` key
(:class:`zerotap.config.BoardSettings`).

The Ethernet parameters are those of ``network.LAN`` on the esp32 port (MicroPython's esp32 quick
reference, "LAN"): ``mdc``, ``mdio``, ``power`` (the pin that powers the PHY or its oscillator),
``phy_addr``, ``phy_type`` and ``ref_clk``/``ref_clk_mode`` (who drives the 50 MHz RMII clock).
"""
from zerotap.ui.panels import SSD1306Panel

LAN_TIMEOUT_MS = 12000
WIFI_TIMEOUT_MS = 20000


def lan(machine, network, p):
    """A started ``network.LAN`` from a board's parameter dict P."""
    Pin = machine.Pin
    kw = {
        "mdc": Pin(p["mdc"]),
        "mdio": Pin(p["mdio"]),
        "phy_addr": p["phy_addr"],
        "phy_type": getattr(network, p["phy_type"]),
    }
    if p.get("power") is not None:
        kw["power"] = Pin(p["power"])
    if p.get("ref_clk") is not None:
        kw["ref_clk"] = Pin(p["ref_clk"])
    if p.get("ref_clk_mode") is not None:
        kw["ref_clk_mode"] = Pin.OUT if p["ref_clk_mode"] == "OUT" else Pin.IN
    nic = network.LAN(**kw)
    nic.active(True)
    return nic


def wifi(network, ssid, password):
    """A ``network.WLAN`` station connecting to SSID."""
    nic = network.WLAN(network.STA_IF)
    nic.active(True)
    nic.connect(ssid, password)
    return nic


def address(nic):
    """The interface's IPv4 address, or None while it has none."""
    try:
        ip = nic.ipconfig("addr4")[0]
    except (AttributeError, OSError, ValueError, TypeError):
        ip = nic.ifconfig()[0]
    if not ip or ip == "0.0.0.0":
        return None
    return ip


def _wait(time, nic, timeout_ms, poll_ms):
    start = time.ticks_ms()
    while True:
        if nic.isconnected():
            ip = address(nic)
            if ip:
                return ip
        if time.ticks_diff(time.ticks_ms(), start) >= timeout_ms:
            return None
        time.sleep_ms(poll_ms)


def network_up(machine, network, time, lan_params, settings, status, poll_ms=250):
    """Ethernet first (when the board has it), then Wi-Fi (when ``board.wifi`` names a network).

    Tells STATUS (``set_network``) and returns (interface, ip), or (None, None).
    """
    if lan_params is not None:
        nic = None
        try:
            nic = lan(machine, network, lan_params)
        except (OSError, ValueError) as e:
            print("board: Ethernet failed:", e)
        if nic is not None:
            ip = _wait(time, nic, LAN_TIMEOUT_MS, poll_ms)
            if ip:
                status.set_network(True, ip)
                return nic, ip
            nic.active(False)  # the RMII PHY and Wi-Fi can share no state; fall back cleanly
    if settings.wifi.ssid:
        try:
            nic = wifi(network, settings.wifi.ssid, settings.wifi.password or "")
        except OSError as e:
            print("board: Wi-Fi failed:", e)
        else:
            ip = _wait(time, nic, WIFI_TIMEOUT_MS, poll_ms)
            if ip:
                status.set_network(True, ip)
                return nic, ip
    status.set_network(False)
    return None, None


def ssd1306_i2c(machine, time, bus, settings, reset=None, vext=None):
    """micropython-lib's SSD1306 on I2C, wrapped as a panel; None when no display answers.

    BUS: {"id": hardware I2C id, "sda": pin, "scl": pin, "freq": Hz}. RESET: the panel's reset
    pin, pulsed low (Heltec boards). VEXT: a pin that powers the panel when driven low (Heltec V3).
    """
    import ssd1306  # micropython-lib: frozen with require("ssd1306"), or `mip install ssd1306`

    Pin = machine.Pin
    if vext is not None:
        Pin(vext, Pin.OUT, value=0)
    if reset is not None:
        rst = Pin(reset, Pin.OUT, value=1)
        rst.value(0)
        time.sleep_ms(5)
        rst.value(1)
        time.sleep_ms(5)
    i2c = machine.I2C(bus["id"], scl=Pin(bus["scl"]), sda=Pin(bus["sda"]), freq=bus.get("freq", 400000))
    d = settings.display
    if d.address not in i2c.scan():
        print("board: no display at I2C address 0x%02x" % d.address)
        return None
    drv = ssd1306.SSD1306_I2C(d.width, d.height, i2c, addr=d.address)
    if d.flip and hasattr(drv, "rotate"):
        drv.rotate(True)
    return SSD1306Panel(drv)


class PinButton:
    """A push button on a GPIO: pressed reads low (to ground, with a pull-up)."""

    def __init__(self, machine, pin, pull_up=True, active_low=True):
        Pin = machine.Pin
        self.pin = Pin(pin, Pin.IN, Pin.PULL_UP if pull_up else None)
        self.active_low = active_low

    def pressed(self):
        v = self.pin.value()
        return not v if self.active_low else bool(v)

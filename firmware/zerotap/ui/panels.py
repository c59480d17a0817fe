"""Panels: what :class:`zerotap.ui.display.Display` draws on.

A panel has ``width``, ``height``, ``show(buf)`` (a MONO_VLSB frame, the SSD1306's own layout) and
``contrast(level)``. The drivers themselves are never part of this repository:

- :class:`SSD1306Panel` wraps micropython-lib's ``ssd1306`` driver (``SSD1306_I2C`` or
  ``SSD1306_SPI``), frozen with ``require("ssd1306")`` or installed with ``mip install ssd1306``;
- :class:`CircuitPythonPanel` wraps ``adafruit_ssd1306`` (adafruit-circuitpython-ssd1306);
- :class:`MemoryPanel` keeps the last frame in memory (tests, the host board).
"""


class MemoryPanel:
    def __init__(self, width=128, height=64):
        self.width = width
        self.height = height
        self.frame = bytearray(width * height // 8)
        self.level = None
        self.shown = 0
        self.contrasts = []

    def show(self, buf):
        self.frame[:] = buf
        self.shown += 1

    def contrast(self, level):
        self.level = level
        self.contrasts.append(level)


class SSD1306Panel:
    """micropython-lib's ssd1306 driver: our frame goes into its buffer, then ``show()``."""

    def __init__(self, driver):
        self.driver = driver
        self.width = driver.width
        self.height = driver.height
        if len(driver.buffer) != self.width * self.height // 8:
            raise ValueError("ssd1306 driver buffer has %d bytes, want %d"
                             % (len(driver.buffer), self.width * self.height // 8))

    def show(self, buf):
        self.driver.buffer[:] = buf
        self.driver.show()

    def contrast(self, level):
        self.driver.contrast(level)

    def off(self):
        self.driver.poweroff()


class CircuitPythonPanel:
    """adafruit_ssd1306's SSD1306_I2C/SSD1306_SPI. Its I2C buffer starts with the 0x40 control
    byte (Co=0, D/C#=1), its SPI buffer does not; the frame itself is the same MONO_VLSB layout."""

    def __init__(self, driver):
        self.driver = driver
        self.width = driver.width
        self.height = driver.height
        size = self.width * self.height // 8
        extra = len(driver.buffer) - size
        if extra not in (0, 1):
            raise ValueError("adafruit_ssd1306 buffer has %d bytes, want %d or %d"
                             % (len(driver.buffer), size, size + 1))
        self._offset = extra
        self._size = size

    def show(self, buf):
        self.driver.buffer[self._offset:self._offset + self._size] = buf
        self.driver.show()

    def contrast(self, level):
        self.driver.contrast(level)

    def off(self):
        self.driver.poweroff()

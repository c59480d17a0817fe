"""The display redraws on status changes, dims when idle, wakes on call events; the PNG writer and
the terminal view."""
import binascii

from zerotap import status as st
from zerotap.ui import canvas, gallery, png, screens, terminal
from zerotap.ui.display import Display
from zerotap.ui.panels import CircuitPythonPanel, MemoryPanel, SSD1306Panel


def _setup(dim_after_ms=1000):
    box = st.BoxStatus()
    panel = MemoryPanel(128, 64)
    d = Display(panel, box, dim_after_ms=dim_after_ms, dim_level=1, bright_level=255)
    return box, panel, d


def test_redraws_once_per_tick_after_changes():
    box, panel, d = _setup()
    assert d.tick(0) == screens.BOOT and panel.shown == 1
    assert d.tick(10) == screens.BOOT and panel.shown == 1  # nothing changed: no redraw
    box.set_network(True, "10.0.0.2")
    box.set_registered(True)
    assert d.tick(20) == screens.IDLE and panel.shown == 2
    buf = bytearray(canvas.buffer_size(128, 64))
    screens.render(box, canvas.frame(buf, 128, 64), 128, 64)
    assert bytes(panel.frame) == bytes(buf)


def test_dims_when_idle_and_wakes_on_a_call_event():
    box, panel, d = _setup(1000)
    box.set_network(True, "10.0.0.2")
    d.tick(0)
    d.tick(999)
    assert panel.level == 255 and not d.dimmed
    d.tick(1000)
    assert panel.level == 1 and d.dimmed
    box.set_registered(True)  # not a call event: stays dim, but redraws
    d.tick(1100)
    assert panel.level == 1
    call = box.new_call(1, "in", "alice")  # a call event wakes the panel
    assert d.tick(1200) == screens.RINGING and panel.level == 255 and not d.dimmed
    # a ringing (not secure) call never dims
    d.tick(9000)
    assert panel.level == 255
    call.set_state(st.ACTIVE)
    call.set_secure("ouga", "B32", "S256", "AES1", "HS80", "DH3k", "00" * 12, "new", False)
    d.tick(9100)
    d.tick(10100)
    assert panel.level == 1  # a calm secure call may dim
    call.alarm("plain RTP after SRTP started")
    assert d.tick(10200) == screens.ALARM and panel.level == 255


def test_button_wake():
    box, panel, d = _setup(1000)
    box.set_network(True, "10.0.0.2")
    d.tick(0)
    d.tick(5000)
    assert d.dimmed
    d.wake()
    d.tick(5001)
    assert panel.level == 255 and not d.dimmed
    d.tick(5500)
    assert not d.dimmed
    d.tick(6001)
    assert d.dimmed


def test_config_error_never_dims():
    box, panel, d = _setup(1000)
    box.set_network(True, "10.0.0.2")
    box.set_config_error("network.sip", "missing")
    d.tick(0)
    d.tick(60000)
    assert panel.level == 255


class _Driver:
    def __init__(self, extra):
        self.width = 128
        self.height = 32
        self.buffer = bytearray(b"\x40" * extra + bytes(512))
        self.shows = 0
        self.levels = []

    def show(self):
        self.shows += 1

    def contrast(self, level):
        self.levels.append(level)


def test_panel_adapters_put_the_frame_where_the_driver_sends_it():
    frame = bytes(range(256)) * 2
    d = _Driver(0)
    p = SSD1306Panel(d)
    p.show(frame)
    p.contrast(7)
    assert bytes(d.buffer) == frame and d.shows == 1 and d.levels == [7]
    d = _Driver(1)
    p = CircuitPythonPanel(d)
    p.show(frame)
    assert d.buffer[0] == 0x40 and bytes(d.buffer[1:]) == frame
    try:
        SSD1306Panel(_Driver(1))
        raise AssertionError("accepted a buffer of the wrong size")
    except ValueError as e:
        assert str(e) == "ssd1306 driver buffer has 513 bytes, want 512"


def test_png_round_trips_and_is_well_formed():
    box = gallery.secure()
    buf = bytearray(canvas.buffer_size(128, 64))
    screens.render(box, canvas.frame(buf, 128, 64), 128, 64)
    data = png.encode(buf, 128, 64)
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    w, h, back = png.decode(data)
    assert (w, h) == (128, 64) and bytes(back) == bytes(buf)
    # IHDR: 128 x 64, bit depth 1, grayscale (RFC 2083 section 4.1.1)
    assert data[12:16] == b"IHDR" and data[16:29] == binascii.unhexlify("00000080000000400100000000")
    big = png.encode(buf, 128, 64, 3, png.OLED_PALETTE)
    w, h, _ = png.decode(big)
    assert (w, h) == (384, 192)


def test_png_reader_refuses_damage():
    buf = bytearray(canvas.buffer_size(128, 32))
    data = bytearray(png.encode(buf, 128, 32))
    for mutate, message in (
        (lambda d: d[:7], "not a PNG file"),
        (lambda d: d[:45], "PNG: IDAT chunk cut short"),
        (lambda d: d[:30] + bytes([d[30] ^ 1]) + d[31:], "PNG: bad CRC in IHDR chunk"),
    ):
        try:
            png.decode(mutate(data))
            raise AssertionError("accepted: " + message)
        except ValueError as e:
            assert str(e) == message, str(e)


def test_zlib_stored_blocks_split_at_65535_bytes():
    raw = bytes(70000)
    z = png.zlib_stored(raw)
    assert z[:2] == b"\x78\x01" and z[2] == 0 and z[2 + 5 + 65535] == 1
    assert len(z) == 2 + 5 + 65535 + 5 + (70000 - 65535) + 4
    # Adler-32 of 70000 zero bytes: a = 1, b = 70000 mod 65521 (RFC 1950 section 8.2)
    assert z[-4:] == b"\x11\x7f\x00\x01"


def test_terminal_blocks_two_rows_per_line():
    buf = bytearray(canvas.buffer_size(128, 32))
    fb = canvas.frame(buf, 128, 32)
    fb.pixel(0, 0, 1)
    fb.pixel(1, 1, 1)
    fb.pixel(2, 0, 1)
    fb.pixel(2, 1, 1)
    lines = terminal.lines(buf, 128, 32, frame=False)
    assert len(lines) == 16 and len(lines[0]) == 128
    assert lines[0][:4] == "\u2580\u2584\u2588 "
    both = terminal.side_by_side([["ab", "cd"], ["x"]], 1)
    assert both == ["ab x", "cd  "]

"""Drawing: a framebuf-compatible frame buffer, and text with ZeroTap's own glyphs.

On MicroPython :func:`frame` returns the built-in ``framebuf.FrameBuffer`` (MONO_VLSB, the SSD1306's
memory layout). CPython has no ``framebuf``, so :class:`FrameBuffer` below implements the part of its
API the screens use (``fill``, ``pixel``, ``hline``, ``vline``, ``fill_rect``, ``rect``), with the
same clipping and the same bytes. Text never uses ``framebuf.text``: it is drawn here from
:mod:`zerotap.ui.font` with ``fill_rect`` only, so a screen has the same pixels on every runtime
(the golden PNG tests check it).

Large text is smoothed: a glyph is first doubled with the EPX rule (Eric's Pixel Expansion, as in
Scale2x), which rounds the diagonals, then scaled up by whole pixels.
"""
from micropython import const

from zerotap.ui import font

MONO_VLSB = const(0)

try:
    import framebuf as _framebuf
except ImportError:
    _framebuf = None


class FrameBuffer:
    """CPython stand-in for ``framebuf.FrameBuffer(buf, w, h, framebuf.MONO_VLSB)``."""

    def __init__(self, buf, width, height, fmt=MONO_VLSB):
        if fmt != MONO_VLSB:
            raise ValueError("only MONO_VLSB frame buffers are supported")
        if len(buf) < width * ((height + 7) // 8):
            raise ValueError("frame buffer too small: %d bytes for %dx%d" % (len(buf), width, height))
        self.buf = buf
        self.width = width
        self.height = height

    def fill(self, c):
        v = 0xFF if c else 0
        buf = self.buf
        for i in range(self.width * ((self.height + 7) // 8)):
            buf[i] = v

    def pixel(self, x, y, c=None):
        if not (0 <= x < self.width and 0 <= y < self.height):
            return None  # framebuf ignores pixels outside the buffer
        i = (y >> 3) * self.width + x
        bit = 1 << (y & 7)
        if c is None:
            return 1 if self.buf[i] & bit else 0
        if c:
            self.buf[i] |= bit
        else:
            self.buf[i] &= ~bit & 0xFF
        return None

    def fill_rect(self, x, y, w, h, c):
        # framebuf clips the rectangle to the buffer and draws nothing when nothing is left.
        if w < 1 or h < 1 or x + w <= 0 or y + h <= 0 or y >= self.height or x >= self.width:
            return
        x0 = x if x > 0 else 0
        y0 = y if y > 0 else 0
        x1 = x + w if x + w < self.width else self.width
        y1 = y + h if y + h < self.height else self.height
        buf = self.buf
        width = self.width
        for yy in range(y0, y1):
            row = (yy >> 3) * width
            bit = 1 << (yy & 7)
            if c:
                for xx in range(x0, x1):
                    buf[row + xx] |= bit
            else:
                mask = ~bit & 0xFF
                for xx in range(x0, x1):
                    buf[row + xx] &= mask

    def hline(self, x, y, w, c):
        self.fill_rect(x, y, w, 1, c)

    def vline(self, x, y, h, c):
        self.fill_rect(x, y, 1, h, c)

    def rect(self, x, y, w, h, c, f=False):
        if f:
            self.fill_rect(x, y, w, h, c)
            return
        self.fill_rect(x, y, w, 1, c)
        self.fill_rect(x, y + h - 1, w, 1, c)
        self.fill_rect(x, y, 1, h, c)
        self.fill_rect(x + w - 1, y, 1, h, c)


def buffer_size(width, height):
    return width * ((height + 7) // 8)


def frame(buf, width, height):
    """A MONO_VLSB frame buffer over BUF: the built-in one on MicroPython, ours on CPython."""
    if _framebuf is not None:
        return _framebuf.FrameBuffer(buf, width, height, _framebuf.MONO_VLSB)
    return FrameBuffer(buf, width, height)


def get_pixel(buf, width, x, y):
    """The pixel at (X, Y) of a MONO_VLSB buffer WIDTH pixels wide (no frame buffer needed)."""
    return (buf[(y >> 3) * width + x] >> (y & 7)) & 1


# --- text ---------------------------------------------------------------------------------------

_smooth_cache = {}


def _bitmap(ch):
    """CH as 8 rows of 5-bit row masks (bit 4 = leftmost column)."""
    cols = font.columns(ch)
    rows = []
    for r in range(font.GLYPH_H):
        m = 0
        for c in range(font.GLYPH_W):
            if cols[c] >> r & 1:
                m |= 1 << (font.GLYPH_W - 1 - c)
        rows.append(m)
    return rows


def _epx(rows, w, h):
    """Double a bitmap (rows of W-bit masks, bit W-1 leftmost) with the EPX rule."""

    def at(x, y):
        if x < 0 or y < 0 or x >= w or y >= h:
            return 0
        return (rows[y] >> (w - 1 - x)) & 1

    out = [0] * (2 * h)
    w2 = 2 * w
    for y in range(h):
        for x in range(w):
            p = at(x, y)
            a, b, c, d = at(x, y - 1), at(x + 1, y), at(x - 1, y), at(x, y + 1)
            e1 = a if (c == a and c != d and a != b) else p
            e2 = b if (a == b and a != c and b != d) else p
            e3 = c if (d == c and d != b and c != a) else p
            e4 = d if (b == d and b != a and d != c) else p
            s = w2 - 1 - 2 * x
            out[2 * y] |= (e1 << s) | (e2 << (s - 1))
            out[2 * y + 1] |= (e3 << s) | (e4 << (s - 1))
    return out


def _smooth(ch):
    rows = _smooth_cache.get(ch)
    if rows is None:
        rows = _epx(_bitmap(ch), font.GLYPH_W, font.GLYPH_H)
        if len(_smooth_cache) > 48:
            _smooth_cache.clear()
        _smooth_cache[ch] = rows
    return rows


def char(fb, ch, x, y, scale=1, color=1):
    """Draw one glyph with its top-left corner at (X, Y). SCALE >= 2 and even is smoothed."""
    if scale >= 2 and scale % 2 == 0:
        rows = _smooth(ch)
        w = 2 * font.GLYPH_W
        k = scale // 2
        for r in range(2 * font.GLYPH_H):
            m = rows[r]
            c = 0
            while m and c < w:
                if m >> (w - 1 - c) & 1:
                    # one run of set pixels becomes one rectangle
                    start = c
                    while c < w and m >> (w - 1 - c) & 1:
                        c += 1
                    fb.fill_rect(x + start * k, y + r * k, (c - start) * k, k, color)
                else:
                    c += 1
        return
    cols = font.columns(ch)
    for c in range(font.GLYPH_W):
        bits = cols[c]
        r = 0
        while bits:
            if bits & 1:
                start = r
                while bits & 1:
                    bits >>= 1
                    r += 1
                fb.fill_rect(x + c * scale, y + start * scale, scale, (r - start) * scale, color)
            else:
                bits >>= 1
                r += 1


def advance(scale=1, gap=None):
    """Horizontal distance from one character to the next."""
    return font.GLYPH_W * scale + (scale if gap is None else gap)


def text_width(s, scale=1, gap=None):
    if not s:
        return 0
    return len(s) * advance(scale, gap) - (scale if gap is None else gap)


def text(fb, s, x, y, scale=1, color=1, gap=None):
    """Draw S left to right from (X, Y); returns the x after the last character."""
    step = advance(scale, gap)
    for ch in s:
        if ch != " ":
            char(fb, ch, x, y, scale, color)
        x += step
    return x


def centered(fb, s, y, width, scale=1, color=1, gap=None, x0=0):
    """Draw S centred in [X0, X0 + WIDTH)."""
    x = x0 + (width - text_width(s, scale, gap)) // 2
    return text(fb, s, x, y, scale, color, gap)


def fit(s, width, scale=1):
    """S cut to fit WIDTH pixels, ending with '~' when cut."""
    n = (width + scale) // advance(scale)
    if len(s) <= n:
        return s
    return s[:max(0, n - 1)] + "~"


def icon(fb, rows, x, y, color=1, scale=1):
    """Draw a small bitmap given as strings of '#' and '.' (one string per row)."""
    for r in range(len(rows)):
        row = rows[r]
        c = 0
        n = len(row)
        while c < n:
            if row[c] == "#":
                start = c
                while c < n and row[c] == "#":
                    c += 1
                fb.fill_rect(x + start * scale, y + r * scale, (c - start) * scale, scale, color)
            else:
                c += 1

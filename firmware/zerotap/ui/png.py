"""A PNG writer and reader for 1-bit frame buffers, the same bytes on MicroPython and CPython.

PNG (RFC 2083 / ISO 15948): the signature, IHDR, optional PLTE, one IDAT, IEND; each chunk carries a
CRC-32 of its type and data. The image data is a zlib stream (RFC 1950) of *stored* deflate blocks
(RFC 1951 section 3.2.4): MicroPython's unix port and boards cannot compress, and a 128x64 panel is
only 1 KB raw. Pixels come from a MONO_VLSB buffer (the SSD1306 layout); 1 is a lit pixel.

The reader decodes what the writer writes (grayscale or palette, bit depth 1, no interlace, filter
type 0), which is all the golden-image tests need. Compressed IDAT is accepted where a zlib module
exists (CPython).
"""
import binascii
import struct

from micropython import const

SIGNATURE = b"\x89PNG\r\n\x1a\n"
COLOR_GRAY = const(0)
COLOR_PALETTE = const(3)
_STORED_MAX = const(65535)
_ADLER_MOD = const(65521)

# Lit pixels in the colour of a typical blue/white SSD1306, for README screenshots.
OLED_PALETTE = ((0, 0, 0), (120, 200, 255))


def _chunk(kind, data):
    crc = binascii.crc32(data, binascii.crc32(kind)) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def _adler32(data):
    a, b = 1, 0
    i = 0
    n = len(data)
    while i < n:
        # 3800 bytes keep b below 2**31 before the modulo (a small int on every port)
        end = i + 3800 if i + 3800 < n else n
        for j in range(i, end):
            a += data[j]
            b += a
        a %= _ADLER_MOD
        b %= _ADLER_MOD
        i = end
    return (b << 16) | a


def zlib_stored(raw):
    """RAW as a zlib stream of stored (uncompressed) deflate blocks."""
    out = bytearray(b"\x78\x01")  # CM=8 (deflate), CINFO=7; FCHECK makes 0x7801 a multiple of 31
    i = 0
    n = len(raw)
    while True:
        block = raw[i:i + _STORED_MAX]
        i += len(block)
        final = 1 if i >= n else 0
        out.append(final)  # BFINAL, BTYPE=00
        out += struct.pack("<HH", len(block), len(block) ^ 0xFFFF)
        out += block
        if final:
            break
    out += struct.pack(">I", _adler32(raw))
    return bytes(out)


def _rows(buf, width, height, scale):
    stride = (width * scale + 7) // 8
    raw = bytearray((stride + 1) * height * scale)
    o = 0
    for y in range(height):
        page = (y >> 3) * width
        bit = 1 << (y & 7)
        row = bytearray(stride)
        for x in range(width):
            if buf[page + x] & bit:
                for s in range(scale):
                    xx = x * scale + s
                    row[xx >> 3] |= 0x80 >> (xx & 7)
        for s in range(scale):
            raw[o] = 0  # filter type None
            raw[o + 1:o + 1 + stride] = row
            o += stride + 1
    return raw


def encode(buf, width, height, scale=1, palette=None):
    """PNG bytes of a WIDTHxHEIGHT MONO_VLSB buffer, each pixel SCALE x SCALE.

    Without PALETTE the image is 1-bit grayscale (black and white); with PALETTE, a pair of RGB
    triples for off and lit pixels, it is a 1-bit palette image.
    """
    if width < 1 or height < 1 or scale < 1:
        raise ValueError("bad image size %dx%d scale %d" % (width, height, scale))
    if len(buf) < width * ((height + 7) // 8):
        raise ValueError("frame buffer too small: %d bytes for %dx%d" % (len(buf), width, height))
    color = COLOR_GRAY if palette is None else COLOR_PALETTE
    ihdr = struct.pack(">IIBBBBB", width * scale, height * scale, 1, color, 0, 0, 0)
    out = SIGNATURE + _chunk(b"IHDR", ihdr)
    if palette is not None:
        if len(palette) != 2:
            raise ValueError("a 1-bit palette has 2 colours, not %d" % len(palette))
        out += _chunk(b"PLTE", bytes(palette[0]) + bytes(palette[1]))
    out += _chunk(b"IDAT", zlib_stored(_rows(buf, width, height, scale)))
    return out + _chunk(b"IEND", b"")


def write(path, buf, width, height, scale=1, palette=None):
    data = encode(buf, width, height, scale, palette)
    with open(path, "wb") as f:
        f.write(data)
    return len(data)


# --- reading ------------------------------------------------------------------------------------

def _inflate(data):
    if len(data) < 6:
        raise ValueError("PNG: zlib stream too short")
    if (data[0] * 256 + data[1]) % 31 or data[0] & 0x0F != 8:
        raise ValueError("PNG: bad zlib header")
    out = bytearray()
    i = 2
    while True:
        if i >= len(data):
            raise ValueError("PNG: zlib stream ends inside a block")
        head = data[i]
        if head & 0x06:  # a compressed block: leave it to a real inflater
            return _inflate_zlib(data)
        if i + 5 > len(data):
            raise ValueError("PNG: stored block header cut short")
        n, nn = struct.unpack("<HH", data[i + 1:i + 5])
        if n ^ nn != 0xFFFF:
            raise ValueError("PNG: stored block length check failed")
        if i + 5 + n > len(data):
            raise ValueError("PNG: stored block cut short")
        out += data[i + 5:i + 5 + n]
        i += 5 + n
        if head & 1:
            break
    if len(data) < i + 4 or struct.unpack(">I", data[i:i + 4])[0] != _adler32(out):
        raise ValueError("PNG: Adler-32 mismatch")
    return out


def _inflate_zlib(data):
    try:
        import zlib
    except ImportError:
        raise ValueError("PNG: compressed image data needs a zlib module")
    return zlib.decompress(bytes(data))


def decode(data):
    """(width, height, MONO_VLSB buffer) of a 1-bit PNG; a pixel is lit when its value is 1."""
    if len(data) < 8 or data[:8] != SIGNATURE:
        raise ValueError("not a PNG file")
    i = 8
    ihdr = None
    idat = bytearray()
    while True:
        if i + 8 > len(data):
            raise ValueError("PNG: chunk header cut short at %d" % i)
        n = struct.unpack(">I", data[i:i + 4])[0]
        kind = bytes(data[i + 4:i + 8])
        if i + 12 + n > len(data):
            raise ValueError("PNG: %s chunk cut short" % kind.decode())
        body = data[i + 8:i + 8 + n]
        crc = struct.unpack(">I", data[i + 8 + n:i + 12 + n])[0]
        if crc != binascii.crc32(body, binascii.crc32(kind)) & 0xFFFFFFFF:
            raise ValueError("PNG: bad CRC in %s chunk" % kind.decode())
        i += 12 + n
        if kind == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
    if ihdr is None:
        raise ValueError("PNG: no IHDR chunk")
    width, height, depth, color, _, _, interlace = ihdr
    if depth != 1 or color not in (COLOR_GRAY, COLOR_PALETTE) or interlace:
        raise ValueError("PNG: only 1-bit grayscale or palette images without interlace")
    raw = _inflate(idat)
    stride = (width + 7) // 8
    if len(raw) != (stride + 1) * height:
        raise ValueError("PNG: image data has %d bytes, want %d" % (len(raw), (stride + 1) * height))
    buf = bytearray(width * ((height + 7) // 8))
    for y in range(height):
        o = y * (stride + 1)
        if raw[o] != 0:
            raise ValueError("PNG: row %d uses filter %d, only 0 is supported" % (y, raw[o]))
        page = (y >> 3) * width
        bit = 1 << (y & 7)
        for x in range(width):
            if raw[o + 1 + (x >> 3)] & (0x80 >> (x & 7)):
                buf[page + x] |= bit
    return width, height, buf


def read(path):
    with open(path, "rb") as f:
        return decode(f.read())

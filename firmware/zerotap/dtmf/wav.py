"""WAV files for the CLI and the tests: 8 kHz mono, 16-bit PCM, mu-law or A-law.

Works on CPython and MicroPython (``struct`` and plain files only). Reading gives the audio format
and the byte offset and length of the samples, so that a large file can be streamed.
"""
import struct

from micropython import const

from zerotap.g711 import PCMA, PCMU

WAVE_FORMAT_PCM = const(1)
WAVE_FORMAT_ALAW = const(6)
WAVE_FORMAT_MULAW = const(7)
WAVE_FORMAT_EXTENSIBLE = const(0xFFFE)
LINEAR = -1  # as zerotap.dtmf.detector.LINEAR


class WavInfo:
    def __init__(self, codec, rate, channels, offset, length):
        self.codec = codec  # LINEAR (16-bit little-endian), PCMU or PCMA
        self.rate = rate
        self.channels = channels
        self.offset = offset  # of the first sample byte in the file
        self.length = length  # bytes of samples


def parse_header(head):
    """Find the format and the data chunk in the first bytes of a WAV file (RIFF)."""
    if len(head) < 12 or head[0:4] != b"RIFF" or head[8:12] != b"WAVE":
        raise ValueError("wav: not a RIFF/WAVE file")
    pos = 12
    fmt = None
    while pos + 8 <= len(head):
        cid = bytes(head[pos:pos + 4])
        size = struct.unpack("<I", head[pos + 4:pos + 8])[0]
        body = pos + 8
        if cid == b"fmt ":
            if size < 16 or body + 16 > len(head):
                raise ValueError("wav: fmt chunk of %d bytes, need 16" % size)
            tag, channels, rate, _, _, bits = struct.unpack("<HHIIHH", head[body:body + 16])
            if tag == WAVE_FORMAT_EXTENSIBLE and size >= 40 and body + 40 <= len(head):
                tag = struct.unpack("<H", head[body + 24:body + 26])[0]
            fmt = (tag, channels, rate, bits)
        elif cid == b"data":
            if fmt is None:
                raise ValueError("wav: data chunk before the fmt chunk")
            tag, channels, rate, bits = fmt
            if tag == WAVE_FORMAT_PCM and bits == 16:
                codec = LINEAR
            elif tag == WAVE_FORMAT_MULAW and bits == 8:
                codec = PCMU
            elif tag == WAVE_FORMAT_ALAW and bits == 8:
                codec = PCMA
            else:
                raise ValueError("wav: format %d with %d bits; need 16-bit PCM, mu-law or A-law"
                                 % (tag, bits))
            return WavInfo(codec, rate, channels, body, size)
        pos = body + size + (size & 1)
    raise ValueError("wav: no data chunk in the first %d bytes" % len(head))


def read_info(path):
    with open(path, "rb") as f:
        return parse_header(f.read(4096))


def read_chunks(path, size=4096):
    """Yield the sample bytes of a WAV file in pieces of at most SIZE bytes (even sizes)."""
    info = read_info(path)
    left = info.length
    size -= size & 1
    with open(path, "rb") as f:
        f.seek(info.offset)
        while left > 0:
            piece = f.read(size if size < left else left)
            if not piece:
                break
            left -= len(piece)
            yield piece


def header(codec, nbytes, rate=8000):
    """A 44-byte (or 46 for G.711) WAV header for NBYTES of mono samples."""
    if codec == LINEAR:
        tag, bits, block, extra = WAVE_FORMAT_PCM, 16, 2, b""
    elif codec == PCMU or codec == PCMA:
        tag = WAVE_FORMAT_MULAW if codec == PCMU else WAVE_FORMAT_ALAW
        bits, block, extra = 8, 1, b"\x00\x00"  # cbSize, required for non-PCM formats
    else:
        raise ValueError("wav: unknown codec %r" % (codec,))
    fmt = struct.pack("<HHIIHH", tag, 1, rate, rate * block, block, bits) + extra
    riff = 4 + 8 + len(fmt) + 8 + nbytes + (nbytes & 1)
    return (b"RIFF" + struct.pack("<I", riff) + b"WAVE" + b"fmt " + struct.pack("<I", len(fmt))
            + fmt + b"data" + struct.pack("<I", nbytes))


def write(path, samples, codec=LINEAR, rate=8000):
    """Write SAMPLES (16-bit little-endian bytes, or G.711 bytes) as a mono WAV file."""
    with open(path, "wb") as f:
        f.write(header(codec, len(samples), rate))
        f.write(samples)
        if len(samples) & 1:
            f.write(b"\x00")

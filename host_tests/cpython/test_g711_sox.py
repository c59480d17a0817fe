"""Every 16-bit sample encoded, and every code decoded, exactly as sox does it."""
import struct

import dtmf_audio as A
from zerotap import g711

def test_all_65536_samples_and_256_codes():
    lin = struct.pack("<65536h", *range(-32768, 32768))
    for enc, codec in (("u-law", g711.PCMU), ("a-law", g711.PCMA)):
        assert g711.encode_bytes(codec, lin) == A.sox_encode(lin, enc), enc
        codes = bytes(range(256))
        assert bytes(g711.decode_bytes(codec, codes)) == A.sox_decode(codes, enc), enc

"""Every 16-bit sample encoded, and every code decoded, exactly as sox does it."""
import struct

import dtmf_audio as A
from zerotap import g711

RAW = ["-t", "raw", "-r", "8000", "-c", "1"]


def test_all_65536_samples_and_256_codes():
    lin = struct.pack("<65536h", *range(-32768, 32768))
    for enc, codec in (("u-law", g711.PCMU), ("a-law", g711.PCMA)):
        coded = A.run_sox(["-D"] + RAW + ["-e", "signed", "-b", "16", "-L", "-"] + RAW
                          + ["-e", enc, "-b", "8", "-"], stdin=lin)
        assert g711.encode_bytes(codec, lin) == coded, enc
        codes = bytes(range(256))
        dec = A.run_sox(["-D"] + RAW + ["-e", enc, "-b", "8", "-"] + RAW
                        + ["-e", "signed", "-b", "16", "-L", "-"], stdin=codes)
        assert bytes(g711.decode_bytes(codec, codes)) == dec, enc

"""G.711 against sox's coder (host_tests/vectors/g711_sox.json)."""
import vectors
from zerotap import g711

SOX = vectors.load("g711_sox.json")


def _le16(values):
    out = bytearray(2 * len(values))
    for i, v in enumerate(values):
        v &= 0xFFFF
        out[2 * i] = v & 0xFF
        out[2 * i + 1] = v >> 8
    return out


def test_decode_all_codes_like_sox():
    for codec, key, scalar in ((g711.PCMU, "ulaw", g711.ulaw_to_linear),
                               (g711.PCMA, "alaw", g711.alaw_to_linear)):
        expected = SOX[key + "_decoded"]
        assert [scalar(c) for c in range(256)] == expected, key
        assert bytes(g711.decode_bytes(codec, bytes(range(256)))) == bytes(_le16(expected)), key


def test_encode_like_sox():
    values = SOX["values"]
    lin = _le16(values)
    for codec, key, scalar in ((g711.PCMU, "ulaw", g711.linear_to_ulaw),
                               (g711.PCMA, "alaw", g711.linear_to_alaw)):
        expected = vectors.unhex(SOX[key + "_encoded"])
        assert len(expected) == len(values)
        assert bytes(scalar(v) for v in values) == expected, key
        assert g711.encode_bytes(codec, lin) == expected, key


def test_codes_survive_a_round_trip():
    for codec in (g711.PCMU, g711.PCMA):
        codes = bytes(range(256))
        back = g711.encode_bytes(codec, g711.decode_bytes(codec, codes))
        for c in range(256):
            # mu-law has two zeros (0x7F and 0xFF); both come back as 0xFF.
            want = 0xFF if codec == g711.PCMU and c == 0x7F else c
            assert back[c] == want, (codec, c)


def test_offsets_and_partial_blocks():
    src = bytes(range(10))
    dst = bytearray(40)
    g711.decode(g711.PCMA, src, dst, 4, 3)
    assert dst[:6] == bytearray(6) and dst[14:] == bytearray(26)
    assert bytes(dst[6:14]) == bytes(g711.decode_bytes(g711.PCMA, src[:4]))
    out = bytearray(8)
    g711.encode(g711.PCMU, dst[6:14], out, 4, 2)
    assert bytes(out[2:6]) == g711.encode_bytes(g711.PCMU, dst[6:14])


def test_bad_arguments():
    for args, msg in (((5, b"ab", bytearray(4)), "g711: unknown codec 5 (PCMU=0 or PCMA=8)"),
                      ((g711.PCMU, b"ab", bytearray(2)),
                       "g711: destination too short for 2 samples at 0"),
                      ((g711.PCMU, b"ab", bytearray(8), 3),
                       "g711: source holds 2 samples, 3 asked")):
        try:
            g711.decode(*args)
            assert False, msg
        except ValueError as e:
            assert str(e) == msg


def test_decode_into_a_destination_of_odd_length():
    # the destination needs room for the samples, nothing more: an odd byte after them is left
    # alone on both interpreters
    src = bytes(range(4))
    dst = bytearray(b"\xaa" * 9)
    g711.decode(g711.PCMU, src, dst)
    assert bytes(dst[:8]) == bytes(g711.decode_bytes(g711.PCMU, src)) and dst[8] == 0xAA

"""The *A/#A number framing, as ZSipOs boxes send and check it (zsipos software/zsipos/rtp/
dtmfexchange.pxi: crc = "%02d" % (98 - id % 97); servers/icestorage: the id's last digit)."""
from zerotap.dtmf import frame

# Check digits from ZSipOs's formula, 98 - id mod 97:
# 1234567890 = 97 * 12727504 + 2      -> 96
# 9876543210 = 97 * 101820033 + 9     -> 89
# 1010101010 = 97 * 10413412 + 46     -> 52
# 5792301468 = 97 * 59714448 + 12     -> 86
# 3000000017 = 97 * 30927835 + 22     -> 76
CHECKS = (("1234567890", "96"), ("9876543210", "89"), ("1010101010", "52"),
          ("5792301468", "86"), ("3000000017", "76"))
# Ids of the ZSipOs helper server: the last digit is 7 XORed with every digit before, mod 10.
# 123456789: 7^1=6, ^2=4, ^3=7, ^4=3, ^5=6, ^6=0, ^7=7, ^8=15%10=5, ^9=12%10=2 -> "1234567892"
ICESTORAGE = (("123456789", 2),)


def test_check_digits_follow_zsipos():
    for id_digits, check in CHECKS:
        assert frame.check_digits(id_digits) == check, id_digits


def test_icestorage_checksum():
    for digits, check in ICESTORAGE:
        assert frame.icestorage_checksum(digits) == check


def test_encode_offer_and_confirmation():
    assert frame.encode("1234567890") == "*A123456789096"
    assert frame.encode("9876543210", confirm=True) == "#A987654321089"


def test_ids_never_repeat_a_digit():
    assert not frame.valid_id("1123456789")  # inside the id
    assert frame.valid_id("1010101010")
    assert frame.valid_id("1234567890")
    # "5792301468" + "86": the 8 of the id meets the 8 of the check digits.
    assert not frame.valid_id("5792301468")
    for bad in ("123456789", "12345678901", "12345x7890", 1234567890):
        assert not frame.valid_id(bad)
    try:
        frame.encode("5792301468")
        assert False
    except ValueError as e:
        assert str(e) == "frame: id '5792301468' has two equal adjacent digits (check digits included)"
    try:
        frame.encode("12345")
        assert False
    except ValueError as e:
        assert str(e) == "frame: an id is 10 digits, got '12345'"


def _counter_bytes(seed):
    state = [seed]

    def random_bytes(n):
        out = bytearray(n)
        for i in range(n):
            state[0] = (state[0] * 1103515245 + 12345) & 0x7FFFFFFF
            out[i] = (state[0] >> 16) & 0xFF
        return bytes(out)
    return random_bytes


def test_make_id_gives_valid_zsipos_ids():
    seen = set()
    for seed in range(200):
        i = frame.make_id(_counter_bytes(seed))
        assert frame.valid_id(i) and i[0] != "0"
        assert frame.icestorage_checksum(i[:9]) == int(i[9])
        seen.add(i)
    assert len(seen) == 200


def _feed(dec, keys, t0=0, step=140):
    out = []
    for n, k in enumerate(keys):
        r = dec.feed(k, t0 + n * step)
        if r is not None:
            out.append(r)
    return out


def test_decoder_accepts_complete_frames_only():
    dec = frame.FrameDecoder()
    assert _feed(dec, "*A123456789096") == [(frame.OFFER, "1234567890")]
    assert _feed(dec, "#A987654321089") == [(frame.CONFIRM, "9876543210")]
    assert _feed(dec, "*A123456789097") == []  # wrong check digits
    assert dec.rejected == 1
    assert _feed(dec, "*A12345678909") == []  # one short
    # A frame restarted by a new "*" counts from there.
    assert _feed(dec, "*A1234*A123456789096") == [(frame.OFFER, "1234567890")]


def test_stray_star_triggers_nothing():
    dec = frame.FrameDecoder()
    assert _feed(dec, "*") == []
    assert dec.get_timer() is not None
    assert _feed(dec, "1234567890969") == []  # an IVR menu after a star
    assert _feed(dec, "*#*123#") == []
    assert _feed(dec, "*B123456789096") == []
    assert _feed(dec, "A123456789096") == []


def test_repeated_key_counts_once():
    dec = frame.FrameDecoder()
    assert _feed(dec, "*A112233445566778899009966") == [(frame.OFFER, "1234567890")]


def test_decoder_times_out():
    dec = frame.FrameDecoder(frame_timeout_ms=3000, key_timeout_ms=500)
    keys = "*A123456789096"
    # A gap longer than the key timeout in the middle: nothing.
    out = [dec.feed(k, n * 140 + (600 if n >= 7 else 0)) for n, k in enumerate(keys)]
    assert out == [None] * len(keys)
    # Slow but steady keys that exceed the whole-frame timeout: nothing.
    out = [dec.feed(k, n * 400) for n, k in enumerate(keys)]
    assert out == [None] * len(keys)
    dec.feed("*", 10000)
    assert dec.get_timer() == 10500
    dec.handle_timer(10500)
    assert dec.get_timer() is None

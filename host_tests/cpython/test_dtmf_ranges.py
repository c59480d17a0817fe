"""The detector's fixed-point arithmetic fits 32-bit words (a board's viper int), checked on the
worst inputs there are: for each filter, the input that drives its state highest (the sign of the
matched sine at full scale). The unix port's 64-bit words could not show an overflow."""
import math

from zerotap.dtmf import detector as D

LIMIT = 2 ** 31


def worst_state(coef, n, amplitude):
    w = math.acos(coef / 8192)
    best = 0
    for phase in range(16):
        a = b = 0
        for i in range(n):
            v = math.sin(w * (n - i) + phase * math.pi / 8)
            x = amplitude if v >= 0 else -amplitude - 1
            a, b = x + ((coef * a) >> 12) - b, a
            best = max(best, abs(a), abs(b), abs(coef * a))
    return best, a, b


def test_block_filters_fit_32_bits():
    # 11-bit samples (-1024..1023) over 80 samples.
    for k, coef in enumerate(D.GOERTZEL_COEFS):
        worst, a, b = worst_state(coef, D.BLOCK, 1023)
        assert worst < LIMIT, (k, worst)
        re = a - ((D._COS[k] * b) >> 12)
        im = (D._SIN[k] * b) >> 12
        assert abs(D._COS[k] * b) < LIMIT and abs(D._SIN[k] * b) < LIMIT
        assert abs(re >> 3) < 32768 and abs(im >> 3) < 32768, k
        power = (re >> 3) ** 2 + (im >> 3) ** 2
        assert 32 * power < LIMIT and 16 * (power >> 1) < LIMIT


def test_harmonic_filters_fit_32_bits():
    # 10-bit samples over 160 samples, at the tones and at their second harmonics.
    for k in range(16):
        worst, a, b = worst_state(D._H_C[k], 160, 511)
        assert worst < LIMIT, (k, worst)
        assert abs(D._H_COS[k] * b) < LIMIT and abs(D._H_SIN[k] * b) < LIMIT


def test_energy_and_decision_products_fit_32_bits():
    energy = D.BLOCK * 1024 * 1024
    assert 16 * (energy >> 1) < LIMIT
    # After scaling to 2**21, with tone powers at most 1.25 times the energy:
    scaled = int(1.25 * 0x1FFFFF) + 1
    assert D._TWIST_NORMAL_1 * scaled < LIMIT and 16 * 2 * scaled < LIMIT
    # Phase test: products of two int16 values, summed, then scaled to 2**17 and rotated (Q12).
    assert 2 * 32767 * 32767 < LIMIT
    assert 2 * 131071 * 4096 < LIMIT

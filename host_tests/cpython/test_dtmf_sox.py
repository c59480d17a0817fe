"""Tones made by sox (two sine waves, plus sox's white noise) decoded by our detector: levels,
noise, frequency tolerance, durations, pauses and twist, in the manner of ITU-T Q.24."""
import pytest

import dtmf_audio as A
from dtmf_audio import aligned, shifted
from zerotap.dtmf import detector

K = A.KEYPAD


def detect(audio):
    return "".join(k for k, _ in A.detect(audio))


@pytest.mark.parametrize("level", [-3, -6, -9, -12, -15, -18, -21, -24, -27, -30])
def test_levels_minus_3_to_minus_30_dbm0_per_tone(level):
    assert detect(A.sequence(K, level_row=level, level_col=level)) == K


@pytest.mark.parametrize("level", [-10, -20, -25])
def test_white_noise_at_15_db_snr(level):
    assert detect(A.sequence(K + K, level_row=level, level_col=level, snr_db=15)) == K + K


@pytest.mark.parametrize("row,col", [(0.015, 0.015), (-0.015, -0.015), (0.015, -0.015),
                                     (-0.015, 0.015), (0.015, 0), (0, -0.015)])
def test_frequency_within_1_5_percent_is_accepted(row, col):
    assert detect(shifted(K, row, col)) == K


@pytest.mark.parametrize("row,col", [(0.035, 0), (-0.035, 0), (0, 0.035), (0, -0.035),
                                     (0.035, 0.035), (-0.035, -0.035), (0.05, 0), (0, -0.05),
                                     (0.07, 0), (0, 0.07), (-0.07, -0.07)])
def test_frequency_off_by_3_5_percent_or_more_is_rejected(row, col):
    assert detect(shifted(K, row, col)) == ""


def test_shortest_accepted_40_ms_at_every_alignment():
    keys = K * 5
    assert detect(aligned(keys, 40, 40, step=1)) == keys


@pytest.mark.parametrize("ms", [23, 20, 15])
def test_longest_rejected_23_ms_at_every_alignment(ms):
    assert detect(aligned(K * 5, ms, 60, step=1)) == ""


def test_pause_of_40_ms_separates_a_repeated_key():
    audio = b"".join(A.silence(40) + A.key_tone(k, 60) + A.silence(40) + A.key_tone(k, 60)
                     + A.silence(100) for k in K)
    assert detect(audio) == "".join(k + k for k in K)


def test_break_of_10_ms_is_bridged():
    audio = b"".join(A.silence(40) + A.key_tone(k, 60) + A.silence(10) + A.key_tone(k, 60)
                     + A.silence(100) for k in K)
    assert detect(audio) == K


@pytest.mark.parametrize("row,col", [(-16, -8), (-8, -12), (-28, -20), (-20, -24)])
def test_twist_8_db_normal_and_4_db_reverse_are_accepted(row, col):
    assert detect(A.sequence(K, level_row=row, level_col=col)) == K


@pytest.mark.parametrize("row,col", [(-19, -8), (-8, -15), (-22, -8), (-8, -20)])
def test_twist_beyond_the_limits_is_rejected(row, col):
    assert detect(A.sequence(K, level_row=row, level_col=col)) == ""


def test_levels_far_below_the_threshold_are_ignored():
    assert detect(A.sequence(K, level_row=-45, level_col=-45)) == ""


def _harmonic_sequence(db):
    return b"".join(A.silence(60) + A.with_harmonics(k, 70, harmonic_db=db) + A.silence(70)
                    for k in K)


def test_weak_second_harmonics_are_accepted():
    assert detect(_harmonic_sequence(-20)) == K


def test_strong_second_harmonics_are_rejected():
    # At -6 dB the two tones still hold over 70 % of the energy: the harmonic check rejects them.
    audio = _harmonic_sequence(-6)
    assert detect(audio) == ""
    # Without that check the same audio would pass (so the check is what rejects it).
    saved = detector._HARMONIC_DIV
    try:
        detector._HARMONIC_DIV = 0
        assert len(detect(audio)) >= 12
    finally:
        detector._HARMONIC_DIV = saved

"""Test audio: a distinct signal per direction, and proof by correlation that it arrived.

Each talker plays band-limited noise made from its own seed (8 kHz mono, 16-bit WAV: what
linphonec's file player wants). The recording at the other end is compared with normalised
cross-correlation over every lag: G.711 and jitter buffers keep the shape of the waveform, so a
relayed signal scores close to 1 at some lag, another talker's signal or silence close to 0.
"""
import wave

import numpy as np

RATE = 8000


def write_signal(path, seed, seconds=4.0, amplitude=8000):
    """Band-limited (300-3000 Hz) noise from SEED, written as an 8 kHz mono 16-bit WAV."""
    rng = np.random.default_rng(seed)
    n = int(RATE * seconds)
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n, 1 / RATE)
    spectrum[(freqs < 300) | (freqs > 3000)] = 0
    x = np.fft.irfft(spectrum, n)
    x = x / np.max(np.abs(x)) * amplitude
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(x.astype("<i2").tobytes())
    return path


def read(path):
    with wave.open(str(path), "rb") as w:
        assert w.getnchannels() == 1 and w.getsampwidth() == 2, path
        rate = w.getframerate()
        x = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(float)
    if rate != RATE:  # linphonec may record at its mixer's rate: resample in the frequency domain
        n = int(round(len(x) * RATE / rate))
        x = np.fft.irfft(np.fft.rfft(x)[:n // 2 + 1], n) * (n / len(x))
    return x


def _peak(rec, win):
    n = len(rec) + len(win)
    size = 1 << (n - 1).bit_length()
    cc = np.fft.irfft(np.fft.rfft(rec, size) * np.conj(np.fft.rfft(win, size)), size)
    cc = cc[:len(rec) - len(win) + 1]
    c2 = np.concatenate(([0.0], np.cumsum(rec * rec)))
    energy = c2[len(win):] - c2[:-len(win)]  # energy of each window of the recording
    denom = np.sqrt(np.maximum(energy, 1e-9) * np.dot(win, win))
    return float(np.max(cc / denom))


def window_peaks(recorded, reference, window=0.5):
    """How well REFERENCE (a WAV) shows up in RECORDED (a WAV), window by window: for each
    WINDOW-second window of the reference (from 0.5 s to 0.5 s before the end of the reference
    or of the recording, whichever is shorter: a call shorter than the file hears only its
    start), its peak normalised cross-correlation at any lag in the recording. [] when no
    window fits."""
    rec = read(recorded)
    ref = read(reference)
    w = int(RATE * window)
    peaks = []
    start = RATE // 2
    end = min(len(ref), len(rec)) - RATE // 2
    while start + w <= end:
        if len(rec) >= w:
            peaks.append(_peak(rec, ref[start:start + w]))
        start += w
    return peaks


def correlation(recorded, reference, window=0.5):
    """The median of ``window_peaks`` (windows of WINDOW seconds, half a second unless told;
    0.0 without a window). One glitch (a lost packet, a jitter-buffer adjustment) spoils one
    window, not the verdict."""
    peaks = window_peaks(recorded, reference, window)
    if not peaks:
        return 0.0
    return float(np.median(peaks))

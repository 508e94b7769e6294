"""Recognise the same take in another encoding: the decoded audio, compared in two steps.

1. A fingerprint: the level of every 20 ms frame. The same recording as an .ogg and as a .wav made
   from it (16-bit, or resampled) has other bytes but the same loudness in every frame where there
   is speech (codecs and resamplers change it by well under a decibel; speech lies below 8 kHz), so
   this finds the candidates quickly. It is not proof: two takes of one synthetic word placed at the
   same point have equal envelopes too.
2. The waveforms: in the band both rates hold, a copy differs from its original by the
   rounding to 16 bits and the resampler, at least 50 dB below the audio (``same_recording``);
   another take differs at least by its own room noise, 25-50 dB below the speech. A lossy
   re-encoding (MP3, Opus again) also falls short of 50 dB: it is imported as a take of its own.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from speechrec import audio

# Frames within this many dB of the take's loudest frame are compared (a word's body; 30 dB is
# the usual dynamic range of speech, so its quiet consonants count too).
COMPARED_BELOW_PEAK_DB = 30.0
# At least this many such frames (100 ms of speech): silence or a click is never called a copy.
MIN_COMPARED_FRAMES = 5
# A copy differs by less than this on average over the compared frames, and by less than
# MAX_FRAME_DIFFERENCE_DB in any one of them. Measured on the shipped words, Opus at 48 kHz against a
# 16-bit WAV made from it at 16 kHz: at most 0.03 dB on average and 0.17 dB in a frame (an MP3 copy,
# which the waveforms would not confirm anyway: 0.4-0.5 dB and 1.2 dB).
MEAN_DIFFERENCE_DB = 0.25
MAX_FRAME_DIFFERENCE_DB = 1.0
# Levels are kept in steps of this many dB (int16), finer than the differences above.
LEVEL_STEP_DB = 0.1
# A copy's loudest frame is at most this many level steps louder or quieter than the original's
# (MEAN_DIFFERENCE_DB; measured: 0.05 dB), and at most this many frames earlier or later (a
# resampler's delay, or two frames equally loud).
PEAK_STEPS_APART = round(MEAN_DIFFERENCE_DB / LEVEL_STEP_DB - 0.5)
LOUDEST_FRAMES_APART = 1
# A copy is at most this many frames longer or shorter (an encoder's padding, a resampler's tail).
LENGTH_FRAMES_APART = 1


@dataclass(frozen=True)
class Fingerprint:
    """The level of each 20 ms frame in LEVEL_STEP_DB steps (int16 bytes, native byte order as
    numpy writes it), which frame is the loudest and its level in steps. The store keeps the three
    in the clip's row (``fingerprint_levels``, ``fingerprint_loudest``, ``fingerprint_peak``), so
    the candidates for a copy are found by an index range in SQL (``candidate_ranges``)."""

    levels: bytes
    loudest: int
    peak_steps: int

    @property
    def peak_db(self) -> int:
        """The loudest frame's level in whole dBFS (a copy's is within one of the original's)."""
        return round(self.peak_steps * LEVEL_STEP_DB)


def fingerprint(samples: np.ndarray, sample_rate: int) -> Fingerprint:
    """The fingerprint of mono float32 ``samples`` in [-1, 1], shape ``(frames,)``."""
    levels = audio.frame_levels_dbfs(samples, sample_rate)
    loudest = int(np.argmax(levels))
    steps = np.round(levels / LEVEL_STEP_DB).astype(np.int16)
    return Fingerprint(steps.tobytes(), loudest, int(steps[loudest]))


def candidate_ranges(print_: Fingerprint) -> tuple[range, range]:
    """The loudest frame's levels (in steps) and places a copy of ``print_`` may have: every
    fingerprint ``same_audio`` matches lies in both ranges."""
    peak, loudest = print_.peak_steps, print_.loudest
    return (
        range(peak - PEAK_STEPS_APART, peak + PEAK_STEPS_APART + 1),
        range(loudest - LOUDEST_FRAMES_APART, loudest + LOUDEST_FRAMES_APART + 1),
    )


def same_audio(first: Fingerprint, second: Fingerprint) -> bool:
    """True when two fingerprints may be of the same recording (see the thresholds above)."""
    # Cheap checks first: an index bin holds many takes, a copy's loudest frame is as loud (0.05 dB).
    if abs(first.peak_steps - second.peak_steps) > PEAK_STEPS_APART:
        return False
    if abs(first.loudest - second.loudest) > LOUDEST_FRAMES_APART:
        return False
    if abs(len(first.levels) - len(second.levels)) > 2 * LENGTH_FRAMES_APART:  # two bytes per frame
        return False
    a = np.frombuffer(first.levels, np.int16) * LEVEL_STEP_DB
    b = np.frombuffer(second.levels, np.int16) * LEVEL_STEP_DB
    a, b = a[: min(len(a), len(b))], b[: min(len(a), len(b))]
    compared = (a > a.max() - COMPARED_BELOW_PEAK_DB) | (b > b.max() - COMPARED_BELOW_PEAK_DB)
    if compared.sum() < MIN_COMPARED_FRAMES or min(a.max(), b.max()) <= audio.SILENCE_DBFS:
        return False
    difference = np.abs(a[compared] - b[compared])
    return bool(difference.mean() < MEAN_DIFFERENCE_DB and difference.max() < MAX_FRAME_DIFFERENCE_DB)


# A copy's difference from its original lies this far below the audio, or further (16-bit rounding
# is ~90 dB below a -20 dBFS take; soxr's and FFmpeg's resamplers differ ~60-80 dB down).
MIN_COPY_SNR_DB = 50.0
# Waveforms are compared at 3/4 of the lower rate, at most this (speech's band; 3x faster than 36 kHz).
COMPARE_RATE_CAP = 12000
# Codecs and resamplers may shift a copy by a sample or two; the comparison tries these lags.
MAX_LAG = 2


def same_recording(first: np.ndarray, first_rate: int, second: np.ndarray, second_rate: int) -> bool:
    """True when two decoded takes (mono float32 in [-1, 1]) are one recording: below 3/4 of the lower
    rate's Nyquist frequency (6 kHz at most), their difference is at least MIN_COPY_SNR_DB below the first (at the
    best lag). The top quarter is left out: resamplers' anti-alias filters differ there (soxr and
    FFmpeg's, 48 to 16 kHz: 46 dB apart over the whole band, 74 dB below 6 kHz)."""
    rate = min(first_rate, second_rate, COMPARE_RATE_CAP * 4 // 3) * 3 // 4
    a = audio.resample(first, first_rate, rate).astype(np.float64)
    b = audio.resample(second, second_rate, rate).astype(np.float64)
    length = min(len(a), len(b)) - 2 * MAX_LAG
    if length <= 0:
        return False
    reference = a[MAX_LAG : MAX_LAG + length]
    power = float(np.dot(reference, reference))
    if power == 0.0:
        return False
    residual = min(
        float(np.sum((reference - b[MAX_LAG + lag : MAX_LAG + lag + length]) ** 2))
        for lag in range(-MAX_LAG, MAX_LAG + 1)
    )
    return residual == 0.0 or 10.0 * np.log10(power / residual) >= MIN_COPY_SNR_DB


class FingerprintIndex:
    """Fingerprints seen so far, each with a value (e.g. which file it was), for finding candidates."""

    def __init__(self) -> None:
        self._by_peak: dict[tuple[int, int], list[tuple[Fingerprint, object]]] = {}

    def candidates(self, print_: Fingerprint) -> list[object]:
        """The values of earlier fingerprints that ``same_audio`` matches with ``print_``."""
        found = []
        for loudest in (print_.loudest - 1, print_.loudest, print_.loudest + 1):
            for peak_db in (print_.peak_db - 1, print_.peak_db, print_.peak_db + 1):
                for earlier, value in self._by_peak.get((loudest, peak_db), []):
                    if same_audio(print_, earlier):
                        found.append(value)
        return found

    def add(self, print_: Fingerprint, value: object) -> None:
        """Remember ``print_`` with ``value``."""
        self._by_peak.setdefault((print_.loudest, print_.peak_db), []).append((print_, value))

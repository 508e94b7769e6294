"""Log-mel spectrograms and MFCCs with numpy, and the fixed-length feature vectors of a clip.

The same front end as the usual keyword-spotting baselines (TensorFlow's speech_commands example,
Warden 2018, arXiv:1804.03209): 30 ms Hann windows every 10 ms, 40 mel bands, 13 MFCCs.
No heavy framework: an exported second at 16 kHz takes well under a millisecond here.
"""

from __future__ import annotations

import functools

import numpy as np

# Frames of 30 ms every 10 ms and 40 mel bands between 20 Hz and 7.6 kHz: the speech_commands
# example's defaults (window_size_ms=30, window_stride_ms=10, 40 channels, upper edge 7600 Hz).
WINDOW_S = 0.030
HOP_S = 0.010
MEL_BANDS = 40
LOW_HZ = 20.0
HIGH_HZ = 7600.0
# 13 cepstral coefficients: the classic choice for speech (Davis & Mermelstein 1980).
MFCC_COUNT = 13
# Time pattern of a word: the clip's frames averaged in this many equal segments. Five segments of
# 200 ms resolve a word's syllables; finer grids added nothing on the benchmark corpus.
TIME_SEGMENTS = 5
# The log-mel grid for the second model: bands pooled in pairs, frames in TIME_GRID segments.
TIME_GRID = 10
# Mel power more than 40 dB under the clip's loudest cell counts as silence (natural log of 10**4):
# the room's noise level, 30-60 dB under the speech in good takes, then does not change the features.
FLOOR_BELOW_PEAK = float(np.log(10.0**4))
# Added to the mel power before the log, so digital silence stays finite (-100 dB re full scale).
POWER_FLOOR = 1e-10


def log_mel(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """Log mel power spectrogram of a mono clip.

    ``samples``: float32 in [-1, 1] or int16 PCM, shape ``(frames,)``. Returns float32 of shape
    ``(windows, MEL_BANDS)``, natural log of mel power (a clip shorter than one window is
    zero-padded to one). Raises ValueError for a sample rate below 8000 Hz.
    """
    if sample_rate < 8000:
        raise ValueError(f"sample_rate must be at least 8000 Hz for mel features, got {sample_rate!r}")
    signal = samples.astype(np.float32)
    if samples.dtype == np.int16:
        signal /= np.float32(32768.0)
    window_length = round(WINDOW_S * sample_rate)
    hop = round(HOP_S * sample_rate)
    if len(signal) < window_length:
        signal = np.pad(signal, (0, window_length - len(signal)))
    frames = np.lib.stride_tricks.sliding_window_view(signal, window_length)[::hop]
    fft_length = 1 << (window_length - 1).bit_length()
    spectrum = np.fft.rfft(frames * _hann(window_length), n=fft_length)
    power = spectrum.real**2 + spectrum.imag**2
    return np.log(power @ _mel_filters(sample_rate, fft_length) + POWER_FLOOR).astype(np.float32)


def mfcc(log_mel_power: np.ndarray) -> np.ndarray:
    """MFCCs (orthonormal DCT-II of the log mel power, first MFCC_COUNT), shape ``(windows, MFCC_COUNT)``."""
    return log_mel_power @ _dct_matrix(log_mel_power.shape[1])


def clip_features(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """One clip's feature vector for the model check (float32, length ``feature_length()``).

    Two blocks, both independent of the recording level (the clip's mean log power is removed):
    1. MFCC statistics: mean and standard deviation over the clip, and the means of TIME_SEGMENTS
       equal segments (the word's shape in time), c0 included as relative loudness;
    2. a coarse log-mel grid: bands pooled in pairs, frames in TIME_GRID segments.
    """
    spectrogram = log_mel(samples, sample_rate)
    np.maximum(spectrogram, spectrogram.max() - FLOOR_BELOW_PEAK, out=spectrogram)
    spectrogram -= spectrogram.mean()
    cepstra = mfcc(spectrogram)
    shape = _segment_means(len(cepstra), TIME_SEGMENTS) @ cepstra
    bands = spectrogram.reshape(len(spectrogram), MEL_BANDS // 2, 2).mean(axis=2)
    grid = _segment_means(len(bands), TIME_GRID) @ bands
    statistics = (cepstra.mean(axis=0), cepstra.std(axis=0), shape.ravel(), grid.ravel())
    return np.concatenate(statistics).astype(np.float32)


def feature_length() -> int:
    """Length of the vectors ``clip_features`` returns."""
    return 2 * MFCC_COUNT + TIME_SEGMENTS * MFCC_COUNT + TIME_GRID * MEL_BANDS // 2


def mfcc_block() -> slice:
    """The MFCC statistics within a feature vector (the rest is the log-mel grid)."""
    return slice(0, (2 + TIME_SEGMENTS) * MFCC_COUNT)


@functools.cache
def _segment_means(windows: int, segments: int) -> np.ndarray:
    """A ``(segments, windows)`` matrix that averages ``segments`` near-equal runs of windows
    (as ``np.array_split`` cuts them); a run with no window (a very short clip) gives zeros."""
    matrix = np.zeros((segments, windows), np.float32)
    for row, part in enumerate(np.array_split(np.arange(windows), segments)):
        if len(part):
            matrix[row, part] = 1.0 / len(part)
    return matrix


@functools.cache
def _hann(length: int) -> np.ndarray:
    return np.hanning(length + 1)[:-1].astype(np.float32)  # periodic Hann, as STFTs use


@functools.cache
def _mel_filters(sample_rate: int, fft_length: int) -> np.ndarray:
    """Triangular filters on the HTK mel scale (O'Shaughnessy 1987: 2595 log10(1 + f/700)),
    shape ``(fft_length // 2 + 1, MEL_BANDS)``, float32."""
    high_hz = min(HIGH_HZ, sample_rate / 2)
    mel_edges = np.linspace(_hz_to_mel(LOW_HZ), _hz_to_mel(high_hz), MEL_BANDS + 2)
    hz_edges = 700.0 * (10.0 ** (mel_edges / 2595.0) - 1.0)
    bins_hz = np.linspace(0.0, sample_rate / 2, fft_length // 2 + 1)
    lower, centre, upper = hz_edges[:-2, None], hz_edges[1:-1, None], hz_edges[2:, None]
    rising = (bins_hz - lower) / (centre - lower)
    falling = (upper - bins_hz) / (upper - centre)
    return np.maximum(0.0, np.minimum(rising, falling)).T.astype(np.float32)


def _hz_to_mel(frequency_hz: float) -> float:
    return 2595.0 * np.log10(1.0 + frequency_hz / 700.0)


@functools.cache
def _dct_matrix(bands: int) -> np.ndarray:
    """Orthonormal DCT-II basis, shape ``(bands, MFCC_COUNT)``."""
    n = np.arange(bands)
    basis = np.cos(np.pi / bands * (n[:, None] + 0.5) * np.arange(MFCC_COUNT)[None, :]) * np.sqrt(2.0 / bands)
    basis[:, 0] /= np.sqrt(2.0)
    return basis.astype(np.float32)

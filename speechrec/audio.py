"""Pure DSP on float32 numpy arrays: mono, resampling, levels, speech span, loudest window.

Arrays are float32 in [-1, 1] with shape ``(frames,)`` (mono) unless a docstring says otherwise;
the sample rate always travels as a separate ``sample_rate: int``.
"""

from __future__ import annotations

import math

import numpy as np
import soxr

from speechrec.errors import AudioError

# Level analysis works on 20 ms frames: short enough to find a word's edges within a frame,
# long enough that steady noise gives steady frame levels (white noise: 0.2-0.3 dB standard
# deviation from frame to frame, under 2 dB between the quietest and the loudest frame).
FRAME_S = 0.02
# Digital silence has no level; report it as this instead of -inf so numbers stay finite.
SILENCE_DBFS = -120.0
# The quietest 10 % of frames are the room between words: their level is the noise floor.
NOISE_FLOOR_PERCENTILE = 10
# A frame is speech when it stands this far above the noise floor. 10 dB is far beyond the
# frame-to-frame wobble of steady noise (under 2 dB), so loud hum or hiss is never mistaken for speech.
SPEECH_ABOVE_FLOOR_DB = 10.0
# ... and it must also be above this absolute level: below it is the self-noise of a microphone.
SPEECH_MIN_DBFS = -70.0
# A speech run must last at least this long; shorter blips (a click, a key press) are ignored.
MIN_SPEECH_RUN_S = 0.04
# A click, a pop or a key press is not speech, however loud and however long a codec smears it:
# its energy sits in one or two frames and then decays. Speech has a nucleus: a syllable's vowel
# stays within CORE_WITHIN_DB of the run's loudest frame for at least MIN_CORE_S. Syllables in
# fast spontaneous English are rarely shorter than 100 ms (Greenberg 1999, "Speaking in
# shorthand", Speech Communication 29:159-176); measured here, the shortest such core among 228
# espeak-ng words (38 words, 6 voices) at 260 words per minute, faster than conversation, is
# 60 ms, while a mouse click (case 17-click) or a pop smeared by Opus has a core of 20-40 ms.
CORE_WITHIN_DB = 10.0
MIN_CORE_S = 0.06
# A stop consonant is a silent closure and a short release burst (the /p/ of "up"), and a word
# may start with a weak fricative or burst before a closure (the /s/ of "stop", the /t/ of
# "tree"): such a short sound within this gap of speech, and quieter than it, belongs to the word.
# Closures of English voiceless stops last about 50-150 ms (Crystal & House 1988, "Segmental
# durations in connected-speech signals", JASA 83:1553-1573); 0.2 s leaves a margin.
MAX_CLOSURE_S = 0.2
# The downmix averages channels that carry the same signal (correlation at least 0.9 in size) at
# nearly the same level (at most 2 dB below the loudest). Both bounds keep the mix within 1 dB of
# the loudest channel: a copy 2 dB down gives (1 + 10**(-2/20)) / 2 = -0.94 dB, two equal channels
# correlated 0.9 give 10*log10((1 + 0.9) / 2) = -0.22 dB. Any other channel is left out.
MIX_MIN_CORRELATION = 0.9
MIX_WITHIN_DB = 2.0
# Sample rates a recording can have: 384 kHz is the highest rate of audio converters and of the
# WAV files they write; below 1 kHz nothing of a spoken word is left (speech needs 300-3400 Hz,
# the telephone band of ITU-T G.712). A header outside this range is damaged or mislabelled.
MIN_SAMPLE_RATE = 1000
MAX_SAMPLE_RATE = 384_000


def to_mono(samples: np.ndarray) -> np.ndarray:
    """Return ``samples`` as mono float32 in [-1, 1], shape ``(frames,)``.

    Accepts ``(frames,)`` or ``(frames, channels)``, float or integer PCM (scaled by its range;
    unsigned integers are offset binary, so their mid-range value is silence). Several channels
    become one by ``downmix``: the channels that carry the voice, never cancelling each other.
    Raises TypeError for a non-array and ValueError for other shapes.
    """
    if not isinstance(samples, np.ndarray):
        raise TypeError(f"samples must be a numpy array, got {type(samples).__name__}")
    if samples.ndim not in (1, 2) or (samples.ndim == 2 and samples.shape[1] == 0):
        raise ValueError(f"samples must have shape (frames,) or (frames, channels), got {samples.shape!r}")
    if samples.ndim == 2 and samples.shape[1] == 1:
        samples = samples[:, 0]
    if np.issubdtype(samples.dtype, np.unsignedinteger):
        # Unsigned PCM (8-bit WAV) is offset binary: the middle of the range is silence.
        half = (float(np.iinfo(samples.dtype).max) + 1.0) / 2.0
        samples = ((samples.astype(np.float64) - half) / half).astype(np.float32)
    elif np.issubdtype(samples.dtype, np.integer):
        scale = np.float32(np.iinfo(samples.dtype).max + 1.0)
        samples = np.divide(samples, scale, dtype=np.float32)
    elif not np.issubdtype(samples.dtype, np.floating):
        raise TypeError(f"samples must be float or integer PCM, got dtype {samples.dtype!r}")
    if samples.ndim == 2:
        samples = downmix(samples)
    return np.clip(samples, -1.0, 1.0).astype(np.float32, copy=False)


def downmix(samples: np.ndarray) -> np.ndarray:
    """One channel from float ``samples`` of shape ``(frames, channels)``, decided by the channels.

    The mix is the loudest channel (most power once each channel's mean is removed), averaged with
    every other channel that carries the same signal: correlation with the loudest of at least
    MIX_MIN_CORRELATION in size, at most MIX_WITHIN_DB quieter. A channel correlated negatively
    is inverted before it is added. So a mono microphone copied to both channels stays exactly
    itself; a microphone on one input of an interface whose other input is dead or hissing keeps
    its own level (plain averaging lost 6 dB); a channel wired in opposite phase no longer cancels
    the voice; and two different microphones are not mixed into a comb-filtered blend. All-silent
    channels give silence. Returns float32 of shape ``(frames,)`` (not clipped).
    """
    channels = samples.astype(np.float64, copy=False)
    means = channels.mean(axis=0)
    covariance = channels.T @ channels / len(channels) - np.outer(means, means)
    power = np.maximum(np.diag(covariance), 0.0)
    loudest = int(np.argmax(power))
    if power[loudest] == 0.0:
        return samples[:, loudest].astype(np.float32)
    correlation = covariance[loudest] / np.sqrt(power[loudest] * np.maximum(power, 1e-300))
    same = (np.abs(correlation) >= MIX_MIN_CORRELATION) & (power >= power[loudest] * 10 ** (-MIX_WITHIN_DB / 10))
    weights = np.where(same, np.sign(correlation), 0.0) / np.count_nonzero(same)
    return (samples @ weights.astype(samples.dtype)).astype(np.float32, copy=False)


def resample(samples: np.ndarray, sample_rate: int, target_rate: int) -> np.ndarray:
    """Resample mono ``samples`` from ``sample_rate`` to ``target_rate`` with soxr (HQ).

    Float32 in [-1, 1] gives float32; int16 PCM gives int16 (soxr rounds and saturates; used by
    the export, whose output is 16-bit anyway, because it is twice as fast). TypeError otherwise.
    """
    check_rate(sample_rate)
    check_rate(target_rate)
    if samples.dtype not in (np.float32, np.int16):
        raise TypeError(f"samples must be float32 or int16, got dtype {samples.dtype!r}; convert with to_mono")
    if sample_rate == target_rate:
        return samples
    return soxr.resample(samples, sample_rate, target_rate, quality="HQ")


def frame_levels_dbfs(samples: np.ndarray, sample_rate: int, frame_s: float = FRAME_S) -> np.ndarray:
    """RMS level of each whole non-overlapping frame in dBFS, its own mean removed first.

    Removing each frame's mean keeps a microphone's DC offset (constant or drifting) out of every
    level: a take plus an offset of 0.02 measures like the take without it, instead of the offset
    becoming the noise floor. It costs speech nothing: a 20 ms frame holds at least one period of
    any voice's fundamental (f0 >= 50 Hz). Digital silence and pure DC give SILENCE_DBFS.
    Returns float64 of shape ``(frames // frame_length,)``; a trailing partial frame is dropped,
    except that a take shorter than one frame is measured as one frame.
    """
    frame_length = max(1, round(sample_rate * frame_s))
    count = max(1, len(samples) // frame_length)
    head = samples[: count * frame_length]
    if len(head) < frame_length:
        head = np.pad(head, (0, frame_length - len(head)))
    frames = head.reshape(count, frame_length)
    sums = frames.sum(axis=1, dtype=np.float64)
    squares = np.einsum("ij,ij->i", frames, frames, dtype=np.float64)
    power = np.maximum(squares - sums * sums / frame_length, 0.0) / frame_length
    return power_to_dbfs(power)


def remove_dc(samples: np.ndarray) -> np.ndarray:
    """``samples`` minus their mean: a microphone's constant DC offset taken out of a take.

    Mono float32 gives float32; int16 PCM gives int16 (rounded and saturated). A new array.
    """
    mean = float(np.mean(samples, dtype=np.float64))
    if samples.dtype == np.int16:
        return np.clip(np.round(samples - mean), -32768, 32767).astype(np.int16)
    return (samples - np.float32(mean)).astype(samples.dtype, copy=False)


def power_to_dbfs(power: np.ndarray | float) -> np.ndarray:
    """Mean-square power to dBFS (a full-scale square wave is 0 dBFS), floored at SILENCE_DBFS."""
    with np.errstate(divide="ignore"):
        return np.maximum(10.0 * np.log10(power), SILENCE_DBFS)


def noise_floor_dbfs(levels_dbfs: np.ndarray) -> float:
    """The noise floor of a take from its frame levels: the NOISE_FLOOR_PERCENTILE-th percentile.

    Interpolated linearly between the two nearest levels, as ``np.percentile`` does, but found
    with ``np.partition``: 8x faster on the ~75 levels of a take, which matters for imports.
    """
    position = NOISE_FLOOR_PERCENTILE / 100 * (len(levels_dbfs) - 1)
    below = math.floor(position)
    above = min(below + 1, len(levels_dbfs) - 1)
    ordered = np.partition(levels_dbfs, (below, above))
    return float(ordered[below] + (ordered[above] - ordered[below]) * (position - below))


def speech_frame_mask(levels_dbfs: np.ndarray, floor_dbfs: float | None = None, frame_s: float = FRAME_S) -> np.ndarray:
    """Boolean mask of the frames that belong to speech runs, clicks and pops left out.

    ``floor_dbfs``: the take's noise floor if already known (else computed from the levels).
    See ``word_frame_masks``.
    """
    return word_frame_masks(levels_dbfs, floor_dbfs, frame_s)[0]


def word_frame_masks(
    levels_dbfs: np.ndarray, floor_dbfs: float | None = None, frame_s: float = FRAME_S
) -> tuple[np.ndarray, np.ndarray]:
    """``(speech, word)``: boolean masks of the frames of speech, and of the word (speech plus the
    release bursts that belong to it). Frames loud but in neither are transients.

    A run of loud frames (above ``speech_threshold_dbfs``, at least MIN_SPEECH_RUN_S) is speech
    when at least MIN_CORE_S of it is within CORE_WITHIN_DB of its loudest frame. Otherwise its
    loudest frames and the decay that follows each of them (frames while the level keeps falling)
    are a transient: they are taken out and what is left of the run is judged again, so a click
    on a word, or a pop whose smeared tail runs into the word, leaves the word as speech. A
    transient within MAX_CLOSURE_S before or after a run of speech, and quieter than that run,
    is part of the word (a stop's burst, a weak initial fricative).
    """
    floor_dbfs = noise_floor_dbfs(levels_dbfs) if floor_dbfs is None else floor_dbfs
    candidates = levels_dbfs > speech_threshold_dbfs(floor_dbfs)
    min_run = max(1, round(MIN_SPEECH_RUN_S / frame_s))
    min_core = max(1, round(MIN_CORE_S / frame_s))
    speech = np.zeros_like(candidates)
    transient = np.zeros_like(candidates)
    while candidates.any():
        changed = False
        for start, end in _runs(candidates):
            levels = levels_dbfs[start:end]
            core = np.flatnonzero(levels >= levels.max() - CORE_WITHIN_DB)
            if end - start >= min_run and len(core) >= min_core:
                speech[start:end] = True
                candidates[start:end] = False
                continue
            taken: list[int]
            if end - start < min_run:
                taken = list(range(start, end))
            else:
                taken = [start + int(index) for index in core]
                for index in core:  # the decay after each loud frame
                    position = start + int(index) + 1
                    while position < end and levels_dbfs[position] < levels_dbfs[position - 1]:
                        taken.append(position)
                        position += 1
            transient[taken] = True
            candidates[taken] = False
            changed = True
        if not changed:
            break
    word = speech.copy()
    if speech.any():
        closure = max(1, round(MAX_CLOSURE_S / frame_s))
        speech_runs = _runs(speech)
        for start, end in _runs(transient):
            loudest = levels_dbfs[start:end].max()
            for first, last in speech_runs:  # [first, last): a neighbouring run of speech
                near = start - closure <= last <= start or end <= first <= end + closure
                if near and loudest < levels_dbfs[first:last].max():
                    word[start:end] = True
                    break
    return speech, word


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """``(start, end)`` of each run of True in a boolean mask."""
    edges = np.diff(np.concatenate(([0], mask.astype(np.int8), [0])))
    return list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist(), strict=True))


def speech_threshold_dbfs(floor_dbfs: float) -> float:
    """The level (dBFS) a frame must exceed to count as speech over a noise floor of ``floor_dbfs``."""
    return max(floor_dbfs + SPEECH_ABOVE_FLOOR_DB, SPEECH_MIN_DBFS)


def mask_span_s(mask: np.ndarray) -> tuple[float, float] | None:
    """``(start_s, end_s)`` from the first to the last True frame of a speech mask, or None."""
    active = np.flatnonzero(mask)
    if len(active) == 0:
        return None
    return float(active[0] * FRAME_S), float((active[-1] + 1) * FRAME_S)


def speech_span(samples: np.ndarray, sample_rate: int) -> tuple[float, float] | None:
    """``(start_s, end_s)`` of the word in a take, from its first to its last frame (clicks and
    pops left out, see ``word_frame_masks``), or None."""
    return mask_span_s(word_frame_masks(frame_levels_dbfs(samples, sample_rate))[1])


def word_window_start(samples: np.ndarray, sample_rate: int, window_length: int) -> int:
    """Start index of the ``window_length``-sample window the export keeps of a mono take
    (float32 in [-1, 1], or int16 PCM).

    When the word (``word_frame_masks``) fits in the window, the window is centred on it, as far
    as the take's edges allow: every window that holds the whole word has the same speech energy,
    and the centred one keeps the most room on both sides for a weak onset or tail. Otherwise it
    is the loudest window (``loudest_window_start``) with clicks and pops silenced, so they never
    pull the window off the speech. A take no longer than the window gives 0.
    """
    if len(samples) <= window_length:
        return 0
    floats = to_mono(samples) if samples.dtype == np.int16 else samples
    levels = frame_levels_dbfs(floats, sample_rate)
    floor_dbfs = noise_floor_dbfs(levels)
    _, word = word_frame_masks(levels, floor_dbfs)
    frame_length = max(1, round(sample_rate * FRAME_S))
    active = np.flatnonzero(word)
    if len(active):
        first, end = int(active[0]) * frame_length, min(len(samples), (int(active[-1]) + 1) * frame_length)
        if end - first <= window_length:
            centred = round((first + end - window_length) / 2)
            return int(np.clip(centred, 0, len(samples) - window_length))
    transients = (levels > speech_threshold_dbfs(floor_dbfs)) & ~word
    if transients.any():
        keep = np.repeat(~transients, frame_length)
        keep = np.concatenate((keep, np.ones(max(0, len(samples) - len(keep)), bool)))[: len(samples)]
        samples = np.where(keep, samples, 0).astype(samples.dtype)
    return loudest_window_start(samples, window_length)


def loudest_window_start(samples: np.ndarray, window_length: int) -> int:
    """Start index of the ``window_length``-sample window with the most energy (sum of squares).

    Vectorized: a running sum of the squares on an integer grid (2**-61 of the take's total
    energy), so equal windows anywhere in the take get exactly equal sums; the first of equal
    windows wins. A take no longer than the window gives 0. Raises ValueError for a
    window length < 1 or samples that are not finite.
    """
    if window_length < 1:
        raise ValueError(f"window_length must be at least 1 sample, got {window_length!r}")
    if len(samples) <= window_length:
        return 0
    squares = samples.astype(np.float64) ** 2
    total = float(np.sum(squares))
    if not np.isfinite(total):
        raise ValueError("samples contain NaN or infinity; decode the audio with speechrec.decode")
    if total == 0.0:
        return 0
    # A float running sum rounds differently at different positions, so two equal windows could
    # differ in the last bit and the later one win. Integers add exactly: scale the squares so
    # that their total is below 2**61 (no int64 overflow) and round each onto the grid.
    grid = np.rint(np.ldexp(squares, 61 - math.frexp(total)[1])).astype(np.int64)
    energy = np.concatenate(([0], np.cumsum(grid)))
    return int(np.argmax(energy[window_length:] - energy[:-window_length]))


def fit_to_window(samples: np.ndarray, sample_rate: int, duration_s: float) -> np.ndarray:
    """Exactly ``round(duration_s * sample_rate)`` samples: the window of a longer take centred on
    its word (the loudest window when the speech is longer; ``word_window_start``), or a shorter
    take padded with silence so that its word sits in the middle.

    Input and output are mono, float32 in [-1, 1] or int16 PCM (the output keeps the input's dtype).
    """
    window_length = round(duration_s * sample_rate)
    if window_length < 1:
        raise ValueError(f"duration_s must give at least one sample, got {duration_s!r}")
    if len(samples) >= window_length:
        start = word_window_start(samples, sample_rate, window_length)
        return samples[start : start + window_length]
    span = speech_span(to_mono(samples), sample_rate)
    centre = (span[0] + span[1]) / 2 * sample_rate if span else len(samples) / 2
    offset = int(np.clip(round(window_length / 2 - centre), 0, window_length - len(samples)))
    return np.pad(samples, (offset, window_length - len(samples) - offset))


def check_samples(samples: np.ndarray, sample_rate: int) -> None:
    """Raise AudioError for an empty take and ValueError/TypeError for a bad array or rate."""
    check_rate(sample_rate)
    if not isinstance(samples, np.ndarray) or samples.ndim != 1:
        raise TypeError(f"samples must be a mono numpy array of shape (frames,), got {samples!r:.80}")
    if len(samples) == 0:
        raise AudioError("the audio has no samples; record or choose a file with sound in it")


def check_rate(sample_rate: int) -> None:
    """Raise TypeError for a sample rate that is not an int and ValueError for one out of range."""
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, int | np.integer):
        raise TypeError(f"sample_rate must be an int, got {sample_rate!r}")
    if not MIN_SAMPLE_RATE <= sample_rate <= MAX_SAMPLE_RATE:
        raise ValueError(
            f"sample_rate must be between {MIN_SAMPLE_RATE} and {MAX_SAMPLE_RATE} Hz, got {sample_rate!r}"
        )


def envelope(samples: np.ndarray, bins: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-bin minimum and maximum of ``samples`` (mono float32), for drawing a waveform.

    Returns two float32 arrays of ``min(bins, len(samples))`` values. Raises ValueError for bins < 1.
    """
    if bins < 1:
        raise ValueError(f"bins must be at least 1, got {bins!r}")
    count = min(bins, len(samples))
    if count == 0:
        return np.zeros(0, np.float32), np.zeros(0, np.float32)
    edges = np.linspace(0, len(samples), count + 1).astype(int)
    return np.minimum.reduceat(samples, edges[:-1]), np.maximum.reduceat(samples, edges[:-1])

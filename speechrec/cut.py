"""The exported window of a take: centred on its speech, padded with the take's own room noise.

Works on mono int16 PCM or float32 arrays, shape ``(frames,)``, and keeps the input's dtype.
"""

from __future__ import annotations

import numpy as np

from speechrec import audio

CUTS = {
    "speech": "centred on the detected speech (the loudest window when no speech was detected)",
    "loudest": "the loudest window, shorter takes padded with digital silence (the old cut)",
}
# Room noise is taken at least this far from the detected speech, so that no onset or tail of the
# word (the detector's 20 ms frames can miss a soft edge by up to a frame) is copied into a padding.
SPEECH_GUARD_S = 0.05
# Centred on the stored span, a word this far from both edges keeps 100 ms clear even if its quiet tail
# reaches 200 ms further at the export rate (the benchmark corpus: at most 120 ms); closer than
# this, the span is found again at the export rate (0.2 ms per clip, 10-15 % of an export's work).
RECHECK_MARGIN_S = 0.3
# An int16 sample of 32768 is full scale: levels of int16 PCM are this many dB above dBFS.
PCM16_FULL_SCALE_DB = 20 * np.log10(32768.0)
# Room noise is quiet: frames more than this above the take's noise floor belong to something else
# (a word's tail, a breath). Steady noise stays within 2 dB of its floor (audio.py's measurement).
QUIET_ABOVE_FLOOR_DB = 6.0
# With less room noise than this, a padding made of it would be a short loop (audible as a buzz at
# 1/0.1 s = 10 Hz and below); the padding is digital silence instead.
MIN_ROOM_NOISE_S = 0.1


def cut_clip(
    samples: np.ndarray,
    sample_rate: int,
    duration_s: float,
    speech_span_s: tuple[float, float] | None,
    cut: str = "speech",
) -> np.ndarray:
    """Exactly ``round(duration_s * sample_rate)`` samples of a take for the export.

    ``cut="speech"``: the window is centred on ``speech_span_s`` (start and end of the speech in
    seconds from the take's start, as the quality report found them), so a word up to
    ``duration_s - 0.2`` s long sits at least 100 ms from both edges, where TensorFlow's default
    time-shift augmentation (±100 ms) cannot push it out. Where the window reaches past the take,
    it is padded with the take's own room noise (see ``room_noise``), or digital silence when the
    take has less than MIN_ROOM_NOISE_S of it. Without a speech span, the loudest window.
    ``cut="loudest"``: ``audio.fit_to_window``, the cut of speechrec before centring.
    Raises ValueError for an unknown cut or a duration below one sample.
    """
    if cut not in CUTS:
        raise ValueError(f"cut must be one of {', '.join(CUTS)}, got {cut!r}")
    length = round(duration_s * sample_rate)
    if length < 1:
        raise ValueError(f"duration_s must give at least one sample, got {duration_s!r}")
    if cut == "loudest" or speech_span_s is None:
        return audio.fit_to_window(samples, sample_rate, duration_s)
    start = round((speech_span_s[0] + speech_span_s[1]) / 2 * sample_rate - length / 2)
    body = samples[max(0, start) : max(0, start + length)]
    before, after = max(0, -start), length - len(body) - max(0, -start)
    if before == 0 and after == 0:
        return body
    noise = room_noise(samples, sample_rate, speech_span_s)
    if len(noise) < MIN_ROOM_NOISE_S * sample_rate:
        return np.pad(body, (before, after))
    # Mirrored copies: each padding meets the take at the sample it continues (no jump at the join).
    backwards = np.resize(np.concatenate([noise, noise[::-1]]), before)[::-1]  # ends with the take's first sample
    forwards = np.resize(np.concatenate([noise[::-1], noise]), after)  # starts with the take's last sample
    return np.concatenate([backwards, body, forwards]).astype(samples.dtype, copy=False)


def detect_speech_span(samples: np.ndarray, sample_rate: int) -> tuple[float, float] | None:
    """The speech span of a take as the quality check finds it (``audio.speech_span``: the word,
    clicks and pops left out), but at
    this sample rate: int16 PCM or float32 in [-1, 1]. At the export's 16 kHz a 48 kHz room is up to
    4.8 dB quieter (its band above 8 kHz is gone), so a word's quiet tail can count as speech here
    and not in the take; centring on this span keeps that tail inside the clip too."""
    levels = audio.frame_levels_dbfs(samples, sample_rate)
    if samples.dtype == np.int16:
        levels = levels - PCM16_FULL_SCALE_DB
    return audio.mask_span_s(audio.word_frame_masks(levels)[1])


def room_noise(samples: np.ndarray, sample_rate: int, speech_span_s: tuple[float, float] | None) -> np.ndarray:
    """The take without its speech: ``room_noise_parts`` joined (empty when there are none)."""
    return np.concatenate([samples[:0], *room_noise_parts(samples, sample_rate, speech_span_s)])


def room_noise_parts(
    samples: np.ndarray, sample_rate: int, speech_span_s: tuple[float, float] | None
) -> list[np.ndarray]:
    """The room noise of a take: its quiet start before the speech and its quiet end after it, up to
    two arrays; none when there is no span (then nothing tells noise from speech).

    Each part stays SPEECH_GUARD_S away from the speech span, and also stops at the first frame
    (20 ms) louder than QUIET_ABOVE_FLOOR_DB over the take's noise floor: a word's quiet tail, which
    the span can miss, must not be copied into a padding or the background noise.
    """
    if speech_span_s is None:
        return []
    guard = round(SPEECH_GUARD_S * sample_rate)
    levels = audio.frame_levels_dbfs(samples, sample_rate)  # int16 input: dB re 1, relative use only
    loud = np.flatnonzero(levels > audio.noise_floor_dbfs(levels) + QUIET_ABOVE_FLOOR_DB)
    frame = round(audio.FRAME_S * sample_rate)
    lead_end = max(0, round(speech_span_s[0] * sample_rate) - guard)
    trail_start = min(len(samples), round(speech_span_s[1] * sample_rate) + guard)
    if len(loud):
        lead_end = min(lead_end, int(loud[0]) * frame)
        trail_start = max(trail_start, (int(loud[-1]) + 1) * frame)
    return [part for part in (samples[:lead_end], samples[trail_start:]) if len(part)]

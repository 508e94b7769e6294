"""Per-take quality checks, shared by live recording, import and review."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np

from speechrec import audio
from speechrec.i18n import N_, Translate, english

# Speech whose average level is below this is too quiet to be good training data. Quiet but
# clean speech (around -35 dBFS, the example of good data) passes with a 10 dB margin.
TOO_QUIET_DBFS = -45.0
# Speech must stand this far above the room's noise to be heard clearly in a 1 s clip.
MIN_SNR_DB = 12.0
# A sample at or above this magnitude is at the rail. Lossy codecs (Opus) smear a clipped
# waveform a little below full scale, so exact 1.0 cannot be required.
CLIP_LEVEL = 0.99
# More than 0.1 % of samples at the rail (16 samples in a second at 16 kHz) is audible distortion.
MAX_CLIPPED_FRACTION = 0.001
# Clipping also shows where no sample is at the rail: after lossy coding (Opus rounds the flat
# tops and rings around them) or when an analogue stage clipped below full scale. A clipped
# waveform spends a long time at its ceiling, so the amplitude histogram of its speech piles up
# just under the take's own peak, where clean speech's histogram only falls (the method of
# Eaton & Naylor, "Detection of clipping in coded speech signals", EUSIPCO 2013). The histogram
# has PILE_UP_BINS bins from 0 to the peak; the pile-up is the largest count, in a bin at or
# above half the peak, above the lowest count of the bins below it down to 0.4 of the peak. It is
# clipping when it holds more than MAX_PILE_UP_FRACTION of the speech samples: measured on 408
# espeak-ng takes (17 words, 6 voices, WAV and Opus at 24-96 kbit/s), clean speech at any level
# reached at most 0.56 %, speech driven 10 dB or more into clipping (at full scale or at half of
# it) at least 1 % after Opus at 48 kbit/s or more.
PILE_UP_BINS = 20
MAX_PILE_UP_FRACTION = 0.008
# Only a take whose peak reaches this high can have been clipped (at the converter's rail, or in
# the analogue stage before it, a few dB lower); below it a pile-up is a steady tone, not a top.
PILE_UP_MIN_PEAK_DBFS = -12.0
# Speech starting or ending within 50 ms of the take's edge has most likely lost its onset or tail.
CUT_OFF_MARGIN_S = 0.05
# Audio lost this close before or after the detected speech may have held part of the word: the
# level threshold finds a word's first sound up to 0.14 s late and its last up to 0.3 s early
# (99th percentiles 0.10 s and 0.22 s; measured on 228 espeak-ng words, 38 words by 6 voices at
# 110-260 words per minute, at -40 and -25 dBFS over a -60 dBFS room).
LOST_BEFORE_SPEECH_S = 0.15
LOST_AFTER_SPEECH_S = 0.25

# What each flag means, as volunteers are told (English; marked for the volunteer pages' catalogs).
FLAG_DESCRIPTIONS: dict[str, str] = {
    "too_quiet": N_("too quiet: speak louder or move closer to the microphone"),
    "clipped": N_("distorted: speak a little softer or move away from the microphone"),
    "no_speech": N_("no word was heard"),
    "cut_off": N_("the word was cut off at the start or end: wait a moment before and after speaking"),
    "too_long": N_("too long: say just the word, once"),
    "lost_audio": N_("some of your word got lost on the way (a weak connection)"),
    # Set on a room recording only (speechrec.takes.PROCESSED_FLAG), never by assess_take.
    "browser_processing": N_(
        "the browser changed the sound (noise suppression, auto gain or echo cancellation stayed on)"
    ),
}
FLAGS = tuple(FLAG_DESCRIPTIONS)


@dataclass(frozen=True)
class QualityReport:
    """Numbers and flags for one take. Levels in dBFS; None where no speech was found."""

    duration_s: float
    peak_dbfs: float
    clipped_fraction: float
    noise_floor_dbfs: float
    speech_level_dbfs: float | None
    snr_db: float | None
    speech_start_s: float | None
    speech_end_s: float | None
    flags: tuple[str, ...]

    @property
    def usable(self) -> bool:
        """True when the take has no quality flag."""
        return not self.flags

    def to_row(self) -> dict[str, Any]:
        """Flat values for a database row: flags joined with commas ('' when clean)."""
        row = asdict(self)
        row["flags"] = ",".join(self.flags)
        return row

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> QualityReport:
        """Rebuild a report from a database row (the inverse of ``to_row``)."""
        values = {name: row[name] for name in cls.__dataclass_fields__ if name != "flags"}
        values = {name: None if _is_missing(value) else value for name, value in values.items()}
        flags = row["flags"] or ""
        return cls(**values, flags=tuple(flag for flag in flags.split(",") if flag))


# The clip row's quality columns, one per QualityReport field, in field order (``to_row``'s keys):
# the schema, the store and the export's metadata.csv are all built from this one list.
QUALITY_COLUMNS = tuple(field.name for field in fields(QualityReport))


def _is_missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def assess_take(
    samples: np.ndarray,
    sample_rate: int,
    clip_duration_s: float = 1.0,
    expect_speech: bool = True,
    lost_spans: Sequence[tuple[int, int]] = (),
) -> QualityReport:
    """Measure a take and flag what makes it unusable.

    The speech level is measured over speech frames, the span over the word (speech and its
    release bursts); clicks and pops are neither (see ``audio.word_frame_masks``).
    ``samples``: mono float32 in [-1, 1], shape ``(frames,)``. ``clip_duration_s``: the length of
    the exported clip (speech longer than that is ``too_long``). ``lost_spans``: ``[start, end)``
    sample ranges where audio was lost on the way (silence in ``samples``, see
    ``CaptureResult.lost_spans``): they are no part of the noise floor nor of the speech level,
    and a take whose word may have lost audio (a lost range overlapping the speech, or within
    LOST_BEFORE_SPEECH_S before / LOST_AFTER_SPEECH_S after it, or a take without speech) is
    flagged ``lost_audio``. With ``expect_speech=False`` (background noise) only ``clipped`` is
    checked. Raises AudioError for an empty take.
    """
    audio.check_samples(samples, sample_rate)
    levels = audio.frame_levels_dbfs(samples, sample_rate)
    heard = _heard_frames(lost_spans, len(levels), max(1, round(sample_rate * audio.FRAME_S)))
    if heard is not None:  # lost frames: measured as the audio around them, never as silence
        levels = np.interp(np.arange(len(levels)), np.flatnonzero(heard), levels[heard])
    noise_floor = audio.noise_floor_dbfs(levels if heard is None else levels[heard])
    mask, word = audio.word_frame_masks(levels, noise_floor)
    magnitude = np.abs(samples)
    clipped_fraction = float(np.count_nonzero(magnitude >= CLIP_LEVEL)) / len(samples)
    if expect_speech and mask.any() and magnitude.max() >= 10.0 ** (PILE_UP_MIN_PEAK_DBFS / 20.0):
        pile_up = pile_up_fraction(_speech_samples(samples, sample_rate, mask))
        if pile_up > MAX_PILE_UP_FRACTION:
            clipped_fraction = max(clipped_fraction, pile_up)
    duration_s = len(samples) / sample_rate
    speech_level: float | None = None
    snr: float | None = None
    start_s: float | None = None
    end_s: float | None = None
    if mask.any():
        frame_power = 10.0 ** (levels[mask if heard is None else mask & heard] / 10.0)
        speech_level = float(audio.power_to_dbfs(float(np.mean(frame_power))))
        snr = speech_level - noise_floor
        span = audio.mask_span_s(word)  # not None: the word mask has a speech frame
        if span is not None:
            start_s, end_s = span[0], min(span[1], duration_s)

    flags = []
    if (
        expect_speech
        and speech_level is not None
        and snr is not None
        and (speech_level < TOO_QUIET_DBFS or snr < MIN_SNR_DB)
    ):
        flags.append("too_quiet")
    if clipped_fraction > MAX_CLIPPED_FRACTION:  # at the rail, or piled up under the peak
        flags.append("clipped")
    if expect_speech and speech_level is None:
        flags.append("no_speech")
    if expect_speech and start_s is not None and end_s is not None:
        if start_s < CUT_OFF_MARGIN_S or end_s > duration_s - CUT_OFF_MARGIN_S:
            flags.append("cut_off")
        if end_s - start_s > clip_duration_s:
            flags.append("too_long")
    if expect_speech and lost_spans:
        near = (
            (start_s - LOST_BEFORE_SPEECH_S, end_s + LOST_AFTER_SPEECH_S)
            if start_s is not None and end_s is not None
            else None
        )
        if near is None or any(start / sample_rate < near[1] and end / sample_rate > near[0] for start, end in lost_spans):
            flags.append("lost_audio")
    return QualityReport(
        duration_s=duration_s,
        peak_dbfs=float(audio.power_to_dbfs(float(magnitude.max()) ** 2)),
        clipped_fraction=clipped_fraction,
        noise_floor_dbfs=noise_floor,
        speech_level_dbfs=speech_level,
        snr_db=snr,
        speech_start_s=start_s,
        speech_end_s=end_s,
        flags=tuple(flags),
    )


def pile_up_fraction(speech: np.ndarray) -> float:
    """The share of ``speech`` samples (float, DC removed) piled up under their own peak, 0..1:
    how much of the waveform sits on flattened tops (see MAX_PILE_UP_FRACTION)."""
    magnitude = np.abs(speech)
    peak = float(magnitude.max()) if len(magnitude) else 0.0
    if peak == 0.0:
        return 0.0
    lowest = PILE_UP_BINS // 2 - 2  # the histogram from 0.4 of the peak up: few samples, counted fast
    top = magnitude[magnitude >= peak * lowest / PILE_UP_BINS]
    bins = np.minimum((top * (PILE_UP_BINS / peak)).astype(np.intp), PILE_UP_BINS - 1)
    upper = np.bincount(bins, minlength=PILE_UP_BINS)[lowest:]
    lowest_below = np.minimum.accumulate(upper)[1:-1]
    return max(0.0, float((upper[2:] - lowest_below).max())) / len(magnitude)


def _speech_samples(samples: np.ndarray, sample_rate: int, mask: np.ndarray) -> np.ndarray:
    """The samples of the speech frames (``mask`` over 20 ms frames), their mean removed."""
    frame_length = max(1, round(sample_rate * audio.FRAME_S))
    count = min(len(mask), len(samples) // frame_length)
    speech = samples[: count * frame_length].reshape(count, frame_length)[mask[:count]].reshape(-1)
    speech = speech if len(speech) else samples  # a take shorter than one frame
    return speech - speech.mean(dtype=np.float64).astype(speech.dtype)


def _heard_frames(lost_spans: Sequence[tuple[int, int]], count: int, frame_length: int) -> np.ndarray | None:
    """Which of ``count`` analysis frames hold no lost audio (None when nothing was lost, or all was)."""
    heard = np.ones(count, dtype=bool)
    for start, end in lost_spans:
        heard[start // frame_length : -(-end // frame_length)] = False
    return None if heard.all() or not heard.any() else heard


def describe_flags(flags: tuple[str, ...] | list[str], translate: Translate = english) -> list[str]:
    """Plain-language sentences for quality flags, in the order given, in the language of
    ``translate`` (English by default); an unknown flag is shown as it is."""
    return [translate(FLAG_DESCRIPTIONS[flag]) if flag in FLAG_DESCRIPTIONS else flag for flag in flags]

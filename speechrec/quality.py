"""Per-take quality checks, shared by live recording, import and review."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np

from speechrec import audio

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
# Speech starting or ending within 50 ms of the take's edge has most likely lost its onset or tail.
CUT_OFF_MARGIN_S = 0.05

FLAG_DESCRIPTIONS: dict[str, str] = {
    "too_quiet": "too quiet: speak louder or move closer to the microphone",
    "clipped": "distorted: speak a little softer or move away from the microphone",
    "no_speech": "no word was heard",
    "cut_off": "the word was cut off at the start or end: wait a moment before and after speaking",
    "too_long": "too long: say just the word, once",
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
    samples: np.ndarray, sample_rate: int, clip_duration_s: float = 1.0, expect_speech: bool = True
) -> QualityReport:
    """Measure a take and flag what makes it unusable.

    ``samples``: mono float32 in [-1, 1], shape ``(frames,)``. ``clip_duration_s``: the length of
    the exported clip (speech longer than that is ``too_long``). With ``expect_speech=False``
    (background noise) only ``clipped`` is checked. Raises AudioError for an empty take.
    """
    audio.check_samples(samples, sample_rate)
    levels = audio.frame_levels_dbfs(samples, sample_rate)
    noise_floor = audio.noise_floor_dbfs(levels)
    mask = audio.speech_frame_mask(levels, noise_floor)
    magnitude = np.abs(samples)
    clipped_fraction = float(np.count_nonzero(magnitude >= CLIP_LEVEL)) / len(samples)
    duration_s = len(samples) / sample_rate
    speech_level: float | None = None
    snr: float | None = None
    start_s: float | None = None
    end_s: float | None = None
    if mask.any():
        frame_power = 10.0 ** (levels[mask] / 10.0)
        speech_level = float(audio.power_to_dbfs(float(np.mean(frame_power))))
        snr = speech_level - noise_floor
        span = audio.mask_span_s(mask)  # not None: the mask has a speech frame
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
    if clipped_fraction > MAX_CLIPPED_FRACTION:
        flags.append("clipped")
    if expect_speech and speech_level is None:
        flags.append("no_speech")
    if expect_speech and start_s is not None and end_s is not None:
        if start_s < CUT_OFF_MARGIN_S or end_s > duration_s - CUT_OFF_MARGIN_S:
            flags.append("cut_off")
        if end_s - start_s > clip_duration_s:
            flags.append("too_long")
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


def describe_flags(flags: tuple[str, ...] | list[str]) -> list[str]:
    """Plain-language sentences for quality flags, in the order given."""
    return [FLAG_DESCRIPTIONS.get(flag, flag) for flag in flags]

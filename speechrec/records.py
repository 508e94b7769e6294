"""Plain records the store takes and gives: a take to store, a stored clip, a clip's review state,
a new speaker, a sign-in bucket's failures. No SQL and no pandas here: pages, the CLI and worker
processes may import it freely.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from speechrec.auth import FAILURE_MEMORY_S
from speechrec.campaign import NEAR_MISS_SEPARATOR, NOISE_KEYWORD, SOURCES, check_keyword, check_variation_name
from speechrec.decode import encode_flac
from speechrec.fingerprint import Fingerprint, fingerprint
from speechrec.quality import QualityReport

# A clip id is a UUID4 in hex (uuid.uuid4().hex): 32 lower-case hex digits.
CLIP_ID = re.compile(r"[0-9a-f]{32}")
# A speaker id is 8 lower-case hex digits (4 random bytes, or derived for an import).
SPEAKER_ID = re.compile(r"[0-9a-f]{8}")
# Longest consent language code kept (BCP 47, RFC 5646 section 4.4.1: support at least 35 characters).
MAX_LANGUAGE_LENGTH = 35


@dataclass(frozen=True)
class NewClip:
    """A take ready to store: its FLAC bytes plus everything its row needs.

    ``flac_bytes=None`` with a ``clip_id`` means a worker already wrote the audio with
    ``AudioStorage.put`` under ``audio_key(speaker_id, clip_id)``; the store then adds the row only.
    """

    keyword: str
    speaker_id: str
    session_id: str
    source: str
    sample_rate: int
    flac_bytes: bytes | None
    quality: QualityReport
    source_path: str | None = None
    source_sha1: str | None = None
    consent_version: int | None = None
    clip_id: str | None = None
    variation: str | None = None
    near_miss_of: str | None = None
    # Whether the browser's echo cancellation, noise suppression and auto gain were all off
    # (True), one stayed on (False), or nobody knows (None: imports, older rows).
    raw: bool | None = None
    # Of the decoded audio (speechrec.fingerprint): finds this take when it is imported again in
    # another encoding. None: not known (computed by the next import).
    fingerprint: Fingerprint | None = None


@dataclass(frozen=True)
class ReviewState:
    """A clip's review columns at one moment: to undo a decision, or to notice someone else's.
    ``near_miss_of`` goes with the keyword: a re-labelled clip is a near miss of what its new word is."""

    keyword: str
    status: str
    reason: str | None
    reviewer: str | None
    reviewed_at: datetime | None
    near_miss_of: str | None = None
    # Bumped by every review write: a decision or an undo made on an older version is refused.
    version: int = 0


@dataclass(frozen=True)
class Clip:
    """One stored clip as the store reads it back: its row, with the quality numbers as a
    QualityReport. Times are UTC datetimes."""

    clip_id: str
    keyword: str
    speaker_id: str
    session_id: str
    created_at: datetime
    source: str
    source_path: str | None
    source_sha1: str | None
    sample_rate: int
    audio_key: str
    quality: QualityReport
    status: str
    reason: str | None
    reviewer: str | None
    reviewed_at: datetime | None
    consent_version: int | None
    variation: str | None = None
    near_miss_of: str | None = None
    raw: bool | None = None  # as NewClip.raw
    version: int = 0

    @property
    def duration_s(self) -> float:
        """The take's length in seconds."""
        return self.quality.duration_s

    @property
    def flags(self) -> tuple[str, ...]:
        """The take's quality flags (empty when clean)."""
        return self.quality.flags

    @property
    def review_state(self) -> ReviewState:
        """The clip's review columns as read."""
        return ReviewState(
            self.keyword, self.status, self.reason, self.reviewer, self.reviewed_at, self.near_miss_of, self.version
        )

    def to_row(self) -> dict[str, Any]:
        """The clip as one flat row, column name to value (quality numbers and flags as stored)."""
        row = {name: getattr(self, name) for name in self.__dataclass_fields__ if name != "quality"}
        return row | self.quality.to_row()

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Clip:
        """A clip from a flat row (the inverse of ``to_row``); extra keys are ignored."""
        values = {name: row[name] for name in cls.__dataclass_fields__ if name != "quality"}
        return cls(**values, quality=QualityReport.from_row(row))


# More than this share of the rows without audio is taken for a wrong storage location. Not a
# measurement: files lost by accident (an object deleted by hand, a partial restore) are a few,
# while a mistyped URL or an unmounted disk loses them all; half lies far from both.
MOST_MISSING_SHARE = 0.5


@dataclass(frozen=True)
class FingerprintedClip:
    """A stored clip that may hold the same audio as a file being imported (``ClipStore.fingerprint_candidates``)."""

    clip_id: str
    source: str
    source_path: str | None
    audio_key: str
    fingerprint: Fingerprint


@dataclass(frozen=True)
class DoubtCheck:
    """The model check whose doubt the store holds (``ClipStore.doubt_check``): the export
    fingerprint it checked and when it was made (UTC)."""

    fingerprint: str
    checked_at: datetime


@dataclass(frozen=True)
class AudioCheck:
    """Rows and audio files that do not match (``ClipStore.check_audio``).

    ``rows_without_audio``: ``(clip_id, audio_key)`` of rows whose file is missing, not yet
    rejected for it; ``known_missing``: how many such rows were already rejected as "audio
    missing"; ``audio_without_rows``: keys of files no row names, older than the leftover age;
    ``recent_without_rows``: younger ones (or of unknown age), maybe a take being stored now.
    """

    clips: int
    audio_files: int
    rows_without_audio: list[tuple[str, str]]
    known_missing: int
    audio_without_rows: list[str]
    recent_without_rows: list[str]

    @property
    def problems(self) -> int:
        """What a repair would fix: rows to reject plus files to delete."""
        return len(self.rows_without_audio) + len(self.audio_without_rows)

    @property
    def most_audio_missing(self) -> bool:
        """True when more than MOST_MISSING_SHARE of the rows have no audio (already rejected ones
        not counted): the sign of a wrong storage location, not of lost files, so a repair would
        reject good clips (``ClipStore.repair_audio`` refuses it unless forced)."""
        return len(self.rows_without_audio) > MOST_MISSING_SHARE * (self.clips - self.known_missing)


@dataclass(frozen=True)
class Speaker:
    """A volunteer: the random id used in the dataset and the code they keep (shown once)."""

    speaker_id: str
    participant_code: str | None


@dataclass(frozen=True)
class SignInFailures:
    """One sign-in throttle bucket as stored: wrong passwords in a row, the time of the last one and
    the time from which the next password may be checked (both UTC)."""

    failures: int
    last_failure_at: datetime
    retry_at: datetime

    def remembered(self, now: datetime) -> bool:
        """False once the last failure is older than FAILURE_MEMORY_S: the bucket then counts as empty."""
        return now - self.last_failure_at < timedelta(seconds=FAILURE_MEMORY_S)

    def wait_s(self, now: datetime) -> float:
        """Seconds from ``now`` until the next check (0.0 when it may be now, or forgotten)."""
        return max(0.0, (self.retry_at - now).total_seconds()) if self.remembered(now) else 0.0


def new_clip(
    samples: np.ndarray,
    sample_rate: int,
    quality: QualityReport,
    *,
    keyword: str,
    speaker_id: str,
    session_id: str,
    source: str,
    source_path: str | None = None,
    source_sha1: str | None = None,
    consent_version: int | None = None,
    variation: str | None = None,
    near_miss_of: str | None = None,
    raw: bool | None = None,
) -> NewClip:
    """A NewClip from mono float32 samples in [-1, 1], shape ``(frames,)`` (encoded as FLAC here,
    and fingerprinted)."""
    return NewClip(
        keyword=keyword,
        speaker_id=speaker_id,
        session_id=session_id,
        source=source,
        sample_rate=sample_rate,
        flac_bytes=encode_flac(samples, sample_rate),
        quality=quality,
        source_path=source_path,
        source_sha1=source_sha1,
        consent_version=consent_version,
        variation=variation,
        near_miss_of=near_miss_of,
        raw=raw,
        fingerprint=fingerprint(samples, sample_rate),
    )


def check_near_miss_of(near_miss_of: object) -> str | None:
    """Return ``near_miss_of`` if it is None or keywords joined by NEAR_MISS_SEPARATOR, else raise
    (TypeError for a non-string, CampaignError naming the bad keyword)."""
    if near_miss_of is None:
        return None
    if not isinstance(near_miss_of, str):
        raise TypeError(
            f"near_miss_of must be keywords joined by {NEAR_MISS_SEPARATOR!r} or None, got {near_miss_of!r}"
        )
    for keyword in near_miss_of.split(NEAR_MISS_SEPARATOR):
        check_keyword(keyword, "near_miss_of keyword")
    return near_miss_of


def check_consent(consent_version: object, consent_language: object) -> None:
    """ValueError unless the version is a whole number >= 1 and the language None or a short code."""
    if isinstance(consent_version, bool) or not isinstance(consent_version, int) or consent_version < 1:
        raise ValueError(f"consent_version must be a whole number >= 1, got {consent_version!r}")
    if consent_language is not None and not (
        isinstance(consent_language, str) and 0 < len(consent_language) <= MAX_LANGUAGE_LENGTH
    ):
        raise ValueError(f"consent_language must be a language code such as 'de' or None, got {consent_language!r}")


def check_speaker_id(speaker_id: object) -> str:
    """Return ``speaker_id`` if it is 8 lower-case hex digits, else raise ValueError.

    The id is part of audio keys (paths) and dataset file names, so nothing else may pass.
    """
    if not (isinstance(speaker_id, str) and SPEAKER_ID.fullmatch(speaker_id)):
        raise ValueError(f"speaker_id must be 8 lower-case hex digits, got {speaker_id!r}")
    return speaker_id


def check_new_clip(clip: object) -> NewClip:
    """Return ``clip`` if it can be stored as it is; TypeError or ValueError naming the bad field."""
    if not isinstance(clip, NewClip):
        raise TypeError(f"expected a NewClip, got {clip!r:.80}")
    if clip.keyword != NOISE_KEYWORD:
        check_keyword(clip.keyword)
    # The speaker id is part of the audio key (a path): check it before anything is written.
    check_speaker_id(clip.speaker_id)
    if clip.source not in SOURCES:
        raise ValueError(f"source must be one of {', '.join(SOURCES)}, got {clip.source!r}")
    if clip.raw is not None and not isinstance(clip.raw, bool):
        raise TypeError(f"raw must be True, False or None, got {clip.raw!r:.80}")
    if not isinstance(clip.quality, QualityReport):
        raise TypeError(f"quality must be a QualityReport, got {clip.quality!r:.80}")
    if clip.fingerprint is not None and not isinstance(clip.fingerprint, Fingerprint):
        raise TypeError(f"fingerprint must be a Fingerprint or None, got {clip.fingerprint!r:.80}")
    if clip.variation is not None:
        check_variation_name(clip.variation)
    check_near_miss_of(clip.near_miss_of)
    if clip.flac_bytes is None:
        if not (isinstance(clip.clip_id, str) and CLIP_ID.fullmatch(clip.clip_id)):
            raise ValueError(
                f"a clip whose audio is already stored needs its clip_id (32 hex digits), got {clip.clip_id!r}"
            )
    elif not clip.flac_bytes:
        raise ValueError("flac_bytes is empty; encode the take with speechrec.decode.encode_flac")
    return clip

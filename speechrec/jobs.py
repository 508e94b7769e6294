"""Per-file work of import and export, run in worker processes (or in-process for small jobs).

Imports no pandas and no SQLAlchemy, so spawned workers start in a fraction of a second.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from speechrec import audio
from speechrec.decode import decode_audio, encode_flac, encode_wav, read_pcm16
from speechrec.errors import AudioError, StoreError
from speechrec.quality import QualityReport, assess_take
from speechrec.storage import audio_key, open_storage


@dataclass(frozen=True)
class IngestJob:
    """One recording's bytes, where to store its take, and how to judge it."""

    data: bytes
    name: str
    storage_url: str
    speaker_id: str
    clip_duration_s: float
    expect_speech: bool = True


@dataclass(frozen=True)
class IngestedTake:
    """A take whose FLAC is stored under ``audio_key(speaker_id, clip_id)``; its row is still to add."""

    clip_id: str
    sample_rate: int
    quality: QualityReport


def ingest_file(job: IngestJob) -> IngestedTake | str:
    """Decode, assess, FLAC-encode and store one recording; return the reason instead if it is not audio.

    The caller adds the row (``ClipStore.add_clips`` with ``flac_bytes=None``); audio whose row
    never comes is an orphan the store removes later. Raises OSError/StoreError if storage fails.
    """
    try:
        samples, sample_rate = decode_audio(job.data, name=job.name)
    except AudioError as error:
        return str(error).removeprefix(f"{job.name}: ")
    quality = assess_take(samples, sample_rate, job.clip_duration_s, expect_speech=job.expect_speech)
    clip_id = uuid.uuid4().hex
    open_storage(job.storage_url).put(audio_key(job.speaker_id, clip_id), encode_flac(samples, sample_rate))
    return IngestedTake(clip_id, sample_rate, quality)


@dataclass(frozen=True)
class RenderJob:
    """One stored take to turn into an exported WAV. ``clip_duration_s=None`` keeps the whole take."""

    storage_url: str
    audio_key: str
    sample_rate: int
    clip_duration_s: float | None


def render_clip(job: RenderJob) -> bytes | str:
    """The exported WAV (16-bit mono at ``job.sample_rate``, cut to the loudest window), or why not.

    Works on int16 PCM throughout: the output is 16-bit anyway, and it is twice as fast as float.
    """
    try:
        samples, rate = read_pcm16(open_storage(job.storage_url).get(job.audio_key))
    except (StoreError, AudioError) as error:
        return f"audio unreadable: {error}"
    samples = audio.resample(samples, rate, job.sample_rate)
    if job.clip_duration_s is not None:
        samples = audio.fit_to_window(samples, job.sample_rate, job.clip_duration_s)
    return encode_wav(samples, job.sample_rate)

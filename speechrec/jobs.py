"""Per-file work of import, export and the model check, run in worker processes (or in-process for small jobs).

Imports no pandas and no SQLAlchemy, so spawned workers start in a fraction of a second.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Sequence
from concurrent import futures
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from speechrec import audio, cut, features
from speechrec.decode import decode_audio, encode_flac, encode_wav, read_audio_bytes, read_pcm16
from speechrec.errors import AudioError, StoreError
from speechrec.fingerprint import Fingerprint, fingerprint
from speechrec.quality import QualityReport, assess_take
from speechrec.storage import audio_key, check_audio_key, open_storage

# Threads per worker that write and fsync takes while the next file is decoded: fsync mostly waits
# for the disk (0.4-3 ms per file on the benchmark machine), and that wait need not idle a core.
WRITER_THREADS = 2


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
    fingerprint: Fingerprint | None = None  # of the decoded audio: the same take in any encoding


def ingest_files(jobs: Sequence[IngestJob]) -> list[IngestedTake | str]:
    """Decode, assess, FLAC-encode and store each recording; the reason instead for one that is not audio.

    Files are written and fsynced in background threads while the next recording decodes; this
    returns only when every take is stored completely, so the caller may then add their rows
    (``ClipStore.add_clips`` with ``flac_bytes=None``). Audio whose row never comes is an orphan
    the store removes later. Raises StorageError if storage fails.
    """
    results: list[IngestedTake | str] = []
    writes = []
    try:
        for job in jobs:
            try:
                samples, sample_rate = decode_audio(job.data, name=job.name)
                quality = assess_take(samples, sample_rate, job.clip_duration_s, expect_speech=job.expect_speech)
                flac = encode_flac(samples, sample_rate)
                take = IngestedTake(uuid.uuid4().hex, sample_rate, quality, fingerprint(samples, sample_rate))
            except AudioError as error:
                results.append(str(error).removeprefix(f"{job.name}: "))
                continue
            except Exception as error:  # whatever one file does to a decoder, the other files go on
                results.append(f"cannot be imported ({type(error).__name__}: {' '.join(str(error).split())})")
                continue
            storage = open_storage(job.storage_url)
            writes.append(_writers().submit(storage.put, audio_key(job.speaker_id, take.clip_id), flac))
            results.append(take)
    finally:
        futures.wait(writes)  # no write is left running, whatever happened
    for write in writes:
        write.result()  # raises the first write's error
    return results


@dataclass(frozen=True)
class FingerprintJob:
    """A stored take whose audio fingerprint is to be computed (one stored before fingerprints were kept)."""

    storage_url: str
    audio_key: str


def fingerprint_stored(job: FingerprintJob) -> Fingerprint | None:
    """The fingerprint of a stored take's audio (as the import computes it for a new file), or None
    when the audio cannot be read now (missing, damaged, storage failing)."""
    try:
        samples, sample_rate = read_audio_bytes(open_storage(job.storage_url).get(check_audio_key(job.audio_key)))
    except (StoreError, AudioError):
        return None
    return fingerprint(samples, sample_rate)


@functools.cache
def _writers() -> ThreadPoolExecutor:
    """This process's writer threads, started once (starting two threads for every batch cost ~1.5 %)."""
    return ThreadPoolExecutor(WRITER_THREADS, thread_name_prefix="speechrec-writer")


@dataclass(frozen=True)
class RenderJob:
    """One stored take to turn into an exported WAV. ``clip_duration_s=None`` keeps the whole take.

    ``speech_span_s``: where the speech is in the take (seconds; the quality report's), for
    ``cut="speech"`` (see ``speechrec.cut``). ``room_noise``: also return the take's room noise.
    """

    storage_url: str
    audio_key: str
    sample_rate: int
    clip_duration_s: float | None
    speech_span_s: tuple[float, float] | None = None
    cut: str = "speech"
    room_noise: bool = False


@dataclass(frozen=True)
class RenderedClip:
    """An exported WAV, and (when asked for) the take's room noise before and after the speech,
    int16 PCM at the export rate (``cut.room_noise_parts``)."""

    wav: bytes
    room_noise: tuple[np.ndarray, ...] = ()


def render_clip(job: RenderJob) -> RenderedClip | str:
    """The exported WAV (16-bit mono at ``job.sample_rate``, cut as ``job.cut`` says), or why not."""
    take = _read_take(job)
    if isinstance(take, str):
        return take
    span = _speech_span(take, job)
    clip = take if job.clip_duration_s is None else _cut(take, job, span)
    noise = cut.room_noise_parts(take, job.sample_rate, span) if job.room_noise else ()
    return RenderedClip(encode_wav(clip, job.sample_rate), tuple(noise))


def render_pcm(job: RenderJob) -> np.ndarray | str:
    """The exported clip as int16 PCM, shape ``(frames,)`` at ``job.sample_rate``, or why not."""
    take = _read_take(job)
    if isinstance(take, str) or job.clip_duration_s is None:
        return take
    return _cut(take, job, _speech_span(take, job))


def render_features(job: RenderJob) -> np.ndarray | str:
    """The model check's feature vector of the clip the export would write (``features.clip_features``), or why not."""
    samples = render_pcm(job)
    return samples if isinstance(samples, str) else features.clip_features(samples, job.sample_rate)


def _read_take(job: RenderJob) -> np.ndarray | str:
    """The whole take as int16 PCM at the export rate, or why it cannot be read.

    The take's DC offset is removed first (a cheap microphone's offset is no part of the voice).
    Works on int16 PCM throughout: the output is 16-bit anyway, and it is twice as fast as float.
    """
    try:
        samples, rate = read_pcm16(open_storage(job.storage_url).get(check_audio_key(job.audio_key)))
    except (StoreError, AudioError) as error:
        return f"audio unreadable: {error}"
    return audio.remove_dc(audio.resample(samples, rate, job.sample_rate))  # after: fewer samples


def _speech_span(take: np.ndarray, job: RenderJob) -> tuple[float, float] | None:
    """Where the speech is: the stored span, or, where centring on it leaves the word less than
    cut.RECHECK_MARGIN_S from an edge, the span found at the export rate (``cut.detect_speech_span``,
    which sees a word's quiet tail); None for a take without speech (or background noise)."""
    span = job.speech_span_s
    if job.cut != "speech" or span is None or job.clip_duration_s is None:
        return span
    if (job.clip_duration_s - (span[1] - span[0])) / 2 >= cut.RECHECK_MARGIN_S:
        return span
    return cut.detect_speech_span(take, job.sample_rate) or span


def _cut(take: np.ndarray, job: RenderJob, span: tuple[float, float] | None) -> np.ndarray:
    if job.clip_duration_s is None:  # background noise is kept whole, never cut
        return take
    return cut.cut_clip(take, job.sample_rate, job.clip_duration_s, span, job.cut)

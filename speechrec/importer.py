"""Bring existing recordings into a store: the old web apps' uploads and Speech Commands folders.

Recognised layouts (paths relative to the import folder; any audio format PyAV decodes):
- TUM web app:             ``<word>-raw/<id>.ogg``, ``<id>`` 8 hex digits whose first 4 are the session
- open-speech-recording:   ``<word>_<session>_<uuid>.ogg``, session and uuid 32 hex digits each
- Speech Commands:         ``<word>/<speaker>_nohash_<n>.wav`` and ``_background_noise_/<name>.wav``
"""

from __future__ import annotations

import hashlib
import itertools
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import cast

from speechrec.campaign import NOISE_KEYWORD, Campaign, check_keyword, fold_keyword, normalize_keyword
from speechrec.decode import read_audio_bytes
from speechrec.errors import CampaignError, SpeechrecError
from speechrec.fingerprint import FingerprintIndex, same_recording
from speechrec.jobs import IngestedTake, IngestJob, ingest_files
from speechrec.parallel import batched, bounded_map, worker_pool
from speechrec.records import NewClip
from speechrec.store import ClipStore
from speechrec.storage import audio_key

AUDIO_EXTENSIONS = frozenset(
    {".ogg", ".oga", ".opus", ".webm", ".weba", ".wav", ".flac", ".mp3", ".m4a", ".mp4", ".aac"}
)
TUM_ID = re.compile(r"^[0-9a-f]{8}$")
ORIGINAL_NAME = re.compile(r"^(?P<word>.+)_(?P<session>[0-9a-f]{32})_(?P<take>[0-9a-f]{32})$")
SPEECH_COMMANDS_NAME = re.compile(r"^(?P<speaker>[0-9a-f]{8})_nohash_(?P<number>\d+)$")
# Below this many files, starting worker processes costs more than it saves.
PARALLEL_MIN_FILES = 64
# Rows inserted per transaction.
BATCH_SIZE = 100
# Files sent to a worker per task (each task costs pickling and several pipe round trips), and
# tasks queued per worker: enough that no worker waits while the main process inserts a batch,
# few enough to keep memory bounded (one recording's bytes per file, ~10-100 kB).
FILES_PER_TASK = 16
TASKS_PER_WORKER = 3

ProgressCallback = Callable[[int, int], None]


@dataclass(frozen=True)
class FoundFile:
    """An audio file found in the import folder and what its path says about it (keyword, speaker, session)."""

    path: Path
    relative: str
    keyword: str
    speaker_id: str
    session_id: str


@dataclass
class ImportSummary:
    """The outcome of an import: counts, and every skipped file with its reason."""

    imported: int = 0
    duplicates: int = 0
    ignored: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    flagged: int = 0
    words: dict[str, int] = field(default_factory=dict)
    # (file, earlier file): the same audio in another encoding, counted in duplicates and not stored
    same_audio: list[tuple[str, str]] = field(default_factory=list)


def derived_speaker_id(layout: str, session: str) -> str:
    """A stable 8-hex-digit speaker id for a session of an old app (the same on every re-import)."""
    return hashlib.sha1(f"{layout}:{session}".encode()).hexdigest()[:8]


def identify_file(path: Path, folder: Path) -> FoundFile:
    """Work out keyword (in NFC), speaker and session from a file's path; ValueError saying why if
    the layout is unknown or the keyword cannot be a folder name."""
    relative = PurePosixPath(path.relative_to(folder).as_posix())
    stem, parent = relative.stem, relative.parent.name
    if parent == NOISE_KEYWORD:
        speaker = derived_speaker_id("noise", str(relative))
        return FoundFile(path, str(relative), NOISE_KEYWORD, speaker, "import-noise")
    if parent.endswith("-raw") and TUM_ID.match(stem.lower()):
        word, session = parent[: -len("-raw")], stem.lower()[:4]
        speaker, session_id = derived_speaker_id("tum", session), f"tum-{session}"
    elif match := ORIGINAL_NAME.match(stem):
        word, session = match["word"], match["session"]
        speaker, session_id = derived_speaker_id("open-speech-recording", session), session
    elif match := SPEECH_COMMANDS_NAME.match(stem):
        word, speaker, session_id = parent, match["speaker"], f"speech-commands-{match['speaker']}"
    else:
        raise ValueError(
            "unknown layout: expected <word>-raw/<8 hex>.ogg, <word>_<session>_<uuid>.ogg "
            "or <word>/<speaker>_nohash_<n>.wav"
        )
    word = normalize_keyword(word)
    try:
        check_keyword(word, "word")
    except CampaignError as error:
        raise ValueError(str(error)) from error
    return FoundFile(path, str(relative), word, speaker, session_id)


def import_folder(
    store: ClipStore,
    folder: str | os.PathLike[str],
    campaign: Campaign,
    *,
    workers: int | None = None,
    progress: ProgressCallback | None = None,
) -> ImportSummary:
    """Import every recording under ``folder``; files already imported (same bytes) are not added again,
    nor a file whose decoded audio equals an earlier one's of the same import (another encoding of
    the same take; listed in ``summary.same_audio``).

    One bad file never stops the import: it is listed in ``summary.skipped`` with its reason.
    A word is stored as the campaign spells it when the folder name differs only in letter case
    or Unicode form (``Yes-raw/``, a macOS NFD ``über-raw/``), else as a word already in the store
    or already met in this import, so one word never becomes two folders.
    ``workers``: processes that decode (default: one per core). ``progress(done, total)`` counts
    audio files. Raises SpeechrecError if ``folder`` is not a folder.
    """
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise ValueError(f"workers must be at least 1, got {workers!r}; it is the number of decoding processes")
    folder = Path(folder)
    if not folder.is_dir():
        raise SpeechrecError(f"{str(folder)!r} is not a folder; give the folder that holds the recordings")
    summary = ImportSummary()
    found: list[FoundFile] = []
    spellings: dict[str, str] = {}
    for word in [*campaign.words, *store.keywords()]:
        spellings.setdefault(fold_keyword(word), word)
    for path in sorted(folder.rglob("*")):
        if not path.is_file() or path.name.startswith("."):
            continue
        if path.suffix.lower() not in AUDIO_EXTENSIONS:
            summary.ignored += 1
            continue
        try:
            found_file = identify_file(path, folder)
        except ValueError as error:
            summary.skipped.append((path.relative_to(folder).as_posix(), str(error)))
        else:
            keyword = spellings.setdefault(fold_keyword(found_file.keyword), found_file.keyword)
            found.append(replace(found_file, keyword=keyword))
    total = len(found) + len(summary.skipped)
    done = len(summary.skipped)
    known = store.known_source_sha1s()

    new_files: list[tuple[FoundFile, str]] = []

    def jobs() -> Iterator[IngestJob]:
        nonlocal done
        for file in found:
            try:
                data = file.path.read_bytes()
            except OSError as error:
                summary.skipped.append((file.relative, f"cannot be read: {error.strerror}"))
            else:
                sha1 = hashlib.sha1(data).hexdigest()
                if not data:
                    summary.skipped.append((file.relative, "empty file"))
                elif sha1 in known:
                    summary.duplicates += 1
                else:
                    known.add(sha1)
                    new_files.append((file, sha1))
                    yield IngestJob(
                        data,
                        file.relative,
                        store.settings.storage_url,
                        file.speaker_id,
                        campaign.clip_duration_s,
                        expect_speech=file.keyword != NOISE_KEYWORD,
                    )
                    continue
            done += 1
            if progress:
                progress(done, total)

    workers = workers or os.cpu_count() or 1
    parallel = len(found) >= PARALLEL_MIN_FILES and store.audio.shared_between_processes
    batch: list[NewClip] = []
    speakers: set[str] = set()
    heard = FingerprintIndex()  # this import's takes: (file, audio key) by fingerprint
    with worker_pool(workers, enabled=parallel) as pool:
        chunks = bounded_map(pool, ingest_files, batched(jobs(), FILES_PER_TASK), TASKS_PER_WORKER * workers)
        for index, result in enumerate(itertools.chain.from_iterable(chunks)):
            done += 1
            file, sha1 = new_files[index]
            key = audio_key(file.speaker_id, result.clip_id) if isinstance(result, IngestedTake) else ""
            earlier = _earlier_copy(store, heard, result, key, file.relative) if isinstance(result, IngestedTake) else None
            if earlier is not None:
                store.audio.remove(key)  # the worker stored it already
                summary.duplicates += 1
                summary.same_audio.append((file.relative, earlier))
            elif isinstance(result, IngestedTake):
                if result.fingerprint is not None:
                    heard.add(result.fingerprint, (file.relative, key))
                batch.append(_new_clip(file, sha1, result))
            else:
                summary.skipped.append((file.relative, result))
            if len(batch) >= BATCH_SIZE:
                _store_batch(store, batch, speakers, summary)
            if progress:
                progress(done, total)
        _store_batch(store, batch, speakers, summary)
    summary.skipped.sort()
    return summary


def _earlier_copy(
    store: ClipStore, heard: FingerprintIndex, take: IngestedTake, key: str, relative_path: str
) -> str | None:
    """The file of this import whose decoded audio ``take`` (the file ``relative_path``) repeats in
    another encoding (another file type: an .ogg and a .wav made from it), or None. Two files of
    one type are never copies here: identical bytes are caught by their SHA-1, and a multichannel
    file that holds a mono file's samples in one channel is a take of its own to judge.

    Only within one import: finding copies of takes imported earlier needs the fingerprint in a
    column of its own (a schema change)."""
    if take.fingerprint is None:
        return None
    candidates = heard.candidates(take.fingerprint)
    if not candidates:
        return None
    samples, rate = read_audio_bytes(store.read_flac(key))
    for candidate in candidates:
        relative, earlier_key = cast(tuple[str, str], candidate)
        if PurePosixPath(relative).suffix.lower() == PurePosixPath(relative_path).suffix.lower():
            continue
        if same_recording(samples, rate, *read_audio_bytes(store.read_flac(earlier_key))):
            return relative
    return None


def _new_clip(file: FoundFile, sha1: str, take: IngestedTake) -> NewClip:
    return NewClip(
        keyword=file.keyword,
        speaker_id=file.speaker_id,
        session_id=file.session_id,
        source="import",
        sample_rate=take.sample_rate,
        flac_bytes=None,
        quality=take.quality,
        source_path=file.relative,
        source_sha1=sha1,
        clip_id=take.clip_id,
    )


def _store_batch(store: ClipStore, batch: list[NewClip], speakers: set[str], summary: ImportSummary) -> None:
    for clip in batch:
        if clip.speaker_id not in speakers:
            store.ensure_speaker(clip.speaker_id)
            speakers.add(clip.speaker_id)
    store.add_clips(batch)
    summary.imported += len(batch)
    summary.flagged += sum(1 for clip in batch if clip.quality.flags)
    for clip in batch:
        summary.words[clip.keyword] = summary.words.get(clip.keyword, 0) + 1
    batch.clear()

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
import stat
from collections.abc import Callable, Iterator
from contextlib import suppress
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import cast

from speechrec.campaign import NOISE_KEYWORD, Campaign, check_keyword, fold_keyword, normalize_keyword
from speechrec.decode import read_audio_bytes
from speechrec.errors import CampaignError, ConflictError, SpeechrecError, StoreError, WithdrawnError
from speechrec.fingerprint import FingerprintIndex, same_recording
from speechrec.jobs import IngestedTake, IngestJob, ingest_files
from speechrec.parallel import batched, bounded_map, worker_pool
from speechrec.records import NewClip
from speechrec.storage import audio_key
from speechrec.store import ClipStore

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
WITHDRAWN_REASON = "its speaker withdrew from the campaign: not imported"
# The largest file an import reads. 600 s (decode.MAX_DECODED_S, the longest recording the decoder
# accepts) of 48 kHz 16-bit stereo WAV is 110 MiB; anything larger is not a recording of ours (or an
# attack on memory), and is refused by its size before a byte is read.
MAX_IMPORT_BYTES = 128 * 2**20

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
    for path in find_audio_files(folder, summary):
        try:
            found_file = identify_file(path, folder)
        except ValueError as error:
            summary.skipped.append((_shown_path(path, folder), str(error)))
        else:
            keyword = spellings.setdefault(fold_keyword(found_file.keyword), found_file.keyword)
            found.append(replace(found_file, keyword=keyword, relative=_shown_path(path, folder)))
    withdrawn = store.withdrawn_speakers(file.speaker_id for file in found)
    for file in found:
        if file.speaker_id in withdrawn:  # re-importing an old folder must not bring them back
            summary.skipped.append((file.relative, WITHDRAWN_REASON))
    found = [file for file in found if file.speaker_id not in withdrawn]
    total = len(found) + len(summary.skipped)
    done = len(summary.skipped)
    known = store.known_source_sha1s()

    new_files: list[tuple[FoundFile, str]] = []

    def jobs() -> Iterator[IngestJob]:
        nonlocal done
        for file in found:
            try:
                data = read_inside(file.path, folder)
            except OSError as error:
                summary.skipped.append((file.relative, f"cannot be read: {(error.strerror or str(error)).lower()}"))
            except SpeechrecError as error:
                summary.skipped.append((file.relative, str(error)))
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
                batch.append(_new_clip(file, sha1, result, campaign.near_miss_label(file.keyword)))
            else:
                summary.skipped.append((file.relative, result))
            if len(batch) >= BATCH_SIZE:
                _store_batch(store, batch, speakers, summary)
            if progress:
                progress(done, total)
        _store_batch(store, batch, speakers, summary)
    summary.skipped.sort()
    return summary


def find_audio_files(folder: Path, summary: ImportSummary) -> list[Path]:
    """Every regular file with an audio extension under ``folder``, sorted, and nothing outside it.

    Links are not followed out of the folder: a link to a file outside it, a broken link and a
    link to a folder outside it are listed in ``summary.skipped`` (a link to a file inside is
    read like that file; a link to a folder inside is not walked twice). A sub-folder that cannot
    be read, and an audio name that is not a regular file (a pipe, a device), are listed too.
    Other files count as ``summary.ignored``; hidden files are passed over.
    """
    root = folder.resolve()
    found = []

    def unreadable(error: OSError) -> None:
        where = _shown_path(Path(error.filename), folder) if error.filename else "a folder"
        reason = (error.strerror or str(error)).lower()
        summary.skipped.append((f"{where}/", f"folder cannot be read ({reason}); nothing in it was imported"))

    for directory, folders, files in os.walk(folder, onerror=unreadable, followlinks=False):
        here = Path(directory)
        for name in folders:
            if (here / name).is_symlink() and not _inside((here / name).resolve(), root):
                summary.skipped.append(
                    (f"{_shown_path(here / name, folder)}/", "link to a folder outside the import folder: not followed")
                )
        for name in sorted(files):
            path = here / name
            if name.startswith("."):
                continue
            if path.suffix.lower() not in AUDIO_EXTENSIONS:
                summary.ignored += 1
                continue
            problem = _file_problem(path, root)
            if problem:
                summary.skipped.append((_shown_path(path, folder), problem))
            else:
                found.append(path)
    return sorted(found)


def read_inside(path: Path, folder: Path) -> bytes:
    """The bytes of ``path`` (a file or a link to a file inside ``folder``), at most MAX_IMPORT_BYTES.

    Checked again at reading, as a link may have changed since the folder was listed. Raises
    SpeechrecError saying why for a file that is outside, not regular or too large, OSError when
    it cannot be read.
    """
    root = folder.resolve()
    problem = _file_problem(path, root)
    if problem:
        raise SpeechrecError(problem)
    descriptor = os.open(path.resolve(), os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0))
    with os.fdopen(descriptor, "rb") as file:
        data = file.read(MAX_IMPORT_BYTES + 1)
    if len(data) > MAX_IMPORT_BYTES:
        raise SpeechrecError(_too_large(len(data)))
    return data


def _file_problem(path: Path, root: Path) -> str | None:
    """Why ``path`` is not imported (a link out of the folder, not a regular file, too large), or None."""
    if path.is_symlink():
        target = path.resolve()
        if not target.exists():
            return "broken link: not followed"
        if not _inside(target, root):
            return "link to a file outside the import folder: not followed"
    try:
        status = path.stat()
    except OSError as error:
        return f"cannot be read: {(error.strerror or str(error)).lower()}"
    if not stat.S_ISREG(status.st_mode):
        return "not a regular file (a pipe, a device or a socket)"
    if status.st_size > MAX_IMPORT_BYTES:
        return _too_large(status.st_size)
    return None


def _too_large(size: int) -> str:
    return (
        f"{size / 2**20:.1f} MiB, above the limit of {MAX_IMPORT_BYTES / 2**20:.0f} MiB for one recording; "
        "split it into takes first"
    )


def _inside(path: Path, root: Path) -> bool:
    return path == root or path.is_relative_to(root)


def _shown_path(path: Path, folder: Path) -> str:
    """``path`` relative to the import folder, as text that can be printed and stored (a name that is
    not valid UTF-8 shows its undecodable bytes as U+FFFD)."""
    relative = path.relative_to(folder).as_posix() if path.is_relative_to(folder) else str(path)
    return os.fsencode(relative).decode("utf-8", errors="replace")


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


def _new_clip(file: FoundFile, sha1: str, take: IngestedTake, near_miss_of: str | None) -> NewClip:
    """The row of an imported take: in no variation (a file does not say how it was asked for),
    and a near-miss phrase with its keywords (``Campaign.near_miss_label``), as a recorded one."""
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
        near_miss_of=near_miss_of,
    )


def _store_batch(store: ClipStore, batch: list[NewClip], speakers: set[str], summary: ImportSummary) -> None:
    withdrawn: set[str] = set()
    for clip in batch:
        if clip.speaker_id not in speakers | withdrawn:
            try:
                store.ensure_speaker(clip.speaker_id)
                speakers.add(clip.speaker_id)
            except WithdrawnError:  # withdrawn while this import ran
                withdrawn.add(clip.speaker_id)
    withdrawn |= store.withdrawn_speakers({clip.speaker_id for clip in batch})
    if withdrawn:
        for clip in batch:
            if clip.speaker_id in withdrawn:
                summary.skipped.append((str(clip.source_path), WITHDRAWN_REASON))
                with suppress(OSError, StoreError):  # the audio a worker wrote for it
                    store.audio.remove(audio_key(clip.speaker_id, str(clip.clip_id)))
        batch[:] = [clip for clip in batch if clip.speaker_id not in withdrawn]
    try:
        store.add_clips(batch)
    except ConflictError as error:  # another import stored some of the same files a moment ago
        for clip in batch:
            summary.skipped.append((str(clip.source_path), f"{error}; import the folder again to add what is missing"))
        batch.clear()
        return
    summary.imported += len(batch)
    summary.flagged += sum(1 for clip in batch if clip.quality.flags)
    for clip in batch:
        summary.words[clip.keyword] = summary.words.get(clip.keyword, 0) + 1
    batch.clear()

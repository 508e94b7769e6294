"""The dataset download: a Speech Commands v0.02 zip, streamed clip by clip, byte-for-byte deterministic."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import shlex
import time
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path, PurePosixPath
from typing import BinaryIO

import numpy as np
import pandas as pd

from speechrec.background import NoiseCollector
from speechrec.campaign import (
    NOISE_KEYWORD,
    Campaign,
    campaign_to_dict,
    check_keyword,
    folder_spellings,
    formula_start,
)
from speechrec.config import Settings
from speechrec.cut import CUTS
from speechrec.decode import encode_wav
from speechrec.errors import SpeechrecError, StoreError
from speechrec.i18n import language_name
from speechrec.jobs import RenderJob, render_clip
from speechrec.parallel import bounded_map, worker_pool
from speechrec.private import make_private_folder, open_private_file
from speechrec.quality import QUALITY_COLUMNS
from speechrec.records import check_speaker_id
from speechrec.storage import check_audio_key
from speechrec.store import ClipStore

# TensorFlow's speech_commands/input_data.py: the split of a file depends only on the part of
# its name before "_nohash_" (the speaker), so one speaker never spans two splits.
MAX_NUM_WAVS_PER_CLASS = 2**27 - 1
VALIDATION_PERCENTAGE = 10.0
TESTING_PERCENTAGE = 10.0
SELECTIONS = {
    "accepted": "only accepted clips",
    "default": "accepted clips and pending clips without a quality flag",
    "all": "accepted and pending clips, flagged ones included",
}
LAYOUTS = {
    "speech_commands": "Speech Commands: one folder per word, validation_list.txt and testing_list.txt",
    "split_folders": "train/, validation/ and test/, each with one folder per word and a metadata.jsonl",
}
# The split folders' names: Hugging Face datasets recognises them (and Keras reads each one).
SPLIT_FOLDERS = {"training": "train", "validation": "validation", "testing": "test"}
# What each folder of the zip holds (metadata.csv's column kind).
KINDS = ("keyword", "filler", "other", "background_noise")
# Without room recordings, the room noise of at most this many takes per speaker, and in all, is
# gathered for _background_noise_/ (a take holds 0.5 s of it or more: a speaker's allowance is
# 60 s, the whole folder's 600 s); more would be cut, sent and dropped for nothing.
NOISE_TAKES_PER_SPEAKER = 120
NOISE_TAKES = 1200
# The source of the one background noise file made when the takes hold too little room noise.
SILENCE = "digital silence"
# Zip entries carry this fixed time so the same store always gives the same bytes.
ZIP_DATE_TIME = (1980, 1, 1, 0, 0, 0)
# Below this many clips, starting worker processes costs more than it saves.
PARALLEL_MIN_CLIPS = 200
# Clips rendered per worker task (each task costs pickling and pipe round trips), and tasks queued
# per worker: enough to keep workers busy while the zip is written, few enough for flat memory.
CLIPS_PER_TASK = 32
TASKS_PER_WORKER = 3

# metadata.csv's quality columns: the report's, but the take's length, which is original_duration_s there.
METADATA_QUALITY_COLUMNS = [column for column in QUALITY_COLUMNS if column != "duration_s"]

# A zip whose speakers withdrew while it was written is written again, at most this many times.
WITHDRAWAL_REWRITES = 5
# plan.attrs key: the rows plan_export left out, with the reason.
LEFT_OUT = "left_out"
# Every export holds these (whatever its layout); an existing file without them is not overwritten by an export.
EXPORT_MARKER_FILES = frozenset({"README.md", "metadata.csv"})
# Prepared download zips are kept this long after their last use, so a slow click still finds its file.
PREPARED_MAX_AGE_S = 3600.0

ProgressCallback = Callable[[int, int], None]


class ExportPathError(SpeechrecError, ValueError):
    """An export may not be written to this path (inside the store, a folder, or another file)."""


@dataclass(frozen=True)
class ExportOptions:
    """Which clips go in and how they are cut. None means: the campaign's value."""

    selection: str = "default"
    clip_duration_s: float | None = None
    sample_rate: int | None = None
    cut: str = "speech"
    layout: str = "speech_commands"

    def __post_init__(self) -> None:
        if self.selection not in SELECTIONS:
            raise ValueError(f"selection must be one of {', '.join(SELECTIONS)}, got {self.selection!r}")
        if self.cut not in CUTS:
            raise ValueError(f"cut must be one of {', '.join(CUTS)}, got {self.cut!r}")
        if self.layout not in LAYOUTS:
            raise ValueError(f"layout must be one of {', '.join(LAYOUTS)}, got {self.layout!r}")
        duration_s, rate = self.clip_duration_s, self.sample_rate
        if duration_s is not None and (isinstance(duration_s, bool) or not isinstance(duration_s, int | float)):
            raise TypeError(f"clip_duration_s must be a number of seconds, got {duration_s!r}")
        if duration_s is not None and not 0.1 <= duration_s <= 10.0:
            raise ValueError(f"clip_duration_s must be between 0.1 and 10 s, got {duration_s!r}")
        if rate is not None and (isinstance(rate, bool) or not isinstance(rate, int)):
            raise TypeError(f"sample_rate must be a whole number of Hz, got {rate!r}")
        if rate is not None and not 8000 <= rate <= 48000:
            raise ValueError(f"sample_rate must be between 8000 and 48000 Hz, got {rate!r}")


@dataclass(frozen=True)
class ExportSummary:
    """What an export wrote: word files per folder, noise files, and clips left out with the reason."""

    files_per_keyword: dict[str, int]
    background_noise_files: int
    speakers: int
    skipped: list[tuple[str, str]] = field(default_factory=list)
    background_noise: str = "recorded"  # or "assembled" (from the takes) or "silence" (nothing to assemble)

    @property
    def files(self) -> int:
        """Number of word clips written (background noise not counted)."""
        return sum(self.files_per_keyword.values())


def which_set(
    filename: str, validation_percentage: float = VALIDATION_PERCENTAGE, testing_percentage: float = TESTING_PERCENTAGE
) -> str:
    """'training', 'validation' or 'testing' for a file name, exactly as TensorFlow's speech_commands does it."""
    base_name = os.path.basename(filename)
    hash_name = re.sub(r"_nohash_.*$", "", base_name)
    hash_name_hashed = hashlib.sha1(hash_name.encode("utf-8")).hexdigest()
    percentage_hash = (int(hash_name_hashed, 16) % (MAX_NUM_WAVS_PER_CLASS + 1)) * (100.0 / MAX_NUM_WAVS_PER_CLASS)
    if percentage_hash < validation_percentage:
        return "validation"
    if percentage_hash < testing_percentage + validation_percentage:
        return "testing"
    return "training"


def select_clips(clips: pd.DataFrame, selection: str) -> pd.DataFrame:
    """The rows of ``clips`` an export with ``selection`` includes; rejected clips never."""
    if selection not in SELECTIONS:
        raise ValueError(f"selection must be one of {', '.join(SELECTIONS)}, got {selection!r}")
    accepted = clips["status"] == "accepted"
    pending = clips["status"] == "pending"
    if selection == "accepted":
        keep = accepted
    elif selection == "default":
        keep = accepted | (pending & (clips["flags"] == ""))
    else:
        keep = accepted | pending
    return clips[keep]


def plan_export(clips: pd.DataFrame, selection: str) -> pd.DataFrame:
    """One row per file of the zip, in zip order: the clip columns plus ``path`` and ``split``.

    Word clips are numbered per speaker and word in recording order (``<word>/<speaker>_nohash_<n>.wav``;
    spellings of one word that differ in letter case or Unicode form share one folder, ``folder_spellings``);
    background noise goes to ``_background_noise_/<speaker>_<n>.wav`` with split ''. Rows whose
    keyword, speaker id or audio key cannot be used (``unusable_rows``) are left out, and listed
    with the reason in ``plan.attrs["left_out"]``.
    """
    chosen = select_clips(clips, selection)
    left_out = unusable_rows(chosen)
    chosen = chosen[~chosen["clip_id"].isin(left_out)]
    spellings = folder_spellings(chosen["keyword"])  # one folder per word, whatever the case or Unicode form
    chosen = chosen.assign(keyword=chosen["keyword"].map(spellings).astype(chosen["keyword"].dtype))
    chosen = chosen.sort_values(["keyword", "speaker_id", "created_at", "clip_id"], kind="stable")
    number = chosen.groupby(["keyword", "speaker_id"], sort=False).cumcount().astype(str)
    is_noise = chosen["keyword"] == NOISE_KEYWORD
    plan = chosen.assign(
        path=(chosen["keyword"] + "/" + chosen["speaker_id"] + "_nohash_" + number + ".wav").where(
            ~is_noise, NOISE_KEYWORD + "/" + chosen["speaker_id"] + "_" + number + ".wav"
        )
    )
    plan["split"] = [("" if noise else which_set(path)) for path, noise in zip(plan["path"], is_noise, strict=True)]
    order = is_noise.astype(int).rename("noise_last")
    plan = (
        plan.assign(noise_last=order)
        .sort_values(["noise_last", "path"], kind="stable")
        .drop(columns="noise_last")
        .reset_index(drop=True)
    )
    plan.attrs[LEFT_OUT] = sorted(left_out.items())  # (clip id, reason): write_dataset lists them as skipped
    return plan


def unusable_rows(clips: pd.DataFrame) -> dict[str, str]:
    """Clip id -> why the row cannot go into a zip: its keyword is not a usable folder name, its
    speaker id is not 8 hex digits, or its audio key is not a clip's. Checked where the export
    uses them (zip entry names, audio reads): a row written straight into the database must not
    make a ``../`` entry or read a file outside the store."""
    problems = {}
    for clip_id, keyword, speaker_id, key in zip(
        clips["clip_id"], clips["keyword"], clips["speaker_id"], clips["audio_key"], strict=True
    ):
        try:
            if keyword != NOISE_KEYWORD:
                check_keyword(keyword)
            check_speaker_id(speaker_id)
            check_audio_key(key)
        except (ValueError, TypeError, SpeechrecError) as error:
            problems[clip_id] = f"unusable row: {error}"
    return problems


def export_dataset(
    store: ClipStore,
    campaign: Campaign,
    destination: str | os.PathLike[str] | BinaryIO,
    options: ExportOptions = ExportOptions(),
    progress: ProgressCallback | None = None,
) -> ExportSummary:
    """Write the dataset zip of the store as it is now to a path (atomically: a failed export
    leaves no file) or a binary stream: ``plan_export`` of one read of the clips, then ``write_dataset``.

    A path must pass ``check_destination`` (never inside the store, never over another file): else
    ExportPathError. Raises StoreError when the store cannot be read and OSError when the
    destination cannot be written.
    """
    if not isinstance(options, ExportOptions):
        raise TypeError(f"options must be ExportOptions, got {options!r}")
    if isinstance(destination, str | os.PathLike):
        destination = check_destination(store.settings, destination)
    return write_dataset(store, campaign, destination, plan_export(store.clips(), options.selection), options, progress)


def write_dataset(
    store: ClipStore,
    campaign: Campaign,
    destination: str | os.PathLike[str] | BinaryIO,
    plan: pd.DataFrame,
    options: ExportOptions = ExportOptions(),
    progress: ProgressCallback | None = None,
) -> ExportSummary:
    """Write the zip of ``plan`` (``plan_export``'s rows, in zip order) to a path (atomically; it
    must pass ``check_destination``) or a binary stream. Only the audio is read from the store:
    the rows are the plan's; rows the plan left out are listed as skipped.

    Memory stays flat: clips are read, cut and written one at a time. ``progress(done, total)``
    is called after each file. Raises StoreError when the store cannot be read and OSError when
    the destination cannot be written.
    """
    if not isinstance(options, ExportOptions):
        raise TypeError(f"options must be ExportOptions, got {options!r}")
    if isinstance(destination, str | os.PathLike):
        path = check_destination(store.settings, destination)
        return _write_to_file(store, campaign, path=path, plan=plan, options=options, progress=progress)

    sample_rate = options.sample_rate or campaign.export_sample_rate
    duration_s = options.clip_duration_s or campaign.clip_duration_s
    plan = lay_out(plan, options.layout)
    is_noise = (plan["keyword"] == NOISE_KEYWORD).to_numpy()
    # No room recordings: gather the room noise around the words for _background_noise_/.
    collector = None if is_noise.any() else NoiseCollector(sample_rate)
    noise_wanted = (plan.groupby("speaker_id").cumcount() < NOISE_TAKES_PER_SPEAKER).to_numpy() & ~is_noise
    noise_wanted &= np.cumsum(noise_wanted) <= NOISE_TAKES
    jobs = (
        RenderJob(
            store.settings.storage_url, key, sample_rate, None if noise else duration_s, span, options.cut,
            room_noise=collector is not None and wanted,
        )
        for key, noise, span, wanted in zip(plan["audio_key"], is_noise, speech_spans(plan), noise_wanted, strict=True)
    )  # fmt: skip
    paths, clip_ids, speaker_ids = plan["path"].tolist(), plan["clip_id"].tolist(), plan["speaker_id"].tolist()
    written = [False] * len(plan)
    skipped: list[tuple[str, str]] = list(plan.attrs.get(LEFT_OUT, []))
    workers = os.cpu_count() or 1
    parallel = len(plan) >= PARALLEL_MIN_CLIPS and store.audio.shared_between_processes
    with zipfile.ZipFile(destination, "w", zipfile.ZIP_STORED) as archive, worker_pool(workers, parallel) as pool:
        if options.layout == "split_folders":
            for folder in split_folders(plan, campaign):  # every word in every split, even if empty
                _write_entry(archive, folder, b"")
        for index, result in enumerate(
            bounded_map(pool, render_clip, jobs, TASKS_PER_WORKER * workers, CLIPS_PER_TASK)
        ):
            if isinstance(result, str):
                skipped.append((clip_ids[index], result))
            else:
                _write_entry(archive, paths[index], result.wav)
                written[index] = True
                if collector is not None:
                    collector.add(speaker_ids[index], result.room_noise)
            if progress:
                progress(index + 1, len(plan))
        recorded = bool((is_noise & np.array(written, dtype=bool)).any())
        assembled = [] if recorded else _assembled_noise(collector, duration_s, sample_rate)
        for noise in assembled:
            _write_entry(archive, noise.path, noise.wav)
        files = plan[pd.Series(written, index=plan.index, dtype=bool)]
        words = files[files["keyword"] != NOISE_KEYWORD]
        if options.layout == "speech_commands":
            for split in ("validation", "testing"):
                listed = sorted(words.loc[words["split"] == split, "path"])
                _write_entry(archive, f"{split}_list.txt", "".join(f"{path}\n" for path in listed).encode())
        else:
            for split, folder in SPLIT_FOLDERS.items():
                _write_entry(archive, f"{folder}/metadata.jsonl", _split_metadata(words, split, campaign))
        _write_entry(archive, "metadata.csv", _metadata_csv(files, campaign, assembled))
        background = "recorded" if recorded else "silence" if assembled[0].source == SILENCE else "assembled"
        summary = ExportSummary(
            files_per_keyword=words.groupby("keyword").size().to_dict(),
            background_noise_files=int((files["keyword"] == NOISE_KEYWORD).sum()) + len(assembled),
            speakers=int(words["speaker_id"].nunique()),
            skipped=skipped,
            background_noise=background,
        )
        readme = _readme(campaign, words, summary, sample_rate, duration_s, options, assembled)
        _write_entry(archive, "README.md", readme.encode())
    return summary


def check_destination(settings: Settings, destination: str | os.PathLike[str]) -> Path:
    """``destination`` as a Path if an export may be written there, else ExportPathError saying why.

    Refused: a path inside the store (the data folder, a local audio folder, the SQLite database
    and its journal files), a folder, and an existing file that is not an earlier speechrec export
    (a zip holding metadata.csv, README.md and the two split lists), so that an export can never
    overwrite a clip, the database or any other file. Symbolic links are resolved first.
    """
    if not isinstance(destination, str | os.PathLike) or not os.fspath(destination).strip():
        raise ExportPathError(f"the export path {destination!r} is empty; give a file name such as dataset.zip")
    path = Path(destination).expanduser()
    resolved = path.resolve()
    inside = settings.place_of(resolved)
    if inside is not None:
        place, what = inside
        raise ExportPathError(
            f"{str(path)!r} is inside the store ({what} {str(place)!r}); write the export outside it, "
            "e.g. --out dataset.zip in another folder"
        )
    if resolved.is_dir():
        raise ExportPathError(f"{str(path)!r} is a folder; give a file name such as {str(path / 'dataset.zip')!r}")
    if resolved.exists() and not _is_earlier_export(resolved):
        raise ExportPathError(
            f"{str(path)!r} exists and is not a dataset zip written by speechrec; "
            "choose a new file name (nothing was overwritten)"
        )
    return path


def _is_earlier_export(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as archive:
            return set(archive.namelist()) >= EXPORT_MARKER_FILES
    except (zipfile.BadZipFile, OSError, ValueError):
        return False


def _write_to_file(
    store: ClipStore,
    campaign: Campaign,
    *,
    path: Path,
    plan: pd.DataFrame,
    options: ExportOptions,
    progress: ProgressCallback | None,
    private: bool = False,
) -> ExportSummary:
    """Write the zip next to ``path`` under a name of its own, then rename it into place (atomic).
    ``private``: readable by the owner only (a zip kept in the store).

    A speaker who withdrew while the zip was written is not in the file that is renamed into
    place: the zip is written again without them (their rows are gone by then anyway).
    """
    # A name of its own per export: two exports to one path never write into the same file.
    partial_path = path.with_name(f"{path.name}.{uuid.uuid4().hex[:8]}.partial")
    try:
        for _ in range(WITHDRAWAL_REWRITES):
            opener = (lambda name, _flags: open_private_file(name, exclusive=True)) if private else None
            with open(partial_path, "wb", opener=opener) as file:
                summary = write_dataset(store, campaign, file, plan, options, progress)
            withdrawn = store.withdrawn_speakers(speakers_in_zip(partial_path))
            if not withdrawn:
                os.replace(partial_path, path)
                return summary
            partial_path.unlink(missing_ok=True)
            plan = plan[~plan["speaker_id"].isin(withdrawn)].reset_index(drop=True)
    finally:
        partial_path.unlink(missing_ok=True)
    raise StoreError("speakers kept withdrawing while the dataset was written; build it again")


def lay_out(plan: pd.DataFrame, layout: str) -> pd.DataFrame:
    """``plan_export``'s plan with the paths of ``layout``: as they are for Speech Commands, or under
    ``train/``, ``validation/`` and ``test/`` for split folders (background noise stays at the top)."""
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {', '.join(LAYOUTS)}, got {layout!r}")
    if layout == "speech_commands":
        return plan
    folder = plan["split"].map(SPLIT_FOLDERS)
    return plan.assign(path=(folder + "/" + plan["path"]).where(folder.notna(), plan["path"]))


def split_folders(plan: pd.DataFrame, campaign: Campaign) -> list[str]:
    """The zip's folder entries for split folders: ``<split>/<word>/`` for every word of the campaign
    or the export in every split, so that every split has every class (Keras numbers classes by folder)."""
    words = sorted(set(campaign.words) | set(plan.loc[plan["keyword"] != NOISE_KEYWORD, "keyword"]))
    return [f"{folder}/{word}/" for folder in SPLIT_FOLDERS.values() for word in words]


def speech_spans(plan: pd.DataFrame) -> list[tuple[float, float] | None]:
    """Each clip's speech span in seconds from its quality numbers, None where no speech was found."""
    return [
        None if pd.isna(start) or pd.isna(end) else (float(start), float(end))
        for start, end in zip(plan["speech_start_s"], plan["speech_end_s"], strict=True)
    ]


@dataclass(frozen=True)
class _NoiseFile:
    path: str
    speaker_id: str
    source: str
    takes: int
    wav: bytes


def _assembled_noise(collector: NoiseCollector | None, duration_s: float, sample_rate: int) -> list[_NoiseFile]:
    """The files of ``_background_noise_/`` made from the takes; digital silence (twice a clip long)
    when they hold too little room noise, or when there was none to gather (the room recordings
    could not be read)."""
    made = [] if collector is None else collector.files(duration_s)
    if not made:
        silence = np.zeros(round(2 * duration_s * sample_rate), np.int16)
        return [_NoiseFile(f"{NOISE_KEYWORD}/silence.wav", "", SILENCE, 0, encode_wav(silence, sample_rate))]
    return [
        _NoiseFile(
            f"{NOISE_KEYWORD}/{noise.name}",
            noise.speaker_id,
            f"room noise around the words of {noise.takes} takes",
            noise.takes,
            encode_wav(noise.samples, sample_rate),
        )
        for noise in made
    ]


def word_kind(keyword: str, campaign: Campaign) -> str:
    """What a folder of the zip holds (one of KINDS): the campaign's keywords, its filler words, other
    words (near-miss phrases count as filler: hard negatives), other words (imported or left from an
    earlier campaign) or background noise."""
    if keyword == NOISE_KEYWORD:
        return "background_noise"
    if keyword in campaign.keywords:
        return "keyword"
    return "filler" if keyword in campaign.filler_words or keyword in campaign.near_miss_phrases else "other"


def wanted_words(campaign: Campaign, words: pd.DataFrame) -> list[str]:
    """The keywords for TensorFlow's ``--wanted_words``: those with clips in the export, lower-cased
    (its input_data.py lower-cases folder names before comparing)."""
    present = set(words["keyword"])
    return [keyword.lower() for keyword in campaign.keywords if keyword in present]


def prepare_export(
    store: ClipStore,
    campaign: Campaign,
    folder: str | os.PathLike[str],
    options: ExportOptions = ExportOptions(),
    progress: ProgressCallback | None = None,
) -> Path:
    """The dataset zip of the store as it is now, built in ``folder`` unless an identical one is there.

    The file is named by a fingerprint of everything that decides its bytes (the chosen clips with
    their review state and quality, the campaign, the options), so a repeated request, or another
    organizer's, is served at once. The clips are read once: the same plan names the file and
    fills it. Zips in ``folder`` unused for an hour are removed. Raises as ``export_dataset``.
    """
    folder = make_private_folder(folder)
    remove_withdrawn_exports(store, folder)  # a zip built before a withdrawal (here or by another replica)
    for _ in range(WITHDRAWAL_REWRITES):
        plan = plan_export(store.clips(), options.selection)
        path = folder / f"dataset-{export_fingerprint(plan, campaign, options)}.zip"
        if path.exists():
            path.touch()
        else:
            _write_to_file(store, campaign, path=path, plan=plan, options=options, progress=progress, private=True)
        if not store.withdrawn_speakers(speakers_in_zip(path)):  # a withdrawal committed just now: build anew
            break
        path.unlink(missing_ok=True)
    else:
        raise StoreError("speakers kept withdrawing while the dataset was built; build it again")
    cutoff = time.time() - PREPARED_MAX_AGE_S
    for old in folder.glob("dataset-*.zip"):
        if old != path and old.stat().st_mtime < cutoff:
            old.unlink(missing_ok=True)
    return path


def export_fingerprint(plan: pd.DataFrame, campaign: Campaign, options: ExportOptions) -> str:
    """32 hex digits that change whenever the export's bytes would: a SHA-256 of the plan (the chosen
    clips with their review state and quality, from ``plan_export``), the campaign and the options."""
    decisive = plan.drop(columns=["version"], errors="ignore")  # a review write's count changes no byte
    digest = hashlib.sha256(pd.util.hash_pandas_object(decisive, index=False).to_numpy().tobytes())
    digest.update(json.dumps([campaign_to_dict(campaign), asdict(options)], sort_keys=True).encode())
    return digest.hexdigest()[:32]


def speakers_in_zip(path: str | os.PathLike[str]) -> set[str]:
    """The speaker ids whose audio a dataset zip holds: the speaker column of its metadata.csv (room
    noise is gathered around those speakers' words) and the names of its audio files
    (``<speaker>_nohash_<n>.wav``, ``<speaker>_...wav``); none if it is no readable zip."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            table = archive.read("metadata.csv").decode("utf-8") if "metadata.csv" in names else ""
    except (zipfile.BadZipFile, OSError, KeyError, UnicodeDecodeError):
        return set()
    speakers = {row.get("speaker") or "" for row in csv.DictReader(io.StringIO(table))}
    speakers |= {PurePosixPath(name).name.split("_", 1)[0] for name in names if name.endswith(".wav")}
    return {speaker for speaker in speakers if speaker}


def remove_withdrawn_exports(store: ClipStore, folder: str | os.PathLike[str]) -> list[Path]:
    """Delete every dataset zip in ``folder`` that holds a speaker who withdrew; return the paths.

    Prepared zips are checked again here, whoever built them and whenever: each app replica has
    its own ``exports/``, while the list of withdrawn speakers is in the shared database.
    """
    removed = []
    for path in sorted(Path(folder).glob("dataset-*.zip")):
        if store.withdrawn_speakers(speakers_in_zip(path)):
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def read_prepared_export(store: ClipStore, path: str | os.PathLike[str]) -> bytes:
    """The bytes of a prepared zip, for the download button; StoreError (and the file deleted) if
    a speaker in it withdrew since it was built, or if it is gone."""
    path = Path(path)
    if store.withdrawn_speakers(speakers_in_zip(path)):
        path.unlink(missing_ok=True)
        raise StoreError("this dataset zip held a volunteer who has withdrawn since; build the dataset again")
    try:
        return path.read_bytes()
    except FileNotFoundError as error:
        raise StoreError("this dataset zip is gone (removed after an hour unused); build the dataset again") from error


def metadata_csv(store: ClipStore, campaign: Campaign, options: ExportOptions = ExportOptions()) -> bytes:
    """The export's ``metadata.csv`` alone (UTF-8): one row per clip the options select, no audio read
    (so without the background noise an export may assemble)."""
    return _metadata_csv(lay_out(plan_export(store.clips(), options.selection), options.layout), campaign, [])


def download_name(campaign: Campaign, day: date, extension: str = "zip") -> str:
    """``<campaign>-<YYYY-MM-DD>.<extension>``, the campaign title made safe for a file name."""
    slug = re.sub(r"[^a-z0-9]+", "-", campaign.title.casefold()).strip("-")[:60].strip("-") or "speechrec"
    return f"{slug}-{day:%Y-%m-%d}.{extension}"


def _write_entry(archive: zipfile.ZipFile, name: str, data: bytes) -> None:
    info = zipfile.ZipInfo(name, date_time=ZIP_DATE_TIME)
    # A folder (name ending in "/") must be enterable once unpacked: rwxr-xr-x and the MS-DOS folder bit.
    info.external_attr = (0o40755 << 16) | 0x10 if name.endswith("/") else 0o644 << 16
    info.compress_type = zipfile.ZIP_STORED if name.endswith(".wav") else zipfile.ZIP_DEFLATED
    archive.writestr(info, data)


def _metadata_csv(files: pd.DataFrame, campaign: Campaign, assembled: list[_NoiseFile]) -> bytes:
    source = files["source_path"].where(files["source_path"].notna(), files["source"])
    table = pd.DataFrame(
        {
            "path": files["path"],
            "keyword": files["keyword"],
            # How the take was asked for (a campaign variation, '' for none), and the keywords a
            # near-miss phrase is a near miss of ('|'-joined, '' for other words): hard negatives.
            "variation": files["variation"],
            "near_miss_of": files["near_miss_of"],
            "kind": [word_kind(keyword, campaign) for keyword in files["keyword"]],
            "speaker": files["speaker_id"],
            "split": files["split"],
            "clip_id": files["clip_id"],
            "source": source,
            # true / false as the browser reported its processing off / on; empty when unknown
            "raw": files["raw"].map({True: "true", False: "false"}).fillna(""),
            "status": files["status"],
            "original_sample_rate": files["sample_rate"],
            "original_duration_s": files["duration_s"].round(4),
        }
    )
    for column in METADATA_QUALITY_COLUMNS:
        values = files[column]
        table[column] = values.round(4) if values.dtype.kind == "f" else values
    noise = pd.DataFrame(
        {
            "path": [file.path for file in assembled],
            "keyword": NOISE_KEYWORD,
            "kind": "background_noise",
            "speaker": [file.speaker_id for file in assembled],
            "split": "",
            "source": [file.source for file in assembled],
        }
    )
    return _csv(pd.concat([table, noise], ignore_index=True) if assembled else table)


def _split_metadata(words: pd.DataFrame, split: str, campaign: Campaign) -> bytes:
    """A split folder's ``metadata.jsonl``, what Hugging Face datasets' audiofolder reads: per clip the
    ``file_name`` relative to the folder, the word as ``label``, its kind, speaker and clip id.

    JSON Lines, not CSV: JSON keeps every value a string, while a CSV reader guesses types per file,
    and about 4 % of 8-hex-digit speaker ids read as numbers ("4e074085" as infinity, "12345678" as
    an integer), so two splits' files disagreed and audiofolder refused them (seen in the tests)."""
    rows = words[words["split"] == split]
    table = pd.DataFrame(
        {
            "file_name": rows["path"].str.split("/", n=1).str[1],
            "label": rows["keyword"],
            "kind": [word_kind(keyword, campaign) for keyword in rows["keyword"]],
            "speaker": rows["speaker_id"],
            "clip_id": rows["clip_id"],
        },
        columns=["file_name", "label", "kind", "speaker", "clip_id"],
    )
    return "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in table.to_dict("records")).encode()


def _csv(table: pd.DataFrame) -> bytes:
    table = table.copy()
    for column in table.columns:
        if not pd.api.types.is_numeric_dtype(table[column]):  # text: numbers (a negative dBFS) stay numbers
            table[column] = table[column].map(neutralize_formula)
    buffer = io.StringIO()
    # RFC 4180 line ends: the csv module quotes a cell holding any character of the line
    # terminator, so with CRLF a carriage return inside a file name is quoted, not a row break.
    table.to_csv(buffer, index=False, lineterminator="\r\n")
    return buffer.getvalue().encode("utf-8")


def neutralize_formula(cell: object) -> object:
    """A text cell that a spreadsheet would run as a formula, made inert as OWASP recommends
    ("CSV Injection", https://owasp.org/www-community/attacks/CSV_Injection): a cell starting with
    = + - @, a tab or a carriage return, or a look-alike of one (``campaign.formula_start``), gets a
    leading apostrophe, which spreadsheets show as text. Other values are returned unchanged.

    The path and keyword cells never need it: a keyword starting so is refused where it enters
    (campaign, import) and where an export reads it (``check_keyword``), so each path in
    metadata.csv is the name of its file in the zip, letter for letter."""
    if isinstance(cell, str) and formula_start(cell) is not None:
        return "'" + cell
    return cell


def _readme(
    campaign: Campaign,
    words: pd.DataFrame,
    summary: ExportSummary,
    sample_rate: int,
    duration_s: float,
    options: ExportOptions,
    assembled: list[_NoiseFile],
) -> str:
    counts = words.groupby(["keyword", "split"]).size().unstack(fill_value=0)
    counts = counts.reindex(columns=["training", "validation", "testing"], fill_value=0)
    table = "\n".join(
        f"| {keyword} | {int(row.sum())} | {row['training']} | {row['validation']} | {row['testing']} |"
        for keyword, row in counts.iterrows()
    )
    present = sorted(set(words["keyword"]))
    kinds = {kind: [word for word in present if word_kind(word, campaign) == kind] for kind in KINDS[:3]}
    missing = [keyword for keyword in campaign.keywords if keyword not in present]
    wanted = ",".join(wanted_words(campaign, words))
    command_wanted = shlex.quote(wanted)  # one shell argument, whatever spaces or quotes the keywords hold
    return f"""# {campaign.title}

{campaign.description.strip()}

A keyword-spotting dataset {_LAYOUT_TEXT[options.layout]}, made with speechrec.

- Clips: {summary.files} from {summary.speakers} speakers, background noise files: {summary.background_noise_files}
- Audio: WAV, mono, 16-bit PCM, {sample_rate} Hz, exactly {duration_s:g} s: {_CUT_TEXT[options.cut]}
- Included: {SELECTIONS[options.selection]}
- {_SPLIT_TEXT[options.layout]}
- `metadata.csv`: one row per file with its word, kind (keyword, filler, other, background_noise), speaker,
  split, clip id, source and quality numbers (read ids as text, e.g. `pandas.read_csv(path, dtype=str)`:
  a few speaker ids look like numbers); `variation` says how a take was asked for (e.g. soft, loud; empty
  for none) and `near_miss_of` which keywords a near-miss phrase's folder is a hard negative for (joined
  by `|`; empty for other words)
- Speaker ids are random 8-hex-digit ids; no names are stored

| word | clips | training | validation | testing |
|---|---|---|---|---|
{table}
{_variety_section(campaign, words)}
## Folders

- Keywords, the words this dataset is for: {_word_list(kinds["keyword"])}{_missing_text(missing)}
- Filler words (near misses and other words, for an "unknown" class): {_word_list(kinds["filler"])}
- Other words (not in the campaign: imported, or from an earlier campaign): {_word_list(kinds["other"])}
- `_background_noise_/`: {_background_text(summary, assembled)}

{_TRAINING_TEXT[options.layout].format(wanted=wanted, command_wanted=command_wanted)}

## Licence

{campaign.licence}

## What the speakers agreed to (consent version {campaign.consent_version})

{_consent_section(campaign)}
"""


def _variety_section(campaign: Campaign, words: pd.DataFrame) -> str:
    """The README's list of the variations (name: instruction) and near-miss folders of the campaign
    that ``words`` (the zip's clips) hold, '' without either: no folder or variation is named that
    the zip does not have."""
    recorded = set(words["variation"].dropna())
    variations = [item for item in campaign.variations if item.name in recorded]
    phrases = [phrase for phrase in campaign.near_miss_phrases if phrase in set(words["keyword"])]
    lines = []
    if variations:
        lines += [
            "",
            "## Variations",
            "",
            "Takes of the keywords were asked for in these ways (`variation` column):",
            "",
        ]
        lines += [f"- `{item.name}`: {item.instruction.strip()}" for item in variations]
    if phrases:
        intro = (
            "These folders hold parts and look-alikes of a keyword, for use as hard negatives (`near_miss_of` column):"
        )
        lines += ["", "## Near misses", "", intro, ""]
        lines += [
            f"- `{phrase}/`: near miss of {', '.join(campaign.near_miss_of(phrase))}"
            for phrase in phrases
        ]
    return "\n".join(lines) + ("\n" if lines else "")


def _consent_section(campaign: Campaign) -> str:
    """The consent text in every language the campaign offers (one language: the text alone)."""
    if len(campaign.languages) == 1:
        return campaign.consent_text.strip()
    return "\n\n".join(
        f"### {language_name(language)} ({language})\n\n{campaign.texts(language).consent_text.strip()}"
        for language in campaign.languages
    )


def _word_list(words: list[str]) -> str:
    return ", ".join(f"`{word}`" for word in words) or "none"


def _missing_text(missing: list[str]) -> str:
    return f" (no clips yet of {_word_list(missing)})" if missing else ""


def _background_text(summary: ExportSummary, assembled: list[_NoiseFile]) -> str:
    if summary.background_noise == "recorded":
        return f"{summary.background_noise_files} room recordings the volunteers made for it"
    if summary.background_noise == "silence":
        return (
            "one file of digital silence: no volunteer recorded room noise, and the takes hold too little "
            "of it around the words to assemble from"
        )
    takes = sum(file.takes for file in assembled)
    return (
        f"no volunteer recorded room noise, so these {len(assembled)} files are assembled from the room noise "
        f"before and after the words of {takes} takes (one file per speaker, joined with 10 ms crossfades)"
    )


_LAYOUT_TEXT = {
    "speech_commands": "in the layout of Google's Speech Commands v0.02",
    "split_folders": "in split folders (train/, validation/, test/, each with one folder per word)",
}
_CUT_TEXT = {
    "speech": "each clip is centred on the speech detected in its take (the loudest window where none was "
    "found); where a clip reaches past its take, it is filled with the take's own room noise",
    "loudest": "the loudest stretch of each take; a shorter take is padded with digital silence",
}
_SPLIT_TEXT = {
    "speech_commands": "Splits: `validation_list.txt` and `testing_list.txt` by TensorFlow's `which_set` "
    "(10 % / 10 %, by speaker);\n  every other file is training data",
    "split_folders": "Splits: the folders `train/`, `validation/` and `test/`, by TensorFlow's `which_set` "
    "(10 % / 10 %, by speaker);\n  every word has a folder in every split, even an empty one",
}
_TRAINING_TEXT = {
    "speech_commands": """## Training with TensorFlow's speech_commands example

```
python tensorflow/examples/speech_commands/train.py --data_url= --data_dir=THIS_FOLDER --wanted_words={command_wanted}
```

Its other defaults fit this folder: filler and other words become its `_unknown_` class, its
`_silence_` class and noise mixing use `_background_noise_/`, and its own `which_set` gives the
splits the two lists state. Keyword folders are lower-cased by it, as `--wanted_words` is here.""",
    "split_folders": """## Loading

- Hugging Face datasets: `load_dataset("audiofolder", data_dir="THIS_FOLDER")` gives the splits train,
  validation and test, with the columns of each split's `metadata.jsonl` (`label` is the word).
- Keras: `keras.utils.audio_dataset_from_directory("THIS_FOLDER/train")`, and the same for
  `validation` and `test`: every split has every word's folder, so the class numbers agree.
- The keywords for TensorFlow's `--wanted_words`: `{wanted}` (its speech_commands example reads the
  Speech Commands layout, the export's other option).""",
}

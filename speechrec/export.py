"""The dataset download: a Speech Commands v0.02 zip, streamed clip by clip, byte-for-byte deterministic."""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import time
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import BinaryIO

import pandas as pd

from speechrec.config import Campaign, campaign_to_dict
from speechrec.jobs import RenderJob, render_clip
from speechrec.parallel import bounded_map, worker_pool
from speechrec.store import NOISE_KEYWORD, ClipStore

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
# Zip entries carry this fixed time so the same store always gives the same bytes.
ZIP_DATE_TIME = (1980, 1, 1, 0, 0, 0)
# Below this many clips, starting worker processes costs more than it saves.
PARALLEL_MIN_CLIPS = 200
# Clips rendered per worker task (each task costs pickling and pipe round trips), and tasks queued
# per worker: enough to keep workers busy while the zip is written, few enough for flat memory.
CLIPS_PER_TASK = 32
TASKS_PER_WORKER = 3
QUALITY_COLUMNS = [
    "speech_level_dbfs",
    "noise_floor_dbfs",
    "snr_db",
    "peak_dbfs",
    "clipped_fraction",
    "speech_start_s",
    "speech_end_s",
    "flags",
]

# Prepared download zips are kept this long after their last use, so a slow click still finds its file.
PREPARED_MAX_AGE_S = 3600.0

ProgressCallback = Callable[[int, int], None]


@dataclass(frozen=True)
class ExportOptions:
    """Which clips go in and how they are cut. None means: the campaign's value."""

    selection: str = "default"
    clip_duration_s: float | None = None
    sample_rate: int | None = None

    def __post_init__(self) -> None:
        if self.selection not in SELECTIONS:
            raise ValueError(f"selection must be one of {', '.join(SELECTIONS)}, got {self.selection!r}")
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

    Word clips are numbered per speaker and word in recording order (``<word>/<speaker>_nohash_<n>.wav``);
    background noise goes to ``_background_noise_/<speaker>_<n>.wav`` with split ''.
    """
    chosen = select_clips(clips, selection).sort_values(
        ["keyword", "speaker_id", "created_at", "clip_id"], kind="stable"
    )
    number = chosen.groupby(["keyword", "speaker_id"], sort=False).cumcount().astype(str)
    is_noise = chosen["keyword"] == NOISE_KEYWORD
    plan = chosen.assign(
        path=(chosen["keyword"] + "/" + chosen["speaker_id"] + "_nohash_" + number + ".wav").where(
            ~is_noise, NOISE_KEYWORD + "/" + chosen["speaker_id"] + "_" + number + ".wav"
        )
    )
    plan["split"] = [("" if noise else which_set(path)) for path, noise in zip(plan["path"], is_noise, strict=True)]
    order = is_noise.astype(int).rename("noise_last")
    return (
        plan.assign(noise_last=order)
        .sort_values(["noise_last", "path"], kind="stable")
        .drop(columns="noise_last")
        .reset_index(drop=True)
    )


def export_dataset(
    store: ClipStore,
    campaign: Campaign,
    destination: str | os.PathLike[str] | BinaryIO,
    options: ExportOptions = ExportOptions(),
    progress: ProgressCallback | None = None,
) -> ExportSummary:
    """Write the dataset zip to a path (atomically: a failed export leaves no file) or a binary stream.

    Memory stays flat: clips are read, cut and written one at a time. ``progress(done, total)``
    is called after each file. Raises StoreError when the store cannot be read and OSError when
    the destination cannot be written.
    """
    if not isinstance(options, ExportOptions):
        raise TypeError(f"options must be ExportOptions, got {options!r}")
    if isinstance(destination, str | os.PathLike):
        final_path = Path(destination)
        # A name of its own per export: two exports to one path never write into the same file.
        partial_path = final_path.with_name(f"{final_path.name}.{uuid.uuid4().hex[:8]}.partial")
        try:
            with open(partial_path, "wb") as file:
                summary = export_dataset(store, campaign, file, options, progress)
            os.replace(partial_path, final_path)
        finally:
            partial_path.unlink(missing_ok=True)
        return summary

    sample_rate = options.sample_rate or campaign.export_sample_rate
    duration_s = options.clip_duration_s or campaign.clip_duration_s
    plan = plan_export(store.clips(), options.selection)

    jobs = (
        RenderJob(store.settings.storage_url, key, sample_rate, None if keyword == NOISE_KEYWORD else duration_s)
        for keyword, key in zip(plan["keyword"], plan["audio_key"], strict=True)
    )
    paths, clip_ids = plan["path"].tolist(), plan["clip_id"].tolist()
    written = [False] * len(plan)
    skipped: list[tuple[str, str]] = []
    workers = os.cpu_count() or 1
    parallel = len(plan) >= PARALLEL_MIN_CLIPS and store.audio.shared_between_processes
    with zipfile.ZipFile(destination, "w", zipfile.ZIP_STORED) as archive, worker_pool(workers, parallel) as pool:
        for index, result in enumerate(
            bounded_map(pool, render_clip, jobs, TASKS_PER_WORKER * workers, CLIPS_PER_TASK)
        ):
            if isinstance(result, str):
                skipped.append((clip_ids[index], result))
            else:
                _write_entry(archive, paths[index], result)
                written[index] = True
            if progress:
                progress(index + 1, len(plan))
        files = plan[pd.Series(written, index=plan.index, dtype=bool)]
        words = files[files["keyword"] != NOISE_KEYWORD]
        for split in ("validation", "testing"):
            listed = sorted(words.loc[words["split"] == split, "path"])
            _write_entry(archive, f"{split}_list.txt", "".join(f"{path}\n" for path in listed).encode())
        _write_entry(archive, "metadata.csv", _metadata_csv(files))
        summary = ExportSummary(
            files_per_keyword=words.groupby("keyword").size().to_dict(),
            background_noise_files=int((files["keyword"] == NOISE_KEYWORD).sum()),
            speakers=int(words["speaker_id"].nunique()),
            skipped=skipped,
        )
        _write_entry(archive, "README.md", _readme(campaign, words, summary, sample_rate, duration_s, options).encode())
    return summary


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
    organizer's, is served at once. Zips in ``folder`` unused for an hour are removed. Raises as
    ``export_dataset``.
    """
    folder = Path(folder)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    plan = plan_export(store.clips(), options.selection)
    path = folder / f"dataset-{export_fingerprint(plan, campaign, options)}.zip"
    if path.exists():
        path.touch()
    else:
        export_dataset(store, campaign, path, options, progress)
    cutoff = time.time() - PREPARED_MAX_AGE_S
    for old in folder.glob("dataset-*.zip"):
        if old != path and old.stat().st_mtime < cutoff:
            old.unlink(missing_ok=True)
    return path


def export_fingerprint(plan: pd.DataFrame, campaign: Campaign, options: ExportOptions) -> str:
    """32 hex digits that change whenever the export's bytes would: a SHA-256 of the plan (the chosen
    clips with their review state and quality, from ``plan_export``), the campaign and the options."""
    digest = hashlib.sha256(pd.util.hash_pandas_object(plan, index=False).to_numpy().tobytes())
    digest.update(json.dumps([campaign_to_dict(campaign), asdict(options)], sort_keys=True).encode())
    return digest.hexdigest()[:32]


def metadata_csv(store: ClipStore, options: ExportOptions = ExportOptions()) -> bytes:
    """The export's ``metadata.csv`` alone (UTF-8): one row per clip the options select, no audio read."""
    return _metadata_csv(plan_export(store.clips(), options.selection))


def download_name(campaign: Campaign, day: date, extension: str = "zip") -> str:
    """``<campaign>-<YYYY-MM-DD>.<extension>``, the campaign title made safe for a file name."""
    slug = re.sub(r"[^a-z0-9]+", "-", campaign.title.casefold()).strip("-")[:60].strip("-") or "speechrec"
    return f"{slug}-{day:%Y-%m-%d}.{extension}"


def _write_entry(archive: zipfile.ZipFile, name: str, data: bytes) -> None:
    info = zipfile.ZipInfo(name, date_time=ZIP_DATE_TIME)
    info.external_attr = 0o644 << 16
    info.compress_type = zipfile.ZIP_STORED if name.endswith(".wav") else zipfile.ZIP_DEFLATED
    archive.writestr(info, data)


def _metadata_csv(files: pd.DataFrame) -> bytes:
    source = files["source_path"].where(files["source_path"].notna(), files["source"])
    table = pd.DataFrame(
        {
            "path": files["path"],
            "keyword": files["keyword"],
            "speaker": files["speaker_id"],
            "split": files["split"],
            "clip_id": files["clip_id"],
            "source": source,
            "status": files["status"],
            "original_sample_rate": files["sample_rate"],
            "original_duration_s": files["duration_s"].round(4),
        }
    )
    for column in QUALITY_COLUMNS:
        values = files[column]
        table[column] = values.round(4) if values.dtype.kind == "f" else values
    buffer = io.StringIO()
    table.to_csv(buffer, index=False, lineterminator="\n")
    return buffer.getvalue().encode("utf-8")


def _readme(
    campaign: Campaign,
    words: pd.DataFrame,
    summary: ExportSummary,
    sample_rate: int,
    duration_s: float,
    options: ExportOptions,
) -> str:
    counts = words.groupby(["keyword", "split"]).size().unstack(fill_value=0)
    counts = counts.reindex(columns=["training", "validation", "testing"], fill_value=0)
    table = "\n".join(
        f"| {keyword} | {int(row.sum())} | {row['training']} | {row['validation']} | {row['testing']} |"
        for keyword, row in counts.iterrows()
    )
    return f"""# {campaign.title}

{campaign.description.strip()}

A keyword-spotting dataset in the layout of Google's Speech Commands v0.02, made with speechrec.

- Clips: {summary.files} from {summary.speakers} speakers, background noise files: {summary.background_noise_files}
- Audio: WAV, mono, 16-bit PCM, {sample_rate} Hz, exactly {duration_s:g} s (the loudest {duration_s:g} s of each take)
- Included: {SELECTIONS[options.selection]}
- Splits: `validation_list.txt` and `testing_list.txt` by TensorFlow's `which_set` (10 % / 10 %, by speaker);
  every other file is training data
- `metadata.csv`: one row per file with speaker, split, clip id, source and quality numbers
- Speaker ids are random 8-hex-digit ids; no names are stored

| word | clips | training | validation | testing |
|---|---|---|---|---|
{table}

## Licence

{campaign.licence}

## What the speakers agreed to (consent version {campaign.consent_version})

{campaign.consent_text.strip()}
"""

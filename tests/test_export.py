"""The Speech Commands zip, through export_dataset on a real store: layout, WAV format, cut,
splits, selection, metadata, README, determinism, progress and failures."""

from __future__ import annotations

import csv
import hashlib
import io
import itertools
import os
import random
import re
import shlex
import time
import unicodedata
import wave
import zipfile
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import soxr
from conftest import BACKENDS
from signals import load_word, make_take, steady_noise

from speechrec.campaign import NOISE_KEYWORD, Campaign, CampaignTexts, Variation, formula_start
from speechrec.config import load_settings
from speechrec.export import (
    ExportOptions,
    ExportPathError,
    ExportSummary,
    download_name,
    export_dataset,
    metadata_csv,
    prepare_export,
    select_clips,
    which_set,
)
from speechrec.importer import import_folder
from speechrec.prompts import build_schedule
from speechrec.quality import assess_take
from speechrec.schema import clips_table, speakers_table
from speechrec.store import ClipStore
from speechrec.takes import keep_take

CAMPAIGN = Campaign(
    title="Export test campaign: yes, no, up, down, tum",
    description="Words for the export tests.",
    keywords=("yes", "no", "up", "down", "tum"),
    filler_words=("bed", "tree"),
    consent_text=(
        "By taking part you agree that your recordings are published in an open dataset.\n"
        "You can withdraw at any time with your participant code (consent marker QX-7731)."
    ),
    consent_version=3,
    licence="CC0-1.0 test-licence-marker",
)
# A whole export per test is slow on PostgreSQL + S3: the tests of the streamed read path run on
# every back-end pair, the rest (format details that do not depend on where clips live) on SQLite.
ON_EVERY_BACKEND = pytest.mark.parametrize("backend", BACKENDS)
LIST_FILES = {"validation_list.txt", "testing_list.txt", "metadata.csv", "README.md"}
WORD_PATH = re.compile(r"^(?P<word>[^/]+)/(?P<speaker>[0-9a-f]{8})_nohash_(?P<n>\d+)\.wav$")
NOISE_PATH = re.compile(r"^_background_noise_/[^/]+\.wav$")
QUALITY_NUMBERS = ["speech_level_dbfs", "noise_floor_dbfs", "snr_db", "peak_dbfs", "clipped_fraction"]


# ---- TensorFlow's reference, re-typed from tensorflow/examples/speech_commands/input_data.py ----------------


def tf_which_set(filename: str, validation_percentage: float = 10.0, testing_percentage: float = 10.0) -> str:
    base_name = os.path.basename(filename)
    hash_name = re.sub(r"_nohash_.*$", "", base_name)
    hash_name_hashed = hashlib.sha1(hash_name.encode("utf-8")).hexdigest()
    percentage_hash = (int(hash_name_hashed, 16) % (2**27)) * (100.0 / (2**27 - 1))
    if percentage_hash < validation_percentage:
        return "validation"
    if percentage_hash < testing_percentage + validation_percentage:
        return "testing"
    return "training"


def speakers_by_split() -> dict[str, list[str]]:
    """Speaker ids whose files land in each split (two training, one validation, one testing)."""
    found: dict[str, list[str]] = {"training": [], "validation": [], "testing": []}
    for number in itertools.count():
        speaker = hashlib.sha256(str(number).encode()).hexdigest()[:8]
        found[tf_which_set(f"{speaker}_nohash_0.wav")].append(speaker)
        if len(found["training"]) >= 2 and found["validation"] and found["testing"]:
            return found
    raise AssertionError("unreachable")


SPLIT_SPEAKERS = speakers_by_split()
T1, T2 = SPLIT_SPEAKERS["training"][:2]
VAL = SPLIT_SPEAKERS["validation"][0]
TEST = SPLIT_SPEAKERS["testing"][0]


# ---- the store's content ---------------------------------------------------------------------------------


@dataclass
class Stored:
    keyword: str
    speaker: str
    sample_rate: int
    samples: np.ndarray
    status: str
    clean_word: bool  # a clean spoken word at -20 dBFS: the whole word must be in the exported clip
    clip_id: str = ""
    flagged: bool = False


def specs() -> list[Stored]:
    def word(rate, duration_s, offset_s, name, seed, **kw):
        return make_take(sample_rate=rate, duration_s=duration_s, offset_s=offset_s, word=name, seed=seed, **kw)

    return [
        Stored("yes", T1, 48000, word(48000, 1.5, 0.4, "yes", 1), "accepted", True),
        Stored("yes", T1, 44100, word(44100, 0.7, 0.15, "yes", 2), "pending", True),  # shorter than 1 s
        Stored("no", T1, 48000, word(48000, 1.5, 0.9, "no", 3), "pending", True),  # word late in the take
        Stored("bed", T1, 16000, make_take(sample_rate=16000, duration_s=1.2, offset_s=0.3, seed=4), "pending", True),
        Stored("up", VAL, 44100, word(44100, 1.2, 0.5, "up", 5), "accepted", True),
        Stored("down", VAL, 48000, word(48000, 1.5, 0.4, "down", 6, level_dbfs=-55.0), "pending", False),  # flagged
        Stored("tum", TEST, 16000, load_word("tum")[0], "accepted", True),  # the shipped file as is
        Stored("yes", TEST, 48000, word(48000, 1.5, 0.4, "yes", 8), "rejected", True),
        Stored("no", T2, 16000, word(16000, 1.5, 0.4, "no", 9, level_dbfs=-3.0), "pending", False),  # clipped
        Stored("yes", T2, 44100, word(44100, 0.8, 0.2, "yes", 10), "rejected", True),
        Stored("down", T2, 48000, word(48000, 2.0, 1.2, "down", 11), "accepted", True),
        Stored("yes", T1, 16000, word(16000, 1.0, 0.3, "yes", 12), "accepted", True),  # exactly 1 s
        Stored(NOISE_KEYWORD, T1, 48000, steady_noise(3.0, 48000, -40.0, seed=13), "pending", False),
        Stored(NOISE_KEYWORD, T2, 44100, steady_noise(2.0, 44100, -45.0, seed=14), "accepted", False),
        Stored(NOISE_KEYWORD, TEST, 16000, steady_noise(1.0, 16000, -40.0, seed=15), "rejected", False),
    ]


def fill(store: ClipStore) -> list[Stored]:
    for speaker in (T1, T2, VAL, TEST):
        store.ensure_speaker(speaker, origin="volunteer")
    stored = specs()
    for clip in stored:
        quality = assess_take(clip.samples, clip.sample_rate, expect_speech=clip.keyword != NOISE_KEYWORD)
        clip.flagged = bool(quality.flags)
        clip.clip_id = store.add_clip(
            clip.samples,
            clip.sample_rate,
            quality,
            keyword=clip.keyword,
            speaker_id=clip.speaker,
            session_id=f"session-{clip.speaker}",
            source="webrtc",
            consent_version=3,
        )
        if clip.status != "pending":
            store.set_status(clip.clip_id, clip.status, reviewer="organizer")
    # The takes meant to be flagged are, and only those.
    assert [clip.flagged for clip in stored] == [
        clip.keyword in ("down", "no") and not clip.clean_word for clip in stored
    ]
    return stored


def expected_ids(stored: list[Stored], selection: str) -> set[str]:
    def chosen(clip: Stored) -> bool:
        if clip.status == "accepted":
            return True
        if clip.status == "pending":
            return selection == "all" or (selection == "default" and not clip.flagged)
        return False

    return {clip.clip_id for clip in stored if chosen(clip)}


@pytest.fixture
def store_settings(request, tmp_path):
    """SQLite + folder, or the back-end pair of tests marked ON_EVERY_BACKEND."""
    if "backend" in request.fixturenames:
        return request.getfixturevalue("backend_settings")
    return load_settings(tmp_path / "data", environ={})


@pytest.fixture
def stored(store) -> list[Stored]:
    return fill(store)


def export(
    store: ClipStore, path: Path, options: ExportOptions | None = None, **kw
) -> tuple[zipfile.ZipFile, ExportSummary]:
    summary = export_dataset(store, CAMPAIGN, path, options or ExportOptions(), **kw)
    return zipfile.ZipFile(path), summary


def metadata_rows(archive: zipfile.ZipFile) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(archive.read("metadata.csv").decode("utf-8"))))


def list_lines(archive: zipfile.ZipFile, name: str) -> list[str]:
    text = archive.read(name).decode("utf-8")
    assert text == "" or text.endswith("\n")
    return text.splitlines()


def wav_names(archive: zipfile.ZipFile) -> list[str]:
    return [name for name in archive.namelist() if name.endswith(".wav")]


def stored_flac_path(store: ClipStore, clip_id: str) -> Path:
    return Path(store.settings.storage_url) / str(store.clip(clip_id).audio_key)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ---- layout ----------------------------------------------------------------------------------------------


@ON_EVERY_BACKEND
def test_layout(store, stored, tmp_path, backend):
    archive, summary = export(store, tmp_path / "ds.zip")
    names = archive.namelist()
    assert len(names) == len(set(names))
    words = [name for name in names if WORD_PATH.match(name)]
    noise = [name for name in names if NOISE_PATH.match(name)]
    assert sorted(set(names) - set(words) - set(noise)) == sorted(LIST_FILES)

    rows = {row["clip_id"]: row for row in metadata_rows(archive)}
    by_id = {clip.clip_id: clip for clip in stored}
    for clip_id, row in rows.items():
        clip = by_id[clip_id]
        if clip.keyword == NOISE_KEYWORD:
            assert NOISE_PATH.match(row["path"]), row["path"]
        else:
            match = WORD_PATH.match(row["path"])
            assert match, row["path"]
            assert (match["word"], match["speaker"]) == (clip.keyword, clip.speaker)
    # Filler words get their own folder, like any keyword.
    assert any(name.startswith("bed/") for name in words)
    # Per word and speaker the numbers are 0, 1, 2, ...
    numbers: dict[tuple[str, str], list[int]] = {}
    for name in words:
        match = WORD_PATH.match(name)
        numbers.setdefault((match["word"], match["speaker"]), []).append(int(match["n"]))
    for key, values in numbers.items():
        assert sorted(values) == list(range(len(values))), key
    assert numbers[("yes", T1)] and len(numbers[("yes", T1)]) == 3
    assert len(noise) == 2  # the pending and the accepted noise; the rejected one is left out
    assert summary.files == len(words)
    assert summary.background_noise_files == len(noise)
    assert summary.files_per_keyword == {"yes": 3, "no": 1, "bed": 1, "up": 1, "tum": 1, "down": 1}
    assert summary.speakers == 4
    assert summary.skipped == []


def test_every_entry_has_a_fixed_date_and_wavs_are_stored_uncompressed(store, stored, tmp_path):
    archive, _ = export(store, tmp_path / "ds.zip")
    for info in archive.infolist():
        assert info.date_time == (1980, 1, 1, 0, 0, 0)
        if info.filename.endswith(".wav"):
            assert info.compress_type == zipfile.ZIP_STORED
    assert archive.testzip() is None


# ---- the WAV files ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "options, sample_rate, duration_s",
    [
        (ExportOptions(), 16000, 1.0),
        (ExportOptions(sample_rate=8000), 8000, 1.0),
        (ExportOptions(clip_duration_s=1.5), 16000, 1.5),
        (ExportOptions(selection="all", sample_rate=8000, clip_duration_s=1.5), 8000, 1.5),
        (ExportOptions(selection="all", sample_rate=22050, clip_duration_s=0.75), 22050, 0.75),
    ],
)
def test_wav_format(store, stored, tmp_path, options, sample_rate, duration_s):
    archive, _ = export(store, tmp_path / "ds.zip", options)
    names = wav_names(archive)
    assert names
    noise_durations = {clip.clip_id: len(clip.samples) / clip.sample_rate for clip in stored}
    paths = {row["path"]: row["clip_id"] for row in metadata_rows(archive)}
    for name in names:
        data = archive.read(name)
        info = sf.info(io.BytesIO(data))
        assert (info.format, info.subtype, info.channels, info.samplerate) == ("WAV", "PCM_16", 1, sample_rate), name
        with wave.open(io.BytesIO(data)) as reader:
            assert reader.getnchannels() == 1
            assert reader.getsampwidth() == 2
            assert reader.getframerate() == sample_rate
            assert reader.getcomptype() == "NONE"
            frames = reader.getnframes()
        assert frames == info.frames
        if name.startswith(NOISE_KEYWORD + "/"):
            # Background noise is resampled but not cut.
            assert abs(frames - noise_durations[paths[name]] * sample_rate) <= 1, name
        else:
            assert frames == round(duration_s * sample_rate), name
    readme = archive.read("README.md").decode()
    assert f"{sample_rate} Hz" in readme
    assert f"{duration_s:g} s" in readme


@pytest.mark.parametrize(
    "options",
    [
        ExportOptions(selection="all", cut="loudest"),
        ExportOptions(selection="all", sample_rate=8000, clip_duration_s=1.5, cut="loudest"),
    ],
)
def test_with_the_old_cut_each_clip_is_the_loudest_window_of_its_take(store, stored, tmp_path, options):
    archive, _ = export(store, tmp_path / "ds.zip", options)
    rate = options.sample_rate or CAMPAIGN.export_sample_rate
    length = round((options.clip_duration_s or CAMPAIGN.clip_duration_s) * rate)
    by_id = {clip.clip_id: clip for clip in stored}
    checked = {"cut": 0, "padded": 0}
    for row in metadata_rows(archive):
        clip = by_id[row["clip_id"]]
        if clip.keyword == NOISE_KEYWORD:
            continue
        exported, exported_rate = sf.read(io.BytesIO(archive.read(row["path"])), dtype="float64")
        assert exported_rate == rate and len(exported) == length
        # The take as stored (16-bit FLAC at the capture rate), resampled independently of speechrec.
        source, source_rate = sf.read(stored_flac_path(store, clip.clip_id), dtype="float32")
        assert source_rate == clip.sample_rate
        source = soxr.resample(source, source_rate, rate, quality="HQ").astype(np.float64)
        # 16-bit PCM cannot hold the overshoot that resampling a clipped take produces.
        source = np.clip(source, -1.0, 1.0)
        energy = float(np.sum(exported**2))
        total = float(np.sum(source**2))
        if len(source) >= length:
            running = np.concatenate(([0.0], np.cumsum(source**2)))
            best = float(np.max(running[length:] - running[:-length]))
            assert energy == pytest.approx(best, rel=2e-3), row["path"]
            checked["cut"] += 1
        else:
            # A short take is kept whole, padded with digital silence.
            assert energy == pytest.approx(total, rel=2e-3), row["path"]
            nonzero = np.flatnonzero(exported)
            padding = nonzero[0] + (length - 1 - nonzero[-1])
            assert padding >= length - len(source) - 2, row["path"]
            checked["padded"] += 1
        if clip.clean_word:
            # The whole word is inside: only a little of the take's quiet room noise is left out.
            assert energy >= 0.995 * total, row["path"]
            if len(source) < length:
                # The word sits in the middle, as far as the take's length allows.
                loud = np.flatnonzero(np.abs(source) > 0.01)
                centre = (loud[0] + loud[-1]) / 2
                expected = centre + np.clip(length / 2 - centre, 0, length - len(source))
                loud = np.flatnonzero(np.abs(exported) > 0.01)
                assert (loud[0] + loud[-1]) / 2 == pytest.approx(expected, abs=0.06 * rate), row["path"]
    assert checked["cut"] >= 4 and checked["padded"] >= 1


# ---- splits ----------------------------------------------------------------------------------------------


def test_which_set_matches_tensorflow_on_random_names():
    generator = random.Random(20240601)
    alphabet = "abcdef0123456789_-.xyzäé"
    names = []
    for _ in range(3000):
        speaker = "".join(generator.choice("0123456789abcdef") for _ in range(8))
        kind = generator.randrange(4)
        if kind == 0:
            names.append(f"{speaker}_nohash_{generator.randrange(20)}.wav")
        elif kind == 1:
            names.append(f"yes/{speaker}_nohash_{generator.randrange(20)}.wav")
        elif kind == 2:
            names.append("".join(generator.choice(alphabet) for _ in range(generator.randrange(1, 30))) + ".wav")
        else:
            names.append(f"word/{speaker}_nohash_x_nohash_1.wav")
    splits = {name: which_set(name) for name in names}
    assert splits == {name: tf_which_set(name) for name in names}
    # Roughly 10 % / 10 % / 80 %.
    counts = {split: list(splits.values()).count(split) for split in ("training", "validation", "testing")}
    assert 0.05 < counts["validation"] / len(names) < 0.15
    assert 0.05 < counts["testing"] / len(names) < 0.15


@pytest.mark.parametrize(
    "name, split",
    [
        # From the real Speech Commands v0.02 validation_list.txt and testing_list.txt.
        ("right/a69b9b3e_nohash_0.wav", "validation"),
        ("right/bb05582b_nohash_3.wav", "testing"),
    ],
)
def test_which_set_on_real_speech_commands_names(name, split):
    assert tf_which_set(name) == split
    assert which_set(name) == split


def test_split_lists(store, stored, tmp_path):
    archive, _ = export(store, tmp_path / "ds.zip", ExportOptions(selection="all"))
    rows = metadata_rows(archive)
    words = [row for row in rows if row["keyword"] != NOISE_KEYWORD]
    validation = list_lines(archive, "validation_list.txt")
    testing = list_lines(archive, "testing_list.txt")
    assert validation == sorted(row["path"] for row in words if tf_which_set(row["path"]) == "validation")
    assert testing == sorted(row["path"] for row in words if tf_which_set(row["path"]) == "testing")
    assert validation and testing
    assert not any(line.startswith(NOISE_KEYWORD) for line in validation + testing)
    assert set(validation + testing) <= set(wav_names(archive))
    # metadata.csv agrees, and every speaker sits in exactly one split.
    for row in rows:
        expected = "" if row["keyword"] == NOISE_KEYWORD else tf_which_set(row["path"])
        assert row["split"] == expected, row["path"]
    splits_of_speaker: dict[str, set[str]] = {}
    for row in words:
        splits_of_speaker.setdefault(row["speaker"], set()).add(row["split"])
    assert all(len(splits) == 1 for splits in splits_of_speaker.values())
    assert splits_of_speaker[VAL] == {"validation"} and splits_of_speaker[TEST] == {"testing"}
    assert splits_of_speaker[T1] == splits_of_speaker[T2] == {"training"}


# ---- selection -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("selection", ["default", "accepted", "all"])
def test_selection(store, stored, tmp_path, selection):
    archive, summary = export(store, tmp_path / "ds.zip", ExportOptions(selection=selection))
    exported = {row["clip_id"] for row in metadata_rows(archive)}
    assert exported == expected_ids(stored, selection)
    rejected = {clip.clip_id for clip in stored if clip.status == "rejected"}
    assert not exported & rejected
    flagged_pending = {clip.clip_id for clip in stored if clip.flagged and clip.status == "pending"}
    assert bool(exported & flagged_pending) == (selection == "all")
    assert len(wav_names(archive)) == len(exported) == summary.files + summary.background_noise_files
    assert {row["status"] for row in metadata_rows(archive)} <= (
        {"accepted"} if selection == "accepted" else {"accepted", "pending"}
    )


def test_select_clips_refuses_an_unknown_selection(store, stored):
    with pytest.raises(ValueError, match=r"selection must be one of .*got 'rejected'"):
        select_clips(store.clips(), "rejected")


# ---- metadata.csv ----------------------------------------------------------------------------------------


@ON_EVERY_BACKEND
def test_metadata_has_one_row_per_wav_with_the_store_values(store, stored, tmp_path, backend):
    archive, _ = export(store, tmp_path / "ds.zip", ExportOptions(selection="all"))
    text = archive.read("metadata.csv").decode("utf-8")
    header = text.splitlines()[0].split(",")
    for column in ["path", "keyword", "speaker", "split", "clip_id", "source", *QUALITY_NUMBERS, "flags"]:
        assert column in header
    rows = metadata_rows(archive)
    assert sorted(row["path"] for row in rows) == sorted(wav_names(archive))
    assert len({row["clip_id"] for row in rows}) == len(rows)
    by_id = {clip.clip_id: clip for clip in stored}
    for row in rows:
        clip = by_id[row["clip_id"]]
        store_row = store.clip(clip.clip_id).to_row()
        assert row["keyword"] == clip.keyword
        assert row["speaker"] == clip.speaker
        assert row["source"] == "webrtc"
        assert row["flags"] == store_row["flags"]
        for column in QUALITY_NUMBERS:
            if store_row[column] is None:
                assert row[column] == ""
            else:
                assert float(row[column]) == pytest.approx(store_row[column], abs=1e-3), column


@ON_EVERY_BACKEND
def test_metadata_says_whether_each_take_was_raw(store, backend):
    speaker = store.create_speaker(1).speaker_id
    take = make_take(sample_rate=16000, word="yes")
    quality = assess_take(take, 16000)
    ids = {
        raw: store.add_clip(
            take, 16000, quality, keyword="yes", speaker_id=speaker, session_id="s", source="webrtc", raw=raw
        )
        for raw in (True, False, None)
    }
    rows = list(csv.DictReader(io.StringIO(metadata_csv(store, CAMPAIGN, ExportOptions(selection="all")).decode())))
    assert {row["clip_id"]: row["raw"] for row in rows} == {ids[True]: "true", ids[False]: "false", ids[None]: ""}


def test_metadata_source_of_imported_clips_is_the_path_in_the_import_folder(store, tmp_path):
    folder = tmp_path / "upload"
    (folder / "recordings" / "yes-raw").mkdir(parents=True)
    (folder / "_background_noise_").mkdir()
    sf.write(folder / "recordings" / "yes-raw" / "abcd0001.wav", load_word("yes")[0], 16000, subtype="PCM_16")
    sf.write(folder / "_background_noise_" / "room.wav", steady_noise(2.0, 16000, -40.0), 16000, subtype="PCM_16")
    result = import_folder(store, folder, CAMPAIGN, workers=1)
    assert (result.imported, result.skipped) == (2, [])
    archive, summary = export(store, tmp_path / "ds.zip")
    sources = {row["keyword"]: row["source"] for row in metadata_rows(archive)}
    assert sources == {"yes": "recordings/yes-raw/abcd0001.wav", NOISE_KEYWORD: "_background_noise_/room.wav"}
    assert summary.files == 1 and summary.background_noise_files == 1


# ---- README.md -------------------------------------------------------------------------------------------


def squash(text: str) -> str:
    return " ".join(text.split())


def test_readme(store, stored, tmp_path):
    archive, summary = export(store, tmp_path / "ds.zip")
    readme = archive.read("README.md").decode("utf-8")
    assert CAMPAIGN.title in readme
    assert squash(CAMPAIGN.consent_text) in squash(readme)
    assert CAMPAIGN.licence in readme
    assert f"Clips: {summary.files} from {summary.speakers} speakers" in readme
    assert f"background noise files: {summary.background_noise_files}" in readme
    table = {
        match[1]: tuple(int(value) for value in match.groups()[1:])
        for match in re.finditer(r"^\| (\S[^|]*?) \| (\d+) \| (\d+) \| (\d+) \| (\d+) \|$", readme, re.MULTILINE)
    }
    validation = set(list_lines(archive, "validation_list.txt"))
    testing = set(list_lines(archive, "testing_list.txt"))
    expected = {}
    for name in wav_names(archive):
        match = WORD_PATH.match(name)
        if match:
            total, training, val, test = expected.get(match["word"], (0, 0, 0, 0))
            expected[match["word"]] = (
                total + 1,
                training + (name not in validation and name not in testing),
                val + (name in validation),
                test + (name in testing),
            )
    assert table == expected
    assert table["yes"][0] == 3


# ---- determinism -----------------------------------------------------------------------------------------


def test_two_exports_are_byte_identical(store, stored, tmp_path):
    export_dataset(store, CAMPAIGN, tmp_path / "one.zip")
    export_dataset(store, CAMPAIGN, tmp_path / "two.zip")
    assert sha256(tmp_path / "one.zip") == sha256(tmp_path / "two.zip")
    # A store opened anew on the same data gives the same bytes too.
    reopened = ClipStore(store.settings)
    try:
        export_dataset(reopened, CAMPAIGN, tmp_path / "three.zip")
    finally:
        reopened.close()
    assert sha256(tmp_path / "three.zip") == sha256(tmp_path / "one.zip")


def test_export_to_a_stream_gives_the_same_bytes_as_to_a_path(store, stored, tmp_path):
    export_dataset(store, CAMPAIGN, tmp_path / "ds.zip")
    buffer = io.BytesIO()
    summary = export_dataset(store, CAMPAIGN, buffer)
    assert buffer.getvalue() == (tmp_path / "ds.zip").read_bytes()
    assert summary.files == 8


class WriteOnly(io.RawIOBase):
    """A stream that cannot seek or tell, like an HTTP response body."""

    def __init__(self) -> None:
        self.data = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, chunk) -> int:
        self.data += bytes(chunk)
        return len(chunk)


@ON_EVERY_BACKEND
def test_export_to_an_unseekable_stream(store, stored, tmp_path, backend):
    export_dataset(store, CAMPAIGN, tmp_path / "ds.zip")
    stream = WriteOnly()
    export_dataset(store, CAMPAIGN, stream)
    streamed = zipfile.ZipFile(io.BytesIO(bytes(stream.data)))
    reference = zipfile.ZipFile(tmp_path / "ds.zip")
    assert streamed.namelist() == reference.namelist()
    for name in reference.namelist():
        assert streamed.read(name) == reference.read(name), name


# ---- progress --------------------------------------------------------------------------------------------


def test_progress_counts_every_file(store, stored, tmp_path):
    calls = []
    archive, _ = export(
        store,
        tmp_path / "ds.zip",
        ExportOptions(selection="all"),
        progress=lambda done, total: calls.append((done, total)),
    )
    total = len(wav_names(archive))
    assert calls == [(done, total) for done in range(1, total + 1)]
    assert calls[-1] == (total, total)


# ---- failures --------------------------------------------------------------------------------------------


@ON_EVERY_BACKEND
@pytest.mark.parametrize("damage", ["delete", "garbage"])
def test_unreadable_audio_is_skipped_with_a_reason(store, stored, tmp_path, damage, backend):
    victim = stored[0]  # an accepted "yes"
    key = str(store.clip(victim.clip_id).audio_key)
    if damage == "delete":
        store.audio.remove(key)
    else:
        store.audio.put(key, b"this is not a FLAC file" * 10)
    calls = []
    archive, summary = export(store, tmp_path / "ds.zip", progress=lambda done, total: calls.append((done, total)))
    assert [clip_id for clip_id, _ in summary.skipped] == [victim.clip_id]
    assert re.search(r"audio unreadable|cannot be read", summary.skipped[0][1])
    rows = metadata_rows(archive)
    assert victim.clip_id not in {row["clip_id"] for row in rows}
    assert {row["clip_id"] for row in rows} == expected_ids(stored, "default") - {victim.clip_id}
    assert sorted(row["path"] for row in rows) == sorted(wav_names(archive))
    assert summary.files_per_keyword["yes"] == 2
    total = len(expected_ids(stored, "default"))
    assert calls[-1] == (total, total)
    listed = set(list_lines(archive, "validation_list.txt") + list_lines(archive, "testing_list.txt"))
    assert listed <= set(wav_names(archive))


def test_export_into_a_missing_folder_fails_and_leaves_nothing(store, stored, tmp_path):
    before = sorted(tmp_path.iterdir())
    with pytest.raises(OSError):
        export_dataset(store, CAMPAIGN, tmp_path / "missing" / "ds.zip")
    assert sorted(tmp_path.iterdir()) == before


def test_export_onto_a_folder_fails_and_leaves_no_partial_file(store, stored, tmp_path):
    (tmp_path / "ds.zip").mkdir()
    before = sorted(tmp_path.iterdir())
    with pytest.raises(ExportPathError, match="is a folder"):
        export_dataset(store, CAMPAIGN, tmp_path / "ds.zip")
    assert sorted(tmp_path.iterdir()) == before
    assert list((tmp_path / "ds.zip").iterdir()) == []


def test_failed_export_keeps_an_older_file_untouched(store, stored, tmp_path):
    target = tmp_path / "ds.zip"
    export_dataset(store, CAMPAIGN, target, ExportOptions(selection="accepted"))
    previous_release = target.read_bytes()

    def stop(done: int, total: int) -> None:
        if done == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        export_dataset(store, CAMPAIGN, target, progress=stop)
    assert target.read_bytes() == previous_release
    assert sorted(path.name for path in tmp_path.iterdir()) == ["data", "ds.zip"]
    # A successful export replaces it.
    export_dataset(store, CAMPAIGN, target)
    assert zipfile.ZipFile(target).testzip() is None


SILENCE_FILE = f"{NOISE_KEYWORD}/silence.wav"  # what _background_noise_/ holds when there is nothing else


def test_empty_store_gives_a_valid_zip(store, tmp_path):
    archive, summary = export(store, tmp_path / "ds.zip")
    assert sorted(archive.namelist()) == sorted([*LIST_FILES, SILENCE_FILE])
    assert (summary.files, summary.background_noise_files, summary.speakers, summary.skipped) == (0, 1, 0, [])
    assert summary.background_noise == "silence"
    assert list_lines(archive, "validation_list.txt") == []
    assert [(row["path"], row["kind"]) for row in metadata_rows(archive)] == [(SILENCE_FILE, "background_noise")]
    assert "Clips: 0 from 0 speakers" in archive.read("README.md").decode()


@pytest.mark.parametrize(
    "values, message",
    [
        ({"selection": "rejected"}, r"selection must be one of accepted, default, all, got 'rejected'"),
        ({"selection": "ALL"}, r"selection must be one of .*got 'ALL'"),
        ({"selection": ""}, r"selection must be one of .*got ''"),
        ({"sample_rate": 7999}, r"sample_rate must be between 8000 and 48000 Hz, got 7999"),
        ({"sample_rate": 96000}, r"sample_rate must be between .*got 96000"),
        ({"sample_rate": 0}, r"sample_rate must be between .*got 0"),
        ({"clip_duration_s": 0.05}, r"clip_duration_s must be between 0.1 and 10 s, got 0.05"),
        ({"clip_duration_s": 0}, r"clip_duration_s must be between .*got 0"),
        ({"clip_duration_s": -1.0}, r"clip_duration_s must be between .*got -1.0"),
        ({"clip_duration_s": 11.0}, r"clip_duration_s must be between .*got 11.0"),
        ({"clip_duration_s": float("nan")}, r"clip_duration_s must be between .*got nan"),
    ],
)
def test_bad_export_options(values, message):
    with pytest.raises(ValueError, match=message):
        ExportOptions(**values)


@pytest.mark.parametrize("sample_rate", [16000.5, 16000.0, "16000"])
def test_export_options_refuse_a_sample_rate_that_is_not_an_int(sample_rate):
    # Refused up front (TypeError or ValueError naming the value), not halfway through an export.
    with pytest.raises((TypeError, ValueError), match=r"sample_rate .*16000"):
        ExportOptions(sample_rate=sample_rate)


def test_export_refuses_options_of_the_wrong_type(store, tmp_path):
    with pytest.raises(TypeError, match="options must be ExportOptions"):
        export_dataset(store, CAMPAIGN, io.BytesIO(), "all")


def test_export_with_every_audio_file_missing_still_gives_a_valid_zip(store, stored, tmp_path):
    for clip in stored:
        stored_flac_path(store, clip.clip_id).unlink()
    archive, summary = export(store, tmp_path / "ds.zip")
    assert sorted(archive.namelist()) == sorted([*LIST_FILES, SILENCE_FILE])  # TensorFlow still finds noise
    assert sorted(clip_id for clip_id, _ in summary.skipped) == sorted(expected_ids(stored, "default"))
    assert (summary.files, summary.background_noise_files) == (0, 1)


def test_non_ascii_word_keeps_its_name_in_the_zip(store, tmp_path):
    store.ensure_speaker(TEST, origin="volunteer")
    samples = make_take(sample_rate=48000, word="tum", seed=21)
    store.add_clip(
        samples, 48000, assess_take(samples, 48000), keyword="grüezi", speaker_id=TEST, session_id="s", source="webrtc"
    )
    archive, summary = export(store, tmp_path / "ds.zip")
    name = f"grüezi/{TEST}_nohash_0.wav"
    assert wav_names(archive) == [name, SILENCE_FILE]  # one take has too little room noise for a file
    assert archive.getinfo(name).flag_bits & 0x800  # the name is marked as UTF-8
    assert list_lines(archive, "testing_list.txt") == [name]
    assert [row["path"] for row in metadata_rows(archive)] == [name, SILENCE_FILE]
    assert summary.files_per_keyword == {"grüezi": 1}


@pytest.mark.parametrize("offset", [0.02, -0.05, 0.2])
@pytest.mark.parametrize(("word", "rate"), [("no", 16000), ("down", 48000), ("tum", 44100)])
def test_an_offset_never_reaches_the_exported_clip(store, tmp_path, offset, word, rate):
    store.ensure_speaker(T1, origin="volunteer")
    clean = make_take(sample_rate=rate, duration_s=1.6, offset_s=0.5, word=word, level_dbfs=-26.0, seed=13)
    for samples in (clean, clean + np.float32(offset)):
        quality = assess_take(samples, rate)
        assert quality.flags == ()
        store.add_clip(samples, rate, quality, keyword=word, speaker_id=T1, session_id="s", source="webrtc")
    archive, summary = export(store, tmp_path / "ds.zip")
    assert summary.files == 2
    without, with_offset = (sf.read(io.BytesIO(archive.read(name)), dtype="float64")[0] for name in wav_names(archive) if not name.startswith("_background_noise_/"))
    assert abs(with_offset.mean()) <= 0.005
    # The same word, whole: as much energy, and the same waveform up to where the window was cut.
    assert np.sum(with_offset**2) == pytest.approx(np.sum(without**2), rel=0.02)
    lag = int(np.argmax(np.correlate(with_offset, without, mode="full"))) - (len(without) - 1)
    a, b = (with_offset[lag:], without[: len(without) - lag]) if lag >= 0 else (with_offset[:lag], without[-lag:])
    assert np.corrcoef(a, b)[0, 1] > 0.99


def test_spellings_stored_before_names_were_matched_share_one_folder(store, tmp_path):
    # A store filled before imports matched names: "Yes" and "yes", "über" in NFD and in NFC.
    store.ensure_speaker(T1, origin="volunteer")
    nfd = unicodedata.normalize("NFD", "über")
    for seed, keyword in enumerate(["yes", "Yes", "yes", nfd, "über", "YES"]):
        samples = make_take(sample_rate=16000, word="yes", seed=40 + seed)
        store.add_clip(
            samples, 16000, assess_take(samples, 16000), keyword=keyword, speaker_id=T1, session_id="s", source="import"
        )
    archive, summary = export(store, tmp_path / "ds.zip")
    names = [name for name in wav_names(archive) if not name.startswith("_background_noise_/")]
    assert len({name.casefold() for name in names}) == len(names) == 6
    assert sorted({name.split("/")[0] for name in names}) == ["yes", "über"]
    assert all(unicodedata.is_normalized("NFC", name) for name in names)
    assert summary.files_per_keyword == {"yes": 4, "über": 2}
    rows = [row for row in metadata_rows(archive) if not row["path"].startswith("_background_noise_/")]
    assert sorted(row["path"] for row in rows) == sorted(names)


def test_selection_that_matches_nothing_gives_a_valid_zip(store, tmp_path):
    # Before any review, "accepted" matches no clip: a valid zip without WAV files, not a crash.
    store.ensure_speaker(T1, origin="volunteer")
    samples = make_take(sample_rate=48000, word="yes", seed=31)
    store.add_clip(
        samples, 48000, assess_take(samples, 48000), keyword="yes", speaker_id=T1, session_id="s", source="webrtc"
    )
    archive, summary = export(store, tmp_path / "ds.zip", ExportOptions(selection="accepted"))
    assert sorted(archive.namelist()) == sorted([*LIST_FILES, SILENCE_FILE])
    assert (summary.files, summary.skipped) == (0, [])


# ---- the app's download: prepared zips, metadata alone, file names ---------------------------------------


def test_prepare_export_builds_once_per_store_state(store, stored, tmp_path):
    folder = tmp_path / "exports"
    calls: list[int] = []
    first = prepare_export(store, CAMPAIGN, folder, progress=lambda done, total: calls.append(done))
    assert calls and first.exists() and first.parent == folder
    assert (folder.stat().st_mode & 0o777) == 0o700  # the data of volunteers: the owner only
    export(store, tmp_path / "direct.zip")
    assert first.read_bytes() == (tmp_path / "direct.zip").read_bytes()
    calls.clear()
    assert prepare_export(store, CAMPAIGN, folder, progress=lambda done, total: calls.append(done)) == first
    assert calls == []  # the same state: the finished file, not a new build
    pending = next(clip for clip in stored if clip.status == "pending" and not clip.flagged)
    store.set_status(pending.clip_id, "rejected", reviewer="organizer")
    after_review = prepare_export(store, CAMPAIGN, folder)
    assert after_review != first
    with zipfile.ZipFile(after_review) as archive:
        assert pending.clip_id not in {row["clip_id"] for row in metadata_rows(archive)}
    other_options = prepare_export(store, CAMPAIGN, folder, ExportOptions(selection="accepted"))
    assert other_options not in (first, after_review)
    assert first.exists()  # recent zips stay: another organizer may be about to download it


def test_prepare_export_names_and_fills_the_zip_from_one_read(store, stored, tmp_path, monkeypatch):
    """A decision that lands while the zip is built (another organizer) is in neither its name nor
    its contents: both come from the one read of the clips."""
    reads = []
    read_clips = store.clips
    pending = next(clip for clip in stored if clip.status == "pending" and not clip.flagged)
    before = []

    def read_then_someone_rejects(**filters):
        reads.append(filters)
        rows = read_clips(**filters)
        if len(reads) == 1:
            before.append(store.set_status(pending.clip_id, "rejected", reviewer="ben"))
        return rows

    monkeypatch.setattr(store, "clips", read_then_someone_rejects)
    built = prepare_export(store, CAMPAIGN, tmp_path / "exports")
    assert reads == [{}]
    with zipfile.ZipFile(built) as archive:
        assert {row["clip_id"] for row in metadata_rows(archive)} == expected_ids(stored, "default")
    monkeypatch.undo()
    store.restore(pending.clip_id, before[0])  # the state the first zip was named after
    assert prepare_export(store, CAMPAIGN, tmp_path / "exports") == built


def test_prepare_export_removes_zips_unused_for_an_hour(store, stored, tmp_path):
    folder = tmp_path / "exports"
    old = prepare_export(store, CAMPAIGN, folder, ExportOptions(selection="accepted"))
    os.utime(old, (time.time() - 2 * 3600,) * 2)
    current = prepare_export(store, CAMPAIGN, folder)
    assert current.exists() and not old.exists()


def test_metadata_csv_alone_lists_the_selected_clips(store, stored):
    rows = list(
        csv.DictReader(io.StringIO(metadata_csv(store, CAMPAIGN, ExportOptions(selection="accepted")).decode()))
    )
    assert {row["clip_id"] for row in rows} == expected_ids(stored, "accepted")
    assert all(WORD_PATH.match(row["path"]) or NOISE_PATH.match(row["path"]) for row in rows)


@pytest.mark.parametrize(
    ("title", "name"),
    [
        ("speechrec demo: yes, no, up, down, tum", "speechrec-demo-yes-no-up-down-tum-2026-11-24.zip"),
        ("Hey Robot!", "hey-robot-2026-11-24.zip"),
        ("???", "speechrec-2026-11-24.zip"),
    ],
)
def test_download_name(title, name):
    assert download_name(replace(CAMPAIGN, title=title), date(2026, 11, 24)) == name


# ---- variations, near misses and languages (issue 14) ------------------------------------------------------

VARIED = Campaign(
    title="Hey Jarvis",
    keywords=("hey jarvis", "stop"),
    consent_text="I agree (English consent marker EN-41).",
    takes_per_keyword=2,
    filler_words=("cat",),
    variations=(Variation("soft", "Say it softly."), Variation("far", "Say it from across the room.")),
    near_misses={"hey jarvis": ("hey", "jarvis", "hey jar")},
    languages=("en", "de"),
    translations={"de": CampaignTexts(consent_text="Ich stimme zu (deutsche Einwilligung DE-41).")},
)


def test_a_campaign_with_variations_and_near_misses_exports_which_is_which(store, tmp_path):
    """From the schedule through keep_take to the zip: every clip carries its prompt's variation,
    near misses get their own folders, and metadata.csv says which keyword each is a near miss of."""
    recording = np.concatenate([steady_noise(0.4, 16000, -60.0), load_word("yes", trim=True)[0] * 0.2,
                                steady_noise(0.6, 16000, -60.0, seed=1)]).astype(np.float32)  # fmt: skip
    asked = []
    for _ in range(2):
        speaker = store.create_speaker(1, "de").speaker_id
        for prompt in build_schedule(VARIED, speaker):
            verdict = keep_take(store, VARIED, recording, 16000, keyword=prompt.word, variation=prompt.variation,
                                speaker_id=speaker, session_id=speaker, source="webrtc", consent_version=1)  # fmt: skip
            assert verdict.stored, verdict.problems
            asked.append((speaker, *prompt))
    summary = export_dataset(store, VARIED, tmp_path / "ds.zip", ExportOptions(selection="all"))
    archive = zipfile.ZipFile(tmp_path / "ds.zip")
    assert {name.split("/")[0] for name in wav_names(archive)} == {"hey jarvis", "stop", "cat", "hey", "jarvis",
                                                                   "hey jar", "_background_noise_"}  # fmt: skip
    assert summary.files == len(asked) == 2 * (2 * 2 + 1 + 3)
    rows = [row for row in metadata_rows(archive) if row["keyword"] != "_background_noise_"]
    header = archive.read("metadata.csv").decode().splitlines()[0].split(",")
    assert header[:4] == ["path", "keyword", "variation", "near_miss_of"]
    exported = sorted((row["speaker"], row["keyword"], row["variation"] or None) for row in rows)
    assert exported == sorted(asked)  # each clip carries the variation its prompt asked for
    for row in rows:
        assert row["near_miss_of"] == ("hey jarvis" if row["keyword"] in {"hey", "jarvis", "hey jar"} else "")
        assert (row["variation"] != "") == (row["keyword"] in VARIED.keywords)
    readme = archive.read("README.md").decode()
    assert "## Variations" in readme and "- `far`: Say it from across the room." in readme
    assert "- `hey jar/`: near miss of hey jarvis" in readme
    assert "### English (en)\n\nI agree (English consent marker EN-41)." in readme
    assert "### Deutsch (de)\n\nIch stimme zu (deutsche Einwilligung DE-41)." in readme


def test_a_campaign_without_variations_exports_empty_columns_and_one_consent(store, stored, tmp_path):
    archive, _ = export(store, tmp_path / "ds.zip", ExportOptions(selection="all"))
    rows = metadata_rows(archive)
    assert {row["variation"] for row in rows} == {""} and {row["near_miss_of"] for row in rows} == {""}
    readme = archive.read("README.md").decode()
    assert "## Variations" not in readme and "## Near misses" not in readme and "###" not in readme
    assert CAMPAIGN.consent_text in readme


def keep(store: ClipStore, campaign: Campaign, speaker: str, word: str, variation: str | None = None) -> None:
    recording = np.concatenate([steady_noise(0.4, 16000, -60.0), load_word("yes", trim=True)[0] * 0.2,
                                steady_noise(0.6, 16000, -60.0, seed=1)]).astype(np.float32)  # fmt: skip
    verdict = keep_take(store, campaign, recording, 16000, keyword=word, variation=variation, speaker_id=speaker,
                        session_id=speaker, source="webrtc", consent_version=1)  # fmt: skip
    assert verdict.stored, verdict.problems


def test_the_readme_names_only_the_near_miss_folders_and_variations_the_zip_has(store, tmp_path):
    speaker = store.create_speaker(1).speaker_id
    keep(store, VARIED, speaker, "cat")
    export_dataset(store, VARIED, tmp_path / "cat.zip", ExportOptions(selection="all"))
    readme = zipfile.ZipFile(tmp_path / "cat.zip").read("README.md").decode()
    assert "## Variations" not in readme and "## Near misses" not in readme  # none of either in this zip

    keep(store, VARIED, speaker, "hey jarvis", "soft")
    keep(store, VARIED, speaker, "stop", "soft")
    keep(store, VARIED, speaker, "hey")  # no take of "jarvis" or "hey jar", none asked "far"
    export_dataset(store, VARIED, tmp_path / "ds.zip", ExportOptions(selection="all"))
    archive = zipfile.ZipFile(tmp_path / "ds.zip")
    folders = {name.split("/")[0] for name in wav_names(archive)}
    assert folders == {"hey jarvis", "stop", "hey", "cat", "_background_noise_"}
    readme = archive.read("README.md").decode()
    variations = readme.split("## Variations")[1].split("##")[0]
    assert "- `soft`: Say it softly." in variations and "far" not in variations
    near_misses = readme.split("## Near misses")[1].split("##")[0]
    assert re.findall(r"- `([^`]*)/`", near_misses) == ["hey"]  # every folder named is in the zip


@pytest.mark.parametrize("layout", ["speech_commands", "split_folders"])
def test_the_readmes_training_command_takes_keywords_with_spaces_and_quotes_as_one_argument(store, tmp_path, layout):
    campaign = Campaign(title="t", keywords=("hey jarvis", "don't stop", "ok"), consent_text="ok")
    speaker = store.create_speaker(1).speaker_id
    for word in campaign.keywords:
        keep(store, campaign, speaker, word)
    export_dataset(store, campaign, tmp_path / "ds.zip", ExportOptions(selection="all", layout=layout))
    readme = zipfile.ZipFile(tmp_path / "ds.zip").read("README.md").decode()
    if layout == "split_folders":  # a value to use, not a command: as it is
        assert "`--wanted_words`: `hey jarvis,don't stop,ok`" in readme
        return
    command = next(line for line in readme.splitlines() if line.startswith("python tensorflow/"))
    arguments = shlex.split(command)  # as a shell reads the line
    assert arguments[-1] == "--wanted_words=hey jarvis,don't stop,ok"
    assert arguments[1:-1] == ["tensorflow/examples/speech_commands/train.py", "--data_url=", "--data_dir=THIS_FOLDER"]


# ---- metadata.csv never runs in a spreadsheet ----------------------------------------------------------

FORMULAS = {
    "equals": "=1+2",
    "plus": "+1+2",
    "minus": "-1+2",
    "at": "@SUM(1 1)",
    "tab": "\tx",
    "fullwidth_equals": "\uff1d1+2",
    "small_equals": "\ufe661+2",
    "small_plus": "\ufe621+2",
    "minus_sign": "\u22121+2",
    "space_then_equals": " =1+2",
    "zero_width_then_at": "\u200b@x",
}


def add_imported_yes(store: ClipStore, source_path: str) -> Campaign:
    """Store one imported take of "yes" from ``source_path``; the campaign it belongs to."""
    speaker = store.create_speaker(1).speaker_id
    samples, rate = load_word("yes")
    store.add_clip(
        samples, rate, assess_take(samples, rate), keyword="yes", speaker_id=speaker, session_id="s",
        source="import", source_path=source_path,
    )  # fmt: skip
    return Campaign(title="t", keywords=("yes",), consent_text="ok")


@pytest.mark.parametrize("formula", FORMULAS.values(), ids=FORMULAS.keys())
def test_metadata_cells_a_spreadsheet_would_run_are_neutralized(store, tmp_path, formula):
    """A free-text cell (here the imported file's name) gets OWASP's leading apostrophe."""
    campaign = add_imported_yes(store, f"{formula}.wav")
    export_dataset(store, campaign, tmp_path / "ds.zip", ExportOptions(selection="all"))
    for text in (zipfile.ZipFile(tmp_path / "ds.zip").read("metadata.csv"), metadata_csv(store, campaign, ExportOptions("all"))):
        every_row = list(csv.DictReader(io.StringIO(text.decode("utf-8"))))
        rows = [row for row in every_row if row["clip_id"]]  # the take (the zip adds room noise)
        assert len(rows) == 1
        cells = [cell for row in every_row for name, cell in row.items() if not name.endswith(("_dbfs", "_db", "_s"))]
        assert not [cell for cell in cells if formula_start(cell)]
        assert rows[0]["source"] == f"'{formula}.wav"
        assert float(rows[0]["peak_dbfs"]) < 0  # numbers stay numbers, negative ones included


@pytest.mark.parametrize("name", ["a\rb", "a\nb", "a\r\nb", "a,\"b\"\r"], ids=["cr", "lf", "crlf", "quoted-cr"])
def test_a_line_break_inside_a_cell_keeps_metadata_csv_one_row_per_clip(store, tmp_path, name):
    """An imported file's name may hold a carriage return; with bare LF line ends the csv module left
    such a cell unquoted and every reader split the row there (found trying the export)."""
    campaign = add_imported_yes(store, f"{name}.wav")
    text = metadata_csv(store, campaign, ExportOptions("all")).decode("utf-8")
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    assert len(rows) == 1 and rows[0]["source"] == f"{name}.wav"
    assert len(pd.read_csv(io.StringIO(text, newline=""), dtype=str, keep_default_na=False)) == 1


@pytest.mark.parametrize("layout", ["speech_commands", "split_folders"])
def test_every_path_in_metadata_csv_is_a_file_of_the_zip_as_it_is(store, stored, tmp_path, layout):
    """No path or keyword cell needs OWASP's apostrophe: a word starting with = + - @ (or a look-alike)
    is refused where it enters, and a row written straight into the database is left out."""
    victims = {stored[0].clip_id: "+1", stored[1].clip_id: "\ufe66cmd", stored[2].clip_id: "-x"}
    with store._write() as connection:
        for clip_id, keyword in victims.items():
            connection.execute(clips_table.update().where(clips_table.c.clip_id == clip_id).values(keyword=keyword))
    archive, summary = export(store, tmp_path / "ds.zip", ExportOptions(selection="all", layout=layout))
    rows = metadata_rows(archive)
    names = set(archive.namelist())
    assert rows and all(row["path"] in names for row in rows), [row["path"] for row in rows if row["path"] not in names]
    for row in rows:
        assert row["path"].split("/")[-2] == row["keyword"], row  # the keyword cell is its folder's name
        archive.read(row["path"])  # it opens
    assert {clip_id for clip_id, _ in summary.skipped} >= set(victims)
    assert not set(victims) & {row["clip_id"] for row in rows}


# ---- rows are checked where the export uses them -------------------------------------------------------

NOW = datetime.now(UTC)
ALTERED_ROWS = {
    "keyword": {"keyword": "../../evil"},
    "absolute_keyword": {"keyword": "/etc"},
    "speaker": {"speaker_id": "../../x"},
    "audio_key_up": {"audio_key": "../../../outside.flac"},
    "audio_key_absolute": {"audio_key": "/etc/passwd"},
    "audio_key_database": {"audio_key": "../speechrec.sqlite3"},
    "formula_keyword": {"keyword": "=HYPERLINK(1)"},
    "lookalike_formula_keyword": {"keyword": "\uff0bcmd"},
}


@pytest.mark.parametrize("altered", list(ALTERED_ROWS), ids=list(ALTERED_ROWS))
def test_a_row_altered_in_the_database_never_leaves_the_zip_or_the_store(store, stored, tmp_path, altered, backend):
    victim = stored[0].clip_id
    with store._write() as connection:
        if altered == "speaker":  # the speaker row the altered clip row points to
            connection.execute(speakers_table.insert().values(speaker_id="../../x", origin="x", created_at=NOW))
        connection.execute(clips_table.update().where(clips_table.c.clip_id == victim).values(**ALTERED_ROWS[altered]))
    archive, summary = export(store, tmp_path / "ds.zip", ExportOptions(selection="all"))
    for name in archive.namelist():
        assert not name.startswith("/") and ".." not in name.split("/") and "\\" not in name, name
    assert [clip_id for clip_id, _ in summary.skipped] == [victim]
    assert summary.skipped[0][1].startswith("unusable row: ")
    exported = {row["clip_id"] for row in metadata_rows(archive)}
    assert victim not in exported
    assert len(exported) == len([item for item in stored if item.status != "rejected"]) - 1  # the others all went in
    assert victim not in metadata_csv(store, CAMPAIGN, ExportOptions(selection="all")).decode()

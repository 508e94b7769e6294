"""``python -m speechrec`` as a real subprocess: import -> stats -> export, help, and clean failures."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import time
import unicodedata
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import sqlalchemy
from signals import QUIRKS_DIR, encode_with_pyav, load_word, make_take
from unprivileged import respect_file_modes

from speechrec.campaign import Campaign
from speechrec.config import load_settings
from speechrec.quality import assess_take
from speechrec.store import ClipStore

REPO = Path(__file__).resolve().parent.parent
WORD_PATH = re.compile(r"^(?P<word>[^/]+)/(?P<speaker>[0-9a-f]{8})_nohash_(?P<n>\d+)\.wav$")


def encode_opus(path: Path, samples: np.ndarray, sample_rate: int) -> Path:
    return encode_with_pyav(path, samples, sample_rate, "ogg", "libopus", 48000)


class Cli:
    """Runs ``python -m speechrec`` in ``cwd`` with the repository importable and no SPEECHREC_* variables."""

    def __init__(self, cwd: Path) -> None:
        self.cwd = cwd
        self.env = {name: value for name, value in os.environ.items() if not name.startswith("SPEECHREC_")}
        self.env["PYTHONPATH"] = str(REPO)

    def __call__(
        self, *args: str, python_options: tuple[str, ...] = (), respect_modes: bool = False
    ) -> subprocess.CompletedProcess:
        """``respect_modes``: file modes apply to the command even when the tests run as root."""
        return subprocess.run(
            [sys.executable, *python_options, "-m", "speechrec", *args],
            cwd=self.cwd,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            preexec_fn=respect_file_modes if respect_modes else None,
        )


@pytest.fixture
def cli(tmp_path) -> Cli:
    shutil.copy(REPO / "campaign.toml", tmp_path / "campaign.toml")
    return Cli(tmp_path)


@pytest.fixture
def empty_store(tmp_path) -> Path:
    """An empty store in ./data, as the app makes it at first start (commands that read need one)."""
    ClipStore(load_settings(tmp_path / "data", environ={})).close()
    return tmp_path / "data"


def tum_folder(folder: Path) -> None:
    """Four takes in the TUM layout (one of them silent) and a non-audio file."""
    encode_opus(folder / "recordings" / "yes-raw" / "abcd0001.ogg", *load_word("yes"))
    encode_opus(folder / "recordings" / "yes-raw" / "abcd0002.ogg", make_take(word="yes", seed=2), 16000)
    encode_opus(folder / "recordings" / "no-raw" / "ef010001.ogg", *load_word("no"))
    encode_opus(folder / "recordings" / "up-raw" / "12340001.ogg", np.zeros(16000, np.float32), 16000)
    (folder / "README.txt").write_text("uploads of the TUM app\n")


def assert_ok(result: subprocess.CompletedProcess) -> None:
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr


def test_import_stats_export(cli, tmp_path):
    tum_folder(tmp_path / "upload")
    result = cli("import", "upload", "--workers", "1")
    assert_ok(result)
    assert result.stderr == ""  # no progress bar when stderr is not a terminal
    assert (
        "imported 4 clips (1 with a quality flag), 0 already in the store, 0 skipped, 1 non-audio files ignored"
        in result.stdout
    )
    assert (tmp_path / "data" / "speechrec.sqlite3").is_file()

    result = cli("stats")
    assert_ok(result)
    lines = result.stdout.splitlines()
    assert lines[0].split() == [
        "keyword",
        "kind",
        "total",
        "accepted",
        "pending",
        "flagged",
        "rejected",
        "target",
        "progress",
    ]
    rows = {line.split()[0]: line.split() for line in lines[1:] if line.strip() and not line.startswith("background")}
    assert rows["yes"] == ["yes", "keyword", "2", "0", "2", "0", "0", "1000", "0%"]
    assert rows["up"] == ["up", "keyword", "1", "0", "0", "1", "0", "1000", "0%"]
    assert rows["bed"][1:3] == ["filler", "0"]
    assert "background noise: 0.0 s" in result.stdout

    result = cli("stats", "--json")
    assert_ok(result)
    data = json.loads(result.stdout)
    counts = {row["keyword"]: row for row in data["keywords"]}
    assert [row["keyword"] for row in data["keywords"]] == [
        "yes",
        "no",
        "up",
        "down",
        "tum",
        "bed",
        "bird",
        "cat",
        "dog",
        "house",
        "tree",
    ]
    assert {word: counts[word]["total"] for word in ("yes", "no", "up", "down")} == {
        "yes": 2,
        "no": 1,
        "up": 1,
        "down": 0,
    }
    assert (counts["yes"]["pending"], counts["up"]["flagged"], counts["up"]["pending"]) == (2, 1, 0)
    assert counts["yes"]["target"] == 1000 and counts["yes"]["progress"] == 0.0
    assert data["background_noise_s"] == 0.0

    result = cli("export", "--out", "ds.zip")
    assert_ok(result)
    assert result.stdout.startswith(
        "wrote ds.zip: 3 clips from 2 speakers (no 1, yes 2), 1 background noise files (assembled from the takes)"
    )
    names = zipfile.ZipFile(tmp_path / "ds.zip").namelist()
    words = [name for name in names if WORD_PATH.match(name)]
    noise = [name for name in names if name.startswith("_background_noise_/")]
    assert len(noise) == 1  # no room recordings: assembled from the silence around the words
    assert sorted(set(names) - set(words) - set(noise)) == [
        "README.md", "metadata.csv", "testing_list.txt", "validation_list.txt",
    ]  # fmt: skip
    assert sorted(WORD_PATH.match(name)["word"] for name in words) == ["no", "yes", "yes"]
    assert not (tmp_path / "ds.zip.partial").exists()

    result = cli("export", "--out", "all.zip", "--select", "all", "--sample-rate", "8000", "--clip-duration", "1.5")
    assert_ok(result)
    archive = zipfile.ZipFile(tmp_path / "all.zip")
    assert sorted(name.split("/")[0] for name in archive.namelist() if name.endswith(".wav")) == [
        "_background_noise_",
        "no",
        "up",
        "yes",
        "yes",
    ]
    assert "8000 Hz" in archive.read("README.md").decode()

    result = cli("export", "--out", "split.zip", "--layout", "split-folders", "--cut", "loudest")
    assert_ok(result)
    names = zipfile.ZipFile(tmp_path / "split.zip").namelist()
    assert {"train/metadata.jsonl", "validation/metadata.jsonl", "test/metadata.jsonl"} <= set(names)
    assert "the loudest stretch of each take" in zipfile.ZipFile(tmp_path / "split.zip").read("README.md").decode()

    result = cli("import", "upload")
    assert_ok(result)
    assert "imported 0 clips (0 with a quality flag), 4 already in the store" in result.stdout


def test_case_11_a_dc_offset_is_measured_away_and_never_exported(cli, tmp_path):
    shutil.copytree(QUIRKS_DIR / "11-dc-offset", tmp_path / "sc")
    shutil.copy(QUIRKS_DIR / "campaign.toml", tmp_path / "quirks.toml")
    assert_ok(cli("import", "sc", "--store", "store", "--campaign", "quirks.toml"))
    assert_ok(cli("export", "--store", "store", "--campaign", "quirks.toml", "--out", "out.zip", "--select", "all"))
    store = ClipStore(load_settings(tmp_path / "store", environ={}))
    rows = {row["source_path"]: row for row in store.clips().to_dict(orient="records")}
    store.close()
    clean, offset = rows["no/4a4b4c4d_nohash_0.wav"], rows["no/4a4b4c4d_nohash_1.wav"]
    assert clean["flags"] == offset["flags"] == ""
    assert clean["speech_level_dbfs"] == pytest.approx(-25.7, abs=0.5)
    for row, tolerance_db in ((clean, 0.5), (offset, 3.0)):
        assert row["noise_floor_dbfs"] == pytest.approx(-60.5, abs=tolerance_db)
        assert row["snr_db"] == pytest.approx(34.8, abs=tolerance_db)
        assert row["speech_start_s"] == pytest.approx(0.40, abs=0.04)
        assert row["speech_end_s"] == pytest.approx(0.82, abs=0.04)
    with zipfile.ZipFile(tmp_path / "out.zip") as archive:
        clips = [name for name in archive.namelist() if WORD_PATH.match(name)]
        assert len(clips) == 2
        for name in clips:
            samples, _ = sf.read(io.BytesIO(archive.read(name)), dtype="float64")
            assert abs(samples.mean()) <= 0.005, name


def test_case_16_folder_names_that_differ_in_case_or_unicode_form_are_one_word(cli, tmp_path):
    source = QUIRKS_DIR / "16-folder-names"
    recordings = tmp_path / "recordings"
    nfd_uber = unicodedata.normalize("NFD", "über")  # the way macOS writes the folder's name
    for folder, name, file in (
        ("yes-raw", "lowercase-yes.ogg", "a1b2c3d4.ogg"),
        ("Yes-raw", "capitalised-yes.ogg", "a1b2c3d4.ogg"),
        (nfd_uber + "-raw", "nfd-uber.ogg", "c1c2c3d4.ogg"),
    ):
        (recordings / folder).mkdir(parents=True)
        shutil.copy(source / name, recordings / folder / file)
    assert (nfd_uber + "-raw").encode() in [path.name.encode() for path in recordings.iterdir()]
    shutil.copy(source / "campaign.toml", tmp_path / "names.toml")
    result = cli("import", "recordings", "--store", "store", "--campaign", "names.toml")
    assert_ok(result)
    assert "not in the campaign" not in result.stdout
    stats = cli("stats", "--store", "store", "--campaign", "names.toml", "--json")
    assert_ok(stats)
    rows = {row["keyword"]: row for row in json.loads(stats.stdout)["keywords"]}
    assert set(rows) == {"über", "yes"}  # no "Yes" row, and über in NFC only (U+00FC)
    assert (rows["yes"]["kind"], rows["yes"]["total"], rows["über"]["kind"], rows["über"]["total"]) == (
        "keyword",
        2,
        "keyword",
        1,
    )
    assert_ok(cli("export", "--store", "store", "--campaign", "names.toml", "--out", "out.zip", "--select", "all"))
    names = [name for name in zipfile.ZipFile(tmp_path / "out.zip").namelist() if name.endswith(".wav") and not name.startswith("_background_noise_/")]
    folders = sorted({name.split("/")[0] for name in names})
    assert folders == ["yes", "über"] and all(unicodedata.is_normalized("NFC", name) for name in names)
    assert sorted(name for name in names if name.startswith("yes/")) == [
        "yes/bcc336d4_nohash_0.wav",
        "yes/bcc336d4_nohash_1.wav",
    ]
    assert len({name.casefold() for name in names}) == len(names)  # nothing lost when unzipped on macOS or Windows


def test_store_and_campaign_options_and_skipped_files(cli, tmp_path):
    folder = tmp_path / "upload"
    encode_opus(folder / "yes-raw" / "abcd0001.ogg", *load_word("yes"))
    encode_opus(folder / "hello-raw" / "abcd0002.ogg", *load_word("no"))
    (folder / "yes-raw" / "abcd0003.ogg").write_bytes(b"\x00not audio" * 100)
    (folder / "mystery.ogg").write_bytes(b"x")
    (tmp_path / "campaign.toml").unlink()
    shutil.copy(REPO / "campaign.toml", tmp_path / "mine.toml")
    result = cli("import", "upload", "--store", "elsewhere", "--campaign", "mine.toml", "--workers", "1")
    assert_ok(result)
    assert "imported 2 clips" in result.stdout
    assert "words not in the campaign: hello" in result.stdout
    assert re.search(r"^  skipped mystery\.ogg: unknown layout", result.stdout, re.MULTILINE)
    assert re.search(r"^  skipped yes-raw/abcd0003\.ogg: cannot be decoded", result.stdout, re.MULTILINE)
    assert (tmp_path / "elsewhere" / "speechrec.sqlite3").is_file()
    assert not (tmp_path / "data").exists()
    result = cli("stats", "--json", "--store", "elsewhere", "--campaign", "mine.toml")
    assert_ok(result)
    counts = {row["keyword"]: row["total"] for row in json.loads(result.stdout)["keywords"]}
    assert (counts["yes"], counts["hello"]) == (1, 1)


def test_the_campaign_saved_in_the_app_wins_over_the_file_unless_one_is_named(cli, tmp_path):
    store = ClipStore(load_settings(tmp_path / "data", environ={}))
    store.save_campaign(Campaign(title="saved", keywords=("hey robot",), consent_text="I agree."))
    store.close()
    saved = json.loads(cli("stats", "--json").stdout)["keywords"]
    assert [row["keyword"] for row in saved] == ["hey robot"]
    named = json.loads(cli("stats", "--json", "--campaign", "campaign.toml").stdout)["keywords"]
    assert "hey robot" not in [row["keyword"] for row in named] and "tum" in [row["keyword"] for row in named]


def test_export_of_an_empty_store(cli, tmp_path, empty_store):
    # The first thing a new organizer may try: the lists, metadata, README and one file of silence.
    result = cli("export", "--out", "ds.zip")
    assert_ok(result)
    assert result.stdout.startswith(
        "wrote ds.zip: 0 clips from 0 speakers (none), 1 background noise files (digital silence)"
    )
    assert sorted(zipfile.ZipFile(tmp_path / "ds.zip").namelist()) == [
        "README.md",
        "_background_noise_/silence.wav",
        "metadata.csv",
        "testing_list.txt",
        "validation_list.txt",
    ]


def test_import_of_nothing_usable_fails(cli, tmp_path):
    (tmp_path / "upload" / "yes-raw").mkdir(parents=True)
    (tmp_path / "upload" / "yes-raw" / "abcd0001.ogg").write_bytes(b"")
    result = cli("import", "upload")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "skipped yes-raw/abcd0001.ogg: empty file" in result.stdout


@pytest.mark.parametrize("command", [[], ["import"], ["export"], ["stats"]], ids=["main", "import", "export", "stats"])
def test_help(cli, command):
    result = cli(*command, "--help")
    assert_ok(result)
    assert result.stdout.startswith("usage: python -m speechrec")
    for option in {
        "import": ["--workers", "--store", "--campaign"],
        "export": ["--out", "--select", "--sample-rate"],
        "stats": ["--json"],
    }.get(command[0] if command else "", ["import", "export", "stats"]):
        assert option in result.stdout


def add_one_clip(data_dir: Path) -> None:
    """Store one clip in the store the CLI opens by default (./data)."""
    store = ClipStore(load_settings(data_dir, environ={}))
    try:
        samples, rate = load_word("yes")
        speaker = store.create_speaker(consent_version=1).speaker_id
        store.add_clip(
            samples,
            rate,
            assess_take(samples, rate),
            keyword="yes",
            speaker_id=speaker,
            session_id="s",
            source="webrtc",
        )
    finally:
        store.close()


def setup_failure(tmp_path: Path, name: str) -> None:
    if name == "bad_toml":
        (tmp_path / "bad.toml").write_text('title = "x"\nkeywords = [yes]\n')
    elif name == "nan":
        (tmp_path / "nan.toml").write_text(
            'title = "x"\nkeywords = ["yes"]\nconsent_text = "ok"\nclip_duration_s = nan\n'
        )
    elif name == "empty_keywords":
        (tmp_path / "empty.toml").write_text('title = "x"\nkeywords = []\nconsent_text = "ok"\n')
    elif name == "no_default_campaign":
        (tmp_path / "campaign.toml").unlink()
    elif name == "folder":
        (tmp_path / "adir").mkdir()
        add_one_clip(tmp_path / "data")
    elif name == "file":
        (tmp_path / "afile").write_text("not a folder")
    elif name == "upload":
        encode_opus(tmp_path / "upload" / "yes-raw" / "abcd0001.ogg", *load_word("yes"))


FAILURES = [
    (
        "missing_campaign",
        ["stats", "--campaign", "missing.toml"],
        None,
        r"^speechrec stats: error: campaign file 'missing.toml' does not exist",
    ),
    (
        "no_default_campaign",
        ["stats"],
        "no_default_campaign",
        r"^speechrec stats: error: campaign file 'campaign.toml' does not exist",
    ),
    ("bad_toml", ["stats", "--campaign", "bad.toml"], "bad_toml", r"^speechrec stats: error: bad.toml: not valid TOML"),
    (
        "nan_campaign",
        ["export", "--out", "ds.zip", "--campaign", "nan.toml"],
        "nan",
        r"^speechrec export: error: nan.toml: clip_duration_s must be a finite number, got nan; write a plain number",
    ),
    (
        "empty_keywords",
        ["export", "--out", "ds.zip", "--campaign", "empty.toml"],
        "empty_keywords",
        r"^speechrec export: error: .*keywords is empty",
    ),
    ("missing_folder", ["import", "nowhere"], None, r"^speechrec import: error: 'nowhere' is not a folder"),
    (
        "export_missing_dir",
        ["export", "--out", "missing/ds.zip"],
        None,
        r"^speechrec export: error: .*No such file or directory",
    ),
    ("export_onto_folder", ["export", "--out", "adir"], "folder", r"^speechrec export: error: .*adir"),
    (
        "workers_0",
        ["import", "upload", "--workers", "0"],
        "upload",
        r"^speechrec import: error: --workers must be at least 1, got 0$",
    ),
    (
        "workers_negative",
        ["import", "upload", "--workers", "-3"],
        "upload",
        r"^speechrec import: error: --workers must be at least 1, got -3$",
    ),
    (
        "sample_rate",
        ["export", "--out", "ds.zip", "--sample-rate", "100"],
        None,
        r"^speechrec export: error: sample_rate must be between 8000 and 48000 Hz, got 100$",
    ),
    (
        "clip_duration",
        ["export", "--out", "ds.zip", "--clip-duration", "0"],
        None,
        r"^speechrec export: error: clip_duration_s must be between",
    ),
    ("store_is_a_file", ["stats", "--store", "afile"], "file", r"^speechrec stats: error: "),
]


@pytest.mark.parametrize("name, args, setup, message", FAILURES, ids=[failure[0] for failure in FAILURES])
def test_failures_print_one_line(cli, tmp_path, name, args, setup, message):
    if name != "store_is_a_file":
        ClipStore(load_settings(tmp_path / "data", environ={})).close()
    setup_failure(tmp_path, setup)
    before = sorted(path.name for path in tmp_path.iterdir())
    result = cli(*args)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert re.search(message, lines[0]), lines[0]
    # A failed export leaves no zip and no partial file behind.
    after = sorted(path.name for path in tmp_path.iterdir())
    assert not [name for name in after if name not in before and name.endswith((".zip", ".partial"))]


@pytest.mark.parametrize(
    "args, message",
    [
        (["export", "--out", "ds.zip", "--select", "rejected"], r"argument --select: invalid choice: 'rejected'"),
        (["export"], r"the following arguments are required: --out"),
        (["import", "upload", "--workers", "two"], r"argument --workers: invalid int value: 'two'"),
        (["frobnicate"], r"invalid choice: 'frobnicate'"),
        ([], r"the following arguments are required: COMMAND"),
    ],
)
def test_usage_errors_exit_2(cli, args, message):
    result = cli(*args)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("usage: python -m speechrec")
    assert re.search(message, result.stderr.splitlines()[-1])
    assert not (cli.cwd / "ds.zip").exists()


def test_stats_never_imports_streamlit(cli, empty_store):
    result = cli("stats", python_options=("-X", "importtime"))
    assert result.returncode == 0
    assert "speechrec.stats" in result.stderr  # the import log is there
    assert "pandas" in result.stderr
    assert "streamlit" not in result.stderr


def test_output_into_a_closed_pipe_is_not_an_error(cli, empty_store):
    """`python -m speechrec stats | head -1`: the reader stops early; no error line, exit 0."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        result = subprocess.run(
            [sys.executable, "-m", "speechrec", "stats"],
            cwd=cli.cwd,
            env=cli.env,
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
        )
    finally:
        os.close(write_end)
    assert (result.returncode, result.stderr) == (0, "")


# ---- commands never destroy or invent a store ------------------------------------------------------


def file_digests(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` with its bytes (to show a refused command changed nothing)."""
    return {str(path.relative_to(folder)): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


def stored_clip_path(data_dir: Path) -> Path:
    return next((data_dir / "audio" / "clips").rglob("*.flac"))


@pytest.mark.parametrize(
    "target",
    [
        "data/speechrec.sqlite3",
        "data/speechrec.sqlite3-wal",
        "data/organizer-password.txt",
        "data/exports/dataset.zip",
        "data/new.zip",
        "data",
        "./data/../data/audio/x.zip",
        "CLIP",
        "link-to-database",
        "link-to-folder/x.zip",
    ],
)
def test_export_refuses_any_path_inside_the_store(cli, tmp_path, target):
    data = tmp_path / "data"
    add_one_clip(data)
    (data / "organizer-password.txt").write_text("secret\n")
    (tmp_path / "link-to-database").symlink_to(data / "speechrec.sqlite3")
    (tmp_path / "link-to-folder").symlink_to(data)
    if target == "CLIP":
        target = str(stored_clip_path(data).relative_to(tmp_path))
    before = file_digests(data)
    result = cli("export", "--out", target)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert re.fullmatch(r"speechrec export: error: '.*' is inside the store \(.*\); write the export outside it.*\n",
                        result.stderr), result.stderr  # fmt: skip
    assert file_digests(data) == before
    assert_ok(cli("stats"))  # the database is still a database


def test_export_refuses_the_database_of_a_database_url_outside_the_data_folder(cli, tmp_path):
    database = tmp_path / "elsewhere" / "meta.sqlite3"
    cli.env["SPEECHREC_DATABASE_URL"] = f"sqlite:///{database}"
    tum_folder(tmp_path / "upload")
    assert_ok(cli("import", "upload", "--workers", "1"))
    before = database.read_bytes()
    result = cli("export", "--out", str(database))
    assert result.returncode == 1 and "is inside the store (the database" in result.stderr
    assert database.read_bytes() == before


@pytest.mark.parametrize("existing", ["notes.txt", "other.zip", "empty.zip"])
def test_export_refuses_to_overwrite_a_file_that_is_not_an_earlier_export(cli, tmp_path, empty_store, existing):
    path = tmp_path / existing
    if existing == "other.zip":
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("thesis.tex", "months of work")
    elif existing == "empty.zip":
        path.write_bytes(b"")
    else:
        path.write_text("months of work")
    before = path.read_bytes()
    result = cli("export", "--out", existing)
    assert result.returncode == 1
    assert f"'{existing}' exists and is not a dataset zip written by speechrec" in result.stderr
    assert path.read_bytes() == before


def test_export_replaces_an_earlier_export(cli, tmp_path):
    add_one_clip(tmp_path / "data")
    assert_ok(cli("export", "--out", "ds.zip", "--select", "accepted"))
    assert b"nohash" not in zipfile.ZipFile(tmp_path / "ds.zip").read("metadata.csv")  # no accepted clip yet
    assert_ok(cli("export", "--out", "ds.zip", "--select", "all"))
    assert b"_nohash_0.wav" in zipfile.ZipFile(tmp_path / "ds.zip").read("metadata.csv")


@pytest.mark.parametrize(
    "command",
    [["stats"], ["export", "--out", "ds.zip"], ["upgrade"], ["check"]],
    ids=["stats", "export", "upgrade", "check"],
)
@pytest.mark.parametrize("how", ["option", "environment", "empty-folder"])
def test_commands_that_read_refuse_a_folder_without_a_store(cli, tmp_path, command, how):
    add_one_clip(tmp_path / "data")  # the real store, next to the mistyped one
    if how == "option":
        result = cli(*command, "--store", "dta")
    elif how == "environment":
        cli.env["SPEECHREC_DATA"] = str(tmp_path / "dta")
        result = cli(*command)
    else:
        (tmp_path / "dta").mkdir()
        result = cli(*command, "--store", "dta")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith(f"speechrec {command[0]}: error: no speechrec store in {tmp_path / 'dta'}: ")
    assert "python -m speechrec import" in result.stderr
    assert (tmp_path / "dta").exists() == (how == "empty-folder")
    if how == "empty-folder":
        assert list((tmp_path / "dta").iterdir()) == []
    assert not (tmp_path / "ds.zip").exists()


def test_migrate_refuses_a_source_without_a_store(cli, tmp_path):
    result = cli("migrate", "--from-store", "typo", "--to-store", "copy")
    assert result.returncode == 1
    assert result.stderr.startswith(f"speechrec migrate: error: no speechrec store in {tmp_path / 'typo'}: ")
    assert not (tmp_path / "typo").exists()


@pytest.mark.parametrize(
    "args",
    [
        ["stats", "--store", ""],
        ["stats", "--store", "  "],
        ["export", "--out", "ds.zip", "--store", ""],
        ["export", "--out", ""],
        ["import", "upload", "--store", ""],
        ["import", ""],
        ["stats", "--campaign", ""],
        ["migrate", "--from-store", "", "--to-store", "copy"],
    ],
)
def test_empty_paths_are_usage_errors(cli, tmp_path, args):
    add_one_clip(tmp_path / "data")
    before = file_digests(tmp_path / "data")
    result = cli(*args)
    assert result.returncode == 2
    assert re.search(r"argument [-a-z]+: must not be empty", result.stderr.splitlines()[-1]), result.stderr
    assert file_digests(tmp_path / "data") == before
    assert not (tmp_path / "copy").exists()


def test_the_package_refuses_to_export_into_the_store(store, tmp_path):
    from speechrec.export import ExportPathError, export_dataset

    campaign = Campaign(title="t", keywords=("yes",), consent_text="ok")
    database = store.settings.data_dir / "speechrec.sqlite3"
    before = database.read_bytes()
    with pytest.raises(ExportPathError, match="is inside the store"):
        export_dataset(store, campaign, database)
    assert database.read_bytes() == before


def test_a_database_without_speechrecs_tables_is_no_store(remote_settings, monkeypatch, capsys, tmp_path):
    from speechrec.cli import main

    empty = remote_settings()
    monkeypatch.setenv("SPEECHREC_DATABASE_URL", empty.database_url)
    monkeypatch.setenv("SPEECHREC_STORAGE_URL", empty.storage_url)
    assert main(["stats", "--store", str(tmp_path / "x"), "--campaign", str(REPO / "campaign.toml")]) == 1
    error = capsys.readouterr().err
    assert error.startswith("speechrec stats: error: no speechrec store in postgresql")
    engine = sqlalchemy.create_engine(empty.database_url)
    try:
        assert sqlalchemy.inspect(engine).get_table_names() == []  # nothing was created
    finally:
        engine.dispose()


def test_credentials_in_storage_urls_are_never_printed(cli, tmp_path):
    from backends import free_port

    add_one_clip(tmp_path / "data")
    cli.env["SPEECHREC_STORAGE_URL"] = f"https://organizer:hunter22-Secret@127.0.0.1:{free_port()}/audio"
    result = cli("stats")
    assert result.returncode == 1 and "hunter22" not in result.stderr
    assert "https://***@127.0.0.1" in result.stderr
    del cli.env["SPEECHREC_STORAGE_URL"]
    result = cli(
        "migrate", "--from-store", "data", "--to-store", "copy", "--to-storage", "s3://AKIA:hunter22-Secret@b/x"
    )
    assert result.returncode == 1 and "hunter22" not in result.stderr


# ---- a store that cannot be written says so, once, with the real cause -----------------------------


def read_only(*folders: Path) -> None:
    for folder in folders:
        for path in [folder, *folder.rglob("*")]:
            if path.is_dir():
                path.chmod(0o555)


@pytest.mark.parametrize("where", ["parent", "data", "audio", "database"])
def test_a_folder_that_cannot_be_written_is_named_with_the_real_cause(cli, tmp_path, where):
    tum_folder(tmp_path / "upload")
    if where == "parent":
        (tmp_path / "locked").mkdir()
        store = "locked/data"
        read_only(tmp_path / "locked")
    else:
        add_one_clip(tmp_path / "locked" / "data")
        store = "locked/data"
        if where != "database":
            read_only(tmp_path / "locked" / "data" / ("audio" if where == "audio" else ""))
        if where in ("data", "database"):
            (tmp_path / "locked" / "data" / "speechrec.sqlite3").chmod(0o444)
    try:
        result = cli("import", "upload", "--store", store, "--workers", "1", respect_modes=True)
    finally:
        for path in [tmp_path / "locked", *(tmp_path / "locked").rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert "credentials" not in lines[0] and "S3" not in lines[0] and "driver" not in lines[0], lines[0]
    assert "locked" in lines[0] and re.search(r"(permission denied|readonly|read-only)", lines[0], re.I), lines[0]


def test_an_unreadable_sub_folder_is_listed_as_skipped_and_the_rest_imported(cli, tmp_path):
    tum_folder(tmp_path / "upload")
    locked = tmp_path / "upload" / "recordings" / "tree-raw"
    encode_opus(locked / "abcd0009.ogg", *load_word("yes"))
    locked.chmod(0o000)
    try:
        result = cli("import", "upload", "--workers", "1", respect_modes=True)
    finally:
        locked.chmod(0o755)
    assert_ok(result)
    assert result.stdout.startswith("imported 4 clips (1 with a quality flag), 0 already in the store, 1 skipped")
    assert "  skipped recordings/tree-raw/: folder cannot be read (permission denied); nothing in it was imported" in (
        result.stdout
    )


# ---- check: rows without audio, audio without rows ------------------------------------------------------


def damaged_store(data: Path) -> tuple[list[str], Path, Path]:
    """Three clips, the audio of one deleted by hand, an old stray file and a fresh one (a take in flight)."""
    store = ClipStore(load_settings(data, environ={}))
    try:
        samples, rate = load_word("yes")
        speaker = store.create_speaker(consent_version=1).speaker_id
        ids = [
            store.add_clip(samples * gain, rate, assess_take(samples * gain, rate), keyword="yes",
                           speaker_id=speaker, session_id="s", source="webrtc")
            for gain in (1.0, 0.5, 0.25)
        ]  # fmt: skip
        (data / "audio" / store.clip(ids[1]).audio_key).unlink()
    finally:
        store.close()
    stray, fresh = (data / "audio" / "clips" / speaker / f"{name * 32}.flac" for name in ("a", "b"))
    stray.write_bytes(b"fLaC")
    fresh.write_bytes(b"fLaC")
    old = time.time() - 3600
    os.utime(stray, (old, old))
    return ids, stray, fresh


def test_check_lists_rows_without_audio_and_audio_without_rows_and_repairs_after_confirmation(cli, tmp_path):
    ids, stray, fresh = damaged_store(tmp_path / "data")
    result = cli("check")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "checked 3 clip rows and 4 audio files" in result.stdout
    assert f"rows without audio: 1\n  clip {ids[1]}: clips/" in result.stdout
    assert f"audio without a row: 1\n  {stray.relative_to(tmp_path / 'data' / 'audio')}" in result.stdout
    assert "(1 written in the last minutes, maybe a take being stored: left alone)" in result.stdout
    refused = cli("check", "--repair")  # not a terminal and no --yes: nothing is changed
    assert refused.returncode == 1 and "add --yes" in refused.stderr and stray.exists()
    repaired = cli("check", "--repair", "--yes")
    assert_ok(repaired)
    assert "rejected 1 clips (audio missing) and deleted 1 audio files" in repaired.stdout
    assert not stray.exists() and fresh.exists()
    again = cli("check")
    assert_ok(again)
    assert "rows without audio: 0\n  (1 more already rejected as audio missing)" in again.stdout
    store = ClipStore(load_settings(tmp_path / "data", environ={}))
    try:
        assert (store.clip(ids[1]).status, store.clip(ids[1]).reason) == ("rejected", "audio missing")
        assert [store.clip(clip_id).status for clip_id in (ids[0], ids[2])] == ["pending", "pending"]
    finally:
        store.close()


def test_check_asks_before_it_repairs_in_a_terminal(tmp_path, monkeypatch, capsys):
    from speechrec.cli import main

    _, stray, _ = damaged_store(tmp_path / "data")
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True)
    answers = iter(["n", "y"])
    monkeypatch.setattr("builtins.input", lambda question: next(answers))
    store_args = ["--store", str(tmp_path / "data")]
    assert main(["check", "--repair", *store_args]) == 1 and stray.exists()
    assert "nothing changed" in capsys.readouterr().out
    assert main(["check", "--repair", *store_args]) == 0 and not stray.exists()


def test_check_on_postgresql_and_s3(remote_settings):
    remote = remote_settings()
    store = ClipStore(remote)
    try:
        samples, rate = load_word("yes")
        speaker = store.create_speaker(consent_version=1).speaker_id
        kept, lost = (store.add_clip(samples * gain, rate, assess_take(samples * gain, rate), keyword="yes",
                                     speaker_id=speaker, session_id="s", source="webrtc") for gain in (1.0, 0.5))  # fmt: skip
        store.audio.remove(store.clip(lost).audio_key)
        stray = f"clips/{speaker}/{'c' * 32}.flac"
        store.audio.put(stray, b"fLaC")
        check = store.check_audio(min_age_s=-60)
        assert (check.clips, check.audio_files) == (2, 2)
        assert check.rows_without_audio == [(lost, store.clip(lost).audio_key)]
        assert check.audio_without_rows == [stray] and check.recent_without_rows == []
        assert store.repair_audio(check) == (1, 1)
        assert store.check_audio(min_age_s=-60).problems == 0 and store.clip(kept).status == "pending"
    finally:
        store.close()


# ---- a mistyped storage location never becomes a new, empty store -------------------------------------


def several_clips(data: Path, count: int = 4) -> None:
    store = ClipStore(load_settings(data, environ={}))
    try:
        samples, rate = load_word("yes")
        speaker = store.create_speaker(consent_version=1).speaker_id
        for gain in np.linspace(1.0, 0.5, count):
            store.add_clip(samples * gain, rate, assess_take(samples * gain, rate), keyword="yes", speaker_id=speaker,
                           session_id="s", source="webrtc")  # fmt: skip
    finally:
        store.close()


MISTYPED_AUDIO = {
    "path": "{data}/audX",
    "file_url": "file://{data}/audX",
    "file_localhost": "file://localhost{data}/audX",
    "local_url": "local://{data}/audX",
    "file_one_slash": "file:{data}/audX",
}


@pytest.mark.parametrize("form", MISTYPED_AUDIO.values(), ids=MISTYPED_AUDIO.keys())
@pytest.mark.parametrize(
    "command",
    [["stats"], ["export", "--out", "ds.zip"], ["check"], ["check", "--repair", "--yes"], ["import", "upload"]],
    ids=["stats", "export", "check", "repair", "import"],
)
def test_a_storage_url_naming_a_missing_folder_is_refused_and_not_made(cli, tmp_path, form, command):
    data = tmp_path / "data"
    several_clips(data)
    tum_folder(tmp_path / "upload")
    cli.env["SPEECHREC_DATABASE_URL"] = f"sqlite:///{data / 'speechrec.sqlite3'}"
    cli.env["SPEECHREC_STORAGE_URL"] = form.format(data=data.as_posix())
    before = file_digests(data)
    result = cli(*command)
    assert result.returncode == 1, result.stdout
    assert result.stderr.startswith(f"speechrec {command[0]}: error: the audio folder '{data / 'audX'}' does not exist")
    assert "check the storage URL" in result.stderr and "Traceback" not in result.stderr
    assert not (data / "audX").exists() and not (tmp_path / "localhost").exists()
    assert file_digests(data) == before
    assert not (tmp_path / "ds.zip").exists()


@pytest.mark.parametrize("where", ["other_folder", "empty_audio_folder"])
def test_repair_refuses_when_most_rows_have_no_audio(cli, tmp_path, where):
    """A storage URL naming an existing folder that is not the store's (or audio not yet restored)
    must not reject every clip."""
    data = tmp_path / "data"
    several_clips(data)
    if where == "other_folder":
        (tmp_path / "elsewhere").mkdir()
        cli.env["SPEECHREC_DATABASE_URL"] = f"sqlite:///{data / 'speechrec.sqlite3'}"
        cli.env["SPEECHREC_STORAGE_URL"] = str(tmp_path / "elsewhere")
    else:
        shutil.rmtree(data / "audio" / "clips")
    listed = cli("check")
    assert listed.returncode == 1
    assert "rows without audio: 4" in listed.stdout
    assert "most clip rows have no audio in" in listed.stdout and "is that the right storage location?" in listed.stdout
    refused = cli("check", "--repair", "--yes")
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert re.fullmatch(r"speechrec check: error: 4 of 4 clip rows have no audio in '.*': that looks like a wrong "
                        r"storage location, not lost files; check the storage URL .* nothing was changed\n",
                        refused.stderr), refused.stderr  # fmt: skip
    store = ClipStore(load_settings(data, environ={}), create=False)
    try:
        assert set(store.clips()["status"]) == {"pending"}
    finally:
        store.close()
    forced = cli("check", "--repair", "--yes", "--force")  # the audio is really lost: the organizer says so
    assert_ok(forced)
    assert "rejected 4 clips (audio missing)" in forced.stdout


def test_the_package_refuses_to_repair_a_store_whose_audio_is_mostly_missing(store):
    from speechrec.errors import StoreError

    samples, rate = load_word("yes")
    speaker = store.create_speaker(consent_version=1).speaker_id
    ids = [store.add_clip(samples * gain, rate, assess_take(samples * gain, rate), keyword="yes", speaker_id=speaker,
                          session_id="s", source="webrtc") for gain in (1.0, 0.8, 0.6)]  # fmt: skip
    for clip_id in ids[:2]:
        store.audio.remove(store.clip(clip_id).audio_key)
    check = store.check_audio()
    assert check.most_audio_missing  # 2 of 3
    with pytest.raises(StoreError, match="2 of 3 clip rows have no audio"):
        store.repair_audio(check)
    assert {store.clip(clip_id).status for clip_id in ids} == {"pending"}
    store.audio.put(store.clip(ids[0]).audio_key, store.read_flac(store.clip(ids[2]).audio_key))
    check = store.check_audio()
    assert not check.most_audio_missing  # 1 of 3: a lost file
    assert store.repair_audio(check) == (1, 0)


def test_opening_a_store_that_holds_clips_never_makes_a_missing_audio_folder(tmp_path):
    """What the app and ``import`` do (they may make a new store): a database with clips and no
    audio folder is a mistyped URL or a partial restore, not a new store."""
    from speechrec.errors import StoreError

    data = tmp_path / "data"
    several_clips(data, count=1)
    mistyped = load_settings(data, storage_url=f"file://localhost{data.as_posix()}/audX", environ={})
    with pytest.raises(StoreError, match=r"the audio folder '.*audX' does not exist"):
        ClipStore(mistyped)
    assert not (data / "audX").exists()
    fresh = load_settings(tmp_path / "fresh", storage_url=str(tmp_path / "fresh-audio"), environ={})
    ClipStore(fresh).close()  # a new store makes its folder
    assert (tmp_path / "fresh-audio").is_dir()


# ---- export --out and migrate --to-store stay outside the store, however its audio URL is spelled --------


@pytest.mark.parametrize(
    "spelling", ["local://{audio}", "file:{audio}", "file://localhost{audio}", "file://{audio}/", "{audio}/../aud"]
)
def test_export_refuses_the_audio_folder_in_any_spelling_of_its_url(cli, tmp_path, spelling):
    data, audio = tmp_path / "data", tmp_path / "aud"
    store = ClipStore(load_settings(data, storage_url=str(audio), environ={}))
    try:
        samples, rate = load_word("yes")
        speaker = store.create_speaker(consent_version=1).speaker_id
        store.add_clip(samples, rate, assess_take(samples, rate), keyword="yes", speaker_id=speaker,
                       session_id="s", source="webrtc")  # fmt: skip
    finally:
        store.close()
    cli.env["SPEECHREC_DATABASE_URL"] = f"sqlite:///{data / 'speechrec.sqlite3'}"
    cli.env["SPEECHREC_STORAGE_URL"] = spelling.format(audio=audio.as_posix())
    before = file_digests(audio)
    result = cli("export", "--out", str(audio / "ds.zip"))
    assert result.returncode == 1
    assert "is inside the store (the audio folder" in result.stderr, result.stderr
    assert file_digests(audio) == before


@pytest.mark.parametrize(
    "source, target",
    [("ri", "ri/audio"), ("ri", "ri/sub"), ("ri", "ri/audio/clips"), ("ri/sub", "ri"), ("ri", "ri/./sub/..")],
)
def test_migrate_refuses_a_target_inside_the_source_or_around_it(cli, tmp_path, source, target):
    several_clips(tmp_path / source, count=1)
    before = file_digests(tmp_path / "ri")
    result = cli("migrate", "--from-store", source, "--to-store", target)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert re.search(r"(lie inside one another; migrate into a folder outside the source store|share a database)",
                     result.stderr), result.stderr  # fmt: skip
    assert file_digests(tmp_path / "ri") == before


def test_migrate_into_a_sibling_folder_is_fine(cli, tmp_path):
    several_clips(tmp_path / "ri", count=1)
    assert_ok(cli("migrate", "--from-store", "ri", "--to-store", "ri-copy"))


# ---- empty variables, empty database files ------------------------------------------------------------


@pytest.mark.parametrize("name", ["SPEECHREC_DATA", "SPEECHREC_DATABASE_URL", "SPEECHREC_STORAGE_URL"])
@pytest.mark.parametrize("command", [["stats"], ["import", "upload"]], ids=["stats", "import"])
def test_an_empty_variable_is_an_error_not_the_default_folder(cli, tmp_path, name, command):
    tum_folder(tmp_path / "upload")
    cli.env[name] = ""
    result = cli(*command)
    assert result.returncode == 1
    assert result.stderr == f"speechrec {command[0]}: error: {name} is set but empty; " + result.stderr.split("; ", 1)[1]
    assert "unset it for the default" in result.stderr
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize("command", [["stats"], ["check"], ["upgrade"], ["export", "--out", "ds.zip"]])
@pytest.mark.parametrize("content", ["empty", "another_programs"])
def test_a_read_command_never_writes_to_a_database_file_without_a_store(cli, tmp_path, command, content):
    (tmp_path / "D").mkdir()
    database = tmp_path / "D" / "speechrec.sqlite3"
    database.touch()
    if content == "another_programs":
        connection = sqlite3.connect(database)
        connection.execute("CREATE TABLE notes (text)")
        connection.commit()
        connection.close()
    content = database.read_bytes()
    result = cli(*command, "--store", "D")
    assert result.returncode == 1
    assert result.stderr.startswith(f"speechrec {command[0]}: error: no speechrec store in {tmp_path / 'D'}")
    assert database.read_bytes() == content
    assert sorted(path.name for path in (tmp_path / "D").iterdir()) == ["speechrec.sqlite3"]


# ---- what the command line prints: no library tracebacks, no terminal control characters -------------

NOISY_BACKEND = """
import logging, sys
import fsspec
from fsspec.implementations.memory import MemoryFileSystem


class Noisy(MemoryFileSystem):
    protocol = "noisy"

    def ls(self, path, detail=True, **kwargs):  # as gcsfs and aiohttp do on each failed retry
        try:
            raise ConnectionError("Cannot connect to host storage.example.org:443")
        except ConnectionError:
            logging.getLogger("gcsfs").warning("Could not determine bucket type for noisy://AKIA:hunter22@b")
            logging.getLogger("gcsfs").exception("_request out of retries on exception")
            raise


fsspec.register_implementation("noisy", Noisy)
from speechrec.cli import main

sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.parametrize("verbose", [False, True])
def test_library_tracebacks_stay_out_of_the_error_path(cli, tmp_path, verbose):
    (tmp_path / "noisy.py").write_text(NOISY_BACKEND)
    cli.env["SPEECHREC_STORAGE_URL"] = "noisy://AKIA:hunter22@bucket/audio"
    tum_folder(tmp_path / "upload")
    result = subprocess.run(
        [sys.executable, "noisy.py", *(["--verbose"] if verbose else []), "import", "upload"],
        cwd=tmp_path, env=cli.env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 1
    last = result.stderr.splitlines()[-1]
    assert last == "speechrec import: error: audio storage 'noisy://***@bucket/audio': Cannot connect to host storage.example.org:443"
    assert "hunter22" not in result.stderr
    if verbose:  # for a bug report: the library's lines, tracebacks included
        assert "Traceback" in result.stderr and "WARNING gcsfs: Could not determine bucket type" in result.stderr
    else:
        assert result.stderr.count("\n") == 1, result.stderr


CONTROL_NAMES = ["\x1b[2Jcleared", "over\rwritten", "bell\x07", "back\x08space", "bidi\u202eevil"]


def test_file_names_with_control_characters_are_printed_escaped(cli, tmp_path):
    upload = tmp_path / "upload" / "recordings" / "yes-raw"
    upload.mkdir(parents=True)
    for name in CONTROL_NAMES:
        (upload / f"{name}.ogg").write_bytes(b"not audio at all")
    (tmp_path / "upload" / "recordings" / "yes-raw" / "abcd0001.ogg").write_bytes(
        encode_opus(tmp_path / "good.ogg", *load_word("yes")).read_bytes()
    )
    result = cli("import", "upload", "--workers", "1")
    assert_ok(result)
    for name in CONTROL_NAMES:
        escaped = name.encode("unicode_escape").decode()
        assert f"skipped recordings/yes-raw/{escaped}.ogg: " in result.stdout, result.stdout
    assert not [char for char in result.stdout if not (char.isprintable() or char == "\n")]


def test_escape_controls_keeps_line_breaks_and_printable_text():
    from speechrec.cli import escape_controls

    assert escape_controls("a\nb ü 語 \x1b[0m\r\t\u200b") == "a\nb ü 語 \\x1b[0m\\r\\t\\u200b"

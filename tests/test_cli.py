"""``python -m speechrec`` as a real subprocess: import -> stats -> export, help, and clean failures."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
import unicodedata
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from signals import QUIRKS_DIR, encode_with_pyav, load_word, make_take

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

    def __call__(self, *args: str, python_options: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, *python_options, "-m", "speechrec", *args],
            cwd=self.cwd,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )


@pytest.fixture
def cli(tmp_path) -> Cli:
    shutil.copy(REPO / "campaign.toml", tmp_path / "campaign.toml")
    return Cli(tmp_path)


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


def test_export_of_an_empty_store(cli, tmp_path):
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


def test_stats_never_imports_streamlit(cli):
    result = cli("stats", python_options=("-X", "importtime"))
    assert result.returncode == 0
    assert "speechrec.stats" in result.stderr  # the import log is there
    assert "pandas" in result.stderr
    assert "streamlit" not in result.stderr


def test_output_into_a_closed_pipe_is_not_an_error(cli):
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

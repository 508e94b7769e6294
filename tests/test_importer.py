"""import_folder on folders built here: the old web apps' layouts and Speech Commands folders,
files encoded with PyAV (Ogg/Opus, WebM/Opus, WAV, FLAC, MP3), bad files, duplicates, workers."""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import re
import shutil
import struct
import unicodedata
import uuid
from pathlib import Path

import av
import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from signals import QUIRKS_DIR, encode_with_pyav, load_word, make_take, steady_noise, wav_with_header_rate

from speechrec.campaign import NOISE_KEYWORD, Campaign, Variation, load_campaign
from speechrec.config import load_settings
from speechrec.decode import decode_audio
from speechrec.errors import SpeechrecError
from speechrec.importer import PARALLEL_MIN_FILES, import_folder
from speechrec.quality import QualityReport, assess_take
from speechrec.store import ClipStore

CAMPAIGN = Campaign(
    title="import test",
    keywords=("yes", "no", "up", "down", "tum"),
    filler_words=("bed",),
    consent_text="You agree to the import test.",
)
SPEAKER_ID = re.compile(r"^[0-9a-f]{8}$")
# (container format, codec, codec sample rate, file extension)
OPUS = ("ogg", "libopus", 48000, ".ogg")
FORMATS = [
    OPUS,
    ("webm", "libopus", 48000, ".webm"),
    ("wav", "pcm_s16le", 16000, ".wav"),
    ("flac", "flac", 16000, ".flac"),
    ("mp3", "libmp3lame", 44100, ".mp3"),
]
QUALITY_COLUMNS = list(QualityReport.__dataclass_fields__)  # the report's columns in a clip row


def encode(path: Path, samples: np.ndarray, sample_rate: int, kind: tuple = OPUS) -> Path:
    """Write mono float32 ``samples`` to ``path`` in one of the formats above (PyAV converts them)."""
    container_format, codec, codec_rate, _ = kind
    return encode_with_pyav(path, samples, sample_rate, container_format, codec, codec_rate)


def word_file(path: Path, word: str = "yes", kind: tuple = OPUS, seed: int | None = None) -> Path:
    """A spoken word as an audio file; with ``seed`` a take with seeded room noise (different bytes)."""
    if seed is None:
        samples, rate = load_word(word)
    else:
        samples, rate = make_take(sample_rate=16000, duration_s=1.0, offset_s=0.3, word=word, seed=seed), 16000
    return encode(path, samples, rate, kind)


def import_(store: ClipStore, folder: Path, **kw):
    return import_folder(store, folder, CAMPAIGN, workers=kw.pop("workers", 1), **kw)


def rows_by_path(store: ClipStore) -> dict[str, dict]:
    return {row["source_path"]: row for row in store.clips().to_dict(orient="records")}


# ---- layouts ---------------------------------------------------------------------------------------------


def test_tum_layout(store, tmp_path):
    folder = tmp_path / "upload"
    word_file(folder / "recordings" / "yes-raw" / "abcd0001.ogg", "yes")
    word_file(folder / "recordings" / "no-raw" / "abcd9f3e.ogg", "no")
    word_file(folder / "recordings" / "yes-raw" / "ef010001.ogg", "yes", seed=1)
    word_file(folder / "recordings" / "up-raw" / "abce0001.ogg", "up")
    summary = import_(store, folder)
    assert (summary.imported, summary.duplicates, summary.skipped, summary.flagged) == (4, 0, [], 0)
    assert summary.words == {"yes": 2, "no": 1, "up": 1}
    rows = rows_by_path(store)
    assert set(rows) == {
        "recordings/yes-raw/abcd0001.ogg",
        "recordings/no-raw/abcd9f3e.ogg",
        "recordings/yes-raw/ef010001.ogg",
        "recordings/up-raw/abce0001.ogg",
    }
    speaker = {path.rsplit("/", 1)[1][:8]: row["speaker_id"] for path, row in rows.items()}
    assert all(SPEAKER_ID.match(value) for value in speaker.values())
    assert speaker["abcd0001"] == speaker["abcd9f3e"]  # same first 4 hex digits: same session
    assert len({speaker["abcd0001"], speaker["ef010001"], speaker["abce0001"]}) == 3
    for path, row in rows.items():
        assert row["keyword"] == path.split("/")[1].removesuffix("-raw")
        assert (row["source"], row["status"], row["flags"], row["sample_rate"]) == ("import", "pending", "", 48000)
    durations = {
        name: len(load_word(word)[0]) / 16000
        for name, word in (("abcd0001", "yes"), ("abcd9f3e", "no"), ("abce0001", "up"))
    }
    durations["ef010001"] = 1.0
    for path, row in rows.items():
        assert row["duration_s"] == pytest.approx(durations[path.rsplit("/", 1)[1][:8]], abs=0.03), path
    assert rows["recordings/yes-raw/abcd0001.ogg"]["session_id"] == rows["recordings/no-raw/abcd9f3e.ogg"]["session_id"]
    assert rows["recordings/yes-raw/abcd0001.ogg"]["session_id"] != rows["recordings/up-raw/abce0001.ogg"]["session_id"]
    speakers = store.speakers().set_index("speaker_id")
    assert set(speakers.index) == set(speaker.values())
    assert set(speakers["origin"]) == {"import"}


def test_derived_speaker_ids_are_the_same_in_every_store(store, tmp_path):
    folder = tmp_path / "upload"
    word_file(folder / "yes-raw" / "1234abcd.ogg", "yes")
    word_file(folder / f"no_{'ab' * 16}_{uuid.uuid4().hex}.ogg", "no")
    import_(store, folder)
    other = ClipStore(load_settings(tmp_path / "other", environ={}))
    try:
        import_(other, folder)
        first = {path: row["speaker_id"] for path, row in rows_by_path(store).items()}
        second = {path: row["speaker_id"] for path, row in rows_by_path(other).items()}
    finally:
        other.close()
    assert first == second
    assert len(first) == 2


def test_original_open_speech_recording_layout(store, tmp_path):
    folder = tmp_path / "uploads"
    session_a, session_b = uuid.uuid4().hex, uuid.uuid4().hex
    names = {
        f"yes_{session_a}_{uuid.uuid4().hex}.ogg": ("yes", "yes", None),
        f"no_{session_a}_{uuid.uuid4().hex}.ogg": ("no", "no", None),
        f"yes_{session_b}_{uuid.uuid4().hex}.ogg": ("yes", "yes", 2),
        f"hey_robot_{session_b}_{uuid.uuid4().hex}.ogg": ("hey_robot", "down", None),
    }
    for name, (_, spoken, seed) in names.items():
        word_file(folder / name, spoken, seed=seed)
    summary = import_(store, folder)
    assert (summary.imported, summary.skipped) == (4, [])
    rows = rows_by_path(store)
    assert set(rows) == set(names)
    for name, (keyword, _, _) in names.items():
        assert rows[name]["keyword"] == keyword
        assert SPEAKER_ID.match(rows[name]["speaker_id"])
    speaker_of = {name: rows[name]["speaker_id"] for name in names}
    a_names = [name for name in names if session_a in name]
    b_names = [name for name in names if session_b in name]
    assert len({speaker_of[name] for name in a_names}) == 1
    assert len({speaker_of[name] for name in b_names}) == 1
    assert speaker_of[a_names[0]] != speaker_of[b_names[0]]


@pytest.mark.parametrize("kind", FORMATS, ids=[kind[0] for kind in FORMATS])
def test_formats(store, tmp_path, kind):
    samples, rate = load_word("yes")
    encode(tmp_path / "upload" / "yes-raw" / f"abcd0001{kind[3]}", samples, rate, kind)
    summary = import_(store, tmp_path / "upload")
    assert (summary.imported, summary.skipped) == (1, [])
    row = store.clips().iloc[0]
    assert row["keyword"] == "yes"
    assert row["sample_rate"] == kind[2]
    assert row["flags"] == ""
    # Lossy codecs add a little padding; the word itself stays where it was.
    assert row["duration_s"] == pytest.approx(len(samples) / rate, abs=0.06)
    assert row["speech_start_s"] == pytest.approx(0.3, abs=0.05)
    stored, stored_rate = store.read_audio(row["clip_id"])
    assert stored_rate == kind[2]
    level = 10 * np.log10(np.mean(stored.astype(np.float64) ** 2))
    original = 10 * np.log10(np.mean(samples.astype(np.float64) ** 2))
    assert level == pytest.approx(original, abs=1.0)


def test_speech_commands_folder(store, tmp_path):
    folder = tmp_path / "speech_commands_v0.02"
    kind = ("wav", "pcm_s16le", 16000, ".wav")
    word_file(folder / "yes" / "0a1b2c3d_nohash_0.wav", "yes", kind)
    word_file(folder / "yes" / "0a1b2c3d_nohash_1.wav", "yes", kind, seed=3)
    word_file(folder / "no" / "0a1b2c3d_nohash_0.wav", "no", kind)
    word_file(folder / "up" / "fedcba98_nohash_0.wav", "up", kind)
    encode(folder / "_background_noise_" / "white_noise.wav", steady_noise(2.0, 16000, -30.0), 16000, kind)
    encode(folder / "_background_noise_" / "silence.wav", np.zeros(16000, np.float32), 16000, kind)
    (folder / "validation_list.txt").write_text("yes/0a1b2c3d_nohash_0.wav\n")
    (folder / "testing_list.txt").write_text("")
    (folder / "README.md").write_text("# Speech Commands\n")
    (folder / "LICENSE").write_text("CC-BY-4.0\n")
    (folder / "_background_noise_" / "README.md").write_text("noise files\n")
    summary = import_(store, folder)
    assert (summary.imported, summary.skipped, summary.ignored, summary.flagged) == (6, [], 5, 0)
    rows = rows_by_path(store)
    assert {path: row["keyword"] for path, row in rows.items()} == {
        "yes/0a1b2c3d_nohash_0.wav": "yes",
        "yes/0a1b2c3d_nohash_1.wav": "yes",
        "no/0a1b2c3d_nohash_0.wav": "no",
        "up/fedcba98_nohash_0.wav": "up",
        "_background_noise_/white_noise.wav": NOISE_KEYWORD,
        "_background_noise_/silence.wav": NOISE_KEYWORD,
    }
    # Speech Commands speaker ids are kept as they are.
    assert {row["speaker_id"] for path, row in rows.items() if path.startswith("yes/")} == {"0a1b2c3d"}
    assert rows["no/0a1b2c3d_nohash_0.wav"]["speaker_id"] == "0a1b2c3d"
    assert rows["up/fedcba98_nohash_0.wav"]["speaker_id"] == "fedcba98"
    for path in ("_background_noise_/white_noise.wav", "_background_noise_/silence.wav"):
        # Background noise has no word in it, and that is not a flaw.
        assert rows[path]["flags"] == ""
        assert SPEAKER_ID.match(rows[path]["speaker_id"])
    assert rows["_background_noise_/white_noise.wav"]["duration_s"] == pytest.approx(2.0)


def test_a_near_miss_folder_is_imported_as_a_near_miss_of_its_keywords_in_no_variation(store, tmp_path):
    campaign = Campaign(
        title="near misses",
        keywords=("hey jarvis", "hey robot"),
        consent_text="You agree.",
        variations=(Variation("soft", "Say it softly."),),
        near_misses={"hey jarvis": ("hey", "jarvis"), "hey robot": ("hey",)},
    )
    folder = tmp_path / "earlier_export"
    for index, word in enumerate(["hey jarvis", "hey", "jarvis", "dog"]):
        word_file(folder / word / f"0a1b2c3d_nohash_{index}.ogg", "up", seed=index)
    assert import_folder(store, folder, campaign, workers=1).imported == 4
    rows = store.clips().set_index("keyword")
    assert rows["near_miss_of"].fillna("").to_dict() == {  # what a recorded take of each word stores (keep_take)
        "hey jarvis": "",
        "hey": "hey jarvis|hey robot",
        "jarvis": "hey jarvis",
        "dog": "",
    }
    assert rows["variation"].isna().all()


NAMES_CAMPAIGN = Campaign(
    title="names", keywords=("über", "yes", "Hey Robot"), filler_words=("dog",), consent_text="You agree."
)
NFD = lambda word: unicodedata.normalize("NFD", word)  # noqa: E731  (how macOS writes file names)
SESSION = "0123456789abcdef0123456789abcdef"


@pytest.mark.parametrize(
    ("relative", "keyword"),
    [
        ("YES-raw/abcd0001.ogg", "yes"),
        ("yEs-raw/abcd0001.ogg", "yes"),
        (NFD("über") + "-raw/abcd0001.ogg", "über"),
        (NFD("ÜBER") + "-raw/abcd0001.ogg", "über"),
        ("Über-raw/abcd0001.ogg", "über"),
        ("hey robot-raw/abcd0001.ogg", "Hey Robot"),
        ("DOG-raw/abcd0001.ogg", "dog"),
        (f"Yes_{SESSION}_{SESSION}.ogg", "yes"),
        (NFD("Über") + f"_{SESSION}_{SESSION}.ogg", "über"),
        ("YES/0a0b0c0d_nohash_0.ogg", "yes"),
        (NFD("über") + "/0a0b0c0d_nohash_0.ogg", "über"),
        (NFD("Käse") + "-raw/abcd0001.ogg", "Käse"),  # not a campaign word: still NFC
    ],
)
def test_a_folder_name_is_matched_to_the_campaign_ignoring_case_and_unicode_form(store, tmp_path, relative, keyword):
    folder = tmp_path / "upload"
    word_file(folder / "yes-raw" / "abcd0002.ogg", "yes", seed=1)
    word_file(folder / relative, "up", seed=2)
    summary = import_folder(store, folder, NAMES_CAMPAIGN, workers=1)
    assert summary.imported == 2 and summary.skipped == []
    stored = rows_by_path(store)[relative]["keyword"]
    assert stored == keyword and unicodedata.is_normalized("NFC", stored)
    assert set(summary.words) <= {keyword, "yes"}


def test_words_outside_the_campaign_in_several_spellings_are_one_word(store, tmp_path):
    first = tmp_path / "first"
    word_file(first / "Robot-raw" / "abcd0001.ogg", "up", seed=1)
    import_folder(store, first, NAMES_CAMPAIGN, workers=1)  # an earlier import stored "Robot"
    second = tmp_path / "second"
    for index, name in enumerate(["ROBOT", "robot", NFD("Gäste"), "GÄSTE", "gäste"]):
        word_file(second / f"{name}-raw" / f"abcd000{index + 2}.ogg", "up", seed=index + 2)
    summary = import_folder(store, second, NAMES_CAMPAIGN, workers=1)
    assert summary.imported == 5
    keywords = sorted(store.clips()["keyword"])
    assert keywords == ["Gäste", "Gäste", "Gäste", "Robot", "Robot", "Robot"]  # one spelling per word, NFC


# ---- bad files -------------------------------------------------------------------------------------------

GOOD = "no-raw/0f0f0001.ogg"


def bad_content(kind: str, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "random":
        path.write_bytes(np.random.default_rng(7).bytes(4000))
    elif kind == "garbled_ogg":
        path.write_bytes(b"OggS" + np.random.default_rng(8).bytes(3000))
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "text":
        path.write_text("This is a text file, not a recording.\n" * 30)
    elif kind.startswith("rate-"):  # a header that claims an impossible sample rate
        path.write_bytes(wav_with_header_rate(load_word("yes")[0], int(kind.removeprefix("rate-"))))
    elif kind == "cut_short":
        word_file(path, "up", seed=6)
        path.write_bytes(path.read_bytes()[:300])
    else:
        word_file(path, "up", seed=5)


BAD_FILES = [
    ("yes-raw/abcd0001.ogg", "random", r"cannot be decoded"),
    ("yes-raw/abcd0002.ogg", "garbled_ogg", r"cannot be decoded"),
    ("yes-raw/abcd0003.ogg", "empty", r"^empty file$"),
    ("yes-raw/abcd0004.wav", "text", r"cannot be decoded"),
    ("yes-raw/abcd000c.wav", "rate-1", r"^its header gives a sample rate of 1 Hz, which no recording has"),
    ("yes-raw/abcd000d.wav", "rate-500000", r"^its header gives a sample rate of 500000 Hz"),
    ("yes-raw/abcd000e.ogg", "cut_short", r"^cannot be decoded: the file ends too early"),
    ("yes-raw/hello.ogg", "speech", r"^unknown layout"),
    ("hello.ogg", "speech", r"^unknown layout"),
    ("yes/c0ffee_nohash_0.wav", "speech", r"^unknown layout"),
    ("recordings/.hidden-raw/abcd0005.ogg", "speech", r"'\.hidden' starts with a dot"),
    ("_private-raw/abcd0006.ogg", "speech", r"'_private' starts with '_'"),
    ("ye\x07s-raw/abcd0007.ogg", "speech", r"contains a control character"),
    ("a:b-raw/abcd0008.ogg", "speech", r"contains ':'"),
    ("-raw/abcd0009.ogg", "speech", r"is empty"),
    (" yes-raw/abcd000a.ogg", "speech", r"white space"),
    ("..-raw/abcd000b.ogg", "speech", r"'\.\.'"),
    ("+1/0123abcd_nohash_0.wav", "speech", r"^word '\+1' starts with '\+', which a spreadsheet runs as a formula"),
    ("=cmd-raw/abcd0010.ogg", "speech", r"starts with '=', which a spreadsheet runs as a formula"),
    ("-x-raw/abcd0011.ogg", "speech", r"starts with '-', which a spreadsheet"),
    ("@x-raw/abcd0012.ogg", "speech", r"starts with '@', which a spreadsheet"),
    ("\ufe66x-raw/abcd0013.ogg", "speech", r"starts with '\ufe66', which a spreadsheet"),
    ("\uff0b1-raw/abcd0014.ogg", "speech", r"starts with '\uff0b', which a spreadsheet"),
]


@pytest.mark.parametrize("relative, content, reason", BAD_FILES, ids=[bad[0] for bad in BAD_FILES])
def test_a_bad_file_is_skipped_with_its_reason(store, tmp_path, relative, content, reason):
    folder = tmp_path / "upload"
    word_file(folder / GOOD, "no")
    bad_content(content, folder / relative)
    summary = import_(store, folder)
    assert summary.imported == 1
    assert [path for path, _ in summary.skipped] == [relative]
    assert re.search(reason, summary.skipped[0][1]), summary.skipped[0][1]
    assert not re.search(r"Errno|<none>|\[", summary.skipped[0][1])  # plain words, not FFmpeg's
    assert list(store.clips()["source_path"]) == [GOOD]


def test_many_bad_files_never_stop_the_import(store, tmp_path):
    folder = tmp_path / "upload"
    word_file(folder / GOOD, "no")
    word_file(folder / "zz-raw" / "ffff0001.ogg", "yes")  # sorts after every bad file
    for relative, content, _ in BAD_FILES:
        bad_content(content, folder / relative)
    (folder / "notes.txt").write_text("notes")
    calls = []
    summary = import_(store, folder, progress=lambda done, total: calls.append((done, total)))
    assert summary.imported == 2
    assert summary.ignored == 1
    assert summary.skipped == sorted(summary.skipped)
    reasons = dict(summary.skipped)
    assert set(reasons) == {relative for relative, _, _ in BAD_FILES}
    for relative, _, reason in BAD_FILES:
        assert re.search(reason, reasons[relative]), (relative, reasons[relative])
    total = len(BAD_FILES) + 2
    assert calls[-1] == (total, total)
    assert [done for done, _ in calls] == sorted(done for done, _ in calls)


def test_non_audio_files_are_only_counted_as_ignored(store, tmp_path):
    folder = tmp_path / "upload"
    word_file(folder / "yes-raw" / "abcd0001.ogg")
    (folder / "README.md").write_text("# uploads\n")
    (folder / "yes-raw" / "notes.txt").write_text("take 1 was noisy\n")
    (folder / "index.csv").write_text("file,word\n")
    (folder / "yes-raw" / "abcd0002.ogg.bak").write_bytes(b"backup")
    summary = import_(store, folder)
    assert (summary.imported, summary.ignored, summary.skipped, summary.duplicates) == (1, 4, [], 0)


# ---- duplicates ------------------------------------------------------------------------------------------


def test_reimport_adds_nothing(store, tmp_path):
    folder = tmp_path / "upload"
    word_file(folder / "yes-raw" / "abcd0001.ogg", "yes")
    word_file(folder / "no-raw" / "abcd0002.ogg", "no")
    word_file(folder / f"up_{uuid.uuid4().hex}_{uuid.uuid4().hex}.ogg", "up")
    first = import_(store, folder)
    assert first.imported == 3
    rows = store.clips()
    again = import_(store, folder)
    assert (again.imported, again.duplicates, again.skipped) == (0, 3, [])
    assert len(store.clips()) == len(rows) == 3
    assert len(store.speakers()) == len(store.clips()["speaker_id"].unique())


def test_same_bytes_under_another_name_is_a_duplicate(store, tmp_path):
    folder = tmp_path / "upload"
    word_file(folder / "yes-raw" / "abcd0001.ogg", "yes")
    import_(store, folder)
    later = tmp_path / "later"
    (later / "no-raw").mkdir(parents=True)
    shutil.copy(folder / "yes-raw" / "abcd0001.ogg", later / "no-raw" / "ffff0001.ogg")
    summary = import_(store, later)
    assert (summary.imported, summary.duplicates) == (0, 1)
    assert list(store.clips()["source_path"]) == ["yes-raw/abcd0001.ogg"]


def test_copies_within_one_import_are_stored_once(store, tmp_path):
    folder = tmp_path / "upload"
    word_file(folder / "yes-raw" / "abcd0001.ogg", "yes")
    (folder / "yes-raw-copy" / "yes-raw").mkdir(parents=True)
    shutil.copy(folder / "yes-raw" / "abcd0001.ogg", folder / "yes-raw-copy" / "yes-raw" / "abcd0001.ogg")
    summary = import_(store, folder)
    assert (summary.imported, summary.duplicates) == (1, 1)
    assert len(store.clips()) == 1


# ---- quality ---------------------------------------------------------------------------------------------


def test_quality_flags_of_imported_takes(store, tmp_path):
    folder = tmp_path / "upload"
    word_file(folder / "yes-raw" / "abcd0001.ogg", "yes")
    encode(folder / "yes-raw" / "abcd0002.ogg", np.zeros(16000, np.float32), 16000)
    summary = import_(store, folder)
    assert (summary.imported, summary.flagged) == (2, 1)
    rows = rows_by_path(store)
    assert "no_speech" in rows["yes-raw/abcd0002.ogg"]["flags"].split(",")
    assert rows["yes-raw/abcd0001.ogg"]["flags"] == ""
    assert rows["yes-raw/abcd0001.ogg"]["speech_level_dbfs"] > -30.0


# ---- workers ---------------------------------------------------------------------------------------------


def stored_peak_dbfs(store: ClipStore, clip_id: str) -> float:
    samples, _ = store.read_audio(clip_id)
    return float(20 * np.log10(np.max(np.abs(samples))))


def test_case_10_a_voice_in_one_channel_is_judged_like_its_mono_copy(store, tmp_path):
    shutil.copytree(QUIRKS_DIR / "10-stereo-left-only", tmp_path / "recordings")
    summary = import_folder(store, tmp_path / "recordings", load_campaign(QUIRKS_DIR / "campaign.toml"), workers=1)
    assert (summary.imported, summary.flagged) == (2, 0)
    rows = rows_by_path(store)
    mono, stereo = rows["yes-raw/e0e00001.wav"], rows["yes-raw/e0e00002.wav"]
    assert mono["speech_level_dbfs"] == pytest.approx(-40.6, abs=1.0)
    assert mono["noise_floor_dbfs"] == pytest.approx(-65.3, abs=1.0)
    assert mono["snr_db"] == pytest.approx(24.7, abs=1.0)
    assert (mono["speech_start_s"], mono["speech_end_s"]) == (pytest.approx(0.40, abs=0.04), pytest.approx(0.82, abs=0.04))
    assert stored_peak_dbfs(store, mono["clip_id"]) == pytest.approx(-24.0, abs=0.1)
    assert stereo["flags"] == ""
    assert stereo["speech_level_dbfs"] == pytest.approx(-40.6, abs=1.0)
    assert stereo["snr_db"] == pytest.approx(mono["snr_db"], abs=1.0)
    assert stored_peak_dbfs(store, stereo["clip_id"]) == pytest.approx(-24.0, abs=1.0)


MULTICHANNEL = {
    "right only": lambda voice, hiss: [hiss, voice],
    "left only, right dead": lambda voice, hiss: [voice, np.zeros_like(voice)],
    "right in opposite phase": lambda voice, hiss: [voice, -voice],
    "voice on the 2nd of 4 inputs": lambda voice, hiss: [hiss, voice, hiss * 3, np.zeros_like(voice)],
    "copied to both": lambda voice, hiss: [voice, voice],
}


@pytest.mark.parametrize("layout", MULTICHANNEL)
@pytest.mark.parametrize(("word", "level_dbfs", "extension"), [("no", -38.0, ".wav"), ("up", -28.0, ".flac")])
def test_multichannel_takes_are_judged_like_their_mono_copy(store, tmp_path, layout, word, level_dbfs, extension):
    voice = make_take(sample_rate=48000, word=word, level_dbfs=level_dbfs, noise_dbfs=-62.0, seed=4)
    hiss = steady_noise(len(voice) / 48000, 48000, -95.0, seed=5)[: len(voice)]
    folder = tmp_path / "upload"
    (folder / f"{word}-raw").mkdir(parents=True)
    sf.write(folder / f"{word}-raw" / f"abcd0001{extension}", voice, 48000, subtype="PCM_24")
    channels = np.stack(MULTICHANNEL[layout](voice, hiss), axis=1)
    sf.write(folder / f"{word}-raw" / f"abcd0002{extension}", channels, 48000, subtype="PCM_24")
    assert import_(store, folder).imported == 2
    rows = rows_by_path(store)
    mono, multi = rows[f"{word}-raw/abcd0001{extension}"], rows[f"{word}-raw/abcd0002{extension}"]
    assert mono["flags"] == multi["flags"] == ""
    assert multi["speech_level_dbfs"] == pytest.approx(mono["speech_level_dbfs"], abs=1.0)
    assert multi["noise_floor_dbfs"] == pytest.approx(mono["noise_floor_dbfs"], abs=1.0)
    assert stored_peak_dbfs(store, multi["clip_id"]) == pytest.approx(stored_peak_dbfs(store, mono["clip_id"]), abs=1.0)


def many_small_files(folder: Path) -> None:
    kind = ("wav", "pcm_s16le", 16000, ".wav")
    words = ("yes", "no", "up")
    for index in range(PARALLEL_MIN_FILES + 1):
        samples = make_take(sample_rate=16000, duration_s=0.4, offset_s=0.1, burst_s=0.2, seed=index)
        encode(folder / f"{words[index % 3]}-raw" / f"{index % 7:04x}{index:04x}.wav", samples, 16000, kind)
    encode(folder / "yes-raw" / "ffff0000.wav", np.zeros(4000, np.float32), 16000, kind)  # flagged
    bad_content("random", folder / "no-raw" / "ffff0001.ogg")  # skipped


def test_parallel_import_gives_the_same_clips(store, tmp_path):
    folder = tmp_path / "upload"
    many_small_files(folder)
    children = {1: [], 2: []}

    def watch(workers):
        return lambda done, total: children[workers].append(len(multiprocessing.active_children()))

    serial = import_(store, folder, workers=1, progress=watch(1))
    other = ClipStore(load_settings(tmp_path / "parallel", environ={}))
    try:
        parallel = import_(other, folder, workers=2, progress=watch(2))
        frames = [clip_store.clips().sort_values("source_path").reset_index(drop=True) for clip_store in (store, other)]
        audio = [
            [clip_store.read_flac(key) for key in frame["audio_key"]]
            for clip_store, frame in zip((store, other), frames, strict=True)
        ]
    finally:
        other.close()
    assert max(children[1]) == 0 and max(children[2]) >= 1  # the second import really used worker processes
    assert serial.imported == parallel.imported == PARALLEL_MIN_FILES + 2
    assert serial.skipped == parallel.skipped and len(serial.skipped) == 1
    assert (serial.flagged, serial.words) == (parallel.flagged, parallel.words)
    assert serial.flagged >= 1
    columns = ["source_path", "keyword", "speaker_id", "session_id", "source_sha1", "sample_rate", *QUALITY_COLUMNS]
    pd.testing.assert_frame_equal(frames[0][columns], frames[1][columns])
    assert audio[0] == audio[1]


@pytest.mark.parametrize("workers", [0, -1])
def test_bad_worker_count_is_refused(store, tmp_path, workers):
    word_file(tmp_path / "upload" / "yes-raw" / "abcd0001.ogg")
    with pytest.raises(ValueError, match=rf"workers must be at least 1, got {workers}"):
        import_folder(store, tmp_path / "upload", CAMPAIGN, workers=workers)


# ---- progress and the folder itself -----------------------------------------------------------------------


def test_progress_ends_at_the_number_of_audio_files(store, tmp_path):
    folder = tmp_path / "upload"
    word_file(folder / "yes-raw" / "abcd0001.ogg", "yes")
    word_file(folder / "no-raw" / "abcd0002.ogg", "no")
    bad_content("empty", folder / "up-raw" / "abcd0003.ogg")
    bad_content("speech", folder / "unknown.ogg")
    (folder / "README.md").write_text("hi")
    calls = []
    import_(store, folder, progress=lambda done, total: calls.append((done, total)))
    assert calls[-1] == (4, 4)
    assert {total for _, total in calls} == {4}
    calls.clear()
    summary = import_(store, folder, progress=lambda done, total: calls.append((done, total)))
    assert summary.duplicates == 2
    assert calls[-1] == (4, 4)


def test_missing_folder(store, tmp_path):
    with pytest.raises(SpeechrecError, match=r"'.*nowhere' is not a folder; give the folder that holds the recordings"):
        import_folder(store, tmp_path / "nowhere", CAMPAIGN)


def test_a_file_is_not_a_folder(store, tmp_path):
    path = word_file(tmp_path / "abcd0001.ogg")
    with pytest.raises(SpeechrecError, match=r"is not a folder"):
        import_folder(store, path, CAMPAIGN)
    assert len(store.clips()) == 0


def test_a_failing_audio_write_stops_the_import_and_adds_no_rows(store, tmp_path):
    # The workers write the audio in background threads; their errors must still reach the import.
    folder = tmp_path / "upload"
    word_file(folder / "yes-raw" / "abcd0001.ogg", "yes")
    clips = Path(store.settings.storage_url) / "clips"
    shutil.rmtree(clips, ignore_errors=True)
    clips.write_bytes(b"a file where the speakers' folders would go")
    with pytest.raises(OSError):
        import_(store, folder)
    assert len(store.clips()) == 0


def resampled_with_pyav(samples: np.ndarray, rate: int, target_rate: int) -> np.ndarray:
    """FFmpeg's resampler (through PyAV), as `ffmpeg -i x.ogg -ar 16000 x.wav` did in the old pipeline."""
    frame = av.AudioFrame.from_ndarray(samples[None, :].astype(np.float32), format="flt", layout="mono")
    frame.sample_rate = rate
    resampler = av.AudioResampler(format="flt", layout="mono", rate=target_rate)
    parts = [*resampler.resample(frame), *resampler.resample(None)]
    return np.concatenate([part.to_ndarray()[0] for part in parts])


@pytest.mark.parametrize("copy_rate", [None, 16000], ids=["same rate", "resampled to 16 kHz"])
def test_the_same_take_in_another_encoding_is_imported_once(store, tmp_path, copy_rate):
    # An .ogg as the browser uploaded it, and a 16-bit .wav someone made from it.
    folder = tmp_path / "upload"
    ogg = word_file(folder / "yes-raw" / "abcd0001.ogg", "yes", seed=3)
    decoded, rate = decode_audio(ogg.read_bytes())
    if copy_rate:
        decoded, rate = resampled_with_pyav(decoded, rate, copy_rate), copy_rate
    sf.write(folder / "yes-raw" / "abcd0002.wav", decoded, rate, subtype="PCM_16")
    word_file(folder / "yes-raw" / "abcd0003.ogg", "yes", seed=4)  # another take of the same word
    summary = import_(store, folder)
    assert (summary.imported, summary.duplicates) == (2, 1)
    assert summary.same_audio == [("yes-raw/abcd0002.wav", "yes-raw/abcd0001.ogg")]
    assert sorted(store.clips()["source_path"]) == ["yes-raw/abcd0001.ogg", "yes-raw/abcd0003.ogg"]
    assert len(list(store.audio.audio_files())) == 2  # the copy's audio was not left behind


@pytest.fixture
def any_store(backend_settings):
    """An empty store on each back-end pair (SQLite + folder, PostgreSQL + S3)."""
    clip_store = ClipStore(backend_settings)
    yield clip_store
    clip_store.close()


def wav_copy(source: Path, path: Path, copy_rate: int | None = None) -> Path:
    """A 16-bit .wav made from ``source`` (decoded; resampled by FFmpeg to ``copy_rate``)."""
    decoded, rate = decode_audio(source.read_bytes())
    if copy_rate:
        decoded, rate = resampled_with_pyav(decoded, rate, copy_rate), copy_rate
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, decoded, rate, subtype="PCM_16")
    return path


def forget_fingerprints(store: ClipStore) -> None:
    """Make the stored rows look as a store before revision 0010 left them: no fingerprints."""
    from sqlalchemy import update

    from speechrec.schema import clips_table

    with store._engine.begin() as connection:
        connection.execute(
            update(clips_table).values(fingerprint_levels=None, fingerprint_loudest=None, fingerprint_peak=None)
        )


@pytest.mark.parametrize("copy_rate", [None, 16000], ids=["same rate", "resampled to 16 kHz"])
def test_the_same_take_in_another_encoding_is_found_in_a_later_import(any_store, tmp_path, copy_rate):
    # Yesterday the .ogg the browser uploaded; today a .wav someone made from it, in another folder.
    store = any_store
    ogg = word_file(tmp_path / "monday" / "yes-raw" / "abcd0001.ogg", "yes", seed=3)
    assert import_(store, tmp_path / "monday").imported == 1
    wav_copy(ogg, tmp_path / "tuesday" / "yes-raw" / "abcd0002.wav", copy_rate)
    word_file(tmp_path / "tuesday" / "yes-raw" / "abcd0003.ogg", "yes", seed=4)  # another take of the same word
    summary = import_(store, tmp_path / "tuesday")
    assert (summary.imported, summary.duplicates) == (1, 1)
    assert summary.same_audio == [("yes-raw/abcd0002.wav", "yes-raw/abcd0001.ogg (already in the store)")]
    assert sorted(store.clips()["source_path"]) == ["yes-raw/abcd0001.ogg", "yes-raw/abcd0003.ogg"]
    assert len(store.audio.clip_files()) == 2  # the copy's audio was not left behind


def test_a_take_recorded_in_the_browser_is_found_when_its_upload_is_imported(store, tmp_path):
    # The browser's upload, stored as a take by the app, and the same upload in an old app's folder.
    recorded = make_take(sample_rate=48000, offset_s=0.4, word="up", seed=5)
    upload = encode(tmp_path / "upload" / "up-raw" / "abcd0001.ogg", recorded, 48000)
    take, rate = decode_audio(upload.read_bytes())
    store.ensure_speaker("0a1b2c3d")
    clip_id = store.add_clip(
        take, rate, assess_take(take, rate), keyword="up", speaker_id="0a1b2c3d", session_id="s", source="audio_input"
    )
    summary = import_(store, tmp_path / "upload")
    assert (summary.imported, summary.duplicates) == (0, 1)
    assert summary.same_audio == [
        ("up-raw/abcd0001.ogg", f"clip {clip_id}, recorded with audio_input (already in the store)")
    ]


@pytest.mark.parametrize("workers", [1, 2])
def test_takes_stored_before_fingerprints_were_kept_get_them_at_the_next_import(store, tmp_path, workers, monkeypatch):
    monkeypatch.setattr("speechrec.importer.PARALLEL_MIN_FILES", 1)  # the worker processes' path too
    ogg = word_file(tmp_path / "monday" / "no-raw" / "abcd0001.ogg", "no", seed=6)
    word_file(tmp_path / "monday" / "no-raw" / "abcd0002.ogg", "no", seed=7)
    import_(store, tmp_path / "monday")
    forget_fingerprints(store)
    assert len(store.clips_without_fingerprint()) == 2
    wav_copy(ogg, tmp_path / "tuesday" / "no-raw" / "abcd0009.wav")
    calls = []
    summary = import_(
        store, tmp_path / "tuesday", workers=workers, progress=lambda done, total: calls.append((done, total))
    )
    assert summary.same_audio == [("no-raw/abcd0009.wav", "no-raw/abcd0001.ogg (already in the store)")]
    assert store.clips_without_fingerprint() == []  # computed once, kept for every later import
    assert calls[-1] == (3, 3)  # the two stored takes, then the file


def test_a_stored_take_whose_audio_is_gone_gets_no_fingerprint_and_stops_nothing(store, tmp_path):
    ogg = word_file(tmp_path / "monday" / "no-raw" / "abcd0001.ogg", "no", seed=6)
    import_(store, tmp_path / "monday")
    forget_fingerprints(store)
    (clip_id, key), = store.clips_without_fingerprint()
    store.audio.remove(key)
    wav_copy(ogg, tmp_path / "tuesday" / "no-raw" / "abcd0009.wav")
    summary = import_(store, tmp_path / "tuesday")
    assert (summary.imported, summary.duplicates, summary.skipped) == (1, 0, [])
    assert store.clips_without_fingerprint() == [(clip_id, key)]  # tried again by the next import


@pytest.mark.parametrize("imports", [1, 3])
def test_takes_alike_but_for_their_room_noise_are_all_imported(store, tmp_path, imports):
    # The same synthetic word at the same point and level: equal envelopes, different recordings
    # (a .wav and a .flac among them, so the file type does not keep them apart); in one import or
    # one import each.
    for number in range(3):
        folder = tmp_path / f"upload{number % imports}" / "no-raw"
        folder.mkdir(parents=True, exist_ok=True)
        samples = make_take(sample_rate=16000, duration_s=1.2, offset_s=0.3, word="no", seed=number)
        sf.write(folder / f"abcd000{number}.{('wav', 'flac')[number % 2]}", samples, 16000, subtype="PCM_16")
    summaries = [import_(store, tmp_path / f"upload{number}") for number in range(imports)]
    assert sum(summary.imported for summary in summaries) == 3
    assert [(summary.duplicates, summary.same_audio) for summary in summaries] == [(0, [])] * imports


# ---- nothing outside the folder, nothing too large, no file that stops the rest -------------------------


def wav_claiming(sample_rate: int, frames: int = 16000) -> bytes:
    """A 16-bit mono WAV whose header claims ``sample_rate`` (a rate no encoder accepts, for some)."""
    data = np.zeros(frames, np.int16).tobytes()
    fmt = struct.pack("<IHHIIHH", 16, 1, 1, sample_rate, (sample_rate * 2) & 0xFFFFFFFF, 2, 16)
    return (
        b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVEfmt " + fmt + b"data" + struct.pack("<I", len(data)) + data
    )


@pytest.mark.parametrize("workers", [1, 2])
def test_no_single_file_stops_an_import(store, tmp_path, workers, monkeypatch):
    folder = tmp_path / "upload"
    monkeypatch.setattr("speechrec.importer.PARALLEL_MIN_FILES", 1)  # the worker processes' path too
    word_file(folder / GOOD, "no")
    for number, rate in enumerate([700_000, 2**31 - 1, 0, 1]):
        (folder / "yes-raw" / f"abcd000{number}.wav").parent.mkdir(parents=True, exist_ok=True)
        (folder / "yes-raw" / f"abcd000{number}.wav").write_bytes(wav_claiming(rate))
    word_file(folder / "zz-raw" / "ffff0001.ogg", "yes")
    summary = import_(store, folder, workers=workers)
    assert summary.imported == 2
    assert sorted(path for path, _ in summary.skipped) == [f"yes-raw/abcd000{number}.wav" for number in range(4)]
    assert sorted(store.clips()["source_path"]) == [GOOD, "zz-raw/ffff0001.ogg"]


def test_a_name_that_is_not_utf8_is_imported_under_a_readable_name(store, tmp_path):
    folder = tmp_path / "upload"
    word_file(folder / GOOD, "no")
    odd = Path(os.fsdecode(bytes(folder) + b"/caf\xe9/yes-raw/abcd0001.ogg"))
    word_file(odd, "yes")
    summary = import_(store, folder)
    assert (summary.imported, summary.skipped) == (2, [])
    assert sorted(store.clips()["source_path"]) == ["caf\ufffd/yes-raw/abcd0001.ogg", GOOD]


def test_links_out_of_the_folder_are_not_followed(store, tmp_path):
    folder, outside = tmp_path / "upload", tmp_path / "private"
    word_file(folder / GOOD, "no")
    word_file(outside / "yes-raw" / "abcd0001.ogg", "yes", seed=1)
    word_file(outside / "secret.ogg", "up", seed=2)
    (folder / "yes-raw").mkdir()
    (folder / "yes-raw" / "abcd0002.ogg").symlink_to(outside / "secret.ogg")  # a file outside
    (folder / "yes-raw" / "abcd0003.ogg").symlink_to(folder / "no-raw" / "0f0f0001.ogg")  # a file inside
    (folder / "yes-raw" / "abcd0004.ogg").symlink_to(folder / "yes-raw" / "abcd0002.ogg")  # a link to the link
    (folder / "yes-raw" / "abcd0005.ogg").symlink_to(tmp_path / "nowhere.ogg")  # broken
    (folder / "up-raw").symlink_to(outside / "yes-raw")  # a folder outside
    (folder / "again").symlink_to(folder / "no-raw")  # a folder inside: walked once, where it is
    summary = import_(store, folder)
    assert summary.imported == 1 and summary.duplicates == 1  # the link inside reads the same bytes
    assert dict(summary.skipped) == {
        "yes-raw/abcd0002.ogg": "link to a file outside the import folder: not followed",
        "yes-raw/abcd0004.ogg": "link to a file outside the import folder: not followed",
        "yes-raw/abcd0005.ogg": "broken link: not followed",
        "up-raw/": "link to a folder outside the import folder: not followed",
    }
    assert list(store.clips()["source_path"]) == [GOOD]


def test_a_file_above_the_size_limit_is_refused_by_its_size(store, tmp_path, monkeypatch):
    from speechrec import importer

    folder = tmp_path / "upload"
    word_file(folder / GOOD, "no")
    huge = folder / "yes-raw" / "abcd0001.wav"
    huge.parent.mkdir()
    with huge.open("wb") as file:  # 512 MiB, sparse: no disk space, and never read
        file.truncate(512 * 2**20)
    opened = []
    real_open = os.open
    monkeypatch.setattr(importer.os, "open", lambda path, *args: opened.append(Path(path)) or real_open(path, *args))
    summary = import_(store, folder)
    assert summary.imported == 1
    assert summary.skipped == [
        ("yes-raw/abcd0001.wav", "512.0 MiB, above the limit of 128 MiB for one recording; split it into takes first")
    ]
    assert huge not in opened


def test_a_batch_another_import_stored_meanwhile_is_listed_and_the_import_goes_on(store, tmp_path):
    folder = tmp_path / "upload"
    word_file(folder / GOOD, "no")
    word_file(folder / "yes-raw" / "abcd0001.ogg", "yes")
    sha1 = hashlib.sha1((folder / GOOD).read_bytes()).hexdigest()
    raced = []

    def another_import_stores_the_same_file(done: int, total: int) -> None:
        if not raced:  # after the folder was read, before this import's rows go in
            raced.append(done)
            samples, rate = load_word("no")
            store.ensure_speaker("0000aaaa")
            store.add_clip(samples, rate, assess_take(samples, rate), keyword="no", speaker_id="0000aaaa",
                           session_id="other", source="import", source_path=GOOD, source_sha1=sha1)  # fmt: skip

    summary = import_(store, folder, progress=another_import_stores_the_same_file)
    assert raced and summary.imported == 0
    assert sorted(path for path, _ in summary.skipped) == [GOOD, "yes-raw/abcd0001.ogg"]
    assert all("import the folder again" in reason for _, reason in summary.skipped)
    assert import_(store, folder).imported == 1  # the next run adds what is missing
    assert len(store.clips()) == 2 and len(list(store.audio.audio_files())) == 2

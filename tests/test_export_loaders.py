"""The export as training code reads it: TensorFlow's speech_commands input logic (re-typed from its
documented algorithm), Hugging Face datasets' audiofolder (the real library), the split-folder layout
for Keras, the speech-centred cut and the background noise that is always there."""

from __future__ import annotations

import csv
import glob
import io
import math
import os
import random
import re
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from signals import WORDS, make_take, rms_dbfs
from test_export import CAMPAIGN, SPLIT_SPEAKERS, tf_which_set

from speechrec import audio
from speechrec.export import ExportOptions, export_dataset
from speechrec.quality import assess_take
from speechrec.campaign import NOISE_KEYWORD
from speechrec.store import ClipStore

RATE = 16000
SPEAKERS = [*SPLIT_SPEAKERS["training"][:2], SPLIT_SPEAKERS["validation"][0], SPLIT_SPEAKERS["testing"][0]]


def fill(store: ClipStore, *, room: bool = True) -> None:
    """Four speakers, every keyword twice and every filler once, no room recordings; with
    ``room=False`` the takes are cut tight around the word (no room noise to assemble from)."""
    for index, speaker in enumerate(SPEAKERS):
        store.ensure_speaker(speaker, origin="volunteer")
        for number, word in enumerate([*CAMPAIGN.keywords, *CAMPAIGN.keywords, "bed", "tree"]):
            seed = 100 * index + number
            spoken = word if word in WORDS else "tum"  # the filler words are not shipped: any word will do
            if room:
                offset = [0.06, 0.3, 0.85][number % 3]  # near the start, in the middle, near the end
                samples = make_take(sample_rate=48000, duration_s=1.5, offset_s=offset, word=spoken, seed=seed)
            else:
                samples = make_take(sample_rate=48000, duration_s=0.5, offset_s=0.0, noise_dbfs=None, burst_s=0.5)
            store.add_clip(
                samples, 48000, assess_take(samples, 48000), keyword=word, speaker_id=speaker,
                session_id=f"s-{speaker}", source="webrtc",
            )  # fmt: skip


def unzip(path: Path, folder: Path) -> Path:
    with zipfile.ZipFile(path) as archive:
        archive.extractall(folder)
    return folder


def readme_wanted_words(folder: Path) -> str:
    return re.search(r"--wanted_words=(\S+)", (folder / "README.md").read_text()).group(1)


# ---- TensorFlow's speech_commands/input_data.py, its data index and background noise, re-typed -----------
# (prepare_data_index, prepare_background_data and the background draw of get_data, with the example's
# defaults: silence and unknown 10 %, validation and testing 10 %, clips of 16000 samples.)

SILENCE_LABEL, UNKNOWN_LABEL, BACKGROUND = "_silence_", "_unknown_", "_background_noise_"


def tf_prepare_data_index(data_dir: Path, wanted_words: list[str], silence=10.0, unknown=10.0) -> dict:
    random.seed(59185)
    wanted_index = {word: index + 2 for index, word in enumerate(wanted_words)}
    data_index = {"validation": [], "testing": [], "training": []}
    unknown_index = {"validation": [], "testing": [], "training": []}
    all_words = {}
    for wav_path in glob.glob(os.path.join(data_dir, "*", "*.wav")):
        _, word = os.path.split(os.path.dirname(wav_path))
        word = word.lower()
        if word == BACKGROUND:
            continue
        all_words[word] = True
        set_index = tf_which_set(wav_path)
        if word in wanted_index:
            data_index[set_index].append({"label": word, "file": wav_path})
        else:
            unknown_index[set_index].append({"label": word, "file": wav_path})
    if not all_words:
        raise Exception("No .wavs found")
    for wanted_word in wanted_words:
        if wanted_word not in all_words:
            raise Exception("Expected to find " + wanted_word + " in labels but only found " + ", ".join(all_words))
    silence_wav_path = data_index["training"][0]["file"]
    for set_index in ["validation", "testing", "training"]:
        set_size = len(data_index[set_index])
        for _ in range(math.ceil(set_size * silence / 100)):
            data_index[set_index].append({"label": SILENCE_LABEL, "file": silence_wav_path})
        random.shuffle(unknown_index[set_index])
        data_index[set_index].extend(unknown_index[set_index][: math.ceil(set_size * unknown / 100)])
    return data_index


def tf_prepare_background_data(data_dir: Path) -> list[np.ndarray]:
    background_data = []
    if not os.path.exists(os.path.join(data_dir, BACKGROUND)):
        return background_data
    for wav_path in glob.glob(os.path.join(data_dir, BACKGROUND, "*.wav")):
        background_data.append(sf.read(wav_path, dtype="float32")[0])
    if not background_data:
        raise Exception("No background wav files were found")
    return background_data


def tf_draw_backgrounds(data_index: dict, background_data: list[np.ndarray], mode: str, desired=16000) -> int:
    """get_data's background choice for every sample of ``mode`` that needs one; returns how many."""
    np.random.seed(0)
    drawn = 0
    for sample in data_index[mode]:
        if (background_data and mode == "training") or sample["label"] == SILENCE_LABEL:
            background_samples = background_data[np.random.randint(len(background_data))]
            if len(background_samples) <= desired:
                raise ValueError("Background sample is too short!")
            offset = np.random.randint(0, len(background_samples) - desired)
            assert len(background_samples[offset : offset + desired]) == desired
            drawn += 1
    return drawn


# ---- the tests -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("room", [True, False], ids=["room noise around the words", "takes cut tight"])
def test_tensorflows_example_runs_at_its_defaults_on_a_store_without_room_recordings(store, tmp_path, room):
    fill(store, room=room)
    summary = export_dataset(store, CAMPAIGN, tmp_path / "ds.zip", ExportOptions(selection="all"))
    folder = unzip(tmp_path / "ds.zip", tmp_path / "ds")
    assert summary.background_noise == ("assembled" if room else "silence")
    wanted = readme_wanted_words(folder)
    assert wanted == "yes,no,up,down,tum"
    data_index = tf_prepare_data_index(folder, wanted.split(","))
    background = tf_prepare_background_data(folder)
    assert background and all(len(noise) > 16000 for noise in background)
    for mode in ("training", "validation", "testing"):
        assert tf_draw_backgrounds(data_index, background, mode) > 0
    labels = {sample["label"] for sample in data_index["training"]}
    assert labels == {*CAMPAIGN.keywords, SILENCE_LABEL, "bed", "tree"}  # filler words are its unknowns
    readme = (folder / "README.md").read_text()
    if room:
        assert "assembled from the room noise before and after the words of" in readme
        assert len(background) == len(SPEAKERS)  # one file per speaker
    else:
        assert "one file of digital silence" in readme
        assert [noise.max() for noise in background] == [0.0]


def test_without_the_background_folder_tensorflow_fails_as_reported(store, tmp_path):
    # The failure the issue reports, reproduced with the re-typed logic: no folder, no silence source.
    fill(store)
    export_dataset(store, CAMPAIGN, tmp_path / "ds.zip")
    folder = unzip(tmp_path / "ds.zip", tmp_path / "ds")
    for path in (folder / NOISE_KEYWORD).iterdir():
        path.unlink()
    (folder / NOISE_KEYWORD).rmdir()
    data_index = tf_prepare_data_index(folder, readme_wanted_words(folder).split(","))
    with pytest.raises(ValueError, match="high <= 0"):
        tf_draw_backgrounds(data_index, tf_prepare_background_data(folder), "validation")


def test_assembled_background_noise_is_room_noise_not_speech(store, tmp_path):
    fill(store)
    export_dataset(store, CAMPAIGN, tmp_path / "ds.zip")
    folder = unzip(tmp_path / "ds.zip", tmp_path / "ds")
    for path in sorted((folder / NOISE_KEYWORD).iterdir()):
        noise, rate = sf.read(path, dtype="float32")
        assert rate == RATE and len(noise) > 2 * RATE
        # make_take's room (white, -60 dBFS at 48 kHz; a third of its band is left at 16 kHz), no word in it.
        assert rms_dbfs(noise) == pytest.approx(-60.0 + 10 * np.log10(16000 / 48000), abs=1.0), path.name
    rows = list(csv.DictReader(io.StringIO((folder / "metadata.csv").read_text())))
    noise_rows = [row for row in rows if row["kind"] == "background_noise"]
    assert sorted(row["path"] for row in noise_rows) == sorted(
        f"{NOISE_KEYWORD}/{s}_around_words.wav" for s in SPEAKERS
    )
    assert all(re.fullmatch(r"room noise around the words of \d+ takes", row["source"]) for row in noise_rows)


def test_every_word_sits_at_least_100_ms_from_both_edges(store, tmp_path):
    fill(store)
    export_dataset(store, CAMPAIGN, tmp_path / "ds.zip")
    folder = unzip(tmp_path / "ds.zip", tmp_path / "ds")
    rows = [row for row in csv.DictReader(io.StringIO((folder / "metadata.csv").read_text())) if row["clip_id"]]
    margins = []
    for row in rows:
        start, end = float(row["speech_start_s"]), float(row["speech_end_s"])
        assert end - start <= 0.8
        clip, rate = sf.read(folder / row["path"], dtype="float32")
        found = audio.speech_span(clip, rate)
        margins.append(min(found[0], 1.0 - found[1]))
    assert len(margins) == len(SPEAKERS) * 12
    assert min(margins) >= 0.1 - audio.FRAME_S  # the detector measures in 20 ms frames
    # The old cut, for comparison: words near a take's edge stay near the clip's edge.
    export_dataset(store, CAMPAIGN, tmp_path / "old.zip", ExportOptions(cut="loudest"))
    old = unzip(tmp_path / "old.zip", tmp_path / "old")
    old_margins = []
    for row in rows:
        found = audio.speech_span(sf.read(old / row["path"], dtype="float32")[0], RATE)
        old_margins.append(min(found[0], 1.0 - found[1]))
    assert sum(margin < 0.1 for margin in old_margins) >= len(rows) // 4


def test_readme_and_metadata_say_which_folders_are_keywords_fillers_and_others(store, tmp_path):
    fill(store)
    speaker = SPEAKERS[0]
    samples = make_take(sample_rate=48000, word="tum", seed=999)
    store.add_clip(samples, 48000, assess_take(samples, 48000), keyword="grüezi", speaker_id=speaker,
                   session_id="s", source="import")  # fmt: skip
    export_dataset(store, CAMPAIGN, tmp_path / "ds.zip")
    folder = unzip(tmp_path / "ds.zip", tmp_path / "ds")
    readme = (folder / "README.md").read_text()
    assert "Keywords, the words this dataset is for: `down`, `no`, `tum`, `up`, `yes`" in readme
    assert 'Filler words (near misses and other words, for an "unknown" class): `bed`, `tree`' in readme
    assert "Other words (not in the campaign: imported, or from an earlier campaign): `grüezi`" in readme
    assert "--data_dir=THIS_FOLDER --wanted_words=yes,no,up,down,tum" in readme
    kinds = {row["keyword"]: row["kind"] for row in csv.DictReader(io.StringIO((folder / "metadata.csv").read_text()))}
    assert kinds == {**dict.fromkeys(CAMPAIGN.keywords, "keyword"), "bed": "filler", "tree": "filler",
                     "grüezi": "other", NOISE_KEYWORD: "background_noise"}  # fmt: skip


def test_wanted_words_are_lower_case_and_only_the_keywords_with_clips(store, tmp_path):
    campaign = CAMPAIGN.__class__(**{**CAMPAIGN.__dict__, "keywords": ("Yes", "no", "stop")})
    store.ensure_speaker(SPEAKERS[0])
    for word in ("Yes", "no"):
        samples = make_take(sample_rate=RATE, word="yes", seed=1)
        store.add_clip(samples, RATE, assess_take(samples, RATE), keyword=word, speaker_id=SPEAKERS[0],
                       session_id="s", source="webrtc")  # fmt: skip
    export_dataset(store, campaign, tmp_path / "ds.zip")
    folder = unzip(tmp_path / "ds.zip", tmp_path / "ds")
    assert readme_wanted_words(folder) == "yes,no"
    assert "(no clips yet of `stop`)" in (folder / "README.md").read_text()


def test_split_folders_have_every_word_in_every_split_and_no_noise_class(store, tmp_path):
    fill(store)
    export_dataset(store, CAMPAIGN, tmp_path / "ds.zip", ExportOptions(layout="split_folders"))
    folder = unzip(tmp_path / "ds.zip", tmp_path / "ds")
    assert sorted(path.name for path in folder.iterdir()) == [
        "README.md", "_background_noise_", "metadata.csv", "test", "train", "validation",
    ]  # fmt: skip
    words = sorted(CAMPAIGN.words)
    for split in ("train", "validation", "test"):
        # Keras' audio_dataset_from_directory numbers the classes by these folders, sorted.
        assert sorted(path.name for path in (folder / split).iterdir() if path.is_dir()) == words
    rows = list(csv.DictReader(io.StringIO((folder / "metadata.csv").read_text())))
    speakers_per_split = {}
    for row in rows:
        if row["kind"] == "background_noise":
            assert row["path"].startswith(f"{NOISE_KEYWORD}/")
            continue
        expected = {"training": "train", "validation": "validation", "testing": "test"}[tf_which_set(row["path"])]
        assert row["path"].startswith(f"{expected}/{row['keyword']}/")
        speakers_per_split.setdefault(row["speaker"], set()).add(expected)
    assert all(len(splits) == 1 for splits in speakers_per_split.values())  # no speaker in two splits
    assert not (folder / "validation_list.txt").exists()
    with zipfile.ZipFile(tmp_path / "ds.zip") as archive:
        folders = [info for info in archive.infolist() if info.is_dir()]
    assert len(folders) == 3 * len(words)
    assert all(info.external_attr >> 16 == 0o40755 for info in folders)  # unzip makes them enterable


def test_hugging_face_audiofolder_reads_the_split_folders(store, tmp_path, monkeypatch):
    import datasets
    from datasets.features import audio as hf_audio

    # Decoding audio in datasets >= 4 needs torchcodec and PyTorch (gigabytes): the test runs the real
    # folder, split and metadata handling, with the audio column kept as the file path it starts from.
    def encode_path(self, value):
        return {"bytes": None, "path": value if isinstance(value, str) else value["path"]}

    monkeypatch.setattr(hf_audio.Audio, "encode_example", encode_path)
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf-cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    fill(store)
    export_dataset(store, CAMPAIGN, tmp_path / "ds.zip", ExportOptions(layout="split_folders"))
    folder = unzip(tmp_path / "ds.zip", tmp_path / "ds")
    loaded = datasets.load_dataset("audiofolder", data_dir=str(folder), cache_dir=str(tmp_path / "hf-cache"))
    assert sorted(loaded) == ["test", "train", "validation"]
    rows = list(csv.DictReader(io.StringIO((folder / "metadata.csv").read_text())))
    for split in ("train", "validation", "test"):
        table = loaded[split].cast_column("audio", hf_audio.Audio(decode=False))
        assert set(table.column_names) == {"audio", "label", "kind", "speaker", "clip_id"}
        got = {(Path(item["audio"]["path"]).relative_to(folder).as_posix(), item["label"]) for item in table}
        expected = {(row["path"], row["keyword"]) for row in rows if row["path"].startswith(f"{split}/")}
        assert got == expected and got
        for item in table.select(range(2)):
            clip, rate = sf.read(item["audio"]["path"])
            assert (len(clip), rate) == (RATE, RATE)

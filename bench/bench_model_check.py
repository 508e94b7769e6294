"""The model check on a generated corpus: time, peak memory, accuracy, and doubtful clips first.

Builds a Speech Commands folder of about 2000 takes from 12 synthetic voices (espeak-ng voices,
variants, pitches and speeds; each speaker in a room of their own noise level and microphone
colour; 48 kHz, ~1.5 s, the word at a random place), with about 5 % known bad takes that pass
the quality checks (the wrong word, overdriven audio below full scale, a noise burst instead of a
word, another voice over the word, half a word). Then:
  1. imports it (`speechrec.importer`, not timed);
  2. times `python -m speechrec check-model` as a whole command, with its peak memory (all processes);
  3. prints the check's accuracy per keyword and per speaker;
  4. counts the known bad takes among the first 10 % of the Review queue, newest first (today's
     order) and doubtful first (the model's doubt, which the command keeps in the store, and the
     quality flags);
  5. exports with each cut and counts the clips whose word comes within 100 ms / 50 ms of an edge.

Usage: python bench/bench_model_check.py [--speakers 12] [--takes 30] [--keep DIR]
(with --keep, a second run on the same DIR checks the kept corpus again instead of making a new one)
Needs espeak-ng (Debian package espeak-ng).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import shutil
import subprocess
import sys
import tempfile
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr
from scipy.signal import lfilter

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]
from bench_import_export import timed  # noqa: E402

from speechrec.campaign import load_campaign  # noqa: E402
from speechrec.config import load_settings  # noqa: E402
from speechrec.cut import CUTS  # noqa: E402
from speechrec.importer import import_folder  # noqa: E402
from speechrec.store import ClipStore  # noqa: E402

SAMPLE_RATE = 48000
TAKE_S = 1.5
CAMPAIGN = load_campaign(ROOT / "campaign.toml")
# (espeak-ng voice, variant): 12 distinct voices, men's and women's, several accents.
VOICES = [
    ("en-us", "m1"), ("en-gb", "f2"), ("en-gb-scotland", "m3"), ("en-029", "f1"),
    ("en-us-nyc", "m7"), ("en-gb-x-rp", "f4"), ("en-gb-x-gbclan", "m2"), ("en-us", "f5"),
    ("en-gb-x-gbcwmd", "m4"), ("en-gb", "m6"), ("en-029", "f3"), ("en-us-nyc", "m5"),
    ("en-gb-scotland", "f2"), ("en-gb-x-rp", "m1"), ("en-us", "f4"), ("en-gb", "m3"),
]  # fmt: skip
BAD_KINDS = ("wrong word", "overdriven", "noise burst", "voice over it", "half a word")
BAD_SHARE = 0.05


@dataclass(frozen=True)
class Voice:
    speaker_id: str
    name: str
    pitch: int
    speed: int
    noise_dbfs: float
    colour: float  # one-pole low-pass coefficient: the microphone's tone


def speak(voice: Voice, word: str, pitch: int, speed: int) -> np.ndarray:
    """One word from espeak-ng, trimmed to the spoken part, at SAMPLE_RATE (float32)."""
    command = ["espeak-ng", "-v", voice.name, "-p", str(pitch), "-s", str(speed), "--stdout", word]
    wav = subprocess.run(command, check=True, capture_output=True).stdout
    samples, rate = sf.read(io.BytesIO(wav), dtype="float32")
    loud = np.flatnonzero(np.abs(samples) > 1e-3)
    samples = samples[loud[0] : loud[-1] + 1]
    return soxr.resample(samples, rate, SAMPLE_RATE).astype(np.float32)


def colour(samples: np.ndarray, coefficient: float) -> np.ndarray:
    """A one-pole low-pass (y[n] = (1-a) x[n] + a y[n-1]): a duller or brighter microphone."""
    return lfilter([1.0 - coefficient], [1.0, -coefficient], samples).astype(np.float32)


def make_take(rng: np.random.Generator, voice: Voice, speech: np.ndarray, level_db: float) -> np.ndarray:
    """A take as a browser records it: room noise, the word at a random place, the speaker's microphone."""
    length = int(TAKE_S * SAMPLE_RATE)
    take = rng.standard_normal(length).astype(np.float32) * np.float32(10 ** (voice.noise_dbfs / 20))
    speech = speech[: length - int(0.3 * SAMPLE_RATE)] * np.float32(10 ** (level_db / 20) / np.abs(speech).max())
    offset = int(rng.integers(int(0.12 * SAMPLE_RATE), length - len(speech) - int(0.12 * SAMPLE_RATE)))
    take[offset : offset + len(speech)] += speech
    return np.clip(take, -1.0, 1.0)


def make_corpus(folder: Path, speakers: int, takes: int, seed: int = 0) -> dict[str, str]:
    """Write ``<word>/<speaker>_nohash_<n>.wav`` takes; return {relative path: bad kind} of the bad ones."""
    rng = np.random.default_rng(seed)
    voices = [
        Voice(
            hashlib.sha1(f"voice{index}".encode()).hexdigest()[:8],
            f"{name}+{variant}",
            int(rng.integers(30, 70)),
            int(rng.integers(130, 190)),
            float(rng.uniform(-70, -50)),
            float(rng.uniform(0.0, 0.6)),
        )
        for index, (name, variant) in enumerate(VOICES[:speakers])
    ]
    words = list(CAMPAIGN.words)
    plan = []  # (voice, word said, folder word, kind)
    for voice in voices:
        for word in CAMPAIGN.keywords:
            plan += [(voice, word, word, None)] * takes
        for word in CAMPAIGN.filler_words:
            plan += [(voice, word, word, None)] * max(1, takes // 10)
    keyword_takes = [index for index, item in enumerate(plan) if item[2] in CAMPAIGN.keywords]
    bad = rng.choice(keyword_takes, size=round(BAD_SHARE * len(plan)), replace=False)
    for number, index in enumerate(sorted(bad)):
        voice, word, _, _ = plan[index]
        kind = BAD_KINDS[number % len(BAD_KINDS)]
        said = str(rng.choice([other for other in words if other != word])) if kind == "wrong word" else word
        plan[index] = (voice, said, word, kind)

    def synthesize(item: tuple[int, tuple]) -> tuple[str, np.ndarray, str | None]:
        index, (voice, said, word, kind) = item
        local = np.random.default_rng([seed, index])
        pitch = voice.pitch + int(local.integers(-8, 9))
        speed = voice.speed + int(local.integers(-20, 21))
        speech = speak(voice, said, pitch, speed)
        if kind == "overdriven":
            speech = np.tanh(30 * speech / np.abs(speech).max()).astype(np.float32)
        elif kind == "noise burst":
            burst = local.standard_normal(int(0.35 * SAMPLE_RATE)).astype(np.float32)
            speech = colour(burst, 0.8) * np.hanning(len(burst)).astype(np.float32)
        elif kind == "voice over it":
            other = voices[(voices.index(voice) + 1) % len(voices)]
            over = speak(other, str(local.choice([w for w in words if w != word])), other.pitch, other.speed)
            length = max(len(speech), len(over) + len(speech) // 3)
            mixed = np.zeros(length, np.float32)
            mixed[: len(speech)] += speech
            mixed[len(speech) // 3 : len(speech) // 3 + len(over)] += over
            speech = mixed
        elif kind == "half a word":
            speech = speech[: len(speech) // 2]
        speech = colour(speech, voice.colour)
        level_db = -0.5 if kind == "overdriven" else float(local.uniform(-18, -3))
        return word, make_take(local, voice, speech, level_db), kind

    counters: dict[tuple[str, str], int] = {}
    bad_paths: dict[str, str] = {}
    with ThreadPoolExecutor(2) as pool:
        for (word, take, kind), (voice, _, _, _) in zip(
            pool.map(synthesize, enumerate(plan)), (item for item in plan), strict=True
        ):
            number = counters[(word, voice.speaker_id)] = counters.get((word, voice.speaker_id), -1) + 1
            relative = f"{word}/{voice.speaker_id}_nohash_{number}.wav"
            path = folder / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            sf.write(path, take, SAMPLE_RATE, subtype="PCM_16")
            if kind:
                bad_paths[relative] = kind
    return bad_paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--speakers", type=int, default=12, help=f"voices, 3 to {len(VOICES)}")
    parser.add_argument("--takes", type=int, default=30, help="takes per keyword and speaker")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it")
    args = parser.parse_args()
    if not 3 <= args.speakers <= len(VOICES):
        parser.error(f"--speakers must be between 3 and {len(VOICES)}")
    if shutil.which("espeak-ng") is None:
        sys.exit("espeak-ng is not installed (Debian: apt-get install espeak-ng)")
    work = args.keep or Path(tempfile.mkdtemp(prefix="speechrec-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        run(work, args.speakers, args.takes)
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


def walk_queue(store: ClipStore, queue, count: int) -> list[str]:
    """The first ``count`` clip ids of the Review queue, as the page shows them one after another (SQL)."""
    from dataclasses import replace

    shown: list[str] = []
    while len(shown) < count and (clip := store.next_to_review(replace(queue, exclude=shown))) is not None:
        shown.append(clip.clip_id)
    return shown


def run(work: Path, speakers: int, takes: int) -> None:
    from speechrec.modelcheck import checks_folder, latest_check
    from speechrec.review import ReviewFilter

    known = work / "bad-takes.json"
    store = ClipStore(load_settings(work / "data", environ={}))
    if known.exists():  # a corpus kept by an earlier run with --keep: check it again
        bad_paths = json.loads(known.read_text())
        shutil.rmtree(checks_folder(store.settings), ignore_errors=True)
    else:
        bad_paths = make_corpus(work / "corpus", speakers, takes)
        import_folder(store, work / "corpus", CAMPAIGN, workers=2)
        known.write_text(json.dumps(bad_paths))
    clips = store.clips()
    flagged = int((clips["flags"] != "").sum())
    print(
        f"{len(clips)} takes from {clips['speaker_id'].nunique()} voices in {work} ({len(bad_paths)} known bad "
        f"takes; {flagged} takes have a quality flag)"
    )
    command = [
        sys.executable,
        "-m",
        "speechrec",
        "check-model",
        "--store",
        "data",
        "--campaign",
        str(ROOT / "campaign.toml"),
    ]
    seconds, peak_mib = timed(command, work)
    print(f"check-model: {seconds:.1f} s, peak memory {peak_mib:.0f} MiB (all processes; targets < 60 s, < 1024 MiB)")
    check = latest_check(store)
    print(f"scheme: {check.scheme}; overall accuracy {check.accuracy:.1%}")
    percent = {"accuracy": lambda value: f"{value:.1%}"}
    print(check.keyword_table().to_string(index=False, formatters=percent))
    print(check.speaker_table().to_string(index=False, formatters=percent))

    bad_ids = set(clips.loc[clips["source_path"].isin(bad_paths), "clip_id"])
    pending = store.count_to_review(ReviewFilter())
    first = max(1, pending // 10)
    newest = walk_queue(store, ReviewFilter(), first)
    if store.doubt_check() is None or store.doubt_check().fingerprint != check.fingerprint:
        sys.exit("check-model did not keep its doubt in the store")
    doubtful = walk_queue(store, ReviewFilter(doubt_first=True), first)  # the doubt the command kept in the store
    plain, sorted_ = (len(set(queue) & bad_ids) for queue in (newest, doubtful))
    print(
        f"known bad takes in the first 10 % of the Review queue ({first} of {pending} clips): "
        f"newest first {plain} of {len(bad_ids)}, doubtful first {sorted_} of {len(bad_ids)}"
    )
    kinds = {kind: 0 for kind in BAD_KINDS}
    path_of = dict(zip(clips["clip_id"], clips["source_path"], strict=True))
    for clip_id in doubtful:
        if clip_id in bad_ids:
            kinds[bad_paths[path_of[clip_id]]] += 1
    print("  of them, by kind: " + ", ".join(f"{kind} {count}" for kind, count in kinds.items()))
    for cut in CUTS:
        near = edge_margins(store, work / f"export-{cut}.zip", cut)
        print(
            f"export cut {cut!r}: of {near['clips']} clips whose speech is at most 0.8 s, the word lies within "
            f"100 ms of an edge in {near[0.1]} and within 50 ms in {near[0.05]}"
        )


def edge_margins(store: ClipStore, path: Path, cut: str) -> dict:
    """Export with ``cut`` and count the clips whose detected speech comes near an edge (as the issue
    measured it: speech found in each exported clip, takes whose speech is at most 0.8 s)."""
    from speechrec.audio import speech_span
    from speechrec.export import ExportOptions, export_dataset

    export_dataset(store, CAMPAIGN, path, ExportOptions(cut=cut))
    counts = {"clips": 0, 0.1: 0, 0.05: 0}
    with zipfile.ZipFile(path) as archive:
        rows = csv.DictReader(io.StringIO(archive.read("metadata.csv").decode()))
        for row in rows:
            if not row["clip_id"] or not row["speech_end_s"]:
                continue
            if float(row["speech_end_s"]) - float(row["speech_start_s"]) > 0.8:
                continue
            clip, rate = sf.read(io.BytesIO(archive.read(row["path"])), dtype="float32")
            span = speech_span(clip, rate)
            margin = min(span[0], len(clip) / rate - span[1]) if span else 0.0
            counts["clips"] += 1
            counts[0.1] += margin < 0.1 - 1e-6  # 20 ms frames: 0.1 s may come out as 0.0999...
            counts[0.05] += margin < 0.05 - 1e-6
    return counts


if __name__ == "__main__":
    main()

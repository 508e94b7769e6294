"""Import and export throughput against the old pipeline's conversion step, on the same files.

Builds N browser-like takes (Ogg/Opus, 48 kHz mono, ~1.5 s, a real spoken word from tests/data at a
random offset over room noise) in the old TUM app's layout, then times, in one run:
  1. the old conversion step: one `ffmpeg -i x.ogg -ar 16000 x.wav` process per file, as process.sh
     does it (skipped with a note when ffmpeg is absent);
  2. `python -m speechrec import recordings/ --store data/`;
  3. `python -m speechrec export --store data/ --out dataset.zip`;
and prints clips per second for each and the ratios. It also exports a store of N/10 clips and
prints both exports' peak memory, which should not grow with the number of clips.

Usage: python bench/bench_import_export.py [--clips 1000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import psutil
import soundfile as sf
import soxr

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
from signals import encode_with_pyav  # noqa: E402

from speechrec.audio import speech_span  # noqa: E402

SPEECH_DIR = ROOT / "tests" / "data" / "speech"
SAMPLE_RATE = 48000
TAKE_S = 1.5


def make_takes(folder: Path, count: int, seed: int = 0) -> list[Path]:
    """Write ``count`` Opus takes as recordings/<word>-raw/<8 hex>.ogg; return their paths."""
    rng = np.random.default_rng(seed)
    words = {}
    for path in sorted(SPEECH_DIR.glob("*.flac")):
        samples, rate = sf.read(path, dtype="float32")
        start_s, end_s = speech_span(samples, rate)
        spoken = samples[int(start_s * rate) : int(end_s * rate)]
        words[path.stem] = soxr.resample(spoken, rate, SAMPLE_RATE).astype(np.float32)
    if not words:
        sys.exit(f"no speech clips in {SPEECH_DIR}; run tests/data/make_speech.sh")
    names = sorted(words)
    paths = []
    for index in range(count):
        word = names[index % len(names)]
        speech = words[word] * np.float32(10 ** (rng.uniform(-12, 0) / 20))
        take = (rng.standard_normal(int(TAKE_S * SAMPLE_RATE)) * 10 ** (-55 / 20)).astype(np.float32)
        offset = int(rng.integers(int(0.1 * SAMPLE_RATE), len(take) - len(speech) - int(0.1 * SAMPLE_RATE)))
        take[offset : offset + len(speech)] += speech
        session = f"{index // 20:04x}"
        path = folder / f"{word}-raw" / f"{session}{index % 0x10000:04x}.ogg"
        path.parent.mkdir(parents=True, exist_ok=True)
        encode_with_pyav(path, take, SAMPLE_RATE, "ogg", "libopus", SAMPLE_RATE)  # what a browser uploads
        paths.append(path)
    return paths


def children_cpu_s() -> float:
    """CPU seconds (user + system) of this script's finished child processes and theirs."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(command: list[str], cwd: Path) -> tuple[float, float]:
    """Run a command; return (wall seconds, peak RSS in MiB sampled every 10 ms, children included)."""
    start = time.perf_counter()
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = psutil.Popen(command, cwd=cwd, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = 0
    while process.poll() is None:
        with contextlib.suppress(psutil.Error):
            peak = max(peak, sum(p.memory_info().rss for p in [process, *process.children(recursive=True)]))
        time.sleep(0.01)
    elapsed = time.perf_counter() - start
    if process.returncode != 0:
        sys.exit(f"{' '.join(command)} failed: {process.stderr.read().decode()}")
    return elapsed, peak / 2**20


def old_conversion(paths: list[Path], out: Path) -> float | None:
    """Seconds for one ffmpeg process per file, or None when ffmpeg is not installed."""
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        return None
    out.mkdir()
    start = time.perf_counter()
    for index, path in enumerate(paths):
        subprocess.run(
            [ffmpeg, "-loglevel", "error", "-i", str(path), "-ar", "16000", str(out / f"{index}.wav")], check=True
        )
    return time.perf_counter() - start


def marginal_rate(clips: int, seconds: float) -> str:
    """Clips per second of the extra clips, or a note when the runs are too short to tell."""
    return f"{clips / seconds:.0f} clips/s" if seconds > 0.5 else "n/a (too few clips to tell)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clips", type=int, default=2000)
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it")
    args = parser.parse_args()
    if args.clips < 20:
        parser.error("--clips must be at least 20 (a tenth of them is the small run)")
    work = args.keep or Path(tempfile.mkdtemp(prefix="speechrec-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    python = [sys.executable, "-m", "speechrec"]
    campaign = ["--campaign", str(ROOT / "campaign.toml")]
    try:
        paths = make_takes(work / "recordings", args.clips)
        small_paths = paths[: args.clips // 10]
        for path in small_paths:
            target = work / "recordings-small" / path.relative_to(work / "recordings")
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, target)
        print(f"{len(paths)} Opus takes of {TAKE_S} s at {SAMPLE_RATE} Hz in {work}")

        cpu_s = children_cpu_s()
        old_s = old_conversion(paths, work / "old-wav")
        old_cpu_s, cpu_s = children_cpu_s() - cpu_s, children_cpu_s()
        import_s, import_mib = timed([*python, "import", "recordings", "--store", "data", *campaign], work)
        import_cpu_s, cpu_s = children_cpu_s() - cpu_s, children_cpu_s()
        export_s, export_mib = timed([*python, "export", "--store", "data", "--out", "dataset.zip", *campaign], work)
        export_cpu_s = children_cpu_s() - cpu_s
        small_import_s, _ = timed([*python, "import", "recordings-small", "--store", "data-small", *campaign], work)
        small_export_s, small_mib = timed(
            [*python, "export", "--store", "data-small", "--out", "small.zip", *campaign], work
        )

        count, small_count = len(paths), len(small_paths)
        print(f"{'step':<34}{'seconds':>9}{'clips/s':>10}{'peak MiB':>10}")
        if old_s is None:
            print("old conversion (ffmpeg per file)    skipped: ffmpeg is not installed")
        else:
            print(f"{'old conversion (ffmpeg per file)':<34}{old_s:>9.2f}{count / old_s:>10.1f}")
        rows = [
            ("speechrec import", import_s, count, import_mib),
            ("speechrec export", export_s, count, export_mib),
            ("speechrec import (N/10 clips)", small_import_s, small_count, None),
            ("speechrec export (N/10 clips)", small_export_s, small_count, small_mib),
        ]
        for name, seconds, clips, mib in rows:
            print(f"{name:<34}{seconds:>9.2f}{clips / seconds:>10.1f}" + (f"{mib:>10.0f}" if mib else ""))
        # Each command is a fixed start (interpreter, imports, worker processes) plus work per clip;
        # the two runs of different size separate them (meaningful from about a thousand clips).
        import_marginal = marginal_rate(count - small_count, import_s - small_import_s)
        export_marginal = marginal_rate(count - small_count, export_s - small_export_s)
        print(f"per-clip throughput without the fixed start: import {import_marginal}, export {export_marginal}")
        if old_s is not None:
            print(f"import speed / old conversion speed: {old_s / import_s:.1f}x for the whole command (target >= 30x)")
        # On a shared machine other load slows each step by a different amount; CPU time varies less.
        old_cpu = (
            f"old conversion {old_cpu_s / count * 1e3:.1f} ms ({old_cpu_s / import_cpu_s:.0f}x), " if old_s else ""
        )
        print(
            f"CPU time per clip (all processes): {old_cpu}import {import_cpu_s / count * 1e3:.2f} ms, "
            f"export {export_cpu_s / count * 1e3:.2f} ms"
        )
        # Two cores at best: the export's CPU time over two is the whole command's time on an idle machine.
        print(
            f"export: {count / export_s:.0f} clips/s for the whole command (target >= 1000); "
            f"{2 * count / export_cpu_s:.0f} clips/s if its CPU time were spread over two idle cores"
        )
        print(f"export peak memory, N clips / N/10 clips: {export_mib / small_mib:.2f} (flat = about 1)")
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

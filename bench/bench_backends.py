"""The two back-end pairs side by side: SQLite + a local folder against PostgreSQL + S3.

For each pair it measures, on a fresh store:
1. takes stored per second through ClipStore.add_clip, one call per take as the app stores live
   takes (FLAC encoding, the audio write, one row): a 1.5 s, 48 kHz take of a spoken word made
   once, stored from one thread, then from 4 threads at once;
2. the Stats page's load time at N clip rows, with bench_stats.py's fill and queries: the time to
   open the store, then every query cold (store just opened) and warm.
It prints the figures in two columns and the ratio PG+S3 / SQLite of each.

PostgreSQL (Debian's) and moto's S3 server run on 127.0.0.1 as in the tests (tests/backends.py)
and are stopped at the end.

Usage: python bench/bench_backends.py [--takes 300] [--clips 100000] [--backend sqlite|postgresql-s3|both]
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "bench")]
from backends import S3_ENVIRONMENT, MotoServer, PostgresServer  # noqa: E402
from bench_stats import fill, time_stats_page  # noqa: E402
from signals import make_take  # noqa: E402

from speechrec.campaign import Campaign, load_campaign  # noqa: E402
from speechrec.config import Settings, load_settings  # noqa: E402
from speechrec.quality import QualityReport, assess_take  # noqa: E402
from speechrec.store import ClipStore  # noqa: E402

SQLITE = "sqlite"
REMOTE = "postgresql-s3"
COLUMNS = {SQLITE: "SQLite+folder", REMOTE: "PG+S3 (moto)"}
SAMPLE_RATE = 48000
TAKE_S = 1.5
THREADS = (1, 4)

HEADER = """\
Back-end pairs side by side: SQLite + a local folder, and PostgreSQL + S3, all on this machine.
S3 is moto's server: an in-process Python emulation on loopback, so the S3 figures show the cost of
the code path (s3fs, HTTP, one PUT per take), not of a real S3 service, which has more latency per
request and does not share the CPU with this process. PostgreSQL runs with fsync off (as in the
tests), while SQLite and the folder fsync every take. Ratio = PG+S3 / SQLite: below 1 for takes/s,
above 1 for times, means PG+S3 is slower."""

Figures = dict[str, float]
SettingsFactory = Callable[[], Settings]


def store_takes(
    store: ClipStore, campaign: Campaign, take: np.ndarray, quality: QualityReport, count: int, threads: int
) -> float:
    """Store ``count`` copies of ``take`` with add_clip, spread over ``threads`` threads; return takes/s."""
    speaker_id = store.create_speaker(consent_version=1).speaker_id

    def store_some(takes: int) -> None:
        for index in range(takes):
            store.add_clip(
                take,
                SAMPLE_RATE,
                quality,
                keyword=campaign.words[index % len(campaign.words)],
                speaker_id=speaker_id,
                session_id=f"bench-{threads}",
                source="webrtc",
                consent_version=1,
            )

    store_some(1)  # connections and clients made outside the timing, as in a running app
    shares = [count // threads + (thread < count % threads) for thread in range(threads)]
    start = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(store_some, shares))
    return count / (time.perf_counter() - start)


def measure(new_settings: SettingsFactory, campaign: Campaign, takes: int, clips: int) -> Figures:
    """Every figure of one back-end pair, each on a fresh store from ``new_settings``."""
    take = make_take(sample_rate=SAMPLE_RATE, duration_s=TAKE_S, word="yes")
    quality = assess_take(take, SAMPLE_RATE, campaign.clip_duration_s)
    if quality.flags:
        sys.exit(f"the benchmark take is flagged {quality.flags}; the app would not store it")
    figures = {}
    for threads in THREADS:
        with contextlib.closing(ClipStore(new_settings())) as store:
            figures[f"takes stored per second, {threads} thread{'s' * (threads > 1)}"] = store_takes(
                store, campaign, take, quality, takes, threads
            )
    settings = new_settings()
    start = time.perf_counter()
    with contextlib.closing(ClipStore(settings)) as store:
        fill(store, campaign, clips)
    figures[f"fill {clips} clip rows (s)"] = time.perf_counter() - start
    start = time.perf_counter()
    with contextlib.closing(ClipStore(settings)) as store:
        figures[f"open the store at {clips} clips (ms)"] = (time.perf_counter() - start) * 1000
        for label, seconds in time_stats_page(store, campaign).items():
            for name, query_s in {**seconds, "all of the Stats page": sum(seconds.values())}.items():
                figures[f"{label}: {name} (ms)"] = query_s * 1000
    return figures


def sqlite_settings(work: Path) -> SettingsFactory:
    """Fresh SQLite + folder Settings under ``work``, a new folder each call."""
    folders = itertools.count()
    return lambda: load_settings(work / f"sqlite-{next(folders)}", environ={})


def remote_settings(work: Path, servers: contextlib.ExitStack) -> SettingsFactory:
    """Start PostgreSQL and moto (closed with ``servers``); fresh Settings on a new database and
    bucket each call. Sets the AWS_* variables that point s3fs at moto."""
    postgres = servers.enter_context(contextlib.closing(PostgresServer()))
    moto = servers.enter_context(contextlib.closing(MotoServer()))
    os.environ.update({**S3_ENVIRONMENT, "AWS_ENDPOINT_URL": moto.endpoint_url})
    return lambda: load_settings(
        work / "remote",
        database_url=postgres.create_database(),
        storage_url=f"s3://{moto.create_bucket()}/audio",
        environ={},
    )


def print_table(results: dict[str, Figures]) -> None:
    """The figures in one column per back-end pair, and the ratio when both ran."""
    names = list(results)
    figures = list(results[names[0]])
    width = max(map(len, figures)) + 2
    print(
        f"\n{'':<{width}}" + "".join(f"{COLUMNS[name]:>16}" for name in names) + ("   ratio" if len(names) == 2 else "")
    )
    for figure in figures:
        values = [results[name][figure] for name in names]
        ratio = f"{values[1] / values[0]:8.2f}" if len(values) == 2 and values[0] else ""
        print(f"{figure:<{width}}" + "".join(f"{value:16.1f}" for value in values) + ratio)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--takes", type=int, default=300, help="takes stored per thread count (default 300)")
    parser.add_argument("--clips", type=int, default=100_000, help="clip rows for the Stats page (default 100000)")
    parser.add_argument("--backend", choices=(SQLITE, REMOTE, "both"), default="both")
    args = parser.parse_args()
    print(HEADER)
    print(f"{args.takes} takes of {TAKE_S} s at {SAMPLE_RATE} Hz per thread count; Stats at {args.clips} clips.")
    campaign = load_campaign(ROOT / "campaign.toml")
    work = Path(tempfile.mkdtemp(prefix="speechrec-backends-bench-"))
    try:
        with contextlib.ExitStack() as servers:
            factories = {SQLITE: lambda: sqlite_settings(work), REMOTE: lambda: remote_settings(work, servers)}
            results = {}
            for name in (SQLITE, REMOTE) if args.backend == "both" else (args.backend,):
                print(f"measuring {COLUMNS[name]} ...", flush=True)
                results[name] = measure(factories[name](), campaign, args.takes, args.clips)
        print_table(results)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

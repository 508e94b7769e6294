"""The Review page's work per keypress and the Stats page's queries on stores of 10k, 100k and 1M clips.

Fills each store with clip rows in bulk (SQLite: executemany of 10 000 rows per transaction;
PostgreSQL: COPY; no audio: every row names one shared FLAC), on SQLite (a data folder) and on PostgreSQL (a throw-away
cluster on 127.0.0.1 from tests/backends.py, fsync off), then:

- per keypress, as the Review page does after a click: the decision (``set_status``), the next
  clip (``next_to_review``, one LIMIT 1 query) and the count (``count_to_review``); and the page's
  other queries on that run (the filters' keyword and speaker lists, the speaker's clips shown
  under the clip). Walks KEYPRESSES clips of the default queue (pending, newest first, the clips
  handled so far excluded), and of a queue filtered to one keyword and flagged clips.
- the same with the model check's doubt first, and with the doubted clips only (a check that
  doubts 5 % of the clips: DOUBTED_SHARE, ``ClipStore.replace_doubt``, timed too);
- the Stats page: every query it makes, as bench_stats.py times them (cold, then warm).

The rows: speakers of 100 clips each, the campaign's words plus 1 % background noise, over 60
days, 60 % accepted, 8 % rejected, the rest pending, 10 % with a quality flag.

Usage: python bench/bench_review.py [--clips 10000 100000 1000000] [--backends sqlite postgresql]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests"))

import numpy as np  # noqa: E402
from backends import PostgresServer  # noqa: E402
from bench_stats import time_stats_page  # noqa: E402
from sqlalchemy import insert, select  # noqa: E402

from speechrec.campaign import NOISE_KEYWORD, SOURCES, Campaign, load_campaign  # noqa: E402
from speechrec.config import Settings, load_settings  # noqa: E402
from speechrec.decode import encode_flac  # noqa: E402
from speechrec.quality import assess_take  # noqa: E402
from speechrec.review import REVIEW_COUNT_LIMIT, ReviewFilter  # noqa: E402
from speechrec.schema import clips_table, create_engine, speakers_table  # noqa: E402
from speechrec.store import ClipStore  # noqa: E402

BATCH = 10_000
# The model check's doubt: every clip gets one, this share of them above DOUBTED_ABOVE.
DOUBTED_SHARE = 0.05
CLIPS_PER_SPEAKER = 100
KEYPRESSES = 30
# Every row names this one FLAC; the first row has its clip id, so the store finds it referenced.
SHARED_CLIP_ID = "0" * 32
SHARED_AUDIO_KEY = f"clips/00000000/{SHARED_CLIP_ID}.flac"
# How SQLAlchemy stores a datetime in SQLite (its DATETIME type's storage format).
SQLITE_TIME = "%Y-%m-%d %H:%M:%S.%f"


def fill(settings: Settings, campaign: Campaign, count: int) -> None:
    """Insert ``count`` clip rows and their speakers straight into the tables (the schema made by
    opening a ClipStore first), and the one FLAC they all name. Rows come in the order takes
    arrive (created_at rising); PostgreSQL loads them with COPY, SQLite with executemany."""
    store = ClipStore(settings)
    samples = np.concatenate([np.zeros(8000), np.sin(np.arange(8000) / 5) * 0.3, np.zeros(8000)]).astype(np.float32)
    store.audio.put(SHARED_AUDIO_KEY, encode_flac(samples, 16000))
    clean = assess_take(samples, 16000).to_row()
    flagged = {**clean, "flags": "too_quiet"}
    store.close()
    generator = random.Random(0)
    now = datetime.now(UTC)
    first = now - timedelta(days=60)
    speakers = [f"{index:08x}" for index in range(1, max(2, count // CLIPS_PER_SPEAKER + 1))]
    words = list(campaign.words)
    columns = [column.name for column in clips_table.columns]
    engine = create_engine(settings.database_url)
    with engine.begin() as connection:
        connection.execute(
            insert(speakers_table),
            [{"speaker_id": speaker, "origin": "import", "created_at": now} for speaker in speakers],
        )
        # Built once after the load (a sort each) instead of row by row in random order: the same
        # indexes, many times faster to fill.
        for index in clips_table.indexes:
            index.drop(connection)

    def rows(start: int, stop: int) -> list[tuple]:
        batch = []
        for number in range(start, stop):
            draw = generator.random()
            status = "accepted" if draw < 0.6 else "rejected" if draw < 0.68 else "pending"
            speaker = generator.choice(speakers)
            created_at = first + timedelta(seconds=60 * 86400 * number / count)
            row = {
                "clip_id": SHARED_CLIP_ID if number == 0 else uuid.UUID(int=generator.getrandbits(128)).hex,
                "keyword": NOISE_KEYWORD if generator.random() < 0.01 else generator.choice(words),
                "speaker_id": speaker,
                "session_id": f"{speaker}-1",
                "created_at": created_at if sqlite is None else created_at.strftime(SQLITE_TIME),
                "source": generator.choice(SOURCES),
                "source_path": None,
                "source_sha1": None,
                "sample_rate": 16000,
                "audio_key": SHARED_AUDIO_KEY,
                **(flagged if generator.random() < 0.1 else clean),
                "status": status,
                "reason": "too quiet" if status == "rejected" else None,
                "reviewer": None if status == "pending" else "bench",
                "reviewed_at": None if status == "pending" else (now if sqlite is None else now.strftime(SQLITE_TIME)),
                "consent_version": None,
                "version": 0,
            }
            # Columns added by later revisions (variation, near_miss_of, raw, the fingerprint) stay
            # NULL, as for old rows.
            batch.append(tuple(row.get(name) for name in columns))
        return batch

    sqlite = None if engine.dialect.name != "sqlite" else engine.raw_connection()
    if sqlite is not None:
        sqlite.execute(f"PRAGMA cache_size = -{256 * 1024}")  # 256 MB: the indexes of 1M rows stay in memory
        statement = f"INSERT INTO clips ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
        for start in range(0, count, BATCH):
            sqlite.executemany(statement, rows(start, min(count, start + BATCH)))
            sqlite.commit()
        sqlite.close()
    else:
        connection = engine.raw_connection()
        with connection.cursor() as cursor, cursor.copy(f"COPY clips ({', '.join(columns)}) FROM STDIN") as copy:
            for start in range(0, count, BATCH):
                for row in rows(start, min(count, start + BATCH)):
                    copy.write_row(row)
        connection.commit()
        connection.close()
    with engine.begin() as connection:
        for index in clips_table.indexes:
            index.create(connection)
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as autocommit:
            autocommit.exec_driver_sql("VACUUM ANALYZE")  # as autovacuum would after a bulk load
    engine.dispose()


def keep_doubt(store: ClipStore) -> tuple[float, int, int]:
    """A model check's doubt about every clip, DOUBTED_SHARE of them doubted, kept in the store as a
    check keeps it; returns (seconds of ``replace_doubt``, clips checked, doubted clips kept)."""
    generator = random.Random(1)
    with store._engine.connect() as connection:
        clips = connection.execute(select(clips_table.c.clip_id, clips_table.c.keyword)).all()
    doubt = [
        (clip_id, keyword, 0.5 + generator.random() / 2 if generator.random() < DOUBTED_SHARE else generator.random() / 2)
        for clip_id, keyword in clips
    ]
    start = time.perf_counter()
    kept = store.replace_doubt("b" * 32, datetime.now(UTC), doubt)
    return time.perf_counter() - start, len(doubt), kept


def time_keypresses(store: ClipStore, queue: ReviewFilter) -> tuple[dict[str, list[float]], list[float]]:
    """Seconds per keypress: the decision, the next clip, the count, and the page's other queries;
    and this process's CPU seconds for the decision, next clip and count (SQLite works in-process:
    on a machine shared with other work, CPU time is the work, wall time also the waiting)."""
    cpu: list[float] = []
    seconds: dict[str, list[float]] = {
        "decision": [],
        "next clip": [],
        f"count (up to {REVIEW_COUNT_LIMIT:,})": [],
        "other page queries": [],
        "exact count (not on the page)": [],
    }
    done: list[str] = []
    clip = store.next_to_review(queue)
    for number in range(KEYPRESSES):
        if clip is None:
            break
        start, cpu_start = time.perf_counter(), time.process_time()
        store.set_status(clip.clip_id, "accepted" if number % 2 else "rejected", reviewer="bench")
        done.append(clip.clip_id)
        decided = time.perf_counter()
        current = ReviewFilter(**{**vars(queue), "exclude": done})
        clip = store.next_to_review(current)
        found = time.perf_counter()
        store.count_to_review(current, limit=REVIEW_COUNT_LIMIT)
        counted = time.perf_counter()
        cpu.append(time.process_time() - cpu_start)
        store.keywords()
        store.speaker_ids()
        if clip is not None:
            store.clips(speaker_id=clip.speaker_id)
        finished = time.perf_counter()
        store.count_to_review(current)
        exact = time.perf_counter() - finished
        steps = (decided - start, found - decided, counted - found, finished - counted, exact)
        for name, value in zip(seconds, steps, strict=True):
            seconds[name].append(value)
    return seconds, cpu


@contextmanager
def backend_settings(backend: str, work: Path) -> Iterator[Callable[[str], Settings]]:
    """A factory of fresh Settings per store size on ``backend``."""
    if backend == "sqlite":
        yield lambda name: load_settings(work / name, environ={})
        return
    server = PostgresServer()
    try:
        yield lambda name: load_settings(
            work / name, database_url=server.create_database(), storage_url=str(work / name / "audio"), environ={}
        )
    finally:
        server.close()


def milliseconds(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:7.1f} ms (max {max(values) * 1000:6.1f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clips", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--backends", nargs="+", choices=["sqlite", "postgresql"], default=["sqlite", "postgresql"])
    args = parser.parse_args()
    campaign = load_campaign(ROOT / "campaign.toml")
    queues = {
        "default queue (pending, newest first)": ReviewFilter(),
        f"one keyword, flagged ({campaign.keywords[0]!r})": ReviewFilter(
            keywords=[campaign.keywords[0]], flag="flagged"
        ),
        "the model's doubt first": ReviewFilter(doubt_first=True),
        "doubted by the model only, doubt first": ReviewFilter(doubted_only=True, doubt_first=True),
    }
    work = Path(tempfile.mkdtemp(prefix="speechrec-review-bench-"))
    keypress: dict[tuple[str, int], float] = {}
    try:
        for backend in args.backends:
            with backend_settings(backend, work) as make_settings:
                for count in args.clips:
                    settings = make_settings(f"{backend}-{count}")
                    start = time.perf_counter()
                    fill(settings, campaign, count)
                    filled = time.perf_counter() - start
                    start = time.perf_counter()
                    store = ClipStore(settings)
                    opened = time.perf_counter() - start
                    print(f"\n{backend}, {count:,} clips (filled in {filled:.1f} s, store opened in {opened:.2f} s)")
                    print(f"  load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
                    doubt_s, checked, doubted = keep_doubt(store)
                    print(f"  a model check of {checked:,} clips: its {doubted:,} doubted clips kept in {doubt_s:.2f} s")
                    for label, queue in queues.items():
                        seconds, cpu = time_keypresses(store, queue)
                        core = [sum(values) for values in zip(*list(seconds.values())[:3], strict=True)]
                        page = [sum(values) for values in zip(*list(seconds.values())[:4], strict=True)]
                        print(f"  {label}: {len(core)} keypresses, median per keypress")
                        for name, values in seconds.items():
                            print(f"    {name:<28}{milliseconds(values)}")
                        print(
                            f"    {'decision + next + count':<28}{milliseconds(core)}  (target at 1M on SQLite: < 100 ms)"
                        )
                        print(f"    {'all of the page queries':<28}{milliseconds(page)}")
                        print(f"    {'decision + next + count, CPU':<28}{milliseconds(cpu)}  (this process)")
                        keypress.setdefault((backend, count), statistics.median(core))
                    cpu_start = time.process_time()
                    rounds = time_stats_page(store, campaign)
                    stats_cpu = (time.process_time() - cpu_start) / len(rounds)
                    for label, times in rounds.items():
                        detail = ", ".join(f"{name} {value * 1000:.0f}" for name, value in times.items())
                        print(f"  Stats page, {label}: {sum(times.values()) * 1000:.1f} ms ({detail} ms)")
                    print(
                        f"  Stats page, CPU of this process per round: {stats_cpu * 1000:.1f} ms (target at 100k: < 300 ms)"
                    )
                    store.close()
                    shutil.rmtree(work / f"{backend}-{count}", ignore_errors=True)
        for backend in args.backends:
            sizes = sorted(count for name, count in keypress if name == backend)
            if len(sizes) > 1:
                ratio = keypress[(backend, sizes[-1])] / keypress[(backend, sizes[0])]
                print(
                    f"{backend}: per keypress (default queue) at {sizes[-1]:,} / at {sizes[0]:,} = {ratio:.2f} (target < 3)"
                )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

"""Load time of the Stats page's numbers on a large store.

Fills a fresh store with N clip rows (default 100 000: 100 speakers x campaign words, mixed statuses
and quality flags, spread over 30 days) through ClipStore.add_clips, without audio files (the stats
read none), then times every query the Stats page makes, cold (new store object) and warm.

Usage: python bench/bench_stats.py [--clips 100000]
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
import time
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from sqlalchemy import bindparam, create_engine, update  # noqa: E402

from speechrec.campaign import Campaign, load_campaign  # noqa: E402
from speechrec.config import load_settings  # noqa: E402
from speechrec.quality import assess_take  # noqa: E402
from speechrec.records import NewClip  # noqa: E402
from speechrec.schema import clips_table  # noqa: E402
from speechrec.stats import keyword_counts, speaker_table, totals  # noqa: E402
from speechrec.store import ClipStore  # noqa: E402

BATCH = 5000
ROUNDS = ("cold (store just opened)", "warm")


def fill(store: ClipStore, campaign: Campaign, count: int) -> None:
    """Add ``count`` rows: clean and flagged reports, all three statuses, many speakers and days."""
    generator = random.Random(0)
    clean = assess_take(
        np.concatenate([np.zeros(8000), np.sin(np.arange(8000) / 5) * 0.3, np.zeros(8000)]).astype(np.float32), 16000
    )
    flagged = replace(clean, flags=("too_quiet",))
    speakers = [f"{index:08x}" for index in range(max(1, count // 1000))]
    for speaker_id in speakers:
        store.ensure_speaker(speaker_id)
    words = list(campaign.words)
    now = datetime.now(UTC)
    # Set after each batch with portable SQL, so that any back-end can be filled.
    decide = (
        update(clips_table)
        .where(clips_table.c.clip_id == bindparam("row_id"))
        .values(created_at=bindparam("row_created_at"), status=bindparam("row_status"))
    )
    engine = create_engine(store.settings.database_url)
    for start in range(0, count, BATCH):
        batch = [
            NewClip(
                keyword=generator.choice(words),
                speaker_id=generator.choice(speakers),
                session_id="bench",
                source="import",
                sample_rate=16000,
                flac_bytes=None,
                quality=flagged if generator.random() < 0.1 else clean,
                clip_id=uuid.UUID(int=generator.getrandbits(128)).hex,
            )
            for _ in range(min(BATCH, count - start))
        ]
        store.add_clips(batch)
        with engine.begin() as connection:
            connection.execute(decide, [{"row_id": clip.clip_id, **review_decision(generator, now)} for clip in batch])
    engine.dispose()


def review_decision(generator: random.Random, now: datetime) -> dict[str, object]:
    """A take time in the 30 days before ``now`` and a review status (60 % accepted, 8 % rejected)."""
    draw = generator.random()
    return {
        "row_created_at": now - timedelta(days=generator.randrange(30)),
        "row_status": "accepted" if draw < 0.6 else "rejected" if draw < 0.68 else "pending",
    }


def time_stats_page(store: ClipStore, campaign: Campaign) -> dict[str, dict[str, float]]:
    """Seconds each query of the Stats page takes, by name, per round in ROUNDS: cold (when called
    on a store just opened), then warm."""
    shared = {}  # as on the page: the status counts and the speaker table serve the totals too
    queries = {
        "status counts": lambda: shared.update(counts=store.status_counts()),
        "per speaker": lambda: shared.update(speakers=speaker_table(store)),
        "totals": lambda: totals(store, counts=shared["counts"], speaker_count=len(shared["speakers"])),
        "per word": lambda: keyword_counts(store, campaign, counts=shared["counts"]),
        "per day": store.daily_counts,
    }
    rounds = {}
    for label in ROUNDS:
        seconds = {}
        for name, query in queries.items():
            start = time.perf_counter()
            query()
            seconds[name] = time.perf_counter() - start
        rounds[label] = seconds
    return rounds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clips", type=int, default=100_000)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="speechrec-stats-bench-"))
    try:
        campaign = load_campaign(ROOT / "campaign.toml")
        settings = load_settings(work, environ={})
        start = time.perf_counter()
        fill(ClipStore(settings), campaign, args.clips)
        print(f"filled {args.clips} clip rows in {time.perf_counter() - start:.1f} s")
        store = ClipStore(settings)  # opened fresh: the first round is cold, the second warm
        for label, seconds in time_stats_page(store, campaign).items():
            print(label)
            for name, query_s in seconds.items():
                print(f"  {name:<28}{query_s * 1000:8.1f} ms")
            print(f"  {'all of the Stats page':<28}{sum(seconds.values()) * 1000:8.1f} ms (target: well under 1000 ms)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

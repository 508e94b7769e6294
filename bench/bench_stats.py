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
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402

from speechrec.config import load_campaign, load_settings  # noqa: E402
from speechrec.quality import assess_take  # noqa: E402
from speechrec.stats import keyword_counts, speaker_table, totals  # noqa: E402
from speechrec.store import ClipStore, NewClip  # noqa: E402

BATCH = 5000


def fill(store: ClipStore, campaign, count: int) -> None:
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
    # Spread the takes over 30 days and make review decisions (SQLite SQL: the default store).
    with create_engine(store.settings.database_url).begin() as connection:
        connection.execute(
            text("UPDATE clips SET created_at = datetime(created_at, '-' || (abs(random()) % 30) || ' days')")
        )
        connection.execute(text("UPDATE clips SET status = 'accepted' WHERE abs(random()) % 10 < 6"))
        connection.execute(
            text("UPDATE clips SET status = 'rejected' WHERE status = 'pending' AND abs(random()) % 10 < 2")
        )


def timed(name: str, query) -> float:
    start = time.perf_counter()
    query()
    seconds = time.perf_counter() - start
    print(f"  {name:<28}{seconds * 1000:8.1f} ms")
    return seconds


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
        for label in ("cold (store just opened)", "warm"):
            print(label)
            seconds = [
                timed("totals", partial(totals, store)),
                timed("per word", partial(keyword_counts, store, campaign)),
                timed("per speaker", partial(speaker_table, store)),
                timed("per day", store.daily_counts),
            ]
            print(f"  {'all of the Stats page':<28}{sum(seconds) * 1000:8.1f} ms (target: well under 1000 ms)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

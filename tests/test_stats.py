"""keyword_counts and noise_duration_s against hand counts on a real store."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest
from conftest import BACKENDS
from signals import make_take, steady_noise
from sqlalchemy import create_engine, update

from speechrec.campaign import NOISE_KEYWORD, Campaign
from speechrec.quality import assess_take
from speechrec.schema import clips_table
from speechrec.stats import COUNT_COLUMNS, keyword_counts, noise_duration_s, speaker_table, totals
from speechrec.store import ClipStore

RATE = 16000
COLUMNS = ["keyword", "kind", "total", "accepted", "pending", "flagged", "rejected", "target", "progress"]
CAMPAIGN = Campaign(
    title="stats test",
    keywords=("yes", "no", "up"),
    filler_words=("bed", "tree"),
    consent_text="You agree to the test.",
    target_per_keyword=2,
)


def clean_take(seed: int = 0) -> np.ndarray:
    return make_take(duration_s=0.6, offset_s=0.1, burst_s=0.3, seed=seed)


def flagged_take(seed: int = 0) -> np.ndarray:
    # Nothing stands out of the noise: flagged no_speech.
    return make_take(duration_s=0.6, offset_s=0.1, burst_s=0.3, level_dbfs=-55.0, seed=seed)


def add(store: ClipStore, speaker: str, keyword: str, status: str, *, flagged: bool = False, seed: int = 0) -> str:
    samples = flagged_take(seed) if flagged else clean_take(seed)
    quality = assess_take(samples, RATE)
    assert bool(quality.flags) == flagged
    clip_id = store.add_clip(
        samples, RATE, quality, keyword=keyword, speaker_id=speaker, session_id="s", source="webrtc"
    )
    if status != "pending":
        store.set_status(clip_id, status, reviewer="tester")
    return clip_id


def add_noise(store: ClipStore, speaker: str, duration_s: float, status: str) -> str:
    samples = steady_noise(duration_s, RATE, -40.0)
    quality = assess_take(samples, RATE, expect_speech=False)
    clip_id = store.add_clip(
        samples, RATE, quality, keyword=NOISE_KEYWORD, speaker_id=speaker, session_id="s", source="webrtc"
    )
    if status != "pending":
        store.set_status(clip_id, status)
    return clip_id


# word -> (accepted, pending without flag, pending with flag, rejected)
EXPECTED = {
    "yes": (3, 1, 2, 2),
    "no": (0, 0, 0, 0),
    "up": (1, 0, 1, 0),
    "bed": (0, 1, 0, 1),
    "tree": (0, 0, 0, 0),
    "apple": (0, 1, 0, 0),
    "zebra": (1, 0, 1, 0),
}


@pytest.fixture
def filled(store, speaker_id):
    seed = iter(range(1000))
    for word, (accepted, pending, flagged, rejected) in EXPECTED.items():
        for _ in range(accepted):
            add(store, speaker_id, word, "accepted", seed=next(seed))
        for _ in range(pending):
            add(store, speaker_id, word, "pending", seed=next(seed))
        for _ in range(flagged):
            add(store, speaker_id, word, "pending", flagged=True, seed=next(seed))
        for _ in range(rejected):
            add(store, speaker_id, word, "rejected", seed=next(seed))
    # An accepted clip with a flag counts as accepted, a rejected one with a flag as rejected.
    add(store, speaker_id, "yes", "accepted", flagged=True, seed=next(seed))
    add(store, speaker_id, "up", "rejected", flagged=True, seed=next(seed))
    for duration_s, status in ((2.0, "pending"), (3.0, "accepted"), (1.5, "pending"), (4.0, "rejected")):
        add_noise(store, speaker_id, duration_s, status)
    return store


def hand_counts() -> dict[str, dict[str, int]]:
    counts = {}
    for word, (accepted, pending, flagged, rejected) in EXPECTED.items():
        counts[word] = {"accepted": accepted, "pending": pending, "flagged": flagged, "rejected": rejected}
    counts["yes"]["accepted"] += 1
    counts["up"]["rejected"] += 1
    for row in counts.values():
        row["total"] = sum(row.values())
    return counts


def test_counts_equal_hand_counts(filled):
    table = keyword_counts(filled, CAMPAIGN)
    assert list(table.columns) == COLUMNS
    expected = hand_counts()
    assert sorted(table["keyword"]) == sorted(expected)
    for row in table.to_dict(orient="records"):
        assert {name: row[name] for name in COUNT_COLUMNS} == expected[row["keyword"]], row["keyword"]
    assert (table["total"] == table[["accepted", "pending", "flagged", "rejected"]].sum(axis=1)).all()
    assert table["total"].sum() == len(filled.clips()) - 4  # the four noise clips are not words


def test_campaign_words_first_in_campaign_order_then_other_words_sorted(filled):
    table = keyword_counts(filled, CAMPAIGN)
    assert list(table["keyword"]) == ["yes", "no", "up", "bed", "tree", "apple", "zebra"]
    assert list(table["kind"]) == ["keyword"] * 3 + ["filler"] * 2 + ["other"] * 2


def test_campaign_order_is_not_alphabetical(store, speaker_id):
    campaign = Campaign(title="t", keywords=("zulu", "alpha", "mike"), filler_words=("kilo",), consent_text="ok")
    add(store, speaker_id, "alpha", "accepted")
    table = keyword_counts(store, campaign)
    assert list(table["keyword"]) == ["zulu", "alpha", "mike", "kilo"]
    assert list(table["accepted"]) == [0, 1, 0, 0]


def test_target_and_progress(filled):
    table = keyword_counts(filled, CAMPAIGN).set_index("keyword")
    assert list(table["target"]) == [2, 2, 2, 0, 0, 0, 0]
    # yes: 4 accepted of 2 -> capped at 1; up: 1 of 2; no: none; words without a target: 0.
    assert table.at["yes", "progress"] == 1.0
    assert table.at["up", "progress"] == pytest.approx(0.5)
    assert table.at["no", "progress"] == 0.0
    assert table.loc[["bed", "tree", "apple", "zebra"], "progress"].tolist() == [0.0] * 4
    assert table["progress"].between(0.0, 1.0).all()


def test_noise_is_left_out_of_the_word_counts(filled):
    table = keyword_counts(filled, CAMPAIGN)
    assert NOISE_KEYWORD not in set(table["keyword"])


def test_noise_duration_excludes_rejected_noise(filled):
    assert noise_duration_s(filled) == pytest.approx(2.0 + 3.0 + 1.5)


def test_noise_duration_ignores_word_clips(store, speaker_id):
    add(store, speaker_id, "yes", "accepted")
    assert noise_duration_s(store) == 0.0
    add_noise(store, speaker_id, 2.5, "pending")
    assert noise_duration_s(store) == pytest.approx(2.5)


def test_empty_store(store):
    table = keyword_counts(store, CAMPAIGN)
    assert list(table.columns) == COLUMNS
    assert list(table["keyword"]) == list(CAMPAIGN.words)
    assert (table[COUNT_COLUMNS].to_numpy() == 0).all()
    assert (table["progress"] == 0.0).all()
    assert noise_duration_s(store) == 0.0


def test_store_with_only_noise(store, speaker_id):
    add_noise(store, speaker_id, 1.0, "accepted")
    table = keyword_counts(store, CAMPAIGN)
    assert list(table["keyword"]) == list(CAMPAIGN.words)
    assert table["total"].sum() == 0
    assert noise_duration_s(store) == pytest.approx(1.0)


def test_counts_follow_review_changes(store, speaker_id):
    clip_id = add(store, speaker_id, "no", "pending")
    assert keyword_counts(store, CAMPAIGN).set_index("keyword").at["no", "pending"] == 1
    store.set_status(clip_id, "accepted")
    row = keyword_counts(store, CAMPAIGN).set_index("keyword").loc["no"]
    assert (row["pending"], row["accepted"], row["progress"]) == (0, 1, pytest.approx(0.5))
    store.delete_clip(clip_id)
    assert keyword_counts(store, CAMPAIGN).set_index("keyword").at["no", "total"] == 0


def test_speakers_days_and_totals(store):
    for speaker in ("0000000a", "0000000b"):
        store.ensure_speaker(speaker)
    add(store, "0000000a", "yes", "accepted")
    add(store, "0000000a", "no", "rejected", seed=1)
    add(store, "0000000b", "yes", "pending", seed=2)
    add_noise(store, "0000000b", 2.0, "pending")
    speakers = speaker_table(store).set_index("speaker_id")
    assert speakers.loc["0000000a", ["clips", "words"]].tolist() == [2, 2]
    assert speakers.loc["0000000a", "accepted_share"] == 0.5
    assert speakers.loc["0000000b", ["clips", "words", "accepted_share"]].tolist() == [1, 1, 0.0]
    days = store.daily_counts()
    assert days["clips"].tolist() == [3] and len(days) == 1
    headline = totals(store)
    assert (headline["clips"], headline["speakers"]) == (3, 2)
    assert headline["hours"] == pytest.approx(3 * 0.6 / 3600)
    assert headline["noise_s"] == pytest.approx(2.0)
    # The Stats page shares one status count between the headline and the per-word table.
    counts = store.status_counts()
    assert totals(store, counts=counts) == headline
    assert keyword_counts(store, CAMPAIGN, counts=counts).equals(keyword_counts(store, CAMPAIGN))


@pytest.mark.parametrize("backend", BACKENDS)
def test_takes_per_day_over_months(backend_settings):
    """Takes on days weeks apart, across midnight UTC and a month end, noise (the year before) left
    out: the same as counting the clips' UTC dates."""
    store = ClipStore(backend_settings)
    try:
        store.ensure_speaker("0000000a")
        ids = [add(store, "0000000a", "yes", "pending", seed=seed) for seed in range(7)]
        ids.append(add_noise(store, "0000000a", 1.0, "pending"))
        times = ["2024-01-31 23:59:59.999", "2024-02-01 00:00:00", "2024-02-01 12:00", "2024-03-15 08:00",
                 "2024-03-15 09:00", "2024-03-15 10:00", "2024-04-30 23:00", "2023-01-02 06:00"]  # fmt: skip
        engine = create_engine(backend_settings.database_url)
        with engine.begin() as connection:
            for clip_id, moment in zip(ids, times, strict=True):
                when = datetime.fromisoformat(moment).replace(tzinfo=UTC)
                connection.execute(update(clips_table).where(clips_table.c.clip_id == clip_id).values(created_at=when))
        engine.dispose()
        days = store.daily_counts()
        assert days["day"].dt.strftime("%Y-%m-%d").tolist() == ["2024-01-31", "2024-02-01", "2024-03-15", "2024-04-30"]
        assert days["clips"].tolist() == [1, 2, 3, 1]
    finally:
        store.close()

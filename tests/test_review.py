"""The review queue: its rules (tests/review_rules.py) over real store rows, and the SQL queue of
ClipStore against those rules on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
from review_rules import next_clip, review_queue
from signals import make_take
from sqlalchemy import create_engine, select, update

from speechrec.campaign import NOISE_KEYWORD, SOURCES, STATUSES
from speechrec.decode import encode_flac
from speechrec.quality import assess_take
from speechrec.records import NewClip
from speechrec.review import (
    ANY,
    FLAG_CHOICES,
    NO_VARIATION,
    REVIEW_COUNT_LIMIT,
    ReviewFilter,
    take_details,
    to_go_label,
    word_label,
)
from speechrec.schema import clip_doubt_table, clips_table
from speechrec.store import ClipStore

CHECKED_AT = datetime(2024, 6, 9, 12, 0, tzinfo=UTC)


def add(store, speaker_id, keyword, *, quiet=False, seed=0, variation=None):
    samples = make_take(duration_s=0.6, offset_s=0.1, burst_s=0.3, seed=seed, level_dbfs=-55.0 if quiet else -20.0)
    quality = assess_take(samples, 16000)
    return store.add_clip(
        samples, 16000, quality, keyword=keyword, speaker_id=speaker_id, session_id="s", source="webrtc",
        variation=variation,
    )  # fmt: skip


@pytest.fixture
def clips(store, speaker_id):
    ids = {
        "yes-old": add(store, speaker_id, "yes", seed=1),
        "no": add(store, speaker_id, "no", seed=2),
        "yes-quiet": add(store, speaker_id, "yes", quiet=True, seed=3),
        "yes-new": add(store, speaker_id, "yes", seed=4),
    }
    store.set_status(ids["no"], "accepted")
    return store.clips(), ids


def test_pending_newest_first_by_default(clips):
    frame, ids = clips
    assert review_queue(frame)["clip_id"].tolist() == [ids["yes-new"], ids["yes-quiet"], ids["yes-old"]]


def test_filters(clips):
    frame, ids = clips
    assert review_queue(frame, keywords=["no"], status=ANY)["clip_id"].tolist() == [ids["no"]]
    assert review_queue(frame, status="accepted")["clip_id"].tolist() == [ids["no"]]
    assert review_queue(frame, flag="flagged")["clip_id"].tolist() == [ids["yes-quiet"]]
    assert review_queue(frame, flag="no_speech")["clip_id"].tolist() == [ids["yes-quiet"]]
    assert ids["yes-quiet"] not in review_queue(frame, flag="clean")["clip_id"].tolist()
    assert review_queue(frame, exclude=[ids["yes-new"]])["clip_id"].tolist()[0] == ids["yes-quiet"]


def test_word_label():
    assert (word_label("yes"), word_label(NOISE_KEYWORD)) == ("yes", "room noise")


def test_next_clip_keeps_the_clip_on_screen_until_it_is_handled(store, clips):
    frame, ids = clips
    clip, to_go = next_clip(frame)
    assert (clip["clip_id"], to_go) == (ids["yes-new"], 3)
    store.set_status(ids["yes-new"], "rejected", reviewer="ben")  # another organizer, meanwhile
    clip, to_go = next_clip(store.clips(), shown=ids["yes-new"])
    assert (clip["clip_id"], to_go) == (ids["yes-new"], 2)
    clip, _ = next_clip(store.clips(), shown=ids["yes-new"], exclude=[ids["yes-new"]])
    assert clip["clip_id"] == ids["yes-quiet"]
    assert next_clip(frame, keywords=["tum"]) == (None, 0)


def test_speaker_source_and_day_filters(store, clips):
    frame, ids = clips
    other = store.create_speaker(consent_version=1).speaker_id
    late = add(store, other, "yes", seed=5)
    frame = store.clips()
    frame.loc[frame["clip_id"] == late, "source"] = "audio_input"
    assert review_queue(frame, speakers=[other])["clip_id"].tolist() == [late]
    assert review_queue(frame, sources=["audio_input"])["clip_id"].tolist() == [late]
    today = frame["created_at"].max().date()
    assert len(review_queue(frame, days=(today, today))) == 4
    yesterday = today - timedelta(days=1)
    assert review_queue(frame, days=(yesterday, yesterday)).empty
    frame.loc[frame["clip_id"] == ids["yes-old"], "created_at"] -= timedelta(days=1)
    assert review_queue(frame, days=(yesterday, yesterday))["clip_id"].tolist() == [ids["yes-old"]]


# ---- the SQL queue (ClipStore.next_to_review / count_to_review) against the rules above -------------

SPEAKERS = ("0000aaaa", "0000bbbb", "0000cccc")
# Flags as the store keeps them; "noXspeech" would match a LIKE pattern for no_speech whose "_" is not escaped.
FLAG_SETS = ((), ("no_speech",), ("too_quiet",), ("clipped", "cut_off"), ("cut_off",), ("noXspeech",))
# Variations of the word clips (noise, every 4th clip, is asked in none).
VARIATIONS = (None, "soft", None, "loud", "soft")


@pytest.fixture
def varied(backend_settings):
    """A store on each back-end with 48 clips over 3 speakers, 4 keywords (noise too), 3 sources,
    every status, several flag sets, variations and 4 UTC days, some sharing a created_at (ties by
    clip_id)."""
    store = ClipStore(backend_settings)
    samples = make_take(duration_s=0.6, offset_s=0.1, burst_s=0.3, seed=0)
    clean = assess_take(samples, 16000)
    flac = encode_flac(samples, 16000)
    for speaker_id in SPEAKERS:
        store.ensure_speaker(speaker_id)
    batch = []
    for number in range(48):
        batch.append(
            NewClip(
                keyword=("yes", "no", "tum", NOISE_KEYWORD)[number % 4],
                speaker_id=SPEAKERS[number % 3],
                session_id=f"s{number % 5}",
                source=SOURCES[number % 3 if number % 7 else 0],
                sample_rate=16000,
                flac_bytes=flac,
                quality=replace(clean, flags=FLAG_SETS[number % len(FLAG_SETS)]),
                variation=VARIATIONS[number % len(VARIATIONS)] if number % 4 != 3 else None,
            )
        )
    ids = store.add_clips(batch)
    start = datetime(2024, 6, 1, 22, 30, tzinfo=UTC)
    engine = create_engine(backend_settings.database_url)
    with engine.begin() as connection:
        for number, clip_id in enumerate(ids):
            connection.execute(
                update(clips_table)
                .where(clips_table.c.clip_id == clip_id)
                .values(created_at=start + timedelta(hours=2 * (number // 2)))  # pairs share a time
            )
    engine.dispose()
    for number, clip_id in enumerate(ids):
        if number % 3 == 1:
            store.set_status(clip_id, "accepted", reviewer="ana")
        elif number % 5 == 2:
            store.set_status(clip_id, "rejected", reason="too quiet", reviewer="ben")
    doubt = model_doubt(store, ids)
    kept = store.replace_doubt("check-of-varied", CHECKED_AT, [(key, *value) for key, value in doubt.items()])
    assert kept == sum(value > 0.5 for _, value in doubt.values()) > 10
    yield store, ids
    store.close()


def model_doubt(store: ClipStore, ids: list[str]) -> dict[str, tuple[str, float]]:
    """A model check's doubt about half the clips of ``varied``, some above DOUBTED_ABOVE, some tied,
    and two checked under another word (re-labelled since: not doubted)."""
    doubt = {}
    for number, clip_id in enumerate(ids):
        if number % 4 in (0, 1):
            keyword = store.clip(clip_id).keyword if number % 11 else "up"
            doubt[clip_id] = (keyword, (0.35, 0.55, 0.9, 0.55, 0.99, 0.1, 0.75)[number % 7])
    return doubt


def queues(ids: list[str]) -> list[dict]:
    """Filter combinations: each filter alone, with other values, and mixed."""
    days = [
        (date(2024, 6, 2), date(2024, 6, 2)),
        (date(2024, 6, 1), date(2024, 6, 3)),
        (date(2024, 6, 9), date(2024, 6, 9)),
    ]
    single = (
        [{}]
        + [{"status": status} for status in (*STATUSES, ANY)]
        + [{"flag": flag, "status": ANY} for flag in FLAG_CHOICES]
        + [{"keywords": keywords} for keywords in (["yes"], ["no", NOISE_KEYWORD], ["nothing"])]
        + [{"speakers": speakers, "status": ANY} for speakers in ([SPEAKERS[0]], SPEAKERS[1:])]
        + [{"sources": sources} for sources in (["webrtc"], ["audio_input", "import"])]
        + [{"days": day, "status": ANY} for day in days]
        + [{"exclude": ids[-6:]}, {"exclude": ids[::2], "status": ANY}]
        + [{"variations": chosen} for chosen in (["soft"], [NO_VARIATION], ["loud", NO_VARIATION], ["gone"])]
        + [{"doubt_first": True}, {"doubt_first": True, "status": ANY}, {"doubted_only": True, "status": ANY}]
        + [{"doubted_only": True, "doubt_first": True}, {"doubt_first": True, "exclude": ids[::3]}]
    )
    mixed = [
        {"keywords": ["yes", "tum"], "speakers": [SPEAKERS[2]], "status": ANY, "flag": "flagged"},
        {"sources": ["webrtc"], "days": days[1], "flag": "cut_off", "status": "pending"},
        {"keywords": [NOISE_KEYWORD], "flag": "clean", "exclude": ids[:10], "status": "accepted"},
        {"keywords": ["yes", "no"], "variations": ["loud"], "status": ANY, "exclude": ids[:6]},
        {"keywords": ["yes", NOISE_KEYWORD], "flag": "flagged", "doubt_first": True, "status": ANY},
        {"speakers": SPEAKERS[:2], "doubted_only": True, "exclude": ids[:12], "status": ANY},
        {"flag": "clean", "doubt_first": True, "sources": ["webrtc", "import"]},
    ]
    return single + mixed


def test_the_sql_queue_follows_the_rules(varied):
    store, ids = varied
    frame = store.clips()
    doubt = model_doubt(store, ids)
    for filters in queues(ids):
        queue = ReviewFilter(**filters)
        expected = review_queue(frame, doubt=doubt, **filters)["clip_id"].tolist()
        assert store.count_to_review(queue) == len(expected), filters
        for limit in (0, 1, 4, 100):  # the page's bounded count: exact up to the limit, limit + 1 beyond
            assert store.count_to_review(queue, limit=limit) == min(len(expected), limit + 1), (filters, limit)
        found = store.next_to_review(queue)
        assert (found.clip_id if found else None) == (expected[0] if expected else None), filters
        for shown in (ids[0], ids[5], ids[-1]):
            clip, _ = next_clip(frame, shown=shown, doubt=doubt, **filters)
            found = store.next_to_review(queue, shown=shown)
            assert (found.clip_id if found else None) == (None if clip is None else clip["clip_id"]), (filters, shown)


@pytest.mark.parametrize("doubt_first", [False, True], ids=["newest first", "doubt first"])
def test_the_queue_walks_in_order_as_decisions_and_skips_exclude_clips(varied, doubt_first):
    """A review session: decide or skip the head each time; the SQL queue gives the rules' order."""
    store, ids = varied
    doubt = model_doubt(store, ids)
    done: list[str] = []
    seen = []
    while (clip := store.next_to_review(ReviewFilter(exclude=done, doubt_first=doubt_first))) is not None:
        expected, count = next_clip(store.clips(), exclude=done, doubt=doubt, doubt_first=doubt_first)
        queue = ReviewFilter(exclude=done, doubt_first=doubt_first)
        assert (clip.clip_id, store.count_to_review(queue)) == (expected["clip_id"], count)
        if len(seen) % 2:
            store.set_status(clip.clip_id, "accepted")
        seen.append(clip.clip_id)
        done.append(clip.clip_id)
    assert len(seen) == len(set(seen)) > 5


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        ({"status": "approved"}, "status must be one of pending, accepted, rejected, any, got 'approved'"),
        ({"flag": "loud"}, "flag must be one of any, clean, flagged, too_quiet"),
        ({"sources": ["phone"]}, "sources must be among webrtc, audio_input, import, got 'phone'"),
        ({"doubt_first": "yes"}, "doubt_first must be True or False, got 'yes'"),
        ({"doubted_only": ("a" * 32,)}, "doubted_only must be True or False, got ('aaaa"),
    ],
)
def test_review_filter_refuses_unknown_values(filters, message):
    with pytest.raises((ValueError, TypeError), match=re.escape(message)):
        ReviewFilter(**filters)


def test_to_go_label():
    assert [to_go_label(count, 100) for count in (0, 100, 101)] == ["0", "100", "more than 100"]
    assert to_go_label(12345, 20000) == "12,345"
    assert REVIEW_COUNT_LIMIT >= 1000


def test_counts_for_pages_are_counted_in_sql(store, speaker_id):
    add(store, speaker_id, "yes", seed=1)
    add(store, speaker_id, "yes", seed=2)
    add(store, speaker_id, NOISE_KEYWORD, seed=3)
    assert store.clip_count() == store.clip_count(speaker_id=speaker_id) == 3
    assert store.clip_count(keyword="yes", session_id="s") == 2 and store.clip_count(session_id="other") == 0
    assert store.takes_per_keyword(speaker_id) == {"yes": 2, NOISE_KEYWORD: 1}
    assert store.keywords() == sorted(["yes", NOISE_KEYWORD])
    assert store.speaker_ids() == [speaker_id]


@pytest.mark.parametrize(
    ("variation", "near_miss_of", "details"),
    [
        ("soft", None, "variation soft"),
        (None, "hey jarvis|hey robot", "near miss of hey jarvis, hey robot"),
        ("loud", "stop", "variation loud · near miss of stop"),
        (None, None, ""),
        (float("nan"), float("nan"), ""),  # as a pandas row gives missing values
    ],
)
def test_take_details(variation, near_miss_of, details):
    assert take_details(variation, near_miss_of) == details


def walk(store, queue):
    """The clip ids of the SQL queue in the order Review shows them (each handled in turn)."""
    order = []
    while (clip := store.next_to_review(replace(queue, exclude=order))) is not None:
        order.append(clip.clip_id)
    return order


def test_doubt_puts_the_most_doubtful_first_and_flags_count_as_even_odds(store, clips):
    frame, ids = clips
    flagged = frame["clip_id"] == ids["yes-quiet"]
    assert frame.loc[flagged, "flags"].iloc[0] != ""  # the quiet take has a quality flag
    assert store.doubt_check() is None
    doubt = [(ids["yes-old"], "yes", 0.9), (ids["yes-new"], "yes", 0.2), (ids["yes-quiet"], "yes", 0.1)]
    store.replace_doubt("f" * 32, CHECKED_AT, doubt)
    assert (store.doubt_check().fingerprint, store.doubt_check().checked_at) == ("f" * 32, CHECKED_AT)
    # 0.9 first; the flagged take (0.1 from the model, a flag counts as even odds) next; then 0.2.
    first = walk(store, ReviewFilter(keywords=["yes"], doubt_first=True))
    assert first == [ids["yes-old"], ids["yes-quiet"], ids["yes-new"]]
    # Without the doubt first: newest first.
    assert walk(store, ReviewFilter(keywords=["yes"])) == [ids["yes-new"], ids["yes-quiet"], ids["yes-old"]]
    assert walk(store, ReviewFilter(doubted_only=True)) == [ids["yes-old"]]
    assert store.count_to_review(ReviewFilter(doubted_only=True, status=ANY)) == 1


@pytest.fixture
def doubted(backend_settings):
    """A store on each back-end: two speakers' clips, and a model check that doubts three of them."""
    store = ClipStore(backend_settings)
    speakers = [store.create_speaker(consent_version=1).speaker_id for _ in range(2)]
    ids = [add(store, speakers[number % 2], ("yes", "no")[number % 2], seed=number) for number in range(6)]
    doubt = [(clip_id, ("yes", "no")[number % 2], 0.6 + number / 20) for number, clip_id in enumerate(ids)]
    store.replace_doubt("a" * 32, CHECKED_AT, doubt)
    yield store, speakers, ids
    store.close()


def doubt_rows(store: ClipStore) -> dict[str, float]:
    with store._engine.connect() as connection:
        return dict(connection.execute(select(clip_doubt_table.c.clip_id, clip_doubt_table.c.doubt)).all())


def test_every_replica_sees_the_doubt_and_it_survives_a_restart(doubted):
    store, _, ids = doubted
    most_doubtful = list(reversed(ids))
    other = ClipStore(store.settings)  # another app process on the same database
    try:
        assert other.doubt_check() == store.doubt_check()
        assert walk(other, ReviewFilter(doubt_first=True)) == most_doubtful
    finally:
        other.close()
    store.close()
    reopened = ClipStore(store.settings)
    try:
        assert reopened.doubt_check().checked_at == CHECKED_AT
        assert walk(reopened, ReviewFilter(doubted_only=True, doubt_first=True)) == most_doubtful
    finally:
        reopened.close()


def test_a_newer_check_replaces_all_of_the_older_doubt(doubted):
    store, _, ids = doubted
    later = CHECKED_AT + timedelta(hours=1)
    # The newer check doubts one clip, is sure of another, and did not check the rest (rejected meanwhile, say).
    assert store.replace_doubt("b" * 32, later, [(ids[0], "yes", 0.95), (ids[1], "no", 0.05)]) == 1
    assert store.doubt_check().fingerprint == "b" * 32 and store.doubt_check().checked_at == later
    assert doubt_rows(store) == {ids[0]: 0.95}  # only doubts above DOUBTED_ABOVE order anything
    assert walk(store, ReviewFilter(doubted_only=True)) == [ids[0]]


def test_a_relabelled_clip_is_no_longer_doubted_until_the_relabel_is_undone(doubted):
    store, _, ids = doubted
    previous = store.relabel(ids[5], "yes", reviewer="ana")  # the model was right: it is a "yes"
    assert ids[5] not in walk(store, ReviewFilter(doubted_only=True))
    assert walk(store, ReviewFilter(doubt_first=True))[:1] == [ids[4]]
    store.restore(ids[5], previous)
    assert walk(store, ReviewFilter(doubt_first=True))[:1] == [ids[5]]


def test_withdrawal_and_deletion_leave_no_doubt_behind(doubted):
    store, speakers, ids = doubted
    store.delete_clip(ids[0])
    assert ids[0] not in doubt_rows(store)
    assert store.delete_speaker(speakers[1]) == 3
    assert set(doubt_rows(store)) == {ids[2], ids[4]}
    assert walk(store, ReviewFilter(doubted_only=True, status=ANY)) == [ids[4], ids[2]]
    # A check made before the withdrawal keeps the doubt of the clips that are still there.
    assert store.replace_doubt("c" * 32, CHECKED_AT, [(clip_id, "yes", 0.7) for clip_id in ids]) == 2


@pytest.mark.parametrize("value", [-0.1, 1.5, float("nan")])
def test_a_doubt_outside_0_to_1_is_refused(store, clips, value):
    _, ids = clips
    with pytest.raises(ValueError, match="doubt must be from 0 to 1"):
        store.replace_doubt("f" * 32, CHECKED_AT, [(ids["yes-old"], "yes", value)])
    assert store.doubt_check() is None

"""The review queue: filters and order over real store rows."""

from __future__ import annotations

from datetime import timedelta

import pytest
from signals import make_take

from speechrec.quality import assess_take
from speechrec.review import ANY, FLAGGED_DOUBT, next_clip, review_priority, review_queue, word_label
from speechrec.store import NOISE_KEYWORD


def add(store, speaker_id, keyword, *, quiet=False, seed=0):
    samples = make_take(duration_s=0.6, offset_s=0.1, burst_s=0.3, seed=seed, level_dbfs=-55.0 if quiet else -20.0)
    quality = assess_take(samples, 16000)
    return store.add_clip(
        samples, 16000, quality, keyword=keyword, speaker_id=speaker_id, session_id="s", source="webrtc"
    )


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


def test_doubt_puts_the_most_doubtful_first_and_flags_count_as_even_odds(store, clips):
    frame, ids = clips
    flagged = frame["clip_id"] == ids["yes-quiet"]
    assert frame.loc[flagged, "flags"].iloc[0] != ""  # the quiet take has a quality flag
    doubt = {ids["yes-old"]: 0.9, ids["yes-new"]: 0.2, ids["yes-quiet"]: 0.1}
    queue = review_queue(frame, doubt=doubt)
    # 0.9 first; the flagged take (0.1 from the model, 0.5 for its flag) next; then 0.2.
    assert queue["clip_id"].tolist() == [ids["yes-old"], ids["yes-quiet"], ids["yes-new"]]
    priority = review_priority(frame, doubt).set_axis(frame["clip_id"])
    assert priority[ids["yes-quiet"]] == FLAGGED_DOUBT and priority[ids["no"]] == 0.0
    # Clips the check did not see count as no doubt: newest first among them.
    assert review_queue(frame, doubt={})["clip_id"].tolist() == [ids["yes-quiet"], ids["yes-new"], ids["yes-old"]]


def test_only_keeps_the_given_clips(clips):
    frame, ids = clips
    queue = review_queue(frame, only={ids["yes-old"], ids["no"]}, status=ANY)
    assert set(queue["clip_id"]) == {ids["yes-old"], ids["no"]}
    assert review_queue(frame, only=set()).empty

"""Two organizers (two processes) deciding on one clip, on SQLite + folder and PostgreSQL + S3:
a decision or an undo made on a state that is no longer the clip's is refused, never silently
applied over the other's."""

from __future__ import annotations

import multiprocessing
from dataclasses import replace

import pytest
from signals import load_word

from speechrec.config import Settings
from speechrec.errors import StaleReviewError, StoreError
from speechrec.quality import assess_take
from speechrec.records import ReviewState
from speechrec.store import ClipStore


@pytest.fixture
def store_settings(backend_settings) -> Settings:
    return backend_settings


def decide_at_once(settings: Settings, clip_id: str, action: str, seen, reviewer: str, barrier, results) -> None:
    """In another process: wait for the other organizer, then decide (or undo) on what was seen."""
    store = ClipStore(settings)
    try:
        barrier.wait(60)
        try:
            if action == "undo":
                store.restore(clip_id, seen)
            else:
                store.set_status(clip_id, action, reason=f"by {reviewer}", reviewer=reviewer, expected=seen)
        except StaleReviewError as error:
            results.put((reviewer, "refused", error.current.reviewer))
        except StoreError as error:
            results.put((reviewer, "error", str(error)))
        else:
            results.put((reviewer, "saved", None))
    finally:
        store.close()


def race(settings: Settings, clip_id: str, *moves: tuple[str, object, str]) -> dict[str, tuple[str, object]]:
    """Run each (action, state seen, reviewer) in its own process, released at the same moment."""
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(len(moves)), context.Queue()
    processes = [
        context.Process(target=decide_at_once, args=(settings, clip_id, action, seen, reviewer, barrier, results))
        for action, seen, reviewer in moves
    ]
    for process in processes:
        process.start()
    outcomes = {}
    for _ in processes:
        reviewer, outcome, detail = results.get(timeout=120)
        outcomes[reviewer] = (outcome, detail)
    for process in processes:
        process.join(60)
    return outcomes


@pytest.fixture
def clip_id(store) -> str:
    samples, rate = load_word("yes")
    speaker = store.create_speaker(1).speaker_id
    return store.add_clip(samples, rate, assess_take(samples, rate), keyword="yes", speaker_id=speaker,
                          session_id="s", source="webrtc")  # fmt: skip


@pytest.mark.parametrize("attempt", range(3))
def test_two_organizers_deciding_at_once_one_wins_the_other_is_told(store, clip_id, attempt, backend):
    seen = store.clip(clip_id).review_state  # both organizers look at the same pending clip
    outcomes = race(store.settings, clip_id, ("accepted", seen, "ana"), ("rejected", seen, "ben"))
    saved = [name for name, (outcome, _) in outcomes.items() if outcome == "saved"]
    refused = {name: detail for name, (outcome, detail) in outcomes.items() if outcome == "refused"}
    assert len(saved) == 1 and len(refused) == 1, outcomes
    assert list(refused.values()) == saved  # the refused one is told who decided
    clip = store.clip(clip_id)
    assert (clip.reviewer, clip.reason, clip.version) == (saved[0], f"by {saved[0]}", seen.version + 1)


def test_undo_never_reverts_a_later_decision_of_another_process(store, clip_id, backend):
    seen = store.clip(clip_id).review_state
    before_ana = store.set_status(clip_id, "accepted", reviewer="ana", expected=seen)  # ana, this process
    after_ana = store.clip(clip_id).review_state
    outcomes = race(store.settings, clip_id, ("rejected", after_ana, "ben"))  # ben, another process
    assert outcomes["ben"] == ("saved", None)
    with pytest.raises(StaleReviewError, match="changed meanwhile by ben: it is now rejected"):
        store.restore(clip_id, before_ana)  # ana's undo, made on what she decided
    assert (store.clip(clip_id).status, store.clip(clip_id).reviewer) == ("rejected", "ben")


@pytest.mark.parametrize("attempt", range(2))
def test_an_undo_and_a_decision_at_once_never_both_apply(store, clip_id, attempt, backend):
    before_ana = store.set_status(clip_id, "accepted", reviewer="ana")
    after_ana = store.clip(clip_id).review_state
    outcomes = race(store.settings, clip_id, ("undo", before_ana, "ana"), ("rejected", after_ana, "ben"))
    assert sorted(outcome for outcome, _ in outcomes.values()) == ["refused", "saved"], outcomes
    clip = store.clip(clip_id)
    if outcomes["ana"][0] == "saved":  # the undo won: the clip is pending again, ben was told
        assert (clip.status, clip.reviewer, outcomes["ben"][1]) == ("pending", None, None)
    else:
        assert (clip.status, clip.reviewer) == ("rejected", "ben")


def test_a_state_from_before_any_decision_is_stale_after_one(store, clip_id):
    seen = store.clip(clip_id).review_state
    store.set_status(clip_id, "accepted", reviewer="ana", expected=seen)
    with pytest.raises(StaleReviewError) as refused:
        store.relabel(clip_id, "no", reviewer="ben", expected=seen)
    assert isinstance(refused.value.current, ReviewState) and refused.value.current.status == "accepted"
    assert store.clip(clip_id).keyword == "yes"
    after_ana = replace(seen, status="accepted", reviewer="ana", version=seen.version + 1)
    store.set_speaker_status(store.clip(clip_id).speaker_id, "rejected", reviewer="cy")  # bumps the version too
    with pytest.raises(StaleReviewError, match="by cy"):
        store.set_status(clip_id, "pending", reviewer="ana", expected=after_ana)

"""The prompt schedule: composition, shuffling, resume, progress and the per-session limit."""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import replace

import pytest

from speechrec.campaign import Campaign
from speechrec.prompts import MAX_TAKES_FACTOR, build_rounds, build_schedule, progress, round_length, session_limit

CAMPAIGN = Campaign(
    title="t",
    keywords=("yes", "no", "tum"),
    consent_text="ok",
    takes_per_keyword=5,
    filler_words=("cat", "dog"),
)


def test_schedule_holds_each_keyword_takes_times_and_each_filler_once():
    schedule = build_schedule(CAMPAIGN, "0a1b2c3d")
    assert Counter(schedule) == {"yes": 5, "no": 5, "tum": 5, "cat": 1, "dog": 1}


def test_same_seed_same_order_other_seed_other_order():
    assert build_schedule(CAMPAIGN, "0a1b2c3d") == build_schedule(CAMPAIGN, "0a1b2c3d")
    orders = {tuple(build_schedule(CAMPAIGN, f"{seed:08x}")) for seed in range(20)}
    assert len(orders) > 15


@pytest.mark.parametrize("seed", [f"{seed:08x}" for seed in range(50)])
def test_no_word_follows_itself(seed):
    schedule = build_schedule(CAMPAIGN, seed)
    assert all(first != second for first, second in itertools.pairwise(schedule))


def test_a_single_keyword_repeats_because_it_must():
    only_one = Campaign(title="t", keywords=("yes",), consent_text="ok", takes_per_keyword=3)
    assert build_schedule(only_one, "x") == ["yes", "yes", "yes"]


def test_progress_from_nothing_stored():
    schedule = build_schedule(CAMPAIGN, "0a1b2c3d")
    state = progress(schedule, {})
    assert (state.done, state.total, state.next_word) == (0, 17, schedule[0])
    assert state.fraction == 0.0
    assert not state.finished


def test_progress_resumes_at_the_first_prompt_without_a_take():
    schedule = build_schedule(CAMPAIGN, "0a1b2c3d")
    stored = Counter(schedule[:6])
    state = progress(schedule, stored)
    assert state.done == 6
    assert state.next_word == schedule[6]


def test_extra_takes_of_a_word_do_not_count_for_other_words():
    schedule = build_schedule(CAMPAIGN, "0a1b2c3d")
    state = progress(schedule, {"yes": 9, "unknown": 4})
    assert state.done == 5
    assert state.next_word != "yes"


def test_finished_when_every_prompt_has_a_take():
    schedule = build_schedule(CAMPAIGN, "0a1b2c3d")
    state = progress(schedule, Counter(schedule))
    assert state.finished and state.next_word is None and state.fraction == 1.0


def test_session_limit_is_a_multiple_of_the_schedule():
    assert session_limit(CAMPAIGN) == MAX_TAKES_FACTOR * 17
    assert session_limit(replace(CAMPAIGN, rounds=3)) == MAX_TAKES_FACTOR * 17 * 3


def test_a_skipped_prompt_counts_as_done_and_the_next_word_comes():
    schedule = build_schedule(CAMPAIGN, "0a1b2c3d")
    state = progress(schedule, Counter(schedule[:2]), {schedule[2]: 1})
    assert (state.done, state.skipped) == (3, 1)
    assert state.next_word == schedule[3]


def test_a_stored_take_fills_a_prompt_before_a_skip_does():
    schedule = build_schedule(CAMPAIGN, "0a1b2c3d")
    word = schedule[0]
    wanted = schedule.count(word)
    state = progress(schedule, {word: wanted}, {word: 2})
    assert (state.done, state.skipped) == (wanted, 0)  # nothing left to skip: the skips count for nothing


def test_every_prompt_skipped_is_finished_with_nothing_stored():
    schedule = build_schedule(CAMPAIGN, "0a1b2c3d")
    state = progress(schedule, {}, Counter(schedule))
    assert state.finished and state.skipped == len(schedule)


def test_the_first_round_is_the_schedule_and_later_rounds_shuffle_the_same_words():
    rounds = build_rounds(CAMPAIGN, "0a1b2c3d", 3)
    length = round_length(CAMPAIGN)
    assert length == 17 and len(rounds) == 3 * length
    assert rounds[:length] == build_schedule(CAMPAIGN, "0a1b2c3d")  # a volunteer's first round never changes
    assert Counter(rounds[length : 2 * length]) == Counter(rounds[:length])
    assert rounds[length : 2 * length] != rounds[:length]
    assert build_rounds(CAMPAIGN, "0a1b2c3d", 3) == rounds  # resumable


@pytest.mark.parametrize("rounds", [0, -1, 1.5, True, "2"])
def test_rounds_must_be_a_whole_number_of_at_least_one(rounds):
    with pytest.raises(ValueError, match="rounds must be a whole number >= 1"):
        build_rounds(CAMPAIGN, "0a1b2c3d", rounds)

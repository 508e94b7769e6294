"""The prompt schedule: composition, shuffling, resume, progress and the per-session limit."""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import replace

import pytest

from speechrec.campaign import Campaign, Variation
from speechrec.prompts import (
    MAX_TAKES_FACTOR,
    Prompt,
    build_rounds,
    build_schedule,
    progress,
    round_length,
    session_limit,
)

CAMPAIGN = Campaign(
    title="t",
    keywords=("yes", "no", "tum"),
    consent_text="ok",
    takes_per_keyword=5,
    filler_words=("cat", "dog"),
)


VARIED = Campaign(
    title="t",
    keywords=("hey jarvis", "stop"),
    consent_text="ok",
    takes_per_keyword=4,
    filler_words=("cat",),
    variations=(
        Variation("normal", "Say it in your normal voice."),
        Variation("soft", "Say it softly."),
        Variation("loud", "Say it loudly."),
    ),
    near_misses={"hey jarvis": ("hey", "jarvis", "hey jar"), "stop": ("top",)},
)


def words(schedule: list[Prompt]) -> list[str]:
    return [prompt.word for prompt in schedule]


def test_schedule_holds_each_keyword_takes_times_and_each_filler_once():
    schedule = build_schedule(CAMPAIGN, "0a1b2c3d")
    assert Counter(words(schedule)) == {"yes": 5, "no": 5, "tum": 5, "cat": 1, "dog": 1}
    assert {prompt.variation for prompt in schedule} == {None}


def test_a_campaign_without_variations_keeps_the_order_it_had_before_them():
    """A volunteer who started before this speechrec comes back to the same schedule (recorded
    from the previous release's build_schedule for this seed)."""
    before = ["tum", "yes", "no", "yes", "no", "tum", "no", "yes", "no", "yes", "tum", "dog", "cat", "yes", "tum",
              "no", "tum"]  # fmt: skip
    assert build_schedule(CAMPAIGN, "0a1b2c3d") == [Prompt(word) for word in before]


def test_near_miss_phrases_are_prompted_once_each_like_filler_words():
    schedule = build_schedule(VARIED, "0a1b2c3d")
    counts = Counter(words(schedule))
    assert counts == {"hey jarvis": 4, "stop": 4, "cat": 1, "hey": 1, "jarvis": 1, "hey jar": 1, "top": 1}
    assert all(prompt.variation is None for prompt in schedule if prompt.word not in VARIED.keywords)
    assert session_limit(VARIED) == MAX_TAKES_FACTOR * len(schedule)


@pytest.mark.parametrize("seed", [f"{seed:08x}" for seed in range(40)])
def test_variations_are_spread_evenly_over_each_keywords_takes(seed):
    schedule = build_schedule(VARIED, seed)
    for keyword in VARIED.keywords:
        used = Counter(prompt.variation for prompt in schedule if prompt.word == keyword)
        assert set(used) <= {"normal", "soft", "loud"} and sum(used.values()) == 4
        assert max(used.values()) - min(used.get(name, 0) for name in ("normal", "soft", "loud")) <= 1
    assert all(first.word != second.word for first, second in itertools.pairwise(schedule))
    assert build_schedule(VARIED, seed) == schedule


def test_with_fewer_takes_than_variations_volunteers_between_them_cover_every_variation():
    one_take = Campaign(title="t", keywords=("stop",), consent_text="ok", takes_per_keyword=1,
                        variations=VARIED.variations)  # fmt: skip
    asked = Counter(build_schedule(one_take, f"{seed:08x}")[0].variation for seed in range(300))
    assert set(asked) == {"normal", "soft", "loud"}
    assert min(asked.values()) > 60  # about 100 each


def test_variations_are_mixed_not_recorded_in_blocks():
    orders = {
        tuple(p.variation for p in build_schedule(VARIED, f"{seed:08x}") if p.word == "stop") for seed in range(30)
    }
    assert len(orders) > 5


def test_progress_counts_takes_per_word_and_variation():
    schedule = build_schedule(VARIED, "0a1b2c3d")
    first = schedule[0]
    state = progress(schedule, {(first.word, first.variation): 1})
    assert state.done == 1 and (state.next_word, state.next_variation) == schedule[1]
    # A take of a keyword in another variation than asked next does not fill that prompt...
    keyword_prompts = [prompt for prompt in schedule if prompt.word == "stop"]
    asked = {prompt.variation for prompt in keyword_prompts}
    extra = {("stop", name): 3 for name in asked}
    done = progress(schedule, extra).done
    assert done == len(keyword_prompts)  # ...extra takes of an asked variation fill only that variation's prompts


def test_takes_recorded_before_the_campaign_had_variations_still_count():
    schedule = build_schedule(VARIED, "0a1b2c3d")
    state = progress(schedule, {("stop", None): 4, "hey": 1})  # a plain word counts as (word, None)
    assert state.done == 5
    assert all(prompt.word != "stop" for prompt in schedule if prompt == (state.next_word, state.next_variation))
    removed = progress(schedule, {("stop", "whisper"): 2})  # a variation since removed from the campaign
    assert removed.done == 2


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
    assert words(build_schedule(only_one, "x")) == ["yes", "yes", "yes"]


def test_progress_from_nothing_stored():
    schedule = build_schedule(CAMPAIGN, "0a1b2c3d")
    state = progress(schedule, {})
    assert (state.done, state.total, state.next_word) == (0, 17, schedule[0].word)
    assert state.fraction == 0.0
    assert not state.finished


def test_progress_resumes_at_the_first_prompt_without_a_take():
    schedule = build_schedule(CAMPAIGN, "0a1b2c3d")
    stored = Counter(schedule[:6])
    state = progress(schedule, stored)
    assert state.done == 6
    assert state.next_word == schedule[6].word


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
    assert state.next_word == schedule[3].word


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

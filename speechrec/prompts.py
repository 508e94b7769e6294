"""The prompt schedule of a volunteer: which word to say next (and how, for a campaign with
variations), and how far along they are.

A volunteer may go through the words ``campaign.rounds`` times; a prompt they skip (a word they
cannot say) counts as done for the schedule but is never a take.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from speechrec.campaign import Campaign

# A session may store at most this many times the takes its schedule asks for (redone takes
# included): enough for any honest volunteer, and a bound on what one link can write to disk.
MAX_TAKES_FACTOR = 3


class Prompt(NamedTuple):
    """One prompt: the word to say and the variation to say it in (None: no variation asked,
    as for filler words and near-miss phrases)."""

    word: str
    variation: str | None = None


def build_schedule(campaign: Campaign, seed: str) -> list[Prompt]:
    """Every prompt of a volunteer in order: each keyword ``takes_per_keyword`` times, each
    filler word and each near-miss phrase once, shuffled so that no word follows itself where
    that can be avoided.

    With variations, a keyword's takes go round its variations from a place chosen by the seed
    (so with fewer takes than variations, volunteers between them still cover every one), in an
    order shuffled by the seed. The same seed (use the speaker id) gives the same schedule, so a
    volunteer who comes back continues it; a campaign without variations gets the order it had
    before variations existed.
    """
    remaining = Counter({word: campaign.takes_per_keyword for word in campaign.keywords})
    remaining.update(campaign.filler_words)
    remaining.update(campaign.near_miss_phrases)
    generator = random.Random(seed)
    words: list[str] = []
    while remaining:
        previous = words[-1] if words else None
        candidates = [word for word in sorted(remaining) if word != previous] or sorted(remaining)
        # A word holding more than half of what is left must go now, or it would end up repeated.
        total = sum(remaining.values())
        urgent = [word for word in candidates if 2 * remaining[word] > total]
        choices = urgent or candidates
        word = generator.choices(choices, weights=[remaining[word] for word in choices])[0]
        words.append(word)
        remaining[word] -= 1
        if remaining[word] == 0:
            del remaining[word]
    variations = {keyword: _keyword_variations(campaign, keyword, seed) for keyword in campaign.keywords}
    return [Prompt(word, variations[word].pop() if variations.get(word) else None) for word in words]


def _keyword_variations(campaign: Campaign, keyword: str, seed: str) -> list[str]:
    """The variation names of one keyword's takes for one volunteer, in the order they are used
    (popped from the end)."""
    names = [variation.name for variation in campaign.variations]
    if not names:
        return []
    generator = random.Random(f"{seed}/{keyword}")
    start = generator.randrange(len(names))
    chosen = [names[(start + take) % len(names)] for take in range(campaign.takes_per_keyword)]
    generator.shuffle(chosen)
    return chosen


def build_rounds(campaign: Campaign, seed: str, rounds: int) -> list[Prompt]:
    """The prompts of ``rounds`` rounds one after the other: round 1 is ``build_schedule(campaign,
    seed)`` (so a volunteer's first round never changes), round n the same words shuffled with the
    seed ``f"{seed}/{n}"``. Raises ValueError for fewer than one round."""
    if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 1:
        raise ValueError(f"rounds must be a whole number >= 1, got {rounds!r}")
    schedule: list[Prompt] = []
    for number in range(1, rounds + 1):
        schedule += build_schedule(campaign, seed if number == 1 else f"{seed}/{number}")
    return schedule


def round_length(campaign: Campaign) -> int:
    """Prompts in one round: each keyword ``takes_per_keyword`` times, each filler word and each
    near-miss phrase once."""
    return (
        len(campaign.keywords) * campaign.takes_per_keyword
        + len(campaign.filler_words)
        + len(campaign.near_miss_phrases)
    )


@dataclass(frozen=True)
class Progress:
    """Where a volunteer stands: prompts done (skipped ones included), prompts in all, the next
    word and its variation (None when done, or when the next prompt asks for no variation), and
    how many of the done prompts were skipped."""

    done: int
    total: int
    next_word: str | None
    next_variation: str | None = None
    skipped: int = 0

    @property
    def fraction(self) -> float:
        """Share of the schedule done, 0..1."""
        return self.done / self.total if self.total else 1.0

    @property
    def finished(self) -> bool:
        """True when every prompt has a take."""
        return self.next_word is None


def progress(
    schedule: list[Prompt],
    stored: Mapping[tuple[str, str | None] | str, int],
    skipped: Mapping[Any, int] | None = None,
) -> Progress:
    """Progress through ``schedule`` given how many takes of each (word, variation) are stored
    (a plain word as key counts as (word, None)) and how many prompts of each word were skipped.

    Stored takes fill the schedule's prompts of their word and variation in order. Takes of a
    word in a variation the schedule does not ask of this volunteer for that word (none, e.g.
    recorded before the campaign had variations, or one since removed) then fill that word's
    prompts still open, and skips after them. The next prompt is the first one still unfilled.
    Extra takes or skips beyond what the schedule asks count once each.
    """
    remaining: Counter[tuple[str, str | None]] = Counter()
    for key, count in stored.items():
        remaining[(key, None) if isinstance(key, str) else (key[0], key[1])] += count
    prompts = [Prompt(*prompt) if not isinstance(prompt, str) else Prompt(prompt) for prompt in schedule]
    asked = {(prompt.word, prompt.variation) for prompt in prompts}
    spare: Counter[str] = Counter()
    for (word, variation), count in remaining.items():
        if (word, variation) not in asked:
            spare[word] += count
    skips: Counter[str] = Counter()
    for key, count in (skipped or {}).items():  # a word, or a schedule Prompt (its word counts)
        skips[key if isinstance(key, str) else key[0]] += count
    filled = [False] * len(prompts)
    for index, prompt in enumerate(prompts):
        key = (prompt.word, prompt.variation)
        if remaining[key] > 0:
            remaining[key] -= 1
            filled[index] = True
    for index, prompt in enumerate(prompts):
        if not filled[index] and spare[prompt.word] > 0:
            spare[prompt.word] -= 1
            filled[index] = True
    skipped_done = 0
    for index, prompt in enumerate(prompts):
        if not filled[index] and skips[prompt.word] > 0:
            skips[prompt.word] -= 1
            filled[index] = True
            skipped_done += 1
    upcoming = next((prompt for prompt, done in zip(prompts, filled, strict=True) if not done), None)
    return Progress(
        done=sum(filled),
        total=len(prompts),
        next_word=None if upcoming is None else upcoming.word,
        next_variation=None if upcoming is None else upcoming.variation,
        skipped=skipped_done,
    )


def session_limit(campaign: Campaign) -> int:
    """The most takes one session may store (MAX_TAKES_FACTOR times every round of its schedule)."""
    return MAX_TAKES_FACTOR * round_length(campaign) * campaign.rounds

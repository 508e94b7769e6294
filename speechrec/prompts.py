"""The prompt schedule of a volunteer: which word to say next, and how far along they are.

A volunteer may go through the words ``campaign.rounds`` times; a prompt they skip (a word they
cannot say) counts as done for the schedule but is never a take.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

from speechrec.campaign import Campaign

# A session may store at most this many times the takes its schedule asks for (redone takes
# included): enough for any honest volunteer, and a bound on what one link can write to disk.
MAX_TAKES_FACTOR = 3


def build_schedule(campaign: Campaign, seed: str) -> list[str]:
    """Every prompt of a volunteer in order: each keyword ``takes_per_keyword`` times and each
    filler word once, shuffled so that no word follows itself where that can be avoided.

    The same seed (use the speaker id) gives the same order, so a volunteer who comes back
    continues the same schedule.
    """
    remaining = Counter({word: campaign.takes_per_keyword for word in campaign.keywords})
    remaining.update(campaign.filler_words)
    generator = random.Random(seed)
    schedule: list[str] = []
    while remaining:
        previous = schedule[-1] if schedule else None
        candidates = [word for word in sorted(remaining) if word != previous] or sorted(remaining)
        # A word holding more than half of what is left must go now, or it would end up repeated.
        total = sum(remaining.values())
        urgent = [word for word in candidates if 2 * remaining[word] > total]
        choices = urgent or candidates
        word = generator.choices(choices, weights=[remaining[word] for word in choices])[0]
        schedule.append(word)
        remaining[word] -= 1
        if remaining[word] == 0:
            del remaining[word]
    return schedule


def build_rounds(campaign: Campaign, seed: str, rounds: int) -> list[str]:
    """The prompts of ``rounds`` rounds one after the other: round 1 is ``build_schedule(campaign,
    seed)`` (so a volunteer's first round never changes), round n the same words shuffled with the
    seed ``f"{seed}/{n}"``. Raises ValueError for fewer than one round."""
    if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 1:
        raise ValueError(f"rounds must be a whole number >= 1, got {rounds!r}")
    schedule: list[str] = []
    for number in range(1, rounds + 1):
        schedule += build_schedule(campaign, seed if number == 1 else f"{seed}/{number}")
    return schedule


def round_length(campaign: Campaign) -> int:
    """Prompts in one round: each keyword ``takes_per_keyword`` times, each filler word once."""
    return len(campaign.keywords) * campaign.takes_per_keyword + len(campaign.filler_words)


@dataclass(frozen=True)
class Progress:
    """Where a volunteer stands: prompts done (skipped ones included), prompts in all, the next word
    (None when done), and how many of the done prompts were skipped."""

    done: int
    total: int
    next_word: str | None
    skipped: int = 0

    @property
    def fraction(self) -> float:
        """Share of the schedule done, 0..1."""
        return self.done / self.total if self.total else 1.0

    @property
    def finished(self) -> bool:
        """True when every prompt has a take."""
        return self.next_word is None


def progress(schedule: list[str], stored: Mapping[str, int], skipped: Mapping[str, int] | None = None) -> Progress:
    """Progress through ``schedule`` given how many takes of each word are stored and skipped.

    Stored takes, then skips, fill the schedule's prompts of that word in order; the next word is
    the first prompt still unfilled. Extra takes or skips of a word beyond what the schedule asks
    count once each.
    """
    remaining = Counter(stored)
    skips = Counter(skipped or {})
    next_word = None
    done = skipped_done = 0
    for word in schedule:
        if remaining[word] > 0:
            remaining[word] -= 1
            done += 1
        elif skips[word] > 0:
            skips[word] -= 1
            done += 1
            skipped_done += 1
        elif next_word is None:
            next_word = word
    return Progress(done=done, total=len(schedule), next_word=next_word, skipped=skipped_done)


def session_limit(campaign: Campaign) -> int:
    """The most takes one session may store (MAX_TAKES_FACTOR times every round of its schedule)."""
    return MAX_TAKES_FACTOR * round_length(campaign) * campaign.rounds

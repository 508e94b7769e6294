"""The review queue's terms: the filters an organizer sets (ReviewFilter), the reasons offered
for a rejection, and how a keyword reads on the page. The queue itself is answered in SQL, one
row and one count at a time: ``ClipStore.next_to_review`` and ``ClipStore.count_to_review``."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date

from speechrec.campaign import NEAR_MISS_SEPARATOR, NOISE_KEYWORD, SOURCES, STATUSES
from speechrec.quality import FLAGS

# Reasons offered when rejecting a clip (free text is allowed as well).
# The reason given to a clip whose audio is missing from storage (the Review page, `speechrec check --repair`).
AUDIO_MISSING = "audio missing"
REJECT_REASONS = (
    "wrong word",
    "noise or other voices",
    "too quiet",
    "distorted",
    "cut off",
    "not a real take",
    AUDIO_MISSING,
)
ANY = "any"
# A clip is doubted by the model check when its doubt (1 minus the probability the model gave its
# own word) is above this: the model gives its word less than even odds. With the doubt first, a
# quality flag counts as even odds that the take is bad: the clips the model doubts come first
# (most doubtful first), then flagged ones, then the clips the model is sure of.
DOUBTED_ABOVE = 0.5
# How the Review filter and the Stats table name "asked in no variation" (a clip's variation NULL).
NO_VARIATION = "(none)"
# The Review page counts the queue up to this many clips and says "more than" beyond: the count's
# time then stays flat however many clips the store holds (bench/bench_review.py).
REVIEW_COUNT_LIMIT = 10_000
# The quality filter: any clip, clips without a flag, clips with some flag, or one flag by name.
FLAG_CHOICES = (ANY, "clean", "flagged", *FLAGS)


@dataclass(frozen=True)
class ReviewFilter:
    """Which clips the review queue holds. ``keywords``, ``speakers``, ``sources``,
    ``variations``: only these (all when empty; the variation ``NO_VARIATION`` stands for clips
    asked in none). ``days``: first and last UTC day of the takes, inclusive. ``status``:
    pending, accepted, rejected or ``ANY``. ``flag``: one of ``FLAG_CHOICES``. ``exclude``: clip
    ids already handled in this review session. ``doubted_only``: just the clips the newest model
    check doubts (its doubt is kept in the store: ``ClipStore.replace_doubt``). ``doubt_first``:
    the doubted clips first, most doubtful first, then flagged clips, then the rest; else the
    queue is newest first (as is each of those groups). A clip re-labelled since the check is not
    doubted. Background noise is reviewed like any word.

    Raises ValueError for an unknown status, flag or source, TypeError for a doubt switch that is
    not True or False.
    """

    keywords: Collection[str] = ()
    speakers: Collection[str] = ()
    sources: Collection[str] = ()
    days: tuple[date, date] | None = None
    status: str = "pending"
    flag: str = ANY
    exclude: Collection[str] = ()
    variations: Collection[str] = ()
    doubted_only: bool = False
    doubt_first: bool = False

    def __post_init__(self) -> None:
        for name in ("keywords", "speakers", "sources", "exclude", "variations"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        for name in ("doubted_only", "doubt_first"):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"{name} must be True or False, got {getattr(self, name)!r}")
        if self.status not in (*STATUSES, ANY):
            raise ValueError(f"status must be one of {', '.join((*STATUSES, ANY))}, got {self.status!r}")
        if self.flag not in FLAG_CHOICES:
            raise ValueError(f"flag must be one of {', '.join(FLAG_CHOICES)}, got {self.flag!r}")
        unknown = sorted(set(self.sources) - set(SOURCES))
        if unknown:
            raise ValueError(f"sources must be among {', '.join(SOURCES)}, got {unknown[0]!r}")
        if self.days is not None and len(self.days) != 2:
            raise ValueError(f"days must be (first day, last day), got {self.days!r}")


def word_label(keyword: str) -> str:
    """How a stored keyword reads on the page."""
    return "room noise" if keyword == NOISE_KEYWORD else keyword


def take_details(variation: object, near_miss_of: object) -> str:
    """For organizers: how a take was asked for, e.g. "variation soft · near miss of hey jarvis"
    ('' for a plain take). Missing values (None, NaN from a table) are left out."""
    parts = []
    if isinstance(variation, str) and variation:
        parts.append(f"variation {variation}")
    if isinstance(near_miss_of, str) and near_miss_of:
        parts.append("near miss of " + near_miss_of.replace(NEAR_MISS_SEPARATOR, ", "))
    return " · ".join(parts)


def changed_meanwhile(reviewer: str | None, status: str, reason: str | None, keyword: str) -> str:
    """For organizers: what another organizer made of a clip meanwhile, e.g. "ben changed this clip
    while you listened: it is now rejected (too quiet), as “yes”."."""
    what = status + (f" ({reason})" if reason else "")
    return f"{reviewer or 'someone'} changed this clip while you listened: it is now {what}, as “{keyword}”."


def to_go_label(count: int, limit: int = REVIEW_COUNT_LIMIT) -> str:
    """How the page states a queue count made with ``limit``: '1,234' or 'more than 10,000'."""
    return f"more than {limit:,}" if count > limit else f"{count:,}"

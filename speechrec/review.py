"""The review queue's terms: the filters an organizer sets (ReviewFilter), the reasons offered
for a rejection, and how a keyword reads on the page. The queue itself is answered in SQL, one
row and one count at a time: ``ClipStore.next_to_review`` and ``ClipStore.count_to_review``."""

from __future__ import annotations

from collections.abc import Collection, Mapping
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
# With the model check's doubt, a quality flag counts as even odds that the take is bad: clips the
# model doubts more come first, then flagged ones, then the clips the model is sure of.
FLAGGED_DOUBT = 0.5

# At most this many clips go into ``ReviewFilter.first`` (one SQL CASE of that many ids).
DOUBT_FIRST_LIMIT = 1000
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
    ids already handled in this review session. ``only``: just these clip ids (the ones the model
    check doubts), all when None. ``first``: clip ids the queue shows before all others, in this
    order, and then the flagged clips before the clean ones (``doubt_first``: the model check's most
    doubtful clips); with ``first`` empty, the queue is newest first. Background noise is reviewed
    like any word.

    Raises ValueError for an unknown status, flag or source.
    """

    keywords: Collection[str] = ()
    speakers: Collection[str] = ()
    sources: Collection[str] = ()
    days: tuple[date, date] | None = None
    status: str = "pending"
    flag: str = ANY
    exclude: Collection[str] = ()
    variations: Collection[str] = ()
    only: Collection[str] | None = None
    first: Collection[str] = ()

    def __post_init__(self) -> None:
        for name in ("keywords", "speakers", "sources", "exclude", "variations", "first"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        if self.only is not None:
            object.__setattr__(self, "only", tuple(self.only))
        if self.status not in (*STATUSES, ANY):
            raise ValueError(f"status must be one of {', '.join((*STATUSES, ANY))}, got {self.status!r}")
        if self.flag not in FLAG_CHOICES:
            raise ValueError(f"flag must be one of {', '.join(FLAG_CHOICES)}, got {self.flag!r}")
        unknown = sorted(set(self.sources) - set(SOURCES))
        if unknown:
            raise ValueError(f"sources must be among {', '.join(SOURCES)}, got {unknown[0]!r}")
        if self.days is not None and len(self.days) != 2:
            raise ValueError(f"days must be (first day, last day), got {self.days!r}")


def doubt_first(doubt: Mapping[str, float], limit: int = DOUBT_FIRST_LIMIT) -> tuple[str, ...]:
    """``ReviewFilter.first`` from the model check's doubt per clip id (0-1): the clips doubted more
    than a quality flag counts (FLAGGED_DOUBT), most doubtful first (ties by clip id), at most
    ``limit`` of them. The queue then shows flagged clips, then the rest: quality flags and the
    model's doubt together decide what a human hears first."""
    doubted = sorted(((-value, clip_id) for clip_id, value in doubt.items() if value > FLAGGED_DOUBT))
    return tuple(clip_id for _, clip_id in doubted[:limit])


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

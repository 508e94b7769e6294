"""The review queue's terms: the filters an organizer sets (ReviewFilter), the reasons offered
for a rejection, and how a keyword reads on the page. The queue itself is answered in SQL, one
row and one count at a time: ``ClipStore.next_to_review`` and ``ClipStore.count_to_review``."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date

from speechrec.campaign import NOISE_KEYWORD, SOURCES, STATUSES
from speechrec.quality import FLAGS

# Reasons offered when rejecting a clip (free text is allowed as well).
REJECT_REASONS = ("wrong word", "noise or other voices", "too quiet", "distorted", "cut off", "not a real take")
ANY = "any"
# The Review page counts the queue up to this many clips and says "more than" beyond: the count's
# time then stays flat however many clips the store holds (bench/bench_review.py).
REVIEW_COUNT_LIMIT = 10_000
# The quality filter: any clip, clips without a flag, clips with some flag, or one flag by name.
FLAG_CHOICES = (ANY, "clean", "flagged", *FLAGS)


@dataclass(frozen=True)
class ReviewFilter:
    """Which clips the review queue holds. ``keywords``, ``speakers``, ``sources``: only these
    (all when empty). ``days``: first and last UTC day of the takes, inclusive. ``status``:
    pending, accepted, rejected or ``ANY``. ``flag``: one of ``FLAG_CHOICES``. ``exclude``: clip
    ids already handled in this review session. Background noise is reviewed like any word.

    Raises ValueError for an unknown status, flag or source.
    """

    keywords: Collection[str] = ()
    speakers: Collection[str] = ()
    sources: Collection[str] = ()
    days: tuple[date, date] | None = None
    status: str = "pending"
    flag: str = ANY
    exclude: Collection[str] = ()

    def __post_init__(self) -> None:
        for name in ("keywords", "speakers", "sources", "exclude"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
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


def to_go_label(count: int, limit: int = REVIEW_COUNT_LIMIT) -> str:
    """How the page states a queue count made with ``limit``: '1,234' or 'more than 10,000'."""
    return f"more than {limit:,}" if count > limit else f"{count:,}"

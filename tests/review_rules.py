"""The review queue's rules as speechrec/review.py wrote them in pandas at commit 8ec85ee, before
the queue moved into SQL (ClipStore.next_to_review / count_to_review). Kept as the specification:
tests/test_review.py checks the SQL queue against these functions on the same rows."""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, timedelta

import pandas as pd

from speechrec.review import ANY


def review_queue(
    clips: pd.DataFrame,
    *,
    keywords: Collection[str] = (),
    speakers: Collection[str] = (),
    sources: Collection[str] = (),
    days: tuple[date, date] | None = None,
    status: str = "pending",
    flag: str = ANY,
    exclude: Collection[str] = (),
) -> pd.DataFrame:
    """The clips to review in order, newest first, from ``ClipStore.clips()`` rows.

    ``keywords``, ``speakers``, ``sources``: only these (all when empty). ``days``: first and last
    UTC day of the takes, inclusive. ``status``: pending, accepted, rejected or ``ANY``. ``flag``:
    ``ANY``, ``"clean"``, ``"flagged"`` or one quality flag. ``exclude``: clip ids already handled in
    this review session. Background noise is reviewed like any word.
    """
    keep = ~clips["clip_id"].isin(list(exclude))
    for column, chosen in (("keyword", keywords), ("speaker_id", speakers), ("source", sources)):
        if chosen:
            keep &= clips[column].isin(list(chosen))
    if days is not None:
        first, last = (pd.Timestamp(day, tz="UTC") for day in days)
        keep &= (clips["created_at"] >= first) & (clips["created_at"] < last + timedelta(days=1))
    if status != ANY:
        keep &= clips["status"] == status
    if flag == "clean":
        keep &= clips["flags"] == ""
    elif flag == "flagged":
        keep &= clips["flags"] != ""
    elif flag != ANY:
        keep &= clips["flags"].str.split(",").apply(lambda flags: flag in flags)
    return clips[keep].sort_values(["created_at", "clip_id"], ascending=False)


def next_clip(clips: pd.DataFrame, *, shown: str | None = None, **filters: object) -> tuple[pd.Series | None, int]:
    """The clip to review now and how many the queue holds (``filters`` as in ``review_queue``).

    The clip ``shown`` on screen stays while it matches the other filters, even if another
    organizer's decision moved it out of the status filter meanwhile: a click on it is never lost.
    """
    queue = review_queue(clips, **filters)
    if shown is not None:
        matching = review_queue(clips, **{**filters, "status": ANY})
        pinned = matching[matching["clip_id"] == shown]
        if not pinned.empty:
            return pinned.iloc[0], len(queue)
    return (queue.iloc[0] if not queue.empty else None), len(queue)

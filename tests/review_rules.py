"""The review queue's rules as speechrec/review.py wrote them in pandas at commit 8ec85ee, before
the queue moved into SQL (ClipStore.next_to_review / count_to_review), plus the variation filter
of issue 14 and the model check's doubt of issue 13. Kept as the specification: tests/test_review.py
checks the SQL queue against these functions on the same rows."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import date, timedelta

import pandas as pd

from speechrec.review import ANY, DOUBTED_ABOVE, NO_VARIATION


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
    variations: Collection[str] = (),
    doubt: Mapping[str, tuple[str, float]] | None = None,
    doubted_only: bool = False,
    doubt_first: bool = False,
) -> pd.DataFrame:
    """The clips to review in order, newest first, from ``ClipStore.clips()`` rows.

    ``keywords``, ``speakers``, ``sources``, ``variations``: only these (all when empty;
    ``NO_VARIATION`` stands for a clip asked in none). ``days``: first and last
    UTC day of the takes, inclusive. ``status``: pending, accepted, rejected or ``ANY``. ``flag``:
    ``ANY``, ``"clean"``, ``"flagged"`` or one quality flag. ``exclude``: clip ids already handled in
    this review session. ``doubt``: the model check's doubt, clip id to (keyword as checked,
    doubt); a clip is doubted when its doubt is above DOUBTED_ABOVE and it is still filed under the
    keyword checked. ``doubted_only``: only doubted clips. ``doubt_first``: doubted clips first
    (most doubtful first, ties by clip id, highest first), then flagged ones newest first, then
    the rest newest first. Background noise is reviewed like any word.
    """
    checked = doubt or {}
    doubts = pd.Series(
        [
            checked[clip_id][1] if clip_id in checked and checked[clip_id][0] == keyword else 0.0
            for clip_id, keyword in zip(clips["clip_id"], clips["keyword"], strict=True)
        ],
        index=clips.index,
        dtype=float,
    )
    doubted = doubts > DOUBTED_ABOVE
    keep = ~clips["clip_id"].isin(list(exclude))
    for column, chosen in (("keyword", keywords), ("speaker_id", speakers), ("source", sources)):
        if chosen:
            keep &= clips[column].isin(list(chosen))
    if variations:
        keep &= clips["variation"].astype(object).where(clips["variation"].notna(), NO_VARIATION).isin(list(variations))
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
    if doubted_only:
        keep &= doubted
    queue = clips[keep].sort_values(["created_at", "clip_id"], ascending=False)
    if not doubt_first:
        return queue
    group = pd.Series(2, index=queue.index).mask(queue["flags"] != "", 1).mask(doubted[queue.index], 0)
    rank = pd.DataFrame({"group": group, "doubt": -doubts[queue.index].where(doubted[queue.index], 0.0)})
    # Within the doubted clips ties go by clip id (highest first); within the others, newest first.
    rank["tie"] = range(len(queue))
    doubted_ids = queue["clip_id"].where(group == 0)
    rank.loc[group == 0, "tie"] = doubted_ids[group == 0].rank(ascending=False, method="first").to_numpy()
    return queue.loc[rank.sort_values(["group", "doubt", "tie"]).index]


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

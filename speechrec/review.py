"""The review queue: which clips an organizer sees next, by filters, newest first."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import date, timedelta

import pandas as pd

from speechrec.store import NOISE_KEYWORD

# Reasons offered when rejecting a clip (free text is allowed as well).
REJECT_REASONS = ("wrong word", "noise or other voices", "too quiet", "distorted", "cut off", "not a real take")
ANY = "any"
# With the model check's doubt, a quality flag counts as even odds that the take is bad: clips the
# model doubts more come first, then flagged ones, then the clips the model is sure of.
FLAGGED_DOUBT = 0.5


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
    only: Collection[str] | None = None,
    doubt: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """The clips to review in order, newest first, from ``ClipStore.clips()`` rows.

    ``keywords``, ``speakers``, ``sources``: only these (all when empty). ``days``: first and last
    UTC day of the takes, inclusive. ``status``: pending, accepted, rejected or ``ANY``. ``flag``:
    ``ANY``, ``"clean"``, ``"flagged"`` or one quality flag. ``exclude``: clip ids already handled in
    this review session; ``only``: just these clip ids (e.g. the ones the model check doubts).
    ``doubt``: the model check's doubt per clip id (0-1); when given, the most doubtful come first
    (see ``review_priority``), newest first among equals. Background noise is reviewed like any word.
    """
    keep = ~clips["clip_id"].isin(list(exclude))
    if only is not None:
        keep &= clips["clip_id"].isin(list(only))
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
    queue = clips[keep]
    if doubt is None:
        return queue.sort_values(["created_at", "clip_id"], ascending=False)
    priority = review_priority(queue, doubt).rename("priority")
    order = pd.concat([priority, queue[["created_at", "clip_id"]]], axis=1)
    return queue.loc[order.sort_values(["priority", "created_at", "clip_id"], ascending=False).index]


def review_priority(clips: pd.DataFrame, doubt: Mapping[str, float]) -> pd.Series:
    """How urgently each clip needs a human ear (0-1, index of ``clips``): the model's doubt
    (0 for a clip it did not check), and at least FLAGGED_DOUBT for a clip with a quality flag."""
    model = clips["clip_id"].map(doubt).astype(float).fillna(0.0)
    flagged = (clips["flags"] != "").astype(float) * FLAGGED_DOUBT
    return model.where(model >= flagged, flagged)


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


def word_label(keyword: str) -> str:
    """How a stored keyword reads on the page."""
    return "room noise" if keyword == NOISE_KEYWORD else keyword

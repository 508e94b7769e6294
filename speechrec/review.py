"""The review queue: which clips an organizer sees next, by filters, newest first."""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, timedelta

import pandas as pd

from speechrec.campaign import NEAR_MISS_SEPARATOR, NOISE_KEYWORD

# Reasons offered when rejecting a clip (free text is allowed as well).
REJECT_REASONS = ("wrong word", "noise or other voices", "too quiet", "distorted", "cut off", "not a real take")
ANY = "any"
# How the Review filter and the Stats table name "asked in no variation" (a clip's variation NULL).
NO_VARIATION = "(none)"


def review_queue(
    clips: pd.DataFrame,
    *,
    keywords: Collection[str] = (),
    speakers: Collection[str] = (),
    sources: Collection[str] = (),
    variations: Collection[str] = (),
    days: tuple[date, date] | None = None,
    status: str = "pending",
    flag: str = ANY,
    exclude: Collection[str] = (),
) -> pd.DataFrame:
    """The clips to review in order, newest first, from ``ClipStore.clips()`` rows.

    ``keywords``, ``speakers``, ``sources``, ``variations``: only these (all when empty; the
    variation ``NO_VARIATION`` stands for clips asked in none). ``days``: first and last
    UTC day of the takes, inclusive. ``status``: pending, accepted, rejected or ``ANY``. ``flag``:
    ``ANY``, ``"clean"``, ``"flagged"`` or one quality flag. ``exclude``: clip ids already handled in
    this review session. Background noise is reviewed like any word.
    """
    keep = ~clips["clip_id"].isin(list(exclude))
    for column, chosen in (("keyword", keywords), ("speaker_id", speakers), ("source", sources)):
        if chosen:
            keep &= clips[column].isin(list(chosen))
    if variations:
        keep &= clips["variation"].fillna(NO_VARIATION).isin(list(variations))
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

"""The WHERE clauses of the store's clip queries: the review queue's filters (the rules of
ReviewFilter, in SQL) and plain equality filters. SQLAlchemy Core expressions on schema.clips_table."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time, timedelta

from sqlalchemy import ColumnElement, FromClause, Select, case, func, literal, or_, select

from speechrec.review import ANY, NO_VARIATION, ReviewFilter
from speechrec.schema import clips_table


def equal_conditions(**values: object) -> list[ColumnElement[bool]]:
    """``column = value`` for each clips column given a value other than None."""
    return [clips_table.c[name] == value for name, value in values.items() if value is not None]


def review_conditions(
    queue: ReviewFilter, *, any_status: bool = False, rows: FromClause = clips_table
) -> list[ColumnElement[bool]]:
    """The conditions a clip meets to be in ``queue`` (``any_status``: whatever its status), on
    ``rows`` (the clips table, or a subquery of its columns).

    The same rules as the queue's specification (tests/review_rules.py): a specific flag matches
    a whole entry of the comma-separated flags, never part of one.
    """
    clips = rows.c
    conditions: list[ColumnElement[bool]] = []
    if queue.exclude:
        conditions.append(clips.clip_id.not_in(queue.exclude))
    if queue.only is not None:
        conditions.append(clips.clip_id.in_(queue.only))
    for column, chosen in (
        (clips.keyword, queue.keywords),
        (clips.speaker_id, queue.speakers),
        (clips.source, queue.sources),
    ):
        if chosen:
            conditions.append(column.in_(chosen))
    if queue.variations:
        named = [variation for variation in queue.variations if variation != NO_VARIATION]
        either: list[ColumnElement[bool]] = [clips.variation.in_(named)] if named else []
        if NO_VARIATION in queue.variations:
            either.append(clips.variation.is_(None))
        conditions.append(or_(*either))
    if queue.days is not None:
        first, last = queue.days
        conditions.append(clips.created_at >= datetime.combine(first, time(), UTC))
        conditions.append(clips.created_at < datetime.combine(last + timedelta(days=1), time(), UTC))
    if queue.status != ANY and not any_status:
        conditions.append(clips.status == queue.status)
    if queue.flag == "clean":
        conditions.append(clips.flags == "")
    elif queue.flag == "flagged":
        conditions.append(clips.flags != "")
    elif queue.flag != ANY:
        conditions.append((literal(",") + clips.flags + ",").contains(f",{queue.flag},", autoescape=True))
    return conditions


def review_count(queue: ReviewFilter, limit: int | None = None) -> Select:
    """One statement that counts the clips ``queue`` holds: the clips matching its filters, less
    those of them already handled (``queue.exclude``). With ``limit``, counting stops after
    ``limit + 1`` clips more than were handled, so the work is bounded whatever the store's size,
    and any result above ``limit`` means "more than ``limit``".

    Counted so because ``clip_id NOT IN (...)`` in the same WHERE makes the planners walk the
    review index's whole status range, while the filters alone are counted from the narrowest
    covering index; the handled clips are looked up by primary key in a subquery that its LIMIT
    keeps from being merged into the outer query (SQLite's flattener and PostgreSQL alike).
    """
    filters = replace(queue, exclude=())
    matching_rows = select(literal(1)).select_from(clips_table).where(*review_conditions(filters))
    if limit is not None:
        matching_rows = matching_rows.limit(limit + len(queue.exclude) + 1)
    matching = select(func.count()).select_from(matching_rows.subquery("matching")).scalar_subquery()
    if not queue.exclude:
        return select(matching)
    handled = (
        select(clips_table)
        .where(clips_table.c.clip_id.in_(queue.exclude))
        .limit(len(queue.exclude))
        .subquery("handled")
    )
    handled_matching = select(func.count()).select_from(handled).where(*review_conditions(filters, rows=handled))
    return select(matching - handled_matching.scalar_subquery())


def review_order(queue: ReviewFilter) -> list[ColumnElement[object]]:
    """The ORDER BY of ``queue``: newest first (created_at, then clip_id); with ``queue.first``, its
    clips before all others in its order, then flagged clips before clean ones, then newest first."""
    newest: list[ColumnElement[object]] = [clips_table.c.created_at.desc(), clips_table.c.clip_id.desc()]
    if not queue.first:
        return newest
    rank = case({clip_id: index for index, clip_id in enumerate(queue.first)}, value=clips_table.c.clip_id, else_=len(queue.first))
    flagged = case((clips_table.c.flags == "", 1), else_=0)
    return [rank.asc(), flagged.asc(), *newest]

"""The WHERE clauses of the store's clip queries: the review queue's filters (the rules of
ReviewFilter, in SQL) and plain equality filters. SQLAlchemy Core expressions on schema.clips_table."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time, timedelta

from sqlalchemy import ColumnElement, FromClause, Select, and_, exists, func, literal, or_, select

from speechrec.review import ANY, DOUBTED_ABOVE, NO_VARIATION, ReviewFilter
from speechrec.schema import clip_doubt_table, clips_table


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
    if queue.doubted_only:
        checked = clip_doubt_table.alias("checked")  # its own name: the queue may join clip_doubt too
        doubt = checked.c
        conditions.append(
            exists()
            .where(doubt.clip_id == clips.clip_id, doubt.keyword == clips.keyword, doubt.doubt > DOUBTED_ABOVE)
            .correlate_except(checked)
        )
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
    keeps from being merged into the outer query (SQLite's flattener and PostgreSQL alike). The
    clips the model doubts (``queue.doubted_only``) are counted from the doubt index, each looked up
    by primary key: a few per cent of the store, where the review index would be read whole.
    """
    filters = replace(queue, exclude=())
    if queue.doubted_only:
        doubted_in = _doubt_of_a_clip_in(replace(filters, doubted_only=False))
        matching_rows = select(literal(1)).select_from(clip_doubt_table).where(doubted_in)
    else:
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


def review_queries(queue: ReviewFilter) -> list[Select]:
    """The statements that find the clip to review now, to be tried in turn until one finds a clip:
    each a ``LIMIT 1`` of the clips ``queue`` holds, newest first (created_at, then clip_id).

    With ``queue.doubt_first`` three: the clip the newest model check doubts most (ties by clip id;
    the doubt index read from the top, each clip looked up by primary key until one is in the
    queue); then the newest flagged clip; then the newest of any. A later statement runs only when
    the earlier ones found nothing, so it finds no clip an earlier one would have (and with
    ``queue.doubted_only`` the first is the only one). Three seeks instead of one ORDER BY over the
    doubt and the flags, which would read and sort every clip of the queue on every rerun.
    """
    clips = clips_table.c
    newest = (clips.created_at.desc(), clips.clip_id.desc())
    any_clip = select(clips_table).where(*review_conditions(queue)).order_by(*newest).limit(1)
    if not queue.doubt_first:
        return [any_clip]
    doubt = clip_doubt_table.c
    most_doubted = (
        select(doubt.clip_id)
        .where(_doubt_of_a_clip_in(replace(queue, doubted_only=False)))
        .order_by(doubt.doubt.desc(), doubt.clip_id.desc())
        .limit(1)
        .scalar_subquery()
    )
    doubted = select(clips_table).where(clips.clip_id == most_doubted)
    if queue.doubted_only:
        return [doubted]
    flagged = select(clips_table).where(*review_conditions(queue), clips.flags != "").order_by(*newest).limit(1)
    return [doubted, flagged, any_clip]


def _doubt_of_a_clip_in(queue: ReviewFilter) -> ColumnElement[bool]:
    """For a row of clip_doubt: the clip is doubted (above DOUBTED_ABOVE), still filed under the
    word checked, and in ``queue`` (looked up by primary key). The rows are read from the doubt
    index only because the statement names clip_doubt alone in its FROM: the planners would
    otherwise start from the clips of a status (SQLite, without statistics, takes it for a few)."""
    doubt = clip_doubt_table.c
    candidate = clips_table.alias("candidate")  # not the clips of an enclosing statement
    in_queue = (
        exists()
        .where(candidate.c.clip_id == doubt.clip_id, candidate.c.keyword == doubt.keyword)
        .where(*review_conditions(queue, rows=candidate))
        .correlate_except(candidate)
    )
    return and_(doubt.doubt > DOUBTED_ABOVE, in_queue)

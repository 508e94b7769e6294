"""The metadata database: its tables (SQLAlchemy Core), the engine for a URL, and the conversions
between records and rows. Changing a table here needs a migration too (speechrec/migrations)."""

from __future__ import annotations

import os
import sqlite3
import types
import typing
from collections.abc import Mapping
from contextlib import suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy
from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    event,
)
from sqlalchemy.engine import Engine, make_url

from speechrec.config import Settings
from speechrec.fingerprint import Fingerprint
from speechrec.private import make_private_folder, open_private_file
from speechrec.quality import QualityReport
from speechrec.records import Clip, NewClip, ReviewState

SCHEMA_VERSION = 10
# The PostgreSQL advisory lock held while the schema is created (any fixed number; "sprc").
SCHEMA_LOCK_ID = 0x73707263
# Keys of the meta table: the schema version, and the campaign an organizer saved in the app (JSON).
SCHEMA_VERSION_KEY = "schema_version"
CAMPAIGN_KEY = "campaign"
# The model check whose doubt clip_doubt holds: JSON {"fingerprint": ..., "checked_at": ISO 8601}.
MODEL_CHECK_KEY = "model_check"
NO_STORE_HINT = (
    "check the folder (--store DIR or SPEECHREC_DATA) and the database URL; "
    "a new store is made by `python -m speechrec import` or `migrate --to-store`"
)


def _quality_columns() -> list[Column]:
    """One column per QualityReport field: numbers as Float (NULL where the field may be None),
    flags as one comma-separated string ('' when clean)."""
    hints = typing.get_type_hints(QualityReport)
    columns = []
    for name, hint in hints.items():
        if name == "flags":
            columns.append(Column(name, String(128), nullable=False))
            continue
        kinds = set(typing.get_args(hint)) if isinstance(hint, types.UnionType) else {hint}
        if kinds - {float, type(None)}:
            raise TypeError(f"QualityReport.{name} is {hint}; give it a column type here and a migration")
        columns.append(Column(name, Float, nullable=type(None) in kinds))
    return columns


metadata = MetaData()
meta_table = Table(
    "speechrec_meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)
speakers_table = Table(
    "speakers",
    metadata,
    Column("speaker_id", String(8), primary_key=True),
    Column("code_sha256", String(64), unique=True, nullable=True),
    Column("origin", String(16), nullable=False),
    Column("consent_version", Integer, nullable=True),
    Column("consented_at", DateTime(timezone=True), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    # The language the consent text was read in (a Babel code: en, de, pt_BR); NULL before 0006.
    Column("consent_language", String(35), nullable=True),
)
clips_table = Table(
    "clips",
    metadata,
    Column("clip_id", String(32), primary_key=True),
    Column("keyword", String(64), nullable=False),
    Column("speaker_id", String(8), ForeignKey("speakers.speaker_id"), nullable=False),
    Column("session_id", String(64), nullable=False, index=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("source", String(16), nullable=False),
    Column("source_path", Text, nullable=True),
    Column("source_sha1", String(40), nullable=True, unique=True),
    Column("sample_rate", Integer, nullable=False),
    Column("audio_key", Text, nullable=False),
    *_quality_columns(),
    Column("status", String(10), nullable=False, index=True),
    Column("reason", Text, nullable=True),
    Column("reviewer", String(128), nullable=True),
    Column("reviewed_at", DateTime(timezone=True), nullable=True),
    Column("consent_version", Integer, nullable=True),
    # How the take was asked for (a campaign variation's name), NULL when none was.
    Column("variation", String(32), nullable=True),
    # The keywords (joined by '|') the take's word is a near-miss phrase of, NULL for other words.
    Column("near_miss_of", Text, nullable=True),
    # True: the browser reported echo cancellation, noise suppression and auto gain all off for
    # the take; False: one stayed on; NULL: unknown (imports, rows older than revision 0003).
    Column("raw", Boolean, nullable=True),
    # Bumped by every review write (decision, re-label, undo): the compare-and-set of two organizers.
    Column("version", Integer, nullable=False, server_default="0"),
    # The fingerprint of the decoded audio (speechrec.fingerprint.Fingerprint): the same take in
    # another encoding is found by one index range on the loudest frame. NULL: not known yet (rows
    # older than revision 0010, or whose audio could not be read; the next import computes them).
    Column("fingerprint_levels", LargeBinary, nullable=True),
    Column("fingerprint_loudest", Integer, nullable=True),
    Column("fingerprint_peak", Integer, nullable=True),
    # The review queue, newest first: the next clip is one seek, its count reads one index alone.
    Index("ix_clips_review", "status", "created_at", "clip_id", "keyword", "flags", "source"),
    # ... of one keyword; and the Stats page's counts per keyword and status, in this order.
    Index("ix_clips_keyword_review", "keyword", "status", "created_at", "clip_id", "flags", "duration_s"),
    # The Stats page per speaker (and a volunteer's takes per keyword); per day, and any status newest first.
    Index("ix_clips_speaker_counts", "speaker_id", "keyword", "status", "created_at"),
    Index("ix_clips_created", "created_at", "clip_id", "keyword"),
    # The Stats page's counts per keyword, variation and status (campaigns with variations).
    Index("ix_clips_variation_counts", "keyword", "variation", "status", "flags"),
    # An imported file's candidate copies: a few values of the loudest frame's level, a range of its place.
    Index("ix_clips_fingerprint", "fingerprint_peak", "fingerprint_loudest"),
)
# Prompts a volunteer skipped, per word (NOISE_KEYWORD for the room step): counted, never takes.
skips_table = Table(
    "skips",
    metadata,
    Column("speaker_id", String(8), ForeignKey("speakers.speaker_id"), primary_key=True),
    Column("keyword", String(64), primary_key=True),
    Column("skipped", Integer, nullable=False),
)


# Speakers who withdrew (issue 12): their random id and when, nothing else. A take or an import
# that arrives for one of them afterwards is refused, and exports are checked against this list.
withdrawn_speakers_table = Table(
    "withdrawn_speakers",
    metadata,
    Column("speaker_id", String(8), primary_key=True),
    Column("withdrawn_at", DateTime(timezone=True), nullable=False),
)
# Wrong organizer passwords (issue 12), per throttle bucket (speechrec.auth.sign_in_buckets: one
# for everyone, one per client network as a keyed digest, never an address): how many in a row,
# the last one, and when the next password may be checked. Every app process and replica reads
# the same rows, so a new browser session waits as long as the old one. A bucket whose last
# failure is older than auth.FAILURE_MEMORY_S counts as empty and is deleted at the next failure.
sign_in_failures_table = Table(
    "sign_in_failures",
    metadata,
    Column("bucket", String(64), primary_key=True),
    Column("failures", Integer, nullable=False),
    Column("last_failure_at", DateTime(timezone=True), nullable=False),
    Column("retry_at", DateTime(timezone=True), nullable=False),
    Index("ix_sign_in_failures_last", "last_failure_at"),
)


# The clips the model check doubts (issue 13), and how much: 1 minus the probability the model gave
# the word the clip was filed under (``keyword``, as filed when checked: a clip re-labelled since
# is no longer doubted); only doubts above review.DOUBTED_ABOVE. Only the newest check's rows are
# kept (its fingerprint and time in the meta table under MODEL_CHECK_KEY); a clip's row goes with
# the clip.
clip_doubt_table = Table(
    "clip_doubt",
    metadata,
    Column("clip_id", String(32), ForeignKey("clips.clip_id", ondelete="CASCADE"), primary_key=True),
    Column("keyword", String(64), nullable=False),
    Column("doubt", Float, nullable=False),
    # The Review queue's doubted clips, most doubtful first (with the word checked: read from the index alone).
    Index("ix_clip_doubt_doubt", "doubt", "clip_id", "keyword"),
)


def clip_row(clip: NewClip, clip_id: str, audio_key: str, created_at: datetime) -> dict[str, Any]:
    """The clips row of a new take: pending, with its quality numbers."""
    return {
        "clip_id": clip_id,
        "keyword": clip.keyword,
        "speaker_id": clip.speaker_id,
        "session_id": clip.session_id,
        "created_at": created_at,
        "source": clip.source,
        "source_path": clip.source_path,
        "source_sha1": clip.source_sha1,
        "sample_rate": clip.sample_rate,
        "audio_key": audio_key,
        "status": "pending",
        "consent_version": clip.consent_version,
        "variation": clip.variation,
        "near_miss_of": clip.near_miss_of,
        "raw": clip.raw,
        **fingerprint_columns(clip.fingerprint),
        **clip.quality.to_row(),
    }


def fingerprint_columns(print_: Fingerprint | None) -> dict[str, Any]:
    """The fingerprint columns of a clips row: ``print_``'s values, or all NULL (not known)."""
    if print_ is None:
        return {"fingerprint_levels": None, "fingerprint_loudest": None, "fingerprint_peak": None}
    return {
        "fingerprint_levels": print_.levels,
        "fingerprint_loudest": print_.loudest,
        "fingerprint_peak": print_.peak_steps,
    }


def fingerprint_record(row: Mapping[Any, Any]) -> Fingerprint | None:
    """The Fingerprint of a clips row (None when it has none)."""
    if row["fingerprint_peak"] is None or row["fingerprint_levels"] is None:
        return None
    return Fingerprint(bytes(row["fingerprint_levels"]), int(row["fingerprint_loudest"]), int(row["fingerprint_peak"]))


def clip_record(row: Mapping[Any, Any]) -> Clip:
    """A Clip from a clips row as read (times made UTC)."""
    return Clip.from_row({name: as_utc(value) for name, value in row.items()})


def review_state_record(row: Mapping[Any, Any]) -> ReviewState:
    """A ReviewState from the review columns of a clips row."""
    return ReviewState(**{name: as_utc(row[name]) for name in ReviewState.__dataclass_fields__})


def as_utc(value: object) -> Any:
    """A datetime read back from SQLite, which keeps no time zone, as UTC (every stored time is)."""
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def sqlite_file_exists(database_url: str) -> bool:
    """False for a SQLite database file that does not exist (yet), is empty, or holds no speechrec
    tables: a store to read is not there. Looked at without writing a byte (SQLite would make a
    missing file on connect, and the store's engine turns on WAL, which writes a header into an
    empty one). True for other back-ends, which ``ClipStore`` asks once connected, and for a file
    SQLite cannot read, whose error the store's own connection then reports."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return True
    path = Path(url.database).expanduser().resolve()
    if not path.is_file() or path.stat().st_size == 0:
        return False
    try:
        connection = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
        try:
            query = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?"
            return connection.execute(query, (meta_table.name,)).fetchone() is not None
        finally:
            connection.close()
    except sqlite3.Error:
        return True


def store_place(settings: Settings) -> str:
    """Where a store is, for messages: the data folder when the database is a SQLite file in it,
    else the database URL without its password."""
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite" and url.database and Path(url.database).parent == settings.data_dir:
        return str(settings.data_dir)
    return url.render_as_string(hide_password=True)


def create_engine(database_url: str) -> Engine:
    """An engine for ``database_url`` set up for the store: UTC sessions and dropped connections
    replaced on PostgreSQL; WAL, full sync, foreign keys and a 30 s busy wait on SQLite (whose
    folder is made if missing). Raises SQLAlchemy's ArgumentError or ImportError (no driver)."""
    url = make_url(database_url)
    if url.get_backend_name() == "postgresql":
        # Times are stored as timestamptz; UTC sessions make SQL's date() count UTC days.
        # pool_pre_ping: a connection the server dropped (restart, failover) is replaced unseen.
        return sqlalchemy.create_engine(url, pool_pre_ping=True, connect_args={"options": "-c timezone=UTC"})
    if url.get_backend_name() != "sqlite":
        return sqlalchemy.create_engine(url, pool_pre_ping=True)
    if url.database and url.database != ":memory:":
        # The data folder and the database readable by the owner only (SQLite gives its -wal and
        # -shm files the database file's mode).
        make_private_folder(Path(url.database).parent)
        if not os.path.exists(url.database):
            with suppress(FileExistsError):  # another process made it a moment ago
                os.close(open_private_file(url.database, exclusive=True))
    engine = sqlalchemy.create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _configure_sqlite(dbapi_connection, _record) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    return engine

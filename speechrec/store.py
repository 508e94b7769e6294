"""ClipStore: takes as FLAC files (AudioStorage, via fsspec) plus metadata rows (via SQLAlchemy).

Write order: the audio first (temporary file, fsync, atomic rename; one PUT on object storage),
then the rows in one transaction. A crash in between leaves an audio file that no row points to:
invisible, and removed the next time a store is opened once it is old enough that no other
process can still be about to commit it.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, nullcontext, suppress
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import (
    Column,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    case,
    create_engine,
    delete,
    event,
    func,
    insert,
    inspect,
    select,
    update,
)
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from speechrec.config import Campaign, Settings, campaign_from_dict, campaign_to_dict, check_word
from speechrec.decode import encode_flac, read_audio_bytes
from speechrec.errors import ConflictError, StoreError, redact
from speechrec.quality import QualityReport
from speechrec.storage import AudioStorage, audio_key

SCHEMA_VERSION = 1
# The PostgreSQL advisory lock held while the schema is created (any fixed number; "sprc").
SCHEMA_LOCK_ID = 0x73707263
STATUSES = ("pending", "accepted", "rejected")
SOURCES = ("webrtc", "audio_input", "import")
# Background noise is stored as clips of this pseudo-keyword (the Speech Commands folder name).
NOISE_KEYWORD = "_background_noise_"
# Leftovers younger than this may belong to a write another process is finishing right now.
LEFTOVER_MIN_AGE_S = 600.0
# Participant codes: 12 characters from an alphabet without look-alikes (no 0/O, 1/I/L), 60 bits.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 12
CLIP_ID = re.compile(r"[0-9a-f]{32}")
# The campaign an organizer saved in the app, as JSON in the meta table.
CAMPAIGN_KEY = "campaign"
NO_STORE_HINT = (
    "check the folder (--store DIR or SPEECHREC_DATA) and the database URL; "
    "a new store is made by `python -m speechrec import` or `migrate --to-store`"
)

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
)
clips_table = Table(
    "clips",
    metadata,
    Column("clip_id", String(32), primary_key=True),
    Column("keyword", String(64), nullable=False, index=True),
    Column("speaker_id", String(8), ForeignKey("speakers.speaker_id"), nullable=False, index=True),
    Column("session_id", String(64), nullable=False, index=True),
    Column("created_at", DateTime(timezone=True), nullable=False, index=True),
    Column("source", String(16), nullable=False),
    Column("source_path", Text, nullable=True),
    Column("source_sha1", String(40), nullable=True, unique=True),
    Column("sample_rate", Integer, nullable=False),
    Column("duration_s", Float, nullable=False),
    Column("audio_key", Text, nullable=False),
    Column("peak_dbfs", Float, nullable=False),
    Column("clipped_fraction", Float, nullable=False),
    Column("noise_floor_dbfs", Float, nullable=False),
    Column("speech_level_dbfs", Float, nullable=True),
    Column("snr_db", Float, nullable=True),
    Column("speech_start_s", Float, nullable=True),
    Column("speech_end_s", Float, nullable=True),
    Column("flags", String(128), nullable=False),
    Column("status", String(10), nullable=False, index=True),
    Column("reason", Text, nullable=True),
    Column("reviewer", String(128), nullable=True),
    Column("reviewed_at", DateTime(timezone=True), nullable=True),
    Column("consent_version", Integer, nullable=True),
)


@dataclass(frozen=True)
class NewClip:
    """A take ready to store: its FLAC bytes plus everything its row needs.

    ``flac_bytes=None`` with a ``clip_id`` means a worker already wrote the audio with
    ``AudioStorage.put`` under ``audio_key(speaker_id, clip_id)``; the store then adds the row only.
    """

    keyword: str
    speaker_id: str
    session_id: str
    source: str
    sample_rate: int
    flac_bytes: bytes | None
    quality: QualityReport
    source_path: str | None = None
    source_sha1: str | None = None
    consent_version: int | None = None
    clip_id: str | None = None


@dataclass(frozen=True)
class ReviewState:
    """A clip's review columns at one moment: to undo a decision, or to notice someone else's."""

    keyword: str
    status: str
    reason: str | None
    reviewer: str | None
    reviewed_at: datetime | None


@dataclass(frozen=True)
class Speaker:
    """A volunteer: the random id used in the dataset and the code they keep (shown once)."""

    speaker_id: str
    participant_code: str | None


def new_clip(samples: np.ndarray, sample_rate: int, quality: QualityReport, **fields: object) -> NewClip:
    """Build a NewClip from mono float32 samples in [-1, 1] (encodes them as FLAC)."""
    return NewClip(sample_rate=sample_rate, flac_bytes=encode_flac(samples, sample_rate), quality=quality, **fields)


def normalize_participant_code(code: object) -> str:
    """Upper-case a typed participant code and drop spaces and dashes; ValueError if malformed."""
    if not isinstance(code, str):
        raise TypeError(f"participant code must be a string, got {code!r}")
    cleaned = code.upper().replace("-", "").replace(" ", "")
    if len(cleaned) != CODE_LENGTH or any(char not in CODE_ALPHABET for char in cleaned):
        raise ValueError(
            f"participant code {code!r} is not valid: it has {CODE_LENGTH} letters and digits, "
            "like 'K7QM-2XPA-9DHT'; check it for typos"
        )
    return cleaned


def format_participant_code(code: str) -> str:
    """Group a normalized code in fours for display: 'K7QM-2XPA-9DHT'."""
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))


def _code_digest(code: str) -> str:
    return hashlib.sha256(normalize_participant_code(code).encode()).hexdigest()


def _utc_now() -> datetime:
    return datetime.now(UTC)


class ClipStore:
    """Clips and speakers of one campaign. Thread-safe; open one per process and share it."""

    def __init__(self, settings: Settings, *, create: bool = True) -> None:
        """Open the store of ``settings``, making it (tables, folders) if ``create`` and it is new.

        With ``create=False`` (commands that only read or change an existing store) a database
        without speechrec's tables, or a data folder without its SQLite file, raises StoreError
        "no speechrec store in ..." and nothing is created.
        """
        if not isinstance(settings, Settings):
            raise TypeError(f"settings must be a Settings, got {settings!r}")
        self.settings = settings
        if not create:
            _require_database_file(settings)
        try:
            self._engine = _create_engine(settings.database_url)
        except (SQLAlchemyError, ImportError, OSError) as error:
            # The message names the problem (dialect, driver, folder), never the URL's password.
            raise StoreError(
                f"cannot open the database: {self._reason(error)}; check the database URL and that its driver "
                "is installed"
            ) from None
        self._sqlite = self._engine.dialect.name == "sqlite"
        self._write_lock = threading.Lock() if self._sqlite else None
        if not create:
            self._require_tables()
        self.audio = AudioStorage(settings.storage_url)
        self.audio.check()
        self._create_schema()
        self.clean_leftovers()

    # ---- schema and housekeeping -------------------------------------------------------------

    def _create_schema(self) -> None:
        """Create the tables and the schema version once, however many processes start at once."""
        try:
            with self._write() as connection:
                if self._engine.dialect.name == "postgresql":
                    # Concurrent CREATE TABLEs clash in PostgreSQL's catalog: one process at a time.
                    connection.execute(select(func.pg_advisory_xact_lock(SCHEMA_LOCK_ID)))
                metadata.create_all(connection)
                stored = connection.scalar(select(meta_table.c.value).where(meta_table.c.key == "schema_version"))
                if stored is None:
                    connection.execute(insert(meta_table).values(key="schema_version", value=str(SCHEMA_VERSION)))
        except ConflictError:
            stored = None  # another process made the new store at the same moment (SQLite)
        except StoreError as error:
            raise StoreError(f"cannot open the database: {str(error).removeprefix('database error: ')}") from None
        if stored is not None and int(stored) > SCHEMA_VERSION:
            raise StoreError(
                f"the store's schema version {stored} is newer than this speechrec "
                f"(version {SCHEMA_VERSION}); upgrade speechrec"
            )

    def _require_tables(self) -> None:
        """StoreError unless the database holds speechrec's tables (an existing store)."""
        try:
            with self._read() as connection:
                found = inspect(connection).has_table(meta_table.name)
        except StoreError as error:
            self._engine.dispose()
            raise StoreError(f"cannot open the database: {str(error).removeprefix('database error: ')}") from None
        if not found:
            self._engine.dispose()
            raise StoreError(f"no speechrec store in {_store_place(self.settings)}: {NO_STORE_HINT}")

    def clean_leftovers(self, min_age_s: float = LEFTOVER_MIN_AGE_S) -> int:
        """Delete temporary files and audio without a row that are older than ``min_age_s``; return the count."""
        cutoff = time.time() - min_age_s
        removed = self.audio.clean_temporary_files(older_than=cutoff)
        known = set(self._scalars(select(clips_table.c.audio_key)))
        for key, modified in self.audio.audio_files():
            if key not in known and modified < cutoff:
                self.audio.remove(key)
                removed += 1
        return removed

    def close(self) -> None:
        """Release database connections."""
        self._engine.dispose()

    # ---- campaign ---------------------------------------------------------------------------

    def saved_campaign(self) -> Campaign | None:
        """The campaign organizers saved in the app, or None before the first save.

        Raises CampaignError if the saved campaign no longer validates.
        """
        text = self._scalar(select(meta_table.c.value).where(meta_table.c.key == CAMPAIGN_KEY))
        if text is None:
            return None
        return campaign_from_dict(json.loads(text), source="the campaign saved in the database")

    def save_campaign(self, campaign: Campaign) -> None:
        """Keep ``campaign`` as this store's campaign for every app process (the last save wins)."""
        if not isinstance(campaign, Campaign):
            raise TypeError(f"campaign must be a Campaign, got {campaign!r:.80}")
        value = json.dumps(campaign_to_dict(campaign), ensure_ascii=False)
        for _ in range(2):
            try:
                with self._write() as connection:
                    stored = connection.execute(
                        update(meta_table).where(meta_table.c.key == CAMPAIGN_KEY).values(value=value)
                    )
                    if stored.rowcount == 0:
                        connection.execute(insert(meta_table).values(key=CAMPAIGN_KEY, value=value))
                return
            except ConflictError:
                continue  # another process saved the first campaign at the same moment: update it
        raise StoreError("could not save the campaign while another organizer saved it; try again")

    # ---- speakers ---------------------------------------------------------------------------

    def create_speaker(self, consent_version: int) -> Speaker:
        """Create a volunteer who agreed to ``consent_version``; the code is returned only here."""
        if isinstance(consent_version, bool) or not isinstance(consent_version, int) or consent_version < 1:
            raise ValueError(f"consent_version must be a whole number >= 1, got {consent_version!r}")
        for _ in range(5):
            speaker_id = secrets.token_hex(4)
            code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
            now = _utc_now()
            try:
                with self._write() as connection:
                    connection.execute(
                        insert(speakers_table).values(
                            speaker_id=speaker_id,
                            code_sha256=_code_digest(code),
                            origin="volunteer",
                            consent_version=consent_version,
                            consented_at=now,
                            created_at=now,
                        )
                    )
                return Speaker(speaker_id, format_participant_code(code))
            except ConflictError:
                continue
        raise StoreError("could not create a unique speaker id; try again")

    def ensure_speaker(self, speaker_id: str, origin: str = "import") -> None:
        """Make sure a speaker row exists for an imported speaker id (8 lower-case hex digits)."""
        _check_speaker_id(speaker_id)
        try:
            with self._write() as connection:
                exists = connection.scalar(
                    select(speakers_table.c.speaker_id).where(speakers_table.c.speaker_id == speaker_id)
                )
                if exists is None:
                    connection.execute(
                        insert(speakers_table).values(speaker_id=speaker_id, origin=origin, created_at=_utc_now())
                    )
        except ConflictError:
            pass  # another process created the same speaker a moment ago

    def find_speaker(self, participant_code: str) -> str | None:
        """The speaker id for a participant code, or None if no speaker has it.

        Raises ValueError for a malformed code (see ``normalize_participant_code``).
        """
        digest = _code_digest(participant_code)
        return self._scalar(select(speakers_table.c.speaker_id).where(speakers_table.c.code_sha256 == digest))

    def record_consent(self, speaker_id: str, consent_version: int) -> None:
        """Store that a speaker agreed to ``consent_version`` now."""
        with self._write() as connection:
            result = connection.execute(
                update(speakers_table)
                .where(speakers_table.c.speaker_id == speaker_id)
                .values(consent_version=consent_version, consented_at=_utc_now())
            )
        if result.rowcount == 0:
            raise StoreError(f"no speaker {speaker_id!r}")

    def consent_version(self, speaker_id: str) -> int | None:
        """The consent version a speaker last agreed to (None if never); StoreError for an unknown speaker."""
        with self._read() as connection:
            row = connection.execute(
                select(speakers_table.c.consent_version).where(speakers_table.c.speaker_id == speaker_id)
            ).first()
        if row is None:
            raise StoreError(f"no speaker {speaker_id!r}; they may have withdrawn")
        return row[0]

    def speakers(self) -> pd.DataFrame:
        """All speakers (without their code digests), one row each."""
        columns = [column for column in speakers_table.c if column.name != "code_sha256"]
        return self._frame(select(*columns).order_by(speakers_table.c.created_at, speakers_table.c.speaker_id))

    # ---- clips ------------------------------------------------------------------------------

    def add_clip(self, samples: np.ndarray, sample_rate: int, quality: QualityReport, **fields: object) -> str:
        """Store one take (mono float32 in [-1, 1]) with its quality report; return its clip id.

        ``fields`` are NewClip's: keyword, speaker_id, session_id, source, and optionally
        source_path, source_sha1, consent_version.
        """
        return self.add_clips([new_clip(samples, sample_rate, quality, **fields)])[0]

    def add_clips(self, new_clips: Sequence[NewClip]) -> list[str]:
        """Store several takes: all audio first, then all rows in one transaction; return clip ids.

        Raises ValueError for an invalid field and StoreError when storage or database fails
        (then nothing of this batch is visible).
        """
        for clip in new_clips:
            _check_new_clip(clip)
        if not new_clips:
            return []
        clip_ids = [clip.clip_id or uuid.uuid4().hex for clip in new_clips]
        keys = [audio_key(clip.speaker_id, clip_id) for clip, clip_id in zip(new_clips, clip_ids, strict=True)]
        # Audio a worker already wrote belongs to this batch too: it goes if the batch fails.
        written = [key for key, clip in zip(keys, new_clips, strict=True) if clip.flac_bytes is None]
        try:
            for key, clip in zip(keys, new_clips, strict=True):
                if clip.flac_bytes is not None:
                    self.audio.put(key, clip.flac_bytes)
                    written.append(key)
            rows = [_clip_row(*entry) for entry in zip(clip_ids, keys, new_clips, strict=True)]
            with self._write() as connection:
                connection.execute(insert(clips_table), rows)
        except (OSError, StoreError) as error:
            for key in written:
                with suppress(OSError, StoreError):  # else clean_leftovers removes it later
                    self.audio.remove(key)
            if isinstance(error, ConflictError):
                raise ConflictError(
                    f"clip not stored: it duplicates a stored clip or names an unknown speaker; {error}"
                ) from None
            raise StoreError(f"clip not stored: {error}") from None
        return clip_ids

    def clips(
        self,
        *,
        keyword: str | None = None,
        speaker_id: str | None = None,
        session_id: str | None = None,
        status: str | None = None,
    ) -> pd.DataFrame:
        """Clip rows matching every filter given, oldest first (one row per clip, all columns)."""
        query = select(clips_table)
        for column, value in (
            ("keyword", keyword),
            ("speaker_id", speaker_id),
            ("session_id", session_id),
            ("status", status),
        ):
            if value is not None:
                query = query.where(clips_table.c[column] == value)
        return self._frame(query.order_by(clips_table.c.created_at, clips_table.c.clip_id))

    def clip(self, clip_id: str) -> dict[str, object]:
        """One clip's row as a dict; StoreError if there is no such clip."""
        with self._read() as connection:
            row = connection.execute(select(clips_table).where(clips_table.c.clip_id == clip_id)).mappings().first()
        if row is None:
            raise StoreError(f"no clip {clip_id!r}; it may have been deleted")
        return {name: _as_utc(value) for name, value in row.items()}

    def status_counts(self) -> pd.DataFrame:
        """Clip counts per keyword, status and whether the clip has a quality flag.

        Columns: keyword, status, flagged (bool), clips, duration_s (sum). Computed in SQL.
        """
        flagged = (clips_table.c.flags != "").label("flagged")
        query = (
            select(
                clips_table.c.keyword,
                clips_table.c.status,
                flagged,
                func.count().label("clips"),
                func.sum(clips_table.c.duration_s).label("duration_s"),
            )
            .group_by(clips_table.c.keyword, clips_table.c.status, flagged)
            .order_by(clips_table.c.keyword, clips_table.c.status, flagged)
        )
        frame = self._frame(query)
        frame["flagged"] = frame["flagged"].astype(bool)
        return frame

    def speaker_counts(self) -> pd.DataFrame:
        """Per speaker, computed in SQL: clips, accepted, words covered, first and last take (UTC).

        Background noise is left out.
        """
        clips = clips_table.c
        accepted = func.sum(case((clips.status == "accepted", 1), else_=0))
        query = (
            select(
                clips.speaker_id,
                func.count().label("clips"),
                accepted.label("accepted"),
                func.count(clips.keyword.distinct()).label("words"),
                func.min(clips.created_at).label("first_take"),
                func.max(clips.created_at).label("last_take"),
            )
            .where(clips.keyword != NOISE_KEYWORD)
            .group_by(clips.speaker_id)
            .order_by(func.max(clips.created_at).desc())
        )
        frame = self._frame(query)
        for column in ("first_take", "last_take"):
            frame[column] = pd.to_datetime(frame[column], utc=True)
        return frame

    def speaker_count(self) -> int:
        """How many speakers have clips (background noise aside), counted in SQL."""
        clips = clips_table.c
        query = select(func.count(clips.speaker_id.distinct())).where(clips.keyword != NOISE_KEYWORD)
        return int(self._scalar(query))

    def daily_counts(self) -> pd.DataFrame:
        """Takes per UTC day (columns day, clips), background noise left out, computed in SQL."""
        day = func.date(clips_table.c.created_at).label("day")
        query = select(day, func.count().label("clips")).where(clips_table.c.keyword != NOISE_KEYWORD)
        frame = self._frame(query.group_by(day).order_by(day))
        frame["day"] = pd.to_datetime(frame["day"])
        return frame

    def known_source_sha1s(self) -> set[str]:
        """SHA-1 digests of every imported file already in the store (for re-import without duplicates)."""
        return set(self._scalars(select(clips_table.c.source_sha1).where(clips_table.c.source_sha1.is_not(None))))

    def set_status(
        self, clip_id: str, status: str, *, reason: str | None = None, reviewer: str | None = None
    ) -> ReviewState:
        """Record a review decision; return the clip's review state just before it (to undo, or to see
        that someone else decided meanwhile). StoreError if the clip does not exist."""
        if status not in STATUSES:
            raise ValueError(f"status must be one of {', '.join(STATUSES)}, got {status!r}")
        return self._review(clip_id, status=status, reason=reason, reviewer=reviewer, reviewed_at=_utc_now())

    def relabel(self, clip_id: str, keyword: str, *, reviewer: str | None = None) -> ReviewState:
        """File a clip under another word (the volunteer said a different one); return the state before."""
        check_word(keyword)
        return self._review(clip_id, keyword=keyword, reviewer=reviewer, reviewed_at=_utc_now())

    def restore(self, clip_id: str, previous: ReviewState) -> None:
        """Put a clip's review state back as ``set_status`` or ``relabel`` returned it (undo)."""
        if not isinstance(previous, ReviewState):
            raise TypeError(f"previous must be a ReviewState, got {previous!r:.80}")
        self._review(clip_id, **asdict(previous))

    def set_speaker_status(
        self, speaker_id: str, status: str, *, reason: str | None = None, reviewer: str | None = None
    ) -> int:
        """Decide on every clip of a speaker at once (e.g. reject a bad microphone); return the count."""
        if status not in STATUSES:
            raise ValueError(f"status must be one of {', '.join(STATUSES)}, got {status!r}")
        with self._write() as connection:
            result = connection.execute(
                update(clips_table)
                .where(clips_table.c.speaker_id == speaker_id)
                .values(status=status, reason=reason, reviewer=reviewer, reviewed_at=_utc_now())
            )
        return result.rowcount

    def review_state(self, clip_id: str) -> ReviewState:
        """A clip's review columns now; StoreError if there is no such clip."""
        with self._read() as connection:
            return _review_state(connection, clip_id)

    def _review(self, clip_id: str, **values: object) -> ReviewState:
        with self._write() as connection:
            before = _review_state(connection, clip_id, for_update=True)
            connection.execute(update(clips_table).where(clips_table.c.clip_id == clip_id).values(**values))
        return before

    def read_audio(self, clip_id: str) -> tuple[np.ndarray, int]:
        """A clip's audio as ``(mono float32 samples in [-1, 1], sample_rate)``."""
        return read_audio_bytes(self.read_flac(self.clip(clip_id)["audio_key"]))

    def read_flac(self, key: str) -> bytes:
        """The stored FLAC bytes under ``key`` (a value of the clips' audio_key column)."""
        return self.audio.get(key)

    def delete_clip(self, clip_id: str) -> None:
        """Delete one clip: its row first (so nothing points at missing audio), then its audio."""
        key = self.clip(clip_id)["audio_key"]
        with self._write() as connection:
            connection.execute(delete(clips_table).where(clips_table.c.clip_id == clip_id))
        self.audio.remove(key)

    def delete_speaker(self, speaker_id: str) -> int:
        """Withdraw a speaker: delete every clip (rows and audio) and the speaker; return the clip count."""
        keys = list(self._scalars(select(clips_table.c.audio_key).where(clips_table.c.speaker_id == speaker_id)))
        with self._write() as connection:
            connection.execute(delete(clips_table).where(clips_table.c.speaker_id == speaker_id))
            connection.execute(delete(speakers_table).where(speakers_table.c.speaker_id == speaker_id))
        for key in keys:
            self.audio.remove(key)
        return len(keys)

    # ---- whole-store copies (speechrec.migrate) ------------------------------------------------

    def dump_rows(self) -> dict[str, list[dict[str, object]]]:
        """Every row of every table, by table name, in a fixed order; times as UTC datetimes."""
        dumped = {}
        with self._read() as connection:
            for table in metadata.sorted_tables:  # speakers before the clips that name them
                rows = connection.execute(select(table).order_by(*table.primary_key.columns)).mappings()
                dumped[table.name] = [{name: _as_utc(value) for name, value in row.items()} for row in rows]
        return dumped

    def load_rows(self, rows: dict[str, list[dict[str, object]]]) -> None:
        """Insert rows as ``dump_rows`` gives them, all in one transaction (all or nothing).

        The schema version this store wrote when it was opened is kept, not inserted again.
        Raises ConflictError when a row clashes with a stored one.
        """
        unknown = sorted(set(rows) - set(metadata.tables))
        if unknown:
            raise ValueError(f"no table {unknown[0]!r}; tables are {', '.join(sorted(metadata.tables))}")
        with self._write() as connection:
            for table in metadata.sorted_tables:
                table_rows = rows.get(table.name, [])
                if table is meta_table:
                    table_rows = [row for row in table_rows if row["key"] != "schema_version"]
                if table_rows:
                    connection.execute(insert(table), table_rows)

    # ---- internals --------------------------------------------------------------------------

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """A write transaction; on SQLite, one writer thread at a time (SQLite allows one anyway)."""
        lock = self._write_lock or nullcontext()
        try:
            with lock, self._engine.begin() as connection:
                yield connection
        except IntegrityError as error:
            raise ConflictError(f"conflicts with stored data ({self._reason(error.orig)})") from None
        except SQLAlchemyError as error:
            raise StoreError(f"database error: {self._reason(error.orig or error)}") from None

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        """A connection for queries; database failures become StoreError."""
        try:
            with self._engine.connect() as connection:
                yield connection
        except (SQLAlchemyError, pd.errors.DatabaseError) as error:
            cause = error.__cause__ if isinstance(error, pd.errors.DatabaseError) else error  # pandas wraps it
            reason = self._reason(getattr(cause, "orig", None) or cause or error)
            raise StoreError(f"database error: {reason}") from None

    def _reason(self, error: BaseException) -> str:
        """A database error as text without the URL's credentials (a driver may quote its connection string)."""
        return redact(str(error), self.settings.database_url, self.settings.storage_url)

    def _frame(self, query) -> pd.DataFrame:
        with self._read() as connection:
            frame = pd.read_sql(query, connection)
        for column in ("created_at", "reviewed_at", "consented_at"):
            if column in frame:
                frame[column] = pd.to_datetime(frame[column], utc=True)
        return frame

    def _scalar(self, query) -> object:
        with self._read() as connection:
            return connection.scalar(query)

    def _scalars(self, query) -> Iterable[object]:
        with self._read() as connection:
            return connection.scalars(query).all()


def _review_state(connection: Connection, clip_id: str, *, for_update: bool = False) -> ReviewState:
    """The review columns of a clip; ``for_update`` locks the row until the transaction ends
    (PostgreSQL; SQLite has one writer anyway), so the state returned is the one replaced."""
    columns = [clips_table.c[name] for name in ReviewState.__dataclass_fields__]
    query = select(*columns).where(clips_table.c.clip_id == clip_id)
    row = connection.execute(query.with_for_update() if for_update else query).mappings().first()
    if row is None:
        raise StoreError(f"no clip {clip_id!r}; it may have been deleted")
    return ReviewState(**{**row, "reviewed_at": _as_utc(row["reviewed_at"])})


def _require_database_file(settings: Settings) -> None:
    """StoreError if the store's SQLite database file does not exist (checked before SQLite makes one)."""
    url = make_url(settings.database_url)
    is_file = url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:"
    if is_file and not Path(url.database).is_file():
        raise StoreError(f"no speechrec store in {_store_place(settings)}: {NO_STORE_HINT}")


def _store_place(settings: Settings) -> str:
    """The data folder when the database is a SQLite file in it, else the database URL without its password."""
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite" and url.database and Path(url.database).parent == settings.data_dir:
        return str(settings.data_dir)
    return url.render_as_string(hide_password=True)


def _as_utc(value: object) -> object:
    """A datetime read back from SQLite, which keeps no time zone, as UTC (every stored time is)."""
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _check_speaker_id(speaker_id: object) -> None:
    if not (isinstance(speaker_id, str) and len(speaker_id) == 8 and all(c in "0123456789abcdef" for c in speaker_id)):
        raise ValueError(f"speaker_id must be 8 lower-case hex digits, got {speaker_id!r}")


def _check_new_clip(clip: NewClip) -> None:
    if not isinstance(clip, NewClip):
        raise TypeError(f"expected a NewClip, got {clip!r:.80}")
    if clip.keyword != NOISE_KEYWORD:
        check_word(clip.keyword)
    # The speaker id is part of the audio key (a path): check it before anything is written.
    _check_speaker_id(clip.speaker_id)
    if clip.source not in SOURCES:
        raise ValueError(f"source must be one of {', '.join(SOURCES)}, got {clip.source!r}")
    if not isinstance(clip.quality, QualityReport):
        raise TypeError(f"quality must be a QualityReport, got {clip.quality!r:.80}")
    if clip.flac_bytes is None:
        if not (isinstance(clip.clip_id, str) and CLIP_ID.fullmatch(clip.clip_id)):
            raise ValueError(
                f"a clip whose audio is already stored needs its clip_id (32 hex digits), got {clip.clip_id!r}"
            )
    elif not clip.flac_bytes:
        raise ValueError("flac_bytes is empty; encode the take with speechrec.decode.encode_flac")


def _clip_row(clip_id: str, audio_key: str, clip: NewClip) -> dict[str, object]:
    quality = clip.quality.to_row()
    return {
        "clip_id": clip_id,
        "keyword": clip.keyword,
        "speaker_id": clip.speaker_id,
        "session_id": clip.session_id,
        "created_at": _utc_now(),
        "source": clip.source,
        "source_path": clip.source_path,
        "source_sha1": clip.source_sha1,
        "sample_rate": clip.sample_rate,
        "audio_key": audio_key,
        "status": "pending",
        "consent_version": clip.consent_version,
        **quality,
    }


def _create_engine(database_url: str) -> Engine:
    url = make_url(database_url)
    if url.get_backend_name() == "postgresql":
        # Times are stored as timestamptz; UTC sessions make SQL's date() count UTC days.
        # pool_pre_ping: a connection the server dropped (restart, failover) is replaced unseen.
        return create_engine(url, pool_pre_ping=True, connect_args={"options": "-c timezone=UTC"})
    if url.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True)
    if url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _configure_sqlite(dbapi_connection, _record) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    return engine

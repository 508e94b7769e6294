"""ClipStore: takes as FLAC files (AudioStorage, via fsspec) plus metadata rows (via SQLAlchemy).

Write order: the audio first (temporary file, fsync, atomic rename; one PUT on object storage),
then the rows in one transaction. A crash in between leaves an audio file that no row points to:
invisible, and removed the next time a store is opened once it is old enough that no other
process can still be about to commit it.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, nullcontext, suppress
from dataclasses import asdict
from datetime import UTC, date, datetime, timedelta
from pathlib import PurePosixPath
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import DateTime, and_, bindparam, delete, func, insert, inspect, or_, select, update, values
from sqlalchemy import column as sql_column
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from speechrec.auth import FAILURE_MEMORY_S, GLOBAL_BUCKET, check_buckets, sign_in_delay_s, sign_in_time
from speechrec.campaign import NOISE_KEYWORD, STATUSES, Campaign, campaign_from_dict, campaign_to_dict, check_keyword
from speechrec.config import Settings
from speechrec.decode import read_audio_bytes
from speechrec.errors import ConflictError, StaleReviewError, StoreError, WithdrawnError, cannot_write, redact
from speechrec.fingerprint import Fingerprint, candidate_ranges
from speechrec.migrations import upgrade_schema
from speechrec.parallel import batched
from speechrec.participant_codes import code_digest, format_participant_code, new_participant_code
from speechrec.quality import QualityReport
from speechrec.queries import equal_conditions, review_conditions, review_count, review_queries
from speechrec.records import (
    AudioCheck,
    Clip,
    DoubtCheck,
    FingerprintedClip,
    NewClip,
    ReviewState,
    SignInFailures,
    Speaker,
    check_consent,
    check_near_miss_of,
    check_new_clip,
    check_speaker_id,
    new_clip,
)
from speechrec.review import AUDIO_MISSING, DOUBTED_ABOVE, ReviewFilter
from speechrec.schema import (
    CAMPAIGN_KEY,
    MODEL_CHECK_KEY,
    NO_STORE_HINT,
    SCHEMA_VERSION_KEY,
    as_utc,
    clip_doubt_table,
    clip_record,
    clip_row,
    clips_table,
    create_engine,
    fingerprint_columns,
    fingerprint_record,
    meta_table,
    metadata,
    review_state_record,
    sign_in_failures_table,
    skips_table,
    speakers_table,
    sqlite_file_exists,
    store_place,
    withdrawn_speakers_table,
)
from speechrec.storage import AUDIO_PREFIX, CLIP_AUDIO_KEY, AudioStorage, audio_key, check_audio_key

# Leftovers younger than this may belong to a write another process is finishing right now.
LEFTOVER_MIN_AGE_S = 600.0
# A withdrawal starts over when a take of the speaker is committed at the same moment; it gives up
# (and says so) only if that happens this many times in a row.
WITHDRAWAL_ATTEMPTS = 5
# A decision without an expected state is read and written again when another one lands in between.
REVIEW_ATTEMPTS = 5
# A sign-in check is claimed again when another one changes its buckets at the same moment (a
# compare-and-set per row); it gives up (and says so) only if that happens this many times in a row.
SIGN_IN_ATTEMPTS = 5
# Audio files checked against the rows per query when a store opens.
LEFTOVER_BATCH = 500
# The fingerprint columns: the import's (``fingerprint_candidates``), never part of ``clips()``'s table.
FINGERPRINT_COLUMNS = ("fingerprint_levels", "fingerprint_loudest", "fingerprint_peak")
# Days counted per statement by daily_counts (one scalar subquery each; SQLite allows 2000 columns).
DAYS_PER_QUERY = 200


class ClipStore:
    """Clips and speakers of one campaign. Thread-safe; open one per process and share it."""

    def __init__(self, settings: Settings, *, create: bool = True, clean: bool = True) -> None:
        """Open the store of ``settings``, making it (tables, folders) if ``create`` and it is new.

        With ``create=False`` (commands that only read or change an existing store) a database
        without speechrec's tables, or a data folder without its SQLite file, raises StoreError
        "no speechrec store in ..." and nothing is created. ``clean``: remove old leftovers
        (``clean_leftovers``) now; ``speechrec check`` opens without, to list them first.
        """
        if not isinstance(settings, Settings):
            raise TypeError(f"settings must be a Settings, got {settings!r}")
        self.settings = settings
        if not create and not sqlite_file_exists(settings.database_url):
            raise StoreError(f"no speechrec store in {store_place(settings)}: {NO_STORE_HINT}")
        try:
            self._engine = create_engine(settings.database_url)
        except OSError as error:  # the SQLite file or its folder cannot be made
            raise StoreError(f"cannot open the database: {cannot_write(error)}") from error
        except (SQLAlchemyError, ImportError) as error:
            # The message names the problem (dialect, driver), never the URL's password; not
            # chained, as SQLAlchemy's own message may repeat the URL.
            raise StoreError(
                f"cannot open the database: {self._reason(error)}; check the database URL and that its driver "
                "is installed"
            ) from None
        self._sqlite = self._engine.dialect.name == "sqlite"
        self._write_lock = threading.Lock() if self._sqlite else None
        if not create:
            self._require_tables()
        # A local audio folder is made only for a new store: a store that holds clips and finds no
        # audio folder has a mistyped storage URL (or a partial restore), and a new, empty folder
        # would make every clip look lost (and ``check --repair`` reject them all).
        self.audio = AudioStorage(settings.storage_url, create=create and not self._holds_clips())
        self.audio.check()
        self._upgrade_schema()
        if clean:
            self.clean_leftovers()

    # ---- schema and housekeeping -------------------------------------------------------------

    def _upgrade_schema(self) -> None:
        """Create the tables, or bring them to this speechrec's revision, however many processes
        start at once (speechrec.migrations)."""
        try:
            upgrade_schema(self._engine)
        except SQLAlchemyError as error:  # the first connection: the server, the database, the file
            # Not chained: a failed connection's traceback holds the connection arguments, password too.
            raise StoreError(
                f"cannot open the database: {self._reason(getattr(error, 'orig', None) or error)}"
            ) from None

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
            raise StoreError(f"no speechrec store in {store_place(self.settings)}: {NO_STORE_HINT}")

    def _holds_clips(self) -> bool:
        """True if the database already has a clips table with a row in it (an existing store)."""
        try:
            with self._read() as connection:
                if not inspect(connection).has_table(clips_table.name):
                    return False
                return connection.scalar(select(clips_table.c.clip_id).limit(1)) is not None
        except StoreError as error:  # the first connection: the server, the database, the file
            self._engine.dispose()
            raise StoreError(f"cannot open the database: {str(error).removeprefix('database error: ')}") from None

    def clean_leftovers(self, min_age_s: float = LEFTOVER_MIN_AGE_S) -> int:
        """Delete temporary files and audio without a row that are older than ``min_age_s``; return the count.

        The rows are looked up per file, by the clip id in its name (``clips/<speaker>/<clip>.flac``),
        so opening a store reads as many rows as there are files to check, not the whole table.
        """
        cutoff = time.time() - min_age_s
        removed = self.audio.clean_temporary_files(older_than=cutoff)
        old = (key for key, modified in self.audio.audio_files() if modified < cutoff)
        for keys in batched(old, LEFTOVER_BATCH):
            for key in self._unreferenced(keys):
                self.audio.remove(key)
                removed += 1
        return removed

    def _unreferenced(self, keys: Sequence[str]) -> list[str]:
        """The audio keys no clip row names: looked up by primary key (the clip id in the key's
        name), then, for the few not found so, by audio_key itself (a full scan, but only when
        there are leftovers)."""
        clip_ids = [PurePosixPath(key).stem for key in keys]
        found = self._scalars(select(clips_table.c.audio_key).where(clips_table.c.clip_id.in_(clip_ids)))
        unknown = sorted(set(keys) - set(found))
        if unknown:
            unknown = sorted(
                set(unknown)
                - set(self._scalars(select(clips_table.c.audio_key).where(clips_table.c.audio_key.in_(unknown))))
            )
        return unknown

    def check_audio(self, min_age_s: float = LEFTOVER_MIN_AGE_S) -> AudioCheck:
        """Compare the clip rows with the audio files: rows whose file is missing (a bucket object
        deleted by hand, a partial restore) and files no row names. Reads every row's key (in
        batches) and lists the storage once: for ``speechrec check``, not for a page."""
        files = self.audio.clip_files()
        cutoff = time.time() - min_age_s
        missing: list[tuple[str, str]] = []
        known_missing = clips = 0
        named: set[str] = set()
        columns = clips_table.c
        query = select(columns.clip_id, columns.audio_key, columns.status, columns.reason).order_by(columns.clip_id)
        with self._read() as connection:
            for clip_id, key, status, reason in connection.execution_options(yield_per=LEFTOVER_BATCH).execute(query):
                clips += 1
                named.add(key)
                if key not in files:
                    if status == "rejected" and reason == AUDIO_MISSING:
                        known_missing += 1
                    else:
                        missing.append((clip_id, key))
        unnamed = sorted(set(files) - named)
        old = [key for key in unnamed if (files[key] or cutoff) < cutoff]  # unknown age: maybe in flight
        return AudioCheck(
            clips=clips,
            audio_files=len(files),
            rows_without_audio=missing,
            known_missing=known_missing,
            audio_without_rows=old,
            recent_without_rows=sorted(set(unnamed) - set(old)),
        )

    def repair_audio(
        self, check: AudioCheck, reviewer: str = "speechrec check", *, force: bool = False
    ) -> tuple[int, int]:
        """Fix what ``check`` found: reject its rows without audio (reason "audio missing") and
        delete its old files without rows; return ``(rejected, deleted)``. A row that got its
        file back or was deleted meanwhile, and a file a row names by now, are left alone.

        Raises StoreError, and changes nothing, when most rows have no audio
        (``AudioCheck.most_audio_missing``): a wrong storage location looks like that, and
        rejecting every clip would not fix it. ``force``: repair all the same (the audio is lost).
        """
        if check.most_audio_missing and not force:
            raise StoreError(
                f"{len(check.rows_without_audio)} of {check.clips} clip rows have no audio in "
                f"{self.audio.display_url!r}: that looks like a wrong storage location, not lost files; "
                "check the storage URL (or the --store folder) and run the check again; nothing was changed"
            )
        rejected = deleted = 0
        for clip_id, key in check.rows_without_audio:
            if self.clip_exists(clip_id) and not self.audio.exists(key):
                self.set_status(clip_id, "rejected", reason=AUDIO_MISSING, reviewer=reviewer)
                rejected += 1
        for key in check.audio_without_rows:
            if self._unreferenced([key]):
                self.audio.remove(key)
                deleted += 1
        return rejected, deleted

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
                    self._put_meta(connection, CAMPAIGN_KEY, value)
                return
            except ConflictError:
                continue  # another process saved the first campaign at the same moment: update it
        raise StoreError("could not save the campaign while another organizer saved it; try again")

    @staticmethod
    def _put_meta(connection: Connection, key: str, value: str) -> None:
        """Set a meta row: an UPDATE (which locks the row on PostgreSQL), or the INSERT of the first
        value (ConflictError when another process inserted it at the same moment: try again)."""
        if connection.execute(update(meta_table).where(meta_table.c.key == key).values(value=value)).rowcount == 0:
            connection.execute(insert(meta_table).values(key=key, value=value))

    # ---- speakers ---------------------------------------------------------------------------

    def create_speaker(self, consent_version: int, consent_language: str | None = None) -> Speaker:
        """Create a volunteer who agreed to ``consent_version``, read in ``consent_language`` (a
        language code such as 'de'; None: not known); the code is returned only here."""
        check_consent(consent_version, consent_language)
        for _ in range(5):
            speaker_id = secrets.token_hex(4)
            code = new_participant_code()
            now = datetime.now(UTC)
            try:
                with self._write() as connection:
                    connection.execute(
                        insert(speakers_table).values(
                            speaker_id=speaker_id,
                            code_sha256=code_digest(code),
                            origin="volunteer",
                            consent_version=consent_version,
                            consent_language=consent_language,
                            consented_at=now,
                            created_at=now,
                        )
                    )
                return Speaker(speaker_id, format_participant_code(code))
            except ConflictError:
                continue
        raise StoreError("could not create a unique speaker id; try again")

    def ensure_speaker(self, speaker_id: str, origin: str = "import") -> None:
        """Make sure a speaker row exists for an imported speaker id (8 lower-case hex digits).

        Raises WithdrawnError for a speaker who withdrew: an old folder must not bring them back."""
        check_speaker_id(speaker_id)
        try:
            with self._write() as connection:
                self._refuse_withdrawn(connection, [speaker_id])
                exists = connection.scalar(
                    select(speakers_table.c.speaker_id).where(speakers_table.c.speaker_id == speaker_id)
                )
                if exists is None:
                    connection.execute(
                        insert(speakers_table).values(
                            speaker_id=speaker_id, origin=origin, created_at=datetime.now(UTC)
                        )
                    )
        except WithdrawnError:
            raise
        except ConflictError:
            pass  # another process created the same speaker a moment ago

    def find_speaker(self, participant_code: str) -> str | None:
        """The speaker id for a participant code, or None if no speaker has it.

        Raises ValueError for a malformed code (see ``normalize_participant_code``).
        """
        digest = code_digest(participant_code)
        return self._scalar(select(speakers_table.c.speaker_id).where(speakers_table.c.code_sha256 == digest))

    def record_consent(self, speaker_id: str, consent_version: int, consent_language: str | None = None) -> None:
        """Store that a speaker agreed to ``consent_version`` now, read in ``consent_language``."""
        check_consent(consent_version, consent_language)
        with self._write() as connection:
            result = connection.execute(
                update(speakers_table)
                .where(speakers_table.c.speaker_id == speaker_id)
                .values(
                    consent_version=consent_version,
                    consent_language=consent_language,
                    consented_at=datetime.now(UTC),
                )
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

    def add_clip(
        self,
        samples: np.ndarray,
        sample_rate: int,
        quality: QualityReport,
        *,
        keyword: str,
        speaker_id: str,
        session_id: str,
        source: str,
        source_path: str | None = None,
        source_sha1: str | None = None,
        consent_version: int | None = None,
        variation: str | None = None,
        near_miss_of: str | None = None,
        raw: bool | None = None,
    ) -> str:
        """Store one take (mono float32 in [-1, 1], shape ``(frames,)``) with its quality report;
        return its clip id. ``variation``: the campaign variation it was asked in; ``near_miss_of``:
        the keywords its word is a near miss of, joined by '|'; ``raw`` as ``NewClip.raw``. Raises
        as ``add_clips``."""
        clip = new_clip(
            samples,
            sample_rate,
            quality,
            keyword=keyword,
            speaker_id=speaker_id,
            session_id=session_id,
            source=source,
            source_path=source_path,
            source_sha1=source_sha1,
            consent_version=consent_version,
            variation=variation,
            near_miss_of=near_miss_of,
            raw=raw,
        )
        return self.add_clips([clip])[0]

    def add_clips(self, new_clips: Sequence[NewClip]) -> list[str]:
        """Store several takes: all audio first, then all rows in one transaction; return clip ids.

        Raises ValueError for an invalid field and StoreError when storage or database fails
        (then nothing of this batch is visible).
        """
        for clip in new_clips:
            check_new_clip(clip)
        if not new_clips:
            return []
        speaker_ids = sorted({clip.speaker_id for clip in new_clips})
        with self._read() as connection:
            withdrawn = self._withdrawn(connection, speaker_ids)
        if withdrawn:  # before any audio is written; the rows' foreign key refuses one that withdraws meanwhile
            for clip in new_clips:  # audio a worker already wrote for them goes too
                if clip.flac_bytes is None and clip.clip_id and clip.speaker_id in withdrawn:
                    with suppress(OSError, StoreError):
                        self.audio.remove(audio_key(clip.speaker_id, clip.clip_id))
            raise WithdrawnError(f"not stored: {self._withdrawn_text(withdrawn)}")
        clip_ids = [clip.clip_id or uuid.uuid4().hex for clip in new_clips]
        keys = [audio_key(clip.speaker_id, clip_id) for clip, clip_id in zip(new_clips, clip_ids, strict=True)]
        # Audio a worker already wrote belongs to this batch too: it goes if the batch fails.
        written = [key for key, clip in zip(keys, new_clips, strict=True) if clip.flac_bytes is None]
        try:
            for key, clip in zip(keys, new_clips, strict=True):
                if clip.flac_bytes is not None:
                    self.audio.put(key, clip.flac_bytes)
                    written.append(key)
            rows = [clip_row(*entry, datetime.now(UTC)) for entry in zip(new_clips, clip_ids, keys, strict=True)]
            with self._write() as connection:
                connection.execute(insert(clips_table), rows)
        except (OSError, StoreError) as error:
            for key in written:
                with suppress(OSError, StoreError):  # else clean_leftovers removes it later
                    self.audio.remove(key)
            if isinstance(error, ConflictError):
                with suppress(StoreError), self._read() as connection:
                    withdrawn = self._withdrawn(connection, speaker_ids)
                if withdrawn:  # the speaker withdrew while the take was on its way
                    raise WithdrawnError(f"not stored: {self._withdrawn_text(withdrawn)}") from error
                raise ConflictError(
                    f"clip not stored: it duplicates a stored clip or names an unknown speaker; {error}"
                ) from error
            raise StoreError(f"clip not stored: {error}") from error
        return clip_ids

    def clips(
        self,
        *,
        keyword: str | None = None,
        speaker_id: str | None = None,
        session_id: str | None = None,
        status: str | None = None,
    ) -> pd.DataFrame:
        """Clip rows matching every filter given, oldest first (one row per clip, every column but the
        audio fingerprint's)."""
        conditions = equal_conditions(keyword=keyword, speaker_id=speaker_id, session_id=session_id, status=status)
        columns = [column for column in clips_table.c if column.name not in FINGERPRINT_COLUMNS]
        query = select(*columns).where(*conditions)
        return self._frame(query.order_by(clips_table.c.created_at, clips_table.c.clip_id))

    def clip(self, clip_id: str) -> Clip:
        """One clip; StoreError if there is no such clip."""
        with self._read() as connection:
            row = connection.execute(select(clips_table).where(clips_table.c.clip_id == clip_id)).mappings().first()
        if row is None:
            raise StoreError(f"no clip {clip_id!r}; it may have been deleted")
        return clip_record(row)

    def clip_count(
        self,
        *,
        keyword: str | None = None,
        speaker_id: str | None = None,
        session_id: str | None = None,
        status: str | None = None,
    ) -> int:
        """How many clips match every filter given, counted in SQL (as ``clips`` would list them)."""
        query = select(func.count()).select_from(clips_table)
        return int(
            self._scalar(
                query.where(
                    *equal_conditions(keyword=keyword, speaker_id=speaker_id, session_id=session_id, status=status)
                )
            )
        )

    def takes_per_keyword(self, speaker_id: str) -> dict[str, int]:
        """How many clips a speaker has per keyword (background noise under NOISE_KEYWORD), counted in SQL."""
        clips = clips_table.c
        query = select(clips.keyword, func.count()).where(clips.speaker_id == speaker_id).group_by(clips.keyword)
        with self._read() as connection:
            return {keyword: int(count) for keyword, count in connection.execute(query)}

    def takes_per_prompt(self, speaker_id: str) -> dict[tuple[str, str | None], int]:
        """How many clips a speaker has per (keyword, variation), variation None where none was
        asked (background noise under NOISE_KEYWORD), counted in SQL."""
        clips = clips_table.c
        query = (
            select(clips.keyword, clips.variation, func.count())
            .where(clips.speaker_id == speaker_id)
            .group_by(clips.keyword, clips.variation)
        )
        with self._read() as connection:
            return {(keyword, variation): int(count) for keyword, variation, count in connection.execute(query)}
    def latest_takes(self, speaker_id: str, *, limit: int) -> list[Clip]:
        """A speaker's newest ``limit`` clips (all sessions), newest first (created_at, then clip_id):
        one query with a ``LIMIT`` over the speaker's rows (ix_clips_speaker_counts).

        Raises ValueError for a limit below 1.
        """
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ValueError(f"limit must be a whole number of at least 1, got {limit!r}")
        clips = clips_table.c
        query = (
            select(clips_table)
            .where(clips.speaker_id == speaker_id)
            .order_by(clips.created_at.desc(), clips.clip_id.desc())
            .limit(limit)
        )
        with self._read() as connection:
            return [clip_record(row) for row in connection.execute(query).mappings()]

    def add_skip(self, speaker_id: str, keyword: str) -> None:
        """Count one prompt of ``keyword`` (a campaign word, or NOISE_KEYWORD for the room step) that
        the speaker skipped. An UPDATE of the count, or an INSERT of the first one.

        Raises ValueError for a malformed speaker id or keyword, ConflictError for an unknown speaker.
        """
        check_speaker_id(speaker_id)
        if keyword != NOISE_KEYWORD:
            check_keyword(keyword)
        skips = skips_table.c
        count_one = (
            update(skips_table)
            .where(skips.speaker_id == speaker_id, skips.keyword == keyword)
            .values(skipped=skips.skipped + 1)
        )
        try:
            with self._write() as connection:
                if connection.execute(count_one).rowcount == 0:
                    connection.execute(insert(skips_table).values(speaker_id=speaker_id, keyword=keyword, skipped=1))
        except ConflictError:  # another tab added the row meanwhile, or there is no such speaker
            with self._write() as connection:
                if connection.execute(count_one).rowcount == 0:
                    raise ConflictError(f"no speaker {speaker_id!r}; the skip was not counted") from None

    def skips(self, speaker_id: str) -> dict[str, int]:
        """The prompts the speaker skipped, per keyword (NOISE_KEYWORD for the room step); {} if none."""
        skips = skips_table.c
        query = select(skips.keyword, skips.skipped).where(skips.speaker_id == speaker_id)
        with self._read() as connection:
            return {keyword: int(count) for keyword, count in connection.execute(query)}

    def keywords(self) -> list[str]:
        """Every keyword that has clips, sorted. One index seek per keyword (a loose index scan),
        however many clips there are."""
        keyword = clips_table.c.keyword
        found = select(func.min(keyword).label("keyword")).cte("found", recursive=True)
        following = select(func.min(keyword)).where(keyword > found.c.keyword).scalar_subquery()
        found = found.union_all(select(following).where(found.c.keyword.is_not(None)))
        return [str(value) for value in self._scalars(select(found.c.keyword).where(found.c.keyword.is_not(None)))]

    def speaker_ids(self) -> list[str]:
        """Every speaker's id (from the speakers table, one row each), sorted."""
        return [
            str(value)
            for value in self._scalars(select(speakers_table.c.speaker_id).order_by(speakers_table.c.speaker_id))
        ]

    def next_to_review(self, queue: ReviewFilter, *, shown: str | None = None) -> Clip | None:
        """The clip to review now: the newest (created_at, then clip_id) of those ``queue`` holds,
        or None; with ``queue.doubt_first``, the clips the model check doubts first (most doubtful
        first), then flagged ones (``queries.review_queries``). ``LIMIT 1`` queries on the indexes:
        one, or with the doubt first up to three.

        The clip ``shown`` on screen stays while it matches the other filters, even if another
        organizer's decision moved it out of the status filter meanwhile: a click on it is never lost.
        """
        if not isinstance(queue, ReviewFilter):
            raise TypeError(f"queue must be a ReviewFilter, got {queue!r:.80}")
        with self._read() as connection:
            if shown is not None:
                pinned = select(clips_table).where(
                    clips_table.c.clip_id == shown, *review_conditions(queue, any_status=True)
                )
                row = connection.execute(pinned).mappings().first()
                if row is not None:
                    return clip_record(row)
            for query in review_queries(queue):
                row = connection.execute(query).mappings().first()
                if row is not None:
                    return clip_record(row)
        return None

    def count_to_review(self, queue: ReviewFilter, *, limit: int | None = None) -> int:
        """How many clips ``queue`` holds, counted in SQL. With ``limit`` (the Review page's
        REVIEW_COUNT_LIMIT) the count stops early and a result above ``limit`` means "more than
        ``limit``": its time then does not grow with the store."""
        if not isinstance(queue, ReviewFilter):
            raise TypeError(f"queue must be a ReviewFilter, got {queue!r:.80}")
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
            raise ValueError(f"limit must be a whole number >= 0 or None, got {limit!r}")
        count = int(self._scalar(review_count(queue, limit)))
        return count if limit is None else min(count, limit + 1)

    def status_counts(self) -> pd.DataFrame:
        """Clip counts per keyword, status and whether the clip has a quality flag.

        Columns: keyword, status, flagged (bool), clips, duration_s (sum); a row only where
        clips > 0. Counted in SQL per keyword and status, flagged and clean clips side by side
        (aggregate FILTERs), in the order of the index that covers them (no sort, no table read).
        """
        clips = clips_table.c
        clean, flagged = clips.flags == "", clips.flags != ""
        query = (
            select(
                clips.keyword,
                clips.status,
                func.count().filter(clean).label("clean_clips"),
                func.sum(clips.duration_s).filter(clean).label("clean_duration_s"),
                func.count().filter(flagged).label("flagged_clips"),
                func.sum(clips.duration_s).filter(flagged).label("flagged_duration_s"),
            )
            .group_by(clips.keyword, clips.status)
            .order_by(clips.keyword, clips.status)
        )
        wide = self._frame(query)
        parts = [
            wide[["keyword", "status"]].assign(
                flagged=kind == "flagged",
                clips=wide[f"{kind}_clips"].fillna(0),
                duration_s=wide[f"{kind}_duration_s"].fillna(0.0),
            )
            for kind in ("clean", "flagged")
        ]
        frame = pd.concat(parts, ignore_index=True).astype({"flagged": bool, "clips": "int64", "duration_s": float})
        frame = frame[frame["clips"] > 0].sort_values(["keyword", "status", "flagged"], kind="stable")
        return frame.reset_index(drop=True)

    def variation_counts(self, keywords: Sequence[str]) -> pd.DataFrame:
        """Clip counts of ``keywords`` per keyword, variation and status, in SQL: columns keyword,
        variation (None where no variation was asked), status, flagged (bool), clips. A row
        only where clips > 0; read from the index ix_clips_variation_counts alone."""
        clips = clips_table.c
        flagged = (clips.flags != "").label("flagged")
        query = (
            select(clips.keyword, clips.variation, clips.status, flagged, func.count().label("clips"))
            .where(clips.keyword.in_(list(keywords)))
            .group_by(clips.keyword, clips.variation, clips.status, flagged)
            .order_by(clips.keyword, clips.variation, clips.status, flagged)
        )
        frame = self._frame(query)
        frame["flagged"] = frame["flagged"].astype(bool)
        frame["variation"] = frame["variation"].astype(object).where(frame["variation"].notna(), None)
        return frame

    def speaker_counts(self) -> pd.DataFrame:
        """Per speaker, computed in SQL: clips, accepted, words covered, first and last take (UTC),
        the speakers with the latest take first. Background noise is left out. Read from the
        speaker index (speaker_id, keyword, status, created_at) alone."""
        clips = clips_table.c
        query = (
            select(
                clips.speaker_id,
                func.count().label("clips"),
                func.count().filter(clips.status == "accepted").label("accepted"),
                func.count(clips.keyword.distinct()).label("words"),
                func.min(clips.created_at).label("first_take"),
                func.max(clips.created_at).label("last_take"),
            )
            .where(clips.keyword != NOISE_KEYWORD)
            .group_by(clips.speaker_id)
            .order_by(func.max(clips.created_at).desc())
        )
        frame = self._frame(query).astype({"clips": "int64", "accepted": "int64", "words": "int64"})
        for column in ("first_take", "last_take"):
            frame[column] = pd.to_datetime(frame[column], utc=True)
        return frame

    def speaker_count(self) -> int:
        """How many speakers have clips (background noise aside), counted in SQL (grouped in the
        order of the speaker index, which needs no DISTINCT)."""
        clips = clips_table.c
        speakers = select(clips.speaker_id).where(clips.keyword != NOISE_KEYWORD).group_by(clips.speaker_id).subquery()
        return int(self._scalar(select(func.count()).select_from(speakers)))

    def daily_counts(self) -> pd.DataFrame:
        """Takes per UTC day (columns day, clips; days without takes left out), background noise
        left out, computed in SQL.

        One range count per day on the created_at index, from the first take's day to the last's
        (two index seeks find them), the days given as a VALUES list: each index entry is read
        once and nothing is sorted, where GROUP BY date(created_at) sorts every row.
        """
        clips = clips_table.c
        bounds = select(
            select(func.min(clips.created_at)).scalar_subquery(), select(func.max(clips.created_at)).scalar_subquery()
        )
        found: list[tuple[date, int]] = []
        with self._read() as connection:
            first, last = (as_utc(value) for value in connection.execute(bounds).one())
            if first is not None:
                start = datetime(first.year, first.month, first.day, tzinfo=UTC)
                starts = [start + timedelta(days=number) for number in range((last - start).days + 1)]
                for offset in range(0, len(starts), DAYS_PER_QUERY):
                    day_list = values(
                        sql_column("begin", DateTime(timezone=True)),
                        sql_column("end", DateTime(timezone=True)),
                        name="days",
                    ).data([(begin, begin + timedelta(days=1)) for begin in starts[offset : offset + DAYS_PER_QUERY]])
                    days = day_list.cte("days")  # SQLite names a VALUES list's columns only in a CTE
                    takes = (
                        select(func.count())
                        .where(
                            clips.created_at >= days.c.begin,
                            clips.created_at < days.c.end,
                            clips.keyword != NOISE_KEYWORD,
                        )
                        .scalar_subquery()
                    )
                    rows = connection.execute(select(days.c.begin, takes).order_by(days.c.begin)).all()
                    found += [(as_utc(begin).date(), int(count)) for begin, count in rows if count]
        frame = pd.DataFrame(
            {"day": pd.Series([day for day, _ in found], dtype="object"), "clips": [count for _, count in found]}
        )
        return frame.astype({"day": "datetime64[ns]", "clips": "int64"})

    def known_source_sha1s(self) -> set[str]:
        """SHA-1 digests of every imported file already in the store (for re-import without duplicates)."""
        return set(self._scalars(select(clips_table.c.source_sha1).where(clips_table.c.source_sha1.is_not(None))))

    def replace_doubt(
        self, fingerprint: str, checked_at: datetime, doubt: Iterable[tuple[str, str, float]]
    ) -> int:
        """Keep a model check's doubt about the clips it doubts in place of any earlier check's
        (every row of the earlier check goes, in the same transaction); return how many clips'
        doubt is kept.

        ``fingerprint``: the export fingerprint the check was made on; ``checked_at``: when (an
        aware datetime); ``doubt``: ``(clip_id, keyword as checked, doubt)``, doubt from 0 (sure of
        the word) to 1. Only doubted clips (above DOUBTED_ABOVE) are kept, as nothing else orders
        the queue: a few per cent of the clips, so the write holds SQLite's lock briefly. Clips
        deleted since the check (a volunteer withdrew) are passed over. Every app replica then
        reads it (``doubt_check``, and ``ReviewFilter.doubt_first``/``doubted_only``). Raises
        ValueError for a doubt outside 0-1, StoreError when the database fails.
        """
        if not isinstance(checked_at, datetime) or checked_at.tzinfo is None:
            raise ValueError(f"checked_at must be an aware datetime (UTC), got {checked_at!r}")
        rows = []
        for clip_id, keyword, value in doubt:
            if not 0.0 <= float(value) <= 1.0:
                raise ValueError(f"doubt must be from 0 to 1, got {value!r} for clip {clip_id!r}")
            if float(value) > DOUBTED_ABOVE:
                rows.append({"clip_id": clip_id, "keyword": keyword, "doubt": float(value)})
        stamp = json.dumps({"fingerprint": fingerprint, "checked_at": checked_at.astimezone(UTC).isoformat()})
        clips = clips_table.c
        for _ in range(REVIEW_ATTEMPTS):
            try:
                with self._write() as connection:
                    # The stamp first: its row lock makes two checks that end at once write one after
                    # the other on PostgreSQL (SQLite has one writer anyway).
                    self._put_meta(connection, MODEL_CHECK_KEY, stamp)
                    connection.execute(delete(clip_doubt_table))
                    existing: set[str] = set()
                    for chunk in batched([row["clip_id"] for row in rows], LEFTOVER_BATCH):
                        existing |= set(connection.scalars(select(clips.clip_id).where(clips.clip_id.in_(chunk))))
                    kept = [row for row in rows if row["clip_id"] in existing]
                    if kept:
                        connection.execute(insert(clip_doubt_table), kept)
                return len(kept)
            except ConflictError:
                # Another check stored the first stamp a moment ago, or a clip was withdrawn between
                # the lookup and the insert (PostgreSQL): again, from the start.
                continue
        raise StoreError("the model check's doubt could not be kept while clips kept changing; run the check again")

    def doubt_check(self) -> DoubtCheck | None:
        """The model check whose doubt the store holds (``replace_doubt``), or None before the first."""
        text = self._scalar(select(meta_table.c.value).where(meta_table.c.key == MODEL_CHECK_KEY))
        if text is None:
            return None
        stamp = json.loads(text)
        return DoubtCheck(stamp["fingerprint"], datetime.fromisoformat(stamp["checked_at"]))

    def fingerprint_candidates(self, prints: Sequence[Fingerprint]) -> list[list[FingerprintedClip]]:
        """For each of ``prints``, the stored clips whose audio fingerprint may be its (the loudest
        frame as loud and in the same place, ``fingerprint.candidate_ranges``): one query for all,
        a few seeks of ix_clips_fingerprint per print. Whether one is a copy is for
        ``fingerprint.same_audio`` and ``same_recording`` to say."""
        if not prints:
            return []
        clips = clips_table.c
        ranges = [candidate_ranges(print_) for print_ in prints]
        near = [
            and_(clips.fingerprint_peak.in_(list(peaks)), clips.fingerprint_loudest.between(places[0], places[-1]))
            for peaks, places in ranges
        ]
        columns = [clips.clip_id, clips.source, clips.source_path, clips.audio_key]
        query = select(*columns, *(clips[name] for name in FINGERPRINT_COLUMNS)).where(or_(*near))
        with self._read() as connection:
            rows = connection.execute(query).mappings().all()
        stored = [
            FingerprintedClip(row["clip_id"], row["source"], row["source_path"], row["audio_key"], found)
            for row in rows
            if (found := fingerprint_record(row)) is not None
        ]
        return [
            [clip for clip in stored if clip.fingerprint.peak_steps in peaks and clip.fingerprint.loudest in places]
            for peaks, places in ranges
        ]

    def clips_without_fingerprint(self) -> list[tuple[str, str]]:
        """``(clip_id, audio_key)`` of the clips whose audio fingerprint is not known yet (stored
        before revision 0010 kept it, or their audio could not be read), oldest first."""
        clips = clips_table.c
        query = (
            select(clips.clip_id, clips.audio_key)
            .where(clips.fingerprint_levels.is_(None))
            .order_by(clips.created_at, clips.clip_id)
        )
        with self._read() as connection:
            return [(clip_id, key) for clip_id, key in connection.execute(query)]

    def set_fingerprints(self, prints: Iterable[tuple[str, Fingerprint]]) -> None:
        """Keep the audio fingerprint of clips that have none yet (``(clip_id, fingerprint)``). A clip
        deleted meanwhile is passed over."""
        clips = clips_table.c
        statement = (
            update(clips_table)
            .where(clips.clip_id == bindparam("clip"), clips.fingerprint_levels.is_(None))
            .values({name: bindparam(f"new_{name}") for name in FINGERPRINT_COLUMNS})
        )
        rows = [
            {"clip": clip_id, **{f"new_{name}": value for name, value in fingerprint_columns(print_).items()}}
            for clip_id, print_ in prints
        ]
        if rows:
            with self._write() as connection:
                connection.execute(statement, rows)

    def set_status(
        self,
        clip_id: str,
        status: str,
        *,
        reason: str | None = None,
        reviewer: str | None = None,
        expected: ReviewState | None = None,
    ) -> ReviewState:
        """Record a review decision; return the clip's review state just before it (to undo it).

        ``expected``: the state the organizer saw (``Clip.review_state``); if the clip has changed
        since (another organizer's decision), nothing is written and StaleReviewError says what
        it is now. Without it the decision is written whatever came before. StoreError if the
        clip does not exist (deleted, or its volunteer withdrew).
        """
        if status not in STATUSES:
            raise ValueError(f"status must be one of {', '.join(STATUSES)}, got {status!r}")
        return self._review(
            clip_id, expected, status=status, reason=reason, reviewer=reviewer, reviewed_at=datetime.now(UTC)
        )

    def relabel(
        self,
        clip_id: str,
        keyword: str,
        *,
        near_miss_of: str | None = None,
        reviewer: str | None = None,
        expected: ReviewState | None = None,
    ) -> ReviewState:
        """File a clip under another word (the volunteer said a different one); return the state before.

        ``near_miss_of``: the keywords the new word is a near miss of (``Campaign.near_miss_label``),
        None for any other word: the clip's old value never stays with a new word. ``expected``
        and errors as ``set_status``.
        """
        check_keyword(keyword)
        check_near_miss_of(near_miss_of)
        return self._review(
            clip_id,
            expected,
            keyword=keyword,
            near_miss_of=near_miss_of,
            reviewer=reviewer,
            reviewed_at=datetime.now(UTC),
        )

    def restore(self, clip_id: str, previous: ReviewState) -> None:
        """Undo the decision that ``set_status`` or ``relabel`` returned ``previous`` for: put the
        clip's review state back, unless someone changed the clip after that decision
        (StaleReviewError: their decision stands). StoreError if the clip no longer exists."""
        if not isinstance(previous, ReviewState):
            raise TypeError(f"previous must be a ReviewState, got {previous!r:.80}")
        values = {name: value for name, value in asdict(previous).items() if name != "version"}
        self._compare_and_set(clip_id, previous.version + 1, values)

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
                .values(
                    status=status,
                    reason=reason,
                    reviewer=reviewer,
                    reviewed_at=datetime.now(UTC),
                    version=clips_table.c.version + 1,
                )
            )
        return result.rowcount

    def clip_exists(self, clip_id: str) -> bool:
        """Whether a clip row exists (one primary-key lookup)."""
        return self._scalar(select(clips_table.c.clip_id).where(clips_table.c.clip_id == clip_id)) is not None

    def review_state(self, clip_id: str) -> ReviewState:
        """A clip's review columns now; StoreError if there is no such clip."""
        with self._read() as connection:
            return self._review_state(connection, clip_id)

    def _review(self, clip_id: str, expected: ReviewState | None, **values: object) -> ReviewState:
        """Write review ``values`` if the clip is still at ``expected`` (or, without it, at whatever
        version it is read at); return the state replaced."""
        if expected is not None:
            if not isinstance(expected, ReviewState):
                raise TypeError(f"expected must be a ReviewState, got {expected!r:.80}")
            self._compare_and_set(clip_id, expected.version, values)
            return expected
        for _ in range(REVIEW_ATTEMPTS):
            before = self.review_state(clip_id)
            if self._compare_and_set(clip_id, before.version, values, stale_ok=True):
                return before
        raise StoreError(f"clip {clip_id!r} kept changing while this decision was written; try again")

    def _compare_and_set(
        self, clip_id: str, version: int, values: dict[str, object], *, stale_ok: bool = False
    ) -> bool:
        """One UPDATE of the clip's review columns that applies only at ``version`` (and bumps it):
        atomic on SQLite and PostgreSQL alike. False (``stale_ok``) or StaleReviewError when the
        clip is at another version; StoreError when it is gone."""
        with self._write() as connection:
            updated = connection.execute(
                update(clips_table)
                .where(clips_table.c.clip_id == clip_id, clips_table.c.version == version)
                .values(**values, version=version + 1)
            ).rowcount
        if updated:
            return True
        current = self.review_state(clip_id)  # StoreError if the clip is gone
        if stale_ok:
            return False
        who = current.reviewer or "someone"
        raise StaleReviewError(
            f"clip {clip_id} was changed meanwhile by {who}: it is now {current.status}"
            f"{f' ({current.reason})' if current.reason else ''}, filed under {current.keyword!r}; "
            "look at it again before you decide",
            current,
        )

    def _review_state(self, connection: Connection, clip_id: str) -> ReviewState:
        """The review columns of a clip (with its version)."""
        columns = [clips_table.c[name] for name in ReviewState.__dataclass_fields__]
        row = connection.execute(select(*columns).where(clips_table.c.clip_id == clip_id)).mappings().first()
        if row is None:
            raise StoreError(f"no clip {clip_id!r}; it may have been deleted (or its volunteer withdrew)")
        return review_state_record(row)

    def read_audio(self, clip_id: str) -> tuple[np.ndarray, int]:
        """A clip's audio as ``(mono float32 samples in [-1, 1], sample_rate)``."""
        return read_audio_bytes(self.read_flac(self.clip(clip_id).audio_key))

    def read_flac(self, key: str) -> bytes:
        """The stored FLAC bytes under ``key`` (a value of the clips' audio_key column).

        StoreError for a key that is not a clip's (``storage.check_audio_key``) or unreadable audio."""
        return self.audio.get(check_audio_key(key))

    def delete_clip(self, clip_id: str) -> None:
        """Delete one clip: its row first (so nothing points at missing audio), then its audio."""
        key = self.clip(clip_id).audio_key
        with self._write() as connection:
            connection.execute(delete(clips_table).where(clips_table.c.clip_id == clip_id))
        self._remove_audio([key])

    def delete_speaker(self, speaker_id: str) -> int:
        """Withdraw a speaker: delete every clip row, their skips, the speaker row and every audio file
        of theirs, and keep their id in the withdrawn list; return the number of clips deleted.

        Complete whatever is in flight: the rows are deleted and their audio keys read in one
        statement (a take committed a moment before is among them), a take committed at the same
        moment makes the withdrawal start over and go too, and a take arriving afterwards is
        refused (WithdrawnError), its audio removed by its own writer. Everything under
        ``clips/<speaker>/`` is removed at the end, rows or not. Exports are the caller's
        (``speechrec.withdrawal.withdraw_speaker`` removes those that contain the speaker).
        """
        check_speaker_id(speaker_id)
        for _ in range(WITHDRAWAL_ATTEMPTS):
            try:
                with self._write() as connection:
                    deleted = connection.execute(
                        delete(clips_table)
                        .where(clips_table.c.speaker_id == speaker_id)
                        .returning(clips_table.c.audio_key)
                    )
                    keys = list(deleted.scalars())
                    connection.execute(delete(skips_table).where(skips_table.c.speaker_id == speaker_id))
                    connection.execute(delete(speakers_table).where(speakers_table.c.speaker_id == speaker_id))
                    if not self._withdrawn(connection, [speaker_id]):
                        connection.execute(
                            insert(withdrawn_speakers_table).values(
                                speaker_id=speaker_id, withdrawn_at=datetime.now(UTC)
                            )
                        )
                break
            except ConflictError:
                continue  # a take of the speaker was committed at this very moment (PostgreSQL): again, with it
        else:
            raise StoreError(f"speaker {speaker_id} could not be withdrawn while takes kept arriving; try again")
        self._remove_audio(keys)
        for key in self.audio.keys_under(f"{AUDIO_PREFIX}/{speaker_id}"):
            self.audio.remove(key)  # audio no row named: a take that failed on its way, a crash's leftover
        return len(keys)

    def withdrawn_speakers(self, speaker_ids: Iterable[str]) -> set[str]:
        """Which of ``speaker_ids`` withdrew (looked up in SQL, in batches)."""
        with self._read() as connection:
            return self._withdrawn(connection, sorted(set(speaker_ids)))

    def _withdrawn(self, connection: Connection, speaker_ids: Sequence[str]) -> set[str]:
        found: set[str] = set()
        column = withdrawn_speakers_table.c.speaker_id
        for chunk in batched(speaker_ids, LEFTOVER_BATCH):
            found |= set(connection.scalars(select(column).where(column.in_(chunk))))
        return found

    @staticmethod
    def _withdrawn_text(speaker_ids: set[str]) -> str:
        return f"speaker {', '.join(sorted(speaker_ids))} withdrew from the campaign; nothing of theirs is kept"

    def _refuse_withdrawn(self, connection: Connection, speaker_ids: Sequence[str]) -> None:
        withdrawn = self._withdrawn(connection, speaker_ids)
        if withdrawn:
            raise WithdrawnError(f"not stored: {self._withdrawn_text(withdrawn)}")

    def _remove_audio(self, keys: Iterable[object]) -> None:
        """Delete the audio of rows already deleted; a key that is not a clip's (an altered row) names
        no file of the store, so nothing is deleted for it."""
        for key in keys:
            if isinstance(key, str) and CLIP_AUDIO_KEY.fullmatch(key):
                self.audio.remove(key)

    # ---- organizer sign-in throttling (policy: speechrec.auth) --------------------------------

    def claim_sign_in(self, buckets: Sequence[str], *, now: datetime | None = None) -> float:
        """Ask to check one organizer password from a client counted in ``buckets``
        (``auth.sign_in_buckets``): 0.0 when it may be checked now, else the seconds to wait
        (and nothing is counted).

        A granted check is counted as a failure in every bucket before the password is checked,
        with the wait the next check then needs (``auth.sign_in_delay_s``): every other session,
        process and replica sees it at once, so no two checks share one wait, and a check that
        never finishes counts as wrong. ``sign_in_succeeded`` takes it back for a right password.
        Each row changes by a compare-and-set (rows also locked on PostgreSQL), tried again when
        another check lands in between; StoreError after SIGN_IN_ATTEMPTS such tries. Buckets
        whose last failure is older than ``auth.FAILURE_MEMORY_S`` count as empty and are
        deleted. ``now``: the time to count at (UTC), the clock's by default.
        """
        now = sign_in_time(now)
        buckets = check_buckets(buckets)
        for _ in range(SIGN_IN_ATTEMPTS):
            try:
                with self._write() as connection:
                    stored = self._sign_in_failures(connection, buckets, lock=True)
                    wait_s = max([0.0, *(failures.wait_s(now) for failures in stored.values())])
                    if wait_s > 0:
                        return wait_s
                    for bucket in buckets:
                        self._count_sign_in_failure(connection, bucket, stored.get(bucket), now)
                break
            except ConflictError:
                continue  # another check counted in the same bucket at this moment: read it again
        else:
            raise StoreError("the password could not be checked while many others were; try again in a minute")
        with self._write() as connection:
            cutoff = now - timedelta(seconds=FAILURE_MEMORY_S)
            connection.execute(delete(sign_in_failures_table).where(sign_in_failures_table.c.last_failure_at <= cutoff))
        return 0.0

    def sign_in_wait_s(self, buckets: Sequence[str], *, now: datetime | None = None) -> float:
        """Seconds until a password from a client counted in ``buckets`` may be checked (0.0: now).
        One primary-key read per bucket; nothing is counted."""
        now = sign_in_time(now)
        with self._read() as connection:
            stored = self._sign_in_failures(connection, check_buckets(buckets))
        return max([0.0, *(failures.wait_s(now) for failures in stored.values())])

    def sign_in_succeeded(self, buckets: Sequence[str], *, now: datetime | None = None) -> None:
        """A right password from a client counted in ``buckets`` (after ``claim_sign_in``): the
        client's own buckets (its network) forget their failures; GLOBAL_BUCKET only takes back
        the failure counted in advance, and is open again at once, so that the organizer's sign-in
        forgives no one else's guesses (it lets at most one waiting check through early)."""
        now = sign_in_time(now)
        buckets = check_buckets(buckets)
        table = sign_in_failures_table.c
        own = [bucket for bucket in buckets if bucket != GLOBAL_BUCKET]
        with self._write() as connection:
            if own:
                connection.execute(delete(sign_in_failures_table).where(table.bucket.in_(own)))
            if GLOBAL_BUCKET in buckets:
                connection.execute(
                    update(sign_in_failures_table)
                    .where(table.bucket == GLOBAL_BUCKET, table.failures > 0)
                    .values(failures=table.failures - 1, retry_at=now)
                )

    def _sign_in_failures(
        self, connection: Connection, buckets: Sequence[str], *, lock: bool = False
    ) -> dict[str, SignInFailures]:
        """The stored rows of ``buckets``, by bucket (locked for the transaction on PostgreSQL with
        ``lock``, in bucket order, so that two checks never wait for each other in a circle)."""
        table = sign_in_failures_table.c
        query = select(table.bucket, table.failures, table.last_failure_at, table.retry_at).where(
            table.bucket.in_(buckets)
        )
        if lock:
            query = query.order_by(table.bucket).with_for_update()
        return {
            bucket: SignInFailures(failures, as_utc(last_failure_at), as_utc(retry_at))
            for bucket, failures, last_failure_at, retry_at in connection.execute(query)
        }

    def _count_sign_in_failure(
        self, connection: Connection, bucket: str, stored: SignInFailures | None, now: datetime
    ) -> None:
        """Count one failure in ``bucket`` as it was read (``stored``, None: no row); ConflictError
        when another check changed or made the row since."""
        failures = (stored.failures if stored is not None and stored.remembered(now) else 0) + 1
        counted = {
            "failures": failures,
            "last_failure_at": now,
            "retry_at": now + timedelta(seconds=sign_in_delay_s(bucket, failures)),
        }
        if stored is None:  # the insert is a ConflictError if another check made the row meanwhile
            connection.execute(insert(sign_in_failures_table).values(bucket=bucket, **counted))
            return
        table = sign_in_failures_table.c
        unchanged = (table.bucket == bucket, table.failures == stored.failures, table.retry_at == stored.retry_at)
        if connection.execute(update(sign_in_failures_table).where(*unchanged).values(**counted)).rowcount != 1:
            raise ConflictError(f"sign-in bucket {bucket!r} changed meanwhile")

    # ---- whole-store copies (speechrec.migrate) ------------------------------------------------

    def dump_rows(self) -> dict[str, list[dict[str, object]]]:
        """Every row of every table, by table name, in a fixed order; times as UTC datetimes."""
        dumped = {}
        with self._read() as connection:
            for table in metadata.sorted_tables:  # speakers before the clips that name them
                rows = connection.execute(select(table).order_by(*table.primary_key.columns)).mappings()
                dumped[table.name] = [{name: as_utc(value) for name, value in row.items()} for row in rows]
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
                    table_rows = [row for row in table_rows if row["key"] != SCHEMA_VERSION_KEY]
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
            raise ConflictError(f"conflicts with stored data ({self._reason(error.orig or error)})") from error
        except SQLAlchemyError as error:
            raise StoreError(f"database error: {self._reason(getattr(error, 'orig', None) or error)}") from error

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        """A connection for queries; database failures become StoreError."""
        try:
            with self._engine.connect() as connection:
                yield connection
        except (SQLAlchemyError, pd.errors.DatabaseError) as error:
            cause = error.__cause__ if isinstance(error, pd.errors.DatabaseError) else error  # pandas wraps it
            reason = self._reason(getattr(cause, "orig", None) or cause or error)
            raise StoreError(f"database error: {reason}") from error

    def _reason(self, error: BaseException) -> str:
        """A database error as text without the URL's credentials (a driver may quote its connection
        string); SQLite's "readonly database" names its file and the fix, which SQLite does not."""
        reason = redact(str(error), self.settings.database_url, self.settings.storage_url)
        sqlite = make_url(self.settings.database_url).get_backend_name() == "sqlite"
        if sqlite and ("readonly database" in reason or "unable to open database" in reason):
            database = make_url(self.settings.database_url).database
            reason += f" ({database!r}: make it and its folder writable for the user running speechrec)"
        return reason

    def _frame(self, query) -> pd.DataFrame:
        with self._read() as connection:
            frame = pd.read_sql(query, connection)
        for column in ("created_at", "reviewed_at", "consented_at"):
            if column in frame:
                frame[column] = pd.to_datetime(frame[column], utc=True)
        return frame

    def _scalar(self, query) -> Any:
        with self._read() as connection:
            return connection.scalar(query)

    def _scalars(self, query) -> Sequence[Any]:
        with self._read() as connection:
            return connection.scalars(query).all()


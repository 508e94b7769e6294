"""Schema migrations on SQLite and PostgreSQL: a database of the first release (round one) is
recognised and upgraded without losing a row; a new database gets exactly the schema of
speechrec/schema.py; processes opening a store at once migrate it once; `upgrade --dry-run`."""

from __future__ import annotations

import re
import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from signals import make_take
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
    insert,
    select,
    text,
)

from speechrec.cli import main
from speechrec.config import load_settings
from speechrec.errors import StoreError
from speechrec.locations import local_storage_path
from speechrec.migrations import HEAD_REVISION, alembic_config
from speechrec.participant_codes import code_digest
from speechrec.quality import assess_take
from speechrec.review import ANY, ReviewFilter
from speechrec.schema import SCHEMA_VERSION, metadata
from speechrec.store import ClipStore

# ---- round one: the tables exactly as speechrec/store.py defined them at commit 8ec85ee ------------

ROUND_ONE = MetaData()
round_one_meta = Table(
    "speechrec_meta",
    ROUND_ONE,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)
round_one_speakers = Table(
    "speakers",
    ROUND_ONE,
    Column("speaker_id", String(8), primary_key=True),
    Column("code_sha256", String(64), unique=True, nullable=True),
    Column("origin", String(16), nullable=False),
    Column("consent_version", Integer, nullable=True),
    Column("consented_at", DateTime(timezone=True), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)
round_one_clips = Table(
    "clips",
    ROUND_ONE,
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
CODE = "K7QM2XPA9DHT"
CAMPAIGN_JSON = '{"title": "Round one", "keywords": ["yes", "tüm"], "consent_text": "I agree."}'
START = datetime(2024, 5, 1, 9, 30, tzinfo=UTC)
# How many revisions there are (their numbers may have gaps, see the numbering test).
REVISIONS = len(list(ScriptDirectory.from_config(alembic_config()).walk_revisions()))


def round_one_rows() -> dict[Table, list[dict]]:
    """Speakers (a volunteer with a code, imported ones), clips of every status, source and flag
    (decisions, re-labels, background noise, NULL quality numbers), and the meta rows."""
    speakers = [
        {"speaker_id": "0a1b2c3d", "code_sha256": code_digest(CODE), "origin": "volunteer", "consent_version": 2,
         "consented_at": START, "created_at": START},
        {"speaker_id": "00c0ffee", "code_sha256": None, "origin": "import", "consent_version": None,
         "consented_at": None, "created_at": START + timedelta(minutes=1)},
        {"speaker_id": "deadbeef", "code_sha256": None, "origin": "import", "consent_version": None,
         "consented_at": None, "created_at": START + timedelta(minutes=2)},
    ]  # fmt: skip
    clips = []
    for number in range(60):
        speaker = speakers[number % 3]["speaker_id"]
        status = ("pending", "accepted", "rejected")[number % 3 if number % 5 else 0]
        clip_id = f"{number:032x}"
        speech = number % 7 != 0  # every 7th take has no speech: NULL speech numbers, flagged
        clips.append(
            {
                "clip_id": clip_id,
                "keyword": "_background_noise_" if number % 11 == 0 else ("yes", "tüm", "no")[number % 3],
                "speaker_id": speaker,
                "session_id": f"session-{number // 10}",
                "created_at": START + timedelta(hours=number),
                "source": ("webrtc", "audio_input", "import")[number % 3],
                "source_path": f"yes-raw/{number:08x}.ogg" if number % 3 == 2 else None,
                "source_sha1": f"{number:040x}" if number % 3 == 2 else None,
                "sample_rate": (16000, 44100, 48000)[number % 3],
                "duration_s": 1.0 + number / 100,
                "audio_key": f"clips/{speaker}/{clip_id}.flac",
                "peak_dbfs": -3.5 - number / 10,
                "clipped_fraction": number / 1e5,
                "noise_floor_dbfs": -60.25,
                "speech_level_dbfs": -21.5 if speech else None,
                "snr_db": 38.75 if speech else None,
                "speech_start_s": 0.25 if speech else None,
                "speech_end_s": 0.75 if speech else None,
                "flags": "" if speech else "no_speech",
                "status": status,
                "reason": "too quiet" if status == "rejected" else None,
                "reviewer": "ana" if status != "pending" else None,
                "reviewed_at": START + timedelta(days=3, minutes=number) if status != "pending" else None,
                "consent_version": 2 if speaker == "0a1b2c3d" else None,
            }
        )
    meta = [{"key": "schema_version", "value": "1"}, {"key": "campaign", "value": CAMPAIGN_JSON}]
    return {round_one_meta: meta, round_one_speakers: speakers, round_one_clips: clips}


def make_round_one(database_url: str) -> None:
    """A database as the first release left it: its tables, its schema_version 1, no alembic_version."""
    url = sqlalchemy.make_url(database_url)
    if url.get_backend_name() == "sqlite":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = sqlalchemy.create_engine(database_url)
    with engine.begin() as connection:
        ROUND_ONE.create_all(connection)
        for table, rows in round_one_rows().items():
            connection.execute(insert(table), rows)
    engine.dispose()


def read_all(database_url: str) -> dict[str, list[tuple]]:
    """Every row of the round-one tables, ordered by key, times as UTC."""
    engine = sqlalchemy.create_engine(database_url)
    with engine.connect() as connection:
        tables = {
            table.name: [
                tuple(value.replace(tzinfo=UTC) if isinstance(value, datetime) and value.tzinfo is None
                      else value.astimezone(UTC) if isinstance(value, datetime) else value for value in row)
                for row in connection.execute(select(table).order_by(*table.primary_key.columns))
            ]
            for table in ROUND_ONE.sorted_tables
        }  # fmt: skip
    engine.dispose()
    return tables


def revision_of(database_url: str) -> tuple[str | None, str | None]:
    engine = sqlalchemy.create_engine(database_url)
    with engine.connect() as connection:
        tables = set(sqlalchemy.inspect(connection).get_table_names())
        revision = (
            connection.scalar(text("SELECT version_num FROM alembic_version")) if "alembic_version" in tables else None
        )
        version = connection.scalar(text("SELECT value FROM speechrec_meta WHERE key = 'schema_version'"))
    engine.dispose()
    return revision, version


def schema_differences(database_url: str) -> list:
    """What Alembic's autogenerate finds between the database and speechrec/schema.py (nothing, if equal)."""
    engine = sqlalchemy.create_engine(database_url)
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), metadata)
    engine.dispose()
    return differences


@pytest.fixture
def settings(backend_settings):
    """The back-end pair; a local audio folder exists, as it did for the store whose rows these
    tests write (a store with clips and no audio folder is refused as a mistyped storage URL)."""
    folder = local_storage_path(backend_settings.storage_url)
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
    return backend_settings


# ---- upgrade of a round-one database ------------------------------------------------------------------


def test_a_round_one_database_is_upgraded_and_keeps_every_row(settings):
    make_round_one(settings.database_url)
    before = read_all(settings.database_url)
    assert [len(before[name]) for name in ("speechrec_meta", "speakers", "clips")] == [2, 3, 60]
    assert revision_of(settings.database_url) == (None, "1")

    store = ClipStore(settings)
    try:
        assert revision_of(settings.database_url) == (HEAD_REVISION, str(SCHEMA_VERSION))
        after = read_all(settings.database_url)
        assert after["speakers"] == before["speakers"]
        assert after["clips"] == before["clips"]
        assert [row for row in after["speechrec_meta"] if row[0] != "schema_version"] == [
            row for row in before["speechrec_meta"] if row[0] != "schema_version"
        ]
        assert schema_differences(settings.database_url) == []
        # The store reads and writes the old rows as its own.
        assert len(store.clips()) == 60 and len(store.speakers()) == 3
        assert store.find_speaker(CODE.lower()) == "0a1b2c3d"
        assert store.saved_campaign().keywords == ("yes", "tüm")
        clip = store.clip(f"{7:032x}")
        assert clip.quality.speech_level_dbfs is None and clip.flags == ("no_speech",)
        assert clip.created_at == START + timedelta(hours=7)
        previous = store.set_status(clip.clip_id, "accepted", reviewer="ben")
        assert (previous.status, previous.reviewer) == (clip.status, clip.reviewer)
        assert store.status_counts()["clips"].sum() == 60
    finally:
        store.close()
    reopened = ClipStore(settings)  # an upgraded store opens as it is
    try:
        assert len(reopened.clips()) == 60
    finally:
        reopened.close()


def make_revision_two(database_url: str) -> None:
    """A database as speechrec left it at revision 0002 (before raw takes and skips): the round-one
    rows, upgraded by revisions 0001 and 0002 alone."""
    make_round_one(database_url)
    command.upgrade(alembic_config(database_url), "0002")


def test_a_revision_two_database_gets_raw_and_skips_and_keeps_every_row(settings):
    make_revision_two(settings.database_url)
    assert revision_of(settings.database_url) == ("0002", "2")
    before = read_all(settings.database_url)
    assert [len(before[name]) for name in ("speechrec_meta", "speakers", "clips")] == [2, 3, 60]

    store = ClipStore(settings)
    try:
        assert revision_of(settings.database_url) == (HEAD_REVISION, str(SCHEMA_VERSION))
        after = read_all(settings.database_url)
        assert (after["speakers"], after["clips"]) == (before["speakers"], before["clips"])
        assert [row for row in after["speechrec_meta"] if row[0] != "schema_version"] == [
            row for row in before["speechrec_meta"] if row[0] != "schema_version"
        ]
        assert schema_differences(settings.database_url) == []
        # Nobody knows whether the old takes were raw, and nobody has skipped anything yet.
        assert store.clips()["raw"].isna().all() and store.clip(f"{1:032x}").raw is None
        assert store.skips("0a1b2c3d") == {}
        # The new column and table work on the upgraded database, withdrawal included.
        take = make_take(sample_rate=16000, word="yes")
        clip_id = store.add_clip(
            take,
            16000,
            assess_take(take, 16000),
            keyword="yes",
            speaker_id="0a1b2c3d",
            session_id="s",
            source="webrtc",
            raw=True,
        )
        assert store.clip(clip_id).raw is True
        store.add_skip("0a1b2c3d", "tüm")
        store.add_skip("0a1b2c3d", "tüm")
        assert store.skips("0a1b2c3d") == {"tüm": 2}
        assert store.delete_speaker("0a1b2c3d") == 21
        assert store.skips("0a1b2c3d") == {} and len(store.clips()) == 40
    finally:
        store.close()


def test_a_new_database_gets_the_schema_of_schema_py(settings):
    ClipStore(settings).close()
    assert revision_of(settings.database_url) == (HEAD_REVISION, str(SCHEMA_VERSION))
    assert schema_differences(settings.database_url) == []


def test_stores_opened_at_once_migrate_once(settings):
    """Six stores (as six app processes) open one round-one database at the same moment."""
    make_round_one(settings.database_url)
    before = read_all(settings.database_url)
    errors: list[BaseException] = []
    stores: list[ClipStore] = []
    start = threading.Barrier(6)

    def open_store() -> None:
        start.wait()
        try:
            stores.append(ClipStore(settings))
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=open_store) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for store in stores:
        store.close()
    assert errors == []
    assert revision_of(settings.database_url) == (HEAD_REVISION, str(SCHEMA_VERSION))
    after = read_all(settings.database_url)
    assert (after["speakers"], after["clips"]) == (before["speakers"], before["clips"])


def test_a_database_of_a_newer_speechrec_is_refused(settings):
    ClipStore(settings).close()
    engine = sqlalchemy.create_engine(settings.database_url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    engine.dispose()
    with pytest.raises(StoreError, match="schema version 9999 is newer than this speechrec"):
        ClipStore(settings)


# ---- the revisions themselves -----------------------------------------------------------------------


def test_revisions_are_numbered_in_one_line_up_to_schema_version():
    # Numbers rise along one line; a gap is allowed (revisions made side by side on branches
    # keep the numbers they were given).
    revisions = list(reversed(list(ScriptDirectory.from_config(alembic_config()).walk_revisions())))
    numbers = [int(script.revision) for script in revisions]
    assert numbers[0] == 1 and numbers == sorted(set(numbers)) and numbers[-1] == SCHEMA_VERSION
    assert all(re.fullmatch(r"\d{4}", script.revision) for script in revisions)
    assert [script.down_revision for script in revisions] == [None, *(script.revision for script in revisions[:-1])]
    for script in revisions:
        assert re.fullmatch(rf"{script.revision}_[a-z0-9_]+\.py", script.path.rsplit("/", 1)[-1])
        source = Path(script.path).read_text(encoding="utf-8")
        assert not re.search(r"^(from|import) speechrec\.schema", source, re.M)  # a revision stays as shipped
        assert script.doc, f"revision {script.revision} has no description"


# ---- python -m speechrec upgrade ---------------------------------------------------------------------


def test_upgrade_command_dry_run_then_upgrade(tmp_path, capsys):
    settings = load_settings(tmp_path / "data", environ={})
    make_round_one(settings.database_url)
    before = read_all(settings.database_url)

    assert main(["upgrade", "--store", str(settings.data_dir), "--dry-run"]) == 0
    printed = capsys.readouterr().out
    assert f"would run {REVISIONS} step(s) to schema version {SCHEMA_VERSION}" in printed
    assert "0001 Round one" in printed and "only recorded" in printed
    assert revision_of(settings.database_url) == (None, "1")  # nothing changed
    assert read_all(settings.database_url) == before

    assert main(["upgrade", "--store", str(settings.data_dir)]) == 0
    assert f"ran {REVISIONS} step(s)" in capsys.readouterr().out
    assert revision_of(settings.database_url) == (HEAD_REVISION, str(SCHEMA_VERSION))
    assert read_all(settings.database_url)["clips"] == before["clips"]

    assert main(["upgrade", "--store", str(settings.data_dir), "--dry-run"]) == 0
    assert f"up to date (schema version {SCHEMA_VERSION})" in capsys.readouterr().out


def test_upgrade_command_never_prints_a_password(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SPEECHREC_DATABASE_URL", "postgresql+psycopg://admin:hunter2@127.0.0.1:1/speech")
    assert main(["upgrade", "--store", str(tmp_path)]) == 1
    captured = capsys.readouterr()
    assert "cannot open the database" in captured.err
    assert "hunter2" not in captured.out + captured.err


# ---- revision 0006: variations, near misses, consent languages (issue 14) ---------------------------


def test_revision_0006_adds_its_columns_as_null_to_every_old_row(settings):
    """From the previous schema (round one, revision 0001): the old rows read as plain takes
    (no variation, no near miss) of speakers whose consent language is not known, and the
    upgraded store keeps the new values of new takes."""
    make_round_one(settings.database_url)
    store = ClipStore(settings)
    new = None
    try:
        engine = sqlalchemy.create_engine(settings.database_url)
        with engine.connect() as connection:
            clips = connection.execute(text("SELECT variation, near_miss_of FROM clips")).all()
            speakers = connection.execute(text("SELECT consent_language FROM speakers")).all()
        engine.dispose()
        assert len(clips) == 60 and set(clips) == {(None, None)}
        assert len(speakers) == 3 and set(speakers) == {(None,)}
        old = store.clip(f"{1:032x}")
        assert (old.variation, old.near_miss_of) == (None, None)
        counts = store.variation_counts(["yes", "tüm", "no"])
        assert counts["variation"].isna().all() and counts["clips"].sum() == len(clips) - 6  # 6 noise clips
        speaker = store.create_speaker(3, "de")
        samples = np.zeros(16000, dtype=np.float32)
        new = store.add_clip(samples, 16000, assess_take(samples, 16000), keyword="tüm", speaker_id=speaker.speaker_id,
                             session_id="s", source="webrtc", variation="soft", near_miss_of="yes|tüm")  # fmt: skip
        assert (store.clip(new).variation, store.clip(new).near_miss_of) == ("soft", "yes|tüm")
        languages = store.speakers().set_index("speaker_id")["consent_language"]
        assert languages[speaker.speaker_id] == "de" and languages.drop(speaker.speaker_id).isna().all()
    finally:
        store.close()
    old_rows = [row for row in read_all(settings.database_url)["clips"] if row[0] != new]
    assert old_rows == [tuple(row.values()) for row in round_one_rows()[round_one_clips]]


# ---- revision 0007: the withdrawn speakers (issue 12) -----------------------------------------------------


def at_revision(database_url: str, revision: str) -> None:
    """A database made by the speechrec whose newest revision was ``revision`` (the previous schema)."""
    from alembic import command

    url = sqlalchemy.make_url(database_url)
    if url.get_backend_name() == "sqlite":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(database_url), revision)


def upgraded_from(settings, revision: str) -> tuple[dict[str, list[tuple]], ClipStore]:
    """The round-one rows in a database at ``revision`` (as read there), and a store opened on it
    (which upgrades it to the head)."""
    make_round_one(settings.database_url)
    at_revision(settings.database_url, revision)
    assert revision_of(settings.database_url) == (revision, str(int(revision)))
    before = read_all(settings.database_url)
    return before, ClipStore(settings)


def test_revision_0007_adds_an_empty_withdrawn_list_and_keeps_every_row(settings):
    before, store = upgraded_from(settings, "0006")
    try:
        assert revision_of(settings.database_url)[0] == HEAD_REVISION
        assert read_all(settings.database_url) == {
            **before,
            "speechrec_meta": read_all(settings.database_url)["speechrec_meta"],
        }
        assert store.withdrawn_speakers(["0a1b2c3d", "00c0ffee", "deadbeef"]) == set()
        assert store.delete_speaker("deadbeef") == 20  # an old speaker withdraws in the upgraded store
        assert store.withdrawn_speakers(["0a1b2c3d", "deadbeef"]) == {"deadbeef"}
        assert len(store.clips()) == 40
        assert schema_differences(settings.database_url) == []
    finally:
        store.close()


# ---- revision 0008: a version per clip for compare-and-set review (issue 12) -----------------------------


def test_revision_0008_gives_every_old_clip_version_0_and_decisions_check_it(settings):
    before, store = upgraded_from(settings, "0007")
    try:
        assert read_all(settings.database_url)["clips"] == before["clips"]
        engine = sqlalchemy.create_engine(settings.database_url)
        with engine.connect() as connection:
            assert set(connection.execute(text("SELECT version FROM clips")).scalars()) == {0}
        engine.dispose()
        old = store.clip(f"{4:032x}")
        assert old.version == 0 and old.review_state.version == 0
        previous = store.set_status(old.clip_id, "rejected", reviewer="ben", expected=old.review_state)
        assert store.clip(old.clip_id).version == 1
        with pytest.raises(StoreError, match="changed meanwhile by ben"):
            store.set_status(old.clip_id, "accepted", reviewer="ana", expected=old.review_state)
        store.restore(old.clip_id, previous)
        assert store.clip(old.clip_id).review_state == replace(old.review_state, version=2)
        assert schema_differences(settings.database_url) == []
    finally:
        store.close()


# ---- revision 0009: sign-in failures kept in the store (issue 12) ----------------------------------------


def test_revision_0009_adds_an_empty_sign_in_throttle_and_keeps_every_row(settings):
    before, store = upgraded_from(settings, "0008")
    try:
        assert revision_of(settings.database_url) == (HEAD_REVISION, str(SCHEMA_VERSION))
        after = read_all(settings.database_url)
        assert after["clips"] == before["clips"] and after["speakers"] == before["speakers"]
        assert [row for row in after["speechrec_meta"] if row[0] != "schema_version"] == [
            row for row in before["speechrec_meta"] if row[0] != "schema_version"
        ]
        assert store.sign_in_wait_s(["all"]) == 0.0  # no failures counted before the upgrade
        assert store.claim_sign_in(["all"]) == 0.0
        assert store.sign_in_wait_s(["all"]) > 0  # the upgraded store counts them
        assert len(store.clips()) == 60 and store.clip(f"{4:032x}").version == 0
        assert schema_differences(settings.database_url) == []
    finally:
        store.close()


# ---- revision 0010: the audio fingerprint and the model check's doubt per clip (issue 13) ----------------


def test_revision_0010_keeps_every_row_leaves_fingerprints_to_the_import_and_starts_without_doubt(settings):
    before, store = upgraded_from(settings, "0009")
    try:
        assert revision_of(settings.database_url) == (HEAD_REVISION, str(SCHEMA_VERSION))
        assert read_all(settings.database_url)["clips"] == before["clips"]
        assert read_all(settings.database_url)["speakers"] == before["speakers"]
        assert schema_differences(settings.database_url) == []
        engine = sqlalchemy.create_engine(settings.database_url)
        with engine.connect() as connection:
            prints = connection.execute(
                text("SELECT fingerprint_levels, fingerprint_loudest, fingerprint_peak FROM clips")
            ).all()
            assert len(prints) == 60 and set(prints) == {(None, None, None)}  # the next import computes them
            assert connection.scalar(text("SELECT count(*) FROM clip_doubt")) == 0
        engine.dispose()
        assert len(store.clips_without_fingerprint()) == 60
        assert "fingerprint_levels" not in store.clips().columns
        # No check yet; the first one's doubt orders the old clips, and goes with a withdrawn speaker's clips.
        assert store.doubt_check() is None
        old = [f"{number:032x}" for number in range(60)]
        kept = store.replace_doubt("d" * 32, START, [(clip_id, store.clip(clip_id).keyword, 0.8) for clip_id in old])
        assert kept == 60 and store.doubt_check().checked_at == START
        assert store.count_to_review(ReviewFilter(doubted_only=True, status=ANY)) == 60
        assert store.delete_speaker("deadbeef") == 20
        assert store.count_to_review(ReviewFilter(doubted_only=True, status=ANY)) == 40
        engine = sqlalchemy.create_engine(settings.database_url)
        with engine.connect() as connection:
            assert connection.scalar(text("SELECT count(*) FROM clip_doubt")) == 40
        engine.dispose()
        # A new take keeps its fingerprint.
        take = make_take(sample_rate=16000, word="yes")
        new = store.add_clip(take, 16000, assess_take(take, 16000), keyword="yes", speaker_id="0a1b2c3d",
                             session_id="s", source="webrtc")  # fmt: skip
        assert new not in dict(store.clips_without_fingerprint())
    finally:
        store.close()

"""Schema migrations with Alembic: every change to the tables ships as a revision in ``versions/``,
and opening a store upgrades its database to the newest one (``upgrade_schema``).

One process migrates, the others wait: on PostgreSQL the upgrade holds an advisory lock
(``SCHEMA_LOCK_ID``) for its transaction; on SQLite it runs in one ``BEGIN IMMEDIATE``
transaction, which takes the database's write lock before anything is read. DDL is
transactional on both, so a failed upgrade leaves the previous schema and every row. A database
made by the first release (tables and ``speechrec_meta.schema_version = 1``, but no
``alembic_version`` table) is recognised by revision 0001, which keeps its tables and rows.
``speechrec_meta.schema_version`` mirrors the revision as a number (``SCHEMA_VERSION``): a store
whose number is higher than this code's was upgraded by a newer speechrec and is refused.

How to add a revision (e.g. a new column of ``clips``):

1. Change the table in ``speechrec/schema.py`` (and ``speechrec/records.py`` if records carry it).
2. Add ``versions/NNNN_<what>.py``, NNNN the next number: copy the newest revision file, set
   ``revision = "NNNN"`` and ``down_revision`` to the previous number, and write ``upgrade()``
   with ``alembic.op`` (``op.add_column("clips", sa.Column(...))``, ``op.create_index``; give a
   new NOT NULL column a ``server_default`` so existing rows get a value; other table changes on
   SQLite go through ``with op.batch_alter_table("clips") as batch:``). End it with
   ``set_schema_version(NNNN)``. Write the columns out in the revision: never import
   ``speechrec.schema`` there, a revision stays as it shipped. ``downgrade()`` raises:
   speechrec never downgrades (restore a backup instead).
   Alembic can draft the revision from the difference between a database at the previous
   revision and ``schema.py``::

       python -m speechrec upgrade --store /tmp/scratch
       python -c "from alembic import command; from speechrec.migrations import alembic_config; \\
         command.revision(alembic_config('sqlite:////tmp/scratch/speechrec.sqlite3'), \\
         'add clip version', autogenerate=True, rev_id='0003')"

   then move the draft's operations into the form above.
3. Set ``SCHEMA_VERSION`` in ``speechrec/schema.py`` to NNNN.
4. ``pytest tests/test_migrations.py``: the upgraded schema must equal ``schema.py``'s tables,
   and a round-one database must upgrade without losing a row, on SQLite and PostgreSQL. Add
   what your revision promises for old rows (e.g. the new column's value) to the upgrade test.

``python -m speechrec upgrade [--dry-run]`` runs (or lists) the pending revisions by hand.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, Engine, event, func, inspect, select, text
from sqlalchemy.exc import SQLAlchemyError

from speechrec.errors import StoreError
from speechrec.schema import SCHEMA_LOCK_ID, SCHEMA_VERSION, SCHEMA_VERSION_KEY, create_engine, meta_table

# This package, as Alembic's script location (found inside an installed package too).
SCRIPT_LOCATION = str(Path(__file__).resolve().parent)
HEAD_REVISION = f"{SCHEMA_VERSION:04d}"
VERSION_TABLE = "alembic_version"


@dataclass(frozen=True)
class SchemaStep:
    """One revision: its id ("0002"), its first docstring line, and whether it only records
    tables that are already there (revision 0001 on a database of the first release)."""

    revision: str
    description: str
    recorded_only: bool = False


@dataclass(frozen=True)
class SchemaState:
    """Where a database stands: its Alembic revision (None if it has none) and the schema
    version number in speechrec_meta (None if the table or the row is missing)."""

    revision: str | None
    schema_version: int | None

    @property
    def is_empty(self) -> bool:
        """True for a database speechrec never wrote to."""
        return self.revision is None and self.schema_version is None


def alembic_config(database_url: str | None = None):
    """Alembic's Config for these revisions, made in code (no alembic.ini). With ``database_url``
    Alembic's own commands (e.g. ``command.revision(..., autogenerate=True)``) connect there."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    if database_url is not None:
        config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def schema_state(connection: Connection) -> SchemaState:
    """The revision and schema version of the database behind ``connection`` (reads only)."""
    tables = set(inspect(connection).get_table_names())
    revision = None
    if VERSION_TABLE in tables:
        revision = connection.scalar(text(f"SELECT version_num FROM {VERSION_TABLE}"))
    version = None
    if meta_table.name in tables:
        stored = connection.scalar(select(meta_table.c.value).where(meta_table.c.key == SCHEMA_VERSION_KEY))
        version = None if stored is None else int(stored)
    return SchemaState(revision, version)


def pending_steps(state: SchemaState) -> list[SchemaStep]:
    """The revisions an upgrade from ``state`` runs, oldest first. Raises StoreError when the
    database is newer than this speechrec."""
    check_not_newer(state)
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory.from_config(alembic_config())
    steps = []
    for script in reversed(list(scripts.iterate_revisions(HEAD_REVISION, state.revision))):
        description = (script.doc or "").strip().splitlines()[0] if script.doc else script.revision
        recorded_only = script.down_revision is None and state.revision is None and not state.is_empty
        steps.append(SchemaStep(script.revision, description, recorded_only))
    return steps


def check_not_newer(state: SchemaState) -> None:
    """StoreError if a newer speechrec upgraded this database (a revision or version unknown here)."""
    known = {f"{number:04d}" for number in range(1, SCHEMA_VERSION + 1)}
    if state.revision is not None and state.revision not in known:
        stored: object = int(state.revision) if state.revision.isdigit() else state.revision
    elif (state.schema_version or 0) > SCHEMA_VERSION:
        stored = state.schema_version
    else:
        return
    raise StoreError(
        f"the store's schema version {stored} is newer than this speechrec "
        f"(version {SCHEMA_VERSION}); upgrade speechrec"
    )


def upgrade_schema(engine: Engine) -> list[SchemaStep]:
    """Bring the database of ``engine`` to the newest revision; return the steps run (none when
    it is up to date, the common case: one read, no lock).

    Raises StoreError when the database is newer than this speechrec or cannot be read or
    changed (then nothing of the upgrade is kept). SQLAlchemy errors on the first connection
    pass unchanged (the caller words them).
    """
    with engine.connect() as connection:
        state = schema_state(connection)
    check_not_newer(state)
    if state.revision == HEAD_REVISION:
        return []
    migrator = _locking_engine(engine)
    try:
        with migrator.begin() as connection:
            if connection.dialect.name == "postgresql":
                # Concurrent DDL clashes in PostgreSQL's catalog: one process migrates, the others wait here.
                connection.execute(select(func.pg_advisory_xact_lock(SCHEMA_LOCK_ID)))
            steps = pending_steps(schema_state(connection))  # again: another process may have upgraded
            if steps:
                from alembic import command

                config = alembic_config()
                config.attributes["connection"] = connection
                command.upgrade(config, HEAD_REVISION)
    except SQLAlchemyError as error:
        raise StoreError(
            f"the database schema could not be upgraded: {getattr(error, 'orig', None) or error}"
        ) from error
    finally:
        if migrator is not engine:
            migrator.dispose()
    return steps


def set_schema_version(version: int) -> None:
    """For revisions: record ``version`` in speechrec_meta (the number older speechrec reads)."""
    from alembic import op

    connection = op.get_bind()
    values = {"key": SCHEMA_VERSION_KEY, "value": str(version)}
    updated = connection.execute(text("UPDATE speechrec_meta SET value = :value WHERE key = :key"), values)
    if updated.rowcount == 0:
        connection.execute(text("INSERT INTO speechrec_meta (key, value) VALUES (:key, :value)"), values)


def _locking_engine(engine: Engine) -> Engine:
    """An engine whose transactions start with BEGIN IMMEDIATE on a SQLite file (the write lock
    first, so two processes never both see an old schema); ``engine`` itself elsewhere.

    Python's sqlite3 would otherwise run DDL outside any transaction; this is SQLAlchemy's recipe
    for explicit SQLite transactions ("Serializable isolation / Savepoints / Transactional DDL").
    """
    if engine.dialect.name != "sqlite" or engine.url.database in (None, "", ":memory:"):
        return engine
    locking = create_engine(engine.url.render_as_string(hide_password=False))

    @event.listens_for(locking, "connect")
    def _no_implicit_transactions(dbapi_connection, _record) -> None:
        dbapi_connection.isolation_level = None

    @event.listens_for(locking, "begin")
    def _begin_immediate(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return locking

"""Settings: where a store keeps its clips (data folder, database URL, audio storage URL), resolved
from arguments, SPEECHREC_* variables and defaults. The campaign is in speechrec.campaign."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from speechrec.errors import SettingsError
from speechrec.locations import is_inside, local_storage_path

DATA_ENV = "SPEECHREC_DATA"
DATABASE_URL_ENV = "SPEECHREC_DATABASE_URL"
STORAGE_URL_ENV = "SPEECHREC_STORAGE_URL"
DEFAULT_DATA_DIR = "data"
DATABASE_FILE_NAME = "speechrec.sqlite3"
AUDIO_FOLDER_NAME = "audio"
EXPORTS_FOLDER_NAME = "exports"
# The SQLite database file and the journal files SQLite keeps beside it.
SQLITE_FILE_SUFFIXES = ("", "-wal", "-shm", "-journal")
# The start of a URL: its scheme (RFC 3986 section 3.1), the only part of a URL that cannot be
# parsed that a message may quote (the rest may hold a password).
_URL_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*(?=:)")


@dataclass(frozen=True)
class Settings:
    """Where clips live: the data folder, the metadata database URL and the audio storage URL."""

    data_dir: Path
    database_url: str
    storage_url: str

    @property
    def exports_dir(self) -> Path:
        """Where dataset zips are built for download: ``exports/`` in the data folder."""
        return self.data_dir / EXPORTS_FOLDER_NAME

    @property
    def on_local_disk(self) -> bool:
        """True if the metadata (a SQLite file) or the audio (a folder) is on this machine's disk."""
        sqlite = make_url(self.database_url).get_backend_name() == "sqlite"
        return sqlite or local_storage_path(self.storage_url) is not None

    def local_places(self) -> list[tuple[Path, str]]:
        """Every place of this store on this machine's disk, absolute and resolved, with what it is:
        the data folder, a local audio folder (whatever form its URL takes, ``locations``), and a
        SQLite database with its journal files. Nothing else may be written there."""
        places = [(self.data_dir.resolve(), "the data folder")]
        audio = local_storage_path(self.storage_url)
        if audio is not None:
            places.append((audio, "the audio folder"))
        url = make_url(self.database_url)
        if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
            database = Path(url.database).expanduser().resolve()
            places += [(database.with_name(database.name + suffix), "the database") for suffix in SQLITE_FILE_SUFFIXES]
        return places

    def place_of(self, path: str | os.PathLike[str]) -> tuple[Path, str] | None:
        """The place of ``local_places`` that ``path`` is in (or is), or None if it is outside the store."""
        resolved = Path(path).expanduser().resolve()
        return next(((place, what) for place, what in self.local_places() if is_inside(resolved, place)), None)


def load_settings(
    data_dir: str | os.PathLike[str] | None = None,
    *,
    database_url: str | None = None,
    storage_url: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Resolve settings: explicit arguments win, then SPEECHREC_* variables, then defaults under ``data/``.

    Raises SettingsError (a ValueError) for an empty folder name (``""`` here, or a SPEECHREC_*
    variable that is set but empty: neither may silently mean the default ``./data``), for a
    database URL SQLAlchemy cannot parse (the message quotes no more than its scheme: the rest may
    hold a password), and for a file storage URL naming another machine (``locations``).
    """
    environ = os.environ if environ is None else environ
    if data_dir is not None and not os.fspath(data_dir).strip():
        raise SettingsError("the data folder is empty; give a folder, or leave it out for the default (./data)")
    data_dir = data_dir or _variable(environ, DATA_ENV, "a folder")
    folder = Path(data_dir or DEFAULT_DATA_DIR).expanduser().resolve()
    database_url = (
        database_url
        or _variable(environ, DATABASE_URL_ENV, "a database URL")
        or f"sqlite:///{folder / DATABASE_FILE_NAME}"
    )
    storage_url = storage_url or _variable(environ, STORAGE_URL_ENV, "a storage URL") or str(folder / AUDIO_FOLDER_NAME)
    try:
        make_url(database_url)
    except (ArgumentError, ValueError):  # ValueError: e.g. a port that is not a number
        # Not chained: SQLAlchemy's message repeats the whole URL, password included.
        raise SettingsError(f"{_unparsable(database_url)}; use e.g. 'sqlite:///data/speechrec.sqlite3' or "
                            "'postgresql+psycopg://user:pw@host/db'") from None  # fmt: skip
    local_storage_path(storage_url)  # a file URL naming another host is refused here, before anything opens it
    return Settings(data_dir=folder, database_url=database_url, storage_url=storage_url)


def _variable(environ: Mapping[str, str], name: str, what: str) -> str | None:
    """The value of the variable ``name``, None if unset; SettingsError if it is set but blank."""
    value = environ.get(name)
    if value is not None and not value.strip():
        raise SettingsError(f"{name} is set but empty; give {what}, or unset it for the default")
    return value


def _unparsable(database_url: str) -> str:
    """What is wrong with a database URL SQLAlchemy cannot parse, quoting at most its scheme."""
    scheme = _URL_SCHEME.match(database_url)
    if scheme is not None:
        return f"database URL starting {scheme[0] + ':'!r} is not a SQLAlchemy URL"
    if "=" in database_url:
        return (
            "the database URL is a key=value connection string (as libpq reads), not a SQLAlchemy URL; "
            "write it as a URL"
        )
    return "the database URL does not start with a scheme such as 'postgresql+psycopg:', so it is not a SQLAlchemy URL"

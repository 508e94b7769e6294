"""Settings: where a store keeps its clips (data folder, database URL, audio storage URL), resolved
from arguments, SPEECHREC_* variables and defaults. The campaign is in speechrec.campaign."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from speechrec.errors import SettingsError

DATA_ENV = "SPEECHREC_DATA"
DATABASE_URL_ENV = "SPEECHREC_DATABASE_URL"
STORAGE_URL_ENV = "SPEECHREC_STORAGE_URL"
DEFAULT_DATA_DIR = "data"
DATABASE_FILE_NAME = "speechrec.sqlite3"
AUDIO_FOLDER_NAME = "audio"


@dataclass(frozen=True)
class Settings:
    """Where clips live: the data folder, the metadata database URL and the audio storage URL."""

    data_dir: Path
    database_url: str
    storage_url: str

    @property
    def on_local_disk(self) -> bool:
        """True if the metadata (a SQLite file) or the audio (a folder) is on this machine's disk."""
        sqlite = make_url(self.database_url).get_backend_name() == "sqlite"
        return sqlite or "://" not in self.storage_url or self.storage_url.startswith("file://")


def load_settings(
    data_dir: str | os.PathLike[str] | None = None,
    *,
    database_url: str | None = None,
    storage_url: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Resolve settings: explicit arguments win, then SPEECHREC_* variables, then defaults under ``data/``.

    Raises SettingsError (a ValueError) for a database URL SQLAlchemy cannot parse.
    """
    environ = os.environ if environ is None else environ
    folder = Path(data_dir or environ.get(DATA_ENV) or DEFAULT_DATA_DIR).expanduser().resolve()
    database_url = database_url or environ.get(DATABASE_URL_ENV) or f"sqlite:///{folder / DATABASE_FILE_NAME}"
    storage_url = storage_url or environ.get(STORAGE_URL_ENV) or str(folder / AUDIO_FOLDER_NAME)
    try:
        make_url(database_url)
    except (ArgumentError, ValueError):  # ValueError: e.g. a port that is not a number
        # Not chained: SQLAlchemy's message repeats the whole URL, password included.
        raise SettingsError(
            f"database URL starting {database_url.split(':', 1)[0]!r} is not a SQLAlchemy URL; "
            "use e.g. 'sqlite:///data/speechrec.sqlite3' or 'postgresql+psycopg://user:pw@host/db'"
        ) from None
    return Settings(data_dir=folder, database_url=database_url, storage_url=storage_url)

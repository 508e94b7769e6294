"""Folders and files that only the user running speechrec can read: the data folder, the database,
the audio, the prepared exports. Volunteers' voices are personal data (GDPR Art. 4(1)); nothing of
them should be readable by other accounts on the machine. Where the platform has no POSIX modes
(Windows), the modes are ignored and the folders' own access rules apply."""

from __future__ import annotations

import os
from pathlib import Path

FOLDER_MODE = 0o700
FILE_MODE = 0o600


def make_private_folder(path: str | os.PathLike[str]) -> Path:
    """Create ``path`` and each missing parent with FOLDER_MODE (owner only); existing folders keep
    their mode. Returns the path. Raises OSError as ``os.mkdir`` does (e.g. permission denied)."""
    path = Path(path)
    missing = []
    for folder in (path, *path.parents):
        if folder.is_dir():
            break
        missing.append(folder)
    for folder in reversed(missing):
        try:
            os.mkdir(folder, FOLDER_MODE)
        except FileExistsError:
            if not folder.is_dir():
                raise
    return path


def open_private_file(path: str | os.PathLike[str], *, exclusive: bool = False) -> int:
    """Open ``path`` for writing, creating it with FILE_MODE (owner only) if it does not exist; an
    existing file keeps its mode. ``exclusive``: FileExistsError if it exists. Returns the descriptor."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_EXCL if exclusive else 0) | getattr(os, "O_BINARY", 0)
    return os.open(path, flags, FILE_MODE)

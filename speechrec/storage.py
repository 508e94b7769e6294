"""AudioStorage: the clips' FLAC files under one fsspec URL (a local folder, s3://, gs://, ...).

Writes are all-or-nothing: on a local disk a temporary file is written, fsynced and renamed into
place; on object storage the finished file goes up in one PUT. Any failure, of the disk or of
the object store, is a StorageError (a StoreError, and an OSError) with the back-end's reason.
Imports only fsspec, so worker processes that read and write audio start fast.

Object storage is configured the standard way of its library: for ``s3://`` the ``AWS_*``
variables (``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_DEFAULT_REGION``, and
``AWS_ENDPOINT_URL`` for any S3-compatible service), for ``gs://`` Google's application default
credentials. They are read when an AudioStorage is made.
"""

from __future__ import annotations

import functools
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import datetime
from pathlib import Path

import fsspec
from fsspec.implementations.local import LocalFileSystem
from fsspec.implementations.memory import MemoryFileSystem

from speechrec.errors import StorageError, StoreError

AUDIO_PREFIX = "clips"
TEMP_FOLDER = ".tmp"
# The startup check writes and deletes one small file here (outside clips/, so never taken for a clip).
PROBE_FOLDER = ".speechrec-check"
# Where fsspec back-ends report a file's modification time (local, S3, GCS, Azure).
MODIFIED_TIME_FIELDS = ("mtime", "LastModified", "updated", "last_modified")


def audio_key(speaker_id: str, clip_id: str) -> str:
    """Where a clip's FLAC lives, relative to the storage root: ``clips/<speaker>/<clip>.flac``."""
    return f"{AUDIO_PREFIX}/{speaker_id}/{clip_id}.flac"


class AudioStorage:
    """Audio files by key under ``storage_url``. Safe to share between threads."""

    def __init__(self, storage_url: str) -> None:
        if not isinstance(storage_url, str) or not storage_url:
            raise TypeError(f"storage_url must be a non-empty string, got {storage_url!r}")
        self.url = storage_url
        try:
            # A file system of its own: fsspec would otherwise hand back one made earlier in the
            # process, with the endpoint and credentials the AWS_* variables had then.
            self._fs, self._root = fsspec.core.url_to_fs(storage_url, skip_instance_cache=True)
        except (ValueError, ImportError) as error:
            raise StorageError(f"cannot open audio storage {storage_url!r}: {error}") from error
        self._root = self._root.rstrip("/")
        self.is_local = isinstance(self._fs, LocalFileSystem)
        if self.is_local:
            with self._failures(f"audio storage {storage_url!r} cannot be written"):
                os.makedirs(self._path(TEMP_FOLDER), exist_ok=True)

    @property
    def shared_between_processes(self) -> bool:
        """False for fsspec's in-memory file system, which another process cannot see."""
        return not isinstance(self._fs, MemoryFileSystem)

    def check(self) -> None:
        """Make sure a take can be kept: list the storage, write a small probe and delete it.

        The startup check: a missing bucket, wrong or read-only credentials, an unreachable
        endpoint or a read-only folder each give one StorageError saying what is wrong.
        """
        probe_key = f"{PROBE_FOLDER}/{uuid.uuid4().hex}"
        try:
            if not self.is_local:
                with self._failures(f"audio storage {self.url!r}", FileNotFoundError, PermissionError):
                    self._fs.ls(self._root.split("/", 1)[0], refresh=True)
            self.put(probe_key, b"speechrec write check")
            self.remove(probe_key)
        except FileNotFoundError as error:
            raise StorageError(
                f"audio storage {self.url!r}: the bucket does not exist; create it or fix the storage URL"
            ) from error
        except PermissionError as error:
            raise StorageError(
                f"audio storage {self.url!r}: access denied; check the credentials "
                "(for S3: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY) and that they may write"
            ) from error
        except StorageError as error:  # e.g. a local folder that cannot be written
            reason = error.__cause__ if self.is_local and error.__cause__ else error
            raise StorageError(f"audio storage {self.url!r} cannot be written: {reason}") from error

    def put(self, key: str, data: bytes) -> None:
        """Store ``data`` under ``key`` so that it appears complete or not at all.

        Raises StorageError, on a local disk (a full disk, a read-only folder) as on object storage.
        """
        path = self._path(key)
        with self._failures(f"audio {key!r} cannot be stored"):
            if not self.is_local:
                self._fs.pipe_file(path, data)
                return
            os.makedirs(os.path.dirname(path), exist_ok=True)
            temp_path = self._path(f"{TEMP_FOLDER}/{uuid.uuid4().hex}.tmp")
            with open(temp_path, "wb") as file:
                file.write(data)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temp_path, path)

    def get(self, key: str) -> bytes:
        """The bytes stored under ``key``; StorageError if they cannot be read."""
        with self._failures(f"audio {key!r} cannot be read"):
            return self._fs.cat_file(self._path(key))

    def remove(self, key: str) -> None:
        """Delete ``key``; a key that is already gone is fine. StorageError if the storage fails."""
        with suppress(FileNotFoundError), self._failures(f"audio {key!r} cannot be deleted", FileNotFoundError):
            self._fs.rm_file(self._path(key))

    def clean_temporary_files(self, older_than: float) -> int:
        """Delete temporary files last modified before the Unix time ``older_than``; return the count."""
        if not self.is_local:
            return 0
        removed = 0
        with self._failures("temporary audio files cannot be cleaned"):
            for path in Path(self._path(TEMP_FOLDER)).iterdir():
                if path.stat().st_mtime < older_than:
                    path.unlink(missing_ok=True)
                    removed += 1
        return removed

    def audio_files(self) -> Iterator[tuple[str, float]]:
        """``(key, modified Unix time)`` of every clip file whose age the back-end reports."""
        prefix = self._path(AUDIO_PREFIX)
        with self._failures("audio files cannot be listed"):
            self._fs.invalidate_cache()  # object storage listings are cached; other processes write too
            found = self._fs.find(prefix, detail=True) if self._fs.exists(prefix) else {}
        root = self._fs._strip_protocol(self._root)
        for path, info in found.items():
            modified = next((info[name] for name in MODIFIED_TIME_FIELDS if info.get(name)), None)
            if modified is None:
                continue  # age unknown: it may be a clip another process is about to commit
            if isinstance(modified, datetime):
                modified = modified.timestamp()
            yield path[len(root) :].lstrip("/"), float(modified)

    def _path(self, key: str) -> str:
        return f"{self._root}/{key}"

    @contextmanager
    def _failures(self, what: str, *passed: type[BaseException]) -> Iterator[None]:
        """Turn any failure of the disk or the storage back-end (OSError, botocore, aiohttp,
        google-auth, ...) into StorageError(``what``: reason), the cause kept; StoreError and the
        ``passed`` exceptions pass unchanged."""
        try:
            yield
        except StoreError:
            raise
        except passed:
            raise
        except Exception as error:  # each fsspec back-end has its own error family
            raise StorageError(f"{what}: {' '.join(str(error).split()) or type(error).__name__}") from error


@functools.lru_cache(maxsize=8)
def open_storage(storage_url: str) -> AudioStorage:
    """One AudioStorage per URL and process (worker processes open it once, not per clip)."""
    return AudioStorage(storage_url)

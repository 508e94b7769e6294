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
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import datetime
from pathlib import Path

import fsspec
from fsspec.implementations.local import LocalFileSystem
from fsspec.implementations.memory import MemoryFileSystem

from speechrec.errors import StorageError, StoreError, cannot_write, redact, redact_url
from speechrec.locations import local_storage_path
from speechrec.private import make_private_folder, open_private_file

AUDIO_PREFIX = "clips"
TEMP_FOLDER = ".tmp"
# The startup check writes and deletes one small file here (outside clips/, so never taken for a clip).
PROBE_FOLDER = ".speechrec-check"
# A clip's audio key: a .flac file under clips/, every part of the path a plain name (audio_key
# makes clips/<speaker>/<clip>.flac; a row may name its file otherwise, never outside clips/).
CLIP_AUDIO_KEY = re.compile(rf"{AUDIO_PREFIX}(/[A-Za-z0-9][A-Za-z0-9._-]*)+\.flac")
# Where fsspec back-ends report a file's modification time (local, S3, GCS, Azure).
MODIFIED_TIME_FIELDS = ("mtime", "LastModified", "updated", "last_modified")


def audio_key(speaker_id: str, clip_id: str) -> str:
    """Where a clip's FLAC lives, relative to the storage root: ``clips/<speaker>/<clip>.flac``."""
    return f"{AUDIO_PREFIX}/{speaker_id}/{clip_id}.flac"


def check_audio_key(key: object) -> str:
    """``key`` if it is a clip's audio key as ``audio_key`` makes them, else StoreError.

    Checked where a key from the database is used (read, delete, export), not only where it is
    written: a row written straight into the database must not name a file outside ``clips/``.
    """
    if not (isinstance(key, str) and CLIP_AUDIO_KEY.fullmatch(key)):
        raise StoreError(f"audio key {key!r} is not a clip's key (a .flac file under clips/); the row was altered")
    return key


class AudioStorage:
    """Audio files by key under ``storage_url``. Safe to share between threads."""

    def __init__(self, storage_url: str, *, create: bool = True) -> None:
        """The storage at ``storage_url``. A local folder (any form ``locations.local_storage_path``
        reads) is made if missing when ``create``; else a missing folder is a StorageError naming
        it, as a mistyped URL must not become a new, empty audio folder. Raises SettingsError for a
        file URL naming another host, StorageError when the storage cannot be opened."""
        if not isinstance(storage_url, str) or not storage_url:
            raise TypeError(f"storage_url must be a non-empty string, got {storage_url!r}")
        self.url = storage_url
        # What messages and logs show: the URL without its user:password@ part.
        self.display_url = redact_url(storage_url)
        folder = local_storage_path(storage_url)
        self.is_local = folder is not None
        if folder is not None:
            # The folder as the checks read it (file://localhost/x is /x, not ./localhost/x as fsspec reads it).
            self._fs, self._root = LocalFileSystem(), folder.as_posix()
            if not create and not folder.is_dir():
                raise StorageError(
                    f"the audio folder {str(folder)!r} does not exist; check the storage URL (SPEECHREC_STORAGE_URL, "
                    "a --*-storage option, or the app's [storage] audio_url), or restore the audio there"
                )
            try:
                make_private_folder(self._path(TEMP_FOLDER))
            except OSError as error:
                raise StorageError(f"the audio folder cannot be made: {cannot_write(error)}") from error
            return
        try:
            # A file system of its own: fsspec would otherwise hand back one made earlier in the
            # process, with the endpoint and credentials the AWS_* variables had then.
            self._fs, self._root = fsspec.core.url_to_fs(storage_url, skip_instance_cache=True)
        except Exception as error:  # unknown protocol, missing package, or a back-end that connects at once
            # No cause kept: a back-end's error may quote the URL with its credentials.
            raise StorageError(f"cannot open audio storage {self.display_url!r}: {self._reason(error)}") from None
        self._root = self._root.rstrip("/")

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
                with self._failures(f"audio storage {self.display_url!r}", FileNotFoundError, PermissionError):
                    self._fs.ls(self._root.split("/", 1)[0], refresh=True)
            self.put(probe_key, b"speechrec write check")
            self.remove(probe_key)
        except FileNotFoundError:
            raise StorageError(
                f"audio storage {self.display_url!r}: the bucket does not exist; create it or fix the storage URL"
            ) from None
        except PermissionError:
            raise StorageError(
                f"audio storage {self.display_url!r}: access denied; check the credentials "
                "(for S3: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY) and that they may write"
            ) from None
        except StorageError as error:
            if self.is_local and isinstance(error.__cause__, OSError):  # its own path and reason, never credentials
                raise StorageError(f"the audio folder cannot be written: {cannot_write(error.__cause__)}") from error
            if str(error).startswith(f"audio storage {self.display_url!r}: "):  # the listing: it cannot be reached
                raise StorageError(str(error)) from None
            raise StorageError(f"audio storage {self.display_url!r} cannot be written: {error}") from None

    def put(self, key: str, data: bytes) -> None:
        """Store ``data`` under ``key`` so that it appears complete or not at all.

        Raises StorageError, on a local disk (a full disk, a read-only folder) as on object storage.
        """
        path = self._path(key)
        with self._failures(f"audio {key!r} cannot be stored"):
            if not self.is_local:
                self._fs.pipe_file(path, data)
                return
            make_private_folder(os.path.dirname(path))
            temp_path = self._path(f"{TEMP_FOLDER}/{uuid.uuid4().hex}.tmp")
            with os.fdopen(open_private_file(temp_path, exclusive=True), "wb") as file:
                file.write(data)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temp_path, path)

    def get(self, key: str) -> bytes:
        """The bytes stored under ``key``; StorageError if they cannot be read."""
        with self._failures(f"audio {key!r} cannot be read"):
            return self._fs.cat_file(self._path(key))

    def exists(self, key: str) -> bool:
        """Whether a file is stored under ``key``; StorageError if the storage cannot tell."""
        with self._failures(f"audio {key!r} cannot be looked up"):
            self._fs.invalidate_cache()
            return bool(self._fs.exists(self._path(key)))

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

    def clip_files(self) -> dict[str, float | None]:
        """Every file under ``clips/``: key -> modified Unix time (None where the back-end reports none)."""
        prefix = self._path(AUDIO_PREFIX)
        with self._failures("audio files cannot be listed"):
            self._fs.invalidate_cache()
            found = self._fs.find(prefix, detail=True) if self._fs.exists(prefix) else {}
        root = self._fs._strip_protocol(self._root)
        files: dict[str, float | None] = {}
        for path, info in found.items():
            modified = next((info[name] for name in MODIFIED_TIME_FIELDS if info.get(name)), None)
            if isinstance(modified, datetime):
                modified = modified.timestamp()
            files[path[len(root) :].lstrip("/")] = None if modified is None else float(modified)
        return files

    def keys_under(self, folder: str) -> list[str]:
        """The keys of every file under the key prefix ``folder`` (e.g. ``clips/<speaker>``), sorted."""
        path = self._path(folder)
        with self._failures(f"audio files under {folder!r} cannot be listed"):
            self._fs.invalidate_cache()
            found = self._fs.find(path) if self._fs.exists(path) else []
        root = self._fs._strip_protocol(self._root)
        return sorted(name[len(root) :].lstrip("/") for name in found)

    def _path(self, key: str) -> str:
        """The back-end path of ``key``; StoreError for a key that could leave the storage root."""
        parts = key.split("/") if isinstance(key, str) else [""]
        if any(part in {"", ".", ".."} or "\\" in part or "\0" in part or ":" in part for part in parts):
            raise StoreError(f"audio key {key!r} is not a plain relative path; nothing outside the storage is read")
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
            # The cause is kept unless the URL holds credentials, which a back-end's error may quote.
            raise StorageError(f"{what}: {self._reason(error)}") from (None if self.display_url != self.url else error)

    def _reason(self, error: BaseException) -> str:
        """A back-end's error as one line without credentials (boto quotes a bucket name with them)."""
        return redact(" ".join(str(error).split()) or type(error).__name__, self.url)


@functools.lru_cache(maxsize=8)
def open_storage(storage_url: str) -> AudioStorage:
    """One AudioStorage per URL and process (worker processes open it once, not per clip)."""
    return AudioStorage(storage_url)

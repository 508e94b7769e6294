"""Where a storage URL is on this machine's disk: one reading of every local form (a plain path,
``file:``, ``local:``), shared by the audio storage that uses the folder and by the checks that
keep exports and migrations out of it."""

from __future__ import annotations

import os
import re
from pathlib import Path

from speechrec.errors import SettingsError

# fsspec's names for the local disk (``file://`` is RFC 8089's; ``local://`` is fsspec's alias).
LOCAL_PROTOCOLS = ("file", "local")
# A URL scheme (RFC 3986 section 3.1) of two letters or more: "C:\\audio" is a Windows drive, not a scheme.
_SCHEME = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]+):")
# RFC 8089 section 2: a file URL's host is empty or "localhost" for a file on this machine.
LOCAL_HOSTS = ("", "localhost")


def local_storage_path(storage_url: str) -> Path | None:
    """The absolute folder that ``storage_url`` names on this machine's disk, or None for remote
    storage (``s3://``, ``gs://``, ``memory://``, ...).

    Local forms: a plain path (relative to the working folder, ``~`` expanded), ``file:///abs``,
    ``file://localhost/abs`` (RFC 8089), ``file:/abs`` and ``file:rel``, and the same with
    ``local:`` (fsspec's alias). Symbolic links are resolved; percent escapes are kept as written,
    as fsspec keeps them. Raises SettingsError for a file URL that names another host
    (``file://server/share``), which this machine cannot read: fsspec would take the host for a
    relative folder and make a new, empty one (``./server/share``).
    """
    match = _SCHEME.match(storage_url)
    if match is None:
        return _absolute(storage_url)
    if match["scheme"].lower() not in LOCAL_PROTOCOLS:
        return None
    rest = storage_url[match.end() :]
    if rest.startswith("//"):
        host, slash, path = rest[2:].partition("/")
        if host.lower() not in LOCAL_HOSTS:
            raise SettingsError(
                f"storage URL starting {storage_url[: match.end() + 2 + len(host)]!r} names the host {host!r}, "
                f"which is not this machine; write {match['scheme']}:///absolute/folder (three slashes) or a "
                "plain path"
            )
        return _absolute(slash + path)
    return _absolute(rest)


def _absolute(path: str) -> Path:
    return Path(os.path.expanduser(path or ".")).resolve()


def is_inside(path: Path, place: Path) -> bool:
    """True if ``path`` is ``place`` or under it (both absolute and resolved)."""
    return path == place or path.is_relative_to(place)

"""Copy a whole store to other back-ends (SQLite + folder <-> PostgreSQL + bucket), verified.

The copy keeps the store's own write order: every audio file first (each read back and compared
by SHA-256), then all rows in one transaction. A failure before the rows are committed removes
the audio already copied, so the target is left as empty as it was; a failure after that cannot
leave half the rows. The target must be empty: nothing in it is ever overwritten.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

from speechrec.config import Settings
from speechrec.errors import StoreError
from speechrec.locations import is_inside
from speechrec.store import ClipStore


@dataclass(frozen=True)
class MigrationSummary:
    """What was copied: row counts per kind and the audio bytes (all verified in the target)."""

    speakers: int
    clips: int
    meta_rows: int
    audio_bytes: int


def migrate_store(
    source: Settings, target: Settings, progress: Callable[[int, int], None] | None = None
) -> MigrationSummary:
    """Copy every speaker, clip row, meta row and audio file of ``source`` into an empty ``target``.

    ``progress(done, total)`` is called after each clip's audio. Raises TypeError for settings of
    the wrong type, ValueError when source and target are the same or one's folders, audio or
    database lie inside the other's (a target inside the source would be copied into itself, and
    its files taken for the source's leftovers), StoreError when the target is
    not empty, a back-end fails, or the copy does not match the source (counts or SHA-256).
    """
    for name, settings in (("source", source), ("target", target)):
        if not isinstance(settings, Settings):
            raise TypeError(f"{name} must be a Settings, got {settings!r:.80}")
    if source.database_url == target.database_url or source.storage_url == target.storage_url:
        raise ValueError("source and target share a database or a storage URL; migrate into a new, empty store")
    _check_apart(source, target)
    source_store = ClipStore(source, create=False)  # a mistyped source must not become a new, empty store
    try:
        target_store = ClipStore(target)
        try:
            return _copy(source_store, target_store, progress)
        finally:
            target_store.close()
    finally:
        source_store.close()


def _copy(source: ClipStore, target: ClipStore, progress: Callable[[int, int], None] | None) -> MigrationSummary:
    _check_empty(target)
    rows = source.dump_rows()
    clips = rows["clips"]
    written: list[str] = []
    audio_bytes = 0
    try:
        for done, clip in enumerate(clips, start=1):
            key = str(clip["audio_key"])
            data = source.read_flac(key)
            target.audio.put(key, data)
            written.append(key)
            if hashlib.sha256(target.read_flac(key)).digest() != hashlib.sha256(data).digest():
                raise StoreError(f"audio {key!r} differs after the copy (SHA-256); nothing was migrated")
            audio_bytes += len(data)
            if progress is not None:
                progress(done, len(clips))
        target.load_rows(rows)
    except BaseException:
        for key in written:
            with suppress(OSError, StoreError):  # else the target's leftover cleaning removes it
                target.audio.remove(key)
        raise
    copied = target.dump_rows()
    for table, table_rows in rows.items():
        if len(copied[table]) != len(table_rows):
            raise StoreError(
                f"the target holds {len(copied[table])} {table} rows after the copy, the source "
                f"{len(table_rows)}; check the target before using it"
            )
    return MigrationSummary(
        speakers=len(rows["speakers"]), clips=len(clips), meta_rows=len(rows["speechrec_meta"]), audio_bytes=audio_bytes
    )


def _check_empty(target: ClipStore) -> None:
    rows = target.dump_rows()
    audio = sum(1 for _ in target.audio.audio_files())
    if rows["speakers"] or rows["clips"] or audio:
        raise StoreError(
            f"the target is not empty ({len(rows['speakers'])} speakers, {len(rows['clips'])} clips, "
            f"{audio} audio files); migrate into a new, empty database and storage"
        )


def _check_apart(source: Settings, target: Settings) -> None:
    """ValueError if a place of one store on this disk is inside (or is) a place of the other."""
    for source_place, source_what in _used_places(source):
        for target_place, target_what in _used_places(target):
            if is_inside(target_place, source_place) or is_inside(source_place, target_place):
                raise ValueError(
                    f"the target's {target_what.removeprefix('the ')} {str(target_place)!r} and the source's "
                    f"{source_what.removeprefix('the ')} {str(source_place)!r} lie inside one another; migrate "
                    "into a folder outside the source store"
                )


def _used_places(settings: Settings) -> list[tuple[Path, str]]:
    """``Settings.local_places`` that hold the store: the data folder only if its database or audio
    is in it (a side given by URLs alone has a default data folder that holds nothing of it)."""
    places = settings.local_places()
    data_folder, others = places[0], places[1:]
    if any(is_inside(place, data_folder[0]) for place, _ in others):
        return places
    return others

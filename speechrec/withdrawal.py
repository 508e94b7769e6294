"""Withdrawing a volunteer completely: their rows and audio (``ClipStore.delete_speaker``) and
every prepared dataset zip that holds them (``export.remove_withdrawn_exports``)."""

from __future__ import annotations

from dataclasses import dataclass

from speechrec.export import remove_withdrawn_exports
from speechrec.store import ClipStore


@dataclass(frozen=True)
class Withdrawal:
    """What a withdrawal deleted: the speaker's clips and the prepared zips that held them."""

    clips: int
    exports: int


def withdraw_speaker(store: ClipStore, speaker_id: str) -> Withdrawal:
    """Delete everything of ``speaker_id``: clip rows, audio, the speaker row, and the dataset zips
    in ``store.settings.exports_dir`` that contain them; the id stays on the withdrawn list, so a
    take, an import or an export still on its way cannot bring them back.

    Zips prepared by other app replicas (each has its own ``exports/``) are removed there before
    they are offered or served again. Raises ValueError for a malformed id, StoreError as
    ``ClipStore.delete_speaker``.
    """
    clips = store.delete_speaker(speaker_id)
    exports = remove_withdrawn_exports(store, store.settings.exports_dir)
    return Withdrawal(clips=clips, exports=len(exports))

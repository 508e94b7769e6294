"""Withdrawing a volunteer completely: their rows and audio (``ClipStore.delete_speaker``), every
prepared dataset zip that holds them (``export.remove_withdrawn_exports``) and every kept model
check result that names them (``modelcheck.remove_checks_with``)."""

from __future__ import annotations

from dataclasses import dataclass

from speechrec.export import remove_withdrawn_exports
from speechrec.modelcheck import remove_checks_with
from speechrec.store import ClipStore


@dataclass(frozen=True)
class Withdrawal:
    """What a withdrawal deleted: the speaker's clips, the prepared zips and the model check results that held them."""

    clips: int
    exports: int
    model_checks: int


def withdraw_speaker(store: ClipStore, speaker_id: str) -> Withdrawal:
    """Delete everything of ``speaker_id``: clip rows, audio, the speaker row, and the dataset zips
    (in ``store.settings.exports_dir``) and model check results (in ``model-checks/``) that contain
    them; the id stays on the withdrawn list, so a take, an import, an export or a model check
    still on its way cannot bring them back.

    Zips and checks kept by other app replicas (each has its own data folder) are removed there
    before they are offered, served or shown again. Raises ValueError for a malformed id,
    StoreError as ``ClipStore.delete_speaker``.
    """
    clips = store.delete_speaker(speaker_id)
    exports = remove_withdrawn_exports(store, store.settings.exports_dir)
    checks = remove_checks_with(store.settings, [speaker_id])
    return Withdrawal(clips=clips, exports=len(exports), model_checks=len(checks))

"""Owner-only data: the data folder and everything speechrec writes in it (database, audio, exports,
the generated organizer password) can be read by the user running speechrec only."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from signals import load_word, make_take

from speechrec.auth import generated_password
from speechrec.campaign import Campaign
from speechrec.config import load_settings
from speechrec.decode import encode_flac
from speechrec.export import prepare_export
from speechrec.importer import import_folder
from speechrec.quality import assess_take
from speechrec.store import ClipStore

CAMPAIGN = Campaign(title="t", keywords=("yes",), consent_text="ok")


@pytest.fixture(autouse=True)
def usual_umask() -> Iterator[None]:
    """The umask most systems start programs with (022): files would be world-readable by default."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def fill_store(data: Path, tmp_path: Path) -> ClipStore:
    store = ClipStore(load_settings(data, environ={}))
    samples, rate = load_word("yes")
    speaker = store.create_speaker(1).speaker_id
    store.add_clip(samples, rate, assess_take(samples, rate), keyword="yes", speaker_id=speaker, session_id="s",
                   source="webrtc")  # fmt: skip
    (tmp_path / "upload" / "yes").mkdir(parents=True)
    # Another take to import: the stored one's own audio would be recognised as a copy and not imported.
    other = make_take(sample_rate=rate, word="yes", seed=1)
    (tmp_path / "upload" / "yes" / "0123abcd_nohash_0.flac").write_bytes(encode_flac(other, rate))
    assert import_folder(store, tmp_path / "upload", CAMPAIGN, workers=1).imported == 1
    prepare_export(store, CAMPAIGN, data / "exports")
    generated_password(data)
    return store


def modes(folder: Path) -> dict[str, str]:
    found = {}
    for path in [folder, *folder.rglob("*")]:
        found[str(path.relative_to(folder.parent))] = oct(stat.S_IMODE(path.stat().st_mode))
    return found


def test_a_new_data_folder_and_everything_in_it_are_owner_only(tmp_path):
    data = tmp_path / "new" / "data"
    store = fill_store(data, tmp_path)
    try:
        found = modes(data)
        assert {"data/speechrec.sqlite3", "data/speechrec.sqlite3-wal", "data/organizer-password.txt"} <= set(found)
        assert any(name.startswith("data/exports/dataset-") for name in found)
        assert len([name for name in found if name.endswith(".flac")]) == 2
        wrong = {
            name: mode
            for name, mode in found.items()
            if mode != ("0o700" if (tmp_path / "new" / name).is_dir() else "0o600")
        }
        assert wrong == {}
        assert oct(stat.S_IMODE((tmp_path / "new").stat().st_mode)) == "0o700"  # a missing parent too
    finally:
        store.close()


def test_in_an_existing_folder_new_files_and_folders_are_owner_only(tmp_path):
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    store = fill_store(data, tmp_path)
    try:
        found = modes(data)
        assert found.pop("data") == "0o755"  # a folder the user made keeps the mode they chose
        wrong = {
            name: mode for name, mode in found.items() if mode != ("0o700" if (tmp_path / name).is_dir() else "0o600")
        }
        assert wrong == {}
    finally:
        store.close()


def test_model_check_results_and_progress_are_owner_only(tmp_path):
    """Every writer in the data folder: the check's result, its progress file, a failed check's report."""
    from test_modelcheck import CAMPAIGN as CHECK_CAMPAIGN
    from test_modelcheck import add_takes, wait_for_background

    from speechrec.export import ExportOptions
    from speechrec.modelcheck import check_model, checks_folder, start_check

    data = tmp_path / "data"
    store = ClipStore(load_settings(data, environ={}))
    try:
        add_takes(store, range(3), {"yes": 4, "no": 4, "up": 4})
        check_model(store, CHECK_CAMPAIGN)
        assert start_check(store.settings, CHECK_CAMPAIGN, ExportOptions(selection="accepted"))  # fails: none accepted
        assert wait_for_background(store.settings).failed
        found = modes(data)
        assert len(list(checks_folder(store.settings).glob("*.json"))) == 2  # the result and running.json
        assert {"data/model-checks", "data/model-checks/running.json"} <= set(found)
        wrong = {
            name: mode for name, mode in found.items() if mode != ("0o700" if (tmp_path / name).is_dir() else "0o600")
        }
        assert wrong == {}
    finally:
        store.close()

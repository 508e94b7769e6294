"""A withdrawn volunteer is really gone: rows, audio and prepared zips, whatever was in flight
(a take being stored in another process, a zip being built), on SQLite + folder and on
PostgreSQL + S3; a take or an import that arrives afterwards is refused."""

from __future__ import annotations

import multiprocessing
import time
import zipfile

import pytest
from signals import load_word

from speechrec.campaign import Campaign
from speechrec.config import Settings, load_settings
from speechrec.errors import StoreError, WithdrawnError
from speechrec.export import ExportOptions, export_dataset, prepare_export, read_prepared_export, speakers_in_zip
from speechrec.importer import import_folder
from speechrec.quality import assess_take
from speechrec.store import ClipStore
from speechrec.withdrawal import withdraw_speaker

CAMPAIGN = Campaign(title="withdrawal test", keywords=("yes", "no"), consent_text="I agree.")
ALL = ExportOptions(selection="all")


@pytest.fixture
def store_settings(backend_settings) -> Settings:
    return backend_settings


def add_take(store: ClipStore, speaker_id: str, keyword: str = "yes") -> str:
    samples, rate = load_word(keyword)
    return store.add_clip(samples, rate, assess_take(samples, rate), keyword=keyword, speaker_id=speaker_id,
                          session_id="s", source="webrtc", consent_version=1)  # fmt: skip


def audio_of(store: ClipStore, speaker_id: str) -> list[str]:
    return store.audio.keys_under(f"clips/{speaker_id}")


def assert_gone(store: ClipStore, speaker_id: str) -> None:
    assert store.clip_count(speaker_id=speaker_id) == 0
    assert speaker_id not in set(store.speakers()["speaker_id"])
    assert audio_of(store, speaker_id) == []
    assert store.withdrawn_speakers([speaker_id]) == {speaker_id}
    for path in store.settings.exports_dir.glob("*"):
        assert speaker_id not in speakers_in_zip(path), path


@pytest.fixture
def two_speakers(store) -> tuple[str, str]:
    leaving, staying = (store.create_speaker(1).speaker_id for _ in range(2))
    for speaker in (leaving, staying):
        add_take(store, speaker, "yes")
        add_take(store, speaker, "no")
    return leaving, staying


def test_withdrawal_removes_every_prepared_zip_that_holds_the_speaker(store, two_speakers):
    leaving, staying = two_speakers
    with_both = prepare_export(store, CAMPAIGN, store.settings.exports_dir, ALL)
    assert speakers_in_zip(with_both) == {leaving, staying}
    add_take(store, staying, "yes")  # a newer build, and one without the leaving speaker
    only_staying = store.settings.exports_dir / "dataset-other.zip"
    with zipfile.ZipFile(only_staying, "w") as archive:
        archive.writestr(f"yes/{staying}_nohash_0.wav", b"RIFF")
    withdrawal = withdraw_speaker(store, leaving)
    assert (withdrawal.clips, withdrawal.exports) == (2, 1)
    assert not with_both.exists() and only_staying.exists()
    assert_gone(store, leaving)
    assert store.clip_count(speaker_id=staying) == 3
    rebuilt = prepare_export(store, CAMPAIGN, store.settings.exports_dir, ALL)
    assert speakers_in_zip(rebuilt) == {staying}


def test_a_zip_built_during_the_withdrawal_never_holds_the_speaker(store, two_speakers):
    leaving, staying = two_speakers
    withdrawn = []

    def withdraw_midway(done: int, total: int) -> None:
        if done == 2 and not withdrawn:  # the zip is half written when the volunteer withdraws
            withdrawn.append(withdraw_speaker(store, leaving))

    path = prepare_export(store, CAMPAIGN, store.settings.exports_dir, ALL, progress=withdraw_midway)
    assert withdrawn and speakers_in_zip(path) == {staying}
    assert_gone(store, leaving)
    out = store.settings.data_dir.parent / "cli-export.zip"
    withdrawn.clear()
    export_dataset(store, CAMPAIGN, out, ALL, progress=lambda done, total: None)
    assert speakers_in_zip(out) == {staying}


def test_an_export_written_while_the_speaker_withdraws_leaves_them_out(store, two_speakers):
    leaving, staying = two_speakers
    out = store.settings.data_dir.parent / "cli-export.zip"
    calls = []

    def withdraw_midway(done: int, total: int) -> None:
        calls.append(done)
        if len(calls) == 2:
            withdraw_speaker(store, leaving)

    summary = export_dataset(store, CAMPAIGN, out, ALL, progress=withdraw_midway)
    assert speakers_in_zip(out) == {staying} and summary.speakers == 1
    assert leaving not in zipfile.ZipFile(out).read("metadata.csv").decode()


def test_another_replicas_zip_is_removed_before_it_is_served(store, two_speakers, tmp_path):
    """Each app replica builds zips into its own data folder; the withdrawn list is in the shared database."""
    leaving, staying = two_speakers
    other = ClipStore(load_settings(tmp_path / "replica-2", database_url=store.settings.database_url,
                                    storage_url=store.settings.storage_url, environ={}))  # fmt: skip
    try:
        built_there = prepare_export(other, CAMPAIGN, other.settings.exports_dir, ALL)
        withdraw_speaker(store, leaving)  # on this replica
        assert built_there.exists()  # not this replica's disk
        with pytest.raises(StoreError, match="held a volunteer who has withdrawn"):
            read_prepared_export(other, built_there)
        assert not built_there.exists()
        again = prepare_export(other, CAMPAIGN, other.settings.exports_dir, ALL)
        assert speakers_in_zip(again) == {staying}
        assert read_prepared_export(other, again)[:2] == b"PK"
    finally:
        other.close()


def takes_until_refused(settings: Settings, speaker_id: str, started, results) -> None:
    """In another process: store takes of ``speaker_id`` until the store refuses one."""
    store = ClipStore(settings)
    samples, rate = load_word("yes")
    quality = assess_take(samples, rate)
    stored = 0
    try:
        while True:
            try:
                store.add_clip(samples, rate, quality, keyword="yes", speaker_id=speaker_id, session_id="s",
                               source="webrtc")  # fmt: skip
            except WithdrawnError:
                results.put(("refused", stored))
                return
            except StoreError as error:
                results.put(("error", str(error)))
                return
            stored += 1
            if stored == 2:
                started.set()
    finally:
        store.close()


@pytest.mark.parametrize("attempt", range(6))
def test_a_take_in_flight_during_the_withdrawal_leaves_nothing(store, attempt, backend):
    """The reported race: a take was being stored when the speaker withdrew, and its FLAC stayed."""
    speaker = store.create_speaker(1).speaker_id
    context = multiprocessing.get_context("spawn")
    started, results = context.Event(), context.Queue()
    writer = context.Process(target=takes_until_refused, args=(store.settings, speaker, started, results))
    writer.start()
    try:
        assert started.wait(60), "the writer process stored no take"
        time.sleep(0.01 * attempt)  # somewhere inside the next take
        withdraw_speaker(store, speaker)
        outcome = results.get(timeout=60)
    finally:
        writer.join(60)
    assert outcome[0] == "refused", outcome
    assert_gone(store, speaker)
    with pytest.raises(WithdrawnError, match="withdrew from the campaign"):
        add_take(store, speaker)
    assert audio_of(store, speaker) == []


def test_a_withdrawn_speaker_cannot_come_back_by_import(store, tmp_path):
    folder = tmp_path / "upload"
    samples, rate = load_word("yes")
    import soundfile as sf

    for speaker, word in (("0a0a0a0a", "yes"), ("0b0b0b0b", "no")):
        (folder / word).mkdir(parents=True, exist_ok=True)
        sf.write(folder / word / f"{speaker}_nohash_0.wav", samples * (0.5 if word == "no" else 1.0), rate)
    assert import_folder(store, folder, CAMPAIGN, workers=1).imported == 2
    withdraw_speaker(store, "0a0a0a0a")
    assert_gone(store, "0a0a0a0a")
    again = import_folder(store, folder, CAMPAIGN, workers=1)
    assert again.imported == 0 and again.duplicates == 1
    assert again.skipped == [("yes/0a0a0a0a_nohash_0.wav", "its speaker withdrew from the campaign: not imported")]
    assert_gone(store, "0a0a0a0a")
    with pytest.raises(WithdrawnError):
        store.ensure_speaker("0a0a0a0a")
    assert_gone(store, "0a0a0a0a")


def test_a_withdrawn_speakers_audio_without_rows_goes_too(store):
    """Audio of the speaker that no row names (a take that failed on its way) is removed as well."""
    speaker = store.create_speaker(1).speaker_id
    add_take(store, speaker)
    stray = f"clips/{speaker}/{'f' * 32}.flac"
    store.audio.put(stray, b"fLaC")
    assert withdraw_speaker(store, speaker).clips == 1
    assert_gone(store, speaker)


def test_withdrawing_twice_is_fine(store):
    speaker = store.create_speaker(1).speaker_id
    add_take(store, speaker)
    assert withdraw_speaker(store, speaker).clips == 1
    assert withdraw_speaker(store, speaker).clips == 0
    assert_gone(store, speaker)


# ---- model check results name the speaker: they go too -------------------------------------------------


def files_naming(folder, speaker_id: str) -> list[str]:
    """Every file under ``folder`` whose bytes hold ``speaker_id``, but the database (which keeps the
    id on the withdrawn list, so that nothing brings the speaker back)."""
    return [
        str(path) for path in folder.rglob("*")
        if path.is_file() and not path.name.startswith("speechrec.sqlite3") and speaker_id.encode() in path.read_bytes()
    ]  # fmt: skip


def checked_store(store: ClipStore):
    from test_modelcheck import CAMPAIGN as CHECK_CAMPAIGN
    from test_modelcheck import add_takes

    from speechrec.modelcheck import check_model

    add_takes(store, range(4), {"yes": 3, "no": 3, "up": 3})  # the fewest the check takes: 10 clips of a word
    return CHECK_CAMPAIGN, check_model(store, CHECK_CAMPAIGN)


def test_withdrawal_removes_every_model_check_result_that_names_the_speaker(store):
    from dataclasses import replace

    from speechrec.modelcheck import checks_folder, latest_check, save_check

    _, check = checked_store(store)
    leaving = "00000001"
    folder = checks_folder(store.settings)
    older_without = replace(check, fingerprint="0" * 32, clips=check.clips[check.clips["speaker_id"] != leaving])
    save_check(folder, older_without)
    (folder / ("f" * 32 + ".json")).write_text(f'{{"version": -1, "clips": ["{leaving}"]}}')  # another version's
    assert len(files_naming(store.settings.data_dir, leaving)) == 2
    withdrawal = withdraw_speaker(store, leaving)
    assert withdrawal.model_checks == 2
    assert files_naming(store.settings.data_dir, leaving) == []
    assert (folder / ("0" * 32 + ".json")).exists()  # a result without them stays
    assert leaving not in set(latest_check(store).clips["speaker_id"])


def test_a_model_check_running_while_the_speaker_withdraws_keeps_nothing_of_them(store, monkeypatch):
    from speechrec import modelcheck

    leaving = "00000002"
    train = modelcheck._out_of_fold

    def withdraw_midway(*args, **kwargs):  # the clips were read; the result is not kept yet
        withdraw_speaker(store, leaving)
        return train(*args, **kwargs)

    monkeypatch.setattr(modelcheck, "_out_of_fold", withdraw_midway)
    _, check = checked_store(store)
    assert leaving not in set(check.clips["speaker_id"]) and len(check.clips) == 3 * 9
    assert files_naming(store.settings.data_dir, leaving) == []


def test_another_replicas_model_check_is_removed_before_it_is_shown(store):
    """Each replica keeps checks in its own data folder; the withdrawal ran elsewhere."""
    from speechrec.modelcheck import checks_folder, latest_check

    checked_store(store)
    leaving = "00000000"
    store.delete_speaker(leaving)  # another replica's withdrawal: this data folder was not reached
    assert latest_check(store) is None
    assert list(checks_folder(store.settings).glob("*.json")) == []

"""ClipStore on every back-end pair (SQLite + a folder, PostgreSQL + S3 on real servers): round
trips, speakers, review, deletion, concurrency, crashes. Tests that hold for one pair only say so."""

from __future__ import annotations

import functools
import os
import re
import threading
import time
import types
from contextlib import contextmanager
from dataclasses import FrozenInstanceError, replace
from datetime import UTC, datetime
from pathlib import Path

import fsspec
import numpy as np
import pandas as pd
import pytest
from backends import S3_ENVIRONMENT, MotoServer, free_port
from conftest import start_server
from signals import load_word, make_take
from sqlalchemy import create_engine, event, text

import speechrec.store
from speechrec.campaign import NOISE_KEYWORD
from speechrec.config import load_settings
from speechrec.decode import encode_flac
from speechrec.errors import CampaignError, ConflictError, StaleReviewError, StoreError
from speechrec.participant_codes import CODE_ALPHABET, normalize_participant_code
from speechrec.quality import QualityReport, assess_take
from speechrec.records import Clip, NewClip, new_clip
from speechrec.schema import SCHEMA_VERSION
from speechrec.storage import audio_key
from speechrec.store import LEFTOVER_MIN_AGE_S, ClipStore

QUANTUM = 1.0 / 32768  # one step of 16-bit PCM: the store keeps FLAC 16-bit
# Every column DESIGN.md asks for ("Metadata": a clip row holds at least ...).
DESIGN_COLUMNS = {
    "clip_id",
    "keyword",
    "speaker_id",
    "session_id",
    "created_at",
    "source",
    "sample_rate",
    "duration_s",
    "audio_key",
    "peak_dbfs",
    "clipped_fraction",
    "noise_floor_dbfs",
    "speech_level_dbfs",
    "snr_db",
    "speech_start_s",
    "speech_end_s",
    "flags",
    "status",
    "reason",
    "reviewer",
    "reviewed_at",
    "consent_version",
}


def a_take(seed: int = 0, sample_rate: int = 16000, word: str = "yes") -> np.ndarray:
    return make_take(sample_rate=sample_rate, word=word, seed=seed)


def add(
    clip_store: ClipStore, speaker_id: str, samples: np.ndarray | None = None, sample_rate: int = 16000, **fields
) -> str:
    samples = a_take() if samples is None else samples
    values = {"keyword": "yes", "session_id": "session-1", "source": "webrtc", **fields}
    return clip_store.add_clip(samples, sample_rate, assess_take(samples, sample_rate), speaker_id=speaker_id, **values)


def storage_path(clip_store: ClipStore, key: str = "") -> tuple[fsspec.AbstractFileSystem, str]:
    """A file system of our own (not the store's) and the path of ``key`` in the store's storage."""
    fs, root = fsspec.core.url_to_fs(clip_store.settings.storage_url, skip_instance_cache=True)
    return fs, f"{root.rstrip('/')}/{key}"


def audio_files(clip_store: ClipStore) -> list[str]:
    """The keys of every FLAC file in the storage, as listed by our own file system."""
    fs, root = storage_path(clip_store)
    return sorted(path[len(fs._strip_protocol(root)) :].lstrip("/") for path in fs.glob(f"{root}**/*.flac"))


def stored(clip_store: ClipStore, key: str) -> bool:
    fs, path = storage_path(clip_store, key)
    return fs.exists(path)


def temp_files(clip_store: ClipStore) -> list[Path]:
    """Temporary files of a local folder; object storage has none (one PUT per file)."""
    if not clip_store.audio.is_local:
        return []
    return sorted((Path(clip_store.settings.storage_url) / ".tmp").iterdir())


def age(path: Path, seconds: float) -> None:
    """Set a file's modification time ``seconds`` into the past."""
    past = time.time() - seconds
    os.utime(path, (past, past))


def later(monkeypatch: pytest.MonkeyPatch, seconds: float) -> None:
    """Move the store's clock ``seconds`` ahead (object storage has no settable modification time)."""
    monkeypatch.setattr(speechrec.store, "time", types.SimpleNamespace(time=lambda: time.time() + seconds))


def local_only(clip_store: ClipStore, why: str) -> None:
    if not clip_store.audio.is_local:
        pytest.skip(f"local folder only: {why}")


@pytest.fixture
def store_settings(backend_settings):
    return backend_settings


@pytest.fixture
def settings(store_settings):
    return store_settings


# ---- round trip and rows ----------------------------------------------------------------------------


@pytest.mark.parametrize("sample_rate", [16000, 44100, 48000])
def test_add_and_read_round_trip(store, speaker_id, sample_rate):
    samples = a_take(sample_rate=sample_rate)
    clip_id = add(store, speaker_id, samples, sample_rate)
    decoded, decoded_rate = store.read_audio(clip_id)
    assert decoded_rate == sample_rate
    assert decoded.dtype == np.float32 and decoded.shape == samples.shape
    np.testing.assert_allclose(decoded, samples, atol=QUANTUM)


def test_row_has_every_design_column(store, speaker_id):
    samples = a_take()
    report = assess_take(samples, 16000)
    before = datetime.now(UTC)
    clip_id = store.add_clip(
        samples,
        16000,
        report,
        keyword="yes",
        speaker_id=speaker_id,
        session_id="s-1",
        source="audio_input",
        consent_version=3,
    )
    after = datetime.now(UTC)
    frame = store.clips()
    assert set(frame.columns) >= DESIGN_COLUMNS
    assert len(frame) == 1
    clip = store.clip(clip_id)
    assert isinstance(clip, Clip) and clip.quality == report and clip.review_state.status == "pending"
    with pytest.raises(FrozenInstanceError):
        clip.status = "accepted"
    row = clip.to_row()
    assert set(row) >= DESIGN_COLUMNS
    assert row["clip_id"] == clip_id
    assert (row["keyword"], row["speaker_id"]) == ("yes", speaker_id)
    assert (row["session_id"], row["source"]) == ("s-1", "audio_input")
    assert row["sample_rate"] == 16000
    assert row["duration_s"] == pytest.approx(len(samples) / 16000)
    assert row["status"] == "pending"
    assert (row["reason"], row["reviewer"], row["reviewed_at"]) == (None, None, None)
    assert row["consent_version"] == 3
    assert row["audio_key"] == f"clips/{speaker_id}/{clip_id}.flac"
    assert QualityReport.from_row(row) == report
    assert row["created_at"].tzinfo is not None
    assert before <= row["created_at"] <= after
    assert str(frame["created_at"].dt.tz) == "UTC"
    assert frame["created_at"].iloc[0] == pd.Timestamp(row["created_at"])


def test_stored_audio_is_16_bit_flac_at_the_capture_rate(store, speaker_id):
    clip_id = add(store, speaker_id, a_take(sample_rate=48000), 48000)
    data = store.read_flac(store.clip(clip_id).audio_key)
    assert data[:4] == b"fLaC"
    fs, path = storage_path(store, store.clip(clip_id).audio_key)
    assert fs.cat_file(path) == data


def test_add_clips_batch_and_noise_keyword(store, speaker_id):
    quality = assess_take(a_take(), 16000, expect_speech=False)
    batch = [
        new_clip(
            a_take(seed),
            16000,
            quality,
            keyword=keyword,
            speaker_id=speaker_id,
            session_id="import-1",
            source="import",
            source_path=f"in/{seed}.ogg",
            source_sha1=f"{seed:040x}",
        )
        for seed, keyword in enumerate(["yes", "no", NOISE_KEYWORD])
    ]
    clip_ids = store.add_clips(batch)
    assert len(set(clip_ids)) == 3
    frame = store.clips()
    assert set(frame["clip_id"]) == set(clip_ids)
    assert sorted(frame["keyword"]) == sorted(["yes", "no", NOISE_KEYWORD])
    assert store.known_source_sha1s() == {f"{seed:040x}" for seed in range(3)}
    assert len(audio_files(store)) == 3


def test_add_no_clips(store):
    assert store.add_clips([]) == []
    assert store.clips().empty


def test_filters(store, speaker_id):
    other = store.create_speaker(1).speaker_id
    first = add(store, speaker_id, keyword="yes", session_id="a")
    second = add(store, speaker_id, keyword="no", session_id="b")
    third = add(store, other, keyword="yes", session_id="c")
    store.set_status(second, "accepted")
    assert list(store.clips(keyword="yes")["clip_id"]) == [first, third]
    assert list(store.clips(speaker_id=speaker_id)["clip_id"]) == [first, second]
    assert list(store.clips(session_id="c")["clip_id"]) == [third]
    assert list(store.clips(status="accepted")["clip_id"]) == [second]
    assert store.clips(keyword="yes", speaker_id=other, status="accepted").empty


def test_latest_takes_are_the_speakers_newest_first_and_limited(store, speaker_id):
    other = store.create_speaker(1).speaker_id
    mine = [
        add(store, speaker_id, keyword=word, session_id=session)
        for word, session in [("yes", "a"), ("no", "b"), ("yes", "b")]
    ]
    add(store, other)
    assert [clip.clip_id for clip in store.latest_takes(speaker_id, limit=10)] == mine[::-1]
    latest = store.latest_takes(speaker_id, limit=2)
    assert [(clip.clip_id, clip.keyword) for clip in latest] == [(mine[2], "yes"), (mine[1], "no")]
    assert store.latest_takes("0badc0de", limit=5) == []
    with pytest.raises(ValueError, match="limit must be a whole number of at least 1"):
        store.latest_takes(speaker_id, limit=0)


@pytest.mark.parametrize("raw", [True, False, None])
def test_whether_a_take_was_raw_is_kept(store, speaker_id, raw):
    clip_id = add(store, speaker_id, raw=raw)
    assert store.clip(clip_id).raw is raw and store.clip(clip_id).to_row()["raw"] is raw
    assert store.clips()["raw"].tolist() == [raw]


def test_a_raw_that_is_not_a_bool_is_refused(store, speaker_id):
    with pytest.raises(TypeError, match="raw must be True, False or None, got 1"):
        add(store, speaker_id, raw=1)
    assert store.clips().empty


def test_skips_are_counted_per_speaker_and_word_and_go_with_the_speaker(store):
    leaving, staying = store.create_speaker(1).speaker_id, store.create_speaker(1).speaker_id
    assert store.skips(leaving) == {}
    for keyword in ("yes", "yes", NOISE_KEYWORD):
        store.add_skip(leaving, keyword)
    store.add_skip(staying, "yes")
    assert store.skips(leaving) == {"yes": 2, NOISE_KEYWORD: 1}
    assert store.skips(staying) == {"yes": 1}
    assert store.clips().empty  # a skip is never a take
    store.delete_speaker(leaving)
    assert store.skips(leaving) == {} and store.skips(staying) == {"yes": 1}


def test_a_skip_of_an_unknown_speaker_or_a_bad_word_is_refused(store, speaker_id):
    with pytest.raises(ConflictError, match="no speaker '0badc0de'"):
        store.add_skip("0badc0de", "yes")
    with pytest.raises(ValueError, match="speaker_id must be 8 lower-case hex digits"):
        store.add_skip("../x", "yes")
    with pytest.raises(CampaignError):
        store.add_skip(speaker_id, "../etc")
    assert store.skips(speaker_id) == {}


def test_object_storage_round_trip(tmp_path):
    """The non-local path (fsspec pipe/cat/rm, as on S3), on fsspec's in-memory file system."""
    storage_url = f"memory://speechrec-test-{tmp_path.name}/audio"
    settings = load_settings(tmp_path / "data", storage_url=storage_url, environ={})
    clip_store = ClipStore(settings)
    try:
        speaker_id = clip_store.create_speaker(1).speaker_id
        samples = a_take(word="tum")
        kept, deleted = add(clip_store, speaker_id, samples), add(clip_store, speaker_id)
        clip_store.delete_clip(deleted)
        clip_store.close()
        clip_store = ClipStore(settings)
        assert clip_store.clips()["clip_id"].tolist() == [kept]
        np.testing.assert_allclose(clip_store.read_audio(kept)[0], samples, atol=QUANTUM)
        assert not (tmp_path / "data" / "audio").exists()  # nothing went to the local disk
        with pytest.raises(StoreError, match="cannot be read"):
            clip_store.read_flac(f"clips/{speaker_id}/{deleted}.flac")
    finally:
        clip_store.close()
        fsspec.filesystem("memory").rm(f"/speechrec-test-{tmp_path.name}", recursive=True)


def test_audio_of_unknown_age_is_never_cleaned(tmp_path):
    """A back-end that reports no modification time (fsspec's memory) may hold a clip another
    process is about to commit: an orphan there is left alone."""
    storage_url = f"memory://speechrec-age-{tmp_path.name}/audio"
    clip_store = ClipStore(load_settings(tmp_path / "data", storage_url=storage_url, environ={}))
    try:
        orphan = f"/speechrec-age-{tmp_path.name}/audio/clips/0badf00d/orphan.flac"
        fsspec.filesystem("memory").pipe(orphan, encode_flac(a_take(), 16000))
        assert clip_store.clean_leftovers(min_age_s=0) == 0
        assert fsspec.filesystem("memory").exists(orphan)
    finally:
        clip_store.close()
        fsspec.filesystem("memory").rm(f"/speechrec-age-{tmp_path.name}", recursive=True)


# ---- speakers and participant codes -------------------------------------------------------------


def test_create_speaker(store):
    speaker = store.create_speaker(consent_version=2)
    assert re.fullmatch(r"[0-9a-f]{8}", speaker.speaker_id)
    group = f"[{CODE_ALPHABET}]{{4}}"
    assert re.fullmatch(f"{group}-{group}-{group}", speaker.participant_code)
    speakers = store.speakers()
    assert list(speakers["speaker_id"]) == [speaker.speaker_id]
    assert speakers["consent_version"].tolist() == [2]
    assert speakers["origin"].tolist() == ["volunteer"]
    assert "code_sha256" not in speakers.columns
    # The code itself is never stored.
    code = normalize_participant_code(speaker.participant_code)
    engine = create_engine(store.settings.database_url)
    with engine.connect() as connection:
        for table in ("speakers", "clips", "speechrec_meta"):
            assert code not in str(connection.execute(text(f"SELECT * FROM {table}")).all())
    engine.dispose()
    database = Path(store.settings.data_dir) / "speechrec.sqlite3"
    store.close()
    if database.exists():  # SQLite: not even in a free page of the file
        assert code.encode() not in database.read_bytes()


def test_find_speaker_ignores_case_dashes_and_spaces(store):
    speaker = store.create_speaker(1)
    code = speaker.participant_code
    plain = code.replace("-", "")
    spaced = f"  {code[:4]} {code[5:9]} {code[10:]} "
    for typed in (code, code.lower(), plain, plain.lower(), spaced, code.replace("-", "--")):
        assert store.find_speaker(typed) == speaker.speaker_id


def test_find_speaker_with_unknown_code(store):
    store.create_speaker(1)
    assert store.find_speaker("2345-6789-ABCD") is None


def test_speaker_codes_are_distinct(store):
    speakers = [store.create_speaker(1) for _ in range(20)]
    assert len({speaker.speaker_id for speaker in speakers}) == 20
    assert len({speaker.participant_code for speaker in speakers}) == 20
    assert all(store.find_speaker(speaker.participant_code) == speaker.speaker_id for speaker in speakers)


@pytest.mark.parametrize(
    "code",
    [
        "",
        "ABCD",
        "2345-6789-ABC",
        "2345-6789-ABCDE",
        "2345-6789-ABC0",  # 0, I, 1 (and O, L) are left out of codes: they look alike
        "2345-6789-ABCI",
        "2345-6789-ABC1",
        "2345_6789_ABCD",
        "2345-6789-ÄBCD",
    ],
)
def test_malformed_codes(store, code):
    with pytest.raises(ValueError, match=f"participant code {re.escape(repr(code))} is not valid: it has 12 letters"):
        store.find_speaker(code)


@pytest.mark.parametrize("code", [None, 123456789012, b"2345-6789-ABCD"])
def test_code_must_be_a_string(store, code):
    with pytest.raises(TypeError, match="participant code must be a string"):
        store.find_speaker(code)


@pytest.mark.parametrize("consent_version", [0, -1, True, "1", 1.0])
def test_create_speaker_refuses_bad_consent_version(store, consent_version):
    message = f"consent_version must be a whole number >= 1, got {re.escape(repr(consent_version))}"
    with pytest.raises(ValueError, match=message):
        store.create_speaker(consent_version)


def test_record_consent(store, speaker_id):
    store.record_consent(speaker_id, 4)
    assert store.speakers()["consent_version"].tolist() == [4]
    with pytest.raises(StoreError, match="no speaker '0badf00d'"):
        store.record_consent("0badf00d", 4)


def test_ensure_speaker(store):
    store.ensure_speaker("00c0ffee")
    store.ensure_speaker("00c0ffee")
    speakers = store.speakers()
    assert speakers["speaker_id"].tolist() == ["00c0ffee"]
    assert speakers["origin"].tolist() == ["import"]


def test_ensure_speaker_when_another_process_creates_it_first(settings):
    """Another store (process) inserts the speaker between our check and our insert: no error."""
    ours, theirs = ClipStore(settings), ClipStore(settings)

    def the_other_process_wins(connection, cursor, statement, parameters, context, executemany):
        if statement.startswith("INSERT INTO speakers"):
            theirs.ensure_speaker("00c0ffee")

    try:
        event.listen(ours._engine, "before_cursor_execute", the_other_process_wins)
        ours.ensure_speaker("00c0ffee")
        event.remove(ours._engine, "before_cursor_execute", the_other_process_wins)
        assert ours.speakers()["speaker_id"].tolist() == ["00c0ffee"]
    finally:
        ours.close()
        theirs.close()


def test_two_stores_creating_speakers_at_once(settings):
    """Writers in two stores on one SQLite file (as the CLI and the app would be) never fail."""
    stores = [ClipStore(settings), ClipStore(settings)]
    errors: list[BaseException] = []

    def create(clip_store: ClipStore, prefix: int) -> None:
        for number in range(30):
            try:
                clip_store.ensure_speaker(f"{prefix:02x}{number:06x}")
                clip_store.ensure_speaker(f"ff{number:06x}")  # the same ids from every thread
            except BaseException as error:
                errors.append(error)

    threads = [threading.Thread(target=create, args=(stores[index % 2], index)) for index in range(6)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert len(stores[0].speakers()) == 6 * 30 + 30
    finally:
        for clip_store in stores:
            clip_store.close()


@pytest.mark.parametrize("speaker_id", ["00C0FFEE", "c0ffee", "00c0ffee0", "../../x", "", None, 12345678])
def test_ensure_speaker_refuses_bad_ids(store, speaker_id):
    message = f"speaker_id must be 8 lower-case hex digits, got {re.escape(repr(speaker_id))}"
    with pytest.raises(ValueError, match=message):
        store.ensure_speaker(speaker_id)


# ---- review -------------------------------------------------------------------------------------------


def test_set_status(store, speaker_id):
    clip_id = add(store, speaker_id)
    before = datetime.now(UTC)
    store.set_status(clip_id, "rejected", reason="background music", reviewer="ana")
    row = store.clip(clip_id)
    assert (row.status, row.reason, row.reviewer) == ("rejected", "background music", "ana")
    assert row.reviewed_at >= before
    store.set_status(clip_id, "accepted")
    row = store.clip(clip_id)
    assert (row.status, row.reason, row.reviewer) == ("accepted", None, None)


@pytest.mark.parametrize("status", ["approved", "Accepted", "", None])
def test_set_status_refuses_bad_status(store, speaker_id, status):
    clip_id = add(store, speaker_id)
    message = f"status must be one of pending, accepted, rejected, got {re.escape(repr(status))}"
    with pytest.raises(ValueError, match=message):
        store.set_status(clip_id, status)
    assert store.clip(clip_id).status == "pending"


def test_unknown_clip(store):
    with pytest.raises(StoreError, match="no clip 'nope'; it may have been deleted"):
        store.set_status("nope", "accepted")
    with pytest.raises(StoreError, match="no clip 'nope'"):
        store.clip("nope")
    with pytest.raises(StoreError, match="no clip 'nope'"):
        store.read_audio("nope")
    with pytest.raises(StoreError, match="no clip 'nope'"):
        store.delete_clip("nope")
    missing = f"clips/0000abcd/{'0' * 32}.flac"
    with pytest.raises(StoreError, match=rf"audio '{missing}' cannot be read"):
        store.read_flac(missing)
    with pytest.raises(StoreError, match=r"audio key 'clips/../nope.flac' is not a clip's key"):
        store.read_flac("clips/../nope.flac")


def test_status_counts(store, speaker_id):
    silence = np.zeros(16000, dtype=np.float32)  # flagged no_speech
    clean = [add(store, speaker_id, keyword="yes") for _ in range(3)]
    add(store, speaker_id, silence, keyword="yes")
    add(store, speaker_id, keyword="no")
    store.set_status(clean[0], "accepted")
    counts = store.status_counts()
    assert list(counts.columns) == ["keyword", "status", "flagged", "clips", "duration_s"]
    assert counts["flagged"].dtype == bool
    rows = {(row.keyword, row.status, row.flagged): row.clips for row in counts.itertuples()}
    assert rows == {
        ("no", "pending", False): 1,
        ("yes", "accepted", False): 1,
        ("yes", "pending", False): 2,
        ("yes", "pending", True): 1,
    }
    assert counts["duration_s"].sum() == pytest.approx(4 * 1.5 + 1.0)


def test_status_counts_of_empty_store(store):
    counts = store.status_counts()
    assert counts.empty
    assert list(counts.columns) == ["keyword", "status", "flagged", "clips", "duration_s"]


def test_variation_counts(store, speaker_id):
    silence = np.zeros(16000, dtype=np.float32)  # flagged no_speech
    soft = [add(store, speaker_id, keyword="yes", variation="soft") for _ in range(2)]
    add(store, speaker_id, silence, keyword="yes", variation="soft")
    add(store, speaker_id, keyword="yes")
    add(store, speaker_id, keyword="no", variation="loud")
    add(store, speaker_id, keyword="ye")  # not asked for
    store.set_status(soft[0], "accepted")
    counts = store.variation_counts(["yes", "no"])
    assert list(counts.columns) == ["keyword", "variation", "status", "flagged", "clips"]
    rows = {(row.keyword, row.variation, row.status, row.flagged): row.clips for row in counts.itertuples()}
    assert rows == {
        ("no", "loud", "pending", False): 1,
        ("yes", None, "pending", False): 1,
        ("yes", "soft", "accepted", False): 1,
        ("yes", "soft", "pending", False): 1,
        ("yes", "soft", "pending", True): 1,
    }
    assert store.variation_counts([]).empty


# ---- deletion -------------------------------------------------------------------------------------


def test_delete_clip_removes_row_and_audio(store, speaker_id):
    kept, deleted = add(store, speaker_id), add(store, speaker_id)
    deleted_key = store.clip(deleted).audio_key
    assert stored(store, deleted_key)
    store.delete_clip(deleted)
    assert not stored(store, deleted_key)
    assert store.clips()["clip_id"].tolist() == [kept]
    assert len(audio_files(store)) == 1
    with pytest.raises(StoreError, match="no clip"):
        store.clip(deleted)


def test_delete_speaker_removes_everything_of_theirs(store):
    leaving, staying = store.create_speaker(1), store.create_speaker(1)
    for _ in range(3):
        add(store, leaving.speaker_id)
    kept = add(store, staying.speaker_id)
    assert store.delete_speaker(leaving.speaker_id) == 3
    assert store.clips()["clip_id"].tolist() == [kept]
    assert store.speakers()["speaker_id"].tolist() == [staying.speaker_id]
    assert [key.split("/")[1] for key in audio_files(store)] == [staying.speaker_id]
    assert store.find_speaker(leaving.participant_code) is None
    assert store.delete_speaker(leaving.speaker_id) == 0


# ---- concurrency ------------------------------------------------------------------------------------


def test_concurrent_writes_lose_nothing(store):
    threads_count, clips_per_thread = 8, 25
    speakers = [store.create_speaker(1).speaker_id for _ in range(threads_count)]
    base = load_word("up")[0]
    report = assess_take(base, 16000)
    written: dict[str, np.ndarray] = {}
    errors: list[BaseException] = []
    lock = threading.Lock()
    barrier = threading.Barrier(threads_count)

    def work(index: int) -> None:
        try:
            barrier.wait()
            for number in range(clips_per_thread):
                samples = base * np.float32(0.1 + 0.8 * number / clips_per_thread)
                samples[index] = np.float32(0.5)  # a mark that says which thread wrote it
                clip_id = store.add_clip(
                    samples,
                    16000,
                    report,
                    keyword="up",
                    speaker_id=speakers[index],
                    session_id=f"thread-{index}",
                    source="webrtc",
                )
                with lock:
                    written[clip_id] = samples
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=work, args=(index,)) for index in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    total = threads_count * clips_per_thread
    frame = store.clips()
    assert len(frame) == total
    assert set(frame["clip_id"]) == set(written)
    assert frame.groupby("session_id").size().tolist() == [clips_per_thread] * threads_count
    assert len(audio_files(store)) == total
    assert temp_files(store) == []
    for clip_id, samples in written.items():
        decoded, _ = store.read_audio(clip_id)
        np.testing.assert_allclose(decoded, samples, atol=QUANTUM)


def test_two_stores_on_one_database(settings):
    first, second = ClipStore(settings), ClipStore(settings)
    try:
        speaker_id = first.create_speaker(1).speaker_id
        errors: list[BaseException] = []

        def work(clip_store: ClipStore, index: int) -> None:
            try:
                for _ in range(10):
                    add(clip_store, speaker_id, session_id=f"worker-{index}")
            except BaseException as error:
                errors.append(error)

        threads = [
            threading.Thread(target=work, args=(clip_store, index))
            for index, clip_store in enumerate([first, second] * 2)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert len(first.clips()) == len(second.clips()) == 40
        assert len(audio_files(first)) == 40
    finally:
        first.close()
        second.close()


# ---- crashes and leftovers --------------------------------------------------------------------------


def test_failed_insert_leaves_nothing(store, speaker_id):
    driver = store._engine.dialect.loaded_dbapi  # sqlite3 or psycopg

    def fail_clip_insert(connection, cursor, statement, parameters, context, executemany):
        if statement.startswith("INSERT INTO clips"):
            raise driver.OperationalError("disk I/O error")

    event.listen(store._engine, "before_cursor_execute", fail_clip_insert)
    with pytest.raises(StoreError, match=r"clip not stored: .*disk I/O error"):
        add(store, speaker_id)
    event.remove(store._engine, "before_cursor_execute", fail_clip_insert)
    assert store.clips().empty
    assert audio_files(store) == []
    assert temp_files(store) == []


def test_crash_between_audio_and_row_is_invisible_then_cleaned(settings, monkeypatch):
    clip_store = ClipStore(settings)
    speaker_id = clip_store.create_speaker(1).speaker_id
    kept = add(clip_store, speaker_id)

    @contextmanager
    def crash():
        raise KeyboardInterrupt  # the process dies: no error handling runs
        yield

    with monkeypatch.context() as patch, pytest.raises(KeyboardInterrupt):
        patch.setattr(clip_store, "_write", crash)
        add(clip_store, speaker_id)
    orphans = [key for key in audio_files(clip_store) if kept not in key]
    assert len(orphans) == 1  # the audio was written ...
    assert clip_store.clips()["clip_id"].tolist() == [kept]  # ... but no row points at it
    clip_store.close()

    # Reopened at once: the orphan may belong to a write another process is finishing; kept.
    reopened = ClipStore(settings)
    assert stored(reopened, orphans[0])
    reopened.close()
    # Reopened after LEFTOVER_MIN_AGE_S: removed; the stored clip, however old, stays.
    later(monkeypatch, LEFTOVER_MIN_AGE_S + 60)
    reopened = ClipStore(settings)
    assert not stored(reopened, orphans[0])
    assert reopened.clips()["clip_id"].tolist() == [kept]
    np.testing.assert_allclose(reopened.read_audio(kept)[0], a_take(), atol=QUANTUM)
    reopened.close()


def test_old_temp_files_are_cleaned_on_open(settings):
    clip_store = ClipStore(settings)
    local_only(clip_store, "object storage writes no temporary files")
    temp_folder = Path(settings.storage_url) / ".tmp"
    old, young = temp_folder / "old.tmp", temp_folder / "young.tmp"
    old.write_bytes(b"half a FLAC file")
    young.write_bytes(b"a write in progress")
    age(old, LEFTOVER_MIN_AGE_S + 1)
    clip_store.close()
    ClipStore(settings).close()
    assert not old.exists()
    assert young.exists()


def test_clean_leftovers_counts_and_respects_age(store, speaker_id):
    add(store, speaker_id)
    orphan = f"clips/{speaker_id}/orphan.flac"
    store.audio.put(orphan, encode_flac(a_take(), 16000))
    leftovers = 1
    if store.audio.is_local:
        (Path(store.settings.storage_url) / ".tmp" / "x.tmp").write_bytes(b"x")
        leftovers += 1
    assert store.clean_leftovers() == 0
    assert store.clean_leftovers(min_age_s=-1.0) == leftovers
    assert not stored(store, orphan) and temp_files(store) == []
    assert len(audio_files(store)) == 1
    assert len(store.clips()) == 1


def test_clean_leftovers_keeps_audio_a_row_names_under_any_name(store, speaker_id, settings):
    """Rows are found by the clip id in a file's name; a row naming its audio otherwise (no such
    row is written today) still keeps its file."""
    clip_id = add(store, speaker_id)
    odd_key = f"clips/{speaker_id}/kept-under-another-name.flac"
    store.audio.put(odd_key, encode_flac(a_take(), 16000))
    engine = create_engine(settings.database_url)
    with engine.begin() as connection:
        connection.execute(
            text("UPDATE clips SET audio_key = :key WHERE clip_id = :id"), {"key": odd_key, "id": clip_id}
        )
    engine.dispose()
    orphans = [f"clips/{speaker_id}/{number:032x}.flac" for number in range(3)]
    for key in orphans:
        store.audio.put(key, encode_flac(a_take(), 16000))
    stale = f"clips/{speaker_id}/{clip_id}.flac"  # the clip's own name, no longer its audio_key
    assert store.clean_leftovers(min_age_s=-1.0) == len(orphans) + 1
    assert audio_files(store) == [odd_key] and not stored(store, stale)
    np.testing.assert_allclose(store.read_audio(clip_id)[0], a_take(), atol=QUANTUM)


def test_reopened_store_keeps_its_data(settings):
    clip_store = ClipStore(settings)
    speaker = clip_store.create_speaker(1)
    samples = a_take(word="down")
    clip_id = add(clip_store, speaker.speaker_id, samples, keyword="down")
    clip_store.set_status(clip_id, "accepted", reviewer="ana")
    before = clip_store.clips()
    clip_store.close()

    reopened = ClipStore(settings)
    try:
        pd.testing.assert_frame_equal(reopened.clips(), before)
        assert reopened.find_speaker(speaker.participant_code) == speaker.speaker_id
        np.testing.assert_allclose(reopened.read_audio(clip_id)[0], samples, atol=QUANTUM)
    finally:
        reopened.close()


def test_newer_schema_is_refused(settings):
    ClipStore(settings).close()
    engine = create_engine(settings.database_url)
    with engine.begin() as connection:
        connection.execute(
            text("UPDATE speechrec_meta SET value = :version WHERE key = 'schema_version'"),
            {"version": str(SCHEMA_VERSION + 1)},
        )
    engine.dispose()
    with pytest.raises(StoreError, match=f"schema version {SCHEMA_VERSION + 1} is newer than this speechrec .*upgrade"):
        ClipStore(settings)


@pytest.mark.parametrize("url", ["nosuchdb://admin:hunter2@host/speech", "sqlite:///{file}/below-a-file/db.sqlite3"])
def test_unusable_database_is_a_store_error(tmp_path, url):
    (tmp_path / "a-file").write_text("not a folder")
    settings = load_settings(tmp_path, database_url=url.format(file=tmp_path / "a-file"), environ={})
    with pytest.raises(StoreError, match="cannot open the database") as caught:
        ClipStore(settings)
    assert "hunter2" not in str(caught.value)


@pytest.mark.parametrize("database", ["unreachable", "missing"])
def test_unusable_postgresql_is_one_clear_error(postgres_server, tmp_path, database):
    port = free_port() if database == "unreachable" else postgres_server.port
    url = f"postgresql+psycopg://postgres:hunter2@127.0.0.1:{port}/no_such_database"
    settings = load_settings(tmp_path, database_url=url, environ={})
    reason = "Connection refused" if database == "unreachable" else 'database "no_such_database" does not exist'
    with pytest.raises(StoreError, match=f"cannot open the database: .*{reason}") as caught:
        ClipStore(settings)
    assert "hunter2" not in str(caught.value)


def test_missing_bucket_is_one_clear_error(s3_environment, tmp_path):
    settings = load_settings(tmp_path, storage_url="s3://no-such-bucket/audio", environ={})
    message = "audio storage 's3://no-such-bucket/audio': the bucket does not exist; create it or fix the storage URL"
    with pytest.raises(StoreError, match=message):
        ClipStore(settings)


def test_wrong_s3_credentials_are_one_clear_error(monkeypatch, tmp_path):
    server = start_server(functools.partial(MotoServer, unchecked_requests=1))
    try:
        bucket = server.create_bucket()  # the one request moto lets through unchecked
        for name, value in {**S3_ENVIRONMENT, "AWS_ENDPOINT_URL": server.endpoint_url}.items():
            monkeypatch.setenv(name, value)
        settings = load_settings(tmp_path, storage_url=f"s3://{bucket}/audio", environ={})
        with pytest.raises(
            StoreError, match=f"audio storage 's3://{bucket}/audio': access denied; check the credentials"
        ):
            ClipStore(settings)
    finally:
        server.close()


def test_unreachable_s3_endpoint_is_one_clear_error(s3_environment, monkeypatch, tmp_path):
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    settings = load_settings(tmp_path, storage_url="s3://bucket/audio", environ={})
    with pytest.raises(StoreError, match="audio storage 's3://bucket/audio': Could not connect to the endpoint URL"):
        ClipStore(settings)


def test_audio_folder_that_cannot_be_written_is_one_clear_error(tmp_path):
    settings = load_settings(tmp_path, environ={})
    Path(settings.storage_url).mkdir(parents=True)
    (Path(settings.storage_url) / ".speechrec-check").write_text("a file where the check writes")
    with pytest.raises(StoreError, match=r"the audio folder cannot be written: '.*speechrec-check' .*a file is where"):
        ClipStore(settings)


def test_the_startup_check_leaves_nothing_behind(backend_settings):
    store = ClipStore(backend_settings)
    store.close()
    assert store.audio._fs.find(store.audio._path(".speechrec-check")) == []
    assert list(store.audio.audio_files()) == []


def test_store_needs_settings(tmp_path):
    with pytest.raises(TypeError, match="settings must be a Settings"):
        ClipStore(str(tmp_path))


# ---- integrity errors ------------------------------------------------------------------------------


def test_unknown_speaker_is_refused_and_leaves_no_audio(store):
    with pytest.raises(StoreError, match="names an unknown speaker"):
        add(store, "0badf00d")
    assert store.clips().empty
    assert audio_files(store) == []
    assert temp_files(store) == []


def test_failed_batch_stores_nothing(store, speaker_id):
    report = assess_take(a_take(), 16000)
    batch = [
        new_clip(a_take(seed), 16000, report, keyword="yes", speaker_id=owner, session_id="s", source="import")
        for seed, owner in enumerate([speaker_id, speaker_id, "0badf00d"])
    ]
    with pytest.raises(StoreError, match="clip not stored"):
        store.add_clips(batch)
    assert store.clips().empty
    assert audio_files(store) == []


def test_duplicate_source_is_refused(store, speaker_id):
    first = add(store, speaker_id, source="import", source_sha1="a" * 40)
    with pytest.raises(StoreError, match="duplicates a stored clip"):
        add(store, speaker_id, source="import", source_sha1="a" * 40)
    assert store.clips()["clip_id"].tolist() == [first]
    assert len(audio_files(store)) == 1


# ---- bad fields -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "error", "message"),
    [
        ({"keyword": "../etc"}, CampaignError, "keyword '../etc' contains '..'"),
        ({"keyword": "_unknown_"}, CampaignError, "keyword '_unknown_' starts with '_'"),
        ({"keyword": ""}, CampaignError, "keyword '' is empty"),
        ({"keyword": 5}, TypeError, "keyword must be a string, got 5"),
        ({"speaker_id": "../../evil"}, ValueError, "speaker_id must be 8 lower-case hex digits, got '../../evil'"),
        ({"speaker_id": "ABCDEF12"}, ValueError, "speaker_id must be 8 lower-case hex digits"),
        ({"source": "phone"}, ValueError, "source must be one of webrtc, audio_input, import, got 'phone'"),
        ({"source": None}, ValueError, "source must be one of .*, got None"),
        ({"quality": {"flags": ""}}, TypeError, "quality must be a QualityReport, got \\{'flags'"),
        ({"flac_bytes": b""}, ValueError, "flac_bytes is empty; encode the take"),
    ],
)
def test_bad_new_clip_fields(store, speaker_id, tmp_path, fields, error, message):
    values = {
        "keyword": "yes",
        "speaker_id": speaker_id,
        "session_id": "s",
        "source": "webrtc",
        "sample_rate": 16000,
        "flac_bytes": encode_flac(a_take(), 16000),
        "quality": assess_take(a_take(), 16000),
        **fields,
    }
    with pytest.raises(error, match=message):
        store.add_clips([NewClip(**values)])
    assert store.clips().empty
    assert audio_files(store) == []
    assert not (tmp_path / "evil").exists() and not (tmp_path / "data" / "evil").exists()


@pytest.mark.parametrize("clip", ["not a clip", None, {"keyword": "yes"}])
def test_add_clips_refuses_non_clips(store, clip):
    with pytest.raises(TypeError, match="expected a NewClip"):
        store.add_clips([clip])


def test_a_bad_clip_in_a_batch_stores_nothing(store, speaker_id):
    report = assess_take(a_take(), 16000)
    good = new_clip(a_take(), 16000, report, keyword="yes", speaker_id=speaker_id, session_id="s", source="webrtc")
    bad = new_clip(a_take(), 16000, report, keyword="yes", speaker_id=speaker_id, session_id="s", source="phone")
    with pytest.raises(ValueError, match="source must be one of"):
        store.add_clips([good, bad])
    assert store.clips().empty
    assert audio_files(store) == []


def test_new_clip_refuses_unknown_field():
    with pytest.raises(TypeError, match="speaker"):
        new_clip(
            a_take(), 16000, assess_take(a_take(), 16000), keyword="yes", speaker="x", session_id="s", source="webrtc"
        )


# ---- audio written by a worker process, row added by the store -----------------------------------


def stored_by_worker(clip_store: ClipStore, speaker_id: str, seed: int = 0) -> NewClip:
    """What the importer's workers do: put the FLAC with AudioStorage, hand back the clip id."""
    samples = a_take(seed)
    clip_id = f"{seed:032x}"
    clip_store.audio.put(audio_key(speaker_id, clip_id), encode_flac(samples, 16000))
    return NewClip(
        keyword="yes",
        speaker_id=speaker_id,
        session_id="import",
        source="import",
        sample_rate=16000,
        flac_bytes=None,
        quality=assess_take(samples, 16000),
        clip_id=clip_id,
    )


def test_row_for_audio_a_worker_stored(store, speaker_id):
    clip = stored_by_worker(store, speaker_id)
    assert store.add_clips([clip]) == [clip.clip_id]
    row = store.clip(clip.clip_id)
    assert row.audio_key == audio_key(speaker_id, clip.clip_id)
    np.testing.assert_allclose(store.read_audio(clip.clip_id)[0], a_take(0), atol=QUANTUM)


def test_failed_batch_removes_the_audio_workers_stored(store, speaker_id):
    # The last speaker is unknown to the store: the insert fails after all audio is written.
    batch = [stored_by_worker(store, owner, seed) for seed, owner in enumerate([speaker_id, speaker_id, "0badf00d"])]
    with pytest.raises(StoreError, match="clip not stored"):
        store.add_clips(batch)
    assert store.clips().empty
    assert audio_files(store) == []


@pytest.mark.parametrize("clip_id", [None, "", "xyz", "A" * 32, "0" * 31])
def test_audio_stored_elsewhere_needs_a_clip_id(store, speaker_id, clip_id):
    clip = replace(stored_by_worker(store, speaker_id), clip_id=clip_id)
    with pytest.raises(ValueError, match="needs its clip_id"):
        store.add_clips([clip])


def test_database_failures_on_reads_are_store_errors(store, settings):
    with create_engine(settings.database_url).begin() as connection:
        connection.execute(text("DROP TABLE clip_doubt"))  # it refers to clips
        connection.execute(text("DROP TABLE clips"))
    for query in (store.clips, store.status_counts, store.known_source_sha1s, lambda: store.clip("0" * 32)):
        with pytest.raises(StoreError, match=r'database error: (no such table: clips|relation "clips" does not exist)'):
            query()


def test_consent_version_of_a_speaker(store, speaker_id):
    assert store.consent_version(speaker_id) == 1
    store.record_consent(speaker_id, 2)
    assert store.consent_version(speaker_id) == 2
    store.ensure_speaker("00c0ffee")
    assert store.consent_version("00c0ffee") is None
    with pytest.raises(StoreError, match="no speaker 'deadbeef'"):
        store.consent_version("deadbeef")


# ---- review decisions: previous state, re-label, undo, a whole speaker -------------------------------


def test_a_decision_returns_the_state_before_it(store, speaker_id):
    clip_id = add(store, speaker_id)
    first = store.set_status(clip_id, "accepted", reviewer="ana")
    assert (first.status, first.reviewer, first.reviewed_at) == ("pending", None, None)
    second = store.set_status(clip_id, "rejected", reason="noisy", reviewer="ben")
    # Ben can see that Ana decided in between (the page shows "changed under you").
    assert (second.status, second.reviewer) == ("accepted", "ana")
    assert second.reviewed_at is not None and second.reviewed_at.tzinfo is not None
    assert store.clip(clip_id).status == "rejected"  # the last decision wins


def test_relabel_files_a_clip_under_another_word(store, speaker_id):
    clip_id = add(store, speaker_id)
    previous = store.relabel(clip_id, "no", reviewer="ana")
    assert previous.keyword == "yes"
    row = store.clip(clip_id)
    assert (row.keyword, row.reviewer) == ("no", "ana")
    with pytest.raises(CampaignError, match=r"contains '\.\.'"):
        store.relabel(clip_id, "../x")


def test_a_relabelled_clip_is_a_near_miss_of_what_its_new_word_is(store, speaker_id):
    clip_id = add(store, speaker_id, keyword="jarvis", near_miss_of="hey jarvis", variation="soft")
    previous = store.relabel(clip_id, "hey jarvis", reviewer="ana")  # the volunteer said the keyword
    row = store.clip(clip_id)
    assert (row.keyword, row.near_miss_of, row.variation) == ("hey jarvis", None, "soft")
    store.restore(clip_id, previous)  # undo brings the word and its near miss back together
    assert (store.clip(clip_id).keyword, store.clip(clip_id).near_miss_of) == ("jarvis", "hey jarvis")
    previous = store.relabel(clip_id, "hey jarvis", reviewer="ana")
    second = store.relabel(clip_id, "hey", near_miss_of="hey jarvis|hey robot")
    assert store.clip(clip_id).near_miss_of == "hey jarvis|hey robot"
    with pytest.raises(StaleReviewError):  # an undo never skips over a later change
        store.restore(clip_id, previous)
    store.restore(clip_id, second)
    assert (store.clip(clip_id).keyword, store.clip(clip_id).near_miss_of) == ("hey jarvis", None)
    store.relabel(clip_id, "jarvis", near_miss_of="hey jarvis")
    assert (store.clip(clip_id).keyword, store.clip(clip_id).near_miss_of) == ("jarvis", "hey jarvis")
    with pytest.raises(CampaignError, match="near_miss_of keyword 'a/b'"):
        store.relabel(clip_id, "hey", near_miss_of="a/b")


@pytest.mark.parametrize(
    ("fields", "error", "message"),
    [
        ({"variation": "Soft"}, CampaignError, "variation name 'Soft' must be up to 32 lower-case"),
        ({"variation": ""}, CampaignError, "variation name '' must be"),
        ({"variation": 3}, TypeError, "variation name must be a string"),
        ({"near_miss_of": "hey|"}, CampaignError, "near_miss_of keyword '' is empty"),
        ({"near_miss_of": ["hey"]}, TypeError, "near_miss_of must be keywords joined by"),
    ],
)
def test_bad_variation_or_near_miss_of_is_refused_before_anything_is_written(store, speaker_id, fields, error, message):
    with pytest.raises(error, match=re.escape(message)):
        add(store, speaker_id, **fields)
    assert store.clips().empty and audio_files(store) == []


def test_the_consent_language_is_kept_per_speaker(store):
    speaker = store.create_speaker(2, "de")
    assert store.speakers().set_index("speaker_id").loc[speaker.speaker_id, "consent_language"] == "de"
    store.record_consent(speaker.speaker_id, 3, "ar")
    row = store.speakers().set_index("speaker_id").loc[speaker.speaker_id]
    assert (row["consent_version"], row["consent_language"]) == (3, "ar")
    assert store.create_speaker(1).speaker_id in set(store.speakers()["speaker_id"])  # language unknown: NULL
    with pytest.raises(ValueError, match="consent_language must be a language code"):
        store.create_speaker(1, "x" * 40)


def test_undo_restores_the_previous_state(store, speaker_id):
    clip_id = add(store, speaker_id)
    before = store.clip(clip_id)
    names = ("keyword", "status", "reason", "reviewer", "reviewed_at")
    for decide in (
        lambda: store.set_status(clip_id, "rejected", reason="clipped", reviewer="ana"),
        lambda: store.relabel(clip_id, "up", reviewer="ana"),
    ):
        store.restore(clip_id, decide())  # each decision undone right after it (the page's one undo)
        after = store.clip(clip_id)
        assert [getattr(after, name) for name in names] == [getattr(before, name) for name in names]
    first = store.set_status(clip_id, "rejected", reason="clipped", reviewer="ana")
    store.relabel(clip_id, "up", reviewer="ana")
    with pytest.raises(StaleReviewError):  # an undo never reaches back over a later change
        store.restore(clip_id, first)
    with pytest.raises(TypeError, match="previous must be a ReviewState"):
        store.restore(clip_id, {"status": "accepted"})


def test_decisions_on_a_missing_clip(store):
    for decide in (lambda: store.set_status("0" * 32, "accepted"), lambda: store.relabel("0" * 32, "yes")):
        with pytest.raises(StoreError, match="it may have been deleted"):
            decide()


def test_reject_a_whole_speaker(store, speaker_id):
    other = store.create_speaker(1).speaker_id
    mine = [add(store, speaker_id, a_take(seed)) for seed in range(3)]
    theirs = add(store, other)
    assert store.set_speaker_status(speaker_id, "rejected", reason="bad microphone", reviewer="ana") == 3
    statuses = store.clips().set_index("clip_id")["status"]
    assert [statuses[clip_id] for clip_id in mine] == ["rejected"] * 3
    assert statuses[theirs] == "pending"
    with pytest.raises(ValueError, match="status must be one of"):
        store.set_speaker_status(speaker_id, "maybe")


def test_review_state_reads_what_set_status_returns_next(store, speaker_id):
    clip_id = add(store, speaker_id)
    store.set_status(clip_id, "accepted", reviewer="ana")
    assert store.review_state(clip_id) == store.set_status(clip_id, "rejected")
    with pytest.raises(StoreError, match="it may have been deleted"):
        store.review_state("0" * 32)


# ---- the campaign saved by organizers ------------------------------------------------------------


def test_saved_campaign_is_none_until_saved_then_the_last_save_wins(store):
    from speechrec.campaign import Campaign

    assert store.saved_campaign() is None
    first = Campaign(title="first", keywords=("yes", "hey robot"), consent_text="I agree.", filler_words=("bed",))
    store.save_campaign(first)
    assert store.saved_campaign() == first
    second = replace(first, title="second", keywords=("tum",), consent_version=2)
    store.save_campaign(second)
    assert store.saved_campaign() == second
    reopened = ClipStore(store.settings)
    assert reopened.saved_campaign() == second  # kept in the database, seen by every process
    reopened.close()


def test_save_campaign_refuses_anything_else(store):
    with pytest.raises(TypeError, match="campaign must be a Campaign"):
        store.save_campaign({"title": "x"})


def test_a_saved_campaign_that_no_longer_validates_says_where_it_is(store):
    with store._write() as connection:
        connection.execute(text("INSERT INTO speechrec_meta (key, value) VALUES ('campaign', '{\"title\": \"x\"}')"))
    with pytest.raises(CampaignError, match="the campaign saved in the database: missing key 'keywords'"):
        store.saved_campaign()

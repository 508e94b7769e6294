"""ClipStore when a server goes away on PostgreSQL + S3 (real servers): the S3 server stopped in the
middle of a take, the database restarted between two takes; and a local disk that refuses a take:
both kinds of storage failure are one StorageError (a StoreError) with its cause."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from backends import S3_ENVIRONMENT, MotoServer
from conftest import start_server
from signals import load_word

from speechrec.config import load_settings
from speechrec.errors import StorageError, StoreError
from speechrec.quality import assess_take
from speechrec.store import ClipStore

QUANTUM = 1.0 / 32768


def add(store: ClipStore, speaker_id: str, word: str = "yes") -> str:
    samples, rate = load_word(word)
    return store.add_clip(
        samples, rate, assess_take(samples, rate), keyword=word, speaker_id=speaker_id, session_id="s", source="webrtc"
    )


@pytest.fixture
def own_s3_server(monkeypatch) -> Iterator[MotoServer]:
    """An S3 server of this test only (stopping the session's would empty it for every later test)."""
    server = start_server(MotoServer)
    for name, value in {**S3_ENVIRONMENT, "AWS_ENDPOINT_URL": server.endpoint_url}.items():
        monkeypatch.setenv(name, value)
    yield server
    server.close()


def test_s3_stopped_in_the_middle_of_a_take(postgres_server, own_s3_server, tmp_path, monkeypatch):
    database_url = postgres_server.create_database()
    bucket = own_s3_server.create_bucket()
    store = ClipStore(
        load_settings(tmp_path, database_url=database_url, storage_url=f"s3://{bucket}/audio", environ={})
    )
    try:
        speaker_id = store.create_speaker(1).speaker_id
        first = add(store, speaker_id)
        put = store.audio.put

        def stop_then_put(key: str, data: bytes) -> None:
            own_s3_server.stop()  # the take is encoded, its row not yet written: the upload fails
            put(key, data)

        with monkeypatch.context() as patch:
            patch.setattr(store.audio, "put", stop_then_put)
            with pytest.raises(StoreError, match=r"clip not stored: audio 'clips/.*\.flac' cannot be stored: "):
                add(store, speaker_id, "no")
        assert store.clips()["clip_id"].tolist() == [first]  # no row for the failed take

        # moto keeps its buckets in memory: the restarted server is empty, so the bucket is made again.
        own_s3_server.start()
        own_s3_server.create_bucket(bucket)
        assert list(store.audio.audio_files()) == []
        second = add(store, speaker_id, "up")
        assert store.clips()["clip_id"].tolist() == [first, second]
        np.testing.assert_allclose(store.read_audio(second)[0], load_word("up")[0], atol=QUANTUM)
        assert [key for key, _ in store.audio.audio_files()] == [store.clip(second).audio_key]
    finally:
        store.close()
        postgres_server.drop_database(database_url)


def test_database_restarted_between_two_takes(postgres_server, remote_settings):
    store = ClipStore(remote_settings())
    try:
        speaker_id = store.create_speaker(1).speaker_id
        first = add(store, speaker_id)
        postgres_server.restart()  # every pooled connection is now dead
        second = add(store, speaker_id, "no")
        assert store.clips()["clip_id"].tolist() == [first, second]
        assert store.set_status(first, "accepted").status == "pending"
    finally:
        store.close()


def test_a_local_write_failure_is_a_store_error_with_its_cause(store, speaker_id, tmp_path):
    """The same kind of error as an object store's failure (above): callers catch StoreError once."""
    clips = store.audio._path("clips")
    (tmp_path / "data" / "audio" / "clips").mkdir(parents=True, exist_ok=True)
    blocked = f"{clips}/{speaker_id}"
    with open(blocked, "wb") as file:  # a file where the speaker's folder would go
        file.write(b"not a folder")
    with pytest.raises(StoreError, match=r"clip not stored: audio 'clips/.*\.flac' cannot be stored: ") as caught:
        add(store, speaker_id)
    assert isinstance(caught.value.__cause__, StorageError) and isinstance(caught.value.__cause__.__cause__, OSError)
    with pytest.raises(StorageError, match="cannot be stored") as direct:
        store.audio.put(f"clips/{speaker_id}/x.flac", b"fLaC")
    assert isinstance(direct.value, StoreError) and isinstance(direct.value, OSError)
    assert store.clips().empty


def test_an_object_store_failure_is_the_same_store_error(s3_environment, tmp_path):
    bucket = s3_environment.create_bucket()
    store = ClipStore(load_settings(tmp_path, storage_url=f"s3://{bucket}/audio", environ={}))
    try:
        with pytest.raises(StorageError, match=r"audio 'clips/missing\.flac' cannot be read") as caught:
            store.read_flac("clips/missing.flac")
        assert isinstance(caught.value, StoreError) and caught.value.__cause__ is not None
    finally:
        store.close()

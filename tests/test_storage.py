"""AudioStorage and ClipStore at their edges: what their messages may say (never a credential)."""

from __future__ import annotations

import pytest
from backends import free_port

from speechrec.config import load_settings
from speechrec.errors import StoreError
from speechrec.storage import AudioStorage
from speechrec.store import ClipStore

PASSWORD = "hunter22-Secret"


def storage_failure(url: str) -> str:
    with pytest.raises(StoreError) as raised:
        AudioStorage(url).check()
    return str(raised.value)


@pytest.mark.parametrize("scheme", ["https", "http", "ftp"])
def test_an_unreachable_storage_url_is_named_without_its_credentials(scheme):
    message = storage_failure(f"{scheme}://organizer:{PASSWORD}@127.0.0.1:{free_port()}/audio")
    assert PASSWORD not in message
    assert f"{scheme}://***@127.0.0.1" in message


def test_s3_credentials_in_the_url_are_never_quoted(s3_environment):
    message = storage_failure(f"s3://AKIAEXAMPLE:{PASSWORD}@{s3_environment.create_bucket()}/audio")
    assert PASSWORD not in message and "AKIAEXAMPLE:" not in message
    assert "s3://***@" in message


@pytest.mark.parametrize("secret", ["S3CRET/sk", "S3CRET+ab/cd", "ab/S3CRETxyz"])
def test_s3_secret_keys_holding_a_slash_are_never_quoted(s3_environment, secret):
    """s3fs reads "AKIAKEY:S3CRET" of s3://AKIAKEY:S3CRET/sk@bucket as the bucket, and boto quotes it."""
    message = storage_failure(f"s3://AKIAKEY:{secret}@{s3_environment.create_bucket()}/audio")
    assert "S3CRET" not in message and "AKIAKEY:ab" not in message, message
    assert "s3://***@" in message


def test_an_unreachable_database_is_named_without_its_password(tmp_path):
    url = f"postgresql+psycopg://speechrec:{PASSWORD}@127.0.0.1:{free_port()}/speech"
    with pytest.raises(StoreError, match="cannot open the database") as raised:
        ClipStore(load_settings(tmp_path, database_url=url, environ={}))
    assert PASSWORD not in str(raised.value)


# ---- keys are checked where they are used ----------------------------------------------------------

UNSAFE_KEYS = ["../../secret.flac", "/etc/passwd", "clips/../../secret.flac", "clips//x.flac", "c:\\x", "s3://b/x", ""]


@pytest.mark.parametrize("key", UNSAFE_KEYS)
def test_audio_storage_refuses_keys_that_leave_its_root(tmp_path, key):
    (tmp_path / "secret.flac").write_bytes(b"not yours")
    storage = AudioStorage(str(tmp_path / "data" / "audio"))
    for use in (storage.get, storage.remove, lambda key: storage.put(key, b"x")):
        with pytest.raises(StoreError, match="is not a plain relative path"):
            use(key)
    assert (tmp_path / "secret.flac").read_bytes() == b"not yours"


def test_object_storage_refuses_keys_that_leave_its_prefix(s3_environment):
    bucket = s3_environment.create_bucket()
    AudioStorage(f"s3://{bucket}/other").put("clips/secret.flac", b"not yours")
    storage = AudioStorage(f"s3://{bucket}/audio")
    with pytest.raises(StoreError, match="is not a plain relative path"):
        storage.get("../other/clips/secret.flac")


def altered_clip(store: ClipStore, key: str) -> str:
    """A stored clip whose row was changed by hand to point at ``key``."""
    from signals import load_word

    from speechrec.quality import assess_take
    from speechrec.schema import clips_table

    samples, rate = load_word("yes")
    speaker = store.create_speaker(1).speaker_id
    clip_id = store.add_clip(
        samples, rate, assess_take(samples, rate), keyword="yes", speaker_id=speaker, session_id="s", source="webrtc"
    )
    with store._write() as connection:
        connection.execute(clips_table.update().where(clips_table.c.clip_id == clip_id).values(audio_key=key))
    return clip_id


@pytest.mark.parametrize("key", ["../../secret.flac", "../speechrec.sqlite3", "clips/../x.flac", "clips/x.wav"])
def test_a_row_altered_by_hand_reads_and_deletes_nothing_outside_the_clips(store, tmp_path, key):
    (tmp_path / "secret.flac").write_bytes(b"not yours")
    database = store.settings.data_dir / "speechrec.sqlite3"
    clip_id = altered_clip(store, key)
    with pytest.raises(StoreError, match="is not a clip's key"):
        store.read_audio(clip_id)
    with pytest.raises(StoreError, match="is not a clip's key"):
        store.read_flac(key)
    assert store.delete_speaker(store.clip(clip_id).speaker_id) == 1  # the withdrawal itself goes through
    assert (tmp_path / "secret.flac").read_bytes() == b"not yours"
    assert database.is_file()
    assert store.clips().empty

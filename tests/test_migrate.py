"""migrate_store and `python -m speechrec migrate`: SQLite + folder -> PostgreSQL + S3 -> SQLite +
folder on real servers, with every row, time and audio byte compared; refusals; all-or-nothing."""

from __future__ import annotations

import hashlib

import pandas as pd
import pytest
from signals import load_word

from speechrec.campaign import NOISE_KEYWORD
from speechrec.cli import main
from speechrec.config import load_settings
from speechrec.errors import StoreError
from speechrec.migrate import migrate_store
from speechrec.quality import assess_take
from speechrec.store import ClipStore


def fill(settings) -> ClipStore:
    """A store with two volunteers, an imported speaker, decisions and background noise."""
    store = ClipStore(settings)
    volunteers = [store.create_speaker(1), store.create_speaker(2)]
    store.ensure_speaker("00c0ffee")
    for number, (word, owner) in enumerate(
        [("yes", volunteers[0]), ("no", volunteers[0]), ("up", volunteers[1]), ("down", volunteers[1])]
    ):
        samples, rate = load_word(word)
        store.add_clip(
            samples, rate, assess_take(samples, rate), keyword=word, speaker_id=owner.speaker_id,
            session_id=f"s{number}", source="webrtc", consent_version=1,
        )  # fmt: skip
    samples, rate = load_word("tum")
    store.add_clip(
        samples, rate, assess_take(samples, rate, expect_speech=False), keyword=NOISE_KEYWORD,
        speaker_id="00c0ffee", session_id="import", source="import", source_sha1="b" * 40,
    )  # fmt: skip
    clips = store.clips()["clip_id"].tolist()
    store.set_status(clips[0], "accepted", reviewer="ana")
    store.set_status(clips[1], "rejected", reason="noisy", reviewer="ben")
    return store


def contents(settings) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, str]]:
    """Clip rows, speaker rows (without codes: dump_rows has them) and SHA-256 of each clip's audio."""
    store = ClipStore(settings)
    try:
        clips, speakers = store.clips(), pd.DataFrame(store.dump_rows()["speakers"])
        digests = {key: hashlib.sha256(store.read_flac(key)).hexdigest() for key in clips["audio_key"]}
        return clips, speakers, digests
    finally:
        store.close()


def assert_same_store(first, second) -> None:
    for left, right in zip(contents(first), contents(second), strict=True):
        if isinstance(left, pd.DataFrame):
            pd.testing.assert_frame_equal(left, right)
        else:
            assert left == right


def test_round_trip_local_to_postgresql_s3_and_back(tmp_path, remote_settings):
    local = load_settings(tmp_path / "local", environ={})
    original = fill(local)
    code = original.create_speaker(1).participant_code
    original.close()
    remote, back = remote_settings(), load_settings(tmp_path / "back", environ={})
    calls: list[tuple[int, int]] = []

    summary = migrate_store(local, remote, progress=lambda done, total: calls.append((done, total)))
    assert summary.speakers == 4 and summary.clips == 5 and summary.meta_rows == 1
    assert summary.audio_bytes > 0
    assert calls == [(done, 5) for done in range(1, 6)]
    assert_same_store(local, remote)
    assert migrate_store(remote, back) == summary
    assert_same_store(local, back)

    migrated = ClipStore(back)
    try:
        assert migrated.find_speaker(code) is not None  # volunteers can still resume with their code
        assert migrated.clip(migrated.clips()["clip_id"][0]).created_at.tzinfo is not None
    finally:
        migrated.close()


def test_refuses_a_target_that_is_not_empty(tmp_path, backend_settings):
    source = load_settings(tmp_path / "source", environ={})
    fill(source).close()
    occupied = ClipStore(backend_settings)
    occupied.create_speaker(1)
    occupied.close()
    with pytest.raises(StoreError, match=r"the target is not empty \(1 speakers, 0 clips, 0 audio files\)"):
        migrate_store(source, backend_settings)


def test_a_failure_midway_leaves_the_target_empty(tmp_path, backend_settings):
    source = load_settings(tmp_path / "source", environ={})
    fill(source).close()

    def fail_on_the_third_clip(done: int, total: int) -> None:
        if done == 3:
            raise StoreError("the network went away")

    with pytest.raises(StoreError, match="the network went away"):
        migrate_store(source, backend_settings, progress=fail_on_the_third_clip)
    target = ClipStore(backend_settings)
    try:
        assert target.clips().empty and target.speakers().empty
        assert list(target.audio.audio_files()) == []
    finally:
        target.close()
    # Nothing is in the way of trying again.
    assert migrate_store(source, backend_settings).clips == 5


def test_refuses_the_same_store_and_wrong_types(tmp_path):
    settings = load_settings(tmp_path, environ={})
    with pytest.raises(ValueError, match="source and target share a database or a storage URL"):
        migrate_store(settings, settings)
    with pytest.raises(TypeError, match="target must be a Settings, got 'data'"):
        migrate_store(settings, "data")


def test_cli_migrate(tmp_path, remote_settings, capsys):
    fill(load_settings(tmp_path / "local", environ={})).close()
    remote = remote_settings()
    argv = ["migrate", "--from-store", str(tmp_path / "local")]
    argv += ["--to-database", remote.database_url, "--to-storage", remote.storage_url]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert out.startswith("migrated 3 speakers and 5 clips (")
    assert "counts and SHA-256 checksums match" in out
    assert_same_store(load_settings(tmp_path / "local", environ={}), remote)

    assert main(argv) == 1  # the target is now full
    assert capsys.readouterr().err.startswith("speechrec migrate: error: the target is not empty (3 speakers")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--to-store", "x"], "say which store to migrate from: --from-store DIR, or both --from-database URL"),
        (["--from-store", "x", "--to-database", "sqlite:///y.db"], "say which store to migrate to: --to-store DIR"),
    ],
)
def test_cli_migrate_needs_both_sides(argv, message, capsys):
    assert main(["migrate", *argv]) == 1
    assert capsys.readouterr().err.startswith(f"speechrec migrate: error: {message}")


def test_cli_migrate_never_prints_a_password(tmp_path, capsys):
    fill(load_settings(tmp_path / "local", environ={})).close()
    url = "postgresql+psycopg://speechrec:hunter2@127.0.0.1:1/speechrec"
    argv = ["migrate", "--from-store", str(tmp_path / "local"), "--to-database", url]
    assert main([*argv, "--to-storage", str(tmp_path / "audio")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("speechrec migrate: error: cannot open the database")
    assert "hunter2" not in err

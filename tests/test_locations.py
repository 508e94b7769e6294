"""Every form of a local storage URL names one folder, the one the audio storage uses and the path
checks (export --out, migrate) compare with; a file URL naming another machine is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from speechrec.config import load_settings
from speechrec.errors import SettingsError
from speechrec.locations import local_storage_path
from speechrec.storage import AudioStorage


def forms(folder: Path) -> list[str]:
    """Every spelling of ``folder`` (absolute) a user may write as a storage URL."""
    posix = folder.as_posix()
    return [
        posix,
        f"file://{posix}",
        f"file://localhost{posix}",
        f"FILE://LOCALHOST{posix}",
        f"file:{posix}",
        f"local://{posix}",
        f"local:{posix}",
        f"{posix}/",
        f"{posix}/sub/..",
    ]


def test_every_local_form_names_the_same_folder(tmp_path):
    folder = tmp_path / "aud"
    for url in forms(folder):
        assert local_storage_path(url) == folder.resolve(), url


def test_relative_and_home_paths_are_resolved(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert local_storage_path("rel/aud") == (tmp_path / "rel" / "aud").resolve()
    assert local_storage_path("~/aud") == (tmp_path / "home" / "aud").resolve()
    assert local_storage_path("file:rel/aud") == (tmp_path / "rel" / "aud").resolve()


@pytest.mark.parametrize("url", ["s3://bucket/audio", "gs://bucket/a", "memory://audio", "https://example.org/x"])
def test_remote_storage_has_no_local_folder(url):
    assert local_storage_path(url) is None


@pytest.mark.parametrize("url", ["file://server/share/audio", "file://tmp/audio", "local://data/audio"])
def test_a_file_url_naming_another_host_is_refused(tmp_path, monkeypatch, url):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SettingsError, match=r"names the host .*, which is not this machine; write .*:///absolute"):
        local_storage_path(url)
    with pytest.raises(SettingsError, match="names the host"):
        load_settings(tmp_path / "data", storage_url=url, environ={})
    assert list(tmp_path.iterdir()) == []  # fsspec would have made ./server/share/audio


def test_the_audio_storage_writes_where_the_url_says(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "aud"
    storage = AudioStorage(f"file://localhost{folder.as_posix()}")
    storage.put("clips/0123abcd/" + "a" * 32 + ".flac", b"fLaC")
    assert (folder / "clips" / "0123abcd" / ("a" * 32 + ".flac")).read_bytes() == b"fLaC"
    assert not (tmp_path / "localhost").exists()


def test_a_missing_local_folder_is_made_only_when_asked(tmp_path):
    from speechrec.errors import StorageError

    with pytest.raises(StorageError, match=r"the audio folder '.*aud' does not exist; check the storage URL"):
        AudioStorage(f"local://{(tmp_path / 'aud').as_posix()}", create=False)
    assert not (tmp_path / "aud").exists()
    AudioStorage(str(tmp_path / "aud"))
    assert (tmp_path / "aud").is_dir()

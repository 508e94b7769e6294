"""Shared fixtures. Signal builders live in ``tests/signals.py``; import them from there
(``from signals import make_take``) or from here (``from conftest import make_take``).

Fixtures:
- ``store``: an empty ClipStore on ``store_settings``, closed afterwards.
- ``store_settings``: SQLite + local audio in ``tmp_path / "data"``. A test module runs on every
  back-end pair by overriding it with ``backend_settings`` (see tests/test_store.py).
- ``backend_settings``: fresh, isolated Settings for each back-end pair in BACKENDS: SQLite + a
  folder, and PostgreSQL + S3 (a new database and a new bucket per test, on real servers from
  tests/backends.py). ``backend`` is the pair's name.
- ``remote_settings``: a factory of further fresh PostgreSQL + S3 Settings (new database and bucket each).
- ``postgres_server``, ``s3_server``: the session's servers (started on first use).
- ``speaker_id``: a volunteer created in ``store`` (consent version 1).
- ``speech_take``: the shipped word "yes" as ``(samples, sample_rate)``, 16 kHz float32.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator

import numpy as np
import pytest
from backends import IN_CI, S3_ENVIRONMENT, MotoServer, PostgresServer, ServerUnavailable
from signals import (
    SPEECH_DIR,
    SPEECH_PAD_S,
    SPEECH_SAMPLE_RATE,
    WORDS,
    hum,
    load_word,
    make_take,
    rms_dbfs,
    scale_to_dbfs,
    speech_burst,
    speech_path,
    steady_noise,
    tone,
    tone_burst,
)

from speechrec.config import Settings, load_settings
from speechrec.store import ClipStore

LOCAL = "sqlite+folder"
REMOTE = "postgresql+s3"
BACKENDS = (LOCAL, REMOTE)

__all__ = [
    "SPEECH_DIR",
    "SPEECH_PAD_S",
    "SPEECH_SAMPLE_RATE",
    "WORDS",
    "hum",
    "load_word",
    "make_take",
    "rms_dbfs",
    "scale_to_dbfs",
    "speech_burst",
    "speech_path",
    "steady_noise",
    "tone",
    "tone_burst",
]


def start_server(server_class: Callable[[], object]) -> object:
    """Start a server; without its program skip with the hint, or fail in CI where it must run."""
    try:
        return server_class()
    except ServerUnavailable as error:
        if IN_CI:
            pytest.fail(f"{error} (CI=true: the backend tests must run)")
        pytest.skip(str(error))


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    server = start_server(PostgresServer)
    yield server
    server.close()


@pytest.fixture(scope="session")
def s3_server() -> Iterator[MotoServer]:
    server = start_server(MotoServer)
    yield server
    server.close()


@pytest.fixture
def s3_environment(s3_server: MotoServer, monkeypatch: pytest.MonkeyPatch) -> MotoServer:
    """The AWS_* variables that point boto at the session's S3 server (as a deployment would)."""
    for name, value in {**S3_ENVIRONMENT, "AWS_ENDPOINT_URL": s3_server.endpoint_url}.items():
        monkeypatch.setenv(name, value)
    return s3_server


@pytest.fixture
def remote_settings(postgres_server, s3_environment, tmp_path) -> Iterator[Callable[[], Settings]]:
    """Call it for Settings on a new PostgreSQL database and a new S3 bucket; both go afterwards."""
    databases: list[str] = []

    def make() -> Settings:
        databases.append(postgres_server.create_database())
        bucket = s3_environment.create_bucket()
        return load_settings(
            tmp_path / f"remote-{len(databases)}", database_url=databases[-1], storage_url=f"s3://{bucket}/audio",
            environ={},
        )  # fmt: skip

    yield make
    for url in databases:
        postgres_server.drop_database(url)


@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    return request.param


@pytest.fixture
def backend_settings(request, backend, tmp_path) -> Settings:
    """Fresh Settings of one back-end pair; the servers start only for tests that need them."""
    if backend == LOCAL:
        return load_settings(tmp_path / "data", environ={})
    return request.getfixturevalue("remote_settings")()


@pytest.fixture
def store_settings(tmp_path) -> Settings:
    """SQLite + local audio under ``tmp_path / "data"``; SPEECHREC_* variables are ignored."""
    return load_settings(tmp_path / "data", environ={})


@pytest.fixture
def store(store_settings) -> Iterator[ClipStore]:
    """An empty ClipStore on ``store_settings``."""
    clip_store = ClipStore(store_settings)
    yield clip_store
    clip_store.close()


@pytest.fixture
def speaker_id(store: ClipStore) -> str:
    """The id of a volunteer created in ``store``."""
    return store.create_speaker(consent_version=1).speaker_id


@pytest.fixture
def speech_take() -> tuple[np.ndarray, int]:
    """The shipped word "yes" with its silence: ``(mono float32 samples, 16000)``."""
    return load_word("yes")


@pytest.fixture(autouse=True)
def main_module_restored() -> Iterator[None]:
    """Put back ``sys.modules["__main__"]`` after each test.

    Running a page (AppTest) makes the page script ``__main__`` and leaves it there; a process
    spawned by a later test would then run the page script again before its own work.
    """
    main = sys.modules.get("__main__")
    yield
    if main is not None:
        sys.modules["__main__"] = main

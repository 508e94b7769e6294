"""Shared fixtures. Signal builders live in ``tests/signals.py``; import them from there
(``from signals import make_take``) or from here (``from conftest import make_take``).

Fixtures:
- ``store``: an empty ClipStore in ``tmp_path / "data"`` (SQLite + local audio), closed afterwards.
- ``speaker_id``: a volunteer created in ``store`` (consent version 1).
- ``speech_take``: the shipped word "yes" as ``(samples, sample_rate)``, 16 kHz float32.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
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

from speechrec.config import load_settings
from speechrec.store import ClipStore

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


@pytest.fixture
def store(tmp_path) -> Iterator[ClipStore]:
    """An empty ClipStore under ``tmp_path / "data"``; SPEECHREC_* variables are ignored."""
    clip_store = ClipStore(load_settings(tmp_path / "data", environ={}))
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

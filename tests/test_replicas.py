"""Several app processes on one PostgreSQL + S3 store (real servers) behave as one app: writers in
separate processes lose nothing, and a take stored by one replica is reviewed, counted and
downloaded through another."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import streamlit as st
import streamlit_webrtc.component
from streamlit.testing.v1 import AppTest

from speechrec.campaign import load_campaign
from speechrec.config import load_settings
from speechrec.export import export_dataset
from speechrec.stats import keyword_counts
from speechrec.store import ClipStore
from speechrec.ui import state

REPO = Path(__file__).resolve().parent.parent
CAMPAIGN = load_campaign(REPO / "campaign.toml")
PROCESSES = 4
TAKES_PER_PROCESS = 6
# One replica's work, run as its own Python process: store takes (one per add_clip, as the app
# does), decide on each if asked, then print the clip ids. Arguments: speaker id, word, count,
# the repository, "decide" or "pending".
REPLICA_SCRIPT = """
import json, sys
sys.path[:0] = [sys.argv[4], sys.argv[4] + "/tests"]
from signals import load_word
from speechrec.config import load_settings
from speechrec.quality import assess_take
from speechrec.store import ClipStore

speaker_id, word, count, decide = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[5] == "decide"
store = ClipStore(load_settings())
samples, rate = load_word(word)
ids = []
for index in range(count):
    ids.append(store.add_clip(samples, rate, assess_take(samples, rate), keyword=word, speaker_id=speaker_id,
                              session_id=f"replica-{speaker_id}", source="webrtc"))
    if decide:
        store.set_status(ids[-1], "accepted" if index % 2 == 0 else "rejected", reviewer=f"replica-{speaker_id}")
print(json.dumps(ids))
"""


@pytest.fixture
def shared_store(remote_settings, monkeypatch) -> ClipStore:
    """A fresh PostgreSQL database and bucket, named in SPEECHREC_* as every replica gets them."""
    settings = remote_settings()
    monkeypatch.setenv("SPEECHREC_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("SPEECHREC_STORAGE_URL", settings.storage_url)
    store = ClipStore(settings)
    yield store
    store.close()


def start_replica(speaker_id: str, word: str, count: int, decide: bool) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "-c",
            REPLICA_SCRIPT,
            speaker_id,
            word,
            str(count),
            str(REPO),
            "decide" if decide else "pending",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ),
    )


def finish(replica: subprocess.Popen) -> list[str]:
    stdout, stderr = replica.communicate(timeout=180)
    assert replica.returncode == 0, stderr
    return json.loads(stdout)


def test_writers_in_several_processes_lose_no_take_and_no_decision(shared_store):
    speakers = [shared_store.create_speaker(1).speaker_id for _ in range(PROCESSES)]
    replicas = [start_replica(speaker, "yes", TAKES_PER_PROCESS, decide=True) for speaker in speakers]
    stored = [finish(replica) for replica in replicas]
    clips = shared_store.clips().set_index("clip_id")
    assert len(clips) == PROCESSES * TAKES_PER_PROCESS
    assert sorted(clips.index) == sorted(clip_id for ids in stored for clip_id in ids)
    for speaker, ids in zip(speakers, stored, strict=True):
        statuses = clips.loc[ids, "status"].tolist()
        assert statuses == ["accepted", "rejected"] * (TAKES_PER_PROCESS // 2)
        assert set(clips.loc[ids, "reviewer"]) == {f"replica-{speaker}"}
    for clip_id in clips.index:  # every row's audio is there, complete
        samples, _ = shared_store.read_audio(clip_id)
        assert len(samples) > 0


def test_a_take_from_one_replica_is_reviewed_counted_and_downloaded_in_another(shared_store, monkeypatch, tmp_path):
    speaker = shared_store.create_speaker(1).speaker_id
    (clip_id,) = finish(start_replica(speaker, "tum", 1, decide=False))  # replica A: another process

    # Replica B: this process's app, opened on the same environment, reviews it.
    monkeypatch.setattr(streamlit_webrtc.component, "get_this_session_info", lambda: None)
    monkeypatch.chdir(REPO)
    st.cache_resource.clear()
    at = AppTest.from_file(str(REPO / "streamlit_app.py"), default_timeout=60)
    at.session_state[state.ORGANIZER] = True
    at.run()
    at.switch_page("pages/review.py").run()
    assert not at.exception
    assert at.markdown[0].value == "## tum" and speaker in at.caption[0].value
    next(item for item in at.button if item.label == "Accept").click().run()
    st.cache_resource.clear()

    # Replica A sees B's decision; both count the same; B's download holds A's take.
    other = ClipStore(load_settings())
    assert other.clip(clip_id).status == "accepted"
    assert keyword_counts(other, CAMPAIGN).equals(keyword_counts(shared_store, CAMPAIGN))
    export_dataset(other, CAMPAIGN, tmp_path / "dataset.zip")
    with zipfile.ZipFile(tmp_path / "dataset.zip") as archive:
        assert f"tum/{speaker}_nohash_0.wav" in archive.namelist()
    other.close()

"""streamlit_app.py under AppTest: campaign title, the store's counts, and a clean error on bad setup."""

from __future__ import annotations

from pathlib import Path

import pytest
import streamlit as st
from signals import make_take
from streamlit.testing.v1 import AppTest

from speechrec.config import load_campaign, load_settings
from speechrec.quality import assess_take
from speechrec.store import NOISE_KEYWORD, ClipStore

REPO = Path(__file__).resolve().parent.parent
APP = REPO / "streamlit_app.py"
SPEECHREC_VARIABLES = ("SPEECHREC_DATA", "SPEECHREC_DATABASE_URL", "SPEECHREC_STORAGE_URL", "SPEECHREC_CAMPAIGN")


@pytest.fixture(autouse=True)
def clean_app(monkeypatch, tmp_path):
    """Each test: no SPEECHREC_* from outside, the data folder in tmp_path, cwd the repo, empty caches."""
    for name in SPEECHREC_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SPEECHREC_DATA", str(tmp_path / "data"))
    monkeypatch.chdir(REPO)
    st.cache_resource.clear()
    st.cache_data.clear()
    yield
    st.cache_resource.clear()
    st.cache_data.clear()


def run_app() -> AppTest:
    return AppTest.from_file(str(APP), default_timeout=60).run()


def add(store: ClipStore, speaker: str, keyword: str, status: str, seed: int, *, quiet: bool = False) -> None:
    samples = make_take(duration_s=0.6, offset_s=0.1, burst_s=0.3, seed=seed, level_dbfs=-55.0 if quiet else -20.0)
    quality = assess_take(samples, 16000, expect_speech=keyword != NOISE_KEYWORD)
    clip_id = store.add_clip(
        samples, 16000, quality, keyword=keyword, speaker_id=speaker, session_id="s", source="webrtc"
    )
    if status != "pending":
        store.set_status(clip_id, status)


def test_app_shows_the_campaign_and_an_empty_store(tmp_path):
    at = run_app()
    assert not at.exception
    assert not at.error
    campaign = load_campaign(REPO / "campaign.toml")
    assert at.title[0].value == campaign.title
    counts = at.dataframe[0].value
    assert list(counts["keyword"]) == list(campaign.words)
    assert counts["total"].sum() == 0
    # The app opened its store where SPEECHREC_DATA points.
    assert (tmp_path / "data" / "speechrec.sqlite3").is_file()


def test_app_shows_the_store_counts(tmp_path):
    store = ClipStore(load_settings(tmp_path / "data", environ={}))
    try:
        speaker = store.create_speaker(consent_version=1).speaker_id
        seeds = iter(range(100))
        for _ in range(3):
            add(store, speaker, "yes", "accepted", next(seeds))
        add(store, speaker, "yes", "pending", next(seeds))
        add(store, speaker, "yes", "pending", next(seeds), quiet=True)
        add(store, speaker, "no", "rejected", next(seeds))
        add(store, speaker, "bed", "pending", next(seeds))
        add(store, speaker, NOISE_KEYWORD, "pending", next(seeds))
    finally:
        store.close()
    at = run_app()
    assert not at.exception
    counts = at.dataframe[0].value.set_index("keyword")
    columns = ["total", "accepted", "pending", "flagged", "rejected"]
    assert counts.loc["yes", columns].tolist() == [5, 3, 1, 1, 0]
    assert counts.loc["no", columns].tolist() == [1, 0, 0, 0, 1]
    assert counts.loc["bed", columns].tolist() == [1, 0, 1, 0, 0]
    assert counts.loc["up", columns].tolist() == [0, 0, 0, 0, 0]
    assert NOISE_KEYWORD not in counts.index
    assert counts.loc["yes", "progress"] == pytest.approx(3 / 1000)


def test_counts_follow_the_store_on_a_rerun(tmp_path):
    at = run_app()
    assert at.dataframe[0].value.set_index("keyword").at["tum", "total"] == 0
    store = ClipStore(load_settings(tmp_path / "data", environ={}))
    try:
        add(store, store.create_speaker(consent_version=1).speaker_id, "tum", "pending", 1)
    finally:
        store.close()
    at.run()
    assert not at.exception
    assert at.dataframe[0].value.set_index("keyword").at["tum", "total"] == 1


BROKEN_CAMPAIGNS = {
    "not_toml": 'title = "broken\nkeywords = ["yes"]\n',
    "no_keywords": 'title = "t"\nkeywords = []\nconsent_text = "ok"\n',
    "unknown_key": 'title = "t"\nkeywords = ["yes"]\nconsent_text = "ok"\ncolour = "red"\n',
}


@pytest.mark.parametrize("content", list(BROKEN_CAMPAIGNS.values()), ids=list(BROKEN_CAMPAIGNS))
def test_broken_campaign_file_shows_an_error(monkeypatch, tmp_path, content):
    # The app reads ./campaign.toml (or $SPEECHREC_CAMPAIGN): point both at the broken file.
    (tmp_path / "campaign.toml").write_text(content)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SPEECHREC_CAMPAIGN", str(tmp_path / "campaign.toml"))
    at = run_app()
    assert not at.exception
    assert len(at.error) == 1
    assert "speechrec cannot start" in at.error[0].value
    assert "campaign.toml" in at.error[0].value
    assert not at.title
    assert not at.dataframe


def test_missing_campaign_file_shows_an_error(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    at = run_app()
    assert not at.exception
    assert "does not exist" in at.error[0].value


def test_unusable_database_url_shows_an_error(monkeypatch):
    monkeypatch.setenv("SPEECHREC_DATABASE_URL", "nosuchdb://user:hunter2@host/speech")
    at = run_app()
    assert not at.exception
    assert "speechrec cannot start" in at.error[0].value
    assert "hunter2" not in at.error[0].value

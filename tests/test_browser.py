"""The volunteer flow in a real headless Chromium with a fake microphone, against `streamlit run`.

Needs Debian's chromium (`apt-get install chromium`), the playwright package (never
`playwright install`: the browser comes from Debian) and, for the live recorder, root and
iproute2 for a loopback-only network namespace. Outside CI the tests skip with that hint when
something is missing; in CI (CI=true) they must run.
"""

from __future__ import annotations

import io
import os
import re
import time
import wave
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from speechrec.campaign import load_campaign
from speechrec.config import load_settings
from speechrec.prompts import build_schedule
from speechrec.store import ClipStore

pytestmark = pytest.mark.browser
IN_CI = os.environ.get("CI") == "true"

try:
    from browser_env import (
        CHROMIUM,
        MICROPHONE_RATE,
        REPO,
        NamespaceUnavailable,
        browser,
        network_namespace,
        pass_microphone_check,
        running_app,
        start_recording,
        stop_live_recording,
        write_fake_microphone,
    )
    from playwright.sync_api import Page
except ImportError as error:  # playwright missing
    if IN_CI:
        raise
    pytest.skip(
        f"browser tests need playwright (pip install -r requirements-dev.txt): {error}", allow_module_level=True
    )
if CHROMIUM is None and not IN_CI:
    pytest.skip("browser tests need Debian's chromium: apt-get install chromium", allow_module_level=True)

RECORD_S = 3.5


@pytest.fixture
def fake_microphone(tmp_path) -> tuple[Path, np.ndarray]:
    path = tmp_path / "microphone.wav"
    return path, write_fake_microphone(path)


@pytest.fixture
def namespace() -> Iterator[str]:
    try:
        with network_namespace() as name:
            yield name
    except NamespaceUnavailable as error:
        if IN_CI:
            raise
        pytest.skip(f"live recorder browser test {error}")


def best_correlation(take: np.ndarray, word: np.ndarray) -> float:
    """Highest normalized correlation of ``word`` against any position in ``take``."""
    products = np.correlate(take, word, mode="valid")
    window_energy = np.convolve(take**2, np.ones(len(word)), mode="valid")
    return float(np.max(products / np.sqrt(window_energy * np.sum(word**2) + 1e-12)))


def record_one_simple_take(page: Page, url: str) -> None:
    """As a new volunteer: agree, switch to the simple recorder and record RECORD_S seconds."""
    page.goto(url)
    start_recording(page)
    page.get_by_text("Use the simple recorder").click()
    page.get_by_role("button", name="Record").click()
    page.wait_for_timeout(RECORD_S * 1000)
    page.get_by_role("button", name="Stop recording").click()
    page.get_by_text("Got it, thank you!").wait_for(timeout=30000)


def test_simple_recorder_stores_a_take(tmp_path, fake_microphone):
    microphone, word = fake_microphone
    with running_app(tmp_path) as (url, data, _, _), browser(tmp_path, microphone) as context:
        record_one_simple_take(context.new_page(), url)

    store = ClipStore(load_settings(data, environ={}))
    clips = store.clips()
    assert len(clips) == 1
    take = clips.iloc[0]
    assert (take["source"], take["sample_rate"], take["flags"]) == ("audio_input", MICROPHONE_RATE, "")
    assert take["duration_s"] < RECORD_S  # cut to the word with silence around it, like live capture
    samples, _ = store.read_audio(take["clip_id"])
    # The stored take holds the word the microphone said. The recorder leaves the browser's voice
    # processing on, which bends the waveform: measured 0.81 for the word, 0.24-0.33 for others.
    assert best_correlation(samples, word) > 0.6


def sign_in(page: Page, url: str, data: Path) -> None:
    """Sign in as organizer with the password the app generated at first start."""
    page.set_viewport_size({"width": 1200, "height": 900})  # organizers use a laptop: sidebar open
    page.goto(f"{url}/?organizer")
    page.get_by_label("Password", exact=True).fill((data / "organizer-password.txt").read_text().strip())
    page.get_by_role("button", name="Sign in").click()


def test_a_volunteers_take_is_accepted_by_the_organizer_and_downloaded(tmp_path, fake_microphone):
    microphone, _ = fake_microphone
    with running_app(tmp_path) as (url, data, _, _), browser(tmp_path, microphone) as context:
        record_one_simple_take(context.new_page(), url)
        take = ClipStore(load_settings(data, environ={})).clips().iloc[0]

        organizer = context.new_page()  # another tab: another session
        sign_in(organizer, url, data)
        organizer.get_by_role("link", name="Review").click()
        organizer.get_by_role("heading", name=take["keyword"]).wait_for(timeout=20000)
        organizer.get_by_role("button", name="Accept").click()
        organizer.get_by_text("Accepted.").wait_for(timeout=20000)
        organizer.get_by_role("link", name="Stats").click()
        organizer.get_by_text("Only accepted clips").click()
        organizer.get_by_role("button", name="Build the dataset zip").click()
        download_button = organizer.get_by_role("button", name=re.compile(r"^Download speechrec-demo-.*\.zip"))
        download_button.wait_for(timeout=60000)
        with organizer.expect_download(timeout=60000) as download_info:
            download_button.click()
        download = download_info.value
        assert re.fullmatch(r"speechrec-demo-yes-no-up-down-tum-\d{4}-\d{2}-\d{2}\.zip", download.suggested_filename)
        downloaded = tmp_path / download.suggested_filename
        download.save_as(downloaded)

    assert ClipStore(load_settings(data, environ={})).clip(take["clip_id"]).status == "accepted"
    with zipfile.ZipFile(downloaded) as archive:
        wav_name = f"{take['keyword']}/{take['speaker_id']}_nohash_0.wav"
        assert wav_name in archive.namelist()
        with wave.open(io.BytesIO(archive.read(wav_name))) as clip:
            layout = (clip.getframerate(), clip.getnchannels(), clip.getsampwidth(), clip.getnframes())
        assert layout == (16000, 1, 2, 16000)  # 16 kHz mono 16-bit, exactly 1 s
        assert {"validation_list.txt", "testing_list.txt", "metadata.csv", "README.md"} <= set(archive.namelist())
        assert take["clip_id"] in archive.read("metadata.csv").decode()


def test_live_recorder_checks_the_microphone_then_stores_takes(tmp_path, fake_microphone, namespace):
    microphone, word = fake_microphone
    with (
        running_app(tmp_path, namespace) as (url, data, log, _),
        browser(tmp_path, microphone, namespace) as context,
    ):
        page = context.new_page()
        page.goto(url)
        start_recording(page)
        pass_microphone_check(page)
        store = ClipStore(load_settings(data, environ={}))
        deadline = time.monotonic() + 40
        while len(store.clips()) < 2 and time.monotonic() < deadline:
            time.sleep(0.5)
        stop_live_recording(page)

    clips = store.clips()
    assert len(clips) >= 2
    assert set(clips["source"]) == {"webrtc"} and set(clips["sample_rate"]) == {MICROPHONE_RATE}
    assert set(clips["flags"]) == {""}
    # Each take went to the word prompted at that moment: the speaker's schedule, in order.
    speaker_id = clips["speaker_id"].iloc[0]
    campaign = load_campaign(REPO / "campaign.toml")
    assert clips["keyword"].tolist() == [prompt.word for prompt in build_schedule(campaign, speaker_id)][: len(clips)]
    for clip_id in clips["clip_id"]:
        samples, _ = store.read_audio(clip_id)
        # Raw audio (the browser's processing is off): the take matches what the microphone said.
        assert best_correlation(samples, word) > 0.85  # measured 0.97
    assert "samples lost" not in log.read_text()  # no frame went missing (pts continuity)


def test_organizer_signs_in_sees_stats_and_signs_out(tmp_path, fake_microphone):
    microphone, _ = fake_microphone
    with running_app(tmp_path) as (url, data, log, _), browser(tmp_path, microphone) as context:
        page = context.new_page()
        page.set_viewport_size({"width": 1200, "height": 900})  # organizers use a laptop: sidebar open
        page.goto(f"{url}/?organizer")
        password_field = page.get_by_label("Password", exact=True)
        password_field.fill("not it")
        page.get_by_role("button", name="Sign in").click()
        page.get_by_text("Wrong password.").wait_for(timeout=20000)
        assert page.get_by_role("link", name="Stats").count() == 0
        # No password configured: one was generated at first start and written to the server log.
        password = (data / "organizer-password.txt").read_text().strip()
        assert password in log.read_text()
        password_field.fill(password)
        page.get_by_role("button", name="Sign in").click()
        page.get_by_role("link", name="Stats").click()
        page.get_by_role("heading", name="Stats").wait_for(timeout=20000)
        page.get_by_role("button", name="Sign out").click()
        page.get_by_text("I have read this and I agree").wait_for(timeout=20000)
        assert page.get_by_role("link", name="Stats").count() == 0


TYPED_PAYLOADS = [
    "[text](https://example.org/x)",
    "https://example.org/x",
    "www.example.org",
    "mail@example.org",
    "**bold** _it_ `code` ~~gone~~",
    ":red[red] :smile: $x^2$",
    "<b>bold</b> &amp; a\\b",
    "# heading",
]


def test_typed_text_is_shown_as_text_never_as_markdown(tmp_path, fake_microphone):
    """A crafted ?code= link: the error box shows the code character for character, with no link in it."""
    from urllib.parse import quote

    microphone, _ = fake_microphone
    with running_app(tmp_path) as (url, _, _, _), browser(tmp_path, microphone) as context:
        page = context.new_page()
        for payload in TYPED_PAYLOADS:
            page.goto(f"{url}/?code={quote(payload)}")
            page.get_by_role("button", name="Continue with this code").click()
            alert = page.locator('[data-testid="stAlert"]').filter(has_text="is not valid")
            alert.wait_for(timeout=20000)
            shown = alert.inner_text().replace("\u2060", "")  # the invisible word joiners that break autolinks
            assert f"participant code {payload!r} is not valid" in shown
            assert alert.locator("a, b, strong, em, code, del, h1, .katex").count() == 0, alert.inner_html()

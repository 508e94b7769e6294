"""The volunteer and organizer flows in a real headless Chromium with a fake microphone, against
`streamlit run` (the same volunteer flow in Firefox ESR: tests/test_firefox.py).

Needs Debian's chromium (`apt-get install chromium`), the playwright package (never
`playwright install`: the browser comes from Debian) and, for the live recorder and a network
that blocks WebRTC, root and iproute2 for loopback-only network namespaces. Outside CI the tests
skip with that hint when something is missing; in CI (CI=true) they must run.
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
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest

from speechrec.campaign import NOISE_KEYWORD, load_campaign
from speechrec.config import load_settings
from speechrec.prompts import build_schedule
from speechrec.store import ClipStore

pytestmark = pytest.mark.browser
IN_CI = os.environ.get("CI") == "true"

try:
    from browser_env import (
        CHROMIUM,
        MICROPHONE_RATE,
        PHONE_VIEWPORT,
        REPO,
        WEBRTC_COMPONENT,
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


def namespace_or_skip(webrtc: bool) -> Iterator[str]:
    try:
        with network_namespace(webrtc) as name:
            yield name
    except NamespaceUnavailable as error:
        if IN_CI:
            raise
        pytest.skip(f"live recorder browser test {error}")


@pytest.fixture
def namespace() -> Iterator[str]:
    """Loopback only, WebRTC between app and browser works."""
    yield from namespace_or_skip(webrtc=True)


@pytest.fixture
def blocked_namespace() -> Iterator[str]:
    """Loopback only, and no WebRTC connection can be made (a firewall without TURN)."""
    yield from namespace_or_skip(webrtc=False)


def best_correlation(take: np.ndarray, word: np.ndarray) -> float:
    """Highest normalized correlation of ``word`` against any position in ``take``."""
    products = np.correlate(take, word, mode="valid")
    window_energy = np.convolve(take**2, np.ones(len(word)), mode="valid")
    return float(np.max(products / np.sqrt(window_energy * np.sum(word**2) + 1e-12)))


def simple_take(page: Page, progress_after: str = "") -> None:
    """Record RECORD_S seconds with the simple recorder; wait for the take's verdict (or for
    ``progress_after``, e.g. "2 / 3", when an earlier verdict may still be on the page)."""
    page.get_by_role("button", name="Record", exact=True).click()
    page.wait_for_timeout(RECORD_S * 1000)
    page.get_by_role("button", name="Stop recording").click()
    page.get_by_text(progress_after or "Got it, thank you!").wait_for(timeout=30000)


def record_one_simple_take(page: Page, url: str) -> None:
    """As a new volunteer: agree, switch to the simple recorder and record RECORD_S seconds."""
    page.goto(url)
    start_recording(page)
    page.get_by_text("Use the simple recorder").click()
    simple_take(page)


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
        meter = pass_microphone_check(page)
        assert re.match(r"Microphone level: (too quiet|good|too loud) · ", meter)  # the meter says what it means
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


def test_organizer_stays_signed_in_across_a_reload_until_signing_out(tmp_path, fake_microphone):
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
        page.get_by_role("heading", name="Review").wait_for(timeout=20000)  # not the consent form
        page.get_by_role("link", name="Stats").click()
        page.get_by_role("heading", name="Stats").wait_for(timeout=20000)
        page.reload()  # still signed in, on the same page, without the password in the address
        page.get_by_role("heading", name="Stats").wait_for(timeout=20000)
        assert password not in page.url
        page.get_by_role("button", name="Sign out").click()
        page.get_by_text("I have read this and I agree").wait_for(timeout=20000)
        assert page.get_by_role("link", name="Stats").count() == 0
        page.goto(f"{url}/stats")  # the bookmark after sign-out: where to sign in, not "Page not found"
        page.get_by_text("sign in at ?organizer").wait_for(timeout=20000)
        page.get_by_role("link", name="Sign in").click()
        page.get_by_label("Password", exact=True).fill(password)
        page.get_by_role("button", name="Sign in").click()
        page.get_by_role("heading", name="Stats").wait_for(timeout=20000)  # back where they were going


SMALL_CAMPAIGN = """
title = "Say tum"
keywords = ["tum"]
takes_per_keyword = 3
consent_text = "I agree that my recordings are published."
background_noise_s = 5
"""


def participant_code(page: Page) -> str:
    """The volunteer's code as the address carries it."""
    return parse_qs(urlsplit(page.url).query)["code"][0]


def test_a_volunteer_keeps_one_speaker_id_through_a_blocked_network_a_reload_and_a_resume_link(
    tmp_path, fake_microphone, blocked_namespace
):
    microphone, _ = fake_microphone
    campaign = tmp_path / "campaign.toml"
    campaign.write_text(SMALL_CAMPAIGN)
    with (
        running_app(tmp_path, blocked_namespace, campaign=campaign) as (url, data, log, _),
        browser(tmp_path, microphone, blocked_namespace) as context,
    ):
        page = context.new_page()
        # A plain-http LAN address: said before consent, and nobody is asked to agree.
        page.goto(url.replace("127.0.0.1", "lan.test"))
        page.get_by_text("browsers only let pages that come over https:// use the microphone").wait_for(timeout=20000)
        assert page.get_by_text("I have read this and I agree").count() == 0

        page.goto(url)
        start_recording(page)
        assert page.title() == "Say tum"  # the tab says the campaign's title
        page.frame_locator(WEBRTC_COMPONENT).get_by_role("button", name="START").click()
        started = time.monotonic()
        page.get_by_role("button", name="Use the simple recorder").wait_for(timeout=10000)  # within 10 s
        fallback_s = time.monotonic() - started
        assert page.locator(WEBRTC_COMPONENT).count() == 0  # the library's developer messages are gone with it
        assert page.get_by_text("cannot reach the app from your network").is_visible()
        assert "live recorder given up: no audio" in log.read_text()  # organizers see how often in the log
        page.get_by_role("button", name="Use the simple recorder").click()
        simple_take(page, "1 / 3")
        simple_take(page, "2 / 3")
        code = participant_code(page)

        page.reload()  # a phone reloads a backgrounded tab
        page.get_by_text("2 / 3").wait_for(timeout=20000)
        assert participant_code(page) == code
        assert page.get_by_role("button", name="Record", exact=True).is_visible()  # the simple recorder is remembered
        page.goto(url)  # the campaign's link again, without the code: the browser still knows them
        page.get_by_text("2 / 3").wait_for(timeout=20000)
        assert participant_code(page) == code

        page = context.browser.new_context(viewport=PHONE_VIEWPORT).new_page()  # another browser: no cookie
        page.goto(url)
        page.get_by_text("I have read this and I agree").wait_for(timeout=20000)  # a stranger to this one
        page.goto(f"{url}/?code={code}")  # the personal link
        page.get_by_text("Welcome back").wait_for(timeout=20000)
        page.get_by_text("Use the simple recorder").click()
        simple_take(page, "Last step: the sound of your room")  # 3 / 3
        store = ClipStore(load_settings(data, environ={}))
        clips = store.clips()
        assert len(store.speakers()) == 1 and len(clips) == 3
        assert set(clips["speaker_id"]) == {store.speakers()["speaker_id"][0]} and store.find_speaker(code)

        # The room step records raw for the seconds asked, with a countdown; this microphone says a word.
        page.get_by_role("button", name="Record the room (5 s)").click()
        page.get_by_text("s left. Please stay quiet.").wait_for(timeout=5000)
        page.get_by_text("we heard talking").wait_for(timeout=30000)
        assert store.clips(keyword=NOISE_KEYWORD).empty  # nothing stored, flagged or not

    print(f"\nblocked WebRTC: the simple recorder was offered {fallback_s:.1f} s after START")


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
            alert = page.locator('[data-testid="stAlert"]').filter(has_text="check it for typos")
            alert.wait_for(timeout=20000)
            shown = alert.inner_text().replace("\u2060", "")  # the invisible word joiners that break autolinks
            assert f"participant code “{payload}” is not valid" in shown  # as typed, not doubled backslashes
            assert alert.locator("a, b, strong, em, code, del, h1, .katex").count() == 0, alert.inner_html()

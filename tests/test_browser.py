"""The volunteer flow in a real headless Chromium with a fake microphone, against `streamlit run`.

Needs Debian's chromium (`apt-get install chromium`) and the playwright package (never
`playwright install`: the browser comes from Debian). Outside CI the tests skip with that hint
when either is missing; in CI (CI=true) they must run.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import soxr
from signals import load_word

from speechrec.config import load_settings
from speechrec.store import ClipStore

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
RATE = 48000
WORD_AT_S = 1.0  # the fake microphone's file: 1 s of silence, the word, then silence
RECORD_S = 3.5

try:
    from playwright.sync_api import Page, sync_playwright
except ImportError:  # pragma: no cover - reported by the skip below
    sync_playwright = None

MISSING = [
    what
    for what, present in (("chromium (apt-get install chromium)", CHROMIUM), ("playwright (pip)", sync_playwright))
    if not present
]
if MISSING and os.environ.get("CI") != "true":
    pytest.skip(f"browser tests need {' and '.join(MISSING)}", allow_module_level=True)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def app(tmp_path) -> Iterator[tuple[str, Path]]:
    """`streamlit run streamlit_app.py` on a free loopback port with its data in tmp_path; stopped afterwards."""
    port = free_port()
    data = tmp_path / "data"
    environment = {key: value for key, value in os.environ.items() if not key.startswith("SPEECHREC_")}
    environment["SPEECHREC_DATA"] = str(data)
    command = [sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.port", str(port)]
    command += ["--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false"]
    log = (tmp_path / "streamlit.log").open("wb")
    server = subprocess.Popen(command, cwd=REPO, env=environment, stdout=log, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"streamlit did not start: {(tmp_path / 'streamlit.log').read_text()}") from None
                time.sleep(0.3)
        yield url, data
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


@pytest.fixture
def fake_microphone(tmp_path) -> tuple[Path, np.ndarray]:
    """A WAV for Chromium's fake microphone: silence, the shipped word "tum", silence (48 kHz mono)."""
    word, rate = load_word("tum", trim=True)
    word = soxr.resample(word, rate, RATE).astype(np.float32)
    samples = np.concatenate([np.zeros(int(WORD_AT_S * RATE)), word, np.zeros(int(4.0 * RATE))]).astype(np.float32)
    path = tmp_path / "microphone.wav"
    sf.write(path, samples, RATE, subtype="PCM_16")
    return path, word


@pytest.fixture
def page(tmp_path, fake_microphone) -> Iterator[Page]:
    wav_path, _ = fake_microphone
    arguments = [
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-quic",
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={wav_path}",
    ]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),
            executable_path=CHROMIUM,
            args=arguments,
            viewport={"width": 420, "height": 900},
        )
        try:
            yield browser.new_page()
        finally:
            browser.close()


def best_correlation(take: np.ndarray, word: np.ndarray) -> float:
    """Highest normalized correlation of ``word`` against any position in ``take``."""
    products = np.correlate(take, word, mode="valid")
    window_energy = np.convolve(take**2, np.ones(len(word)), mode="valid")
    return float(np.max(products / np.sqrt(window_energy * np.sum(word**2) + 1e-12)))


def test_consent_then_a_recorded_take_is_stored(app, page, fake_microphone):
    url, data = app
    _, word = fake_microphone
    page.goto(url)
    page.get_by_text("I have read this and I agree").click()
    page.get_by_role("button", name="Start").click()
    page.get_by_text("Your participant code is").wait_for(timeout=20000)
    page.get_by_text("Go to recording").click()
    page.get_by_role("button", name="Record").click()
    page.wait_for_timeout(RECORD_S * 1000)
    page.get_by_role("button", name="Stop recording").click()
    page.get_by_text("Got it, thank you!").wait_for(timeout=30000)

    store = ClipStore(load_settings(data, environ={}))
    clips = store.clips()
    assert len(clips) == 1
    take = clips.iloc[0]
    assert (take["source"], take["sample_rate"], take["flags"]) == ("audio_input", RATE, "")
    assert take["duration_s"] < RECORD_S  # cut to the word with silence around it, like live capture
    samples, _ = store.read_audio(take["clip_id"])
    # The stored take holds the word the microphone said. The recorder leaves the browser's voice
    # processing on, which bends the waveform: measured 0.81 for the word, 0.24-0.33 for others.
    assert best_correlation(samples, word) > 0.6

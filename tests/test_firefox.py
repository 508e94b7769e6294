"""The volunteer flow in Debian's firefox-esr (WebDriver BiDi through puppeteer-core from npm):
consent, the live recorder's microphone check and takes, a reload, the personal link in a fresh
browser context, the simple recorder, and the raw room recording.

Needs `apt-get install firefox-esr`, Node.js, `npm ci --prefix tests/firefox` (puppeteer-core only:
never a browser download) and, for WebRTC on a private address, root and iproute2. Outside CI the
test skips with that hint when something is missing; in CI (CI=true) it must run.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from speechrec.campaign import NOISE_KEYWORD
from speechrec.config import load_settings
from speechrec.store import ClipStore

pytestmark = pytest.mark.browser
IN_CI = os.environ.get("CI") == "true"
FIREFOX = shutil.which("firefox-esr")
NODE = shutil.which("node")
DRIVER = Path(__file__).resolve().parent / "firefox"

try:
    from browser_env import NamespaceUnavailable, network_namespace, running_app, write_fake_microphone
except ImportError as error:  # playwright missing (browser_env drives Chromium too)
    if IN_CI:
        raise
    pytest.skip(
        f"browser tests need playwright (pip install -r requirements-dev.txt): {error}", allow_module_level=True
    )

MISSING = [
    hint
    for present, hint in (
        (FIREFOX, "Debian's firefox-esr (apt-get install firefox-esr)"),
        (NODE, "Node.js"),
        ((DRIVER / "node_modules" / "puppeteer-core").is_dir(), "puppeteer-core (npm ci --prefix tests/firefox)"),
    )
    if not present
]
if MISSING and not IN_CI:
    pytest.skip(f"the Firefox test needs {', '.join(MISSING)}", allow_module_level=True)

CAMPAIGN = """
title = "Say tum"
keywords = ["tum"]
takes_per_keyword = 3
consent_text = "I agree that my recordings are published."
background_noise_s = 3
"""


def run_flow(url: str, microphone: Path, namespace: str, result_path: Path) -> dict:
    """Run tests/firefox/volunteer_flow.mjs inside the namespace; its result, or a failure with its output."""
    command = ["ip", "netns", "exec", namespace, NODE, str(DRIVER / "volunteer_flow.mjs"), url, str(microphone)]
    completed = subprocess.run([*command, str(result_path)], capture_output=True, text=True, timeout=300)
    result = json.loads(result_path.read_text()) if result_path.exists() else {}
    if completed.returncode != 0 or "error" in result:
        done = ", ".join(result.get("steps", {})) or "nothing"
        pytest.fail(
            f"the Firefox flow failed after: {done}\n{result.get('error')}\n{completed.stdout}\n{completed.stderr}"
        )
    return result


@pytest.fixture
def lan_namespace() -> Iterator[str]:
    """Loopback plus a private address of its own: Firefox gathers no loopback ICE candidates."""
    try:
        with network_namespace(lan=True) as name:
            yield name
    except NamespaceUnavailable as error:
        if IN_CI:
            raise
        pytest.skip(f"the Firefox test {error}")


def test_the_volunteer_flow_in_firefox_esr(tmp_path, lan_namespace):
    microphone = tmp_path / "microphone.wav"
    write_fake_microphone(microphone)
    campaign = tmp_path / "campaign.toml"
    campaign.write_text(CAMPAIGN)
    with running_app(tmp_path, lan_namespace, campaign=campaign) as (url, data, log, _):
        result = run_flow(url, microphone, lan_namespace, tmp_path / "firefox.json")

    store = ClipStore(load_settings(data, environ={}))
    speakers = store.speakers()
    assert len(speakers) == 1  # one volunteer, one speaker id: consent, reload and link alike
    assert store.find_speaker(result["code"]) == speakers["speaker_id"][0]
    assert result["code_after_reload"] == result["code"]
    live = store.clips(keyword="tum")
    live_takes = int(result["progress_after_live"].split(" / ")[0])
    # The reload and the link found the volunteer where the store has them.
    assert result["progress_after_reload"].startswith(f"{len(live[live['source'] == 'webrtc'])} / 3")
    assert result["progress_after_link"].startswith(result["progress_after_reload"].split(" ·")[0])
    assert live_takes >= 2
    assert set(live["source"]) == {"webrtc", "audio_input"}  # both recorders work in Firefox
    assert set(live["flags"]) == {""}
    noise = store.clips(keyword=NOISE_KEYWORD)
    assert len(noise) == 1 and noise["flags"].tolist() == [""]  # the quiet room, raw and clean
    assert noise["duration_s"].iloc[0] == pytest.approx(3.0, abs=0.05)
    samples, _ = store.read_audio(noise["clip_id"].iloc[0])
    assert np.max(np.abs(samples)) < 0.01  # the muted microphone: no word leaked into the room noise
    assert "samples lost" not in log.read_text()
    print(
        f"\nFirefox {result['firefox']}: "
        + ", ".join(f"{name} {result[f'{name}_s']:.1f} s" for name in result["steps"])
    )

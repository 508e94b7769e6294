"""Run the app and a headless Chromium with a fake microphone, optionally inside a network namespace
with only loopback up (so WebRTC between them never leaves 127.0.0.0/8). Used by the browser
tests and bench/bench_live.py; needs Debian's chromium and playwright (never `playwright install`)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr
from backends import free_port
from playwright.sync_api import Page, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from signals import load_word

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
MICROPHONE_RATE = 48000
WEBRTC_COMPONENT = 'iframe[title*="webrtc"]'
PHONE_VIEWPORT = {"width": 420, "height": 900}


class NamespaceUnavailable(RuntimeError):
    """A network namespace cannot be made here (not root, or no iproute2)."""


# The private address of the namespace's own link for browsers that gather no loopback candidates.
NAMESPACE_LAN_ADDRESS = "10.99.0.1/24"


@contextmanager
def network_namespace(webrtc: bool = True, lan: bool = False) -> Iterator[str]:
    """A network namespace with only loopback up, plus 127.0.0.2 (aioice skips 127.0.0.1 when it
    gathers candidates), so WebRTC between app and browser never leaves 127.0.0.0/8.

    ``webrtc=False``: no 127.0.0.2, so the app has no address to offer and no WebRTC connection
    can be made, as behind a firewall without a TURN server; the page itself still loads.
    ``lan=True``: also a veth pair with both ends inside, one holding NAMESPACE_LAN_ADDRESS: Firefox
    gathers no loopback candidates in such a namespace, but this one (traffic to it stays inside).
    """
    name = f"speechrec-test-{os.getpid()}-{'webrtc' if webrtc else 'blocked'}{'-lan' if lan else ''}"
    run_inside = ["ip", "netns", "exec", name]
    commands = [["ip", "netns", "add", name], [*run_inside, "ip", "link", "set", "lo", "up"]]
    if webrtc:
        commands.append([*run_inside, "ip", "addr", "add", "127.0.0.2/8", "dev", "lo"])
    if lan:
        commands += [
            [*run_inside, "ip", "link", "add", "veth0", "type", "veth", "peer", "name", "veth1"],
            [*run_inside, "ip", "addr", "add", NAMESPACE_LAN_ADDRESS, "dev", "veth0"],
            [*run_inside, "ip", "link", "set", "veth0", "up"],
            [*run_inside, "ip", "link", "set", "veth1", "up"],
            [*run_inside, "ip", "route", "add", "default", "dev", "veth0"],
        ]
    try:
        for command in commands:
            subprocess.run(command, check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError) as error:
        subprocess.run(["ip", "netns", "delete", name], capture_output=True)
        raise NamespaceUnavailable(f"needs root and `ip netns` (iproute2): {error}") from None
    try:
        yield name
    finally:
        subprocess.run(["ip", "netns", "delete", name], capture_output=True)


@contextmanager
def running_app(
    tmp_path: Path, namespace: str | None = None, campaign: Path | None = None
) -> Iterator[tuple[str, Path, Path, subprocess.Popen]]:
    """`streamlit run streamlit_app.py` on a free loopback port (inside ``namespace`` if given), its data
    in tmp_path and its campaign from ``campaign`` (else the repository's); yields (url, data folder,
    server log, server process) and stops the server afterwards."""
    port = free_port()
    data = tmp_path / "data"
    environment = {key: value for key, value in os.environ.items() if not key.startswith("SPEECHREC_")}
    environment["SPEECHREC_DATA"] = str(data)
    if campaign is not None:
        environment["SPEECHREC_CAMPAIGN"] = str(campaign)
    inside = ["ip", "netns", "exec", namespace] if namespace else []
    command = [*inside, sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.port", str(port)]
    command += ["--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false"]
    log_path = tmp_path / "streamlit.log"
    url = f"http://127.0.0.1:{port}"
    probe = [
        *inside,
        sys.executable,
        "-c",
        "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)",
    ]
    with log_path.open("wb") as log:
        server = subprocess.Popen(command, cwd=REPO, env=environment, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 60
            while subprocess.run([*probe, f"{url}/_stcore/health"], capture_output=True).returncode != 0:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"streamlit did not start: {log_path.read_text()}")
                time.sleep(0.3)
            yield url, data, log_path, server
        finally:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()


@contextmanager
def browser(
    tmp_path: Path, microphone: Path, namespace: str | None = None, extra_arguments: tuple[str, ...] = ()
) -> Iterator:
    """A headless Chromium context (inside ``namespace`` if given) whose fake microphone plays ``microphone``.

    Cookies outlive a reload, as in a phone's browser; ``context.browser.new_context()`` is another,
    fresh browser. ``extra_arguments``: more Chromium switches.
    """
    executable = CHROMIUM
    if namespace:  # playwright talks to the browser over pipes, so only the browser's network moves
        executable = tmp_path / "chromium-in-namespace"
        executable.write_text(f'#!/bin/sh\nexec ip netns exec {namespace} {CHROMIUM} "$@"\n')
        executable.chmod(0o755)
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
        f"--use-file-for-fake-audio-capture={microphone}",
        "--allow-loopback-in-peer-connection",
        # lan.test is this machine under a name that is not localhost: a plain-http LAN address.
        "--host-resolver-rules=MAP lan.test 127.0.0.1",
        *extra_arguments,
    ]
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(executable), args=arguments)
        try:
            # English whatever the machine's LANG: the demo campaign also offers German, and the
            # volunteer pages follow the browser's language (tests/test_browser_languages.py).
            yield chromium.new_context(viewport=PHONE_VIEWPORT, locale="en-US")
        finally:
            chromium.close()


def start_recording(page: Page) -> None:
    """Agree to the consent on the welcome page and go to the record page."""
    page.get_by_text("I have read this and I agree").click()
    page.get_by_role("button", name="Start").click()
    page.get_by_text("Your participant code is below").wait_for(timeout=20000)
    page.get_by_text("Go to recording").click()


def write_fake_microphone(path: Path, word: str = "tum", word_at_s: float = 1.0, silence_after_s: float = 3.0):
    """A WAV for Chromium's fake microphone, which loops it: silence, a shipped word, silence (48 kHz
    mono). Returns the word's samples at 48 kHz (to compare stored takes with)."""
    samples, rate = load_word(word, trim=True)
    spoken = soxr.resample(samples, rate, MICROPHONE_RATE).astype(np.float32)
    silence_before, silence_after = (
        np.zeros(int(word_at_s * MICROPHONE_RATE)),
        np.zeros(int(silence_after_s * MICROPHONE_RATE)),
    )
    sf.write(path, np.concatenate([silence_before, spoken, silence_after]), MICROPHONE_RATE, subtype="PCM_16")
    return spoken


def pass_microphone_check(page: Page, attempts: int = 3) -> str:
    """Press START in the live recorder until the microphone check passes; return the level meter's
    label as it read during the check (e.g. "Microphone level: good · 🔴 recording").

    About 4 % of WebRTC starts fail silently (the server drops the new session); the app gives such a
    start up after a few seconds and offers to try again, which this does. Raises RuntimeError
    after ``attempts``.
    """
    component = page.frame_locator(WEBRTC_COMPONENT)
    works, gave_up = (
        page.get_by_text("Your microphone works"),
        page.get_by_role("button", name="Try the live recorder again"),
    )
    meter = page.get_by_text("Microphone level:")
    for _ in range(attempts):
        component.get_by_role("button", name="START").click()
        label = ""
        try:
            meter.or_(works).or_(gave_up).first.wait_for(timeout=15000)
            if meter.count():
                label = meter.first.inner_text()
            works.or_(gave_up).first.wait_for(timeout=15000)
        except PlaywrightTimeout:
            component.get_by_role("button", name="STOP").click()
            continue
        if works.count():
            return label
        gave_up.click()
    raise RuntimeError(f"the microphone check did not pass in {attempts} starts")


def stop_live_recording(page: Page) -> None:
    """Press STOP in the live recorder."""
    page.frame_locator(WEBRTC_COMPONENT).get_by_role("button", name="STOP").click()

"""Server cost of live recording: CPU per active stream, and how fast a finished take is stored.

Runs the app (`streamlit run`) and headless Chromium in a network namespace with only loopback,
opens N tabs whose fake microphones say a word every ~4 s, passes each tab's microphone check,
then measures over a window:
- the server process's CPU (user + system, all threads) minus its idle CPU, per active stream,
  in % of one core (this includes aiortc's Opus decoding and the page's polling fragment);
- the time from the end-of-speech decision to the take being stored, from the server log.
Needs root, iproute2, Debian's chromium and playwright (requirements-dev.txt).

It first measures speechrec's own part alone (the capture path fed with the same audio as
WebRTC-shaped frames at real-time rate, no browser), then the whole server.

Usage: python bench/bench_live.py [--streams 3] [--seconds 20]
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import psutil
import soundfile as sf

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
from browser_env import (  # noqa: E402
    browser,
    network_namespace,
    pass_microphone_check,
    running_app,
    start_recording,
    stop_live_recording,
    write_fake_microphone,
)
from signals import webrtc_frame  # noqa: E402

from speechrec.campaign import load_campaign  # noqa: E402
from speechrec.capture import Outcome  # noqa: E402
from speechrec.config import load_settings  # noqa: E402
from speechrec.decode import frames_to_mono  # noqa: E402
from speechrec.store import ClipStore  # noqa: E402
from speechrec.takes import keep_take, new_capture  # noqa: E402
from speechrec.ui.live import POLL_S  # noqa: E402

STORED = re.compile(r"take stored ([0-9.]+) ms after the end of speech")


def server_cpu_s(server: psutil.Process) -> float:
    """CPU seconds used so far by the server and its children (the server runs under `ip netns exec`)."""
    total = 0.0
    for process in [server, *server.children(recursive=True)]:
        try:
            times = process.cpu_times()
            total += times.user + times.system
        except psutil.Error:
            pass
    return total


def cpu_percent_over(server: psutil.Process, seconds: float) -> float:
    """The server's CPU use over ``seconds``, in % of one core."""
    start_cpu, start = server_cpu_s(server), time.monotonic()
    time.sleep(seconds)
    return 100.0 * (server_cpu_s(server) - start_cpu) / (time.monotonic() - start)


def capture_path_cpu(streams: int, seconds: float, microphone: Path, work: Path) -> float:
    """CPU % of one core per stream for our own part alone: WebRTC-shaped frames (48 kHz s16 stereo,
    20 ms) at real-time rate through frames_to_mono, SpeechCapture and keep_take into a real store,
    polled every POLL_S like the page does. No browser, no aiortc, no Streamlit."""
    samples, rate = sf.read(microphone, dtype="int16")
    frames_per_poll = round(POLL_S / 0.02)
    campaign = load_campaign(ROOT / "campaign.toml")
    store = ClipStore(load_settings(work / "capture-path", environ={}))

    def stream(index: int) -> None:
        speaker_id = store.create_speaker(campaign.consent_version).speaker_id
        capture, next_pts, position = new_capture(campaign, rate), None, 0
        for poll in range(round(seconds / POLL_S)):
            batch = []
            for _ in range(frames_per_poll):
                block = np.take(samples, range(position, position + 960), mode="wrap")
                batch.append(webrtc_frame(block, position, rate))
                position += 960
            mono, next_pts, _ = frames_to_mono(batch, next_pts)
            for result in capture.feed(mono):
                if result.outcome is not Outcome.NOTHING_HEARD:
                    keep_take(
                        store,
                        campaign,
                        result.samples,
                        rate,
                        keyword=campaign.keywords[0],
                        speaker_id=speaker_id,
                        session_id=f"bench-{index}",
                        source="webrtc",
                        consent_version=campaign.consent_version,
                    )
            time.sleep(max(0.0, start + (poll + 1) * POLL_S - time.monotonic()))

    process = psutil.Process()
    cpu_before = sum(process.cpu_times()[:2])
    start = time.monotonic()
    threads = [threading.Thread(target=stream, args=(index,)) for index in range(streams)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - start
    return 100.0 * (sum(process.cpu_times()[:2]) - cpu_before) / elapsed / streams


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--streams", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="speechrec-live-bench-"))
    microphone = work / "microphone.wav"
    write_fake_microphone(microphone)
    own_share = capture_path_cpu(args.streams, args.seconds, microphone, work)
    with (
        network_namespace() as namespace,
        running_app(work, namespace) as (url, _data, log, server),
        browser(work, microphone, namespace) as context,
    ):
        server_process = psutil.Process(server.pid)
        pages = []
        for _ in range(args.streams):  # each tab opens the app first, so the idle figure includes sessions
            page = context.new_page()
            page.goto(url)
            start_recording(page)
            pages.append(page)
        idle = cpu_percent_over(server_process, 5.0)
        for page in pages:
            pass_microphone_check(page)
        log_before = len(log.read_text().splitlines())
        busy = cpu_percent_over(server_process, args.seconds)
        for page in pages:
            stop_live_recording(page)
        latencies = [
            float(match[1]) for line in log.read_text().splitlines()[log_before:] if (match := STORED.search(line))
        ]

    per_stream = (busy - idle) / args.streams
    print(f"{args.streams} live streams for {args.seconds:g} s on {psutil.cpu_count()} cores")
    print(f"server CPU: idle {idle:.1f} %, with the streams {busy:.1f} % of one core")
    print(f"per active stream: {per_stream:.1f} % of one core (target <= 2 %)")
    print(f"of which speechrec's capture path alone (frames, capture, storing): {own_share:.2f} % of one core")
    if latencies:
        print(
            f"takes stored: {len(latencies)}; end of speech to stored: median {statistics.median(latencies):.1f} ms, "
            f"max {max(latencies):.1f} ms (target <= 50 ms)"
        )
    else:
        print("no take was stored during the window")


if __name__ == "__main__":
    main()

"""Server cost of live recording: CPU per active stream, and how fast a finished take is stored.

Runs the app (`streamlit run`) and headless Chromium in a network namespace with only loopback,
opens N tabs whose fake microphones say a word every ~4 s, passes each tab's microphone check,
then measures over a window:
- the server process's CPU (user + system, all threads) minus its idle CPU, per active stream,
  in % of one core (this includes aiortc's Opus decoding and the page's polling fragment);
- the time from the end-of-speech decision to the take being stored, from the server log.
Needs root, iproute2, Debian's chromium and playwright (requirements-dev.txt).

Usage: python bench/bench_live.py [--streams 3] [--seconds 20]
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psutil

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--streams", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="speechrec-live-bench-"))
    microphone = work / "microphone.wav"
    write_fake_microphone(microphone)
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
    if latencies:
        print(
            f"takes stored: {len(latencies)}; end of speech to stored: median {statistics.median(latencies):.1f} ms, "
            f"max {max(latencies):.1f} ms (target <= 50 ms)"
        )
    else:
        print("no take was stored during the window")


if __name__ == "__main__":
    main()

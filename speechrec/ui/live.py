"""The live recorder: streamlit-webrtc sends the microphone to the server, SpeechCapture cuts the takes.

Frames are pulled from the component's receiver queue (SENDONLY, a queue long enough to hold
every frame between two polls) by a fragment that reruns on its own; gaps in the frames' pts are
counted, so lost audio shows instead of hiding.
"""

from __future__ import annotations

import logging
import os
import queue
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import streamlit as st
from streamlit_webrtc import WebRtcMode, WebRtcStreamerContext, webrtc_streamer
from streamlit_webrtc.credentials import get_available_ice_servers

from speechrec.capture import CaptureResult, SpeechCapture
from speechrec.decode import frames_to_mono
from speechrec.errors import SettingsError
from speechrec.ui import state
from speechrec.ui.resources import secret

# The browser's own processing changes level and waveform from take to take: ask for raw audio.
RAW_AUDIO = {"echoCancellation": False, "noiseSuppression": False, "autoGainControl": False}
# How often a playing session pulls its audio: 0.5 s holds without disturbing WebRTC (the
# issue's measurement; the browser tests run with it).
POLL_S = 0.5
# Frames the server queues between polls: 30 s of 20 ms frames, far more than one poll needs.
RECEIVER_FRAMES = 1500
# After START, this long without audio means the connection failed: the volunteer is told.
NO_AUDIO_WARNING_S = 3.0
# Streamlit-webrtc's own TURN credential variables (Twilio, Cloudflare, Hugging Face).
TURN_CREDENTIAL_VARIABLES = ("TWILIO_ACCOUNT_SID", "CLOUDFLARE_TURN_KEY_ID", "HF_TOKEN")
METER_FLOOR_DBFS = -70.0
LOGGER = logging.getLogger(__name__)


@dataclass
class LiveState:
    """One browser session's live capture: kept in session state, gone with the session."""

    capture: SpeechCapture | None = None
    next_pts: int | None = None
    lost_samples: int = 0
    started_at: float = field(default_factory=time.monotonic)
    last_audio_at: float = 0.0


def ice_servers() -> list[dict]:
    """ICE servers: ``[webrtc] ice_servers`` in secrets.toml, else streamlit-webrtc's TURN credentials
    from the environment, else none (enough when browser and server share a network)."""
    configured = secret("webrtc", "ice_servers")
    if configured is not None:
        if not isinstance(configured, list | tuple):
            raise SettingsError("[webrtc] ice_servers in secrets.toml must be a list of tables: [{ urls = [...] }]")
        return [dict(server) for server in configured]
    if any(os.environ.get(name) for name in TURN_CREDENTIAL_VARIABLES):
        return [dict(server) for server in get_available_ice_servers()]
    return []


def recorder_ui() -> WebRtcStreamerContext:
    """The START/STOP microphone component (render it on every run, or its session is dropped)."""
    return webrtc_streamer(
        key="microphone",
        mode=WebRtcMode.SENDONLY,
        audio_receiver_size=RECEIVER_FRAMES,
        rtc_configuration={"iceServers": ice_servers()},
        media_stream_constraints={"video": False, "audio": RAW_AUDIO},
    )


def live_state() -> LiveState:
    """This session's LiveState (created on first use)."""
    if st.session_state.get(state.LIVE) is None:
        st.session_state[state.LIVE] = LiveState()
    return st.session_state[state.LIVE]


def listen_ui(
    context: WebRtcStreamerContext,
    new_capture: Callable[[int], SpeechCapture],
    on_result: Callable[[CaptureResult], None],
) -> None:
    """While the microphone plays, poll it (a fragment rerunning by itself); otherwise just say how to start.

    Pressing START or STOP reruns the page, so an idle session costs the server nothing.
    """
    if context.state.playing and context.audio_receiver is not None:
        _poll_ui(context, new_capture, on_result)
    else:
        st.session_state[state.LIVE] = LiveState()
        st.caption("Press START and allow the microphone. STOP pauses.")


@st.fragment(run_every=POLL_S)
def _poll_ui(
    context: WebRtcStreamerContext,
    new_capture: Callable[[int], SpeechCapture],
    on_result: Callable[[CaptureResult], None],
) -> None:
    """Feed new audio to the capture, show the level, hand finished captures to ``on_result``."""
    if not context.state.playing or context.audio_receiver is None:
        return  # stopped between two polls: the page reruns and shows how to start
    live = live_state()
    try:
        frames = context.audio_receiver.get_frames(timeout=0.05)
    except queue.Empty:
        frames = []
    now = time.monotonic()
    results: list[CaptureResult] = []
    if frames:
        samples, live.next_pts, lost = frames_to_mono(frames, live.next_pts)
        live.lost_samples += lost
        if lost:
            LOGGER.warning("live audio: %d samples lost between frames (%d in this session)", lost, live.lost_samples)
        live.last_audio_at = now
        if live.capture is None:
            live.capture = new_capture(frames[0].sample_rate)
        results = live.capture.feed(samples)
    if now - max(live.started_at, live.last_audio_at) > NO_AUDIO_WARNING_S:
        st.warning(
            "No sound is arriving from your microphone. Press STOP, then START again; "
            "if that does not help, switch on the simple recorder below."
        )
        return
    if live.capture is None:  # playing, but no audio yet: never claim to listen before it flows
        st.caption("Connecting to your microphone…")
        return
    level = live.capture.level_dbfs
    fraction = min(1.0, max(0.0, (level - METER_FLOOR_DBFS) / -METER_FLOOR_DBFS))
    st.progress(fraction, text="🔴 recording" if live.capture.speaking else "🎙️ listening…")
    for result in results:
        on_result(result)

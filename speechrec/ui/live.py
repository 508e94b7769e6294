"""The live recorder: streamlit-webrtc sends the microphone to the server, SpeechCapture cuts the takes.

Frames are pulled from the component's receiver queue (SENDONLY, a queue long enough to hold
every frame between two polls) by a fragment that reruns on its own while the recorder connects
or plays; gaps in the frames' pts are counted, so lost audio shows instead of hiding. A start
that brings no audio within CONNECT_TIMEOUT_S (a firewall, no TURN server) is given up: the
component goes, and the volunteer is offered the simple recorder in plain words.
"""

from __future__ import annotations

import logging
import os
import queue
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

import numpy as np
import streamlit as st
from streamlit_webrtc import Translations, WebRtcMode, WebRtcStreamerContext, webrtc_streamer
from streamlit_webrtc.credentials import get_available_ice_servers

from speechrec import audio
from speechrec.capture import CaptureResult, SpeechCapture
from speechrec.decode import frames_to_mono
from speechrec.errors import SettingsError
from speechrec.i18n import N_
from speechrec.microphone import RAW_AUDIO
from speechrec.takes import describe_level
from speechrec.ui import state
from speechrec.ui.language import _
from speechrec.ui.resources import secret
from speechrec.ui.volunteer import choose_simple_recorder

# How often a playing session pulls its audio: 0.5 s holds without disturbing WebRTC (the
# issue's measurement; the browser tests run with it).
POLL_S = 0.5
# Frames the server queues between polls: 30 s of 20 ms frames, far more than one poll needs.
RECEIVER_FRAMES = 1500
# After START, this long without audio (still connecting, or connected but silent) means the live
# recorder cannot work on this network. streamlit-webrtc shows its own developer-facing warning
# after 10 s of connecting, so this comes first; on loopback the first audio arrives 1-2 s after
# START (the browser tests), and a start that comes through a TURN server a few seconds later.
CONNECT_TIMEOUT_S = 6.0
# Once audio flowed, this long without any means the connection dropped.
NO_AUDIO_TIMEOUT_S = 3.0
# Streamlit-webrtc's own TURN credential variables (Twilio, Cloudflare, Hugging Face).
TURN_CREDENTIAL_VARIABLES = ("TWILIO_ACCOUNT_SID", "CLOUDFLARE_TURN_KEY_ID", "HF_TOKEN")
METER_FLOOR_DBFS = -70.0
# The component's own texts that a volunteer may see, in plain words (translated when shown).
TRANSLATIONS: dict[str, str] = {
    "start": N_("Start"),
    "stop": N_("Stop"),
    "media_api_not_available": N_("This browser does not let the page use a microphone."),
    "device_ask_permission": N_("Please allow the microphone when your browser asks."),
    "device_not_available": N_("No microphone was found. Plug one in, or use the simple recorder below."),
    "device_access_denied": N_("The microphone is blocked for this site: allow it in the site settings, then reload."),
    "select_device": N_("Choose a microphone"),
    "select_microphone": N_("Microphone"),
    "mute_microphone": N_("Mute the microphone"),
    "unmute_microphone": N_("Unmute the microphone"),
}
LOGGER = logging.getLogger(__name__)


@dataclass
class LiveState:
    """One browser session's live capture: kept in session state, gone with the session."""

    capture: SpeechCapture | None = None
    next_pts: int | None = None
    lost_samples: int = 0
    started_at: float | None = None  # when the server first saw the recorder connecting (time.monotonic)
    last_audio_at: float | None = None
    paused_until: float = 0.0  # audio before this is dropped (a replayed take plays from the speakers)


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
        translations=cast(Translations, {name: _(text) for name, text in TRANSLATIONS.items()}),
    )


def live_state() -> LiveState:
    """This session's LiveState (created on first use)."""
    if st.session_state.get(state.LIVE) is None:
        st.session_state[state.LIVE] = LiveState()
    return st.session_state[state.LIVE]


def pause_for(duration_s: float) -> None:
    """Drop the microphone's audio for ``duration_s`` from now (while a take is replayed aloud)."""
    live_state().paused_until = time.monotonic() + duration_s


def listen_ui(
    context: WebRtcStreamerContext,
    new_capture: Callable[[int], SpeechCapture],
    on_result: Callable[[CaptureResult], None],
    *,
    meter_label: str = "",
) -> None:
    """While the recorder connects or plays, poll it (a fragment rerunning by itself); otherwise say
    how to start. ``meter_label`` goes before the level meter's words (e.g. "Microphone level").

    Pressing START or STOP reruns the page, so an idle session costs the server nothing.
    """
    live = live_state()
    if context.state.playing or context.state.signalling:
        if live.started_at is None:
            live.started_at = time.monotonic()
        _poll_ui(context, new_capture, on_result, meter_label)
        return
    if live.started_at is not None and live.last_audio_at is None:  # the component gave up connecting
        _give_up("the connection ended before any audio arrived")
    st.session_state[state.LIVE] = LiveState()
    st.caption(_("Press START and allow the microphone. STOP pauses."))


def _give_up(reason: str) -> None:
    """Leave the live recorder for this session: the page shows ``fallback_ui`` instead."""
    LOGGER.info("live recorder given up: %s", reason)
    st.session_state[state.LIVE_FAILED] = True
    st.session_state[state.LIVE] = None
    st.rerun()


def fallback_ui() -> None:
    """In place of the live recorder once it failed: why, in plain words, and the way on."""
    st.warning(
        _(
            "The live recorder cannot reach the app from your network: no sound arrived within a few seconds. "
            "The simple recorder works on every network: you press it, say the word, and press stop."
        )
    )
    if st.button(_("Use the simple recorder"), type="primary", icon="🎙️"):
        choose_simple_recorder(True)
        st.rerun()
    if st.button(_("Try the live recorder again")):
        st.session_state[state.LIVE_FAILED] = False
        st.rerun()


@st.fragment(run_every=POLL_S)
def _poll_ui(
    context: WebRtcStreamerContext,
    new_capture: Callable[[int], SpeechCapture],
    on_result: Callable[[CaptureResult], None],
    meter_label: str,
) -> None:
    """Feed new audio to the capture, show the level, hand finished captures to ``on_result``;
    give up when no audio comes."""
    live = live_state()
    now = time.monotonic()
    if live.started_at is None or not (context.state.playing or context.state.signalling):
        return  # stopped between two polls: the page reruns and shows how to start
    frames = []
    if context.state.playing and context.audio_receiver is not None:
        try:
            frames = context.audio_receiver.get_frames(timeout=0.05)
        except queue.Empty:
            frames = []
    if live.last_audio_at is None and now - live.started_at > CONNECT_TIMEOUT_S:
        _give_up(f"no audio {CONNECT_TIMEOUT_S:g} s after START")
    if live.last_audio_at is not None and not frames and now - live.last_audio_at > NO_AUDIO_TIMEOUT_S:
        _give_up(f"audio stopped for {NO_AUDIO_TIMEOUT_S:g} s")
    if not frames:
        if live.capture is None:  # never claim to listen before audio flows
            st.caption(_("Connecting to your microphone…"))
        return
    samples, live.next_pts, lost = frames_to_mono(frames, live.next_pts)
    live.lost_samples += lost
    if lost:
        LOGGER.warning("live audio: %d samples lost between frames (%d in this session)", lost, live.lost_samples)
    live.last_audio_at = now
    if live.capture is None:
        live.capture = new_capture(frames[0].sample_rate)
    if now < live.paused_until:
        live.capture.restart()
        st.caption("⏸️ " + _("Paused while your take plays."))
        return
    results = live.capture.feed(samples)
    level = float(np.max(audio.frame_levels_dbfs(samples, live.capture.sample_rate))) if len(samples) else -120.0
    fraction = min(1.0, max(0.0, (level - METER_FLOOR_DBFS) / -METER_FLOOR_DBFS))
    status = "🔴 " + _("recording") if live.capture.speaking else "🎙️ " + _("listening…")
    meter = f"{meter_label}: {_(describe_level(level))} · {status}"
    st.progress(fraction, text=meter if meter_label else status)
    for result in results:
        on_result(result)

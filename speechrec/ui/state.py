"""Session state: the keys in one place, set up by ensure_defaults(). Only small values live here;
anything that must survive a reload is in the store."""

from __future__ import annotations

import uuid

import streamlit as st

from speechrec.errors import StoreError
from speechrec.store import ClipStore

SPEAKER_ID = "speaker_id"  # the volunteer of this browser session, None before consent
PARTICIPANT_CODE = "participant_code"  # shown to the volunteer; None when they came back by code
SESSION_ID = "session_id"  # one per browser session: takes are grouped by it
ATTEMPT = "attempt"  # bumped after each recording, so the recorder widget starts empty
NOTICE = "notice"  # (kind, text) to show once after a rerun: "success", "warning" or "error"
WITHDRAWING = "withdrawing"  # speaker id whose withdrawal waits for confirmation
MIC_OK = "mic_ok"  # the live microphone check passed in this session
SIMPLE_RECORDER = "simple_recorder"  # the volunteer chose st.audio_input over the live recorder
ORGANIZER = "organizer"  # True once an organizer signed in in this browser session
SIGN_IN_FAILURES = "sign_in_failures"  # wrong passwords in a row (each makes the next check wait longer)
REVIEW_DONE = "review_done"  # clip ids decided or skipped in this review session (not shown again)
LAST_DECISION = "last_decision"  # (clip id, ReviewState before the decision) for undo, or None
REVIEW_SEEN = "review_seen"  # (clip id, ReviewState as shown) to notice another organizer's decision
PREPARED_EXPORT = "prepared_export"  # (zip path, download name, ExportOptions, UTC build time), or None
LANGUAGE = "language"  # the volunteer pages' language (a code the campaign offers), None until negotiated
MODEL_CHECK_RUNNING = "model_check_running"  # this session saw a background model check running
LIVE = "live"  # the live capture (speechrec.ui.live.LiveState): the one larger value, a few seconds of audio


def ensure_defaults() -> None:
    """Give every key its starting value in a new browser session."""
    defaults: dict[str, object] = {
        SPEAKER_ID: None,
        PARTICIPANT_CODE: None,
        SESSION_ID: uuid.uuid4().hex,
        ATTEMPT: 0,
        NOTICE: None,
        WITHDRAWING: None,
        MIC_OK: False,
        SIMPLE_RECORDER: False,
        LIVE: None,
        LANGUAGE: None,
        ORGANIZER: False,
        REVIEW_DONE: [],
        LAST_DECISION: None,
        REVIEW_SEEN: None,
        SIGN_IN_FAILURES: 0,
        PREPARED_EXPORT: None,
        MODEL_CHECK_RUNNING: False,
    }
    for key, value in defaults.items():
        st.session_state.setdefault(key, value)


def show_notice() -> None:
    """Show the notice left by the previous run, once."""
    notice = st.session_state.get(NOTICE)
    if notice:
        kind, text = notice
        getattr(st, kind)(text)
        st.session_state[NOTICE] = None


def leave_notice(kind: str, text: str) -> None:
    """Keep a message for the next run (``kind``: success, warning or error)."""
    st.session_state[NOTICE] = (kind, text)


def current_speaker(store: ClipStore) -> tuple[str | None, int | None]:
    """This session's speaker id and the consent version they agreed to, or (None, None).

    A speaker who no longer exists (withdrawn in another tab) is forgotten here.
    """
    speaker_id = st.session_state[SPEAKER_ID]
    if speaker_id is None:
        return None, None
    try:
        return speaker_id, store.consent_version(speaker_id)
    except StoreError:
        forget_speaker()
        return None, None


def forget_speaker() -> None:
    """This browser session has no volunteer any more."""
    st.session_state[SPEAKER_ID] = None
    st.session_state[PARTICIPANT_CODE] = None

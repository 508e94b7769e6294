"""Session state: the keys in one place, set up by ensure_defaults(). Only small values live here;
anything that must survive a reload is in the store, or in the browser (speechrec.ui.browser's
cookies, the participant code in the address)."""

from __future__ import annotations

import uuid

import streamlit as st

from speechrec.ui.text import plain

SPEAKER_ID = "speaker_id"  # the volunteer of this browser session, None before consent
PARTICIPANT_CODE = "participant_code"  # the volunteer's code as shown (K7QM-2XPA-9DHT), None before consent
RESTORE_TRIED = "restore_tried"  # this session looked for its volunteer in the link and the cookie once
LINK_PROBLEM = "link_problem"  # why the link's ?code= found nobody (shown on the Welcome page), or None
RETURNED = "returned"  # "link" or "cookie" when the volunteer was found again at the start of this session
SESSION_ID = "session_id"  # one per browser session: takes are grouped by it
ATTEMPT = "attempt"  # bumped after each recording, so the recorder widget starts empty
NOTICE = "notice"  # (kind, text) to show once after a rerun: "success", "warning" or "error"
WITHDRAWING = "withdrawing"  # speaker id whose withdrawal waits for confirmation
MIC_OK = "mic_ok"  # the live microphone check passed in this session
SIMPLE_RECORDER = "simple_recorder"  # the volunteer chose st.audio_input over the live recorder
LIVE_FAILED = "live_failed"  # the live recorder got no audio in time: the volunteer is offered the simple one
LAST_TAKE = "last_take"  # (clip id, word) of the volunteer's latest stored take, for replay and redo
NOT_ME = "not_me"  # found again by the cookie alone: offer "not you?" (a shared device) until they record
ROUND = "round"  # the round the volunteer asked to record (another round after finishing one)
COOKIES = "cookies"  # {name: {"value", "max_age_s"} or None to delete}: what the browser should keep
BROWSER = "browser"  # what the browser said about its microphone (speechrec.microphone.BrowserReport), or None
ORGANIZER = "organizer"  # True once an organizer signed in in this browser session
ORGANIZER_TOKEN = "organizer_token"  # the signed token this session's sign-in holds (and its cookie), or None
REVIEW_DONE = "review_done"  # clip ids decided or skipped in this review session (not shown again)
LAST_DECISION = "last_decision"  # (clip id, ReviewState before the decision) for undo, or None
REVIEW_SEEN = "review_seen"  # (clip id, ReviewState as shown) to notice another organizer's decision
PREPARED_EXPORT = "prepared_export"  # (zip path, download name, ExportOptions, UTC build time), or None
LANGUAGE = "language"  # the volunteer pages' language (a code the campaign offers), None until negotiated
PAGE_LANGUAGE = "page_language"  # the language this run's page speaks (ui.language.show_in), None: English
MODEL_CHECK_RUNNING = "model_check_running"  # this session saw a background model check running
LIVE = "live"  # the live capture (speechrec.ui.live.LiveState): the one larger value, a few seconds of audio


def ensure_defaults() -> None:
    """Give every key its starting value in a new browser session."""
    defaults: dict[str, object] = {
        SPEAKER_ID: None,
        PARTICIPANT_CODE: None,
        RESTORE_TRIED: False,
        LINK_PROBLEM: None,
        RETURNED: None,
        SESSION_ID: uuid.uuid4().hex,
        ATTEMPT: 0,
        NOTICE: None,
        WITHDRAWING: None,
        MIC_OK: False,
        SIMPLE_RECORDER: False,
        LIVE_FAILED: False,
        LAST_TAKE: None,
        NOT_ME: False,
        ROUND: 1,
        COOKIES: {},
        BROWSER: None,
        LIVE: None,
        LANGUAGE: None,
        PAGE_LANGUAGE: None,
        ORGANIZER: False,
        ORGANIZER_TOKEN: None,
        REVIEW_DONE: [],
        LAST_DECISION: None,
        REVIEW_SEEN: None,
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
        getattr(st, kind)(plain(text))
        st.session_state[NOTICE] = None


def leave_notice(kind: str, text: str) -> None:
    """Keep a message for the next run (``kind``: success, warning or error); it is shown as plain text."""
    st.session_state[NOTICE] = (kind, text)

"""A volunteer's own takes on the Record page: replay or redo the last one with one tap, skip a
word they cannot say, and the list of their takes to replay or delete."""

from __future__ import annotations

import html
import logging

import streamlit as st

from speechrec.campaign import NOISE_KEYWORD
from speechrec.errors import StoreError
from speechrec.store import ClipStore
from speechrec.ui import live, state
from speechrec.ui.language import _, word_shown
from speechrec.ui.text import plain

# A replayed take plays from the speakers; the live capture also skips this much after it ends.
REPLAY_MARGIN_S = 0.5
TAKES_TOGGLE = "show_my_takes"
# The take list builds one player per take (each loads its audio): the newest this many are listed.
TAKES_LISTED = 50
LOGGER = logging.getLogger(__name__)


def prompt_ui(word: str, instruction: str | None) -> None:
    """The prompted word as the organizer wrote it, under the variation's instruction if there is one.

    ``dir='auto'`` lays each line out by its own letters, so a right-to-left word reads right.
    """
    if instruction:
        _centred_line(instruction, "font-size:1.3rem;margin:0")
    _centred_line(word, "font-size:4rem;font-weight:700;margin:0.3em 0")


def _centred_line(text: str, style: str) -> None:
    st.markdown(f"<p dir='auto' style='text-align:center;{style}'>{html.escape(text)}</p>", unsafe_allow_html=True)


def last_take_ui(store: ClipStore, live_recorder: bool) -> None:
    """The volunteer's latest stored take: ▶ Replay plays it, ↺ Redo deletes it so the word comes again.

    ``live_recorder``: the live recorder listens meanwhile, so it pauses while the take plays
    (the microphone would hear it and store it as the next word).
    """
    last = st.session_state[state.LAST_TAKE]
    if not last:
        return
    clip_id, word = last
    try:
        take = store.clip(clip_id)
    except StoreError:  # deleted from the list meanwhile
        st.session_state[state.LAST_TAKE] = None
        return
    label_column, replay_column, redo_column = st.columns([3, 2, 2], vertical_alignment="center")
    label_column.caption(plain(_("Your last take: “{word}”").format(word=word_shown(word))))
    if replay_column.button(_("Replay"), icon="▶️", width="stretch"):
        if live_recorder:
            live.pause_for(take.duration_s + REPLAY_MARGIN_S)
        st.audio(store.read_flac(take.audio_key), format="audio/flac", autoplay=True)
    if redo_column.button(_("Redo"), icon="↩️", width="stretch"):
        store.delete_clip(clip_id)
        st.session_state[state.LAST_TAKE] = None
        state.leave_notice("info", _("Your last take is deleted: say “{word}” again.").format(word=word_shown(word)))
        st.rerun()


def skip_ui(store: ClipStore, speaker_id: str, word: str) -> None:
    """A button to go past ``word`` without a take, worded for what is skipped ("Skip this word",
    or "Skip this step" for the room's noise, NOISE_KEYWORD): the skip is counted in the store
    (``ClipStore.add_skip``, so it holds after a reload), never stored as a take."""
    if word == NOISE_KEYWORD:
        label = _("Skip this step")
        explanation = _("If you cannot record your room now: nothing is recorded, and the words you recorded are kept.")
    else:
        label, explanation = _("Skip this word"), _("For a word you cannot say. Nothing is recorded for it.")
    if st.button(label, icon="⏭️", help=explanation):
        try:
            store.add_skip(speaker_id, word)
        except StoreError as error:
            LOGGER.error("a skip could not be counted: %s", error)
            state.leave_notice(
                "error", _("That did not work just now (the app's storage did not answer); please try again.")
            )
            st.rerun()
        LOGGER.info("speaker %s skipped %r", speaker_id, word)
        state.leave_notice("info", _("Skipped “{word}”.").format(word=word_shown(word)))
        st.rerun()


def takes_list_ui(store: ClipStore, speaker_id: str) -> None:
    """The volunteer's takes (all sessions), newest first, each to replay or delete: counted in SQL,
    the newest TAKES_LISTED read with a LIMIT and built only when asked for (the players load the
    audio), and still open after a delete."""
    count = store.clip_count(speaker_id=speaker_id)
    if not count or not st.toggle(_("Replay or delete my takes ({count})").format(count=count), key=TAKES_TOGGLE):
        return
    with st.container(border=True):
        if count > TAKES_LISTED:
            st.caption(_("The newest {listed} of your {count} takes.").format(listed=TAKES_LISTED, count=count))
        for take in store.latest_takes(speaker_id, limit=TAKES_LISTED):
            label = word_shown(take.keyword)
            word_column, audio_column, delete_column = st.columns([2, 5, 2], vertical_alignment="center")
            word_column.markdown(plain(label))
            audio_column.audio(store.read_flac(take.audio_key), format="audio/flac")
            if delete_column.button(_("Delete"), key=f"delete-{take.clip_id}"):
                store.delete_clip(take.clip_id)
                if (st.session_state[state.LAST_TAKE] or (None,))[0] == take.clip_id:
                    st.session_state[state.LAST_TAKE] = None
                state.leave_notice("success", _("Deleted your take of “{word}”.").format(word=label))
                st.rerun()

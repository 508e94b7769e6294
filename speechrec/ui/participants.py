"""Finding a volunteer by participant code and withdrawing them: for the volunteer and for organizers."""

from __future__ import annotations

import streamlit as st

from speechrec.store import ClipStore
from speechrec.ui import state
from speechrec.ui.language import _
from speechrec.ui.text import plain
from speechrec.ui.volunteer import forget_volunteer
from speechrec.withdrawal import withdraw_speaker


def find_speaker_ui(store: ClipStore, code: str) -> str | None:
    """The speaker id with this participant code, or None after a clear message on the page."""
    try:
        found = store.find_speaker(code)
    except (TypeError, ValueError):
        # The code as typed, between the language's own quotation marks (no repr(): its ASCII quotes
        # mixed with the translation's, and it doubled a typed backslash).
        malformed = _(
            "The participant code “{code}” is not valid: it has 12 letters and digits, like “K7QM-2XPA-9DHT”; "
            "check it for typos."
        )
        st.error(plain(malformed.format(code=code)))
        return None
    if found is None:
        st.error(_("No participant has this code. Check it for typos; codes look like K7QM-2XPA-9DHT."))
    return found


def confirm_withdrawal_ui(store: ClipStore, warning: str, button_label: str) -> int | None:
    """While a withdrawal waits (``state.WITHDRAWING``): the warning and a confirming button.

    Returns the number of clips deleted once confirmed, else None.
    """
    speaker_id = st.session_state[state.WITHDRAWING]
    if not speaker_id:
        return None
    st.warning(plain(warning))
    if not st.button(button_label, type="primary"):
        return None
    count = withdraw_speaker(store, speaker_id).clips
    if st.session_state[state.SPEAKER_ID] == speaker_id:
        forget_volunteer()
    st.session_state[state.WITHDRAWING] = None
    return count


def withdraw_speaker_ui(store: ClipStore) -> None:
    """Organizers: withdraw a volunteer who asked by e-mail or phone, by their participant code."""
    code = st.text_input("Participant code", placeholder="e.g. K7QM-2XPA-9DHT", key="organizer_withdraw_code")
    if st.button("Find this volunteer"):
        st.session_state[state.WITHDRAWING] = find_speaker_ui(store, code)
    speaker_id = st.session_state[state.WITHDRAWING]
    if not speaker_id:
        return
    clips = store.clip_count(speaker_id=speaker_id)
    count = confirm_withdrawal_ui(
        store,
        f"Speaker {speaker_id}: {clips} clips. Withdrawing deletes their audio and rows for good.",
        "Delete this volunteer's recordings",
    )
    if count is not None:
        state.leave_notice("success", f"Speaker {speaker_id} withdrawn: {count} clips deleted.")
        st.rerun()

"""Record: one prompted word at a time, then the room's background noise, then done."""

import html

import streamlit as st

from speechrec.prompts import build_schedule, progress
from speechrec.recording import keep_recording
from speechrec.store import NOISE_KEYWORD
from speechrec.ui import state
from speechrec.ui.resources import campaign_and_store_ui

RECORDING_RATE = 48000  # ask the browser for full-band audio, as WebRTC delivers it

campaign, store = campaign_and_store_ui()
speaker_id, agreed_version = state.current_speaker(store)
if speaker_id is None or agreed_version != campaign.consent_version:
    st.warning("Please start on the Welcome page: read the consent text and agree to it first.")
    st.page_link("pages/welcome.py", label="Go to the Welcome page", icon="👋")
    st.stop()

mine = store.clips(speaker_id=speaker_id)
stored_words = mine.loc[mine["keyword"] != NOISE_KEYWORD, "keyword"].value_counts().to_dict()
now = progress(build_schedule(campaign, speaker_id), stored_words)
needs_noise = campaign.background_noise_s > 0 and not (mine["keyword"] == NOISE_KEYWORD).any()
attempt = st.session_state[state.ATTEMPT]
fields = {
    "speaker_id": speaker_id,
    "session_id": st.session_state[state.SESSION_ID],
    "source": "audio_input",
    "consent_version": agreed_version,
}


def keep_ui(data: bytes, word: str) -> None:
    """Judge and store one recording, leave the verdict for the next run, and reset the recorder."""
    verdict = keep_recording(store, campaign, data, word=word, **fields)
    if verdict.stored:
        state.leave_notice("success", "Got it, thank you!")
    else:
        state.leave_notice("error", "That one did not work: " + "; ".join(verdict.problems) + ". Please try again.")
    st.session_state[state.ATTEMPT] += 1
    st.rerun()


if not now.finished:
    st.progress(now.fraction, text=f"{now.done} / {now.total}")
    state.show_notice()
    st.markdown(
        f"<p style='text-align:center;font-size:4rem;font-weight:700;margin:0.5em 0'>{html.escape(now.next_word)}</p>",
        unsafe_allow_html=True,
    )
    recording = st.audio_input(
        "Press the microphone, say the word once, then press stop", key=f"take-{attempt}", sample_rate=RECORDING_RATE
    )
    if recording is not None:
        keep_ui(recording.getvalue(), now.next_word)
elif needs_noise:
    st.subheader("Last step: the sound of your room")
    state.show_notice()
    st.write(
        f"Please record about {campaign.background_noise_s:g} seconds of your room as it normally sounds, "
        "without speaking. It helps models ignore background noise."
    )
    recording = st.audio_input("Record the room", key=f"noise-{attempt}", sample_rate=RECORDING_RATE)
    if recording is not None:
        keep_ui(recording.getvalue(), NOISE_KEYWORD)
else:
    state.show_notice()
    st.subheader("All done. Thank you!")
    st.write(f"You recorded {len(mine)} clips for this dataset.")
    code = st.session_state[state.PARTICIPANT_CODE]
    if code:
        st.info(f"Your participant code is **{code}**: keep it to withdraw your recordings later.")

session_takes = mine[mine["session_id"] == fields["session_id"]].iloc[::-1]
if len(session_takes):
    with st.expander(f"Your takes in this session ({len(session_takes)})"):
        for take in session_takes.itertuples():
            label = "room noise" if take.keyword == NOISE_KEYWORD else take.keyword
            word_column, audio_column, delete_column = st.columns([2, 5, 2], vertical_alignment="center")
            word_column.write(label)
            audio_column.audio(store.read_flac(take.audio_key), format="audio/flac")
            if delete_column.button("Delete", key=f"delete-{take.clip_id}"):
                store.delete_clip(take.clip_id)
                state.leave_notice("success", f"Deleted your take of {label}.")
                st.rerun()

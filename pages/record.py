"""Record: a microphone check, one prompted word at a time, the room's background noise, then done."""

import html
from functools import partial

import streamlit as st

from speechrec.campaign import NOISE_KEYWORD
from speechrec.capture import CaptureResult, Outcome
from speechrec.review import word_label
from speechrec.takes import keep_capture, keep_upload, mic_check_passed, new_capture, volunteer_progress
from speechrec.ui import live, state
from speechrec.ui.resources import campaign_and_store_ui

RECORDING_RATE = 48000  # ask the browser for full-band audio, as WebRTC delivers it

campaign, store = campaign_and_store_ui()
speaker_id, agreed_version = state.current_speaker(store)
if speaker_id is None or agreed_version != campaign.consent_version:
    st.warning("Please start on the Welcome page: read the consent text and agree to it first.")
    st.page_link("pages/welcome.py", label="Go to the Welcome page", icon="👋")
    st.stop()

volunteer = volunteer_progress(store, campaign, speaker_id)
now = volunteer.progress
attempt = st.session_state[state.ATTEMPT]
session_id = st.session_state[state.SESSION_ID]


def after_take_ui(stored: bool, problems: tuple[str, ...]) -> None:
    """Leave the verdict for the next run, reset the recorder, and rerun the page."""
    if stored:
        state.leave_notice("success", "Got it, thank you!")
    else:
        state.leave_notice("error", "That one did not work: " + "; ".join(problems) + ". Please try again.")
    st.session_state[state.ATTEMPT] += 1
    st.rerun()


def uploaded_ui(data: bytes, keyword: str) -> None:
    """The simple recorder's path: one recording per prompt."""
    verdict = keep_upload(
        store,
        campaign,
        data,
        keyword=keyword,
        speaker_id=speaker_id,
        session_id=session_id,
        source="audio_input",
        consent_version=agreed_version,
        variation=now.next_variation if keyword == now.next_word else None,
    )
    after_take_ui(verdict.stored, verdict.problems)


def mic_check_ui(result: CaptureResult) -> None:
    """The live microphone check passes on speech at a usable level."""
    if mic_check_passed(result):
        st.session_state[state.MIC_OK] = True
        state.leave_notice("success", "Your microphone works. Here comes the first word.")
    else:
        state.leave_notice(
            "warning", "We could not hear you well yet: speak a little louder or closer, and say anything."
        )
    st.rerun()


def live_take_ui(result: CaptureResult) -> None:
    """A live take of the prompted word: judged and stored like every other take."""
    if result.outcome is Outcome.NOTHING_HEARD:
        state.leave_notice("warning", f"Nothing was heard yet: say “{now.next_word}” when you are ready.")
        st.rerun()
    verdict = keep_capture(
        store,
        campaign,
        result,
        keyword=now.next_word,
        speaker_id=speaker_id,
        session_id=session_id,
        source="webrtc",
        consent_version=agreed_version,
        variation=now.next_variation,
    )
    after_take_ui(verdict.stored, verdict.problems)


if not now.finished:
    st.progress(now.fraction, text=f"{now.done} / {now.total}")
    state.show_notice()
    simple = st.session_state[state.SIMPLE_RECORDER]
    if not simple and not st.session_state[state.MIC_OK]:
        st.subheader("First, a microphone check")
        st.write("Press START, allow the microphone, then say anything, e.g. your favourite colour.")
        context = live.recorder_ui()
        live.listen_ui(context, partial(new_capture, campaign), mic_check_ui)
    else:
        if now.next_variation:
            st.markdown(
                f"<p style='text-align:center;font-size:1.3rem;margin:0'>"
                f"{html.escape(campaign.variation(now.next_variation).instruction)}</p>",
                unsafe_allow_html=True,
            )
        st.markdown(
            f"<p style='text-align:center;font-size:4rem;font-weight:700;margin:0.3em 0'>"
            f"{html.escape(now.next_word)}</p>",
            unsafe_allow_html=True,
        )
        if simple:
            recording = st.audio_input(
                "Press the microphone, say the word once, then press stop",
                key=f"take-{attempt}",
                sample_rate=RECORDING_RATE,
            )
            if recording is not None:
                uploaded_ui(recording.getvalue(), now.next_word)
        else:
            context = live.recorder_ui()
            st.caption("Say the word when you are ready; the next one appears by itself.")
            live.listen_ui(context, partial(new_capture, campaign), live_take_ui)
    st.toggle("Use the simple recorder (if the live one does not work on your network)", key=state.SIMPLE_RECORDER)
elif volunteer.needs_noise:
    st.subheader("Last step: the sound of your room")
    state.show_notice()
    st.write(
        f"Please record about {campaign.background_noise_s:g} seconds of your room as it normally sounds, "
        "without speaking. It helps models ignore background noise."
    )
    recording = st.audio_input("Record the room", key=f"noise-{attempt}", sample_rate=RECORDING_RATE)
    if recording is not None:
        uploaded_ui(recording.getvalue(), NOISE_KEYWORD)
else:
    state.show_notice()
    st.subheader("All done. Thank you!")
    st.write(f"You recorded {volunteer.clips} clips for this dataset.")
    code = st.session_state[state.PARTICIPANT_CODE]
    if code:
        st.info(f"Your participant code is **{code}**: keep it to withdraw your recordings later.")

session_count = store.clip_count(speaker_id=speaker_id, session_id=session_id)
# The players load every take's audio, so they are only built when the volunteer asks for them.
if session_count and st.toggle(f"Replay or delete my takes of this session ({session_count})"):
    with st.container(border=True):
        for take in store.clips(speaker_id=speaker_id, session_id=session_id).iloc[::-1].itertuples():
            label = word_label(take.keyword)
            word_column, audio_column, delete_column = st.columns([2, 5, 2], vertical_alignment="center")
            word_column.write(label)
            audio_column.audio(store.read_flac(take.audio_key), format="audio/flac")
            if delete_column.button("Delete", key=f"delete-{take.clip_id}"):
                store.delete_clip(take.clip_id)
                state.leave_notice("success", f"Deleted your take of {label}.")
                st.rerun()

"""Record: a microphone check, one prompted word at a time (replay, redo or skip each), the room's
background noise, then done, with the code and the way to another round."""

from functools import partial

import streamlit as st

from speechrec.campaign import NOISE_KEYWORD
from speechrec.capture import CaptureResult, Outcome
from speechrec.microphone import microphone_problem
from speechrec.takes import TakeVerdict, keep_capture, keep_upload, mic_check_passed, new_capture, volunteer_progress
from speechrec.ui import live, state
from speechrec.ui.language import _, isolated, language_picker_ui, ngettext, page_language
from speechrec.ui.resources import campaign_and_store_ui
from speechrec.ui.room import room_recorder_ui
from speechrec.ui.takes import last_take_ui, prompt_ui, skip_ui, takes_list_ui
from speechrec.ui.volunteer import current_volunteer, not_me_ui, participant_code_ui, simple_recorder_toggle_ui

RECORDING_RATE = 48000  # ask the browser for full-band audio, as WebRTC delivers it

campaign, store = campaign_and_store_ui()
language_picker_ui(campaign)
language = page_language()
speaker_id, agreed_version = current_volunteer(store)
if speaker_id is None or agreed_version != campaign.consent_version:
    st.warning(_("Please start on the Welcome page: read the consent text and agree to it first."))
    st.page_link("pages/welcome.py", label=_("Go to the Welcome page"), icon="👋")
    st.stop()
problem = microphone_problem(st.context.url, st.session_state[state.BROWSER])
if problem:
    st.error(_(problem), icon="🎙️")
    st.stop()

volunteer = volunteer_progress(
    store, campaign, speaker_id, skipped=store.skips(speaker_id), wanted_round=st.session_state[state.ROUND]
)
now = volunteer.progress
attempt = st.session_state[state.ATTEMPT]
session_id = st.session_state[state.SESSION_ID]


def after_take_ui(verdict: TakeVerdict, word: str) -> None:
    """Leave the verdict for the next run, reset the recorder, and rerun the page."""
    if verdict.stored:
        st.session_state[state.LAST_TAKE] = (verdict.clip_id, word)
        st.session_state[state.NOT_ME] = False
        state.leave_notice("success", _("Got it, thank you!"))
    else:
        problems = "; ".join(verdict.problems)
        state.leave_notice("error", _("That one did not work: {problems}. Please try again.").format(problems=problems))
    st.session_state[state.ATTEMPT] += 1
    st.rerun()


def uploaded_ui(data: bytes, keyword: str, raw: bool | None) -> None:
    """The simple and the room recorders' path: one recording per prompt."""
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
        raw=raw,
        translate=_,
    )
    after_take_ui(verdict, keyword)


def mic_check_ui(result: CaptureResult) -> None:
    """The live microphone check passes on speech at a usable level."""
    if mic_check_passed(result):
        st.session_state[state.MIC_OK] = True
        state.leave_notice("success", _("Your microphone works. Here comes the first word."))
    else:
        state.leave_notice(
            "warning", _("We could not hear you well yet: speak a little louder or closer, and say anything.")
        )
    st.rerun()


def live_take_ui(result: CaptureResult) -> None:
    """A live take of the prompted word: judged and stored like every other take."""
    if result.outcome is Outcome.NOTHING_HEARD:
        word = isolated(now.next_word)
        state.leave_notice("warning", _("Nothing was heard yet: say “{word}” when you are ready.").format(word=word))
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
        translate=_,
    )
    after_take_ui(verdict, now.next_word)


not_me_ui()
if not now.finished:
    status = [f"{now.done} / {now.total}"]
    if now.skipped:
        status.append(_("{count} skipped").format(count=now.skipped))
    if volunteer.round > 1:
        status.append(_("round {round} of {rounds}").format(round=volunteer.round, rounds=campaign.rounds))
    st.progress(now.fraction, text=" · ".join(status))
    state.show_notice()
    simple = st.session_state[state.SIMPLE_RECORDER]
    last_take_ui(store, live_recorder=not simple)
    if not simple and st.session_state[state.LIVE_FAILED]:
        live.fallback_ui()
    elif not simple and not st.session_state[state.MIC_OK]:
        st.subheader(_("First, a microphone check"))
        st.write(_("Press START, allow the microphone, then say anything, e.g. your favourite colour."))
        context = live.recorder_ui()
        live.listen_ui(context, partial(new_capture, campaign), mic_check_ui, meter_label=_("Microphone level"))
    else:
        instructions = campaign.texts(language).instructions  # in the volunteer's language where it gives one
        prompt_ui(now.next_word, instructions[now.next_variation] if now.next_variation else None)
        if simple:
            recording = st.audio_input(
                _("Press the microphone, say the word once, then press stop"),
                key=f"take-{attempt}",
                sample_rate=RECORDING_RATE,
            )
            if recording is not None:
                # st.audio_input asks the browser for plain audio: its processing stays on (see README)
                uploaded_ui(recording.getvalue(), now.next_word, raw=False)
        else:
            context = live.recorder_ui()
            st.caption(_("Say the word when you are ready; the next one appears by itself."))
            live.listen_ui(context, partial(new_capture, campaign), live_take_ui, meter_label=_("Level"))
        skip_ui(store, speaker_id, now.next_word)
    simple_recorder_toggle_ui()
elif volunteer.needs_noise:
    st.subheader(_("Last step: the sound of your room"))
    state.show_notice()
    st.write(
        _(
            "Please record {seconds} seconds of your room as it normally sounds, without speaking: press the "
            "button and stay quiet until the countdown ends. It helps models ignore background noise."
        ).format(seconds=f"{campaign.background_noise_s:g}")
    )
    room = room_recorder_ui(campaign.background_noise_s, key=f"room-{attempt}")
    if room is not None:
        uploaded_ui(room.wav, NOISE_KEYWORD, raw=room.raw)
    skip_ui(store, speaker_id, NOISE_KEYWORD)
else:
    state.show_notice()
    st.subheader(_("All done. Thank you!"))
    recorded = ngettext(
        "You recorded {count} clip for this dataset.", "You recorded {count} clips for this dataset.", volunteer.clips
    )
    st.write(recorded.format(count=volunteer.clips))
    participant_code_ui(
        st.session_state[state.PARTICIPANT_CODE],
        _("Your participant code: keep it (or the link) to continue later or to withdraw your recordings."),
    )
    if volunteer.more_rounds and st.button(_("Record another round"), type="primary", icon="🔁"):
        st.session_state[state.ROUND] = volunteer.round + 1
        st.rerun()

takes_list_ui(store, speaker_id)

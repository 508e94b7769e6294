"""Welcome: what the campaign is, what keeps the microphone from working, the consent to agree to,
and coming back with a participant code."""

import streamlit as st

from speechrec.microphone import microphone_problem
from speechrec.ui import state
from speechrec.ui.auth import SIGN_IN_PARAMETER, go_where_the_organizer_was_going, sign_in_ui, signed_in
from speechrec.ui.language import _, language_picker_ui, ngettext, page_language
from speechrec.ui.participants import confirm_withdrawal_ui, find_speaker_ui
from speechrec.ui.resources import campaign_and_store_ui
from speechrec.ui.text import plain
from speechrec.ui.volunteer import (
    CODE_EXAMPLE,
    CODE_PARAMETER,
    current_volunteer,
    participant_code_ui,
    remember_volunteer,
)

campaign, store = campaign_and_store_ui()
if SIGN_IN_PARAMETER in st.query_params:
    if signed_in():
        go_where_the_organizer_was_going()
    sign_in_ui(store)
    st.stop()
language_picker_ui(campaign)
language = page_language()
texts = campaign.texts(language)
st.title(plain(texts.title))
st.write(texts.description)
state.show_notice()

speaker_id, agreed_version = current_volunteer(store)
if speaker_id is None or agreed_version != campaign.consent_version:
    if st.session_state[state.LINK_PROBLEM]:
        st.error(_(st.session_state[state.LINK_PROBLEM]))
    problem = microphone_problem(st.context.url, st.session_state[state.BROWSER])
    if problem:  # before any consent: nobody agrees to record on a page that cannot record
        st.error(_(problem), icon="🎙️")
    else:
        st.subheader(_("Before you start"))
        if speaker_id is not None:
            st.info(_("The consent text has changed since you agreed. Please read it and agree again to go on."))
        with st.container(border=True):
            st.markdown(texts.consent_text)
            version = _("Consent version {version} · licence {licence}")
            st.caption(plain(version.format(version=campaign.consent_version, licence=campaign.licence)))
        agreed = st.checkbox(_("I have read this and I agree"))
        if st.button(_("Start"), type="primary", disabled=not agreed):  # the consent read in this language is kept
            if speaker_id is None:
                speaker = store.create_speaker(campaign.consent_version, language)
                remember_volunteer(speaker.speaker_id, speaker.participant_code)
            else:
                store.record_consent(speaker_id, campaign.consent_version, language)
            st.rerun()
else:
    if st.session_state[state.RETURNED]:  # found again by link, cookie or typed code: straight to recording
        st.session_state[state.RETURNED] = None
        state.leave_notice("success", _("Welcome back! You continue where you left off."))
        st.switch_page("pages/record.py")
    participant_code_ui(
        st.session_state[state.PARTICIPANT_CODE],
        _(
            "Your participant code is below. Write it down or keep the link: with it you can continue later or withdraw."
        ),
    )
    st.page_link("pages/record.py", label=_("Go to recording"), icon="🎙️")

st.divider()
with st.expander(
    _("Took part before? Continue or withdraw with your participant code"),
    expanded=bool(st.session_state[state.LINK_PROBLEM]),
):
    typed = st.text_input(
        _("Participant code"),
        value=st.query_params.get(CODE_PARAMETER, ""),
        placeholder=_("e.g. {code}").format(code=CODE_EXAMPLE),
    )
    continue_clicked = st.button(_("Continue with this code"))
    withdraw_clicked = st.button(_("Withdraw: delete all my recordings"))
    if continue_clicked or withdraw_clicked:
        found = find_speaker_ui(store, typed)
        if found and continue_clicked:
            remember_volunteer(found, typed)
            st.session_state[state.RETURNED] = "code"
            st.rerun()
        if found and withdraw_clicked:
            st.session_state[state.WITHDRAWING] = found
    count = confirm_withdrawal_ui(
        store,
        _("This deletes every recording you gave, for good. It cannot be undone."),
        _("Yes, delete my recordings"),
    )
    if count is not None:
        done = ngettext(
            "Done: {count} recording and your participant record were deleted.",
            "Done: {count} recordings and your participant record were deleted.",
            count,
        )
        state.leave_notice("success", done.format(count=count))
        st.rerun()

"""Welcome: what the campaign is, the consent to agree to, and coming back with a participant code."""

import streamlit as st

from speechrec.ui import state
from speechrec.ui.auth import SIGN_IN_PARAMETER, sign_in_ui, signed_in
from speechrec.ui.participants import confirm_withdrawal_ui, find_speaker_ui
from speechrec.ui.resources import campaign_and_store_ui
from speechrec.ui.text import plain

campaign, store = campaign_and_store_ui()
if SIGN_IN_PARAMETER in st.query_params and not signed_in():
    sign_in_ui()
    st.stop()
st.title(plain(campaign.title))
st.write(campaign.description)
state.show_notice()

speaker_id, agreed_version = state.current_speaker(store)
if speaker_id is None or agreed_version != campaign.consent_version:
    st.subheader("Before you start")
    if speaker_id is not None:
        st.info("The consent text has changed since you agreed. Please read it and agree again to go on.")
    with st.container(border=True):
        st.markdown(campaign.consent_text)
        st.caption(plain(f"Consent version {campaign.consent_version} · licence {campaign.licence}"))
    agreed = st.checkbox("I have read this and I agree")
    if st.button("Start", type="primary", disabled=not agreed):
        if speaker_id is None:
            speaker = store.create_speaker(campaign.consent_version)
            st.session_state[state.SPEAKER_ID] = speaker.speaker_id
            st.session_state[state.PARTICIPANT_CODE] = speaker.participant_code
        else:
            store.record_consent(speaker_id, campaign.consent_version)
        st.rerun()
else:
    code = st.session_state[state.PARTICIPANT_CODE]
    if code:
        st.success(f"Your participant code is **{code}**. Write it down: with it you can continue later or withdraw.")
    st.page_link("pages/record.py", label="Go to recording", icon="🎙️")

st.divider()
with st.expander(
    "Took part before? Continue or withdraw with your participant code", expanded="code" in st.query_params
):
    typed = st.text_input("Participant code", value=st.query_params.get("code", ""), placeholder="e.g. K7QM-2XPA-9DHT")
    continue_clicked = st.button("Continue with this code")
    withdraw_clicked = st.button("Withdraw: delete all my recordings")
    if continue_clicked or withdraw_clicked:
        found = find_speaker_ui(store, typed)
        if found and continue_clicked:
            st.session_state[state.SPEAKER_ID] = found
            st.session_state[state.PARTICIPANT_CODE] = None
            state.leave_notice("success", "Welcome back! You continue where you left off.")
            st.rerun()
        if found and withdraw_clicked:
            st.session_state[state.WITHDRAWING] = found
    count = confirm_withdrawal_ui(
        store, "This deletes every recording you gave, for good. It cannot be undone.", "Yes, delete my recordings"
    )
    if count is not None:
        state.leave_notice("success", f"Done: {count} recordings and your participant record were deleted.")
        st.rerun()

"""Campaign (organizers): edit what volunteers are asked to say and agree to; saved in the store."""

import streamlit as st

from speechrec.campaign import parse_word_list, revise_campaign
from speechrec.errors import SpeechrecError
from speechrec.ui import state
from speechrec.ui.auth import require_organizer
from speechrec.ui.resources import campaign_and_store_ui

require_organizer("campaign")
campaign, store = campaign_and_store_ui()
st.title("Campaign")
state.show_notice()
if store.saved_campaign() is None:
    st.caption("In force: the campaign file. Once you save here, the campaign lives in the database for every app.")
else:
    st.caption("In force: the campaign saved here (the campaign file is no longer read).")

with st.form("campaign"):
    title = st.text_input("Title", campaign.title)
    description = st.text_area("Description (shown on the welcome page)", campaign.description)
    keywords = st.text_area("Keywords to collect (one per line or comma-separated)", "\n".join(campaign.keywords))
    filler_words = st.text_area(
        "Filler words, recorded once each for an \\_unknown\\_ class (optional)", "\n".join(campaign.filler_words)
    )
    takes_column, rounds_column, target_column = st.columns(3)
    takes = takes_column.number_input("Takes per keyword", 1, 100, campaign.takes_per_keyword)
    rounds = rounds_column.number_input(
        "Rounds per volunteer", 1, 20, campaign.rounds, help="After a round a volunteer may record another."
    )
    target = target_column.number_input("Target clips per keyword", 1, None, campaign.target_per_keyword)
    length_column, noise_column = st.columns(2)
    clip_duration_s = length_column.number_input(
        "Clip length in the dataset (s)", 0.1, 10.0, float(campaign.clip_duration_s), step=0.1
    )
    noise_s = noise_column.number_input(
        "Room noise to ask each volunteer for (s, 0 for none)", 0.0, 600.0, float(campaign.background_noise_s)
    )
    consent_text = st.text_area(
        f"Consent text (version {campaign.consent_version}; changing it asks every volunteer to agree again)",
        campaign.consent_text,
        height=200,
    )
    licence = st.text_input("Licence of the dataset", campaign.licence)
    saved = st.form_submit_button("Save", type="primary")

if saved:
    changes = {
        "title": title,
        "description": description,
        "keywords": parse_word_list(keywords),
        "filler_words": parse_word_list(filler_words),
        "takes_per_keyword": int(takes),
        "rounds": int(rounds),
        "target_per_keyword": int(target),
        "clip_duration_s": float(clip_duration_s),
        "background_noise_s": float(noise_s),
        "consent_text": consent_text,
        "licence": licence,
    }
    try:
        revised = revise_campaign(campaign, changes)
        store.save_campaign(revised)
    except (SpeechrecError, TypeError) as error:
        st.error(f"Not saved: {error}")
    else:
        message = "Saved."
        if revised.consent_version != campaign.consent_version:
            message += f" The consent text is now version {revised.consent_version}: volunteers will be asked again."
        state.leave_notice("success", message)
        st.rerun()

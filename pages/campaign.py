"""Campaign (organizers): edit what volunteers are asked to say and agree to; saved in the store."""

import streamlit as st

from speechrec.campaign import (
    Variation,
    campaign_warnings,
    format_near_misses,
    format_variations,
    parse_near_misses,
    parse_variations,
    parse_word_list,
    revise_campaign,
    texts_to_edit,
    translation_from_text,
)
from speechrec.errors import SpeechrecError
from speechrec.near_misses import propose_for_campaign
from speechrec.ui import state
from speechrec.ui.auth import require_organizer
from speechrec.ui.campaign_languages import language_label, languages_ui, translations_ui
from speechrec.ui.resources import campaign_and_store_ui
from speechrec.ui.text import plain

require_organizer("campaign")
campaign, store = campaign_and_store_ui()
st.title("Campaign")
state.show_notice()
if store.saved_campaign() is None:
    st.caption("In force: the campaign file. Once you save here, the campaign lives in the database for every app.")
else:
    st.caption("In force: the campaign saved here (the campaign file is no longer read).")
for warning in campaign_warnings(campaign):
    st.warning(warning, icon="⚠️")

KEYWORDS, FILLER_WORDS, NEAR_MISSES = "campaign_keywords", "campaign_filler_words", "campaign_near_misses"
# These fields have keys: the proposal below writes into the near-miss field before it is drawn.
st.session_state.setdefault(KEYWORDS, "\n".join(campaign.keywords))
st.session_state.setdefault(FILLER_WORDS, "\n".join(campaign.filler_words))
st.session_state.setdefault(NEAR_MISSES, format_near_misses(campaign.near_misses))


def propose_near_misses_ui() -> None:
    """Add the parts of every multi-word keyword (as typed in the form) to the near-miss field."""
    try:
        keywords = parse_word_list(st.session_state[KEYWORDS])
        listed = parse_near_misses(st.session_state[NEAR_MISSES])
    except SpeechrecError as error:
        state.leave_notice("error", f"Nothing proposed: {error}")
        return
    fillers = parse_word_list(st.session_state[FILLER_WORDS])
    proposed = propose_for_campaign(keywords, listed, fillers, campaign.languages[0])
    if proposed == listed:
        state.leave_notice(
            "info", "Nothing new to propose: near misses are proposed for keywords of two or more words."
        )
    else:
        st.session_state[NEAR_MISSES] = format_near_misses(proposed)
        state.leave_notice("info", "Near misses proposed below: check them, edit them, then save.")


languages = languages_ui(campaign)
texts = texts_to_edit(campaign, languages)  # each language's texts, wherever it moved: none is lost
own = texts[languages[0]]
if languages[0] not in campaign.languages:
    st.info(
        f"{language_label(languages[0])} is new to this campaign: type its texts in the main fields below. "
        "The texts of the other languages are kept under their own headings."
    )
with st.form("campaign"):
    title = st.text_input("Title", own.title)
    description = st.text_area("Description (shown on the welcome page)", own.description)
    keywords = st.text_area("Keywords to collect (one per line or comma-separated)", key=KEYWORDS)
    filler_words = st.text_area(
        "Filler words, recorded once each for an \\_unknown\\_ class (optional)", key=FILLER_WORDS
    )
    near_misses = st.text_area(
        "Near-miss phrases, recorded once each as hard negatives: one line per keyword, "
        "e.g. `hey jarvis: hey, jarvis, hey jar` (optional)",
        key=NEAR_MISSES,
    )
    st.form_submit_button("Propose near misses from the keywords' parts", on_click=propose_near_misses_ui)
    variations = st.text_area(
        "Variations of the keywords' takes: one per line as `name: instruction shown above the word`, "
        "e.g. `soft: Say it softly, as if someone sleeps nearby.` (optional)",
        format_variations(tuple(Variation(item.name, own.instructions[item.name]) for item in campaign.variations)),
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
        own.consent_text,
        height=200,
    )
    licence = st.text_input("Licence of the dataset", campaign.licence)
    translated = translations_ui(texts, languages[1:])
    saved = st.form_submit_button("Save", type="primary")

if saved:
    try:
        changes = {
            "title": title,
            "description": description,
            "keywords": parse_word_list(keywords),
            "filler_words": parse_word_list(filler_words),
            "near_misses": parse_near_misses(near_misses),
            "variations": parse_variations(variations),
            "takes_per_keyword": int(takes),
            "rounds": int(rounds),
            "target_per_keyword": int(target),
            "clip_duration_s": float(clip_duration_s),
            "background_noise_s": float(noise_s),
            "consent_text": consent_text,
            "licence": licence,
            "languages": languages,
            "translations": {language: translation_from_text(*given) for language, given in translated.items()},
        }
        revised = revise_campaign(campaign, changes)
        store.save_campaign(revised)
    except (SpeechrecError, TypeError) as error:
        st.error(plain(f"Not saved: {error}"))
    else:
        message = "Saved."
        removed = [language_label(language) for language in campaign.languages if language not in revised.languages]
        if removed:
            message += f" No longer offered, with their texts: {', '.join(removed)}."
        if revised.consent_version != campaign.consent_version:
            message += f" The consent text is now version {revised.consent_version}: volunteers will be asked again."
        state.leave_notice("success", message)
        st.rerun()

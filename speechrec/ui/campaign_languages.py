"""The Campaign page's languages: which ones the volunteer pages offer, which is the campaign's own
(its texts in the main fields), and the campaign's texts in each further language."""

from __future__ import annotations

import streamlit as st

from speechrec.campaign import Campaign, CampaignTexts, Variation, format_variations
from speechrec.i18n import available_languages, language_name

OWN, FURTHER = "campaign_own_language", "campaign_further_languages"
# The own language of the previous run: when the organizer picks another, the former one moves
# to the further languages, and its texts with it.
OWN_BEFORE = "campaign_own_language_before"


def language_label(language: str) -> str:
    """A language as organizers pick it: its name in itself and its code, "Deutsch (de)"."""
    return f"{language_name(language)} ({language})"


def languages_ui(campaign: Campaign) -> tuple[str, ...]:
    """The languages to offer, the campaign's own first: chosen outside the form, so that the
    form shows each language's texts at once. Picking another own language keeps the former one
    offered (as a further language, with its texts; ``campaign.texts_to_edit``): taking a
    language away is a separate, deliberate step."""
    shipped = list(dict.fromkeys([*campaign.languages, *available_languages()]))
    st.session_state.setdefault(OWN, campaign.languages[0])
    st.session_state.setdefault(FURTHER, list(campaign.languages[1:]))
    st.session_state.setdefault(OWN_BEFORE, st.session_state[OWN])
    own_column, further_column = st.columns([1, 2])
    own = own_column.selectbox(
        "Language of the campaign's own texts (the main fields below)",
        shipped,
        format_func=language_label,
        key=OWN,
        on_change=_keep_former_own_language,
        help="Volunteers whose browser asks for none of the offered languages see this one. Picking another "
        "moves the texts: the main fields show that language's, and the former own language's stay under "
        "its own heading. Pick the languages before editing the texts (unsaved edits are redrawn).",
    )
    further = further_column.multiselect(
        "Further languages volunteers may choose",
        [language for language in shipped if language != own],
        format_func=language_label,
        key=FURTHER,
    )
    st.session_state[OWN_BEFORE] = own
    return (own, *further)


def _keep_former_own_language() -> None:
    """On picking another own language: the former one becomes the first further language (with
    its texts), the new one leaves the further languages."""
    own, before = st.session_state[OWN], st.session_state[OWN_BEFORE]
    further = [before, *st.session_state[FURTHER]] if before != own else st.session_state[FURTHER]
    st.session_state[FURTHER] = [language for language in dict.fromkeys(further) if language != own]


def translations_ui(texts: dict[str, CampaignTexts], further: tuple[str, ...]) -> dict[str, tuple[str, str, str, str]]:
    """Inside the form: title, description, consent text and variation instructions (as
    ``name: instruction`` lines) typed for each further language, starting from ``texts`` (see
    ``campaign.texts_to_edit``), as typed; read them with ``campaign.translation_from_text``."""
    typed = {}
    for language in further:
        given = texts[language]
        lines = format_variations(tuple(Variation(name, text) for name, text in given.instructions.items()))
        with st.expander(f"Texts in {language_label(language)}", expanded=not given.consent_text):
            typed[language] = (
                st.text_input(f"Title ({language}; empty: the title above)", given.title),
                st.text_area(f"Description ({language}; empty: the description above)", given.description),
                st.text_area(f"Consent text ({language}, required)", given.consent_text, height=200),
                st.text_area(f"Variation instructions ({language}): `name: instruction` per line", lines),
            )
    return typed

"""The Campaign page's languages: which ones the volunteer pages offer, and the campaign's texts
in each further language."""

from __future__ import annotations

import streamlit as st

from speechrec.campaign import Campaign, CampaignTexts, Variation, format_variations
from speechrec.i18n import available_languages, language_name


def language_label(language: str) -> str:
    """A language as organizers pick it: its name in itself and its code, "Deutsch (de)"."""
    return f"{language_name(language)} ({language})"


def languages_ui(campaign: Campaign) -> tuple[str, ...]:
    """The languages to offer, the campaign's own first: chosen outside the form, so that the
    form shows the text fields of each further language at once."""
    shipped = list(dict.fromkeys([*campaign.languages, *available_languages()]))
    own_column, further_column = st.columns([1, 2])
    own = own_column.selectbox(
        "Language of the texts below", shipped, format_func=language_label, key="campaign_own_language"
    )
    further = further_column.multiselect(
        "Further languages volunteers may choose",
        [language for language in shipped if language != own],
        default=[language for language in campaign.languages[1:] if language != own],
        format_func=language_label,
        key="campaign_further_languages",
    )
    return (own, *further)


def translations_ui(campaign: Campaign, further: tuple[str, ...]) -> dict[str, tuple[str, str, str, str]]:
    """Inside the form: title, description, consent text and variation instructions (as
    ``name: instruction`` lines) typed for each further language, as typed; read them with
    ``campaign.translation_from_text``."""
    typed = {}
    for language in further:
        texts = campaign.translations.get(language) or CampaignTexts(consent_text="")
        lines = format_variations(tuple(Variation(name, text) for name, text in texts.instructions.items()))
        with st.expander(f"Texts in {language_label(language)}", expanded=not texts.consent_text):
            typed[language] = (
                st.text_input(f"Title ({language}; empty: the title above)", texts.title),
                st.text_area(f"Description ({language}; empty: the description above)", texts.description),
                st.text_area(f"Consent text ({language}, required)", texts.consent_text, height=200),
                st.text_area(f"Variation instructions ({language}): `name: instruction` per line", lines),
            )
    return typed

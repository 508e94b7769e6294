"""The volunteer pages' language: negotiated from the browser, switchable, and the translate
callable the pages word their messages with."""

from __future__ import annotations

import streamlit as st

from speechrec.campaign import Campaign
from speechrec.i18n import Translate, accept_languages, language_name, negotiate_language, translator
from speechrec.ui import state

PICKER = "language_picker"  # the switcher's widget key (its choice is kept in state.LANGUAGE)


def browser_languages() -> list[str]:
    """What the browser asks for, most wanted first: its ``navigator.language``
    (``st.context.locale``), then the request's ``Accept-Language`` header."""
    headers = st.context.headers
    return [st.context.locale or "", *accept_languages(headers.get("Accept-Language") if headers else None)]


def volunteer_language_ui(campaign: Campaign) -> str:
    """The language of this session's volunteer pages, one the campaign offers: the one the
    volunteer picked, else the best match for the browser, else the campaign's own. With more
    than one offered, a switcher (each language named in itself) is shown where this is called."""
    offered = list(campaign.languages)
    chosen = st.session_state.get(state.LANGUAGE)
    if chosen not in offered:
        chosen = negotiate_language(browser_languages(), offered)
        st.session_state[state.LANGUAGE] = chosen
    if len(offered) > 1:
        _ = translator(chosen)
        st.session_state[PICKER] = chosen
        st.selectbox(
            _("Language"),
            offered,
            format_func=language_name,
            key=PICKER,
            on_change=_keep_choice,
        )
    return st.session_state[state.LANGUAGE]


def _keep_choice() -> None:
    """Keep the switcher's choice beyond this page (widget values are dropped when a page changes)."""
    st.session_state[state.LANGUAGE] = st.session_state[PICKER]


def translate_ui(language: str) -> Translate:
    """The ``_`` of a volunteer page: gettext for ``language``."""
    return translator(language)

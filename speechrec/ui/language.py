"""The volunteer pages' language: negotiated from the browser among the campaign's languages,
switchable, kept for the session; and ``_`` / ``ngettext``, which word a message in the language
of the page this run shows.

streamlit_app.py decides each run's language (``show_in``): the volunteer's on volunteer pages,
English on organizer pages, so a helper shared by both (finding a participant code) speaks the
volunteer's language to volunteers and English to organizers.
"""

from __future__ import annotations

import streamlit as st

from speechrec import i18n
from speechrec.campaign import NOISE_KEYWORD, Campaign
from speechrec.i18n import SOURCE_LANGUAGE, accept_languages, language_name, negotiate_language, text_direction
from speechrec.ui import state

PICKER = "language_picker"  # the switcher's widget key (its choice is kept in state.LANGUAGE)
# Unicode's directional isolates (FIRST STRONG ISOLATE ... POP DIRECTIONAL ISOLATE, Unicode
# Standard Annex #9, section 2.7): a word inside them keeps its own direction and leaves the
# sentence around it alone, so "Skipped “שלום”." reads right in any language.
FIRST_STRONG_ISOLATE = "\u2068"
POP_DIRECTIONAL_ISOLATE = "\u2069"


def browser_languages() -> list[str]:
    """What the browser asks for, most wanted first: its ``navigator.language``
    (``st.context.locale``), then the request's ``Accept-Language`` header."""
    headers = st.context.headers
    return [st.context.locale or "", *accept_languages(headers.get("Accept-Language") if headers else None)]


def volunteer_language(campaign: Campaign) -> str:
    """The language of this session's volunteer pages, one the campaign offers: the one the
    volunteer picked (kept for the session), else the best match for the browser, else the
    campaign's own (its first)."""
    offered = campaign.languages
    chosen = st.session_state.get(state.LANGUAGE)
    if chosen not in offered:
        chosen = negotiate_language(browser_languages(), offered)
        st.session_state[state.LANGUAGE] = chosen
    return chosen


def show_in(language: str) -> None:
    """Word this run's messages (``_``, ``ngettext``) in ``language`` (a Babel code)."""
    st.session_state[state.PAGE_LANGUAGE] = language


def page_language() -> str:
    """The language this run's messages are worded in (English until ``show_in`` said otherwise)."""
    return st.session_state.get(state.PAGE_LANGUAGE) or SOURCE_LANGUAGE


def _(message: str) -> str:
    """``message`` (English, as marked in the code) in this run's language (gettext)."""
    return i18n.translations(page_language()).gettext(message)


def ngettext(singular: str, plural: str, count: int) -> str:
    """The singular or plural form (as the language counts: German 1 / many, Arabic six forms) of a
    message for ``count``, in this run's language."""
    return i18n.translations(page_language()).ngettext(singular, plural, count)


def isolated(text: str) -> str:
    """``text`` (a keyword as the organizer wrote it, in any script) wrapped in directional
    isolates, for use inside a sentence: a right-to-left word in an English or German sentence, or
    a Latin one in an Arabic sentence, shows in its own order and moves no punctuation around it."""
    return f"{FIRST_STRONG_ISOLATE}{text}{POP_DIRECTIONAL_ISOLATE}"


def word_shown(word: str) -> str:
    """A prompted word as a volunteer reads it inside a sentence: the keyword as the organizer
    wrote it (``isolated``), or "room noise" in this run's language for the room's recording."""
    return _("room noise") if word == NOISE_KEYWORD else isolated(word)


def direction() -> str:
    """``'rtl'`` or ``'ltr'``: how this run's language is written (for HTML the page builds itself)."""
    return text_direction(page_language())


def language_picker_ui(campaign: Campaign) -> None:
    """A small switcher (each language named in itself) at the top of a volunteer page, when the
    campaign offers more than one language; the choice holds for the rest of the session."""
    offered = list(campaign.languages)
    if len(offered) < 2:
        return
    st.session_state[PICKER] = volunteer_language(campaign)
    column = st.columns([3, 1])[1]
    column.selectbox(
        _("Language"),
        offered,
        format_func=language_name,
        key=PICKER,
        on_change=_keep_choice,
        label_visibility="collapsed",
    )


def _keep_choice() -> None:
    """Keep the switcher's choice beyond this page (widget values are dropped when a page changes)."""
    st.session_state[state.LANGUAGE] = st.session_state[PICKER]

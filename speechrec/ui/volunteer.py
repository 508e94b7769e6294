"""The volunteer of this browser, found again after a reload, a backgrounded tab or a reopened link.

After consent the participant code (the only secret allowed in a URL) is kept in the page's
address as ``?code=`` and in a cookie. A new browser session looks in its link first, then in the
cookie, and continues with the same speaker: one volunteer keeps one speaker id whatever they do.
The volunteer's choice of the simple recorder is kept in a cookie too.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import streamlit as st

from speechrec.errors import StoreError
from speechrec.i18n import N_
from speechrec.participant_codes import format_participant_code, normalize_participant_code
from speechrec.store import ClipStore
from speechrec.ui import state
from speechrec.ui.browser import cookie, delete_cookie, set_cookie
from speechrec.ui.language import _

CODE_PARAMETER = "code"
CODE_COOKIE = "speechrec_code"
RECORDER_COOKIE = "speechrec_recorder"
SIMPLE_TOGGLE = "simple_recorder_toggle"  # the toggle's widget key (session state keeps the choice itself)
# A year: longer than a campaign usually runs, so a volunteer who comes back months later continues.
VOLUNTEER_COOKIE_S = 365 * 24 * 3600
CODE_EXAMPLE = "K7QM-2XPA-9DHT"
VOLUNTEER_PAGE_PATHS = ("welcome", "record")  # the url paths of the volunteer pages, under the app's address
# Why the link's code found nobody (kept in state.LINK_PROBLEM, translated where it is shown).
LINK_CODE_MALFORMED = N_(
    "The participant code in this link is not valid (codes have 12 letters and digits, like K7QM-2XPA-9DHT). "
    "Check the link, or type your code under *Took part before?* below."
)
LINK_CODE_UNKNOWN = N_(
    "No participant has the code in this link. Check the link, or type your code under *Took part before?* "
    "below. If you are new, read on and agree to get your own code."
)


def restore_volunteer_ui(store: ClipStore) -> None:
    """Once per browser session: continue with the volunteer whose code is in the link, else in the cookie.

    A code in the link that finds nobody is kept as ``state.LINK_PROBLEM`` for the Welcome page
    (never a new speaker in its place). A cookie's code that finds nobody (withdrawn, or another
    campaign on the same host) is ignored.
    """
    if st.session_state[state.RESTORE_TRIED]:
        return
    st.session_state[state.RESTORE_TRIED] = True
    if cookie(RECORDER_COOKIE) == "simple":
        st.session_state[state.SIMPLE_RECORDER] = True
    if st.session_state[state.SPEAKER_ID] is not None:
        return
    linked = st.query_params.get(CODE_PARAMETER)
    if linked:
        try:
            found = store.find_speaker(linked)
        except (TypeError, ValueError):
            st.session_state[state.LINK_PROBLEM] = LINK_CODE_MALFORMED
        else:
            if found:
                remember_volunteer(found, linked)
                st.session_state[state.RETURNED] = "link"
                return
            st.session_state[state.LINK_PROBLEM] = LINK_CODE_UNKNOWN
    kept = cookie(CODE_COOKIE)
    if kept:
        try:
            found = store.find_speaker(kept)
        except (TypeError, ValueError):
            found = None
        if found:
            remember_volunteer(found, kept)
            st.session_state[state.RETURNED] = "cookie"
            st.session_state[state.NOT_ME] = True


def remember_volunteer(speaker_id: str, code: str) -> None:
    """This browser's volunteer from now on: in session state, in the cookie and (see
    ``keep_code_in_address``) in the address."""
    if st.session_state[state.SPEAKER_ID] != speaker_id:
        _reset_takes()
    formatted = format_participant_code(normalize_participant_code(code))
    st.session_state[state.SPEAKER_ID] = speaker_id
    st.session_state[state.PARTICIPANT_CODE] = formatted
    st.session_state[state.LINK_PROBLEM] = None
    set_cookie(CODE_COOKIE, formatted, VOLUNTEER_COOKIE_S)


def forget_volunteer() -> None:
    """This browser has no volunteer any more (withdrawn, or someone else uses the device)."""
    st.session_state[state.SPEAKER_ID] = None
    st.session_state[state.PARTICIPANT_CODE] = None
    st.session_state[state.RETURNED] = None
    _reset_takes()
    delete_cookie(CODE_COOKIE)
    if CODE_PARAMETER in st.query_params:
        del st.query_params[CODE_PARAMETER]


def _reset_takes() -> None:
    st.session_state[state.LAST_TAKE] = None
    st.session_state[state.NOT_ME] = False
    st.session_state[state.ROUND] = 1


def current_volunteer(store: ClipStore) -> tuple[str | None, int | None]:
    """This session's speaker id and the consent version they agreed to, or (None, None).

    A speaker who no longer exists (withdrawn in another tab) is forgotten here.
    """
    speaker_id = st.session_state[state.SPEAKER_ID]
    if speaker_id is None:
        return None, None
    try:
        return speaker_id, store.consent_version(speaker_id)
    except StoreError:
        forget_volunteer()
        return None, None


def keep_code_in_address() -> None:
    """Put the volunteer's code in the address (``?code=``), so a reload or a bookmark finds them again.

    Streamlit drops query parameters when the page changes; this puts the code back on every run.
    """
    code = st.session_state[state.PARTICIPANT_CODE]
    if code and st.query_params.get(CODE_PARAMETER) != code:
        st.query_params[CODE_PARAMETER] = code


def choose_simple_recorder(simple: bool) -> None:
    """Use the simple recorder (or the live one again) for this volunteer, kept across reloads."""
    st.session_state[state.SIMPLE_RECORDER] = simple
    st.session_state[state.LIVE_FAILED] = False
    if simple:
        set_cookie(RECORDER_COOKIE, "simple", VOLUNTEER_COOKIE_S)
    else:
        delete_cookie(RECORDER_COOKIE)


def simple_recorder_toggle_ui() -> None:
    """The switch between the live and the simple recorder (the choice is kept across reloads)."""
    st.session_state[SIMPLE_TOGGLE] = st.session_state[state.SIMPLE_RECORDER]
    st.toggle(
        _("Use the simple recorder (if the live one does not work on your network)"),
        key=SIMPLE_TOGGLE,
        on_change=lambda: choose_simple_recorder(st.session_state[SIMPLE_TOGGLE]),
    )


def not_me_ui() -> None:
    """For a volunteer found by this browser's cookie alone, until they record: someone else may be
    using the device, and starts anew with one tap (their own consent, their own code)."""
    if not st.session_state[state.NOT_ME]:
        return
    code_column, button_column = st.columns([3, 2], vertical_alignment="center")
    code = st.session_state[state.PARTICIPANT_CODE]
    code_column.caption(_("Continuing as participant {code}.").format(code=code))
    if button_column.button(_("Not you? Start anew")):
        forget_volunteer()
        st.switch_page("pages/welcome.py")


def resume_link(page_url: str | None, code: str) -> str:
    """The volunteer's personal link: the app's address with ``?code=`` (just the query when the
    address is unknown). ``page_url`` is a volunteer page's address, ``st.context.url``."""
    if not page_url:
        return f"?{CODE_PARAMETER}={code}"
    parts = urlsplit(page_url)
    path = parts.path.rstrip("/")
    if path.rsplit("/", 1)[-1] in VOLUNTEER_PAGE_PATHS:
        path = path.rsplit("/", 1)[0]
    return urlunsplit((parts.scheme, parts.netloc, f"{path}/", f"{CODE_PARAMETER}={code}", ""))


def participant_code_ui(code: str, intro: str) -> None:
    """The code and the resume link, each with a copy button (st.code), under ``intro`` (Markdown)."""
    st.markdown(intro)
    st.code(code, language=None, wrap_lines=True)
    st.caption(_("Your personal link: open it to continue later, on this device or another."))
    st.code(resume_link(st.context.url, code), language=None, wrap_lines=True)

"""Organizer sign-in for the pages: the password from secrets (or generated), or Streamlit's own
OIDC login (st.login) for the e-mails in ``[organizer] emails`` when ``[auth]`` is configured;
a form, a gate, sign-out. A password sign-in is kept for ORGANIZER_SESSION_S in a cookie holding
a signed token (never the password), so a reload or a bookmarked organizer page stays signed in."""

from __future__ import annotations

import logging
import time

import streamlit as st

from speechrec.auth import (
    ORGANIZER_SESSION_S,
    check_password,
    failure_delay_s,
    generated_password,
    is_organizer_email,
    is_verified_email,
    organizer_emails,
    organizer_session_token,
    organizer_session_valid,
    session_key,
)
from speechrec.errors import cannot_write
from speechrec.ui import state
from speechrec.ui.browser import cookie, delete_cookie, set_cookie
from speechrec.ui.resources import app_settings, secret
from speechrec.ui.text import plain

LOGGER = logging.getLogger(__name__)
SIGN_IN_PARAMETER = "organizer"  # the welcome page shows the sign-in form at ?organizer
NEXT_PARAMETER = "next"  # ?organizer&next=stats: where to go after signing in (Review by default)
ORGANIZER_PAGES = {
    "review": "pages/review.py",
    "stats": "pages/stats.py",
    "model_check": "pages/model_check.py",
    "campaign": "pages/campaign.py",
}
SESSION_COOKIE = "speechrec_organizer"


@st.cache_resource(show_spinner=False)
def organizer_password() -> str:
    """``[organizer] password`` from secrets.toml, else the password generated in the data folder.

    A generated password is printed to the server log once, when it is made.
    """
    configured = secret("organizer", "password")
    if configured:
        return str(configured)
    data_dir = app_settings().data_dir
    password, created = generated_password(data_dir)
    if created:
        LOGGER.warning(
            "Organizer password: %s (kept in %s). To choose your own, put it (or the output of "
            "`python -m speechrec hash-password`) under [organizer] password in .streamlit/secrets.toml.",
            password,
            data_dir,
        )
    return password


@st.cache_resource(show_spinner=False)
def organizer_session_key(password: str) -> bytes:
    """``session_key`` of the password, derived once per process (scrypt takes tens of milliseconds)."""
    return session_key(password)


@st.cache_resource(show_spinner=False)
def signed_out_tokens() -> set[str]:
    """Organizer tokens signed out in this app process: every session (tab) that holds one is
    signed out at its next run, and a copy of the token is refused here until it expires."""
    return set()


def restore_organizer_ui() -> None:
    """Sign this session in if the browser holds a valid organizer token (signed in within
    ORGANIZER_SESSION_S with the current password, and not signed out)."""
    token = cookie(SESSION_COOKIE)
    if st.session_state[state.ORGANIZER] or not token or token in signed_out_tokens():
        return
    try:
        key = organizer_session_key(organizer_password())
    except (OSError, ValueError):  # no password could be kept, or a setting is malformed (the page says so)
        return
    if organizer_session_valid(token, key):
        st.session_state[state.ORGANIZER] = True
        st.session_state[state.ORGANIZER_TOKEN] = token


def oidc_organizers() -> frozenset[str]:
    """The organizers' e-mails for st.login, or none when ``[auth]`` or ``[organizer] emails`` is missing."""
    if not secret("auth", "redirect_uri"):
        return frozenset()
    return organizer_emails(secret("organizer", "emails"))


def signed_in() -> bool:
    """True when an organizer signed in in this browser session, by password or by OIDC login."""
    if st.session_state.get(state.ORGANIZER) and st.session_state.get(state.ORGANIZER_TOKEN) in signed_out_tokens():
        st.session_state[state.ORGANIZER] = False  # signed out in another tab of this browser
    if st.session_state.get(state.ORGANIZER):
        return True
    allowed = oidc_organizers()
    return bool(
        allowed
        and st.user.get("is_logged_in")
        and is_verified_email(st.user)
        and is_organizer_email(st.user.get("email"), allowed)
    )


def reviewer_name() -> str:
    """Who signs review decisions: the organizer's e-mail after an OIDC login, else "organizer"."""
    if st.session_state.get(state.ORGANIZER) or not st.user.get("is_logged_in"):
        return "organizer"
    return str(st.user.get("email"))


def sign_in_ui() -> None:
    """The organizer sign-in: OIDC login when configured, and the password form; wrong passwords
    get a plain message and a growing delay."""
    if oidc_organizers():
        if st.user.get("is_logged_in") and not is_verified_email(st.user):
            st.error(
                plain(
                    f"Your identity provider has not verified {st.user.get('email')}; organizers sign in "
                    "with a verified e-mail address. Verify it with your provider, then log in again."
                )
            )
            st.button("Log out", on_click=st.logout)
        elif st.user.get("is_logged_in"):
            st.error(plain(f"{st.user.get('email')} is not one of this campaign's organizers."))
            st.button("Log out", on_click=st.logout)
        else:
            st.button("Sign in with your organization account", type="primary", on_click=st.login)
    with st.form("organizer-sign-in"):
        st.subheader("Organizer sign-in")
        candidate = st.text_input("Password", type="password")
        submitted = st.form_submit_button("Sign in")
    if not submitted:
        return
    time.sleep(failure_delay_s(st.session_state[state.SIGN_IN_FAILURES]))
    try:
        accepted = bool(candidate) and check_password(candidate, organizer_password())
    except (OSError, ValueError) as error:  # the password file cannot be kept, or the hash is malformed
        message = f"Organizer sign-in is not possible: {cannot_write(error) if isinstance(error, OSError) else error}"
        LOGGER.error("%s", message)
        st.error(plain(message))
        return
    if accepted:
        st.session_state[state.ORGANIZER] = True
        st.session_state[state.SIGN_IN_FAILURES] = 0
        token = organizer_session_token(organizer_session_key(organizer_password()))
        st.session_state[state.ORGANIZER_TOKEN] = token
        set_cookie(SESSION_COOKIE, token, ORGANIZER_SESSION_S)
        go_where_the_organizer_was_going()
    st.session_state[state.SIGN_IN_FAILURES] += 1
    st.error("Wrong password.")


def go_where_the_organizer_was_going() -> None:
    """After a sign-in: the organizer page named by ``?next=``, else Review."""
    wanted = st.query_params.get(NEXT_PARAMETER) or "review"
    st.switch_page(ORGANIZER_PAGES.get(wanted, ORGANIZER_PAGES["review"]))


def require_organizer(page: str) -> None:
    """Stop the page (showing nothing of the store) unless an organizer is signed in; say where to sign in.

    ``page``: this page's key in ORGANIZER_PAGES, where the sign-in leads back to.
    """
    if not signed_in():
        st.warning(f"This page is for the campaign's organizers: sign in at ?{SIGN_IN_PARAMETER} first.")
        st.page_link(
            "pages/welcome.py",
            label="Sign in",
            icon="🔑",
            query_params={SIGN_IN_PARAMETER: "", NEXT_PARAMETER: page},
        )
        st.stop()


def sign_out_ui() -> None:
    """A sign-out button in the sidebar: ends the session here and the kept sign-in of this browser."""
    if st.sidebar.button("Sign out"):
        st.session_state[state.ORGANIZER] = False
        if st.session_state[state.ORGANIZER_TOKEN]:
            signed_out_tokens().add(st.session_state[state.ORGANIZER_TOKEN])
        st.session_state[state.ORGANIZER_TOKEN] = None
        delete_cookie(SESSION_COOKIE)
        if st.user.get("is_logged_in"):
            st.logout()
        st.switch_page("pages/welcome.py")

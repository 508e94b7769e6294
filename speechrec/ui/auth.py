"""Organizer sign-in for the pages: the password from secrets (or generated), or Streamlit's own
OIDC login (st.login) for the e-mails in ``[organizer] emails`` when ``[auth]`` is configured;
a form, a gate, sign-out. A password sign-in is kept for ORGANIZER_SESSION_S in a cookie holding
a signed token (never the password), so a reload or a bookmarked organizer page stays signed in.
Wrong passwords are throttled in the store, per client network and for everyone (speechrec.auth)."""

from __future__ import annotations

import logging
import math
from datetime import UTC, datetime
from time import sleep

import streamlit as st

from speechrec.auth import (
    ORGANIZER_SESSION_S,
    check_password,
    generated_password,
    is_organizer_email,
    is_verified_email,
    organizer_emails,
    organizer_session_token,
    organizer_session_valid,
    session_key,
    sign_in_buckets,
)
from speechrec.errors import SpeechrecError, cannot_write
from speechrec.store import ClipStore
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
# A wait this short after someone's wrong password is waited out before the check (the page just
# takes a moment: retyping takes longer anyway); a longer one is told, never slept through, so no
# script run sits for up to 30 s and the organizer knows when to try again.
WAITED_OUT_S = 2.0


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


def client_address() -> str | None:
    """The browser's address as Streamlit sees it (``st.context.ip_address``: the connection's
    peer, or X-Forwarded-For from a proxy that uvicorn trusts, FORWARDED_ALLOW_IPS); None on
    localhost. Anything that is not an address (AppTest gives a mock) is None too, via
    ``speechrec.auth.client_network``."""
    address = st.context.ip_address
    return address if isinstance(address, str) else None


def utc_now() -> datetime:
    """The time sign-in waits are counted in (a function, so tests can move it)."""
    return datetime.now(UTC)


def seconds_text(wait_s: float) -> str:
    """A wait as the organizer reads it: whole seconds, rounded up ("1 second", "8 seconds")."""
    seconds = max(1, math.ceil(wait_s))
    return f"{seconds} second{'s' if seconds != 1 else ''}"


def claim_sign_in_ui(store: ClipStore, buckets: tuple[str, ...]) -> float:
    """``store.claim_sign_in`` for this check; a wait up to WAITED_OUT_S is slept, then asked again.
    Returns the seconds still to wait (0.0: the password is checked now, counted as wrong until
    ``store.sign_in_succeeded``)."""
    wait_s = store.claim_sign_in(buckets, now=utc_now())
    if 0 < wait_s <= WAITED_OUT_S:
        sleep(wait_s)  # this session's script thread only: other sessions run on
        wait_s = store.claim_sign_in(buckets, now=utc_now())
    return wait_s


def sign_in_ui(store: ClipStore) -> None:
    """The organizer sign-in: OIDC login when configured, and the password form. A wrong password
    gets a plain message; the next check from this network (or, after many, from anywhere) waits
    longer each time, counted in ``store`` so that a new browser session or another replica
    waits as long (``speechrec.auth``); a long wait is told in seconds, not slept."""
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
    if not candidate:
        st.error("Type the organizer password, then press Sign in.")
        return
    try:
        password = organizer_password()
        buckets = sign_in_buckets(client_address(), organizer_session_key(password))
        wait_s = claim_sign_in_ui(store, buckets)
        if wait_s > 0:
            st.error(
                f"Too many wrong passwords were tried. The password was not checked: wait {seconds_text(wait_s)}, "
                "then sign in again."
            )
            return
        accepted = check_password(candidate, password)
        if accepted:
            store.sign_in_succeeded(buckets, now=utc_now())
        else:
            wait_s = store.sign_in_wait_s(buckets, now=utc_now())
    except (OSError, SpeechrecError, ValueError) as error:
        # The password file cannot be kept, the hash is malformed, or the store cannot count tries.
        reason = cannot_write(error) if isinstance(error, OSError) and not isinstance(error, SpeechrecError) else error
        message = f"Organizer sign-in is not possible: {reason}"
        LOGGER.error("%s", message)
        st.error(plain(message))
        return
    if accepted:
        st.session_state[state.ORGANIZER] = True
        token = organizer_session_token(organizer_session_key(password))
        st.session_state[state.ORGANIZER_TOKEN] = token
        set_cookie(SESSION_COOKIE, token, ORGANIZER_SESSION_S)
        go_where_the_organizer_was_going()
    if wait_s > WAITED_OUT_S:
        st.error(f"Wrong password. The next one can be checked in {seconds_text(wait_s)}.")
    else:
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

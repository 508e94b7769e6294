"""speechrec: the volunteers' pages for everyone, the organizers' pages after sign-in."""

import logging

import streamlit as st

from speechrec.errors import SpeechrecError, cannot_write
from speechrec.i18n import SOURCE_LANGUAGE
from speechrec.ui import state
from speechrec.ui.auth import organizer_password, restore_organizer_ui, sign_out_ui, signed_in
from speechrec.ui.browser import browser_ui
from speechrec.ui.language import _, show_in, volunteer_language
from speechrec.ui.resources import STARTUP_ERRORS, campaign_and_store, setup_logging, storage_notice_ui
from speechrec.ui.volunteer import keep_code_in_address, restore_volunteer_ui

setup_logging()
state.ensure_defaults()
try:
    organizer_password()  # made (and logged) at first start, not at the first sign-in attempt
except OSError as error:  # the volunteers' pages still work; the sign-in form says why it cannot check
    logging.getLogger("speechrec").error("cannot keep the organizer password: %s", cannot_write(error))
except (SpeechrecError, ValueError):
    pass  # a setting that cannot be read (e.g. a malformed database URL): every page says "speechrec cannot start"
try:
    campaign, store = campaign_and_store()
except STARTUP_ERRORS:  # every page says why itself
    campaign = store = None
# The volunteer pages speak the volunteer's language (the browser's, or the one they picked); the
# organizer pages English.
language = volunteer_language(campaign) if campaign is not None else SOURCE_LANGUAGE
title = campaign.texts(language).title if campaign is not None else "speechrec"
st.set_page_config(page_title=title, page_icon="🎙️", layout="centered")
if store is not None:
    restore_volunteer_ui(store)
restore_organizer_ui()
st.session_state[state.BROWSER] = browser_ui()

# Organizer pages always exist, so a bookmark or a reload finds them; unless signed in they are
# out of the menu and each says where to sign in.
organizer = signed_in()
show_in(SOURCE_LANGUAGE if organizer else language)  # the menu: the organizer's is English
volunteer_pages = [
    st.Page("pages/welcome.py", title=_("Welcome"), icon="👋", default=True),
    st.Page("pages/record.py", title=_("Record"), icon="🎙️"),
]
organizer_pages = [
    st.Page(f"pages/{name}.py", title=title, icon=icon, visibility="visible" if organizer else "hidden")
    for name, title, icon in (
        ("review", "Review", "🎧"),
        ("stats", "Stats", "📊"),
        ("model_check", "Model check", "🧪"),
        ("campaign", "Campaign", "📝"),
    )
]
if organizer:
    page = st.navigation({"Volunteers": volunteer_pages, "Organizer": organizer_pages})
    sign_out_ui()
    storage_notice_ui()
else:
    page = st.navigation(volunteer_pages + organizer_pages)
on_volunteer_page = page.url_path in {volunteer_page.url_path for volunteer_page in volunteer_pages}
show_in(language if on_volunteer_page else SOURCE_LANGUAGE)
if on_volunteer_page:
    keep_code_in_address()
page.run()

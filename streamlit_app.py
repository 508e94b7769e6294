"""speechrec: the volunteers' pages for everyone, the organizers' pages after sign-in."""

import logging

import streamlit as st

from speechrec.ui import state
from speechrec.ui.auth import organizer_password, sign_out_ui, signed_in
from speechrec.ui.resources import setup_logging, storage_notice_ui

st.set_page_config(page_title="speechrec", page_icon="🎙️", layout="centered")
setup_logging()
state.ensure_defaults()
try:
    organizer_password()  # made (and logged) at first start, not at the first sign-in attempt
except OSError as error:  # the volunteers' pages still work; the store reports the data folder itself
    logging.getLogger("speechrec").error("cannot keep the organizer password: %s", error)
volunteer_pages = [
    st.Page("pages/welcome.py", title="Welcome", icon="👋", default=True),
    st.Page("pages/record.py", title="Record", icon="🎙️"),
]
if signed_in():
    organizer_pages = [
        st.Page("pages/review.py", title="Review", icon="🎧"),
        st.Page("pages/stats.py", title="Stats", icon="📊"),
        st.Page("pages/model_check.py", title="Model check", icon="🧪"),
        st.Page("pages/campaign.py", title="Campaign", icon="📝"),
    ]
    sign_out_ui()
    storage_notice_ui()
    st.navigation({"Volunteers": volunteer_pages, "Organizer": organizer_pages}).run()
else:
    st.navigation(volunteer_pages).run()

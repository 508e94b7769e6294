"""speechrec: the volunteers' pages (organizer pages join behind sign-in in a later step)."""

import streamlit as st

from speechrec.ui import state
from speechrec.ui.resources import setup_logging

st.set_page_config(page_title="speechrec", page_icon="🎙️", layout="centered")
setup_logging()
state.ensure_defaults()
pages = [
    st.Page("pages/welcome.py", title="Welcome", icon="👋", default=True),
    st.Page("pages/record.py", title="Record", icon="🎙️"),
]
st.navigation(pages).run()

"""speechrec app entry point. Until the volunteer and organizer pages exist, it shows the
campaign and the store's per-keyword counts."""

import streamlit as st

from speechrec.config import campaign_path, load_campaign, load_settings
from speechrec.errors import SpeechrecError
from speechrec.stats import keyword_counts
from speechrec.store import ClipStore

st.set_page_config(page_title="speechrec", page_icon="🎙️")


@st.cache_resource
def open_store() -> ClipStore:
    return ClipStore(load_settings())


try:
    campaign = load_campaign(campaign_path())
    store = open_store()
except (SpeechrecError, ValueError) as error:
    st.error(f"speechrec cannot start: {error}")
    st.stop()

st.title(campaign.title)
st.write(campaign.description)
st.caption(
    f"Keywords: {', '.join(campaign.keywords)} · {campaign.takes_per_keyword} takes each · "
    f"target {campaign.target_per_keyword} clips per keyword · clips of {campaign.clip_duration_s:g} s"
)
counts = keyword_counts(store, campaign)
st.subheader("Clips per word")
st.dataframe(
    counts,
    hide_index=True,
    column_config={"progress": st.column_config.ProgressColumn("progress", min_value=0.0, max_value=1.0)},
)
st.bar_chart(counts.set_index("keyword")[["accepted", "pending", "flagged", "rejected"]])

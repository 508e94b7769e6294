"""Stats (organizers): clips per word against the targets, per speaker, over time, and totals."""

import streamlit as st

from speechrec.stats import keyword_counts, speaker_table, totals
from speechrec.ui.auth import require_organizer
from speechrec.ui.resources import campaign_and_store_ui

require_organizer()
campaign, store = campaign_and_store_ui()
st.title("Stats")

headline = totals(store)
clips_column, speakers_column, hours_column, noise_column = st.columns(4)
clips_column.metric("Clips", f"{headline['clips']:,}")
speakers_column.metric("Speakers", f"{headline['speakers']:,}")
hours_column.metric("Hours of words", f"{headline['hours']:.2f}")
noise_column.metric("Room noise", f"{headline['noise_s'] / 60:.1f} min")

st.subheader("Per word")
st.caption("Pending: not yet reviewed, no quality flag. Flagged: not yet reviewed, with a quality flag.")
words = keyword_counts(store, campaign)
st.dataframe(
    words,
    hide_index=True,
    column_config={"progress": st.column_config.ProgressColumn("progress to target", min_value=0.0, max_value=1.0)},
)
st.bar_chart(words.set_index("keyword")[["accepted", "pending", "flagged", "rejected"]], stack=True)

st.subheader("Per speaker")
st.dataframe(
    speaker_table(store),
    hide_index=True,
    column_config={
        "accepted_share": st.column_config.ProgressColumn("accepted", min_value=0.0, max_value=1.0),
        "first_take": st.column_config.DatetimeColumn("first take"),
        "last_take": st.column_config.DatetimeColumn("last take"),
    },
)

st.subheader("Takes per day")
st.line_chart(store.daily_counts().set_index("day"))

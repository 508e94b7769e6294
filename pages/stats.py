"""Stats (organizers): clips per word against the targets, per speaker, over time, totals, and the download."""

import streamlit as st

from speechrec.stats import keyword_counts, speaker_table, totals, variation_counts
from speechrec.ui.auth import require_organizer
from speechrec.ui.download import build_dataset_ui, download_buttons_ui, export_options_ui
from speechrec.ui.resources import campaign_and_store_ui, exports_folder

require_organizer("stats")
campaign, store = campaign_and_store_ui()
st.title("Stats")

counts = store.status_counts()  # one query serves the headline and the per-word table
speakers = speaker_table(store)  # and one the per-speaker table and the number of speakers
headline = totals(store, counts=counts, speaker_count=len(speakers))
clips_column, speakers_column, hours_column, noise_column = st.columns(4)
clips_column.metric("Clips", f"{headline['clips']:,}")
speakers_column.metric("Speakers", f"{headline['speakers']:,}")
hours_column.metric("Hours of words", f"{headline['hours']:.2f}")
noise_column.metric("Room noise", f"{headline['noise_s'] / 60:.1f} min")

st.subheader("Per word")
st.caption("Pending: not yet reviewed, no quality flag. Flagged: not yet reviewed, with a quality flag.")
words = keyword_counts(store, campaign, counts=counts)
st.dataframe(
    words,
    hide_index=True,
    column_config={"progress": st.column_config.ProgressColumn("progress to target", min_value=0.0, max_value=1.0)},
)
st.bar_chart(words.set_index("keyword")[["accepted", "pending", "flagged", "rejected"]], stack=True)

if campaign.variations:
    st.subheader("Per variation")
    st.caption("Keywords only; (none): takes asked in no variation, e.g. before the campaign had variations.")
    st.dataframe(variation_counts(store, campaign), hide_index=True)

st.subheader("Per speaker")
st.dataframe(
    speakers,
    hide_index=True,
    column_config={
        "accepted_share": st.column_config.ProgressColumn("accepted", min_value=0.0, max_value=1.0),
        "first_take": st.column_config.DatetimeColumn("first take"),
        "last_take": st.column_config.DatetimeColumn("last take"),
    },
)

st.subheader("Takes per day")
daily = store.daily_counts()
if daily.empty:
    st.caption("No takes yet.")
else:
    st.bar_chart(daily.set_index("day"))

st.subheader("Download the dataset")
st.caption(
    "A zip in the Speech Commands layout: one folder per word of 16-bit mono WAV files of equal length, "
    "room noise, the validation and testing lists, metadata.csv and a README."
)
options = export_options_ui(campaign)
if st.button("Build the dataset zip", type="primary"):
    build_dataset_ui(store, campaign, exports_folder(store), options)
download_buttons_ui(store, campaign, options)

"""Stats (organizers): clips per word against the targets, per speaker, over time, totals, and the download."""

from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import streamlit as st

from speechrec.errors import SpeechrecError
from speechrec.export import SELECTIONS, ExportOptions, download_name, metadata_csv, prepare_export
from speechrec.stats import keyword_counts, speaker_table, totals
from speechrec.ui import state
from speechrec.ui.auth import require_organizer
from speechrec.ui.resources import campaign_and_store_ui, exports_folder

COMMON_SAMPLE_RATES = (8000, 16000, 22050, 44100, 48000)

require_organizer()
campaign, store = campaign_and_store_ui()
st.title("Stats")

counts = store.status_counts()  # one query serves the headline and the per-word table
headline = totals(store, counts=counts)
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
selection_column, duration_column, rate_column = st.columns([2, 1, 1])
selection = selection_column.radio(
    "Clips", list(SELECTIONS), index=1, format_func=lambda name: SELECTIONS[name].capitalize(), key="export_selection"
)
duration_s = duration_column.number_input(
    "Clip length (s)", min_value=0.1, max_value=10.0, value=campaign.clip_duration_s, step=0.1, key="export_duration"
)
rates = sorted({*COMMON_SAMPLE_RATES, campaign.export_sample_rate})
sample_rate = rate_column.selectbox(
    "Sample rate (Hz)", rates, index=rates.index(campaign.export_sample_rate), key="export_rate"
)
options = ExportOptions(selection=selection, clip_duration_s=float(duration_s), sample_rate=int(sample_rate))
if st.button("Build the dataset zip", type="primary"):
    bar = st.progress(0.0, text="Cutting and packing the clips…")

    def show_progress(done: int, total: int) -> None:
        """Move the bar every 1 % (a message per clip would flood the browser on large datasets)."""
        if done == total or done % max(1, total // 100) == 0:
            bar.progress(done / total, text=f"Cutting and packing the clips… {done:,} / {total:,}")

    try:
        path = prepare_export(store, campaign, exports_folder(store), options, show_progress)
    except (SpeechrecError, OSError) as error:
        st.error(f"The dataset could not be built: {error}")
    else:
        built_at = datetime.now(UTC)
        st.session_state[state.PREPARED_EXPORT] = (
            str(path),
            download_name(campaign, built_at.date()),
            options,
            built_at,
        )
    bar.empty()
prepared = st.session_state[state.PREPARED_EXPORT]
if prepared and prepared[2] == options and Path(prepared[0]).exists():
    zip_path, zip_name, _, built_at = prepared
    st.caption(f"Built at {built_at:%H:%M} UTC. Clips taken or reviewed since then are in the next build.")
    st.download_button(
        f"Download {zip_name} ({Path(zip_path).stat().st_size / 1e6:.1f} MB)",
        data=partial(Path(zip_path).read_bytes),
        file_name=zip_name,
        mime="application/zip",
        icon="⬇️",
        on_click="ignore",
    )
st.download_button(
    "Download metadata.csv only",
    data=partial(metadata_csv, store, options),
    file_name=download_name(campaign, datetime.now(UTC).date(), "csv"),
    mime="text/csv",
    on_click="ignore",
)

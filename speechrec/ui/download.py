"""The Stats page's dataset download: options, a build with a progress bar, the deferred download buttons."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from speechrec.campaign import Campaign
from speechrec.cut import CUTS
from speechrec.errors import SpeechrecError
from speechrec.export import (
    LAYOUTS,
    SELECTIONS,
    ExportOptions,
    ProgressCallback,
    download_name,
    metadata_csv,
    prepare_export,
    read_prepared_export,
    remove_withdrawn_exports,
)
from speechrec.store import ClipStore
from speechrec.ui import state
from speechrec.ui.text import plain

COMMON_SAMPLE_RATES = (8000, 16000, 22050, 44100, 48000)
BUILD_TEXT = "Cutting and packing the clips…"


def export_options_ui(campaign: Campaign) -> ExportOptions:
    """Which clips, clip length and sample rate (defaulting to the campaign's), the cut and the layout."""
    selection_column, duration_column, rate_column = st.columns([2, 1, 1])
    selection = selection_ui("Clips", "export_selection", selection_column)
    duration_s = duration_column.number_input(
        "Clip length (s)",
        min_value=0.1,
        max_value=10.0,
        value=campaign.clip_duration_s,
        step=0.1,
        key="export_duration",
    )
    rates = sorted({*COMMON_SAMPLE_RATES, campaign.export_sample_rate})
    sample_rate = rate_column.selectbox(
        "Sample rate (Hz)", rates, index=rates.index(campaign.export_sample_rate), key="export_rate"
    )
    cut_column, layout_column = st.columns(2)
    cut = cut_column.radio("Cut", list(CUTS), format_func=lambda name: CUTS[name].capitalize(), key="export_cut")
    layout = layout_column.radio("Layout", list(LAYOUTS), format_func=lambda name: LAYOUTS[name], key="export_layout")
    return ExportOptions(
        selection=selection, clip_duration_s=float(duration_s), sample_rate=int(sample_rate), cut=cut, layout=layout
    )


def selection_ui(label: str, key: str, container: DeltaGenerator | None = None) -> str:
    """Which clips an export (or a model check) takes, one of SELECTIONS; the default is preselected."""
    return (container or st).radio(
        label, list(SELECTIONS), index=1, format_func=lambda name: SELECTIONS[name].capitalize(), key=key
    )


def bar_progress(bar: DeltaGenerator) -> ProgressCallback:
    """A ``progress(done, total)`` callback that moves ``bar`` (an ``st.progress``) every 1 %
    (a message per clip would flood the browser on large datasets)."""

    def show(done: int, total: int) -> None:
        if done == total or done % max(1, total // 100) == 0:
            bar.progress(done / total, text=f"{BUILD_TEXT} {done:,} / {total:,}")

    return show


def build_dataset_ui(store: ClipStore, campaign: Campaign, folder: Path, options: ExportOptions) -> None:
    """Build (or reuse) the zip with a progress bar; remember it in ``state.PREPARED_EXPORT``."""
    bar = st.progress(0.0, text=BUILD_TEXT)
    try:
        path = prepare_export(store, campaign, folder, options, bar_progress(bar))
    except (SpeechrecError, OSError) as error:
        st.error(plain(f"The dataset could not be built: {error}"))
    else:
        built_at = datetime.now(UTC)
        st.session_state[state.PREPARED_EXPORT] = (
            str(path),
            download_name(campaign, built_at.date()),
            options,
            built_at,
        )
    bar.empty()


def download_buttons_ui(store: ClipStore, campaign: Campaign, options: ExportOptions) -> None:
    """The built zip (only if built with these options, and only while no speaker in it has
    withdrawn) and the metadata CSV, both read only when clicked."""
    prepared = st.session_state[state.PREPARED_EXPORT]
    if prepared:
        remove_withdrawn_exports(store, Path(prepared[0]).parent)
    if prepared and prepared[2] == options and Path(prepared[0]).exists():
        zip_path, zip_name, _, built_at = prepared
        st.caption(f"Built at {built_at:%H:%M} UTC. Clips taken or reviewed since then are in the next build.")
        st.download_button(
            f"Download {zip_name} ({Path(zip_path).stat().st_size / 1e6:.1f} MB)",
            data=partial(read_prepared_export, store, zip_path),
            file_name=zip_name,
            mime="application/zip",
            icon="⬇️",
            on_click="ignore",
        )
    st.download_button(
        "Download metadata.csv only",
        data=partial(metadata_csv, store, campaign, options),
        file_name=download_name(campaign, datetime.now(UTC).date(), "csv"),
        mime="text/csv",
        on_click="ignore",
    )

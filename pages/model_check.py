"""Model check (organizers): will the clips train a keyword model? Accuracy per word and speaker, doubted clips."""

import streamlit as st

from speechrec.export import SELECTIONS, ExportOptions
from speechrec.modelcheck import checks_folder, current_fingerprint, latest_check, load_check
from speechrec.ui.auth import require_organizer
from speechrec.ui.download import selection_ui
from speechrec.ui.model_check import (
    check_figures_ui,
    check_progress_ui,
    doubted_clips_ui,
    explanation_ui,
    start_check_ui,
)
from speechrec.ui.resources import campaign_and_store_ui

require_organizer("model_check")
campaign, store = campaign_and_store_ui()
st.title("Model check")
explanation_ui()

options = ExportOptions(selection=selection_ui("Clips to check", "model_check_selection"))
check = load_check(checks_folder(store.settings), current_fingerprint(store, campaign, options))
running = check_progress_ui(store.settings)
if check is None and not running:
    st.button(
        "Run the model check",
        type="primary",
        on_click=start_check_ui,
        args=(store.settings, campaign, options),
        help="Runs in the background (about 20-30 s for 2000 clips on two cores); you can leave this page meanwhile.",
    )
if check is None:
    check = latest_check(store)
    if check is None:
        st.stop()
    st.info(
        f"Shown: the latest check, of {SELECTIONS[check.selection]}. The clips (new takes, review decisions) "
        "or the choice above changed since; run the check again for an up-to-date one."
    )

check_figures_ui(check)
st.subheader("Most doubted clips")
limit = st.number_input("How many", min_value=5, max_value=200, value=10, step=5, key="model_check_doubted")
doubted_clips_ui(store, check, int(limit))

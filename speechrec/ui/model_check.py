"""The Model check page's parts: the background run with its progress bar, the figures, the doubted clips."""

from __future__ import annotations

import streamlit as st

from speechrec.campaign import Campaign
from speechrec.config import Settings
from speechrec.errors import StoreError
from speechrec.export import ExportOptions
from speechrec.modelcheck import (
    UNKNOWN_LABEL,
    ModelCheck,
    running_check,
    start_check,
)
from speechrec.review import word_label
from speechrec.store import ClipStore
from speechrec.ui import state

# How often the page looks at a running check's progress (a small file read).
POLL_S = 1.0
REVIEW_PAGE = "pages/review.py"
WHAT_IT_IS = """
A small model (a support vector machine on the sound of each clip) learns your words from the clips
the download would contain, and is then tested on speakers it never heard: the speakers are split
into groups, and each group is tested by a model trained on all the others. So every clip below was
judged by a model that had never heard that voice, as your final model will meet new users.
"""
WHAT_IT_MEANS = """
- **Accuracy per word**: of the clips filed under a word, the share the model recognised. A low
  figure for one word: its clips may be mislabelled, cut or noisy, or the word sounds like another
  one (see the confusions).
- **Accuracy per speaker**: a low figure often means a bad microphone, a noisy room, or a voice or
  accent that no one else in the data has.
- **Most doubted clips**: the clips whose own word got the lowest probability. Listen to them
  first: wrong words, noise and distorted takes gather here.
"""
WHAT_IT_DOES_NOT_MEAN = """
This is a quick check, not the final model. A neural network trained on this data, with the usual
augmentation, normally does better, most of all on words and speakers that score low here. A high
figure does not promise the same on other voices or in other rooms, and a doubted clip is not
necessarily bad: listen before you reject it.
"""


def start_check_ui(settings: Settings, campaign: Campaign, options: ExportOptions) -> None:
    """Start a background check, or say that one is already running."""
    if not start_check(settings, campaign, options):
        st.info("A check is already running; its progress is shown below.")


@st.fragment(run_every=POLL_S)
def check_progress_ui(settings: Settings) -> bool:
    """A progress bar while a check runs in the background (refreshed every POLL_S seconds, without
    blocking anything else); the whole page reruns when it ends. Returns True while one runs."""
    progress = running_check(settings)
    if progress is None:
        if st.session_state[state.MODEL_CHECK_RUNNING]:
            st.session_state[state.MODEL_CHECK_RUNNING] = False
            st.rerun()
        return False
    if progress.failed:
        st.error(f"The last check did not finish: {progress.message}")
        return False
    st.session_state[state.MODEL_CHECK_RUNNING] = True
    st.progress(min(max(progress.fraction, 0.0), 1.0), text=progress.message)
    return True


def explanation_ui() -> None:
    """What the check is, what its figures mean and what they do not, in plain words."""
    st.markdown(WHAT_IT_IS)
    with st.expander("What the figures mean, and what they do not"):
        st.markdown(WHAT_IT_MEANS)
        st.markdown(WHAT_IT_DOES_NOT_MEAN)


def check_figures_ui(check: ModelCheck) -> None:
    """The headline numbers, accuracy per word and per speaker, and the confusion table."""
    clips_column, speakers_column, accuracy_column = st.columns(3)
    clips_column.metric("Clips checked", f"{len(check.clips):,}")
    speakers_column.metric("Speakers", f"{check.clips['speaker_id'].nunique():,}")
    accuracy_column.metric("Accuracy on unheard speakers", f"{check.accuracy:.0%}")
    st.caption(f"Checked {check.created_at:%Y-%m-%d %H:%M} UTC · {check.scheme}")
    for note in check.notes:
        st.caption(f"Note: {note}.")
    st.subheader("Per word")
    words = check.keyword_table()
    words["label"] = words["label"].map(_label_name)
    words["mostly_mistaken_for"] = words["mostly_mistaken_for"].map(lambda label: _label_name(label) if label else "")
    st.dataframe(
        words,
        hide_index=True,
        column_config={
            "label": "word",
            "accuracy": st.column_config.ProgressColumn("accuracy", min_value=0.0, max_value=1.0, format="percent"),
            "mostly_mistaken_for": "most often taken for",
        },
    )
    st.subheader("Per speaker")
    st.caption("Worst first.")
    st.dataframe(
        check.speaker_table(),
        hide_index=True,
        column_config={
            "speaker_id": "speaker",
            "accuracy": st.column_config.ProgressColumn("accuracy", min_value=0.0, max_value=1.0, format="percent"),
        },
    )
    st.subheader("Confusions")
    st.caption(
        "Rows: the word a clip is filed under. Columns: what the model heard. Right answers are on the diagonal."
    )
    confusion = check.confusion_table().rename(index=_label_name, columns=_label_name)
    st.dataframe(confusion.rename_axis(index="filed as", columns="heard as"))


def doubted_clips_ui(store: ClipStore, check: ModelCheck, limit: int) -> None:
    """The ``limit`` most doubted clips: a player, the word filed and the model's guess, a link into Review."""
    doubted = check.doubted(limit)
    if doubted.empty:
        st.caption("No clips.")
        return
    for row in doubted.itertuples():
        with st.container(border=True):
            try:
                status = store.review_state(row.clip_id).status
                st.audio(store.read_flac(row.audio_key), format="audio/flac")
            except StoreError:
                st.caption(f"Clip {row.clip_id} has been deleted since the check.")
                continue
            guess = "the same word" if row.guess == row.label else f"**{_label_name(row.guess)}**"
            odds = "under 1 %" if row.own_probability < 0.005 else f"{row.own_probability:.0%}"
            st.markdown(
                f"Filed as **{word_label(row.keyword)}**; the model hears {guess} "
                f"(it gives “{word_label(row.keyword)}” {odds})."
            )
            st.caption(f"speaker {row.speaker_id} · {status}")
            st.page_link(REVIEW_PAGE, label="Open in Review", icon="🎧", query_params={"clip": row.clip_id})
    doubted_count = len(check.doubted_clip_ids())
    st.caption(f"{doubted_count:,} clips in all are doubted (the model gives their own word less than even odds).")


def _label_name(label: str) -> str:
    return "other words" if label == UNKNOWN_LABEL else word_label(label)

"""Review (organizers): one clip at a time, accept, reject, re-label, skip or undo, by keyboard too."""

from collections.abc import Callable
from contextlib import suppress
from functools import partial

import streamlit as st

from speechrec.campaign import SOURCES, STATUSES
from speechrec.decode import read_audio_bytes
from speechrec.errors import AudioError, StaleReviewError, StoreError
from speechrec.quality import describe_flags
from speechrec.records import ReviewState
from speechrec.review import (
    ANY,
    AUDIO_MISSING,
    FLAG_CHOICES,
    NO_VARIATION,
    REJECT_REASONS,
    REVIEW_COUNT_LIMIT,
    ReviewFilter,
    changed_meanwhile,
    take_details,
    to_go_label,
    word_label,
)
from speechrec.ui import state
from speechrec.ui.auth import require_organizer, reviewer_name
from speechrec.ui.participants import withdraw_speaker_ui
from speechrec.ui.resources import campaign_and_store_ui
from speechrec.ui.text import plain
from speechrec.ui.waveform import waveform_chart

require_organizer("review")
reviewer = reviewer_name()
campaign, store = campaign_and_store_ui()
st.title("Review")
state.show_notice()

with st.expander("Filters", expanded=False):
    word_column, speaker_column = st.columns(2)
    keywords = word_column.multiselect("Words", sorted(set(campaign.words) | set(store.keywords())), key="review_words")
    speakers = speaker_column.multiselect("Speakers", store.speaker_ids(), key="review_speakers")
    status_column, flag_column = st.columns(2)
    status = status_column.selectbox("Status", [*STATUSES, ANY], key="review_status")
    flag = flag_column.selectbox("Quality", FLAG_CHOICES, key="review_flag")
    source_column, days_column = st.columns(2)
    sources = source_column.multiselect("Recorded with", SOURCES, key="review_sources")
    picked_days = days_column.date_input("Recorded between (UTC days)", value=(), key="review_days")
    days = tuple(picked_days) if len(picked_days) == 2 else None
    variations = []
    if campaign.variations:
        options = [item.name for item in campaign.variations] + [NO_VARIATION]
        variations = st.multiselect("Variations", options, key="review_variations")
    model = store.doubt_check()  # the newest model check's, kept in the store for every replica
    order_column, doubted_column = st.columns(2)
    no_check = {"disabled": model is None, "help": "Run the Model check first." if model is None else None}
    doubtful_first = order_column.toggle("Doubtful clips first", True, key="review_doubtful_first", **no_check)
    doubted_only = doubted_column.toggle("Only clips the model doubts", key="review_doubted", **no_check)
# What the organizer was looking at when they clicked: the clip as the previous run showed it.
shown_before = st.session_state[state.REVIEW_SEEN]
if linked := st.query_params.pop("clip", None):  # "Open in Review" on the Model check page
    st.session_state[state.REVIEW_DONE] = [done for done in st.session_state[state.REVIEW_DONE] if done != linked]
    with suppress(StoreError):  # deleted meanwhile: the queue goes on
        shown_before = (linked, store.review_state(linked))


def mark_done(clip_id: str) -> None:
    """The clip is handled in this review session and is not shown again."""
    st.session_state[state.REVIEW_DONE] = [*st.session_state[state.REVIEW_DONE], clip_id]


def current_review(error: StaleReviewError) -> tuple:
    """Who changed the clip and to what, from a refused decision."""
    current = error.current
    return current.reviewer, current.status, current.reason, current.keyword


def decide_ui(clip_id: str, decide: Callable[[], ReviewState], message: str) -> None:
    """Write a decision made on the clip as it was shown; remember it for undo and show the next
    clip. One made on a clip someone else changed meanwhile is refused: the clip is shown again."""
    try:
        previous = decide()
    except StaleReviewError as error:
        state.leave_notice(
            "warning", f"Not saved: {changed_meanwhile(*current_review(error))} Look at it again and decide."
        )
        st.rerun()
    except StoreError:
        state.leave_notice(
            "warning", "Not saved: this clip no longer exists (its volunteer withdrew). Here is the next one."
        )
        mark_done(clip_id)
        st.rerun()
    state.leave_notice("success", message)
    st.session_state[state.LAST_DECISION] = (clip_id, previous)
    mark_done(clip_id)
    st.rerun()


last = st.session_state[state.LAST_DECISION]
if last and st.button("Undo the last decision", shortcut="u"):
    try:
        store.restore(*last)
    except StaleReviewError as error:
        state.leave_notice("warning", f"Not undone: {changed_meanwhile(*current_review(error))} That decision stands.")
    except StoreError:
        state.leave_notice("warning", "Not undone: this clip no longer exists (its volunteer withdrew).")
    else:
        state.leave_notice("success", "Undone.")
        st.session_state[state.REVIEW_DONE] = [done for done in st.session_state[state.REVIEW_DONE] if done != last[0]]
    st.session_state[state.LAST_DECISION] = None
    st.rerun()

queue = ReviewFilter(
    keywords=keywords,
    speakers=speakers,
    sources=sources,
    variations=variations,
    days=days,
    status=status,
    flag=flag,
    exclude=st.session_state[state.REVIEW_DONE],
    doubted_only=bool(model and doubted_only),
    doubt_first=bool(model and doubtful_first),
)
clip = store.next_to_review(queue, shown=shown_before[0] if shown_before else None)
with st.sidebar.expander("Withdraw a volunteer"):
    withdraw_speaker_ui(store)
if shown_before and (clip is None or clip.clip_id != shown_before[0]) and not store.clip_exists(shown_before[0]):
    st.warning("The clip shown before no longer exists (its volunteer withdrew); nothing was saved for it.")
if clip is None:
    st.info("Nothing to review with these filters. 🎉")
    st.stop()
# A decision is made on the clip as the organizer saw it (the previous run), not as it is now.
seen = shown_before[1] if shown_before and shown_before[0] == clip.clip_id else clip.review_state
st.session_state[state.REVIEW_SEEN] = (clip.clip_id, clip.review_state)
to_go = to_go_label(store.count_to_review(queue, limit=REVIEW_COUNT_LIMIT))
st.caption(plain(f"{to_go} to go · speaker {clip.speaker_id} · {clip.created_at:%Y-%m-%d %H:%M} UTC · {clip.source}"))
if model and doubtful_first:
    st.caption(f"Doubtful clips first, by the model check of {model.checked_at:%Y-%m-%d %H:%M} UTC.")
st.markdown(f"## {plain(word_label(clip.keyword))}")
details = take_details(clip.variation, clip.near_miss_of)
if details:
    st.caption(plain(details))
quality = clip.quality
if quality.flags:
    st.warning("Quality: " + "; ".join(describe_flags(quality.flags)))
try:
    flac = store.read_flac(clip.audio_key)
    samples, sample_rate = read_audio_bytes(flac)
except (StoreError, AudioError) as error:  # a file deleted by hand, a partial restore: decide or skip
    audio_missing = True
    st.error(
        plain(
            f"The audio of this clip is missing or unreadable ({error}). Reject it (reason: {AUDIO_MISSING}) "
            "or skip it. `python -m speechrec check` lists every clip without audio."
        )
    )
else:
    audio_missing = False
    st.audio(flac, format="audio/flac", autoplay=True)
    st.altair_chart(waveform_chart(samples, sample_rate, campaign.clip_duration_s), width="stretch")
level = "—" if quality.speech_level_dbfs is None else f"{quality.speech_level_dbfs:.0f} dBFS"
snr = "—" if quality.snr_db is None else f"{quality.snr_db:.0f} dB"
st.caption(f"speech {level} · SNR {snr} · peak {quality.peak_dbfs:.1f} dBFS · {quality.duration_s:.2f} s")

accept_column, reject_column, skip_column = st.columns(3)
accept_help = "There is no audio to accept: reject it or skip it." if audio_missing else None
if accept_column.button(
    "Accept", type="primary", shortcut="a", width="stretch", disabled=audio_missing, help=accept_help
):
    decide_ui(
        clip.clip_id,
        partial(store.set_status, clip.clip_id, "accepted", reviewer=reviewer, expected=seen),
        "Accepted.",
    )
if skip_column.button("Skip", shortcut="s", width="stretch"):
    mark_done(clip.clip_id)
    st.rerun()
reasons = [*REJECT_REASONS, "other…"]
reason = reject_column.selectbox(
    "Reason",
    reasons,
    index=reasons.index(AUDIO_MISSING) if audio_missing else 0,
    key=f"reason-{audio_missing}",
    label_visibility="collapsed",
)
if reason == "other…":
    reason = reject_column.text_input("Reason", placeholder="why?", label_visibility="collapsed") or "other"
if reject_column.button("Reject", shortcut="x", width="stretch"):
    decide_ui(
        clip.clip_id,
        partial(store.set_status, clip.clip_id, "rejected", reason=reason, reviewer=reviewer, expected=seen),
        f"Rejected ({reason}).",
    )

other_words = [word for word in campaign.words if word != clip.keyword]
relabel_column, relabel_button_column = st.columns([3, 1], vertical_alignment="bottom")
new_word = relabel_column.selectbox("The volunteer actually said", other_words)
if relabel_button_column.button("Re-label", shortcut="l", width="stretch"):
    near_miss_of = campaign.near_miss_label(new_word)
    decide_ui(
        clip.clip_id,
        partial(store.relabel, clip.clip_id, new_word, near_miss_of=near_miss_of, reviewer=reviewer, expected=seen),
        f"Filed under “{new_word}”.",
    )

with st.expander(f"All of speaker {clip.speaker_id}"):
    theirs = store.clips(speaker_id=clip.speaker_id)
    st.dataframe(theirs[["keyword", "status", "flags", "created_at"]], hide_index=True)
    if st.button(f"Reject all {len(theirs)} clips of this speaker (e.g. a bad microphone)"):
        count = store.set_speaker_status(clip.speaker_id, "rejected", reason="speaker rejected", reviewer=reviewer)
        state.leave_notice("success", f"Rejected {count} clips of speaker {clip.speaker_id}.")
        st.rerun()

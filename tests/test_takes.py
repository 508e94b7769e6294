"""Keeping takes: quality verdicts in plain words, the session limit, and the fallback recorder's uploads."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from signals import load_word, scale_to_dbfs, steady_noise

from speechrec.campaign import NOISE_KEYWORD, Campaign, Variation
from speechrec.capture import CaptureResult, Outcome
from speechrec.prompts import build_schedule
from speechrec.takes import (
    TAKE_NOT_SAVED,
    keep_take,
    keep_upload,
    mic_check_passed,
    take_from_upload,
    volunteer_progress,
)

RATE = 48000
CAMPAIGN = Campaign(
    title="t",
    keywords=("yes", "no"),
    consent_text="ok",
    takes_per_keyword=1,
    filler_words=("cat",),
    background_noise_s=2,
)


def room(duration_s: float, seed: int = 0, level_dbfs: float = -60.0) -> np.ndarray:
    return steady_noise(duration_s, RATE, level_dbfs, seed=seed)


def spoken(word: str = "yes", level_dbfs: float = -25.0) -> np.ndarray:
    samples, _ = load_word(word, RATE, trim=True)
    return scale_to_dbfs(samples, level_dbfs).astype(np.float32)


def wav_bytes(samples: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, samples, RATE, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


@pytest.fixture
def fields(store, speaker_id):
    return {"speaker_id": speaker_id, "session_id": "session-1", "source": "audio_input", "consent_version": 1}


def test_a_good_take_is_stored_with_its_session_and_consent(store, fields):
    take = np.concatenate([room(0.4), spoken(), room(0.6, seed=1)])
    verdict = keep_take(store, CAMPAIGN, take, RATE, keyword="yes", **fields)
    assert verdict.stored and verdict.problems == ()
    row = store.clip(verdict.clip_id).to_row()
    assert (row["keyword"], row["session_id"], row["source"], row["consent_version"]) == (
        "yes",
        "session-1",
        "audio_input",
        1,
    )


@pytest.mark.parametrize(
    ("take", "problem"),
    [
        (room(1.5), "no word was heard"),
        (np.concatenate([room(0.4), spoken(level_dbfs=-52.0), room(0.6, seed=1)]), "too quiet"),
        (np.concatenate([room(0.4), np.clip(spoken(level_dbfs=-3.0) * 8, -1, 1), room(0.6, seed=1)]), "distorted"),
        (np.concatenate([spoken(), room(0.6, seed=1)]), "cut off"),
    ],
)
def test_an_unusable_take_is_not_stored_and_says_why(store, fields, take, problem):
    verdict = keep_take(store, CAMPAIGN, take.astype(np.float32), RATE, keyword="yes", **fields)
    assert not verdict.stored
    assert any(problem in text for text in verdict.problems)
    assert store.clips().empty


def test_background_noise_is_judged_by_length_not_speech(store, fields):
    assert keep_take(store, CAMPAIGN, room(2.0), RATE, keyword=NOISE_KEYWORD, **fields).stored
    short = keep_take(store, CAMPAIGN, room(1.0), RATE, keyword=NOISE_KEYWORD, **fields)
    assert short.problems == ("too short: record at least 2 seconds of your room",)


def test_a_session_stores_no_more_than_its_limit(store, fields):
    take = np.concatenate([room(0.4), spoken(), room(0.6, seed=1)])
    limit = 3 * 3  # MAX_TAKES_FACTOR x (2 keywords x 1 take + 1 filler)
    for _ in range(limit):
        assert keep_take(store, CAMPAIGN, take, RATE, keyword="yes", **fields).stored
    verdict = keep_take(store, CAMPAIGN, take, RATE, keyword="yes", **fields)
    assert not verdict.stored and "the most one session may keep" in verdict.problems[0]
    assert len(store.clips()) == limit


def test_a_word_outside_the_campaign_is_refused(store, fields):
    with pytest.raises(ValueError, match="word 'maybe' is not one of the campaign's words"):
        keep_take(store, CAMPAIGN, room(1.0), RATE, keyword="maybe", **fields)


def test_an_upload_is_cut_to_its_take_like_live_capture(store, fields):
    recording = np.concatenate([room(1.5), spoken(), room(1.5, seed=1)])
    verdict = keep_upload(store, CAMPAIGN, wav_bytes(recording), keyword="yes", **fields)
    assert verdict.stored
    duration_s = store.clip(verdict.clip_id).duration_s
    assert 0.9 < duration_s < 1.6  # pre-roll + word + post-roll, not the whole 3.4 s


@pytest.mark.parametrize(
    ("recording", "problem"),
    [
        (room(2.0), "no word was heard"),
        (
            np.concatenate([room(1.0), spoken(), room(1.0, seed=1), spoken("no"), room(1.0, seed=2)]),
            "more than one word",
        ),
    ],
)
def test_uploads_without_exactly_one_word(store, fields, recording, problem):
    verdict = keep_upload(store, CAMPAIGN, wav_bytes(recording), keyword="yes", **fields)
    assert not verdict.stored and problem in verdict.problems[0]


def test_an_upload_that_stops_mid_word_is_flagged_cut_off(store, fields):
    word = spoken()
    recording = np.concatenate([room(1.0), word[: len(word) // 2]])
    verdict = keep_upload(store, CAMPAIGN, wav_bytes(recording), keyword="yes", **fields)
    assert not verdict.stored and any("cut off" in text for text in verdict.problems)


def test_an_unreadable_upload_asks_to_record_again(store, fields):
    verdict = keep_upload(store, CAMPAIGN, b"not audio at all", keyword="yes", **fields)
    assert not verdict.stored and "cannot be decoded" in verdict.problems[0]
    assert verdict.problems[0].endswith("please record again")


def test_background_noise_upload_is_kept_whole(store, fields):
    verdict = keep_upload(store, CAMPAIGN, wav_bytes(room(2.5)), keyword=NOISE_KEYWORD, **fields)
    assert verdict.stored
    assert store.clip(verdict.clip_id).duration_s == pytest.approx(2.5, abs=0.01)


def test_take_from_recording_returns_the_exact_samples():
    recording = np.concatenate([room(1.0), spoken(), room(1.0, seed=1)])
    take, problem = take_from_upload(recording, RATE, CAMPAIGN)
    assert problem == ""
    start = next(i for i in range(len(recording)) if np.array_equal(recording[i : i + 64], take[:64]))
    np.testing.assert_array_equal(recording[start : start + len(take)], take)


@pytest.mark.parametrize(
    ("outcome", "samples", "passed"),
    [
        (Outcome.TAKE, np.concatenate([room(0.4), spoken(), room(0.6, seed=1)]), True),
        (Outcome.TAKE, np.concatenate([room(0.4), spoken(level_dbfs=-52.0), room(0.6, seed=1)]), False),
        (Outcome.TAKE, np.concatenate([spoken(), room(0.6, seed=1)]), True),  # cut off is fine for a check
        (Outcome.NOTHING_HEARD, np.zeros(0, np.float32), False),
    ],
)
def test_mic_check(outcome, samples, passed):
    assert mic_check_passed(CaptureResult(outcome, samples.astype(np.float32), RATE, 0)) is passed


def test_a_take_the_store_cannot_keep_is_refused_and_the_next_one_works(store, fields):
    take = np.concatenate([room(0.4), spoken(), room(0.6, seed=1)])
    # A file where the speaker's audio folder belongs: the audio write fails for real.
    blocker = Path(store.settings.storage_url) / "clips" / fields["speaker_id"]
    blocker.parent.mkdir(parents=True, exist_ok=True)
    blocker.write_bytes(b"")
    verdict = keep_take(store, CAMPAIGN, take, RATE, keyword="yes", **fields)
    assert not verdict.stored and verdict.problems == (TAKE_NOT_SAVED,)
    assert store.clips().empty  # nothing half-stored is visible
    blocker.unlink()
    assert keep_take(store, CAMPAIGN, take, RATE, keyword="yes", **fields).stored


VARIED = Campaign(
    title="t",
    keywords=("hey jarvis", "hey robot"),
    consent_text="ok",
    takes_per_keyword=2,
    variations=(Variation("soft", "Say it softly."), Variation("loud", "Say it loudly.")),
    near_misses={"hey jarvis": ("hey", "jarvis"), "hey robot": ("hey",)},
)


def test_a_take_keeps_its_variation_and_a_near_miss_its_keywords(store, fields):
    take = np.concatenate([room(0.4), spoken(), room(0.6, seed=1)])
    soft = keep_take(store, VARIED, take, RATE, keyword="hey jarvis", variation="soft", **fields)
    near = keep_take(store, VARIED, take, RATE, keyword="hey", **fields)
    jarvis = keep_take(store, VARIED, take, RATE, keyword="jarvis", **fields)
    assert (store.clip(soft.clip_id).variation, store.clip(soft.clip_id).near_miss_of) == ("soft", None)
    assert (store.clip(near.clip_id).variation, store.clip(near.clip_id).near_miss_of) == (None, "hey jarvis|hey robot")
    assert store.clip(jarvis.clip_id).near_miss_of == "hey jarvis"


def test_a_variation_the_campaign_does_not_ask_for_is_refused(store, fields):
    with pytest.raises(ValueError, match="variation 'whisper' is not one of the campaign's variations"):
        keep_take(store, VARIED, room(1.0), RATE, keyword="hey jarvis", variation="whisper", **fields)
    assert store.clips().empty


def test_volunteer_progress_follows_the_schedule_by_variation(store, fields):
    schedule = build_schedule(VARIED, fields["speaker_id"])
    take = np.concatenate([room(0.4), spoken(), room(0.6, seed=1)])
    for prompt in schedule[:3]:
        assert keep_take(store, VARIED, take, RATE, keyword=prompt.word, variation=prompt.variation, **fields).stored
    now = volunteer_progress(store, VARIED, fields["speaker_id"]).progress
    assert (now.done, now.total) == (3, len(schedule))
    assert (now.next_word, now.next_variation) == schedule[3]

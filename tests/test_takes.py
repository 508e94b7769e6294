"""Keeping takes: quality verdicts in plain words, the session limit, and the fallback recorder's uploads."""

from __future__ import annotations

import io
import json
from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from signals import QUIRKS_DIR, TRANSIENTS, add_at, hum, load_word, scale_to_dbfs, steady_noise, transient, webrtc_frame

from speechrec import audio
from speechrec.campaign import NOISE_KEYWORD, Campaign, Variation, load_campaign
from speechrec.capture import CaptureResult, Outcome
from speechrec.decode import frames_to_mono
from speechrec.prompts import build_rounds, build_schedule
from speechrec.quality import FLAG_DESCRIPTIONS, assess_take
from speechrec.store import ClipStore
from speechrec.takes import (
    NOISE_LENGTH_SLACK_S,
    PROCESSED_FLAG,
    ROOM_HAS_SPEECH,
    TAKE_NOT_SAVED,
    describe_level,
    keep_capture,
    keep_take,
    keep_upload,
    mic_check_passed,
    new_capture,
    room_speech_s,
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


def test_room_noise_is_judged_by_the_length_asked_for(store, fields):
    assert keep_take(store, CAMPAIGN, room(2.0 - NOISE_LENGTH_SLACK_S), RATE, keyword=NOISE_KEYWORD, **fields).stored
    short = keep_take(store, CAMPAIGN, room(1.5), RATE, keyword=NOISE_KEYWORD, **fields)
    # The length asked for (2 s) is the length enforced, and the message says both.
    assert short.problems == (
        "too short: 1.5 seconds were recorded and the room recording needs 2; let the countdown run to the end",
    )
    assert len(store.clips()) == 1


def noisy_room(duration_s: float, extra: np.ndarray, at_s: float) -> np.ndarray:
    recording = room(duration_s)
    start = round(at_s * RATE)
    recording[start : start + len(extra)] += extra
    return recording


@pytest.mark.parametrize(
    "recording",
    [
        noisy_room(3.0, spoken("up", -50.0), 1.0),  # one quiet short word
        noisy_room(3.0, spoken("yes", -25.0), 2.5),  # a word at the very end
        np.concatenate([spoken(word, -30.0) for word in ("yes", "no", "up", "down", "tum", "yes", "no", "up")]),
        noisy_room(3.0, steady_noise(0.15, RATE, -20.0, seed=3), 1.0),  # a door banging
    ],
    ids=["quiet-word", "word-at-the-end", "talking-throughout", "door"],
)
def test_room_noise_with_speech_in_it_is_refused_and_says_why(store, fields, recording):
    verdict = keep_take(store, CAMPAIGN, recording.astype(np.float32), RATE, keyword=NOISE_KEYWORD, **fields)
    assert not verdict.stored
    assert ROOM_HAS_SPEECH in verdict.problems
    assert store.clips().empty  # nothing stored, flagged or not


@pytest.mark.parametrize(
    "recording",
    [
        room(3.0),
        room(3.0) + hum(3.0, RATE, -45.0),
        noisy_room(3.0, np.full(round(0.005 * RATE), 0.3, np.float32), 1.0),  # a click
        np.zeros(3 * RATE, np.float32),
    ],
    ids=["steady", "hum", "click", "digital-silence"],
)
def test_room_noise_without_speech_is_kept_whole(store, fields, recording):
    verdict = keep_take(store, CAMPAIGN, recording.astype(np.float32), RATE, keyword=NOISE_KEYWORD, **fields)
    assert verdict.stored
    assert store.clip(verdict.clip_id).flags == ()


def test_speech_in_the_room_is_measured_by_the_quality_rule():
    assert room_speech_s(room(20.0), RATE) == 0.0
    assert 0.1 <= room_speech_s(noisy_room(20.0, spoken("yes"), 5.0), RATE) <= 0.5


@pytest.mark.parametrize(("raw", "flags"), [(True, ()), (None, ()), (False, (PROCESSED_FLAG,))])
def test_room_noise_the_browser_processed_is_kept_flagged(store, fields, raw, flags):
    verdict = keep_take(store, CAMPAIGN, room(2.0), RATE, keyword=NOISE_KEYWORD, raw=raw, **fields)
    assert store.clip(verdict.clip_id).flags == flags


@pytest.mark.parametrize("raw", [True, False, None])
def test_whether_a_word_take_was_raw_is_stored_with_it_and_never_flags_it(store, fields, raw):
    take = np.concatenate([room(0.4), spoken(), room(0.6, seed=1)])
    clip = store.clip(keep_take(store, CAMPAIGN, take, RATE, keyword="yes", raw=raw, **fields).clip_id)
    assert clip.raw is raw and clip.flags == ()
    upload = keep_upload(store, CAMPAIGN, wav_bytes(take), keyword="no", raw=raw, **fields)
    assert store.clip(upload.clip_id).raw is raw


@pytest.mark.parametrize(
    ("level_dbfs", "words"), [(-80.0, "too quiet"), (-46.0, "too quiet"), (-30.0, "good"), (-1.0, "too loud")]
)
def test_the_level_meter_says_what_a_level_means(level_dbfs, words):
    assert describe_level(level_dbfs) == words


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


@pytest.mark.parametrize("name", ["take.wav", "take-with-click.wav"])
def test_case_17_a_mouse_click_is_not_a_second_word(store, fields, name):
    data = (QUIRKS_DIR / "17-click" / name).read_bytes()
    verdict = keep_upload(store, load_campaign(QUIRKS_DIR / "campaign.toml"), data, keyword="dog", **fields)
    assert verdict.stored and verdict.problems == ()
    row = store.clip(verdict.clip_id)
    assert row.flags == ()
    assert row.quality.speech_end_s - row.quality.speech_start_s >= 0.25
    if name == "take.wav":
        assert row.duration_s == pytest.approx(1.100, abs=0.02)
        assert (row.quality.speech_start_s, row.quality.speech_end_s) == (
            pytest.approx(0.30, abs=0.04),
            pytest.approx(0.60, abs=0.04),
        )


# Where a transient lands in a 0.6 s room + word + 0.6 s room recording, from the word's start or end.
TRANSIENT_PLACES = {
    "0.1 s into the recording": ("start", 0.1),
    "0.15 s before the word": ("word", -0.15),
    "0.15 s after the word": ("end", 0.15),
    "0.4 s after the word": ("end", 0.4),
    "0.1 s before the end": ("stop", -0.1),
}


@pytest.mark.parametrize("kind", TRANSIENTS)
@pytest.mark.parametrize("place", TRANSIENT_PLACES)
@pytest.mark.parametrize(("name", "peak_dbfs"), [("yes", -12.0), ("up", -3.0), ("tum", -20.0)])
def test_a_click_or_pop_anywhere_in_an_upload_leaves_one_whole_word(store, fields, kind, place, name, peak_dbfs):
    spoken_word = spoken(name, level_dbfs=-32.0)
    recording = np.concatenate([room(0.6), spoken_word, room(0.6, seed=1)])
    word_start, word_end = 0.6, 0.6 + len(spoken_word) / RATE
    clean = audio.speech_span(recording, RATE)  # where the clean recording's speech is
    anchor, offset_s = TRANSIENT_PLACES[place]
    at_s = {"start": 0.0, "word": word_start, "end": word_end, "stop": len(recording) / RATE}[anchor] + offset_s
    recording = add_at(recording, transient(kind, RATE, peak_dbfs), at_s, RATE)
    take, problem = take_from_upload(recording, RATE, CAMPAIGN)
    assert problem == "", problem
    start = next(i for i in range(len(recording)) if np.array_equal(recording[i : i + 64], take[:64])) / RATE
    assert start <= word_start and word_end <= start + len(take) / RATE  # the take holds the whole word
    verdict = keep_take(store, CAMPAIGN, take, RATE, keyword="yes", **fields)
    assert verdict.stored, verdict.problems
    row = store.clip(verdict.clip_id)
    assert row.quality.speech_start_s <= clean[0] - start + 0.02 and row.quality.speech_end_s >= clean[1] - start - 0.02
    if len(take) > RATE:  # the exported second holds the whole word (a shorter take is kept whole)
        cut = audio.word_window_start(take, RATE, RATE) / RATE
        np.testing.assert_array_equal(audio.fit_to_window(take, RATE, 1.0), take[round(cut * RATE) :][:RATE])
        assert cut <= word_start - start and word_end - start <= cut + 1.0


def test_background_noise_upload_is_kept_whole(store, fields):
    verdict = keep_upload(store, CAMPAIGN, wav_bytes(room(2.5)), keyword=NOISE_KEYWORD, raw=True, **fields)
    assert verdict.stored and store.clip(verdict.clip_id).raw is True
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


# ---- lost frames in a live stream (issue 11, case 09) ------------------------------------------------


def live_takes(stream: np.ndarray, sample_rate: int, frame_samples: int, missing, per_poll: int, campaign=CAMPAIGN):
    """Feed int16 ``stream`` as the Record page does: WebRTC frames (those in ``missing`` never
    arrive), ``per_poll`` at a time, through frames_to_mono into a new capture. Returns the
    captures and the samples frames_to_mono reported lost."""
    frames = [
        webrtc_frame(stream[index * frame_samples : (index + 1) * frame_samples], index * frame_samples, sample_rate)
        for index in range(len(stream) // frame_samples)
        if index not in missing
    ]
    capture, next_pts, lost_samples, results = new_capture(campaign, sample_rate), None, 0, []
    for start in range(0, len(frames), per_poll):
        samples, next_pts, lost = frames_to_mono(frames[start : start + per_poll], next_pts)
        lost_samples += lost
        results += capture.feed(samples)
    return results, lost_samples


@pytest.mark.parametrize("case", ["all-frames.json", "lost-200ms.json"])
def test_case_09_a_take_with_lost_frames_keeps_its_timeline_and_is_refused(store, fields, case):
    folder = QUIRKS_DIR / "09-lost-frames"
    spec = json.loads((folder / case).read_text())
    stream, rate = sf.read(folder / spec["stream"], dtype="int16")
    campaign = load_campaign(QUIRKS_DIR / "campaign.toml")
    results, lost = live_takes(
        stream, rate, spec["frame_samples"], set(spec["missing_frames"]), spec["frames_per_poll"], campaign
    )
    assert lost == len(spec["missing_frames"]) * spec["frame_samples"]
    assert [result.outcome for result in results] == [Outcome.TAKE]
    take = results[0]
    assert len(take.samples) / rate == pytest.approx(1.180, abs=0.02)  # the real timeline, never spliced
    verdict = keep_capture(store, campaign, take, keyword="tum", **{**fields, "source": "webrtc"})
    if not spec["missing_frames"]:
        assert verdict.stored and take.lost_spans == ()
        row = store.clip(verdict.clip_id)
        assert row.flags == ()
        assert (row.quality.speech_start_s, row.quality.speech_end_s) == (
            pytest.approx(0.30, abs=0.04),
            pytest.approx(0.68, abs=0.04),
        )
        return
    assert [(start / rate, end / rate) for start, end in take.lost_spans] == [
        (pytest.approx(0.38, abs=0.02), pytest.approx(0.58, abs=0.02))
    ]
    start, end = take.lost_spans[0]
    assert not take.samples[start:end].any()  # silence where the audio was lost
    assert not verdict.stored and verdict.problems == (FLAG_DESCRIPTIONS["lost_audio"],)
    assert store.clips().empty


def stream_with_word(word: str, word_at_s: float, duration_s: float, rate: int, seed: int) -> tuple[np.ndarray, float]:
    """int16 live stream: room noise at -60 dBFS with ``word`` at -25 dBFS from ``word_at_s``; and the word's end."""
    spoken_word = scale_to_dbfs(load_word(word, rate, trim=True)[0], -25.0)
    stream = add_at(steady_noise(duration_s, rate, -60.0, seed=seed), spoken_word, word_at_s, rate)
    return np.round(stream * 32767).astype(np.int16), word_at_s + len(spoken_word) / rate


# (gap start relative to the word's start or end, gap length in seconds), and whether the word lost audio
GAPS = {
    "20 ms in the word": (("start", 0.1), 0.02, True),
    "200 ms in the word": (("start", 0.12), 0.2, True),
    "1 s from inside the word": (("start", 0.05), 1.0, True),
    "just before the word": (("start", -0.1), 0.08, True),
    "just after the word": (("end", 0.05), 0.1, True),
    "in the room, 0.6 s before the word": (("start", -0.6), 0.2, False),
    "in the pre-roll, 0.25 s before": (("start", -0.28), 0.06, False),
    "in the post-roll, 0.35 s after": (("end", 0.35), 0.1, False),
}


@pytest.mark.parametrize("gap", GAPS)
@pytest.mark.parametrize(
    ("word", "rate", "frame_samples", "per_poll"),
    [("yes", 48000, 960, 25), ("down", 48000, 480, 7), ("up", 44100, 441, 50)],
)
def test_lost_frames_anywhere_keep_the_timeline_and_a_word_missing_audio_is_refused(
    store, fields, gap, word, rate, frame_samples, per_poll
):
    word_at_s = 1.2
    stream, word_end_s = stream_with_word(word, word_at_s, 3.5, rate, seed=len(gap))
    (anchor, offset_s), length_s, word_lost = GAPS[gap]
    gap_start_s = (word_at_s if anchor == "start" else word_end_s) + offset_s
    first, last = round(gap_start_s * rate / frame_samples), round((gap_start_s + length_s) * rate / frame_samples)
    missing = set(range(first, max(last, first + 1)))
    clean, _ = live_takes(stream, rate, frame_samples, set(), per_poll)
    results, lost = live_takes(stream, rate, frame_samples, missing, per_poll)
    assert lost == len(missing) * frame_samples
    takes = [result for result in results if result.outcome is not Outcome.NOTHING_HEARD]
    assert len(takes) == 1 and len(clean) == 1
    take = takes[0]
    # The real timeline: the take starts where the clean one does, and every lost sample is silence at its place.
    assert take.start_sample == clean[0].start_sample
    for start, end in take.lost_spans:
        assert not take.samples[start:end].any()
        np.testing.assert_array_equal(take.samples[:start][-100:], clean[0].samples[:start][-100:])
    lost_in_take = {(take.start_sample + start) // frame_samples for start, _ in take.lost_spans}
    assert lost_in_take <= missing
    verdict = keep_capture(store, CAMPAIGN, take, keyword="yes", **{**fields, "source": "webrtc"})
    if word_lost:
        assert not verdict.stored and FLAG_DESCRIPTIONS["lost_audio"] in verdict.problems
    else:
        assert verdict.stored, verdict.problems
        assert store.clip(verdict.clip_id).duration_s == pytest.approx(len(take.samples) / rate)


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


@pytest.mark.parametrize("word", ["hey", "cat", NOISE_KEYWORD], ids=["near_miss", "filler", "room_noise"])
def test_a_variation_of_a_word_that_is_no_keyword_is_refused(store, fields, word):
    campaign = replace(VARIED, filler_words=("cat",))  # README: these are recorded in no variation
    with pytest.raises(ValueError, match=f"variation 'soft' asked for '{word}', which is no keyword"):
        keep_take(store, campaign, room(1.0), RATE, keyword=word, variation="soft", **fields)
    assert store.clips().empty


def test_volunteer_progress_follows_the_schedule_by_variation(store, fields):
    schedule = build_schedule(VARIED, fields["speaker_id"])
    take = np.concatenate([room(0.4), spoken(), room(0.6, seed=1)])
    for prompt in schedule[:3]:
        assert keep_take(store, VARIED, take, RATE, keyword=prompt.word, variation=prompt.variation, **fields).stored
    now = volunteer_progress(store, VARIED, fields["speaker_id"]).progress
    assert (now.done, now.total) == (3, len(schedule))
    assert (now.next_word, now.next_variation) == schedule[3]


def fill(store: ClipStore, speaker_id: str, words: list[str]) -> None:
    take = np.concatenate([room(0.4), spoken(), room(0.6, seed=1)])
    quality = assess_take(take, RATE)
    for word in words:
        store.add_clip(
            take,
            RATE,
            quality,
            keyword=getattr(word, "word", word),
            speaker_id=speaker_id,
            session_id="s",
            source="webrtc",
        )


def test_another_round_is_offered_after_the_first_and_a_reload_continues_it(store, speaker_id):
    campaign = replace(CAMPAIGN, rounds=2, background_noise_s=0)
    both_rounds = build_rounds(campaign, speaker_id, 2)
    fill(store, speaker_id, both_rounds[:3])
    done = volunteer_progress(store, campaign, speaker_id)
    assert done.progress.finished and (done.round, done.more_rounds) == (1, 1)
    asked = volunteer_progress(store, campaign, speaker_id, wanted_round=2)
    assert (asked.round, asked.more_rounds, asked.progress.done, asked.progress.total) == (2, 0, 3, 6)
    fill(store, speaker_id, both_rounds[3:4])
    reloaded = volunteer_progress(store, campaign, speaker_id)  # a new session: no wish, but a round begun
    assert (reloaded.round, reloaded.progress.done, reloaded.progress.next_word) == (2, 4, both_rounds[4].word)
    assert volunteer_progress(store, campaign, speaker_id, wanted_round=5).round == 2  # never past the campaign's


def test_skipped_prompts_and_a_skipped_room_step_move_the_volunteer_on(store, speaker_id):
    schedule = [prompt.word for prompt in build_rounds(CAMPAIGN, speaker_id, 1)]
    now = volunteer_progress(store, CAMPAIGN, speaker_id, skipped={schedule[0]: 1})
    assert (now.progress.done, now.progress.skipped, now.progress.next_word) == (1, 1, schedule[1])
    assert store.clips().empty  # a skip is never a take
    everything = volunteer_progress(store, CAMPAIGN, speaker_id, skipped=Counter(schedule))
    assert everything.progress.finished and everything.needs_noise
    skipped_room = volunteer_progress(store, CAMPAIGN, speaker_id, skipped={**Counter(schedule), NOISE_KEYWORD: 1})
    assert not skipped_room.needs_noise


# ---- the volunteer's language --------------------------------------------------------------------


def test_refused_takes_are_said_in_the_language_of_translate(store, fields):
    from speechrec.i18n import translator

    german = translator("de")
    quiet = np.concatenate([room(0.4), spoken(level_dbfs=-60.0), room(0.6, seed=1)])
    verdict = keep_take(store, CAMPAIGN, quiet, RATE, keyword="yes", translate=german, **fields)
    assert not verdict.stored and verdict.problems[0].startswith("zu leise: sprich lauter")
    unreadable = keep_upload(store, CAMPAIGN, b"not audio at all", keyword="yes", translate=german, **fields)
    assert unreadable.problems == (
        "die Aufnahme: lässt sich nicht lesen: sie ist beschädigt oder keine Audiodatei; bitte nimm noch einmal auf",
    )
    silence = keep_upload(store, CAMPAIGN, wav_bytes(room(2.0)), keyword="yes", translate=german, **fields)
    assert silence.problems == (
        "es war kein Wort zu hören: prüfe, ob das richtige Mikrofon an ist, und sag dann das Wort",
    )
    assert store.clips().empty

"""SpeechCapture fed with 20 ms blocks (as WebRTC delivers them) and with odd block sizes."""

from __future__ import annotations

import numpy as np
import pytest
from signals import TRANSIENTS, add_at, load_word, scale_to_dbfs, speech_burst, steady_noise, transient

from speechrec.capture import NO_SPEECH_TIMEOUT_S, POST_ROLL_S, PRE_ROLL_S, CaptureResult, Outcome, SpeechCapture
from speechrec.quality import assess_take

RATE = 48000
BLOCK = 960  # 20 ms at 48 kHz: one WebRTC audio frame


def room(duration_s: float, seed: int = 0) -> np.ndarray:
    return steady_noise(duration_s, RATE, -60.0, seed=seed)


def word(name: str = "yes", level_dbfs: float = -25.0) -> np.ndarray:
    samples, _ = load_word(name, RATE, trim=True)
    return scale_to_dbfs(samples, level_dbfs).astype(np.float32)


def feed_in_blocks(capture: SpeechCapture, stream: np.ndarray, sizes=(BLOCK,)) -> list[CaptureResult]:
    results, position, index = [], 0, 0
    while position < len(stream):
        size = sizes[index % len(sizes)]
        results += capture.feed(stream[position : position + size])
        position += size
        index += 1
    return results


def test_one_word_gives_one_take_with_silence_around_it():
    spoken = word()
    stream = np.concatenate([room(1.0), spoken, room(1.5, seed=1)])
    results = feed_in_blocks(SpeechCapture(RATE), stream)
    assert [result.outcome for result in results] == [Outcome.TAKE]
    take = results[0]
    word_start, word_end = RATE, RATE + len(spoken)
    # Pre-roll kept before the onset, the whole word, and the post-roll after it.
    assert take.start_sample <= word_start - round(PRE_ROLL_S * RATE) + 2 * BLOCK
    assert take.start_sample >= word_start - round(PRE_ROLL_S * RATE) - 2 * BLOCK
    assert take.start_sample + len(take.samples) >= word_end + round(POST_ROLL_S * RATE) - 2 * BLOCK
    assert assess_take(take.samples, RATE).flags == ()


@pytest.mark.parametrize("kind", TRANSIENTS)
@pytest.mark.parametrize("peak_dbfs", [-20.0, -3.0])
def test_clicks_and_pops_alone_give_no_take(kind, peak_dbfs):
    stream = room(6.0)
    for at_s in (0.5, 1.7, 2.9, 4.1):
        stream = add_at(stream, transient(kind, RATE, peak_dbfs), at_s, RATE)
    capture = SpeechCapture(RATE, timeout_s=3.0)
    results = feed_in_blocks(capture, stream) + [capture.flush()]
    outcomes = [result.outcome for result in results if result is not None]
    assert outcomes and set(outcomes) == {Outcome.NOTHING_HEARD}  # the volunteer is told nothing was heard


@pytest.mark.parametrize("kind", TRANSIENTS)
@pytest.mark.parametrize("gap_s", [0.1, 0.3, 0.8])
def test_a_click_before_the_word_still_gives_one_take_with_the_word(kind, gap_s):
    spoken = word("down", level_dbfs=-30.0)
    stream = add_at(np.concatenate([room(1.5), spoken, room(1.5, seed=1)]), transient(kind, RATE, -6.0), 1.5 - gap_s, RATE)
    results = feed_in_blocks(SpeechCapture(RATE), stream)
    assert [result.outcome for result in results] == [Outcome.TAKE]
    take = results[0]
    assert take.start_sample <= 1.5 * RATE and 1.5 * RATE + len(spoken) <= take.start_sample + len(take.samples)
    assert assess_take(take.samples, RATE).flags == ()


@pytest.mark.parametrize("offset", [0.01, 0.05, -0.2])
@pytest.mark.parametrize("name", ["yes", "down"])
def test_a_microphones_dc_offset_captures_the_same_take(offset, name):
    stream = np.concatenate([room(1.0), word(name, level_dbfs=-35.0), room(1.5, seed=1)])
    clean = feed_in_blocks(SpeechCapture(RATE), stream)
    shifted = feed_in_blocks(SpeechCapture(RATE), stream + np.float32(offset))
    assert [result.outcome for result in shifted] == [Outcome.TAKE]
    assert (shifted[0].start_sample, len(shifted[0].samples)) == (clean[0].start_sample, len(clean[0].samples))
    assert assess_take(shifted[0].samples, RATE).flags == ()


@pytest.mark.parametrize("sizes", [(BLOCK,), (1,), (333, 1701, 17, 4800), (RATE * 5,)])
def test_no_sample_is_lost_at_block_boundaries(sizes):
    stream = np.concatenate([room(0.8), word("no"), room(1.2, seed=2), word("up"), room(1.0, seed=3)])
    results = feed_in_blocks(SpeechCapture(RATE), stream, sizes)
    takes = [result for result in results if result.outcome is Outcome.TAKE]
    assert len(takes) == 2
    for take in takes:
        np.testing.assert_array_equal(take.samples, stream[take.start_sample : take.start_sample + len(take.samples)])


def test_block_size_does_not_change_the_takes():
    stream = np.concatenate([room(0.8), word("tum"), room(1.2, seed=2)])
    by_frames = feed_in_blocks(SpeechCapture(RATE), stream)
    by_odd_blocks = feed_in_blocks(SpeechCapture(RATE), stream, (777, 5))
    assert [(r.start_sample, len(r.samples)) for r in by_frames] == [
        (r.start_sample, len(r.samples)) for r in by_odd_blocks
    ]


def test_silence_only_times_out_as_nothing_heard():
    capture = SpeechCapture(RATE, timeout_s=2.0)
    results = feed_in_blocks(capture, room(4.5))
    assert [result.outcome for result in results] == [Outcome.NOTHING_HEARD, Outcome.NOTHING_HEARD]
    assert all(len(result.samples) == 0 for result in results)
    assert [result.start_sample for result in results] == [2 * RATE, 4 * RATE]


def test_loud_steady_noise_is_not_speech():
    results = feed_in_blocks(SpeechCapture(RATE), steady_noise(NO_SPEECH_TIMEOUT_S + 0.5, RATE, -20.0))
    assert [result.outcome for result in results] == [Outcome.NOTHING_HEARD]


def test_a_click_does_not_start_a_take():
    stream = room(1.5)
    stream[RATE : RATE + 200] += 0.5  # 4 ms: far shorter than the onset
    results = feed_in_blocks(SpeechCapture(RATE, timeout_s=1.4), stream)
    assert [result.outcome for result in results] == [Outcome.NOTHING_HEARD]


def test_speech_that_goes_on_is_cut_at_the_limit_then_waits_for_quiet():
    talking = speech_burst(4.0, RATE, level_dbfs=-25.0)
    stream = np.concatenate([room(1.0), talking, room(1.0, seed=4), word(), room(1.0, seed=5)])
    results = feed_in_blocks(SpeechCapture(RATE, max_take_s=2.0), stream)
    assert [result.outcome for result in results] == [Outcome.TOO_LONG, Outcome.TAKE]
    assert len(results[0].samples) == 2 * RATE
    # The rest of the long speech did not start a second take; the next word did.
    assert results[1].start_sample > RATE + len(talking)


def test_level_and_speaking_follow_the_audio():
    capture = SpeechCapture(RATE)
    capture.feed(room(1.0))
    assert not capture.speaking
    assert capture.level_dbfs == pytest.approx(-60.0, abs=2.0)
    assert capture.noise_floor_dbfs == pytest.approx(-60.0, abs=2.0)
    capture.feed(word()[: RATE // 4])
    assert capture.speaking


def test_restart_drops_the_take_in_progress():
    capture = SpeechCapture(RATE)
    capture.feed(np.concatenate([room(1.0), word()[: RATE // 4]]))
    assert capture.speaking
    capture.restart()
    assert not capture.speaking
    assert feed_in_blocks(capture, room(1.0, seed=6)) == []


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"max_take_s": 0.5}, ValueError, "max_take_s must be longer than"),
        ({"timeout_s": 0}, ValueError, "timeout_s must be positive"),
    ],
)
def test_bad_settings(kwargs, error, message):
    with pytest.raises(error, match=message):
        SpeechCapture(RATE, **kwargs)


@pytest.mark.parametrize(("rate", "error"), [(48000.0, TypeError), (10, ValueError)])
def test_bad_sample_rate(rate, error):
    with pytest.raises(error, match="sample_rate"):
        SpeechCapture(rate)


def test_blocks_must_be_mono_arrays():
    with pytest.raises(TypeError, match="mono numpy array"):
        SpeechCapture(RATE).feed(np.zeros((960, 2), np.float32))


def test_flush_returns_the_take_in_progress_once():
    capture = SpeechCapture(RATE)
    stream = np.concatenate([room(1.0), word()[: RATE // 4]])
    assert capture.feed(stream) == []
    take = capture.flush()
    assert take is not None and take.outcome is Outcome.TAKE
    np.testing.assert_array_equal(take.samples, stream[take.start_sample :])
    assert capture.flush() is None and not capture.speaking

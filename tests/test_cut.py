"""The exported window (speechrec.cut) and background noise assembled from takes (speechrec.background)."""

from __future__ import annotations

import numpy as np
import pytest
from signals import make_take, rms_dbfs, steady_noise, tone

from speechrec import audio
from speechrec.background import PER_SPEAKER_S, NoiseCollector, join_with_crossfades
from speechrec.cut import MIN_ROOM_NOISE_S, SPEECH_GUARD_S, cut_clip, room_noise, room_noise_parts
from speechrec.decode import to_pcm16

RATE = 16000


def take_and_span(**kw) -> tuple[np.ndarray, tuple[float, float]]:
    samples = make_take(sample_rate=RATE, **kw)
    return samples, audio.speech_span(samples, RATE)


@pytest.mark.parametrize(
    "take",
    [
        {"duration_s": 1.5, "offset_s": 0.1, "word": "yes"},  # word near the start
        {"duration_s": 1.5, "offset_s": 0.9, "word": "no"},  # word near the end
        {"duration_s": 0.7, "offset_s": 0.1, "word": "up"},  # shorter than a clip
        {"duration_s": 3.0, "offset_s": 2.3, "word": "down", "noise_dbfs": -45.0},
    ],
)
@pytest.mark.parametrize("dtype", ["float32", "int16"])
def test_the_speech_sits_in_the_middle_and_the_padding_is_the_takes_room_noise(take, dtype):
    samples, span = take_and_span(**take)
    source = to_pcm16(samples) if dtype == "int16" else samples
    clip = cut_clip(source, RATE, 1.0, span)
    assert clip.dtype == source.dtype and len(clip) == RATE
    floats = audio.to_mono(clip)
    found = audio.speech_span(floats, RATE)
    frame = audio.FRAME_S
    assert (found[0] + found[1]) / 2 == pytest.approx(0.5, abs=frame)  # centred, to the detector's frame
    assert found[0] >= 0.1 - frame and found[1] <= 0.9 + frame  # TensorFlow's ±100 ms shift keeps it whole
    # No digital silence anywhere: the padding is room noise at the take's own level.
    assert np.max(np.convolve(floats == 0, np.ones(32), "valid")) < 32
    noise_level = rms_dbfs(room_noise(samples, RATE, span))
    outside = np.concatenate([floats[: round((found[0] - 0.06) * RATE)], floats[round((found[1] + 0.06) * RATE) :]])
    assert rms_dbfs(outside) == pytest.approx(noise_level, abs=2.0)


def test_a_padding_continues_the_take_without_a_jump():
    samples, span = take_and_span(duration_s=1.2, offset_s=0.1, word="yes")
    clip = cut_clip(samples, RATE, 1.0, span)
    start = round((span[0] + span[1]) / 2 * RATE - RATE / 2)
    assert start < 0  # the window begins before the take
    assert clip[-start - 1] == clip[-start] == samples[0]  # the mirrored noise meets the take's first sample


def test_the_old_cut_is_the_loudest_window_unchanged():
    for take in ({"duration_s": 1.5, "offset_s": 0.2}, {"duration_s": 0.6, "offset_s": 0.1}):
        samples, span = take_and_span(**take, word="yes")
        for source in (samples, to_pcm16(samples)):
            assert np.array_equal(cut_clip(source, RATE, 1.0, span, "loudest"), audio.fit_to_window(source, RATE, 1.0))


def test_without_a_speech_span_the_loudest_window_is_the_fallback():
    samples = make_take(sample_rate=RATE, duration_s=1.5, offset_s=0.2, word="no")
    assert np.array_equal(cut_clip(samples, RATE, 1.0, None), audio.fit_to_window(samples, RATE, 1.0))


def test_too_little_room_noise_pads_with_digital_silence():
    # The word fills the take up to SPEECH_GUARD_S of its edges: no room noise to pad with.
    samples = make_take(sample_rate=RATE, duration_s=0.5, offset_s=0.02, noise_dbfs=None, burst_s=0.46)
    span = audio.speech_span(samples, RATE)
    assert len(room_noise(samples, RATE, span)) < MIN_ROOM_NOISE_S * RATE
    clip = cut_clip(samples, RATE, 1.0, span)
    assert len(clip) == RATE and clip[:100].max() == clip[-100:].max() == 0.0


def test_a_word_longer_than_the_clip_keeps_its_middle():
    samples = make_take(sample_rate=RATE, duration_s=2.0, offset_s=0.3, burst_s=1.4)
    span = audio.speech_span(samples, RATE)
    clip = cut_clip(samples, RATE, 1.0, span)
    start = round((span[0] + span[1]) / 2 * RATE - RATE / 2)
    assert np.array_equal(clip, samples[start : start + RATE])


def test_room_noise_keeps_a_guard_from_the_speech_and_leaves_out_a_words_quiet_tail():
    room = steady_noise(1.0, RATE, -60.0)
    guard = round(SPEECH_GUARD_S * RATE)
    parts = room_noise_parts(room, RATE, (0.3, 0.6))
    assert [len(part) for part in parts] == [round(0.3 * RATE) - guard, RATE - round(0.6 * RATE) - guard]
    assert np.array_equal(parts[0], room[: len(parts[0])]) and np.array_equal(parts[1], room[-len(parts[1]) :])
    # A tail 20 dB over the room that the span missed (0.6-0.8 s) is not room noise.
    tailed = room.copy()
    tailed[round(0.6 * RATE) : round(0.8 * RATE)] += tone(300.0, 0.2, RATE, 0.01 * np.sqrt(2))
    trail = room_noise_parts(tailed, RATE, (0.3, 0.6))[1]
    assert RATE - round(0.8 * RATE) - round(0.02 * RATE) <= len(trail) <= RATE - round(0.8 * RATE)
    assert room_noise_parts(room, RATE, None) == []
    assert room_noise_parts(room, RATE, (0.0, 1.0)) == []


@pytest.mark.parametrize("cut, duration_s", [("middle", 1.0), ("speech", 0.00001)])
def test_bad_cuts_are_refused(cut, duration_s):
    with pytest.raises(ValueError, match=r"cut must be one of speech, loudest|at least one sample"):
        cut_clip(np.zeros(100, np.float32), RATE, duration_s, (0.0, 0.001), cut)


def test_joined_noise_keeps_its_level_and_has_no_clicks():
    pieces = [to_pcm16(steady_noise(0.3, RATE, -40.0, seed=seed)) for seed in range(20)]
    joined = join_with_crossfades(pieces, RATE)
    fade = round(0.01 * RATE)
    assert len(joined) == sum(len(piece) for piece in pieces) - 19 * fade
    assert rms_dbfs(joined / 32768) == pytest.approx(-40.0, abs=0.5)
    # Equal-power fades: no dip or bump at the joins (10 ms windows around each).
    levels = [
        rms_dbfs(joined[end - fade : end + fade] / 32768) for end in np.cumsum([len(p) - fade for p in pieces])[:-1]
    ]
    assert max(abs(level + 40.0) for level in levels) < 2.5


def test_noise_is_gathered_per_speaker_up_to_a_minute_and_pooled_when_short():
    collector = NoiseCollector(RATE)
    piece = to_pcm16(steady_noise(0.5, RATE, -50.0))
    for _ in range(200):  # 100 s offered
        collector.add("aaaaaaaa", [piece, piece])
    collector.add("bbbbbbbb", [piece, piece])  # 1 s: too little for a file of its own (1.1 s)
    collector.add("cccccccc", [piece, piece[:100]])  # a piece under 50 ms is dropped
    files = collector.files(1.0)
    assert [file.name for file in files] == ["aaaaaaaa_around_words.wav", "mixed_around_words.wav"]
    assert PER_SPEAKER_S * RATE <= len(files[0].samples) + 120 * round(0.01 * RATE) < (PER_SPEAKER_S + 1) * RATE
    assert files[0].takes == 60 and files[1].takes == 2
    assert len(files[1].samples) == 3 * len(piece) - 2 * round(0.01 * RATE)
    assert NoiseCollector(RATE).files(1.0) == []

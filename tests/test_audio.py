"""Pure DSP: mono conversion, resampling, levels, loudest window, fitting a take to the clip length."""

from __future__ import annotations

import numpy as np
import pytest
from signals import SPEECH_PAD_S, TRANSIENTS, add_at, load_word, make_take, speech_burst, steady_noise, tone, transient

from speechrec import audio
from speechrec.errors import AudioError


def fft_peak_hz(samples: np.ndarray, sample_rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.fft.rfftfreq(len(samples), 1.0 / sample_rate)[np.argmax(spectrum)])


# ---- to_mono ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dtype", "full_scale"),
    [(np.int16, 32768), (np.int32, 2**31), (np.int8, 128)],
)
def test_to_mono_scales_signed_integers(dtype, full_scale):
    info = np.iinfo(dtype)
    samples = np.array([0, info.max, info.min, full_scale // 2], dtype=dtype)
    mono = audio.to_mono(samples)
    assert mono.dtype == np.float32
    np.testing.assert_allclose(mono, [0.0, info.max / full_scale, -1.0, 0.5], atol=1e-7)


def test_to_mono_centres_unsigned_8_bit():
    mono = audio.to_mono(np.array([0, 128, 255, 192], dtype=np.uint8))
    np.testing.assert_allclose(mono, [-1.0, 0.0, 127 / 128, 0.5])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_to_mono_keeps_float_and_clips_to_range(dtype):
    mono = audio.to_mono(np.array([0.25, -0.5, 1.5, -2.0], dtype=dtype))
    assert mono.dtype == np.float32
    np.testing.assert_array_equal(mono, np.array([0.25, -0.5, 1.0, -1.0], dtype=np.float32))


def test_to_mono_averages_equal_channels():
    stereo = np.array([[0.5, 0.5], [1.0, 1.0], [0.2, 0.2], [-0.4, -0.4]], dtype=np.float32)
    mono = audio.to_mono(stereo)
    assert mono.shape == (4,)
    np.testing.assert_allclose(mono, stereo[:, 0], atol=1e-7)


def test_to_mono_scales_integer_channels():
    stereo = np.array([[16384, 16384], [32767, 32767], [-32768, -32768]], dtype=np.int16)
    np.testing.assert_allclose(audio.to_mono(stereo), [0.5, 32767 / 32768, -1.0], atol=1e-7)


def spoken_and_room(level_dbfs: float, seed: int, rate: int = 16000) -> tuple[np.ndarray, np.ndarray]:
    """A take of a shipped word and, sample for sample, its room noise alone (the other mic)."""
    word = ("yes", "no", "up", "down", "tum")[seed % 5]
    take = make_take(sample_rate=rate, word=word, level_dbfs=level_dbfs, noise_dbfs=-65.0, seed=seed)
    return take, steady_noise(len(take) / rate, rate, -65.0, seed=seed + 100)[: len(take)]


# Each layout: the channels built from (voice, other), where ``other`` is a channel without the voice.
LAYOUTS = {
    "left-only, right hissing": lambda v, o: [v, o * 10 ** (-30 / 20)],
    "right-only, left dead": lambda v, o: [np.zeros_like(v), v],
    "right inverted": lambda v, o: [v, -v],
    "left inverted, right 1 dB down": lambda v, o: [-v, v * 10 ** (-1 / 20)],
    "copied to both": lambda v, o: [v, v],
    "4 channels, voice on the third": lambda v, o: [o, o * 0.1, v, np.zeros_like(v)],
    "6 channels, voice on two in phase": lambda v, o: [o * 0.2, v, o * 0.1, v, o * 0.3, o * 0.05],
    "two microphones, the other 10 dB down": lambda v, o: [v, o + 0.3 * np.roll(v, 37)],
}


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize(("level_dbfs", "seed"), [(-40.0, 0), (-25.0, 1), (-12.0, 2)])
def test_downmix_keeps_the_voice_at_its_own_level(layout, level_dbfs, seed):
    voice, other = spoken_and_room(level_dbfs, seed)
    channels = np.stack(LAYOUTS[layout](voice, other), axis=1).astype(np.float32)
    mono = audio.to_mono(channels)
    assert mono.shape == voice.shape and mono.dtype == np.float32
    level = audio.power_to_dbfs(np.mean(mono.astype(np.float64) ** 2))
    assert level == pytest.approx(audio.power_to_dbfs(np.mean(voice.astype(np.float64) ** 2)), abs=1.0)
    assert abs(np.corrcoef(mono, voice)[0, 1]) > 0.99  # the voice itself, not cancelled nor blended


def test_downmix_of_silent_channels_is_silence():
    assert not audio.to_mono(np.zeros((1600, 3), dtype=np.float32)).any()


def test_to_mono_single_channel_column():
    column = np.linspace(-1, 1, 11, dtype=np.float32)[:, None]
    np.testing.assert_array_equal(audio.to_mono(column), column[:, 0])


@pytest.mark.parametrize("shape", [(), (2, 3, 4), (10, 0)])
def test_to_mono_refuses_bad_shapes(shape):
    with pytest.raises(ValueError, match=r"samples must have shape \(frames,\) or \(frames, channels\)"):
        audio.to_mono(np.zeros(shape, dtype=np.float32))


@pytest.mark.parametrize(
    ("samples", "message"),
    [
        ([0.1, 0.2], "samples must be a numpy array, got list"),
        (b"\x00\x01", "samples must be a numpy array, got bytes"),
        (None, "samples must be a numpy array, got NoneType"),
        (np.array([True, False]), "samples must be float or integer PCM, got dtype dtype\\('bool'\\)"),
        (np.array([1 + 2j]), "samples must be float or integer PCM, got dtype dtype\\('complex128'\\)"),
        (np.array(["a"]), "samples must be float or integer PCM"),
    ],
)
def test_to_mono_refuses_bad_types(samples, message):
    with pytest.raises(TypeError, match=message):
        audio.to_mono(samples)


# ---- resample -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sample_rate", "target_rate"), [(16000, 48000), (48000, 16000), (44100, 16000), (8000, 22050)]
)
def test_resample_keeps_duration_and_frequency(sample_rate, target_rate):
    samples = tone(1000.0, 0.5, sample_rate, amplitude=0.5)
    resampled = audio.resample(samples, sample_rate, target_rate)
    assert resampled.dtype == np.float32
    assert abs(len(resampled) - len(samples) * target_rate / sample_rate) <= 1
    assert fft_peak_hz(resampled, target_rate) == pytest.approx(1000.0, abs=target_rate / len(resampled))
    # The level survives too (the middle avoids the filter's edge transients).
    middle = resampled[len(resampled) // 4 : -len(resampled) // 4]
    assert np.sqrt(np.mean(middle.astype(np.float64) ** 2)) == pytest.approx(0.5 / np.sqrt(2), rel=0.01)


def test_resample_to_same_rate_is_unchanged():
    samples = steady_noise(0.1, 16000, -20)
    np.testing.assert_array_equal(audio.resample(samples, 16000, 16000), samples)


@pytest.mark.parametrize(
    ("sample_rate", "target_rate", "error", "message"),
    [
        (0, 16000, ValueError, "sample_rate must be between 1000 and 384000 Hz, got 0"),
        (16000, 500, ValueError, "sample_rate must be between 1000 and 384000 Hz, got 500"),
        (16000, 10**6, ValueError, "got 1000000"),
        (16000.0, 8000, TypeError, "sample_rate must be an int, got 16000.0"),
        ("16000", 8000, TypeError, "sample_rate must be an int, got '16000'"),
        (True, 8000, TypeError, "sample_rate must be an int, got True"),
    ],
)
def test_resample_refuses_bad_rates(sample_rate, target_rate, error, message):
    with pytest.raises(error, match=message):
        audio.resample(np.zeros(100, dtype=np.float32), sample_rate, target_rate)


# ---- levels -------------------------------------------------------------------------------------


def test_full_scale_square_is_0_dbfs():
    square = np.where(np.arange(16000) // 20 % 2 == 0, 1.0, -1.0).astype(np.float32)
    levels = audio.frame_levels_dbfs(square, 16000)
    assert levels.shape == (50,)
    np.testing.assert_allclose(levels, 0.0, atol=1e-9)


def test_full_scale_sine_is_minus_3_dbfs():
    levels = audio.frame_levels_dbfs(tone(1000.0, 1.0, 16000), 16000)
    np.testing.assert_allclose(levels, -3.0103, atol=0.01)


def test_half_scale_sine_is_minus_9_dbfs():
    levels = audio.frame_levels_dbfs(tone(500.0, 0.2, 48000, amplitude=0.5), 48000)
    np.testing.assert_allclose(levels, -9.0309, atol=0.01)


def test_digital_silence_is_silence_dbfs():
    levels = audio.frame_levels_dbfs(np.zeros(8000, dtype=np.float32), 16000)
    assert levels.shape == (25,)
    assert np.all(levels == audio.SILENCE_DBFS)
    assert np.all(np.isfinite(levels))


def test_frame_levels_drop_partial_frame_but_measure_a_short_take():
    assert audio.frame_levels_dbfs(tone(1000.0, 330 / 16000, 16000), 16000).shape == (1,)
    short = audio.frame_levels_dbfs(tone(1000.0, 0.01, 16000), 16000)
    # Half a frame of a full-scale sine (-3 dBFS), padded with silence to one frame: half the power.
    np.testing.assert_allclose(short, [-6.0206], atol=0.01)


@pytest.mark.parametrize("offset", [0.005, 0.02, -0.1, 0.5])
@pytest.mark.parametrize("sample_rate", [16000, 48000])
def test_a_dc_offset_is_no_part_of_any_frame_level(offset, sample_rate):
    take = make_take(sample_rate=sample_rate, word="down", level_dbfs=-30.0, noise_dbfs=-60.0, seed=2)
    with_offset = take + np.float32(offset)
    np.testing.assert_allclose(
        audio.frame_levels_dbfs(with_offset, sample_rate), audio.frame_levels_dbfs(take, sample_rate), atol=0.01
    )
    assert np.all(audio.frame_levels_dbfs(np.full(4000, offset, np.float32), sample_rate) == audio.SILENCE_DBFS)


def test_a_drifting_offset_is_not_taken_for_sound():
    drift = np.linspace(-0.05, 0.05, 32000, dtype=np.float32)  # 0.1 full scale over 2 s
    room = steady_noise(2.0, 16000, -60.0)
    assert audio.noise_floor_dbfs(audio.frame_levels_dbfs(room + drift, 16000)) == pytest.approx(-60.0, abs=1.0)


@pytest.mark.parametrize("dtype", [np.float32, np.int16])
def test_remove_dc_keeps_the_dtype_and_centres(dtype):
    take = make_take(word="no", level_dbfs=-25.0) + np.float32(0.02)
    samples = (take * 32768).astype(np.int16) if dtype == np.int16 else take
    centred = audio.remove_dc(samples)
    assert centred.dtype == dtype and centred.shape == samples.shape
    scale = 32768 if dtype == np.int16 else 1
    assert abs(np.mean(centred, dtype=np.float64)) / scale < 1e-4
    np.testing.assert_allclose(centred / scale, (take - np.mean(take, dtype=np.float64)), atol=2 / 32768)


def test_noise_floor_of_steady_noise():
    levels = audio.frame_levels_dbfs(steady_noise(2.0, 16000, -50.0), 16000)
    assert audio.noise_floor_dbfs(levels) == pytest.approx(-50.0, abs=1.0)


@pytest.mark.parametrize("count", [1, 2, 9, 10, 11, 75, 76, 1001])
def test_noise_floor_is_the_interpolated_percentile(count):
    levels = np.random.default_rng(count).uniform(-90.0, -10.0, count)
    expected = np.percentile(levels, audio.NOISE_FLOOR_PERCENTILE)
    assert audio.noise_floor_dbfs(levels) == pytest.approx(expected, rel=1e-12, abs=1e-12)


def test_steady_noise_has_no_speech_frames():
    levels = audio.frame_levels_dbfs(steady_noise(2.0, 16000, -15.0), 16000)
    assert not audio.speech_frame_mask(levels).any()


def test_short_click_is_not_speech():
    take = steady_noise(1.0, 16000, -60.0)
    take[8000:8160] = 0.5  # 10 ms: shorter than MIN_SPEECH_RUN_S
    assert audio.speech_span(take, 16000) is None


# ---- loudest_window_start -----------------------------------------------------------------------


def brute_force_loudest(samples: np.ndarray, window_length: int) -> int:
    squares = samples.astype(np.float64) ** 2
    energies = [np.sum(squares[i : i + window_length]) for i in range(len(samples) - window_length + 1)]
    return int(np.argmax(energies))  # argmax: the first of equal maxima


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("window_length", [1, 2, 17, 160, 1000, 2999])
def test_loudest_window_matches_brute_force(seed, window_length):
    rng = np.random.default_rng(seed)
    samples = (rng.standard_normal(3000) * rng.uniform(0.01, 0.5, 3000)).astype(np.float32)
    assert audio.loudest_window_start(samples, window_length) == brute_force_loudest(samples, window_length)


@pytest.mark.parametrize("seed", range(10))
def test_loudest_window_ties_pick_the_first(seed):
    rng = np.random.default_rng(seed)
    burst = (rng.standard_normal(300) * 0.3).astype(np.float32)
    samples = np.zeros(6000, dtype=np.float32)
    first, second = int(rng.integers(0, 2500)), int(rng.integers(3000, 5700))
    samples[first : first + 300] = burst
    samples[second : second + 300] = burst
    assert audio.loudest_window_start(samples, 300) == first


def test_loudest_window_of_constant_signal_and_silence_is_0():
    assert audio.loudest_window_start(np.full(1000, 0.3, dtype=np.float32), 100) == 0
    assert audio.loudest_window_start(np.zeros(1000, dtype=np.float32), 100) == 0


def test_loudest_window_finds_a_burst():
    samples = steady_noise(2.0, 16000, -50.0)
    samples[20000:24000] += speech_burst(0.25, 16000, level_dbfs=-15.0)
    start = audio.loudest_window_start(samples, 4000)
    assert abs(start - 20000) <= 200


@pytest.mark.parametrize(("length", "window_length"), [(0, 1), (10, 10), (10, 11), (1, 16000)])
def test_loudest_window_of_short_input_is_0(length, window_length):
    samples = np.linspace(0, 1, length, dtype=np.float32)
    assert audio.loudest_window_start(samples, window_length) == 0


@pytest.mark.parametrize("window_length", [0, -1, -16000])
def test_loudest_window_refuses_bad_window(window_length):
    with pytest.raises(ValueError, match=f"window_length must be at least 1 sample, got {window_length}"):
        audio.loudest_window_start(np.ones(100, dtype=np.float32), window_length)


def test_loudest_window_refuses_nan():
    samples = np.ones(100, dtype=np.float32)
    samples[50] = np.nan
    with pytest.raises(ValueError, match="samples contain NaN or infinity"):
        audio.loudest_window_start(samples, 10)


# ---- fit_to_window ------------------------------------------------------------------------------


@pytest.mark.parametrize("sample_rate", [16000, 44100, 48000])
@pytest.mark.parametrize("take_s", [0.3, 0.999, 1.0, 1.37, 3.0])
def test_fit_to_window_gives_exact_length(sample_rate, take_s):
    take = make_take(sample_rate=sample_rate, duration_s=take_s, offset_s=take_s / 4, burst_s=take_s / 3)
    fitted = audio.fit_to_window(take, sample_rate, 1.0)
    assert fitted.shape == (sample_rate,)
    assert fitted.dtype == np.float32


@pytest.mark.parametrize(("duration_s", "expected"), [(0.5, 8000), (1.0 / 3.0, 5333), (0.00004, 1)])
def test_fit_to_window_rounds_the_length(duration_s, expected):
    assert len(audio.fit_to_window(steady_noise(0.2, 16000, -40), 16000, duration_s)) == expected


@pytest.mark.parametrize("offset_s", [0.02, 0.1, 0.25])
def test_fit_to_window_centres_a_short_takes_speech(offset_s):
    samples, sample_rate = load_word("yes", trim=True)
    take = np.zeros(round(0.7 * sample_rate), dtype=np.float32)
    start = round(offset_s * sample_rate)
    take[start : start + len(samples)] = samples[: len(take) - start]
    fitted = audio.fit_to_window(take, sample_rate, 1.0)
    span = audio.speech_span(fitted, sample_rate)
    assert span is not None
    assert (span[0] + span[1]) / 2 == pytest.approx(0.5, abs=0.03)
    # Padding only: the take is in there, unchanged.
    offset = int(np.flatnonzero(fitted)[0]) - int(np.flatnonzero(take)[0])
    np.testing.assert_array_equal(fitted[offset : offset + len(take)], take)


def test_fit_to_window_pads_a_silent_short_take_evenly():
    fitted = audio.fit_to_window(np.full(8000, 0.001, dtype=np.float32), 16000, 1.0)
    assert np.flatnonzero(fitted)[[0, -1]].tolist() == [4000, 11999]


@pytest.mark.parametrize("sample_rate", [16000, 44100, 48000])
@pytest.mark.parametrize(("offset_s", "word"), [(1.8, "down"), (0.05, "yes"), (2.6, "tum"), (1.0, "up")])
def test_fit_to_window_keeps_a_long_takes_word_in_the_middle(sample_rate, offset_s, word):
    take = make_take(sample_rate=sample_rate, duration_s=3.0, offset_s=offset_s, word=word, noise_dbfs=-50.0)
    fitted = audio.fit_to_window(take, sample_rate, 1.0)
    word_samples = load_word(word, sample_rate, trim=True)[0]
    word_start = round(offset_s * sample_rate)
    word_end = min(len(take), word_start + len(word_samples))
    start = audio.word_window_start(take, sample_rate, sample_rate)
    np.testing.assert_array_equal(fitted, take[start : start + sample_rate])
    # The whole word is inside the kept second, in its middle as far as the take's edges allow.
    assert start <= word_start and word_end <= start + sample_rate
    span = audio.speech_span(take, sample_rate)
    centred = np.clip((span[0] + span[1] - 1.0) / 2, 0.0, 2.0)
    assert start / sample_rate == pytest.approx(centred, abs=0.001)


@pytest.mark.parametrize("kind", TRANSIENTS)
@pytest.mark.parametrize(("word", "word_at_s", "click_at_s"), [("yes", 0.4, 2.1), ("tum", 1.6, 0.2), ("no", 0.3, 1.45)])
@pytest.mark.parametrize("dtype", [np.float32, np.int16])
def test_a_loud_click_never_pulls_the_cut_off_the_word(kind, word, word_at_s, click_at_s, dtype):
    sample_rate = 16000
    take = make_take(sample_rate=sample_rate, duration_s=2.5, offset_s=word_at_s, word=word, level_dbfs=-32.0)
    take = add_at(take, transient(kind, sample_rate, -1.0), click_at_s, sample_rate)
    samples = np.round(take * 32767).astype(np.int16) if dtype == np.int16 else take
    start = audio.word_window_start(samples, sample_rate, sample_rate) / sample_rate
    word_s = len(load_word(word, trim=True)[0]) / sample_rate
    assert start <= word_at_s and word_at_s + word_s <= start + 1.0
    fitted = audio.fit_to_window(samples, sample_rate, 1.0)
    assert fitted.dtype == dtype
    np.testing.assert_array_equal(fitted, samples[round(start * sample_rate) :][:sample_rate])


def test_speech_longer_than_the_window_is_cut_to_its_loudest_window():
    take = make_take(sample_rate=16000, duration_s=3.0, offset_s=0.5, burst_s=1.6, noise_dbfs=-50.0)
    assert audio.word_window_start(take, 16000, 16000) == audio.loudest_window_start(take, 16000)


@pytest.mark.parametrize("duration_s", [0.0, -1.0, 0.00001])
def test_fit_to_window_refuses_empty_window(duration_s):
    with pytest.raises(ValueError, match="duration_s must give at least one sample"):
        audio.fit_to_window(np.ones(100, dtype=np.float32), 16000, duration_s)


# ---- speech_span --------------------------------------------------------------------------------


@pytest.mark.parametrize("word", ["yes", "no", "up", "down", "tum"])
def test_speech_span_of_real_word(word):
    samples, sample_rate = load_word(word)
    spoken = np.flatnonzero(np.abs(samples) > 0.01)
    span = audio.speech_span(samples, sample_rate)
    assert span is not None
    start_s, end_s = span
    assert start_s == pytest.approx(spoken[0] / sample_rate, abs=0.04)
    assert end_s == pytest.approx(spoken[-1] / sample_rate, abs=0.05)
    assert start_s >= SPEECH_PAD_S - audio.FRAME_S
    assert 0.15 < end_s - start_s < 0.6


def test_speech_span_of_word_in_noise_at_48k():
    take = make_take(sample_rate=48000, duration_s=1.5, offset_s=0.6, word="yes", level_dbfs=-25.0, noise_dbfs=-55.0)
    length_s = len(load_word("yes", trim=True)[0]) / 16000
    span = audio.speech_span(take, 48000)
    assert span is not None
    assert span[0] == pytest.approx(0.6, abs=0.04)
    assert span[1] == pytest.approx(0.6 + length_s, abs=0.06)


@pytest.mark.parametrize(
    "samples",
    [np.zeros(16000, dtype=np.float32), steady_noise(1.0, 16000, -20.0), steady_noise(1.0, 16000, -75.0)],
    ids=["silence", "loud-noise", "quiet-noise"],
)
def test_speech_span_none_without_speech(samples):
    assert audio.speech_span(samples, 16000) is None


def test_speech_below_mic_self_noise_is_not_speech():
    take = make_take(level_dbfs=-80.0, noise_dbfs=None)
    assert audio.speech_span(take, 16000) is None


# ---- check_samples ------------------------------------------------------------------------------


def test_check_samples_refuses_empty_take():
    with pytest.raises(AudioError, match="the audio has no samples"):
        audio.check_samples(np.zeros(0, dtype=np.float32), 16000)


@pytest.mark.parametrize("samples", [np.zeros((10, 2), dtype=np.float32), [0.0, 0.1], np.float32(0.5)])
def test_check_samples_refuses_non_mono(samples):
    with pytest.raises(TypeError, match=r"samples must be a mono numpy array of shape \(frames,\)"):
        audio.check_samples(samples, 16000)


def test_envelope_bins_min_and_max():
    samples = np.array([0.0, -0.5, 0.25, 0.9, -0.1, 0.0], dtype=np.float32)
    low, high = audio.envelope(samples, 3)
    np.testing.assert_array_equal(low, np.float32([-0.5, 0.25, -0.1]))
    np.testing.assert_array_equal(high, np.float32([0.0, 0.9, 0.0]))
    assert [len(part) for part in audio.envelope(samples, 100)] == [6, 6]
    with pytest.raises(ValueError, match="bins must be at least 1"):
        audio.envelope(samples, 0)

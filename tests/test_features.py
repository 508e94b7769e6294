"""Log-mel and MFCC features: against scipy's DCT, on tones of known frequency, level-independent."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.fft
from signals import load_word, tone

from speechrec import features


@pytest.mark.parametrize("sample_rate", [8000, 16000, 48000])
def test_log_mel_has_one_row_per_10_ms_and_40_bands(sample_rate):
    spectrogram = features.log_mel(tone(440.0, 1.0, sample_rate, 0.5), sample_rate)
    window, hop = round(0.03 * sample_rate), round(0.01 * sample_rate)
    assert spectrogram.shape == (1 + (sample_rate - window) // hop, features.MEL_BANDS)
    assert spectrogram.dtype == np.float32 and np.isfinite(spectrogram).all()


@pytest.mark.parametrize("frequency_hz", [300.0, 1000.0, 3000.0])
def test_a_tone_lights_up_the_mel_band_of_its_frequency(frequency_hz):
    spectrogram = features.log_mel(tone(frequency_hz, 0.5, 16000, 0.5), 16000)
    loudest = int(np.argmax(spectrogram.mean(axis=0)))
    mel = 2595.0 * np.log10(1.0 + np.array([20.0, frequency_hz, 7600.0]) / 700.0)
    expected = (mel[1] - mel[0]) / (mel[2] - mel[0]) * (features.MEL_BANDS + 1) - 1  # band centres
    assert abs(loudest - expected) <= 1


def test_int16_and_float_input_give_the_same_spectrogram():
    samples, rate = load_word("yes")
    pcm = np.round(samples * 32768).clip(-32768, 32767).astype(np.int16)
    assert np.allclose(features.log_mel(pcm, rate), features.log_mel(pcm / np.float32(32768), rate), atol=1e-4)


def test_mfcc_is_the_orthonormal_dct_of_the_log_mel_power():
    spectrogram = features.log_mel(load_word("no")[0], 16000)
    expected = scipy.fft.dct(spectrogram.astype(np.float64), type=2, norm="ortho", axis=1)[:, : features.MFCC_COUNT]
    assert np.allclose(features.mfcc(spectrogram), expected, atol=1e-3)


def test_clip_features_do_not_depend_on_the_recording_level():
    samples, rate = load_word("up")
    loud, quiet = features.clip_features(samples, rate), features.clip_features(samples * np.float32(0.1), rate)
    assert loud.shape == (features.feature_length(),)
    # Only the digital floor under the word changes with the level; the word's features stay.
    assert np.abs(loud - quiet).mean() < 0.05 * np.abs(loud).mean()


def test_clip_features_tell_words_apart():
    vectors = {word: features.clip_features(*load_word(word)) for word in ("yes", "no", "up")}
    same = np.linalg.norm(vectors["yes"] - features.clip_features(load_word("yes")[0] * np.float32(0.5), 16000))
    assert all(np.linalg.norm(vectors["yes"] - vectors[word]) > 10 * same for word in ("no", "up"))


@pytest.mark.parametrize("length", [1, 100, 479, 480, 2000])
def test_very_short_clips_still_give_a_whole_vector(length):
    vector = features.clip_features(np.full(length, 0.1, np.float32), 16000)
    assert vector.shape == (features.feature_length(),) and np.isfinite(vector).all()


def test_sample_rates_below_8_khz_are_refused():
    with pytest.raises(ValueError, match="at least 8000 Hz"):
        features.log_mel(np.zeros(4000, np.float32), 4000)

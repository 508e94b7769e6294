"""Fingerprints of decoded audio: copies in other encodings found, other takes and silence never."""

from __future__ import annotations

import numpy as np
from signals import make_take

from speechrec import audio
from speechrec.decode import to_pcm16
from speechrec.fingerprint import (
    Fingerprint,
    FingerprintIndex,
    candidate_ranges,
    fingerprint,
    same_audio,
    same_recording,
)

RATE = 48000


def test_a_16_bit_resampled_copy_is_the_same_recording():
    take = make_take(sample_rate=RATE, duration_s=1.5, offset_s=0.4, word="down", seed=1)
    copy = (to_pcm16(audio.resample(take, RATE, 16000)) / 32768).astype(np.float32)
    assert same_audio(fingerprint(take, RATE), fingerprint(copy, 16000))
    assert same_recording(take, RATE, copy, 16000)


def test_another_take_of_the_same_word_at_the_same_point_is_not():
    first = make_take(sample_rate=RATE, duration_s=1.5, offset_s=0.4, word="down", seed=1)
    second = make_take(sample_rate=RATE, duration_s=1.5, offset_s=0.4, word="down", seed=2)
    assert same_audio(fingerprint(first, RATE), fingerprint(second, RATE))  # a candidate...
    assert not same_recording(first, RATE, second, RATE)  # ...that the waveforms rule out


def test_silence_and_other_words_are_never_candidates():
    silence = np.zeros(RATE, np.float32)
    assert not same_audio(fingerprint(silence, RATE), fingerprint(silence, RATE))
    assert not same_recording(silence, RATE, silence, RATE)
    yes = make_take(sample_rate=RATE, duration_s=1.5, offset_s=0.4, word="yes")
    no = make_take(sample_rate=RATE, duration_s=1.5, offset_s=0.4, word="no")
    later = make_take(sample_rate=RATE, duration_s=1.5, offset_s=0.6, word="yes")
    assert not same_audio(fingerprint(yes, RATE), fingerprint(no, RATE))
    assert not same_audio(fingerprint(yes, RATE), fingerprint(later, RATE))


def test_the_index_finds_candidates_by_their_loudest_frame():
    index = FingerprintIndex()
    takes = [make_take(sample_rate=RATE, duration_s=1.5, offset_s=0.2 + 0.1 * n, word="up", seed=n) for n in range(5)]
    for number, take in enumerate(takes):
        index.add(fingerprint(take, RATE), number)
    copy = (to_pcm16(takes[3]) / 32768).astype(np.float32)
    assert index.candidates(fingerprint(copy, RATE)) == [3]


def test_every_candidate_same_audio_matches_lies_in_the_ranges_the_store_looks_up():
    take = make_take(sample_rate=RATE, duration_s=1.5, offset_s=0.4, word="down", seed=1)
    original = fingerprint(take, RATE)
    peaks, places = candidate_ranges(original)
    assert original.peak_steps in peaks and original.loudest in places
    for steps in range(-5, 6):  # the same envelope, louder or quieter by a few level steps
        levels = np.frombuffer(original.levels, np.int16) + steps
        louder = Fingerprint(levels.astype(np.int16).tobytes(), original.loudest, original.peak_steps + steps)
        assert same_audio(original, louder) == (louder.peak_steps in peaks)
    copy = fingerprint((to_pcm16(audio.resample(take, RATE, 16000)) / 32768).astype(np.float32), 16000)
    assert copy.peak_steps in peaks and copy.loudest in places

"""Per-take quality checks: each flag on the take that deserves it, and no flag on good takes."""

from __future__ import annotations

import av
import numpy as np
import pandas as pd
import pytest
from signals import TRANSIENTS, WORDS, add_at, encode_with_pyav, hum, load_word, make_take, steady_noise, tone_burst, transient

from speechrec import audio, quality
from speechrec.decode import decode_audio
from speechrec.errors import AudioError
from speechrec.quality import FLAG_DESCRIPTIONS, FLAGS, QualityReport, assess_take, describe_flags

# ---- clean takes ---------------------------------------------------------------------------------


@pytest.mark.parametrize("word", WORDS)
def test_real_words_at_normal_level_have_no_flags(word):
    samples, sample_rate = load_word(word)
    report = assess_take(samples, sample_rate)
    assert report.flags == ()
    assert report.usable
    assert -30.0 < report.speech_level_dbfs < -10.0
    assert report.snr_db > 40.0
    assert report.clipped_fraction == 0.0
    assert report.duration_s == pytest.approx(len(samples) / sample_rate)


@pytest.mark.parametrize("word", WORDS)
@pytest.mark.parametrize("sample_rate", [16000, 48000])
def test_quiet_but_clean_speech_has_no_flags(word, sample_rate):
    take = make_take(sample_rate=sample_rate, word=word, level_dbfs=-35.0, noise_dbfs=-60.0)
    report = assess_take(take, sample_rate)
    assert report.flags == ()
    assert report.speech_level_dbfs == pytest.approx(-35.0, abs=3.0)
    assert report.noise_floor_dbfs == pytest.approx(-60.0, abs=1.5)
    assert report.snr_db > quality.MIN_SNR_DB


def test_report_numbers_of_a_word_in_noise():
    take = make_take(word="no", offset_s=0.5, level_dbfs=-20.0, noise_dbfs=-50.0)
    length_s = len(load_word("no", trim=True)[0]) / 16000
    report = assess_take(take, 16000)
    assert report.flags == ()
    assert report.speech_start_s == pytest.approx(0.5, abs=0.03)
    assert report.speech_end_s == pytest.approx(0.5 + length_s, abs=0.05)
    assert report.snr_db == pytest.approx(report.speech_level_dbfs - report.noise_floor_dbfs)
    assert report.peak_dbfs == pytest.approx(20 * np.log10(np.max(np.abs(take))), abs=1e-4)


@pytest.mark.parametrize("offset", [0.005, 0.02, -0.05, 0.1, -0.3])
@pytest.mark.parametrize(("word", "sample_rate", "level_dbfs"), [("no", 16000, -26.0), ("tum", 48000, -38.0), ("up", 16000, -20.0)])
def test_a_dc_offset_changes_no_number_but_the_peak(offset, word, sample_rate, level_dbfs):
    take = make_take(sample_rate=sample_rate, word=word, level_dbfs=level_dbfs, noise_dbfs=-60.0, seed=7)
    clean, shifted = assess_take(take, sample_rate), assess_take(take + np.float32(offset), sample_rate)
    assert clean.flags == shifted.flags == ()
    assert shifted.noise_floor_dbfs == pytest.approx(clean.noise_floor_dbfs, abs=0.1)
    assert shifted.snr_db == pytest.approx(clean.snr_db, abs=0.1)
    assert shifted.speech_level_dbfs == pytest.approx(clean.speech_level_dbfs, abs=0.1)
    assert (shifted.speech_start_s, shifted.speech_end_s) == (clean.speech_start_s, clean.speech_end_s)


@pytest.mark.parametrize("kind", TRANSIENTS)
@pytest.mark.parametrize(
    ("at_s", "peak_dbfs"), [(0.02, 0.0), (0.1, -6.0), (0.15, -20.0), (1.35, -6.0)], ids=["start", "0.1s", "quiet", "after"]
)
@pytest.mark.parametrize("word", ["yes", "down"])
def test_a_pop_in_an_opus_take_is_not_speech(tmp_path, kind, at_s, peak_dbfs, word):
    take = make_take(sample_rate=48000, duration_s=1.6, offset_s=0.5, word=word, level_dbfs=-24.0, seed=3)
    with_pop = add_at(take, transient(kind, 48000, peak_dbfs), at_s, 48000)
    reports = []
    for name, samples in (("clean", take), ("pop", with_pop)):  # Opus smears a 10 ms pop over ~100 ms
        path = encode_with_pyav(tmp_path / f"{name}.ogg", samples, 48000, "ogg", "libopus", 48000)
        reports.append(assess_take(*decode_audio(path)))
    clean, popped = reports
    assert clean.flags == popped.flags == ()
    assert popped.speech_start_s == pytest.approx(clean.speech_start_s, abs=0.02)
    assert popped.speech_end_s == pytest.approx(clean.speech_end_s, abs=0.02)
    assert popped.speech_level_dbfs == pytest.approx(clean.speech_level_dbfs, abs=0.5)


@pytest.mark.parametrize("kind", TRANSIENTS)
@pytest.mark.parametrize("peak_dbfs", [-30.0, -6.0, 0.0])
def test_a_click_alone_is_no_speech(kind, peak_dbfs):
    take = add_at(steady_noise(1.5, 16000, -60.0), transient(kind, 16000, peak_dbfs), 0.7, 16000)
    assert assess_take(take, 16000).flags == ("no_speech",)


def test_a_click_on_the_word_leaves_the_word():
    take = make_take(word="no", level_dbfs=-30.0, offset_s=0.4)
    span = audio.speech_span(take, 16000)
    clicked = add_at(take, transient("mouse-click", 16000, -3.0), (span[0] + span[1]) / 2, 16000)
    report = assess_take(clicked, 16000)
    assert report.flags == ()
    assert (report.speech_start_s, report.speech_end_s) == pytest.approx(span, abs=0.02)


def test_a_word_final_release_burst_belongs_to_the_word():
    vowel = make_take(duration_s=1.5, offset_s=0.4, burst_s=0.25, level_dbfs=-22.0)
    burst = transient("noise-burst", 16000, -22.0)
    take = add_at(vowel, burst, 0.4 + 0.25 + 0.12, 16000)  # a /p/ released 120 ms after the vowel
    report = assess_take(take, 16000)
    assert report.flags == ()
    assert report.speech_end_s >= 0.4 + 0.25 + 0.12


# ---- each flag -----------------------------------------------------------------------------------


@pytest.mark.parametrize("word", [None, "yes"])
def test_too_quiet_speech(word):
    take = make_take(word=word, level_dbfs=-55.0, noise_dbfs=-90.0)
    report = assess_take(take, 16000)
    assert report.flags == ("too_quiet",)
    assert report.speech_level_dbfs < quality.TOO_QUIET_DBFS
    assert report.snr_db > quality.MIN_SNR_DB  # flagged for its level, not for noise


def test_speech_too_close_to_the_noise_is_too_quiet():
    take = steady_noise(1.5, 16000, -41.0, seed=3)
    take[6400:14400] += tone_burst(0.5, 16000, level_dbfs=-30.0)
    report = assess_take(take, 16000)
    assert report.flags == ("too_quiet",)
    assert report.speech_level_dbfs > quality.TOO_QUIET_DBFS  # loud enough, but ...
    assert report.snr_db < quality.MIN_SNR_DB  # ... not far enough above the noise


@pytest.mark.parametrize("word", [None, "yes", "tum"])
def test_clipped_speech(word):
    take = make_take(word=word, level_dbfs=0.0, noise_dbfs=-60.0)
    report = assess_take(take, 16000)
    assert report.flags == ("clipped",)
    assert report.clipped_fraction > quality.MAX_CLIPPED_FRACTION
    assert report.peak_dbfs == pytest.approx(0.0, abs=0.01)


def opus_round_trip(tmp_path, samples: np.ndarray, sample_rate: int, bit_rate: int | None) -> tuple[np.ndarray, int]:
    """``samples`` as a browser uploads them (Ogg/Opus, PyAV's libopus), decoded as speechrec decodes."""
    path = tmp_path / f"take-{bit_rate}.ogg"
    with av.open(str(path), "w", format="ogg") as output:
        stream = output.add_stream("libopus", rate=48000, layout="mono")
        if bit_rate:
            stream.bit_rate = bit_rate
        frame = av.AudioFrame.from_ndarray(samples[None, :].astype(np.float32), format="flt", layout="mono")
        frame.sample_rate = sample_rate
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            output.mux(packet)
    return decode_audio(path)


def driven_take(word: str, drive_db: float, ceiling: float, seed: int, sample_rate: int = 48000) -> np.ndarray:
    """A take whose word peaks ``drive_db`` above ``ceiling`` and is clipped there (``ceiling`` 1.0 is
    the converter's rail, less an analogue stage clipping before it)."""
    spoken = load_word(word, sample_rate, trim=True)[0]
    take = steady_noise(1.5, sample_rate, -60.0, seed=seed) * ceiling
    start = round((0.3 + 0.05 * (seed % 4)) * sample_rate)
    take[start : start + len(spoken)] += spoken / np.max(np.abs(spoken)) * ceiling * 10 ** (drive_db / 20)
    return np.clip(take, -ceiling, ceiling).astype(np.float32)


@pytest.mark.parametrize("word", WORDS)
@pytest.mark.parametrize(
    ("drive_db", "ceiling", "bit_rate"),
    [(20, 1.0, None), (20, 1.0, 32000), (10, 1.0, 32000), (10, 1.0, 64000), (20, 0.5, 32000), (20, 0.5, None), (10, 0.5, 64000)],
)
def test_clipping_is_found_after_opus(tmp_path, word, drive_db, ceiling, bit_rate):
    for seed in range(3):
        samples, sample_rate = opus_round_trip(tmp_path, driven_take(word, drive_db, ceiling, seed), 48000, bit_rate)
        report = assess_take(samples, sample_rate)
        assert "clipped" in report.flags, (seed, report.clipped_fraction)
        assert report.clipped_fraction > quality.MAX_CLIPPED_FRACTION


@pytest.mark.parametrize("word", WORDS)
@pytest.mark.parametrize(("drive_db", "ceiling"), [(6, 1.0), (6, 0.5), (20, 0.3)])
def test_clipping_below_full_scale_is_found_in_lossless_takes(word, drive_db, ceiling):
    report = assess_take(driven_take(word, drive_db, ceiling, seed=1, sample_rate=16000), 16000)
    assert "clipped" in report.flags


@pytest.mark.parametrize("word", WORDS)
@pytest.mark.parametrize("peak_dbfs", [-0.3, -1.0, -3.0, -6.0, -11.0])
@pytest.mark.parametrize("bit_rate", [24000, 32000, None, "wav"])
def test_loud_clean_speech_is_not_clipped(tmp_path, word, peak_dbfs, bit_rate):
    take = driven_take(word, peak_dbfs, 1.0, seed=2)
    samples, sample_rate = (take, 48000) if bit_rate == "wav" else opus_round_trip(tmp_path, take, 48000, bit_rate)
    report = assess_take(samples, sample_rate)
    assert "clipped" not in report.flags, report.clipped_fraction


def test_few_samples_at_the_rail_are_not_clipped():
    take = make_take(word="yes", level_dbfs=-20.0)
    take[[8000, 9000, 10000]] = 1.0  # 3 samples in 24000: below 0.1 %
    assert "clipped" not in assess_take(take, 16000).flags


@pytest.mark.parametrize(
    "samples",
    [
        np.zeros(24000, dtype=np.float32),
        steady_noise(1.5, 16000, -15.0),
        steady_noise(1.5, 16000, -75.0),
        hum(1.5, 16000, -10.0, frequency_hz=50.0),
        hum(1.5, 16000, -6.0, frequency_hz=60.0),
    ],
    ids=["digital-silence", "loud-white-noise", "quiet-white-noise", "loud-50-hz-hum", "loud-60-hz-hum"],
)
def test_no_speech(samples):
    report = assess_take(samples, 16000)
    assert report.flags == ("no_speech",)
    assert report.speech_level_dbfs is None
    assert report.snr_db is None
    assert report.speech_start_s is None and report.speech_end_s is None


def test_digital_silence_numbers_are_finite():
    report = assess_take(np.zeros(16000, dtype=np.float32), 16000)
    assert report.noise_floor_dbfs == -120.0
    assert report.peak_dbfs == -120.0


@pytest.mark.parametrize("word", [None, "yes", "up"])
def test_cut_off_at_start(word):
    take = make_take(word=word, offset_s=0.0)
    report = assess_take(take, 16000)
    assert report.flags == ("cut_off",)
    assert report.speech_start_s < quality.CUT_OFF_MARGIN_S


@pytest.mark.parametrize("word", [None, "yes", "down"])
def test_cut_off_at_end(word):
    take = make_take(word=word, duration_s=1.5, offset_s=1.3)
    report = assess_take(take, 16000)
    assert report.flags == ("cut_off",)
    assert report.speech_end_s > report.duration_s - quality.CUT_OFF_MARGIN_S
    assert report.speech_end_s <= report.duration_s


def test_speech_just_inside_the_margins_is_not_cut_off():
    take = make_take(duration_s=1.0, offset_s=0.1, burst_s=0.8)
    report = assess_take(take, 16000)
    assert report.flags == ()


@pytest.mark.parametrize(("burst_s", "clip_duration_s"), [(1.4, 1.0), (0.8, 0.5)])
def test_too_long(burst_s, clip_duration_s):
    take = make_take(duration_s=burst_s + 1.0, offset_s=0.5, burst_s=burst_s)
    report = assess_take(take, 16000, clip_duration_s=clip_duration_s)
    assert report.flags == ("too_long",)
    assert report.speech_end_s - report.speech_start_s > clip_duration_s
    assert assess_take(take, 16000, clip_duration_s=burst_s + 0.2).flags == ()


def test_two_words_in_one_take_are_too_long():
    sample_rate = 16000
    take = steady_noise(2.5, sample_rate, -60.0)
    for word, start_s in (("yes", 0.3), ("no", 1.3)):
        samples = load_word(word, trim=True)[0]
        start = round(start_s * sample_rate)
        take[start : start + len(samples)] += samples
    assert "too_long" in assess_take(take, sample_rate).flags


def test_several_flags_at_once_in_flag_order():
    take = make_take(level_dbfs=0.0, offset_s=0.0)
    report = assess_take(take, 16000)
    assert report.flags == ("clipped", "cut_off")
    assert not report.usable


@pytest.mark.parametrize(("gap_s", "length_s"), [(0.0, 0.35), (1.3, 0.45), (0.05, 0.2)])
def test_lost_audio_in_the_room_is_no_part_of_the_floor(gap_s, length_s):
    take = make_take(duration_s=1.8, offset_s=0.6, word="yes", level_dbfs=-30.0, noise_dbfs=-60.0)
    span = (round(gap_s * 16000), round((gap_s + length_s) * 16000))
    take[span[0] : span[1]] = 0.0  # what the capture keeps where audio was lost
    report = assess_take(take, 16000, lost_spans=[span])
    assert report.flags == ()
    assert report.noise_floor_dbfs == pytest.approx(-60.0, abs=1.0)
    assert report.speech_level_dbfs == pytest.approx(assess_take(make_take(duration_s=1.8, offset_s=0.6, word="yes", level_dbfs=-30.0), 16000).speech_level_dbfs, abs=0.5)


@pytest.mark.parametrize(("at_s", "length_s"), [(0.7, 0.02), (0.65, 0.3), (0.45, 0.1), (0.4, 1.0)])
def test_lost_audio_in_or_next_to_the_word_is_flagged(at_s, length_s):
    take = make_take(duration_s=2.0, offset_s=0.6, word="down", level_dbfs=-30.0)
    span = (round(at_s * 16000), round((at_s + length_s) * 16000))
    take[span[0] : span[1]] = 0.0
    assert "lost_audio" in assess_take(take, 16000, lost_spans=[span]).flags


def test_a_take_without_speech_that_lost_audio_says_so():
    take = steady_noise(1.5, 16000, -60.0)
    take[8000:16000] = 0.0  # the word may have been in there
    assert assess_take(take, 16000, lost_spans=[(8000, 16000)]).flags == ("no_speech", "lost_audio")
    assert assess_take(take, 16000, expect_speech=False, lost_spans=[(8000, 16000)]).flags == ()


# ---- expect_speech=False (background noise) ------------------------------------------------------


@pytest.mark.parametrize(
    "samples",
    [
        np.zeros(16000, dtype=np.float32),
        steady_noise(1.0, 16000, -75.0),
        make_take(offset_s=0.0),
        make_take(duration_s=3.0, burst_s=2.5, offset_s=0.2),
        make_take(level_dbfs=-55.0, noise_dbfs=-90.0),
    ],
    ids=["silence", "quiet-noise", "cut-off", "too-long", "too-quiet"],
)
def test_background_noise_only_checks_clipping(samples):
    assert assess_take(samples, 16000, expect_speech=False).flags == ()


def test_clipped_background_noise_is_flagged():
    noise = steady_noise(1.0, 16000, -3.0)
    assert assess_take(noise, 16000, expect_speech=False).flags == ("clipped",)


# ---- rows and descriptions ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "samples",
    [make_take(word="yes"), np.zeros(8000, dtype=np.float32), make_take(level_dbfs=0.0, offset_s=0.0)],
    ids=["clean", "no-speech", "two-flags"],
)
def test_report_row_round_trip(samples):
    report = assess_take(samples, 16000)
    row = report.to_row()
    assert set(row) == set(QualityReport.__dataclass_fields__)
    assert isinstance(row["flags"], str)
    assert row["flags"] == ",".join(report.flags)
    assert QualityReport.from_row(row) == report


def test_report_round_trip_through_a_dataframe():
    reports = [assess_take(make_take(word="up"), 16000), assess_take(np.zeros(8000, dtype=np.float32), 16000)]
    frame = pd.DataFrame([report.to_row() for report in reports])
    assert frame["speech_level_dbfs"].isna().tolist() == [False, True]  # None became NaN
    rebuilt = [QualityReport.from_row(row) for row in frame.to_dict("records")]
    assert rebuilt == reports
    assert rebuilt[1].speech_level_dbfs is None


def test_clean_report_row_has_empty_flags():
    row = assess_take(make_take(), 16000).to_row()
    assert row["flags"] == ""
    assert QualityReport.from_row({**row, "flags": None}).flags == ()


def test_describe_flags():
    assert describe_flags(["clipped", "no_speech"]) == [FLAG_DESCRIPTIONS["clipped"], FLAG_DESCRIPTIONS["no_speech"]]
    assert describe_flags(("mystery",)) == ["mystery"]
    assert set(FLAGS) == {"too_quiet", "clipped", "no_speech", "cut_off", "too_long", "lost_audio", "browser_processing"}


# ---- bad input -----------------------------------------------------------------------------------


def test_empty_take_raises_audio_error():
    with pytest.raises(AudioError, match="the audio has no samples"):
        assess_take(np.zeros(0, dtype=np.float32), 16000)


@pytest.mark.parametrize(
    ("samples", "sample_rate", "error", "message"),
    [
        (np.zeros((100, 2), dtype=np.float32), 16000, TypeError, "mono numpy array"),
        ([0.0] * 100, 16000, TypeError, "mono numpy array"),
        (np.zeros(100, dtype=np.float32), 100, ValueError, "sample_rate must be between"),
        (np.zeros(100, dtype=np.float32), 16000.0, TypeError, "sample_rate must be an int"),
    ],
)
def test_bad_input(samples, sample_rate, error, message):
    with pytest.raises(error, match=message):
        assess_take(samples, sample_rate)

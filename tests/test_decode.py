"""Decoding real files (WAV, FLAC, Opus in Ogg and WebM, MP3) and encoding FLAC/WAV.

Lossy files are encoded here with PyAV (no ffmpeg command line needed) from the shipped words.
"""

from __future__ import annotations

import io
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import av
import numpy as np
import pytest
import soundfile as sf
import soxr
from signals import encode_with_pyav, load_word, speech_path, wav_with_header_rate, webrtc_frame

from speechrec import decode
from speechrec.decode import decode_audio, encode_flac, encode_wav, frames_to_mono, read_audio_bytes
from speechrec.errors import AudioError


def aligned_correlation(decoded: np.ndarray, reference: np.ndarray) -> float:
    """Correlation of ``decoded`` with ``reference`` after removing the codec's delay."""
    lag = int(np.argmax(np.correlate(decoded, reference, mode="full"))) - (len(reference) - 1)
    lag = max(lag, 0)
    length = min(len(decoded) - lag, len(reference))
    return float(np.corrcoef(decoded[lag : lag + length], reference[:length])[0, 1])


def rms_db(samples: np.ndarray) -> float:
    return 10 * np.log10(np.mean(samples.astype(np.float64) ** 2))


@pytest.fixture
def word() -> tuple[np.ndarray, int]:
    return load_word("yes")


# ---- lossless ------------------------------------------------------------------------------------


@pytest.mark.parametrize("subtype", ["PCM_16", "PCM_24", "PCM_32", "FLOAT", "DOUBLE", "PCM_U8"])
def test_wav_is_sample_exact(tmp_path, word, subtype):
    samples, sample_rate = word
    path = tmp_path / f"take-{subtype}.wav"
    sf.write(path, samples, sample_rate, subtype=subtype)
    expected, _ = sf.read(path, dtype="float32")
    decoded, decoded_rate = decode_audio(path)
    assert decoded_rate == sample_rate
    assert decoded.dtype == np.float32
    assert decoded.shape == samples.shape
    np.testing.assert_array_equal(decoded, expected)


@pytest.mark.parametrize("subtype", ["PCM_16", "PCM_24", "FLOAT"])
def test_stereo_wav_keeps_the_louder_of_two_different_channels(tmp_path, word, subtype):
    samples, sample_rate = word
    stereo = np.stack([samples, 0.5 * samples[::-1]], axis=1)
    path = tmp_path / "stereo.wav"
    sf.write(path, stereo, sample_rate, subtype=subtype)
    expected, _ = sf.read(path, dtype="float32")
    decoded, decoded_rate = decode_audio(path)
    assert decoded_rate == sample_rate
    np.testing.assert_allclose(decoded, expected[:, 0], atol=1e-7)


@pytest.mark.parametrize("sample_rate", [8000, 22050, 44100, 48000])
def test_wav_keeps_its_sample_rate(tmp_path, word, sample_rate):
    samples = soxr.resample(word[0], word[1], sample_rate).astype(np.float32)
    path = tmp_path / "take.wav"
    sf.write(path, samples, sample_rate, subtype="FLOAT")
    decoded, decoded_rate = decode_audio(path)
    assert decoded_rate == sample_rate
    np.testing.assert_array_equal(decoded, samples)


def test_shipped_flac_is_sample_exact():
    expected, sample_rate = sf.read(speech_path("down"), dtype="float32")
    decoded, decoded_rate = decode_audio(speech_path("down"))
    assert decoded_rate == sample_rate == 16000
    np.testing.assert_array_equal(decoded, expected)


def test_flac_24_bit_stereo_in_opposite_phase_does_not_cancel(tmp_path, word):
    samples, sample_rate = word
    stereo = np.stack([samples, -samples], axis=1) * 0.5 + np.array([0.1, 0.1])
    path = tmp_path / "stereo.flac"
    sf.write(path, stereo, sample_rate, subtype="PCM_24")
    expected, _ = sf.read(path, dtype="float32")
    decoded, _ = decode_audio(path)
    difference = (expected[:, 0] - expected[:, 1]) / 2  # in the polarity of either channel
    sign = np.sign(np.dot(decoded, difference))
    np.testing.assert_allclose(decoded, sign * difference, atol=1e-7)
    assert rms_db(decoded) == pytest.approx(rms_db(0.5 * samples), abs=0.01)


@pytest.mark.parametrize(
    ("layout", "channels"),
    [
        ("left-only", lambda s, n: [s, n]),
        ("right-only", lambda s, n: [n, s]),
        ("inverted", lambda s, n: [s, -s]),
        ("three-channels", lambda s, n: [n, s, n * 0.5]),
    ],
)
@pytest.mark.parametrize("kind", [("wav", "pcm_s16le", 48000), ("ogg", "libopus", 48000), ("flac", "flac", 48000)])
def test_multichannel_files_keep_the_voice_at_its_level(tmp_path, word, layout, channels, kind):
    samples = soxr.resample(word[0], word[1], 48000).astype(np.float32) * np.float32(0.5)
    noise = (np.random.default_rng(3).standard_normal(len(samples)) * 1e-4).astype(np.float32)
    planes = np.stack(channels(samples, noise)).astype(np.float32)
    path = tmp_path / f"take.{kind[0]}"
    layout_name = {2: "stereo", 3: "3.0"}[len(planes)]
    with av.open(str(path), "w", format=kind[0]) as output:
        stream = output.add_stream(kind[1], rate=kind[2], layout=layout_name)
        frame = av.AudioFrame.from_ndarray(planes, format="fltp", layout=layout_name)
        frame.sample_rate = 48000
        for packet in stream.encode(frame):
            output.mux(packet)
        for packet in stream.encode(None):
            output.mux(packet)
    decoded, rate = decode_audio(path)
    assert rate == 48000
    assert rms_db(decoded) == pytest.approx(rms_db(samples), abs=1.0)


@pytest.mark.parametrize("as_type", [bytes, bytearray, io.BytesIO, str, Path])
def test_decode_accepts_bytes_file_objects_and_paths(as_type):
    path = speech_path("up")
    expected, _ = sf.read(path, dtype="float32")
    if as_type in (bytes, bytearray):
        source = as_type(path.read_bytes())
    elif as_type is io.BytesIO:
        source = io.BytesIO(path.read_bytes())
    else:
        source = as_type(path)
    decoded, sample_rate = decode_audio(source)
    assert sample_rate == 16000
    np.testing.assert_array_equal(decoded, expected)


# ---- lossy (encoded with PyAV) -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("suffix", "container", "codec", "rate"),
    [
        (".ogg", "ogg", "libopus", 48000),
        (".webm", "webm", "libopus", 48000),
        (".mp3", "mp3", "libmp3lame", 16000),
        (".mp3", "mp3", "libmp3lame", 44100),
    ],
    ids=["ogg-opus", "webm-opus", "mp3-16k", "mp3-44k"],
)
@pytest.mark.parametrize("as_bytes", [False, True], ids=["path", "bytes"])
def test_lossy_formats_decode_to_the_same_sound(tmp_path, word, suffix, container, codec, rate, as_bytes):
    samples, sample_rate = word
    path = encode_with_pyav(tmp_path / f"take{suffix}", samples, sample_rate, container, codec, rate)
    decoded, decoded_rate = decode_audio(path.read_bytes() if as_bytes else path)
    assert decoded_rate == rate
    assert decoded.dtype == np.float32 and decoded.ndim == 1
    reference = soxr.resample(samples, sample_rate, rate).astype(np.float32)
    # Same length within a codec frame of padding and delay.
    assert abs(len(decoded) - len(reference)) < 0.06 * rate
    assert aligned_correlation(decoded, reference) > 0.9
    assert rms_db(decoded) == pytest.approx(rms_db(reference), abs=1.0)


def test_opus_stereo_at_48k(tmp_path, word):
    samples = soxr.resample(word[0], word[1], 48000).astype(np.float32)
    path = tmp_path / "stereo.ogg"
    with av.open(str(path), "w", format="ogg") as output:
        stream = output.add_stream("libopus", rate=48000, layout="stereo")
        stereo = np.stack([samples, samples]).astype(np.float32)
        frame = av.AudioFrame.from_ndarray(stereo, format="fltp", layout="stereo")
        frame.sample_rate = 48000
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            output.mux(packet)
    decoded, decoded_rate = decode_audio(path)
    assert decoded_rate == 48000
    assert aligned_correlation(decoded, samples) > 0.9
    assert rms_db(decoded) == pytest.approx(rms_db(samples), abs=1.0)


def decode_in_a_new_thread(path: Path) -> tuple[np.ndarray, int]:
    with ThreadPoolExecutor(1) as executor:  # a new thread: no kept decoder
        return executor.submit(decode_audio, path).result()


def test_a_reused_opus_decoder_gives_the_same_samples_as_a_new_one(tmp_path, word):
    quiet = (word[0] * 0.1).astype(np.float32)
    files = [
        encode_with_pyav(tmp_path / "a.ogg", word[0], word[1], "ogg", "libopus", 48000),
        encode_with_pyav(tmp_path / "b.ogg", quiet, word[1], "ogg", "libopus", 48000),
        encode_with_pyav(tmp_path / "c.ogg", word[0], word[1], "ogg", "libopus", 16000),
        encode_with_pyav(tmp_path / "d.webm", word[0], word[1], "webm", "libopus", 48000),
    ]
    fresh = {path: decode_in_a_new_thread(path) for path in files}
    with pytest.raises(AudioError):
        decode_audio(files[0].read_bytes()[:200], name="cut short")  # a failure in between changes nothing
    for path in [*files, *files[::-1], files[1], files[1]]:
        samples, rate = decode_audio(path)
        assert rate == fresh[path][1]
        np.testing.assert_array_equal(samples, fresh[path][0])


# ---- failures name the file ----------------------------------------------------------------------


def test_corrupt_bytes(tmp_path):
    garbage = np.random.default_rng(0).integers(0, 256, 4000, dtype=np.uint8).tobytes()
    with pytest.raises(AudioError, match=r"^upload-7.webm: "):
        decode_audio(garbage, name="upload-7.webm")


def test_corrupt_file_names_the_path(tmp_path):
    path = tmp_path / "broken.ogg"
    path.write_bytes(b"OggS" + bytes(range(256)) * 8)
    with pytest.raises(AudioError, match=re.escape(str(path))):
        decode_audio(path)


def test_truncated_flac_header(tmp_path):
    path = tmp_path / "truncated.flac"
    path.write_bytes(speech_path("no").read_bytes()[:30])
    with pytest.raises(AudioError, match=re.escape(str(path))):
        decode_audio(path)


@pytest.mark.parametrize("name", ["empty.wav", "empty.ogg", "empty"])
def test_empty_file(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(b"")
    with pytest.raises(AudioError, match=f"^{re.escape(str(path))}: "):
        decode_audio(path)


def test_empty_bytes_use_the_given_name():
    with pytest.raises(AudioError, match=r"^recording.ogg: "):
        decode_audio(b"", name="recording.ogg")


def test_empty_bytes_without_a_name():
    with pytest.raises(AudioError, match=r"^the audio: "):
        decode_audio(b"")


@pytest.mark.parametrize("name", ["notes.txt", "subtitles.srt", "notes"])
def test_text_file_has_no_audio(tmp_path, name):
    path = tmp_path / name
    path.write_text("1\n00:00:00,000 --> 00:00:01,000\nyes\n\nThis is not audio.\n", encoding="utf-8")
    with pytest.raises(AudioError, match=f"^{re.escape(str(path))}: (has no audio stream|cannot be decoded)"):
        decode_audio(path)


def test_video_without_audio_stream(tmp_path):
    path = tmp_path / "silent-film.mp4"
    with av.open(str(path), "w") as output:
        stream = output.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
        for _ in range(3):
            image = av.VideoFrame.from_ndarray(np.zeros((32, 32, 3), dtype=np.uint8), format="rgb24")
            for packet in stream.encode(image):
                output.mux(packet)
        for packet in stream.encode(None):
            output.mux(packet)
    with pytest.raises(AudioError, match=f"^{re.escape(str(path))}: has no audio stream"):
        decode_audio(path)


def test_wav_with_no_samples(tmp_path):
    path = tmp_path / "header-only.wav"
    sf.write(path, np.zeros(0, dtype=np.float32), 16000, subtype="PCM_16")
    with pytest.raises(AudioError, match=f"^{re.escape(str(path))}: contains no audio samples"):
        decode_audio(path)


def test_too_long_file_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(decode, "MAX_DECODED_S", 1.0)
    with pytest.raises(AudioError, match=r"^long.flac: longer than 1 s"):
        decode_audio(speech_path("yes").read_bytes(), name="long.flac")


# What FFmpeg says (an error number, its own wording, the file name '<none>') is not for people.
DEVELOPER_WORDING = re.compile(r"Errno|<none>|\[|FFmpeg|Invalid data found|AVERROR", re.IGNORECASE)


@pytest.mark.parametrize("header_rate", [1, 8, 999, 384_001, 500_000, 2**31 - 1])
@pytest.mark.parametrize("length_s", [0.5, 2.0])
def test_an_impossible_sample_rate_is_one_plain_sentence(word, header_rate, length_s):
    samples = np.resize(word[0], round(length_s * word[1]))
    with pytest.raises(AudioError) as caught:
        decode_audio(wav_with_header_rate(samples, header_rate), name="take.wav")
    message = str(caught.value)
    assert message.startswith(f"take.wav: its header gives a sample rate of {header_rate} Hz")
    assert "damaged or mislabelled" in message and "longer than" not in message
    assert not DEVELOPER_WORDING.search(message)


@pytest.mark.parametrize("header_rate", [1000, 8000, 384_000])
def test_the_edges_of_the_possible_sample_rates_decode(word, header_rate):
    samples, rate = decode_audio(wav_with_header_rate(word[0][:4000], header_rate))
    assert rate == header_rate and len(samples) == 4000


def opus_bytes(tmp_path: Path, word: tuple[np.ndarray, int]) -> bytes:
    return encode_with_pyav(tmp_path / "take.ogg", word[0], word[1], "ogg", "libopus", 48000).read_bytes()


@pytest.mark.parametrize("keep", [28, 60, 200, 1000, 0.5], ids=["28-bytes", "60-bytes", "200-bytes", "1000-bytes", "half"])
def test_a_file_cut_short_is_said_so_in_plain_words(tmp_path, word, keep):
    data = opus_bytes(tmp_path, word)
    data = data[: int(len(data) * keep) if isinstance(keep, float) else keep]
    with pytest.raises(AudioError) as caught:
        decode_audio(data, name="take.ogg")
    assert str(caught.value) == f"take.ogg: {decode.CUT_SHORT}"
    assert not DEVELOPER_WORDING.search(str(caught.value))


@pytest.mark.parametrize(
    "content",
    [b"hello world" * 10, b"OggS" + bytes(3000), b"RIFF\x00\x00\x00\x00WAVEfmt " + bytes(40), b"fLaC" + bytes(100)],
    ids=["text", "ogg-header-then-zeros", "wav-header-zero-rate", "flac-magic-then-zeros"],
)
def test_a_file_that_is_not_audio_is_said_so_in_plain_words(content):
    with pytest.raises(AudioError) as caught:
        decode_audio(content, name="take")
    assert str(caught.value) in (f"take: {decode.NOT_AUDIO}", f"take: {decode.CUT_SHORT}")
    assert not DEVELOPER_WORDING.search(str(caught.value))


# ---- encoding ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("encode", "magic"), [(encode_flac, b"fLaC"), (encode_wav, b"RIFF")])
@pytest.mark.parametrize("sample_rate", [16000, 44100, 48000])
def test_encode_round_trip(word, encode, magic, sample_rate):
    samples = soxr.resample(word[0], word[1], sample_rate).astype(np.float32)
    data = encode(samples, sample_rate)
    assert data[:4] == magic
    for decoded, decoded_rate in (read_audio_bytes(data), decode_audio(data)):
        assert decoded_rate == sample_rate
        assert decoded.dtype == np.float32 and decoded.shape == samples.shape
        np.testing.assert_allclose(decoded, samples, atol=1.0 / 32768)
    info = sf.info(io.BytesIO(data))
    assert (info.channels, info.subtype) == (1, "PCM_16")


def test_encode_flac_is_lossless_for_16_bit_audio():
    samples, sample_rate = load_word("tum")  # already 16-bit values
    np.testing.assert_array_equal(read_audio_bytes(encode_flac(samples, sample_rate))[0], samples)
    np.testing.assert_array_equal(read_audio_bytes(encode_wav(samples, sample_rate))[0], samples)


def test_encode_clips_out_of_range_samples():
    samples = np.array([0.0, 1.5, -1.5, 0.5], dtype=np.float32)
    decoded, _ = read_audio_bytes(encode_wav(samples, 16000))
    np.testing.assert_allclose(decoded, [0.0, 1.0, -1.0, 0.5], atol=1.0 / 32768)


def webrtc_frames(count: int, start_pts: int = 0, skip: tuple[int, ...] = ()) -> list[av.AudioFrame]:
    """Frames as streamlit-webrtc delivers them: 48 kHz, s16 interleaved stereo, 960 samples."""
    return [
        webrtc_frame((np.arange(960) + index * 960).astype(np.int16), start_pts + index * 960)
        for index in range(count)
        if index not in skip
    ]


def test_webrtc_frames_join_into_mono_float32():
    samples, next_pts, lost = frames_to_mono(webrtc_frames(5), None)
    np.testing.assert_array_equal(samples, np.arange(5 * 960, dtype=np.float32) / 32768)
    assert (next_pts, lost) == (5 * 960, 0)


def test_missing_frames_are_counted_from_the_pts_and_keep_their_place_as_nan():
    frames = webrtc_frames(6, skip=(2, 3))
    _, next_pts, lost = frames_to_mono(frames[:1], None)
    samples, next_pts, lost = frames_to_mono(frames[1:], next_pts)
    assert lost == 2 * 960 and next_pts == 6 * 960 and len(samples) == 5 * 960
    expected = np.arange(960, 6 * 960, dtype=np.float32) / 32768
    expected[960:3 * 960] = np.nan
    np.testing.assert_array_equal(samples, expected)


@pytest.mark.parametrize(("skip", "first_poll"), [((0,), 3), ((4, 5, 6, 7), 5), ((1,), 2), ((9,), 9)])
def test_a_gap_at_a_poll_boundary_keeps_its_place(skip, first_poll):
    frames = webrtc_frames(12, skip=skip)
    start = next(index for index, frame in enumerate(frames) if frame.pts >= first_poll * 960)
    first, next_pts, lost_first = frames_to_mono(frames[:start], 0)
    second, _, lost_second = frames_to_mono(frames[start:], next_pts)
    joined = np.concatenate([first, second])
    assert len(joined) == 12 * 960 and lost_first + lost_second == len(skip) * 960
    for index in range(12):
        block = joined[index * 960 : (index + 1) * 960]
        assert np.isnan(block).all() if index in skip else not np.isnan(block).any()


def test_a_jump_of_the_pts_fills_at_most_a_few_seconds():
    frames = webrtc_frames(2)
    frames[1].pts = 10**9  # a restarted stream, not 5.8 hours of lost audio
    samples, next_pts, lost = frames_to_mono(frames, None)
    assert lost == 10**9 - 960 and next_pts == 10**9 + 960
    assert len(samples) == 2 * 960 + round(decode.MAX_GAP_FILL_S * 48000)


def test_no_frames_changes_nothing():
    samples, next_pts, lost = frames_to_mono([], 960)
    assert (len(samples), next_pts, lost) == (0, 960, 0)


@pytest.mark.parametrize("sample_rate", [8000, 16000, 48000])
@pytest.mark.parametrize("frames", [0, 1, 16000, 12345])
def test_encode_wav_writes_the_bytes_libsndfile_writes(sample_rate, frames):
    # The export's WAVs come from the standard library's wave module; any reader of libsndfile's own
    # 16-bit WAVs reads them, as they are the same bytes.
    samples = np.random.default_rng(frames).integers(-32768, 32768, frames, dtype=np.int16)
    expected = io.BytesIO()
    sf.write(expected, samples, sample_rate, format="WAV", subtype="PCM_16")
    assert encode_wav(samples, sample_rate) == expected.getvalue()
    assert encode_wav(samples.astype(np.float32) / 32768, sample_rate) == expected.getvalue()

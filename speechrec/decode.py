"""The audio edges: decode any browser or file format with PyAV, encode FLAC and WAV with soundfile."""

from __future__ import annotations

import io
import os
import threading
import wave
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, BinaryIO

import numpy as np
import soundfile as sf

from speechrec.audio import MAX_SAMPLE_RATE, MIN_SAMPLE_RATE, to_mono
from speechrec.errors import AudioError
from speechrec.i18n import N_

if TYPE_CHECKING:
    import av

# Nothing a volunteer or the old web app recorded is longer than this; a longer file is a
# mistake (or an attack on memory), not a take.
MAX_DECODED_S = 600.0
# Sample formats read straight from PyAV's buffers (planar variants end in "p"); any other
# goes through PyAV's resampler first.
SAMPLE_DTYPES = {"flt": np.float32, "dbl": np.float64, "s16": np.int16, "s32": np.int32}
DIRECT_FORMATS = frozenset(SAMPLE_DTYPES) | {f"{name}p" for name in SAMPLE_DTYPES}
# Each thread's last Opus decoder and the stream settings it was opened for (see stream_decoder).
_KEPT = threading.local()
# decode_audio's messages (``name`` is the file's), marked for the volunteer pages' catalogs: a
# volunteer's recording that cannot be decoded is told in their language (AudioError.in_words).
# A file that FFmpeg cannot read is said in plain words (never FFmpeg's error number or '<none>').
NO_AUDIO_STREAM = N_("{name}: has no audio stream")
IMPOSSIBLE_RATE = N_(
    "{name}: its header gives a sample rate of {rate} Hz, which no recording has ({low} to {high} Hz are "
    "possible); the file is damaged or mislabelled"
)
TOO_LONG = N_("{name}: longer than {seconds} s; split it into takes first")
ENDS_TOO_EARLY = N_("{name}: cannot be decoded: the file ends too early (it was cut short or is damaged)")
DAMAGED = N_("{name}: cannot be decoded: it is damaged or not a sound file")
NO_SAMPLES = N_("{name}: contains no audio samples")
CUT_SHORT = ENDS_TOO_EARLY.removeprefix("{name}: ")
NOT_AUDIO = DAMAGED.removeprefix("{name}: ")
# A gap in a live stream longer than this is filled only this far: past it, the take in progress
# is cut as too long anyway, and a jump of the pts (a restarted stream) must not fill memory.
MAX_GAP_FILL_S = 3.0


def decode_audio(source: bytes | str | os.PathLike[str] | BinaryIO, name: str | None = None) -> tuple[np.ndarray, int]:
    """Decode the first audio stream of a file or bytes (Ogg/Opus, WebM, WAV, FLAC, MP3, ...).

    Returns ``(samples, sample_rate)``: mono float32 in [-1, 1], shape ``(frames,)``. Raises
    AudioError naming ``name`` (or the path), with one plain sentence, when the data cannot be
    decoded, has no audio stream, claims a sample rate outside MIN_SAMPLE_RATE..MAX_SAMPLE_RATE
    (a damaged or mislabelled header), has no samples, or is longer than MAX_DECODED_S.
    """
    # Imported here, not at the top: the export and the model check read FLAC only (soundfile), and
    # PyAV costs their main process and each worker process ~50 ms to import.
    import av

    label = name or (os.fspath(source) if isinstance(source, str | os.PathLike) else "the audio")
    stream_source = io.BytesIO(source) if isinstance(source, bytes | bytearray) else source
    chunks: list[np.ndarray] = []
    try:
        with av.open(stream_source, mode="r") as container:
            if not container.streams.audio:
                raise AudioError.worded(NO_AUDIO_STREAM, name=label)
            stream = container.streams.audio[0]
            sample_rate = stream.rate or stream.codec_context.sample_rate
            if not MIN_SAMPLE_RATE <= (sample_rate or 0) <= MAX_SAMPLE_RATE:
                raise AudioError.worded(
                    IMPOSSIBLE_RATE, name=label, rate=sample_rate or 0, low=MIN_SAMPLE_RATE, high=MAX_SAMPLE_RATE
                )
            read = None
            total = 0
            with stream_decoder(stream) as decoder:
                for packet in container.demux(stream):
                    for frame in decoder.decode(packet):
                        read = read or frame_reader(frame, sample_rate)
                        chunks.extend(read(frame))
                        total += frame.samples
                        if total > MAX_DECODED_S * sample_rate:
                            raise AudioError.worded(TOO_LONG, name=label, seconds=f"{MAX_DECODED_S:g}")
            if read is not None:
                chunks.extend(read(None))
    except AudioError:
        raise
    except EOFError as error:  # av.error.EOFError too: the container or a packet stops early
        raise AudioError.worded(ENDS_TOO_EARLY, name=label) from error
    except (av.FFmpegError, ValueError, IndexError, OSError) as error:
        raise AudioError.worded(DAMAGED, name=label) from error
    if sum(len(chunk) for chunk in chunks) == 0:
        raise AudioError.worded(NO_SAMPLES, name=label)
    return to_mono(np.concatenate(chunks)), int(sample_rate)


@contextmanager
def stream_decoder(stream: av.AudioStream) -> Iterator[Any]:
    """An open decoder for the packets of ``stream``.

    Opus decoders are kept, one per thread, and reused (flushed) for the next stream with the same
    header: opening one costs ~15 % of decoding a 1.5 s take, and an import decodes thousands.
    The Opus header sets up the decoder completely, so the samples are the same as from a new one.
    A decoder whose block raised is dropped. Other codecs use the stream's own decoder.
    """
    import av

    context = stream.codec_context
    if context.name != "opus":
        yield context
        return
    settings = (bytes(context.extradata or b""), context.sample_rate, context.layout.name)
    kept: tuple[Any, Any] = getattr(_KEPT, "opus", (None, None))
    kept_settings, decoder = kept
    _KEPT.opus = (None, None)
    if kept_settings == settings:
        decoder.flush_buffers()
    else:
        decoder = av.CodecContext.create("opus", "r")
        decoder.extradata = context.extradata
        decoder.sample_rate = context.sample_rate
        decoder.layout = context.layout
    yield decoder
    _KEPT.opus = (settings, decoder)


def frame_reader(first: av.AudioFrame, sample_rate: int) -> Callable[[av.AudioFrame | None], list[np.ndarray]]:
    """A function turning each frame of a stream like ``first`` into ``(samples, channels)`` arrays.

    Reads PyAV's plane buffers directly (views, no copy; ``to_ndarray`` costs more than decoding),
    with the layout worked out once per stream. Formats without a numpy twin go through PyAV's
    resampler. ``read(None)`` flushes what the resampler still holds.
    """
    import av

    channels = len(first.layout.channels)
    if first.format.name not in DIRECT_FORMATS:
        resampler = av.AudioResampler(format="flt", rate=sample_rate)
        return lambda frame: [
            np.frombuffer(part.planes[0], np.float32, part.samples * channels).reshape(-1, channels)  # type: ignore[call-overload]  # planes are buffers
            for part in resampler.resample(frame)
        ]
    dtype = SAMPLE_DTYPES[first.format.name.rstrip("p")]
    if first.format.is_planar and channels > 1:
        return lambda frame: (
            [np.stack([np.frombuffer(plane, dtype, frame.samples) for plane in frame.planes[:channels]], axis=1)]  # type: ignore[call-overload]
            if frame is not None
            else []
        )
    return lambda frame: (
        [np.frombuffer(frame.planes[0], dtype, frame.samples * channels).reshape(-1, channels)]  # type: ignore[call-overload]
        if frame is not None
        else []
    )


def to_pcm16(samples: np.ndarray) -> np.ndarray:
    """Float samples in [-1, 1] to int16, scaled by 32768 (the inverse of ``to_mono`` on int16)."""
    return np.clip(np.round(samples * 32768.0), -32768, 32767).astype(np.int16)


def encode_flac(samples: np.ndarray, sample_rate: int) -> bytes:
    """Mono float32 samples in [-1, 1] to FLAC bytes (16-bit, fastest compression: it is still lossless)."""
    buffer = io.BytesIO()
    sf.write(buffer, to_pcm16(samples), sample_rate, format="FLAC", subtype="PCM_16", compression_level=0.0)
    return buffer.getvalue()


def encode_wav(samples: np.ndarray, sample_rate: int) -> bytes:
    """Mono samples (float32 in [-1, 1], or int16 PCM written as is) to 16-bit PCM WAV bytes.

    Written with the standard library's ``wave`` (the same 44-byte header as libsndfile writes):
    a seventh of the time soundfile takes for a one-second clip, which the export pays per clip.
    """
    buffer = io.BytesIO()
    pcm = samples if samples.dtype == np.int16 else to_pcm16(samples)
    with wave.open(buffer, "wb") as file:
        file.setnchannels(1)
        file.setsampwidth(2)
        file.setframerate(sample_rate)
        file.writeframes(pcm.astype("<i2", copy=False).tobytes())
    return buffer.getvalue()


def read_audio_bytes(data: bytes) -> tuple[np.ndarray, int]:
    """Read FLAC or WAV bytes written by this package: ``(mono float32 samples, sample_rate)``."""
    samples, sample_rate = read_pcm16(data)
    return to_mono(samples), sample_rate


def read_pcm16(data: bytes) -> tuple[np.ndarray, int]:
    """Read FLAC or WAV bytes as ``(mono int16 samples, sample_rate)``, without float conversion.

    Raises AudioError when the bytes are not a readable sound file.
    """
    try:
        # SoundFile.read, not sf.read: sf.read seeks to the start first, which makes libsndfile's
        # FLAC decoder start over (16 % of a 1.5 s take's decoding time, measured).
        with sf.SoundFile(io.BytesIO(data)) as file:
            samples, sample_rate = file.read(dtype="int16", always_2d=True), file.samplerate
    except (sf.LibsndfileError, RuntimeError, TypeError) as error:
        raise AudioError(f"stored audio cannot be read: {error}") from error
    mono = samples[:, 0] if samples.shape[1] == 1 else samples.mean(axis=1).astype(np.int16)
    return mono, int(sample_rate)


def frames_to_mono(frames: list[av.AudioFrame], next_pts: int | None) -> tuple[np.ndarray, int | None, int]:
    """Join live audio frames (WebRTC's 20 ms ``av.AudioFrame``) into mono float32 samples.

    ``next_pts`` is where the previous call left off (None at the start). Returns the samples,
    the pts expected next, and how many samples went missing between frames (gaps in their pts,
    in samples of the frames' rate; 0 when nothing was lost). The samples keep the real
    timeline: a gap is filled with NaN (no audio; at most MAX_GAP_FILL_S of it), which
    ``SpeechCapture.feed`` records as lost audio, so a word with frames lost in it is never
    spliced into a shorter, clean-looking take.
    """
    if not frames:
        return np.zeros(0, np.float32), next_pts, 0
    pieces: list[np.ndarray] = []
    run: list[np.ndarray] = []
    lost = 0
    read = frame_reader(frames[0], frames[0].sample_rate)  # one stream: every frame has the same layout
    for frame in frames:
        if next_pts is not None and frame.pts is not None and frame.pts > next_pts:
            gap = frame.pts - next_pts
            lost += gap
            if run:
                pieces.append(to_mono(np.concatenate(run)))
                run = []
            pieces.append(np.full(min(gap, round(MAX_GAP_FILL_S * frame.sample_rate)), np.nan, np.float32))
        run.extend(read(frame))
        next_pts = None if frame.pts is None else frame.pts + frame.samples
    if run:
        pieces.append(to_mono(np.concatenate(run)))
    return (pieces[0] if len(pieces) == 1 else np.concatenate(pieces)), next_pts, lost

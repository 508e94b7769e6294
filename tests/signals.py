"""Test signals: the shipped espeak-ng words and synthetic tones, noise and takes.

Every builder returns mono float32 in [-1, 1], shape ``(frames,)``. Levels are RMS in dBFS with
the package's convention (a full-scale square wave is 0 dBFS, a full-scale sine -3 dBFS).
Nothing here uses speechrec, so a bug in the package cannot hide in its own test input.
Randomness is always seeded: every call with the same arguments gives the same samples.
"""

from __future__ import annotations

import struct
from pathlib import Path

import av
import numpy as np
import soundfile as sf
import soxr

SPEECH_DIR = Path(__file__).parent / "data" / "speech"
# Inputs rebuilt from public bug reports (issue 11); data/audio-quirks/README.md says what each is.
QUIRKS_DIR = Path(__file__).parent / "data" / "audio-quirks"
# Made by data/make_speech.sh: espeak-ng, 16 kHz mono 16-bit FLAC, 0.3 s of silence around the word.
WORDS = ("yes", "no", "up", "down", "tum")
SPEECH_SAMPLE_RATE = 16000
SPEECH_PAD_S = 0.3
# Samples below this (-60 dBFS) at the ends of a shipped clip are its padding, not the word.
TRIM_THRESHOLD = 1e-3


def speech_path(word: str) -> Path:
    """Path of the shipped FLAC clip of ``word`` (one of WORDS)."""
    if word not in WORDS:
        raise ValueError(f"no shipped clip for {word!r}; choose one of {', '.join(WORDS)}")
    return SPEECH_DIR / f"{word}.flac"


def load_word(word: str, sample_rate: int | None = None, *, trim: bool = False) -> tuple[np.ndarray, int]:
    """A shipped word as ``(mono float32 samples, sample_rate)``.

    ``sample_rate``: resample (soxr) to it; None keeps the file's 16 kHz. ``trim``: drop the
    silence around the word, leaving just the spoken part.
    """
    samples, rate = sf.read(speech_path(word), dtype="float32", always_2d=False)
    if trim:
        loud = np.flatnonzero(np.abs(samples) > TRIM_THRESHOLD)
        samples = samples[loud[0] : loud[-1] + 1]
    if sample_rate is not None and sample_rate != rate:
        samples = soxr.resample(samples, rate, sample_rate).astype(np.float32)
        rate = sample_rate
    return samples, int(rate)


def rms_dbfs(samples: np.ndarray) -> float:
    """RMS level of ``samples`` in dBFS (-inf for digital silence)."""
    power = float(np.mean(np.asarray(samples, dtype=np.float64) ** 2))
    return 10.0 * np.log10(power) if power > 0 else float("-inf")


def scale_to_dbfs(samples: np.ndarray, level_dbfs: float) -> np.ndarray:
    """``samples`` scaled so that their RMS level is ``level_dbfs`` (not clipped)."""
    gain = 10.0 ** ((level_dbfs - rms_dbfs(samples)) / 20.0)
    return (np.asarray(samples, dtype=np.float64) * gain).astype(np.float32)


def _fade(samples: np.ndarray, sample_rate: int, fade_s: float) -> np.ndarray:
    length = min(round(fade_s * sample_rate), len(samples) // 2)
    if length > 0:
        ramp = 0.5 - 0.5 * np.cos(np.linspace(0.0, np.pi, length))
        samples[:length] *= ramp
        samples[-length:] *= ramp[::-1]
    return samples


def tone(frequency_hz: float, duration_s: float, sample_rate: int, amplitude: float = 1.0) -> np.ndarray:
    """A sine of peak ``amplitude`` (no fades): amplitude 1.0 is -3 dBFS."""
    t = np.arange(round(duration_s * sample_rate)) / sample_rate
    return (amplitude * np.sin(2.0 * np.pi * frequency_hz * t)).astype(np.float32)


def tone_burst(
    duration_s: float,
    sample_rate: int,
    *,
    frequency_hz: float = 440.0,
    level_dbfs: float = -20.0,
    fade_s: float = 0.01,
) -> np.ndarray:
    """A sine burst at RMS ``level_dbfs`` with raised-cosine fades of ``fade_s`` at both ends."""
    amplitude = np.sqrt(2.0) * 10.0 ** (level_dbfs / 20.0)
    burst = tone(frequency_hz, duration_s, sample_rate, amplitude).astype(np.float64)
    return _fade(burst, sample_rate, fade_s).astype(np.float32)


def speech_burst(
    duration_s: float,
    sample_rate: int,
    *,
    level_dbfs: float = -20.0,
    f0_hz: float = 140.0,
    fade_s: float = 0.01,
) -> np.ndarray:
    """A speech-like burst: a voice-like harmonic tone (f0 and 9 overtones, 1/k amplitudes) with a
    slow syllable-like wobble, fades at both ends, RMS ``level_dbfs`` (before the fades)."""
    t = np.arange(round(duration_s * sample_rate)) / sample_rate
    voice = sum(np.sin(2.0 * np.pi * k * f0_hz * t) / k for k in range(1, 11) if k * f0_hz < sample_rate / 2)
    voice = voice * (1.0 + 0.3 * np.sin(2.0 * np.pi * 4.0 * t))
    voice = scale_to_dbfs(voice, level_dbfs).astype(np.float64)
    return _fade(voice, sample_rate, fade_s).astype(np.float32)


def steady_noise(duration_s: float, sample_rate: int, level_dbfs: float, *, seed: int = 0) -> np.ndarray:
    """Steady white Gaussian noise at RMS ``level_dbfs`` (seeded), clipped to [-1, 1]."""
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal(round(duration_s * sample_rate)) * 10.0 ** (level_dbfs / 20.0)
    return np.clip(noise, -1.0, 1.0).astype(np.float32)


def hum(duration_s: float, sample_rate: int, level_dbfs: float, *, frequency_hz: float = 50.0) -> np.ndarray:
    """Mains hum: ``frequency_hz`` and its 2nd and 3rd harmonics, RMS ``level_dbfs``."""
    t = np.arange(round(duration_s * sample_rate)) / sample_rate
    signal = sum(np.sin(2.0 * np.pi * k * frequency_hz * t + k) / k for k in (1, 2, 3))
    return scale_to_dbfs(signal, level_dbfs)


def make_take(
    *,
    sample_rate: int = 16000,
    duration_s: float = 1.5,
    offset_s: float = 0.4,
    level_dbfs: float = -20.0,
    noise_dbfs: float | None = -60.0,
    word: str | None = None,
    burst_s: float = 0.4,
    seed: int = 0,
) -> np.ndarray:
    """A take as a microphone would capture it: speech starting at ``offset_s`` inside steady noise.

    The speech is the shipped ``word`` (trimmed to the spoken part) or, with ``word=None``, a
    ``burst_s`` long speech_burst; its RMS level is ``level_dbfs``. ``noise_dbfs=None`` gives
    digital silence around it. Speech running past the end is cut there; the sum is clipped to
    [-1, 1] like a real converter, so a loud ``level_dbfs`` gives a clipped take.
    """
    length = round(duration_s * sample_rate)
    take = np.zeros(length, dtype=np.float64)
    if noise_dbfs is not None:
        take += steady_noise(duration_s, sample_rate, noise_dbfs, seed=seed)[:length]
    if word is not None:
        speech = scale_to_dbfs(load_word(word, sample_rate, trim=True)[0], level_dbfs)
    else:
        speech = speech_burst(burst_s, sample_rate, level_dbfs=level_dbfs)
    start = round(offset_s * sample_rate)
    end = min(length, start + len(speech))
    if end > start:
        take[start:end] += speech[: end - start]
    return np.clip(take, -1.0, 1.0).astype(np.float32)


TRANSIENTS = ("mouse-click", "tick", "noise-burst", "thump", "key-press")


def transient(kind: str, sample_rate: int, peak_dbfs: float = -12.0) -> np.ndarray:
    """A click, pop or key press (one of TRANSIENTS) with peak ``peak_dbfs``: what a take may hold
    besides the word. ``mouse-click``: 30 ms of 2 kHz decaying with a 6 ms time constant (case
    17-click); ``tick``: 10 ms of 4 kHz; ``noise-burst``: 5 ms of Hann-windowed white noise;
    ``thump``: a 10 ms half-sine pop (a plosive on the microphone, the mic switching on);
    ``key-press``: two ticks 80 ms apart (press and release)."""
    def decaying(frequency_hz: float, length_s: float, tau_s: float) -> np.ndarray:
        t = np.arange(round(length_s * sample_rate)) / sample_rate
        return np.sin(2.0 * np.pi * frequency_hz * t) * np.exp(-t / tau_s)

    if kind == "mouse-click":
        shape = decaying(2000.0, 0.03, 0.006)
    elif kind == "tick":
        shape = decaying(4000.0, 0.01, 0.002)
    elif kind == "noise-burst":
        length = round(0.005 * sample_rate)
        shape = np.random.default_rng(11).standard_normal(length) * np.hanning(length)
    elif kind == "thump":
        shape = np.sin(np.pi * np.arange(round(0.01 * sample_rate)) / round(0.01 * sample_rate))
    elif kind == "key-press":
        tick = decaying(4000.0, 0.01, 0.002)
        shape = np.concatenate([tick, np.zeros(round(0.07 * sample_rate)), 0.7 * tick])
    else:
        raise ValueError(f"unknown transient {kind!r}; choose one of {', '.join(TRANSIENTS)}")
    return (shape / np.max(np.abs(shape)) * 10.0 ** (peak_dbfs / 20.0)).astype(np.float32)


def add_at(take: np.ndarray, sound: np.ndarray, at_s: float, sample_rate: int) -> np.ndarray:
    """``take`` with ``sound`` added from ``at_s`` on (cut at the end), clipped to [-1, 1]; a copy."""
    out = take.astype(np.float64).copy()
    start = round(at_s * sample_rate)
    end = min(len(out), start + len(sound))
    out[start:end] += sound[: end - start]
    return np.clip(out, -1.0, 1.0).astype(np.float32)


def encode_with_pyav(path: Path, samples: np.ndarray, sample_rate: int, container: str, codec: str, rate: int) -> Path:
    """Write mono float32 ``samples`` to ``path`` with PyAV (it resamples to ``rate`` itself)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w", format=container) as output:
        stream = output.add_stream(codec, rate=rate, layout="mono")
        frame = av.AudioFrame.from_ndarray(samples[None, :].astype(np.float32), format="flt", layout="mono")
        frame.sample_rate = sample_rate
        for packet in stream.encode(frame):
            output.mux(packet)
        for packet in stream.encode(None):
            output.mux(packet)
    return path


def webrtc_frame(block: np.ndarray, pts: int, sample_rate: int = 48000) -> av.AudioFrame:
    """An audio frame as streamlit-webrtc delivers it: s16 interleaved stereo (both channels equal)
    from mono int16 ``block``, with ``pts`` counted in samples."""
    frame = av.AudioFrame.from_ndarray(np.repeat(block, 2)[np.newaxis], format="s16", layout="stereo")
    frame.sample_rate, frame.pts = sample_rate, pts
    return frame


def wav_with_header_rate(samples: np.ndarray, header_rate: int) -> bytes:
    """16-bit mono WAV bytes of float ``samples`` whose header claims ``header_rate`` Hz, whatever
    it is (soundfile refuses impossible rates, so the header is written here by hand)."""
    pcm = np.clip(np.round(samples * 32768.0), -32768, 32767).astype("<i2").tobytes()
    fmt = struct.pack("<HHIIHH", 1, 1, header_rate % 2**32, (2 * header_rate) % 2**32, 2, 16)
    chunks = b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(pcm)) + pcm
    return b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WAVE" + chunks


def voiced_take(
    word: str, voice: int, *, seed: int = 0, sample_rate: int = 16000, duration_s: float = 1.3
) -> np.ndarray:
    """The shipped ``word`` as one of several synthetic speakers would record it.

    ``voice`` 0, 1, 2, ... shifts pitch and formants together (the word resampled by 1.0, 0.94,
    1.06, 0.88, 1.12, ... and played at the original rate, as a shorter or longer vocal tract would
    say it), and puts each voice in a room of its own noise level. ``seed`` places the word at a
    different point and level. Returns ``duration_s`` of mono float32 at ``sample_rate``.
    """
    factor = 1.0 + 0.06 * ((voice + 1) // 2) * (-1) ** voice
    speech, rate = load_word(word, sample_rate, trim=True)
    speech = soxr.resample(speech, rate, round(rate * factor)).astype(np.float32)
    rng = np.random.default_rng([voice, seed])
    length = round(duration_s * sample_rate)
    take = steady_noise(duration_s, sample_rate, -60.0 - 3.0 * (voice % 5), seed=1000 * voice + seed)[:length]
    speech = scale_to_dbfs(speech[: length - round(0.3 * sample_rate)], float(rng.uniform(-30.0, -18.0)))
    start = int(rng.integers(round(0.15 * sample_rate), length - len(speech) - round(0.15 * sample_rate) + 1))
    take[start : start + len(speech)] += speech
    return np.clip(take, -1.0, 1.0)

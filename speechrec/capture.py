"""Live capture: turn a stream of audio blocks into speech-triggered takes.

A take starts when the volunteer starts speaking and ends once they have been quiet for a moment,
with some silence kept on both sides, so nobody races a fixed recording window. Speech is told
from the room by the same rule as the quality report (speechrec.audio): a frame is speech when it
stands SPEECH_ABOVE_FLOOR_DB above the noise floor of the last few seconds. A take that holds no
speech by the quality report's rule (only a click, a pop or a key press) is dropped, and the
capture listens on. Audio lost on the way (NaN samples, as ``decode.frames_to_mono`` fills gaps)
keeps its place in the timeline as silence and is reported with the take (``lost_spans``).
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from enum import Enum

import numpy as np

from speechrec import audio

# Silence kept before the first speech frame: the onset of a word is quieter than its middle.
PRE_ROLL_S = 0.3
# Quiet this long after speech ends the take; it is kept, so the word's tail is never cut.
POST_ROLL_S = 0.5
# Speech this long (two 20 ms frames) starts a take; a single click or pop does not.
ONSET_S = 0.04
# The noise floor is measured over this much recent audio.
FLOOR_WINDOW_S = 3.0
# Without speech for this long, the volunteer is told nothing was heard.
NO_SPEECH_TIMEOUT_S = 5.0


class Outcome(Enum):
    """How a capture ended."""

    TAKE = "take"  # speech followed by silence: a complete take
    TOO_LONG = "too_long"  # speech went on past the limit: cut there
    NOTHING_HEARD = "nothing_heard"  # no speech within the timeout


@dataclass(frozen=True)
class CaptureResult:
    """A finished capture: its outcome and its samples (mono float32; empty when nothing was heard)."""

    outcome: Outcome
    samples: np.ndarray
    sample_rate: int
    start_sample: int  # where the samples start in the whole stream fed (for NOTHING_HEARD: where waiting ended)
    decided_at: float = field(default_factory=time.monotonic)  # when the capture ended (time.monotonic)
    # ``[start, end)`` sample ranges of ``samples`` where audio was lost on the way (silence there)
    lost_spans: tuple[tuple[int, int], ...] = ()


@dataclass
class _Take:
    frames: list[np.ndarray] = field(default_factory=list)
    levels: list[float] = field(default_factory=list)
    start_sample: int = 0
    quiet_frames: int = 0
    waited_frames: int = 0  # frames waited for speech before the take began (the timeout goes on if it was no speech)
    onset_frames: int = 0  # frames the take began with (already counted as waited)


class SpeechCapture:
    """Feed it blocks of mono float32 samples; it returns finished takes as they complete.

    Not thread-safe: feed it from one thread. ``max_take_s`` bounds a take's length (pre-roll and
    post-roll included); ``timeout_s`` is how long to wait for speech before NOTHING_HEARD.
    """

    def __init__(
        self,
        sample_rate: int,
        *,
        max_take_s: float = 3.0,
        timeout_s: float = NO_SPEECH_TIMEOUT_S,
        pre_roll_s: float = PRE_ROLL_S,
        post_roll_s: float = POST_ROLL_S,
    ) -> None:
        audio.check_rate(sample_rate)
        if not pre_roll_s + ONSET_S + post_roll_s < max_take_s:
            raise ValueError(
                f"max_take_s must be longer than pre-roll, onset and post-roll together "
                f"({pre_roll_s + ONSET_S + post_roll_s:g} s), got {max_take_s!r}"
            )
        if timeout_s <= 0:
            raise ValueError(f"timeout_s must be positive, got {timeout_s!r}")
        self.sample_rate = sample_rate
        self._frame_length = round(sample_rate * audio.FRAME_S)
        self._onset_frames = round(ONSET_S / audio.FRAME_S)
        self._post_roll_frames = round(post_roll_s / audio.FRAME_S)
        self._max_frames = round(max_take_s / audio.FRAME_S)
        self._timeout_frames = round(timeout_s / audio.FRAME_S)
        self._history: deque[tuple[np.ndarray, float]] = deque(
            maxlen=round(pre_roll_s / audio.FRAME_S) + self._onset_frames
        )
        self._levels: deque[float] = deque(maxlen=round(FLOOR_WINDOW_S / audio.FRAME_S))
        self._pending = np.zeros(0, dtype=np.float32)
        self._position = 0  # samples of the stream turned into frames so far (the current one included)
        self._take: _Take | None = None
        self._loud_frames = 0
        self._waited_frames = 0
        self._need_quiet = False
        self._lost: list[tuple[int, int]] = []  # lost audio, [start, end) in samples of the whole stream
        self.level_dbfs = audio.SILENCE_DBFS

    @property
    def speaking(self) -> bool:
        """True while a take is being recorded."""
        return self._take is not None

    @property
    def noise_floor_dbfs(self) -> float:
        """The current noise floor estimate (SILENCE_DBFS before any audio)."""
        return audio.noise_floor_dbfs(np.fromiter(self._levels, float)) if self._levels else audio.SILENCE_DBFS

    def restart(self) -> None:
        """Drop any take in progress and wait for speech afresh (after a pause or a new prompt)."""
        self._take = None
        self._history.clear()
        self._loud_frames = 0
        self._waited_frames = 0
        self._need_quiet = False

    def flush(self) -> CaptureResult | None:
        """End of the stream: the take in progress as it is (its speech may be cut off), or None.

        Samples short of a whole analysis frame belong to the take too.
        """
        take, self._take = self._take, None
        tail, self._pending = self._pending, np.zeros(0, dtype=np.float32)
        tail = self._take_lost(tail)
        self._position += len(tail)
        if take is None:
            return None
        self.restart()
        result = self._result(Outcome.TAKE, np.concatenate([*take.frames, tail]), take.start_sample)
        return result if result.lost_spans or self._holds_speech(take) else None

    def feed(self, samples: np.ndarray) -> list[CaptureResult]:
        """Add a block of mono float32 samples (any length); return the captures it completed, in order."""
        if not isinstance(samples, np.ndarray) or samples.ndim != 1:
            raise TypeError(f"samples must be a mono numpy array of shape (frames,), got {samples!r:.80}")
        data = np.concatenate((self._pending, samples.astype(np.float32, copy=False)))
        count = len(data) // self._frame_length
        self._pending = data[count * self._frame_length :]
        if count == 0:
            return []
        head = data[: count * self._frame_length]
        lost = None
        if np.isnan(head.sum()):
            lost = np.asarray(np.isnan(head).reshape(count, self._frame_length).any(axis=1))
        frames = self._take_lost(head).reshape(count, self._frame_length)
        levels = audio.frame_levels_dbfs(frames.reshape(-1), self.sample_rate)
        results = []
        for index, (frame, level) in enumerate(zip(frames, levels, strict=True)):
            self._position += self._frame_length
            result = self._step_lost(frame) if lost is not None and lost[index] else self._step(frame, float(level))
            if result is not None:
                results.append(result)
        horizon = self._take.start_sample if self._take else self._position - len(self._history) * self._frame_length
        self._lost = [span for span in self._lost if span[1] > horizon]
        return results

    def _take_lost(self, block: np.ndarray) -> np.ndarray:
        """Record the NaN (lost) samples of ``block``, which starts at ``self._position``; return it with silence there."""
        missing = np.isnan(block)
        if not missing.any():
            return block
        edges = np.diff(np.concatenate(([0], missing.astype(np.int8), [0])))
        for start, end in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True):
            self._lost.append((self._position + int(start), self._position + int(end)))
        return np.where(missing, np.float32(0.0), block)

    def _step_lost(self, frame: np.ndarray) -> CaptureResult | None:
        """A frame whose audio (some or all of it) was lost: it keeps its place in the take or the
        pre-roll as silence, but is neither speech nor quiet, and no part of the noise floor."""
        if self._take is not None:
            return self._continue_take(self._take, frame, audio.SILENCE_DBFS, loud=False, lost=True)
        if self._need_quiet:
            return None
        self._history.append((frame, audio.SILENCE_DBFS))
        self._waited_frames += 1
        return self._timed_out()

    def _timed_out(self) -> CaptureResult | None:
        """NOTHING_HEARD once the frames waited for speech reach the timeout (and the count restarts)."""
        if self._waited_frames < self._timeout_frames:
            return None
        self._waited_frames = 0
        return CaptureResult(Outcome.NOTHING_HEARD, np.zeros(0, np.float32), self.sample_rate, self._position)

    def _result(self, outcome: Outcome, samples: np.ndarray, start_sample: int) -> CaptureResult:
        """A finished take, with the lost audio inside it as ranges of its own samples."""
        end_sample = start_sample + len(samples)
        lost = tuple(
            (max(start, start_sample) - start_sample, min(end, end_sample) - start_sample)
            for start, end in self._lost
            if start < end_sample and end > start_sample
        )
        return CaptureResult(outcome, samples, self.sample_rate, start_sample, lost_spans=lost)

    def _step(self, frame: np.ndarray, level: float) -> CaptureResult | None:
        self.level_dbfs = level
        if self._take is None:
            self._levels.append(level)  # the floor is measured while nobody speaks
        loud = level > audio.speech_threshold_dbfs(self.noise_floor_dbfs)
        if self._take is not None:
            return self._continue_take(self._take, frame, level, loud)
        if self._need_quiet:  # after a cut take, wait for the speaker to stop before listening again
            self._loud_frames = 0 if loud else self._loud_frames + 1
            self._need_quiet = self._loud_frames < self._post_roll_frames
            if not self._need_quiet:
                self._loud_frames = 0
            return None
        self._history.append((frame, level))
        self._loud_frames = self._loud_frames + 1 if loud else 0
        self._waited_frames += 1
        if self._loud_frames >= self._onset_frames:
            start = self._position - len(self._history) * self._frame_length
            frames, levels = zip(*self._history, strict=True)
            self._take = _Take(
                frames=list(frames),
                levels=list(levels),
                start_sample=start,
                waited_frames=self._waited_frames,
                onset_frames=len(frames),
            )
            self._history.clear()
            return None
        return self._timed_out()

    def _continue_take(
        self, take: _Take, frame: np.ndarray, level: float, loud: bool, lost: bool = False
    ) -> CaptureResult | None:
        take.frames.append(frame)
        take.levels.append(level)
        if not lost:  # a lost frame is neither speech nor quiet
            take.quiet_frames = 0 if loud else take.quiet_frames + 1
        if take.quiet_frames >= self._post_roll_frames:
            outcome = Outcome.TAKE
        elif len(take.frames) >= self._max_frames:
            outcome = Outcome.TOO_LONG
            self._need_quiet = True
        else:
            return None
        self._take = None
        self._loud_frames = 0
        self._waited_frames = 0
        result = self._result(outcome, np.concatenate(take.frames), take.start_sample)
        if outcome is Outcome.TAKE and not result.lost_spans and not self._holds_speech(take):  # a click: listen on
            self._waited_frames = take.waited_frames + len(take.frames) - take.onset_frames
            return self._timed_out()
        return result

    def _holds_speech(self, take: _Take) -> bool:
        """True when the take has speech by the quality report's rule, not just a transient."""
        return bool(audio.speech_frame_mask(np.asarray(take.levels), self.noise_floor_dbfs).any())

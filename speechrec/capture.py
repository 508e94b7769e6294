"""Live capture: turn a stream of audio blocks into speech-triggered takes.

A take starts when the volunteer starts speaking and ends once they have been quiet for a moment,
with some silence kept on both sides, so nobody races a fixed recording window. Speech is told
from the room by the same rule as the quality report (speechrec.audio): a frame is speech when it
stands SPEECH_ABOVE_FLOOR_DB above the noise floor of the last few seconds.
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


@dataclass
class _Take:
    frames: list[np.ndarray] = field(default_factory=list)
    start_sample: int = 0
    quiet_frames: int = 0


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
        self._history: deque[np.ndarray] = deque(maxlen=round(pre_roll_s / audio.FRAME_S) + self._onset_frames)
        self._levels: deque[float] = deque(maxlen=round(FLOOR_WINDOW_S / audio.FRAME_S))
        self._pending = np.zeros(0, dtype=np.float32)
        self._position = 0  # samples of the stream turned into frames so far (the current one included)
        self._take: _Take | None = None
        self._loud_frames = 0
        self._waited_frames = 0
        self._need_quiet = False
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
        self._position += len(tail)
        if take is None:
            return None
        self.restart()
        return CaptureResult(Outcome.TAKE, np.concatenate([*take.frames, tail]), self.sample_rate, take.start_sample)

    def feed(self, samples: np.ndarray) -> list[CaptureResult]:
        """Add a block of mono float32 samples (any length); return the captures it completed, in order."""
        if not isinstance(samples, np.ndarray) or samples.ndim != 1:
            raise TypeError(f"samples must be a mono numpy array of shape (frames,), got {samples!r:.80}")
        data = np.concatenate((self._pending, samples.astype(np.float32, copy=False)))
        count = len(data) // self._frame_length
        self._pending = data[count * self._frame_length :]
        if count == 0:
            return []
        frames = data[: count * self._frame_length].reshape(count, self._frame_length)
        levels = audio.frame_levels_dbfs(frames.reshape(-1), self.sample_rate)
        results = []
        for frame, level in zip(frames, levels, strict=True):
            self._position += self._frame_length
            result = self._step(frame, float(level))
            if result is not None:
                results.append(result)
        return results

    def _step(self, frame: np.ndarray, level: float) -> CaptureResult | None:
        self.level_dbfs = level
        if self._take is None:
            self._levels.append(level)  # the floor is measured while nobody speaks
        loud = level > audio.speech_threshold_dbfs(self.noise_floor_dbfs)
        if self._take is not None:
            return self._continue_take(self._take, frame, loud)
        if self._need_quiet:  # after a cut take, wait for the speaker to stop before listening again
            self._loud_frames = 0 if loud else self._loud_frames + 1
            self._need_quiet = self._loud_frames < self._post_roll_frames
            if not self._need_quiet:
                self._loud_frames = 0
            return None
        self._history.append(frame)
        self._loud_frames = self._loud_frames + 1 if loud else 0
        self._waited_frames += 1
        if self._loud_frames >= self._onset_frames:
            start = self._position - len(self._history) * self._frame_length
            self._take = _Take(frames=list(self._history), start_sample=start)
            self._history.clear()
            return None
        if self._waited_frames >= self._timeout_frames:
            self._waited_frames = 0
            return CaptureResult(Outcome.NOTHING_HEARD, np.zeros(0, np.float32), self.sample_rate, self._position)
        return None

    def _continue_take(self, take: _Take, frame: np.ndarray, loud: bool) -> CaptureResult | None:
        take.frames.append(frame)
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
        return CaptureResult(outcome, np.concatenate(take.frames), self.sample_rate, take.start_sample)

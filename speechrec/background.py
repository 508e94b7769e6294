"""Background noise for the export when no one recorded any: assembled from the room noise around the words.

TensorFlow's speech_commands example needs ``_background_noise_/`` for its silence class (without
it, its default ``--silence_percentage=10`` fails with ``ValueError: high <= 0``), and every file
there must be longer than one clip. The takes themselves hold that room noise: the silence before
and after each word (``cut.room_noise_parts``). Pieces are joined with equal-power crossfades.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np

# At most this much per speaker (a minute is sixty times what one clip's augmentation draws from)
# and in all (Speech Commands' own _background_noise_ holds about 6 minutes).
PER_SPEAKER_S = 60.0
TOTAL_S = 600.0
# Pieces are joined with crossfades this long (equal power: noise keeps its level through a join).
CROSSFADE_S = 0.01
# Shorter pieces are dropped: mostly a fade, they would add joins and little noise.
MIN_PIECE_S = 0.05
# A file must be longer than one clip (TensorFlow draws a clip-long stretch from it); this much more.
MARGIN_S = 0.1


@dataclass(frozen=True)
class AssembledNoise:
    """One background noise file: its name inside ``_background_noise_/``, whose noise it is, and its
    int16 samples."""

    name: str
    speaker_id: str
    takes: int
    samples: np.ndarray


@dataclass
class NoiseCollector:
    """Gathers room noise pieces per speaker, up to PER_SPEAKER_S each and TOTAL_S in all."""

    sample_rate: int
    _pieces: dict[str, list[np.ndarray]] = field(default_factory=dict)
    _takes: dict[str, int] = field(default_factory=dict)
    _frames: dict[str, int] = field(default_factory=dict)

    def add(self, speaker_id: str, parts: tuple[np.ndarray, ...] | list[np.ndarray]) -> None:
        """Keep a take's noise pieces (int16) while the speaker's and the total allowance last."""
        shortest = round(MIN_PIECE_S * self.sample_rate)
        parts = [part for part in parts if len(part) >= shortest]
        room = min(
            PER_SPEAKER_S * self.sample_rate - self._frames.get(speaker_id, 0),
            TOTAL_S * self.sample_rate - sum(self._frames.values()),
        )
        if not parts or room <= 0:
            return
        self._pieces.setdefault(speaker_id, []).extend(parts)
        self._takes[speaker_id] = self._takes.get(speaker_id, 0) + 1
        self._frames[speaker_id] = self._frames.get(speaker_id, 0) + sum(len(part) for part in parts)

    def files(self, clip_duration_s: float) -> list[AssembledNoise]:
        """One file per speaker with enough noise (longer than a clip); the rest pooled in ``mixed.wav``
        if that is long enough. Empty when the takes held too little room noise for any file."""
        needed = round((clip_duration_s + MARGIN_S) * self.sample_rate)
        files, leftovers, leftover_takes = [], [], 0
        for speaker_id, pieces in self._pieces.items():
            joined = join_with_crossfades(pieces, self.sample_rate)
            if len(joined) >= needed:
                files.append(
                    AssembledNoise(f"{speaker_id}_around_words.wav", speaker_id, self._takes[speaker_id], joined)
                )
            else:
                leftovers.extend(pieces)
                leftover_takes += self._takes[speaker_id]
        if leftovers:
            joined = join_with_crossfades(leftovers, self.sample_rate)
            if len(joined) >= needed:
                files.append(AssembledNoise("mixed_around_words.wav", "", leftover_takes, joined))
        return files


def join_with_crossfades(pieces: list[np.ndarray], sample_rate: int) -> np.ndarray:
    """The int16 pieces one after the other, each join an equal-power crossfade of CROSSFADE_S
    (shorter where a piece is shorter). Returns int16."""
    fade = round(CROSSFADE_S * sample_rate)
    overlaps = [min(fade, len(before), len(after)) for before, after in itertools.pairwise(pieces)]
    output = np.zeros(sum(len(piece) for piece in pieces) - sum(overlaps), np.float32)
    position = 0
    for index, piece in enumerate(pieces):
        shaped = piece.astype(np.float32)
        if index > 0 and (overlap := overlaps[index - 1]):
            shaped[:overlap] *= np.sin(np.linspace(0.0, np.pi / 2, overlap, dtype=np.float32))
        if index < len(overlaps) and (overlap := overlaps[index]):
            shaped[len(shaped) - overlap :] *= np.cos(np.linspace(0.0, np.pi / 2, overlap, dtype=np.float32))
        output[position : position + len(shaped)] += shaped
        position += len(shaped) - (overlaps[index] if index < len(overlaps) else 0)
    return np.clip(np.round(output), -32768, 32767).astype(np.int16)

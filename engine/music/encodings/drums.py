"""Nine drum classes from General MIDI drum pitches, as MusicVAE's drum models use them.

Classes: 0 kick, 1 snare, 2 closed hi-hat, 3 open hi-hat, 4 low tom, 5 mid tom, 6 high tom,
7 crash, 8 ride. The first pitch of each class is the one written back.
"""

from __future__ import annotations

import numpy as np

from engine.music.sketch import TICKS_PER_STEP, Note, Track

DRUM_CLASS_NAMES = ("kick", "snare", "closed hi-hat", "open hi-hat", "low tom", "mid tom",
                    "high tom", "crash", "ride")
DRUM_CLASS_PITCHES: tuple[tuple[int, ...], ...] = (
    (36, 35),
    (38, 27, 28, 31, 32, 33, 34, 37, 39, 40, 56, 65, 66, 75, 85),
    (42, 44, 54, 68, 69, 70, 71, 73, 78, 80, 22),
    (46, 67, 72, 74, 79, 81, 26),
    (45, 29, 41, 43, 61, 64, 84),
    (48, 47, 60, 63, 77, 86, 87),
    (50, 30, 62, 76, 83),
    (49, 52, 55, 57, 58),
    (51, 53, 59, 82),
)
NUM_DRUM_CLASSES = len(DRUM_CLASS_PITCHES)
PITCH_TO_CLASS: dict[int, int] = {p: c for c, ps in enumerate(DRUM_CLASS_PITCHES) for p in ps}


def drum_class(pitch: int) -> int | None:
    """The class of a GM drum pitch, or None for pitches outside the nine classes."""
    return PITCH_TO_CLASS.get(pitch)


def drums_to_roll(track: Track, num_steps: int | None = None) -> np.ndarray:
    """Hits on the 16th grid, shape (num_steps, 9), bool; onsets are rounded to the nearest step."""
    steps = [((n.start_tick + TICKS_PER_STEP // 2) // TICKS_PER_STEP, drum_class(n.pitch))
             for n in track.notes]
    if num_steps is None:
        num_steps = max((s for s, _ in steps), default=-1) + 1
    roll = np.zeros((num_steps, NUM_DRUM_CLASSES), dtype=bool)
    for s, c in steps:
        if c is not None and 0 <= s < num_steps:
            roll[s, c] = True
    return roll


def roll_to_drums(roll: np.ndarray, velocity: int = 100, name: str = "Drums") -> Track:
    """A drum track (channel 10) with one 16th-long hit per set cell."""
    notes = [Note(DRUM_CLASS_PITCHES[c][0], velocity, s * TICKS_PER_STEP, (s + 1) * TICKS_PER_STEP)
             for s, c in zip(*np.nonzero(roll))]
    return Track(name, 0, True, sorted(notes))

"""Melody one-hot on the 16th grid, as MusicVAE reads and writes melodies.

Each 16th step holds one event: 0 = no event (the previous note holds, or silence goes on),
1 = note-off, 2 + (pitch - min_pitch) = note-on. Over MIDI 21..108 that is 90 classes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.music.sketch import TICKS_PER_STEP, Note, Track

NO_EVENT = 0
NOTE_OFF = 1
FIRST_NOTE_ON = 2


class MelodyEncodingError(ValueError):
    """A melody that the one-hot encoding cannot hold exactly."""


@dataclass(frozen=True)
class MelodyOneHot:
    min_pitch: int = 21  # A0, the piano's lowest key
    max_pitch: int = 108  # C8, the piano's highest key

    @property
    def num_classes(self) -> int:
        return FIRST_NOTE_ON + self.max_pitch - self.min_pitch + 1

    def encode(self, track: Track | list[Note], num_steps: int | None = None,
               start_step: int = 0) -> np.ndarray:
        """Events, shape (num_steps,), int64, from a monophonic melody quantized to 16ths.

        ``start_step`` is the grid step that becomes event 0. Without ``num_steps`` the events end
        with the last note. Raises `MelodyEncodingError` for notes off the grid,
        overlapping notes or pitches out of range.
        """
        notes = sorted(track.notes if isinstance(track, Track) else track)
        last_end = 0
        for n in notes:
            if n.start_tick % TICKS_PER_STEP or n.end_tick % TICKS_PER_STEP:
                raise MelodyEncodingError(f"note {n} is not on the 16th grid; quantize it first")
            if not self.min_pitch <= n.pitch <= self.max_pitch:
                raise MelodyEncodingError(
                    f"pitch {n.pitch} is outside {self.min_pitch}..{self.max_pitch}")
            if n.start_tick < last_end:
                raise MelodyEncodingError("the melody is not monophonic; extract a melody first")
            last_end = n.end_tick
        if num_steps is None:
            num_steps = max(last_end // TICKS_PER_STEP - start_step, 0)
        events = np.zeros(num_steps, dtype=np.int64)
        for n in notes:
            s = n.start_tick // TICKS_PER_STEP - start_step
            e = n.end_tick // TICKS_PER_STEP - start_step
            if 0 <= s < num_steps:
                events[s] = FIRST_NOTE_ON + n.pitch - self.min_pitch
            if 0 <= e < num_steps and events[e] == NO_EVENT:
                events[e] = NOTE_OFF
        return events

    def decode(self, events: np.ndarray, velocity: int = 80, start_step: int = 0) -> list[Note]:
        """Notes from events; a note still on at the end closes at the end of the sequence."""
        notes: list[Note] = []
        current: tuple[int, int] | None = None  # (pitch, start step)

        def close(step: int) -> None:
            if current is not None:
                pitch, start = current
                notes.append(Note(pitch, velocity, (start + start_step) * TICKS_PER_STEP,
                                  (step + start_step) * TICKS_PER_STEP))

        for step, ev in enumerate(np.asarray(events).tolist()):
            if ev == NO_EVENT:
                continue
            close(step)
            current = None
            if ev >= FIRST_NOTE_ON:
                if ev >= self.num_classes:
                    raise MelodyEncodingError(f"event {ev} is outside the {self.num_classes} classes")
                current = (self.min_pitch + ev - FIRST_NOTE_ON, step)
        close(len(events))
        return notes

    def one_hot(self, events: np.ndarray) -> np.ndarray:
        """Shape (num_steps, num_classes), float32."""
        return np.eye(self.num_classes, dtype=np.float32)[np.asarray(events)]

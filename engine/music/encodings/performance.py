"""Performance events, as the Music Transformer reads and writes music.

388 events: NOTE_ON for 128 pitches, NOTE_OFF for 128 pitches, TIME_SHIFT of 10 ms to 1 s in
100 steps, and 32 VELOCITY bins that apply to the note-ons that follow; then PAD and END.
Times are kept to 10 ms and velocities to their bin: decode(encode(x)) gives back x at that
precision exactly.

One pitch cannot sound twice at once here (a note-off would not say which one it ends): when a
note starts again while it sounds, the earlier one is cut where the later begins, and of two
with the same onset the longer is kept. A note shorter than 10 ms lasts 10 ms.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import numpy as np

from engine.music.sketch import Note, Sketch, Track

NUM_PITCHES = 128
NUM_TIME_SHIFTS = 100  # 10 ms .. 1 s
NUM_VELOCITY_BINS = 32
SHIFTS_PER_SECOND = 100

NOTE_ON = 0
NOTE_OFF = NOTE_ON + NUM_PITCHES  # 128
TIME_SHIFT = NOTE_OFF + NUM_PITCHES  # 256: a shift of 10 ms (one "shift", the unit of time here)
VELOCITY = TIME_SHIFT + NUM_TIME_SHIFTS  # 356: bin 0
NUM_EVENTS = VELOCITY + NUM_VELOCITY_BINS  # 388
PAD = NUM_EVENTS  # 388
END = NUM_EVENTS + 1  # 389
VOCAB_SIZE = NUM_EVENTS + 2  # 390

VELOCITY_BIN_SIZE = 4  # ceil(127 / 32): bin b holds velocities 1 + 4b .. 4 + 4b


@dataclass(frozen=True)
class TimedNote:
    """A note in seconds, as a performance holds it."""

    pitch: int
    velocity: int
    start_s: float
    end_s: float


def velocity_to_bin(velocity: int) -> int:
    return min((int(velocity) - 1) // VELOCITY_BIN_SIZE, NUM_VELOCITY_BINS - 1)


def bin_to_velocity(b: int) -> int:
    return 1 + b * VELOCITY_BIN_SIZE


def event_name(event: int) -> str:
    """A readable name, e.g. 'NOTE_ON(60)', 'TIME_SHIFT(250ms)', 'VELOCITY(20)'."""
    if event < NOTE_OFF:
        return f"NOTE_ON({event})"
    if event < TIME_SHIFT:
        return f"NOTE_OFF({event - NOTE_OFF})"
    if event < VELOCITY:
        return f"TIME_SHIFT({(event - TIME_SHIFT + 1) * 10}ms)"
    if event < NUM_EVENTS:
        return f"VELOCITY({event - VELOCITY})"
    return {PAD: "PAD", END: "END"}.get(event, f"?{event}")


def _to_steps(notes: Iterable[TimedNote]) -> list[Note]:
    # Notes on the 10 ms grid, held as `Note`s whose "ticks" are 10 ms shifts, so that the one
    # same-pitch overlap rule (Track.without_overlaps) serves MIDI and performances alike.
    out = []
    for n in notes:
        s = max(int(round(n.start_s * SHIFTS_PER_SECOND)), 0)
        e = max(int(round(n.end_s * SHIFTS_PER_SECOND)), s + 1)
        vel = bin_to_velocity(velocity_to_bin(max(1, min(127, n.velocity))))
        out.append(Note(n.pitch, vel, s, e))
    return Track(notes=out).without_overlaps().notes


def quantize_performance(notes: Iterable[TimedNote]) -> list[TimedNote]:
    """What the encoding keeps of ``notes``: 10 ms times, binned velocities, no self-overlap."""
    return sorted(
        (TimedNote(n.pitch, n.velocity, n.start_tick / SHIFTS_PER_SECOND, n.end_tick / SHIFTS_PER_SECOND)
         for n in _to_steps(notes)),
        key=lambda n: (n.start_s, n.pitch))


def encode(notes: Iterable[TimedNote]) -> np.ndarray:
    """Events, shape (n,), int16, for notes in seconds (any order, any number of tracks merged)."""
    changes: list[tuple[int, int, int, int]] = []  # (step, 0 off / 1 on, pitch, velocity)
    for n in _to_steps(notes):
        changes.append((n.start_tick, 1, n.pitch, n.velocity))
        changes.append((n.end_tick, 0, n.pitch, 0))
    changes.sort()
    events: list[int] = []
    now, current_bin = 0, -1
    for step, kind, pitch, velocity in changes:
        while step > now:
            shift = min(step - now, NUM_TIME_SHIFTS)
            events.append(TIME_SHIFT + shift - 1)
            now += shift
        if kind == 0:
            events.append(NOTE_OFF + pitch)
        else:
            b = velocity_to_bin(velocity)
            if b != current_bin:
                events.append(VELOCITY + b)
                current_bin = b
            events.append(NOTE_ON + pitch)
    return np.asarray(events, dtype=np.int16)


class Decoder:
    """Events to notes, one event at a time (for streaming): `feed` returns the notes an event
    ends, `close` ends those still sounding. ``decode`` is this over a whole list.

    A NOTE_ON for a pitch already sounding ends that note first; a NOTE_OFF for a silent pitch
    is ignored; a note that would last no time lasts one 10 ms shift. PAD is skipped; after END
    nothing more is read.
    """

    def __init__(self, default_velocity: int = 80) -> None:
        self.now = 0  # in 10 ms shifts
        self.velocity = default_velocity
        self.sounding: dict[int, tuple[int, int]] = {}  # pitch -> (start step, velocity)
        self.ended = False

    def _close(self, pitch: int) -> TimedNote:
        start, vel = self.sounding.pop(pitch)
        return TimedNote(pitch, vel, start / SHIFTS_PER_SECOND, max(self.now, start + 1) / SHIFTS_PER_SECOND)

    def feed(self, event: int) -> list[TimedNote]:
        ev = int(event)
        if self.ended or ev >= NUM_EVENTS:
            self.ended = self.ended or ev == END
            return []
        if ev < NOTE_OFF:
            done = [self._close(ev)] if ev in self.sounding else []
            self.sounding[ev] = (self.now, self.velocity)
            return done
        if ev < TIME_SHIFT:
            return [self._close(ev - NOTE_OFF)] if ev - NOTE_OFF in self.sounding else []
        if ev < VELOCITY:
            self.now += ev - TIME_SHIFT + 1
        else:
            self.velocity = bin_to_velocity(ev - VELOCITY)
        return []

    def close(self) -> list[TimedNote]:
        return [self._close(pitch) for pitch in list(self.sounding)]


def decode(events: Iterable[int], default_velocity: int = 80) -> list[TimedNote]:
    """Notes from events, sorted by start and pitch; notes left on close at the last time (see
    `Decoder` for the rules)."""
    decoder = Decoder(default_velocity)
    notes = [note for ev in events for note in decoder.feed(ev)] + decoder.close()
    return sorted(notes, key=lambda n: (n.start_s, n.pitch))


def sketch_notes(sketch: Sketch, include_drums: bool = False) -> list[TimedNote]:
    """Every note of a sketch in seconds through its tempo map (drum tracks left out by default)."""
    return [
        TimedNote(n.pitch, n.velocity, sketch.ticks_to_seconds(n.start_tick),
                  sketch.ticks_to_seconds(n.end_tick))
        for t in sketch.tracks if include_drums or not t.is_drum
        for n in t.notes
    ]


def notes_to_track(notes: Iterable[TimedNote], sketch: Sketch, name: str = "Performance",
                   program: int = 0) -> Track:
    """Place timed notes on a sketch's tick grid through its tempo map."""
    out = []
    for n in notes:
        s = sketch.seconds_to_ticks(n.start_s)
        e = max(sketch.seconds_to_ticks(n.end_s), s + 1)
        out.append(Note(n.pitch, max(1, n.velocity), s, e))
    return Track(name, program, False, sorted(out))

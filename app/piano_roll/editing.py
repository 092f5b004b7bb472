"""What the piano roll's gestures and commands do to notes, as pure functions to engine edits.

Every function takes notes of one track and returns a `NoteEdit` (one undo step) or None when
there is nothing to do, so that a gesture that changes nothing leaves no empty step on the undo
stack. No Qt here: the view only decides which notes and how far.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Iterable, Mapping, Sequence

from engine.document import NoteEdit
from engine.music.quantize import GRIDS, quantize_notes
from engine.music.sketch import TICKS_PER_STEP, Note

GRID_OFF = "off"
GRID_NAMES: tuple[str, ...] = (GRID_OFF,) + tuple(GRIDS)
STRAIGHT_GRIDS = ("1/4", "1/8", "1/16", "1/32")  # coarse to fine
FALLBACK_STEP_TICKS = TICKS_PER_STEP  # a 16th: the length of a drawn note and a nudge when snap is off


def grid_step_ticks(grid: str) -> int:
    """The grid as ticks (a drawn note's length, a nudge); a 16th when snapping is off."""
    return GRIDS.get(grid, FALLBACK_STEP_TICKS)


def snap_ticks(grid: str) -> int:
    """The resolution positions snap to: the grid, or one tick when snapping is off."""
    return GRIDS.get(grid, 1)


def snap_floor(tick: float, grid_ticks: int) -> int:
    """The grid line at or before `tick`."""
    return int(tick // grid_ticks) * grid_ticks


def snap_round(tick: float, grid_ticks: int) -> int:
    """The nearest grid line (half-way rounds up)."""
    return int((tick + grid_ticks / 2) // grid_ticks) * grid_ticks


def snap_ceil(tick: float, grid_ticks: int) -> int:
    """The grid line at or after `tick`."""
    return -int(-tick // grid_ticks) * grid_ticks


def selection_range(notes: Iterable[Note]) -> tuple[int, int] | None:
    """(first start_tick, last end_tick) of some notes, or None for none."""
    notes = list(notes)
    if not notes:
        return None
    return min(n.start_tick for n in notes), max(n.end_tick for n in notes)


# -- moving --------------------------------------------------------------------------------------


def clamp_shift(notes: Sequence[Note], ticks: int, semitones: int) -> tuple[int, int]:
    """Limit a shift so that every note stays at tick >= 0 and pitch 0..127."""
    if not notes:
        return 0, 0
    ticks = max(ticks, -min(n.start_tick for n in notes))
    semitones = max(min(semitones, 127 - max(n.pitch for n in notes)), -min(n.pitch for n in notes))
    return ticks, semitones


def shift_edit(track: int, notes: Sequence[Note], ticks: int = 0, semitones: int = 0,
               label: str = "Move Notes", copy: bool = False) -> NoteEdit | None:
    """Move notes by (ticks, semitones), clamped to the keyboard and tick 0; `copy` keeps the
    originals (a copy-drag)."""
    ticks, semitones = clamp_shift(notes, ticks, semitones)
    if not notes or (ticks == 0 and semitones == 0):
        return None
    moved = tuple(n.shifted(ticks, semitones) for n in notes)
    return NoteEdit(track, () if copy else tuple(notes), moved, label)


def transpose_edit(track: int, notes: Sequence[Note], semitones: int) -> NoteEdit | None:
    """Transpose by semitones, or nothing at all if any note would leave MIDI's 0..127: a chord
    pushed against the keyboard's end keeps its shape."""
    if not notes or not all(0 <= n.pitch + semitones <= 127 for n in notes):
        return None
    label = "Transpose Octave" if abs(semitones) == 12 else "Transpose"
    return shift_edit(track, notes, 0, semitones, label)


def nudge_edit(track: int, notes: Sequence[Note], ticks: int) -> NoteEdit | None:
    return shift_edit(track, notes, ticks, 0, "Nudge")


# -- lengths, grid, velocity -----------------------------------------------------------------------


def resize_edit(track: int, notes: Sequence[Note], delta_ticks: int, min_ticks: int) -> NoteEdit | None:
    """Move every note's end by delta_ticks, keeping at least min_ticks of each note."""
    pairs = [(n, replace(n, end_tick=max(n.end_tick + delta_ticks, n.start_tick + max(min_ticks, 1))))
             for n in notes]
    pairs = [(a, b) for a, b in pairs if a != b]
    if not pairs:
        return None
    return NoteEdit(track, tuple(a for a, _ in pairs), tuple(b for _, b in pairs), "Resize Notes")


def quantize_edit(track: int, notes: Sequence[Note], grid: str) -> NoteEdit | None:
    """Snap starts and ends to the grid (a 16th when snapping is off)."""
    snapped = quantize_notes(list(notes), grid if grid in GRIDS else FALLBACK_STEP_TICKS)
    pairs = [(a, b) for a, b in zip(notes, snapped) if a != b]
    if not pairs:
        return None
    return NoteEdit(track, tuple(a for a, _ in pairs), tuple(b for _, b in pairs), "Quantize")


def clamp_velocity(velocity: float) -> int:
    return int(min(max(round(velocity), 1), 127))


def velocity_edit(track: int, velocities: Mapping[Note, int]) -> NoteEdit | None:
    """Give each note its new velocity (clamped to 1..127)."""
    pairs = [(n, replace(n, velocity=clamp_velocity(v))) for n, v in velocities.items()]
    pairs = [(a, b) for a, b in pairs if a != b]
    if not pairs:
        return None
    return NoteEdit(track, tuple(a for a, _ in pairs), tuple(b for _, b in pairs), "Set Velocity")


def delete_edit(track: int, notes: Iterable[Note], label: str = "Delete Notes") -> NoteEdit | None:
    notes = tuple(notes)
    return NoteEdit(track, notes, (), label) if notes else None


def add_edit(track: int, notes: Iterable[Note], label: str = "Add Notes") -> NoteEdit | None:
    notes = tuple(notes)
    return NoteEdit(track, (), notes, label) if notes else None


# -- clipboard shapes ------------------------------------------------------------------------------


@dataclass(frozen=True)
class NoteClip:
    """Copied notes, shifted so that the first starts at tick 0; `span_ticks` is the copied
    range's length (paste-after and duplicate step by it)."""

    notes: tuple[Note, ...]
    span_ticks: int

    @classmethod
    def of(cls, notes: Iterable[Note]) -> "NoteClip | None":
        notes = sorted(notes)
        span = selection_range(notes)
        if span is None:
            return None
        start, end = span
        return cls(tuple(n.shifted(-start) for n in notes), end - start)

    def placed_at(self, tick: int) -> tuple[Note, ...]:
        """The notes with the first one starting at `tick` (>= 0)."""
        return tuple(n.shifted(max(int(tick), 0)) for n in self.notes)

    def to_json(self) -> dict:
        return {"format": "cantus-notes", "version": 1, "span_ticks": self.span_ticks,
                "notes": [[n.pitch, n.velocity, n.start_tick, n.end_tick] for n in self.notes]}

    @classmethod
    def from_json(cls, data: object) -> "NoteClip | None":
        """The clip in `data`, or None when it is not notes that Cantus copied."""
        try:
            if not isinstance(data, dict) or data.get("format") != "cantus-notes":
                return None
            notes = tuple(Note(int(p), int(v), int(s), int(e)) for p, v, s, e in data["notes"])
            if not notes:
                return None
            return cls(notes, int(data.get("span_ticks", max(n.end_tick for n in notes))))
        except (KeyError, TypeError, ValueError):
            return None


def duplicate_edit(track: int, notes: Sequence[Note], grid_ticks: int) -> NoteEdit | None:
    """Copies of the notes right after them: shifted by the selection's length, rounded up to
    the grid so that a phrase that ends early still repeats on the beat."""
    clip = NoteClip.of(notes)
    if clip is None:
        return None
    start = min(n.start_tick for n in notes)
    offset = max(snap_ceil(clip.span_ticks, max(grid_ticks, 1)), 1)
    return add_edit(track, clip.placed_at(start + offset), "Duplicate")

"""Notes from a MIDI keyboard: a take recorded against the song's clock, and step input.

Both take mido messages (note_on, note_off, and the sustain pedal, control 64) and know nothing
about ports or threads: the app feeds them what its input port receives, a test feeds them
messages it makes. Ticks are the sketch's (480 per quarter).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from engine.music.quantize import quantize_notes
from engine.music.sketch import Note, Track

SUSTAIN_CONTROL = 64  # the sustain (damper) pedal: down at values of 64 and above
MIN_NOTE_TICKS = 10  # a key tapped shorter than this (about 10 ms at 120 bpm) still lasts this
EARLY_TICKS = 60  # a note struck up to a 32nd before the first tick (a downbeat hit early) starts on it


def note_event(message) -> tuple[str, int, int] | None:
    """("on" | "off", pitch, velocity) for a note message, ("pedal", 0, value) for the sustain
    pedal, None for anything else. A note_on with velocity 0 is a note_off, as MIDI says."""
    kind = getattr(message, "type", None)
    if kind == "note_on" and message.velocity > 0:
        return "on", int(message.note), int(message.velocity)
    if kind in ("note_on", "note_off"):
        return "off", int(message.note), 0
    if kind == "control_change" and message.control == SUSTAIN_CONTROL:
        return "pedal", 0, int(message.value)
    return None


@dataclass
class TakeRecorder:
    """Turns note messages at song ticks into notes: one take.

    ``feed(message, tick)`` with the song position each message arrived at; a key held when the
    take ends is closed there (``finish``). While the sustain pedal is down, a released key sounds
    on until the pedal comes up (Cantus keeps no controllers, so the pedal is written into the
    notes' lengths, as a player hears them). Notes before ``first_tick`` (played during a count-in
    before the start of the sketch) are dropped, except that one struck a 32nd or less early
    starts on it; those after it, a pickup included, are kept.
    """

    first_tick: int = 0
    notes: list[Note] = field(default_factory=list)  # finished notes, in the order they ended
    _held: dict[int, tuple[int, int]] = field(default_factory=dict)  # pitch -> (start, velocity)
    _sustained: dict[int, tuple[int, int]] = field(default_factory=dict)  # released under the pedal
    _pedal: bool = False

    def feed(self, message, tick: int) -> Note | None:
        """Take one message received at song ``tick``; returns the note it finished, if any."""
        event = note_event(message)
        if event is None:
            return None
        kind, pitch, value = event
        tick = int(tick)
        if kind == "pedal":
            self._pedal = value >= 64
            if not self._pedal:
                ended = [self._end(p, s, v, tick) for p, (s, v) in sorted(self._sustained.items())]
                self._sustained.clear()
                return ended[-1] if ended else None
            return None
        if kind == "on":
            # The same key struck again while it sounds (under the pedal, or a missed note_off):
            # the earlier note ends where the new one begins.
            earlier = self._held.pop(pitch, None) or self._sustained.pop(pitch, None)
            if earlier is not None:
                self._end(pitch, *earlier, tick)
            self._held[pitch] = (tick, value)
            return None
        start = self._held.pop(pitch, None)
        if start is None:
            return None  # a key that was down before the take began
        if self._pedal:
            self._sustained[pitch] = start
            return None
        return self._end(pitch, *start, tick)

    def _end(self, pitch: int, start_tick: int, velocity: int, end_tick: int) -> Note | None:
        if start_tick < self.first_tick:
            if start_tick < self.first_tick - EARLY_TICKS:
                return None
            start_tick = self.first_tick
        note = Note(pitch, max(1, min(velocity, 127)), start_tick,
                    max(end_tick, start_tick + MIN_NOTE_TICKS))
        self.notes.append(note)
        return note

    def finish(self, tick: int) -> list[Note]:
        """End the take at ``tick``: keys still down (or under the pedal) end there; returns
        every note of the take, sorted."""
        for pitch, (start, velocity) in sorted({**self._sustained, **self._held}.items()):
            self._end(pitch, start, velocity, tick)
        self._held.clear()
        self._sustained.clear()
        self._pedal = False
        return sorted(self.notes)


def take_notes(notes: list[Note], grid: str | None = None) -> list[Note]:
    """A take as it goes into a track: quantized to ``grid`` ("1/16"; None keeps the timing as
    played), with no two notes of one pitch overlapping."""
    if grid:
        notes = quantize_notes(notes, grid)
    return Track("take", notes=list(notes)).without_overlaps().notes


@dataclass
class StepInput:
    """Step input: each key pressed writes a note one step long at the cursor; keys pressed
    together make a chord, and the cursor moves on one step when the last of them is released.

    ``feed(message)`` returns the notes to add (one per key pressed); ``rest()`` moves the cursor
    on without a note, ``back()`` moves it back one step.
    """

    cursor_tick: int
    step_ticks: int = 120
    _held: set[int] = field(default_factory=set)
    _chord: bool = False  # a key went down since the cursor last moved

    def feed(self, message) -> Note | None:
        event = note_event(message)
        if event is None or event[0] == "pedal":
            return None
        kind, pitch, velocity = event
        if kind == "on":
            self._held.add(pitch)
            self._chord = True
            return Note(pitch, velocity, self.cursor_tick, self.cursor_tick + self.step_ticks)
        if pitch in self._held:
            self._held.discard(pitch)
            if not self._held and self._chord:
                self.cursor_tick += self.step_ticks
                self._chord = False
        return None

    def rest(self) -> None:
        self.cursor_tick += self.step_ticks
        self._chord = False

    def back(self) -> None:
        self.cursor_tick = max(0, self.cursor_tick - self.step_ticks)
        self._chord = False

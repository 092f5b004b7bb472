"""What a sketch is: notes, tracks, tempo and meter, as plain dataclasses.

Time is kept in ticks at 480 per quarter note, as MIDI keeps it, so that every grid position
from a whole note down to a 32nd-note triplet is an exact integer. Seconds and 16th-note steps
are derived through the tempo map.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field, replace
from typing import Iterable, Sequence

TICKS_PER_QUARTER = 480
STEPS_PER_QUARTER = 4  # the 16th-note grid the models use
TICKS_PER_STEP = TICKS_PER_QUARTER // STEPS_PER_QUARTER  # 120

PITCH_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")


def pitch_name(pitch: int) -> str:
    """MIDI pitch to a name with octave, middle C (60) being C4."""
    return f"{PITCH_NAMES[pitch % 12]}{pitch // 12 - 1}"


@dataclass(frozen=True)
class Note:
    """One note. Ticks are at 480 per quarter; end_tick is exclusive (the note sounds until it).

    Notes sort by onset, then pitch, then end, then velocity.
    """

    pitch: int  # MIDI 0..127, 60 is middle C
    velocity: int  # MIDI 1..127
    start_tick: int
    end_tick: int  # always after start_tick: a note lasts at least one tick

    def __post_init__(self) -> None:
        if not 0 <= self.pitch <= 127:
            raise ValueError(f"pitch {self.pitch} is outside MIDI's 0..127")
        if not 1 <= self.velocity <= 127:
            raise ValueError(f"velocity {self.velocity} is outside MIDI's 1..127")
        if self.start_tick < 0 or self.end_tick <= self.start_tick:
            raise ValueError(f"a note cannot run from tick {self.start_tick} to {self.end_tick}")

    def sort_key(self) -> tuple[int, int, int, int]:
        return (self.start_tick, self.pitch, self.end_tick, self.velocity)

    def __lt__(self, other: "Note") -> bool:
        return self.sort_key() < other.sort_key()

    @property
    def duration_ticks(self) -> int:
        return self.end_tick - self.start_tick

    def shifted(self, ticks: int = 0, semitones: int = 0) -> "Note":
        return replace(
            self,
            start_tick=self.start_tick + ticks,
            end_tick=self.end_tick + ticks,
            pitch=self.pitch + semitones,
        )


@dataclass
class Track:
    """A named instrument part: General MIDI program (0 is piano), drum flag, and its notes."""

    name: str = ""
    program: int = 0
    is_drum: bool = False
    notes: list[Note] = field(default_factory=list)
    mute: bool = False  # a mixer state: kept in .cantus files, not in MIDI
    solo: bool = False

    def sorted_notes(self) -> list[Note]:
        return sorted(self.notes)

    @property
    def end_tick(self) -> int:
        return max((n.end_tick for n in self.notes), default=0)

    def is_monophonic(self) -> bool:
        """True when no two notes sound at once."""
        notes = self.sorted_notes()
        return all(a.end_tick <= b.start_tick for a, b in zip(notes, notes[1:]))

    def without_overlaps(self) -> "Track":
        """This track with no two notes of one pitch sounding at once, as MIDI requires.

        A note on one channel cannot start again while it sounds: the earlier note is cut where
        the later one begins, and of two notes with the same pitch and onset the longer is kept.
        """
        kept: list[Note] = []
        last_by_pitch: dict[int, int] = {}  # pitch -> index in kept
        for note in sorted(self.notes, key=lambda n: (n.start_tick, n.pitch, -n.end_tick)):
            i = last_by_pitch.get(note.pitch)
            if i is not None and kept[i].end_tick > note.start_tick:
                if kept[i].start_tick == note.start_tick:
                    continue  # same pitch, same onset: the longer one is already kept
                kept[i] = replace(kept[i], end_tick=note.start_tick)
            last_by_pitch[note.pitch] = len(kept)
            kept.append(note)
        return self.copy(sorted(kept))

    def copy(self, notes: Iterable[Note] | None = None) -> "Track":
        return Track(self.name, self.program, self.is_drum, list(self.notes if notes is None else notes),
                     self.mute, self.solo)


@dataclass(frozen=True, order=True)
class TempoChange:
    tick: int
    qpm: float  # quarter notes per minute


@dataclass(frozen=True, order=True)
class TimeSignature:
    tick: int
    numerator: int = 4
    denominator: int = 4  # a power of two

    @property
    def bar_ticks(self) -> int:
        """Length of one bar in ticks (4/4: 1920, 3/4: 1440, 6/8: 1440)."""
        return self.numerator * TICKS_PER_QUARTER * 4 // self.denominator


@dataclass
class Sketch:
    """A piece: tracks plus a tempo map and meter map, both starting at tick 0."""

    tracks: list[Track] = field(default_factory=list)
    tempos: list[TempoChange] = field(default_factory=lambda: [TempoChange(0, 120.0)])
    time_signatures: list[TimeSignature] = field(default_factory=lambda: [TimeSignature(0, 4, 4)])
    ticks_per_quarter: int = TICKS_PER_QUARTER  # fixed; kept so that files say what they mean

    def __post_init__(self) -> None:
        if self.ticks_per_quarter != TICKS_PER_QUARTER:
            raise ValueError("Cantus keeps time at 480 ticks per quarter note")
        self.tempos = sorted(self.tempos) or [TempoChange(0, 120.0)]
        if self.tempos[0].tick != 0:
            self.tempos.insert(0, TempoChange(0, self.tempos[0].qpm))
        for t in self.tempos:
            if not t.qpm > 0:
                raise ValueError(f"tempo {t.qpm} qpm is not a tempo")
        self.time_signatures = sorted(self.time_signatures) or [TimeSignature(0, 4, 4)]
        if self.time_signatures[0].tick != 0:
            first = self.time_signatures[0]
            self.time_signatures.insert(0, TimeSignature(0, first.numerator, first.denominator))
        self._tempo_map: tuple | None = None

    @classmethod
    def new(cls, qpm: float = 120.0, time_signature: tuple[int, int] = (4, 4),
            tracks: Sequence[Track] = ()) -> "Sketch":
        return cls(list(tracks), [TempoChange(0, float(qpm))], [TimeSignature(0, *time_signature)])

    # -- tempo and meter ----------------------------------------------------------------------

    @property
    def qpm(self) -> float:
        """The opening tempo in quarter notes per minute."""
        return self.tempos[0].qpm

    @property
    def time_signature(self) -> TimeSignature:
        """The opening time signature."""
        return self.time_signatures[0]

    @property
    def end_tick(self) -> int:
        return max((t.end_tick for t in self.tracks), default=0)

    @property
    def duration_s(self) -> float:
        return self.ticks_to_seconds(self.end_tick)

    @property
    def note_count(self) -> int:
        return sum(len(t.notes) for t in self.tracks)

    def _segments(self) -> tuple[list[int], list[float], list[float]]:
        # Cached (tick, seconds, seconds-per-tick) of each tempo segment; rebuilt when the map changes.
        key = tuple(self.tempos)
        if self._tempo_map is None or self._tempo_map[0] != key:
            ticks, secs, rates = [], [], []
            s = 0.0
            for i, t in enumerate(self.tempos):
                if i:
                    s += (t.tick - ticks[-1]) * rates[-1]
                ticks.append(t.tick)
                secs.append(s)
                rates.append(60.0 / (t.qpm * TICKS_PER_QUARTER))
            self._tempo_map = (key, (ticks, secs, rates))
        return self._tempo_map[1]

    def ticks_to_seconds(self, tick: float) -> float:
        """Seconds from the start at a tick, through the tempo map."""
        ticks, secs, rates = self._segments()
        i = max(bisect.bisect_right(ticks, tick) - 1, 0)
        return secs[i] + (tick - ticks[i]) * rates[i]

    def seconds_to_ticks(self, seconds: float) -> int:
        """The nearest tick to a time in seconds, through the tempo map."""
        ticks, secs, rates = self._segments()
        i = max(bisect.bisect_right(secs, seconds) - 1, 0)
        return int(round(ticks[i] + (seconds - secs[i]) / rates[i]))

    def time_signature_at(self, tick: int) -> TimeSignature:
        i = bisect.bisect_right([ts.tick for ts in self.time_signatures], tick) - 1
        return self.time_signatures[max(i, 0)]

    def copy(self) -> "Sketch":
        return Sketch([t.copy() for t in self.tracks], list(self.tempos), list(self.time_signatures))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sketch):
            return NotImplemented
        return (self.tracks == other.tracks and self.tempos == other.tempos
                and self.time_signatures == other.time_signatures)


def ticks_to_steps(tick: int, steps_per_quarter: int = STEPS_PER_QUARTER) -> float:
    """Ticks to grid steps (16ths by default); integral exactly when the tick is on the grid."""
    return tick * steps_per_quarter / TICKS_PER_QUARTER


def steps_to_ticks(step: int, steps_per_quarter: int = STEPS_PER_QUARTER) -> int:
    """Grid steps (16ths by default) to ticks; exact for any grid that divides 480."""
    if TICKS_PER_QUARTER % steps_per_quarter:
        raise ValueError(f"{steps_per_quarter} steps per quarter does not divide 480 ticks")
    return step * (TICKS_PER_QUARTER // steps_per_quarter)

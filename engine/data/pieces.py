"""One piece of a corpus as training data: its melody on the 16th grid, its bar grid, its performance.

Every source (music21, POP909, a MIDI folder) reduces a work to the same `Piece`, built by
`make_piece` from grid-aligned melody notes, the downbeats of its bars and its notes in seconds.
A piece is small and picklable (numpy arrays), so whole files of them are cached on disk.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

from engine.music.encodings import performance
from engine.music.encodings.melody_onehot import MelodyOneHot
from engine.music.encodings.performance import TimedNote
from engine.music.melody import skyline, top_line
from engine.music.meter import BAR_TICKS_4_4
from engine.music.sketch import TICKS_PER_STEP, Note

# Bump when what an extractor produces changes: every cached file result is then parsed again.
EXTRACTOR_VERSION = 4
# And a kind's own revision, bumped when only that extractor changes (the others stay cached):
# folder 1: a file with no meter of its own is read in 4/4 bars found from its notes.
EXTRACTOR_REVISIONS = {"folder": 1}

# Duple and quadruple meters whose bars make 16-step window bars: a 4/4 or 2/2 bar is one; two
# 2/4 bars make one, and a window may begin on either (folk tunes start phrases on both); a 4/2
# bar (Palestrina) holds two. POP909's 4-beat bars are labelled "4/4". Triple and compound
# meters (3/4, 6/8, 9/8, 3/2...) give performances but no windows.
WINDOW_METER_BAR_TICKS = {"4/4": 1920, "2/2": 1920, "2/4": 960, "4/2": 3840}
# A MIDI file with no meter of its own (1/4 throughout, as 624 of POP909's 819 files say, or
# notes that all miss its grid by the same few ticks) is read in 4/4 bars found from its notes.
BARS_FROM_NOTES = "4/4 found from the notes"
WINDOW_METERS = frozenset(WINDOW_METER_BAR_TICKS) | {BARS_FROM_NOTES}


def window_bar_starts(label: str, start_tick: int, bar_ticks: int) -> list[int]:
    """Ticks where 16-step window bars begin inside one full bar (``bar_ticks`` long) of ``label``."""
    if WINDOW_METER_BAR_TICKS.get(label) != bar_ticks:
        return []
    return list(range(start_tick, start_tick + bar_ticks, BAR_TICKS_4_4))

SPLITS = ("train", "validation", "test")
SPLIT_PERCENT = (90, 5, 5)

ENCODING = MelodyOneHot()  # MIDI 21..108, 90 classes: fits uint8


@dataclass
class Piece:
    """One work or song, reduced to what the models train on.

    ``melody`` holds MelodyOneHot events (0 no-event, 1 note-off, 2.. note-on for MIDI 21..108),
    one per 16th step, and step 0 is the downbeat of the piece's first full bar (a pickup is
    left out). ``window_bars`` are the steps where a 16-step bar of a window meter begins; a
    window may span only consecutive ones.
    """

    id: str  # stable and unique across sources: "music21:bach/bwv66.6.mxl", "pop909:001"
    source: str  # "music21", "pop909" or "folder"
    meter: str  # time signatures in order of appearance: "4/4", "2/4,3/4"; POP909 "4/4" or "6 beats"
    melody: np.ndarray  # uint8, shape (num_steps,)
    window_bars: np.ndarray  # int32, shape (num_bars,), ascending start steps
    performance: np.ndarray  # int16, shape (num_events,), performance events (388 + PAD/END)
    # The melody alone as it is played (one note at a time, in seconds, unquantized): what the
    # melody transformer learns.
    melody_performance: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int16))
    melody_notes: int = 0  # notes in the melody events
    notes_transposed: int = 0  # melody notes moved by octaves into 21..108

    @property
    def split(self) -> str:
        return split_of(self.id)

    @property
    def meter_ok(self) -> bool:
        """True when at least one of the piece's meters is cut into windows."""
        return any(m in WINDOW_METERS for m in self.meter.split(","))

    @property
    def meter_mixed(self) -> bool:
        """True when the piece also has meters that are not cut into windows."""
        return self.meter_ok and any(m not in WINDOW_METERS for m in self.meter.split(","))


@dataclass
class FileResult:
    """What one source file (or POP909 song folder) gave: its pieces, or why it gave none."""

    path: str
    pieces: list[Piece] = field(default_factory=list)
    error: str | None = None  # a sentence: why the whole file could not be used
    works_failed: int = 0  # works inside a multi-work file (an opus) that could not be used
    version: int = EXTRACTOR_VERSION


def split_of(piece_id: str) -> str:
    """"train", "validation" or "test" for a piece, from the SHA-1 of its id: 90/5/5, stable."""
    bucket = int.from_bytes(hashlib.sha1(piece_id.encode("utf-8")).digest()[:8], "big") % 100
    if bucket < SPLIT_PERCENT[0]:
        return SPLITS[0]
    if bucket < SPLIT_PERCENT[0] + SPLIT_PERCENT[1]:
        return SPLITS[1]
    return SPLITS[2]


def into_range(pitch: int, low: int = ENCODING.min_pitch, high: int = ENCODING.max_pitch) -> int:
    """A pitch moved by whole octaves into low..high (piano range by default)."""
    while pitch < low:
        pitch += 12
    while pitch > high:
        pitch -= 12
    return pitch


def make_piece(piece_id: str, source: str, meter: str, melody_notes: list[Note], origin_tick: int,
               window_bar_ticks: list[int], end_tick: int,
               performance_notes: list[TimedNote],
               line: list[TimedNote] | None = None) -> Piece:
    """Build a `Piece` from a melody already on the 16th grid.

    Parameters
    ----------
    melody_notes : notes with start_tick and end_tick multiples of TICKS_PER_STEP (120); they
        may overlap, the skyline keeps one line.
    origin_tick : the first full bar's downbeat, on the grid; it becomes step 0.
    window_bar_ticks : downbeats of the 16-step bars of a window meter.
    end_tick : where the piece's bar grid ends; the melody runs to it or to its last note.
    performance_notes : every note of the piece in seconds (all parts or tracks).
    line : the melody as played, one note at a time, in seconds (see `melody_line`).
    """
    transposed = 0
    notes = []
    for n in melody_notes:
        pitch = into_range(n.pitch)
        if pitch != n.pitch:
            transposed += 1
            n = Note(pitch, n.velocity, n.start_tick, n.end_tick)
        notes.append(n)
    # Octave moves can stack two notes on one onset; the skyline keeps one line either way.
    notes, _, _ = skyline(notes)
    origin_step = origin_tick // TICKS_PER_STEP
    last_tick = max([end_tick] + [n.end_tick for n in notes])
    num_steps = max(last_tick // TICKS_PER_STEP - origin_step, 0)
    events = ENCODING.encode(notes, num_steps, origin_step).astype(np.uint8)
    bars = sorted({(t - origin_tick) // TICKS_PER_STEP for t in window_bar_ticks
                   if t >= origin_tick and (t - origin_tick) % TICKS_PER_STEP == 0})
    return Piece(
        id=piece_id,
        source=source,
        meter=meter,
        melody=events,
        window_bars=np.asarray(bars, dtype=np.int32),
        performance=performance.encode(performance_notes),
        melody_performance=performance.encode(line or []),
        melody_notes=int(np.count_nonzero(events >= 2)),
        notes_transposed=transposed,
    )


def melody_line(notes: list[Note], seconds_of) -> list[TimedNote]:
    """The melody as it is played: the top line of ``notes`` (one note at a time, legato overlaps
    cut to joins, unquantized), each in seconds through ``seconds_of(tick)``."""
    line = top_line(notes)
    return [TimedNote(n.pitch, n.velocity, seconds_of(n.start_tick), seconds_of(n.end_tick))
            for n in line if 0 <= n.pitch <= 127]

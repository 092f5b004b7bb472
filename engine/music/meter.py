"""Bars and beats over a sketch's meter map, in ticks: the one place that walks bars.

The piano roll's grid and ruler, the transport's bar.beat and metronome, the loop's whole-sketch
span, where a continuation starts and the melody models' 4/4 bar all come from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Sequence

from engine.errors import MeterError
from engine.music.sketch import TICKS_PER_QUARTER, TICKS_PER_STEP, Note, TimeSignature, Track

STEPS_PER_BAR_4_4 = 16  # the melody models' bar: 4/4 on the 16th grid
BAR_TICKS_4_4 = STEPS_PER_BAR_4_4 * TICKS_PER_STEP  # 1920



def melody_window_offset(notes) -> int:
    """Where the melody models read a melody without a meter map from (and give it back to): the
    start of the 4/4 bar, counted from tick 0, that holds its first note (0 when there are no
    notes). A sketch's melody goes by the sketch's own bar lines: `melody_span`."""
    first = min((n.start_tick for n in notes), default=0)
    return (first // BAR_TICKS_4_4) * BAR_TICKS_4_4


def reads_as_4_4(ts: TimeSignature) -> bool:
    """Whether the melody models' 4/4 bars of 16 sixteenths fit this meter's bars: two or four
    beats (2/4, 4/4, 2/2, and 1/4, 4/8, 8/4, ...): a whole number of its bars makes two of the
    models' bars, or one of its bars a whole number of the models' bars. Not 3/4, 6/8, 5/4."""
    bar = ts.bar_ticks
    return bar > 0 and ((2 * BAR_TICKS_4_4) % bar == 0 or bar % BAR_TICKS_4_4 == 0)


def melody_span(time_signatures: Sequence[TimeSignature], notes, *,
                from_meter_start: bool = False) -> tuple[int, int]:
    """The bars a melody lies in, on the sketch's own bar lines, as the melody models read it:
    (the bar line at or before its first note, the bar line at or after its last note's end).

    The models' 4/4 bars are counted from that first bar line, so a selected 2/4 passage is read
    in pairs of its own bars from the first one selected. With ``from_meter_start`` (a whole
    piece) they are counted from where its meter starts instead: a 2/4 song in pairs of bars from
    its beginning, which is what POP909's songs need (many are 4/4 labelled 2/4).

    Raises
    ------
    MeterError
        A bar of the passage is in a meter the models cannot read (3/4, 6/8, ...), or the meter
        changes in the middle of one of the models' bars; the sentence says which bar.
    """
    notes = list(notes)
    if not notes:
        return 0, 0
    first = min(n.start_tick for n in notes)
    last = max(n.end_tick for n in notes)
    bars = list(iter_bars(time_signatures, first, max(last, first + 1)))
    start, end = bars[0].start_tick, bars[-1].end_tick
    since = start - bars[0].time_signature.tick
    if from_meter_start and since % BAR_TICKS_4_4:
        start -= since % BAR_TICKS_4_4  # a bar line of 2/4 (or 1/4) inside one of the models' bars
    for bar in bars:
        ts = bar.time_signature
        if not reads_as_4_4(ts):
            raise MeterError(
                f"MusicVAE reads melodies in bars of two or four beats (2/4, 4/4, 2/2); bar "
                f"{bar.number} is in {ts.numerator}/{ts.denominator}. Choose a passage in one of those meters.")
    for bar in bars[1:]:
        if bar.time_signature.tick == bar.start_tick and (bar.start_tick - start) % BAR_TICKS_4_4:
            ts = bar.time_signature
            raise MeterError(
                f"The meter changes to {ts.numerator}/{ts.denominator} at bar {bar.number}, in the "
                "middle of one of MusicVAE's 4/4 bars; choose a passage that ends before that bar "
                "or starts at it.")
    return start, end


# The metronome: General MIDI claves on the drum channel, accented on the first beat of a bar.
CLICK_PITCH = 75
CLICK_TICKS = TICKS_PER_QUARTER // 8
DOWNBEAT_VELOCITY = 127
BEAT_VELOCITY = 72


@dataclass(frozen=True)
class Bar:
    """One bar: where it starts and ends (ticks), its number counted from 1, and its meter."""

    start_tick: int
    end_tick: int
    number: int
    time_signature: TimeSignature

    @property
    def beat_ticks(self) -> int:
        """One beat of this meter in ticks: a quarter in 4/4, an eighth in 6/8."""
        return TICKS_PER_QUARTER * 4 // self.time_signature.denominator


def iter_bars(time_signatures: Sequence[TimeSignature], start_tick: float,
              end_tick: float) -> Iterator[Bar]:
    """Yield the bars that overlap [start_tick, end_tick), numbered from 1 at tick 0.

    The last time signature runs forever. A meter change that falls inside a bar cuts that bar
    short and starts bar counting afresh at the change, as notation programs do.
    """
    number = 1
    for i, ts in enumerate(time_signatures):
        seg_end = time_signatures[i + 1].tick if i + 1 < len(time_signatures) else None
        bar_ticks = max(ts.bar_ticks, 1)
        n_bars = None if seg_end is None else -(-(seg_end - ts.tick) // bar_ticks)
        if seg_end is not None and seg_end <= start_tick:
            number += n_bars
            continue
        # First bar whose end is after start_tick.
        k = max(0, int((start_tick - ts.tick) // bar_ticks))
        while n_bars is None or k < n_bars:
            bar_start = ts.tick + k * bar_ticks
            if bar_start >= end_tick:
                return
            bar_end = bar_start + bar_ticks
            if seg_end is not None:
                bar_end = min(bar_end, seg_end)
            yield Bar(bar_start, bar_end, number + k, ts)
            k += 1
        number += n_bars


def bar_end_at_or_after(time_signatures: Sequence[TimeSignature], tick: int) -> int:
    """The first bar line at or after `tick`; tick 0 gives the end of bar 1, so a span is never empty."""
    bar = next(iter_bars(time_signatures, max(tick - 1, 0), float("inf")))
    return bar.end_tick


def bar_at(time_signatures: Sequence[TimeSignature], tick: int) -> Bar:
    """The bar holding ``tick`` (the first bar for a tick before 0)."""
    tick = max(int(tick), 0)
    return next(iter_bars(time_signatures, tick, tick + 1))


def bar_beat(time_signatures: Sequence[TimeSignature], tick: int) -> tuple[int, int]:
    """The 1-based (bar, beat) holding ``tick``, as a transport shows it."""
    bar = bar_at(time_signatures, tick)
    return bar.number, (max(int(tick), 0) - bar.start_tick) // bar.beat_ticks + 1


def bar_line_at_or_after(time_signatures: Sequence[TimeSignature], tick: int) -> int:
    """``tick`` itself when a bar starts there (0 included), else the next bar line."""
    return 0 if tick <= 0 else bar_end_at_or_after(time_signatures, tick)


def metronome_track(time_signatures: Sequence[TimeSignature], end_tick: int) -> Track:
    """A drum track that clicks each beat up to the end of the bar holding ``end_tick`` (at least
    one bar). A beat is the meter's denominator (6/8 clicks six eighths); the first beat of each
    bar is louder."""
    notes: list[Note] = []
    for bar in iter_bars(time_signatures, 0, max(int(end_tick), 1)):
        for tick in range(bar.start_tick, bar.end_tick, bar.beat_ticks):
            velocity = DOWNBEAT_VELOCITY if tick == bar.start_tick else BEAT_VELOCITY
            notes.append(Note(CLICK_PITCH, velocity, tick, tick + CLICK_TICKS))
    return Track("Metronome", 0, True, notes)

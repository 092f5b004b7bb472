"""Bar and beat positions from a sketch's meter map, in ticks; pure Python so it tests without Qt."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Sequence

from engine.music.sketch import TICKS_PER_QUARTER, TimeSignature


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

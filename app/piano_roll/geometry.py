"""Where things are in the piano roll: ticks and pitches to viewport pixels and back, the note
rectangles, what is in view, zooming about a point, and the track legend's layout.

`RollGeometry` is a frozen snapshot of the view's zoom, scroll and size, with no widget behind
it: painting and hit-testing take the same snapshot, so a note is clicked where it is drawn.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Sequence

from PySide6.QtCore import QRectF
from PySide6.QtGui import QFontMetrics

from app.piano_roll.layout import (
    KEYBOARD_WIDTH_PX,
    MAX_PX_PER_SEMITONE,
    MAX_PX_PER_TICK,
    MIN_NOTE_WIDTH_PX,
    MIN_PX_PER_SEMITONE,
    MIN_PX_PER_TICK,
    PITCH_COUNT,
    RULER_HEIGHT_PX,
)
from engine.music.sketch import Note

LEGEND_SWATCH_PX = 10
LEGEND_PADDING_PX = 6


@dataclass(frozen=True)
class RollGeometry:
    px_per_tick: float
    px_per_semitone: float
    scroll_x: int = 0  # pixels of content scrolled off to the left
    scroll_y: int = 0  # pixels of content scrolled off the top
    width: int = 0  # the viewport's size
    height: int = 0

    def note_area(self) -> QRectF:
        """Where notes are drawn (right of the keyboard, below the ruler)."""
        return QRectF(KEYBOARD_WIDTH_PX, RULER_HEIGHT_PX, max(self.width - KEYBOARD_WIDTH_PX, 0),
                      max(self.height - RULER_HEIGHT_PX, 0))

    def x_at_tick(self, tick: float) -> float:
        return KEYBOARD_WIDTH_PX + tick * self.px_per_tick - self.scroll_x

    def tick_at(self, x: float) -> float:
        """The tick under a viewport x (fractional)."""
        return (x - KEYBOARD_WIDTH_PX + self.scroll_x) / self.px_per_tick

    def y_at_pitch(self, pitch: float) -> float:
        """Viewport y of the top of a pitch's row."""
        return RULER_HEIGHT_PX + (PITCH_COUNT - 1 - pitch) * self.px_per_semitone - self.scroll_y

    def rows_down(self, y: float) -> float:
        """Rows from the top of the keyboard (pitch 127) to a viewport y."""
        return (y - RULER_HEIGHT_PX + self.scroll_y) / self.px_per_semitone

    def pitch_at(self, y: float) -> int:
        """The pitch whose row holds a viewport y (may fall outside 0..127 off the keyboard)."""
        return PITCH_COUNT - 1 - math.floor(self.rows_down(y))

    def visible_ticks(self) -> tuple[float, float]:
        area = self.note_area()
        return self.tick_at(area.left()), self.tick_at(area.right())

    def visible_pitches(self) -> tuple[int, int]:
        """Lowest and highest pitch with a row at least partly in view, clamped to 0..127."""
        area = self.note_area()
        return max(self.pitch_at(area.bottom() - 1e-6), 0), min(self.pitch_at(area.top()), PITCH_COUNT - 1)

    def note_rect(self, note: Note) -> QRectF:
        """The one place that decides where a note is drawn (and so where it is hit)."""
        pps = self.px_per_semitone
        gap = 1.0 if pps >= 6 else 0.0  # a one-pixel gutter between rows once rows can spare it
        return QRectF(self.x_at_tick(note.start_tick), self.y_at_pitch(note.pitch) + gap,
                      max(note.duration_ticks * self.px_per_tick, MIN_NOTE_WIDTH_PX), pps - gap)

    def zoomed_horizontal(self, px_per_tick: float, anchor_x: float) -> tuple[float, int]:
        """(the clamped new px_per_tick, the scroll that keeps the tick under ``anchor_x`` there)."""
        tick = self.tick_at(anchor_x)
        ppt = min(max(px_per_tick, MIN_PX_PER_TICK), MAX_PX_PER_TICK)
        return ppt, round(KEYBOARD_WIDTH_PX + tick * ppt - anchor_x)

    def zoomed_vertical(self, px_per_semitone: float, anchor_y: float) -> tuple[float, int]:
        """(the clamped new px_per_semitone, the scroll that keeps the pitch under ``anchor_y`` there)."""
        rows = self.rows_down(anchor_y)
        pps = min(max(px_per_semitone, MIN_PX_PER_SEMITONE), MAX_PX_PER_SEMITONE)
        return pps, round(rows * pps - (anchor_y - RULER_HEIGHT_PX))

    def with_scroll(self, scroll_x: int, scroll_y: int) -> RollGeometry:
        return replace(self, scroll_x=scroll_x, scroll_y=scroll_y)


@dataclass(frozen=True)
class Legend:
    """The track legend's box and one row per track name (a click on a row picks that track)."""

    box: QRectF
    rows: tuple[tuple[QRectF, int, str], ...]  # (row rectangle, track index, name)
    width: float

    def track_at(self, x: float, y: float) -> int | None:
        return next((i for rect, i, _ in self.rows if rect.contains(x, y)), None)


def legend_layout(area: QRectF, names: Sequence[str], metrics: QFontMetrics) -> Legend | None:
    """Where the legend of ``names`` goes: the top right of ``area``; None when there are fewer
    than two names or no room (the legend would hide more than it tells)."""
    if len(names) < 2:
        return None
    line_height = max(metrics.height(), 12) + 5
    padding = LEGEND_PADDING_PX
    width = LEGEND_SWATCH_PX + 8 + max(metrics.horizontalAdvance(n) for n in names) + 2 * padding + 4
    height = line_height * len(names) + 2 * padding - 4
    box = QRectF(area.right() - width - 10, area.top() + 10, width, height)
    if box.left() < area.left() + 40 or box.bottom() > area.bottom():
        return None
    rows = tuple((QRectF(box.left() + 3, box.top() + padding - 2 + i * line_height, width - 6, line_height), i, name)
                 for i, name in enumerate(names))
    return Legend(box, rows, width)

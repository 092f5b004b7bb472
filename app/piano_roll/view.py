"""The piano roll view: draws a sketch's notes over a keyboard strip, a bar ruler and a beat grid.

Read-only at this stage. The sketch is the document: the view keeps only sorted arrays derived
from it (to find the visible notes quickly) and never notes of its own, so an edit is a change
to the document followed by `refresh()`. Everything is painted in one paintEvent on the viewport;
where a note lands is decided by `_note_geometry()` alone, which the painter and `note_rects()` share.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterator, Sequence

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetrics,
    QPainter,
    QPaintEvent,
    QPen,
    QResizeEvent,
    QWheelEvent,
)
from PySide6.QtWidgets import QAbstractScrollArea, QWidget

from app.piano_roll.grid import Bar, bar_end_at_or_after, iter_bars
from engine.music.sketch import Note, Sketch, TimeSignature, Track, pitch_name

KEYBOARD_WIDTH_PX = 48
RULER_HEIGHT_PX = 22
DEFAULT_PX_PER_TICK = 0.1  # a 4/4 bar is 192 px
DEFAULT_PX_PER_SEMITONE = 10.0
MIN_PX_PER_TICK, MAX_PX_PER_TICK = 0.0005, 2.0
MIN_PX_PER_SEMITONE, MAX_PX_PER_SEMITONE = 3.0, 48.0
ZOOM_STEP = 1.25  # per wheel notch and per zoom_in()
PITCH_COUNT = 128
MIN_NOTE_WIDTH_PX = 2.0
BLACK_KEY_CLASSES = frozenset({1, 3, 6, 8, 10})
EMPTY_VIEW_BARS = 8  # an empty sketch still shows this many bars
EMPTY_VIEW_PITCHES = (48, 84)  # and C3..C6
FIT_PITCH_PADDING = 2  # semitones above and below the notes
FIT_MIN_PITCH_ROWS = 12


def _color(spec: str, alpha: int | None = None) -> QColor:
    color = QColor(spec)
    if alpha is not None:
        color.setAlpha(alpha)
    return color


class Theme:
    """The colours of the dark theme; a view holds one, so a light theme can come later."""

    background: QColor = _color("#25282e")  # rows of white keys
    black_row: QColor = _color("#1f2126")  # rows of black keys
    row_line: QColor = _color("#2b2e35")
    octave_line: QColor = _color("#3a3f49")
    sub_beat_line: QColor = _color("#2c2f36")
    beat_line: QColor = _color("#353943")
    bar_line: QColor = _color("#555b68")
    past_end_shade: QColor = _color("#000000", 70)
    end_line: QColor = _color("#7a8190")
    ruler_background: QColor = _color("#1a1c20")
    ruler_border: QColor = _color("#3a3e47")
    ruler_text: QColor = _color("#c9ced8")
    ruler_tick: QColor = _color("#6e7584")
    ruler_meter: QColor = _color("#e0b84f")
    white_key: QColor = _color("#e6e7ea")
    white_key_line: QColor = _color("#a4a8b0")
    black_key: QColor = _color("#18191c")
    black_key_edge: QColor = _color("#3b3d42")
    key_label: QColor = _color("#4b4f58")
    keyboard_border: QColor = _color("#0e0f11")
    legend_background: QColor = _color("#15171a", 215)
    legend_text: QColor = _color("#d6dae2")
    placeholder_text: QColor = _color("#8d94a3")


# Hues chosen to stay apart from one another on a dark background; beyond these, golden-ratio hues.
TRACK_PALETTE = ("#f5a524", "#38bdf8", "#84cc16", "#f472b6", "#a78bfa", "#fb7158", "#2dd4bf",
                 "#facc15")


def track_color(track_index: int) -> QColor:
    """The base colour of a track: a distinct hue per track index."""
    if track_index < len(TRACK_PALETTE):
        return QColor(TRACK_PALETTE[track_index])
    hue = (0.13 + track_index * 0.618034) % 1.0
    return QColor.fromHsvF(hue, 0.65, 0.95)


def note_fill_color(base: QColor, velocity: int) -> QColor:
    """A track's colour shaded by velocity: soft notes darker and greyer, loud notes full colour."""
    v = max(0, min(velocity, 127)) / 127.0
    h, s, val, _ = base.getHsvF()
    return QColor.fromHsvF(max(h, 0.0), s * (0.55 + 0.45 * v), val * (0.45 + 0.55 * v))


@dataclass
class _TrackCache:
    """One track's notes sorted by onset, with their fields as arrays for culling."""

    notes: list[Note]  # references to the document's notes, in Note order
    starts: np.ndarray  # [shape=(n,)] start_tick, ascending
    ends: np.ndarray  # [shape=(n,)] end_tick
    pitches: np.ndarray  # [shape=(n,)]
    max_duration_ticks: int

    @classmethod
    def of(cls, track: Track) -> "_TrackCache":
        notes = track.sorted_notes()
        starts = np.fromiter((n.start_tick for n in notes), dtype=np.int64, count=len(notes))
        ends = np.fromiter((n.end_tick for n in notes), dtype=np.int64, count=len(notes))
        pitches = np.fromiter((n.pitch for n in notes), dtype=np.int64, count=len(notes))
        max_duration = int((ends - starts).max()) if notes else 0
        return cls(notes, starts, ends, pitches, max_duration)


class PianoRollView(QAbstractScrollArea):
    """Draws every note of every track of a Sketch; zooms and scrolls, edits nothing yet.

    Coordinates: x grows with time (`px_per_tick`), y grows downward as pitch falls
    (`px_per_semitone` per row, pitch 127 on top). The keyboard strip takes the left
    KEYBOARD_WIDTH_PX pixels of the viewport and the bar ruler the top RULER_HEIGHT_PX;
    notes are drawn in the rest, the note area. Scrollbar values are pixel offsets into
    the content.
    """

    def __init__(self, sketch: Sketch | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.theme = Theme()
        self._sketch: Sketch | None = None
        self._tracks: list[_TrackCache] = []
        self._px_per_tick = DEFAULT_PX_PER_TICK
        self._px_per_semitone = DEFAULT_PX_PER_SEMITONE
        # While True, a resize refits the view; any zoom or scroll by the user turns it off.
        self._auto_fit = False
        self._melody_track: int | None = None
        self.placeholder_text = "Open a MIDI file or a sketch with File \u203a Open (Ctrl+O)"

        self.setFrameShape(QAbstractScrollArea.Shape.NoFrame)
        # Always-on scrollbars keep the viewport's size stable while fitting (no show/hide loop).
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOn)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOn)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.viewport().setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.setMinimumSize(KEYBOARD_WIDTH_PX + 80, RULER_HEIGHT_PX + 60)
        for bar in (self.horizontalScrollBar(), self.verticalScrollBar()):
            bar.actionTriggered.connect(self._user_scrolled)

        self._ruler_font = QFont(self.font())
        self._ruler_font.setPixelSize(11)
        self._legend_font = QFont(self.font())
        self._legend_font.setPixelSize(11)
        self._key_font = QFont(self.font())
        self._key_font.setPixelSize(9)

        self.set_sketch(sketch)

    # -- document -----------------------------------------------------------------------------

    @property
    def sketch(self) -> Sketch | None:
        return self._sketch

    def set_sketch(self, sketch: Sketch | None, melody_track: int | None = None) -> None:
        """Show another sketch (or none) and fit the view to it.

        `melody_track` is the index of the track that carries the melody, if known: it is
        drawn last, over the accompaniment, and named so in the legend.
        """
        self._sketch = sketch
        self._melody_track = melody_track
        self._rebuild_cache()
        self.fit_to_content()

    @property
    def melody_track(self) -> int | None:
        return self._melody_track

    def paint_order(self) -> list[int]:
        """Track indices in the order they are painted: by index, the melody track last."""
        order = [i for i in range(len(self._tracks)) if i != self._melody_track]
        if self._melody_track is not None and 0 <= self._melody_track < len(self._tracks):
            order.append(self._melody_track)
        return order

    def refresh(self) -> None:
        """Re-read the document after its notes changed, keeping zoom and scroll."""
        self._rebuild_cache()
        self._update_scrollbars()
        self.viewport().update()

    def _rebuild_cache(self) -> None:
        self._tracks = [_TrackCache.of(t) for t in self._sketch.tracks] if self._sketch else []

    def _time_signatures(self) -> Sequence[TimeSignature]:
        return self._sketch.time_signatures if self._sketch else (TimeSignature(0, 4, 4),)

    # -- coordinates --------------------------------------------------------------------------

    @property
    def px_per_tick(self) -> float:
        return self._px_per_tick

    @property
    def px_per_semitone(self) -> float:
        return self._px_per_semitone

    def note_area(self) -> QRectF:
        """The part of the viewport where notes are drawn (right of the keyboard, below the ruler)."""
        size = self.viewport().size()
        return QRectF(KEYBOARD_WIDTH_PX, RULER_HEIGHT_PX,
                      max(size.width() - KEYBOARD_WIDTH_PX, 0),
                      max(size.height() - RULER_HEIGHT_PX, 0))

    def x_at_tick(self, tick: float) -> float:
        """Viewport x of a tick."""
        return KEYBOARD_WIDTH_PX + tick * self._px_per_tick - self.horizontalScrollBar().value()

    def tick_at(self, x: float) -> float:
        """The tick under a viewport x (fractional)."""
        return (x - KEYBOARD_WIDTH_PX + self.horizontalScrollBar().value()) / self._px_per_tick

    def y_at_pitch(self, pitch: float) -> float:
        """Viewport y of the top of a pitch's row."""
        return (RULER_HEIGHT_PX + (PITCH_COUNT - 1 - pitch) * self._px_per_semitone
                - self.verticalScrollBar().value())

    def pitch_at(self, y: float) -> int:
        """The pitch whose row holds a viewport y (may fall outside 0..127 off the keyboard)."""
        rows_down = (y - RULER_HEIGHT_PX + self.verticalScrollBar().value()) / self._px_per_semitone
        return PITCH_COUNT - 1 - math.floor(rows_down)

    def visible_ticks(self) -> tuple[float, float]:
        area = self.note_area()
        return self.tick_at(area.left()), self.tick_at(area.right())

    def visible_pitches(self) -> tuple[int, int]:
        """Lowest and highest pitch with a row at least partly in view, clamped to 0..127."""
        area = self.note_area()
        low = self.pitch_at(area.bottom() - 1e-6)
        high = self.pitch_at(area.top())
        return max(low, 0), min(high, PITCH_COUNT - 1)

    # -- geometry of notes: the one place that decides where a note is drawn -----------------

    def _note_geometry(self) -> Iterator[tuple[int, Note, QRectF]]:
        area = self.note_area()
        if area.isEmpty() or not self._tracks:
            return
        t0, t1 = self.visible_ticks()
        p_low, p_high = self.visible_pitches()
        ppt, pps = self._px_per_tick, self._px_per_semitone
        x_origin = KEYBOARD_WIDTH_PX - self.horizontalScrollBar().value()
        y_origin = RULER_HEIGHT_PX - self.verticalScrollBar().value()
        # A one-pixel gutter between rows once rows are tall enough to spare it.
        gap = 1.0 if pps >= 6 else 0.0
        for track_index in self.paint_order():
            cache = self._tracks[track_index]
            if not cache.notes:
                continue
            lo = int(np.searchsorted(cache.starts, t0 - cache.max_duration_ticks, side="left"))
            hi = int(np.searchsorted(cache.starts, t1, side="right"))
            if hi <= lo:
                continue
            pitches = cache.pitches[lo:hi]
            keep = (cache.ends[lo:hi] >= t0) & (pitches >= p_low) & (pitches <= p_high)
            for i in np.flatnonzero(keep) + lo:
                note = cache.notes[i]
                x = x_origin + note.start_tick * ppt
                width = max(note.duration_ticks * ppt, MIN_NOTE_WIDTH_PX)
                y = y_origin + (PITCH_COUNT - 1 - note.pitch) * pps
                yield track_index, note, QRectF(x, y + gap, width, pps - gap)

    def note_rects(self) -> list[tuple[int, Note, QRectF]]:
        """(track index, note, viewport rectangle) of every note at least partly in view.

        Ordered by track as in `paint_order()`, then by note order (onset, pitch) within a
        track: the order of painting.
        """
        return list(self._note_geometry())

    # -- zoom and scroll ----------------------------------------------------------------------

    def zoom_in(self) -> None:
        """Zoom in horizontally by one step, about the centre of the note area."""
        self.zoom_horizontal(ZOOM_STEP)

    def zoom_out(self) -> None:
        """Zoom out horizontally by one step, about the centre of the note area."""
        self.zoom_horizontal(1.0 / ZOOM_STEP)

    def zoom_horizontal(self, factor: float, anchor_x: float | None = None) -> None:
        """Multiply px_per_tick by factor, keeping the tick under viewport x `anchor_x` in place."""
        if anchor_x is None:
            anchor_x = self.note_area().center().x()
        tick = self.tick_at(anchor_x)
        self._px_per_tick = min(max(self._px_per_tick * factor, MIN_PX_PER_TICK), MAX_PX_PER_TICK)
        self._update_scrollbars()
        self.horizontalScrollBar().setValue(
            round(KEYBOARD_WIDTH_PX + tick * self._px_per_tick - anchor_x))
        self._auto_fit = False
        self.viewport().update()

    def zoom_vertical(self, factor: float, anchor_y: float | None = None) -> None:
        """Multiply px_per_semitone by factor, keeping the pitch under viewport y `anchor_y` in place."""
        if anchor_y is None:
            anchor_y = self.note_area().center().y()
        rows_down = (anchor_y - RULER_HEIGHT_PX + self.verticalScrollBar().value()) / self._px_per_semitone
        self._px_per_semitone = min(max(self._px_per_semitone * factor, MIN_PX_PER_SEMITONE),
                                    MAX_PX_PER_SEMITONE)
        self._update_scrollbars()
        self.verticalScrollBar().setValue(
            round(rows_down * self._px_per_semitone - (anchor_y - RULER_HEIGHT_PX)))
        self._auto_fit = False
        self.viewport().update()

    def fit_to_content(self) -> None:
        """Show the whole length (to the end of the last bar) and the pitch range of the notes."""
        area = self.note_area()
        if area.width() <= 0 or area.height() <= 0:
            self._auto_fit = True  # fit once the view has a size
            return
        ts = self._time_signatures()
        end_tick = self._sketch.end_tick if self._sketch else 0
        if end_tick > 0:
            fit_ticks = bar_end_at_or_after(ts, end_tick)
        else:
            fit_ticks = EMPTY_VIEW_BARS * ts[0].bar_ticks
        # Two pixels to spare so that the closing bar line is drawn inside the view.
        self._px_per_tick = min(max((area.width() - 2) / fit_ticks, MIN_PX_PER_TICK), MAX_PX_PER_TICK)

        pitches = [c.pitches for c in self._tracks if len(c.pitches)]
        if pitches:
            low = int(min(p.min() for p in pitches)) - FIT_PITCH_PADDING
            high = int(max(p.max() for p in pitches)) + FIT_PITCH_PADDING
        else:
            low, high = EMPTY_VIEW_PITCHES
        missing = FIT_MIN_PITCH_ROWS - (high - low + 1)
        if missing > 0:
            low -= missing // 2
            high += missing - missing // 2
        low, high = max(low, 0), min(high, PITCH_COUNT - 1)
        rows = high - low + 1
        self._px_per_semitone = min(max(area.height() / rows, MIN_PX_PER_SEMITONE), MAX_PX_PER_SEMITONE)

        self._update_scrollbars()
        self.horizontalScrollBar().setValue(0)
        # Centre the pitch range; when it fits exactly this puts `high` on the top row.
        centre_row = PITCH_COUNT - 1 - (low + high) / 2 + 0.5
        self.verticalScrollBar().setValue(
            round(centre_row * self._px_per_semitone - area.height() / 2))
        self._auto_fit = True
        self.viewport().update()

    def _content_ticks(self) -> int:
        # Scrollable length: to the end of the last bar with notes, plus four bars to write into.
        ts = self._time_signatures()
        end_tick = self._sketch.end_tick if self._sketch else 0
        last_bar = ts[-1].bar_ticks
        return max(bar_end_at_or_after(ts, end_tick) + 4 * last_bar, EMPTY_VIEW_BARS * ts[0].bar_ticks)

    def _update_scrollbars(self) -> None:
        area = self.note_area()
        width, height = int(area.width()), int(area.height())
        content_width = math.ceil(self._content_ticks() * self._px_per_tick)
        content_height = math.ceil(PITCH_COUNT * self._px_per_semitone)
        hbar, vbar = self.horizontalScrollBar(), self.verticalScrollBar()
        hbar.setRange(0, max(content_width - width, 0))
        hbar.setPageStep(max(width, 1))
        hbar.setSingleStep(max(width // 20, 1))
        vbar.setRange(0, max(content_height - height, 0))
        vbar.setPageStep(max(height, 1))
        vbar.setSingleStep(max(round(self._px_per_semitone), 1))

    def _user_scrolled(self, _action: int) -> None:
        self._auto_fit = False

    def scrollContentsBy(self, dx: int, dy: int) -> None:
        self.viewport().update()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if self._auto_fit:
            self.fit_to_content()
        else:
            self._update_scrollbars()

    def wheelEvent(self, event: QWheelEvent) -> None:
        """Wheel scrolls vertically, Shift+wheel horizontally; Ctrl+wheel zooms time about the
        mouse, Ctrl+Shift+wheel or Alt+wheel zooms pitch about the mouse."""
        mods = event.modifiers()
        delta = event.angleDelta()
        # Some platforms turn Alt+wheel (and Shift+wheel) into a horizontal delta.
        notches = (delta.y() or delta.x()) / 120.0
        pos = event.position()
        ctrl = bool(mods & Qt.KeyboardModifier.ControlModifier)
        shift = bool(mods & Qt.KeyboardModifier.ShiftModifier)
        alt = bool(mods & Qt.KeyboardModifier.AltModifier)
        if notches == 0:
            event.ignore()
            return
        if (ctrl and shift) or alt:
            self.zoom_vertical(ZOOM_STEP ** notches, pos.y())
        elif ctrl:
            self.zoom_horizontal(ZOOM_STEP ** notches, pos.x())
        else:
            self._auto_fit = False
            pixel = event.pixelDelta()
            if shift or (delta.y() == 0 and delta.x() != 0):
                bar = self.horizontalScrollBar()
                step = pixel.x() or pixel.y() or notches * 3 * bar.singleStep()
            else:
                bar = self.verticalScrollBar()
                step = pixel.y() or notches * 3 * bar.singleStep()
            bar.setValue(bar.value() - round(step))
        event.accept()

    # -- painting -----------------------------------------------------------------------------

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self.viewport())
        try:
            full = QRectF(self.viewport().rect())
            area = self.note_area()
            painter.fillRect(full, self.theme.background)
            bars = self._visible_bars()
            painter.save()
            painter.setClipRect(area)
            self._paint_rows(painter, area)
            self._paint_grid(painter, area, bars)
            self._paint_past_end(painter, area)
            self._paint_notes(painter)
            painter.restore()
            self._paint_legend(painter, area)
            self._paint_placeholder(painter, area)
            self._paint_ruler(painter, full, bars)
            self._paint_keyboard(painter, full)
            painter.fillRect(QRectF(0, 0, KEYBOARD_WIDTH_PX, RULER_HEIGHT_PX), self.theme.ruler_background)
            painter.setPen(self.theme.ruler_border)
            painter.drawLine(QPointF(0, RULER_HEIGHT_PX - 0.5),
                             QPointF(KEYBOARD_WIDTH_PX, RULER_HEIGHT_PX - 0.5))
        finally:
            painter.end()

    def _visible_bars(self) -> list[Bar]:
        t0, t1 = self.visible_ticks()
        return list(iter_bars(self._time_signatures(), max(t0, 0.0), t1))

    def _bar_stride(self, bars: Sequence[Bar], min_px: float) -> int:
        """Draw every n-th bar (n a power of two) so that drawn bars are at least min_px apart."""
        if not bars:
            return 1
        bar_px = min(b.time_signature.bar_ticks for b in bars) * self._px_per_tick
        stride = 1
        while stride * bar_px < min_px and stride < 1 << 20:
            stride *= 2
        return stride

    def _paint_rows(self, painter: QPainter, area: QRectF) -> None:
        low, high = self.visible_pitches()
        pps = self._px_per_semitone
        left, right = area.left(), area.right()
        for pitch in range(low, high + 1):
            y = self.y_at_pitch(pitch)
            if pitch % 12 in BLACK_KEY_CLASSES:
                painter.fillRect(QRectF(left, y, right - left, pps), self.theme.black_row)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        row_pen = QPen(self.theme.row_line, 1)
        octave_pen = QPen(self.theme.octave_line, 1)
        for pitch in range(low, high + 1):
            # The line under each C marks the octave; the others only when rows are roomy.
            y = round(self.y_at_pitch(pitch) + pps) - 0.5
            if pitch % 12 == 0:
                painter.setPen(octave_pen)
            elif pps >= 7 and pitch % 12 in (4, 11):
                painter.setPen(row_pen)  # E-F and B-C: white keys meet without a black key
            else:
                continue
            painter.drawLine(QPointF(left, y), QPointF(right, y))

    def _paint_grid(self, painter: QPainter, area: QRectF, bars: Sequence[Bar]) -> None:
        top, bottom = area.top(), area.bottom()
        ppt = self._px_per_tick
        # Strong lines on every bar while bars are roomy, else on every 2nd, 4th... bar; the bars
        # in between keep beat-weight lines while those stay at least 8 px apart.
        strong = self._bar_stride(bars, 32.0)
        minor = self._bar_stride(bars, 8.0)
        sub_pen, beat_pen, bar_pen = (QPen(self.theme.sub_beat_line, 1), QPen(self.theme.beat_line, 1),
                                      QPen(self.theme.bar_line, 1))

        def vline(tick: float, pen: QPen) -> None:
            x = round(self.x_at_tick(tick)) + 0.5
            if area.left() <= x <= area.right():
                painter.setPen(pen)
                painter.drawLine(QPointF(x, top), QPointF(x, bottom))

        for bar in bars:
            if strong == 1:
                beat = bar.beat_ticks
                if beat * ppt >= 6:
                    sub = next((s for s in (beat // 4, beat // 2) if s * ppt >= 7), 0)
                    if sub:
                        for tick in range(bar.start_tick + sub, bar.end_tick, sub):
                            if (tick - bar.start_tick) % beat:
                                vline(tick, sub_pen)
                    for tick in range(bar.start_tick + beat, bar.end_tick, beat):
                        vline(tick, beat_pen)
            if (bar.number - 1) % strong == 0:
                vline(bar.start_tick, bar_pen)
            elif (bar.number - 1) % minor == 0:
                vline(bar.start_tick, beat_pen)

    def _paint_past_end(self, painter: QPainter, area: QRectF) -> None:
        if not self._sketch or self._sketch.end_tick <= 0:
            return
        x = self.x_at_tick(bar_end_at_or_after(self._time_signatures(), self._sketch.end_tick))
        if x < area.right():
            start = max(x, area.left())
            painter.fillRect(QRectF(start, area.top(), area.right() - start, area.height()),
                             self.theme.past_end_shade)

    def _paint_notes(self, painter: QPainter) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        base_colors = [track_color(i) for i in range(len(self._tracks))]
        fills: dict[tuple[int, int], QColor] = {}
        edges: dict[tuple[int, int], QPen] = {}
        for track_index, note, rect in self._note_geometry():
            key = (track_index, note.velocity)
            fill = fills.get(key)
            if fill is None:
                fill = fills[key] = note_fill_color(base_colors[track_index], note.velocity)
                edges[key] = QPen(fill.darker(240), 1)
            if rect.width() < 4 or rect.height() < 4:
                painter.fillRect(rect, fill)
                continue
            radius = min(2.5, rect.height() / 3, rect.width() / 3)
            painter.setPen(edges[key])
            painter.setBrush(fill)
            painter.drawRoundedRect(rect.adjusted(0.5, 0.5, -0.5, -0.5), radius, radius)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)

    def _paint_ruler(self, painter: QPainter, full: QRectF, bars: Sequence[Bar]) -> None:
        ruler = QRectF(KEYBOARD_WIDTH_PX, 0, full.width() - KEYBOARD_WIDTH_PX, RULER_HEIGHT_PX)
        painter.save()
        painter.setClipRect(ruler)
        painter.fillRect(ruler, self.theme.ruler_background)
        painter.setFont(self._ruler_font)
        metrics = QFontMetrics(self._ruler_font)
        last_number = bars[-1].number if bars else 1
        label_px = metrics.horizontalAdvance(str(last_number)) + 10
        label_stride = self._bar_stride(bars, label_px)
        tick_stride = self._bar_stride(bars, 8.0)
        ppt = self._px_per_tick
        bottom = RULER_HEIGHT_PX - 1
        text_top = 2
        text_height = RULER_HEIGHT_PX - 4
        prev_ts: TimeSignature | None = None
        for bar in bars:
            x = round(self.x_at_tick(bar.start_tick)) + 0.5
            labelled = (bar.number - 1) % label_stride == 0
            if (bar.number - 1) % tick_stride == 0:
                painter.setPen(self.theme.ruler_tick)
                painter.drawLine(QPointF(x, RULER_HEIGHT_PX * (0.15 if labelled else 0.6)),
                                 QPointF(x, bottom))
            if tick_stride == 1 and bar.beat_ticks * ppt >= 8:
                painter.setPen(self.theme.ruler_tick)
                for tick in range(bar.start_tick + bar.beat_ticks, bar.end_tick, bar.beat_ticks):
                    bx = round(self.x_at_tick(tick)) + 0.5
                    painter.drawLine(QPointF(bx, bottom - 4), QPointF(bx, bottom))
            text_x = x + 4
            label = str(bar.number)
            if labelled and text_x + metrics.horizontalAdvance(label) <= ruler.right():
                painter.setPen(self.theme.ruler_text)
                painter.drawText(QRectF(text_x, text_top, 200, text_height),
                                 Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, label)
                text_x += metrics.horizontalAdvance(label) + 6
            meter_changed = prev_ts is not None and (
                (bar.time_signature.numerator, bar.time_signature.denominator)
                != (prev_ts.numerator, prev_ts.denominator))
            if meter_changed and bar.start_tick == bar.time_signature.tick:
                painter.setPen(self.theme.ruler_meter)
                painter.drawText(QRectF(text_x, text_top, 200, text_height),
                                 Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                                 f"{bar.time_signature.numerator}/{bar.time_signature.denominator}")
            prev_ts = bar.time_signature
        if self._sketch and self._sketch.end_tick > 0:
            end_x = round(self.x_at_tick(self._sketch.end_tick)) + 0.5
            painter.setPen(QPen(self.theme.end_line, 1))
            painter.drawLine(QPointF(end_x, RULER_HEIGHT_PX * 0.5), QPointF(end_x, bottom))
        painter.setPen(self.theme.ruler_border)
        painter.drawLine(QPointF(ruler.left(), RULER_HEIGHT_PX - 0.5),
                         QPointF(ruler.right(), RULER_HEIGHT_PX - 0.5))
        painter.restore()

    def _paint_keyboard(self, painter: QPainter, full: QRectF) -> None:
        keys = QRectF(0, RULER_HEIGHT_PX, KEYBOARD_WIDTH_PX, full.height() - RULER_HEIGHT_PX)
        painter.save()
        painter.setClipRect(keys)
        painter.fillRect(keys, self.theme.white_key)
        low, high = self.visible_pitches()
        pps = self._px_per_semitone
        black_width = round(KEYBOARD_WIDTH_PX * 0.58)
        # White keys meet at the middle of each black key, and directly at E-F and B-C.
        painter.setPen(QPen(self.theme.white_key_line, 1))
        for pitch in range(max(low - 1, 0), min(high + 1, PITCH_COUNT - 1) + 1):
            y_top = self.y_at_pitch(pitch)
            if pitch % 12 in BLACK_KEY_CLASSES:
                y = round(y_top + pps / 2) - 0.5
                painter.drawLine(QPointF(black_width, y), QPointF(KEYBOARD_WIDTH_PX, y))
            elif pitch % 12 in (4, 11):
                y = round(y_top) - 0.5  # the top of E meets F, the top of B meets C
                painter.drawLine(QPointF(0, y), QPointF(KEYBOARD_WIDTH_PX, y))
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        for pitch in range(max(low - 1, 0), min(high + 1, PITCH_COUNT - 1) + 1):
            if pitch % 12 not in BLACK_KEY_CLASSES:
                continue
            y_top = self.y_at_pitch(pitch)
            key = QRectF(-3, y_top + 0.5, black_width + 3, max(pps - 1, 1))
            painter.setPen(QPen(self.theme.black_key_edge, 1))
            painter.setBrush(self.theme.black_key)
            painter.drawRoundedRect(key, 1.5, 1.5)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        # Octave names on every C.
        font = QFont(self._key_font)
        font.setPixelSize(int(min(11, max(8, pps * 0.9))))
        painter.setFont(font)
        painter.setPen(self.theme.key_label)
        label_height = max(pps, 12.0)
        for pitch in range(low - low % 12, high + 1, 12):
            y_mid = self.y_at_pitch(pitch) + pps / 2
            painter.drawText(QRectF(0, y_mid - label_height / 2, KEYBOARD_WIDTH_PX - 4, label_height),
                             Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                             pitch_name(pitch))
        painter.setPen(self.theme.keyboard_border)
        painter.drawLine(QPointF(KEYBOARD_WIDTH_PX - 0.5, keys.top()),
                         QPointF(KEYBOARD_WIDTH_PX - 0.5, keys.bottom()))
        painter.restore()

    def _paint_legend(self, painter: QPainter, area: QRectF) -> None:
        if not self._sketch or not self._sketch.tracks:
            return
        metrics = QFontMetrics(self._legend_font)
        names = []
        for i, track in enumerate(self._sketch.tracks):
            name = track.name.strip() or f"Track {i + 1}"
            if track.is_drum:
                name += " (drums)"
            if i == self._melody_track and "melody" not in name.lower():
                name += " \u2014 melody"
            names.append(name)
        line_height = max(metrics.height(), 12) + 3
        swatch = 10
        padding = 7
        width = swatch + 6 + max(metrics.horizontalAdvance(n) for n in names) + 2 * padding
        height = line_height * len(names) + 2 * padding - 3
        box = QRectF(area.right() - width - 10, area.top() + 10, width, height)
        if box.left() < area.left() + 40 or box.bottom() > area.bottom():
            return  # no room: the legend would hide more than it tells
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(self.theme.legend_background)
        painter.drawRoundedRect(box, 5, 5)
        painter.setFont(self._legend_font)
        for i, name in enumerate(names):
            y = box.top() + padding + i * line_height
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(track_color(i))
            painter.drawRoundedRect(QRectF(box.left() + padding, y + (line_height - 3 - swatch) / 2,
                                           swatch, swatch), 2, 2)
            painter.setPen(self.theme.legend_text)
            painter.drawText(QRectF(box.left() + padding + swatch + 6, y, width, line_height - 3),
                             Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, name)
        painter.restore()

    def _paint_placeholder(self, painter: QPainter, area: QRectF) -> None:
        if self._sketch is not None and self._sketch.note_count:
            return
        text = self.placeholder_text if self._sketch is None else "This sketch has no notes yet"
        painter.setFont(self._legend_font)
        painter.setPen(self.theme.placeholder_text)
        painter.drawText(area, Qt.AlignmentFlag.AlignCenter, text)

"""How the piano roll paints: rows, grid, notes with labels, ruler, keyboard, legend, playhead.

A mixin of PianoRollView, kept apart so that the view's module holds state and input. All of it
runs in one paintEvent on the viewport; notes come from the view's `_note_geometry()`, and every
rectangle from one `RollGeometry` (geometry.py), the one place that decides where a note is drawn.
"""

from __future__ import annotations

from typing import Sequence

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPaintEvent, QPen

from app.piano_roll import tools
from app.piano_roll.geometry import LEGEND_PADDING_PX, LEGEND_SWATCH_PX
from engine.music.meter import Bar, bar_end_at_or_after, iter_bars
from app.piano_roll.layout import (
    BLACK_KEY_CLASSES,
    KEYBOARD_WIDTH_PX,
    LABEL_MIN_HEIGHT_PX,
    PITCH_COUNT,
    RULER_HEIGHT_PX,
)
from app.piano_roll.style import is_light, note_fill_color, track_color
from engine.music.sketch import Note, TimeSignature, pitch_name


class RollPainting:
    """paintEvent and its parts, for PianoRollView (self is the view)."""

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self.viewport())
        try:
            full = QRectF(self.viewport().rect())
            area = self.note_area()
            dirty = QRectF(event.rect())
            painter.fillRect(dirty, self.theme.background)
            bars = self._visible_bars()
            painter.save()
            painter.setClipRect(area.intersected(dirty))
            self._paint_rows(painter, area)
            self._paint_loop_area(painter, area)
            self._paint_grid(painter, area, bars)
            self._paint_past_end(painter, area)
            self._paint_notes(painter, (dirty.left() - 2, dirty.right() + 2))
            if self._gesture is not None:
                self._gesture.paint_overlay(painter)
            self._paint_playhead(painter, area)
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
        bar_px = min(b.time_signature.bar_ticks for b in bars) * self.px_per_tick
        stride = 1
        while stride * bar_px < min_px and stride < 1 << 20:
            stride *= 2
        return stride

    def _paint_rows(self, painter: QPainter, area: QRectF) -> None:
        low, high = self.visible_pitches()
        pps = self.px_per_semitone
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

    def _paint_loop_area(self, painter: QPainter, area: QRectF) -> None:
        if self._loop_region is None:
            return
        x0, x1 = (self.x_at_tick(t) for t in self._loop_region)
        painter.fillRect(QRectF(x0, area.top(), x1 - x0, area.height()), self.theme.loop_area)

    def _paint_grid(self, painter: QPainter, area: QRectF, bars: Sequence[Bar]) -> None:
        top, bottom = area.top(), area.bottom()
        ppt = self.px_per_tick
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

        snap = self.snap_unit()
        for bar in bars:
            if strong == 1:
                beat = bar.beat_ticks
                if beat * ppt >= 6:
                    # Sub-beat lines follow the snapping grid while they stay 7 px apart, so
                    # that triplet grids show as triplets; else quarter or half beats.
                    subs = ([snap] if 1 < snap < beat else []) + [beat // 4, beat // 2]
                    sub = next((s for s in subs if s > 0 and s * ppt >= 7), 0)
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
        if self.sketch.end_tick <= 0:
            return
        x = self.x_at_tick(bar_end_at_or_after(self._time_signatures(), self.sketch.end_tick))
        if x < area.right():
            start = max(x, area.left())
            painter.fillRect(QRectF(start, area.top(), area.right() - start, area.height()),
                             self.theme.past_end_shade)

    def _label_font(self, height: float) -> tuple[QFont, dict[int, float]]:
        size = int(min(11, max(8, round(height * 0.7))))
        cached = self._label_fonts.get(size)
        if cached is None:
            font = QFont(self.font())
            font.setPixelSize(size)
            metrics = QFontMetrics(font)
            widths = {p: float(metrics.horizontalAdvance(pitch_name(p))) for p in range(PITCH_COUNT)}
            cached = self._label_fonts[size] = (font, widths)
        return cached

    def _paint_notes(self, painter: QPainter, x_range: tuple[float, float]) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        theme = self.theme
        base_colors = [track_color(i) for i in range(len(self._tracks))]
        fills: dict[tuple[int, int, int], QColor] = {}
        edges: dict[int, QPen] = {}
        active = self._active_track
        gesture = self._gesture
        hidden = gesture.hidden if gesture is not None else frozenset()
        selection = self._selection
        pps = self.px_per_semitone
        show_labels = pps >= LABEL_MIN_HEIGHT_PX
        label_font, label_widths = self._label_font(pps)
        labels: list[tuple[QRectF, Note, bool]] = []
        selected_pen = QPen(theme.selection_outline, 1.5)
        ghost_pen = QPen(theme.ghost_outline, 1, Qt.PenStyle.DashLine)

        def fill_for(track_index: int, velocity: int, state: int) -> QColor:
            # state: 0 faint, 1 normal, 2 selected
            key = (track_index, velocity, state)
            color = fills.get(key)
            if color is None:
                color = note_fill_color(base_colors[track_index], velocity)
                if state == 0:
                    color.setAlpha(theme.faint_alpha)
                elif state == 2:
                    color = color.lighter(135)
                fills[key] = color
            return color

        def draw(rect: QRectF, fill: QColor, pen: QPen | None) -> None:
            if rect.width() < 4 or rect.height() < 4:
                painter.fillRect(rect, fill)
                if pen is not None and pen is selected_pen:
                    painter.setPen(QPen(theme.selection_outline, 1))
                    painter.setBrush(Qt.BrushStyle.NoBrush)
                    painter.drawRect(rect)
                return
            radius = min(2.5, rect.height() / 3, rect.width() / 3)
            painter.setPen(pen if pen is not None else Qt.PenStyle.NoPen)
            painter.setBrush(fill)
            inset = 0.75 if pen is selected_pen else 0.5
            painter.drawRoundedRect(rect.adjusted(inset, inset, -inset, -inset), radius, radius)

        for track_index, note, rect in self._note_geometry(x_range):
            if track_index != active:
                draw(rect, fill_for(track_index, note.velocity, 0), None)
                continue
            if note in hidden:
                painter.setPen(ghost_pen)
                painter.setBrush(Qt.BrushStyle.NoBrush)
                painter.drawRect(rect.adjusted(0.5, 0.5, -0.5, -0.5))
                continue
            chosen = note in selection
            fill = fill_for(track_index, note.velocity, 2 if chosen else 1)
            if chosen:
                pen = selected_pen
            else:
                pen = edges.get(id(fill))
                if pen is None:
                    pen = edges[id(fill)] = QPen(fill.darker(240), 1)
            draw(rect, fill, pen)
            if show_labels and rect.width() >= label_widths[note.pitch] + 7:
                labels.append((rect, note, is_light(fill)))

        if gesture is not None and gesture.preview and 0 <= active < len(base_colors):
            rect_of = self.roll_geometry().note_rect
            for note in gesture.preview:
                rect = rect_of(note)
                fill = fill_for(active, note.velocity, 2)
                draw(rect, fill, selected_pen)
                if show_labels and rect.width() >= label_widths[note.pitch] + 7:
                    labels.append((rect, note, is_light(fill)))

        if self._proposal:  # a model's offer: translucent, dashed, over everything else
            rect_of = self.roll_geometry().note_rect
            fill = QColor(theme.proposal_fill)
            pen = QPen(theme.proposal_outline, 1, Qt.PenStyle.DashLine)
            lo, hi = x_range
            for note in self._proposal:
                rect = rect_of(note)
                if rect.right() >= lo and rect.left() <= hi:
                    draw(rect, fill, pen)

        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        if labels:
            painter.setFont(label_font)
            align = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
            for rect, note, light in labels:
                painter.setPen(theme.label_dark if light else theme.label_light)
                painter.drawText(rect.adjusted(3.5, 0, -2, 0), align, pitch_name(note.pitch))

    def _paint_playhead(self, painter: QPainter, area: QRectF) -> None:
        if self._playhead_tick is None:
            return
        x = self.x_at_tick(self._playhead_tick)
        if area.left() <= x <= area.right():
            painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
            painter.setPen(QPen(self.theme.playhead, 1))
            painter.drawLine(QPointF(round(x) + 0.5, area.top()), QPointF(round(x) + 0.5, area.bottom()))

    def _paint_ruler(self, painter: QPainter, full: QRectF, bars: Sequence[Bar]) -> None:
        ruler = QRectF(KEYBOARD_WIDTH_PX, 0, full.width() - KEYBOARD_WIDTH_PX, RULER_HEIGHT_PX)
        painter.save()
        painter.setClipRect(ruler)
        painter.fillRect(ruler, self.theme.ruler_background)
        # The loop region (or the one being dragged out) as a band along the ruler's bottom half.
        loop = self._loop_region
        if isinstance(self._gesture, tools.RulerGesture) and self._gesture.span() is not None:
            loop = self._gesture.span()
        if loop is not None:
            x0, x1 = (self.x_at_tick(t) for t in loop)
            band = QRectF(x0, RULER_HEIGHT_PX * 0.45, x1 - x0, RULER_HEIGHT_PX * 0.55 - 1)
            painter.fillRect(band, self.theme.loop_ruler)
            painter.setPen(QPen(self.theme.loop_edge, 1))
            for x in (x0, x1):
                xx = round(x) + 0.5
                painter.drawLine(QPointF(xx, band.top()), QPointF(xx, band.bottom()))
        painter.setFont(self._ruler_font)
        metrics = QFontMetrics(self._ruler_font)
        last_number = bars[-1].number if bars else 1
        label_px = metrics.horizontalAdvance(str(last_number)) + 10
        label_stride = self._bar_stride(bars, label_px)
        tick_stride = self._bar_stride(bars, 8.0)
        ppt = self.px_per_tick
        bottom = RULER_HEIGHT_PX - 1
        text_top = 1
        text_height = RULER_HEIGHT_PX * 0.55
        prev_ts: TimeSignature | None = None
        free_x = -float("inf")  # labels start right of the last one drawn: none collide
        self.ruler_labels = []  # (left, right, text) of every label drawn, for tests
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
            width = metrics.horizontalAdvance(label)
            if labelled and text_x >= free_x and text_x + width <= ruler.right():
                painter.setPen(self.theme.ruler_text)
                painter.drawText(QRectF(text_x, text_top, 200, text_height),
                                 Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, label)
                self.ruler_labels.append((text_x, text_x + width, label))
                free_x = text_x + width + 6
                text_x = free_x
            meter_changed = prev_ts is not None and (
                (bar.time_signature.numerator, bar.time_signature.denominator)
                != (prev_ts.numerator, prev_ts.denominator))
            meter = f"{bar.time_signature.numerator}/{bar.time_signature.denominator}"
            width = metrics.horizontalAdvance(meter)
            # Where meters change often and bars are narrow, a meter that would overlap the
            # previous label is left out (the next one that fits is drawn).
            if meter_changed and bar.start_tick == bar.time_signature.tick and text_x >= free_x:
                painter.setPen(self.theme.ruler_meter)
                painter.drawText(QRectF(text_x, text_top, 200, text_height),
                                 Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, meter)
                self.ruler_labels.append((text_x, text_x + width, meter))
                free_x = text_x + width + 6
            prev_ts = bar.time_signature
        if self.sketch.end_tick > 0:
            end_x = round(self.x_at_tick(self.sketch.end_tick)) + 0.5
            painter.setPen(QPen(self.theme.end_line, 1))
            painter.drawLine(QPointF(end_x, RULER_HEIGHT_PX * 0.5), QPointF(end_x, bottom))
        if self._playhead_tick is not None:
            # A small downward triangle over the playhead line.
            x = round(self.x_at_tick(self._playhead_tick)) + 0.5
            painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(self.theme.playhead)
            painter.drawPolygon([QPointF(x - 5, RULER_HEIGHT_PX - 9), QPointF(x + 5, RULER_HEIGHT_PX - 9),
                                 QPointF(x, RULER_HEIGHT_PX - 1)])
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
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
        pps = self.px_per_semitone
        black_width = round(KEYBOARD_WIDTH_PX * 0.58)
        pressed = self._gesture.pressed_pitch if self._gesture is not None else None
        if pressed is not None and pressed % 12 not in BLACK_KEY_CLASSES:
            painter.fillRect(QRectF(0, self.y_at_pitch(pressed), KEYBOARD_WIDTH_PX, pps),
                             self.theme.key_pressed)
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
            painter.setBrush(self.theme.key_pressed if pitch == pressed else self.theme.black_key)
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
        """Track names at the top right; the active one highlighted. A click on a name makes
        that track the active one (the view's `legend()` says where each is, for both)."""
        legend = self.legend()
        if legend is None:
            return  # one track (nothing to tell apart or choose), or no room
        padding, swatch = LEGEND_PADDING_PX, LEGEND_SWATCH_PX
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(self.theme.legend_background)
        painter.drawRoundedRect(legend.box, 5, 5)
        painter.setFont(self._legend_font)
        for row, i, name in legend.rows:
            active = i == self._active_track
            if active:
                painter.setPen(Qt.PenStyle.NoPen)
                painter.setBrush(self.theme.legend_active)
                painter.drawRoundedRect(row, 3, 3)
            color = track_color(i)
            if not active:
                color.setAlpha(self.theme.faint_alpha + 40)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(color)
            painter.drawRoundedRect(QRectF(row.left() + padding - 3, row.center().y() - swatch / 2,
                                           swatch, swatch), 2, 2)
            painter.setPen(self.theme.legend_text if active else self.theme.legend_text_faint)
            painter.drawText(QRectF(row.left() + padding + swatch + 5, row.top(), legend.width, row.height()),
                             Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, name)
        painter.restore()

    def _paint_placeholder(self, painter: QPainter, area: QRectF) -> None:
        if self.sketch.note_count:
            return
        text = ("Click to draw a note" if self._tool == "draw"
                else "This sketch has no notes yet \u2014 press D and click to draw")
        painter.setFont(self._legend_font)
        painter.setPen(self.theme.placeholder_text)
        painter.drawText(area, Qt.AlignmentFlag.AlignCenter, text)

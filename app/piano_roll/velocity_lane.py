"""The velocity lane under the piano roll: one bar per note of the active track, at the note's
onset, on the view's own time axis (it asks the view for x), editable by dragging.

A drag draws velocities like a pencil: every bar the mouse passes over takes the velocity under
the mouse. While notes are selected only they change. Release pushes one edit (one undo step).
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QMouseEvent, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QWidget

from app.piano_roll import editing
from app.piano_roll.style import note_fill_color, track_color
from app.piano_roll.view import KEYBOARD_WIDTH_PX, PianoRollView
from engine.music.sketch import Note

TOP_PAD_PX = 8
BOTTOM_PAD_PX = 4
HIT_SLOP_PX = 4.0  # how far from a bar the pencil still catches it
HEAD_RADIUS_PX = 3.0


class VelocityLane(QWidget):
    """Velocity bars of the view's active track, sharing the view's horizontal zoom and scroll.

    Place it directly under the view with the same left edge (PianoRollEditor does); the
    left KEYBOARD_WIDTH_PX pixels carry the scale, like the keyboard above them.
    """

    def __init__(self, view: PianoRollView, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.view = view
        self._pending: dict[Note, int] = {}  # note -> velocity while a drag lasts
        self._last_x: float | None = None
        self._drag_value: tuple[QPointF, int] | None = None
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.setMinimumHeight(40)
        self.setCursor(Qt.CursorShape.CrossCursor)
        self._font = QFont(self.font())
        self._font.setPixelSize(10)
        view.view_changed.connect(self.update)
        view.active_track_changed.connect(self._cancel)

    def sizeHint(self) -> QSize:
        return QSize(400, 90)

    # -- geometry -----------------------------------------------------------------------------

    def _left(self) -> float:
        return float(KEYBOARD_WIDTH_PX)

    def _right(self) -> float:
        bar = self.view.verticalScrollBar()
        return float(self.width() - (bar.width() if bar.isVisible() else 0))

    def y_at_velocity(self, velocity: float) -> float:
        """Widget y of a velocity's bar top (127 at the top, 0 at the bottom)."""
        span = max(self.height() - TOP_PAD_PX - BOTTOM_PAD_PX, 1)
        return self.height() - BOTTOM_PAD_PX - velocity / 127.0 * span

    def velocity_at(self, y: float) -> int:
        span = max(self.height() - TOP_PAD_PX - BOTTOM_PAD_PX, 1)
        return editing.clamp_velocity((self.height() - BOTTOM_PAD_PX - y) / span * 127.0)

    def x_of(self, note: Note) -> float:
        """Widget x of a note's bar: where the view draws its onset."""
        return self.view.x_at_tick(note.start_tick)

    def visible_notes(self) -> list[Note]:
        """Notes of the active track whose onset is in view."""
        view = self.view
        return view.active_notes_starting_between(view.tick_at(self._left() - HEAD_RADIUS_PX),
                                                  view.tick_at(self._right() + HEAD_RADIUS_PX))

    def _editable(self, x0: float, x1: float) -> list[Note]:
        lo, hi = min(x0, x1) - HIT_SLOP_PX, max(x0, x1) + HIT_SLOP_PX
        selected = set(self.view.selected_notes())
        return [n for n in self.visible_notes()
                if lo <= self.x_of(n) <= hi and (not selected or n in selected)]

    # -- mouse --------------------------------------------------------------------------------

    def _cancel(self, *_args) -> None:
        self._pending = {}
        self._last_x = None
        self._drag_value = None
        self.update()

    def _paint_at(self, pos: QPointF) -> None:
        velocity = self.velocity_at(pos.y())
        x0 = self._last_x if self._last_x is not None else pos.x()
        for note in self._editable(x0, pos.x()):
            self._pending[note] = velocity
        self._last_x = pos.x()
        self._drag_value = (QPointF(pos), velocity)
        self.update()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        self.view.setFocus(Qt.FocusReason.MouseFocusReason)  # keys keep going to the roll
        if event.button() != Qt.MouseButton.LeftButton or event.position().x() < self._left():
            return
        self._cancel()
        self._paint_at(event.position())
        event.accept()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._last_x is None:
            return
        self._paint_at(event.position())
        event.accept()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if event.button() != Qt.MouseButton.LeftButton or self._last_x is None:
            return
        self._paint_at(event.position())
        track = self.view.current_track()
        present = set(track.notes) if track is not None else set()
        pending = {n: v for n, v in self._pending.items() if n in present}  # the document may have moved on
        self._cancel()
        self.view.push_edit(editing.velocity_edit(self.view.active_track, pending))
        event.accept()

    # -- painting -----------------------------------------------------------------------------

    def paintEvent(self, event: QPaintEvent) -> None:
        theme = self.view.theme
        painter = QPainter(self)
        try:
            full = QRectF(self.rect())
            painter.fillRect(full, theme.lane_background)
            left, right = self._left(), self._right()
            # The scale strip under the keyboard.
            painter.fillRect(QRectF(0, 0, left, full.height()), theme.ruler_background)
            painter.setPen(theme.ruler_border)
            painter.drawLine(QPointF(0, 0.5), QPointF(full.width(), 0.5))
            painter.drawLine(QPointF(left - 0.5, 0), QPointF(left - 0.5, full.height()))
            painter.setFont(self._font)
            for value in (127, 64):
                y = round(self.y_at_velocity(value)) + 0.5
                painter.setPen(QPen(theme.lane_guide, 1, Qt.PenStyle.DashLine))
                painter.drawLine(QPointF(left, y), QPointF(right, y))
                painter.setPen(theme.lane_text)
                painter.drawText(QRectF(0, y - 7, left - 5, 14),
                                 Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, str(value))
            painter.drawText(QRectF(3, full.height() - 16, left, 14),
                             Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, "Vel")
            painter.setClipRect(QRectF(left, 1, right - left, full.height() - 1))
            self._paint_bars(painter)
            if self._drag_value is not None:
                pos, value = self._drag_value
                painter.setPen(theme.legend_text)
                painter.drawText(QRectF(pos.x() + 8, max(pos.y() - 16, 2), 40, 14),
                                 Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, str(value))
        finally:
            painter.end()

    def _paint_bars(self, painter: QPainter) -> None:
        view = self.view
        theme = view.theme
        base = track_color(view.active_track)
        selected = set(view.selected_notes())
        bottom = self.height() - BOTTOM_PAD_PX
        ppt = view.px_per_tick
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        # Selected bars last, so they stand on top of a chord's other bars.
        notes = sorted(self.visible_notes(), key=lambda n: n in selected)
        for note in notes:
            velocity = self._pending.get(note, note.velocity)
            chosen = note in selected
            color = QColor(theme.selection_outline) if chosen else note_fill_color(base, velocity)
            x = self.x_of(note)
            y = self.y_at_velocity(velocity)
            tail = note.duration_ticks * ppt
            if tail >= 6:  # the note's length as a faint line at its velocity
                faint = QColor(color)
                faint.setAlpha(70)
                painter.setPen(QPen(faint, 1))
                painter.drawLine(QPointF(x, y), QPointF(x + tail - 1, y))
            painter.setPen(QPen(color, 2 if chosen else 1.5))
            painter.drawLine(QPointF(x, bottom), QPointF(x, y))
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(color)
            painter.drawEllipse(QPointF(x, y), HEAD_RADIUS_PX, HEAD_RADIUS_PX)
        painter.setBrush(Qt.BrushStyle.NoBrush)

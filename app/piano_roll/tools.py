"""Mouse gestures of the piano roll: one object per press-drag-release, one undo step at most.

A gesture never touches the document while the mouse moves: it keeps a preview (notes to draw
as ghosts, notes to draw in their new place) that the view paints, and pushes a single edit on
release. Escape, a change of track or a change to the document from elsewhere cancels it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QPainter, QPen

from app.piano_roll.editing import (
    add_edit,
    clamp_shift,
    delete_edit,
    resize_edit,
    shift_edit,
    snap_floor,
    snap_round,
)
from engine.document import AddTrack, EditGroup, NoteEdit
from engine.music.sketch import Note, Track

if TYPE_CHECKING:
    from app.piano_roll.view import PianoRollView

DRAG_THRESHOLD_PX = 4.0  # a press that moves less than this is a click
ALT = Qt.KeyboardModifier.AltModifier
SHIFT = Qt.KeyboardModifier.ShiftModifier
CTRL = Qt.KeyboardModifier.ControlModifier


class Gesture:
    """Base: what the painter needs to know while a gesture lasts."""

    hidden: frozenset[Note] = frozenset()  # active-track notes drawn as ghosts (being moved, erased)
    preview: tuple[Note, ...] = ()  # notes drawn in their would-be place, as selected
    pressed_pitch: int | None = None  # a key of the keyboard drawn pressed

    def __init__(self, view: "PianoRollView", pos: QPointF, modifiers: Qt.KeyboardModifier) -> None:
        self.view = view
        self.press_pos = QPointF(pos)
        self.dragged = False

    def _track_drag(self, pos: QPointF) -> None:
        if not self.dragged and (pos - self.press_pos).manhattanLength() >= DRAG_THRESHOLD_PX:
            self.dragged = True

    def move(self, pos: QPointF, modifiers: Qt.KeyboardModifier) -> None:
        self._track_drag(pos)

    def release(self, pos: QPointF, modifiers: Qt.KeyboardModifier) -> None:
        """Finish: push the gesture's edit (if any)."""

    def cancel(self) -> None:
        """Undo whatever the gesture showed while it lasted (the document was never touched)."""

    def paint_overlay(self, painter: QPainter) -> None:
        """Draw over the notes (a rubber band, a value)."""


class DrawGesture(Gesture):
    """Press adds a note of the grid's length at the snapped cell; dragging right sets its length."""

    def __init__(self, view, pos, modifiers) -> None:
        super().__init__(view, pos, modifiers)
        self.pitch = min(max(view.pitch_at(pos.y()), 0), 127)
        unit = view.snap_unit(modifiers)
        tick = max(view.tick_at(pos.x()), 0.0)
        self.start_tick = snap_floor(tick, unit)
        self.velocity = view.default_velocity
        self.default_length = view.note_length_ticks()
        self._update(pos, modifiers)
        view.request_preview(self.pitch, self.velocity)

    def _update(self, pos: QPointF, modifiers: Qt.KeyboardModifier) -> None:
        end = self.start_tick + self.default_length
        if self.dragged:
            unit = self.view.snap_unit(modifiers)
            end = max(snap_round(self.view.tick_at(pos.x()), unit), self.start_tick + unit)
        self.preview = (Note(self.pitch, self.velocity, self.start_tick, end),)

    def move(self, pos, modifiers) -> None:
        super().move(pos, modifiers)
        self._update(pos, modifiers)

    def release(self, pos, modifiers) -> None:
        self.move(pos, modifiers)
        view = self.view
        edit = add_edit(view.active_track, self.preview, "Draw Note")
        if not view.document.sketch.tracks:
            # A sketch with no tracks gets one to draw into, in the same undo step.
            edit = EditGroup((AddTrack(0, Track("Melody")), edit), "Draw Note")
        view.push_edit(edit)


class MoveGesture(Gesture):
    """Drag a selected note's body: every selected note moves, in time by the grid (the grabbed
    note lands on a grid line) and in pitch by rows. Ctrl copies instead of moving."""

    def __init__(self, view, pos, modifiers, anchor: Note, notes: list[Note]) -> None:
        super().__init__(view, pos, modifiers)
        self.anchor = anchor
        self.notes = list(notes)
        self.press_tick = view.tick_at(pos.x())
        self.press_pitch = view.pitch_at(pos.y())
        self.delta = (0, 0)
        self.copy = bool(modifiers & CTRL)
        view.request_preview(anchor.pitch, anchor.velocity)

    def _delta(self, pos: QPointF, modifiers) -> tuple[int, int]:
        raw_ticks = self.view.tick_at(pos.x()) - self.press_tick
        unit = self.view.snap_unit(modifiers)
        ticks = snap_round(self.anchor.start_tick + raw_ticks, unit) - self.anchor.start_tick
        semitones = self.view.pitch_at(pos.y()) - self.press_pitch
        return clamp_shift(self.notes, ticks, semitones)

    def move(self, pos, modifiers) -> None:
        super().move(pos, modifiers)
        if not self.dragged:
            return
        delta = self._delta(pos, modifiers)
        if delta[1] != self.delta[1]:
            self.view.request_preview(self.anchor.pitch + delta[1], self.anchor.velocity)
        self.delta = delta
        moved = delta != (0, 0)
        self.hidden = frozenset(self.notes) if moved and not self.copy else frozenset()
        self.preview = tuple(n.shifted(*delta) for n in self.notes) if moved else ()

    def release(self, pos, modifiers) -> None:
        self.move(pos, modifiers)
        if not self.dragged:
            return
        self.copy = self.copy or bool(modifiers & CTRL)
        label = "Copy Notes" if self.copy else "Move Notes"
        self.view.push_edit(shift_edit(self.view.active_track, self.notes, *self.delta, label=label,
                                       copy=self.copy))


class ResizeGesture(Gesture):
    """Drag a note's right edge: every selected note's end moves by the same amount, the
    grabbed note's end landing on the grid."""

    def __init__(self, view, pos, modifiers, anchor: Note, notes: list[Note]) -> None:
        super().__init__(view, pos, modifiers)
        self.anchor = anchor
        self.notes = list(notes)
        self.press_tick = view.tick_at(pos.x())
        self.edit: NoteEdit | None = None

    def move(self, pos, modifiers) -> None:
        super().move(pos, modifiers)
        if not self.dragged:
            return
        unit = self.view.snap_unit(modifiers)
        raw = self.view.tick_at(pos.x()) - self.press_tick
        end = max(snap_round(self.anchor.end_tick + raw, unit), self.anchor.start_tick + unit)
        self.edit = resize_edit(self.view.active_track, self.notes, end - self.anchor.end_tick, unit)
        self.hidden = frozenset(self.edit.removed) if self.edit else frozenset()
        self.preview = self.edit.added if self.edit else ()

    def release(self, pos, modifiers) -> None:
        self.move(pos, modifiers)
        if self.dragged:
            self.view.push_edit(self.edit)


class MarqueeGesture(Gesture):
    """Drag on empty space: select the active track's notes that the rubber band touches
    (added to the selection with Shift)."""

    def __init__(self, view, pos, modifiers) -> None:
        super().__init__(view, pos, modifiers)
        self.before = set(view.selected_notes())
        self.base = set(self.before) if modifiers & SHIFT else set()
        self.rect = QRectF(pos, pos)

    def cancel(self) -> None:
        self.view.set_selection(self.before)

    def move(self, pos, modifiers) -> None:
        super().move(pos, modifiers)
        if not self.dragged:
            return
        self.rect = QRectF(self.press_pos, pos).normalized()
        hits = {note for note, rect in self.view.active_note_rects() if rect.intersects(self.rect)}
        self.view.set_selection(self.base | hits)

    def release(self, pos, modifiers) -> None:
        self.move(pos, modifiers)
        if not self.dragged:
            self.view.set_selection(self.base)

    def paint_overlay(self, painter: QPainter) -> None:
        if not self.dragged:
            return
        theme = self.view.theme
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        painter.setPen(QPen(theme.rubber_band_edge, 1))
        painter.setBrush(theme.rubber_band_fill)
        painter.drawRect(self.rect.adjusted(0.5, 0.5, -0.5, -0.5))
        painter.setBrush(Qt.BrushStyle.NoBrush)


class EraseGesture(Gesture):
    """Click or sweep over notes of the active track: all of them go in one undo step."""

    def __init__(self, view, pos, modifiers) -> None:
        super().__init__(view, pos, modifiers)
        self.erased: list[Note] = []
        self.last_pos = QPointF(pos)
        self._hit(pos)

    def _hit(self, pos: QPointF) -> None:
        hit = self.view.hit_test(pos)
        if hit is not None and hit[0] not in self.hidden:
            self.erased.append(hit[0])
            self.hidden = frozenset(self.erased)

    def move(self, pos, modifiers) -> None:
        super().move(pos, modifiers)
        # Sample the path every few pixels so that a fast sweep misses no short note.
        steps = max(int((pos - self.last_pos).manhattanLength() // 3), 1)
        for i in range(1, steps + 1):
            self._hit(self.last_pos + (pos - self.last_pos) * (i / steps))
        self.last_pos = QPointF(pos)

    def release(self, pos, modifiers) -> None:
        self.move(pos, modifiers)
        self.view.push_edit(delete_edit(self.view.active_track, self.erased, "Erase Notes"))


class KeyboardGesture(Gesture):
    """Press a key of the keyboard strip to hear it; slide for a glissando."""

    def __init__(self, view, pos, modifiers) -> None:
        super().__init__(view, pos, modifiers)
        self.pressed_pitch = None
        self.move(pos, modifiers)

    def move(self, pos, modifiers) -> None:
        super().move(pos, modifiers)
        pitch = self.view.pitch_at(pos.y())
        if 0 <= pitch <= 127 and pitch != self.pressed_pitch:
            self.pressed_pitch = pitch
            self.view.request_preview(pitch, self.view.default_velocity)


class RulerGesture(Gesture):
    """Click the ruler to ask for the playhead there; drag along it to ask for a loop region."""

    def __init__(self, view, pos, modifiers) -> None:
        super().__init__(view, pos, modifiers)
        self.start_tick = self._tick(pos, modifiers)
        self.end_tick = self.start_tick

    def _tick(self, pos: QPointF, modifiers) -> int:
        return max(snap_round(self.view.tick_at(pos.x()), self.view.snap_unit(modifiers)), 0)

    def move(self, pos, modifiers) -> None:
        super().move(pos, modifiers)
        if self.dragged:
            self.end_tick = self._tick(pos, modifiers)

    def span(self) -> tuple[int, int] | None:
        lo, hi = sorted((self.start_tick, self.end_tick))
        return (lo, hi) if self.dragged and hi > lo else None

    def release(self, pos, modifiers) -> None:
        self.move(pos, modifiers)
        span = self.span()
        if span is not None:
            self.view.loop_region_requested.emit(*span)
        elif not self.dragged:
            self.view.seek_requested.emit(self.start_tick)

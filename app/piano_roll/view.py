"""The piano roll editor view: draws the document's notes over a keyboard, a bar ruler and a
beat grid, and edits the active track with the mouse and keys.

The document owns the notes. The view keeps only sorted arrays derived from them (to find the
visible notes quickly), the selection (notes of the active track, as values) and the gesture in
progress; every change is one `app.commands.push` of an engine edit, and the view redraws when
the document tells it something changed. Painting lives in painting.py (a mixin), gestures in
tools.py, the edits they make in editing.py, coordinates in geometry.py: where a note lands is
decided by `RollGeometry.note_rect` alone, which the painter, `note_rects()` and `hit_test()`
share through one snapshot, `roll_geometry()`.
"""

from __future__ import annotations

import math
import weakref
from dataclasses import dataclass
from typing import Callable, Iterator, Sequence

import numpy as np
import shiboken6
from PySide6.QtCore import QKeyCombination, QPoint, QPointF, QRect, QRectF, Qt, Signal
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QContextMenuEvent,
    QFont,
    QFontMetrics,
    QKeyEvent,
    QKeySequence,
    QMouseEvent,
    QResizeEvent,
    QUndoStack,
    QWheelEvent,
)
from PySide6.QtWidgets import QAbstractScrollArea, QInputDialog, QMenu, QWidget

from app import commands
from app.piano_roll import clipboard, editing, tools
from app.piano_roll.actions import PianoRollActions
from app.piano_roll.editing import GRID_NAMES, GRID_OFF, STRAIGHT_GRIDS, NoteClip
from engine.music.meter import bar_at, bar_end_at_or_after
from app.piano_roll.layout import (
    DEFAULT_PX_PER_SEMITONE,
    DEFAULT_PX_PER_TICK,
    EMPTY_VIEW_BARS,
    EMPTY_VIEW_PITCHES,
    FIT_MIN_PITCH_ROWS,
    FIT_PITCH_PADDING,
    FOLLOW_MARGIN,
    KEYBOARD_WIDTH_PX,
    MAX_PX_PER_SEMITONE,
    MAX_PX_PER_TICK,
    MIN_NOTE_WIDTH_PX,
    MIN_PX_PER_SEMITONE,
    MIN_PX_PER_TICK,
    PITCH_COUNT,
    RIGHT_EDGE_PX,
    RULER_HEIGHT_PX,
    ZOOM_STEP,
)
from app.piano_roll.geometry import Legend, RollGeometry, legend_layout
from app.piano_roll.painting import RollPainting
from app.piano_roll.style import Theme, note_fill_color, track_color
from engine.document import RESET, AddTrack, Document, Edit, EditGroup, NoteEdit
from engine.music.sketch import Note, Sketch, TimeSignature, Track

__all__ = ["PianoRollView", "Theme", "track_color", "note_fill_color", "KEYBOARD_WIDTH_PX",
           "RULER_HEIGHT_PX", "ZOOM_STEP", "TOOLS"]

DEFAULT_GRID = "1/16"
DEFAULT_VELOCITY = 100
TOOLS = ("draw", "select", "erase")
_TOOL_CURSORS = {"draw": Qt.CursorShape.CrossCursor, "select": Qt.CursorShape.ArrowCursor,
                 "erase": Qt.CursorShape.PointingHandCursor}

Hit = tuple[Note, str]  # (note, "body" | "right_edge")


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

    def window(self, t0: float, t1: float) -> tuple[int, int]:
        """Index range of the notes that may overlap ticks [t0, t1]."""
        lo = int(np.searchsorted(self.starts, t0 - self.max_duration_ticks, side="left"))
        hi = int(np.searchsorted(self.starts, t1, side="right"))
        return lo, hi


def _document_listener(view: "PianoRollView") -> Callable[[object], None]:
    # The document must not keep a closed view alive, nor call into a deleted one.
    ref = weakref.ref(view)

    def listener(change: object) -> None:
        v = ref()
        if v is not None and shiboken6.isValid(v):
            v._on_document_changed(change)

    return listener


class PianoRollView(RollPainting, QAbstractScrollArea):
    """Draws every track of the document and edits the active one.

    Coordinates: x grows with time (`px_per_tick`), y grows downward as pitch falls
    (`px_per_semitone` per row, pitch 127 on top). The keyboard strip takes the left
    KEYBOARD_WIDTH_PX pixels of the viewport and the bar ruler the top RULER_HEIGHT_PX;
    notes are drawn in the rest, the note area. Scrollbar values are pixel offsets into
    the content.

    Tools: "draw" (click adds a note one grid step long, drag sets its length; a note's body
    moves it, its right edge resizes it, the right button erases), "select" (click, Shift-click,
    rubber band; drag to move, right edge to resize, Ctrl-drag to copy), "erase" (click or
    sweep). Holding Alt while dragging bypasses the grid.
    """

    active_track_changed = Signal(int)
    tool_changed = Signal(str)
    grid_changed = Signal(str)
    selection_changed = Signal()
    # pitch, velocity, General MIDI program, drum track: the window plays it.
    preview_requested = Signal(int, int, int, bool)
    seek_requested = Signal(int)  # a click on the ruler: tick
    loop_region_requested = Signal(int, int)  # a drag along the ruler: start_tick, end_tick
    view_changed = Signal()  # zoom, scroll, notes, selection: what the velocity lane follows
    melody_dropped = Signal(object, int)  # notes (from bar 0) dragged in from a panel, the bar tick

    def __init__(self, document: Document, undo_stack: QUndoStack,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.theme = Theme()
        self._document = document
        self._undo_stack = undo_stack
        self._tracks: list[_TrackCache] = []
        self._px_per_tick = DEFAULT_PX_PER_TICK
        self._px_per_semitone = DEFAULT_PX_PER_SEMITONE
        # While True, a resize refits the view; any zoom or scroll by the user turns it off.
        self._auto_fit = False
        self._melody_track: int | None = None
        self._active_track = 0
        self._tool = "draw"
        self._grid = DEFAULT_GRID
        self._last_grid = DEFAULT_GRID  # what "snap" turns back on
        self._selection: set[Note] = set()
        self._gesture: tools.Gesture | None = None
        self._press_button = Qt.MouseButton.NoButton
        self._playhead_tick: float | None = None
        self._loop_region: tuple[int, int] | None = None
        self._proposal: tuple[Note, ...] = ()  # a model's notes on offer, drawn as ghosts
        self.proposal_owner: object = None  # the panel that offers them
        self.follow_playhead = False  # page the view along with the playhead
        self.default_velocity = DEFAULT_VELOCITY  # of drawn notes and key previews
        self.show_legend = True  # the track names at the top right (clickable)

        self.setFrameShape(QAbstractScrollArea.Shape.NoFrame)
        # Always-on scrollbars keep the viewport's size stable while fitting (no show/hide loop).
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOn)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOn)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.viewport().setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.viewport().setMouseTracking(True)  # the cursor tells body from edge before a press
        self.viewport().setAcceptDrops(True)  # melodies dragged from the model panels
        self.setMinimumSize(KEYBOARD_WIDTH_PX + 80, RULER_HEIGHT_PX + 60)
        for bar in (self.horizontalScrollBar(), self.verticalScrollBar()):
            bar.actionTriggered.connect(self._user_scrolled)

        self._ruler_font = QFont(self.font())
        self._ruler_font.setPixelSize(11)
        self._legend_font = QFont(self.font())
        self._legend_font.setPixelSize(11)
        self._key_font = QFont(self.font())
        self._key_font.setPixelSize(9)
        self._label_fonts: dict[int, tuple[QFont, dict[int, float]]] = {}

        self.action_table = PianoRollActions(self)
        self.action_table.sync()
        self.viewport().setCursor(_TOOL_CURSORS[self._tool])
        self._listener = _document_listener(self)
        document.subscribe(self._listener)
        # Unsubscribe even when the view is deleted by its parent without being closed.
        self.destroyed.connect(lambda *_args, d=document, f=self._listener: d.unsubscribe(f))
        self._rebuild_cache()
        self._clamp_active_track()
        self.fit_to_content()

    # -- document -----------------------------------------------------------------------------

    @property
    def document(self) -> Document:
        return self._document

    @property
    def undo_stack(self) -> QUndoStack:
        return self._undo_stack

    @property
    def sketch(self) -> Sketch:
        return self._document.sketch

    def detach(self) -> None:
        """Stop listening to the document (closing the view does this)."""
        self._document.unsubscribe(self._listener)

    def closeEvent(self, event: QCloseEvent) -> None:
        self.detach()
        super().closeEvent(event)

    def push_edit(self, edit: Edit | None) -> None:
        """Apply an edit as one undo step (nothing for None)."""
        if edit is not None:
            commands.push(self._undo_stack, self._document, edit)

    def _on_document_changed(self, change: object) -> None:
        self.cancel_gesture()  # the notes under a drag may have changed
        before = set(self._selection)
        if change is RESET:
            # Another sketch: start over on its first track, fitted.
            self._selection = set()
            self._rebuild_cache()
            self._set_active_index(0)
            self.fit_to_content()
        else:
            self._follow_edit(change)
            self._clamp_active_track(emit=True)
            self._rebuild_cache(change)
            track = self._track()
            self._selection &= set(track.notes) if track else set()
            self._update_scrollbars()
        if self._selection != before:
            self._selection_changed()
        else:
            self.action_table.sync()
            self._changed()

    def _follow_edit(self, edit: object) -> None:
        """Keep the active track and the selection on the notes an edit moved."""
        if isinstance(edit, EditGroup):
            for e in edit.edits:
                self._follow_edit(e)
        elif isinstance(edit, AddTrack):
            if edit.remove:
                if edit.index < self._active_track:
                    self._set_active_index(self._active_track - 1)
                elif edit.index == self._active_track:
                    self._selection = set()
            elif edit.index <= self._active_track and len(self.sketch.tracks) > 1:
                self._set_active_index(self._active_track + 1)
        elif isinstance(edit, NoteEdit) and edit.track == self._active_track:
            removed = set(edit.removed)
            if not removed:
                self._selection = set(edit.added)  # drawn, pasted, restored notes
            elif removed & self._selection:
                self._selection = (self._selection - removed) | set(edit.added)

    def _rebuild_cache(self, change: object = None) -> None:
        tracks = self.sketch.tracks
        if (isinstance(change, NoteEdit) and len(self._tracks) == len(tracks)
                and 0 <= change.track < len(tracks)):
            self._tracks[change.track] = _TrackCache.of(tracks[change.track])
        else:
            self._tracks = [_TrackCache.of(t) for t in tracks]

    def _time_signatures(self) -> Sequence[TimeSignature]:
        return self.sketch.time_signatures or (TimeSignature(0, 4, 4),)

    def _changed(self) -> None:
        self.viewport().update()
        self.view_changed.emit()

    def refresh(self) -> None:
        """Re-read every track, keeping zoom and scroll (the document's listeners do this)."""
        self._rebuild_cache()
        self._update_scrollbars()
        self._changed()

    # -- tracks -------------------------------------------------------------------------------

    @property
    def active_track(self) -> int:
        """The index of the track that is edited; the others are drawn faintly."""
        return self._active_track

    def set_active_track(self, index: int) -> None:
        count = len(self.sketch.tracks)
        index = min(max(int(index), 0), max(count - 1, 0))
        if index == self._active_track:
            return
        self.cancel_gesture()
        self._set_active_index(index)
        self._selection = set()
        self._selection_changed()

    def _set_active_index(self, index: int) -> None:
        if index != self._active_track:
            self._active_track = index
            self.active_track_changed.emit(index)
            self._changed()

    def _clamp_active_track(self, emit: bool = False) -> None:
        count = len(self.sketch.tracks)
        index = min(self._active_track, max(count - 1, 0))
        if emit:
            self._set_active_index(index)
        else:
            self._active_track = index

    def _track(self) -> Track | None:
        tracks = self.sketch.tracks
        return tracks[self._active_track] if 0 <= self._active_track < len(tracks) else None

    def current_track(self) -> Track | None:
        """The active Track of the document (None in a sketch without tracks)."""
        return self._track()

    def active_notes_starting_between(self, t0: float, t1: float) -> list[Note]:
        """The active track's notes with t0 <= start_tick <= t1, in time order."""
        if not 0 <= self._active_track < len(self._tracks):
            return []
        cache = self._tracks[self._active_track]
        lo = int(np.searchsorted(cache.starts, t0, side="left"))
        hi = int(np.searchsorted(cache.starts, t1, side="right"))
        return cache.notes[lo:hi]

    @property
    def melody_track(self) -> int | None:
        return self._melody_track

    def set_melody_track(self, index: int | None) -> None:
        """Name a track as the melody in the legend (a hint; editing is unaffected)."""
        self._melody_track = index
        self.viewport().update()

    def paint_order(self) -> list[int]:
        """Track indices in the order they are painted: by index, the active track last (on top)."""
        order = [i for i in range(len(self._tracks)) if i != self._active_track]
        if 0 <= self._active_track < len(self._tracks):
            order.append(self._active_track)
        return order

    # -- tools and grid -----------------------------------------------------------------------

    @property
    def tool(self) -> str:
        return self._tool

    def set_tool(self, tool: str) -> None:
        """"draw", "select" or "erase"."""
        if tool not in TOOLS:
            raise ValueError(f"unknown tool {tool!r}; choose one of {', '.join(TOOLS)}")
        if tool == self._tool:
            self.action_table.sync()
            return
        self.cancel_gesture()
        self._tool = tool
        self.viewport().setCursor(_TOOL_CURSORS[tool])
        self.action_table.sync()
        self.tool_changed.emit(tool)

    @property
    def grid(self) -> str:
        """The snapping grid: a name of engine.music.quantize.GRIDS ("1/16", "1/8t") or "off"."""
        return self._grid

    def set_grid(self, grid: str) -> None:
        if grid not in GRID_NAMES:
            raise ValueError(f"unknown grid {grid!r}; choose one of {', '.join(GRID_NAMES)}")
        if grid != GRID_OFF:
            self._last_grid = grid
        if grid == self._grid:
            return
        self._grid = grid
        self.action_table.sync()
        self.grid_changed.emit(grid)
        self.viewport().update()

    def snap_unit(self, modifiers: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier) -> int:
        """Ticks that positions snap to: the grid, or 1 with snapping off or Alt held."""
        if modifiers & Qt.KeyboardModifier.AltModifier:
            return 1
        return editing.snap_ticks(self._grid)

    def note_length_ticks(self) -> int:
        """The length of a drawn note and of a nudge: one grid step (a 16th with snapping off)."""
        return editing.grid_step_ticks(self._grid)

    def grid_finer(self) -> None:
        self._step_grid(+1)

    def grid_coarser(self) -> None:
        self._step_grid(-1)

    def _step_grid(self, direction: int) -> None:
        base = self._last_grid
        triplet = base.endswith("t")
        straight = base.rstrip("t")
        i = min(max(STRAIGHT_GRIDS.index(straight) + direction, 0), len(STRAIGHT_GRIDS) - 1)
        self.set_grid(STRAIGHT_GRIDS[i] + ("t" if triplet else ""))

    def toggle_triplets(self) -> None:
        base = self._last_grid
        self.set_grid(base[:-1] if base.endswith("t") else base + "t")

    def toggle_snap(self) -> None:
        self.set_grid(self._last_grid if self._grid == GRID_OFF else GRID_OFF)

    # -- selection ----------------------------------------------------------------------------

    def selected_notes(self) -> list[Note]:
        """The selected notes of the active track, in time order."""
        return sorted(self._selection)

    def set_selection(self, notes) -> None:
        """Select these notes of the active track (others are ignored)."""
        track = self._track()
        notes = set(notes) & set(track.notes) if track else set()
        if notes != self._selection:
            self._selection = notes
            self._selection_changed()

    def select_all(self) -> None:
        track = self._track()
        self.set_selection(track.notes if track else ())

    def clear_selection(self) -> None:
        self.set_selection(())

    def select_none(self) -> None:
        """Escape: drop a gesture in progress, else the selection."""
        if self._gesture is not None:
            self.cancel_gesture()
        else:
            self.clear_selection()

    def selection_range_ticks(self) -> tuple[int, int] | None:
        """(start_tick, end_tick) spanning the selection, or None: what "loop the selection" loops."""
        return editing.selection_range(self._selection)

    def _selection_changed(self) -> None:
        self.action_table.sync()
        self.selection_changed.emit()
        self._changed()

    def _selection_or_track(self) -> list[Note]:
        if self._selection:
            return self.selected_notes()
        track = self._track()
        return sorted(track.notes) if track else []

    # -- edit commands ------------------------------------------------------------------------

    def action(self, name: str) -> QAction:
        """One of the view's actions by its shortcut name: "edit.copy", "tool.draw", "grid.snap"..."""
        return self.action_table.by_name[name]

    def edit_actions(self) -> list[QAction]:
        """The editing commands as menu actions, with separators between groups: cut, copy,
        paste, duplicate, delete | select all, select none | transpose, octave, nudge, quantize,
        velocity | draw, select, erase tools. Their keys work while the piano roll has focus."""
        return self.action_table.edit_actions()

    def tool_actions(self) -> list[QAction]:
        """The three tools as checkable, mutually exclusive actions."""
        return self.action_table.tool_actions()

    def grid_actions(self) -> list[QAction]:
        """Finer, coarser, triplets, snap on/off."""
        return self.action_table.grid_actions()

    def copy(self) -> None:
        clip = NoteClip.of(self._selection)
        if clip is not None:
            clipboard.put(clip)

    def cut(self) -> None:
        if self._selection:
            self.copy()
            self.push_edit(editing.delete_edit(self._active_track, self.selected_notes(), "Cut"))

    def paste_tick(self) -> int:
        """Where paste puts the first note: the playhead, else right after the selection, else the
        start of the view; on the grid."""
        unit = self.snap_unit()
        if self._playhead_tick is not None:
            return editing.snap_floor(max(self._playhead_tick, 0.0), unit)
        span = self.selection_range_ticks()
        if span is not None:
            return editing.snap_ceil(span[1], unit)
        return editing.snap_ceil(max(self.visible_ticks()[0], 0.0), unit)

    def paste(self) -> None:
        clip = clipboard.get()
        if clip is None:
            return
        edit = editing.add_edit(self._active_track, clip.placed_at(self.paste_tick()), "Paste")
        if not self.sketch.tracks:
            edit = EditGroup((AddTrack(0, Track("Melody")), edit), "Paste")
        self.push_edit(edit)

    def duplicate(self) -> None:
        self.push_edit(editing.duplicate_edit(self._active_track, self.selected_notes(),
                                              self.snap_unit()))

    def delete_selection(self) -> None:
        self.push_edit(editing.delete_edit(self._active_track, self.selected_notes()))

    def transpose(self, semitones: int) -> None:
        self.push_edit(editing.transpose_edit(self._active_track, self.selected_notes(), semitones))

    def transpose_up(self) -> None:
        self.transpose(1)

    def transpose_down(self) -> None:
        self.transpose(-1)

    def octave_up(self) -> None:
        self.transpose(12)

    def octave_down(self) -> None:
        self.transpose(-12)

    def nudge(self, steps: int) -> None:
        """Move the selection by whole grid steps (16ths with snapping off)."""
        self.push_edit(editing.nudge_edit(self._active_track, self.selected_notes(),
                                          steps * self.note_length_ticks()))

    def nudge_left(self) -> None:
        self.nudge(-1)

    def nudge_right(self) -> None:
        self.nudge(1)

    def quantize(self) -> None:
        """Snap the selection (or the whole active track when nothing is selected) to the grid."""
        self.push_edit(editing.quantize_edit(self._active_track, self._selection_or_track(),
                                             self._grid))

    def ask_velocity(self) -> int | None:
        """Ask for a velocity 1..127 for the selection, starting from its mean; None when
        cancelled. Tests replace this."""
        notes = self.selected_notes()
        initial = round(sum(n.velocity for n in notes) / len(notes)) if notes else self.default_velocity
        count = len(notes)
        value, ok = QInputDialog.getInt(
            self, "Set Velocity", f"Velocity for {count} note{'s' if count != 1 else ''} (1\u2013127):",
            initial, 1, 127, 1)
        return value if ok else None

    def set_velocity(self, velocity: int | None = None) -> None:
        """Give every selected note one velocity (asked for with `ask_velocity()` when not given)."""
        notes = self.selected_notes()
        if not notes:
            return
        if velocity is None:
            velocity = self.ask_velocity()
            if velocity is None:
                return
        self.push_edit(editing.velocity_edit(self._active_track, {n: velocity for n in notes}))

    # -- proposals: a model's notes before they are applied --------------------------------------

    @property
    def proposal(self) -> tuple[Note, ...]:
        return self._proposal

    def set_proposal(self, notes, owner: object = None) -> None:
        """Draw ``notes`` as ghosts over the roll (not part of the document; () clears them).
        ``owner`` (the panel that offers them) is kept, so that they go when it is hidden."""
        self._proposal = tuple(notes)
        self.proposal_owner = owner if self._proposal else None
        self.viewport().update()

    def clear_proposal(self) -> None:
        self.set_proposal(())

    def bar_at(self, x: float) -> int:
        """The tick of the bar line at or before viewport x."""
        return bar_at(self._time_signatures(), int(self.tick_at(x))).start_tick

    def dragEnterEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        if event.mimeData().hasFormat(clipboard.MIME_TYPE):
            event.acceptProposedAction()
        else:
            event.ignore()  # files go on to the window

    def dragMoveEvent(self, event) -> None:  # noqa: N802
        if event.mimeData().hasFormat(clipboard.MIME_TYPE):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event) -> None:  # noqa: N802
        notes = clipboard.melody_from_mime(event.mimeData())
        if notes is None:
            event.ignore()
            return
        event.acceptProposedAction()
        self.melody_dropped.emit(notes, self.bar_at(event.position().x()))

    # -- preview, playhead, loop ------------------------------------------------------------------

    def request_preview(self, pitch: int, velocity: int) -> None:
        """Ask the window to sound a pitch with the active track's instrument."""
        track = self._track()
        program, is_drum = (track.program, track.is_drum) if track else (0, False)
        self.preview_requested.emit(int(pitch), int(velocity), int(program), bool(is_drum))

    @property
    def playhead_tick(self) -> float | None:
        return self._playhead_tick

    def set_playhead_tick(self, tick: float | None) -> None:
        """Draw the playhead at a tick (None hides it); with `follow_playhead`, page to keep it in view."""
        old = self._playhead_tick
        self._playhead_tick = None if tick is None else float(tick)
        if self._playhead_tick is not None and self.follow_playhead and self._gesture is None:
            t0, t1 = self.visible_ticks()
            if not (t0 <= self._playhead_tick <= t1 - (t1 - t0) * 0.02):
                width = self.note_area().width()
                self.horizontalScrollBar().setValue(
                    round(self._playhead_tick * self._px_per_tick - width * FOLLOW_MARGIN))
        # Repaint only the strips the line leaves and enters.
        for t in (old, self._playhead_tick):
            if t is not None:
                x = round(self.x_at_tick(t))
                self.viewport().update(QRect(x - 6, 0, 13, self.viewport().height()))

    @property
    def loop_region(self) -> tuple[int, int] | None:
        return self._loop_region

    def set_loop_region(self, start_tick: int | None, end_tick: int | None = None) -> None:
        """Shade [start_tick, end_tick) in the ruler; `set_loop_region(None)` removes it."""
        if start_tick is None or end_tick is None or end_tick <= start_tick:
            self._loop_region = None
        else:
            self._loop_region = (int(start_tick), int(end_tick))
        self.viewport().update()

    # -- coordinates --------------------------------------------------------------------------

    @property
    def px_per_tick(self) -> float:
        return self._px_per_tick

    @property
    def px_per_semitone(self) -> float:
        return self._px_per_semitone

    def roll_geometry(self) -> RollGeometry:
        """A snapshot of where things are now (zoom, scroll, size), shared by painting and hits."""
        size = self.viewport().size()
        return RollGeometry(self._px_per_tick, self._px_per_semitone, self.horizontalScrollBar().value(),
                            self.verticalScrollBar().value(), size.width(), size.height())

    def note_area(self) -> QRectF:
        """The part of the viewport where notes are drawn (right of the keyboard, below the ruler)."""
        return self.roll_geometry().note_area()

    def x_at_tick(self, tick: float) -> float:
        """Viewport x of a tick."""
        return self.roll_geometry().x_at_tick(tick)

    def tick_at(self, x: float) -> float:
        """The tick under a viewport x (fractional)."""
        return self.roll_geometry().tick_at(x)

    def y_at_pitch(self, pitch: float) -> float:
        """Viewport y of the top of a pitch's row."""
        return self.roll_geometry().y_at_pitch(pitch)

    def pitch_at(self, y: float) -> int:
        """The pitch whose row holds a viewport y (may fall outside 0..127 off the keyboard)."""
        return self.roll_geometry().pitch_at(y)

    def visible_ticks(self) -> tuple[float, float]:
        return self.roll_geometry().visible_ticks()

    def visible_pitches(self) -> tuple[int, int]:
        """Lowest and highest pitch with a row at least partly in view, clamped to 0..127."""
        return self.roll_geometry().visible_pitches()

    def legend(self) -> Legend | None:
        """The track legend as it is drawn (and clicked), or None when none is shown."""
        if not self.show_legend:
            return None
        names = []
        for i, track in enumerate(self.sketch.tracks):
            name = track.name.strip() or f"Track {i + 1}"
            if track.is_drum:
                name += " (drums)"
            if i == self._melody_track and "melody" not in name.lower():
                name += " \u2014 melody"
            names.append(name)
        return legend_layout(self.note_area(), names, QFontMetrics(self._legend_font))

    # -- geometry of notes: where a note is drawn is RollGeometry.note_rect alone --------------

    def _note_geometry(self, x_range: tuple[float, float] | None = None,
                       tracks: Sequence[int] | None = None) -> Iterator[tuple[int, Note, QRectF]]:
        geometry = self.roll_geometry()
        area = geometry.note_area()
        if area.isEmpty() or not self._tracks:
            return
        left, right = x_range if x_range is not None else (area.left(), area.right())
        t0, t1 = geometry.tick_at(max(left, area.left())), geometry.tick_at(min(right, area.right()))
        p_low, p_high = geometry.visible_pitches()
        rect = geometry.note_rect
        for track_index in (self.paint_order() if tracks is None else tracks):
            cache = self._tracks[track_index]
            if not cache.notes:
                continue
            lo, hi = cache.window(t0, t1)
            if hi <= lo:
                continue
            pitches = cache.pitches[lo:hi]
            keep = (cache.ends[lo:hi] >= t0) & (pitches >= p_low) & (pitches <= p_high)
            for i in np.flatnonzero(keep) + lo:
                note = cache.notes[i]
                yield track_index, note, rect(note)

    def note_rects(self) -> list[tuple[int, Note, QRectF]]:
        """(track index, note, viewport rectangle) of every note at least partly in view.

        Ordered by track as in `paint_order()`, then by note order (onset, pitch) within a
        track: the order of painting.
        """
        return list(self._note_geometry())

    def active_note_rects(self) -> list[tuple[Note, QRectF]]:
        """(note, viewport rectangle) of the active track's notes in view."""
        if not 0 <= self._active_track < len(self._tracks):
            return []
        return [(n, r) for _, n, r in self._note_geometry(tracks=[self._active_track])]

    def hit_test(self, pos: QPointF | QPoint) -> Hit | None:
        """The active track's note under a viewport position and the part hit: "right_edge" (the
        grip that resizes) or "body". Other tracks are never hit. The topmost note wins."""
        pos = QPointF(pos)
        geometry = self.roll_geometry()
        if not geometry.note_area().contains(pos) or not 0 <= self._active_track < len(self._tracks):
            return None
        cache = self._tracks[self._active_track]
        if not cache.notes:
            return None
        tick = geometry.tick_at(pos.x())
        pitch = geometry.pitch_at(pos.y())
        slack = MIN_NOTE_WIDTH_PX / self._px_per_tick
        lo, hi = cache.window(tick - slack, tick + 1)
        rect = geometry.note_rect
        for i in reversed(np.flatnonzero(cache.pitches[lo:hi] == pitch) + lo):
            note = cache.notes[i]
            r = rect(note)
            if r.left() <= pos.x() <= r.right() and r.top() <= pos.y() <= r.bottom():
                edge = min(RIGHT_EDGE_PX, r.width() / 3)
                return note, ("right_edge" if pos.x() >= r.right() - edge else "body")
        return None

    # -- zoom and scroll ----------------------------------------------------------------------

    def zoom_in(self) -> None:
        """Zoom in horizontally by one step, about the centre of the note area."""
        self.zoom_horizontal(ZOOM_STEP)

    def zoom_out(self) -> None:
        """Zoom out horizontally by one step, about the centre of the note area."""
        self.zoom_horizontal(1.0 / ZOOM_STEP)

    def zoom_horizontal(self, factor: float, anchor_x: float | None = None) -> None:
        """Multiply px_per_tick by factor, keeping the tick under viewport x `anchor_x` in place."""
        geometry = self.roll_geometry()
        if anchor_x is None:
            anchor_x = geometry.note_area().center().x()
        self._px_per_tick, scroll = geometry.zoomed_horizontal(self._px_per_tick * factor, anchor_x)
        self._update_scrollbars()
        self.horizontalScrollBar().setValue(scroll)
        self._auto_fit = False
        self._changed()

    def zoom_vertical(self, factor: float, anchor_y: float | None = None) -> None:
        """Multiply px_per_semitone by factor, keeping the pitch under viewport y `anchor_y` in place."""
        geometry = self.roll_geometry()
        if anchor_y is None:
            anchor_y = geometry.note_area().center().y()
        self._px_per_semitone, scroll = geometry.zoomed_vertical(self._px_per_semitone * factor, anchor_y)
        self._update_scrollbars()
        self.verticalScrollBar().setValue(scroll)
        self._auto_fit = False
        self._changed()

    def fit_to_content(self) -> None:
        """Show the whole length (to the end of the last bar) and the pitch range of the notes."""
        area = self.note_area()
        if area.width() <= 0 or area.height() <= 0:
            self._auto_fit = True  # fit once the view has a size
            return
        ts = self._time_signatures()
        end_tick = self.sketch.end_tick
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
        self._changed()

    def _content_ticks(self) -> int:
        # Scrollable length: to the end of the last bar with notes, plus four bars to write into.
        ts = self._time_signatures()
        last_bar = ts[-1].bar_ticks
        return max(bar_end_at_or_after(ts, self.sketch.end_tick) + 4 * last_bar,
                   EMPTY_VIEW_BARS * ts[0].bar_ticks)

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
        self._changed()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if self._auto_fit:
            self.fit_to_content()
        else:
            self._update_scrollbars()
        self.view_changed.emit()

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

    # -- mouse and keys -----------------------------------------------------------------------

    def cancel_gesture(self) -> None:
        """Drop the gesture in progress; the document is untouched."""
        gesture = self._gesture
        if gesture is not None:
            self._gesture = None
            gesture.cancel()
            self._changed()

    @property
    def gesture(self) -> tools.Gesture | None:
        return self._gesture

    def _start_gesture(self, event: QMouseEvent) -> tools.Gesture | None:
        pos, mods = event.position(), event.modifiers()
        button = event.button()
        if pos.y() < RULER_HEIGHT_PX:
            return tools.RulerGesture(self, pos, mods) if pos.x() >= KEYBOARD_WIDTH_PX and \
                button == Qt.MouseButton.LeftButton else None
        if pos.x() < KEYBOARD_WIDTH_PX:
            return tools.KeyboardGesture(self, pos, mods) if button == Qt.MouseButton.LeftButton else None
        legend = self.legend()
        index = legend.track_at(pos.x(), pos.y()) if legend is not None else None
        if index is not None:
            self.set_active_track(index)
            return None
        if button == Qt.MouseButton.RightButton:
            # The draw tool erases with the right button; the others open the context menu.
            return tools.EraseGesture(self, pos, mods) if self._tool == "draw" else None
        if button != Qt.MouseButton.LeftButton:
            return None
        if self._tool == "erase":
            return tools.EraseGesture(self, pos, mods)
        hit = self.hit_test(pos)
        shift = bool(mods & Qt.KeyboardModifier.ShiftModifier)
        if hit is None:
            if self._tool == "draw" and not shift:
                return tools.DrawGesture(self, pos, mods)
            return tools.MarqueeGesture(self, pos, mods)
        note, part = hit
        if shift and not (mods & Qt.KeyboardModifier.ControlModifier):
            self.set_selection(self._selection ^ {note})  # Shift-click toggles
            return None
        if note not in self._selection:
            self.set_selection({note})
        if part == "right_edge":
            return tools.ResizeGesture(self, pos, mods, note, self.selected_notes())
        return tools.MoveGesture(self, pos, mods, note, self.selected_notes())

    def mousePressEvent(self, event: QMouseEvent) -> None:
        self.setFocus(Qt.FocusReason.MouseFocusReason)
        if self._gesture is not None:  # a second button during a drag
            event.accept()
            return
        self._gesture = self._start_gesture(event)
        self._press_button = event.button()
        self._changed()
        event.accept()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        pos = event.position()
        if self._gesture is None:
            self._update_cursor(pos)
            return
        self._gesture.move(pos, event.modifiers())
        self._changed()
        event.accept()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        gesture = self._gesture
        if gesture is None or event.button() != self._press_button:
            return
        self._gesture = None
        if isinstance(gesture, tools.MoveGesture) and not gesture.dragged:
            # A click (no drag) on a note of a larger selection selects that note alone.
            if not event.modifiers() & Qt.KeyboardModifier.ShiftModifier:
                self.set_selection({gesture.anchor})
        else:
            gesture.release(event.position(), event.modifiers())
        self._update_cursor(event.position())
        self._changed()
        event.accept()

    def _update_cursor(self, pos: QPointF) -> None:
        shape = _TOOL_CURSORS[self._tool]
        if (pos.x() < KEYBOARD_WIDTH_PX or pos.y() < RULER_HEIGHT_PX
                or (legend := self.legend()) is not None and legend.track_at(pos.x(), pos.y()) is not None):
            shape = Qt.CursorShape.PointingHandCursor
        elif self._tool != "erase":
            hit = self.hit_test(pos)
            if hit is not None:
                shape = (Qt.CursorShape.SizeHorCursor if hit[1] == "right_edge"
                         else Qt.CursorShape.SizeAllCursor)
        if self.viewport().cursor().shape() != shape:
            self.viewport().setCursor(shape)

    def contextMenuEvent(self, event: QContextMenuEvent) -> None:
        if self._tool == "draw" or event.pos().x() < KEYBOARD_WIDTH_PX or event.pos().y() < RULER_HEIGHT_PX:
            event.accept()
            return
        menu = QMenu(self)
        menu.addActions(self.edit_actions())
        menu.exec(event.globalPos())
        menu.deleteLater()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Escape and self._gesture is not None:
            self.cancel_gesture()
            event.accept()
            return
        # The actions' shortcuts normally fire before a key reaches here; they do not while the
        # window is inactive (or on a platform without shortcut routing), so match them here too.
        mods = event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
        try:
            pressed = QKeySequence(QKeyCombination(mods, Qt.Key(event.key())))
        except ValueError:
            pressed = None
        if pressed is not None:
            for action in self.action_table.all():
                if action.isEnabled() and any(
                        s.matches(pressed) == QKeySequence.SequenceMatch.ExactMatch
                        for s in action.shortcuts()):
                    action.trigger()
                    event.accept()
                    return
        super().keyPressEvent(event)

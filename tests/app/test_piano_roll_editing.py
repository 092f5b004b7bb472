"""Editing in the piano roll with a simulated mouse and keyboard: every gesture is one undo step,
and undo and redo bring the document back exactly."""

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QUndoStack

from app.piano_roll import PianoRollEditor, PianoRollView
from app.piano_roll import clipboard
from engine.document import Document
from engine.music.sketch import Note, Sketch, Track

LEFT = Qt.MouseButton.LeftButton
RIGHT = Qt.MouseButton.RightButton
NONE = Qt.KeyboardModifier.NoModifier
SHIFT = Qt.KeyboardModifier.ShiftModifier
ALT = Qt.KeyboardModifier.AltModifier
CTRL = Qt.KeyboardModifier.ControlModifier

A = Note(60, 80, 0, 480)
B = Note(64, 90, 480, 960)
C = Note(67, 100, 1920, 2400)
BASS = Note(48, 100, 0, 1920)


def sketch_abc() -> Sketch:
    return Sketch.new(120, (4, 4), [Track("LEAD", 0, False, [A, B, C]),
                                    Track("BASS", 33, False, [BASS])])


def set_scale(view, px_per_tick=0.2, px_per_semitone=16.0, top_pitch=80):
    """A known zoom (a 16th = 24 px, rows 16 px) with `top_pitch` on the top row and tick 0 at
    the left edge, so that tests can aim at ticks and pitches."""
    view.zoom_horizontal(px_per_tick / view.px_per_tick)
    view.zoom_vertical(px_per_semitone / view.px_per_semitone)
    view.horizontalScrollBar().setValue(0)
    view.verticalScrollBar().setValue(round((127 - top_pitch) * view.px_per_semitone))
    assert view.tick_at(view.note_area().left()) == pytest.approx(0)
    assert view.pitch_at(view.note_area().top() + 1) == top_pitch


def at(view, tick, pitch) -> QPoint:
    """The viewport point at a tick (fractional allowed) in the middle of a pitch's row."""
    return QPoint(round(view.x_at_tick(tick)), round(view.y_at_pitch(pitch) + view.px_per_semitone / 2))


def drag(qtbot, view, start: QPoint, end: QPoint, modifiers=NONE, button=LEFT, steps=4):
    vp = view.viewport()
    qtbot.mousePress(vp, button, modifiers, start)
    for i in range(1, steps + 1):
        qtbot.mouseMove(vp, start + (end - start) * (i / steps))
    qtbot.mouseRelease(vp, button, modifiers, end)


def hover(viewport, pos: QPoint) -> None:
    """The pointer moves over ``pos`` with no button down."""
    from PySide6.QtCore import QEvent, QPointF
    from PySide6.QtGui import QMouseEvent
    from PySide6.QtWidgets import QApplication

    event = QMouseEvent(QEvent.Type.MouseMove, QPointF(pos), QPointF(viewport.mapToGlobal(pos)),
                        Qt.MouseButton.NoButton, Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(viewport, event)


def click(qtbot, view, pos: QPoint, modifiers=NONE, button=LEFT):
    qtbot.mouseClick(view.viewport(), button, modifiers, pos)


def notes(view, track=0):
    return sorted(view.document.sketch.tracks[track].notes)


@pytest.fixture
def make_view(qtbot):
    def make(sketch=None, tool="draw", grid="1/16"):
        view = PianoRollView(Document(sketch if sketch is not None else sketch_abc()), QUndoStack())
        qtbot.addWidget(view)
        view.resize(1000, 700)
        view.show()
        qtbot.waitExposed(view)
        set_scale(view)
        view.set_tool(tool)
        view.set_grid(grid)
        return view

    return make


@pytest.fixture(autouse=True)
def _empty_clipboard(qapp):
    clipboard.clear()
    yield
    clipboard.clear()


def check_undo_redo(view, before, after, steps=1):
    """The last `steps` undo steps take the active track from `before` to `after` and back."""
    stack = view.undo_stack
    assert notes(view) == sorted(after)
    for _ in range(steps):
        stack.undo()
    assert notes(view) == sorted(before)
    for _ in range(steps):
        stack.redo()
    assert notes(view) == sorted(after)


# -- drawing --------------------------------------------------------------------------------------


def test_click_draws_a_grid_long_note_and_previews_it(make_view, qtbot):
    view = make_view(Sketch.new(tracks=[Track("LEAD", 41)]))
    previews = []
    view.preview_requested.connect(lambda *args: previews.append(args))
    click(qtbot, view, at(view, 490, 64))  # inside the 16th that starts at 480
    drawn = Note(64, view.default_velocity, 480, 600)
    assert notes(view) == [drawn]
    assert previews == [(64, view.default_velocity, 41, False)]
    assert view.selected_notes() == [drawn]
    assert view.undo_stack.count() == 1 and view.undo_stack.undoText() == "Draw Note"
    check_undo_redo(view, [], [drawn])


def test_dragging_right_while_drawing_sets_the_length(make_view, qtbot):
    view = make_view(Sketch.new(tracks=[Track("LEAD")]))
    drag(qtbot, view, at(view, 970, 62), at(view, 1430, 62))
    drawn = Note(62, view.default_velocity, 960, 1440)  # the end snaps to the nearest 16th
    check_undo_redo(view, [], [drawn])
    assert view.undo_stack.count() == 1


def test_alt_bypasses_the_grid(make_view, qtbot):
    view = make_view(Sketch.new(tracks=[Track("LEAD")]))
    drag(qtbot, view, at(view, 970, 62), at(view, 1433, 62), modifiers=ALT)
    [drawn] = notes(view)
    assert abs(drawn.start_tick - 970) <= 5 and drawn.start_tick % 120 != 0
    assert drawn.end_tick % 120 != 0 and abs(drawn.end_tick - 1433) <= 5


def test_drawing_into_a_sketch_without_tracks_adds_one(make_view, qtbot):
    view = make_view(Sketch.new(tracks=[]))
    click(qtbot, view, at(view, 0, 60))
    assert [t.name for t in view.document.sketch.tracks] == ["Melody"]
    assert notes(view) == [Note(60, view.default_velocity, 0, 120)]
    view.undo_stack.undo()
    assert view.document.sketch.tracks == []


def test_right_button_erases_with_the_draw_tool(make_view, qtbot):
    view = make_view()
    click(qtbot, view, at(view, 100, 60), button=RIGHT)
    check_undo_redo(view, [A, B, C], [B, C])


# -- selecting ------------------------------------------------------------------------------------


def test_click_selects_and_shift_click_toggles(make_view, qtbot):
    view = make_view(tool="select")
    changes = []
    view.selection_changed.connect(lambda: changes.append(view.selected_notes()))
    click(qtbot, view, at(view, 100, 60))
    assert view.selected_notes() == [A]
    click(qtbot, view, at(view, 600, 64), SHIFT)
    assert view.selected_notes() == [A, B]
    click(qtbot, view, at(view, 100, 60), SHIFT)
    assert view.selected_notes() == [B]
    click(qtbot, view, at(view, 1200, 72))  # empty space
    assert view.selected_notes() == []
    assert changes[-1] == [] and len(changes) >= 4
    assert view.undo_stack.count() == 0  # selecting is not an edit


def test_marquee_selects_what_it_touches(make_view, qtbot):
    view = make_view(tool="select")
    drag(qtbot, view, at(view, 60, 70), at(view, 700, 58))  # around A and B, not C
    assert view.selected_notes() == [A, B]
    assert view.selection_range_ticks() == (0, 960)
    drag(qtbot, view, at(view, 1800, 70), at(view, 2000, 66), modifiers=SHIFT)  # adds C
    assert view.selected_notes() == [A, B, C]
    drag(qtbot, view, at(view, 1800, 79), at(view, 2000, 75))  # an empty region clears
    assert view.selected_notes() == []
    assert view.selection_range_ticks() is None


def test_select_all_and_select_none(make_view, qtbot):
    view = make_view(tool="select")
    view.select_all()
    assert view.selected_notes() == [A, B, C]  # only the active track
    qtbot.keyClick(view, Qt.Key.Key_Escape)
    assert view.selected_notes() == []
    qtbot.keyClick(view, Qt.Key.Key_A, CTRL)
    assert view.selected_notes() == [A, B, C]


# -- moving and resizing --------------------------------------------------------------------------


def test_dragging_a_selected_note_moves_the_whole_selection(make_view, qtbot):
    view = make_view(tool="select")
    view.set_selection([A, B])
    # Grab A's body and drag a quarter later and two semitones up.
    drag(qtbot, view, at(view, 200, 60), at(view, 200 + 480, 62))
    moved = [A.shifted(480, 2), B.shifted(480, 2)]
    assert view.undo_stack.count() == 1 and view.undo_stack.undoText() == "Move Notes"
    check_undo_redo(view, [A, B, C], moved + [C])
    assert view.selected_notes() == moved  # the selection follows the notes
    view.undo_stack.undo()
    assert view.selected_notes() == [A, B]


def test_moving_snaps_the_grabbed_note_to_the_grid(make_view, qtbot):
    off = Note(60, 80, 30, 400)  # off the grid
    view = make_view(Sketch.new(tracks=[Track("LEAD", 0, False, [off])]), tool="select", grid="1/8")
    drag(qtbot, view, at(view, 100, 60), at(view, 100 + 230, 60))
    [moved] = notes(view)
    assert moved.start_tick == 240 and moved.duration_ticks == off.duration_ticks


def test_ctrl_drag_copies(make_view, qtbot):
    view = make_view(tool="select")
    view.set_selection([A])
    drag(qtbot, view, at(view, 200, 60), at(view, 200 + 960, 60), modifiers=CTRL)
    check_undo_redo(view, [A, B, C], [A, A.shifted(960), B, C])
    assert view.undo_stack.undoText() == "Copy Notes"


def test_the_cursor_shows_the_resize_grip_and_a_drag_resizes(make_view, qtbot):
    view = make_view(tool="select")
    vp = view.viewport()
    edge = QPoint(round(view.x_at_tick(480)) - 2, at(view, 0, 60).y())
    assert view.hit_test(edge) == (A, "right_edge")
    assert view.hit_test(at(view, 200, 60)) == (A, "body")
    # Hover events go straight to the viewport: QTest's moves go through the window, and after
    # some other tests (the latent panel's history strip) the offscreen window hands them on no more.
    hover(vp, at(view, 200, 60))
    assert vp.cursor().shape() == Qt.CursorShape.SizeAllCursor
    hover(vp, edge)
    assert vp.cursor().shape() == Qt.CursorShape.SizeHorCursor
    drag(qtbot, view, edge, edge + QPoint(round(470 * view.px_per_tick), 0))
    longer = Note(60, 80, 0, 960)
    check_undo_redo(view, [A, B, C], [longer, B, C])
    assert view.undo_stack.undoText() == "Resize Notes"


def test_resizing_never_makes_a_note_vanish(make_view, qtbot):
    view = make_view(tool="select")
    edge = QPoint(round(view.x_at_tick(480)) - 2, at(view, 0, 60).y())
    drag(qtbot, view, edge, edge - QPoint(400, 0))
    assert notes(view)[0] == Note(60, 80, 0, 120)  # one grid step is left


# -- erasing --------------------------------------------------------------------------------------


def test_erase_sweep_is_one_undo_step(make_view, qtbot):
    view = make_view(tool="erase")
    # A sweep from A (pitch 60) to B (pitch 64) passes over both.
    drag(qtbot, view, at(view, 300, 60), at(view, 700, 64), steps=8)
    assert view.undo_stack.count() == 1 and view.undo_stack.undoText() == "Erase Notes"
    check_undo_redo(view, [A, B, C], [C])


def test_erase_click(make_view, qtbot):
    view = make_view(tool="erase")
    click(qtbot, view, at(view, 2000, 67))
    check_undo_redo(view, [A, B, C], [A, B])
    click(qtbot, view, at(view, 1200, 72))  # nothing there: no empty undo step
    assert view.undo_stack.count() == 1


# -- other tracks ---------------------------------------------------------------------------------


def test_faint_tracks_are_not_hit(make_view, qtbot):
    view = make_view(tool="select")
    bass_point = at(view, 1200, 48)
    assert view.hit_test(bass_point) is None
    click(qtbot, view, bass_point)
    assert view.selected_notes() == []
    view.set_tool("draw")
    click(qtbot, view, bass_point)  # draws into the active track, over the bass note
    assert notes(view, 1) == [BASS]
    assert Note(48, view.default_velocity, 1200, 1320) in notes(view, 0)
    with qtbot.waitSignal(view.active_track_changed) as signal:
        view.set_active_track(1)
    assert signal.args == [1]
    assert view.selected_notes() == []  # the selection belongs to a track
    assert view.hit_test(bass_point) == (BASS, "body")
    assert view.hit_test(at(view, 100, 60)) is None


def test_legend_click_switches_track(make_view, qtbot):
    view = make_view()
    view.grab()
    rect, index, name = view.legend().rows[1]  # where the legend is drawn, and so clicked
    click(qtbot, view, rect.center().toPoint())
    assert view.active_track == 1 and index == 1 and name == view.sketch.tracks[1].name
    assert notes(view, 0) == [A, B, C] and notes(view, 1) == [BASS]


# -- keys -----------------------------------------------------------------------------------------


def test_delete_key(make_view, qtbot):
    view = make_view(tool="select")
    view.set_selection([A, C])
    qtbot.keyClick(view, Qt.Key.Key_Delete)
    check_undo_redo(view, [A, B, C], [B])
    view.set_selection([B])
    qtbot.keyClick(view, Qt.Key.Key_Backspace)
    assert notes(view) == []
    assert view.undo_stack.count() == 2


def test_arrows_transpose_and_nudge(make_view, qtbot):
    view = make_view(tool="select")
    view.set_selection([A])
    qtbot.keyClick(view, Qt.Key.Key_Up)
    assert notes(view) == [A.shifted(0, 1), B, C]
    qtbot.keyClick(view, Qt.Key.Key_Up, SHIFT)
    assert notes(view) == [A.shifted(0, 13), B, C]
    qtbot.keyClick(view, Qt.Key.Key_Down)
    assert notes(view) == [A.shifted(0, 12), B, C]
    qtbot.keyClick(view, Qt.Key.Key_Right)
    assert notes(view) == [A.shifted(120, 12), B, C]
    view.set_grid("1/8")
    qtbot.keyClick(view, Qt.Key.Key_Right)
    assert notes(view) == [A.shifted(360, 12), B, C]
    qtbot.keyClick(view, Qt.Key.Key_Left)
    assert notes(view) == [A.shifted(120, 12), B, C]
    qtbot.keyClick(view, Qt.Key.Key_Down, SHIFT)
    assert view.selected_notes() == [A.shifted(120, 0)]
    assert view.undo_stack.count() == 7
    for _ in range(7):
        view.undo_stack.undo()
    assert notes(view) == [A, B, C]
    for _ in range(7):
        view.undo_stack.redo()
    assert notes(view) == sorted([A.shifted(120, 0), B, C])


def test_transpose_and_nudge_stop_at_the_edges(make_view, qtbot):
    top = Note(127, 80, 0, 120)
    view = make_view(Sketch.new(tracks=[Track("LEAD", 0, False, [top])]), tool="select")
    view.select_all()
    qtbot.keyClick(view, Qt.Key.Key_Up)
    qtbot.keyClick(view, Qt.Key.Key_Left)
    assert notes(view) == [top] and view.undo_stack.count() == 0


def test_arrows_without_a_selection_do_not_edit(make_view, qtbot):
    view = make_view(tool="select")
    qtbot.keyClick(view, Qt.Key.Key_Up)
    qtbot.keyClick(view, Qt.Key.Key_Right)
    assert notes(view) == [A, B, C] and view.undo_stack.count() == 0


def test_quantize_key(make_view, qtbot):
    loose = [Note(60, 80, 130, 350), Note(62, 80, 470, 590)]
    view = make_view(Sketch.new(tracks=[Track("LEAD", 0, False, loose)]), tool="select")
    view.set_selection([loose[0]])
    qtbot.keyClick(view, Qt.Key.Key_Q)
    check_undo_redo(view, loose, [Note(60, 80, 120, 360), loose[1]])
    view.clear_selection()
    qtbot.keyClick(view, Qt.Key.Key_Q)  # nothing selected: the whole track
    assert notes(view) == [Note(60, 80, 120, 360), Note(62, 80, 480, 600)]
    assert view.undo_stack.count() == 2


def test_set_velocity(make_view, qtbot, monkeypatch):
    view = make_view(tool="select")
    asked = []
    monkeypatch.setattr(view, "ask_velocity", lambda: asked.append(view.selected_notes()) or 42)
    view.set_selection([A, B])
    qtbot.keyClick(view, Qt.Key.Key_V)
    assert asked == [[A, B]]
    after = [Note(60, 42, 0, 480), Note(64, 42, 480, 960), C]
    check_undo_redo(view, [A, B, C], after)
    monkeypatch.setattr(view, "ask_velocity", lambda: None)  # cancelled
    qtbot.keyClick(view, Qt.Key.Key_V)
    assert view.undo_stack.count() == 1


def test_tool_keys(make_view, qtbot):
    view = make_view(tool="select")
    seen = []
    view.tool_changed.connect(seen.append)
    qtbot.keyClick(view, Qt.Key.Key_E)
    qtbot.keyClick(view, Qt.Key.Key_D)
    qtbot.keyClick(view, Qt.Key.Key_S)
    assert seen == ["erase", "draw", "select"] and view.tool == "select"
    assert view.action("tool.select").isChecked()
    with pytest.raises(ValueError):
        view.set_tool("lasso")


def test_grid_keys(make_view, qtbot):
    view = make_view(grid="1/16")
    qtbot.keyClick(view, Qt.Key.Key_2, CTRL)
    assert view.grid == "1/8"
    qtbot.keyClick(view, Qt.Key.Key_3, CTRL)
    assert view.grid == "1/8t"
    qtbot.keyClick(view, Qt.Key.Key_1, CTRL)
    assert view.grid == "1/16t"
    qtbot.keyClick(view, Qt.Key.Key_4, CTRL)
    assert view.grid == "off" and view.snap_unit() == 1 and view.note_length_ticks() == 120
    qtbot.keyClick(view, Qt.Key.Key_4, CTRL)
    assert view.grid == "1/16t" and view.snap_unit() == 80
    with pytest.raises(ValueError):
        view.set_grid("1/7")


def test_shortcuts_fire_through_qt_when_the_window_is_active(make_view, qtbot):
    view = make_view(tool="select")
    view.activateWindow()
    qtbot.waitActive(view)
    view.setFocus()
    view.set_selection([A])
    qtbot.keyClick(view, Qt.Key.Key_Up)
    assert notes(view) == [A.shifted(0, 1), B, C]
    assert view.undo_stack.count() == 1  # triggered once, not by both paths


# -- clipboard ------------------------------------------------------------------------------------


def test_copy_paste_at_the_playhead(make_view, qtbot):
    view = make_view(tool="select")
    view.set_selection([A, B])
    qtbot.keyClick(view, Qt.Key.Key_C, CTRL)
    view.set_playhead_tick(3850.0)  # paste lands on the grid line before it
    qtbot.keyClick(view, Qt.Key.Key_V, CTRL)
    pasted = [A.shifted(3840), B.shifted(3840)]
    check_undo_redo(view, [A, B, C], [A, B, C] + pasted)
    assert view.selected_notes() == pasted
    assert view.undo_stack.count() == 1


def test_paste_after_the_selection_and_cut(make_view, qtbot):
    view = make_view(tool="select")
    view.set_selection([A])
    qtbot.keyClick(view, Qt.Key.Key_X, CTRL)
    assert notes(view) == [B, C] and view.undo_stack.undoText() == "Cut"
    view.set_selection([B])
    qtbot.keyClick(view, Qt.Key.Key_V, CTRL)  # right after B
    assert notes(view) == [B, A.shifted(960), C]
    assert view.selected_notes() == [A.shifted(960)]
    qtbot.keyClick(view, Qt.Key.Key_V, CTRL)  # and again after that
    assert A.shifted(1440) in notes(view)
    view.clear_selection()
    view.horizontalScrollBar().setValue(round(4000 * view.px_per_tick))
    qtbot.keyClick(view, Qt.Key.Key_V, CTRL)  # at the start of the view, on the grid
    assert A.shifted(4080) in notes(view)
    assert view.undo_stack.count() == 4


def test_notes_travel_on_the_system_clipboard(make_view, qtbot):
    from PySide6.QtWidgets import QApplication

    view = make_view(tool="select")
    view.set_selection([C])
    view.copy()
    text = QApplication.clipboard().text()
    assert '"cantus-notes"' in text
    clipboard._last_clip = None  # as if another Cantus had copied them
    view.set_playhead_tick(0.0)
    view.paste()
    assert Note(67, 100, 0, 480) in notes(view)


def test_paste_with_an_empty_clipboard_does_nothing(make_view, qtbot):
    view = make_view(tool="select")
    qtbot.keyClick(view, Qt.Key.Key_V, CTRL)
    assert view.undo_stack.count() == 0


def test_duplicate(make_view, qtbot):
    view = make_view(tool="select")
    view.set_selection([A, B])
    qtbot.keyClick(view, Qt.Key.Key_D, CTRL)
    copies = [A.shifted(960), B.shifted(960)]
    check_undo_redo(view, [A, B, C], [A, B, C] + copies)
    assert view.selected_notes() == copies


# -- keyboard, ruler, actions ---------------------------------------------------------------------


def test_keyboard_click_previews_the_pitch(make_view, qtbot):
    view = make_view(Sketch.new(tracks=[Track("DRUMS", 0, True)]))
    with qtbot.waitSignal(view.preview_requested) as signal:
        click(qtbot, view, QPoint(10, at(view, 0, 62).y()))
    assert signal.args == [62, view.default_velocity, 0, True]
    assert view.undo_stack.count() == 0


def test_keyboard_glissando_previews_each_key(make_view, qtbot):
    view = make_view()
    seen = []
    view.preview_requested.connect(lambda pitch, *_: seen.append(pitch))
    drag(qtbot, view, QPoint(10, at(view, 0, 70).y()), QPoint(10, at(view, 0, 66).y()), steps=4)
    assert seen == [70, 69, 68, 67, 66]


def test_ruler_click_seeks_and_drag_asks_for_a_loop(make_view, qtbot):
    view = make_view()
    y = 8
    with qtbot.waitSignal(view.seek_requested) as seek:
        click(qtbot, view, QPoint(round(view.x_at_tick(965)), y))
    assert seek.args == [960]
    with qtbot.waitSignal(view.loop_region_requested) as loop:
        drag(qtbot, view, QPoint(round(view.x_at_tick(1920)), y), QPoint(round(view.x_at_tick(3845)), y))
    assert loop.args == [1920, 3840]
    assert view.undo_stack.count() == 0


def test_edit_actions_have_texts_keys_and_groups(make_view):
    view = make_view()
    actions = view.edit_actions()
    texts = [a.text() for a in actions if not a.isSeparator()]
    assert all(texts)
    for name in ("Cu&t", "&Copy", "&Paste", "D&uplicate", "&Delete", "Select &All", "Transpose Up",
                 "Octave Up", "Nudge Left", "&Quantize", "Set &Velocity\u2026", "&Draw Tool"):
        assert name in texts
    assert sum(a.isSeparator() for a in actions) >= 3
    assert view.action("edit.copy").shortcut().toString() == "Ctrl+C"
    assert view.action("edit.transpose_up").shortcut().toString() == "Up"
    assert view.action("edit.octave_up").shortcut().toString() == "Shift+Up"
    # Commands that need a selection are off without one.
    assert not view.action("edit.copy").isEnabled()
    view.select_all()
    assert view.action("edit.copy").isEnabled()
    assert len(view.grid_actions()) == 4 and len(view.tool_actions()) == 3


def test_escape_cancels_a_drag(make_view, qtbot):
    view = make_view(tool="select")
    vp = view.viewport()
    qtbot.mousePress(vp, LEFT, NONE, at(view, 200, 60))
    qtbot.mouseMove(vp, at(view, 900, 66))
    assert view.gesture is not None and view.gesture.preview
    qtbot.keyClick(view, Qt.Key.Key_Escape)
    assert view.gesture is None
    qtbot.mouseRelease(vp, LEFT, NONE, at(view, 900, 66))
    assert notes(view) == [A, B, C] and view.undo_stack.count() == 0


def test_escape_during_a_marquee_restores_the_selection(make_view, qtbot):
    view = make_view(tool="select")
    view.set_selection([C])
    vp = view.viewport()
    qtbot.mousePress(vp, LEFT, NONE, at(view, 60, 70))
    qtbot.mouseMove(vp, at(view, 700, 58))
    assert view.selected_notes() == [A, B]  # the rubber band selects as it grows
    qtbot.keyClick(view, Qt.Key.Key_Escape)
    qtbot.mouseRelease(vp, LEFT, NONE, at(view, 700, 58))
    assert view.selected_notes() == [C]


# -- velocity lane --------------------------------------------------------------------------------


@pytest.fixture
def editor(qtbot):
    ed = PianoRollEditor(Document(sketch_abc()), QUndoStack())
    qtbot.addWidget(ed)
    ed.resize(1000, 800)
    ed.show()
    qtbot.waitExposed(ed)
    set_scale(ed.view)
    return ed


def test_velocity_lane_shares_the_time_axis(editor):
    lane, view = editor.velocity_lane, editor.view
    assert lane.mapTo(editor, QPoint(0, 0)).x() == view.viewport().mapTo(editor, QPoint(0, 0)).x()
    assert lane.visible_notes() == [A, B, C]
    assert lane.x_of(B) == pytest.approx(view.x_at_tick(480))
    view.zoom_horizontal(2.0, anchor_x=view.x_at_tick(0))
    assert lane.x_of(B) == pytest.approx(view.x_at_tick(480))
    image = lane.grab().toImage()
    assert not image.isNull()


def test_velocity_lane_drag_is_one_undo_step(editor, qtbot):
    lane, view = editor.velocity_lane, editor.view
    y = round(lane.y_at_velocity(110))
    start, end = QPoint(round(lane.x_of(A)), y), QPoint(round(lane.x_of(B)), y)
    qtbot.mousePress(lane, LEFT, NONE, start)
    qtbot.mouseMove(lane, (start + end) / 2)
    qtbot.mouseMove(lane, end)
    qtbot.mouseRelease(lane, LEFT, NONE, end)
    velocity = lane.velocity_at(y)
    assert abs(velocity - 110) <= 2
    after = [Note(60, velocity, 0, 480), Note(64, velocity, 480, 960), C]
    assert view.undo_stack.count() == 1 and view.undo_stack.undoText() == "Set Velocity"
    check_undo_redo(view, [A, B, C], after)


def test_velocity_lane_edits_only_the_selection(editor, qtbot):
    lane, view = editor.velocity_lane, editor.view
    view.set_selection([B])
    y = round(lane.y_at_velocity(20))
    start, end = QPoint(round(lane.x_of(A)), y), QPoint(round(lane.x_of(B)), y)
    qtbot.mousePress(lane, LEFT, NONE, start)
    qtbot.mouseMove(lane, end)
    qtbot.mouseRelease(lane, LEFT, NONE, end)
    [a, b, c] = notes(view)
    assert a == A and c == C and abs(b.velocity - 20) <= 2
    assert view.selected_notes() == [b]  # still selected after the edit


def test_editor_tool_bar_follows_the_view(editor, qtbot):
    view = editor.view
    view.set_grid("1/8t")
    assert editor.grid_box.currentData() == "1/8t"
    assert editor.grid_box.currentText() == "1/8 triplet"
    editor.grid_box.setCurrentIndex(editor.grid_box.findData("off"))
    editor.grid_box.activated.emit(editor.grid_box.currentIndex())
    assert view.grid == "off"


def test_ruler_labels_never_collide_where_meters_change_often(make_view, qtbot):
    from engine.music.sketch import TimeSignature

    # POP909 010 changes meter every bar or two around bar 90: 3/4, 2/4, 4/4, 3/8 in turn
    meters, tick, signatures = [(3, 4), (2, 4), (4, 4), (3, 8)], 0, []
    for i in range(120):
        n, d = meters[i % 4]
        signatures.append(TimeSignature(tick, n, d))
        tick += n * 1920 // d
    sketch = sketch_abc()
    sketch.time_signatures = signatures
    for zoom in (0.2, 0.05, 0.02):
        view = make_view(sketch)
        set_scale(view, px_per_tick=zoom)
        view.viewport().repaint()
        view.grab()  # paint the ruler
        labels = sorted(view.ruler_labels)
        assert labels and any("/" in text for _, _, text in labels)  # meters are shown
        assert all(b[0] >= a[1] for a, b in zip(labels, labels[1:])), f"labels overlap at {zoom} px/tick"

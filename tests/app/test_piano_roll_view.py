"""The piano roll draws the document's notes where its geometry says, zooms about a point, culls,
follows the document, and shows the active track over faint others."""

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QImage, QUndoStack, QWheelEvent
from PySide6.QtWidgets import QApplication

from app.commands import push
from app.piano_roll import PianoRollView
from app.piano_roll.view import KEYBOARD_WIDTH_PX, RULER_HEIGHT_PX, ZOOM_STEP
from engine.document import Document, NoteEdit
from engine.music.sketch import Note, Sketch, TimeSignature, Track


def two_track_sketch() -> Sketch:
    lead = Track("LEAD", 0, False, [Note(60 + (i * 5) % 13, 40 + i * 4, i * 480, i * 480 + 360)
                                    for i in range(16)])
    bass = Track("BASS", 33, False, [Note(36 + i % 3, 100, i * 1920, i * 1920 + 1800)
                                     for i in range(4)])
    drums = Track("DRUMS", 0, True, [Note(36, 110, i * 960, i * 960 + 60) for i in range(8)])
    return Sketch.new(120, (4, 4), [lead, bass, drums])


@pytest.fixture
def view(qtbot):
    v = PianoRollView(Document(Sketch.new(tracks=[])), QUndoStack())
    qtbot.addWidget(v)
    v.resize(900, 600)
    v.show()
    qtbot.waitExposed(v)
    return v


def show(view, sketch):
    """Open a sketch in the view's document, as File > Open does."""
    view.document.reset(sketch)


def all_notes(sketch, order=None):
    """(track, note) in painting order: tracks in `order` (default: by index), notes by onset."""
    order = range(len(sketch.tracks)) if order is None else order
    return [(i, n) for i in order for n in sorted(sketch.tracks[i].notes)]


def test_defaults_before_a_sketch(view):
    assert view.sketch.note_count == 0
    assert view.note_rects() == []
    image = view.grab().toImage()
    assert not image.isNull()


def test_fit_shows_every_note_where_the_geometry_says(view):
    sketch = two_track_sketch()
    show(view, sketch)
    view.fit_to_content()
    rects = view.note_rects()
    assert [(i, n) for i, n, _ in rects] == all_notes(sketch, view.paint_order())
    area = view.note_area()
    for _, note, rect in rects:
        assert rect.x() == pytest.approx(view.x_at_tick(note.start_tick))
        assert rect.width() == pytest.approx(note.duration_ticks * view.px_per_tick)
        assert view.y_at_pitch(note.pitch) <= rect.y() < view.y_at_pitch(note.pitch) + view.px_per_semitone
        assert area.contains(rect.center())
    # The whole length is in view: the last note ends inside the note area.
    assert view.x_at_tick(sketch.end_tick) <= area.right()
    # Higher pitch, higher on screen.
    by_pitch = sorted(rects, key=lambda r: r[1].pitch)
    ys = [r.y() for _, _, r in by_pitch]
    assert ys == sorted(ys, reverse=True)


def test_only_visible_notes_are_listed(view):
    sketch = two_track_sketch()
    show(view, sketch)
    view.zoom_horizontal(8.0, anchor_x=KEYBOARD_WIDTH_PX)  # the first bar or so
    t0, t1 = view.visible_ticks()
    rects = view.note_rects()
    assert 0 < len(rects) < sketch.note_count
    area = view.note_area()
    for _, note, rect in rects:
        assert note.start_tick <= t1 and note.end_tick >= t0
        assert rect.intersects(area)
    visible = {(i, n) for i, n, _ in rects}
    for i, note in all_notes(sketch):
        if (i, note) not in visible:
            assert note.start_tick > t1 or note.end_tick < t0


def test_zoom_keeps_the_tick_under_the_anchor(view):
    show(view, two_track_sketch())
    anchor_x = 400.0
    tick = view.tick_at(anchor_x)
    before = view.px_per_tick
    view.zoom_horizontal(2.0, anchor_x)
    assert view.px_per_tick == pytest.approx(2 * before)
    assert abs(view.x_at_tick(tick) - anchor_x) <= 1.0
    view.zoom_horizontal(0.5, anchor_x)
    assert view.px_per_tick == pytest.approx(before)
    assert abs(view.x_at_tick(tick) - anchor_x) <= 1.0


def test_zoom_in_and_out_step_about_the_centre(view):
    show(view, two_track_sketch())
    view.zoom_horizontal(4.0)
    centre = view.note_area().center().x()
    tick = view.tick_at(centre)
    before = view.px_per_tick
    view.zoom_in()
    assert view.px_per_tick == pytest.approx(before * ZOOM_STEP)
    assert abs(view.x_at_tick(tick) - centre) <= 1.0
    view.zoom_out()
    view.zoom_out()
    assert view.px_per_tick == pytest.approx(before / ZOOM_STEP)


def test_vertical_zoom_keeps_the_pitch_under_the_anchor(view):
    show(view, two_track_sketch())
    anchor_y = RULER_HEIGHT_PX + 200.0
    pitch = view.pitch_at(anchor_y)
    before = view.px_per_semitone
    view.zoom_vertical(1.5, anchor_y)
    assert view.px_per_semitone == pytest.approx(1.5 * before)
    assert view.pitch_at(anchor_y) == pitch


def wheel(view, delta_y, modifiers, pos=QPointF(300, 200)):
    event = QWheelEvent(pos, view.viewport().mapToGlobal(pos), QPoint(0, 0), QPoint(0, delta_y),
                        Qt.MouseButton.NoButton, modifiers, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(view.viewport(), event)


def test_wheel_scrolls_and_zooms(view):
    show(view, two_track_sketch())
    view.zoom_horizontal(6.0)
    view.zoom_vertical(2.0)
    h, v = view.horizontalScrollBar(), view.verticalScrollBar()

    before = v.value()
    wheel(view, -120, Qt.KeyboardModifier.NoModifier)
    assert v.value() > before  # wheel down scrolls down

    before = h.value()
    wheel(view, -120, Qt.KeyboardModifier.ShiftModifier)
    assert h.value() > before  # Shift+wheel scrolls in time

    ppt, tick = view.px_per_tick, view.tick_at(300)
    wheel(view, 120, Qt.KeyboardModifier.ControlModifier)
    assert view.px_per_tick == pytest.approx(ppt * ZOOM_STEP)
    assert abs(view.x_at_tick(tick) - 300) <= 1.0

    pps = view.px_per_semitone
    wheel(view, 120, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert view.px_per_semitone == pytest.approx(pps * ZOOM_STEP)
    wheel(view, -120, Qt.KeyboardModifier.AltModifier)
    assert view.px_per_semitone == pytest.approx(pps)


def test_active_track_is_painted_last(view):
    sketch = two_track_sketch()
    show(view, sketch)
    assert view.active_track == 0 and view.paint_order() == [1, 2, 0]
    view.set_active_track(1)
    assert view.paint_order() == [0, 2, 1]
    order = [i for i, _, _ in view.note_rects()]
    assert order == sorted(order, key=[0, 2, 1].index)
    view.set_melody_track(0)  # only a name in the legend
    assert view.melody_track == 0 and view.paint_order() == [0, 2, 1]


def test_painting_draws_track_colours(view):
    sketch = Sketch.new(120, (4, 4), [Track("LEAD", 0, False, [Note(60, 127, 0, 1920)])])
    show(view, sketch)
    _, _, rect = view.note_rects()[0]
    image: QImage = view.viewport().grab().toImage()
    centre = image.pixelColor(rect.center().toPoint())
    assert centre.red() > 200 and centre.blue() < 100  # the first track is amber


def test_meter_changes_and_an_empty_track_paint(view):
    sketch = Sketch([Track("EMPTY"), Track("LEAD", 0, False, [Note(72, 80, 0, 100)])],
                    time_signatures=[TimeSignature(0, 4, 4), TimeSignature(1920, 7, 8)])
    show(view, sketch)
    assert [i for i, _, _ in view.note_rects()] == [1]
    assert not view.grab().toImage().isNull()


def test_other_tracks_are_faint(view):
    lead = Track("LEAD", 0, False, [Note(60, 127, 0, 1920)])
    bass = Track("BASS", 0, False, [Note(48, 127, 0, 1920)])
    show(view, Sketch.new(120, (4, 4), [lead, bass]))
    rects = {i: r for i, _, r in view.note_rects()}
    image = view.viewport().grab().toImage()
    background = image.pixelColor(QPoint(int(rects[0].center().x()), int(rects[0].top()) - 30))

    def strength(track):
        c = image.pixelColor(rects[track].center().toPoint())
        return abs(c.red() - background.red()) + abs(c.green() - background.green()) + \
            abs(c.blue() - background.blue())

    assert strength(0) > 2 * strength(1)  # the active track stands out
    view.set_active_track(1)
    image = view.viewport().grab().toImage()
    assert strength(1) > 2 * strength(0)


def test_the_view_follows_the_document_and_its_undo_stack(view):
    show(view, two_track_sketch())
    before = len(view.note_rects())
    stack = view.undo_stack
    low, high = view.visible_pitches()
    pitch = (low + high) // 2  # a row in view, so that its rectangle is drawn
    push(stack, view.document, NoteEdit(0, (), (Note(pitch, 100, 0, 480),)))
    assert len(view.note_rects()) == before + 1
    assert view.selected_notes() == [Note(pitch, 100, 0, 480)]  # a new note becomes the selection
    stack.undo()
    assert len(view.note_rects()) == before
    assert view.selected_notes() == []


def test_reset_clears_the_selection_and_fits(view):
    show(view, two_track_sketch())
    view.select_all()
    view.zoom_horizontal(4.0)
    assert view.selected_notes()
    fitted_sketch = Sketch.new(120, (4, 4), [Track("ONE", 0, False, [Note(72, 90, 0, 960)])])
    show(view, fitted_sketch)
    assert view.selected_notes() == []
    assert view.x_at_tick(1920) <= view.note_area().right()
    assert view.px_per_tick == pytest.approx((view.note_area().width() - 2) / 1920)


def test_reset_to_fewer_tracks_keeps_the_active_track_in_range(view, qtbot):
    show(view, two_track_sketch())
    view.set_active_track(2)
    with qtbot.waitSignal(view.active_track_changed) as signal:
        show(view, Sketch.new(tracks=[Track("ONE")]))
    assert signal.args == [0] and view.active_track == 0


def test_closing_unsubscribes_from_the_document(qtbot):
    doc = Document(two_track_sketch())
    view = PianoRollView(doc, QUndoStack())
    qtbot.addWidget(view)
    assert len(doc._listeners) == 1
    view.close()
    assert doc._listeners == []
    doc.reset(Sketch.new())  # nothing listens, nothing breaks


def test_deleting_unsubscribes_from_the_document(qtbot):
    from PySide6.QtWidgets import QWidget

    doc = Document(two_track_sketch())
    parent = QWidget()
    PianoRollView(doc, QUndoStack(), parent)
    assert len(doc._listeners) == 1
    parent.deleteLater()
    qtbot.waitUntil(lambda: doc._listeners == [])
    doc.reset(Sketch.new())


def test_playhead_and_loop_region_paint_and_follow(view):
    show(view, two_track_sketch())
    view.zoom_horizontal(8.0, anchor_x=KEYBOARD_WIDTH_PX)
    view.set_loop_region(1920, 3840)
    assert view.loop_region == (1920, 3840)
    view.set_playhead_tick(960.0)
    assert view.playhead_tick == 960.0
    x = round(view.x_at_tick(960.0))
    image = view.viewport().grab().toImage()
    line = image.pixelColor(QPoint(x, RULER_HEIGHT_PX + 200))
    assert line.red() > 200 and line.green() > 200 and line.blue() > 200  # a white line

    # Without follow, a playhead past the right edge stays out of view.
    t0, t1 = view.visible_ticks()
    view.set_playhead_tick(t1 + 4000)
    assert view.visible_ticks() == (t0, t1)
    view.follow_playhead = True
    view.set_playhead_tick(t1 + 4000)
    t0, t1 = view.visible_ticks()
    assert t0 < view.playhead_tick < t1
    view.set_playhead_tick(None)
    view.set_loop_region(None)
    assert view.playhead_tick is None and view.loop_region is None
    assert not view.grab().toImage().isNull()

"""The track list: rows follow the document, every change is an undo step, and the selected row
is the editor's active track."""

import pytest
from PySide6.QtCore import Qt

from app.track_list import GM_PROGRAMS, program_name
from engine.music.sketch import Note, Sketch, Track


@pytest.fixture
def window(window):
    window.ask_save_changes = lambda: "discard"
    window.set_document(Sketch.new(tracks=[
        Track("Lead", 73, notes=[Note(72, 90, 0, 480)]),
        Track("Bass", 33, notes=[Note(36, 90, 0, 960)]),
        Track("Kit", 0, True, [Note(36, 100, 0, 120)]),
    ]))
    return window


def rows(window):
    table = window.track_list.table
    return [table.item(r, 0).text() for r in range(table.rowCount())]


def test_rows_show_name_instrument_mute_and_solo(window):
    tl = window.track_list
    assert rows(window) == ["Lead", "Bass", "Kit"]
    assert tl.instrument_box(0).currentText() == "Flute" == GM_PROGRAMS[73]
    assert tl.instrument_box(1).currentText() == "Electric Bass (finger)"
    assert tl.instrument_box(2).currentText() == "Standard Kit" == program_name(0, True)
    assert not any(tl.mute_button(r).isChecked() or tl.solo_button(r).isChecked() for r in range(3))


def test_rename_is_undoable(window):
    item = window.track_list.table.item(1, 0)
    item.setText("Low End")
    assert window.sketch.tracks[1].name == "Low End"
    assert window.undo_stack.undoText() == "Rename Track" and window.isWindowModified()
    window.undo_stack.undo()
    assert window.sketch.tracks[1].name == "Bass" and rows(window)[1] == "Bass"
    item.setText("   ")  # an empty name is refused
    assert window.sketch.tracks[1].name == "Bass" and rows(window)[1] == "Bass"


def test_instrument_mute_and_solo_are_undoable(window):
    tl = window.track_list
    box = tl.instrument_box(0)
    box.setCurrentIndex(box.findData(40))
    assert window.sketch.tracks[0].program == 40
    tl.mute_button(1).click()
    tl.solo_button(2).click()
    assert window.sketch.tracks[1].mute and window.sketch.tracks[2].solo
    assert window.undo_stack.count() == 3
    for _ in range(3):
        window.undo_stack.undo()
    assert window.sketch.tracks[0].program == 73 and box.currentData() == 73
    assert not tl.mute_button(1).isChecked() and not window.sketch.tracks[1].mute
    assert not tl.solo_button(2).isChecked()


def test_add_and_remove_tracks(window):
    tl = window.track_list
    tl.select(0)
    window.add_track_action.trigger()
    assert rows(window) == ["Lead", "Track 4", "Bass", "Kit"]
    assert tl.current_track() == 1 and window.view.active_track == 1
    window.remove_track_action.trigger()  # removes the selected (new) one
    assert rows(window) == ["Lead", "Bass", "Kit"]
    tl.select(2)
    tl.remove_button.click()
    assert rows(window) == ["Lead", "Bass"] and window.undo_stack.undoText() == "Remove Track"
    window.undo_stack.undo()
    assert rows(window) == ["Lead", "Bass", "Kit"] and window.sketch.tracks[2].notes
    for _ in range(2):
        tl.select(0)
        tl.remove_track()
    assert rows(window) == ["Kit"] and not tl.remove_button.isEnabled()
    tl.remove_track()  # the last track stays
    assert rows(window) == ["Kit"]


def test_selected_row_is_the_active_track_both_ways(window, qtbot):
    tl = window.track_list
    tl.table.setCurrentCell(2, 0)
    assert window.view.active_track == 2
    window.view.set_active_track(1)
    assert tl.current_track() == 1
    rect = tl.table.visualItemRect(tl.table.item(0, 0))
    qtbot.mouseClick(tl.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert window.view.active_track == 0


def test_rename_action_edits_the_name_in_place(window):
    window.track_list.select(1)
    window.rename_track_action.trigger()
    assert window.track_list.table.state() == window.track_list.table.State.EditingState

"""The Continue panel with the bundled Music Transformer: notes stream in as ghosts, the result is
one undo step, key lock holds, Cancel leaves the document alone, and the window keeps running."""

import pytest
from PySide6.QtCore import QTimer

from engine.generate.continuation import MELODY_MODEL_NAME
from engine.music.key import parse_key
from engine.music.sketch import Note, Sketch, TimeSignature, Track


def a_minor_phrase() -> Sketch:
    pitches = [69, 72, 76, 74, 72, 71, 69, 64]
    notes = [Note(p, 90, i * 240, i * 240 + 220) for i, p in enumerate(pitches)]
    return Sketch(tracks=[Track("Melody", 0, False, notes)], time_signatures=[TimeSignature(0, 4, 4)])


@pytest.fixture
def panel(window, qtbot):
    window.set_document(a_minor_phrase())
    p = window.continue_panel
    assert p.model_error is None, p.model_error
    p.length.setValue(2)
    p.lock_seed.setChecked(True)
    p.seed.setValue(7)
    return p


def wait_done(qtbot, panel, timeout=60_000):
    qtbot.waitUntil(lambda: not panel.running, timeout=timeout)


def test_continue_under_key_lock_is_one_undo_step(window, panel, qtbot):
    panel.key.setCurrentIndex(panel.key.findData("C:maj"))
    ghosts = []
    window.bridge.partial.connect(lambda _h, _n: ghosts.append(len(window.view.proposal)))
    panel.start()
    assert panel.running and not panel.continue_button.isEnabled() and panel.cancel_button.isEnabled()
    wait_done(qtbot, panel)
    sketch = window.document.sketch
    assert len(sketch.tracks) == 2 and sketch.tracks[1].name == "Continue"
    assert window.view.active_track == 1  # the new track is the one being worked on
    new = sketch.tracks[1].notes
    assert new and all(n.pitch % 12 in parse_key("C:maj").pitch_classes for n in new)
    assert all(1920 <= n.start_tick < 1920 + 2 * 1920 for n in new)  # from the next bar, 2 bars
    assert ghosts and ghosts == sorted(ghosts)  # the notes came in one by one as ghosts
    assert window.view.proposal == ()  # and the ghosts are gone once applied
    assert panel.last_outcome.key.name == "C:maj" and panel.regenerate_button.isEnabled()
    assert window.device_label.text() == "Models: CPU"  # said once a model has run
    window.undo_stack.undo()
    assert len(window.document.sketch.tracks) == 1


def test_the_same_seed_gives_the_same_notes_and_regenerate_replaces(window, panel, qtbot):
    panel.into.setCurrentIndex(1)  # into the active track
    panel.start()
    wait_done(qtbot, panel)
    first = list(window.document.sketch.tracks[0].notes)
    assert len(first) > 8 and first[:8] == a_minor_phrase().tracks[0].notes
    window.undo_stack.undo()
    panel.start()  # locked seed: the same take
    wait_done(qtbot, panel)
    assert window.document.sketch.tracks[0].notes == first
    panel.regenerate()  # takes that one back and samples with the next seed
    wait_done(qtbot, panel)
    again = window.document.sketch.tracks[0].notes
    assert again[:8] == first[:8] and again != first
    assert window.undo_stack.count() == 1  # the replaced takes are gone from the history


def test_cancel_stops_at_once_and_changes_nothing(window, panel, qtbot):
    panel.length.setValue(64)
    before = window.document.sketch.copy()
    ticks = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(1))
    timer.start(10)
    panel.start()
    qtbot.waitUntil(lambda: len(window.view.proposal) >= 3, timeout=60_000)
    panel.cancel()
    wait_done(qtbot, panel, timeout=5_000)
    timer.stop()
    assert window.document.sketch == before and window.view.proposal == ()
    assert "Cancelled" in panel.status.text()
    assert len(ticks) >= 3  # the event loop kept ticking while the model ran


def test_pitch_names_in_the_range_boxes():
    from app.continue_panel import parse_pitch

    assert parse_pitch("C4") == 60 and parse_pitch("a#3") == 58 and parse_pitch("Db5") == 73
    assert parse_pitch("72") == 72 and parse_pitch("H2") is None and parse_pitch("200") is None


def test_a_melody_continues_as_a_melody_on_the_grid_and_auto_says_so(window, panel, qtbot):
    assert panel.mode.currentData() == "auto" and panel.snap.isChecked()
    panel._show_mode()
    assert panel.mode_shown.text() == "(melody)"  # the phrase is one note at a time
    window.view.set_grid("1/8")
    panel.temperature.setValue(1.5)
    panel.start()
    wait_done(qtbot, panel)
    new = sorted(window.document.sketch.tracks[1].notes)
    phrase = a_minor_phrase().tracks[0].notes
    low, high = min(n.pitch for n in phrase), max(n.pitch for n in phrase)
    assert new and all(b.start_tick >= a.end_tick for a, b in zip(new, new[1:]))  # one at a time
    assert all(low - 2 <= n.pitch <= high + 2 for n in new)  # in the phrase's register
    assert all(n.start_tick % 240 == 0 and n.end_tick % 240 == 0 for n in new)  # on the roll's grid
    assert "(melody)" in panel.status.text()
    assert panel.last_outcome.model == MELODY_MODEL_NAME  # the bundled melody model answers
    window.undo_stack.undo()
    panel.mode.setCurrentIndex(panel.mode.findData("piano"))
    assert not panel.snap.isChecked() and panel.mode_shown.text() == ""  # piano breathes off the grid
    chord = Sketch(tracks=[Track("Piano", 0, False, [Note(p, 80, 0, 960) for p in (57, 60, 64)])])
    window.set_document(chord)
    panel.mode.setCurrentIndex(panel.mode.findData("auto"))
    assert panel._show_mode() == "piano" and panel.mode_shown.text() == "(piano)"

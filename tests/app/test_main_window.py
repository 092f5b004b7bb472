"""The main window opens files into its document, shows them, survives bad files, offers every
command in a menu with its key, and leaves nothing running when it closes."""

import threading

import pytest
from PySide6.QtGui import QKeySequence

import app.main_window as main_window_module
from app.commands import push
from engine.document import NoteEdit
from engine.errors import CantusError
from engine.music.sketch import Note

LEAD = [(60, 100, 0, 480), (62, 90, 480, 960), (64, 80, 960, 1440), (67, 110, 1440, 2880),
        (72, 70, 2880, 3360), (71, 64, 3360, 4320)]
BASS = [(36, 100, 0, 1440), (43, 100, 1440, 2880), (38, 100, 2880, 4320)]


@pytest.fixture
def window(window):
    window.ask_save_changes = lambda: "discard"  # closing at teardown never waits on a dialog
    return window


@pytest.fixture
def song(write_midi):
    # 4320 ticks at 100 qpm: 3 bars of 3/4, 5.4 s.
    return write_midi("song.mid", {"LEAD": LEAD, "BASS": BASS}, qpm=100, meter=(3, 4))


def test_starts_with_an_empty_untitled_sketch(window):
    assert window.sketch.note_count == 0 and window.path is None
    assert window.windowTitle() == "Untitled[*] \u2014 Cantus"
    assert not window.isWindowModified()
    assert window.view.note_rects() == []
    assert window.view.document is window.document


def test_open_shows_every_note_of_the_file(window, song):
    assert window.open_file(song)
    assert window.last_error is None and window.errors == []
    assert window.view.sketch is window.sketch
    window.view.fit_to_content()
    rects = window.view.note_rects()

    expected = sorted(LEAD + BASS, key=lambda n: (n[2], n[0]))
    shown = sorted(((n.pitch, n.velocity, n.start_tick, n.end_tick) for _, n, _ in rects),
                   key=lambda n: (n[2], n[0]))
    assert shown == expected

    names = [t.name for t in window.sketch.tracks]
    for name, notes in (("LEAD", LEAD), ("BASS", BASS)):
        track_index = names.index(name)
        track_rects = [(n, r) for i, n, r in rects if i == track_index]
        assert [n.pitch for n, _ in track_rects] == [p for p, *_ in notes]  # in onset order
        xs = [r.x() for _, r in track_rects]
        assert xs == sorted(xs) and len(set(xs)) == len(xs)  # x grows with start tick
    area = window.view.note_area()
    assert all(area.contains(r.center()) for _, _, r in rects)
    # The track list shows the file's tracks.
    assert window.track_list.table.rowCount() == 2
    assert [window.track_list.table.item(r, 0).text() for r in range(2)] == names


def test_title_and_status_bar(window, song):
    window.open_file(song)
    assert window.windowTitle() == "song.mid[*] \u2014 Cantus"
    assert not window.isWindowModified()
    status = window.status_text()
    for part in ("song.mid", "2 tracks, 9 notes", "0:05", "100 BPM", "3/4"):
        assert part in status
    push(window.undo_stack, window.document, NoteEdit(0, (), (Note(80, 90, 4320, 4800),)))
    assert window.isWindowModified()
    assert "2 tracks, 10 notes" in window.status_text() and "0:06" in window.status_text()
    window.undo_stack.undo()  # back to the file: not modified any more
    assert not window.isWindowModified() and "9 notes" in window.status_text()


def test_corrupt_file_keeps_the_previous_document(window, song, tmp_path):
    assert window.open_file(song)
    before, title = window.sketch, window.windowTitle()
    bad = tmp_path / "noise.mid"
    bad.write_bytes(bytes((i * 73 + 11) % 256 for i in range(2000)))
    assert not window.open_file(bad)
    assert window.last_error
    assert window.errors and window.errors[-1][1] == window.last_error
    assert "noise.mid" in window.errors[-1][0]
    assert window.sketch is before and window.view.sketch is before
    assert window.windowTitle() == title
    assert window.view.note_rects()  # still drawn, still usable
    assert window.open_file(song) and window.last_error is None


def test_unsupported_file_is_refused(window, tmp_path):
    path = tmp_path / "x.wav"
    path.write_bytes(b"RIFF....WAVE")
    before = window.sketch
    assert not window.open_file(path)
    assert window.last_error == (
        "Cantus opens MIDI files (.mid) and sketches (.cantus); 'x.wav' is neither.")
    assert window.sketch is before


def test_unexpected_exception_is_reported_not_raised(window, song, monkeypatch):
    window.open_file(song)
    before = window.sketch

    def explode(path):
        raise ZeroDivisionError("the reader tripped")

    monkeypatch.setattr(main_window_module, "open_any", explode)
    assert not window.open_file(song)
    assert "ZeroDivisionError" in window.last_error and "song.mid" in window.last_error
    assert window.sketch is before


def test_cantus_errors_show_their_own_sentence(window, song, monkeypatch):
    def refuse(path):
        raise CantusError("This sketch was saved by a newer Cantus.")

    monkeypatch.setattr(main_window_module, "open_any", refuse)
    assert not window.open_file(song)
    assert window.last_error == "This sketch was saved by a newer Cantus."


def test_open_action_uses_the_chosen_file(window, song, monkeypatch):
    asked = []

    def ask(caption, filters):
        asked.append((caption, filters))
        return str(song)

    monkeypatch.setattr(window, "ask_open_path", ask)
    window.open_action.trigger()
    assert window.path == song and asked[-1][0] == "Open"
    assert any("*.cantus" in f for f in asked[-1][1])
    monkeypatch.setattr(window, "ask_open_path", lambda caption, filters: None)  # cancelled
    window.new_action.trigger()
    window.open_action.trigger()
    assert window.path is None and window.errors == []


def menu_actions(window):
    out = {}
    for menu_action in window.menuBar().actions():
        menu = menu_action.menu()
        name = menu_action.text().replace("&", "")
        out[name] = [a for a in menu.actions() if not a.isSeparator()]
    return out


def test_menus_hold_every_command_with_its_key(window):
    menus = menu_actions(window)
    assert list(menus) == ["File", "Edit", "View", "Transport", "Track", "Help"]
    texts = {name: [a.text().replace("&", "") for a in actions] for name, actions in menus.items()}
    assert texts["File"] == ["New", "Open\u2026", "Open Recent", "Save", "Save As\u2026",
                             "Import MIDI\u2026", "Export MIDI\u2026", "Export WAV\u2026", "Quit"]
    assert texts["Edit"][:2] == ["Undo", "Redo"]
    assert {a for a in window.view.edit_actions() if not a.isSeparator()} <= set(menus["Edit"])
    assert texts["Transport"] == ["Play", "Stop", "Loop", "Loop Selection", "Metronome", "Record",
                                  "Count In One Bar", "Quantize Takes", "Step Input", "Step Rest",
                                  "Step Back", "MIDI Input", "Tempo\u2026", "Time Signature\u2026"]
    assert texts["Track"] == ["Add Track", "Remove Track", "Rename Track"]
    keys = {
        window.new_action: "Ctrl+N", window.open_action: "Ctrl+O", window.save_action: "Ctrl+S",
        window.save_as_action: "Ctrl+Shift+S", window.quit_action: "Ctrl+Q",
        window.undo_action: "Ctrl+Z", window.redo_action: "Ctrl+Shift+Z",
        window.play_action: "Space", window.stop_action: "Return", window.loop_selection_action: "L",
        window.metronome_action: "M", window.record_action: "R", window.zoom_in_action: "Ctrl+=",
        window.zoom_out_action: "Ctrl+-", window.fit_action: "Ctrl+0",
    }
    for action, key in keys.items():
        assert QKeySequence(key) in action.shortcuts(), action.text()
    for action, standard in ((window.open_action, QKeySequence.StandardKey.Open),
                             (window.save_action, QKeySequence.StandardKey.Save),
                             (window.undo_action, QKeySequence.StandardKey.Undo)):
        assert all(seq in action.shortcuts() for seq in QKeySequence.keyBindings(standard))


def test_no_two_commands_share_a_key(window):
    seen = {}
    actions = list(window.actions())
    actions += [a for a in window.view.edit_actions() if not a.isSeparator()]
    actions += window.view.grid_actions()
    for action in set(actions):
        for seq in action.shortcuts():
            other = seen.setdefault(seq.toString(), action)
            assert other is action, f"{seq.toString()}: {other.text()} and {action.text()}"


def test_view_actions_zoom_and_fit(window, song):
    window.open_file(song)
    window.fit_action.trigger()
    fitted = window.view.px_per_tick
    window.zoom_in_action.trigger()
    assert window.view.px_per_tick > fitted
    window.zoom_out_action.trigger()
    window.zoom_out_action.trigger()
    assert window.view.px_per_tick < fitted
    window.fit_action.trigger()
    assert window.view.px_per_tick == pytest.approx(fitted)


def test_undo_and_redo_actions_follow_the_stack(window):
    assert not window.undo_action.isEnabled()
    push(window.undo_stack, window.document, NoteEdit(0, (), (Note(60, 90, 0, 480),), "Draw Note"))
    assert window.undo_action.isEnabled() and "Draw Note" in window.undo_action.text()
    window.undo_action.trigger()
    assert window.sketch.note_count == 0 and window.redo_action.isEnabled()
    window.redo_action.trigger()
    assert window.sketch.note_count == 1


def test_pop909_song_shows_its_melody(window, pop909_song):
    assert window.open_file(pop909_song)
    names = [t.name for t in window.sketch.tracks]
    assert names == ["MELODY", "BRIDGE", "PIANO"]
    assert window.view.melody_track == 0
    assert "melody: track 'MELODY'" in window.status_text()
    assert len(window.view.note_rects()) == window.sketch.note_count


def test_status_bar_says_which_synth_plays(qtbot):
    from app.main_window import MainWindow
    from engine.audio.synth import synth_status

    window = MainWindow()
    qtbot.addWidget(window)
    sound, why_not = synth_status()
    assert window.sound_label.text() == f"Sound: {sound}"
    if why_not:  # the built-in synth plays: the tooltip says why FluidSynth does not
        assert window.sound_label.toolTip() == why_not
    else:
        assert "FluidSynth" in sound
        assert window.sound_label.toolTip() == "General MIDI instruments from the soundfont"


def test_job_progress_shows_while_busy_and_cancel_stops_the_job(window, qtbot):
    release = threading.Event()

    def slow(ctx):
        ctx.progress(0.25, "Thinking")
        while not ctx.cancelled and not release.wait(0.01):
            pass
        ctx.check()

    try:
        handle = window.bridge.submit(slow, name="A slow job")
        qtbot.waitUntil(lambda: window.job_progress.isVisible(), timeout=5000)
        assert window.job_cancel.isVisible()
        # the engine thread may start the job after the bar shows, on a loaded machine
        qtbot.waitUntil(lambda: "Thinking" in window.job_label.text(), timeout=5000)
        qtbot.waitUntil(lambda: window.job_progress.value() == 250, timeout=5000)
        window.job_cancel.click()
        qtbot.waitUntil(lambda: not window.job_progress.isVisible(), timeout=5000)
        assert handle.state.value == "cancelled"
    finally:
        release.set()


def test_close_stops_timers_player_and_engine_thread(window, qtbot, song):
    window.open_file(song)
    window.transport.set_loop(True)
    window.play_action.trigger()
    qtbot.waitUntil(lambda: window.transport.state == "playing", timeout=20000)
    push(window.undo_stack, window.document, NoteEdit(0, (), (Note(80, 90, 0, 480),)))
    assert window._autosave_timer.isActive() and window.transport.timers_active
    player = window.player
    window.close()
    assert not window.isVisible()
    assert not window._autosave_timer.isActive() and not window.job_status.timer.isActive()
    assert not window.transport.timers_active and window.transport.state == "stopped"
    assert player.stream is None  # the stream is closed
    assert not window.bridge._engine.alive
    assert not [t for t in threading.enumerate() if t.name.startswith("cantus") and t.is_alive()]


def test_close_asks_about_unsaved_changes(window):
    push(window.undo_stack, window.document, NoteEdit(0, (), (Note(60, 90, 0, 480),)))
    answers = ["cancel", "discard"]
    asked = []
    window.ask_save_changes = lambda: asked.append(1) or answers.pop(0)
    window.close()
    assert window.isVisible() and window.bridge._engine.alive  # cancelled: nothing stopped
    window.close()
    assert not window.isVisible() and len(asked) == 2


def test_keys_reach_the_window_commands_from_the_editor(window, qtbot, song):
    from PySide6.QtCore import Qt

    window.open_file(song)
    window.activateWindow()
    window.view.setFocus()
    qtbot.waitUntil(lambda: window.view.hasFocus(), timeout=2000)
    qtbot.keyClick(window.view, Qt.Key.Key_M)
    assert window.metronome_action.isChecked() and window.transport.metronome
    qtbot.keyClick(window.view, Qt.Key.Key_L)  # nothing selected: the loop toggles on
    assert window.transport.loop_enabled
    qtbot.keyClick(window.view, Qt.Key.Key_Space)
    assert window.transport.playing
    qtbot.waitUntil(lambda: window.transport.state == "playing", timeout=20000)
    qtbot.keyClick(window.view, Qt.Key.Key_Space)
    assert window.transport.state == "stopped"
    # A name being typed in the track list keeps its letters.
    table = window.track_list.table
    window.track_list.rename(0)
    from PySide6.QtWidgets import QLineEdit

    editor = table.findChild(QLineEdit)
    assert editor is not None and editor.isVisible()
    qtbot.keyClicks(editor, "Ml ")
    assert window.transport.metronome and window.transport.loop_enabled
    assert editor.text().strip().endswith("Ml")
    qtbot.keyClick(editor, Qt.Key.Key_Return)  # the delegate commits on the next event loop turn
    qtbot.waitUntil(lambda: window.sketch.tracks[0].name.endswith("Ml"), timeout=2000)
    assert window.undo_stack.undoText() == "Rename Track"


def test_tool_keys_work_wherever_focus_is_but_not_while_typing(window, qtbot, song):
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QLineEdit

    window.open_file(song)
    window.activateWindow()
    table = window.track_list.table
    window.track_list.select(1)
    table.setFocus()
    qtbot.waitUntil(lambda: table.hasFocus(), timeout=2000)
    assert window.view.tool == "draw"
    qtbot.keyClick(table, Qt.Key.Key_S)
    assert window.view.tool == "select"  # the track list had focus: S still picks the select tool
    qtbot.keyClick(table, Qt.Key.Key_E)
    assert window.view.tool == "erase"
    window.render_panel.renderer.setFocus()  # a panel's list box
    qtbot.keyClick(window.render_panel.renderer, Qt.Key.Key_D)
    assert window.view.tool == "draw"
    window.track_list.rename(0)
    editor = table.findChild(QLineEdit)
    assert editor is not None and editor.isVisible()
    qtbot.keyClicks(editor, "Sed")
    assert window.view.tool == "draw" and editor.text().endswith("Sed")  # typed, not tools
    qtbot.keyClick(editor, Qt.Key.Key_Escape)


def test_help_lists_the_keys_shows_the_guide_and_says_what_runs(window, qtbot):
    rows = window.shortcut_rows()
    assert ("Transport", "Play", "Space") in rows and ("Edit", "Undo", "Ctrl+Z") in [
        (m, c, k.split(", ")[0]) for m, c, k in rows]
    assert any(c == "Draw Tool" and k == "D" for _, c, k in rows)  # the piano roll's keys too
    dialog = window.show_help("shortcuts")
    assert dialog.isVisible() and dialog.windowTitle() == "Keyboard Shortcuts"
    dialog.close()
    guide = window.guide_markdown()
    assert guide.startswith("## The window") and "Transport" in guide and "## Models" not in guide
    about = window.about_text()
    import engine

    assert f"Cantus {engine.__version__}" in about and "PySide6" in about and "Models:" in about
    window.show_help("about").close()
    window.show_help("guide").close()


def test_the_guide_shows_its_pictures_wherever_cantus_is_started(window, monkeypatch, tmp_path):
    from PySide6.QtCore import QUrl
    from PySide6.QtGui import QTextDocument
    from PySide6.QtWidgets import QTextBrowser

    monkeypatch.chdir(tmp_path)  # not the checkout: the pictures' paths are relative
    dialog = window.show_help("guide")
    browser = dialog.findChild(QTextBrowser)
    pictures = [QUrl(name) for name in _image_names(browser.document())]
    assert len(pictures) >= 4
    for url in pictures:
        image = browser.document().resource(QTextDocument.ResourceType.ImageResource, url)
        assert image is not None and not image.isNull(), url.toString()
    dialog.close()


def _image_names(document) -> list[str]:
    """The source of every picture in a rich-text document."""
    from PySide6.QtGui import QTextImageFormat

    block, found = document.begin(), []
    while block.isValid():
        it = block.begin()
        while not it.atEnd():
            fmt = it.fragment().charFormat()
            if fmt.isImageFormat():
                found.append(QTextImageFormat(fmt).name())
            it += 1
        block = block.next()
    return found

"""The main window opens files into its document, shows them, and survives bad files."""

import pytest
from PySide6.QtGui import QKeySequence

import app.main_window as main_window_module
from engine.errors import CantusError

LEAD = [(60, 100, 0, 480), (62, 90, 480, 960), (64, 80, 960, 1440), (67, 110, 1440, 2880),
        (72, 70, 2880, 3360), (71, 64, 3360, 4320)]
BASS = [(36, 100, 0, 1440), (43, 100, 1440, 2880), (38, 100, 2880, 4320)]


@pytest.fixture
def song(write_midi):
    # 4320 ticks at 100 qpm: 3 bars of 3/4, 5.4 s.
    return write_midi("song.mid", {"LEAD": LEAD, "BASS": BASS}, qpm=100, meter=(3, 4))


def test_starts_untitled(window):
    assert window.sketch is None
    assert window.windowTitle() == "Untitled \u2014 Cantus"
    assert window.view.note_rects() == []


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
    by_pitch = sorted(rects, key=lambda r: r[1].pitch)
    ys = [r.y() for _, _, r in by_pitch]
    assert all(a > b for a, b in zip(ys, ys[1:]) if a != b) and ys[0] > ys[-1]  # y falls as pitch rises
    area = window.view.note_area()
    assert all(area.contains(r.center()) for _, _, r in rects)


def test_title_and_status_bar(window, song):
    window.open_file(song)
    assert window.windowTitle() == "song.mid \u2014 0:05 \u2014 Cantus"
    status = window.status_text()
    for part in ("song.mid", "2 tracks, 9 notes", "0:05", "100 BPM", "3/4"):
        assert part in status


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
    assert not window.open_file(path)
    assert window.last_error == (
        "Cantus opens MIDI files (.mid) and sketches (.cantus); 'x.wav' is neither.")
    assert window.sketch is None


def test_unexpected_exception_is_reported_not_raised(window, song, monkeypatch):
    window.open_file(song)
    before = window.sketch

    def explode(path):
        raise ZeroDivisionError("the reader tripped")

    monkeypatch.setattr(main_window_module, "open_any", explode)
    assert not window.open_file(song)
    assert "ZeroDivisionError" in window.last_error and "song.mid" in window.last_error
    assert window.sketch is before


def test_open_and_import_actions_use_the_chosen_file(window, song, monkeypatch):
    asked = []

    def ask(caption, filters):
        asked.append((caption, filters))
        return str(song)

    monkeypatch.setattr(window, "ask_open_path", ask)
    window.open_action.trigger()
    assert window.path == song and asked[-1][0] == "Open"
    assert any("*.cantus" in f for f in asked[-1][1])
    window.set_document(None)
    window.import_midi_action.trigger()
    assert window.path == song and asked[-1][0] == "Import MIDI"
    monkeypatch.setattr(window, "ask_open_path", lambda caption, filters: None)  # cancelled
    window.open_action.trigger()
    assert window.path == song and window.errors == []


def test_shortcuts(window):
    for action, standard, fallback in ((window.open_action, QKeySequence.StandardKey.Open, "Ctrl+O"),
                                       (window.quit_action, QKeySequence.StandardKey.Quit, "Ctrl+Q")):
        shortcuts = action.shortcuts()
        assert QKeySequence(fallback) in shortcuts
        assert all(seq in shortcuts for seq in QKeySequence.keyBindings(standard))
    assert QKeySequence("Ctrl+=") in window.zoom_in_action.shortcuts()
    assert QKeySequence("Ctrl+-") in window.zoom_out_action.shortcuts()
    assert window.fit_action.shortcut() == QKeySequence("Ctrl+0")
    menus = [a.text().replace("&", "") for a in window.menuBar().actions()]
    assert menus == ["File", "View"]


def test_view_actions_zoom_and_fit(window, song):
    window.open_file(song)
    fitted = window.view.px_per_tick
    window.zoom_in_action.trigger()
    assert window.view.px_per_tick > fitted
    window.zoom_out_action.trigger()
    window.zoom_out_action.trigger()
    assert window.view.px_per_tick < fitted
    window.fit_action.trigger()
    assert window.view.px_per_tick == pytest.approx(fitted)


def test_cantus_errors_show_their_own_sentence(window, song, monkeypatch):
    def refuse(path):
        raise CantusError("This sketch was saved by a newer Cantus.")

    monkeypatch.setattr(main_window_module, "open_any", refuse)
    assert not window.open_file(song)
    assert window.last_error == "This sketch was saved by a newer Cantus."


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
    assert window.sound_label.text() == f"Sound: {synth_status()[0]}"
    assert "FluidSynth" in window.sound_label.text() or window.sound_label.toolTip()

"""File commands: save and reopen, unsaved changes asked about, import as one undo step,
MIDI and WAV export, recent files."""

import pytest
import soundfile

from app.commands import push
from engine.document import NoteEdit
from engine.music.files import open_sketch
from engine.music.sketch import Note

LEAD = [(60, 100, 0, 480), (62, 90, 480, 960), (64, 80, 960, 1440), (67, 110, 1440, 1920)]
BASS = [(36, 100, 0, 960), (43, 100, 960, 1920)]


@pytest.fixture
def window(window):
    window.answers = []  # what ask_save_changes answers, in order (then "discard")
    window.asked = []
    window.save_paths = []  # what ask_save_path answers, in order

    def ask_save_changes():
        window.asked.append("save_changes")
        return window.answers.pop(0) if window.answers else "discard"

    def ask_save_path(caption, filters, suggested):
        window.asked.append((caption, suggested))
        return str(window.save_paths.pop(0)) if window.save_paths else None

    window.ask_save_changes = ask_save_changes
    window.ask_save_path = ask_save_path
    return window


@pytest.fixture
def song(write_midi):
    return write_midi("song.mid", {"LEAD": LEAD, "BASS": BASS}, qpm=100, meter=(3, 4))


def draw(window, pitch=72, start=1920, track=0):
    push(window.undo_stack, window.document,
         NoteEdit(track, (), (Note(pitch, 96, start, start + 480),), "Draw Note"))


def test_save_then_reopen_gives_the_same_sketch(window, song, tmp_path):
    assert window.open_file(song)
    draw(window)
    push(window.undo_stack, window.document, window.document.set_track(1, mute=True))  # not in MIDI
    edited = window.sketch.copy()
    target = tmp_path / "mine.cantus"
    assert window.save_as(target)
    assert target.exists() and not window.isWindowModified()
    assert window.windowTitle() == "mine.cantus[*] \u2014 Cantus" and window.path == target
    assert open_sketch(target) == edited
    draw(window, 74, 2400)
    assert window.isWindowModified()
    assert window.save()  # a .cantus document saves in place, without asking
    assert window.asked == []
    saved = window.sketch.copy()
    window.new_action.trigger()
    assert window.sketch.note_count == 0
    assert window.open_file(target)
    assert window.sketch == saved and not window.isWindowModified()


def test_save_of_a_midi_file_asks_for_a_sketch_name(window, song, tmp_path):
    window.open_file(song)
    draw(window)
    window.save_paths = [tmp_path / "song-sketch"]  # no suffix given: .cantus is added
    assert window.save()
    assert window.asked[-1] == ("Save As", str(tmp_path / "song.cantus"))
    assert window.path == tmp_path / "song-sketch.cantus" and not window.isWindowModified()
    assert open_sketch(song) != window.sketch  # the MIDI file was not touched


def test_cancelled_save_as_keeps_everything(window):
    draw(window)
    assert not window.save()  # untitled: asks, and the answer is "cancel"
    assert window.isWindowModified() and window.path is None


def test_new_asks_about_unsaved_changes(window, tmp_path):
    draw(window)
    window.answers = ["cancel"]
    window.new_action.trigger()
    assert window.sketch.note_count == 1 and window.isWindowModified()
    window.answers = ["save"]
    window.save_paths = [tmp_path / "kept.cantus"]
    window.new_action.trigger()
    assert open_sketch(tmp_path / "kept.cantus").note_count == 1
    assert window.sketch.note_count == 0 and window.path is None
    assert not window.isWindowModified() and window.undo_stack.count() == 0
    draw(window)
    window.answers = ["discard"]
    window.new_action.trigger()
    assert window.sketch.note_count == 0
    assert window.asked.count("save_changes") == 3


def test_open_asks_about_unsaved_changes(window, song):
    window.ask_open_path = lambda caption, filters: window.asked.append("open") or str(song)
    window.open_action.trigger()  # nothing to lose: no question
    assert window.path == song and window.asked == ["open"]
    window.asked.clear()
    draw(window)
    window.answers = ["cancel"]
    window.open_action.trigger()
    assert window.asked == ["save_changes"] and window.isWindowModified()  # asked first; cancelled: no file asked for
    assert window.sketch.note_count == len(LEAD) + len(BASS) + 1
    window.answers = ["discard"]
    window.open_action.trigger()
    assert window.asked == ["save_changes", "save_changes", "open"]  # the question, then the file
    assert window.sketch.note_count == len(LEAD) + len(BASS) and not window.isWindowModified()


def test_opening_another_file_clears_the_spectrogram_and_ghosts(window, song, write_midi, qtbot):
    from app.spectrogram_view import EMPTY_CAPTION

    window.open_file(song)
    window.render_panel.set_renderer("builtin")
    handle = window.render_panel.render()
    qtbot.waitUntil(lambda: handle.finished and window.spectrogram.mel is not None, timeout=30_000)
    window.view.set_proposal([Note(70, 90, 0, 480)], owner=window.latent_panel)
    other = write_midi("other.mid", {"STRINGS": [(55, 80, 0, 1920)]}, qpm=90)
    assert window.open_file(other)
    assert window.spectrogram.mel is None and window.spectrogram.caption.text() == EMPTY_CAPTION
    assert window.view.proposal == ()  # the old sketch's offer is gone too


def test_import_midi_adds_the_tracks_as_one_undo_step(window, write_midi):
    draw(window, 60, 0)
    other = write_midi("other.mid", {"STRINGS": [(55, 80, 0, 1920)], "DRUMS": [(64, 90, 0, 240)]},
                       qpm=90)
    window.ask_open_path = lambda caption, filters: str(other)
    steps = window.undo_stack.count()
    window.import_midi_action.trigger()
    assert [t.name for t in window.sketch.tracks] == ["Melody", "STRINGS", "DRUMS"]
    assert window.undo_stack.count() == steps + 1
    assert window.undo_stack.undoText() == "Import other.mid"
    assert window.sketch.qpm == 120  # the sketch keeps its tempo, and says so
    assert "keeps its tempo" in window.statusBar().currentMessage()
    assert window.track_list.current_track() == 1
    window.undo_stack.undo()
    assert [t.name for t in window.sketch.tracks] == ["Melody"] and window.sketch.note_count == 1
    window.undo_stack.redo()
    assert len(window.sketch.tracks) == 3
    assert window.sketch.tracks[1].notes == [Note(55, 80, 0, 1920)]


def test_import_of_a_broken_file_changes_nothing(window, tmp_path):
    bad = tmp_path / "bad.mid"
    bad.write_bytes(b"MThd garbage")
    assert not window.import_midi(bad)
    assert window.errors and "bad.mid" in window.errors[-1][0]
    assert window.undo_stack.count() == 0 and len(window.sketch.tracks) == 1


def test_export_midi_writes_the_sketch_and_keeps_the_document(window, song, tmp_path):
    window.open_file(song)
    draw(window)
    window.save_paths = [tmp_path / "out"]
    window.export_midi_action.trigger()
    out = tmp_path / "out.mid"
    assert out.exists() and window.asked[-1][0] == "Export MIDI"
    exported = open_sketch(out)
    assert [t.notes for t in exported.tracks] == [t.notes for t in window.sketch.tracks]
    assert window.path == song and window.isWindowModified()  # export is not save


def test_export_wav_renders_on_the_engine_thread(window, song, tmp_path, qtbot):
    import threading

    window.open_file(song)
    panel = window.render_panel
    panel.wav_format.setCurrentIndex(panel.wav_format.findText("16-bit, 44.1 kHz (CD)"))  # File > Export WAV uses it
    threads = []
    original = window.bridge.submit

    def spy(fn, **kwargs):
        def wrapped(ctx):
            threads.append(threading.current_thread().name)
            return fn(ctx)
        return original(wrapped, **kwargs)

    window.bridge.submit = spy
    window.save_paths = [tmp_path / "song.wav"]
    window.export_wav_action.trigger()
    out = tmp_path / "song.wav"
    qtbot.waitUntil(lambda: "Exported song.wav" in window.statusBar().currentMessage(),
                    timeout=30000)
    assert threads == ["cantus-engine"]
    info = soundfile.info(str(out))
    assert info.samplerate == 44100 and info.subtype == "PCM_16" and info.channels == 2
    assert window.sketch.duration_s < info.duration < window.sketch.duration_s + 7


def test_export_wav_24_bit_by_argument(window, song, tmp_path, qtbot):
    window.open_file(song)
    handle = window.export_wav(tmp_path / "hi.wav", bits=24, sample_rate=48000)
    qtbot.waitUntil(lambda: handle.finished and not window.bridge.busy, timeout=30000)
    info = soundfile.info(str(tmp_path / "hi.wav"))
    assert info.samplerate == 48000 and info.subtype == "PCM_24"


def test_export_wav_of_an_empty_sketch_says_why(window, tmp_path, qtbot):
    handle = window.export_wav(tmp_path / "empty.wav", bits=16, sample_rate=44100)
    qtbot.waitUntil(lambda: bool(window.errors), timeout=10000)
    assert handle.state.value == "failed" and "no notes" in window.errors[-1][1]
    assert not (tmp_path / "empty.wav").exists()


def test_recent_files(window, song, tmp_path, write_midi):
    other = write_midi("other.mid", {"A": [(60, 90, 0, 480)]})
    window.open_file(song)
    window.open_file(other)
    assert window.recent_files()[:2] == [str(other.resolve()), str(song.resolve())]
    window._fill_recent_menu()
    labels = [a.text() for a in window.recent_menu.actions() if not a.isSeparator()]
    assert labels[:2] == ["&1  other.mid", "&2  song.mid"]
    window.recent_menu.actions()[1].trigger()
    assert window.path == song
    for i in range(12):
        window.open_file(write_midi(f"s{i}.mid", {"A": [(60, 90, 0, 480)]}))
    assert len(window.recent_files()) == 10
    gone = tmp_path / "s11.mid"
    gone.unlink()
    assert not window.open_recent(gone)
    assert str(gone.resolve()) not in window.recent_files()


def test_a_type_2_file_opens_and_says_how_it_was_read(window, tmp_path, type2_midi):
    assert window.open_file(type2_midi(tmp_path / "patterns.mid"))
    assert len(window.sketch.tracks) == 2 and window.errors == []
    assert "one after another" in window.statusBar().currentMessage()

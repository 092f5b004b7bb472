"""GUI test setup: the offscreen platform, MIDI files written on the spot, windows that never block."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before Qt is first imported

import threading
import weakref
from pathlib import Path
from typing import Callable, Sequence

import mido
import pytest

NoteSpec = tuple[int, int, int, int]  # pitch, velocity, start_tick, end_tick


def make_midi_file(path: Path, tracks: dict[str, Sequence[NoteSpec]], qpm: float = 120.0,
                   meter: tuple[int, int] = (4, 4)) -> Path:
    """Write a type 1 MIDI file at 480 ticks per quarter: a conductor track, then one track
    (own channel) per entry of `tracks`."""
    midi = mido.MidiFile(type=1, ticks_per_beat=480)
    conductor = mido.MidiTrack()
    conductor.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(qpm), time=0))
    conductor.append(mido.MetaMessage("time_signature", numerator=meter[0], denominator=meter[1],
                                      time=0))
    midi.tracks.append(conductor)
    for channel, (name, notes) in enumerate(tracks.items()):
        track = mido.MidiTrack()
        track.append(mido.MetaMessage("track_name", name=name, time=0))
        events = []
        for pitch, velocity, start, end in notes:
            # At equal ticks, note-offs sort before note-ons so repeated notes stay apart.
            events.append((start, 1, mido.Message("note_on", note=pitch, velocity=velocity,
                                                  channel=channel)))
            events.append((end, 0, mido.Message("note_off", note=pitch, velocity=0,
                                                channel=channel)))
        now = 0
        for tick, _, message in sorted(events, key=lambda e: (e[0], e[1])):
            track.append(message.copy(time=tick - now))
            now = tick
        midi.tracks.append(track)
    midi.save(str(path))
    return path


@pytest.fixture
def write_midi(tmp_path) -> Callable[..., Path]:
    """write_midi("name.mid", {"TRACK": [(pitch, velocity, start, end), ...]}, qpm=, meter=)."""

    def write(name: str, tracks: dict[str, Sequence[NoteSpec]], **kwargs) -> Path:
        return make_midi_file(tmp_path / name, tracks, **kwargs)

    return write


@pytest.fixture
def window(qtbot, monkeypatch):
    """A shown MainWindow whose error dialogs are recorded in `window.errors` instead of shown."""
    from app.main_window import MainWindow

    win = MainWindow()
    qtbot.addWidget(win)
    win.errors = []
    monkeypatch.setattr(win, "show_error", lambda title, message: win.errors.append((title, message)))
    win.resize(1000, 700)
    win.show()
    qtbot.waitExposed(win)
    return win


@pytest.fixture
def pop909_song(pop909_dir) -> Path:
    return pop909_dir / "001" / "001.mid"


_started_timers: "weakref.WeakSet" = None


def _track_timers() -> None:
    """Note every QTimer started from Python, so that a test leaving one running fails."""
    global _started_timers
    if _started_timers is not None:
        return
    from PySide6.QtCore import QTimer

    _started_timers = weakref.WeakSet()
    start = QTimer.start

    def tracked_start(self, *args):
        _started_timers.add(self)
        return start(self, *args)

    QTimer.start = tracked_start


_track_timers()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item):
    """After every fixture is torn down (qtbot has closed the test's windows), no QTimer a test
    started may still run: a window that closes leaves nothing ticking (as napari's tests check
    for threads)."""
    yield
    import shiboken6

    running = [t for t in list(_started_timers) if shiboken6.isValid(t) and t.isActive()]
    for timer in running:
        timer.stop()  # one test's leak must not fail the next
    _started_timers.clear()
    if running:
        names = ", ".join(f"{t.objectName() or 'unnamed'} ({t.interval()} ms, parent "
                          f"{type(t.parent()).__name__})" for t in running)
        pytest.fail(f"QTimers left running after the test: {names}", pytrace=False)


@pytest.fixture(autouse=True)
def _no_dangling_threads():
    before = set(threading.enumerate())
    yield
    from PySide6.QtCore import QThreadPool

    assert QThreadPool.globalInstance().activeThreadCount() == 0, "a Qt pool thread is still running"
    left = [t for t in threading.enumerate() if t not in before and t.is_alive()]
    assert not left, f"threads left running: {left}"


@pytest.fixture(autouse=True)
def data_dir(tmp_path, monkeypatch):
    """Every GUI test: autosaves, recent files and settings go to this private folder, and the
    dialogs a window may raise at close or start answer at once (discard, do not recover)
    unless a test sets its own answer."""
    monkeypatch.setenv("CANTUS_DATA_DIR", str(tmp_path / "data"))
    from app.main_window import MainWindow

    monkeypatch.setattr(MainWindow, "ask_save_changes", lambda self: "discard")
    monkeypatch.setattr(MainWindow, "ask_recover", lambda self, info: False)
    return tmp_path / "data"

"""The main window: one document (the open sketch) with its undo stack, the editor, the track
list, the transport, menus, a status bar, and autosave so that no sketch is ever lost.

Everything that changes the sketch is an edit pushed on the undo stack, so the window knows
whether the sketch differs from its file (the stack's clean state) and marks the title with
"*". While it differs, a copy is autosaved to the user data folder (engine.autosave) a moment
after each change settles; the next start offers to recover a copy left by a crash.
"""

from __future__ import annotations

import logging
import os
import time
import warnings
from os import PathLike
from pathlib import Path

from PySide6.QtCore import QSettings, Qt, QTimer
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QDragEnterEvent,
    QDropEvent,
    QKeySequence,
    QUndoStack,
)
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDockWidget,
    QFileDialog,
    QFormLayout,
    QFrame,
    QInputDialog,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QProgressBar,
    QScrollArea,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QTextBrowser,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.piano_roll import PianoRollEditor
from app.commands import push
from app.continue_panel import ContinuePanel
from app.document_io import MIDI_FILTERS, OPEN_FILTERS, open_any
from app.engine_bridge import EngineBridge
from app.latent_panel import LatentPanel
from app.recording import MidiRecorder
from app.render_panel import RenderPanel
from app.shortcuts import TextFieldKeys, key_sequences
from app.spectrogram_view import EMPTY_CAPTION, SpectrogramView
from app.track_list import TrackList
from app.transport import (
    METER_DENOMINATORS,
    PLAYING,
    Transport,
    TransportBar,
    meter_edit,
    push_timing,
    tempo_edit,
)
from engine import autosave
from engine.music.meter import bar_beat
from engine.audio.render import render_sketch
from engine.audio.synth import synth_status
from engine.audio.wav import write_wav
from engine.autosave import AutosaveInfo, AutosavePolicy, Autosaver
from engine.document import RESET, AddTrack, Document, EditGroup
from engine.errors import CantusError
from engine.jobs import JobHandle, Progress
from engine.music.files import save_sketch_as
from engine.audio.player import DEFAULT_LATENCY_S
from engine.music.midi_io import MidiReadNote
from engine.music.midi_io import MIDI_SUFFIXES, write_midi
from engine.music.sketch import Sketch, Track
from engine.music.sketch_file import SUFFIX as SKETCH_SUFFIX

log = logging.getLogger(__name__)

APP_NAME = "Cantus"
MAX_RECENT = 10
SAVE_FILTERS = ("Cantus sketches (*.cantus)", "MIDI files (*.mid *.midi)")
MIDI_SAVE_FILTERS = ("MIDI files (*.mid)",)
WAV_FILTERS = ("WAV audio (*.wav)",)
COMMON_METERS = ("4/4", "3/4", "2/4", "6/8", "5/4", "7/8", "9/8", "12/8", "2/2")
BUSY_SHOW_MS = 250  # a job shorter than this never flashes the progress bar
STATUS_MESSAGE_MS = 8000
SOUND_LABEL_PX = 300  # the status bar's Sound field at most this wide (the whole text in its tooltip)


def format_duration(seconds: float) -> str:
    """Seconds as m:ss, rounded to the nearest second (minutes keep counting past 59)."""
    total = max(int(round(seconds)), 0)
    return f"{total // 60}:{total % 60:02d}"


def format_tempo(qpm: float) -> str:
    return f"{qpm:.0f} BPM" if abs(qpm - round(qpm)) < 0.05 else f"{qpm:.1f} BPM"


def _with_suffix(path: str | PathLike[str], suffix: str, accepted: tuple[str, ...] = ()) -> Path:
    """``path`` with ``suffix`` added unless it already ends in it (or in one of ``accepted``)."""
    path = Path(path)
    if path.suffix.lower() in (suffix, *accepted):
        return path
    return path.with_name(path.name + suffix)


class MainWindow(QMainWindow):
    """One document window.

    `open_file(path)` is the one way a file becomes the document (menus, command line, tests).
    Errors go through `show_error` (a dialog; tests replace it) and leave the document as it was;
    the message is kept in `last_error`. Every question to the user is a method tests replace:
    `ask_open_path`, `ask_save_path`, `ask_save_changes`, `ask_recover`,
    `ask_tempo`, `ask_time_signature`.
    """

    AUTOSAVE_SETTLE_S = autosave.SETTLE_S
    AUTOSAVE_MAX_WAIT_S = autosave.MAX_WAIT_S

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("cantus-main-window")
        self.document = Document()
        self.undo_stack = QUndoStack(self)
        self.bridge = EngineBridge(self)
        self.last_error: str | None = None
        self.melody_source: str | None = None
        self._closed = False
        self._exports: dict[JobHandle, tuple[Path, int, int]] = {}
        self.settings = self._make_settings()
        self._last_dir = str(self.settings.value("last_dir", str(Path.home())))

        self.autosaver = Autosaver()
        self.autosave_policy = AutosavePolicy(self.AUTOSAVE_SETTLE_S, self.AUTOSAVE_MAX_WAIT_S)
        self.autosave_error: str | None = None
        self._autosave_timer = QTimer(self)
        self._autosave_timer.setSingleShot(True)
        self._autosave_timer.timeout.connect(self.autosave_now)

        self.editor, self.view = self._make_editor()
        self.setCentralWidget(self.editor)
        self.view.follow_playhead = True
        self.transport = Transport(self.document, self.bridge, self.view, parent=self)
        self.recorder = MidiRecorder(self.document, self.undo_stack, self.transport, self.view, self)

        self._build_actions()
        self.transport_bar = TransportBar(self.document, self.undo_stack, self.transport,
                                          self.play_action, self.loop_action,
                                          self.metronome_action, self.stop_action, self)
        self.transport_bar.add_record_button(self.record_action)
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, self.transport_bar)
        self.track_list = TrackList(self.document, self.undo_stack)
        self.tracks_dock = self._dock("Tracks", "tracks", self.track_list, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.resizeDocks([self.tracks_dock], [350], Qt.Orientation.Horizontal)
        # The model panels are tabs on the right; the spectrogram sits under the piano roll.
        self.latent_panel = LatentPanel(self.document, self.undo_stack, self.bridge, self.view, self.transport)
        self.continue_panel = ContinuePanel(self.document, self.undo_stack, self.bridge, self.view)
        self.render_panel = RenderPanel(self)
        self.spectrogram = SpectrogramView()
        right = Qt.DockWidgetArea.RightDockWidgetArea
        self.latent_dock = self._dock("Latent", "latent", self.latent_panel, right, scroll=True)
        self.continue_dock = self._dock("Continue", "continue", self.continue_panel, right, scroll=True)
        self.render_dock = self._dock("Render", "render", self.render_panel, right, scroll=True)
        self.tabifyDockWidget(self.latent_dock, self.continue_dock)
        self.tabifyDockWidget(self.continue_dock, self.render_dock)
        self.latent_dock.raise_()
        self.spectrogram_dock = self._dock("Spectrogram", "spectrogram", self.spectrogram,
                                           Qt.DockWidgetArea.BottomDockWidgetArea)
        self.spectrogram.setMinimumHeight(90)
        self.resizeDocks([self.spectrogram_dock], [170], Qt.Orientation.Vertical)
        self._mel_job: JobHandle | None = None
        self._build_menus()
        self._build_status_bar()
        self._connect()

        self._apply_saved_output()
        self._apply_saved_midi()
        self._text_keys = TextFieldKeys(self)  # Return in a text field is not Stop
        QApplication.instance().installEventFilter(self._text_keys)
        self.setAcceptDrops(True)
        self.resize(1280, 800)
        self.view.setFocus()  # the editor's keys work from the start
        self.undo_stack.setClean()
        self._update_title()
        self._update_status()

    # -- construction -------------------------------------------------------------------------

    @staticmethod
    def _make_settings() -> QSettings:
        # CANTUS_DATA_DIR keeps every piece of user state (recent files too) in one folder: tests
        # point it at a temporary one and never touch the user's settings.
        root = os.environ.get(autosave.DATA_ENV)
        if root:
            return QSettings(str(Path(root) / "settings.ini"), QSettings.Format.IniFormat)
        return QSettings(APP_NAME, APP_NAME)

    def _dock(self, title: str, name: str, widget: QWidget, area: Qt.DockWidgetArea,
              scroll: bool = False) -> QDockWidget:
        """A movable, closable dock; ``scroll``: in a scroll area, so a tall panel never makes
        the window taller than the screen."""
        dock = QDockWidget(title, self)
        dock.setObjectName(name)
        if scroll:
            area_widget = QScrollArea()
            area_widget.setWidget(widget)
            area_widget.setWidgetResizable(True)
            area_widget.setFrameShape(QFrame.Shape.NoFrame)
            area_widget.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
            widget = area_widget
        dock.setWidget(widget)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                         | QDockWidget.DockWidgetFeature.DockWidgetClosable)
        self.addDockWidget(area, dock)
        return dock

    def _make_editor(self):
        """The piano roll editor (tool bar, view, velocity lane) and its view."""
        editor = PianoRollEditor(self.document, self.undo_stack)
        return editor, editor.view

    def _action(self, text: str, shortcut_name: str | None, slot, status_tip: str,
                checkable: bool = False, toggled: bool = False) -> QAction:
        """toggled: ``slot`` hears every change of the check (setChecked too), not only clicks."""
        action = QAction(text, self)
        if shortcut_name:
            action.setShortcuts(key_sequences(shortcut_name))
        action.setStatusTip(status_tip)
        key = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
        action.setToolTip(f"{status_tip} ({key})" if key else status_tip)
        action.setCheckable(checkable or toggled)
        (action.toggled if toggled else action.triggered).connect(slot)
        self.addAction(action)  # shortcuts work even when the menu bar is hidden
        return action

    def _build_actions(self) -> None:
        a = self._action
        self.new_action = a("&New", "file.new", self.new_document, "Start a new, empty sketch")
        self.open_action = a("&Open\u2026", "file.open", self._open_dialog,
                             "Open a sketch (.cantus) or a MIDI file")
        self.save_action = a("&Save", "file.save", self.save, "Save the sketch")
        self.save_as_action = a("Save &As\u2026", "file.save_as", lambda: self.save_as(),
                                "Save the sketch under a new name")
        self.import_midi_action = a("&Import MIDI\u2026", "file.import_midi",
                                    lambda: self.import_midi(),
                                    "Add the tracks of a MIDI file to this sketch")
        self.export_midi_action = a("Export &MIDI\u2026", "file.export_midi",
                                    lambda: self.export_midi(), "Write the sketch as a MIDI file")
        self.export_wav_action = a("Export &WAV\u2026", "file.export_wav",
                                   lambda: self.export_wav(), "Render the sketch to a WAV file")
        self.quit_action = a("&Quit", "file.quit", self.close, "Quit Cantus")

        self.undo_action = self.undo_stack.createUndoAction(self, "&Undo")
        self.redo_action = self.undo_stack.createRedoAction(self, "&Redo")
        for action, name in ((self.undo_action, "edit.undo"), (self.redo_action, "edit.redo")):
            action.setShortcuts(key_sequences(name))
            self.addAction(action)

        self.zoom_in_action = a("Zoom &In", "view.zoom_in", self.view.zoom_in, "Zoom in on time")
        self.zoom_out_action = a("Zoom &Out", "view.zoom_out", self.view.zoom_out,
                                 "Zoom out on time")
        self.fit_action = a("&Fit to Content", "view.fit", self.view.fit_to_content,
                            "Show the whole sketch and all its notes")
        self.follow_action = a("Follow &Playhead", None, self._follow_toggled,
                               "Scroll the editor with the playhead while playing", checkable=True)
        self.follow_action.setChecked(True)

        self.play_action = a("&Play", "transport.play", self._toggle_play,
                             "Play from the start point (or where it paused), or pause")
        self.stop_action = a("&Stop", "transport.stop", self._stop,
                             "Stop and return to the start point")
        self.loop_action = a("&Loop", "transport.loop", self._loop_toggled,
                             "Loop the loop region (the whole sketch if none is set)",
                             checkable=True)
        self.loop_selection_action = a("Loop &Selection", "transport.loop_selection",
                                       self.loop_selection,
                                       "Loop the selected notes' bars (toggle the loop without "
                                       "a selection)")
        self.metronome_action = a("&Metronome", "transport.metronome",
                                  self.transport.set_metronome,
                                  "Click each beat while playing (louder on the bar)",
                                  checkable=True)
        self.record_action = a("&Record", "transport.record", lambda: self.record(),
                               "Record from the MIDI keyboard into the active track at the start "
                               "point, after a bar of count-in; Stop ends the take",
                               checkable=True)
        self.count_in_action = a("&Count In One Bar", None, self._count_in_toggled,
                                 "Click one bar before a take starts", toggled=True)
        self.quantize_takes_action = a("&Quantize Takes", None, self._quantize_takes_toggled,
                                       "Snap recorded notes to the piano roll's grid", toggled=True)
        self.step_input_action = a("Step &Input", None, self._step_input_toggled,
                                   "Each key on the MIDI keyboard writes a note one grid step long "
                                   "at the start point, then moves on", toggled=True)
        self.step_rest_action = a("Step R&est", "transport.step_rest", self.recorder.step_rest,
                                  "Step input: move on one step without a note")
        self.step_back_action = a("Step &Back", "transport.step_back", self.recorder.step_back,
                                  "Step input: move back one step")
        for action in (self.step_rest_action, self.step_back_action):
            action.setEnabled(False)
        self.tempo_action = a("&Tempo\u2026", "transport.tempo", self._tempo_dialog,
                              "Set the tempo")
        self.meter_action = a("Time Si&gnature\u2026", "transport.time_signature",
                              self._meter_dialog, "Set the time signature")

        self.add_track_action = a("&Add Track", "track.add", lambda: self.track_list.add_track(),
                                  "Add an empty track after the selected one")
        self.remove_track_action = a("&Remove Track", "track.remove",
                                     lambda: self.track_list.remove_track(),
                                     "Remove the selected track")
        self.rename_track_action = a("Re&name Track", "track.rename",
                                     lambda: self._rename_track(), "Rename the selected track")

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        file_menu.addAction(self.new_action)
        file_menu.addAction(self.open_action)
        self.recent_menu = file_menu.addMenu("Open &Recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        self._fill_recent_menu()
        file_menu.addSeparator()
        file_menu.addAction(self.save_action)
        file_menu.addAction(self.save_as_action)
        file_menu.addSeparator()
        file_menu.addAction(self.import_midi_action)
        file_menu.addAction(self.export_midi_action)
        file_menu.addAction(self.export_wav_action)
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)

        self.edit_menu = bar.addMenu("&Edit")
        self.edit_menu.addAction(self.undo_action)
        self.edit_menu.addAction(self.redo_action)
        self.edit_menu.addSeparator()
        self.preferences_action = self.edit_menu.addAction("&Preferences\u2026", self._preferences_dialog)
        self.preferences_action.setMenuRole(QAction.MenuRole.PreferencesRole)
        # The editor's commands keep their own shortcut context (they act while the piano roll
        # has focus, so arrows and letters stay free in the track list); the menu lists them.
        self.edit_menu.addSeparator()
        for action in self.view.edit_actions():
            self.edit_menu.addAction(action)

        view_menu = bar.addMenu("&View")
        view_menu.addAction(self.zoom_in_action)
        view_menu.addAction(self.zoom_out_action)
        view_menu.addAction(self.fit_action)
        view_menu.addSeparator()
        view_menu.addAction(self.follow_action)
        view_menu.addSeparator()
        for widget, text in ((self.tracks_dock, "&Tracks Panel"), (self.latent_dock, "&Latent Panel"),
                             (self.continue_dock, "&Continue Panel"), (self.render_dock, "&Render Panel"),
                             (self.spectrogram_dock, "&Spectrogram"), (self.transport_bar, "T&ransport Bar")):
            toggle = widget.toggleViewAction()
            toggle.setText(text)
            view_menu.addAction(toggle)

        transport_menu = bar.addMenu("&Transport")
        transport_menu.addAction(self.play_action)
        transport_menu.addAction(self.stop_action)
        transport_menu.addSeparator()
        transport_menu.addAction(self.loop_action)
        transport_menu.addAction(self.loop_selection_action)
        transport_menu.addAction(self.metronome_action)
        transport_menu.addSeparator()
        transport_menu.addAction(self.record_action)
        transport_menu.addAction(self.count_in_action)
        transport_menu.addAction(self.quantize_takes_action)
        transport_menu.addAction(self.step_input_action)
        transport_menu.addAction(self.step_rest_action)
        transport_menu.addAction(self.step_back_action)
        self.midi_input_menu = transport_menu.addMenu("MIDI &Input")
        self.midi_input_menu.aboutToShow.connect(self._fill_midi_menu)
        transport_menu.addSeparator()
        transport_menu.addAction(self.tempo_action)
        transport_menu.addAction(self.meter_action)

        track_menu = bar.addMenu("Trac&k")
        track_menu.addAction(self.add_track_action)
        track_menu.addAction(self.remove_track_action)
        track_menu.addAction(self.rename_track_action)

        help_menu = bar.addMenu("&Help")
        self.shortcuts_action = help_menu.addAction("&Keyboard Shortcuts", lambda: self.show_help("shortcuts"))
        self.guide_action = help_menu.addAction("&User Guide", lambda: self.show_help("guide"))
        help_menu.addSeparator()
        self.about_action = help_menu.addAction("&About Cantus", lambda: self.show_help("about"))

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.file_label = QLabel()
        self.tracks_label = QLabel()
        self.length_label = QLabel()
        self.tempo_label = QLabel()
        self.meter_label = QLabel()
        self.sound_label = QLabel()
        bar.addWidget(self.file_label, 1)
        self.job_label = QLabel()
        self.job_progress = QProgressBar()
        self.job_progress.setMaximumWidth(160)
        self.job_progress.setMaximumHeight(14)
        self.job_progress.setTextVisible(False)
        self.job_cancel = QToolButton()
        self.job_cancel.setText("Cancel")
        self.job_cancel.setToolTip("Stop the running job")
        self.job_cancel.clicked.connect(self.bridge.cancel_all)
        for widget in (self.job_label, self.job_progress, self.job_cancel):
            bar.addPermanentWidget(widget)
            widget.hide()
        # Where the models run, said once one has loaded (finding out means importing torch,
        # which the window does not wait for at start).
        self.device_label = QLabel("Models: not loaded yet")
        self.device_label.setToolTip("The models load on first use, on the GPU when there is one")
        for label in (self.tracks_label, self.length_label, self.tempo_label, self.meter_label,
                      self.sound_label, self.device_label):
            label.setContentsMargins(8, 0, 8, 0)
            bar.addPermanentWidget(label)
        # Which synth plays the sketch, and why not FluidSynth when it is missing.
        sound, why_not = synth_status()
        self.sound_label.setText(f"Sound: {sound}")
        self.sound_label.setToolTip(why_not or "General MIDI instruments from the soundfont")
        self._busy_timer = QTimer(self)
        self._busy_timer.setSingleShot(True)
        self._busy_timer.timeout.connect(self._show_job)

    def _connect(self) -> None:
        self.document.subscribe(self._document_changed)
        self.undo_stack.cleanChanged.connect(self._clean_changed)
        self.bridge.busy_changed.connect(self._busy_changed)
        self.bridge.started.connect(self._job_started)
        self.bridge.progress.connect(self._job_progress)
        self.bridge.finished.connect(self._job_finished)
        self.bridge.failed.connect(self._job_failed)
        self.transport.message.connect(self._transport_message)
        self.recorder.message.connect(self._transport_message)
        self.recorder.state_changed.connect(self._recorder_state)
        self.transport.sound_changed.connect(self._show_sound)
        self.transport.state_changed.connect(self._transport_state)
        # A take's song runs on 64 bars past the sketch: its picture would be mostly clicks or
        # silence, and drawing it costs the recording CPU; the next Play draws the sketch.
        self.transport.song_changed.connect(
            lambda rendered: None if self.recorder.recording else self.show_spectrogram(rendered))
        self.transport.song_changed.connect(self._song_device)
        for panel, dock in ((self.latent_panel, self.latent_dock), (self.continue_panel, self.continue_dock)):
            panel.device_known.connect(lambda name: self.device_label.setText(f"Models: {name}"))
            # A panel's ghost notes go with it when another tab (or closing) hides it.
            dock.visibilityChanged.connect(lambda visible, panel=panel: visible or self._hide_ghosts_of(panel))
        self.transport.position_changed.connect(lambda seconds, _tick: self.spectrogram.set_playhead(seconds))
        self.transport.loop_changed.connect(self.loop_action.setChecked)
        self.track_list.track_selected.connect(self.view.set_active_track)
        self.view.active_track_changed.connect(self.track_list.show_active)
        self.view.preview_requested.connect(self.transport.preview)
        self.view.seek_requested.connect(self.transport.seek)
        self.view.loop_region_requested.connect(self._loop_region_requested)

    # -- compatibility views of the document --------------------------------------------------

    @property
    def sketch(self) -> Sketch:
        return self.document.sketch

    @property
    def path(self) -> Path | None:
        return self.document.path

    @property
    def player(self):
        """The Player, once the first play or preview created it (else None)."""
        return self.transport.player

    # -- the document -------------------------------------------------------------------------

    def set_document(self, sketch: Sketch | None, path: str | PathLike[str] | None = None,
                     modified: bool = False) -> None:
        """Make ``sketch`` the document (None: a new empty sketch), with no undo history.

        ``modified`` marks it as differing from ``path`` (a recovered autosave).
        """
        if sketch is None:
            sketch = Sketch.new(tracks=[Track("Melody")])
        if self.recorder.recording:
            self.recorder.drop_take("The take was dropped: another sketch was opened while recording.")
        self.transport.stop()
        self._autosave_timer.stop()
        self.autosave_policy.written()
        self.autosaver.discard()
        self.undo_stack.clear()
        melody = self._find_melody(sketch)
        self.melody_source = melody.source if melody else None
        self.view.set_melody_track(None)
        self.document.reset(sketch, path)
        melody_track = melody.track_index if melody else None
        self.view.set_melody_track(melody_track)
        if modified:
            self.undo_stack.resetClean()
        else:
            self.undo_stack.setClean()
        self.track_list.select(melody_track or 0)  # edit the melody first
        self.view.clear_proposal()  # a model's offer was for the sketch that was
        self._mel_job = None  # a spectrogram on its way is of the sketch that was
        self.spectrogram.set_reference(None)
        self.spectrogram.set_mel(None, EMPTY_CAPTION)
        self._update_title()
        self._update_status()

    def open_file(self, path: str | PathLike[str]) -> bool:
        """Open a .mid/.midi/.cantus file as the document. False (and a dialog) when it fails.

        Does not ask about unsaved changes: the menu commands do that first.
        """
        path = Path(path)
        try:
            with warnings.catch_warnings(record=True) as notes:
                warnings.simplefilter("always", MidiReadNote)
                sketch = open_any(path)
        except CantusError as error:
            self._report_error(f"Could not open {path.name}", str(error))
            return False
        except Exception as error:  # a bug or an unforeseen file; the window must survive it
            log.exception("unexpected error while opening %s", path)
            self._report_error(
                f"Could not open {path.name}",
                f"Cantus could not open '{path.name}' because of an unexpected error "
                f"({type(error).__name__}: {error}).")
            return False
        previous = (self.document.sketch, self.document.path, not self.undo_stack.isClean())
        try:
            self.set_document(sketch, path)
        except Exception as error:
            log.exception("could not show %s", path)
            self.set_document(*previous)
            self._report_error(
                f"Could not open {path.name}",
                f"Cantus read '{path.name}' but could not show it "
                f"({type(error).__name__}: {error}).")
            return False
        self.last_error = None
        self._remember(path)
        said = [str(n.message) for n in notes if issubclass(n.category, MidiReadNote)]
        if said:  # how the file was read, where it is not plain
            self.statusBar().showMessage(" ".join(said), STATUS_MESSAGE_MS)
            self.statusBar().setToolTip(" ".join(said))
        return True

    def _report_error(self, title: str, message: str) -> None:
        self.last_error = message
        self.statusBar().showMessage(title, STATUS_MESSAGE_MS)
        self.show_error(title, message)

    def show_error(self, title: str, message: str) -> None:
        """Show an error to the user in a dialog (tests replace this with a recorder)."""
        QMessageBox.warning(self, title, message)

    @staticmethod
    def _find_melody(sketch: Sketch | None):
        # Only a hint in the status bar: if the extractor is missing or fails, say nothing.
        if sketch is None or not sketch.note_count:
            return None
        try:
            from engine.music.melody import extract_melody

            return extract_melody(sketch)
        except Exception:
            log.debug("melody extraction failed", exc_info=True)
            return None

    def _document_changed(self, change: object) -> None:
        if change is not RESET:
            self._schedule_autosave()
        self._update_status()

    def _clean_changed(self, clean: bool) -> None:
        self.setWindowModified(not clean)
        if clean:  # back to what the file holds: no safety copy needed
            self._autosave_timer.stop()
            self.autosave_policy.written()
            self.autosaver.discard()

    # -- file commands ------------------------------------------------------------------------

    def maybe_save(self) -> bool:
        """Ask about unsaved changes; True when it is fine to drop the document now."""
        if self.recorder.recording:
            self.transport.stop()  # the take goes into the sketch first, and is asked about
        if self.undo_stack.isClean():
            return True
        choice = self.ask_save_changes()
        if choice == "save":
            return self.save()
        return choice == "discard"

    def new_document(self) -> bool:
        if not self.maybe_save():
            return False
        self.set_document(None)
        return True

    def _open_dialog(self) -> None:
        if not self.maybe_save():  # first, as every editor asks: then the file
            return
        path = self.ask_open_path("Open", OPEN_FILTERS)
        if path:
            self.open_file(path)

    def open_recent(self, path: str | PathLike[str]) -> bool:
        path = Path(path)
        if not path.exists():
            self._forget(path)
            self._report_error(f"Could not open {path.name}",
                               f"'{path}' is no longer there; it was removed from the recent "
                               "files.")
            return False
        if not self.maybe_save():
            return False
        return self.open_file(path)

    def save(self) -> bool:
        """Save to the document's .cantus file; a new or MIDI-born sketch asks for a name."""
        path = self.document.path
        if path is None or path.suffix.lower() != SKETCH_SUFFIX:
            return self.save_as()
        return self._write(path)

    def save_as(self, path: str | PathLike[str] | None = None) -> bool:
        if path is None:
            stem = self.document.path.stem if self.document.path else "Untitled"
            folder = self.document.path.parent if self.document.path else Path(self._last_dir)
            suggested = str(folder / (stem + SKETCH_SUFFIX))
            chosen = self.ask_save_path("Save As", SAVE_FILTERS, suggested)
            if not chosen:
                return False
            path = chosen
        return self._write(_with_suffix(path, SKETCH_SUFFIX, MIDI_SUFFIXES))

    def _write(self, path: Path) -> bool:
        try:
            save_sketch_as(self.document.sketch, path)
        except CantusError as error:
            self._report_error(f"Could not save {path.name}", str(error))
            return False
        except OSError as error:
            self._report_error(f"Could not save {path.name}", f"Cannot write '{path}': {error}.")
            return False
        self.document.mark_saved(path)
        self.undo_stack.setClean()
        self.autosave_policy.written()
        self._autosave_timer.stop()
        self.autosaver.discard()
        self._remember(path)
        self._update_title()
        self._update_status()
        self.statusBar().showMessage(f"Saved {path.name}", STATUS_MESSAGE_MS)
        return True

    def import_midi(self, path: str | PathLike[str] | None = None) -> bool:
        """Add every track of a MIDI file (or sketch) to this sketch, as one undo step."""
        if path is None:
            path = self.ask_open_path("Import MIDI", MIDI_FILTERS)
            if not path:
                return False
        path = Path(path)
        try:
            imported = open_any(path)
        except CantusError as error:
            self._report_error(f"Could not import {path.name}", str(error))
            return False
        tracks = [t for t in imported.tracks if t.notes] or imported.tracks
        if not tracks:
            self._report_error(f"Could not import {path.name}", f"'{path.name}' has no tracks.")
            return False
        first = len(self.document.sketch.tracks)
        edits = tuple(AddTrack(first + i, t.copy()) for i, t in enumerate(tracks))
        push(self.undo_stack, self.document, EditGroup(edits, f"Import {path.name}"))
        self.track_list.select(first)
        note = ""
        if abs(imported.qpm - self.document.sketch.qpm) > 0.05:
            note = (f"; the sketch keeps its tempo ({format_tempo(self.document.sketch.qpm)}, "
                    f"the file's is {format_tempo(imported.qpm)})")
        self.statusBar().showMessage(
            f"Imported {len(tracks)} track{'s' if len(tracks) != 1 else ''} from {path.name}{note}",
            STATUS_MESSAGE_MS)
        self._last_dir = str(path.parent)
        return True

    def export_midi(self, path: str | PathLike[str] | None = None) -> bool:
        if path is None:
            path = self.ask_save_path("Export MIDI", MIDI_SAVE_FILTERS, self._suggest(".mid"))
            if not path:
                return False
        path = _with_suffix(path, ".mid", MIDI_SUFFIXES)
        try:
            write_midi(self.document.sketch, path)
        except CantusError as error:
            self._report_error(f"Could not export {path.name}", str(error))
            return False
        self.statusBar().showMessage(f"Exported {path.name}", STATUS_MESSAGE_MS)
        return True

    def export_wav(self, path: str | PathLike[str] | None = None, bits: int | None = None,
                   sample_rate: int | None = None) -> JobHandle | None:
        """Render on the engine thread (progress in the status bar), then write the WAV file.

        Asks for the name when not given; the format is the Render panel's "Export as" unless given.
        Returns the job, or None when cancelled.
        """
        if path is None:
            path = self.ask_save_path("Export WAV", WAV_FILTERS, self._suggest(".wav"))
            if not path:
                return None
        if bits is None or sample_rate is None:  # the Render panel's "Export as"
            chosen_bits, chosen_rate = self.render_panel.wav_format.currentData()
            bits, sample_rate = bits or chosen_bits, sample_rate or chosen_rate
        path = _with_suffix(path, ".wav")
        sketch = self.document.sketch.copy()
        # the render panel's choice
        renderer, soundfont, temperature = self.transport.renderer, self.transport.soundfont, self.transport.temperature

        def export(ctx):
            ctx.progress(None, f"Rendering {path.name}")
            rendered = render_sketch(sketch, renderer, sample_rate, soundfont, temperature=temperature,
                                     progress=lambda f, msg="": ctx.progress(None if f is None else 0.9 * f, msg),
                                     cancel=ctx.check)
            ctx.check()
            ctx.progress(0.9, f"Writing {path.name}")
            write_wav(path, rendered.audio, rendered.sample_rate, bits)
            return rendered.duration_s

        handle = self.bridge.submit(export, name=f"Exporting {path.name}")
        self._exports[handle] = (path, bits, sample_rate)
        return handle

    def _suggest(self, suffix: str) -> str:
        stem = self.document.path.stem if self.document.path else "Untitled"
        return str(Path(self._last_dir) / (stem + suffix))

    # -- recent files -------------------------------------------------------------------------

    def recent_files(self) -> list[str]:
        value = self.settings.value("recent_files", [])
        if isinstance(value, str):
            value = [value]
        return [str(v) for v in (value or [])][:MAX_RECENT]

    def _remember(self, path: Path) -> None:
        path = Path(path).resolve()
        recent = [p for p in self.recent_files() if p != str(path)]
        self.settings.setValue("recent_files", [str(path)] + recent[:MAX_RECENT - 1])
        self._last_dir = str(path.parent)
        self.settings.setValue("last_dir", self._last_dir)

    def _forget(self, path: Path) -> None:
        self.settings.setValue("recent_files",
                               [p for p in self.recent_files() if p != str(Path(path).resolve())])

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        recent = self.recent_files()
        for i, name in enumerate(recent):
            action = self.recent_menu.addAction(f"&{(i + 1) % 10}  {Path(name).name}")
            action.setToolTip(name)
            action.setStatusTip(name)
            action.triggered.connect(lambda _=False, p=name: self.open_recent(p))
        if recent:
            self.recent_menu.addSeparator()
            self.recent_menu.addAction("Clear Recent Files",
                                       lambda: self.settings.setValue("recent_files", []))
        else:
            self.recent_menu.addAction("No recent files").setEnabled(False)

    # -- questions (tests replace these) ------------------------------------------------------

    def ask_open_path(self, caption: str, filters: tuple[str, ...]) -> str | None:
        """Ask the user for a file to open; None when cancelled."""
        path, _ = QFileDialog.getOpenFileName(self, caption, self._last_dir, ";;".join(filters))
        return path or None

    def ask_save_path(self, caption: str, filters: tuple[str, ...], suggested: str) -> str | None:
        """Ask the user for a file name to write; None when cancelled."""
        path, _ = QFileDialog.getSaveFileName(self, caption, suggested, ";;".join(filters))
        return path or None

    def ask_save_changes(self) -> str:
        """"save", "discard" or "cancel" for the unsaved changes of the document."""
        box = QMessageBox(self)
        box.setIcon(QMessageBox.Icon.Warning)
        box.setWindowTitle(APP_NAME)
        box.setText(f"Save the changes to {self.document.name}?")
        box.setInformativeText("Your changes will be lost if you don't save them.")
        box.setStandardButtons(QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard
                               | QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(QMessageBox.StandardButton.Save)
        answer = box.exec()
        return {QMessageBox.StandardButton.Save: "save",
                QMessageBox.StandardButton.Discard: "discard"}.get(
                    QMessageBox.StandardButton(answer), "cancel")

    def ask_recover(self, info: AutosaveInfo) -> bool:
        """Offer an autosave left by a crash; True to recover it (False discards it)."""
        when = time.strftime("%a %d %b, %H:%M", time.localtime(info.saved_at))
        box = QMessageBox(self)
        box.setIcon(QMessageBox.Icon.Question)
        box.setWindowTitle("Recover Sketch")
        box.setText(f"Cantus closed without saving {info.name}.")
        box.setInformativeText(f"A copy was kept on {when}. Recover it?")
        recover = box.addButton("Recover", QMessageBox.ButtonRole.AcceptRole)
        box.addButton("Discard", QMessageBox.ButtonRole.DestructiveRole)
        box.setDefaultButton(recover)
        box.exec()
        return box.clickedButton() is recover

    def ask_tempo(self, qpm: float) -> float | None:
        value, ok = QInputDialog.getDouble(self, "Tempo", "Quarter notes per minute:", qpm,
                                           20.0, 400.0, 1)
        return value if ok else None

    def ask_time_signature(self, current: tuple[int, int]) -> tuple[int, int] | None:
        text = f"{current[0]}/{current[1]}"
        items = [text] + [m for m in COMMON_METERS if m != text]
        chosen, ok = QInputDialog.getItem(self, "Time Signature", "Beats / note value:", items,
                                          0, True)
        if not ok:
            return None
        try:
            numerator, denominator = (int(x) for x in chosen.replace(" ", "").split("/"))
        except ValueError:
            self._report_error("Not a time signature",
                               f"'{chosen}' is not a time signature; write it like 3/4 or 6/8.")
            return None
        return numerator, denominator

    # -- autosave and recovery ----------------------------------------------------------------

    def _schedule_autosave(self) -> None:
        if self._closed:
            return
        delay_s = self.autosave_policy.changed(time.monotonic())
        self._autosave_timer.start(int(delay_s * 1000))

    def autosave_now(self) -> None:
        """Write the safety copy now (the timer calls this once edits settle)."""
        self._autosave_timer.stop()
        self.autosave_policy.written()
        if self._closed:
            return
        if self.undo_stack.isClean():
            self.autosaver.discard()
            return
        if self.autosaver.written_revision == self.document.revision:
            return
        try:
            self.autosaver.write(self.document.sketch, self.document.path, self.document.revision)
        except CantusError as error:
            if self.autosave_error != str(error):  # say it once, not every few seconds
                self.statusBar().showMessage(str(error), STATUS_MESSAGE_MS * 2)
            self.autosave_error = str(error)
            return
        self.autosave_error = None

    def offer_recovery(self) -> bool:
        """Offer the newest autosave left by a crashed session; True when one was recovered.

        Declined copies are deleted; a recovered one opens as modified, with its original path,
        and becomes this session's autosave.
        """
        for info in autosave.find_recoverable():
            if not self.ask_recover(info):
                info.discard()
                continue
            try:
                sketch = info.load()
            except CantusError as error:
                self._report_error("Could not recover the sketch", str(error))
                info.discard()
                continue
            if not self.maybe_save():
                return False
            self.set_document(sketch, info.original_path, modified=True)
            self.autosave_now()  # our own copy first, then the crashed session's goes
            info.discard()
            self.statusBar().showMessage(f"Recovered {info.name}; save it to keep it.",
                                         STATUS_MESSAGE_MS)
            return True
        return False

    # -- transport and tracks -----------------------------------------------------------------

    def _follow_toggled(self, on: bool) -> None:
        self.view.follow_playhead = bool(on)

    def _loop_toggled(self, on: bool) -> None:
        self.transport.set_loop(on)
        self._say_loop()

    def loop_selection(self) -> None:
        """Loop the selection's span; without a selection, turn the loop on or off."""
        region = self.view.selection_range_ticks()
        if region:
            self.transport.set_loop(True, region)
        else:
            self.transport.set_loop(not self.transport.loop_enabled)
        self._say_loop()

    def _loop_region_requested(self, start_tick: int, end_tick: int) -> None:
        self.transport.set_loop(True, (start_tick, end_tick))
        self._say_loop()

    def _say_loop(self) -> None:
        if self.transport.loop_enabled and self.transport.loop_ticks:
            start, end = self.transport.loop_ticks
            sketch = self.document.sketch
            ts = sketch.time_signatures
            a, b = bar_beat(ts, start), bar_beat(ts, max(end - 1, start))
            text = f"Looping bar {a[0]}" if a[0] == b[0] else f"Looping bars {a[0]}\u2013{b[0]}"
        else:
            text = "Loop off"
        self.statusBar().showMessage(text, STATUS_MESSAGE_MS)

    def _tempo_dialog(self) -> None:
        qpm = self.ask_tempo(self.document.sketch.qpm)
        if qpm is not None:
            push_timing(self.undo_stack, self.document, tempo_edit(self.document, qpm))

    def _meter_dialog(self) -> None:
        ts = self.document.sketch.time_signature
        chosen = self.ask_time_signature((ts.numerator, ts.denominator))
        if chosen is None:
            return
        if chosen[0] < 1 or chosen[1] not in METER_DENOMINATORS:
            self._report_error("Not a time signature",
                               f"{chosen[0]}/{chosen[1]} cannot be used: the note value must be "
                               "2, 4, 8 or 16.")
            return
        push_timing(self.undo_stack, self.document, meter_edit(self.document, *chosen))

    def _rename_track(self) -> None:
        self.tracks_dock.show()
        self.track_list.rename()

    def _transport_message(self, text: str) -> None:
        self.statusBar().showMessage(text, STATUS_MESSAGE_MS)
        self.statusBar().setToolTip(text)  # the whole sentence, where the bar is too narrow for it

    def _transport_state(self, state: str) -> None:
        if state == "stopped" and self.statusBar().currentMessage().startswith(PLAYING):
            self.statusBar().clearMessage()  # not "Playing" after Stop

    def _show_sound(self, renderer: str) -> None:
        """Say what plays the song in the status bar's Sound field, shortened to fit."""
        text = f"Sound: {renderer}"
        metrics = self.sound_label.fontMetrics()
        self.sound_label.setText(metrics.elidedText(text, Qt.TextElideMode.ElideMiddle, SOUND_LABEL_PX))
        self.sound_label.setToolTip(text)

    # -- jobs in the status bar ---------------------------------------------------------------

    def _busy_changed(self, busy: bool) -> None:
        if busy:
            if not self.job_progress.isVisible():
                self._busy_timer.start(BUSY_SHOW_MS)
        else:
            self._busy_timer.stop()
            for widget in (self.job_label, self.job_progress, self.job_cancel):
                widget.hide()

    def _show_job(self) -> None:
        if self.bridge.busy and not self._closed:
            for widget in (self.job_label, self.job_progress, self.job_cancel):
                widget.show()

    def _job_started(self, handle: JobHandle) -> None:
        self.job_label.setText(f"{handle.name}\u2026")
        self.job_progress.setRange(0, 0)  # busy until it says how far it is

    def _job_progress(self, handle: JobHandle, progress: Progress) -> None:
        if progress.message:
            self.job_label.setText(progress.message + "\u2026")
        if progress.fraction is None:
            self.job_progress.setRange(0, 0)
        else:
            self.job_progress.setRange(0, 1000)
            self.job_progress.setValue(int(1000 * min(max(progress.fraction, 0.0), 1.0)))

    # -- preferences ----------------------------------------------------------------------------

    def _apply_saved_output(self) -> None:
        device = self.settings.value("audio/device", "") or None
        latency_ms = float(self.settings.value("audio/latency_ms", DEFAULT_LATENCY_S * 1000))
        self.transport.set_output(device, latency_ms / 1000)

    def choose_output(self, device: str | None, latency_ms: float) -> str | None:
        """Play through ``device`` (None: the default) with this latency, remembered for the next
        start. Returns the sentence saying why the default plays instead, if it must."""
        said = self.transport.set_output(device, latency_ms / 1000)
        self.settings.setValue("audio/device", self.transport.output_device or "")  # only one that opened
        self.settings.setValue("audio/latency_ms", float(latency_ms))
        self.statusBar().showMessage(said or f"Sound output: {device or 'the default'}, "
                                            f"{latency_ms:.0f} ms latency", STATUS_MESSAGE_MS)
        return said

    def ask_audio_output(self, current: str | None, latency_ms: float) -> tuple[str | None, float] | None:
        """The Preferences dialog: (device name or None for the default, latency in ms), or None."""
        from engine.audio.player import list_output_devices

        dialog = QDialog(self)
        dialog.setWindowTitle("Preferences")
        form = QFormLayout(dialog)
        devices = QComboBox()
        devices.addItem("The system's default output", None)
        try:
            for d in list_output_devices(rescan=self.transport.player is None):
                devices.addItem(f"{d.name} ({d.host_api})", d.name)
        except CantusError as error:
            devices.setToolTip(str(error))
        index = devices.findData(current)
        devices.setCurrentIndex(max(index, 0))
        latency = QSpinBox()
        latency.setRange(5, 500)
        latency.setSuffix(" ms")
        latency.setValue(int(round(latency_ms)))
        latency.setToolTip("Longer is safer from dropouts while a model runs; shorter feels more immediate")
        form.addRow("Sound output", devices)
        form.addRow("Latency", latency)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(dialog.accept)
        buttons.rejected.connect(dialog.reject)
        form.addRow(buttons)
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return None
        return devices.currentData(), float(latency.value())

    # -- MIDI input and recording ----------------------------------------------------------------

    def _apply_saved_midi(self) -> None:
        self.count_in_action.setChecked(self.settings.value("midi/count_in", True, type=bool))
        self.quantize_takes_action.setChecked(self.settings.value("midi/quantize", False, type=bool))
        self.recorder.count_in = self.count_in_action.isChecked()
        self.recorder.quantize = self.quantize_takes_action.isChecked()
        label = self.settings.value("midi/input", "") or ""
        if label:
            said = self.recorder.open_input(label)  # a keyboard not plugged in today stays chosen
            if said:
                log.info("MIDI input not opened: %s", said)

    def choose_midi_input(self, label: str | None) -> str | None:
        """Listen to the MIDI input ``label`` (None: none), remembered for the next start.
        Returns the sentence saying why it could not be opened, if it could not."""
        said = self.recorder.open_input(label)
        self.settings.setValue("midi/input", self.recorder.input.label if self.recorder.input else "")
        self.statusBar().showMessage(said or (f"MIDI input: {label}" if label else "No MIDI input"),
                                     STATUS_MESSAGE_MS)
        return said

    def _fill_midi_menu(self) -> None:
        menu = self.midi_input_menu
        menu.clear()
        current = self.recorder.input.label if self.recorder.input else None
        none = menu.addAction("None", lambda: self.choose_midi_input(None))
        none.setCheckable(True)
        none.setChecked(current is None)
        ports = self.recorder.ports()
        for port in ports:
            action = menu.addAction(port.label, lambda label=port.label: self.choose_midi_input(label))
            action.setCheckable(True)
            action.setChecked(port.label == current)
        if not ports:
            empty = menu.addAction("No MIDI keyboard is connected")
            empty.setEnabled(False)

    def record(self) -> bool:
        """Record, or end the take being recorded."""
        recorder = self.recorder
        if recorder.recording:
            recorder.toggle_record()
            return False
        if recorder.input is None:
            self.record_action.setChecked(False)
            what = "Choose a MIDI keyboard first (Transport \u25b8 MIDI Input)."
            if not recorder.ports():
                what = "No MIDI keyboard is connected: plug one in, then choose it in Transport \u25b8 MIDI Input."
            self.statusBar().showMessage(what, STATUS_MESSAGE_MS)
            return False
        started = recorder.record()
        self.record_action.setChecked(started)
        return started

    def _toggle_play(self) -> None:
        if self.recorder.counting_in:  # Space before the count-in sounds: no take after all
            self.recorder.toggle_record()
        else:
            self.transport.toggle_play()

    def _stop(self) -> None:
        if self.recorder.counting_in:
            self.recorder.toggle_record()
        else:
            self.transport.stop()

    def _recorder_state(self, state: str) -> None:
        self.record_action.setChecked(state != "off")

    def _count_in_toggled(self, on: bool) -> None:
        self.recorder.count_in = bool(on)
        self.settings.setValue("midi/count_in", bool(on))

    def _quantize_takes_toggled(self, on: bool) -> None:
        self.recorder.quantize = bool(on)
        self.settings.setValue("midi/quantize", bool(on))

    def _step_input_toggled(self, on: bool) -> None:
        self.recorder.set_step_input(on)
        for action in (self.step_rest_action, self.step_back_action):
            action.setEnabled(bool(on))

    def _preferences_dialog(self) -> None:
        answer = self.ask_audio_output(self.transport.output_device, self.transport.latency_s * 1000)
        if answer is not None:
            self.choose_output(*answer)

    # -- help -----------------------------------------------------------------------------------

    def shortcut_rows(self) -> list[tuple[str, str, str]]:
        """(menu or "Piano roll", command, keys) for every command that has a key, from the
        actions themselves: what the Keyboard Shortcuts window lists."""
        rows = []
        for menu in self.menuBar().findChildren(QMenu):
            title = menu.title().replace("&", "")
            for action in menu.actions():
                keys = ", ".join(k.toString(QKeySequence.SequenceFormat.NativeText) for k in action.shortcuts())
                if keys and not action.isSeparator():
                    rows.append((title, action.text().replace("&", "").rstrip("\u2026"), keys))
        return rows

    def about_text(self) -> str:
        """Versions, and where the models run (said without loading torch when none has run)."""
        import platform
        import sys

        import PySide6
        from PySide6 import QtCore

        import engine

        torch = sys.modules.get("torch")
        lines = [f"Cantus {engine.__version__}: a sketchbook for melodies, with generative models.",
                 f"Python {platform.python_version()}, PySide6 {PySide6.__version__} (Qt {QtCore.qVersion()})"
                 + (f", PyTorch {torch.__version__}" if torch else ""),
                 self.device_label.text() + ("" if torch else " (PyTorch loads with the first model)"),
                 self.sound_label.toolTip() if self.sound_label.toolTip().startswith("Sound") else self.sound_label.text(),
                 "Every model was trained by Cantus's own code; each bundle's CARD.md says on what and how."]
        return "\n".join(lines)

    def guide_markdown(self) -> str:
        """The README's user guide (its "The window" and "Sound" parts), or a sentence where the
        README is not beside the program."""
        readme = Path(__file__).resolve().parents[1] / "README.md"
        try:
            text = readme.read_text(encoding="utf-8")
        except OSError:
            return "The user guide (README.md) is not installed with this copy of Cantus."
        start = text.find("## The window")
        end = text.find("## Models")
        return text[start:end if end > start else None] if start >= 0 else text

    def show_help(self, kind: str) -> QDialog:
        """Open the Keyboard Shortcuts, User Guide or About window (not modal); returns it."""
        dialog = QDialog(self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        layout = QVBoxLayout(dialog)
        if kind == "shortcuts":
            dialog.setWindowTitle("Keyboard Shortcuts")
            rows = self.shortcut_rows()
            table = QTableWidget(len(rows), 3)
            table.setHorizontalHeaderLabels(["Menu", "Command", "Keys"])
            for r, row in enumerate(rows):
                for c, text in enumerate(row):
                    table.setItem(r, c, QTableWidgetItem(text))
            table.resizeColumnsToContents()
            table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
            layout.addWidget(table)
            dialog.resize(560, 600)
        elif kind == "guide":
            dialog.setWindowTitle("Cantus User Guide")
            browser = QTextBrowser()
            browser.setMarkdown(self.guide_markdown())
            layout.addWidget(browser)
            dialog.resize(760, 700)
        else:
            dialog.setWindowTitle("About Cantus")
            label = QLabel(self.about_text())
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            label.setWordWrap(True)
            layout.addWidget(label)
        dialog.show()
        return dialog

    def _hide_ghosts_of(self, panel) -> None:
        if self.view.proposal_owner is panel:
            self.view.clear_proposal()

    def _song_device(self, rendered) -> None:
        if getattr(rendered, "device", None):  # a neural render: its models are loaded now
            self.device_label.setText(f"Models: {rendered.device}")

    def show_spectrogram(self, rendered) -> JobHandle:
        """Compute the mel spectrogram of rendered audio on the engine thread, then show it.

        A neural render shows the mel its model made; with "Compare with the synth" ticked in the
        Render panel, the soundfont synth's render of the same notes is drawn below it."""
        audio, rate, source = rendered.audio, rendered.sample_rate, rendered.renderer
        compare = rendered.mel is not None and self.render_panel.compare.isChecked()
        sketch = self.transport.song_sketch

        def mel(_ctx):
            from engine.audio.mel import MEL, log_mel_of

            main = rendered.mel if rendered.mel is not None else log_mel_of(audio, rate)
            reference = None
            if compare and sketch is not None:
                synth = render_sketch(sketch, "synth", MEL.sample_rate)
                reference = log_mel_of(synth.audio, synth.sample_rate)
            return main, reference

        self._mel_job = self.bridge.submit(mel, key="spectrogram", name="Drawing the spectrogram")
        self._mel_caption = f"{source}, {len(audio) / rate:.1f} s"
        if compare:
            self._mel_caption += "; below: the soundfont synth's render of the same notes"
        return self._mel_job

    def _job_finished(self, handle: JobHandle) -> None:
        if handle is self._mel_job:
            self._mel_job = None
            mel, reference = handle.result
            self.spectrogram.set_mel(mel, self._mel_caption)
            self.spectrogram.set_reference(reference, "Soundfont synth" if reference is not None else "")
            return
        export = self._exports.pop(handle, None)
        if export is not None:
            path, bits, rate = export
            self.statusBar().showMessage(
                f"Exported {path.name} ({format_duration(handle.result)}, {bits}-bit, "
                f"{rate / 1000:g} kHz)", STATUS_MESSAGE_MS)

    def _job_failed(self, handle: JobHandle, message: str) -> None:
        export = self._exports.pop(handle, None)
        if export is not None:
            self._report_error(f"Could not export {export[0].name}", message)

    # -- title and status ---------------------------------------------------------------------

    def document_name(self) -> str:
        return self.document.name

    def _update_title(self) -> None:
        self.setWindowTitle(f"{self.document_name()}[*] \u2014 {APP_NAME}")
        self.setWindowModified(not self.undo_stack.isClean())

    def _update_status(self) -> None:
        sketch = self.document.sketch
        file_text = self.document_name()
        if self.melody_source:
            file_text += f"  \u00b7  melody: {self.melody_source}"
        self.file_label.setText(file_text)
        n_tracks, n_notes = len(sketch.tracks), sketch.note_count
        self.tracks_label.setText(f"{n_tracks} track{'s' if n_tracks != 1 else ''}, "
                                  f"{n_notes:,} note{'s' if n_notes != 1 else ''}")
        self.length_label.setText(format_duration(sketch.duration_s))
        tempo = format_tempo(sketch.qpm)
        if len({t.qpm for t in sketch.tempos}) > 1:
            tempo += " (changes)"
        self.tempo_label.setText(tempo)
        ts = sketch.time_signature
        meter = f"{ts.numerator}/{ts.denominator}"
        if len(sketch.time_signatures) > 1:
            meter += " (changes)"
        self.meter_label.setText(meter)

    def status_text(self) -> str:
        """Everything the status bar says, in one line (for tests and logs)."""
        parts = [self.file_label.text(), self.tracks_label.text(), self.length_label.text(),
                 self.tempo_label.text(), self.meter_label.text()]
        return "  |  ".join(p for p in parts if p)

    # -- drag and drop ------------------------------------------------------------------------

    def _dropped_path(self, event) -> Path | None:
        urls = event.mimeData().urls() if event.mimeData().hasUrls() else []
        for url in urls:
            path = Path(url.toLocalFile())
            if path.suffix.lower() in (*MIDI_SUFFIXES, SKETCH_SUFFIX):
                return path
        return None

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 - Qt's name
        if self._dropped_path(event) is not None:
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 - Qt's name
        path = self._dropped_path(event)
        if path is not None and self.maybe_save():
            event.acceptProposedAction()
            self.open_file(path)

    # -- closing ------------------------------------------------------------------------------

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt's name
        if not self._closed and not self.maybe_save():
            event.ignore()
            return
        self.shutdown()
        event.accept()

    def shutdown(self) -> None:
        """Stop timers, playback and the engine thread; remove the autosave. Idempotent."""
        if self._closed:
            return
        self._closed = True
        QApplication.instance().removeEventFilter(self._text_keys)
        self._autosave_timer.stop()
        self._busy_timer.stop()
        self.recorder.close()
        self.transport.close()
        self.bridge.cancel_all()
        self.bridge.shutdown()
        self.autosaver.discard()
        self.document.unsubscribe(self._document_changed)
        self.track_list.close_list()
        self.transport_bar.close_bar()
        self.settings.sync()

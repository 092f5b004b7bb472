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
import warnings
from os import PathLike
from pathlib import Path

from PySide6.QtCore import QSettings, Qt, QTimer
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent, QUndoStack
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QFrame,
    QLabel,
    QMainWindow,
    QMessageBox,
    QScrollArea,
    QWidget,
)

from app.piano_roll import PianoRollEditor
from app.continue_panel import ContinuePanel
from app.document_io import open_any
from app.engine_bridge import EngineBridge
from app.job_status import JobStatus
from app.latent_panel import LatentPanel
from app.recording import MidiRecorder
from app.render_panel import RenderPanel
from app.shortcuts import TextFieldKeys
from app.spectrogram_view import EMPTY_CAPTION, SpectrogramView
from app.track_list import TrackList
from app.timing import METER_DENOMINATORS, meter_edit, push_timing, tempo_edit
from app.transport import PLAYING, Transport
from app.transport_bar import TransportBar
from app.window_dialogs import APP_NAME, Questions
from app.window_files import STATUS_MESSAGE_MS, FileCommands, format_tempo
from app.window_menus import build_actions, build_menus
from engine import autosave
from engine.music.meter import bar_beat
from engine.audio.render import render_sketch
from engine.audio.synth import synth_status
from engine.autosave import AutosavePolicy, Autosaver
from engine.document import RESET, Document
from engine.errors import CantusError
from engine.jobs import JobHandle
from engine.audio.player import DEFAULT_LATENCY_S
from engine.music.midi_io import MIDI_SUFFIXES, MidiReadNote
from engine.music.sketch import Sketch, Track
from engine.music.sketch_file import SUFFIX as SKETCH_SUFFIX

log = logging.getLogger(__name__)

SOUND_LABEL_PX = 300  # the status bar's Sound field at most this wide (the whole text in its tooltip)


def format_duration(seconds: float) -> str:
    """Seconds as m:ss, rounded to the nearest second (minutes keep counting past 59)."""
    total = max(int(round(seconds)), 0)
    return f"{total // 60}:{total % 60:02d}"


class MainWindow(FileCommands, Questions, QMainWindow):
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

    def _build_actions(self) -> None:
        build_actions(self)

    def _build_menus(self) -> None:
        build_menus(self)

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.file_label = QLabel()
        self.tracks_label = QLabel()
        self.length_label = QLabel()
        self.tempo_label = QLabel()
        self.meter_label = QLabel()
        self.sound_label = QLabel()
        bar.addWidget(self.file_label, 1)
        self.job_status = JobStatus(bar, self.bridge)
        self.job_label, self.job_progress, self.job_cancel = (
            self.job_status.label, self.job_status.progress, self.job_status.cancel)
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

    def _connect(self) -> None:
        self.document.subscribe(self._document_changed)
        self.undo_stack.cleanChanged.connect(self._clean_changed)
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
        self.job_status.close()
        self.recorder.close()
        self.transport.close()
        self.bridge.cancel_all()
        self.bridge.shutdown()
        self.autosaver.discard()
        self.document.unsubscribe(self._document_changed)
        self.track_list.close_list()
        self.transport_bar.close_bar()
        self.settings.sync()

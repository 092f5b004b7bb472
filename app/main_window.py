"""The main window: holds the open sketch (the document), its menus, the piano roll and a status bar."""

from __future__ import annotations

import logging
from os import PathLike
from pathlib import Path

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QFileDialog, QLabel, QMainWindow, QMessageBox, QWidget

from app.document_io import MIDI_FILTERS, OPEN_FILTERS, open_any
from app.piano_roll import PianoRollView
from app.shortcuts import key_sequences
from engine.audio.synth import synth_status
from engine.errors import CantusError
from engine.music.sketch import Sketch

log = logging.getLogger(__name__)

APP_NAME = "Cantus"


def format_duration(seconds: float) -> str:
    """Seconds as m:ss, rounded to the nearest second (minutes keep counting past 59)."""
    total = max(int(round(seconds)), 0)
    return f"{total // 60}:{total % 60:02d}"


def format_tempo(qpm: float) -> str:
    return f"{qpm:.0f} BPM" if abs(qpm - round(qpm)) < 0.05 else f"{qpm:.1f} BPM"


class MainWindow(QMainWindow):
    """One document window. `sketch` is the document; the piano roll draws it and owns nothing.

    `open_file(path)` is the one way a file gets in (menus, command line, tests). An error while
    opening goes through `show_error` (a dialog; tests replace it) and leaves the previous
    document in place; its message is kept in `last_error`.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.sketch: Sketch | None = None
        self.path: Path | None = None
        self.last_error: str | None = None
        self.melody_source: str | None = None
        self._last_dir = str(Path.home())

        self.view = PianoRollView(parent=self)
        self.setCentralWidget(self.view)
        self._build_actions()
        self._build_menus()
        self._build_status_bar()
        self.resize(1280, 800)
        self._update_title()
        self._update_status()

    # -- construction -------------------------------------------------------------------------

    def _action(self, text: str, shortcut_name: str, slot, status_tip: str) -> QAction:
        action = QAction(text, self)
        action.setShortcuts(key_sequences(shortcut_name))
        action.setStatusTip(status_tip)
        action.triggered.connect(slot)
        self.addAction(action)  # shortcuts work even when the menu bar is hidden
        return action

    def _build_actions(self) -> None:
        self.open_action = self._action("&Open\u2026", "file.open", self._open_dialog,
                                        "Open a sketch (.cantus) or a MIDI file")
        self.import_midi_action = self._action("&Import MIDI\u2026", "file.import_midi",
                                               self._import_midi_dialog,
                                               "Start a sketch from a MIDI file")
        self.quit_action = self._action("&Quit", "file.quit", self.close, "Quit Cantus")
        self.zoom_in_action = self._action("Zoom &In", "view.zoom_in", self.view.zoom_in,
                                           "Zoom in on time")
        self.zoom_out_action = self._action("Zoom &Out", "view.zoom_out", self.view.zoom_out,
                                            "Zoom out on time")
        self.fit_action = self._action("&Fit to Content", "view.fit", self.view.fit_to_content,
                                       "Show the whole sketch and all its notes")

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        file_menu.addAction(self.open_action)
        file_menu.addAction(self.import_midi_action)
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)
        view_menu = self.menuBar().addMenu("&View")
        view_menu.addAction(self.zoom_in_action)
        view_menu.addAction(self.zoom_out_action)
        view_menu.addSeparator()
        view_menu.addAction(self.fit_action)

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.file_label = QLabel()
        self.tracks_label = QLabel()
        self.length_label = QLabel()
        self.tempo_label = QLabel()
        self.meter_label = QLabel()
        self.sound_label = QLabel()
        bar.addWidget(self.file_label, 1)
        for label in (self.tracks_label, self.length_label, self.tempo_label, self.meter_label,
                      self.sound_label):
            label.setContentsMargins(8, 0, 8, 0)
            bar.addPermanentWidget(label)
        # Which synth plays the sketch, and why not FluidSynth when it is missing.
        sound, why_not = synth_status()
        self.sound_label.setText(f"Sound: {sound}")
        self.sound_label.setToolTip(why_not or "General MIDI instruments from the soundfont")

    # -- the document -------------------------------------------------------------------------

    def set_document(self, sketch: Sketch | None, path: str | PathLike[str] | None = None) -> None:
        """Make `sketch` the open document (None for an empty window) and show it."""
        self.sketch = sketch
        self.path = Path(path) if path is not None else None
        melody = self._find_melody(sketch)
        self.melody_source = melody.source if melody else None
        self.view.set_sketch(sketch, melody_track=melody.track_index if melody else None)
        self._update_title()
        self._update_status()

    def open_file(self, path: str | PathLike[str]) -> bool:
        """Open a .mid/.midi/.cantus file as the document. False (and a dialog) when it fails."""
        path = Path(path)
        try:
            sketch = open_any(path)
        except CantusError as error:
            self._report_open_error(path, str(error))
            return False
        except Exception as error:  # a bug or an unforeseen file; the window must survive it
            log.exception("unexpected error while opening %s", path)
            self._report_open_error(
                path, f"Cantus could not open '{path.name}' because of an unexpected error "
                      f"({type(error).__name__}: {error}).")
            return False
        previous = (self.sketch, self.path)
        try:
            self.set_document(sketch, path)
        except Exception as error:
            log.exception("could not show %s", path)
            self.set_document(*previous)
            self._report_open_error(
                path, f"Cantus read '{path.name}' but could not show it "
                      f"({type(error).__name__}: {error}).")
            return False
        self.last_error = None
        self._last_dir = str(path.parent)
        return True

    def _report_open_error(self, path: Path, message: str) -> None:
        self.last_error = message
        self.statusBar().showMessage(f"Could not open {path.name}", 8000)
        self.show_error(f"Could not open {path.name}", message)

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

    # -- dialogs ------------------------------------------------------------------------------

    def ask_open_path(self, caption: str, filters: tuple[str, ...]) -> str | None:
        """Ask the user for a file to open; None when cancelled. Tests replace this."""
        path, _ = QFileDialog.getOpenFileName(self, caption, self._last_dir, ";;".join(filters))
        return path or None

    def _open_dialog(self) -> None:
        path = self.ask_open_path("Open", OPEN_FILTERS)
        if path:
            self.open_file(path)

    def _import_midi_dialog(self) -> None:
        path = self.ask_open_path("Import MIDI", MIDI_FILTERS)
        if path:
            self.open_file(path)

    # -- title and status ---------------------------------------------------------------------

    def document_name(self) -> str:
        return self.path.name if self.path else "Untitled"

    def _update_title(self) -> None:
        if self.sketch is None:
            self.setWindowTitle(f"Untitled \u2014 {APP_NAME}")
        else:
            self.setWindowTitle(f"{self.document_name()} \u2014 "
                                f"{format_duration(self.sketch.duration_s)} \u2014 {APP_NAME}")

    def _update_status(self) -> None:
        sketch = self.sketch
        if sketch is None:
            self.file_label.setText("No sketch open")
            for label in (self.tracks_label, self.length_label, self.tempo_label, self.meter_label):
                label.setText("")
            return
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

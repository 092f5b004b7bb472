"""The main window's file commands: new, open, open recent, save, save as, import and export
(MIDI, WAV), the recent files, and the autosave that keeps a changed sketch safe until it is saved.

A mixin of `app.main_window.MainWindow`: it works on the window's document, undo stack, settings
and status bar, and asks through the window's ``ask_*`` methods (tests replace them).
"""

from __future__ import annotations

import time
from os import PathLike
from pathlib import Path

from PySide6.QtWidgets import QFileDialog

from app.commands import push
from app.document_io import MIDI_FILTERS, OPEN_FILTERS, open_any
from engine import autosave
from engine.audio.render import render_sketch
from engine.audio.wav import write_wav
from engine.document import AddTrack, EditGroup
from engine.errors import CantusError
from engine.jobs import JobHandle
from engine.music.files import save_sketch_as
from engine.music.midi_io import MIDI_SUFFIXES, write_midi
from engine.music.sketch_file import SUFFIX as SKETCH_SUFFIX

MAX_RECENT = 10
SAVE_FILTERS = ("Cantus sketches (*.cantus)", "MIDI files (*.mid *.midi)")
MIDI_SAVE_FILTERS = ("MIDI files (*.mid)",)
WAV_FILTERS = ("WAV audio (*.wav)",)
STATUS_MESSAGE_MS = 8000


def format_tempo(qpm: float) -> str:
    return f"{qpm:.0f} BPM" if abs(qpm - round(qpm)) < 0.05 else f"{qpm:.1f} BPM"


def _with_suffix(path: str | PathLike[str], suffix: str, accepted: tuple[str, ...] = ()) -> Path:
    """``path`` with ``suffix`` added unless it already ends in it (or in one of ``accepted``)."""
    path = Path(path)
    if path.suffix.lower() in (suffix, *accepted):
        return path
    return path.with_name(path.name + suffix)


class FileCommands:
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

    # -- where to read and write (tests replace these) -----------------------------------------

    def ask_open_path(self, caption: str, filters: tuple[str, ...]) -> str | None:
        """Ask the user for a file to open; None when cancelled."""
        path, _ = QFileDialog.getOpenFileName(self, caption, self._last_dir, ";;".join(filters))
        return path or None

    def ask_save_path(self, caption: str, filters: tuple[str, ...], suggested: str) -> str | None:
        """Ask the user for a file name to write; None when cancelled."""
        path, _ = QFileDialog.getSaveFileName(self, caption, suggested, ";;".join(filters))
        return path or None

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

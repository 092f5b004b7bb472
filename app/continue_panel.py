"""The Continue panel: the Music Transformer carries a phrase on, and the notes appear as they
are sampled.

With notes selected, the selection is the phrase to carry on; with none, the whole sketch up to
the end of the active track. The continuation starts at the next bar line. It streams in as
ghost notes (the piano roll stays editable, playback goes on), Cancel stops it at once and
leaves the document as it was, and when it ends it is applied as one undo step: a new track, or
notes added to the active track. Regenerate takes the last continuation back and samples again.

Every model call runs on the engine thread; the model loads there at first use. A model that is
missing or fails to load disables the panel with the reason, and the rest of the window works.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from PySide6.QtGui import QUndoStack, QValidator
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.commands import push
from app.engine_bridge import EngineBridge
from app.panel_parts import SEED_MAX, ModelPanel, seed_controls, unique_track_name
from engine.document import AddTrack, Document, NoteEdit
from engine.generate.requests import Continue, ContinueOutcome
from engine.jobs import JobHandle
from engine.music.key import NAMES, Key
from engine.music.melody import phrase_mode
from engine.music.meter import bar_line_at_or_after
from engine.music.sketch import Note, Sketch, Track, pitch_name

MODEL = "music-transformer"


def key_choices() -> list[tuple[str, str | None]]:
    """(label, key argument) for the key menu: detect, off, then the 24 keys."""
    out: list[tuple[str, str | None]] = [("Detect from the sketch", "auto"), ("Off (any note)", None)]
    for minor in (False, True):
        for tonic, name in enumerate(NAMES):
            out.append((f"{name} {'minor' if minor else 'major'}", Key(tonic, minor).name))
    return out


def key_label(key: Key | None) -> str:
    if key is None:
        return "no key lock"
    return f"{NAMES[key.tonic]} {'minor' if key.minor else 'major'}"


class PitchSpinBox(QSpinBox):
    """A MIDI pitch shown and typed as a note name (C4 is middle C)."""

    def __init__(self, value: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setRange(0, 127)
        self.setValue(value)

    def textFromValue(self, value: int) -> str:  # noqa: N802 (Qt's name)
        return pitch_name(value)

    def valueFromText(self, text: str) -> int:  # noqa: N802
        value = parse_pitch(text)
        return self.value() if value is None else value

    def validate(self, text: str, pos: int):
        ok = parse_pitch(text) is not None
        return (QValidator.State.Acceptable if ok else QValidator.State.Intermediate), text, pos


def parse_pitch(text: str) -> int | None:
    """"C4", "f#3", "Eb5" or a MIDI number; None if it is neither."""
    text = text.strip()
    if text.isdigit():
        return int(text) if 0 <= int(text) <= 127 else None
    import pretty_midi

    try:
        pitch = pretty_midi.note_name_to_number(text)
    except ValueError:
        return None
    return pitch if 0 <= pitch <= 127 else None


@dataclass(frozen=True)
class Placement:
    """Where the panel puts the notes that come back: a new track, or the active one."""

    into_new_track: bool
    track: int


class ContinuePanel(ModelPanel):
    def __init__(self, document: Document, undo_stack: QUndoStack, bridge: EngineBridge, view,
                 parent: QWidget | None = None) -> None:
        super().__init__(document, undo_stack, bridge, view, MODEL, "The Music Transformer",
                         "continuation is off", parent)
        self.setObjectName("continue-panel")
        self._job: JobHandle | None = None
        self._request: Continue | None = None  # the request last sent, and where its notes go
        self._placement: Placement | None = None
        self._streamed: list[Note] = []
        self._last_command = None  # the undo command of the last continuation applied
        self.last_outcome: ContinueOutcome | None = None

        self.length = QDoubleSpinBox()
        self.length.setRange(0.25, 64.0)
        self.length.setSingleStep(1.0)
        self.length.setDecimals(2)
        self.length.setValue(4.0)
        self.unit = QComboBox()
        self.unit.addItems(["bars", "seconds"])
        length_row = QHBoxLayout()
        length_row.addWidget(self.length, 1)
        length_row.addWidget(self.unit)

        self.temperature = QDoubleSpinBox()
        self.temperature.setRange(0.1, 2.0)
        self.temperature.setSingleStep(0.05)
        self.temperature.setValue(1.0)
        self.temperature.setToolTip("Lower: safer and more repetitive. Higher: more surprising.")
        self.top_p = QDoubleSpinBox()
        self.top_p.setRange(0.5, 1.0)
        self.top_p.setSingleStep(0.01)
        self.top_p.setValue(0.95)
        self.top_p.setToolTip("Only the most likely events that together make up this share of the "
                              "probability are ever chosen: lower cuts off unlikely notes.")

        self.key = QComboBox()
        for label, value in key_choices():
            self.key.addItem(label, value)
        self.key.setToolTip("Only notes of this scale are played (the minor scale includes the leading tone)")

        self.limit_range = QCheckBox("Limit to")
        self.low = PitchSpinBox(48)
        self.high = PitchSpinBox(84)
        for box in (self.low, self.high):
            box.setEnabled(False)
        self.limit_range.toggled.connect(self.low.setEnabled)
        self.limit_range.toggled.connect(self.high.setEnabled)
        range_row = QHBoxLayout()
        range_row.addWidget(self.limit_range)
        range_row.addWidget(self.low)
        range_row.addWidget(QLabel("to"))
        range_row.addWidget(self.high)

        self.into = QComboBox()
        self.into.addItem("a new track", True)
        self.into.addItem("the active track", False)

        self.mode = QComboBox()
        for label, value in (("Auto", "auto"), ("Melody", "melody"), ("Piano", "piano")):
            self.mode.addItem(label, value)
        self.mode.setToolTip("Melody: one note at a time, in the phrase's register and dynamics. "
                             "Piano: chords and several voices. Auto picks from the phrase")
        self.mode_shown = QLabel()  # what Auto picks for the phrase now
        self.mode_shown.setStyleSheet("color: #9aa1ae;")
        mode_row = QHBoxLayout()
        mode_row.addWidget(self.mode, 1)
        mode_row.addWidget(self.mode_shown)
        self.max_notes = QSpinBox()
        self.max_notes.setRange(0, 16)
        self.max_notes.setSpecialValueText("as the mode says")
        self.max_notes.setToolTip("The most notes sounding at once (a melody: one)")
        self.snap = QCheckBox("Snap to the roll's grid")
        self.snap.setChecked(True)
        self.snap.setToolTip("Land the notes on the piano roll's grid (no note is lost); on by default "
                             "for a melody, off for piano, where the timing breathes")
        self.mode.currentIndexChanged.connect(self._mode_changed)
        for signal in (getattr(view, "selection_changed", None), getattr(view, "active_track_changed", None)):
            if signal is not None:
                signal.connect(self._show_mode)

        self.seed, self.lock_seed, seed_row = seed_controls()

        form = QFormLayout()
        form.addRow("Mode", mode_row)
        form.addRow("Notes at once", self.max_notes)
        form.addRow("", self.snap)
        form.addRow("Length", length_row)
        form.addRow("Temperature", self.temperature)
        form.addRow("Top-p", self.top_p)
        form.addRow("Key", self.key)
        form.addRow("Pitch range", range_row)
        form.addRow("Put it in", self.into)
        form.addRow("Seed", seed_row)

        self.continue_button = QPushButton("Continue")
        self.continue_button.setToolTip("Carry the selection (or the active track) on from the next bar line")
        self.continue_button.setDefault(True)
        self.continue_button.clicked.connect(self.start)
        self.regenerate_button = QPushButton("Regenerate")
        self.regenerate_button.setToolTip("Take the last continuation back and try again")
        self.regenerate_button.clicked.connect(self.regenerate)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel)
        buttons = QHBoxLayout()
        for b in (self.continue_button, self.regenerate_button, self.cancel_button):
            buttons.addWidget(b)

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.status)
        layout.addStretch(1)

        undo_stack.indexChanged.connect(self._undo_moved)
        self.check_model("Select a phrase, or leave the selection empty to continue the "
                         "active track, then press Continue.")
        self._sync()

    # -- state ---------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._job is not None

    def _can_regenerate(self) -> bool:
        if self._last_command is None:
            return False
        try:
            index = self.undo_stack.index()
            return index > 0 and self.undo_stack.command(index - 1) is self._last_command
        except RuntimeError:  # the window is closing and the undo stack is gone
            return False

    def _undo_moved(self, _index: int) -> None:
        if self._last_command is not None:
            self._sync()

    def _sync(self) -> None:
        ok = self.model_error is None
        for w in (self.length, self.unit, self.temperature, self.top_p, self.key, self.limit_range,
                  self.into, self.seed, self.lock_seed, self.mode, self.max_notes, self.snap):
            w.setEnabled(ok and not self.running)
        for w in (self.low, self.high):
            w.setEnabled(ok and not self.running and self.limit_range.isChecked())
        self.continue_button.setEnabled(ok and not self.running)
        self.regenerate_button.setEnabled(ok and not self.running and self._can_regenerate())
        self.cancel_button.setEnabled(self.running)

    # -- the request ---------------------------------------------------------------------------

    def _phrase(self) -> tuple[Sketch, int, int]:
        """(the phrase to carry on, the tick it goes on from, the active track): the selection
        alone, or the whole sketch after the active track's end. The document's own sketch when
        nothing is selected: copy it before it leaves the GUI thread."""
        sketch = self.document.sketch
        active = max(0, min(self.view.active_track, len(sketch.tracks) - 1)) if sketch.tracks else 0
        selected = list(self.view.selected_notes())
        if selected:
            program = sketch.tracks[active].program if sketch.tracks else 0
            phrase = Sketch([Track("Selection", program, False, sorted(selected))],
                            list(sketch.tempos), list(sketch.time_signatures))
            end = max(n.end_tick for n in selected)
        else:
            phrase = sketch
            track = sketch.tracks[active] if sketch.tracks else None
            end = track.end_tick if track is not None and track.notes else sketch.end_tick
        return phrase, bar_line_at_or_after(phrase.time_signatures, end), active  # as Continuer.start_of

    def request(self) -> Continue:
        """The phrase and the choices, read from the window now."""
        phrase, start, active = self._phrase()
        if self.unit.currentText() == "bars":
            bars, seconds = float(self.length.value()), None
        else:
            bars, seconds = None, float(self.length.value())
        low, high = sorted((self.low.value(), self.high.value()))
        mode = phrase_mode(phrase, start, self.mode.currentData())
        grid = getattr(self.view, "grid", "off")
        return Continue(sketch=phrase.copy(), start_tick=start, bars=bars, seconds=seconds,
                        temperature=float(self.temperature.value()), top_p=float(self.top_p.value()),
                        key=self.key.currentData(), pitch_range=(low, high) if self.limit_range.isChecked() else None,
                        seed=int(self.seed.value()), mode=mode, max_polyphony=self.max_notes.value() or None,
                        snap=grid if self.snap.isChecked() and grid != "off" else None, model=MODEL)

    def _mode_changed(self, _index: int = 0) -> None:
        """Snap follows the mode (on for a melody, off for piano) until the user sets it."""
        self.snap.setChecked(self.mode.currentData() != "piano")
        self._show_mode()

    def _show_mode(self, *_args) -> str:
        """What Auto picks for the phrase now, shown beside the choice."""
        if self.mode.currentData() != "auto":
            self.mode_shown.setText("")
            return self.mode.currentData()
        phrase, start, _ = self._phrase()
        picked = phrase_mode(phrase, start)
        self.mode_shown.setText(f"({picked})")
        return picked

    # -- actions -------------------------------------------------------------------------------

    def start(self) -> JobHandle | None:
        """Continue with the current choices; the notes stream in as ghosts."""
        if self.model_error is not None or self.running:
            return None
        if not self.lock_seed.isChecked() and self.last_outcome is not None:
            self.seed.setValue(random.randint(0, SEED_MAX))  # a fresh take each time unless locked
        self._request = request = self.request()
        self._placement = Placement(bool(self.into.currentData()), self._phrase()[2])
        self._streamed = []
        self.view.clear_proposal()
        self._job = self.bridge.submit(request.run, key="continue", name="Continuing the phrase",
                                       on_partial=self._partial, on_done=self._finished,
                                       on_failed=self._failed, on_cancelled=self._cancelled)
        self.status.setText("Continuing…")
        self._sync()
        return self._job

    def regenerate(self) -> JobHandle | None:
        """Take the last continuation back (if it is still the last edit) and sample again."""
        if not self._can_regenerate() or self.running:
            return None
        self.undo_stack.undo()
        if self.lock_seed.isChecked():
            self.seed.setValue((self.seed.value() + 1) % SEED_MAX)
        else:
            self.seed.setValue(random.randint(0, SEED_MAX))
        self.last_outcome = None
        return self.start()

    def cancel(self) -> None:
        if self._job is not None:
            self._job.cancel()

    # -- back on the GUI thread ----------------------------------------------------------------

    def _partial(self, handle: JobHandle, notes) -> None:
        self._streamed += list(notes)
        self.view.set_proposal(self._streamed, owner=self)
        self.status.setText(f"Continuing… {len(self._streamed)} notes so far")

    def _finished(self, handle: JobHandle) -> None:
        self._job = None
        self.view.clear_proposal()
        outcome: ContinueOutcome = handle.result
        self.last_outcome = outcome
        self.device_known.emit(outcome.device)
        key = key_label(outcome.key)
        if not outcome.notes:
            self.status.setText(f"The model wrote no notes this time ({key}); try again or raise the temperature.")
            self._sync()
            return
        request = self._placement
        sketch = self.document.sketch
        if request.into_new_track or not sketch.tracks:
            program = sketch.tracks[request.track].program if sketch.tracks else 0
            name = unique_track_name("Continue", (t.name for t in sketch.tracks))
            edit = AddTrack(len(sketch.tracks), Track(name, program, False, list(outcome.notes)), label="Continue")
        else:
            track = min(request.track, len(sketch.tracks) - 1)
            existing = set(sketch.tracks[track].notes)
            edit = NoteEdit(track, (), tuple(n for n in outcome.notes if n not in existing), label="Continue")
        push(self.undo_stack, self.document, edit, "Continue")
        if isinstance(edit, AddTrack):
            self.view.set_active_track(edit.index)  # the new track is the one being worked on
        self._last_command = self.undo_stack.command(self.undo_stack.index() - 1)
        self.status.setText(f"Added {len(outcome.notes)} notes ({outcome.mode}) in {key}, seed {outcome.seed}. "
                            "Undo takes them back; Regenerate tries again.")
        self._sync()
        self.applied.emit(len(outcome.notes))

    def _failed(self, handle: JobHandle, message: str) -> None:
        self._job = None
        self.view.clear_proposal()
        self.job_failed(message, loaded=self._request is not None and self._request.loaded)
        self._sync()

    def _cancelled(self, handle: JobHandle) -> None:
        self._job = None
        self.view.clear_proposal()
        self.status.setText("Cancelled; nothing was changed.")
        self._sync()

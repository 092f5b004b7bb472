"""Key bindings as data: one table from action name to key sequences, standard keys where Qt has one."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QAbstractSpinBox, QApplication, QLineEdit, QPlainTextEdit, QTextEdit

StandardKey = QKeySequence.StandardKey

# Each action lists its bindings, the first being the one menus show. Strings are portable
# sequences ("Ctrl" is Cmd on macOS); StandardKey entries follow the platform's conventions, but
# some platforms (the offscreen one, bare window managers) bind none, hence a string after them.
SHORTCUTS: dict[str, tuple[str | QKeySequence.StandardKey, ...]] = {
    "file.new": (StandardKey.New, "Ctrl+N"),
    "file.open": (StandardKey.Open, "Ctrl+O"),
    "file.save": (StandardKey.Save, "Ctrl+S"),
    "file.save_as": (StandardKey.SaveAs, "Ctrl+Shift+S"),
    "file.export_midi": ("Ctrl+E",),
    "file.export_wav": ("Ctrl+Shift+E",),
    "file.import_midi": ("Ctrl+Shift+I",),
    "file.quit": (StandardKey.Quit, "Ctrl+Q"),
    "edit.undo": (StandardKey.Undo, "Ctrl+Z"),
    "edit.redo": (StandardKey.Redo, "Ctrl+Shift+Z"),
    "transport.play": ("Space",),
    "transport.stop": ("Return", "Enter", "Home"),
    "transport.loop": ("Ctrl+L",),
    "transport.loop_selection": ("L",),
    "transport.metronome": ("M",),
    "transport.record": ("R",),
    "transport.step_rest": ("Shift+Right",),
    "transport.step_back": ("Shift+Left",),
    "transport.tempo": ("Ctrl+T",),
    "transport.time_signature": ("Ctrl+Shift+T",),
    "track.add": ("Ctrl+Shift+N",),
    "track.remove": ("Ctrl+Shift+Del",),
    "track.rename": ("F2",),
    "view.zoom_in": ("Ctrl+=", StandardKey.ZoomIn),
    "view.zoom_out": ("Ctrl+-", StandardKey.ZoomOut),
    "view.fit": ("Ctrl+0",),
    # The piano roll's editing keys (app/piano_roll/actions.py); they act while the roll has focus.
    "edit.cut": (StandardKey.Cut, "Ctrl+X"),
    "edit.copy": (StandardKey.Copy, "Ctrl+C"),
    "edit.paste": (StandardKey.Paste, "Ctrl+V"),
    "edit.duplicate": ("Ctrl+D",),
    "edit.delete": (StandardKey.Delete, "Del", "Backspace"),
    "edit.select_all": (StandardKey.SelectAll, "Ctrl+A"),
    "edit.select_none": ("Escape", StandardKey.Deselect),
    "edit.transpose_up": ("Up",),
    "edit.transpose_down": ("Down",),
    "edit.octave_up": ("Shift+Up",),
    "edit.octave_down": ("Shift+Down",),
    "edit.nudge_left": ("Left",),
    "edit.nudge_right": ("Right",),
    "edit.quantize": ("Q",),
    "edit.velocity": ("V",),
    "tool.draw": ("D",),
    "tool.select": ("S",),
    "tool.erase": ("E",),
    "grid.finer": ("Ctrl+1",),
    "grid.coarser": ("Ctrl+2",),
    "grid.triplets": ("Ctrl+3",),
    "grid.snap": ("Ctrl+4",),
}


def key_sequences(action_name: str) -> list[QKeySequence]:
    """The bindings of one action as QKeySequences, without empties or duplicates."""
    sequences: list[QKeySequence] = []
    for entry in SHORTCUTS.get(action_name, ()):
        if isinstance(entry, str):
            candidates = [QKeySequence(entry)]
        else:
            candidates = QKeySequence.keyBindings(entry)
        for seq in candidates:
            if not seq.isEmpty() and seq not in sequences:
                sequences.append(seq)
    return sequences


class TextFieldKeys(QObject):
    """An application event filter: Return and Enter belong to a text field being typed in (a
    track's name, the tempo box), never to a window shortcut such as Stop. Qt lets a line edit
    claim the letters it types, but not these keys."""

    KEYS = (Qt.Key.Key_Return, Qt.Key.Key_Enter)

    def eventFilter(self, watched, event) -> bool:  # noqa: N802 - Qt's name
        if event.type() == QEvent.Type.ShortcutOverride and event.key() in self.KEYS:
            focus = QApplication.focusWidget()
            if isinstance(focus, (QLineEdit, QAbstractSpinBox, QTextEdit, QPlainTextEdit)):
                event.accept()  # delivered to the field as a key press, not as a shortcut
        return False

"""Key bindings as data: one table from action name to key sequences, standard keys where Qt has one."""

from __future__ import annotations

from PySide6.QtGui import QKeySequence

StandardKey = QKeySequence.StandardKey

# Each action lists its bindings, the first being the one menus show. Strings are portable
# sequences ("Ctrl" is Cmd on macOS); StandardKey entries follow the platform's conventions, but
# some platforms (the offscreen one, bare window managers) bind none, hence a string after them.
SHORTCUTS: dict[str, tuple[str | QKeySequence.StandardKey, ...]] = {
    "file.open": (StandardKey.Open, "Ctrl+O"),
    "file.import_midi": ("Ctrl+Shift+I",),
    "file.quit": (StandardKey.Quit, "Ctrl+Q"),
    "view.zoom_in": ("Ctrl+=", StandardKey.ZoomIn),
    "view.zoom_out": ("Ctrl+-", StandardKey.ZoomOut),
    "view.fit": ("Ctrl+0",),
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

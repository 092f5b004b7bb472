"""Tempo and time signature as undoable edits: the edits themselves, and an undo command under
which quick successive changes of one kind are one step (clicking a spin box's arrow five times
is one gesture)."""

from __future__ import annotations

import time

from PySide6.QtGui import QUndoStack

from app.commands import EditCommand
from engine.document import Document, EditGroup, TimingEdit
from engine.errors import CantusError
from engine.music.sketch import TempoChange, TimeSignature

MIN_QPM, MAX_QPM = 20.0, 400.0
METER_DENOMINATORS = (2, 4, 8, 16)


def tempo_edit(document: Document, qpm: float) -> TimingEdit | None:
    """Set the opening tempo (later tempo changes stay); None when nothing changes."""
    qpm = min(max(float(qpm), MIN_QPM), MAX_QPM)
    tempos, meters = document.timing()
    if abs(tempos[0].qpm - qpm) < 1e-9:
        return None
    new = (TempoChange(0, qpm),) + tempos[1:]
    return TimingEdit((tempos, meters), (new, meters), "Set Tempo")


def meter_edit(document: Document, numerator: int, denominator: int) -> TimingEdit | None:
    """Set the opening time signature (later changes stay); None when nothing changes."""
    if numerator < 1 or denominator not in METER_DENOMINATORS:
        raise CantusError(f"{numerator}/{denominator} is not a time signature Cantus can use.")
    tempos, meters = document.timing()
    if (meters[0].numerator, meters[0].denominator) == (numerator, denominator):
        return None
    new = (TimeSignature(0, numerator, denominator),) + meters[1:]
    return TimingEdit((tempos, meters), (tempos, new), "Set Time Signature")


class TimingCommand(EditCommand):
    """A tempo or meter change; changes of the same kind within MERGE_S merge into one step
    (clicking a spin box's arrow five times is one gesture)."""

    MERGE_S = 1.5
    _ID = 0x7E40

    def __init__(self, document: Document, edit: TimingEdit) -> None:
        super().__init__(document, edit)
        self.at = time.monotonic()

    def id(self) -> int:  # noqa: A003 - Qt's name
        return self._ID

    def mergeWith(self, other) -> bool:  # noqa: N802 - Qt's name
        if not isinstance(other, TimingCommand) or other.edit.label != self.edit.label:
            return False
        if other.at - self.at > self.MERGE_S:
            return False
        self.edit = TimingEdit(self.edit.before, other.edit.after, self.edit.label)
        self.at = other.at
        if self.edit.before == self.edit.after:
            self.setObsolete(True)  # back where it started: the stack drops the step
        return True


def push_timing(stack: QUndoStack, document: Document, edit: TimingEdit | None) -> None:
    if edit is not None:
        stack.push(TimingCommand(document, edit))


def touches_timing(change: object) -> bool:
    """Whether a document change moves a tempo or a time signature."""
    if isinstance(change, TimingEdit):
        return True
    if isinstance(change, EditGroup):
        return any(touches_timing(e) for e in change.edits)
    return False

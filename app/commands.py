"""Undo for the document: each gesture is one QUndoCommand that applies an engine edit."""

from __future__ import annotations

from PySide6.QtGui import QUndoCommand, QUndoStack

from engine.document import Document, Edit


class EditCommand(QUndoCommand):
    """redo applies the edit, undo applies its inverse; the text is the edit's label."""

    def __init__(self, document: Document, edit: Edit, text: str | None = None) -> None:
        super().__init__(text or getattr(edit, "label", "Edit"))
        self.document = document
        self.edit = edit

    def redo(self) -> None:
        self.document.apply(self.edit)

    def undo(self) -> None:
        self.document.apply(self.edit.inverse())


def push(stack: QUndoStack, document: Document, edit: Edit, text: str | None = None) -> None:
    """Apply ``edit`` as one undo step (QUndoStack.push runs redo once)."""
    stack.push(EditCommand(document, edit, text))

from PySide6.QtGui import QUndoStack

from app.commands import push
from engine.document import Document, NoteEdit
from engine.music.sketch import Note, Sketch, Track


def test_undo_stack_drives_the_document_and_knows_the_saved_state(qtbot):
    doc = Document(Sketch.new(tracks=[Track("t")]))
    stack = QUndoStack()
    stack.setClean()
    push(stack, doc, NoteEdit(0, (), (Note(60, 80, 0, 480),), "Draw Note"))
    push(stack, doc, NoteEdit(0, (Note(60, 80, 0, 480),), (Note(62, 80, 0, 480),), "Transpose"))
    assert doc.sketch.tracks[0].notes == [Note(62, 80, 0, 480)]
    assert stack.undoText() == "Transpose" and not stack.isClean()
    stack.undo()
    stack.undo()
    assert doc.sketch.tracks[0].notes == [] and stack.isClean()
    stack.redo()
    assert doc.sketch.tracks[0].notes == [Note(60, 80, 0, 480)]

"""Opening a document from disk: picks the reader by file suffix and says plainly what went wrong."""

from __future__ import annotations

from os import PathLike

from engine.music.files import open_sketch
from engine.music.sketch import Sketch

# Filters for file dialogs, the first being the default.
OPEN_FILTERS = (
    "Sketches and MIDI files (*.cantus *.mid *.midi)",
    "MIDI files (*.mid *.midi)",
    "Cantus sketches (*.cantus)",
    "All files (*)",
)
MIDI_FILTERS = ("MIDI files (*.mid *.midi)", "All files (*)")


def open_any(path: str | PathLike[str]) -> Sketch:
    """Read a MIDI file (.mid, .midi) or a Cantus sketch (.cantus) into a Sketch.

    Raises CantusError (MidiFileError, SketchFileError) with a sentence for the user when the
    file is missing, of another kind, or broken.
    """
    return open_sketch(path)

"""Open and save a sketch by file name: MIDI (.mid, .midi) or a Cantus sketch (.cantus)."""

from __future__ import annotations

import os
from pathlib import Path

from engine.errors import CantusError
from engine.music.midi_io import MIDI_SUFFIXES, read_midi, write_midi
from engine.music.sketch import Sketch
from engine.music.sketch_file import SUFFIX as SKETCH_SUFFIX
from engine.music.sketch_file import load_sketch, save_sketch

SUFFIXES = MIDI_SUFFIXES + (SKETCH_SUFFIX,)


def open_sketch(path: str | os.PathLike) -> Sketch:
    """Read a MIDI file or a .cantus sketch; `CantusError` with a plain sentence otherwise."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in MIDI_SUFFIXES:
        return read_midi(path)
    if suffix == SKETCH_SUFFIX:
        return load_sketch(path)
    raise CantusError(
        f"Cantus opens MIDI files (.mid) and sketches (.cantus); '{path.name}' is neither.")


def save_sketch_as(sketch: Sketch, path: str | os.PathLike) -> Path:
    """Write MIDI or a .cantus sketch by the name's suffix, atomically."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in MIDI_SUFFIXES:
        return write_midi(sketch, path)
    if suffix == SKETCH_SUFFIX:
        return save_sketch(sketch, path)
    raise CantusError(
        f"Cantus writes MIDI files (.mid) and sketches (.cantus); '{path.name}' is neither.")

"""open_any: the reader is picked by suffix, and every failure is a sentence for the user."""

import pytest

from app.document_io import open_any
from engine.errors import CantusError, MidiFileError
from engine.music.sketch import Note, Sketch, Track
from engine.music.sketch_file import save_sketch


def test_other_suffix_is_refused_with_a_plain_sentence(tmp_path):
    path = tmp_path / "x.wav"
    path.write_bytes(b"RIFF")
    with pytest.raises(CantusError) as info:
        open_any(path)
    assert str(info.value) == (
        "Cantus opens MIDI files (.mid) and sketches (.cantus); 'x.wav' is neither.")


def test_missing_file(tmp_path):
    with pytest.raises(CantusError, match="'gone.mid' does not exist"):
        open_any(tmp_path / "gone.mid")


def test_midi_file_is_read(write_midi):
    path = write_midi("tune.MID", {"LEAD": [(60, 100, 0, 480), (64, 90, 480, 960)]})
    sketch = open_any(path)
    notes = [n for t in sketch.tracks for n in t.notes]
    assert sorted((n.pitch, n.start_tick, n.end_tick) for n in notes) == [(60, 0, 480), (64, 480, 960)]


def test_broken_midi_is_a_midi_file_error(tmp_path):
    path = tmp_path / "broken.mid"
    path.write_bytes(b"MThd" + bytes(range(40)))
    with pytest.raises(MidiFileError):
        open_any(path)


def test_sketch_file_is_read(tmp_path):
    sketch = Sketch.new(96, (3, 4), [Track("LEAD", 0, False, [Note(67, 80, 0, 240)])])
    path = save_sketch(sketch, tmp_path / "idea.cantus")
    assert open_any(path) == sketch

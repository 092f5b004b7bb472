import json
import os

import pytest

from engine.errors import SketchFileError
from engine.music.sketch import Note, Sketch, TempoChange, TimeSignature, Track
from engine.music.sketch_file import VERSION, dumps, load_sketch, save_sketch


def _sketch():
    return Sketch(
        [Track("Lead", 81, False, [Note(72, 100, 0, 240), Note(74, 90, 240, 480)]),
         Track("", 0, True, [Note(36, 127, 0, 120)]), Track("Empty", 5, False, [])],
        [TempoChange(0, 87.5), TempoChange(960, 120.0)],
        [TimeSignature(0, 6, 8), TimeSignature(1440, 4, 4)])


def test_save_and_load_keep_everything(tmp_path):
    s = _sketch()
    path = save_sketch(s, tmp_path / "idea.cantus")
    assert load_sketch(path) == s
    data = json.loads(path.read_text())
    assert data["format"] == "cantus-sketch" and data["version"] == VERSION
    assert os.listdir(tmp_path) == ["idea.cantus"]


@pytest.mark.parametrize("text, phrase", [
    ("", "damaged"),
    ('{"format": "cantus-sketch", "version": 1, "tracks": [{"notes": [[60, 80, 10, 5]]}]', "damaged"),
    ('{"format": "cantus-sketch", "version": 1, "tracks": [{"notes": [[60, 80, 10, 5]]}]}', "damaged"),
    ('{"format": "cantus-sketch", "version": 1, "tracks": [{"notes": [["x"]]}]}', "damaged"),
    ('{"format": "something-else"}', "not a Cantus sketch"),
    ('[1, 2, 3]', "not a Cantus sketch"),
    ('{"format": "cantus-sketch", "version": 99}', "newer Cantus"),
])
def test_damaged_sketches_raise_clearly(tmp_path, text, phrase):
    path = tmp_path / "bad.cantus"
    path.write_text(text)
    with pytest.raises(SketchFileError, match=phrase):
        load_sketch(path)


def test_binary_and_missing(tmp_path):
    path = tmp_path / "bin.cantus"
    path.write_bytes(b"\xff\xfe\x00\x81")
    with pytest.raises(SketchFileError, match="not a Cantus sketch"):
        load_sketch(path)
    with pytest.raises(SketchFileError, match="does not exist"):
        load_sketch(tmp_path / "nope.cantus")


def test_unicode_names_survive():
    s = Sketch.new(tracks=[Track("旋律 – lead", 0, False, [Note(60, 80, 0, 480)])])
    assert "旋律" in dumps(s)

"""The document changes only through edits, and every edit has an exact inverse."""

import pytest
from hypothesis import given, strategies as st

from engine.document import (
    RESET, AddTrack, Document, EditError, EditGroup, NoteEdit, TimingEdit, audible_tracks,
)
from engine.music.sketch import Note, Sketch, TempoChange, TimeSignature, Track
from engine.music.sketch_file import dumps, sketch_from_dict


def _doc():
    return Document(Sketch.new(tracks=[Track("Lead", 0, False, [Note(60, 80, 0, 480), Note(62, 80, 480, 960)]),
                                       Track("Bass", 33, False, [Note(36, 90, 0, 1920)])]))


def test_edits_and_their_inverses_restore_the_sketch_exactly():
    doc = _doc()
    original = doc.sketch.copy()
    seen = []
    doc.subscribe(seen.append)
    move = NoteEdit(0, (Note(60, 80, 0, 480),), (Note(64, 80, 240, 720),), "Move")
    group = EditGroup((move, doc.set_track(1, mute=True, name="Bass 2"),
                       AddTrack(2, Track("Pad", 48, False, [Note(67, 70, 0, 3840)])),
                       TimingEdit(doc.timing(), ((TempoChange(0, 90.0),), (TimeSignature(0, 3, 4),)))),
                      "Gesture")
    doc.apply(group)
    assert doc.sketch.tracks[0].notes == [Note(64, 80, 240, 720), Note(62, 80, 480, 960)]
    assert doc.sketch.tracks[1].mute and doc.sketch.tracks[1].name == "Bass 2"
    assert len(doc.sketch.tracks) == 3 and doc.sketch.qpm == 90.0
    assert seen == [group] and doc.revision == 1
    doc.apply(group.inverse())
    assert doc.sketch == original
    assert doc.revision == 2


def test_bad_edits_are_refused_without_change():
    doc = _doc()
    before = doc.sketch.copy()
    with pytest.raises(EditError):
        doc.apply(NoteEdit(0, (Note(99, 80, 0, 480),), ()))
    with pytest.raises(EditError):
        doc.apply(NoteEdit(7, (), (Note(60, 80, 0, 10),)))
    assert doc.sketch == before


def test_reset_and_saved_path(tmp_path):
    doc = _doc()
    events = []
    doc.subscribe(events.append)
    assert doc.name == "Untitled"
    doc.apply(NoteEdit(0, (), (Note(70, 80, 0, 120),)))
    doc.mark_saved(tmp_path / "a.cantus")
    assert doc.name == "a.cantus" and doc.path == tmp_path / "a.cantus"
    revision = doc.revision
    doc.reset(Sketch.new(), None)
    assert events[-1] is RESET and doc.path is None and doc.revision == revision + 1


def test_mute_and_solo_decide_what_plays_and_survive_the_file():
    s = Sketch.new(tracks=[Track("a"), Track("b", mute=True), Track("c")])
    assert audible_tracks(s) == [0, 2]
    s.tracks[2].solo = True
    assert audible_tracks(s) == [2]
    import json
    back = sketch_from_dict(json.loads(dumps(s)))
    assert [(t.mute, t.solo) for t in back.tracks] == [(False, False), (True, False), (False, True)]


notes = st.builds(lambda p, s, d: Note(p, 80, s, s + d), st.integers(21, 108), st.integers(0, 5000),
                  st.integers(1, 2000))


@given(st.lists(st.tuples(st.lists(notes, max_size=4), st.lists(notes, max_size=4)), max_size=8))
def test_any_sequence_of_note_edits_undoes_exactly(steps):
    doc = Document(Sketch.new(tracks=[Track("t")]))
    original = doc.sketch.copy()
    applied = []
    for add, extra in steps:
        present = doc.sketch.tracks[0].notes
        edit = NoteEdit(0, tuple(present[: len(extra) // 2]), tuple(add))
        doc.apply(edit)
        applied.append(edit)
    for edit in reversed(applied):
        doc.apply(edit.inverse())
    assert doc.sketch == original

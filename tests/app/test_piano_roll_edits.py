"""The piano roll's edit builders (pure functions): exact notes out, None when nothing changes."""

from app.piano_roll.editing import (
    NoteClip,
    clamp_shift,
    duplicate_edit,
    quantize_edit,
    resize_edit,
    snap_ceil,
    snap_floor,
    snap_round,
    transpose_edit,
    velocity_edit,
)
from engine.document import Document, NoteEdit
from engine.music.sketch import Note, Sketch, Track

A = Note(60, 80, 0, 480)
B = Note(64, 90, 480, 900)


def test_snapping():
    assert (snap_floor(119, 120), snap_floor(120, 120), snap_floor(-1, 120)) == (0, 120, -120)
    assert (snap_round(59, 120), snap_round(60, 120), snap_round(181, 120)) == (0, 120, 240)
    assert (snap_ceil(1, 120), snap_ceil(120, 120), snap_ceil(0, 160)) == (120, 120, 0)


def test_shifts_are_clamped_to_the_keyboard_and_tick_zero():
    assert clamp_shift([A, B], -1000, 0) == (0, 0)
    assert clamp_shift([A, B], 0, 100) == (0, 127 - 64)
    assert clamp_shift([A, B], 0, -100) == (0, -60)
    assert clamp_shift([], 5, 5) == (0, 0)


def test_transpose_refuses_to_squash_a_chord():
    assert transpose_edit(0, [Note(120, 80, 0, 10), A], 12) is None
    edit = transpose_edit(0, [A, B], -12)
    assert edit == NoteEdit(0, (A, B), (A.shifted(0, -12), B.shifted(0, -12)), "Transpose Octave")


def test_unchanged_notes_make_no_edit():
    assert quantize_edit(0, [A], "1/16") is None
    assert velocity_edit(0, {A: 80}) is None
    assert resize_edit(0, [A], 0, 120) is None
    edit = velocity_edit(0, {A: 300, B: 0})
    assert {n.velocity for n in edit.added} == {127, 1}


def test_duplicate_steps_by_the_span_rounded_to_the_grid():
    edit = duplicate_edit(0, [A, B], 480)  # span 900 -> 960
    assert edit.added == (A.shifted(960), B.shifted(960)) and edit.removed == ()


def test_clip_round_trips_through_json_and_rejects_strangers():
    clip = NoteClip.of([B, A])
    assert clip.notes == (A, B) and clip.span_ticks == 900
    assert NoteClip.from_json(clip.to_json()) == clip
    assert clip.placed_at(1920) == (A.shifted(1920), B.shifted(1920))
    for stranger in (None, [], {"format": "other"}, {"format": "cantus-notes", "notes": [[200, 1, 0, 1]]},
                     {"format": "cantus-notes", "notes": []}):
        assert NoteClip.from_json(stranger) is None


def test_edits_apply_and_invert_exactly():
    doc = Document(Sketch.new(tracks=[Track("t", 0, False, [A, B])]))
    edit = resize_edit(0, [A, B], 100, 120)
    doc.apply(edit)
    assert sorted(doc.sketch.tracks[0].notes) == [Note(60, 80, 0, 580), Note(64, 90, 480, 1000)]
    doc.apply(edit.inverse())
    assert sorted(doc.sketch.tracks[0].notes) == [A, B]

"""Encodings round-trip exactly where they promise to."""

import numpy as np
import pytest
from hypothesis import given, strategies as st

from engine.music.encodings import performance as perf
from engine.music.encodings.drums import (
    DRUM_CLASS_PITCHES, NUM_DRUM_CLASSES, drum_class, drums_to_roll, roll_to_drums,
)
from engine.music.encodings.melody_onehot import MelodyEncodingError, MelodyOneHot
from engine.music.sketch import TICKS_PER_STEP, Note, Track


@st.composite
def melodies(draw, min_pitch=21, max_pitch=108):
    """Quantized monophonic melodies: notes separated by rests of zero or more steps."""
    notes, step = [], draw(st.integers(0, 16))
    for _ in range(draw(st.integers(0, 40))):
        length = draw(st.integers(1, 32))
        pitch = draw(st.integers(min_pitch, max_pitch))
        notes.append(Note(pitch, 80, step * TICKS_PER_STEP, (step + length) * TICKS_PER_STEP))
        step += length + draw(st.integers(0, 8))
    return notes


def test_melody_classes():
    codec = MelodyOneHot()
    assert codec.num_classes == 90
    assert codec.one_hot(np.array([0, 1, 89])).shape == (3, 90)


@given(melodies())
def test_melody_encode_decode_are_inverses(notes):
    codec = MelodyOneHot()
    events = codec.encode(notes)
    assert events.max(initial=0) < codec.num_classes
    assert codec.decode(events) == notes
    # and the other way round: decoding then encoding gives the same events
    assert np.array_equal(codec.encode(codec.decode(events), num_steps=len(events)), events)


@given(melodies(), st.integers(0, 64))
def test_melody_windows_with_an_offset(notes, extra):
    codec = MelodyOneHot()
    end = max((n.end_tick for n in notes), default=0) // TICKS_PER_STEP
    events = codec.encode(notes, num_steps=end + extra)
    assert len(events) == end + extra
    assert codec.decode(events) == notes


def test_melody_rejects_what_it_cannot_hold():
    codec = MelodyOneHot()
    with pytest.raises(MelodyEncodingError, match="grid"):
        codec.encode([Note(60, 80, 10, 240)])
    with pytest.raises(MelodyEncodingError, match="monophonic"):
        codec.encode([Note(60, 80, 0, 240), Note(64, 80, 120, 360)])
    with pytest.raises(MelodyEncodingError, match="outside"):
        codec.encode([Note(110, 80, 0, 240)])


def test_melody_events_by_hand():
    codec = MelodyOneHot()
    notes = [Note(60, 80, 0, 240), Note(62, 80, 240, 360), Note(64, 80, 600, 720)]
    # C for two 16ths, D for one, two 16ths of rest, E for one
    assert codec.encode(notes).tolist() == [41, 0, 43, 1, 0, 45]


timed_notes = st.lists(
    st.builds(lambda p, v, s, d: perf.TimedNote(p, v, s, s + d),
              st.integers(0, 127), st.integers(1, 127),
              st.floats(0, 60, allow_nan=False), st.floats(0, 5, allow_nan=False)),
    max_size=40)


@given(timed_notes)
def test_performance_round_trip_exact_to_10ms_and_velocity_bin(notes):
    events = perf.encode(notes)
    assert events.dtype == np.int16
    assert ((events >= 0) & (events < perf.NUM_EVENTS)).all()
    decoded = perf.decode(events)
    expected = perf.quantize_performance(notes)
    assert decoded == expected
    for n in decoded:
        assert round(n.start_s * 100) == pytest.approx(n.start_s * 100)
    # Encoding what was decoded changes nothing: the quantized form is a fixed point.
    assert np.array_equal(perf.encode(decoded), events)


def test_performance_vocabulary():
    assert perf.NUM_EVENTS == 388 and perf.PAD == 388 and perf.END == 389 and perf.VOCAB_SIZE == 390
    assert perf.event_name(perf.TIME_SHIFT + 99) == "TIME_SHIFT(1000ms)"
    assert {perf.bin_to_velocity(perf.velocity_to_bin(v)) for v in range(1, 128)} == \
           {1 + 4 * b for b in range(32)}


def test_overlapping_same_pitch_notes_are_handled_on_purpose():
    notes = [perf.TimedNote(60, 80, 0.0, 1.0), perf.TimedNote(60, 100, 0.5, 2.0),
             perf.TimedNote(60, 60, 0.5, 0.6)]
    decoded = perf.decode(perf.encode(notes))
    assert [(n.start_s, n.end_s) for n in decoded] == [(0.0, 0.5), (0.5, 2.0)]


def test_long_silences_and_tiny_notes():
    notes = [perf.TimedNote(60, 80, 0.0, 0.001), perf.TimedNote(62, 80, 3.5, 3.6)]
    events = perf.encode(notes)
    shifts = [e for e in events if perf.TIME_SHIFT <= e < perf.VELOCITY]
    assert len(shifts) >= 4  # 3.5 s needs several 1 s shifts
    decoded = perf.decode(events)
    assert decoded[0].end_s == pytest.approx(0.01)  # at least one 10 ms step
    assert decoded[1].start_s == pytest.approx(3.5)


def test_decode_is_robust_to_model_output():
    # A sampled sequence may repeat note-ons, end notes never started, and stop mid-note.
    events = [60, 60, perf.TIME_SHIFT + 9, perf.NOTE_OFF + 61, perf.PAD, perf.TIME_SHIFT, perf.END, 64]
    decoded = perf.decode(events)
    assert [(n.pitch, n.start_s, n.end_s) for n in decoded] == [(60, 0.0, 0.01), (60, 0.0, 0.11)]


def test_drum_classes():
    assert NUM_DRUM_CLASSES == 9
    assert drum_class(36) == 0 and drum_class(38) == 1 and drum_class(42) == 2 and drum_class(51) == 8
    assert drum_class(0) is None
    all_pitches = [p for ps in DRUM_CLASS_PITCHES for p in ps]
    assert len(all_pitches) == len(set(all_pitches))
    track = Track("Drums", 0, True, [Note(36, 100, 0, 60), Note(42, 90, 0, 60), Note(38, 100, 480, 540),
                                     Note(35, 100, 125, 200)])
    roll = drums_to_roll(track, 8)
    assert roll.shape == (8, 9)
    assert roll[0, 0] and roll[0, 2] and roll[4, 1] and roll[1, 0] and roll.sum() == 4
    back = roll_to_drums(roll)
    assert back.is_drum and np.array_equal(drums_to_roll(back, 8), roll)

from hypothesis import given, strategies as st

import pytest

from engine.music.sketch import (
    TICKS_PER_STEP, Note, Sketch, TempoChange, TimeSignature, Track, pitch_name, steps_to_ticks,
    ticks_to_steps,
)

tempo_maps = st.lists(
    st.tuples(st.integers(1, 200_000), st.floats(20.0, 300.0)), max_size=5
).map(lambda xs: [TempoChange(0, 120.0)] + [TempoChange(t, q) for t, q in xs])


@given(tempo_maps, st.integers(0, 2_000_000))
def test_ticks_seconds_round_trip_is_exact(tempos, tick):
    s = Sketch([], tempos)
    assert s.seconds_to_ticks(s.ticks_to_seconds(tick)) == tick


@given(tempo_maps, st.integers(0, 1_000_000), st.integers(0, 1_000_000))
def test_seconds_increase_with_ticks(tempos, a, b):
    s = Sketch([], tempos)
    if a < b:
        assert s.ticks_to_seconds(a) < s.ticks_to_seconds(b)


def test_seconds_follow_the_tempo_map():
    s = Sketch([], [TempoChange(0, 120.0), TempoChange(1920, 60.0)])
    assert s.ticks_to_seconds(480) == pytest.approx(0.5)
    assert s.ticks_to_seconds(1920) == pytest.approx(2.0)
    assert s.ticks_to_seconds(1920 + 480) == pytest.approx(3.0)
    assert s.seconds_to_ticks(3.0) == 2400


@given(st.integers(0, 10**7))
def test_steps_are_exact_on_the_grid(step):
    tick = steps_to_ticks(step)
    assert tick == step * TICKS_PER_STEP
    assert ticks_to_steps(tick) == step
    assert steps_to_ticks(step, steps_per_quarter=3) == step * 160  # triplet 8ths


def test_notes_validate_and_sort():
    with pytest.raises(ValueError):
        Note(60, 80, 100, 100)  # no length
    with pytest.raises(ValueError):
        Note(128, 80, 0, 10)
    with pytest.raises(ValueError):
        Note(60, 0, 0, 10)
    notes = [Note(64, 80, 480, 960), Note(60, 80, 480, 960), Note(72, 80, 0, 480)]
    assert [n.pitch for n in sorted(notes)] == [72, 60, 64]


def test_without_overlaps_cuts_the_earlier_note():
    t = Track(notes=[Note(60, 80, 0, 960), Note(60, 90, 480, 1440), Note(60, 70, 480, 600),
                     Note(62, 80, 0, 2000)])
    out = t.without_overlaps().notes
    assert Note(60, 80, 0, 480) in out
    assert Note(60, 90, 480, 1440) in out  # the longer of two same-onset notes stays
    assert Note(62, 80, 0, 2000) in out
    assert len(out) == 3


def test_meter_and_names():
    s = Sketch.new(qpm=90, time_signature=(6, 8))
    assert s.time_signature.bar_ticks == 1440
    assert TimeSignature(0, 3, 4).bar_ticks == 1440
    assert pitch_name(60) == "C4" and pitch_name(21) == "A0" and pitch_name(70) == "Bb4"
    assert s.qpm == 90.0 and s.end_tick == 0 and s.duration_s == 0.0

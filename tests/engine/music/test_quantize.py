from hypothesis import given, strategies as st

import pytest

from engine.music.quantize import GRIDS, grid_ticks, is_quantized, quantize_notes
from engine.music.sketch import Note

notes_st = st.lists(
    st.builds(lambda p, s, d: Note(p, 80, s, s + d),
              st.integers(0, 127), st.integers(0, 100_000), st.integers(1, 5000)),
    max_size=30)
grids = st.sampled_from(list(GRIDS))


@given(notes_st, grids)
def test_full_strength_lands_on_the_grid_and_is_idempotent(notes, grid):
    q = quantize_notes(notes, grid)
    assert is_quantized(q, grid)
    assert quantize_notes(q, grid) == q
    assert all(n.end_tick > n.start_tick for n in q)
    g = grid_ticks(grid)
    for a, b in zip(notes, q):  # each start moves to the nearest line
        assert abs(a.start_tick - b.start_tick) <= g // 2


@given(notes_st, grids, st.floats(0.0, 1.0))
def test_strength_moves_part_of_the_way(notes, grid, strength):
    full = quantize_notes(notes, grid, 1.0)
    part = quantize_notes(notes, grid, strength)
    for n, f, p in zip(notes, full, part):
        assert abs(p.start_tick - n.start_tick) <= abs(f.start_tick - n.start_tick)
        assert abs(p.start_tick - f.start_tick) <= abs(n.start_tick - f.start_tick) * (1 - strength) + 1


@given(notes_st)
def test_zero_strength_changes_nothing(notes):
    assert quantize_notes(notes, "1/16", 0.0) == notes


def test_grid_names_and_bad_grids():
    assert grid_ticks("1/16") == 120 and grid_ticks("1/8t") == 160 and grid_ticks("1/32") == 60
    with pytest.raises(ValueError):
        grid_ticks("1/7")
    with pytest.raises(ValueError):
        grid_ticks(7)
    with pytest.raises(ValueError):
        quantize_notes([], "1/16", 1.5)


def test_a_vanishing_note_keeps_one_step():
    (n,) = quantize_notes([Note(60, 80, 100, 110)], "1/16")
    assert (n.start_tick, n.end_tick) == (120, 240)

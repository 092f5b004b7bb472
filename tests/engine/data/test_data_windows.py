"""Windows, filters, dedup and splits, on hand-made event arrays."""

from collections import Counter

import numpy as np

from engine.data.pieces import into_range, make_piece, split_of
from engine.data.windows import cut_windows, first_occurrences, keep_mask, sounding, window_checks
from engine.music.sketch import Note

ON = 2 + 60 - 21  # note-on C4
OFF = 1


def bar(*events):
    out = np.zeros(16, np.uint8)
    out[: len(events)] = events
    return out


def test_cut_windows_hops_one_bar_and_never_crosses_a_gap_in_the_bar_grid():
    melody = np.concatenate([bar(ON + i) for i in range(6)])
    # Bars at 0, 16, 32 then a non-window bar at 48, then 64, 80.
    windows = cut_windows(melody, np.array([0, 16, 32, 64, 80]), 2)
    assert windows.shape == (3, 32)
    assert [w[0] for w in windows] == [ON, ON + 1, ON + 4]
    assert cut_windows(melody, np.array([0, 16, 32, 64, 80]), 16).shape == (0, 256)


def test_cut_windows_pads_past_the_end_with_no_event():
    windows = cut_windows(bar(ON), np.array([0, 16]), 2)
    assert windows.shape == (1, 32) and not windows[0, 16:].any()


def test_a_held_note_from_before_the_window_reads_as_a_rest():
    w = np.concatenate([bar(0, 0, 0, 0), bar(ON, 0, OFF)])[None]
    assert not sounding(w)[0, :16].any()
    assert sounding(w)[0, 16:18].all() and not sounding(w)[0, 18:].any()


def test_filters_drop_sparse_windows_and_windows_with_a_silent_bar():
    good = np.concatenate([bar(ON), bar(ON + 1)])
    held = np.concatenate([bar(ON), bar(0)])  # the note holds through bar 2: not silent
    one_note = np.concatenate([bar(ON), bar()])
    silent = np.concatenate([bar(ON, 0, OFF, ON + 2), bar(OFF)])  # note-off at bar 2's first step
    windows = np.stack([good, held, one_note, silent])
    enough, no_silence = window_checks(windows)
    assert enough.tolist() == [True, False, False, True]
    assert no_silence.tolist() == [True, True, True, False]
    assert keep_mask(windows).tolist() == [True, False, False, False]


def test_first_occurrences_keep_a_row_once_in_the_first_block_that_has_it():
    a = np.array([[1, 2], [3, 4], [1, 2]], np.uint8)
    b = np.array([[3, 4], [5, 6]], np.uint8)
    keep = first_occurrences([a, np.zeros((0, 2), np.uint8), b])
    assert [k.tolist() for k in keep] == [[True, True, False], [], [False, True]]


def test_splits_are_stable_and_about_90_5_5():
    ids = [f"music21:some/file{i}.krn" for i in range(20000)]
    counts = Counter(split_of(i) for i in ids)
    assert [split_of(i) for i in ids[:50]] == [split_of(i) for i in ids[:50]]
    assert 0.88 < counts["train"] / len(ids) < 0.92
    assert 0.04 < counts["validation"] / len(ids) < 0.06
    assert 0.04 < counts["test"] / len(ids) < 0.06


def test_out_of_range_notes_move_by_octaves_and_the_origin_becomes_step_zero():
    assert into_range(12) == 24 and into_range(120) == 108 and into_range(60) == 60
    notes = [Note(67, 90, 0, 480), Note(12, 90, 480, 960), Note(118, 90, 960, 1440)]
    piece = make_piece("t:1", "test", "4/4", notes, 480, [480, 2400], 3840, [])
    assert piece.notes_transposed == 2
    assert piece.melody[0] == 2 + 24 - 21 and piece.melody[4] == 2 + 106 - 21
    assert piece.window_bars.tolist() == [0, 16]
    assert piece.melody.dtype == np.uint8 and len(piece.melody) == 28


def test_window_bars_of_duple_meters():
    from engine.data.pieces import window_bar_starts

    assert window_bar_starts("4/4", 0, 1920) == [0]
    assert window_bar_starts("2/2", 1920, 1920) == [1920]
    assert window_bar_starts("2/4", 960, 960) == [960]  # every 2/4 bar may start a window
    assert window_bar_starts("4/2", 0, 3840) == [0, 1920]  # a 4/2 bar holds two
    assert window_bar_starts("3/4", 0, 1440) == [] and window_bar_starts("6/8", 0, 1440) == []
    assert window_bar_starts("4/4", 0, 960) == []  # a short (pickup) bar is no window bar

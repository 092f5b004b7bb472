"""Melody windows: 2-bar and 16-bar slices of a piece's 16th-grid events, filtered and deduplicated.

A window starts on a downbeat and hops by one bar. It spans only consecutive 16-step bars of a
window meter (4/4, 2/2, POP909's 4-beat bars). Like Magenta, which splits melodies at rests of
a bar or more, a window with a silent bar is dropped, and so is one with fewer than 2 notes.
A window that begins while a note holds begins with no-event, which reads as a rest.
"""

from __future__ import annotations

from typing import Iterable

import numpy as np

from engine.music.meter import STEPS_PER_BAR_4_4 as STEPS_PER_BAR
from engine.music.encodings.melody_onehot import FIRST_NOTE_ON, NO_EVENT

MIN_NOTES = 2


def cut_windows(melody: np.ndarray, window_bars: np.ndarray, num_bars: int) -> np.ndarray:
    """Every window of ``num_bars`` consecutive window bars, hop one bar.

    Parameters
    ----------
    melody : np.ndarray [shape=(num_steps,), uint8] events of one piece.
    window_bars : np.ndarray [shape=(k,), int] ascending start steps of 16-step bars.
    num_bars : bars per window (2 or 16).

    Returns
    -------
    np.ndarray [shape=(n, 16 * num_bars), uint8]; steps past the melody's end are no-event.
    """
    length = STEPS_PER_BAR * num_bars
    bars = np.asarray(window_bars, dtype=np.int64)
    ok = np.ones(len(bars), dtype=bool)
    for j in range(1, num_bars):
        ok &= np.isin(bars + STEPS_PER_BAR * j, bars)
    starts = bars[ok]
    if not len(starts):
        return np.zeros((0, length), dtype=np.uint8)
    padded = np.zeros(max(len(melody), int(starts.max()) + length), dtype=np.uint8)
    padded[:len(melody)] = melody
    return padded[starts[:, None] + np.arange(length)]


def sounding(windows: np.ndarray) -> np.ndarray:
    """Which steps of each window a note sounds at, as the window decodes on its own.

    A step sounds when the latest event at or before it is a note-on; a note held from before
    the window does not count (the window reads it as a rest). Shape and order as ``windows``.
    """
    windows = np.atleast_2d(windows)
    steps = np.arange(windows.shape[1])
    last = np.maximum.accumulate(np.where(windows != NO_EVENT, steps, -1), axis=1)
    last_event = np.take_along_axis(windows, np.maximum(last, 0), axis=1)
    return (last >= 0) & (last_event >= FIRST_NOTE_ON)


def window_checks(windows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(enough notes, no silent bar) for each window: two bool arrays of shape (n,).

    A window needs at least 2 note-ons, and a sounding note somewhere in each of its bars.
    """
    n, length = windows.shape
    if not n:
        return np.zeros(0, dtype=bool), np.zeros(0, dtype=bool)
    notes = np.count_nonzero(windows >= FIRST_NOTE_ON, axis=1)
    bars_sound = sounding(windows).reshape(n, length // STEPS_PER_BAR, STEPS_PER_BAR).any(axis=2)
    return notes >= MIN_NOTES, bars_sound.all(axis=1)


def keep_mask(windows: np.ndarray) -> np.ndarray:
    """True for windows with at least 2 notes and no silent bar. Shape (n,), bool."""
    enough, no_silence = window_checks(windows)
    return enough & no_silence


def first_occurrences(blocks: Iterable[np.ndarray]) -> list[np.ndarray]:
    """Deduplicate rows across blocks: for each block, a bool mask of rows seen for the first time.

    Blocks are read in order, so a row shared by several blocks is kept in the first one only
    (and only once within it).
    """
    blocks = list(blocks)
    if not blocks:
        return []
    sizes = [len(b) for b in blocks]
    width = blocks[0].shape[1] if blocks[0].ndim == 2 else 0
    allrows = (np.concatenate(blocks) if sum(sizes) else np.zeros((0, width), dtype=np.uint8))
    allrows = np.ascontiguousarray(allrows)
    keep = np.zeros(len(allrows), dtype=bool)
    if len(allrows):
        rows = allrows.view(np.dtype((np.void, allrows.dtype.itemsize * allrows.shape[1]))).ravel()
        # return_index sorts stably, so it gives each distinct row's first position.
        _, first = np.unique(rows, return_index=True)
        keep[first] = True
    return np.split(keep, np.cumsum(sizes)[:-1])

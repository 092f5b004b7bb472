"""Bars and beats from the meter map (no Qt needed)."""

from app.piano_roll.grid import bar_end_at_or_after, iter_bars
from engine.music.sketch import TimeSignature


def test_bars_of_one_meter_are_numbered_from_one():
    bars = list(iter_bars([TimeSignature(0, 4, 4)], 0, 4 * 1920))
    assert [(b.start_tick, b.end_tick, b.number) for b in bars] == [
        (0, 1920, 1), (1920, 3840, 2), (3840, 5760, 3), (5760, 7680, 4)]
    assert bars[0].beat_ticks == 480


def test_bars_follow_meter_changes_and_window():
    meters = [TimeSignature(0, 4, 4), TimeSignature(3840, 3, 4), TimeSignature(3840 + 2 * 1440, 6, 8)]
    bars = list(iter_bars(meters, 2000, 3840 + 2 * 1440 + 1))
    assert [(b.start_tick, b.number, b.time_signature.numerator) for b in bars] == [
        (1920, 2, 4), (3840, 3, 3), (5280, 4, 3), (6720, 5, 6)]
    assert bars[-1].beat_ticks == 240  # an eighth in 6/8


def test_a_meter_change_inside_a_bar_cuts_it_short():
    meters = [TimeSignature(0, 4, 4), TimeSignature(960, 3, 4)]
    bars = list(iter_bars(meters, 0, 960 + 1440 + 1))
    assert [(b.start_tick, b.end_tick, b.number) for b in bars] == [
        (0, 960, 1), (960, 2400, 2), (2400, 3840, 3)]


def test_bar_end_at_or_after():
    meters = [TimeSignature(0, 4, 4)]
    assert bar_end_at_or_after(meters, 0) == 1920
    assert bar_end_at_or_after(meters, 1) == 1920
    assert bar_end_at_or_after(meters, 1920) == 1920
    assert bar_end_at_or_after(meters, 1921) == 3840

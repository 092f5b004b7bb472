"""Bars and beats from the meter map (no Qt needed)."""

from engine.music.meter import (
    BEAT_VELOCITY,
    CLICK_PITCH,
    DOWNBEAT_VELOCITY,
    bar_at,
    bar_beat,
    bar_end_at_or_after,
    bar_line_at_or_after,
    iter_bars,
    metronome_track,
)
from engine.music.sketch import TimeSignature

FOUR_FOUR = [TimeSignature(0, 4, 4)]


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


def test_metronome_clicks_each_beat_louder_on_the_bar():
    click = metronome_track(FOUR_FOUR, 3840)  # two bars of 4/4
    assert click.is_drum and click.name == "Metronome"
    assert [n.start_tick for n in click.notes] == [i * 480 for i in range(8)]
    assert {n.pitch for n in click.notes} == {CLICK_PITCH}
    assert [n.velocity for n in click.notes] == [DOWNBEAT_VELOCITY, *[BEAT_VELOCITY] * 3] * 2


def test_metronome_follows_the_meter_map_and_rounds_up_to_the_bar():
    meters = [TimeSignature(0, 3, 4), TimeSignature(1440, 6, 8)]
    clicks = metronome_track(meters, 2000).notes
    starts = [(n.start_tick, n.velocity == DOWNBEAT_VELOCITY) for n in clicks]
    # 3/4: three quarter clicks; then 6/8 eighths up to the end of the bar holding tick 2000.
    assert starts[:3] == [(0, True), (480, False), (960, False)]
    assert starts[3:] == [(1440 + i * 240, i == 0) for i in range(6)]
    assert len(metronome_track(FOUR_FOUR, 0).notes) == 4  # an empty sketch still clicks a bar


def test_metronome_restarts_the_bar_at_a_meter_change_inside_a_bar():
    meters = [TimeSignature(0, 4, 4), TimeSignature(960, 3, 4)]  # 4/4 cut short after two beats
    starts = [(n.start_tick, n.velocity == DOWNBEAT_VELOCITY) for n in metronome_track(meters, 2400).notes]
    assert starts[:2] == [(0, True), (480, False)]
    assert starts[2:5] == [(960, True), (1440, False), (1920, False)]


def test_bar_beat_bar_at_and_bar_lines():
    meters = [TimeSignature(0, 3, 4), TimeSignature(2880, 6, 8)]
    assert bar_beat(meters, 0) == (1, 1)
    assert bar_beat(meters, 1440 + 960) == (2, 3)
    assert bar_beat(meters, 2880) == (3, 1)
    assert bar_beat(meters, 2880 + 1440 + 240) == (4, 2)
    assert bar_beat(meters, -50) == (1, 1)
    assert bar_at(meters, 2000).start_tick == 1440 and bar_at(meters, 4400).start_tick == 4320
    assert bar_line_at_or_after(meters, 0) == 0 and bar_line_at_or_after(meters, 1440) == 1440
    assert bar_line_at_or_after(meters, 1441) == 2880 and bar_line_at_or_after(meters, 2881) == 4320


def test_the_melody_models_read_a_melody_from_its_first_bar():
    from engine.music.meter import melody_window_offset
    from engine.music.sketch import Note

    assert melody_window_offset([Note(60, 90, 3 * 1920 + 480, 4 * 1920), Note(62, 90, 5 * 1920, 5 * 1920 + 240)]) \
        == 3 * 1920
    assert melody_window_offset([Note(60, 90, 1919, 1920)]) == 0 and melody_window_offset([]) == 0


def test_a_melody_is_read_on_its_own_bar_lines_in_any_two_or_four_beat_meter():
    import pytest

    from engine.errors import MeterError
    from engine.music.meter import melody_span
    from engine.music.sketch import Note

    def notes(first, last):
        return [Note(60, 90, first, first + 240), Note(62, 90, last - 240, last)]

    # 2/4, bars 20-23 (the issue's case): from bar 20's line, four 2/4 bars; the 4/4 grid from
    # tick 0 would have started at bar 19
    two_four = [TimeSignature(0, 2, 4)]
    assert melody_span(two_four, notes(19 * 960 + 240, 23 * 960 - 120)) == (19 * 960, 23 * 960)
    # a whole piece: pairs of 2/4 bars from where the meter starts (POP909's 4/4 songs labelled 2/4)
    assert melody_span(two_four, notes(9 * 960 + 520, 20 * 960), from_meter_start=True) == (8 * 960, 20 * 960)
    assert melody_span([TimeSignature(0, 4, 4), TimeSignature(3840, 2, 4)], notes(3840 + 960, 7680),
                       from_meter_start=True) == (3840, 7680)
    assert melody_span(FOUR_FOUR, notes(3 * 1920 + 480, 5 * 1920 + 1)) == (3 * 1920, 6 * 1920)
    assert melody_span([TimeSignature(0, 2, 2)], notes(1920, 3840)) == (1920, 3840)
    # a change from 2/4 to 4/4 on one of the models' bar lines (two 2/4 bars in)
    assert melody_span([TimeSignature(0, 2, 4), TimeSignature(1920, 4, 4)], notes(0, 3840)) == (0, 3840)
    with pytest.raises(MeterError, match=r"bar 4 is in 3/4"):
        melody_span([TimeSignature(0, 4, 4), TimeSignature(3 * 1920, 3, 4)], notes(0, 4 * 1920))
    with pytest.raises(MeterError, match=r"bar 1 is in 6/8"):
        melody_span([TimeSignature(0, 6, 8)], notes(0, 1440))
    with pytest.raises(MeterError, match=r"changes to 4/4 at bar 4, in the middle"):
        melody_span([TimeSignature(0, 2, 4), TimeSignature(3 * 960, 4, 4)], notes(0, 5 * 960))
    assert melody_span(FOUR_FOUR, []) == (0, 0)

"""Takes and step input from note messages (mido's own, as a keyboard sends them)."""

import mido

from engine.music.recording import MIN_NOTE_TICKS, StepInput, TakeRecorder, take_notes
from engine.music.sketch import Note


def on(pitch, velocity=90):
    return mido.Message("note_on", note=pitch, velocity=velocity)


def off(pitch, as_note_on=False):
    if as_note_on:  # many keyboards send note_on with velocity 0
        return mido.Message("note_on", note=pitch, velocity=0)
    return mido.Message("note_off", note=pitch, velocity=40)


def pedal(down):
    return mido.Message("control_change", control=64, value=127 if down else 0)


def test_a_take_is_the_notes_as_played():
    take = TakeRecorder()
    take.feed(on(60, 80), 0)
    take.feed(on(64, 70), 10)
    assert take.feed(off(60), 470) == Note(60, 80, 0, 470)
    assert take.feed(off(64, as_note_on=True), 500) == Note(64, 70, 10, 500)
    take.feed(mido.Message("pitchwheel", pitch=300), 505)  # not a note: ignored
    take.feed(on(67, 100), 960)
    notes = take.finish(1200)  # still held at the end: ends there
    assert notes == [Note(60, 80, 0, 470), Note(64, 70, 10, 500), Note(67, 100, 960, 1200)]


def test_the_sustain_pedal_holds_released_keys_until_it_comes_up():
    take = TakeRecorder()
    take.feed(on(60), 0)
    take.feed(pedal(True), 100)
    assert take.feed(off(60), 200) is None  # under the pedal: still sounding
    take.feed(on(62), 300)
    take.feed(off(62), 400)
    take.feed(pedal(False), 900)
    take.feed(on(64), 1000)
    take.feed(off(64), 1100)  # after the pedal: as played
    assert take.finish(2000) == [Note(60, 90, 0, 900), Note(62, 90, 300, 900), Note(64, 90, 1000, 1100)]


def test_a_key_struck_again_under_the_pedal_ends_the_earlier_note():
    take = TakeRecorder()
    take.feed(pedal(True), 0)
    take.feed(on(60), 0)
    take.feed(off(60), 100)
    take.feed(on(60), 480)
    assert take.finish(960) == [Note(60, 90, 0, 480), Note(60, 90, 480, 960)]


def test_count_in_notes_before_the_start_are_dropped_and_taps_keep_a_length():
    take = TakeRecorder(first_tick=0)
    take.feed(on(59), -200)  # during the count-in, before the sketch begins
    take.feed(off(59), -100)
    take.feed(on(60), 5)
    take.feed(off(60), 6)  # a tap of one tick
    take.feed(off(61), 50)  # a key that was down before the take: nothing
    take.feed(on(64), -30)  # the downbeat struck a little early: it starts on the downbeat
    take.feed(off(64), 400)
    assert take.finish(500) == [Note(64, 90, 0, 400), Note(60, 90, 5, 5 + MIN_NOTE_TICKS)]


def test_take_notes_quantizes_and_never_overlaps_a_pitch():
    played = [Note(60, 90, 10, 230), Note(60, 90, 125, 350), Note(64, 80, 475, 700)]
    assert take_notes(played) == [Note(60, 90, 10, 125), Note(60, 90, 125, 350), Note(64, 80, 475, 700)]
    assert take_notes(played, "1/8") == [Note(60, 90, 0, 240), Note(60, 90, 240, 480),
                                         Note(64, 80, 480, 720)]


def test_step_input_writes_a_step_per_key_and_a_chord_for_keys_held_together():
    steps = StepInput(cursor_tick=960, step_ticks=240)
    assert steps.feed(on(60)) == Note(60, 90, 960, 1200)
    assert steps.feed(off(60)) is None
    assert steps.cursor_tick == 1200
    # a chord: three keys down before any is let go
    chord = [steps.feed(on(p, 70)) for p in (60, 64, 67)]
    assert chord == [Note(p, 70, 1200, 1440) for p in (60, 64, 67)]
    steps.feed(off(60))
    steps.feed(off(64))
    assert steps.cursor_tick == 1200  # one key still down
    steps.feed(off(67))
    assert steps.cursor_tick == 1440
    steps.rest()
    assert steps.cursor_tick == 1680
    steps.back()
    steps.back()
    assert steps.cursor_tick == 1200
    assert steps.feed(pedal(True)) is None and steps.cursor_tick == 1200

"""Recording from a MIDI keyboard in the window: takes (count-in, timing, one undo step,
quantize), step input, the monitor sound, and a real virtual keyboard port.

Notes go in through `MidiRecorder.receive`, the door the input port itself uses (called here
from another thread, as the MIDI system does); one test sends them through a real port."""

import threading
import time

import mido
import pytest

from app import recording
from engine.audio.player import Player
from engine.music.sketch import Note, Sketch, Track


PERIOD_S = 0.025  # an audio period of the JACK test server (1024 frames at 48 kHz), and some


def on(pitch, velocity=90):
    return mido.Message("note_on", note=pitch, velocity=velocity)


def off(pitch):
    return mido.Message("note_off", note=pitch)


def send(window, message):
    """Deliver ``message`` as the input port would (from its own thread); returns the song
    position in seconds just before and just after it was received."""
    player = window.transport.player
    seen = {}

    def deliver():
        seen["before"] = player.position_s if player is not None else None
        window.recorder.receive(message)
        seen["after"] = player.position_s if player is not None else None

    thread = threading.Thread(target=deliver)
    thread.start()
    thread.join()
    return seen["before"], seen["after"]


def load(window, notes=()):
    window.set_document(Sketch([Track("Melody", 0, False, list(notes))]))


def play_a_take(window, qtbot, jack_device, pitch, sketch=(Note(60, 80, 0, 1920),)):
    """Record in real time (no count-in) and play ``pitch`` once; ``sketch``: the notes of the
    document's one track first (None: keep the document as it is)."""
    window.transport.player_factory = lambda: Player(jack_device.index)
    if sketch is not None:
        load(window, sketch)
    window.recorder.count_in = False
    assert window.recorder.record()
    wait_recording(qtbot, window)
    send(window, on(pitch))
    send(window, off(pitch))


def wait_recording(qtbot, window):
    qtbot.waitUntil(lambda: window.recorder.state == "recording" and window.transport.state == "playing",
                    timeout=20_000)


def test_record_needs_a_keyboard_and_says_so(window):
    assert window.recorder.input is None
    assert not window.record()
    assert "MIDI" in window.statusBar().currentMessage()
    assert not window.record_action.isChecked() and window.recorder.state == "off"


def test_a_take_lands_where_it_was_played_and_is_one_undo_step(window, qtbot, jack_device):
    window.transport.player_factory = lambda: Player(jack_device.index)  # real time
    load(window, [Note(72, 80, 0, 240)])  # an existing note stays: a take overdubs
    window.recorder.count_in = False
    steps_before = window.undo_stack.count()
    assert window.recorder.record()
    wait_recording(qtbot, window)
    assert window.record_action.isChecked()
    time.sleep(0.2)
    before, _ = send(window, on(60, 77))
    time.sleep(0.3)
    _, after = send(window, off(60))
    send(window, on(64))  # still held when the take ends: it ends there
    qtbot.waitUntil(lambda: len(window.view.proposal) == 1, timeout=5000)  # the take so far, as ghosts
    time.sleep(0.1)
    window.stop_action.trigger()
    qtbot.waitUntil(lambda: window.recorder.state == "off", timeout=5000)
    sketch = window.document.sketch
    notes = sketch.tracks[0].notes
    assert len(notes) == 3 and Note(72, 80, 0, 240) in notes
    played = next(n for n in notes if n.pitch == 60)
    assert played.velocity == 77
    # Timed to the song as heard, within one audio period (JACK's here: 1024 frames, 21 ms).
    period = sketch.seconds_to_ticks(PERIOD_S)
    assert sketch.seconds_to_ticks(before) - period <= played.start_tick
    assert played.end_tick <= sketch.seconds_to_ticks(after) + period
    assert played.end_tick - played.start_tick >= sketch.seconds_to_ticks(0.25)  # held ~0.3 s
    held = next(n for n in notes if n.pitch == 64)
    assert held.start_tick >= played.end_tick
    assert held.end_tick - held.start_tick >= sketch.seconds_to_ticks(0.08)  # held to the Stop
    assert window.undo_stack.count() == steps_before + 1
    assert "Recorded 2 notes into Melody" in window.statusBar().currentMessage()
    assert not window.view.proposal and not window.record_action.isChecked()
    assert window._mel_job is None  # a take's long song is not drawn (the next Play draws the sketch)
    window.undo_stack.undo()
    assert window.document.sketch.tracks[0].notes == [Note(72, 80, 0, 240)]
    assert window.transport.min_end_tick == 0


def test_the_count_in_is_one_bar_of_clicks_and_notes_before_the_start_are_dropped(window, qtbot, jack_device):
    window.transport.player_factory = lambda: Player(jack_device.index)
    load(window)  # an empty sketch: the take goes on over the clicks of the count-in only
    heard = []
    window.recorder.count_in = True
    window.transport.bridge.finished.connect(
        lambda h: heard.append(h.result) if h.name == "Count-in" else None)
    assert window.recorder.record()
    assert window.recorder.state == "counting in"
    wait_recording(qtbot, window)
    audio, rate = heard[0]
    assert len(audio) == round(2.0 * rate)  # one 4/4 bar at 120 qpm, to the sample
    assert abs(audio[: rate // 20]).max() > 0.01  # the first click sounds at once
    assert window.transport.player.position_s < 0  # counting in: before the start of the sketch
    before, after = send(window, on(59))
    send(window, off(59))
    assert after < 0, "the count-in ended before the test could play into it"
    qtbot.waitUntil(lambda: window.transport.player.position_s > 0.05, timeout=5000)
    before, _ = send(window, on(62))
    time.sleep(0.05)
    send(window, off(62))
    window.stop_action.trigger()
    qtbot.waitUntil(lambda: window.recorder.state == "off", timeout=5000)
    notes = window.document.sketch.tracks[0].notes
    assert [n.pitch for n in notes] == [62]
    assert notes[0].start_tick >= window.document.sketch.seconds_to_ticks(before - PERIOD_S) >= 0


def test_a_quantized_take_lands_on_the_grid_and_the_loop_waits_for_it(window, qtbot, jack_device):
    window.transport.player_factory = lambda: Player(jack_device.index)
    load(window, [Note(60, 80, 0, 1920)])
    window.quantize_takes_action.setChecked(True)
    window.count_in_action.setChecked(False)
    window.view.set_grid("1/8")
    window.transport.set_loop(True, (0, 1920))
    assert window.recorder.record()
    assert not window.transport.loop_enabled  # each pass round a loop would overlap the last
    wait_recording(qtbot, window)
    for pitch in (62, 64, 65):
        send(window, on(pitch))
        time.sleep(0.02)
        send(window, off(pitch))
    window.stop_action.trigger()
    qtbot.waitUntil(lambda: window.recorder.state == "off", timeout=5000)
    take = window.recorder.last_take
    assert [n.pitch for n in take] and all(n.start_tick % 240 == 0 and n.end_tick % 240 == 0 for n in take)
    assert "quantized to 1/8" in window.statusBar().currentMessage()
    assert window.transport.loop_enabled and window.transport.loop_ticks == (0, 1920)  # back on


def test_opening_another_sketch_while_recording_drops_the_take(window, qtbot, jack_device):
    play_a_take(window, qtbot, jack_device, 62)
    load(window, [Note(67, 80, 0, 480)])
    qtbot.waitUntil(lambda: window.recorder.state == "off", timeout=5000)
    assert window.document.sketch.tracks[0].notes == [Note(67, 80, 0, 480)]
    assert "dropped" in window.statusBar().currentMessage()


def test_asking_to_save_ends_the_take_first_so_that_it_is_asked_about(window, qtbot, monkeypatch, jack_device):
    play_a_take(window, qtbot, jack_device, 62)
    asked = []
    monkeypatch.setattr(window, "ask_save_changes", lambda: asked.append(1) or "cancel")
    assert not window.maybe_save()
    assert asked and window.recorder.state == "off"
    assert [n.pitch for n in window.document.sketch.tracks[0].notes] == [60, 62]
    monkeypatch.setattr(window, "ask_save_changes", lambda: "discard")  # the window may close


def test_a_take_follows_its_track_and_is_dropped_with_it(window, qtbot, jack_device):
    from engine.document import AddTrack

    window.set_document(Sketch([Track("Lead", 0, False, [Note(60, 80, 0, 480)]), Track("Bass", 33)]))
    window.view.set_active_track(1)
    play_a_take(window, qtbot, jack_device, 40, sketch=None)
    commands_push(window, AddTrack(0, window.document.sketch.tracks[0], remove=True))  # Lead goes
    window.stop_action.trigger()
    qtbot.waitUntil(lambda: window.recorder.state == "off", timeout=5000)
    assert [t.name for t in window.document.sketch.tracks] == ["Bass"]
    assert [n.pitch for n in window.document.sketch.tracks[0].notes] == [40]  # Bass, now first
    play_a_take(window, qtbot, jack_device, 41, sketch=None)
    commands_push(window, AddTrack(0, window.document.sketch.tracks[0], remove=True))
    window.stop_action.trigger()
    qtbot.waitUntil(lambda: window.recorder.state == "off", timeout=5000)
    assert "its track was removed" in window.statusBar().currentMessage()


def commands_push(window, edit):
    from app import commands

    commands.push(window.undo_stack, window.document, edit)


def test_stop_before_the_count_in_sounds_cancels_the_take(window, qtbot):
    load(window, [Note(60, 80, 0, 480)])
    window.recorder.count_in = True
    assert window.recorder.record()
    assert window.recorder.counting_in
    window.stop_action.trigger()
    assert window.recorder.state == "off" and "cancelled" in window.statusBar().currentMessage()
    qtbot.wait(300)  # the count-in job ends on its own; nothing starts
    assert window.transport.state == "stopped" and window.recorder.state == "off"


def test_step_input_writes_notes_and_chords_one_step_at_a_time(window, qtbot):
    load(window)
    window.view.set_grid("1/8")
    window.step_input_action.setChecked(True)
    assert window.step_rest_action.isEnabled()
    window.transport.seek(480)
    send(window, on(60))
    send(window, off(60))
    for p in (64, 67):
        send(window, on(p, 70))
    send(window, off(64))
    send(window, off(67))
    qtbot.waitUntil(lambda: window.transport.start_tick == 960, timeout=5000)
    assert window.document.sketch.tracks[0].notes == [
        Note(60, 90, 480, 720), Note(64, 70, 720, 960), Note(67, 70, 720, 960)]
    window.step_rest_action.trigger()
    assert window.transport.start_tick == 1200 and window.view.playhead_tick == 1200
    send(window, on(72))
    send(window, off(72))
    qtbot.waitUntil(lambda: len(window.document.sketch.tracks[0].notes) == 4, timeout=5000)
    assert window.document.sketch.tracks[0].notes[-1] == Note(72, 90, 1200, 1440)
    window.undo_stack.undo()  # one undo step per note
    assert len(window.document.sketch.tracks[0].notes) == 3
    window.step_back_action.trigger()
    assert window.transport.start_tick == 1200
    window.transport.set_loop(True, (0, 1920))
    window.play_action.trigger()  # while the song plays, keys only sound
    qtbot.waitUntil(lambda: window.transport.state == "playing", timeout=20_000)
    send(window, on(50))
    send(window, off(50))
    window.step_rest_action.trigger()
    qtbot.wait(50)
    assert len(window.document.sketch.tracks[0].notes) == 3
    window.stop_action.trigger()
    window.step_input_action.setChecked(False)
    send(window, on(50))
    send(window, off(50))
    qtbot.wait(50)
    assert len(window.document.sketch.tracks[0].notes) == 3  # off: keys only sound


def test_keys_sound_while_held_and_fade_when_let_go(window, qtbot):
    load(window)
    job = window.transport.preview(60)  # loads the soundfont (off the GUI thread), as a first key does
    if job is not None:
        qtbot.waitUntil(lambda: job.finished, timeout=20_000)
    player = window.transport.player
    send(window, on(67, 100))
    qtbot.waitUntil(lambda: 67 in window.recorder._voices, timeout=5000)
    slot, held = window.recorder._voices[67]
    assert player.mixer.preview_reqs[slot] is held
    assert held.frames >= round(recording_held_s() * player.sample_rate * 0.9)  # sounds on while held
    assert player.mixer.release_reqs[slot] is not held
    send(window, off(67))
    qtbot.waitUntil(lambda: player.mixer.release_reqs[slot] is held, timeout=5000)


def recording_held_s():
    from app.transport import HELD_KEY_S

    return HELD_KEY_S


def test_a_real_virtual_keyboard_writes_notes(window, qtbot):
    from engine.audio import midi_input

    try:
        keyboard = midi_input.open_virtual_output("Cantus Test Piano")
    except midi_input.MidiInputError as error:
        pytest.skip(str(error))
    try:
        port = midi_input.find_port("Cantus Test Piano")
        assert port is not None
        assert window.choose_midi_input(port.label) is None
        assert window.recorder.input is not None
        window._fill_midi_menu()
        checked = [a.text() for a in window.midi_input_menu.actions() if a.isChecked()]
        assert checked == [port.label]
        assert window.settings.value("midi/input") == port.label
        load(window)
        window.step_input_action.setChecked(True)
        for _ in range(5):  # a port just connected may miss a first message under load
            keyboard.send(on(65))
            keyboard.send(off(65))
            try:
                qtbot.waitUntil(lambda: bool(window.document.sketch.tracks[0].notes), timeout=1000)
                break
            except qtbot.TimeoutError:
                continue
        notes = window.document.sketch.tracks[0].notes
        assert notes and {n.pitch for n in notes} == {65}
        window.choose_midi_input(None)
        assert window.recorder.input is None and window.settings.value("midi/input") == ""
    finally:
        keyboard.close()


def test_record_key_and_button_are_there(window):
    assert window.record_action.shortcut().toString() == "R"
    assert window.transport_bar.record_button.defaultAction() is window.record_action
    assert recording.MAX_TAKE_BARS >= 16

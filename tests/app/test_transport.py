"""Transport: playback through the ALSA null device moves the playhead, edits reach what plays,
tempo and meter are undoable, the metronome clicks in a copy, mute leaves a track out, and a
missing sound device is a message, never a crash."""

import numpy as np
import pytest

from app.commands import push
from app.transport import with_metronome
from app.transport_bar import format_clock
from engine.audio.player import AudioDeviceError, Player
from engine.document import NoteEdit
from engine.music.sketch import Note, Sketch, Track


@pytest.fixture
def window(window):
    window.ask_save_changes = lambda: "discard"
    window.states = []  # every state the transport went through, for wait_playing
    window.transport.state_changed.connect(window.states.append)
    return window


def two_bars(track_b_mute=False):
    a = Track("A", 0, False, [Note(60 + i % 5, 100, i * 480, i * 480 + 400) for i in range(4)])
    b = Track("B", 33, False, [Note(40, 110, 1920, 3840)], mute=track_b_mute)
    return Sketch.new(120, (4, 4), [a, b])


def load(window, sketch):
    window.set_document(sketch)


def meter(window):
    ts = window.sketch.time_signature
    return ts.numerator, ts.denominator


def wait_playing(qtbot, window):
    """Until the song has started (the null device plays faster than real time, so a short song
    may already have ended when this looks)."""
    qtbot.waitUntil(lambda: "playing" in window.states, timeout=20000)
    window.states.clear()


# -- pure helpers -------------------------------------------------------------------------------

def test_with_metronome_copies_and_keeps_solo_audible():
    sketch = two_bars()
    sketch.tracks[0].solo = True
    clicked = with_metronome(sketch)
    assert len(sketch.tracks) == 2 and len(clicked.tracks) == 3
    assert clicked.tracks[-1].solo and clicked.tracks[0] == sketch.tracks[0]


def test_clock():
    assert format_clock(83.26) == "1:23.3" and format_clock(-1.0) == "0:00.0"


# -- playing ----------------------------------------------------------------------------------

def test_play_moves_the_playhead_forward_then_stop_resets(window, qtbot):
    load(window, two_bars())
    window.transport.set_loop(True)  # the null device plays faster than real time: keep it going
    assert window.view.loop_region == (0, 3840)
    assert window.player is None  # created on first play
    window.play_action.trigger()
    wait_playing(qtbot, window)
    assert isinstance(window.player, Player) and window.player.is_playing
    seen = []

    def moved_forward():
        tick = window.view.playhead_tick
        if tick is not None:
            seen.append(tick)
        return any(b > a for a, b in zip(seen, seen[1:]))

    qtbot.waitUntil(moved_forward, timeout=10000)
    assert all(0 <= t <= 3840 for t in seen)
    assert window.view.follow_playhead
    assert window.play_action.text().replace("&", "") == "Pause"
    window.play_action.trigger()  # Space pauses: the playhead stays where the sound stopped
    transport = window.transport
    assert transport.state == "stopped" and transport.paused and not transport.timers_active
    paused_at = transport.resume_tick
    assert window.view.playhead_tick == (paused_at or None)
    assert window.play_action.text().replace("&", "") == "Play"
    starts = []
    play = window.player.play
    window.player.play = lambda from_s=None: starts.append(from_s) or play(from_s)
    window.play_action.trigger()  # and Space again goes on from there
    assert transport.state == "playing" and not transport.paused
    assert starts == [pytest.approx(window.sketch.ticks_to_seconds(paused_at))]
    window.stop_action.trigger()  # Stop (Enter) returns to the start point
    assert transport.state == "stopped" and not transport.paused and window.view.playhead_tick is None
    window.play_action.trigger()
    assert starts[-1] == 0.0
    window.stop_action.trigger()


def test_playing_to_the_end_stops_by_itself(window, qtbot):
    load(window, two_bars())
    window.transport.play()
    wait_playing(qtbot, window)
    qtbot.waitUntil(lambda: window.transport.state == "stopped", timeout=20000)
    assert not window.transport.timers_active


def test_edits_while_playing_are_rendered_again(window, qtbot):
    load(window, two_bars())
    window.transport.set_loop(True)
    window.transport.play()
    wait_playing(qtbot, window)
    first = window.transport.rendered
    push(window.undo_stack, window.document, NoteEdit(0, (), (Note(84, 120, 2400, 3000),)))
    assert window.transport.song_revision != window.document.revision
    qtbot.waitUntil(lambda: window.transport.song_revision == window.document.revision,
                    timeout=20000)
    assert window.transport.state == "playing" and window.player.is_playing
    assert window.transport.rendered is not first
    assert Note(84, 120, 2400, 3000) in window.transport.song_sketch.tracks[0].notes


def test_a_muted_track_is_left_out_of_the_render(window, qtbot):
    load(window, two_bars())
    window.track_list.mute_button(1).click()
    assert window.sketch.tracks[1].mute and window.undo_stack.undoText() == "Mute Track"
    window.transport.play()
    wait_playing(qtbot, window)
    audio = window.transport.rendered.audio
    rate = window.transport.rendered.sample_rate
    # Track A ends at 2 s (+ its release); B would sound from 2 s to 4 s.
    late = audio[int(2.6 * rate):]
    assert late.size == 0 or np.abs(late).max() < 1e-3
    window.transport.stop()
    window.undo_stack.undo()  # unmute: B is heard again
    window.transport.play()
    wait_playing(qtbot, window)
    audio = window.transport.rendered.audio
    assert np.abs(audio[int(2.6 * rate):int(3.8 * rate)]).max() > 0.01


def test_metronome_plays_clicks_but_leaves_the_document_alone(window, qtbot):
    load(window, two_bars())
    window.metronome_action.trigger()
    assert window.transport.metronome
    window.transport.set_loop(True)
    window.transport.play()
    wait_playing(qtbot, window)
    assert [t.name for t in window.transport.song_sketch.tracks] == ["A", "B", "Metronome"]
    assert [t.name for t in window.sketch.tracks] == ["A", "B"]
    window.metronome_action.trigger()  # off while playing: rendered again without clicks
    qtbot.waitUntil(lambda: len(window.transport.song_sketch.tracks) == 2, timeout=20000)


def test_tempo_and_meter_changes_are_undoable_steps(window):
    load(window, two_bars())
    bar = window.transport_bar
    bar.tempo_spin.setValue(96)
    assert window.sketch.qpm == 96 and window.undo_stack.undoText() == "Set Tempo"
    assert "96 BPM" in window.status_text()
    bar.tempo_spin.setValue(97)  # a quick second change is the same gesture
    assert window.undo_stack.count() == 1
    window.undo_stack.undo()
    assert window.sketch.qpm == 120 and bar.tempo_spin.value() == 120
    window.undo_stack.redo()
    assert window.sketch.qpm == 97

    window.undo_stack.command(0).at -= 10  # long ago: the next change is a new step
    bar.tempo_spin.setValue(98)
    assert window.undo_stack.count() == 2
    bar.tempo_spin.setValue(97)  # there and back: the merged step changes nothing, and goes
    assert window.undo_stack.count() == 1 and window.sketch.qpm == 97
    bar.numerator_spin.setValue(3)
    assert meter(window) == (3, 4)
    assert window.undo_stack.undoText() == "Set Time Signature"
    bar.denominator_combo.setCurrentIndex(bar.denominator_combo.findData(8))
    assert window.sketch.time_signature.denominator == 8
    window.undo_stack.undo()
    assert meter(window) == (4, 4)
    assert bar.numerator_spin.value() == 4 and bar.denominator_combo.currentData() == 4


def test_tempo_and_meter_dialogs(window):
    window.ask_tempo = lambda qpm: 72.5
    window.ask_time_signature = lambda current: (6, 8)
    window.tempo_action.trigger()
    window.meter_action.trigger()
    assert window.sketch.qpm == 72.5 and window.sketch.time_signature.numerator == 6
    assert window.undo_stack.count() == 2
    window.ask_time_signature = lambda current: (5, 3)
    window.meter_action.trigger()
    assert window.errors and window.undo_stack.count() == 2


def test_loop_selection_loops_the_selected_bars(window, qtbot):
    load(window, two_bars())
    window.view.set_active_track(1)
    window.view.select_all()
    assert window.view.selection_range_ticks() == (1920, 3840)
    window.loop_selection_action.trigger()
    assert window.transport.loop_enabled and window.transport.loop_ticks == (1920, 3840)
    assert window.loop_action.isChecked() and window.view.loop_region == (1920, 3840)
    window.transport.play()
    wait_playing(qtbot, window)
    assert window.player.loop == pytest.approx((2.0, 4.0))
    window.view.clear_selection()
    window.loop_selection_action.trigger()  # no selection: toggles the loop off
    assert not window.transport.loop_enabled and window.player.loop is None
    assert window.view.loop_region is None


def test_preview_plays_a_note_through_the_player(window, qtbot):
    window.view.preview_requested.emit(64, 100, 0, False)
    assert window.player is not None and window.transport.last_error is None
    assert window.player.last_error is None


class BrokenDevicePlayer(Player):
    """Its stream cannot open the first time."""

    failures = 1

    def set_song(self, audio, sample_rate):
        if BrokenDevicePlayer.failures:
            BrokenDevicePlayer.failures -= 1
            raise AudioDeviceError("No sound output was found. Connect headphones or speakers, or "
                                   "check that the sound system is running, then press Play again.")
        super().set_song(audio, sample_rate)


def test_a_missing_device_is_a_message_and_play_tries_again(window, qtbot):
    load(window, two_bars())
    window.transport.player_factory = BrokenDevicePlayer
    window.play_action.trigger()
    qtbot.waitUntil(lambda: window.transport.last_error is not None, timeout=20000)
    assert window.transport.state == "stopped"
    assert "No sound output was found" in window.statusBar().currentMessage()
    assert window.errors == []  # a status message, not a dialog
    window.play_action.trigger()  # the same player tries again
    wait_playing(qtbot, window)
    assert window.transport.last_error is None


def test_an_empty_sketch_says_there_is_nothing_to_play(window, qtbot):
    window.play_action.trigger()
    qtbot.waitUntil(lambda: window.transport.last_error is not None, timeout=20000)
    assert "no notes" in window.statusBar().currentMessage()
    assert window.transport.state == "stopped"


def test_seek_from_the_ruler_sets_where_play_starts(window, qtbot):
    load(window, two_bars())
    window.view.seek_requested.emit(1920)
    assert window.transport.start_tick == 1920 and window.view.playhead_tick == 1920
    assert window.transport_bar.position_label.text().split()[0] == "2.1"
    window.transport.set_loop(True)
    window.transport.play()
    wait_playing(qtbot, window)
    qtbot.waitUntil(lambda: window.view.playhead_tick is not None, timeout=5000)


def test_ruler_drag_sets_the_loop_and_a_new_sketch_clears_it(window):
    load(window, two_bars())
    window.view.loop_region_requested.emit(960, 2880)
    assert window.transport.loop_enabled and window.transport.loop_ticks == (960, 2880)
    assert window.loop_action.isChecked() and window.view.loop_region == (960, 2880)
    window.loop_action.trigger()  # Ctrl+L: off, and on again over the same region
    assert not window.transport.loop_enabled and window.view.loop_region is None
    window.loop_action.trigger()
    assert window.view.loop_region == (960, 2880)
    window.new_document()
    assert not window.transport.loop_enabled and not window.loop_action.isChecked()
    assert window.view.loop_region is None


def test_the_status_bar_names_the_sound_and_forgets_playing_after_stop(window, qtbot):
    load(window, two_bars())
    window.transport.set_loop(True)
    window.transport.play()
    wait_playing(qtbot, window)
    assert window.statusBar().currentMessage() == "Playing"  # short: the Sound field says with what
    renderer = window.transport.rendered.renderer
    assert window.sound_label.toolTip() == f"Sound: {renderer}"
    assert window.sound_label.fontMetrics().horizontalAdvance(window.sound_label.text()) <= 300
    window.transport.stop()
    assert window.statusBar().currentMessage() == ""  # not "Playing" after Stop


def test_previews_use_the_chosen_sound_and_the_first_loads_off_the_gui_thread(window, qtbot, monkeypatch):
    from engine.audio import render
    from engine.audio.synth import BuiltinSynth

    monkeypatch.setattr(render, "_preview_synths", {})  # nothing loaded yet, as at start
    transport = window.transport
    heard = []
    player = transport.ensure_player()
    monkeypatch.setattr(player, "preview", lambda audio, rate: heard.append(audio))
    first = transport.preview(64, 100, 0, False)
    assert first is not None and heard == []  # the soundfont loads on the engine thread
    qtbot.waitUntil(lambda: first.finished and len(heard) == 1, timeout=20_000)
    assert transport.preview(65, 100, 0, False) is None and len(heard) == 2  # then at once
    window.render_panel.set_renderer("builtin")
    assert transport.preview(60, 90, 0, False) is None
    from app.transport import PREVIEW_S

    expected = BuiltinSynth().render_note(60, 90, PREVIEW_S, 0, False, transport.sample_rate())
    assert np.array_equal(heard[-1], expected)  # the Render panel's synth, not FluidSynth


def test_the_chosen_output_is_used_remembered_and_a_missing_one_falls_back(window, qtbot):
    from engine.audio.player import list_output_devices

    load(window, two_bars())
    name = list_output_devices()[0].name  # the ALSA null device of the tests
    assert window.choose_output(name, 80) is None
    assert window.transport.output_device == name
    window.transport.set_loop(True)
    window.transport.play()
    wait_playing(qtbot, window)
    assert window.player.device == name and window.player.latency_s == pytest.approx(0.08)
    assert window.settings.value("audio/device") == name  # the next start uses it too
    said = window.choose_output("No Such Interface 9000", 40)
    assert said and "default output" in said  # a sentence, and the default plays instead
    assert window.transport.output_device is None and window.player.device is None
    assert window.transport.state == "playing" and window.player.is_playing  # and playback went on
    window.transport.stop()


def test_an_output_that_vanishes_while_playing_falls_back_to_the_default(window, qtbot, monkeypatch):
    from engine.audio.player import list_output_devices

    load(window, two_bars())
    assert window.choose_output(list_output_devices()[0].name, 40) is None
    window.transport.set_loop(True)
    window.transport.play()
    wait_playing(qtbot, window)
    player = window.player
    real_check = player.check
    died = [AudioDeviceError('The sound output "default" stopped working (unplugged?).')]
    monkeypatch.setattr(player, "check", lambda: died.pop() if died else real_check())
    said = []
    window.transport.message.connect(said.append)
    qtbot.waitUntil(lambda: any("is gone" in m for m in said), timeout=5000)
    assert window.transport.state == "playing" and player.is_playing  # it went on
    assert window.transport.output_device is None and player.device is None
    window.transport.stop()

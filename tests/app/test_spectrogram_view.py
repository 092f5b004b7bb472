"""The spectrogram view: any mel array on the one scale, fixed dB levels, Hz ticks, a playhead;
and in the window, the spectrogram of what was rendered, with the energy where the notes are."""

import numpy as np
import pytest

from app.spectrogram_view import LEVELS_DB, SpectrogramView, hz_ticks, to_db
from engine.audio.mel import MEL, mel_band_frequencies
from engine.music.sketch import Note, Sketch, Track


def test_shows_any_mel_with_fixed_levels_and_a_playhead(qtbot):
    view = SpectrogramView()
    qtbot.addWidget(view)
    mel = np.full((MEL.n_mels, 431), MEL.silence, np.float32)  # 5 s of silence
    mel[20, 100:200] = 0.0
    view.set_mel(mel)
    assert view.duration_s == pytest.approx(431 / MEL.frames_per_second)
    assert view.image.image.shape == (80, 431)
    assert tuple(view.image.getLevels()) == LEVELS_DB  # never auto-levelled
    assert to_db(np.array([0.0, MEL.silence])) == pytest.approx([0.0, -100.0], abs=0.01)
    view.set_playhead(2.5)
    assert view.playhead.isVisible() and view.playhead.value() == 2.5
    with pytest.raises(ValueError):
        view.set_mel(np.zeros((128, 10)))
    view.set_mel(None)
    assert view.mel is None


def test_frequency_ticks_sit_on_their_mel_bands():
    centers = mel_band_frequencies()
    for position, label in hz_ticks():
        hz = float(label[:-1]) * 1000 if label.endswith("k") else float(label)
        band = int(position - 0.5)  # ticks sit at the middle of a band row
        assert centers[band] <= hz <= centers[min(band + 1, len(centers) - 1)] + 1e-6


def test_the_window_draws_the_spectrogram_of_a_render(window, qtbot):
    from engine.audio.render import render_sketch

    a4 = Sketch(tracks=[Track("Flute", 73, False, [Note(69, 100, 0, 960)])])  # A4, 440 Hz, 1 s
    rendered = render_sketch(a4, "synth", 44100)
    handle = window.show_spectrogram(rendered)
    qtbot.waitUntil(lambda: handle.finished and window.spectrogram.mel is not None, timeout=30_000)
    mel = window.spectrogram.mel
    assert mel.shape[0] == MEL.n_mels and window.spectrogram.duration_s >= 1.0
    loudest = int(np.argmax(mel[:, 10:80].mean(axis=1)))  # during the note
    assert 400 < mel_band_frequencies()[loudest] < 490
    assert "s" in window.spectrogram.caption.text()


def test_playback_fills_the_spectrogram_and_its_playhead_follows(window, qtbot):
    window.set_document(Sketch(tracks=[Track("Lead", 0, False, [Note(60 + i, 90, i * 480, i * 480 + 400)
                                                                for i in range(8)])]))
    window.play_action.trigger()  # on the null audio device, which may finish the song at once
    try:
        qtbot.waitUntil(lambda: window.spectrogram.mel is not None, timeout=20_000)
        assert window.spectrogram.duration_s == pytest.approx(window.transport.rendered.duration_s, abs=0.05)
    finally:
        window.transport.stop()
    # The playhead follows what the transport reports while it plays (in seconds).
    window.transport.position_changed.emit(1.5, 1440)
    assert window.spectrogram.playhead.isVisible() and window.spectrogram.playhead.value() == 1.5


def test_in_real_time_the_spectrogram_playhead_keeps_step_with_the_piano_roll(window, qtbot, jack_device):
    # On the JACK dummy server the song takes its real two seconds, so the playheads can be
    # watched moving; both are set from the same transport tick.
    import time

    from engine.audio.player import Player

    window.transport.player_factory = lambda: Player(jack_device.index)
    window.set_document(Sketch(tracks=[Track("Lead", 0, False, [Note(60 + 2 * i, 90, i * 240, i * 240 + 200)
                                                                for i in range(8)])]))  # 2 s at 120 qpm
    seen = []
    window.play_action.trigger()
    try:
        qtbot.waitUntil(lambda: window.transport.state == "playing", timeout=20_000)
        started = time.monotonic()
        while window.transport.playing and time.monotonic() - started < 10:
            qtbot.wait(50)
            tick, seconds = window.view.playhead_tick, window.spectrogram.playhead.value()
            if tick is not None and window.spectrogram.playhead.isVisible():
                seen.append((time.monotonic() - started, seconds, tick))
        elapsed = time.monotonic() - started
    finally:
        window.transport.stop()
    assert elapsed > 1.5  # it played in real time, not all at once
    assert len(seen) >= 10
    song = window.transport.song_sketch
    for _, seconds, tick in seen:  # the same moment on both
        assert song.ticks_to_seconds(tick) == pytest.approx(seconds, abs=0.002)
    positions = [s for _, s, _ in seen]
    assert all(b >= a for a, b in zip(positions, positions[1:])) and positions[-1] - positions[0] > 1.0
    # and the moment is now: typically the playhead trails the wall clock by a buffer or two
    lags = sorted(wall - s for wall, s, _ in seen)
    assert -0.05 < lags[len(lags) // 2] < 0.25
    qtbot.waitUntil(lambda: window.spectrogram.mel is not None, timeout=30_000)

"""The Render panel: the renderer it picks plays and exports the sketch, and a render is drawn
in the spectrogram view."""

import threading

import pytest
import soundfile as sf
from PySide6.QtCore import Qt

from engine.music.sketch import Note, Sketch, Track


def a_phrase() -> Sketch:
    return Sketch(tracks=[Track("Lead", 0, False, [Note(60 + 2 * i, 90, i * 480, i * 480 + 400)
                                                   for i in range(4)])])


def test_render_with_the_builtin_synth_fills_the_spectrogram(window, qtbot):
    window.set_document(a_phrase())
    panel = window.render_panel
    panel.set_renderer("builtin")
    assert window.transport.renderer == "builtin" and not panel.soundfont.isEnabled()
    handle = panel.render()
    assert handle is not None
    qtbot.waitUntil(lambda: window.spectrogram.mel is not None, timeout=30_000)
    assert "uilt-in" in window.transport.rendered.renderer  # what made it is said
    assert window.spectrogram.duration_s >= 1.8 and "Rendered" in panel.status.text()
    assert panel.render() is None  # nothing changed: the render is reused


def test_a_soundfont_must_be_a_soundfont(window, tmp_path):
    panel = window.render_panel
    bogus = tmp_path / "notes.txt"
    bogus.write_text("hello")
    assert not panel.set_soundfont(bogus) and "not a soundfont" in panel.status.text()
    assert window.transport.soundfont is None
    from engine.audio.synth import default_soundfont

    assert panel.set_soundfont(default_soundfont()) and window.transport.soundfont == str(default_soundfont())


def test_export_uses_the_chosen_renderer_and_format(window, qtbot, tmp_path):
    window.set_document(a_phrase())
    panel = window.render_panel
    panel.set_renderer("builtin")
    panel.wav_format.setCurrentIndex(panel.wav_format.findText("16-bit, 22.05 kHz (small)"))
    handle = panel.export(tmp_path / "out.wav")
    qtbot.waitUntil(lambda: handle.finished, timeout=30_000)
    info = sf.info(str(tmp_path / "out.wav"))
    assert info.samplerate == 22050 and info.subtype == "PCM_16" and info.duration > 1.5


def test_neural_render_shows_melflows_own_mel_and_exports_the_right_length(window, qtbot, tmp_path):
    from engine.audio.mel import MEL

    window.set_document(a_phrase())
    panel = window.render_panel
    assert not panel.temperature.isEnabled()  # the synth has no temperature
    assert panel.set_renderer("neural-fast")
    assert panel.temperature.isEnabled() and window.transport.renderer == "neural-fast"
    panel.temperature.setValue(0.3)
    assert window.transport.temperature == 0.3
    handle = panel.render()
    qtbot.waitUntil(lambda: handle.finished and window.spectrogram.mel is not None, timeout=60_000)
    rendered = window.transport.rendered
    assert "MelFlow" in rendered.renderer and "0.3" in rendered.renderer
    assert window.device_label.text() == f"Models: {rendered.device}" and rendered.device  # where they ran
    assert window.spectrogram.mel is rendered.mel  # the mel MelFlow made, not one of its audio
    assert window.spectrogram.mel.shape[0] == MEL.n_mels and window.spectrogram.reference is None
    panel.compare.setChecked(True)  # the synth's spectrogram of the same notes below it
    shown = window.show_spectrogram(rendered)
    qtbot.waitUntil(lambda: shown.finished and window.spectrogram.reference is not None, timeout=60_000)
    assert window.spectrogram.reference_plot.isVisible()
    # the same notes: the two differ only in how long a release tail each keeps (the neural one 1.5 s)
    assert abs(window.spectrogram.reference.shape[1] - rendered.mel.shape[1]) < 1.0 * MEL.frames_per_second
    export = panel.export(tmp_path / "neural.wav")
    qtbot.waitUntil(lambda: export.finished, timeout=60_000)
    info = sf.info(str(tmp_path / "neural.wav"))
    assert info.duration == pytest.approx(rendered.duration_s, abs=0.01)
    assert info.duration == pytest.approx(a_phrase().duration_s + 1.5, abs=0.05)  # the notes and their release


def test_cancelling_a_neural_render_changes_nothing(window, qtbot):
    window.set_document(a_phrase())
    panel = window.render_panel
    panel.set_renderer("builtin")
    first = panel.render()
    qtbot.waitUntil(lambda: first.finished, timeout=30_000)
    before = window.transport.rendered
    assert panel.set_renderer("neural-fast")
    gate = threading.Event()
    blocker = window.bridge.submit(lambda ctx: gate.wait(30), name="Holding the engine")  # the render must wait
    handle = panel.render()
    panel.cancel()
    gate.set()
    # finished on the engine thread first; the panel hears of it when the signal arrives
    qtbot.waitUntil(lambda: handle.finished and blocker.finished and "cancelled" in panel.status.text(),
                    timeout=60_000)
    assert handle.state.value == "cancelled"
    assert window.transport.rendered is before and "cancelled" in panel.status.text()
    assert window.spectrogram.reference is None


def test_a_missing_melflow_greys_out_the_neural_entries(qtbot, monkeypatch, window):
    from app.render_panel import RenderPanel
    from engine.audio import neural

    monkeypatch.setattr(neural, "MELFLOW_MODEL", "no-such-melflow")
    panel = RenderPanel(window)
    qtbot.addWidget(panel)
    index = panel.renderer.findData("neural-fast")
    assert not panel.renderer.model().item(index).isEnabled()
    assert "not installed" in panel.renderer.itemData(index, Qt.ItemDataRole.ToolTipRole)
    assert not panel.set_renderer("neural-fast") and "not installed" in panel.status.text()
    assert panel.renderer.currentData() == "synth"


def test_neural_playback_starts_on_the_first_window_and_the_whole_follows(window, qtbot):
    from engine.audio.neural import WINDOW_FRAMES
    from engine.audio.mel import MEL

    window.ask_save_changes = lambda: "discard"
    notes = [Note(60 + (i * 5) % 12, 90, i * 480, i * 480 + 400) for i in range(48)]  # 24 s at 120 qpm
    window.set_document(Sketch.new(120, (4, 4), [Track("Lead", 0, False, notes)]))
    assert window.render_panel.set_renderer("neural-fast")
    transport = window.transport
    seen = []  # (state, whether what plays is the whole) at every change of state
    transport.state_changed.connect(lambda state: seen.append((state, transport.rendered and transport.rendered.complete)))
    transport.set_loop(True)  # the null device plays faster than real time: keep it going
    transport.play()
    qtbot.waitUntil(lambda: transport.rendered is not None and transport.rendered.complete, timeout=60_000)
    assert seen[:2] == [("rendering", None), ("playing", False)]  # it began on a partial render
    assert transport.state == "playing"  # and the whole took over without stopping
    rendered = transport.rendered
    assert rendered.duration_s == pytest.approx(24 + 1.5, abs=0.1) and rendered.mel is not None
    assert WINDOW_FRAMES / MEL.frames_per_second < 24  # (the sketch is longer than one window)
    transport.stop()


def test_the_export_button_asks_for_a_name_and_uses_the_panels_format(window, qtbot, tmp_path):
    window.set_document(a_phrase())
    panel = window.render_panel
    panel.set_renderer("builtin")
    panel.wav_format.setCurrentIndex(panel.wav_format.findText("16-bit, 22.05 kHz (small)"))
    asked = []
    window.ask_save_path = lambda caption, filters, suggested: asked.append(caption) or str(tmp_path / "button")
    qtbot.mouseClick(panel.export_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: (tmp_path / "button.wav").exists() and not window.bridge.busy, timeout=30_000)
    assert asked == ["Export WAV"]  # the name only: the format is the panel's
    info = sf.info(str(tmp_path / "button.wav"))
    assert info.samplerate == 22050 and info.subtype == "PCM_16"


def test_a_rerender_while_playing_keeps_the_whole_song_until_the_new_whole(window, qtbot):
    from app.commands import push
    from engine.document import NoteEdit

    window.ask_save_changes = lambda: "discard"
    notes = [Note(60 + (i * 5) % 12, 90, i * 480, i * 480 + 400) for i in range(48)]  # 24 s: 3 windows
    window.set_document(Sketch.new(120, (4, 4), [Track("Lead", 0, False, notes)]))
    assert window.render_panel.set_renderer("neural-fast")
    transport = window.transport
    transport.set_loop(True)
    transport.play()
    qtbot.waitUntil(lambda: transport.rendered is not None and transport.rendered.complete
                    and transport.state == "playing", timeout=60_000)
    first = transport.rendered
    playing_whole = []  # at every partial of the re-render: is a whole song still what plays?
    window.bridge.partial.connect(lambda *_: playing_whole.append(transport.rendered.complete))
    push(window.undo_stack, window.document, NoteEdit(0, (), (Note(84, 100, 960, 1400),)))
    qtbot.waitUntil(lambda: transport.rendered is not first and transport.rendered.complete, timeout=60_000)
    assert playing_whole and all(playing_whole)  # its first seconds alone never replaced the whole
    assert transport.state == "playing"
    transport.stop()

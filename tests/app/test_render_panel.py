"""The Render panel: the renderer it picks plays and exports the sketch, and a render is drawn
in the spectrogram view."""

import soundfile as sf

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

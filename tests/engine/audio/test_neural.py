"""The neural renderer with the bundled MelFlow and fast vocoder: it plays the notes asked for,
where they are; windows join into one pass; cancel stops it; a missing model is a sentence."""

import numpy as np
import pytest

from engine.audio import neural
from engine.audio.mel import MEL
from engine.audio.render import render_sketch
from engine.jobs import Cancelled
from engine.music.sketch import Note, Sketch, Track
from engine.registry import ModelLoadError


def one_note(pitch: int = 72, program: int = 73, start_s: float = 1.0, seconds: float = 1.5) -> Sketch:
    tpq = 480  # 120 qpm: a quarter is 0.5 s
    start = int(start_s * 2 * tpq)
    return Sketch.new(qpm=120.0, tracks=[Track("Lead", program, False,
                                               [Note(pitch, 100, start, start + int(seconds * 2 * tpq))])])


def test_a_neural_render_plays_the_note_at_its_pitch_and_time():
    import librosa

    rendered = render_sketch(one_note(), "neural-fast", 22050, temperature=0.0)
    audio = rendered.audio
    assert audio.ndim == 2 and audio.shape[1] == 2 and rendered.sample_rate == 22050
    assert rendered.mel is not None and rendered.mel.shape[0] == MEL.n_mels
    assert abs(rendered.mel.shape[1] - MEL.num_frames(len(audio))) <= 2
    assert len(audio) / 22050 == pytest.approx(1.0 + 1.5 + 1.5, abs=0.05)  # the sketch and a release tail
    assert "MelFlow" in rendered.renderer
    mono = audio[:, 0]
    before, during = mono[: int(0.8 * 22050)], mono[int(1.2 * 22050): int(2.3 * 22050)]
    assert np.sqrt(np.mean(during ** 2)) > 20 * np.sqrt(np.mean(before ** 2)) + 1e-4  # silent before it
    f0, voiced, _ = librosa.pyin(during, fmin=200, fmax=2000, sr=22050, frame_length=2048)
    heard = np.nanmedian(f0[voiced])
    assert abs(12 * np.log2(heard / librosa.midi_to_hz(72))) < 0.5  # C5, within half a semitone


def test_windows_join_into_one_pass(monkeypatch):
    net, _ = neural.get_melflow()
    sketch = Sketch.new(qpm=120.0, tracks=[Track("Lead", 0, False, [Note(60 + (i * 5) % 12, 90, i * 240, i * 240 + 200)
                                                                     for i in range(60)])])
    notes = neural.track_notes(sketch, sketch.tracks[0])
    monkeypatch.setattr(neural, "WINDOW_FRAMES", 100_000)  # one pass over the whole
    whole = neural.melflow_mel(net, notes, 0, 1200, 0.6, seed=3)
    monkeypatch.setattr(neural, "WINDOW_FRAMES", 300)
    windowed = neural.melflow_mel(net, notes, 0, 1200, 0.6, seed=3)
    assert np.abs(whole - windowed).max() < 1e-3
    # A frame's noise does not depend on how long the piece is: a longer tail changes nothing before it.
    shorter = neural.melflow_mel(net, notes, 0, 1000, 0.6, seed=3)
    assert np.abs(whole[:, :800] - shorter[:, :800]).max() < 1e-3


def test_cancel_stops_between_windows(monkeypatch):
    monkeypatch.setattr(neural, "WINDOW_FRAMES", 100)
    calls = []

    def cancel():
        calls.append(1)
        raise Cancelled()

    with pytest.raises(Cancelled):
        neural.render_neural(one_note(), "fast", cancel=cancel)
    assert len(calls) == 1


def test_drums_are_left_to_the_synth():
    kit = Sketch.new(qpm=120.0, tracks=[Track("Drums", 0, True, [Note(36, 110, i * 480, i * 480 + 120)
                                                                 for i in range(4)])])
    result = neural.render_neural(kit, "fast")
    assert np.max(np.abs(result.audio)) > 0.05
    assert np.all(result.mel == MEL.silence)  # no pitched track: MelFlow made nothing


def test_a_missing_or_damaged_model_is_a_sentence(tmp_path):
    with pytest.raises(ModelLoadError, match="not installed"):
        neural.render_neural(one_note(), "fast", model=tmp_path / "no-such-model")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text('{"model": "melflow", "config": {}}')
    (broken / "weights.safetensors").write_bytes(b"not weights")
    with pytest.raises(ModelLoadError, match="damaged"):
        neural.render_neural(one_note(), "fast", model=broken)


class _Ones:
    """A stand-in vocoder that sounds 1.0 at every sample: what the windows' joins add up to."""

    name = label = "ones"

    def __call__(self, mel, num_samples, *_):
        return np.ones(num_samples, dtype=np.float32)


def test_vocoder_windows_cross_fade_to_exactly_one(monkeypatch):
    monkeypatch.setattr(neural, "WINDOW_FRAMES", 100)
    out = neural.vocode_windows(_Ones(), np.zeros((MEL.n_mels, 451), np.float32), 450 * MEL.hop_length)
    assert out.shape == (450 * MEL.hop_length,)
    assert np.abs(out - 1.0).max() < 1e-6  # no dip and no bump where two windows meet


def test_the_stream_gives_the_first_seconds_before_the_rest(monkeypatch):
    from engine.audio.render import render_sketch_stream

    monkeypatch.setattr(neural, "WINDOW_FRAMES", 200)  # about 2.3 s a window
    notes = [Note(60 + (i * 7) % 12, 60, i * 480, i * 480 + 400) for i in range(12)]
    sketch = Sketch.new(qpm=120.0, tracks=[Track("Lead", 0, False, notes),
                                           Track("Pad", 48, False, [Note(48, 50, 0, 12 * 480)])])
    stream = render_sketch_stream(sketch, "neural-fast", 44100, temperature=0.2)
    partials = []
    while True:
        try:
            partials.append(next(stream))
        except StopIteration as stop:
            final = stop.value
            break
    windows = -(-neural.sketch_frames(sketch) // 200)
    doubling = [w for w in range(1, windows) if w & (w - 1) == 0]  # after windows 1, 2, 4... not the last
    assert len(partials) == len(doubling) >= 2
    assert final.complete and final.mel is not None
    readies = [p.ready_s for p in partials]
    assert readies == pytest.approx([200 * w * MEL.hop_length / MEL.sample_rate for w in doubling])
    assert np.abs(final.audio).max() < 0.95  # quiet enough that the limiter leaves it alone
    for p in partials:
        assert not p.complete and p.mel is None and p.audio.shape == final.audio.shape
        ready = int(p.ready_s * 44100) - 64  # the resampler's edge
        assert np.abs(p.audio[:ready] - final.audio[:ready]).max() < 1e-4  # what plays first is final
        assert np.abs(p.audio[int(p.ready_s * 44100) + 64:]).max() == 0.0  # the rest is silence, for now
        assert np.abs(p.audio[:ready]).max() > 0.01

"""Requests as the window sends them, run without Qt: the Continue request streams progress and
ghost notes, then returns the notes it streamed (snapped when asked), and loads its models once."""

from engine.generate.requests import LOADED, Continue, ContinueOutcome, LoadedModels
from engine.jobs import Progress
from engine.music.melody import is_line
from engine.music.sketch import Note, Sketch, TimeSignature, Track


def phrase() -> Sketch:
    pitches = [69, 72, 76, 74, 72, 71, 69, 64]
    notes = [Note(p, 90, i * 240, i * 240 + 220) for i, p in enumerate(pitches)]
    return Sketch(tracks=[Track("Melody", 0, False, notes)], time_signatures=[TimeSignature(0, 4, 4)])


def run(request: Continue) -> tuple[list, ContinueOutcome]:
    yielded, gen = [], request.run()
    while True:
        try:
            yielded.append(next(gen))
        except StopIteration as stop:
            return yielded, stop.value


class Checks:
    def __init__(self):
        self.calls = 0

    def check(self):
        self.calls += 1


def test_continue_streams_its_notes_then_returns_them():
    request = Continue(phrase(), start_tick=1920, bars=2, seed=3, mode="melody")
    yielded, outcome = run(request)
    ghosts = [n for y in yielded if isinstance(y, tuple) for n in y]
    progress = [y for y in yielded if isinstance(y, Progress)]
    assert request.loaded and progress and progress[0].fraction in (None, 0.0)
    assert outcome.notes and sorted(ghosts) == list(outcome.notes)  # unsnapped: the ghosts are the notes
    assert is_line(outcome.notes) and all(n.start_tick >= 1920 for n in outcome.notes)
    assert outcome.mode == "melody" and outcome.seed == 3 and outcome.model
    again = run(Continue(phrase(), start_tick=1920, bars=2, seed=3, mode="melody"))[1]
    assert again.notes == outcome.notes  # the same request, the same notes
    snapped = run(Continue(phrase(), start_tick=1920, bars=2, seed=3, mode="melody", snap="1/8"))[1]
    assert snapped.notes and all(n.start_tick % 240 == 0 and n.end_tick % 240 == 0 for n in snapped.notes)


def test_cancel_is_checked_between_events():
    ctx = Checks()
    gen = Continue(phrase(), start_tick=1920, bars=1, seed=1).run(ctx)
    for _ in gen:
        pass
    assert ctx.calls > 10  # once per sampled event


def test_a_model_is_loaded_once():
    models, loads = LoadedModels(), []
    first = models.get("kind", "a", lambda: loads.append(1) or object())
    assert models.get("kind", "a", lambda: loads.append(1) or object()) is first and loads == [1]
    assert models.is_loaded("kind", "a") and not models.is_loaded("kind", "b")
    models.forget()
    assert not models.is_loaded("kind", "a")
    assert LOADED is not models


def test_cantus_vary_gives_the_notes_of_the_latent_panels_slider(tmp_path):
    from engine.cli import main
    from engine.generate.requests import LatentPoint
    from engine.music.files import open_sketch, save_sketch_as

    notes = [Note(p, 90, i * 240, i * 240 + 200) for i, p in enumerate([60, 62, 64, 65, 67, 65, 64, 62] * 2)]
    save_sketch_as(Sketch.new(tracks=[Track("Melody", 0, False, notes)]), tmp_path / "in.mid")
    assert main(["vary", str(tmp_path / "in.mid"), "--attribute", "note_density=1.5", "-o", str(tmp_path / "out.mid")]) == 0
    written = sorted(open_sketch(tmp_path / "out.mid").tracks[0].notes)
    slider = LatentPoint(Track("A", 0, False, notes), attributes=(("note_density", 1.5),)).run().track
    plain = LatentPoint(Track("A", 0, False, notes)).run().track
    assert [(n.pitch, n.start_tick, n.end_tick) for n in written] == \
        [(n.pitch, n.start_tick, n.end_tick) for n in sorted(slider.notes)]
    assert len(slider.notes) > len(plain.notes)  # and the slider moved its attribute


def test_render_runs_the_sketch_and_goes_on_over_silence_for_a_take():
    import numpy as np
    import pytest

    from engine.errors import CantusError
    from engine.generate.requests import Render
    from engine.jobs import run_to_end

    sketch = phrase()  # 8 eighths at 120 BPM: 2 s
    rendered = run_to_end(Render(sketch, "synth", 22050).run())
    assert rendered.sample_rate == 22050 and 2.0 <= len(rendered.audio) / 22050 < 4.0
    assert np.abs(rendered.audio[: 22050]).max() > 0.01  # the notes sound
    longer = run_to_end(Render(sketch, "synth", 22050, min_frames=10 * 22050).run())
    assert len(longer.audio) == 10 * 22050 and not longer.audio[-22050:].any()
    empty = Sketch(tracks=[Track("Melody")])
    silence = run_to_end(Render(empty, "synth", 22050, min_frames=22050).run())
    assert silence.audio.shape == (22050, 2) and not silence.audio.any()
    with pytest.raises(CantusError, match="no notes to render"):
        run_to_end(Render(empty, "synth", 22050).run())

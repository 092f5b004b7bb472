"""Music Transformer training: augmentation keeps music intact, a short run trains, resumes and
exports a bundle that the continuation code loads."""

import contextlib
import io
import json

import numpy as np
import pytest

from engine.generate.continuation import Continuer
from engine.music.encodings import performance as perf
from engine.train import transformer as tt


def performance(seed: int = 0, notes: int = 40) -> np.ndarray:
    rng = np.random.default_rng(seed)
    timed = []
    t = 0.0
    for _ in range(notes):
        d = float(rng.choice([0.25, 0.5, 0.75]))
        timed.append(perf.TimedNote(int(rng.integers(48, 84)), int(rng.integers(40, 120)), t, t + d))
        t += d
    return perf.encode(timed).astype(np.int64)


def test_transposition_moves_every_pitch_and_nothing_else():
    ev = performance()
    up = tt.transpose_events(ev, 3)
    a, b = perf.decode(ev), perf.decode(up)
    assert [n.pitch + 3 for n in a] == [n.pitch for n in b]
    assert [(n.start_s, n.end_s, n.velocity) for n in a] == [(n.start_s, n.end_s, n.velocity) for n in b]
    down, room_up = tt.transpose_room(ev)
    pitches = [n.pitch for n in a]
    assert down == min(pitches) and room_up == 127 - max(pitches)


@pytest.mark.parametrize("factor", [0.95, 1.05, 2.0])
def test_stretch_scales_time_without_drift(factor):
    ev = performance(1)
    a, b = perf.decode(ev), perf.decode(tt.stretch_events(ev, factor))
    assert [n.pitch for n in a] == [n.pitch for n in b]
    for x, y in zip(a, b):
        assert abs(y.start_s - x.start_s * factor) <= 0.0051 and abs(y.end_s - x.end_s * factor) <= 0.0051


def test_crops_are_full_length_padded_and_in_vocabulary():
    crops = tt.Crops([np.append(performance(s, 10 + 30 * s), perf.END) for s in range(3)], 65,
                     augment=True, seed=1)
    batch = crops.batch(32).numpy()
    assert batch.shape == (32, 65) and batch.min() >= 0 and batch.max() <= perf.END
    windows = tt.eval_windows([np.arange(10), np.arange(3)], 4)
    assert windows.tolist() == [[0, 1, 2, 3], [3, 4, 5, 6], [6, 7, 8, 9], [0, 1, 2, perf.PAD]]
    pieces = [np.full(40, i) for i in range(10)]  # ten pieces, 13 windows each
    sample = tt.validation_sample(pieces, 4, 20)
    assert len(sample) == 20 and len({int(w[0]) for w in sample}) >= 6  # from many pieces
    assert (sample == tt.validation_sample(pieces, 4, 20)).all()  # seeded
    assert len(tt.validation_sample(pieces, 4, 1000)) == 130  # all when asked for more


def test_a_short_run_trains_resumes_and_exports(tmp_path, monkeypatch):
    perfs = [np.append(performance(s), perf.END) for s in range(6)]
    def load(sources, split, line="all", weighted=False):
        return (perfs, np.ones(len(perfs))) if weighted else perfs

    monkeypatch.setattr(tt, "load_performances", load)
    args = tt.TrainArgs(out=str(tmp_path), d_model=32, n_layers=2, n_heads=4, max_len=64, batch_size=4,
                        max_steps=30, eval_every=15, eval_windows=8, warmup=5, lr=3e-3)
    result = tt.train(args)
    first, last = result["history"][0]["nll"], result["final"]["nll"]
    assert result["steps"] == 30 and last < first < 6.5
    config = json.loads((tmp_path / "best" / "config.json").read_text())
    assert config["model"] == "music_transformer" and config["config"]["relative"]
    args.max_steps = 45
    again = tt.train(args)  # resumes from last.pt
    assert again["steps"] == 45 and [h["step"] for h in again["history"]] == [45]
    cont = Continuer.load(tmp_path / "best")
    assert cont.model.cfg.max_len == 64
    baseline = tt.train(tt.TrainArgs(**{**args.__dict__, "absolute": True, "out": str(tmp_path / "abs"),
                                        "max_steps": 15}))
    assert baseline["steps"] == 15
    tuned = tt.train(tt.TrainArgs(**{**args.__dict__, "init": str(tmp_path / "best"), "out": str(tmp_path / "tuned"),
                                     "d_model": 64, "max_steps": 4, "eval_every": 4, "warmup": 1}))
    assert tuned["history"][0]["nll"] < first  # fine-tuned from the bundle, of the bundle's shape
    assert Continuer.load(tmp_path / "tuned" / "best").model.cfg.d_model == 32

    # The command line continues a real MIDI file and evaluates both models.
    from engine.cli import main
    from engine.music.files import open_sketch, save_sketch_as
    from engine.music.sketch import Note, Sketch, Track

    phrase = Sketch.new(qpm=100, tracks=[Track("Lead", 0, False, [Note(p, 90, i * 480, (i + 1) * 480)
                                                                 for i, p in enumerate([60, 64, 67, 65])])])
    save_sketch_as(phrase, tmp_path / "in.mid")
    out = tmp_path / "out.mid"
    assert main(["continue", str(tmp_path / "in.mid"), "--bars", "2", "--key", "C:maj", "--seed", "1",
                 "--mode", "piano", "--model", str(tmp_path / "best"), "-o", str(out)]) == 0
    result = open_sketch(out)
    new = result.tracks[-1]
    assert new.name == "Continuation" and all(n.pitch % 12 in {0, 2, 4, 5, 7, 9, 11} for n in new.notes)
    assert all(1920 <= n.start_tick and n.end_tick <= 1920 * 3 + 2 for n in new.notes)
    assert main(["continue", str(tmp_path / "in.mid"), "-o", str(out)]) == 2  # no length given
    monkeypatch.setattr(tt, "load_performances", lambda sources, split, *a, **k: perfs[:2])
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(["eval", "transformer", "--model", str(tmp_path / "best"), "--baseline",
                     str(tmp_path / "abs" / "best"), "--continuations", "8", "--speed-events", "32", "--json"]) == 0
    report = json.loads(buf.getvalue())
    for key in ("nll_relative", "nll_absolute", "constraint_satisfaction", "events_per_s_cached",
                "events_per_s_recompute", "n_sequences"):
        assert key in report
    assert report["n_sequences"] == 2 and set(report["constraint_satisfaction"].values()) == {1.0}
    assert report["events_per_s_cached"] > 0 and report["nll_absolute"] > 0


def test_sources_carry_weights():
    assert tt.source_weights("music21, pop909:2,/data/songs:1.5,C:\\midi") == [
        ("music21", 1.0), ("pop909", 2.0), ("/data/songs", 1.5), ("C:\\midi", 1.0)]

"""The vocoder trainer on a tiny paired corpus made here: it learns, resumes, exports bundles the
vocoder registry loads, and `cantus vocode` uses them."""

import json

import numpy as np
import pytest

import engine.train.vocoder as tv
from engine.audio.mel import MEL, log_mel
from engine.audio import vocode
from engine.audio.vocode import get_vocoder
from engine.data.audio_corpus import build_audio_corpus
from engine.music.midi_io import write_midi
from engine.music.sketch import Note, Sketch, Track
from engine.registry import ModelLoadError, load_model


def voc_model(folder):
    from engine.models.wavenet import WaveNet, WaveNetConfig

    return load_model(folder, "wavenet", lambda c: WaveNet(WaveNetConfig.from_dict(c)), "WaveNet")[0]


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    root = tmp_path_factory.mktemp("pairs")
    for i, program in enumerate((0, 73, 19)):
        notes = [Note(55 + 3 * i + 2 * k, 90, k * 240, (k + 1) * 240 + 120) for k in range(10)]
        write_midi(Sketch.new(qpm=120, tracks=[Track("T", program, False, notes)]), root / f"t{i}.mid")
    return build_audio_corpus(root, progress=False).clips


def test_segments_are_full_length_and_level_varied(clips):
    segs = tv.Segments(clips, 4096, seed=1)
    batch = segs.batch(16)
    assert batch.shape == (16, 4096) and batch.dtype.is_floating_point
    peaks = batch.abs().amax(dim=1).numpy()
    assert peaks.max() <= 1.0 and peaks.std() > 0.005  # random gains
    val = tv.validation_segments(clips, 4, 0.5)
    assert val.shape == (4, int(0.5 * MEL.sample_rate) // MEL.hop_length * MEL.hop_length)
    assert (val == tv.validation_segments(clips, 4, 0.5)).all()  # seeded


def test_the_fast_vocoder_trains_resumes_and_is_loaded_by_name(clips, tmp_path, monkeypatch):
    monkeypatch.setattr(tv, "load_clips", lambda sources, split: clips)
    args = tv.TrainArgs(kind="fast", out=str(tmp_path), segment_samples=4096, batch_size=4, dim=32, layers=2,
                        lr=2e-3, warmup=2, max_steps=24, eval_every=12, eval_segments=4, eval_seconds=0.5)
    result = tv.train(args)
    assert result["steps"] == 24 and result["final"]["mrstft"] < result["history"][0]["mrstft"] * 1.05
    config = json.loads((tmp_path / "best" / "config.json").read_text())
    assert config["model"] == "fast_vocoder" and config["config"]["dim"] == 32 and config["step"] in (12, 24)
    args.max_steps = 36
    again = tv.train(args)  # resumes from last.pt
    assert again["steps"] == 36 and [h["step"] for h in again["history"]] == [36]
    voc = get_vocoder("fast", tmp_path / "best")
    audio = clips[0].load()["audio"][: 64 * MEL.hop_length]
    out = voc(log_mel(audio), len(audio))
    assert out.shape == audio.shape and np.all(np.isfinite(out))


@pytest.mark.parametrize("lpc_order", [0, 16], ids=["samples", "excitation"])
def test_the_wavenet_trains_and_vocodes(clips, tmp_path, monkeypatch, lpc_order):
    monkeypatch.setattr(tv, "load_clips", lambda sources, split: clips)
    args = tv.TrainArgs(kind="wavenet", out=str(tmp_path), segment_samples=2048, batch_size=2, layers=3,
                        channels=8, lr=3e-3, warmup=2, max_steps=10, eval_every=5, eval_segments=2,
                        eval_seconds=0.25, lpc_order=lpc_order)
    result = tv.train(args)
    assert result["steps"] == 10 and result["final"]["nll"] < np.log(256)  # better than a uniform guess
    config = json.loads((tmp_path / "best" / "config.json").read_text())
    assert config["model"] == "wavenet" and config["config"]["n_layers"] == 3
    assert config["config"]["lpc_order"] == lpc_order
    scores = tv.choose_temperature(tmp_path / "best", temperatures=(1.0, 0.5), segments=1, seconds=0.1)
    config = json.loads((tmp_path / "best" / "config.json").read_text())
    assert set(scores) == {1.0, 0.5} and config["temperature"] == min(scores, key=scores.get)
    scores = tv.choose_postfilter(tmp_path / "best", gains=(1.0, 4.0), passes=(0, 2), segments=1, seconds=0.1)
    config = json.loads((tmp_path / "best" / "config.json").read_text())
    assert set(scores) == {(1.0, 0), (1.0, 2), (4.0, 2)}
    g, n = min(scores, key=scores.get)
    assert config["postfilter"] == ({"max_gain": g, "passes": n} if n else None)
    # The vocoder samples at the bundle's temperature, then post-filters as its config says.
    config["postfilter"] = {"max_gain": 4.0, "passes": 2}
    (tmp_path / "best" / "config.json").write_text(json.dumps(config))
    voc = get_vocoder("wavenet", tmp_path / "best")
    mel = log_mel(clips[0].load()["audio"][: 8 * MEL.hop_length])
    out = voc(mel, 8 * MEL.hop_length)
    assert out.shape == (8 * MEL.hop_length,) and np.all(np.abs(out) <= 1.0)
    from engine.audio.postfilter import mel_postfilter
    from engine.models.wavenet import generate_long

    net = voc_model(tmp_path / "best")
    raw = generate_long(net, mel, temperature=config["temperature"], seed=0)
    assert np.allclose(out, mel_postfilter(raw, mel, max_gain=4.0, passes=2), atol=1e-6)
    assert not np.allclose(out, raw, atol=1e-3)
    config["postfilter"] = {"max_gain": "loud", "passes": 2}
    (tmp_path / "best" / "config.json").write_text(json.dumps(config))
    monkeypatch.setattr(vocode, "_loaded", {})  # loaded afresh
    with pytest.raises(ModelLoadError, match="post-filter"):
        get_vocoder("wavenet", tmp_path / "best")

"""The MusicVAE training loop on a tiny corpus it builds itself: it runs, resumes, keeps the best."""

import json
import warnings

import numpy as np
import pytest
import torch

from engine.models.musicvae import CONFIGS, MusicVAEConfig
from engine.train import musicvae as tm


def test_transpose_keeps_melodies_in_range_and_intervals_intact():
    g = torch.Generator().manual_seed(0)
    tokens = torch.tensor([[2, 0, 1, 50, 0], [89, 0, 89, 1, 0], [0, 0, 1, 0, 0]])
    for _ in range(50):
        out = tm.transpose_batch(tokens, 5, 90, generator=g)
        assert out.min() >= 0 and out.max() <= 89
        assert out[0, 0] >= 2 and (out[0, 3] - out[0, 0]) == 48  # interval kept
        assert torch.equal(out[tokens < 2], tokens[tokens < 2])  # holds and offs untouched
        assert out[1, 0] == out[1, 2] <= 89
        assert torch.equal(out[2], tokens[2])  # a bar of rests stays one


def test_schedule():
    assert tm.sampling_probability(0, 1000) < 0.01
    assert tm.sampling_probability(20000, 1000) > 0.99
    assert tm.sampling_probability(500, 0) == 0.0


def test_a_short_run_trains_resumes_and_exports(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    windows = rng.integers(2, 90, (64, 32)).astype(np.uint8)
    monkeypatch.setattr(tm, "load_windows", lambda sources, bars, split: windows)
    monkeypatch.setitem(CONFIGS, "tiny", MusicVAEConfig(name="tiny", embed_size=8, enc_size=16, z_size=4,
                                                       dec_size=16, conductor_size=16))
    args = tm.TrainArgs(config="tiny", out=str(tmp_path), batch_size=16, max_steps=20, eval_every=10,
                        eval_windows=32)
    result = tm.train(args)
    assert result["steps"] == 20 and (tmp_path / "best" / "weights.safetensors").is_file()
    assert (tmp_path / "last" / "weights.safetensors").is_file()
    assert 0 <= result["final"]["sampled_accuracy"] <= 1 and result["best_score"] <= 0
    config = json.loads((tmp_path / "best" / "config.json").read_text())
    assert config["config"]["name"] == "tiny" and config["validation"]["accuracy"] >= 0
    args.max_steps = 30
    again = tm.train(args)  # resumes from last.pt at step 20
    assert again["steps"] == 30 and len(again["history"]) == 1


def test_precision_choice_and_free_bits_override(tmp_path, monkeypatch):
    from engine.train.common import autocast, cpu_has_bf16, use_bf16

    cpu = torch.device("cpu")
    native = cpu_has_bf16()
    if native:
        assert use_bf16(cpu, "bf16")
    else:  # no bf16 LSTM in oneDNN there: float32, and it says so
        with pytest.warns(UserWarning, match="no bf16 arithmetic"):
            assert not use_bf16(cpu, "bf16")
    assert not use_bf16(cpu, "fp32") and use_bf16(cpu, "auto") == native
    assert use_bf16(torch.device("cuda"), "auto")
    try:
        use_bf16(cpu, "fp16")
    except ValueError as e:
        assert "fp16" in str(e)
    else:
        raise AssertionError("an unknown precision was accepted")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with autocast(cpu, "bf16"):
            assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == (torch.bfloat16 if native else torch.float32)
    with autocast(cpu, "fp32"):
        assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == torch.float32

    windows = np.random.default_rng(1).integers(2, 90, (32, 32)).astype(np.uint8)
    monkeypatch.setattr(tm, "load_windows", lambda sources, bars, split: windows)
    monkeypatch.setitem(CONFIGS, "tiny", MusicVAEConfig(name="tiny", embed_size=8, enc_size=16, z_size=4,
                                                       dec_size=16, conductor_size=16))
    tm.train(tm.TrainArgs(config="tiny", out=str(tmp_path), batch_size=8, max_steps=4, eval_every=2,
                          eval_windows=16, precision="bf16", free_bits=7.0))
    config = json.loads((tmp_path / "best" / "config.json").read_text())
    assert config["config"]["free_bits"] == 7.0


def test_fine_tuning_starts_from_a_bundle_and_goes_on_from_its_step(tmp_path, monkeypatch):
    windows = np.random.default_rng(2).integers(2, 90, (32, 32)).astype(np.uint8)
    monkeypatch.setattr(tm, "load_windows", lambda sources, bars, split: windows)
    monkeypatch.setitem(CONFIGS, "tiny", MusicVAEConfig(name="tiny", embed_size=8, enc_size=16, z_size=4,
                                                       dec_size=16, conductor_size=16))
    tm.train(tm.TrainArgs(config="tiny", out=str(tmp_path / "first"), batch_size=8, max_steps=6,
                          eval_every=3, eval_windows=16))
    bundle = tmp_path / "first" / "last"
    result = tm.train(tm.TrainArgs(config="tiny", out=str(tmp_path / "tuned"), batch_size=8, max_steps=10,
                                   eval_every=2, eval_windows=16, init=str(bundle), free_bits=2.0,
                                   max_beta=0.5))
    assert result["steps"] == 10 and [h["step"] for h in result["history"]] == [8, 10]  # from step 6
    config = json.loads((tmp_path / "tuned" / "last" / "config.json").read_text())
    assert config["step"] == 10
    assert config["config"]["free_bits"] == 2.0 and config["config"]["max_beta"] == 0.5
    assert config["config"]["enc_size"] == 16  # the bundle's shape, whatever --config says


def test_attribute_regularised_dimensions_learn_to_order_melodies_by_their_attribute(tmp_path, monkeypatch):
    """AR-VAE (Pati and Lerch 2020): with --attribute-dims, latent dimension 0 is trained to order
    melodies by note density; the regulariser falls, and the slider's vector moves that dimension
    alone. The batch attributes come from the tokens (token_attributes, checked against
    melody_attributes on real decodes)."""
    from engine.generate.musicvae import CODEC, MelodyVAE, compute_attribute_vectors
    from engine.music.attributes import ATTRIBUTES, melody_attributes, token_attributes
    from engine.music.sketch import Track

    rng = np.random.default_rng(0)
    rows = []
    for density in rng.integers(1, 16, 128):  # from one note to one every other step
        row = np.zeros(32, np.uint8)
        row[np.sort(rng.choice(32, density, replace=False))] = rng.integers(40, 70, density)
        rows.append(row)
    windows = np.stack(rows)
    got = token_attributes(torch.from_numpy(windows.astype(np.int64))).numpy()
    want = np.array([[melody_attributes(Track(notes=CODEC.decode(w)), num_steps=32)[a] for a in ATTRIBUTES]
                     for w in windows])
    assert np.allclose(got, want, atol=1e-5)

    monkeypatch.setattr(tm, "load_windows", lambda sources, bars, split: windows)
    monkeypatch.setitem(CONFIGS, "tiny", MusicVAEConfig(name="tiny", embed_size=8, enc_size=32, z_size=8,
                                                       dec_size=16, conductor_size=16))
    args = tm.TrainArgs(config="tiny", out=str(tmp_path), batch_size=64, max_steps=120, eval_every=60,
                        eval_windows=64, attribute_dims="note_density", ar_weight=5.0, precision="fp32",
                        transpose=0)
    tm.train(args)
    vae = MelodyVAE.load(tmp_path / "last")
    assert vae.cfg.ar_attributes == ("note_density",)
    with torch.no_grad():
        tokens = torch.from_numpy(windows.astype(np.int64))
        mu = vae.model.encode(tokens)[0].numpy()
        ar = vae.model.attribute_regulariser(torch.from_numpy(mu), tokens).item()
    from scipy.stats import spearmanr

    assert spearmanr(mu[:, 0], got[:, 1]).correlation > 0.8 and ar < 0.6  # dimension 0 orders by density
    vector = np.asarray(compute_attribute_vectors(vae.model, windows)["note_density"])
    assert vector[0] > 0 and np.count_nonzero(vector) == 1  # the slider moves dimension 0 alone

    # each slider's reach, chosen among SLIDER_SCALES on validation melodies, stored scaled
    base = tm.add_attribute_vectors(tmp_path / "last", "tiny-corpus")
    scales = tm.scale_attribute_vectors(tmp_path / "last", "tiny-corpus", melodies=32)
    assert set(scales) == set(base) and set(scales.values()) <= set(tm.SLIDER_SCALES)
    stored = json.loads((tmp_path / "last" / "config.json").read_text())
    assert stored["attribute_scales"] == scales
    for name, scale in scales.items():
        assert np.allclose(stored["attribute_vectors"][name], np.asarray(base[name]) * scale)

    # then the side effects taken out, the vectors and what was measured before and after stored
    report = tm.decouple_attribute_vectors(tmp_path / "last", "tiny-corpus", melodies=32, rounds=1)
    stored = json.loads((tmp_path / "last" / "config.json").read_text())
    assert stored["attribute_decoupling"] == report and set(report["after"]) == set(base)
    assert report["rounds"] == 1 and report["melodies"] == 32
    assert all(np.isfinite(stored["attribute_vectors"][a]).all() and len(stored["attribute_vectors"][a]) == len(base[a])
               for a in base)

    # a reach is chosen on fixed multiples of the vector, even in a bundle that has units (which
    # make the panel's sliders search, so that every scale would look alike)
    import engine.eval.musicvae as em

    measured, evaluate = [], em.evaluate
    monkeypatch.setattr(em, "evaluate", lambda vae, *a, **k: measured.append(dict(vae.attribute_units))
                        or evaluate(vae, *a, **k))
    tm._update_config(tmp_path / "last", attribute_vectors=base, attribute_units=tm.attribute_units(windows))
    assert tm.scale_attribute_vectors(tmp_path / "last", "tiny-corpus", melodies=32) == scales
    assert len(measured) == len(tm.SLIDER_SCALES) and not any(measured)


def test_each_slider_gets_the_smallest_reach_that_moves_it_cleanly():
    def row(own, other=0.1, mono=1.0):
        return {"own": own, "max_other": other, "monotonic": mono}

    table = {1.0: {"a": row(0.4), "b": row(0.3), "c": row(0.2, other=0.5), "d": row(2.0, other=0.6)},
             2.0: {"a": row(1.1), "b": row(0.6), "c": row(0.5, other=0.5), "d": row(3.0, other=0.7)},
             4.0: {"a": row(1.8), "b": row(0.8, mono=0.7), "c": row(0.9, other=0.5), "d": row(4.0, other=0.8)}}
    # a: the smallest reaching d 1; b: the strongest that stays monotonic; c, d: none keeps the
    # others still, so the slider stays as measured
    assert tm.choose_slider_scales(table) == {"a": 2.0, "b": 2.0, "c": 1.0, "d": 1.0}


def test_decoupling_takes_the_side_effects_out_of_linear_sliders():
    """Attributes linear in z (attribute = A z) and three sliders that each move the others too:
    a few rounds leave each moving its own attribute alone, by about as much as before."""
    rng = np.random.default_rng(0)
    A = np.eye(3) + 0.3 * rng.standard_normal((3, 3)) * (1 - np.eye(3))
    names = ["a", "b", "c"]
    vectors = {n: np.eye(3)[i] + 0.2 * rng.standard_normal(3) for i, n in enumerate(names)}

    def changes(vs):
        return {n: dict(zip(names, A @ v)) for n, v in vs.items()}

    before = changes(vectors)
    assert max(abs(before[n][m]) for n in names for m in names if m != n) > 0.2
    for _ in range(6):
        vectors = tm.decouple_step(vectors, changes(vectors))
    after = changes(vectors)
    assert max(abs(after[n][m]) for n in names for m in names if m != n) < 1e-3
    assert all(abs(after[n][n]) > 0.5 for n in names)


def test_offbeat_moves_the_chosen_share_of_melodies_an_eighth_later():
    g = torch.Generator().manual_seed(0)
    tokens = torch.tensor([[30, 0, 0, 0, 40, 0, 1, 0]] * 400)
    out = tm.offbeat_batch(tokens, 0.25, generator=g)
    moved = (out != tokens).any(dim=1)
    assert 0.18 < moved.float().mean() < 0.32
    assert torch.equal(out[moved][0], torch.tensor([0, 0, 30, 0, 0, 0, 40, 0]))
    assert torch.equal(out[~moved], tokens[~moved])
    assert torch.equal(tm.offbeat_batch(tokens, 0.0), tokens)


def test_a_sliders_unit_is_its_attributes_spread_over_the_windows_where_it_means_something():
    from engine.music.attributes import ATTRIBUTES

    no_event = 0  # the melody one-hot: 0 continues what sounds (here silence), 1 ends a note, pitches from 2
    windows = np.full((4, 32), no_event, np.int64)
    windows[0, [0, 8]] = [62, 64]    # two notes, a step of 2
    windows[1, [0, 4, 8]] = [60, 67, 60]  # three notes, leaps of 7
    windows[2, 0] = 72                # one note: no interval
    units = tm.attribute_units(windows)  # window 3 is silent: no attribute at all
    assert set(units) == set(ATTRIBUTES)
    assert units["mean_interval"] == pytest.approx(np.std([2.0, 7.0]), abs=1e-4)
    assert units["note_density"] == pytest.approx(np.std([2, 3, 1]) / 32, abs=1e-4)


def test_a_16_bar_model_keeps_16_bar_units_and_never_takes_a_2_bar_bases():
    # Units are standard deviations over windows of the model's own length: a 16-bar model
    # started on the 2-bar bundle must measure its own (`--units-only`), not inherit 2-bar ones.
    fresh = tm.long_model(tm.TrainArgs(config="mel16bar", base="musicvae-mel2bar"))[1]
    assert "attribute_vectors" in fresh and "attribute_units" not in fresh
    resumed = tm.long_model(tm.TrainArgs(config="mel16bar", init="musicvae-mel16bar"))[1]
    assert resumed["attribute_units"]["mean_interval"] < 0.7  # 16-bar windows' (0.54), not 2-bar (0.97)

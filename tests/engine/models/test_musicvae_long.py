"""The 16-bar MusicVAE over a 2-bar model's codes: its parts, its training stages, its bundle."""

import json

import numpy as np
import pytest
import torch

from engine.models.musicvae import MusicVAE, MusicVAEConfig
from engine.models.musicvae_long import LongMusicVAE, LongVAEConfig
from engine.train import musicvae as tm

TINY_BASE = MusicVAEConfig(name="tiny", embed_size=8, enc_size=16, z_size=6, dec_size=16)
TINY = dict(z_size=8, enc_size=16, conductor_size=16, free_bits=0.0)


def tiny_long(**kw) -> LongMusicVAE:
    torch.manual_seed(0)
    return LongMusicVAE(LongVAEConfig(base=TINY_BASE.to_dict(), **{**TINY, **kw}))


def melodies(n: int = 24, seed: int = 0) -> np.ndarray:
    """16-bar melodies made of a few 2-bar figures, each figure a transposition of one motif."""
    rng = np.random.default_rng(seed)
    motif = np.zeros(32, np.uint8)
    motif[::4] = [40, 42, 44, 45, 47, 45, 44, 42]
    motif[2::4] = 1
    out = []
    for _ in range(n):
        shifts = rng.integers(-6, 7, 8)
        out.append(np.concatenate([np.where(motif >= 2, motif + s, motif) for s in shifts]))
    return np.stack(out).astype(np.uint8)


def test_shapes_and_a_training_step_that_leaves_the_2_bar_model_alone():
    model = tiny_long()
    tokens = torch.from_numpy(melodies(3).astype(np.int64))
    out = model(tokens)
    assert out["codes"].shape == (3, 8, 6) and out["logits"].shape == (3, 256, 90)
    terms = model.loss(out, tokens, step=100)
    assert all(torch.isfinite(v) for v in terms.values()) and terms["recon"] > 0 and terms["code"] > 0
    before = {k: v.clone() for k, v in model.state_dict().items()}
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    terms["loss"].backward()
    opt.step()
    after = model.state_dict()
    moved = {k for k in before if not torch.equal(before[k], after[k])}
    assert any(k.startswith("code_encoder.") for k in moved) and any(k.startswith("conductor.") for k in moved)
    assert not any(k.startswith("base.") for k in moved)  # the 2-bar encoder and decoder are frozen

    tuned = tiny_long(tune_decoder=True)
    before = {k: v.clone() for k, v in tuned.state_dict().items()}
    opt = torch.optim.Adam([p for p in tuned.parameters() if p.requires_grad], lr=1e-2)
    tuned.loss(tuned(tokens), tokens, 100)["loss"].backward()
    opt.step()
    moved = {k for k, v in tuned.state_dict().items() if not torch.equal(before[k], v)}
    assert any(k.startswith("base.decoder.") for k in moved)
    assert not any(k.startswith("base.encoder.") for k in moved)


def test_the_code_stage_needs_no_tokens_and_the_codes_are_the_2_bar_models():
    model = tiny_long(token_weight=0.0)
    tokens = torch.from_numpy(melodies(2).astype(np.int64))
    mu, sigma = model.segment_codes(tokens)
    flat_mu, flat_sigma = model.base.encode(tokens.reshape(-1, 32))
    assert torch.allclose(mu.reshape(-1, 6), flat_mu) and torch.allclose(sigma.reshape(-1, 6), flat_sigma)
    out = model(None, codes=(mu, sigma))
    assert "logits" not in out
    terms = model.loss(out, None, 10)
    assert terms["recon"] == 0 and torch.isclose(terms["code"], model.code_distance(out["codes"], mu, sigma).mean())


def test_decode_writes_every_window_from_its_code_and_shift_moves_every_code():
    model = tiny_long().eval()
    z = torch.randn(2, 8)
    shift = torch.zeros(6)
    shift[1] = 3.0
    codes = model.conduct(z) + shift
    expected = model.base.decoder.generate(codes.reshape(-1, 6), 32, None).view(2, 256)
    assert torch.equal(model.decode(z, shift=shift), expected)
    assert not torch.equal(model.decode(z), model.decode(z, shift=shift * 10))


@pytest.fixture
def base_bundle(tmp_path):
    torch.manual_seed(0)
    base = MusicVAE(TINY_BASE)
    folder = tmp_path / "base"
    vectors = {"note_density": [0.0, 2.0, 0, 0, 0, 0]}
    tm.export_bundle(base, folder, {"step": 500, "attribute_vectors": vectors, "attribute_scales": {"note_density": 1}})
    return folder


def test_the_trainer_runs_both_stages_and_the_bundle_speaks_in_tracks(tmp_path, base_bundle, monkeypatch):
    from engine.generate.musicvae import MelodyVAE

    windows = melodies(48)
    monkeypatch.setattr(tm, "load_windows", lambda sources, bars, split: windows if bars == 16 else windows[:, :32])
    # The code stage: no decoder in the loop, on a bank of codes.
    codes = tm.TrainArgs(config="mel16bar", base=str(base_bundle), out=str(tmp_path / "codes"), batch_size=16,
                         max_steps=150, eval_every=150, eval_windows=16, token_weight=0.0, lr=3e-3,
                         free_bits=0.0, bank_copies=2)
    monkeypatch.setitem(tm.LONG_CONFIGS, "mel16bar", LongVAEConfig(**TINY))
    result = tm.train(codes)
    assert result["steps"] == 150
    fresh = tiny_long()
    trained = MelodyVAE.load(tmp_path / "codes" / "best")
    assert trained.shifts_codes and trained.cfg.seq_len == 256 and trained.cfg.token_weight == 0
    tokens = torch.from_numpy(windows.astype(np.int64))

    def code_term(model):
        with torch.no_grad():
            out = model(tokens)
        return float((((out["codes"] - out["code_mu"]) / out["code_sigma"]) ** 2).sum(dim=(1, 2)).mean())

    assert code_term(trained.model) < 0.5 * code_term(fresh)  # it learnt to give the codes back
    # The bundle carries the 2-bar model's sliders, which push every window's code.
    assert set(trained.attribute_vectors) == {"note_density"}
    config = json.loads((tmp_path / "codes" / "best" / "config.json").read_text())
    assert config["model"] == "musicvae-long" and config["attribute_scales"] == {"note_density": 1}

    # The token stage goes on from that bundle, its schedules from its step.
    notes = tm.TrainArgs(config="mel16bar", init=str(tmp_path / "codes" / "best"), out=str(tmp_path / "notes"),
                         batch_size=8, max_steps=160, eval_every=10, eval_windows=16, token_weight=1.0)
    result = tm.train(notes)
    assert result["steps"] == 160 and result["history"][0]["step"] == 160
    tuned = MelodyVAE.load(tmp_path / "notes" / "last")
    assert tuned.cfg.token_weight == 1.0 and "attribute_vectors" in json.loads(
        (tmp_path / "notes" / "last" / "config.json").read_text())

    # In tracks: 16 bars a melody, and a slider moves the notes.
    (sampled,) = tuned.sample(1, temperature=1.0, seed=3)
    assert sampled.notes and max(n.end_tick for n in sampled.notes) <= 16 * 1920
    from engine.music.sketch import Track
    from engine.music.encodings.melody_onehot import MelodyOneHot

    melody = Track(notes=MelodyOneHot().decode(windows[0]))
    plain = tuned.point(melody)
    pushed = tuned.point(melody, attributes={"density": 2.0})
    assert plain.notes != pushed.notes


def test_the_command_line_picks_the_16_bar_model_by_bars():
    import argparse

    from engine.cli import _vae_name

    assert _vae_name(argparse.Namespace(model=None, bars=16)) == "musicvae-mel16bar"
    assert _vae_name(argparse.Namespace(model=None, bars=32)) == "musicvae-mel16bar"
    assert _vae_name(argparse.Namespace(model=None, bars=2)) == "musicvae-mel2bar"
    assert _vae_name(argparse.Namespace(model=None, bars=None)) == "musicvae-mel2bar"
    assert _vae_name(argparse.Namespace(model="runs/x", bars=16)) == "runs/x"

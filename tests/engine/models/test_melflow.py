"""MelFlow: the features it reads, an exact inverse, an exact log-determinant, repeatable sampling."""

import numpy as np
import pytest
import torch

from engine.audio.mel import MEL
from engine.models.melflow import (
    FEATURES_PER_PITCH, MelFlow, MelFlowConfig, note_features, squeeze, unsqueeze,
)

TINY = MelFlowConfig(n_mels=4, low_pitch=60, high_pitch=63, encoder_dim=8, encoder_layers=1, n_flows=2,
                     coupling_dim=8, coupling_layers=2, coupling_kernel=3)


def _scramble(model: MelFlow, seed: int = 0) -> MelFlow:
    """Every parameter random, the zero-started ones included: a flow far from the identity."""
    from engine.models.melflow import InvConv1x1

    g = torch.Generator().manual_seed(seed)
    mixers = {id(m.weight) for m in model.modules() if isinstance(m, InvConv1x1)}
    with torch.no_grad():
        for p in model.parameters():
            noise = 0.3 * torch.randn(p.shape, generator=g, dtype=torch.float32).to(p.dtype)
            p.copy_(torch.eye(p.shape[0], dtype=p.dtype) + noise if id(p) in mixers else noise)
    return model


def _inputs(cfg: MelFlowConfig, t: int, batch: int = 2, seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    feats = torch.rand((batch, cfg.n_features, t), generator=g)
    program = torch.tensor([0, 48][:batch])
    return feats, program


def test_features_mark_onset_sustain_age_and_release_on_the_mel_frames():
    cfg = MelFlowConfig()
    fps = MEL.frames_per_second
    notes = np.array([[60, 127, 0.5, 1.0, 0], [64, 64, 0.2, 0.3, 0], [10, 100, 0.0, 1.0, 0]], np.float32)
    f = note_features(notes, 200, cfg).reshape(cfg.n_pitches, FEATURES_PER_PITCH, 200)
    c4 = f[60 - cfg.low_pitch]
    onset, end = round(0.5 * fps), round(1.0 * fps)
    assert c4[0, onset] == 1.0 and c4[0].sum() == 1.0
    assert np.all(c4[1, onset:end] == 1.0) and c4[1, :onset].sum() == 0 and c4[1, end:].sum() == 0
    assert c4[2, onset] == pytest.approx(np.exp(-max(onset / fps - 0.5, 0.0)), abs=1e-6)
    assert np.all(np.diff(c4[2, onset:end]) < 0)  # the age decays while the note is held
    assert c4[3, end] > 0.9 and c4[3, end + round(0.5 * fps)] < 0.1 and c4[3, :end].sum() == 0
    assert f[64 - cfg.low_pitch, 1].max() == pytest.approx(64 / 127)
    assert f.sum() == pytest.approx(c4.sum() + f[64 - cfg.low_pitch].sum())  # pitch 10 is out of range
    # A window of a longer piece continues the same roll: a note that began before it keeps its age.
    window = note_features(notes, 50, cfg, start_frame=60).reshape(cfg.n_pitches, FEATURES_PER_PITCH, 50)
    np.testing.assert_allclose(window, f[:, :, 60:110], atol=1e-6)


def test_squeeze_folds_frame_pairs_and_unfolds_exactly():
    x = torch.arange(2 * 3 * 8, dtype=torch.float32).reshape(2, 3, 8)
    s = squeeze(x)
    assert s.shape == (2, 6, 4)
    assert s[0, 0, 1] == x[0, 0, 2] and s[0, 1, 1] == x[0, 0, 3]  # channel c*2 + j is frame 2t + j
    assert torch.equal(unsqueeze(s), x)


def test_a_new_flow_is_the_identity():
    model = MelFlow(TINY).eval()
    feats, program = _inputs(TINY, 10)
    x = torch.randn(2, TINY.n_mels, 10)
    _, _, h, _ = model.encoder(feats, program)
    z, logdet = model.flow(x, h)
    torch.testing.assert_close(z, x)
    torch.testing.assert_close(logdet, torch.zeros(2))


def test_the_inverse_undoes_the_forward_pass():
    model = _scramble(MelFlow(TINY)).eval()
    feats, program = _inputs(TINY, 12)
    x = torch.randn(2, TINY.n_mels, 12)
    with torch.no_grad():
        _, _, h, _ = model.encoder(feats, program)
        z, _ = model.flow(x, h)
        back, _ = model.flow(z, h, reverse=True)
    assert (z - x).abs().max() > 0.1  # the scrambled flow does something
    assert (back - x).abs().max() < 1e-4


def test_log_determinant_matches_a_brute_force_jacobian():
    model = _scramble(MelFlow(TINY).double()).eval()
    feats, program = _inputs(TINY, 6, batch=1)
    _, _, h, _ = model.encoder(feats.double(), program)
    x = torch.randn(1, TINY.n_mels, 6, dtype=torch.float64)

    def f(flat):
        return model.flow(flat.reshape(x.shape), h)[0].reshape(-1)

    jac = torch.autograd.functional.jacobian(f, x.reshape(-1))
    _, logdet = model.flow(x, h)
    assert jac.shape == (24, 24)
    assert float(logdet[0].detach()) == pytest.approx(float(torch.linalg.slogdet(jac)[1]), abs=1e-6)
    assert abs(float(logdet[0].detach())) > 0.1


def test_sampling_is_repeatable_for_a_seed_and_temperature_spreads_it():
    model = _scramble(MelFlow(TINY)).eval()
    feats, program = _inputs(TINY, 9)

    def sample(seed, temperature):
        noise = torch.randn((2, TINY.n_mels, 10), generator=torch.Generator().manual_seed(seed))
        return model.generate(feats, program, temperature=temperature, noise=noise)

    a, b, c = sample(3, 0.7), sample(3, 0.7), sample(4, 0.7)
    assert a.shape == (2, TINY.n_mels, 9)  # an odd length comes back whole
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert torch.equal(sample(3, 0.0), sample(4, 0.0))  # temperature 0: the mean, whatever the noise
    baseline = model.generate(feats, program, use_flow=False)
    assert not torch.allclose(baseline, sample(3, 0.0))


def test_loss_is_finite_and_learns_a_mel_from_notes():
    torch.manual_seed(0)
    cfg = MelFlowConfig(n_mels=8, low_pitch=60, high_pitch=67, encoder_dim=16, encoder_layers=1, n_flows=2,
                        coupling_dim=16, coupling_layers=2, coupling_kernel=3)
    model = MelFlow(cfg)
    # A toy "synth": each pitch lights one band while it is held.
    notes = np.array([[60 + i, 100, 0.1 * i, 0.1 * i + 0.15, 0] for i in range(8)], np.float32)
    feats = torch.from_numpy(note_features(notes, 80, cfg))[None]
    mel = torch.full((1, 8, 80), -11.5)
    held = feats.reshape(8, 4, 80)[:, 1] > 0
    mel[0][held] = -2.0
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    first = None
    for _ in range(150):
        loss, parts = model.loss(mel, feats, torch.tensor([0]))
        first = first or parts
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert np.isfinite(parts["nll"])
    assert parts["nll"] < first["nll"] - 1.0 and parts["mel_l1"] < 0.5 * first["mel_l1"]
    out = model.generate(feats, torch.tensor([0]), temperature=0.0)
    assert (out[0][held].mean() - out[0][~held].mean()) > 5.0  # lit where the notes are


def test_note_templates_add_keys_in_power_and_are_silent_without_notes():
    from engine.models.melflow import NoteTemplates

    torch.manual_seed(0)
    cfg = MelFlowConfig(templates=True)
    templates = NoteTemplates(cfg)
    program = torch.tensor([0])

    def roll(*pitches):
        notes = np.array([(p, 100, 0.0, 0.2) for p in pitches], dtype=np.float32).reshape(-1, 4)
        return torch.from_numpy(note_features(notes, 120, cfg))[None]  # 1.4 s: the release ends at 1.2 s

    with torch.no_grad():
        silent, c, g, both = (templates(roll(*ps), program) for ps in ((), (60,), (67,), (60, 67)))
    assert torch.all(silent == MEL.silence)
    # two keys sound together as incoherent sources: their powers add
    expected = 0.5 * torch.log(torch.exp(2 * c) + torch.exp(2 * g) - np.exp(2 * MEL.silence))
    assert torch.allclose(both[..., :10], expected[..., :10], atol=1e-3)
    assert torch.all(both[..., 5] >= torch.maximum(c[..., 5], g[..., 5]) - 1e-5)
    assert torch.allclose(c[..., 110:], torch.full_like(c[..., 110:], MEL.silence), atol=1e-4)  # after the release: silence


def test_templates_grown_on_a_model_without_them_change_nothing_at_first():
    torch.manual_seed(0)
    plain = MelFlow(MelFlowConfig(n_flows=2, coupling_dim=16, encoder_dim=32))
    grown = MelFlow(MelFlowConfig(n_flows=2, coupling_dim=16, encoder_dim=32, templates=True))
    missing, unexpected = grown.load_state_dict(plain.state_dict(), strict=False)
    assert not unexpected and all(k.startswith("encoder.template") for k in missing)
    notes = np.array([(60, 90, 0.1, 0.6), (64, 80, 0.3, 0.9)], dtype=np.float32)
    feats = torch.from_numpy(note_features(notes, 64, plain.cfg))[None]
    noise = torch.randn(1, 80, 64)
    a = plain.generate(feats, torch.tensor([0]), temperature=0.5, noise=noise)
    b = grown.generate(feats, torch.tensor([0]), temperature=0.5, noise=noise)
    assert torch.allclose(a, b, atol=1e-5)
    _, parts = grown.loss(a, feats, torch.tensor([0]))
    assert "template_l1" in parts  # and the templates learn from the first step

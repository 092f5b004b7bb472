"""The fast vocoder: shapes, its alignment with the mel, its bundle, and that it learns."""

import math

import numpy as np
import torch

from engine.audio.mel import MEL, LogMel
from engine.models.fast_vocoder import FastVocoder, FastVocoderConfig
from engine.train.vocoder import FastVocoderLoss, anti_wrap, phase_losses


def test_one_stft_frame_per_mel_frame_and_the_lengths_asked_for():
    cfg = FastVocoderConfig(dim=32, intermediate=64, n_layers=2)
    model = FastVocoder(cfg).eval()
    assert cfg.n_fft == MEL.n_fft and cfg.hop_length == MEL.hop_length  # the one mel's STFT
    mel = torch.full((2, MEL.n_mels, 40), -8.0)
    with torch.no_grad():
        assert model(mel).shape == (2, 39 * MEL.hop_length)
        assert model(mel[0]).shape == (39 * MEL.hop_length,)
        assert model(mel, 39 * MEL.hop_length + 17).shape == (2, 39 * MEL.hop_length + 17)
        assert model.spectrum(mel).shape == (2, MEL.n_fft // 2 + 1, 40)
    assert FastVocoderConfig.from_dict(cfg.to_dict()) == cfg


def test_anti_wrapped_phase_distance():
    x = torch.tensor([0.0, 2 * math.pi, -2 * math.pi + 0.1, math.pi - 0.01, 3 * math.pi])
    np.testing.assert_allclose(anti_wrap(x).numpy(), [0.0, 0.0, 0.1, math.pi - 0.01, math.pi], atol=1e-5)


def test_phase_losses_see_a_shifted_phase_and_not_a_copy():
    t = torch.arange(8192) / MEL.sample_rate
    a = torch.sin(2 * math.pi * 440 * t)[None]
    window = torch.hann_window(MEL.win_length)
    same_if, same_gd = phase_losses(a, a, window)
    assert float(same_if) < 1e-4 and float(same_gd) < 1e-4
    # A different frequency under the same magnitude envelope: the phase runs at another rate.
    b = torch.sin(2 * math.pi * 452 * t)[None]
    off_if, _ = phase_losses(b, a, window)
    assert float(off_if) > 0.3


def test_a_small_vocoder_learns_a_tone():
    torch.manual_seed(0)
    t = torch.arange(8192) / MEL.sample_rate
    audio = (0.3 * torch.sin(2 * math.pi * 330 * t) * torch.exp(-t))[None]
    mel = LogMel()(audio)
    model = FastVocoder(FastVocoderConfig(dim=48, intermediate=96, n_layers=2))
    loss_fn = FastVocoderLoss(torch.device("cpu"))
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3)
    losses = []
    for _ in range(60):
        loss, parts = loss_fn(model(mel, audio.shape[-1]), audio, mel)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(parts["mrstft"])
    assert losses[-1] < 0.6 * losses[0]


def test_an_untrained_vocoder_already_has_the_mels_level():
    # The magnitude prior: silence in, near silence out; the magnitudes a tone's mel asks for.
    from engine.audio.mel import mel_filterbank

    torch.manual_seed(0)
    model = FastVocoder(FastVocoderConfig(dim=32, intermediate=64, n_layers=2)).eval()
    t = torch.arange(22050) / MEL.sample_rate
    mel = LogMel()(0.3 * torch.sin(2 * math.pi * 440 * t))
    with torch.no_grad():
        silent = model(torch.full((1, MEL.n_mels, 40), MEL.silence))
        magnitude = model.spectrum(mel[None])[0].abs()
    assert float(silent.abs().max()) < 1e-3
    rebuilt = torch.log(torch.clamp(torch.from_numpy(mel_filterbank()) @ magnitude, min=MEL.log_floor))
    loud = mel > -4
    assert float((rebuilt - mel)[loud].abs().mean()) < 0.5

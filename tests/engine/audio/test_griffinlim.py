"""Griffin-Lim, the baseline: NNLS back to linear magnitudes, then fast Griffin-Lim."""

import numpy as np
import torch

from engine.audio.griffinlim import griffin_lim, mel_to_magnitude
from engine.audio.mel import MEL, log_mel, mel_filterbank


def tone(seconds=1.0, freq=330.0):
    t = np.arange(int(seconds * MEL.sample_rate) // MEL.hop_length * MEL.hop_length) / MEL.sample_rate
    env = np.minimum(1.0, t / 0.01) * np.exp(-t * 1.5)
    return (0.3 * env * (np.sin(2 * np.pi * freq * t) + 0.4 * np.sin(4 * np.pi * freq * t))).astype(np.float32)


def test_nnls_magnitudes_give_back_the_mel():
    mel = log_mel(tone())
    mag = mel_to_magnitude(torch.from_numpy(mel))
    assert mag.shape == (MEL.n_fft // 2 + 1, mel.shape[1]) and float(mag.min()) >= 0.0
    rebuilt = np.log(np.maximum(mel_filterbank() @ mag.numpy(), MEL.log_floor))
    loud = mel > -6  # where the sound is, the mel of the magnitudes is the mel given
    assert np.mean(np.abs(rebuilt - mel)[loud]) < 0.05


def test_griffin_lim_rebuilds_a_tone_better_with_iterations():
    audio = tone()
    mel = log_mel(audio)
    out = griffin_lim(mel)
    assert out.shape == audio.shape and out.dtype == np.float32 and np.all(np.isfinite(out))
    good = np.mean(np.abs(log_mel(out) - mel)[mel > -6])
    raw = np.mean(np.abs(log_mel(griffin_lim(mel, n_iter=0)) - mel)[mel > -6])
    assert good < 0.25 and good < 0.6 * raw
    assert len(griffin_lim(mel, num_samples=len(audio) + 100)) == len(audio) + 100

"""Linear prediction from the log-mel: Levinson-Durbin, the predictor of a tone from its mel, and
the teacher-forced prediction."""

import numpy as np
import pytest
import torch
from scipy.linalg import toeplitz

from engine.audio.lpc import frame_of_samples, levinson, lpc_from_mel, predict
from engine.audio.mel import MEL, log_mel


def test_levinson_solves_the_normal_equations():
    rng = np.random.default_rng(0)
    x = np.convolve(rng.standard_normal(4000), [1.0, -1.6, 0.9, 0.2], mode="same")
    r = np.array([x[:len(x) - k] @ x[k:] for k in range(9)])
    a = levinson(torch.from_numpy(np.stack([r, 2 * r]))[:, :], 8).numpy()
    expected = np.linalg.solve(toeplitz(r[:8]), -r[1:9])
    assert a.shape == (2, 9) and np.allclose(a[:, 0], 1.0)
    assert np.allclose(a[0, 1:], expected) and np.allclose(a[1, 1:], expected)  # scale-free


def gain_db(audio: np.ndarray, order: int = 32) -> float:
    x = torch.from_numpy(audio.astype(np.float32))[None]
    a = lpc_from_mel(torch.from_numpy(log_mel(audio))[None], order)
    e = x - predict(x, a, MEL.hop_length)
    return 10 * np.log10(float((x ** 2).sum() / (e ** 2).sum()))


def test_the_mel_of_a_tone_predicts_it_from_its_past_and_the_mel_of_noise_does_not():
    t = np.arange(MEL.sample_rate) / MEL.sample_rate
    tone = 0.3 * np.sin(2 * np.pi * 220 * t) + 0.15 * np.sin(2 * np.pi * 440 * t + 1) + 0.05 * np.sin(2 * np.pi * 660 * t)
    noise = 0.1 * np.random.default_rng(0).standard_normal(len(t))
    assert gain_db(tone) > 25  # about 35 dB
    assert gain_db(noise) < 1  # white noise has nothing to predict


def test_each_sample_is_predicted_from_the_samples_before_it_with_its_own_frame():
    rng = np.random.default_rng(1)
    a = torch.from_numpy(rng.standard_normal((2, 4, 4)).astype(np.float32) * 0.3)
    a[..., 0] = 1.0
    audio = torch.from_numpy(rng.standard_normal((2, 40)).astype(np.float32))
    hop, start = 8, 5
    p = predict(audio, a, hop, start)
    frames = frame_of_samples(start, 40, hop, 4)
    assert frames.tolist() == [min(3, (start + t + 4) // 8) for t in range(40)]
    for b in range(2):
        for t in range(40):
            coef = a[b, frames[t]]
            want = -sum(float(coef[k]) * float(audio[b, t - k]) for k in range(1, 4) if t - k >= 0)
            assert float(p[b, t]) == pytest.approx(want, abs=1e-5)

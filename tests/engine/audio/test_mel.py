"""The one mel spectrogram: torch and librosa agree, and the spec is what models rely on."""

import numpy as np
import pytest
import torch

from engine.audio.mel import MEL, LogMel, log_mel, log_mel_librosa, mel_filterbank

TOLERANCE = 1e-3  # largest difference of natural-log mel values between the two implementations


def _test_signal(seconds=1.5, seed=0):
    sr = MEL.sample_rate
    t = np.arange(int(sr * seconds)) / sr
    rng = np.random.default_rng(seed)
    y = 0.4 * np.sin(2 * np.pi * 261.6 * t) + 0.2 * np.sin(2 * np.pi * 4186 * t) * (t > 0.5)
    y += 0.02 * rng.standard_normal(len(t))
    return y.astype(np.float32)


def test_spec_is_frozen():
    assert (MEL.sample_rate, MEL.n_fft, MEL.hop_length, MEL.win_length, MEL.n_mels) == \
           (22050, 1024, 256, 1024, 80)
    assert (MEL.fmin, MEL.fmax) == (0.0, 11025.0)
    assert MEL.silence == pytest.approx(np.log(1e-5))
    with pytest.raises(Exception):
        MEL.n_mels = 128  # frozen
    assert mel_filterbank().shape == (80, 513)


def test_torch_and_librosa_agree():
    y = _test_signal()
    a = log_mel_librosa(y)
    b = log_mel(y)
    assert a.shape == b.shape == (80, MEL.num_frames(len(y)))
    assert np.abs(a - b).max() < TOLERANCE


def test_batched_and_silence():
    y = torch.from_numpy(np.stack([_test_signal(seed=1), np.zeros(len(_test_signal()), np.float32)]))
    out = LogMel()(y)
    assert out.shape == (2, 80, MEL.num_frames(y.shape[1]))
    assert torch.allclose(out[0], torch.from_numpy(log_mel(y[0].numpy())), atol=1e-5)
    assert torch.allclose(out[1], torch.full_like(out[1], MEL.silence))
    # The 4186 Hz tone (C8) that starts at 0.5 s lights up the band around 4186 Hz.
    import librosa

    centres = librosa.mel_frequencies(MEL.n_mels + 2, fmin=MEL.fmin, fmax=MEL.fmax)[1:-1]
    band = int(np.argmin(np.abs(centres - 4186)))
    frame = int(0.5 * MEL.frames_per_second)
    assert out[0, band, frame + 10:].mean() > out[0, band, :frame - 10].mean() + 3.0

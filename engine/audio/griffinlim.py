"""Griffin-Lim from the log-mel: the baseline every vocoder in Cantus must beat.

The mel is taken back to a linear magnitude spectrogram by non-negative least squares (a few
hundred multiplicative updates from the pseudo-inverse, batched in torch), then the phase is
found by fast Griffin-Lim (Perraudin et al. 2013: momentum 0.99), 64 iterations from zero phase.
"""

from __future__ import annotations

import numpy as np
import torch

from engine.audio.mel import MEL, MelSpec, mel_filterbank, mel_pseudo_inverse


def mel_to_magnitude(mel: torch.Tensor, spec: MelSpec = MEL, n_iter: int = 200) -> torch.Tensor:
    """Linear STFT magnitudes whose mel is ``exp(mel)``, by NNLS.

    mel : (B, n_mels, T) or (n_mels, T) natural-log mel magnitudes.
    Returns (B, n_fft // 2 + 1, T) or (n_fft // 2 + 1, T), non-negative.
    """
    basis = torch.from_numpy(mel_filterbank(spec)).to(mel.device)  # (n_mels, bins)
    target = torch.exp(mel.float())
    # Where the mel is at its floor the sound is silent: a small positive start keeps the
    # multiplicative updates able to move (they cannot leave exact zeros).
    inverse = torch.from_numpy(mel_pseudo_inverse(spec)).to(mel.device)
    x = torch.clamp(inverse @ target, min=0.0) + 1e-8
    bt_target = basis.T @ target
    btb = basis.T @ basis
    for _ in range(n_iter):
        x = x * bt_target / (btb @ x + 1e-10)
    return x


def stft_pair(length: int, spec: MelSpec = MEL):
    """(stft, istft) on the mel's frames (centred, Hann, reflect-padded): stft(audio) gives
    (bins, frames) complex, istft(that) gives ``length`` samples back. Griffin-Lim and the mel
    post-filter (`engine.audio.postfilter`) go between the two."""
    window = torch.hann_window(spec.win_length)

    def stft(x):
        return torch.stft(x, spec.n_fft, spec.hop_length, spec.win_length, window, center=True,
                          pad_mode="reflect", return_complex=True)

    def istft(s):
        return torch.istft(s, spec.n_fft, spec.hop_length, spec.win_length, window, center=True, length=length)

    return stft, istft


def griffin_lim(mel: torch.Tensor | np.ndarray, n_iter: int = 64, momentum: float = 0.99,
                num_samples: int | None = None, spec: MelSpec = MEL) -> np.ndarray:
    """Audio from a log-mel spectrogram by fast Griffin-Lim.

    mel : (n_mels, T) natural-log mel magnitudes (numpy or torch).
    num_samples : the length wanted; default (T - 1) * hop_length.
    Returns np.ndarray [shape=(num_samples,), float32].
    """
    m = torch.as_tensor(np.asarray(mel) if not isinstance(mel, torch.Tensor) else mel, dtype=torch.float32)
    mag = mel_to_magnitude(m, spec)
    length = num_samples if num_samples is not None else (m.shape[-1] - 1) * spec.hop_length
    stft, istft = stft_pair(length, spec)

    angles = torch.ones_like(mag, dtype=torch.complex64)
    previous = torch.zeros_like(angles)
    with torch.no_grad():
        for _ in range(n_iter):
            rebuilt = stft(istft(mag * angles))
            accelerated = rebuilt - (momentum / (1 + momentum)) * previous if momentum else rebuilt
            previous = rebuilt
            angles = accelerated / (accelerated.abs() + 1e-16)
        return istft(mag * angles).numpy().astype(np.float32)

"""Linear prediction from the log-mel: each frame's all-pole model of the spectrum it describes.

The WaveNet vocoder (`engine.models.wavenet`, with ``lpc_order`` > 0) predicts only what this
linear predictor misses, as LPCNet does (Valin and Skoglund 2019, who take the predictor from
Bark-band energies): p[t] = -sum_k a_k x[t-k], with a_1 .. a_P the coefficients of the frame
nearest sample t. On the synth's renders an order-32 predictor from the mel alone removes about
30 dB of the signal, and white noise through its filter 1 / A(z) already carries the low
harmonics of the notes (pYIN hears the melody's pitch in it); the network is left the
excitation, a far easier thing to learn on two CPU cores than the waveform.

From mel to predictor: each band's magnitude (divided by the filter's response to a flat
spectrum) is interpolated linearly between band centres to the STFT bins, squared, and turned
into the autocorrelation of the frame (the inverse DFT of the power spectrum, as a product with a
cosine table); a Gaussian lag window of ``bandwidth_hz`` widens the resonances a little and a
relative white-noise floor keeps the system well conditioned; Levinson-Durbin solves it.
"""

from __future__ import annotations

from dataclasses import replace
from functools import lru_cache

import numpy as np
import torch

from engine.audio.mel import MEL, MelSpec, mel_filterbank

WHITE_NOISE = 1e-4  # added to the zero lag, relative: the predictor's condition number stays bounded


def spec_for(n_mels: int) -> MelSpec:
    """The mel scale with ``n_mels`` bands (the one mel spec for 80; tiny test models use fewer)."""
    return MEL if n_mels == MEL.n_mels else replace(MEL, n_mels=n_mels)


@lru_cache(maxsize=8)
def _tables(spec: MelSpec, order: int, bandwidth_hz: float) -> tuple[np.ndarray, np.ndarray]:
    """(envelope (n_mels, bins): band magnitudes to bin magnitudes; cosines (bins, order + 1):
    bin powers to the lag-windowed autocorrelation at lags 0 .. order), float64."""
    basis = mel_filterbank(spec).astype(np.float64)  # (n_mels, bins)
    bins = basis.shape[1]
    freqs = np.linspace(0.0, spec.sample_rate / 2, bins)
    flat = basis.sum(axis=1)  # each filter's response to a flat magnitude of 1
    centres = (basis * freqs).sum(axis=1) / flat
    envelope = np.zeros((spec.n_mels, bins))
    for j in range(spec.n_mels):  # np.interp's weights on band j: a hat from centre j-1 to j+1
        unit = np.zeros(spec.n_mels)
        unit[j] = 1.0
        envelope[j] = np.interp(freqs, centres, unit)
    envelope /= flat[:, None]
    n_fft = 2 * (bins - 1)
    lags = np.arange(order + 1)
    weights = np.full(bins, 2.0)
    weights[0] = weights[-1] = 1.0  # the DC and Nyquist bins appear once in the full spectrum
    cosines = weights[:, None] * np.cos(2 * np.pi * np.arange(bins)[:, None] * lags[None] / n_fft) / n_fft
    cosines *= np.exp(-0.5 * (2 * np.pi * bandwidth_hz * lags / spec.sample_rate) ** 2)[None]
    return envelope, cosines


def levinson(r: torch.Tensor, order: int) -> torch.Tensor:
    """Predictor polynomials a (..., order + 1), a[..., 0] = 1, from autocorrelations r
    (..., >= order + 1) by Levinson-Durbin: sum_k a_k r[|i - k|] = 0 for i = 1 .. order."""
    a = torch.zeros(*r.shape[:-1], order + 1, dtype=r.dtype, device=r.device)
    a[..., 0] = 1.0
    err = r[..., 0].clone()
    for i in range(1, order + 1):
        acc = r[..., i] + (a[..., 1:i] * r[..., 1:i].flip(-1)).sum(-1)
        k = -acc / err
        previous = a[..., 1:i].clone()
        a[..., 1:i] = previous + k[..., None] * previous.flip(-1)
        a[..., i] = k
        err = err * (1.0 - k * k)
    return a


def lpc_from_mel(mel: torch.Tensor, order: int, bandwidth_hz: float = 60.0) -> torch.Tensor:
    """Predictor polynomials (..., T, order + 1), float32, a[..., 0] = 1, one per frame of the
    natural-log mel (..., n_mels, T)."""
    envelope, cosines = _tables(spec_for(mel.shape[-2]), order, float(bandwidth_hz))
    x = mel.detach().to(torch.float64)
    magnitude = torch.exp(x).transpose(-1, -2) @ torch.from_numpy(envelope).to(x.device)  # (..., T, bins)
    r = magnitude.square() @ torch.from_numpy(cosines).to(x.device)  # (..., T, order + 1)
    r[..., 0] = r[..., 0] * (1.0 + WHITE_NOISE) + 1e-20
    return levinson(r, order).to(torch.float32)


def frame_of_samples(start: int, num_samples: int, hop_length: int, num_frames: int) -> torch.Tensor:
    """The frame nearest each sample start .. start + num_samples - 1 (the WaveNet's conditioning
    rule: frame k rules samples k*hop - hop/2 .. k*hop + hop/2 - 1), clamped to the frames there are."""
    return ((torch.arange(num_samples) + start + hop_length // 2) // hop_length).clamp_(max=num_frames - 1)


def predict(audio: torch.Tensor, a: torch.Tensor, hop_length: int, start: int = 0) -> torch.Tensor:
    """Teacher-forced predictions p (B, L) of audio (B, L) from the samples before each one (zeros
    before the first), under the polynomials a (B, T, order + 1) of its frames; sample t is
    sample start + t of the frames' timeline."""
    order = a.shape[-1] - 1
    L = audio.shape[-1]
    frames = frame_of_samples(start, L, hop_length, a.shape[1]).to(a.device)
    coef = a[:, frames, 1:]  # (B, L, order): coef[..., k-1] multiplies x[t-k]
    past = torch.nn.functional.pad(audio, (order, 0)).unfold(-1, order, 1)[:, :L]  # x[t-order] .. x[t-1]
    return -(coef * past.flip(-1)).sum(-1)

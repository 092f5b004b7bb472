"""A mel post-filter: bring a vocoder's audio back to the loudness per mel band that its mel asks for.

A sampled vocoder (the WaveNet) draws every sample with some noise. The mel it was given says how
loud each band should be in each frame; where its audio is louder than that (the hiss between a
melody's harmonics below 2 kHz, where the bands are narrower than the harmonics' spacing, and
the noise between notes) the filter turns that band down, frame by frame:

    gain[band, frame] = min(max_gain, exp(mel) / mel_of(audio))

interpolated to the STFT bins along the bands' triangles (in log gain), applied to the audio's STFT
(its phase kept) and inverted by overlap-add, ``passes`` times. It only rescales what is there: it
cannot add a missing harmonic, and within one band it turns the harmonic and the noise between
harmonics down alike (above about 2 kHz a band spans several harmonics).
"""

from __future__ import annotations

import numpy as np
import torch

from engine.audio.mel import MEL, MelSpec, mel_filterbank


def _interpolation(spec: MelSpec) -> torch.Tensor:
    """(bins, n_mels): each bin's weights over the bands whose triangles cover it, summing to 1."""
    basis = mel_filterbank(spec).astype(np.float64)  # (n_mels, bins), Slaney-normalised triangles
    tri = basis / np.maximum(basis.max(axis=1, keepdims=True), 1e-12)  # peaks of 1
    total = tri.sum(axis=0)
    w = tri / np.where(total > 0, total, 1.0)
    # Bins no triangle covers (DC, and above the last band's top) take their nearest band's gain.
    centres = np.argmax(tri, axis=1)
    for b in np.flatnonzero(total <= 0):
        w[int(np.argmin(np.abs(centres - b))), b] = 1.0
    return torch.from_numpy(w.T.astype(np.float32))


def mel_postfilter(audio: np.ndarray, mel: np.ndarray, max_gain: float = 1.0, passes: int = 1,
                   spec: MelSpec = MEL) -> np.ndarray:
    """``audio`` (L,) turned, band by band and frame by frame, to the loudness of ``mel``
    (n_mels, T), the centred log-mel it was vocoded from (T = L // hop + 1; extra frames are
    ignored, missing ones count as silence). Gains are at most ``max_gain`` (1: only ever quieter).
    Returns float32 (L,), clipped to [-1, 1]."""
    x = torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32))
    length = x.shape[0]
    if length == 0:
        return np.zeros(0, np.float32)
    frames = spec.num_frames(length)
    target = torch.full((spec.n_mels, frames), spec.silence)
    m = torch.as_tensor(np.asarray(mel, dtype=np.float32))[:, :frames]
    target[:, :m.shape[1]] = m
    basis = torch.from_numpy(mel_filterbank(spec))
    weights = _interpolation(spec)
    window = torch.hann_window(spec.win_length)
    log_max = float(np.log(max_gain))
    for _ in range(passes):
        stft = torch.stft(x, spec.n_fft, spec.hop_length, spec.win_length, window, center=True,
                          pad_mode="reflect", return_complex=True)
        have = torch.log(torch.clamp(basis @ stft.abs(), min=spec.log_floor))
        log_gain = torch.clamp(target - have, max=log_max)  # (n_mels, frames)
        gain = torch.exp(weights @ log_gain)  # (bins, frames)
        x = torch.istft(stft * gain, spec.n_fft, spec.hop_length, spec.win_length, window, center=True,
                        length=length)
    return np.clip(x.numpy(), -1.0, 1.0).astype(np.float32)


def settings(config: dict) -> dict | None:
    """The post-filter a vocoder bundle's config.json asks for ({"max_gain": g, "passes": n}, chosen
    on validation by `cantus train wavenet-postfilter`), as keyword arguments of `mel_postfilter`;
    None for none. Raises ValueError for settings that make no sense."""
    post = config.get("postfilter")
    if not post:
        return None
    try:
        max_gain, passes = float(post["max_gain"]), int(post["passes"])
    except (TypeError, KeyError, ValueError):
        raise ValueError(f"its post-filter settings {post!r} are not a max_gain and a number of passes")
    if not (max_gain > 0 and np.isfinite(max_gain)) or passes < 0:
        raise ValueError(f"its post-filter settings {post!r} are out of range")
    return {"max_gain": max_gain, "passes": passes} if passes else None

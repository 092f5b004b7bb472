"""A mel post-filter: bring a vocoder's audio back to the loudness per mel band that its mel asks for.

A sampled vocoder (the WaveNet) draws every sample with some noise. The mel it was given says how
loud each band should be in each frame; where its audio is louder than that (the hiss between a
melody's harmonics below 2 kHz, where the bands are narrower than the harmonics' spacing, and
the noise between notes) the filter turns that band down, frame by frame:

    gain[band, frame] = min(max_gain, exp(mel) / mel_of(audio))

interpolated to the STFT bins along the bands' triangles (in log gain) and applied to the audio's
STFT, ``passes`` times, the STFT made consistent between passes (see `mel_postfilter`), then
inverted by overlap-add. It rescales what is there: it cannot add a missing harmonic, and within
one band it turns the harmonic and the noise between harmonics down alike (above about 2 kHz a
band spans several harmonics). Many passes move the phase too, towards what a Griffin-Lim seeded
by the vocoder's audio would find; `cantus train wavenet-postfilter` tries up to 48.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch

from engine.audio.griffinlim import stft_pair
from engine.audio.mel import MEL, MelSpec, mel_filterbank

MOMENTUM = 0.9  # between passes; chosen on 8 validation clips (0.9 and 0.99 alike, both far ahead of 0)


@lru_cache(maxsize=4)
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
                   momentum: float = MOMENTUM, spec: MelSpec = MEL) -> np.ndarray:
    """``audio`` (L,) turned, band by band and frame by frame, to the loudness of ``mel``
    (n_mels, T), the centred log-mel it was vocoded from (T = L // hop + 1; extra frames are
    ignored, missing ones count as silence). Each pass's gains are at most ``max_gain`` (1: only
    ever quieter; above 1 the passes compound, so that a band the vocoder left nearly silent can
    be brought back up from what little it has).

    Each pass sets the bands' loudness on the STFT; between passes the STFT is made consistent
    again (inverted and taken anew), with ``momentum`` as in fast Griffin-Lim (Perraudin et al.
    2013): on validation 24 passes with it come nearer than 96 without.
    Returns float32 (L,) in [-1, 1].
    """
    x = torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32))
    length = x.shape[0]
    if length == 0 or passes <= 0:
        return np.clip(x.numpy(), -1.0, 1.0).astype(np.float32)
    frames = spec.num_frames(length)
    target = torch.full((spec.n_mels, frames), spec.silence)
    m = torch.as_tensor(np.asarray(mel, dtype=np.float32))[:, :frames]
    target[:, :m.shape[1]] = m
    basis = torch.from_numpy(mel_filterbank(spec))
    weights = _interpolation(spec)
    log_max = float(np.log(max_gain))
    stft, istft = stft_pair(length, spec)
    s, previous = stft(x), None
    for k in range(passes):
        have = torch.log(torch.clamp(basis @ s.abs(), min=spec.log_floor))
        log_gain = torch.clamp(target - have, max=log_max)  # (n_mels, frames)
        s = s * torch.exp(weights @ log_gain)  # (bins, frames)
        if k + 1 == passes:
            break
        consistent = stft(istft(s))
        s = consistent if previous is None else consistent + momentum * (consistent - previous)
        previous = consistent
    return np.clip(istft(s).numpy(), -1.0, 1.0).astype(np.float32)


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

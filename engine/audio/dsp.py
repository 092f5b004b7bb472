"""Small signal helpers shared by synthesis, playback and export."""

from __future__ import annotations

import numpy as np


def resample(audio: np.ndarray, from_rate: float, to_rate: float) -> np.ndarray:
    """Audio at another sample rate (soxr, high quality), float32.

    audio : np.ndarray [shape=(frames,) or (frames, channels)]; the shape's rank is kept.
    """
    if abs(float(from_rate) - float(to_rate)) < 1e-6:
        return audio
    import soxr

    return soxr.resample(audio, float(from_rate), float(to_rate), quality="HQ").astype(np.float32)

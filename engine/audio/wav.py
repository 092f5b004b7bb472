"""WAV export through soundfile: 16/24-bit PCM or 32-bit float, peak-normalised, written atomically."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np

from engine.audio.dsp import resample
from engine.errors import CantusError
from engine.fileio import atomic_write_bytes

SAMPLE_RATES = (22050, 44100, 48000)
SUBTYPES = {16: "PCM_16", 24: "PCM_24", 32: "FLOAT"}
HEADROOM_DB = 1.0  # normalised peaks sit 1 dB below full scale


class AudioFileError(CantusError):
    """An audio file could not be written."""


def normalize(audio: np.ndarray, headroom_db: float = HEADROOM_DB) -> np.ndarray:
    """Scale so that the highest peak is ``headroom_db`` below full scale (silence stays silent)."""
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    if peak == 0.0:
        return audio.astype(np.float32)
    return (audio * (10 ** (-headroom_db / 20) / peak)).astype(np.float32)


def wav_bytes(audio: np.ndarray, sample_rate: int, bits: int = 16, normalise: bool = True,
              headroom_db: float = HEADROOM_DB) -> bytes:
    """The bytes of a WAV file.

    Parameters
    ----------
    audio : np.ndarray [shape=(frames,) or (frames, channels)] float audio.
    sample_rate : the rate of ``audio`` in Hz; it is written as it is.
    bits : 16 or 24 (PCM) or 32 (float).
    normalise : scale the peak to ``headroom_db`` below full scale; without it, audio that
        would clip is still scaled down to the headroom: an export never clips.
    """
    if bits not in SUBTYPES:
        raise AudioFileError(f"WAV files here are 16-bit, 24-bit or 32-bit float, not {bits}-bit.")
    audio = np.asarray(audio, dtype=np.float32)
    if not np.all(np.isfinite(audio)):
        raise AudioFileError("The audio contains invalid samples (NaN or infinity); nothing was written.")
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    if normalise or peak > 10 ** (-headroom_db / 20):
        audio = normalize(audio, headroom_db)
    buf = io.BytesIO()
    import soundfile

    soundfile.write(buf, audio, sample_rate, subtype=SUBTYPES[bits], format="WAV")
    return buf.getvalue()


def write_wav(path: str | os.PathLike, audio: np.ndarray, sample_rate: int, bits: int = 16,
              target_rate: int | None = None, normalise: bool = True,
              headroom_db: float = HEADROOM_DB) -> Path:
    """Write a WAV file atomically (a temporary file renamed into place).

    ``target_rate`` (22,050, 44,100 or 48,000 Hz) resamples first when it differs from
    ``sample_rate``.
    """
    rate = target_rate or sample_rate
    if rate not in SAMPLE_RATES:
        raise AudioFileError(
            f"Export at 22,050, 44,100 or 48,000 Hz; {rate:,} Hz is not offered.")
    data = wav_bytes(resample(np.asarray(audio, dtype=np.float32), sample_rate, rate), rate, bits,
                     normalise, headroom_db)
    path = Path(path)
    try:
        return atomic_write_bytes(path, data)
    except OSError as e:
        raise AudioFileError(f"Cannot write '{path}': {e.strerror or e}.") from None

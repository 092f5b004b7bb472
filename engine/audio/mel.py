"""The one mel spectrogram that every model, view and metric in Cantus uses.

22,050 Hz audio, n_fft 1024, hop 256, Hann window of 1024, 80 mel bands (Slaney scale and
area normalisation, as librosa's default) from 0 to 11,025 Hz, magnitude (not power), natural
log clamped at 1e-5. Frames are centred (the signal is reflect-padded by n_fft // 2), so frame
k describes the audio around sample k * hop_length.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np


@dataclass(frozen=True)
class MelSpec:
    sample_rate: int = 22050
    n_fft: int = 1024
    hop_length: int = 256
    win_length: int = 1024
    n_mels: int = 80
    fmin: float = 0.0
    fmax: float = 11025.0
    log_floor: float = 1e-5  # magnitudes below this count as silence: log(1e-5) = -11.51

    @property
    def frames_per_second(self) -> float:
        return self.sample_rate / self.hop_length

    @property
    def silence(self) -> float:
        """The log-mel value of silence."""
        return float(np.log(self.log_floor))

    def num_frames(self, num_samples: int) -> int:
        """Frames for a signal of ``num_samples`` (centred framing)."""
        return 1 + num_samples // self.hop_length


MEL = MelSpec()


def hz_to_mel(hz):
    """Slaney's mel scale (librosa's default): linear below 1 kHz, logarithmic above."""
    hz = np.asarray(hz, dtype=np.float64)
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, math.log(6.4) / 27.0
    return np.where(hz >= min_log_hz, min_log_mel + np.log(np.maximum(hz, 1e-9) / min_log_hz) / logstep,
                    hz / f_sp)


def mel_to_hz(mel):
    mel = np.asarray(mel, dtype=np.float64)
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, math.log(6.4) / 27.0
    return np.where(mel >= min_log_mel, min_log_hz * np.exp(logstep * (mel - min_log_mel)), mel * f_sp)


def mel_band_frequencies(spec: MelSpec = MEL) -> np.ndarray:
    """The centre frequency in Hz of each mel band (n_mels,), without librosa (for views)."""
    edges = mel_to_hz(np.linspace(hz_to_mel(spec.fmin), hz_to_mel(spec.fmax), spec.n_mels + 2))
    return edges[1:-1]


@lru_cache(maxsize=4)
def mel_filterbank(spec: MelSpec = MEL) -> np.ndarray:
    """Mel filters, shape (n_mels, 1 + n_fft // 2), float32 (librosa's Slaney filters)."""
    import librosa

    return librosa.filters.mel(sr=spec.sample_rate, n_fft=spec.n_fft, n_mels=spec.n_mels,
                               fmin=spec.fmin, fmax=spec.fmax).astype(np.float32)


@lru_cache(maxsize=4)
def mel_pseudo_inverse(spec: MelSpec = MEL) -> np.ndarray:
    """The mel filters' pseudo-inverse, shape (1 + n_fft // 2, n_mels), float32: the least-squares
    way back from mel magnitudes to linear ones (negative where it overshoots; callers clamp)."""
    return np.linalg.pinv(mel_filterbank(spec)).astype(np.float32)


def log_mel_librosa(audio: np.ndarray, spec: MelSpec = MEL) -> np.ndarray:
    """Reference implementation with librosa.

    Parameters
    ----------
    audio : np.ndarray [shape=(num_samples,)] mono float audio at ``spec.sample_rate``.

    Returns
    -------
    np.ndarray [shape=(n_mels, num_frames), float32] natural-log mel magnitudes.
    """
    import librosa

    mel = librosa.feature.melspectrogram(
        y=np.asarray(audio, dtype=np.float32), sr=spec.sample_rate, n_fft=spec.n_fft,
        hop_length=spec.hop_length, win_length=spec.win_length, window="hann", center=True,
        pad_mode="reflect", power=1.0, n_mels=spec.n_mels, fmin=spec.fmin, fmax=spec.fmax)
    return np.log(np.maximum(mel, spec.log_floor)).astype(np.float32)


class LogMel:
    """The torch implementation, batched and on any device; a module-like callable.

    ``LogMel()(audio)`` with audio a tensor of shape (batch, num_samples) or (num_samples,)
    returns (batch, n_mels, num_frames) or (n_mels, num_frames), float32, on audio's device.
    """

    def __init__(self, spec: MelSpec = MEL) -> None:
        self.spec = spec
        self._cache: dict = {}

    def _constants(self, device):
        import torch

        key = str(device)
        if key not in self._cache:
            window = torch.hann_window(self.spec.win_length, periodic=True, device=device)
            basis = torch.from_numpy(mel_filterbank(self.spec)).to(device)
            self._cache[key] = (window, basis)
        return self._cache[key]

    def __call__(self, audio):
        import torch

        single = audio.dim() == 1
        x = audio.unsqueeze(0) if single else audio
        x = x.float()
        window, basis = self._constants(x.device)
        stft = torch.stft(x, n_fft=self.spec.n_fft, hop_length=self.spec.hop_length,
                          win_length=self.spec.win_length, window=window, center=True,
                          pad_mode="reflect", return_complex=True)
        magnitude = stft.abs()  # (batch, freq, frames)
        mel = torch.matmul(basis, magnitude)
        out = torch.log(torch.clamp(mel, min=self.spec.log_floor))
        return out[0] if single else out


def log_mel(audio: np.ndarray, spec: MelSpec = MEL) -> np.ndarray:
    """The log-mel spectrogram of mono numpy audio through the torch implementation.

    audio : np.ndarray [shape=(num_samples,)] at ``spec.sample_rate``;
    returns np.ndarray [shape=(n_mels, num_frames), float32].
    """
    import torch

    with torch.no_grad():
        return LogMel(spec)(torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32))).numpy()


def log_mel_of(audio: np.ndarray, sample_rate: float, spec: MelSpec = MEL) -> np.ndarray:
    """The log-mel spectrogram (n_mels, frames) of audio at any rate, mono or (frames, channels):
    channels are averaged and the signal resampled to the scale's rate first."""
    from engine.audio.dsp import resample

    x = np.asarray(audio, dtype=np.float32)
    if x.ndim == 2:
        x = x.mean(axis=1)
    if sample_rate != spec.sample_rate:
        x = resample(x, sample_rate, spec.sample_rate)
    return log_mel(x, spec)

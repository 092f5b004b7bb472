"""The fast vocoder: log-mel frames to audio with a ConvNeXt stack and one inverse STFT (Vocos-like).

Every mel frame gives one STFT frame (magnitude and phase) at the mel's own resolution (n_fft 1024,
hop 256), and `torch.istft` turns the frames into samples: no upsampling layers, so it runs at the
frame rate, hundreds of times faster than real time on a CPU.

The magnitude is predicted as a correction of the mel's pseudo-inverse (the mel filters'
pseudo-inverse applied to the mel's magnitudes, floored): where the mel is silent the starting
point already is, so the network spends its training on harmonics and phase instead of on
lowering a unit magnitude in every silent bin. Measured here, 600 steps on one core: validation
MR-STFT 0.89 with the prior against 2.26 without it. Phase is predicted as an angle per frame
(the cos and sin of one output), as Vocos does.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class FastVocoderConfig:
    n_mels: int = 80  # the one mel spec's bands
    dim: int = 256  # width of the ConvNeXt stack
    intermediate: int = 768  # width inside each block's pointwise layers
    n_layers: int = 8  # ConvNeXt blocks; receptive field 1 + 6 * (n_layers + 1) frames
    kernel_size: int = 7  # depthwise convolution over frames
    n_fft: int = 1024  # the STFT the head predicts: the mel's (engine.audio.mel.MEL)
    hop_length: int = 256
    mel_mean: float = -6.0  # log-mel is shifted and scaled to about unit range on the way in
    mel_std: float = 3.0
    max_log_magnitude: float = math.log(100.0)  # Vocos's clip: no frame may explode
    magnitude_prior: bool = True  # predict the log-magnitude as a correction of the mel's pseudo-inverse

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "FastVocoderConfig":
        return cls(**d)


class ConvNeXtBlock(nn.Module):
    """Depthwise conv over frames, LayerNorm, pointwise expand, GELU, pointwise back, layer scale."""

    def __init__(self, dim: int, intermediate: int, kernel_size: int, layer_scale: float) -> None:
        super().__init__()
        self.dwconv = nn.Conv1d(dim, dim, kernel_size, padding=kernel_size // 2, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.pw1 = nn.Linear(dim, intermediate)
        self.pw2 = nn.Linear(intermediate, dim)
        self.gamma = nn.Parameter(torch.full((dim,), layer_scale))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, dim, T)
        h = self.dwconv(x).transpose(1, 2)
        h = self.pw2(F.gelu(self.pw1(self.norm(h))))
        return x + (self.gamma * h).transpose(1, 2)


class FastVocoder(nn.Module):
    def __init__(self, cfg: FastVocoderConfig | None = None) -> None:
        super().__init__()
        self.cfg = cfg = cfg or FastVocoderConfig()
        self.embed = nn.Conv1d(cfg.n_mels, cfg.dim, cfg.kernel_size, padding=cfg.kernel_size // 2)
        self.norm = nn.LayerNorm(cfg.dim, eps=1e-6)
        self.blocks = nn.ModuleList(
            ConvNeXtBlock(cfg.dim, cfg.intermediate, cfg.kernel_size, 1.0 / cfg.n_layers)
            for _ in range(cfg.n_layers))
        self.final_norm = nn.LayerNorm(cfg.dim, eps=1e-6)
        self.head = nn.Linear(cfg.dim, cfg.n_fft + 2)  # log-magnitude and phase of n_fft // 2 + 1 bins
        self.register_buffer("window", torch.hann_window(cfg.n_fft), persistent=False)
        if cfg.magnitude_prior:
            from engine.audio.mel import MelSpec, mel_pseudo_inverse

            spec = MelSpec(n_fft=cfg.n_fft, hop_length=cfg.hop_length, win_length=cfg.n_fft, n_mels=cfg.n_mels)
            self.register_buffer("mel_inverse", torch.from_numpy(mel_pseudo_inverse(spec)), persistent=False)
        self.apply(self._init)

    @staticmethod
    def _init(m: nn.Module) -> None:
        if isinstance(m, (nn.Conv1d, nn.Linear)):
            nn.init.trunc_normal_(m.weight, std=0.02)
            nn.init.zeros_(m.bias)

    def spectrum(self, mel: torch.Tensor) -> torch.Tensor:
        """The complex STFT the network predicts.

        mel : (B, n_mels, T) natural-log mel magnitudes (`engine.audio.mel`).
        Returns complex (B, n_fft // 2 + 1, T).
        """
        cfg = self.cfg
        x = self.embed((mel - cfg.mel_mean) / cfg.mel_std)
        x = self.norm(x.transpose(1, 2)).transpose(1, 2)
        for block in self.blocks:
            x = block(x)
        x = self.head(self.final_norm(x.transpose(1, 2))).transpose(1, 2).float()
        log_mag, phase = x.chunk(2, dim=1)
        if cfg.magnitude_prior:
            # Where the mel is silent the prior is too: the network starts from the right level
            # everywhere instead of from a magnitude of 1 it would take thousands of steps to lower.
            prior = torch.matmul(self.mel_inverse, torch.exp(mel.float()))
            log_mag = log_mag + torch.log(torch.clamp(prior, min=1e-5))
        mag = torch.exp(torch.clamp(log_mag, max=cfg.max_log_magnitude))
        return torch.polar(mag, phase)

    def forward(self, mel: torch.Tensor, num_samples: int | None = None) -> torch.Tensor:
        """Audio from log-mel frames.

        mel : (B, n_mels, T) or (n_mels, T); frame k describes the audio around sample k * hop.
        num_samples : the length wanted; default (T - 1) * hop_length, which is exactly the audio
            whose centred mel has T frames when its length is a multiple of the hop.
        Returns (B, num_samples) or (num_samples,) float32.
        """
        single = mel.dim() == 2
        if single:
            mel = mel.unsqueeze(0)
        spec = self.spectrum(mel)
        length = num_samples if num_samples is not None else (mel.shape[-1] - 1) * self.cfg.hop_length
        audio = torch.istft(spec, self.cfg.n_fft, self.cfg.hop_length, window=self.window, center=True,
                            length=length)
        return audio[0] if single else audio


"""A 16-bar MusicVAE built on a trained 2-bar one: a latent over the eight 2-bar codes.

A 16-bar melody is cut into eight 2-bar windows, and the 2-bar model's encoder turns each into
the mean and scale of its posterior. A bidirectional LSTM reads those eight codes and gives the
16-bar posterior; a conductor LSTM, started from z and fed z at every step, expands it back into
eight 2-bar codes; the 2-bar decoder writes each window's notes from its code. Long-term
structure has to come through z, as in the paper's hierarchical decoder (the conductor plans,
the bar decoder plays), but every part that writes notes is the 2-bar model that already plays
pop melodies well, so the hierarchy trains on 2 CPU cores in minutes (a latent sequence over
MusicVAE codes, as in Mittal et al. 2021).

Loss: the code term (the 2-bar posterior's negative log-density of the conductor's codes, up to
a constant: 0.5 * sum((code - mu) / sigma)^2, so a dimension the 2-bar model is sure of counts
most), the token term (cross-entropy of the 2-bar decoder's teacher-forced logits, summed over
the 256 steps; weight 0 skips the decoder, the cheap first stage), and beta * max(KL - free
bits, 0). The 2-bar encoder is frozen (it defines the codes); the decoder is frozen unless
``tune_decoder``.

The same interface as `MusicVAE` (encode, decode, decode_logits, cfg.seq_len, cfg.z_size), so
`engine.generate.musicvae.MelodyVAE` speaks in tracks for both. ``shift``, a vector in the 2-bar
code space added to every window's code, is how the 2-bar model's attribute sliders act at 16 bars.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import torch
from torch import nn
from torch.nn import functional as F

from engine.models.musicvae import MusicVAE, MusicVAEConfig


@dataclass
class LongVAEConfig:
    name: str = "mel16bar"
    base: dict = field(default_factory=lambda: MusicVAEConfig().to_dict())  # the 2-bar model's config
    segments: int = 8  # 2-bar windows per melody
    # The bundle's sizes (22 MB in float16). At 256 units (8.7 MB) an 18-minute code stage
    # reached 0.836 free-running on POP909 test melodies; 512 units 0.916 after 27 minutes.
    z_size: int = 512
    enc_size: int = 512  # per direction
    conductor_size: int = 512
    conductor_layers: int = 2
    free_bits: float = 256.0
    max_beta: float = 0.2
    beta_rate: float = 0.9995
    code_weight: float = 1.0
    token_weight: float = 1.0
    tune_decoder: bool = False
    hierarchical: bool = True  # read by code that tells the two kinds apart

    @property
    def base_cfg(self) -> MusicVAEConfig:
        return MusicVAEConfig(**self.base)

    @property
    def num_classes(self) -> int:
        return int(self.base["num_classes"])

    @property
    def segment_len(self) -> int:
        return int(self.base["seq_len"])

    @property
    def seq_len(self) -> int:
        return self.segment_len * self.segments

    @property
    def code_size(self) -> int:
        return int(self.base["z_size"])

    def to_dict(self) -> dict:
        return asdict(self)


LONG_CONFIGS = {"mel16bar": LongVAEConfig()}  # the sizes; ``base`` comes from the 2-bar bundle


class LongMusicVAE(nn.Module):
    def __init__(self, cfg: LongVAEConfig) -> None:
        super().__init__()
        if cfg.base.get("hierarchical"):
            raise ValueError("the base of a 16-bar model is a flat 2-bar MusicVAE")
        self.cfg = cfg
        self.base = MusicVAE(cfg.base_cfg)
        C, H = cfg.code_size, cfg.enc_size
        self.code_encoder = nn.LSTM(C, H, batch_first=True, bidirectional=True)
        self.mu = nn.Linear(2 * H, cfg.z_size)
        self.sigma = nn.Linear(2 * H, cfg.z_size)
        L, K = cfg.conductor_layers, cfg.conductor_size
        self.conductor_init = nn.Linear(cfg.z_size, 2 * L * K)
        self.conductor = nn.LSTM(cfg.z_size, K, num_layers=L, batch_first=True)
        self.code_out = nn.Linear(K, C)
        self.freeze_base()

    def freeze_base(self) -> None:
        for p in self.base.encoder.parameters():
            p.requires_grad_(False)
        for p in self.base.decoder.parameters():
            p.requires_grad_(self.cfg.tune_decoder)

    def train(self, mode: bool = True) -> "LongMusicVAE":
        super().train(mode)
        self.base.encoder.eval()  # frozen: the codes it gives never change
        return self

    # -- the parts ------------------------------------------------------------------------------

    def segments(self, tokens: torch.Tensor) -> torch.Tensor:
        """(batch, seq_len) -> (batch * segments, segment_len)."""
        return tokens.reshape(-1, self.cfg.segment_len)

    @torch.no_grad()
    def segment_codes(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The 2-bar posteriors of each window: mu, sigma (batch, segments, code_size)."""
        B = tokens.shape[0]
        mu, sigma = self.base.encoder(self.segments(tokens))
        return mu.view(B, self.cfg.segments, -1), sigma.view(B, self.cfg.segments, -1)

    def encode_codes(self, codes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(batch, segments, code_size) -> the 16-bar posterior's mu, sigma (batch, z_size)."""
        _, (h, _) = self.code_encoder(codes)
        final = torch.cat([h[-2], h[-1]], dim=-1)
        return self.mu(final), F.softplus(self.sigma(final)) + 1e-4

    def conduct(self, z: torch.Tensor) -> torch.Tensor:
        """z (batch, z_size) -> one 2-bar code per window (batch, segments, code_size)."""
        L, K = self.cfg.conductor_layers, self.cfg.conductor_size
        hc = torch.tanh(self.conductor_init(z)).view(-1, 2, L, K).permute(1, 2, 0, 3).contiguous()
        inputs = z[:, None, :].expand(-1, self.cfg.segments, -1)
        out, _ = self.conductor(inputs, (hc[0], hc[1]))
        return self.code_out(out)

    # -- training -------------------------------------------------------------------------------

    def forward(self, tokens: torch.Tensor | None, sample_prob: float = 0.0,
                generator: torch.Generator | None = None,
                codes: tuple[torch.Tensor, torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
        """``codes``: the windows' 2-bar posteriors when already known (the code stage trains on
        a bank of them); the token term needs ``tokens``."""
        code_mu, code_sigma = codes if codes is not None else self.segment_codes(tokens)
        mu, sigma = self.encode_codes(code_mu)
        eps = torch.randn(mu.shape, device=mu.device, dtype=mu.dtype, generator=generator)
        z = mu + sigma * eps
        codes = self.conduct(z)
        out = {"codes": codes, "code_mu": code_mu, "code_sigma": code_sigma, "mu": mu, "sigma": sigma, "z": z}
        if self.cfg.token_weight > 0 and tokens is not None:
            out["logits"] = self.decode_codes_logits(codes, tokens, sample_prob)
        return out

    def decode_codes_logits(self, codes: torch.Tensor, targets: torch.Tensor,
                            sample_prob: float = 0.0) -> torch.Tensor:
        B = targets.shape[0]
        flat = codes.reshape(B * self.cfg.segments, -1)
        seg = self.segments(targets)
        if sample_prob > 0:
            logits = self.base.decoder.scheduled(flat, seg, sample_prob)
        else:
            logits = self.base.decoder.teacher_forced(flat, seg)
        return logits.reshape(B, self.cfg.seq_len, -1)

    def decode_logits(self, z: torch.Tensor, targets: torch.Tensor, sample_prob: float = 0.0) -> torch.Tensor:
        return self.decode_codes_logits(self.conduct(z), targets, sample_prob)

    kl = staticmethod(MusicVAE.kl)
    beta = MusicVAE.beta  # the same annealing, from this config's max_beta and beta_rate

    @staticmethod
    def code_distance(codes: torch.Tensor, code_mu: torch.Tensor, code_sigma: torch.Tensor) -> torch.Tensor:
        """0.5 * sum(((codes - mu) / sigma) ** 2) over windows and dimensions: (batch,)."""
        return 0.5 * (((codes - code_mu) / code_sigma) ** 2).sum(dim=(1, 2))

    def loss(self, out: dict[str, torch.Tensor], tokens: torch.Tensor, step: int) -> dict[str, torch.Tensor]:
        """loss, code (the code term per melody), recon (nats per melody; 0 without the token
        term), kl (nats), beta, accuracy (teacher-forced tokens; 0 without the token term)."""
        cfg = self.cfg
        code = self.code_distance(out["codes"].float(), out["code_mu"].float(), out["code_sigma"].float())
        kl = self.kl(out["mu"].float(), out["sigma"].float())
        kl_cost = torch.clamp(kl - cfg.free_bits * math.log(2.0), min=0.0)
        beta = self.beta(step)
        total = cfg.code_weight * code + beta * kl_cost
        recon = torch.zeros_like(code)
        accuracy = torch.tensor(0.0)
        if "logits" in out:
            logits = out["logits"].float()
            recon = F.cross_entropy(logits.transpose(1, 2), tokens, reduction="none").sum(dim=1)
            total = total + cfg.token_weight * recon
            accuracy = (logits.argmax(dim=-1) == tokens).float().mean()
        return {"loss": total.mean(), "code": code.mean(), "recon": recon.mean(), "kl": kl.mean(),
                "beta": torch.tensor(beta), "accuracy": accuracy}

    # -- use ------------------------------------------------------------------------------------

    @torch.no_grad()
    def encode(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.encode_codes(self.segment_codes(tokens)[0])

    @torch.no_grad()
    def decode(self, z: torch.Tensor, temperature: float | None = None,
               generator: torch.Generator | None = None, shift: torch.Tensor | None = None) -> torch.Tensor:
        """Tokens (batch, seq_len) from z (batch, z_size); ``shift`` (code_size,) or (batch,
        code_size) is added to every window's 2-bar code first (an attribute slider)."""
        codes = self.conduct(z)
        if shift is not None:
            codes = codes + (shift if shift.dim() == 1 else shift[:, None, :])
        B = z.shape[0]
        flat = codes.reshape(B * self.cfg.segments, -1)
        return self.base.decoder.generate(flat, self.cfg.segment_len, temperature, generator).view(B, -1)

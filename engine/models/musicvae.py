"""MusicVAE (Roberts et al. 2018): a latent space of melodies.

A bidirectional LSTM encodes a one-hot melody (MelodyOneHot events on the 16th grid) into the
mean and scale of a diagonal Gaussian. A flat LSTM decoder (2 bars) starts from z and sees z
at every step; a hierarchical decoder (16 bars) lets a conductor LSTM turn z into one
embedding per bar, and a bar decoder, reset at every bar, plays each bar from its embedding,
so that structure longer than a bar has to come through z.

Loss: cross-entropy summed over steps, plus beta * max(KL - free_bits, 0) with the KL summed
over latent dimensions (a per-dimension mean compared with a total would make the KL term
silently vanish).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.nn import functional as F


@dataclass
class MusicVAEConfig:
    name: str = "mel2bar"
    num_classes: int = 90  # MelodyOneHot over MIDI 21..108: no-event, note-off, 88 note-ons
    seq_len: int = 32  # 16th steps: 32 = 2 bars, 256 = 16 bars
    embed_size: int = 64  # input tokens are embedded (equivalent to one-hot times a matrix)
    enc_size: int = 256  # per direction
    z_size: int = 128
    dec_size: int = 256
    dec_layers: int = 2
    hierarchical: bool = False
    bars: int = 1  # conductor steps (segments) for the hierarchical decoder
    conductor_size: int = 256
    conductor_layers: int = 2
    dropout: float = 0.0
    free_bits: float = 64.0  # KL below this many bits costs nothing (the bundled mel2bar's)
    max_beta: float = 0.2
    # beta = max_beta * (1 - beta_rate ** step). Magenta's 0.99999 suits 200k-step runs; at
    # 0.9995 beta is near its maximum after ~5k steps, which a CPU budget can reach (a 30-minute
    # CPU run with 0.99999 ended at beta 0.005 and a KL of ~360 nats: samples from the prior
    # then decode poorly).
    beta_rate: float = 0.9995
    # Attribute-regularised dimensions (AR-VAE, Pati and Lerch 2020): latent dimension i is
    # trained to order a batch like attribute ar_attributes[i] (engine.music.attributes), so a
    # slider on it moves that attribute; ar_weight scales the term, ar_delta its tanh's spread.
    ar_attributes: tuple[str, ...] = ()
    ar_weight: float = 1.0
    ar_delta: float = 10.0

    def __post_init__(self) -> None:
        from engine.music.attributes import ATTRIBUTES

        object.__setattr__(self, "ar_attributes", tuple(self.ar_attributes))  # a list from JSON
        unknown = set(self.ar_attributes) - set(ATTRIBUTES)
        if unknown or len(set(self.ar_attributes)) != len(self.ar_attributes) or len(self.ar_attributes) > self.z_size:
            raise ValueError(f"ar_attributes must be distinct names among {', '.join(ATTRIBUTES)}")

    @property
    def steps_per_bar(self) -> int:
        return self.seq_len // self.bars

    def to_dict(self) -> dict:
        return asdict(self)


CONFIGS = {
    "mel2bar": MusicVAEConfig(),
    # The paper's end-to-end hierarchical model (the bundled 16-bar model is instead built on
    # the 2-bar one's codes: engine.models.musicvae_long)
    "mel16bar-e2e": MusicVAEConfig(name="mel16bar-e2e", seq_len=256, hierarchical=True, bars=16,
                               z_size=256, enc_size=256, dec_size=256, conductor_size=256,
                               free_bits=256.0, max_beta=0.2),
}


class Encoder(nn.Module):
    def __init__(self, cfg: MusicVAEConfig) -> None:
        super().__init__()
        self.embed = nn.Embedding(cfg.num_classes, cfg.embed_size)
        self.rnn = nn.LSTM(cfg.embed_size, cfg.enc_size, batch_first=True, bidirectional=True)
        self.mu = nn.Linear(2 * cfg.enc_size, cfg.z_size)
        self.sigma = nn.Linear(2 * cfg.enc_size, cfg.z_size)

    def forward(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """tokens: (batch, seq_len) int64 -> mu, sigma: (batch, z_size)."""
        _, (h, _) = self.rnn(self.embed(tokens))
        final = torch.cat([h[-2], h[-1]], dim=-1)  # last forward and backward states
        return self.mu(final), F.softplus(self.sigma(final)) + 1e-4


class BarDecoder(nn.Module):
    """An autoregressive LSTM that plays ``length`` steps from a conditioning vector."""

    def __init__(self, cfg: MusicVAEConfig, cond_size: int) -> None:
        super().__init__()
        self.cfg = cfg
        # Token index num_classes is the start token (nothing played yet).
        self.embed = nn.Embedding(cfg.num_classes + 1, cfg.embed_size)
        self.init = nn.Linear(cond_size, 2 * cfg.dec_layers * cfg.dec_size)
        self.rnn = nn.LSTM(cfg.embed_size + cond_size, cfg.dec_size, num_layers=cfg.dec_layers,
                           batch_first=True, dropout=cfg.dropout if cfg.dec_layers > 1 else 0.0)
        self.out = nn.Linear(cfg.dec_size, cfg.num_classes)

    @property
    def start_token(self) -> int:
        return self.cfg.num_classes

    def initial_state(self, cond: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        L, H = self.cfg.dec_layers, self.cfg.dec_size
        hc = torch.tanh(self.init(cond)).view(-1, 2, L, H).permute(1, 2, 0, 3).contiguous()
        return hc[0], hc[1]

    def teacher_forced(self, cond: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Logits (batch, length, classes) with the true previous token as input."""
        start = torch.full_like(targets[:, :1], self.start_token)
        inputs = torch.cat([start, targets[:, :-1]], dim=1)
        x = torch.cat([self.embed(inputs), cond[:, None, :].expand(-1, inputs.shape[1], -1)], dim=-1)
        out, _ = self.rnn(x, self.initial_state(cond))
        return self.out(out)

    def scheduled(self, cond: torch.Tensor, targets: torch.Tensor, sample_prob: float) -> torch.Tensor:
        """Logits with scheduled sampling: each input is the model's own sample with ``sample_prob``."""
        state = self.initial_state(cond)
        prev = torch.full_like(targets[:, 0], self.start_token)
        logits = []
        for t in range(targets.shape[1]):
            x = torch.cat([self.embed(prev), cond], dim=-1)[:, None, :]
            out, state = self.rnn(x, state)
            step = self.out(out[:, 0])
            logits.append(step)
            with torch.no_grad():
                sampled = torch.distributions.Categorical(logits=step.float()).sample()
                use = torch.rand(sampled.shape, device=sampled.device) < sample_prob
                prev = torch.where(use, sampled, targets[:, t])
        return torch.stack(logits, dim=1)

    @torch.no_grad()
    def generate(self, cond: torch.Tensor, length: int, temperature: float | None,
                 generator: torch.Generator | None = None) -> torch.Tensor:
        """Tokens (batch, length): argmax when temperature is None, else sampled."""
        state = self.initial_state(cond)
        prev = torch.full((cond.shape[0],), self.start_token, dtype=torch.long, device=cond.device)
        tokens = []
        for _ in range(length):
            x = torch.cat([self.embed(prev), cond], dim=-1)[:, None, :]
            out, state = self.rnn(x, state)
            step = self.out(out[:, 0]).float()
            if temperature is None or temperature <= 0:
                prev = step.argmax(dim=-1)
            else:
                probs = F.softmax(step / temperature, dim=-1)
                prev = torch.multinomial(probs, 1, generator=generator)[:, 0]
            tokens.append(prev)
        return torch.stack(tokens, dim=1)


class Conductor(nn.Module):
    """z -> one embedding per bar (an LSTM that reads nothing but its own state)."""

    def __init__(self, cfg: MusicVAEConfig) -> None:
        super().__init__()
        self.cfg = cfg
        # The initial (h, c) of every layer, from z.
        self.init = nn.Linear(cfg.z_size, 2 * cfg.conductor_layers * cfg.conductor_size)
        self.rnn = nn.LSTM(1, cfg.conductor_size, num_layers=cfg.conductor_layers, batch_first=True)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        H, layers = self.cfg.conductor_size, self.cfg.conductor_layers
        hc = torch.tanh(self.init(z)).view(-1, 2, layers, H).permute(1, 2, 0, 3).contiguous()
        inputs = z.new_zeros(z.shape[0], self.cfg.bars, 1)
        out, _ = self.rnn(inputs, (hc[0], hc[1]))
        return out  # (batch, bars, conductor_size)


class MusicVAE(nn.Module):
    def __init__(self, cfg: MusicVAEConfig) -> None:
        super().__init__()
        if cfg.seq_len % cfg.bars:
            raise ValueError("seq_len must be a whole number of bars")
        self.cfg = cfg
        self.encoder = Encoder(cfg)
        if cfg.hierarchical:
            self.conductor = Conductor(cfg)
            self.decoder = BarDecoder(cfg, cfg.conductor_size)
        else:
            self.decoder = BarDecoder(cfg, cfg.z_size)

    # -- training -------------------------------------------------------------------------------

    def forward(self, tokens: torch.Tensor, sample_prob: float = 0.0,
                generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        """Reconstruction logits and the posterior for a batch of melodies (batch, seq_len)."""
        mu, sigma = self.encoder(tokens)
        eps = torch.randn(mu.shape, device=mu.device, dtype=mu.dtype, generator=generator)
        z = mu + sigma * eps
        logits = self.decode_logits(z, tokens, sample_prob)
        return {"logits": logits, "mu": mu, "sigma": sigma, "z": z}

    def decode_logits(self, z: torch.Tensor, targets: torch.Tensor, sample_prob: float = 0.0) -> torch.Tensor:
        cfg = self.cfg
        if not cfg.hierarchical:
            if sample_prob > 0:
                return self.decoder.scheduled(z, targets, sample_prob)
            return self.decoder.teacher_forced(z, targets)
        emb = self.conductor(z)  # (batch, bars, C)
        B, U, C = emb.shape
        S = cfg.steps_per_bar
        # Every bar decodes independently from its embedding: fold bars into the batch.
        bar_targets = targets.view(B * U, S)
        cond = emb.reshape(B * U, C)
        if sample_prob > 0:
            logits = self.decoder.scheduled(cond, bar_targets, sample_prob)
        else:
            logits = self.decoder.teacher_forced(cond, bar_targets)
        return logits.view(B, U * S, -1)

    @staticmethod
    def kl(mu: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        """KL(q(z|x) || N(0, I)) per example, summed over latent dimensions, in nats. Shape (batch,)."""
        return 0.5 * torch.sum(mu ** 2 + sigma ** 2 - 1.0 - 2.0 * torch.log(sigma), dim=-1)

    def beta(self, step: int) -> float:
        return self.cfg.max_beta * (1.0 - self.cfg.beta_rate ** step)

    def loss(self, out: dict[str, torch.Tensor], tokens: torch.Tensor, step: int) -> dict[str, torch.Tensor]:
        """Loss terms, each a scalar: loss, reconstruction (nats per melody), kl (nats), accuracy."""
        logits = out["logits"].float()
        recon = F.cross_entropy(logits.transpose(1, 2), tokens, reduction="none").sum(dim=1)
        kl = self.kl(out["mu"].float(), out["sigma"].float())
        free_nats = self.cfg.free_bits * math.log(2.0)
        kl_cost = torch.clamp(kl - free_nats, min=0.0)
        beta = self.beta(step)
        loss = (recon + beta * kl_cost).mean()
        accuracy = (logits.argmax(dim=-1) == tokens).float().mean()
        terms = {"loss": loss, "recon": recon.mean(), "kl": kl.mean(), "beta": torch.tensor(beta),
                 "accuracy": accuracy}
        if self.cfg.ar_attributes:
            terms["ar"] = self.attribute_regulariser(out.get("z", out["mu"]).float(), tokens)
            terms["loss"] = loss + self.cfg.ar_weight * terms["ar"]
        return terms

    def attribute_regulariser(self, z: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        """AR-VAE's term, summed over the regularised dimensions: for every pair of melodies in
        the batch, |tanh(delta * (z_i - z_j)) - sign(a_i - a_j)| on dimension k and attribute k,
        averaged over the pairs: small when dimension k orders the batch as its attribute does."""
        from engine.music.attributes import token_attributes

        attrs = token_attributes(tokens, self.cfg.ar_attributes)  # (batch, k)
        k = attrs.shape[1]
        dz = z[:, None, :k] - z[None, :, :k]  # (batch, batch, k)
        da = attrs[:, None, :] - attrs[None, :, :]
        return (torch.tanh(self.cfg.ar_delta * dz) - torch.sign(da)).abs().mean(dim=(0, 1)).sum()

    # -- use ------------------------------------------------------------------------------------

    @torch.no_grad()
    def encode(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.encoder(tokens)

    @torch.no_grad()
    def decode(self, z: torch.Tensor, temperature: float | None = None,
               generator: torch.Generator | None = None) -> torch.Tensor:
        """Tokens (batch, seq_len) from latent codes (batch, z_size)."""
        cfg = self.cfg
        if not cfg.hierarchical:
            return self.decoder.generate(z, cfg.seq_len, temperature, generator)
        emb = self.conductor(z)
        B, U, C = emb.shape
        bars = self.decoder.generate(emb.reshape(B * U, C), cfg.steps_per_bar, temperature, generator)
        return bars.view(B, U * cfg.steps_per_bar)

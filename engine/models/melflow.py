"""MelFlow: notes to a log-mel spectrogram in one parallel pass (a note-conditioned Glow).

    notes -> note_features (a piano roll at the mel frame rate) -> NoteEncoder -> (mu, log_sigma, h)
    z ~ N(mu, (temperature * sigma)^2)  ->  the flow run backwards, conditioned on h  ->  log-mel

The flow (Glow, Kingma & Dhariwal 2018; Glow-TTS, Kim et al. 2020) is a stack of invertible
steps over mel frames folded two frames to one (a time squeeze): ActNorm, an invertible 1x1
convolution over the folded channels, and an affine coupling whose network (a WaveNet-like stack
of gated, dilated convolutions) sees half of the channels and the note encoder's features, and
shifts and scales the other half. Every step starts as the identity, so at first z is the mel
itself and the prior N(mu, sigma) is a regression of it; the encoder's mu is also trained
directly as a regression of the mel (as Grad-TTS does), which keeps it a mel: the note encoder
alone (temperature 0, no flow) is the baseline the flow must beat.

Durations are known from the notes, so there is no alignment search: frame k of the features
describes the notes sounding at time k * hop / sample_rate, the centre of mel frame k.

Shapes: mel and features are (B, channels, T) with T frames of `engine.audio.mel.MEL`.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from engine.audio.mel import MEL
from engine.models.fast_vocoder import ConvNeXtBlock

FEATURES_PER_PITCH = 4  # onset, sustain, age, release (see note_features)
AGE_S = 1.0  # the age feature decays with this time constant from a note's onset
RELEASE_S = 0.2  # the release feature decays with this time constant after a note's end
RELEASE_SPAN_S = 1.0  # and is zero this long after it


@dataclass
class MelFlowConfig:
    n_mels: int = 80  # the one mel spec's bands
    low_pitch: int = 21  # the piano's range: notes outside it are not heard (A0 .. C8)
    high_pitch: int = 108
    n_programs: int = 128  # General MIDI programs, as conditioning
    encoder_dim: int = 128  # note encoder width
    encoder_layers: int = 6  # ConvNeXt blocks (kernel 7): 1 + 6 * layers frames of context
    cond_dim: int = 64  # the encoder's features as the couplings see them
    n_flows: int = 8  # flow steps
    coupling_dim: int = 64  # width of each coupling network
    coupling_layers: int = 4  # gated layers per coupling network, dilations 1, 2, 4, ...
    coupling_kernel: int = 5
    mel_mean: float = -6.0  # the flow works on (mel - mean) / std
    mel_std: float = 3.0
    dequant_std: float = 0.05  # training noise on the log-mel (its units), see MelFlow.loss
    # The note templates (`NoteTemplates`): an additive model of the instrument, each sounding
    # key adding its own learnt spectrum under a learnt envelope, told to the encoder and added
    # to the prior's mean. False: the encoder alone (the first bundle).
    templates: bool = False
    template_dim: int = 64
    template_hidden: int = 256
    envelope_hidden: int = 32

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "MelFlowConfig":
        return cls(**d)

    @property
    def n_pitches(self) -> int:
        return self.high_pitch - self.low_pitch + 1

    @property
    def n_features(self) -> int:
        return FEATURES_PER_PITCH * self.n_pitches


# -- conditioning -----------------------------------------------------------------------------------

def note_features(notes: np.ndarray, n_frames: int, cfg: MelFlowConfig | None = None,
                  start_frame: int = 0) -> np.ndarray:
    """A piano roll at the mel frame rate: what the note encoder sees.

    notes : np.ndarray [shape=(n, >=4)] rows of (pitch, velocity, start_s, end_s, ...), seconds
        from the start of the audio whose mel frame 0 is at 0 s.
    n_frames : frames wanted, from ``start_frame`` on (a window of a longer piece: notes that began
        before it keep their age).
    Returns float32 [shape=(4 * n_pitches, n_frames)]: for each pitch (low to high) four rows:
    onset (velocity / 127 at the frame nearest the onset), sustain (velocity / 127 while the note
    is held), age (exp(-time since onset / 1 s) while held: how far a piano note has decayed) and
    release (velocity / 127 * exp(-time since the end / 0.2 s) for 1 s after it: the synth's
    release tail). Overlapping notes of one pitch take the larger value.
    """
    cfg = cfg or MelFlowConfig()
    fps = MEL.frames_per_second
    out = np.zeros((FEATURES_PER_PITCH, cfg.n_pitches, n_frames), dtype=np.float32)
    if n_frames <= 0 or notes is None or len(notes) == 0:
        return np.zeros((cfg.n_features, max(n_frames, 0)), dtype=np.float32)
    times = (start_frame + np.arange(n_frames)) / fps
    window_end_s = times[-1] + 1.0 / fps
    for row in np.asarray(notes, dtype=np.float64):
        pitch, velocity, start_s, end_s = int(row[0]), row[1] / 127.0, row[2], max(row[3], row[2])
        p = pitch - cfg.low_pitch
        if not 0 <= p < cfg.n_pitches or end_s + RELEASE_SPAN_S < times[0] or start_s > window_end_s:
            continue
        onset = int(round(start_s * fps)) - start_frame
        if 0 <= onset < n_frames:
            out[0, p, onset] = max(out[0, p, onset], velocity)
        # Held from the frame nearest the onset to the one before the frame nearest the end, and
        # always for at least one frame, so that a very short note is still heard.
        a = max(onset, 0)
        b = min(max(int(round(end_s * fps)) - start_frame, onset + 1), n_frames)
        if a < b:
            np.maximum(out[1, p, a:b], velocity, out=out[1, p, a:b])
            np.maximum(out[2, p, a:b], np.exp(-(times[a:b] - start_s).clip(0) / AGE_S), out=out[2, p, a:b])
        c = max(b, 0)
        d = min(int(round((end_s + RELEASE_SPAN_S) * fps)) - start_frame, n_frames)
        if c < d:
            tail = velocity * np.exp(-(times[c:d] - end_s).clip(0) / RELEASE_S)
            np.maximum(out[3, p, c:d], tail, out=out[3, p, c:d])
    return out.transpose(1, 0, 2).reshape(-1, n_frames)  # pitch-major: 4 rows per pitch


class NoteTemplates(nn.Module):
    """An additive model of how a synth sounds a piano roll: each sounding key k of program p
    adds a power spectrum of its own, |S_k(t)|^2 = G_k(t) (y_k(t) Y_pk + (1 - y_k(t)) O_pk): a
    young and an old spectrum (a piano's upper harmonics die first) from a small network over
    the key's and the program's embeddings, mixed by y and scaled by the gain G, which another
    network gives from the key's four features at frame t (onset, sustain, age, release), its
    place on the keyboard and the program. Keys add as incoherent sources do, in power: two
    matrix products over the keys. The result is a log-mel (B, n_mels, T): what a frame sounds
    like with no interaction between the notes but their sum, for the encoder to correct."""

    def __init__(self, cfg: MelFlowConfig) -> None:
        super().__init__()
        d, m = cfg.template_dim, cfg.n_mels
        self.cfg = cfg
        self.key = nn.Embedding(cfg.n_pitches, d)
        self.program = nn.Embedding(cfg.n_programs, d)
        self.spectrum = nn.Sequential(nn.Linear(d, cfg.template_hidden), nn.GELU(),
                                      nn.Linear(cfg.template_hidden, 2 * m))
        e = cfg.envelope_hidden
        self.envelope_program = nn.Embedding(cfg.n_programs, e)
        self.envelope_in = nn.Linear(FEATURES_PER_PITCH + 1, e)
        self.envelope_out = nn.Linear(e, 2)
        with torch.no_grad():  # start quiet-ish and flat: about -4 in log units, the same young and old
            self.spectrum[-1].bias[:m].fill_(-4.0)
            self.spectrum[-1].bias[m:].zero_()

    def forward(self, features: torch.Tensor, program: torch.Tensor) -> torch.Tensor:
        cfg = self.cfg
        b, _, t = features.shape
        f = features.view(b, cfg.n_pitches, FEATURES_PER_PITCH, t)
        active = (f[:, :, 1] > 0) | (f[:, :, 3] > 0)  # (B, P, T): held or releasing
        keys = active.any(dim=2).any(dim=0).nonzero().flatten()  # only keys that sound in the batch
        if len(keys) == 0:  # silence; still a function of every parameter, as DDP wants
            touch = sum(p.sum() for p in self.parameters()) * 0.0
            return torch.full((b, cfg.n_mels, t), MEL.silence, device=features.device, dtype=torch.float32) + touch
        f, active = f[:, keys].float(), active[:, keys]
        spec = self.spectrum(self.key(keys)[None] + self.program(program)[:, None])  # (B, K, 2M)
        base, change = spec.float().clamp(-15.0, 8.0).chunk(2, dim=-1)
        position = (keys.float() / max(cfg.n_pitches - 1, 1) * 2 - 1)[None, :, None, None].expand(b, -1, t, 1)
        x = torch.cat([f.permute(0, 1, 3, 2), position], dim=-1)  # (B, K, T, 5)
        hidden = F.gelu(self.envelope_in(x) + self.envelope_program(program)[:, None, None])
        gain, mix = self.envelope_out(hidden).float().unbind(-1)  # (B, K, T)
        power = torch.exp(2 * gain.clamp(-15.0, 8.0)) * active  # each key's power over time
        young = torch.sigmoid(mix)
        # Powers: the young spectrum and the aged one, mixed as the note ages; summed over the keys.
        total = (torch.einsum("bkt,bkm->bmt", power * young, torch.exp(2 * base))
                 + torch.einsum("bkt,bkm->bmt", power * (1 - young), torch.exp(2 * (base + change))))
        return 0.5 * torch.log(total.float() + MEL.log_floor ** 2)  # the silent floor, as a power


class NoteEncoder(nn.Module):
    """Features and program to the prior's mean and log scale (mel units, normalised), and to the
    hidden features the flow's couplings see."""

    def __init__(self, cfg: MelFlowConfig) -> None:
        super().__init__()
        d = cfg.encoder_dim
        self.inp = nn.Conv1d(cfg.n_features, d, 1)
        self.program = nn.Embedding(cfg.n_programs, d)
        self.blocks = nn.ModuleList(ConvNeXtBlock(d, 3 * d, 7, 1.0 / cfg.encoder_layers)
                                    for _ in range(cfg.encoder_layers))
        self.norm = nn.LayerNorm(d, eps=1e-6)
        self.out = nn.Conv1d(d, 2 * cfg.n_mels, 1)
        self.cond = nn.Conv1d(d, cfg.cond_dim, 1)
        self.cfg = cfg
        if cfg.templates:
            self.templates = NoteTemplates(cfg)
            # Both start at zero, so an encoder trained without templates carries on unchanged.
            self.template_in = nn.Conv1d(cfg.n_mels, d, 1)
            nn.init.zeros_(self.template_in.weight)
            nn.init.zeros_(self.template_in.bias)
            self.template_gate = nn.Parameter(torch.zeros(()))

    def forward(self, features: torch.Tensor, program: torch.Tensor):
        """features (B, n_features, T), program (B,) long -> mu, log_sigma (B, n_mels, T) normalised,
        h (B, cond_dim, T), and the templates' log-mel (B, n_mels, T) in mel units (None without)."""
        h = self.inp(features) + self.program(program)[:, :, None]
        template = None
        if self.cfg.templates:
            template = self.templates(features, program)
            normalised = (template - self.cfg.mel_mean) / self.cfg.mel_std
            h = h + self.template_in(normalised.to(h.dtype))
        for block in self.blocks:
            h = block(h)
        h = self.norm(h.transpose(1, 2)).transpose(1, 2)
        mu, log_sigma = self.out(h).chunk(2, dim=1)
        if template is not None:
            mu = mu + self.template_gate * normalised
        return mu, log_sigma, self.cond(h), template


# -- the flow ---------------------------------------------------------------------------------------

def squeeze(x: torch.Tensor) -> torch.Tensor:
    """(B, C, T) -> (B, 2C, T/2): frames 2t and 2t+1 side by side (channel c*2 + j)."""
    b, c, t = x.shape
    return x.reshape(b, c, t // 2, 2).transpose(2, 3).reshape(b, 2 * c, t // 2)


def unsqueeze(x: torch.Tensor) -> torch.Tensor:
    b, c, t = x.shape
    return x.reshape(b, c // 2, 2, t).transpose(2, 3).reshape(b, c // 2, 2 * t)


class ActNorm(nn.Module):
    """Per-channel scale and shift (Glow). Starts as the identity (no data-dependent start), so
    that the prior's mean stays in the mel's own units."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.log_scale = nn.Parameter(torch.zeros(1, channels, 1))
        self.bias = nn.Parameter(torch.zeros(1, channels, 1))

    def forward(self, x, cond=None, reverse: bool = False):
        if reverse:
            return (x - self.bias) * torch.exp(-self.log_scale), None
        return x * torch.exp(self.log_scale) + self.bias, self.log_scale.sum() * x.shape[-1]


class InvConv1x1(nn.Module):
    """An invertible mixing of the channels (Glow), started at the identity."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.eye(channels))

    def forward(self, x, cond=None, reverse: bool = False):
        w = self.weight
        # In float32 even under bf16 autocast: the inverse pass must undo it, and what follows
        # (the couplings' affine steps and their log-determinants) stays in float32 too.
        with torch.autocast(x.device.type, enabled=False):
            x = x.to(w.dtype)
            if reverse:
                return torch.matmul(torch.linalg.inv(w), x), None
            return torch.matmul(w, x), torch.linalg.slogdet(w)[1] * x.shape[-1]


class CouplingNet(nn.Module):
    """Glow-TTS's WN: gated dilated convolutions over half the channels, every layer told the
    conditioning; returns (shift, raw scale) for the other half."""

    def __init__(self, in_channels: int, out_channels: int, cond_channels: int, dim: int, layers: int,
                 kernel: int) -> None:
        super().__init__()
        self.start = nn.Conv1d(in_channels, dim, 1)
        self.cond = nn.Conv1d(cond_channels, 2 * dim * layers, 1)
        self.convs = nn.ModuleList(nn.Conv1d(dim, 2 * dim, kernel, dilation=2 ** i, padding=(kernel // 2) * 2 ** i)
                                   for i in range(layers))
        self.res_skip = nn.ModuleList(nn.Conv1d(dim, 2 * dim if i < layers - 1 else dim, 1) for i in range(layers))
        self.end = nn.Conv1d(dim, 2 * out_channels, 1)
        nn.init.zeros_(self.end.weight)  # every coupling starts as the identity
        nn.init.zeros_(self.end.bias)
        self.dim = dim

    def forward(self, x, cond):
        h = self.start(x)
        g = self.cond(cond).chunk(len(self.convs), dim=1)
        skip = 0
        for i, (conv, rs) in enumerate(zip(self.convs, self.res_skip)):
            a, b = (conv(h) + g[i]).chunk(2, dim=1)
            out = rs(torch.tanh(a) * torch.sigmoid(b))
            if i < len(self.convs) - 1:
                res, s = out.chunk(2, dim=1)
                h = h + res
            else:
                s = out
            skip = skip + s
        return self.end(skip).chunk(2, dim=1)


class AffineCoupling(nn.Module):
    """Half the channels pass unchanged and set a shift and scale for the other half; ``flip``
    swaps which half is which, so that consecutive steps transform both."""

    def __init__(self, channels: int, cond_channels: int, dim: int, layers: int, kernel: int, flip: bool) -> None:
        super().__init__()
        self.half = channels // 2
        self.flip = flip
        self.net = CouplingNet(self.half, channels - self.half, cond_channels, dim, layers, kernel)

    def forward(self, x, cond, reverse: bool = False):
        xa, xb = x[:, :self.half], x[:, self.half:]
        if self.flip:
            xa, xb = x[:, -self.half:], x[:, :-self.half]
        shift, raw = self.net(xa, cond)
        shift, raw = shift.to(xb.dtype), raw.to(xb.dtype)
        log_s = 2.0 * torch.tanh(raw / 2.0)  # 1 at the start, never beyond e^+-2 (Glow bounds it too)
        if reverse:
            yb = (xb - shift) * torch.exp(-log_s)
            logdet = None
        else:
            yb = xb * torch.exp(log_s) + shift
            logdet = log_s.sum(dim=(1, 2))
        return (torch.cat([yb, xa], 1) if self.flip else torch.cat([xa, yb], 1)), logdet


class MelFlow(nn.Module):
    def __init__(self, cfg: MelFlowConfig | None = None) -> None:
        super().__init__()
        self.cfg = cfg = cfg or MelFlowConfig()
        self.encoder = NoteEncoder(cfg)
        channels, cond = 2 * cfg.n_mels, 2 * cfg.cond_dim
        steps = []
        for i in range(cfg.n_flows):
            steps += [ActNorm(channels), InvConv1x1(channels),
                      AffineCoupling(channels, cond, cfg.coupling_dim, cfg.coupling_layers, cfg.coupling_kernel,
                                     flip=bool(i % 2))]
        self.steps = nn.ModuleList(steps)

    # The flow works on mel frames normalised and folded in pairs; T must be even there.
    def _normalise(self, mel: torch.Tensor) -> torch.Tensor:
        return (mel - self.cfg.mel_mean) / self.cfg.mel_std

    def _denormalise(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.cfg.mel_std + self.cfg.mel_mean

    def flow(self, x: torch.Tensor, h: torch.Tensor, reverse: bool = False):
        """x (B, n_mels, T) normalised mel (forward) or z (reverse); h (B, cond_dim, T); T even.
        Returns (z or x, log|det dz/dx| per batch row (forward only, else None))."""
        y, cond = squeeze(x), squeeze(h)
        logdet = torch.zeros(x.shape[0], device=x.device, dtype=x.dtype)
        for step in (reversed(self.steps) if reverse else self.steps):
            y, ld = step(y, cond, reverse=reverse)
            if ld is not None:
                logdet = logdet + ld
        return unsqueeze(y), (None if reverse else logdet)

    def loss(self, mel: torch.Tensor, features: torch.Tensor, program: torch.Tensor,
             regression_weight: float = 1.0, generator: torch.Generator | None = None) -> tuple[torch.Tensor, dict]:
        """Training loss for a batch of (mel, features, program), T even.

        Negative log-likelihood in nats per mel value of the log-mel with Gaussian dequantisation
        noise (``dequant_std``): the synth's mels are nearly deterministic and the silent floor is
        a point mass, where a flow's likelihood would run away without it. Plus the encoder's mean
        as an L1 regression of the clean log-mel (its units), weighted by ``regression_weight``.
        """
        cfg = self.cfg
        noisy = mel + cfg.dequant_std * torch.randn(mel.shape, generator=generator, device=mel.device)
        x = self._normalise(noisy)
        mu, log_sigma, h, template = self.encoder(features, program)
        mu, log_sigma = mu.float(), log_sigma.float()
        z, logdet = self.flow(x, h)
        z = z.float()
        n = mel[0].numel()
        prior = (0.5 * math.log(2 * math.pi) + log_sigma + 0.5 * ((z - mu) * torch.exp(-log_sigma)) ** 2)
        # The normalisation's own Jacobian makes the figure a density of the log-mel itself.
        nll = (prior.sum(dim=(1, 2)) - logdet).mean() / n + math.log(cfg.mel_std)
        regression = F.l1_loss(self._denormalise(mu), mel)
        total = nll + regression_weight * regression
        parts = {"nll": float(nll.detach()), "mel_l1": float(regression.detach())}
        if template is not None:  # the templates learn to be a mel of their own, too
            template_l1 = F.l1_loss(template, mel)
            total = total + regression_weight * template_l1
            parts["template_l1"] = float(template_l1.detach())
        return total, parts

    @torch.no_grad()
    def generate(self, features: torch.Tensor, program: torch.Tensor, temperature: float = 0.5,
                 noise: torch.Tensor | None = None, use_flow: bool = True) -> torch.Tensor:
        """Log-mel (B, n_mels, T) for features (B, n_features, T) in one parallel pass.

        temperature : the prior's spread (0: its mean through the flow).
        noise : standard normal (B, n_mels, T') with T' >= T, so that windows of one long piece
            can share one draw; default a fresh draw from torch's generator.
        use_flow : False gives the note encoder's mean alone (the regression baseline).
        """
        t = features.shape[-1]
        pad = t % 2
        if pad:  # the flow folds frame pairs: repeat the last frame, cut it off again below
            features = torch.cat([features, features[..., -1:]], dim=-1)
        mu, log_sigma, h, _ = self.encoder(features, program)
        mu, log_sigma = mu.float(), log_sigma.float()
        if not use_flow:
            return self._clamp(self._denormalise(mu)[..., :t])
        if temperature > 0:
            eps = noise[..., :mu.shape[-1]] if noise is not None else torch.randn_like(mu)
            if eps.shape[-1] < mu.shape[-1]:
                eps = torch.cat([eps, torch.zeros_like(mu[..., eps.shape[-1]:])], dim=-1)
            z = mu + temperature * torch.exp(log_sigma) * eps.to(mu)
        else:
            z = mu
        x, _ = self.flow(z, h, reverse=True)
        return self._clamp(self._denormalise(x.float())[..., :t])

    @staticmethod
    def _clamp(mel: torch.Tensor) -> torch.Tensor:
        return torch.clamp(mel, min=MEL.silence, max=math.log(1e3))

    def receptive_frames(self) -> int:
        """Frames of context either side that a frame of the output depends on (an upper bound):
        the encoder's convolutions, then every coupling's dilated stack (at half the frame rate)."""
        cfg = self.cfg
        encoder = 3 * cfg.encoder_layers
        coupling = sum((cfg.coupling_kernel // 2) * 2 ** i for i in range(cfg.coupling_layers))
        # a coupling sees cond (encoder) and half of the channels; steps stack
        return encoder + 2 * (coupling * cfg.n_flows + 1)

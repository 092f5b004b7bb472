"""WaveNet vocoder (van den Oord et al. 2016; Shen et al. 2017): log-mel frames to audio, one sample
at a time, with cached incremental generation (Fast WaveNet, Paine et al. 2016) and chunk-parallel
generation of long pieces.

The network predicts each 8-bit mu-law sample from the samples before it. A stack of dilated causal
convolutions (kernel 2, dilations 1, 2, 4, ... 512, repeating every ``dilation_cycle`` layers)
feeds gated units tanh(a) * sigmoid(b); each layer adds a 1x1 projection of the upsampled mel to
its gates (local conditioning), a residual output (scaled by sqrt(1/2)) and a skip output. The
summed skips (scaled by sqrt(1/n_layers)) go through ReLU, 1x1, ReLU, 1x1 to 256 logits.

Alignment of the conditioning (`ConditionUpsampler`). The mel is `engine.audio.mel`'s centred
log-mel: frame k describes the audio around sample k * hop_length. For a segment of L samples (L a
multiple of hop_length) the caller passes that segment's mel, T = L // hop_length + 1 frames (what
`log_mel` returns for L samples), and ``condition(mel)`` returns (B, C, L) for samples 0 .. L-1.
Each frame is stretched to hop_length samples (nearest neighbour) and the result starts
hop_length // 2 samples in, so frame k rules samples k*hop - hop/2 .. k*hop + hop/2 - 1: sample n
is driven by frame floor(n / hop_length + 1/2), the nearest frame centre (frame k's influence is
centred on sample k*hop - 1/2, as near to k*hop as an even hop allows). The small convolutions
around the stretch (kernel 3 over frames, then one symmetric kernel per upsampling scale,
initialised as box filters) only smooth around that centre. The last frame, centred on sample L,
contributes the second half of its reach to no returned sample.

Generation draws each sample by inverse CDF from one uniform per batch row and step (a
torch.Generator seeded by ``seed``), so the cached and the naive path (a full forward over
everything so far at every step, for tests and benchmarks) draw the same numbers in the same order
and give the same samples.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Callable

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from engine.audio.lpc import frame_of_samples, lpc_from_mel, predict
from engine.audio.mel import MEL
from engine.jobs import Cancelled
from engine.models import wavenet_step

MU = 255  # 8-bit mu-law
# Generation conditions a block of samples at a time: at most this many floats of upsampled mel,
# and of its products with every layer's gate weights.
COND_BLOCK_FLOATS = 1 << 23
GATE_BLOCK_FLOATS = 1 << 22


def mu_law_encode(audio, mu: int = MU):
    """Mu-law classes 0 .. mu of audio in [-1, 1] (values outside are clipped).

    audio : torch.Tensor or np.ndarray, any shape, float. Returns int64 of the same shape and kind.
    Silence (0.0) is class (mu + 1) // 2 = 128.
    """
    is_numpy = isinstance(audio, np.ndarray)
    x = torch.as_tensor(audio).float().clamp(-1.0, 1.0)
    y = torch.sign(x) * torch.log1p(mu * x.abs()) / math.log1p(mu)
    classes = ((y + 1) / 2 * mu + 0.5).floor().long()
    return classes.numpy() if is_numpy else classes


def mu_law_decode(classes, mu: int = MU):
    """Audio in [-1, 1] (float32) from mu-law classes 0 .. mu; torch.Tensor or np.ndarray.

    The inverse of `mu_law_encode` up to its quantisation: the error is at most about
    1.03 * ln(1 + mu) / mu**2 * (1 + mu * |x|), 8.7e-5 near silence and 0.022 at full scale.
    """
    is_numpy = isinstance(classes, np.ndarray)
    y = torch.as_tensor(classes).float() * (2.0 / mu) - 1.0
    audio = torch.sign(y) * torch.expm1(y.abs() * math.log1p(mu)) / mu
    return audio.numpy() if is_numpy else audio


@dataclass
class WaveNetConfig:
    name: str = "wavenet"
    n_layers: int = 10
    dilation_cycle: int = 10  # dilations 1, 2, 4, ... 2**(cycle-1), then again from 1
    # The bundled size: 32 residual channels train at about 2 audio-seconds per second on one
    # core (64: about 0.7) and generate faster than real time on two.
    residual_channels: int = 32
    gate_channels: int = 64  # split in two halves: tanh(a) * sigmoid(b)
    skip_channels: int = 32
    kernel_size: int = 2  # of the dilated causal convolutions
    n_classes: int = 256  # 8-bit mu-law (mu = n_classes - 1)
    n_mels: int = 80  # engine.audio.mel.MEL
    hop_length: int = 256  # samples per mel frame, MEL.hop_length
    cond_channels: int = 80  # what the upsampler gives every layer, per sample
    cond_kernel_size: int = 3  # frames seen by the (non-causal) convolution before upsampling
    upsample_scales: tuple[int, ...] = (4, 4, 4, 4)  # their product is hop_length
    # The model reads (mel - mel_center) / mel_spread: the log-mel runs from -11.5 (silence)
    # to about 2, and a centred input keeps the gates out of saturation at the start of training.
    mel_center: float = -5.0
    mel_spread: float = 4.0
    # Linear prediction from the mel (`engine.audio.lpc`, as LPCNet): 0 predicts each sample
    # itself; P > 0 predicts the excitation e[t] = x[t] - p[t] that the frame's order-P predictor
    # p[t] misses, with x[t-1], p[t] and e[t-1] as inputs, and x[t] = p[t] + e[t] when sampling.
    lpc_order: int = 0
    lpc_bandwidth_hz: float = 60.0

    def __post_init__(self) -> None:
        self.upsample_scales = tuple(int(s) for s in self.upsample_scales)
        if math.prod(self.upsample_scales) != self.hop_length:
            raise ValueError(f"upsample_scales {self.upsample_scales} must multiply to hop_length {self.hop_length}")
        if self.gate_channels % 2:
            raise ValueError("gate_channels must be even (two halves: tanh and sigmoid)")
        if self.kernel_size < 2 or self.cond_kernel_size % 2 == 0:
            raise ValueError("kernel_size must be at least 2 and cond_kernel_size odd")
        if self.lpc_order < 0:
            raise ValueError("lpc_order must be 0 (no linear prediction) or more")

    @property
    def dilations(self) -> list[int]:
        return [2 ** (i % self.dilation_cycle) for i in range(self.n_layers)]

    @property
    def receptive_field(self) -> int:
        """Samples the prediction of one sample depends on, itself included (1024 by default)."""
        return (self.kernel_size - 1) * sum(self.dilations) + 1

    @property
    def silence_class(self) -> int:
        return self.n_classes // 2  # mu_law_encode(0.0)

    def to_dict(self) -> dict:
        """JSON-friendly: the scales tuple becomes a list."""
        d = asdict(self)
        d["upsample_scales"] = list(self.upsample_scales)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "WaveNetConfig":
        return cls(**{**d, "upsample_scales": tuple(d.get("upsample_scales", cls.upsample_scales))})


CONFIGS = {"wavenet": WaveNetConfig()}


class ConditionUpsampler(nn.Module):
    """Log-mel frames (B, n_mels, T) to conditioning at the sample rate (B, cond_channels, samples).

    A convolution over frames (kernel ``cond_kernel_size``, centred), then for each scale s a
    nearest-neighbour stretch by s and a symmetric smoothing kernel of 2s + 1 taps shared by all
    channels (r9y9's Stretch2d + Conv2d with a frequency kernel of 1). See the module docstring for
    the alignment.
    """

    def __init__(self, cfg: WaveNetConfig) -> None:
        super().__init__()
        self.cfg = cfg
        k = cfg.cond_kernel_size
        self.conv_in = nn.Conv1d(cfg.n_mels, cfg.cond_channels, k, padding=k // 2)
        if cfg.cond_channels == cfg.n_mels:
            # Start as (nearly) the mel itself, so that conditioning is aligned from step one.
            with torch.no_grad():
                self.conv_in.weight[:, :, k // 2] += torch.eye(cfg.n_mels)
        self.smooth = nn.ModuleList()
        for s in cfg.upsample_scales:
            conv = nn.Conv1d(1, 1, 2 * s + 1, padding=s, bias=False)
            nn.init.constant_(conv.weight, 1.0 / (2 * s + 1))
            self.smooth.append(conv)

    @property
    def context_frames(self) -> int:
        """Frames on either side of a sample's own frame that can change its conditioning."""
        reach, rate = self.cfg.cond_kernel_size // 2, 1
        for s in self.cfg.upsample_scales:
            rate *= s
            reach += s / rate  # s taps either side at this rate
        # Sample n sits at n / hop + 1/2 in frame units (frame j spans j .. j+1 once stretched):
        # it reads frames that meet n / hop + 1/2 +- reach.
        return math.ceil(reach - 0.5)

    def forward(self, mel: torch.Tensor, num_samples: int | None = None) -> torch.Tensor:
        """mel (B, n_mels, T) -> (B, cond_channels, num_samples); num_samples defaults to
        (T - 1) * hop_length and may be at most T * hop_length - hop_length // 2."""
        cfg = self.cfg
        B, _, T = mel.shape
        hop, shift = cfg.hop_length, cfg.hop_length // 2
        num_samples = (T - 1) * hop if num_samples is None else num_samples
        if num_samples > T * hop - shift:
            raise ValueError(f"{T} mel frames condition at most {T * hop - shift} samples, not {num_samples}")
        x = self.conv_in((mel - cfg.mel_center) / cfg.mel_spread)
        C = x.shape[1]
        x = x.reshape(B * C, 1, T)
        for s, conv in zip(cfg.upsample_scales, self.smooth):
            x = _smooth(x.repeat_interleave(s, dim=-1), conv.weight[0, 0])
        # Stretched, frame k covers k*hop .. (k+1)*hop - 1; starting half a frame in centres it on k*hop.
        return x.view(B, C, T * hop)[:, :, shift:shift + num_samples]

    def samples(self, mel: torch.Tensor, start: int, stop: int) -> torch.Tensor:
        """``forward(mel)[:, :, start:stop]`` from only the frames that samples start .. stop-1 read
        (their own and `context_frames` either side), so that long audio is conditioned a block at
        a time in bounded memory; the same numbers, up to float rounding."""
        hop, T = self.cfg.hop_length, mel.shape[-1]
        first = max(0, start // hop - self.context_frames)
        last = min(T - 1, -(-stop // hop) + self.context_frames)
        part = self(mel[:, :, first:last + 1], stop - first * hop)
        return part[:, :, start - first * hop:]


def _smooth(x: torch.Tensor, taps: torch.Tensor) -> torch.Tensor:
    """``conv(x)`` of a one-channel Conv1d with centred, zero-padded ``taps`` (odd count), as a sum
    of shifted copies: the same numbers, but its backward pass is a few dot products, where
    the convolution's (one channel, a batch of B * n_mels rows) took 40% of a training step."""
    half = taps.shape[0] // 2
    padded = F.pad(x, (half, half))
    n = x.shape[-1]
    out = padded[..., :n] * taps[0]
    for j in range(1, taps.shape[0]):
        out = out + padded[..., j:j + n] * taps[j]
    return out


class ResidualLayer(nn.Module):
    """Dilated causal conv + conditioning -> gate -> residual (scaled by sqrt(1/2)) and skip."""

    def __init__(self, cfg: WaveNetConfig, dilation: int) -> None:
        super().__init__()
        self.dilation = dilation
        self.padding = dilation * (cfg.kernel_size - 1)  # on the left only: causal
        self.conv = nn.Conv1d(cfg.residual_channels, cfg.gate_channels, cfg.kernel_size, dilation=dilation)
        self.cond = nn.Conv1d(cfg.cond_channels, cfg.gate_channels, 1, bias=False)
        self.res = nn.Conv1d(cfg.gate_channels // 2, cfg.residual_channels, 1)
        self.skip = nn.Conv1d(cfg.gate_channels // 2, cfg.skip_channels, 1)

    def forward(self, x: torch.Tensor, share: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x (B, L, residual_channels), share (B, L, gate_channels): the conditioning's part of the
        gates, bias included -> (next x, skip (B, L, skip_channels)).

        Time-major with plain matrix products: on the CPU the 1x1 convolutions of the
        channel-major layout fall back to a slow im2col path, three times slower per step.
        """
        w, k, L = self.conv.weight, self.conv.kernel_size[0], x.shape[1]
        h = share + F.linear(x, w[:, :, k - 1])
        for m in range(1, k):
            back = m * self.dilation  # tap k-1-m reads the input m * dilation samples back
            h = h + F.linear(F.pad(x, (0, 0, back, 0))[:, :L], w[:, :, k - 1 - m])
        a, b = h.chunk(2, dim=-1)
        z = torch.tanh(a) * torch.sigmoid(b)
        res = F.linear(z, self.res.weight[:, :, 0], self.res.bias)
        return (x + res) * math.sqrt(0.5), F.linear(z, self.skip.weight[:, :, 0], self.skip.bias)


class WaveNet(nn.Module):
    def __init__(self, cfg: WaveNetConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.upsample = ConditionUpsampler(cfg)
        self.embed = nn.Embedding(cfg.n_classes, cfg.residual_channels)  # = one-hot then a 1x1 conv
        if cfg.lpc_order:  # the prediction p[t] and the excitation e[t-1], as mu-law classes
            self.embed_prediction = nn.Embedding(cfg.n_classes, cfg.residual_channels)
            self.embed_excitation = nn.Embedding(cfg.n_classes, cfg.residual_channels)
        self.layers = nn.ModuleList(ResidualLayer(cfg, d) for d in cfg.dilations)
        self.out1 = nn.Conv1d(cfg.skip_channels, cfg.skip_channels, 1)
        self.out2 = nn.Conv1d(cfg.skip_channels, cfg.n_classes, 1)

    def condition(self, mel: torch.Tensor, num_samples: int | None = None) -> torch.Tensor:
        """Centred log-mel (B, n_mels, T) -> conditioning (B, cond_channels, (T-1) * hop_length)."""
        return self.upsample(mel, num_samples)

    def forward(self, audio_classes: torch.Tensor, mel: torch.Tensor) -> torch.Tensor:
        """Logits (B, n_classes, L) for mu-law classes (B, L) under their mel (B, n_mels, L // hop + 1).

        logits[:, :, t] predicts audio_classes[:, t] from audio_classes[:, :t] (teacher forcing;
        before the first sample the network hears silence). Without linear prediction only: a
        model with it reads more than the classes (`teacher_forced`).
        """
        if self.cfg.lpc_order:
            raise ValueError("a WaveNet with linear prediction is read through teacher_forced(audio, mel)")
        return self._logits(audio_classes, self.condition(mel, audio_classes.shape[1]))

    def _logits(self, audio_classes: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """As `forward`, from conditioning (B, cond_channels, >= L) at the sample rate."""
        previous = F.pad(audio_classes[:, :-1], (1, 0), value=self.cfg.silence_class)
        return self._trunk(self.embed(previous), cond).transpose(1, 2)

    def teacher_forced(self, audio: torch.Tensor, mel: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(logits (B, L, n_classes), their targets (B, L)) for audio (B, L) in [-1, 1] under its
        mel (B, n_mels, L // hop + 1): the mu-law classes of the samples, or with linear
        prediction those of the excitation x[t] - p[t], each predicted from what came before."""
        cfg = self.cfg
        cond = self.condition(mel, audio.shape[1])
        classes = mu_law_encode(audio, cfg.n_classes - 1)
        previous = F.pad(classes[:, :-1], (1, 0), value=cfg.silence_class)
        if not cfg.lpc_order:
            return self._trunk(self.embed(previous), cond), classes
        with torch.no_grad():
            a = lpc_from_mel(mel, cfg.lpc_order, cfg.lpc_bandwidth_hz)
            prediction = predict(audio.float(), a, cfg.hop_length)
        excitation = mu_law_encode(audio.float() - prediction, cfg.n_classes - 1)
        inputs = (self.embed(previous) + self.embed_prediction(mu_law_encode(prediction, cfg.n_classes - 1))
                  + self.embed_excitation(F.pad(excitation[:, :-1], (1, 0), value=cfg.silence_class)))
        return self._trunk(inputs, cond), excitation

    def _trunk(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """Logits (B, L, n_classes) from the embedded inputs x (B, L, R) and conditioning (B, C, >= L)."""
        L = x.shape[1]
        # Every layer's conditioning share in one matrix product: (B, L, layers * G).
        weights = torch.cat([layer.cond.weight[:, :, 0] for layer in self.layers])
        biases = torch.cat([layer.conv.bias for layer in self.layers])
        shares = F.linear(cond[:, :, :L].transpose(1, 2), weights, biases).chunk(len(self.layers), dim=-1)
        skips = 0
        for layer, share in zip(self.layers, shares):
            x, skip = layer(x, share)
            skips = skips + skip
        h = F.relu(skips * math.sqrt(1.0 / len(self.layers)))
        h = F.relu(F.linear(h, self.out1.weight[:, :, 0], self.out1.bias))
        return F.linear(h, self.out2.weight[:, :, 0], self.out2.bias)

    def loss(self, audio: torch.Tensor, mel: torch.Tensor) -> torch.Tensor:
        """Mean cross-entropy in nats per sample of audio (B, L) in [-1, 1] under mel (B, n_mels, L // hop + 1)."""
        logits, targets = self.teacher_forced(audio, mel)
        return F.cross_entropy(logits.reshape(-1, self.cfg.n_classes).float(), targets.reshape(-1))

    @torch.no_grad()
    def generate(self, mel: torch.Tensor, num_samples: int | None = None, temperature: float = 1.0,
                 seed: int | None = None, naive: bool = False, *,
                 progress: Callable[[float], None] | None = None,
                 cancel: Callable[[], bool] | None = None) -> torch.Tensor:
        """Audio (B, num_samples) in [-1, 1], float32, sampled under mel (B, n_mels, T).

        num_samples defaults to (T - 1) * hop_length, the samples the mel's frames are centred on.
        Each sample is drawn from softmax(logits / temperature) (argmax at temperature 0) with a
        generator seeded by ``seed``. ``naive=True`` recomputes the whole forward pass at every step,
        O(L^2) (tests and benchmarks only); otherwise each layer keeps a queue of its past inputs and
        a step costs O(layers). ``progress(fraction)`` is called every 256 samples; ``cancel()``
        returning True raises `engine.jobs.Cancelled`.
        """
        hop, T = self.cfg.hop_length, mel.shape[-1]
        num_samples = (T - 1) * hop if num_samples is None else num_samples
        if num_samples > T * hop - hop // 2:
            raise ValueError(f"{T} mel frames condition at most {T * hop - hop // 2} samples, not {num_samples}")
        mel = mel.to(self.embed.weight)
        generator = _generator(seed, mel.device)
        sample = self._sample_naive if naive else self._sample_cached
        return sample(mel, 0, num_samples, temperature, generator, progress, cancel)

    @torch.no_grad()
    def _sample_naive(self, mel, start, num_samples, temperature, generator, progress=None,
                      cancel=None) -> torch.Tensor:
        """As `_sample_cached`, with one full forward pass per sample."""
        cond = self.upsample.samples(mel, start, start + num_samples)
        B, _, L = cond.shape
        feedback = _Feedback(self, mel, start, L)
        uniforms = _Uniforms(generator, B, cond.device)
        inputs = torch.empty(L, B, self.cfg.residual_channels, dtype=torch.float32, device=cond.device)
        inputs[0] = feedback.first()
        for t in range(L):
            _report(t, L, progress, cancel)
            logits = self._trunk(inputs[:t + 1].transpose(0, 1), cond[:, :, :t + 1])[:, t]
            feedback.drawn(t, _draw(logits.float(), temperature, uniforms.at(t)), inputs[(t + 1) % L])
        return feedback.audio()

    @torch.no_grad()
    def _sample_cached(self, mel, start, num_samples, temperature, generator, progress=None,
                       cancel=None) -> torch.Tensor:
        """Audio (B, num_samples), float32, for samples start .. start + num_samples - 1 of the
        conditioning of mel (B, n_mels, T): Fast WaveNet's queues, one step at a time.

        On the CPU with numba the steps run compiled (`_Compiled`, `engine.models.wavenet_step`),
        the batch rows split over the cores; otherwise in torch (`_TorchLoop`). Layer l's queue
        holds its inputs at times t - dilation*(kernel-1) .. t in a ring of dilation*(kernel-1) + 1
        rows; rows never written are zeros, the causal convolution's left padding. The residual sum
        of a layer is written straight into the next layer's ring.
        """
        cfg = self.cfg
        B, L, C = mel.shape[0], num_samples, cfg.cond_channels
        w = _StepWeights(self)
        feedback = _Feedback(self, mel, start, L)
        uniforms = _Uniforms(generator, B, mel.device)
        compiled = mel.device.type == "cpu" and wavenet_step.enabled()
        steps = (_Compiled if compiled else _TorchLoop)(w, feedback, cfg)
        n_layers, G, f32 = cfg.n_layers, cfg.gate_channels, torch.float32
        # The conditioning's share of every layer's gates, a block of samples at a time (one
        # upsampling per outer block, one matrix product per inner block, (samples, B, layers, G)),
        # so that memory stays bounded however long the audio is.
        block = max(16, min(1024, GATE_BLOCK_FLOATS // (B * n_layers * G)))
        outer = block * max(1, COND_BLOCK_FLOATS // (B * C * block))
        for t0 in range(0, L, block):
            if t0 % outer == 0:
                cond_rows = self.upsample.samples(mel, start + t0, start + min(L, t0 + outer))
                cond_rows = cond_rows.to(f32).permute(2, 0, 1).contiguous()  # (samples, B, C)
            n = min(block, L - t0)
            rows_in = cond_rows[t0 % outer:t0 % outer + n]
            gates = torch.addmm(w.gate_bias, rows_in.reshape(n * B, C), w.cond).view(n, B, n_layers, G)
            steps.run(t0, n, gates, uniforms, temperature, progress, cancel)
        return feedback.audio()


class _TorchLoop:
    """`_sample_cached`'s steps in torch, where numba is missing or turned off (or off the CPU): the
    hot loop calls no modules, bare addmm and in-place activations on preallocated (B, ·) float32
    tensors, made once per call."""

    def __init__(self, w: "_StepWeights", feedback: "_Feedback", cfg: WaveNetConfig) -> None:
        B, dev, f32 = feedback.B, w.embed.device, torch.float32
        G, half, R, k = cfg.gate_channels, cfg.gate_channels // 2, cfg.residual_channels, cfg.kernel_size
        n_layers = cfg.n_layers
        self.w, self.feedback, self.cfg = w, feedback, cfg
        rings = [torch.zeros(d * (k - 1) + 1, B, R, dtype=f32, device=dev) for d in cfg.dilations]
        self.rows = [list(ring.unbind(0)) for ring in rings]  # views made once: indexing a list is cheap
        self.sizes = [ring.shape[0] for ring in rings]
        # Every layer's gate output, each followed by a column of ones that carries the bias of the
        # residual and skip projections, so that all skips are one matrix product at the end.
        self.z = torch.ones(B, n_layers * (half + 1), dtype=f32, device=dev)
        self.z_gate = [self.z[:, l * (half + 1):l * (half + 1) + half] for l in range(n_layers)]
        self.z_aug = [self.z[:, l * (half + 1):(l + 1) * (half + 1)] for l in range(n_layers)]
        self.h = [torch.empty(B, G, dtype=f32, device=dev) for _ in range(n_layers)]
        self.h_tanh, self.h_sigmoid = [x[:, :half] for x in self.h], [x[:, half:] for x in self.h]
        self.head = torch.empty(B, cfg.skip_channels, dtype=f32, device=dev)
        self.rows[0][0].copy_(feedback.first())

    def run(self, t0: int, n: int, gates: torch.Tensor, uniforms: "_Uniforms", temperature: float,
            progress, cancel) -> None:
        """Steps t0 .. t0 + n - 1 under their gate shares (n, B, layers, G); progress and cancel
        are checked every 256 samples."""
        w, feedback, rows, sizes, h = self.w, self.feedback, self.rows, self.sizes, self.h
        k, n_layers, dilations = self.cfg.kernel_size, self.cfg.n_layers, self.cfg.dilations
        for i in range(n):
            t = t0 + i
            if t % 256 == 0:
                _report(t, feedback.num_samples, progress, cancel)
            shares = gates[i].unbind(1)
            for l in range(n_layers):
                ring, size, d, hl = rows[l], sizes[l], dilations[l], h[l]
                current = ring[t % size]
                torch.addmm(shares[l], current, w.taps[l][0], out=hl)
                for m in range(1, k):
                    hl.addmm_(ring[(t - m * d) % size], w.taps[l][m])
                self.h_tanh[l].tanh_()
                self.h_sigmoid[l].sigmoid_()
                torch.mul(self.h_tanh[l], self.h_sigmoid[l], out=self.z_gate[l])
                if l + 1 < n_layers:
                    torch.addmm(current, self.z_aug[l], w.res[l], out=rows[l + 1][t % sizes[l + 1]])
            torch.mm(self.z, w.skip, out=self.head)
            logits = torch.addmm(w.out1_bias, self.head.relu_(), w.out1).relu_()
            logits = torch.addmm(w.out2_bias, logits, w.out2)
            feedback.drawn(t, _draw(logits, temperature, uniforms.at(t)), rows[0][(t + 1) % sizes[0]])


class _Feedback:
    """What each drawn class feeds back, the same for the cached and the naive sampler: the sample
    it makes and the next step's input row (its embedding; with linear prediction also those of the
    next prediction and of this excitation)."""

    def __init__(self, model: WaveNet, mel: torch.Tensor, start: int, num_samples: int) -> None:
        cfg = model.cfg
        dev, f32 = mel.device, torch.float32
        self.mu, self.num_samples = cfg.n_classes - 1, num_samples
        self.B = mel.shape[0]
        self.embed = model.embed.weight.detach().to(f32)
        self.classes = torch.empty(num_samples, self.B, dtype=torch.long, device=dev)
        self.order = cfg.lpc_order
        if not self.order:
            return
        self.embed_prediction = model.embed_prediction.weight.detach().to(f32)
        self.embed_excitation = model.embed_excitation.weight.detach().to(f32)
        self.decoded = mu_law_decode(torch.arange(cfg.n_classes, device=dev), self.mu)
        # mu_law_encode as one bucketize over the classes' lower edges: a dozen small ops fewer per step.
        y = (torch.arange(1, cfg.n_classes, dtype=torch.float64, device=dev) - 0.5) * (2.0 / self.mu) - 1.0
        self.edges = (torch.sign(y) * torch.expm1(y.abs() * math.log1p(self.mu)) / self.mu).to(f32)
        self.lpc = lpc_from_mel(mel, self.order, cfg.lpc_bandwidth_hz)[:, :, 1:].contiguous()  # (B, T, P)
        self.frames = frame_of_samples(start, num_samples, cfg.hop_length, mel.shape[-1]).tolist()
        self.history = torch.zeros(self.B, self.order, dtype=f32, device=dev)  # [:, k-1] is x[t-k]
        self.samples = torch.empty(num_samples, self.B, dtype=f32, device=dev)
        self.prediction = self._predict(0)

    def _predict(self, t: int) -> torch.Tensor:
        return (self.lpc[:, self.frames[t]] * self.history).sum(-1).neg_()

    def first(self) -> torch.Tensor:
        """The input row (B, R) of step 0: silence before the piece."""
        silence = (self.mu + 1) // 2
        row = self.embed[silence].expand(self.B, -1)
        if self.order:
            row = row + self.embed_prediction[self._encode(self.prediction)] + self.embed_excitation[silence]
        return row

    def drawn(self, t: int, classes: torch.Tensor, row: torch.Tensor) -> None:
        """Take step t's classes (B,) and write the input of step t + 1 into ``row`` (B, R), a
        preallocated float32 row (left alone after the last step)."""
        self.classes[t] = classes
        last = t + 1 == self.num_samples
        if not self.order:
            if not last:
                torch.index_select(self.embed, 0, classes, out=row)
            return
        x = (self.prediction + self.decoded[classes]).clamp_(-1.0, 1.0)
        self.samples[t] = x
        if last:
            return
        self.history = torch.cat([x[:, None], self.history[:, :-1]], dim=1)
        self.prediction = self._predict(t + 1)
        torch.index_select(self.embed, 0, self._encode(x), out=row)
        row.add_(self.embed_prediction[self._encode(self.prediction)]).add_(self.embed_excitation[classes])

    def _encode(self, x: torch.Tensor) -> torch.Tensor:
        return torch.bucketize(x, self.edges, right=True)

    def audio(self) -> torch.Tensor:
        """The samples drawn, (B, num_samples) float32."""
        if not self.order:
            return mu_law_decode(self.classes.t(), self.mu).contiguous()
        return self.samples.t().contiguous()


class _StepWeights:
    """A WaveNet's weights as the cached step wants them: float32 matrices for ``x @ W``, once per call.

    The residual stream is kept divided by sqrt(1/2)**l at layer l (u_l = x_l / s**l, s = sqrt(1/2)),
    so that x_{l+1} = s (x_l + r_l) becomes u_{l+1} = u_l + r_l / s**l, one addmm: s**l moves into
    the layer's convolution and 1 / s**l into its residual projection. sqrt(1/n_layers) moves into
    the skip projections. Biases of the residual and skip projections are the last row of their
    matrices (the gate output carries a column of ones).
    """

    def __init__(self, model: WaveNet) -> None:
        cfg = model.cfg
        dev = model.embed.weight.device
        k, s = cfg.kernel_size, math.sqrt(0.5)

        def f(t: torch.Tensor) -> torch.Tensor:
            return t.detach().to(dev, torch.float32)

        self.embed = f(model.embed.weight).contiguous()  # (n_classes, R)
        # taps[l][m]: (R, G), multiplies the layer's input m * dilation samples back (tap k-1-m).
        self.taps = [[(f(layer.conv.weight[:, :, k - 1 - m]) * s ** l).t().contiguous() for m in range(k)]
                     for l, layer in enumerate(model.layers)]
        self.cond = torch.cat([f(layer.cond.weight[:, :, 0]) for layer in model.layers]).t().contiguous()
        self.gate_bias = torch.cat([f(layer.conv.bias) for layer in model.layers])  # (layers * G,)
        self.res = [(torch.cat([f(layer.res.weight[:, :, 0]).t(), f(layer.res.bias)[None]]) / s ** l).contiguous()
                    for l, layer in enumerate(model.layers)]  # (G/2 + 1, R)
        self.skip = (torch.cat([torch.cat([f(layer.skip.weight[:, :, 0]).t(), f(layer.skip.bias)[None]])
                                for layer in model.layers]) * math.sqrt(1.0 / cfg.n_layers)).contiguous()
        self.out1, self.out1_bias = f(model.out1.weight[:, :, 0]).t().contiguous(), f(model.out1.bias)
        self.out2, self.out2_bias = f(model.out2.weight[:, :, 0]).t().contiguous(), f(model.out2.bias)


def _generator(seed: int | None, device) -> torch.Generator:
    generator = torch.Generator(device=device)
    if seed is None:
        generator.seed()
    else:
        generator.manual_seed(int(seed))
    return generator


class _Uniforms:
    """The uniforms of the draws, (B,) per step, taken from the generator `UNIFORM_BLOCK` steps at
    a time, so that every sampler (naive, torch, compiled) draws the same numbers in the same order."""

    def __init__(self, generator: torch.Generator | None, batch: int, device) -> None:
        self.generator, self.batch, self.device = generator, batch, device
        self.first, self.block = -1, None

    def block_of(self, t: int) -> torch.Tensor:
        """(UNIFORM_BLOCK, B) float32: the uniforms of steps t - t % UNIFORM_BLOCK onwards."""
        first = t - t % UNIFORM_BLOCK
        if first != self.first:
            if first != (0 if self.block is None else self.first + UNIFORM_BLOCK):
                raise ValueError("uniforms are taken in order, a block at a time")
            self.first = first
            self.block = torch.rand(UNIFORM_BLOCK, self.batch, generator=self.generator, device=self.device)
        return self.block

    def at(self, t: int) -> torch.Tensor:
        """(B, 1): step t's uniforms."""
        return self.block_of(t)[t % UNIFORM_BLOCK, :, None]


UNIFORM_BLOCK = 256


class _Compiled:
    """`_sample_cached`'s steps as the numba kernel (`wavenet_step.run_block`) takes them: numpy
    views of the weights, the queues and the feedback's state, made once per call."""

    def __init__(self, w: "_StepWeights", feedback: "_Feedback", cfg: WaveNetConfig) -> None:
        B, R, k = feedback.B, cfg.residual_channels, cfg.kernel_size
        n_layers, half = cfg.n_layers, cfg.gate_channels // 2
        f32 = np.float32
        self.sizes = np.array([d * (k - 1) + 1 for d in cfg.dilations], np.int64)
        self.dilations = np.array(cfg.dilations, np.int64)
        self.rings = np.zeros((B, n_layers, int(self.sizes.max()), R), f32)
        self.rings[:, 0, 0] = feedback.first().cpu().numpy()
        self.taps = np.stack([np.stack([m.cpu().numpy() for m in taps]) for taps in w.taps])
        self.res = np.stack([r.cpu().numpy() for r in w.res])
        self.skip = w.skip.cpu().numpy().reshape(n_layers, half + 1, cfg.skip_channels)
        self.out = (w.out1.cpu().numpy(), w.out1_bias.cpu().numpy(), w.out2.cpu().numpy(),
                    w.out2_bias.cpu().numpy())
        self.embed = w.embed.cpu().numpy()
        self.total = feedback.num_samples
        self.classes = feedback.classes.numpy()  # the feedback's own tensors, written in place
        if feedback.order:
            self.samples = feedback.samples.numpy()
            self.embed_p = feedback.embed_prediction.cpu().numpy()
            self.embed_e = feedback.embed_excitation.cpu().numpy()
            self.decoded, self.edges = feedback.decoded.cpu().numpy(), feedback.edges.cpu().numpy()
            self.lpc = feedback.lpc.to(torch.float32).cpu().numpy()
            self.frames = np.asarray(feedback.frames, np.int64)
            self.history = np.zeros((B, feedback.order), f32)
            self.prediction = feedback.prediction.to(torch.float32).cpu().numpy().copy()
        else:
            self.samples = np.zeros((1, B), f32)
            self.embed_p = self.embed_e = np.zeros((1, R), f32)
            self.decoded, self.edges = np.zeros(1, f32), np.zeros(1, f32)
            self.lpc, self.frames = np.zeros((B, 1, 0), f32), np.zeros(1, np.int64)
            self.history, self.prediction = np.zeros((B, 0), f32), np.zeros(B, f32)
        wavenet_step.set_threads(torch.get_num_threads())

    def run(self, t0: int, n: int, gates: torch.Tensor, uniforms: _Uniforms, temperature: float,
            progress, cancel) -> None:
        """Steps t0 .. t0 + n - 1 under their gate shares (n, B, layers, G), a uniforms' block at a
        time (progress and cancel checked at each, as the torch loop does every 256 samples)."""
        gates = gates.reshape(n, gates.shape[1], -1).numpy()
        t = t0
        while t < t0 + n:
            stop = min(t0 + n, t - t % UNIFORM_BLOCK + UNIFORM_BLOCK)
            if t % UNIFORM_BLOCK == 0:
                _report(t, self.total, progress, cancel)
            u = uniforms.block_of(t)[t % UNIFORM_BLOCK:t % UNIFORM_BLOCK + stop - t].numpy()
            wavenet_step.run_block(t, self.total, gates[t - t0:stop - t0], u, float(temperature), self.rings,
                                   self.sizes, self.dilations, self.taps, self.res, self.skip, *self.out,
                                   self.embed, self.embed_p, self.embed_e, self.decoded, self.edges, self.lpc,
                                   self.frames, self.history, self.prediction, self.classes, self.samples)
            t = stop


def _draw(logits: torch.Tensor, temperature: float, u: torch.Tensor) -> torch.Tensor:
    """Classes (B,) from logits (B, n_classes): inverse CDF of softmax(logits / temperature) at
    the uniforms u (B, 1), one per row (`_Uniforms`), so that every path draws the same numbers."""
    if temperature <= 0:
        return logits.argmax(-1)
    cdf = torch.softmax(logits if temperature == 1 else logits / temperature, -1).cumsum_(-1)
    return torch.searchsorted(cdf, u * cdf[:, -1:]).clamp_(max=logits.shape[1] - 1)[:, 0]


def _report(t: int, total: int, progress, cancel) -> None:
    """Between steps: stop if asked to, else say how far we are."""
    if cancel is not None and cancel():
        raise Cancelled()
    if progress is not None:
        progress(t / max(1, total))


def crossfade_join(chunks: np.ndarray, overlap_samples: int, fade: str = "equal_power") -> np.ndarray:
    """Join chunks (n, chunk_samples) that overlap their neighbours by ``overlap_samples`` into
    one signal of n * chunk_samples - (n - 1) * overlap_samples samples.

    Over each overlap the earlier chunk fades out as the later fades in. "equal_power" (cos/sin,
    fade_in**2 + fade_out**2 = 1) keeps the loudness of two independent takes, which is what two
    WaveNet chunks are; "linear" (fade_in + fade_out = 1) keeps a signal that both chunks share
    (joining constants gives the constant).
    """
    chunks = np.asarray(chunks, dtype=np.float32)
    n, size = chunks.shape
    if not 0 <= overlap_samples < size and n > 1:
        raise ValueError("the overlap must be shorter than a chunk")
    step = size - overlap_samples
    out = np.zeros(step * (n - 1) + size, dtype=np.float32)
    ramp = (np.arange(overlap_samples) + 0.5) / max(1, overlap_samples)
    if fade == "equal_power":
        fade_in, fade_out = np.sin(0.5 * np.pi * ramp), np.cos(0.5 * np.pi * ramp)
    elif fade == "linear":
        fade_in, fade_out = ramp, 1.0 - ramp
    else:
        raise ValueError(f"unknown fade {fade!r}")
    window = np.ones(size, dtype=np.float32)
    for i, chunk in enumerate(chunks):
        window[:] = 1.0
        if i > 0 and overlap_samples:
            window[:overlap_samples] = fade_in
        if i < n - 1 and overlap_samples:
            window[size - overlap_samples:] = fade_out
        out[i * step:i * step + size] += chunk * window
    return out


MIN_CHUNK_SAMPLES = 8192  # about 0.37 s: below this the pre-roll costs more than the batch saves


@torch.no_grad()
def generate_long(model: WaveNet, mel, chunk_samples: int | None = None, overlap_samples: int = 256,
                  max_batch: int = 32, temperature: float = 1.0, seed: int | None = None,
                  progress: Callable[[float], None] | None = None,
                  cancel: Callable[[], bool] | None = None, preroll_samples: int | None = None,
                  fade: str = "equal_power") -> np.ndarray:
    """Audio (L,) float32 in [-1, 1] for one piece's centred log-mel (n_mels, T), L = (T-1) * hop_length.

    The piece is cut into chunks of ``chunk_samples`` that overlap by ``overlap_samples`` and are
    generated side by side as one batch (``max_batch`` chunks at a time), so that the per-step cost
    is shared and the matrix products are big enough to keep the cores busy. By default the chunks
    are as long as it takes to fill one batch of ``max_batch``, and at least `MIN_CHUNK_SAMPLES`.
    Each chunk first generates ``preroll_samples`` (default: twice the receptive field, rounded up
    to a frame) under the mel before it, thrown away, so that it starts in a state that suits the
    music; before the piece's start that mel is silence. The chunks are joined by `crossfade_join`.
    All lengths must be multiples of hop_length. The result is fixed by ``seed`` together with the
    chunking and ``max_batch``. ``progress(fraction)`` is called every 256 steps; ``cancel()``
    returning True raises `engine.jobs.Cancelled`.

    Per step a batch row costs about the same whatever the batch, up to about 32 rows on one core:
    the real-time factor is about rows * steps_per_second / 22,050 times chunk / (chunk + pre-roll).
    """
    cfg = model.cfg
    hop = cfg.hop_length
    param = model.embed.weight
    mel = torch.as_tensor(np.asarray(mel, dtype=np.float32) if not torch.is_tensor(mel) else mel)
    mel = mel.to(param.device, param.dtype)
    if mel.dim() != 2 or mel.shape[0] != cfg.n_mels:
        raise ValueError(f"generate_long takes one piece's mel (n_mels={cfg.n_mels}, frames), not {tuple(mel.shape)}")
    num_samples = (mel.shape[1] - 1) * hop
    if num_samples <= 0:
        return np.zeros(0, dtype=np.float32)
    if preroll_samples is None:
        preroll_samples = -(-2 * cfg.receptive_field // hop) * hop
    if chunk_samples is None:
        fill = -(-(num_samples - overlap_samples) // max_batch) + overlap_samples
        chunk_samples = max(MIN_CHUNK_SAMPLES, -(-fill // hop) * hop)
    for name, value in (("chunk_samples", chunk_samples), ("overlap_samples", overlap_samples),
                        ("preroll_samples", preroll_samples)):
        if value < 0 or value % hop:
            raise ValueError(f"{name} ({value}) must be a non-negative multiple of hop_length {hop}")
    if not 0 <= overlap_samples < chunk_samples:
        raise ValueError("overlap_samples must be shorter than chunk_samples")
    if num_samples <= chunk_samples:  # one chunk: no longer than the piece
        chunk_samples, overlap_samples = -(-num_samples // hop) * hop, 0
    step = chunk_samples - overlap_samples
    n_chunks = max(1, -(-(num_samples - overlap_samples) // step))
    # Chunk i generates samples i*step - preroll .. i*step + chunk - 1 of the piece, from its own
    # frames with `margin` more on either side (all the upsampler reads, so every chunk gets the
    # conditioning the whole piece would give it); outside the piece the mel is silence.
    margin = model.upsample.context_frames
    frames = (preroll_samples + chunk_samples) // hop + 2 * margin + 1
    left = preroll_samples // hop + margin
    needed = (n_chunks - 1) * step // hop + frames
    padded = torch.full((cfg.n_mels, needed), MEL.silence, dtype=mel.dtype, device=mel.device)
    take = min(mel.shape[1], needed - left)
    padded[:, left:left + take] = mel[:, :take]
    segments = padded.unfold(1, frames, step // hop).permute(1, 0, 2)  # (n_chunks, n_mels, frames)
    generator = _generator(seed, mel.device)
    out = []
    n_batches = -(-n_chunks // max_batch)
    for b, first in enumerate(range(0, n_chunks, max_batch)):
        report = None if progress is None else (
            lambda fraction, b=b: progress((b + fraction) / n_batches))
        audio = model._sample_cached(segments[first:first + max_batch].contiguous(), margin * hop,
                                       preroll_samples + chunk_samples, temperature, generator,
                                       report, cancel)
        out.append(audio[:, preroll_samples:].cpu().numpy())
    audio = crossfade_join(np.concatenate(out), overlap_samples, fade)[:num_samples]
    if progress is not None:
        progress(1.0)
    return np.clip(audio, -1.0, 1.0)

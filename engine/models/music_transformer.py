"""Music Transformer (Huang et al. 2018): a decoder-only transformer over performance events.

Pre-layer-norm blocks. Attention is relative (the default): besides q.k, every query adds
q . E[d], a learned embedding of the distance d = i - j back to the key, one table per head
and layer. The whole (L, L) table of relative logits comes from one product Q E^T and the
paper's "skewing" (pad a column, reshape, drop a row), in O(L D) memory for E instead of the
O(L^2 D) that gathering an embedding per pair would take; the causal mask is applied after,
since the skewed upper triangle holds logits of other rows. ``relative=False`` gives the
baseline with learned absolute positions.

Sampling runs on a key/value cache (``new_cache()``; ``forward(tokens, cache)`` with the new
tokens only). The relative term needs no positions: a query at distance d from a key adds
q . E[d] whatever its absolute place, so the cache also slides: past ``max_len`` tokens the
oldest keys are dropped and generation goes on for as long as asked, without recomputing.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.nn import functional as F

from engine.models import transformer_step
from engine.music.encodings.performance import PAD, VOCAB_SIZE


@dataclass
class TransformerConfig:
    name: str = "music-transformer"
    vocab_size: int = VOCAB_SIZE  # 388 performance events, PAD, END
    d_model: int = 256
    n_layers: int = 6
    n_heads: int = 8
    d_ff: int = 512
    max_len: int = 256  # the longest distance with its own embedding, and the training crop
    dropout: float = 0.0  # residual dropout; what training uses (engine/train/transformer.py)
    relative: bool = True  # False: learned absolute positions (the baseline)

    @property
    def d_head(self) -> int:
        return self.d_model // self.n_heads

    def to_dict(self) -> dict:
        return asdict(self)


CONFIGS = {
    "relative": TransformerConfig(),
    "absolute": TransformerConfig(name="music-transformer-absolute", relative=False),
}


def skew(rel: torch.Tensor) -> torch.Tensor:
    """Relative logits from Q E^T, where column c of ``rel`` (..., L, L) is distance L-1-c.

    Returns (..., L, L) whose [i, j] is the logit for distance i - j, for j <= i; entries with
    j > i are left over from other rows and must be masked.
    """
    *lead, length, _ = rel.shape
    padded = F.pad(rel, (1, 0))  # (..., L, L+1)
    return padded.reshape(*lead, length + 1, length)[..., 1:, :]


@dataclass
class LayerCache:
    """One layer's keys and values: buffers (B, H, capacity, d_head) allocated on first use,
    the visible ones at [start, end)."""

    k: torch.Tensor | None = None
    v: torch.Tensor | None = None
    start: int = 0
    end: int = 0


@dataclass
class KVCache:
    """What sampling keeps between events (see `MusicTransformer.new_cache`)."""

    layers: list[LayerCache]
    seen: int = 0  # events read so far: the position of the next one
    # The one-event step (engine.models.transformer_step) once `step` has been called; the
    # compiled one holds the keys and values itself until the next `forward` takes them back.
    stepper: object | None = None


class Attention(nn.Module):
    def __init__(self, cfg: TransformerConfig) -> None:
        super().__init__()
        if cfg.d_model % cfg.n_heads:
            raise ValueError("d_model must be a multiple of n_heads")
        self.cfg = cfg
        self.qkv = nn.Linear(cfg.d_model, 3 * cfg.d_model)
        self.proj = nn.Linear(cfg.d_model, cfg.d_model)
        # rel[h, d]: the embedding of distance d (0 = the query's own position).
        self.rel = nn.Parameter(torch.randn(cfg.n_heads, cfg.max_len, cfg.d_head) * cfg.d_head ** -0.5) \
            if cfg.relative else None

    def relative_bias(self, q: torch.Tensor, past: int, total: int) -> torch.Tensor:
        """Relative logits (scaled) and the causal mask, as one additive bias (B, H, n, total)."""
        n = q.shape[2]
        scale = self.cfg.d_head ** -0.5
        if past == 0:
            table = self.rel[:, :n].flip(1)  # column c: distance n-1-c
            rel = skew(q @ table.transpose(-1, -2).to(q.dtype))
            causal = torch.ones(n, n, dtype=torch.bool, device=q.device).triu(1)
        elif n == 1:  # one new event (sampling): key j is at distance total-1-j, nothing to mask
            by_distance = q @ self.rel[:, :total].transpose(-1, -2).to(q.dtype)
            return by_distance.flip(-1) * scale
        else:  # queries past .. total-1 against keys 0 .. total-1: gather by distance
            dist = (past + torch.arange(n, device=q.device))[:, None] - torch.arange(total, device=q.device)[None]
            by_distance = q @ self.rel[:, :total].transpose(-1, -2).to(q.dtype)  # (B, H, n, total)
            rel = by_distance.gather(-1, dist.clamp(min=0).expand(*q.shape[:2], n, total))
            causal = dist < 0
        return (rel * scale).masked_fill(causal, float("-inf"))

    def remember(self, cache: LayerCache, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Add new keys and values to the cache; return views of all the visible ones.

        The buffers are allocated once (twice the attention span for the relative model, which
        slides: only the last ``max_len`` keys are visible, and when the buffer is full they are
        moved to its front, once every ``max_len`` events), so a step copies nothing else.
        """
        cfg = self.cfg
        B, H, n, D = k.shape
        if cache.k is None:
            capacity = 2 * cfg.max_len if cfg.relative else cfg.max_len
            cache.k, cache.v = k.new_empty(B, H, capacity, D), v.new_empty(B, H, capacity, D)
            cache.start, cache.end = 0, 0
        bk, bv, start, end = cache.k, cache.v, cache.start, cache.end
        if end + n > bk.shape[2]:  # only the relative model gets here (forward checks the other)
            keep = min(end - start, cfg.max_len - n)
            bk[:, :, :keep] = bk[:, :, end - keep:end]
            bv[:, :, :keep] = bv[:, :, end - keep:end]
            start, end = 0, keep
        bk[:, :, end:end + n] = k
        bv[:, :, end:end + n] = v
        end += n
        if cfg.relative:
            start = max(start, end - cfg.max_len)
        cache.start, cache.end = start, end
        return bk[:, :, start:end], bv[:, :, start:end]

    def forward(self, x: torch.Tensor, cache: LayerCache | None = None) -> torch.Tensor:
        cfg = self.cfg
        B, n, _ = x.shape
        q, k, v = self.qkv(x).view(B, n, 3, cfg.n_heads, cfg.d_head).permute(2, 0, 3, 1, 4)
        if cache is not None:
            k, v = self.remember(cache, k, v)
        total = k.shape[2]
        past = total - n
        # No dropout on the attention weights: on the CPU it forces the unfused path and its
        # random mask alone took a third of a training step (dropout stays on the residuals).
        if cfg.relative:
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=self.relative_bias(q, past, total))
        elif past == 0:
            out = F.scaled_dot_product_attention(q, k, v, is_causal=n > 1)
        else:
            allowed = torch.arange(total, device=x.device)[None] <= (past + torch.arange(n, device=x.device))[:, None]
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed)
        return self.proj(out.transpose(1, 2).reshape(B, n, cfg.d_model))


class Block(nn.Module):
    def __init__(self, cfg: TransformerConfig) -> None:
        super().__init__()
        self.ln1 = nn.LayerNorm(cfg.d_model)
        self.attn = Attention(cfg)
        self.ln2 = nn.LayerNorm(cfg.d_model)
        self.ff = nn.Sequential(nn.Linear(cfg.d_model, cfg.d_ff), nn.GELU(), nn.Linear(cfg.d_ff, cfg.d_model))
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor, cache: LayerCache | None = None) -> torch.Tensor:
        x = x + self.drop(self.attn(self.ln1(x), cache))
        return x + self.drop(self.ff(self.ln2(x)))


class MusicTransformer(nn.Module):
    def __init__(self, cfg: TransformerConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.pos = None if cfg.relative else nn.Embedding(cfg.max_len, cfg.d_model)
        self.drop = nn.Dropout(cfg.dropout)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layers))
        self.ln = nn.LayerNorm(cfg.d_model)
        self.head = nn.Linear(cfg.d_model, cfg.vocab_size, bias=False)
        self.head.weight = self.embed.weight  # tied
        self.apply(self._init)
        self.compiled_step = None  # (version of the weights, the compiled step's arranged weights)

    @staticmethod
    def _init(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        """As nn.Module's; bundles store the tied output layer once, as embed.weight."""
        if "embed.weight" in state_dict and "head.weight" not in state_dict:
            state_dict = {**state_dict, "head.weight": state_dict["embed.weight"]}
        return super().load_state_dict(state_dict, strict=strict, assign=assign)

    def new_cache(self) -> KVCache:
        """An empty key/value cache: pass it to `forward` with the new tokens only, or to `step`."""
        return KVCache([LayerCache() for _ in self.blocks])

    def forward(self, tokens: torch.Tensor, cache: KVCache | None = None) -> torch.Tensor:
        """Logits (B, n, vocab) for tokens (B, n); with a cache, tokens continue what it holds."""
        n = tokens.shape[1]
        if cache is not None and cache.stepper is not None:
            cache.stepper.release(self, cache)  # the keys and values come back to the layers
            cache.stepper = None
        if n > self.cfg.max_len:
            raise ValueError(f"at most {self.cfg.max_len} events at once (pass a cache to go on)")
        x = self.embed(tokens) * math.sqrt(self.cfg.d_model)
        seen = cache.seen if cache is not None else 0
        if self.pos is not None:
            if seen + n > self.cfg.max_len:
                raise ValueError(f"the absolute-position model reads at most {self.cfg.max_len} events")
            x = x + self.pos(torch.arange(seen, seen + n, device=tokens.device))
        x = self.drop(x)
        for i, block in enumerate(self.blocks):
            x = block(x, cache.layers[i] if cache is not None else None)
        if cache is not None:
            cache.seen = seen + n
        return self.head(self.ln(x))

    @torch.inference_mode()
    def step(self, token: int, cache: KVCache) -> torch.Tensor:
        """Logits (vocab,) for one more event after what ``cache`` holds (batch 1, eval mode).

        The same numbers as ``forward(tensor([[token]]), cache)[0, -1]``. This is sampling's hot
        path, run by `engine.models.transformer_step`: on the CPU its compiled kernel; elsewhere
        bare tensor operations on pre-arranged weights (a step is a few dozen tiny operations,
        and module calls would otherwise be most of the time).
        """
        if self.pos is not None and cache.seen >= self.cfg.max_len:
            raise ValueError(f"the absolute-position model reads at most {self.cfg.max_len} events")
        if cache.stepper is None:
            cache.stepper = transformer_step.stepper_for(self, cache)
        logits = cache.stepper.step(self, int(token), cache)
        cache.seen += 1
        return logits

    def loss(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(mean NLL per predicted event in nats, number of events) for sequences (B, L); PAD is ignored."""
        logits = self(tokens[:, :-1]).float()
        targets = tokens[:, 1:]
        nll = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1),
                              ignore_index=PAD, reduction="sum")
        count = (targets != PAD).sum()
        return nll / count.clamp(min=1), count

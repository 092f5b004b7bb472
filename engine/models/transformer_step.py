"""The Music Transformer's one-event sampling step, compiled for the CPU with numba.

Sampling runs one event at a time, and on two CPU cores a step of the 6 x 256 model is memory
bound: it streams 15 MB of weights and the 5 MB attention window once. Torch spends as long
again dispatching the ~150 tiny operations of a step. This kernel is the same step with no
dispatch at all:

- layer norm's scale and shift are folded into the matrix that follows it, and 1/sqrt(d_head)
  into the query rows, once per set of weights (`StepWeights`);
- keys and values are kept transposed, (head, d_head, position), in a buffer twice the attention
  span, so that the logits of every visible key (q.k plus q.E[distance], with the relative table
  stored reversed) are contiguous rows the compiler vectorizes; when the buffer is full its last
  span - 1 positions move to the front, once every span events;
- the rows of each matrix and the attention heads are split over the cores (numba's OpenMP or
  TBB pool; about 2 us a launch): on 2 cores a step takes about 0.62 ms, on one about 0.95;
- it releases the GIL, so the window stays live while it runs.

Its logits match `MusicTransformer.forward` to about 1e-5 (tests/engine/models). Without numba
(or with CANTUS_COMPILED_STEP=0) `MusicTransformer.step` uses its torch path.
"""

from __future__ import annotations

import importlib
import math
import os

import numpy as np
import torch

try:
    import numba
except ImportError:  # pragma: no cover - numba comes with librosa
    numba = None


def enabled() -> bool:
    return numba is not None and os.environ.get("CANTUS_COMPILED_STEP", "1") != "0"


def _threads_available() -> bool:
    """Whether numba has a thread pool that may be called from any thread (OpenMP or TBB).
    Its own fallback pool costs 20 us a launch here, and a step launches about 30."""
    if numba is None or os.environ.get("NUMBA_THREADING_LAYER", "").lower() == "workqueue":
        return False
    for pool in ("omppool", "tbbpool"):
        try:
            importlib.import_module(f"numba.np.ufunc.{pool}")
            return True
        except Exception:  # noqa: BLE001 - no libgomp, no tbb
            continue
    return False


PARALLEL = _threads_available()
if PARALLEL and "NUMBA_THREADING_LAYER" not in os.environ:
    numba.config.THREADING_LAYER = "threadsafe"
prange = numba.prange if numba is not None else range


def set_threads(threads: int) -> None:
    """Use at most ``threads`` of numba's pool (as many as torch is given, say)."""
    if PARALLEL:
        numba.set_num_threads(max(1, min(threads, numba.config.NUMBA_NUM_THREADS)))


def jit(parallel: bool = False):
    def wrap(fn):
        if numba is None:  # pragma: no cover
            return fn
        options = dict(fastmath=True, nogil=True, parallel=parallel and PARALLEL)
        try:  # compiled once per machine, then loaded from numba's cache
            return numba.njit(cache=True, **options)(fn)
        except RuntimeError:  # pragma: no cover - no place to cache (a frozen app): compile per run
            return numba.njit(**options)(fn)
    return wrap


@jit(parallel=True)
def _matvec(w, x, b):
    rows, cols = w.shape
    out = np.empty(rows, np.float32)
    for i in prange(rows):
        s = np.float32(0.0)
        for j in range(cols):
            s += w[i, j] * x[j]
        out[i] = s + b[i]
    return out


@jit()
def _normalize(x):
    """Layer norm without its scale and shift (folded into the next matrix)."""
    n = x.shape[0]
    mean = np.float32(0.0)
    for i in range(n):
        mean += x[i]
    mean /= n
    var = np.float32(0.0)
    for i in range(n):
        var += (x[i] - mean) * (x[i] - mean)
    r = np.float32(1.0 / math.sqrt(var / n + 1e-5))
    out = np.empty(n, np.float32)
    for i in range(n):
        out[i] = (x[i] - mean) * r
    return out


@jit(parallel=True)
def _attend(qkv, kt, vt, rev, relative, start, end, out):
    """Each head's attention of the query in qkv over keys start..end-1 of kt/vt (H, D, cap)."""
    heads, d, span = rev.shape
    n = end - start
    offset = span - n  # rev column c holds distance span - 1 - c
    for h in prange(heads):
        w = np.zeros(n, np.float32)
        for i in range(d):
            qi = qkv[h * d + i]
            if relative:
                for j in range(n):
                    w[j] += qi * (kt[h, i, start + j] + rev[h, i, offset + j])
            else:
                for j in range(n):
                    w[j] += qi * kt[h, i, start + j]
        top = w.max()
        total = np.float32(0.0)
        for j in range(n):
            w[j] = math.exp(w[j] - top)
            total += w[j]
        inv = np.float32(1.0) / total
        for i in range(d):
            acc = np.float32(0.0)
            for j in range(n):
                acc += w[j] * vt[h, i, start + j]
            out[h * d + i] = acc * inv


@jit()
def _step(x, wqkv, bqkv, wproj, bproj, wup, bup, wdown, bdown, rev, relative, head, headb, kt, vt, bounds):
    """One event through every layer; returns the logits (vocab,) and adds the event's keys and
    values to ``kt``/``vt``. All float32 but ``bounds`` and ``relative``; L layers, H heads of
    D, width W = H * D, feed-forward F, span S (the attention span, max_len), vocabulary V:

    - x (W,): the event's embedding (times sqrt(W), plus its position for the absolute model);
    - wqkv (L, 3W, W), bqkv (L, 3W): the query/key/value matrix with layer norm 1's scale and
      shift folded in, the query rows also scaled by 1/sqrt(D);
    - wproj (L, W, W), bproj (L, W): the attention's output projection;
    - wup (L, F, W), bup (L, F): the first feed-forward layer, layer norm 2 folded in;
    - wdown (L, W, F), bdown (L, W): the second;
    - rev (L, H, D, S): the relative table, column c the embedding of distance S - 1 - c
      (ignored, and (L, H, D, 1), when ``relative`` is False);
    - head (V, W), headb (V,): the tied output layer with the final layer norm folded in;
    - kt, vt (L, H, D, 2S): keys and values so far, transposed, visible at [bounds[l, 0], bounds[l, 1]);
    - bounds (L, 2) int64: updated in place, as kt and vt are.
    """
    layers, heads, d, span = rev.shape[0], rev.shape[1], rev.shape[2], kt.shape[3] // 2
    width = heads * d
    out = np.empty(width, np.float32)
    inv_sqrt2 = np.float32(1.0 / math.sqrt(2.0))
    for layer in range(layers):
        qkv = _matvec(wqkv[layer], _normalize(x), bqkv[layer])
        start, end = bounds[layer, 0], bounds[layer, 1]
        if end == kt.shape[3]:  # the buffer is full: slide the visible window to its front
            keep = span - 1
            kt[layer, :, :, :keep] = kt[layer, :, :, end - keep:end]
            vt[layer, :, :, :keep] = vt[layer, :, :, end - keep:end]
            start, end = 0, keep
        for h in range(heads):
            for i in range(d):
                kt[layer, h, i, end] = qkv[width + h * d + i]
                vt[layer, h, i, end] = qkv[2 * width + h * d + i]
        end += 1
        start = max(start, end - span)
        bounds[layer, 0], bounds[layer, 1] = start, end
        _attend(qkv, kt[layer], vt[layer], rev[layer], relative, start, end, out)
        x = x + _matvec(wproj[layer], out, bproj[layer])
        u = _matvec(wup[layer], _normalize(x), bup[layer])
        for i in range(u.shape[0]):  # exact (erf) GELU, as nn.GELU()
            u[i] = np.float32(0.5) * u[i] * (np.float32(1.0) + math.erf(u[i] * inv_sqrt2))
        x = x + _matvec(wdown[layer], u, bdown[layer])
    return _matvec(head, _normalize(x), headb)


def _f64(t) -> np.ndarray:
    return t.detach().to("cpu").double().numpy()


def _f32(a) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=np.float32)


class StepWeights:
    """A model's weights arranged for the kernel (made once per set of weights; see `_step`)."""

    def __init__(self, model) -> None:
        cfg = model.cfg
        self.cfg = cfg
        width, scale = cfg.d_model, cfg.d_head ** -0.5
        wqkv, bqkv, wup, bup = [], [], [], []
        for block in model.blocks:
            a = block.attn
            # W (g * n + b) + c = (W g) n + (W b + c); the query rows also take 1/sqrt(d_head).
            w, b = _f64(a.qkv.weight), _f64(a.qkv.bias)
            b = b + w @ _f64(block.ln1.bias)
            w = w * _f64(block.ln1.weight)[None]
            w[:width] *= scale
            b[:width] *= scale
            wqkv.append(w)
            bqkv.append(b)
            w, b = _f64(block.ff[0].weight), _f64(block.ff[0].bias)
            wup.append(w * _f64(block.ln2.weight)[None])
            bup.append(b + w @ _f64(block.ln2.bias))
        self.wqkv, self.bqkv, self.wup, self.bup = _f32(wqkv), _f32(bqkv), _f32(wup), _f32(bup)
        self.wproj = _f32([_f64(b.attn.proj.weight) for b in model.blocks])
        self.bproj = _f32([_f64(b.attn.proj.bias) for b in model.blocks])
        self.wdown = _f32([_f64(b.ff[2].weight) for b in model.blocks])
        self.bdown = _f32([_f64(b.ff[2].bias) for b in model.blocks])
        self.relative = bool(cfg.relative)
        if cfg.relative:  # (layer, head, d_head, span), column c = distance span - 1 - c
            self.rev = _f32([_f64(b.attn.rel.flip(1)).transpose(0, 2, 1) for b in model.blocks])
        else:
            self.rev = np.zeros((cfg.n_layers, cfg.n_heads, cfg.d_head, 1), np.float32)
        embed = _f64(model.embed.weight)
        self.embed = _f32(embed * math.sqrt(width))
        self.pos = _f32(_f64(model.pos.weight)) if model.pos is not None else None
        self.head = _f32(embed * _f64(model.ln.weight)[None])
        self.headb = _f32(embed @ _f64(model.ln.bias))

    def new_state(self) -> "StepState":
        return StepState(self.cfg)

    def __call__(self, token: int, seen: int, state: "StepState") -> np.ndarray:
        """Logits (vocab,) for ``token`` at position ``seen``; adds its keys and values to ``state``."""
        set_threads(torch.get_num_threads())  # as many as torch is given (one per test worker, say)
        x = self.embed[token].copy()
        if self.pos is not None:
            x += self.pos[seen]
        return _step(x, self.wqkv, self.bqkv, self.wproj, self.bproj, self.wup, self.bup, self.wdown,
                     self.bdown, self.rev, self.relative, self.head, self.headb, state.kt, state.vt,
                     state.bounds)


class StepState:
    """Keys and values of every layer, transposed: (layer, head, d_head, 2 x span)."""

    def __init__(self, cfg) -> None:
        shape = (cfg.n_layers, cfg.n_heads, cfg.d_head, 2 * cfg.max_len)
        self.kt = np.zeros(shape, np.float32)
        self.vt = np.zeros(shape, np.float32)
        self.bounds = np.zeros((cfg.n_layers, 2), np.int64)  # visible start, end

    def load(self, layer: int, keys: np.ndarray, values: np.ndarray) -> None:
        """Take a layer's visible keys and values, (head, n, d_head), from the torch cache."""
        n = keys.shape[1]
        self.kt[layer, :, :, :n] = keys.transpose(0, 2, 1)
        self.vt[layer, :, :, :n] = values.transpose(0, 2, 1)
        self.bounds[layer] = (0, n)

    def visible(self, layer: int) -> tuple[np.ndarray, np.ndarray]:
        """A layer's visible keys and values as (head, n, d_head), for the torch cache."""
        start, end = self.bounds[layer]
        return (self.kt[layer, :, :, start:end].transpose(0, 2, 1),
                self.vt[layer, :, :, start:end].transpose(0, 2, 1))


# -- the two steppers, behind one interface ------------------------------------------------------
#
# A stepper runs `MusicTransformer.step` for one cache: ``step(model, token, cache)`` returns the
# logits (vocab,) for ``token`` at position ``cache.seen`` and keeps its keys and values (the
# model advances ``cache.seen``); ``release(model, cache)`` leaves the cache's layers holding
# every visible key and value, for a `MusicTransformer.forward` over the same cache.


class TorchStepper:
    """Bare torch operations on pre-arranged weights (made once per cache): matrices transposed
    for ``addmm(bias, x, W^T)`` and the relative table reversed, so that the distances of the
    visible keys are one contiguous slice of it. Keys and values stay in the cache's layers."""

    def __init__(self, model) -> None:
        self.weights = []
        for block in model.blocks:
            a = block.attn
            rev = a.rel.flip(1).contiguous() if a.rel is not None else None
            self.weights.append((block.ln1.weight, block.ln1.bias, a.qkv.weight.t().contiguous(), a.qkv.bias,
                                 a.proj.weight.t().contiguous(), a.proj.bias, block.ln2.weight, block.ln2.bias,
                                 block.ff[0].weight.t().contiguous(), block.ff[0].bias,
                                 block.ff[2].weight.t().contiguous(), block.ff[2].bias, rev))

    def step(self, model, token: int, cache) -> torch.Tensor:
        from torch.nn import functional as F

        cfg = model.cfg
        H, D, width, span = cfg.n_heads, cfg.d_head, (cfg.d_model,), cfg.max_len
        x = model.embed.weight[token] * math.sqrt(cfg.d_model)
        if model.pos is not None:
            x = x + model.pos.weight[cache.seen]
        x = x.view(1, cfg.d_model)
        scale = D ** -0.5
        for (ln1w, ln1b, qkv, qkvb, proj, projb, ln2w, ln2b, up, upb, down, downb, rev), block, layer \
                in zip(self.weights, model.blocks, cache.layers):
            h = F.layer_norm(x, width, ln1w, ln1b)
            q, k, v = torch.addmm(qkvb, h, qkv).view(3, 1, H, 1, D)
            keys, values = block.attn.remember(layer, k, v)
            q = q[0] * scale  # (H, 1, D)
            keys = keys[0].transpose(1, 2)
            if rev is not None:
                rel = torch.bmm(q, rev[:, span - keys.shape[2]:].transpose(1, 2))
                scores = torch.baddbmm(rel, q, keys)
            else:
                scores = torch.bmm(q, keys)
            out = torch.bmm(torch.softmax(scores, -1), values[0]).view(1, cfg.d_model)
            x = torch.addmm(x + projb, out, proj)
            h = F.layer_norm(x, width, ln2w, ln2b)
            x = torch.addmm(x + downb, F.gelu(torch.addmm(upb, h, up)), down)
        return F.linear(F.layer_norm(x, width, model.ln.weight, model.ln.bias), model.embed.weight)[0]

    def release(self, model, cache) -> None:
        pass  # the layers hold the keys and values all along


class CompiledStepper:
    """The numba kernel (`_step`); it takes the cache's keys and values into its own transposed
    buffers, and gives them back on `release`."""

    def __init__(self, weights: StepWeights, cache) -> None:
        self.weights = weights
        self.state = weights.new_state()
        for i, layer in enumerate(cache.layers):
            if layer.k is not None:
                s, e = layer.start, layer.end
                self.state.load(i, layer.k[0, :, s:e].numpy(), layer.v[0, :, s:e].numpy())
                layer.k = layer.v = None
                layer.start = layer.end = 0

    def step(self, model, token: int, cache) -> torch.Tensor:
        return torch.from_numpy(self.weights(token, cache.seen, self.state))

    def release(self, model, cache) -> None:
        for i, (block, layer) in enumerate(zip(model.blocks, cache.layers)):
            k, v = self.state.visible(i)
            if k.shape[1]:
                block.attn.remember(layer, torch.from_numpy(k.copy())[None], torch.from_numpy(v.copy())[None])


def stepper_for(model, cache) -> "CompiledStepper | TorchStepper":
    """The compiled stepper where it applies (numba there and not turned off, the CPU, float32,
    eval mode), its weights arranged once per set of weights; else the torch one."""
    p = model.embed.weight
    if model.training or p.device.type != "cpu" or p.dtype != torch.float32 or not enabled():
        return TorchStepper(model)
    version = tuple((q.data_ptr(), q._version) for q in model.parameters())
    if model.compiled_step is None or model.compiled_step[0] != version:
        model.compiled_step = (version, StepWeights(model))
    return CompiledStepper(model.compiled_step[1], cache)

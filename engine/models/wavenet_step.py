"""The WaveNet's cached generation (Fast WaveNet's queues), compiled for the CPU with numba.

The torch path (`WaveNet._sample_cached`) already keeps a queue per layer and calls no modules,
but each step is still about 80 tiny operations, and at batch 1 their dispatch is most of a step
(about 150 us for the bundled 10 x 32 model; the arithmetic is 70,000 multiply-adds, a few us).
This kernel is the same step with no dispatch:

- every batch row (a chunk of `generate_long`) is independent of the others for the whole piece,
  so the rows are split over the cores (numba's OpenMP or TBB pool) and each core runs its rows
  through a block of steps with no synchronisation at all;
- within a row a step is the torch path's arithmetic in the same layout (`_StepWeights`: the
  residual stream scaled per layer, biases as the last row of each projection), as short loops
  over contiguous rows that the compiler vectorizes;
- the conditioning's share of every layer's gates and the uniforms of the inverse-CDF draws
  come in per block, computed by torch (`_sample_cached`), so that it draws the numbers the torch
  and naive paths draw;
- linear prediction keeps each row's last ``lpc_order`` samples in a ring;
- it releases the GIL, so the window stays live while it runs.

It draws the classes the naive sampler draws (tests/engine/models/test_wavenet.py); the samples of
a model with linear prediction agree to float rounding of the prediction (a sum in another order).
Without numba, or with CANTUS_COMPILED_STEP=0, `_sample_cached` runs its torch loop.
"""

from __future__ import annotations

import math

import numpy as np

from engine.models.transformer_step import PARALLEL, enabled, jit, prange, set_threads

__all__ = ["PARALLEL", "enabled", "run_block", "set_threads"]


@jit()
def _encode(edges, x):
    """mu-law class of x: the number of class edges at or below it (torch.bucketize, right=True)."""
    lo, hi = 0, edges.shape[0]
    while lo < hi:
        mid = (lo + hi) // 2
        if edges[mid] <= x:
            lo = mid + 1
        else:
            hi = mid
    return lo


@jit(parallel=True)
def run_block(t0, total, gates, uniforms, temperature, rings, sizes, dilations, taps, res, skip,
              out1, out1_b, out2, out2_b, embed, embed_p, embed_e, decoded, edges, lpc, frames,
              history, prediction, classes, samples):
    """Steps t0 .. t0 + n - 1 of a generation of ``total`` samples, for every batch row.

    gates (n, B, layers * G): the conditioning's share of the gates, bias included; uniforms
    (n, B); rings (B, layers, S, R): layer l's inputs at t - dilation*(k-1) .. t in its first
    sizes[l] rows, the input of step t0 already written; taps (layers, k, R, G), tap m reading
    m * dilation samples back; res (layers, G/2 + 1, R) and skip (layers, G/2 + 1, skip) with
    their bias last; out1 (skip, skip), out2 (skip, classes) as x @ W.
    Linear prediction when lpc has columns: lpc (B, T, P) the predictors, frames (total,) the
    frame of each sample, history (B, P) the last P samples (x[t] at t % P), prediction (B,) the
    prediction of step t0. Writes classes (total, B), samples (total, B) and step t0 + n's input.
    """
    n, B = gates.shape[0], rings.shape[0]
    n_layers, k, R, G = taps.shape
    half = G // 2
    n_skip = skip.shape[2]
    n_classes = out2.shape[1]
    order = lpc.shape[2]
    zero, one = np.float32(0.0), np.float32(1.0)
    for b in prange(B):
        h = np.empty(G, np.float32)
        z = np.empty(half, np.float32)
        acc = np.empty(n_skip, np.float32)
        hidden = np.empty(n_skip, np.float32)
        logits = np.empty(n_classes, np.float32)
        cdf = np.empty(n_classes, np.float32)
        for i in range(n):
            t = t0 + i
            for s in range(n_skip):
                acc[s] = zero
            for l in range(n_layers):
                size, d = sizes[l], dilations[l]
                cur = rings[b, l, t % size]
                for g in range(G):
                    h[g] = gates[i, b, l * G + g]
                for m in range(k):
                    src = rings[b, l, (t - m * d) % size]
                    for r in range(R):
                        v = src[r]
                        for g in range(G):
                            h[g] += v * taps[l, m, r, g]
                for j in range(half):
                    z[j] = math.tanh(h[j]) / (one + math.exp(-h[half + j]))
                if l + 1 < n_layers:
                    nxt = rings[b, l + 1, t % sizes[l + 1]]
                    for r in range(R):
                        nxt[r] = cur[r] + res[l, half, r]
                    for j in range(half):
                        zj = z[j]
                        for r in range(R):
                            nxt[r] += zj * res[l, j, r]
                for s in range(n_skip):
                    acc[s] += skip[l, half, s]
                for j in range(half):
                    zj = z[j]
                    for s in range(n_skip):
                        acc[s] += zj * skip[l, j, s]
            for s in range(n_skip):
                hidden[s] = out1_b[s]
            for s in range(n_skip):
                v = max(acc[s], zero)
                for o in range(n_skip):
                    hidden[o] += v * out1[s, o]
            for c in range(n_classes):
                logits[c] = out2_b[c]
            for s in range(n_skip):
                v = max(hidden[s], zero)
                for c in range(n_classes):
                    logits[c] += v * out2[s, c]
            # The draw: argmax at temperature 0, else the inverse CDF of softmax(logits / T) at u.
            best = 0
            for c in range(1, n_classes):
                if logits[c] > logits[best]:
                    best = c
            if temperature > 0:
                top, run = logits[best], 0.0
                for c in range(n_classes):
                    run += math.exp((logits[c] - top) / temperature)
                    cdf[c] = run
                target = uniforms[i, b] * run
                best = n_classes - 1
                for c in range(n_classes):
                    if cdf[c] >= target:
                        best = c
                        break
            classes[t, b] = best
            last = t + 1 == total
            nxt = rings[b, 0, (t + 1) % sizes[0]]
            if order == 0:
                if not last:
                    for r in range(R):
                        nxt[r] = embed[best, r]
                continue
            x = min(one, max(-one, prediction[b] + decoded[best]))
            samples[t, b] = x
            if last:
                continue
            history[b, t % order] = x
            f, p = frames[t + 1], zero
            for q in range(order):  # x[t - q] with coefficient a_(q+1)
                p += lpc[b, f, q] * history[b, (t - q) % order]
            p = -p
            prediction[b] = p
            ex, ep = _encode(edges, x), _encode(edges, p)
            for r in range(R):
                nxt[r] = embed[ex, r] + embed_p[ep, r] + embed_e[best, r]


def warm() -> None:
    """Compile the kernel (or load it from numba's cache) on a tiny model with linear prediction
    and one without, so that the first render does not wait for it (scripts/setup.sh calls this)."""
    import torch

    from engine.models.wavenet import WaveNet, WaveNetConfig

    for order in (0, 4):
        cfg = WaveNetConfig(n_layers=2, dilation_cycle=2, residual_channels=4, gate_channels=8, skip_channels=4,
                            n_mels=8, cond_channels=8, hop_length=16, upsample_scales=(4, 4), lpc_order=order)
        WaveNet(cfg).eval().generate(torch.full((1, 8, 3), -5.0), seed=0)

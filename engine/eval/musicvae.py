"""How good a MusicVAE is, measured on held-out melodies (`cantus eval musicvae --json`).

Keys: ``token_accuracy_tf`` (teacher-forced, from the posterior mean), ``token_accuracy_sampled``
(free-running argmax decode of the mean), ``note_f1`` (onset step and pitch of argmax
reconstructions; holds cannot inflate it), ``kl_bits`` (mean KL per melody), ``active_dims``
(latent dimensions whose mean varies across melodies: variance above 0.01),
``interp_spearman_median`` (11-step slerp between held-out pairs: Spearman correlation of the
Hamming distance to A against the step, median over pairs), ``interp_max_jump`` (largest
Hamming distance between neighbouring steps as a fraction of the A-to-B distance, median over
pairs), ``attribute_d`` (per attribute vector: Cohen's d of the change it makes at +1 on its own
attribute and the largest on another, the attribute's mean at -2..+2, how monotonic that is,
and the note F1 of the +1 melody against the unpushed one), ``attribute_monotonic`` and
``attribute_f1_kept`` (those two per attribute), ``bars`` (the model's window), ``decode_ms`` (one
melody from the prior decoded alone, median), ``n_melodies``, ``model``.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from engine.generate.musicvae import CODEC, MelodyVAE, slerp
from engine.music.attributes import ATTRIBUTES, melody_attributes
from engine.music.sketch import Track

FIRST_NOTE_ON = 2


def _notes(tokens: np.ndarray) -> set[tuple[int, int]]:
    return {(int(i), int(t)) for i, t in enumerate(tokens) if t >= FIRST_NOTE_ON}


def note_f1(originals: np.ndarray, recons: np.ndarray) -> float:
    tp = fp = fn = 0
    for a, b in zip(originals, recons):
        na, nb = _notes(a), _notes(b)
        tp += len(na & nb)
        fp += len(nb - na)
        fn += len(na - nb)
    return 2 * tp / max(2 * tp + fp + fn, 1)


def cohens_d(before: np.ndarray, after: np.ndarray) -> float:
    pooled = math.sqrt((np.var(before, ddof=1) + np.var(after, ddof=1)) / 2) if len(before) > 1 else 0.0
    return float((np.mean(after) - np.mean(before)) / pooled) if pooled > 0 else 0.0


def _attributes(tokens: np.ndarray) -> dict[str, np.ndarray]:
    rows = [melody_attributes(Track(notes=CODEC.decode(t)), num_steps=len(t)) for t in tokens]
    return {a: np.array([r[a] for r in rows]) for a in ATTRIBUTES}


@torch.no_grad()
def evaluate(vae: MelodyVAE, windows: np.ndarray, pairs: int = 200, attribute_melodies: int = 256,
             seed: int = 0, batch_size: int = 512) -> dict:
    """Every metric above on ``windows`` (n, seq_len) of held-out melodies."""
    model, device = vae.model, vae.device
    rng = np.random.default_rng(seed)
    mus, sigmas, tf_correct, sampled, total = [], [], 0, [], 0
    for i in range(0, len(windows), batch_size):
        tokens = torch.from_numpy(windows[i:i + batch_size].astype(np.int64)).to(device)
        mu, sigma = model.encode(tokens)
        logits = model.decode_logits(mu, tokens)
        tf_correct += int((logits.argmax(-1) == tokens).sum())
        total += tokens.numel()
        sampled.append(model.decode(mu).cpu().numpy())
        mus.append(mu.float().cpu().numpy())
        sigmas.append(sigma.float().cpu().numpy())
    mu = np.concatenate(mus)
    sigma = np.concatenate(sigmas)
    recon = np.concatenate(sampled)
    kl = 0.5 * np.sum(mu ** 2 + sigma ** 2 - 1.0 - 2.0 * np.log(sigma), axis=1)

    # Interpolations between random held-out pairs that differ.
    spearman, jumps = [], []
    from scipy.stats import spearmanr

    idx = rng.permutation(len(windows))
    pairs_done = 0
    for a, b in zip(idx[::2], idx[1::2]):
        if pairs_done >= pairs:
            break
        ta, tb = windows[a], windows[b]
        dist_ab = int(np.sum(ta != tb))
        if dist_ab == 0:
            continue
        zs = np.stack([slerp(mu[a], mu[b], t) for t in np.linspace(0, 1, 11)[1:-1]])
        middle = vae.decode_tokens(zs)
        seq = np.concatenate([ta[None], middle, tb[None]])
        d = np.sum(seq != ta[None], axis=1)
        rho = spearmanr(np.arange(len(seq)), d).correlation
        spearman.append(0.0 if np.isnan(rho) else float(rho))
        jumps.append(float(np.max(np.sum(seq[1:] != seq[:-1], axis=1)) / dist_ab))
        pairs_done += 1

    attribute_d = {}
    if vae.attribute_vectors:
        pick = rng.choice(len(windows), min(attribute_melodies, len(windows)), replace=False)
        base_tokens = vae.decode_tokens(mu[pick])
        before = _attributes(base_tokens)
        for name in vae.attribute_vectors:
            # the slider as the panel moves it (`MelodyVAE.push`: searched where it has a unit)
            pushed = {amount: vae.decode_tokens(mu[pick], shift=vae.push(mu[pick], {name: amount}))
                      for amount in (-2, -1, 1, 2)}
            measured = {0: before, **{amount: _attributes(tokens) for amount, tokens in pushed.items()}}
            after = measured[1]
            ds = {a: cohens_d(before[a], after[a]) for a in ATTRIBUTES}
            amounts = (-2, -1, 0, 1, 2)
            means = [float(np.mean(measured[x][name])) for x in amounts]
            rho = spearmanr(amounts, means).correlation
            attribute_d[name] = {"own": round(ds[name], 3),
                                 "max_other": round(max(abs(v) for k, v in ds.items() if k != name), 3),
                                 # the attribute's mean over the slider at -2..+2, and how
                                 # monotonic it is (Spearman over the five amounts)
                                 "means": [round(m, 4) for m in means],
                                 "monotonic": round(0.0 if np.isnan(rho) else float(rho), 3),
                                 # the melody at +1 against the unpushed decode: still the same tune?
                                 "f1_kept": round(note_f1(base_tokens, pushed[1]), 3)}

    # How long one melody from the prior takes to decode (the panel's Sample, one at a time):
    # the median of 10 after a warm-up, in milliseconds.
    import time

    z = rng.standard_normal((11, vae.cfg.z_size)).astype(np.float32)
    took = []
    for i in range(11):
        t0 = time.perf_counter()
        vae.decode_tokens(z[i:i + 1])
        took.append(time.perf_counter() - t0)

    return {
        "model": vae.name,
        "bars": int(vae.cfg.seq_len // 16),
        "decode_ms": round(1000 * float(np.median(took[1:])), 1),
        "n_melodies": int(len(windows)),
        "token_accuracy_tf": round(tf_correct / max(total, 1), 4),
        "token_accuracy_sampled": round(float(np.mean(recon == windows)), 4),
        "note_f1": round(note_f1(windows, recon), 4),
        "kl_bits": round(float(np.mean(kl)) / math.log(2), 2),
        "active_dims": int(np.sum(np.var(mu, axis=0) > 0.01)),
        "interp_spearman_median": round(float(np.median(spearman)), 4) if spearman else None,
        "interp_max_jump": round(float(np.median(jumps)), 4) if jumps else None,
        "interp_pairs": pairs_done,
        "attribute_d": attribute_d,
        "attribute_monotonic": {k: v["monotonic"] for k, v in attribute_d.items()},
        "attribute_f1_kept": {k: v["f1_kept"] for k, v in attribute_d.items()},
    }

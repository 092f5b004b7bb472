"""How good the Music Transformer is (`cantus eval transformer --json`).

Keys: ``nll_relative`` and ``nll_absolute`` (mean negative log-likelihood per event in nats, on
the same held-out windows, for the relative model and the absolute-position baseline),
``constraint_satisfaction`` (for each constraint, the fraction of sampled continuations that
keep it, checked by replaying the events), ``events_per_s_cached`` and
``events_per_s_recompute`` (batch-1 sampling speed with the key/value cache and with the whole
context recomputed for every event), ``n_sequences`` (held-out performances), ``n_events``.
"""

from __future__ import annotations

import time

import numpy as np
import torch

from engine.generate.continuation import ConstraintState, Constraints, constraint_report, sample_events
from engine.models.music_transformer import MusicTransformer
from engine.music.encodings.performance import NOTE_OFF, NOTE_ON
from engine.music.key import Key
from engine.train.transformer import eval_windows, evaluate as window_nll


def nll(model: MusicTransformer, performances: list[np.ndarray], limit: int | None = None) -> dict:
    device = next(model.parameters()).device
    windows = eval_windows(performances, model.cfg.max_len + 1, limit)
    return window_nll(model, windows, device)


def random_constraints(rng: np.random.Generator) -> Constraints:
    """A varied request: a key, a pitch range of one to three octaves, 1 to 4 notes at once, 1 to 4 s."""
    low = int(rng.integers(36, 72))
    steps = int(rng.integers(100, 401))
    # The event budget (100 events a second) is far above real music's density; it only bounds
    # what a poorly trained model might do.
    return Constraints(key=Key(int(rng.integers(12)), bool(rng.integers(2))),
                       pitch_range=(low, low + int(rng.integers(12, 37))),
                       max_polyphony=int(rng.integers(1, 5)), max_shifts=steps, max_events=steps)


def constraint_rates(model: MusicTransformer, performances: list[np.ndarray], n: int = 1000,
                     prime_events: int = 64, seed: int = 0, temperature: float = 1.0,
                     top_p: float = 0.95) -> dict[str, float]:
    """Sample ``n`` continuations of random held-out primes under random constraints."""
    rng = np.random.default_rng(seed)
    held: dict[str, int] = {}
    long_enough = [p for p in performances if len(p) > prime_events + 1] or performances
    for i in range(n):
        p = long_enough[int(rng.integers(len(long_enough)))]
        start = int(rng.integers(0, max(len(p) - prime_events - 1, 0) + 1))
        prime = [int(e) for e in p[start:start + prime_events]]
        c = random_constraints(rng)
        after_prime = ConstraintState(c)
        for e in prime:
            after_prime.observe(e)
        events = list(sample_events(model, prime, c, temperature=temperature, top_p=top_p, seed=seed + i))
        for name, ok in constraint_report(events, c, prime_sounding=after_prime.sounding).items():
            held[name] = held.get(name, 0) + int(ok)
    return {name: count / n for name, count in held.items()}


def sampling_speed(model: MusicTransformer, events: int = 512, prime: list[int] | None = None,
                   use_cache: bool = True, seed: int = 0) -> tuple[float, float]:
    """(events per second, seconds to the first note-on) for one continuation of ``events``
    events, batch 1, after a short warm-up."""
    c = Constraints(max_events=events)
    prime = prime or [NOTE_ON + 60]
    list(sample_events(model, prime, Constraints(max_events=8), seed=seed, use_cache=use_cache))  # warm up
    t0 = time.perf_counter()
    first, n = None, 0
    for e in sample_events(model, prime, c, seed=seed, use_cache=use_cache):
        n += 1
        if first is None and e < NOTE_OFF:
            first = time.perf_counter() - t0
    return n / (time.perf_counter() - t0), float("nan") if first is None else first


@torch.no_grad()
def evaluate(relative: MusicTransformer, absolute: MusicTransformer | None, performances: list[np.ndarray],
             limit: int | None = None, continuations: int = 1000, speed_events: int = 512,
             seed: int = 0) -> dict:
    rel = nll(relative, performances, limit)
    result = {
        "nll_relative": round(rel["nll"], 4),
        "nll_absolute": round(nll(absolute, performances, limit)["nll"], 4) if absolute is not None else None,
        "n_sequences": len(performances),
        "n_events": rel["events"],
        "constraint_satisfaction": constraint_rates(relative, performances, continuations, seed=seed),
        "events_per_s_cached": round(sampling_speed(relative, speed_events)[0], 1),
        "events_per_s_recompute": round(sampling_speed(relative, speed_events, use_cache=False)[0], 1),
        "model": "music-transformer",
    }
    return result

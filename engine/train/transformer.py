"""Train the Music Transformer on performance events from the corpora (engine.data).

    cantus train transformer --sources music21,pop909 --minutes 40 --out runs/mt
    cantus train transformer --absolute --max-steps N --out runs/mt-abs   (the baseline)
    cantus train transformer --line melody --sources music21,pop909:2 --transpose 6 --out runs/mt-melody
    torchrun --nproc-per-node 8 -m engine train transformer ...            (many GPUs, DDP)

Each piece ends with END. A batch is random crops of ``max_len + 1`` events (pieces chosen in
proportion to their length; a crop that runs off the end is padded). On the training split only,
each crop is transposed by up to 3 semitones each way (as far as its pitches allow) and its
time stretched by 0.95 to 1.05. AdamW with warm-up and cosine decay, over ``max_steps`` or, with
only a time budget, over the minutes; gradient clipping; bf16 autocast where it pays. The best
weights by validation NLL are kept as a bundle (float16 safetensors + config.json), and
``last.pt`` makes the run resumable.
"""

from __future__ import annotations

import json
import random
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from engine.models.music_transformer import CONFIGS, MusicTransformer, TransformerConfig
from engine.music.encodings.performance import (
    END, NOTE_OFF, NOTE_ON, NUM_TIME_SHIFTS, PAD, TIME_SHIFT, VELOCITY,
)
from engine.registry import save_bundle
from engine.train.transformer_args import TrainArgs
from engine.train.common import (
    BestKeeper, Dist, Run, autocast, end_distributed, pick_device, ranks_agree, setup_distributed,
    warmup_cosine,
)


LINES = ("all", "melody")


def source_weights(sources: str) -> list[tuple[str, float]]:
    """("pop909", 2.0) for each entry of "music21,pop909:2" (a weight of 1 where none is given)."""
    out = []
    for entry in [s.strip() for s in sources.split(",") if s.strip()]:
        name, _, weight = entry.rpartition(":") if entry.rpartition(":")[2].replace(".", "", 1).isdigit() \
            else (entry, "", "1")
        out.append((name, float(weight)))
    return out


def load_performances(sources: str, split: str, line: str = "all",
                      weighted: bool = False) -> list[np.ndarray] | tuple[list[np.ndarray], np.ndarray]:
    """Every performance of one split, each ending with END (building corpora when needed):
    whole pieces for ``line`` "all", the melody alone for "melody". ``weighted``: also each
    performance's sampling weight (its length times its source's weight)."""
    from engine.data import load_corpora

    if line not in LINES:
        raise ValueError(f"line is one of {', '.join(LINES)}, not {line!r}")
    names = source_weights(sources)
    perfs, weights = [], []
    for (_, weight), corpus in zip(names, load_corpora(",".join(n for n, _ in names))):
        chosen = ended(corpus.performances[split] if line == "all" else corpus.melody_performances[split])
        perfs += chosen
        weights += [weight * len(p) for p in chosen]
    return (perfs, np.asarray(weights, np.float64)) if weighted else perfs


def ended(performances: list[np.ndarray]) -> list[np.ndarray]:
    """The non-empty performances as int64, each with END appended (how the model sees a piece)."""
    return [np.append(p.astype(np.int64), END) for p in performances if len(p)]


def transpose_events(events: np.ndarray, shift: int) -> np.ndarray:
    """Note-ons and note-offs moved by ``shift`` semitones (the caller keeps them in 0..127)."""
    notes = events < TIME_SHIFT
    return np.where(notes, events + shift, events)


def transpose_room(events: np.ndarray) -> tuple[int, int]:
    """How far (down, up) the pitches of ``events`` can move and stay in 0..127."""
    pitches = np.where(events < NOTE_OFF, events - NOTE_ON, events - NOTE_OFF)[events < TIME_SHIFT]
    if not len(pitches):
        return 0, 0
    return int(pitches.min()), int(127 - pitches.max())


def stretch_events(events: np.ndarray, factor: float) -> np.ndarray:
    """Time shifts scaled by ``factor``, rounded so that the total time never drifts (shifts longer
    than a second are split, zero shifts dropped); other events unchanged."""
    is_shift = (events >= TIME_SHIFT) & (events < VELOCITY)
    if not is_shift.any() or factor == 1.0:
        return events
    amounts = np.where(is_shift, events - TIME_SHIFT + 1, 0)
    total = np.cumsum(amounts)
    new_total = np.round(total * factor).astype(np.int64)
    new_amounts = np.diff(np.concatenate([[0], new_total]))
    out = []
    for e, shift, amount in zip(events.tolist(), is_shift.tolist(), new_amounts.tolist()):
        if not shift:
            out.append(e)
            continue
        while amount > 0:
            step = min(amount, NUM_TIME_SHIFTS)
            out.append(TIME_SHIFT + step - 1)
            amount -= step
    return np.asarray(out, dtype=np.int64)


class Crops:
    """Random crops of ``length`` events from performances, in proportion to their lengths."""

    def __init__(self, performances: list[np.ndarray], length: int, augment: bool,
                 transpose: int = 3, stretch: float = 0.05, seed: int = 0,
                 weights: np.ndarray | None = None) -> None:
        if not performances:
            raise ValueError("no performances to train on")
        self.perfs = performances
        self.length = length
        self.augment = augment
        self.transpose = transpose
        self.stretch = stretch
        sizes = np.array([len(p) for p in performances], dtype=np.float64) if weights is None \
            else np.asarray(weights, np.float64)
        self.weights = sizes / sizes.sum()
        self.rng = np.random.default_rng(seed)

    def one(self) -> np.ndarray:
        p = self.perfs[self.rng.choice(len(self.perfs), p=self.weights)]
        # Take a little more than needed so a stretch that shortens the crop still fills it.
        want = self.length + (self.length // 8 if self.augment else 0)
        start = int(self.rng.integers(0, max(len(p) - self.length, 0) + 1))
        crop = p[start:start + want]
        if self.augment:
            if self.stretch:
                crop = stretch_events(crop, float(self.rng.uniform(1 - self.stretch, 1 + self.stretch)))
            down, up = transpose_room(crop)
            lo, hi = -min(down, self.transpose), min(up, self.transpose)
            crop = transpose_events(crop, int(self.rng.integers(lo, hi + 1)))
        crop = crop[:self.length]
        return np.pad(crop, (0, self.length - len(crop)), constant_values=PAD)

    def batch(self, n: int) -> torch.Tensor:
        return torch.from_numpy(np.stack([self.one() for _ in range(n)]))


def eval_windows(performances: list[np.ndarray], length: int, limit: int | None = None) -> np.ndarray:
    """Consecutive windows of ``length`` events covering each performance once (each window after
    the first repeats the previous one's last event, so every event after a piece's first is
    predicted exactly once); padded with PAD."""
    rows = []
    for p in performances:
        for start in range(0, max(len(p) - 1, 1), length - 1):
            w = p[start:start + length]
            rows.append(np.pad(w, (0, length - len(w)), constant_values=PAD))
            if limit is not None and len(rows) >= limit:
                return np.stack(rows)
    return np.stack(rows) if rows else np.zeros((0, length), np.int64)


def validation_sample(performances: list[np.ndarray], length: int, n: int, seed: int = 0) -> np.ndarray:
    """``n`` of the consecutive windows of all performances, chosen at random (seeded), in order:
    a sample across pieces, not the first few pieces (whose style would decide the best step)."""
    windows = eval_windows(performances, length)
    if len(windows) <= n:
        return windows
    return windows[np.sort(np.random.default_rng(seed).choice(len(windows), n, replace=False))]


@torch.no_grad()
def evaluate(model: MusicTransformer, windows: np.ndarray, device: torch.device, batch_size: int = 16,
             precision: str = "auto") -> dict[str, float]:
    """Mean NLL per predicted event (nats) and accuracy over ``windows``."""
    was_training = model.training
    model.eval()
    nll_sum, count, correct = 0.0, 0, 0
    for i in range(0, len(windows), batch_size):
        tokens = torch.from_numpy(windows[i:i + batch_size]).to(device)
        with autocast(device, precision):
            logits = model(tokens[:, :-1])
        logits = logits.float()
        targets = tokens[:, 1:]
        keep = targets != PAD
        nll = torch.nn.functional.cross_entropy(logits.transpose(1, 2), targets, reduction="none")
        nll_sum += float(nll[keep].sum())
        correct += int(((logits.argmax(-1) == targets) & keep).sum())
        count += int(keep.sum())
    model.train(was_training)
    return {"nll": nll_sum / max(count, 1), "accuracy": correct / max(count, 1), "events": count}


def export_bundle(model: MusicTransformer, out_dir: Path, extra: dict | None = None) -> None:
    """The form the app loads (the tied output layer is stored once, as the embedding)."""
    save_bundle(model, out_dir, "music_transformer", model.cfg.to_dict(), extra, skip=("head.weight",))


def model_config(args: TrainArgs) -> TransformerConfig:
    base = CONFIGS["absolute" if args.absolute else "relative"]
    return replace(base, d_model=args.d_model, n_layers=args.n_layers, n_heads=args.n_heads,
                   d_ff=args.d_ff, max_len=args.max_len, dropout=args.dropout)


def learning_rate(args: TrainArgs, step: int, progress: float) -> float:
    """Linear warm-up, then cosine decay to a tenth over the run (``progress`` in 0..1)."""
    return warmup_cosine(args.lr, args.warmup, step, progress)


def train(args: TrainArgs) -> dict:
    dist: Dist = setup_distributed()
    device = pick_device(args.device, dist)
    torch.manual_seed(args.seed)  # the same initial weights on every rank
    random.seed(args.seed + dist.rank)
    cfg = model_config(args)
    perfs, weights = load_performances(args.sources, "train", args.line, weighted=True)
    train_set = Crops(perfs, cfg.max_len + 1, augment=True, transpose=args.transpose, stretch=args.stretch,
                      seed=args.seed * 1000 + dist.rank, weights=weights)
    val = validation_sample(load_performances(args.sources, "validation", args.line), cfg.max_len + 1,
                            args.eval_windows)

    if args.init:
        from engine.registry import load_model

        model, _, _ = load_model(args.init, "music_transformer", lambda c: MusicTransformer(TransformerConfig(**c)),
                                 "Music Transformer", str(device))
        model = model.float().to(device)
        cfg = model.cfg
    else:
        model = MusicTransformer(cfg).to(device)
    train_set.length = cfg.max_len + 1
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2 and not n.endswith(".rel")]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2 or n.endswith(".rel")]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": args.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=args.lr, betas=(0.9, 0.98))
    out = Path(args.out)
    run = Run(out, args.minutes, args.max_steps, dist)
    best = float("inf")
    if args.resume and (resumed := run.resume(model, opt, device)) is not None:
        best = resumed
        train_set.rng = np.random.default_rng(args.seed * 1000 + dist.rank + run.step)
    ddp = model
    if dist.enabled:
        from torch.nn.parallel import DistributedDataParallel

        ddp = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    if args.compile:  # fuses the relative term, mask and softmax: 4.4 to 3.2 s a step at 16 x 512 on 2 cores
        ddp = torch.compile(ddp)

    bar = tqdm(total=args.max_steps, initial=run.step, disable=not dist.main, dynamic_ncols=True,
               desc=f"transformer {'absolute' if args.absolute else 'relative'}")
    keeper = BestKeeper(out, lambda folder, extra: export_bundle(model, folder, extra), best)
    events_seen = 0
    model.train()

    def checkpoint() -> None:
        run.checkpoint(model, opt, keeper.best, asdict(args))

    while not run.done:
        tokens = train_set.batch(args.batch_size).to(device)
        lr = learning_rate(args, run.step, run.progress())
        for group in opt.param_groups:
            group["lr"] = lr
        with autocast(device, args.precision):
            logits = ddp(tokens[:, :-1])
        targets = tokens[:, 1:]
        loss = torch.nn.functional.cross_entropy(logits.float().transpose(1, 2), targets, ignore_index=PAD)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), args.grad_clip)
        opt.step()
        run.step += 1
        events_seen += int((targets != PAD).sum()) * dist.world_size
        bar.update()
        bar.set_postfix(nll=f"{loss.item():.3f}", lr=f"{lr:.1e}")
        if run.step % args.eval_every == 0 and dist.main:
            metrics = evaluate(model, val, device, precision=args.precision)
            metrics.update(step=run.step, minutes=run.budget.elapsed_s / 60,
                           events_per_s=events_seen / run.budget.elapsed_s)
            keeper.offer(metrics["nll"], {"step": run.step, "validation": metrics, "sources": args.sources,
                                          "line": args.line})
            checkpoint()
            bar.write(f"step {run.step}: val nll {metrics['nll']:.4f} acc {metrics['accuracy']:.4f} "
                      f"({metrics['events_per_s']:.0f} events/s)")
    bar.close()
    agree = ranks_agree(model, dist)  # collective: before rank 0 goes on alone
    result = {"steps": run.step, "minutes": run.budget.elapsed_s / 60, "best_val_nll": keeper.best,
              "history": keeper.history}
    result.update(world_size=dist.world_size, ranks_agree=agree)
    if dist.main:
        final = evaluate(model, val, device, precision=args.precision)
        keeper.offer(final["nll"], {"step": run.step, "validation": final, "sources": args.sources,
                                    "line": args.line}, record=False)
        result.update(best_val_nll=keeper.best, final=final)
        checkpoint()
        (out / "train.json").write_text(json.dumps(result, indent=2))
    del ddp  # the DDP wrapper holds the process group: freed here, not at interpreter exit
    end_distributed(dist)
    return result

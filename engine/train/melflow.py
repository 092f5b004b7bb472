"""Train MelFlow on the paired audio corpus: notes in, the synth's log-mel out.

    cantus train melflow --sources pop909 --minutes 60 --out runs/melflow
    torchrun --nproc-per-node 8 -m engine train melflow ...                (many GPUs, DDP)

A batch is random windows of the training clips' stored mels (clips in proportion to their
length, windows starting on an even frame), each with the piano roll of its notes at the mel
frame rate (`engine.models.melflow.note_features`, notes begun before the window keep their age)
and its clip's program. The loss is the flow's negative log-likelihood of the dequantised
log-mel plus the note encoder's L1 regression of the clean one (`MelFlow.loss`).

Validation: seeded windows of the validation split. Reported: the NLL (nats per mel value,
the score the best bundle is kept by), and the mel L1 of the encoder's mean alone (the
regression baseline), of the flow at temperature 0, and of the flow at 0.5.
"""

from __future__ import annotations

import json
import random
import sys
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from engine.audio.mel import MEL
from engine.models.melflow import MelFlow, MelFlowConfig, note_features
from engine.registry import save_bundle
from engine.train.common import (
    BestKeeper, Dist, Run, autocast, end_distributed, pick_device, ranks_agree, setup_distributed,
    warmup_cosine,
)

BUNDLE_KIND = "melflow"


@dataclass
class TrainArgs:
    sources: str = "pop909"  # audio corpora (engine.data.audio_corpus), comma-separated
    out: str = "runs/melflow"
    frames: int = 256  # mel frames per training window (about 3 s), even
    batch_size: int = 16
    lr: float = 1e-3
    warmup: int = 200
    weight_decay: float = 0.0
    grad_clip: float = 5.0
    regression_weight: float = 1.0
    minutes: float | None = None
    max_steps: int | None = None
    eval_every: int = 250
    eval_windows: int = 48
    eval_frames: int = 512
    seed: int = 0
    device: str | None = None
    precision: str = "auto"
    init: str | None = None  # fine-tune from this bundle
    resume: bool = True
    # model size (None: the config's default)
    n_flows: int | None = None
    coupling_dim: int | None = None
    encoder_dim: int | None = None
    template_lr_scale: float = 5.0
    templates: bool = False  # add the note templates (engine.models.melflow.NoteTemplates); with init,
    # to a bundle trained without them: its weights are kept and the templates start switched off


class Windows:
    """Random (mel, features, program) windows of a split's clips, held in memory."""

    def __init__(self, clips, frames: int, cfg: MelFlowConfig, seed: int = 0) -> None:
        if not clips:
            raise ValueError("no clips to train on")
        self.items = []
        for c in clips:
            with np.load(c.path, allow_pickle=False) as z:
                self.items.append((z["mel"], z["notes"].astype(np.float32), int(c.program)))
        self.frames, self.cfg = frames, cfg
        sizes = np.array([max(m.shape[1], 1) for m, _, _ in self.items], dtype=np.float64)
        self.weights = sizes / sizes.sum()
        self.rng = np.random.default_rng(seed)

    def window(self, index: int, start: int, frames: int):
        mel, notes, program = self.items[index]
        seg = mel[:, start:start + frames].astype(np.float32)
        if seg.shape[1] < frames:  # a short clip: silence after it
            seg = np.pad(seg, ((0, 0), (0, frames - seg.shape[1])), constant_values=MEL.silence)
        return seg, note_features(notes, frames, self.cfg, start_frame=start), program

    def one(self, frames: int | None = None):
        frames = frames or self.frames
        i = int(self.rng.choice(len(self.items), p=self.weights))
        last = max(self.items[i][0].shape[1] - frames, 0)
        start = int(self.rng.integers(0, last // 2 + 1)) * 2
        return self.window(i, start, frames)

    def batch(self, n: int, frames: int | None = None):
        rows = [self.one(frames) for _ in range(n)]
        return (torch.from_numpy(np.stack([r[0] for r in rows])), torch.from_numpy(np.stack([r[1] for r in rows])),
                torch.tensor([r[2] for r in rows], dtype=torch.long))


def load_clips(sources: str, split: str):
    from engine.data.audio_corpus import load_audio_corpora

    return [c for corpus in load_audio_corpora(sources) for c in corpus.split(split)]


def validation_batch(clips, cfg: MelFlowConfig, n: int, frames: int, seed: int = 0):
    return Windows(clips, frames, cfg, seed=seed + 12345).batch(n)


@torch.no_grad()
def evaluate(model: MelFlow, val, device: torch.device, batch_size: int = 8) -> dict:
    was = model.training
    model.eval()
    mel, feats, program = val
    sums: dict[str, float] = {}
    gen = torch.Generator().manual_seed(0)
    for i in range(0, len(mel), batch_size):
        m, f, p = mel[i:i + batch_size].to(device), feats[i:i + batch_size].to(device), program[i:i + batch_size].to(device)
        _, parts = model.loss(m, f, p, generator=gen if device.type == "cpu" else None)
        noise = torch.randn(m.shape, generator=gen).to(device)
        out = {"nll": parts["nll"],
               "mel_l1_encoder": float((model.generate(f, p, use_flow=False) - m).abs().mean()),
               "mel_l1_t0": float((model.generate(f, p, temperature=0.0) - m).abs().mean()),
               "mel_l1_t05": float((model.generate(f, p, temperature=0.5, noise=noise) - m).abs().mean())}
        for k, v in out.items():
            sums[k] = sums.get(k, 0.0) + v * len(m)
    model.train(was)
    return {k: v / len(mel) for k, v in sums.items()}


def build_model(args: TrainArgs) -> MelFlow:
    cfg = MelFlowConfig()
    if args.n_flows:
        cfg = replace(cfg, n_flows=args.n_flows)
    if args.coupling_dim:
        cfg = replace(cfg, coupling_dim=args.coupling_dim)
    if args.encoder_dim:
        cfg = replace(cfg, encoder_dim=args.encoder_dim)
    if args.templates:
        cfg = replace(cfg, templates=True)
    return MelFlow(cfg)


class _Loss(torch.nn.Module):
    """The loss as a module's forward, for DistributedDataParallel."""

    def __init__(self, model: MelFlow, regression_weight: float) -> None:
        super().__init__()
        self.model, self.regression_weight = model, regression_weight

    def forward(self, mel, feats, program):
        return self.model.loss(mel, feats, program, self.regression_weight)


def train(args: TrainArgs) -> dict:
    if args.frames % 2:
        raise ValueError("training windows must have an even number of frames")
    dist: Dist = setup_distributed()
    device = pick_device(args.device, dist)
    torch.manual_seed(args.seed + dist.rank)
    random.seed(args.seed + dist.rank)
    model = build_model(args)
    if args.init:
        from engine.registry import read_bundle

        config, state = read_bundle(args.init)
        cfg = MelFlowConfig.from_dict(config["config"])
        if args.templates and not cfg.templates:  # grow the templates on a bundle without them
            model = MelFlow(replace(cfg, templates=True))
            missing, unexpected = model.load_state_dict(state, strict=False)
            if unexpected or any(not k.startswith("encoder.template") for k in missing):
                raise ValueError(f"{args.init} is not a MelFlow of this shape")
        else:
            model = MelFlow(cfg)
            model.load_state_dict(state)
    cfg = model.cfg
    train_clips, val_clips = load_clips(args.sources, "train"), load_clips(args.sources, "validation")
    if not train_clips:
        from engine.errors import DataError

        raise DataError(f"The audio corpora '{args.sources}' have no training pieces.")
    validated_on = "validation"
    if not val_clips:
        val_clips, validated_on = train_clips, "train (the corpus has no validation pieces)"
        if dist.main:
            print(f"cantus: {args.sources} has no validation pieces; validating on training clips", file=sys.stderr)
    windows = Windows(train_clips, args.frames, cfg, seed=args.seed * 1000 + dist.rank)
    val = validation_batch(val_clips, cfg, args.eval_windows, args.eval_frames)

    model = model.to(device)
    # The templates learn a table of spectra from nothing: faster than the rest (template_lr_scale).
    fresh = [p for n, p in model.named_parameters() if n.startswith("encoder.template")]
    rest = [p for n, p in model.named_parameters() if not n.startswith("encoder.template")]
    groups = [{"params": rest, "scale": 1.0}] + ([{"params": fresh, "scale": args.template_lr_scale}] if fresh else [])
    opt = torch.optim.AdamW(groups, lr=args.lr, betas=(0.9, 0.99), weight_decay=args.weight_decay)
    out = Path(args.out)
    run = Run(out, args.minutes, args.max_steps, dist)
    best = float("inf")
    if args.resume and (resumed := run.resume(model, opt, device)) is not None:
        best = resumed
        windows.rng = np.random.default_rng(args.seed * 1000 + dist.rank + run.step)
    loss_module = _Loss(model, args.regression_weight)
    if dist.enabled:
        from torch.nn.parallel import DistributedDataParallel

        loss_module = DistributedDataParallel(loss_module, device_ids=[device.index] if device.type == "cuda" else None)

    def export(folder: Path, extra: dict) -> None:
        save_bundle(model, folder, BUNDLE_KIND, cfg.to_dict(), extra)

    keeper = BestKeeper(out, export, best)
    bar = tqdm(total=args.max_steps, initial=run.step, disable=not dist.main, dynamic_ncols=True, desc="melflow")
    frames_seen = 0
    model.train()

    def record(metrics: dict) -> dict:
        return {"step": run.step, "validation": metrics, "validated_on": validated_on, "sources": args.sources,
                "minutes": round(run.minutes_spent, 2), "temperature": 0.5}

    while not run.done:
        mel, feats, program = (t.to(device) for t in windows.batch(args.batch_size))
        lr = warmup_cosine(args.lr, args.warmup, run.step, run.progress())
        for group in opt.param_groups:
            group["lr"] = lr * group.get("scale", 1.0)
        with autocast(device, args.precision):
            loss, parts = loss_module(mel, feats, program)
        bad = torch.tensor(0.0 if torch.isfinite(loss) else 1.0, device=device)
        if dist.enabled:  # every rank skips the batch together, or the others wait in backward
            torch.distributed.all_reduce(bad)
        if bad.item() > 0:  # a rare bad batch must not poison the weights
            continue
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), args.grad_clip)
        opt.step()
        run.step += 1
        frames_seen += mel.shape[0] * mel.shape[-1] * dist.world_size
        bar.update()
        bar.set_postfix({k: f"{v:.3f}" for k, v in parts.items()} | {"lr": f"{lr:.1e}"})
        if run.step % args.eval_every == 0 and dist.main:
            metrics = evaluate(model, val, device)
            metrics.update(step=run.step, frames_per_s=frames_seen / run.budget.elapsed_s)
            keeper.offer(metrics["nll"], record(metrics))
            run.checkpoint(model, opt, keeper.best, asdict(args))
            bar.write(f"step {run.step}: " + ", ".join(f"{k} {v:.4f}" for k, v in metrics.items()))
    bar.close()
    agree = ranks_agree(model, dist)  # collective: before rank 0 goes on alone
    result = {"steps": run.step, "minutes": run.minutes_spent, "history": keeper.history,
              "audio_hours_seen": frames_seen / MEL.frames_per_second / 3600}
    result.update(world_size=dist.world_size, ranks_agree=agree)
    if dist.main:
        final = evaluate(model, val, device)
        keeper.offer(final["nll"], record(final), record=False)
        result.update(best=keeper.best, final=final)
        run.checkpoint(model, opt, keeper.best, asdict(args))
        (out / "train.json").write_text(json.dumps(result, indent=2))
    del loss_module  # the DDP wrapper holds the process group: freed here, not at interpreter exit
    end_distributed(dist)
    return result


def choose_temperature(bundle: str | Path, sources: str = "pop909",
                       temperatures: tuple[float, ...] = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0),
                       pieces: int = 12, seconds: float = 10.0, vocoder: str = "fast") -> dict[float, float]:
    """Store in a MelFlow bundle the sampling temperature whose audio (through the fast vocoder)
    is closest, by MR-STFT, to the synth's on clips of the validation split, and return each
    temperature's distance. Chosen on validation, never on test."""
    from engine.eval.render import evaluate, test_pieces
    from engine.fileio import atomic_write_text

    folder = Path(bundle)
    config_path = folder / "config.json"
    config = json.loads(config_path.read_text(encoding="utf-8"))
    if config.get("model") != BUNDLE_KIND:
        from engine.registry import ModelLoadError

        raise ModelLoadError(f"'{folder.name}' is not a MelFlow model.")
    val = test_pieces(sources, pieces, seconds, split="validation")
    scores = {}
    for t in temperatures:
        result = evaluate(val, (f"melflow+{vocoder}",), {"melflow": str(folder)}, pitch=False, temperature=t)
        scores[t] = float(result[f"melflow+{vocoder}"]["mrstft"])
    best = min(scores, key=scores.get)
    config["temperature"] = best
    config["temperature_scores"] = {str(k): round(v, 4) for k, v in scores.items()}
    atomic_write_text(config_path, json.dumps(config, indent=2))
    from engine.audio import neural

    for key in [k for k in neural._melflows if k.startswith(f"{folder}|")]:
        neural._melflows.pop(key)  # a loaded copy would keep the old temperature
    return scores

"""Train MusicVAE on melody windows from the corpora (engine.data).

    cantus train musicvae --config mel2bar --sources music21,pop909 --minutes 40 --out runs/mel2bar
    cantus train musicvae --config mel16bar --base musicvae-mel2bar --token-weight 0 --minutes 10 ...
    torchrun --nproc-per-node 8 -m engine train musicvae ...   (many GPUs, DDP)

Batches are random windows of the training split, transposed on the fly (each melody by a
random shift that keeps it in range). Adam with exponential learning-rate decay, gradient
clipping, beta annealing, scheduled sampling (inverse sigmoid) for the flat model. Every
``eval_every`` steps the validation split is scored. The best weights are kept as a bundle
(config.json + weights.safetensors in float16) in ``best/``, the final ones in ``last/``: for the
flat model, trained with scheduled sampling, best means the highest free-running accuracy; for
the paper's end-to-end hierarchical one (mel16bar-e2e), the lowest validation loss; for the
16-bar model over a 2-bar one's codes (mel16bar, `engine.models.musicvae_long`), the highest
free-running accuracy. A full checkpoint (model, optimiser, step,
RNG) makes the run resumable.
"""

from __future__ import annotations

import json
import math
import random
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from engine.models.musicvae import CONFIGS, MusicVAE, MusicVAEConfig
from engine.models.musicvae_long import LONG_CONFIGS, LongMusicVAE, LongVAEConfig
from engine.music.encodings.melody_onehot import FIRST_NOTE_ON, NO_EVENT
from engine.registry import save_bundle
from engine.train.common import (
    BestKeeper, Budget, Dist, all_agree_to_stop, autocast, end_distributed, load_checkpoint, pick_device,
    ranks_agree, save_checkpoint, setup_distributed,
)



@dataclass
class TrainArgs:
    config: str = "mel2bar"
    sources: str = "music21,pop909"
    out: str = "runs/musicvae"
    batch_size: int = 512  # Magenta's; on 2 AMX cores 512 runs ~1,000 examples/s against ~700 at 256
    lr: float = 1e-3
    lr_decay: float = 0.9999  # per step
    min_lr: float = 1e-5
    grad_clip: float = 1.0
    sampling_rate: float = 1000.0  # inverse-sigmoid schedule; 0 turns scheduled sampling off
    transpose: int = 5  # up to this many semitones each way
    offbeat: float = 0.0  # this share of the windows moved later by an 8th (see offbeat_batch)
    minutes: float | None = None
    max_steps: int | None = None
    eval_every: int = 500
    eval_windows: int = 4096
    seed: int = 0
    device: str | None = None
    precision: str = "auto"  # bf16 autocast on CUDA and on CPUs with bf16 hardware; or bf16 / fp32
    free_bits: float | None = None  # override the config's free bits
    max_beta: float | None = None  # override the config's largest KL weight
    init: str | None = None  # start from this bundle's weights, its schedules going on from its step
    resume: bool = True
    attribute_dims: str | None = None  # "all" or names: AR-VAE dimensions (MusicVAEConfig.ar_attributes)
    ar_weight: float | None = None  # the regulariser's weight (default: the config's)
    # mel16bar (the 16-bar model over a 2-bar one's codes): the 2-bar bundle it is built on, the
    # token term's weight (0: the code term alone, no decoder: the cheap first stage), and
    # whether the 2-bar decoder is trained too
    base: str = "musicvae-mel2bar"
    token_weight: float | None = None
    tune_decoder: bool | None = None
    bank_copies: int = 4  # the code stage: each window's codes this many times (1 as written)


def load_windows(sources: str, num_bars: int, split: str) -> np.ndarray:
    """Windows (n, 16 * num_bars) of one split from each source's built corpus (building it if needed)."""
    from engine.data import load_corpora

    blocks = [corpus.windows(num_bars, split) for corpus in load_corpora(sources)]
    return np.concatenate(blocks) if blocks else np.zeros((0, 16 * num_bars), np.uint8)


def transpose_batch(tokens: torch.Tensor, max_shift: int, num_classes: int,
                    generator: torch.Generator | None = None) -> torch.Tensor:
    """Shift each melody's note-ons by a random number of semitones that keeps it in range."""
    if max_shift <= 0:
        return tokens
    is_note = tokens >= FIRST_NOTE_ON
    big = torch.full_like(tokens, num_classes)
    low = torch.where(is_note, tokens, big).min(dim=1).values  # lowest note-on class per row
    high = torch.where(is_note, tokens, torch.zeros_like(tokens)).max(dim=1).values
    down = torch.clamp(low - FIRST_NOTE_ON, max=max_shift)  # room to go down
    up = torch.clamp(num_classes - 1 - high, max=max_shift)
    down = torch.where(is_note.any(dim=1), down, torch.zeros_like(down))
    up = torch.where(is_note.any(dim=1), up, torch.zeros_like(up))
    r = torch.rand(tokens.shape[0], generator=generator, device=tokens.device)
    shift = (-down + torch.floor(r * (down + up + 1).float()).long())
    return torch.where(is_note, tokens + shift[:, None], tokens)


def offbeat_batch(tokens: torch.Tensor, share: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Move ``share`` of the melodies an 8th later (a rest in front, the last 8th cut off): what
    sat on the beat now sits between beats. Folk tunes almost never syncopate on the 8th (the
    music21 windows' mean 8th syncopation is 0.002, POP909's 0.06; moved, 0.45 and 0.16), so
    without this the 8th-syncopation slider has little to reach for."""
    if share <= 0:
        return tokens
    moved = torch.cat([torch.full_like(tokens[:, :2], NO_EVENT), tokens[:, :-2]], dim=1)
    pick = torch.rand(tokens.shape[0], generator=generator, device=tokens.device) < share
    return torch.where(pick[:, None], moved, tokens)


def code_bank(model: LongMusicVAE, windows: np.ndarray, copies: int, max_shift: int, device: torch.device,
              precision: str, seed: int = 0, batch_size: int = 1024, progress: bool = True
              ) -> tuple[torch.Tensor, torch.Tensor]:
    """The 2-bar posteriors (mu, sigma: (len(windows) * copies, segments, code_size), float16)
    of every window, ``copies`` times, each copy randomly transposed: the code stage (no token
    term) then trains on these without running the 2-bar encoder at every step."""
    g = torch.Generator().manual_seed(seed)
    mus, sigmas = [], []
    total = len(windows) * copies
    with tqdm(total=total, disable=not progress, desc="encoding 2-bar codes", dynamic_ncols=True) as bar:
        for copy in range(copies):
            for i in range(0, len(windows), batch_size):
                tokens = torch.from_numpy(windows[i:i + batch_size].astype(np.int64))
                if copy:  # the first copy as written
                    tokens = transpose_batch(tokens, max_shift, model.cfg.num_classes, g)
                with torch.no_grad(), autocast(device, precision):
                    mu, sigma = model.segment_codes(tokens.to(device))
                mus.append(mu.to(torch.float16))
                sigmas.append(sigma.to(torch.float16))
                bar.update(len(tokens))
    return torch.cat(mus), torch.cat(sigmas)


def sampling_probability(step: int, rate: float) -> float:
    """Inverse-sigmoid scheduled sampling: near 0 early, rising toward 1 (Magenta's schedule)."""
    if rate <= 0:
        return 0.0
    return 1.0 - rate / (rate + math.exp(min(step / rate, 50.0)))


@torch.no_grad()
def evaluate(model: MusicVAE, windows: np.ndarray, device: torch.device, batch_size: int = 512,
             step: int = 10**9, precision: str = "auto") -> dict[str, float]:
    """Validation: teacher-forced mean loss, reconstruction, KL (nats) and token accuracy, and
    ``sampled_accuracy``: the token accuracy of free-running argmax decodes from the mean."""
    model.eval()
    totals = {"loss": 0.0, "recon": 0.0, "kl": 0.0, "accuracy": 0.0, "sampled_accuracy": 0.0}
    n = 0
    g = torch.Generator(device="cpu").manual_seed(1234)  # the same posterior samples every time
    for i in range(0, len(windows), batch_size):
        tokens = torch.from_numpy(windows[i:i + batch_size].astype(np.int64)).to(device)
        with autocast(device, precision):
            if isinstance(model, LongMusicVAE):
                code_mu, code_sigma = model.segment_codes(tokens)
                mu, sigma = model.encode_codes(code_mu)
                eps = torch.randn(mu.shape, generator=g).to(device, mu.dtype)
                codes = model.conduct(mu + sigma * eps)
                logits = model.decode_codes_logits(codes, tokens)
                parts = {"codes": codes, "code_mu": code_mu, "code_sigma": code_sigma}
            else:
                mu, sigma = model.encoder(tokens)
                eps = torch.randn(mu.shape, generator=g).to(device, mu.dtype)
                logits = model.decode_logits(mu + sigma * eps, tokens)
                parts = {}
            decoded = model.decode(mu)
        terms = model.loss({"logits": logits, "mu": mu, "sigma": sigma, **parts}, tokens, step)
        terms["accuracy"] = (logits.float().argmax(-1) == tokens).float().mean()
        terms["sampled_accuracy"] = (decoded == tokens).float().mean()
        for k in totals:
            totals[k] += float(terms[k]) * len(tokens)
        n += len(tokens)
    model.train()
    out = {k: v / max(n, 1) for k, v in totals.items()}
    # What "best" means. With scheduled sampling the teacher-forced loss rises while the model
    # learns to play from its own output, so the free-running accuracy decides (a 75-minute
    # mel2bar run had its lowest loss at step 5,000 with note F1 0.81; step 8,000 reached 0.87).
    # The end-to-end hierarchical model (no scheduled sampling) by its loss; the 16-bar model
    # over 2-bar codes by free-running accuracy too: its code term can fall while the notes do not.
    end_to_end = model.cfg.hierarchical and not isinstance(model, LongMusicVAE)
    out["score"] = out["loss"] if end_to_end else -out["sampled_accuracy"]
    return out


def export_bundle(model: MusicVAE | LongMusicVAE, out_dir: Path, extra: dict | None = None) -> None:
    """config.json + weights.safetensors (float16), the form the app loads."""
    kind = "musicvae-long" if isinstance(model, LongMusicVAE) else "musicvae"
    save_bundle(model, out_dir, kind, model.cfg.to_dict(), extra)


def long_model(args: TrainArgs) -> tuple[LongMusicVAE, dict]:
    """The 16-bar model over a 2-bar bundle's codes (or from a mel16bar bundle with --init), and
    what the bundle it starts from says (its step, its attribute vectors)."""
    from engine.registry import model_dir, read_bundle

    init = args.init or args.base
    folder = Path(init) if Path(init).is_dir() else model_dir(init)
    config, state = read_bundle(folder)
    if config.get("model") == "musicvae-long":
        cfg = LongVAEConfig(**config["config"])
    elif config.get("model") == "musicvae" and not config["config"].get("hierarchical"):
        cfg = replace(LONG_CONFIGS[args.config], base=config["config"])
        state = {f"base.{k}": v for k, v in state.items()}
    else:
        raise SystemExit(f"{init} is neither a 2-bar MusicVAE nor a 16-bar one over 2-bar codes")
    cfg = _override(cfg, token_weight=args.token_weight, tune_decoder=args.tune_decoder,
                    free_bits=args.free_bits, max_beta=args.max_beta)
    model = LongMusicVAE(cfg)
    missing, unexpected = model.load_state_dict(state, strict=False)
    if unexpected or any(k.startswith("base.") for k in missing):
        raise SystemExit(f"{init} does not match: {', '.join((unexpected or missing)[:3])}")
    extra = {"step": int(config.get("step", 0)) if config.get("model") == "musicvae-long" else 0}
    keys = ["attribute_vectors", "attribute_scales", "attribute_windows", "attribute_decoupling"]
    if config.get("model") == "musicvae-long":  # units are of 16-bar windows: a 2-bar base's are not
        keys.append("attribute_units")
    for key in keys:
        if key in config:
            extra[key] = config[key]
    return model, extra


def _override(cfg, **values):
    """The config with each value that was given (not None) in place of its own."""
    return replace(cfg, **{k: v for k, v in values.items() if v is not None})


def plain_model(args: TrainArgs) -> tuple[MusicVAE, int]:
    """A 2-bar or end-to-end 16-bar MusicVAE from its config (or a bundle, with --init), and the
    step its schedules go on from."""
    cfg: MusicVAEConfig = CONFIGS[args.config]
    init_config = None
    if args.init:
        from engine.registry import read_bundle

        init_config, init_state = read_bundle(args.init)
        cfg = MusicVAEConfig(**{**init_config["config"], "name": cfg.name})
    cfg = _override(cfg, free_bits=args.free_bits, max_beta=args.max_beta, ar_weight=args.ar_weight)
    if args.attribute_dims:
        from engine.music.attributes import ATTRIBUTES

        names = ATTRIBUTES if args.attribute_dims == "all" else tuple(args.attribute_dims.split(","))
        cfg = replace(cfg, ar_attributes=names)
    model = MusicVAE(cfg)
    if init_config is None:
        return model, 0
    model.load_state_dict(init_state)
    return model, int(init_config.get("step", 0))


def train(args: TrainArgs) -> dict:
    dist: Dist = setup_distributed()
    device = pick_device(args.device, dist)
    torch.manual_seed(args.seed + dist.rank)
    random.seed(args.seed + dist.rank)
    extra: dict = {}  # what the bundles carry besides the weights (a 16-bar model's sliders)
    if args.config == "mel16bar":
        model, extra = long_model(args)
        cfg = model.cfg
        init_step = extra.pop("step")
    else:
        model, init_step = plain_model(args)
        cfg = model.cfg
    num_bars = cfg.seq_len // 16
    train_windows = load_windows(args.sources, num_bars, "train")
    val_windows = load_windows(args.sources, num_bars, "validation")
    if len(val_windows) > args.eval_windows:  # a seeded subset of every source (they come source by source)
        pick = np.random.default_rng(0).choice(len(val_windows), args.eval_windows, replace=False)
        val_windows = val_windows[np.sort(pick)]
    if not len(train_windows):
        raise SystemExit(f"no {num_bars}-bar training windows in {args.sources}")

    model = model.to(device)
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=args.lr)
    out = Path(args.out)
    step, best = init_step, float("inf")  # fine-tuning: a fresh optimizer, the schedules where they were
    if args.resume and (ckpt := load_checkpoint(out / "last.pt", device)) is not None:
        model.load_state_dict(ckpt["model"])
        opt.load_state_dict(ckpt["opt"])
        step, best = ckpt["step"], ckpt["best"]
        torch.set_rng_state(ckpt["rng"])
    ddp = model
    if dist.enabled:
        from torch.nn.parallel import DistributedDataParallel

        ddp = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)

    bank = None
    if isinstance(model, LongMusicVAE) and cfg.token_weight == 0:
        # The code stage: a bank of codes, each window in bank_copies keys (its own and random
        # transpositions), so a step runs no 2-bar encoder at all.
        bank = code_bank(model, train_windows, args.bank_copies, args.transpose, device, args.precision,
                         seed=args.seed + dist.rank, progress=dist.main)
    budget = Budget(args.minutes)
    rng = np.random.default_rng(args.seed * 1000 + dist.rank + step)
    bar = tqdm(total=args.max_steps, initial=step, disable=not dist.main, desc=f"musicvae {cfg.name}",
               dynamic_ncols=True)
    keeper = BestKeeper(out, lambda folder, info: export_bundle(model, folder, {**info, **extra}), best)
    examples = 0
    while True:
        if args.max_steps is not None and step >= args.max_steps:
            break
        if all_agree_to_stop(dist, budget.over()):
            break
        if bank is not None:
            idx = torch.from_numpy(rng.integers(0, len(bank[0]), args.batch_size))
            tokens, codes = None, (bank[0][idx].float(), bank[1][idx].float())
        else:
            idx = rng.integers(0, len(train_windows), args.batch_size)
            tokens = torch.from_numpy(train_windows[idx].astype(np.int64)).to(device)
            tokens = transpose_batch(tokens, args.transpose, cfg.num_classes)
            tokens = offbeat_batch(tokens, args.offbeat)
            codes = None
        lr = max(args.lr * args.lr_decay ** step, args.min_lr)
        for group in opt.param_groups:
            group["lr"] = lr
        p = 0.0 if cfg.hierarchical else sampling_probability(step, args.sampling_rate)
        with autocast(device, args.precision):
            out_ = ddp(tokens, sample_prob=p, **({"codes": codes} if codes is not None else {}))
        terms = model.loss(out_, tokens, step)
        opt.zero_grad(set_to_none=True)
        terms["loss"].backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), args.grad_clip)
        opt.step()
        step += 1
        examples += args.batch_size * dist.world_size
        bar.update()
        bar.set_postfix(loss=f"{terms['loss'].item():.1f}", acc=f"{terms['accuracy'].item():.3f}",
                        kl=f"{terms['kl'].item():.1f}", p=f"{p:.2f}",
                        **({"ar": f"{terms['ar'].item():.3f}"} if "ar" in terms else {}),
                        **({"code": f"{terms['code'].item():.1f}"} if "code" in terms else {}))
        if step % args.eval_every == 0 and dist.main:
            metrics = evaluate(model, val_windows, device, step=step, precision=args.precision)
            metrics.update(step=step, minutes=budget.elapsed_s / 60, examples_per_s=examples / budget.elapsed_s)
            keeper.offer(metrics["score"], {"step": step, "validation": metrics})
            save_checkpoint(out / "last.pt", {"model": model.state_dict(), "opt": opt.state_dict(),
                                              "step": step, "best": keeper.best, "rng": torch.get_rng_state(),
                                              "args": asdict(args)})
            bar.write(f"step {step}: val loss {metrics['loss']:.2f} acc {metrics['accuracy']:.4f} "
                      f"kl {metrics['kl']:.1f} ({metrics['examples_per_s']:.0f} ex/s)")
    bar.close()
    agree = ranks_agree(model, dist)  # collective: before rank 0 goes on alone
    result = {"steps": step, "minutes": budget.elapsed_s / 60, "history": keeper.history}
    result.update(world_size=dist.world_size, ranks_agree=agree)
    if dist.main:
        final = evaluate(model, val_windows, device, step=step, precision=args.precision)
        keeper.offer(final["score"], {"step": step, "validation": final}, record=False)
        export_bundle(model, out / "last", {"step": step, "validation": final, **extra})
        result["final"] = final
    result["best_score"] = keeper.best
    if dist.main:
        (out / "train.json").write_text(json.dumps(result, indent=2))
    del ddp  # the DDP wrapper holds the process group: freed here, not at interpreter exit
    end_distributed(dist)
    return result


def add_attribute_vectors(bundle: str | Path, sources: str = "music21,pop909",
                          max_windows: int = 20000, seed: int = 0) -> dict[str, list[float]]:
    """Compute the five attribute vectors from training windows and store them in the bundle
    (the vectors of a 2-bar model; for a 16-bar model over 2-bar codes, of its 2-bar model)."""
    from engine.generate.musicvae import MelodyVAE, compute_attribute_vectors

    vae = MelodyVAE.load(bundle)
    # A 16-bar model over 2-bar codes is pushed in its 2-bar model's code space: the vectors come
    # from that model, on 2-bar windows.
    model = vae.model.base if vae.shifts_codes else vae.model
    windows = load_windows(sources, model.cfg.seq_len // 16, "train")
    if len(windows) > max_windows:
        windows = windows[np.random.default_rng(seed).choice(len(windows), max_windows, replace=False)]
    vectors = compute_attribute_vectors(model, windows, vae.device)
    _update_config(bundle, attribute_vectors=vectors, attribute_windows=int(len(windows)))
    return vectors


def _update_config(bundle: str | Path, **keys) -> None:
    """Set these keys in the bundle's config.json (written atomically)."""
    from engine.fileio import atomic_write_text

    path = Path(bundle) / "config.json"
    config = json.loads(path.read_text())
    config.update(keys)
    atomic_write_text(path, json.dumps(config))


def attribute_units(windows: np.ndarray) -> dict[str, float]:
    """Each attribute's standard deviation over token windows (n, seq_len): a slider's unit, how
    far +1 moves its attribute (`MelodyVAE.push`). Windows where the attribute means nothing do
    not count: an interval needs two notes, the others one."""
    from engine.music.attributes import ATTRIBUTES, notes_needed, token_attributes
    from engine.music.encodings.melody_onehot import FIRST_NOTE_ON

    values = token_attributes(torch.from_numpy(windows.astype(np.int64))).numpy()
    notes = (windows >= FIRST_NOTE_ON).sum(1)
    out = {}
    for j, a in enumerate(ATTRIBUTES):
        defined = notes >= notes_needed(a)
        if defined.sum() > 1:
            out[a] = round(float(np.std(values[defined, j])), 4)
    return out


def add_attribute_units(bundle: str | Path, sources: str = "pop909") -> dict[str, float]:
    """Store `attribute_units` of the validation melodies of ``sources`` (never the test split),
    at the bundle's own length, in its config.json."""
    from engine.generate.musicvae import MelodyVAE

    bars = MelodyVAE.load(bundle).cfg.seq_len // 16
    units = attribute_units(load_windows(sources, bars, "validation"))
    _update_config(bundle, attribute_units=units, attribute_units_on=sources)
    return units


SLIDER_SCALES = (1.0, 1.5, 2.0, 3.0, 4.0, 5.0)


def choose_slider_scales(table: dict[float, dict[str, dict]]) -> dict[str, float]:
    """From eval's attribute_d at each scale ({scale: {attribute: {"own", "max_other",
    "monotonic", ...}}}), each attribute's scale by the rule of `scale_attribute_vectors`."""
    scales = sorted(table)
    chosen = {}
    for a in table[scales[0]]:
        keeps = [k for k in scales if table[k][a]["monotonic"] >= 0.9 and table[k][a]["max_other"] <= 0.3]
        strong = [k for k in keeps if table[k][a]["own"] >= 1.0]
        chosen[a] = min(strong) if strong else max(keeps, key=lambda k: table[k][a]["own"]) if keeps else 1.0
    return chosen


def attribute_changes(vae, mu: np.ndarray, before: dict[str, np.ndarray],
                      vectors: dict[str, np.ndarray]) -> tuple[dict, dict]:
    """For each slider at +1 from the melodies ``mu`` (their latent means), whose unpushed
    decodes have the attributes ``before``: the mean change of every attribute, and its Cohen's
    d ({slider: {attribute: value}} each)."""
    from engine.eval.musicvae import _attributes, cohens_d

    means, ds = {}, {}
    for name, vector in vectors.items():
        after = _attributes(vae.decode_tokens(mu, shift=vector))
        means[name] = {a: float(np.mean(after[a] - before[a])) for a in after}
        ds[name] = {a: cohens_d(before[a], after[a]) for a in after}
    return means, ds


def decouple_step(vectors: dict[str, np.ndarray], means: dict[str, dict[str, float]]) -> dict[str, np.ndarray]:
    """One correction of the sliders' side effects, to first order: each slider's vector loses
    as much of every other slider's vector as would undo the change it makes to that one's
    attribute, w_a = v_a - sum over b of (change of b under a / change of b under b) v_b."""
    out = {}
    for a, v in vectors.items():
        w = np.asarray(v, dtype=np.float64).copy()
        for b, u in vectors.items():
            if b != a and abs(means[b][b]) > 1e-9:
                w -= means[a][b] / means[b][b] * np.asarray(u, dtype=np.float64)
        out[a] = w.astype(np.float32)
    return out


def largest_side_effects(ds: dict[str, dict[str, float]]) -> dict[str, float]:
    return {a: round(max(abs(v) for b, v in row.items() if b != a), 3) for a, row in ds.items()}


def decouple_attribute_vectors(bundle: str | Path, sources: str = "pop909", melodies: int = 512,
                               rounds: int = 3, seed: int = 1) -> dict[str, dict]:
    """Take the sliders' side effects out of the bundle's (scaled) attribute vectors: ``rounds``
    of `decouple_step`, measured on the validation melodies of ``sources`` (never the test
    split). Stores the vectors, and the largest side effect before and after, in config.json."""
    from engine.eval.musicvae import _attributes
    from engine.generate.musicvae import MelodyVAE, encode_means

    vae = MelodyVAE.load(bundle)
    windows = load_windows(sources, vae.cfg.seq_len // 16, "validation")
    pick = np.random.default_rng(seed).choice(len(windows), min(melodies, len(windows)), replace=False)
    mu = encode_means(vae.model, windows[pick], vae.device, batch_size=256)
    before = _attributes(vae.decode_tokens(mu))  # the unpushed decodes, the same every round
    vectors = {a: np.asarray(v, dtype=np.float32) for a, v in vae.attribute_vectors.items()}
    means, ds = attribute_changes(vae, mu, before, vectors)
    report = {"before": largest_side_effects(ds), "own_before": {a: round(ds[a][a], 3) for a in ds}}
    for _ in range(rounds):
        vectors = decouple_step(vectors, means)
        means, ds = attribute_changes(vae, mu, before, vectors)
    report.update(after=largest_side_effects(ds), own_after={a: round(ds[a][a], 3) for a in ds},
                  rounds=rounds, melodies=int(len(pick)), sources=sources)
    _update_config(bundle, attribute_vectors={a: v.tolist() for a, v in vectors.items()},
                   attribute_decoupling=report)
    return report


def scale_attribute_vectors(bundle: str | Path, sources: str = "pop909", melodies: int = 256) -> dict[str, float]:
    """Choose how far each slider's +1 goes, on the validation split of ``sources`` (never the
    test split): for each attribute, the smallest of SLIDER_SCALES at which +1 moves it by a
    Cohen's d of at least 1 while it stays monotonic from -2 to +2 (Spearman at least 0.9) and
    moves no other attribute by more than 0.3; else the scale with the largest d that keeps those
    two. The vectors are stored scaled, with the scales, in the bundle's config.json."""
    from engine.eval.musicvae import evaluate
    from engine.generate.musicvae import MelodyVAE

    vae = MelodyVAE.load(bundle)
    vae.attribute_units = {}  # fixed multiples of each vector: a searched slider would not tell scales apart
    windows = load_windows(sources, vae.cfg.seq_len // 16, "validation")
    base = dict(vae.attribute_vectors)
    table = {}
    for k in SLIDER_SCALES:
        vae.attribute_vectors = {a: v * k for a, v in base.items()}
        table[k] = evaluate(vae, windows, pairs=0, attribute_melodies=melodies)["attribute_d"]
    chosen = choose_slider_scales(table)
    _update_config(bundle, attribute_vectors={a: (np.asarray(base[a]) * chosen[a]).tolist() for a in base},
                   attribute_scales=chosen)
    return chosen

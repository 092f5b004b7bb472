"""Train the vocoders on the paired audio corpus: the fast (iSTFT) vocoder and the WaveNet.

    cantus train vocoder --sources pop909 --minutes 40 --out runs/vocoder
    cantus train wavenet --sources pop909 --minutes 40 --out runs/wavenet
    torchrun --nproc-per-node 8 -m engine train vocoder ...               (many GPUs, DDP)

A batch is random segments of the training clips' audio (clips chosen in proportion to their
length, mostly-silent segments mostly skipped), each at a random gain from -12 to 0 dB, with
its mel computed on the fly by the one mel spec, so the model sees the mel exactly as a user's
sketch (or MelFlow) will give it.

The fast vocoder learns from the multi-resolution STFT distance (auraloss: spectral
convergence and log magnitude at 512, 1024 and 2048 points, at quarter-window hops), the mel
L1, and two phase terms at its own resolution: the instantaneous frequency (the phase's time
difference) and the group delay (its frequency difference), both anti-wrapped and weighted by
the reference's magnitude (APNet's losses), which tell the network directly how a held note's
phase must turn from frame to frame. No discriminator: short CPU runs have no time to spare
for one. The WaveNet learns 8-bit mu-law classes by cross-entropy (teacher forcing).

Validation is a fixed, seeded set of segments of the validation split, scored by the
multi-resolution STFT distance (fast vocoder) or the cross-entropy (WaveNet); the best weights
are kept as a float16 bundle, and ``last.pt`` makes the run resumable.
"""

from __future__ import annotations

import json
import math
import random
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from engine.audio.mel import MEL, LogMel
from engine.audio.vocode import BUNDLE_KINDS
from engine.registry import save_bundle
from engine.train.common import (
    BestKeeper, Dist, Run, autocast, end_distributed, pick_device, ranks_agree, setup_distributed,
    warmup_cosine,
)

KINDS = tuple(BUNDLE_KINDS)


@dataclass
class TrainArgs:
    kind: str = "fast"  # "fast" or "wavenet"
    sources: str = "pop909"  # audio corpora (engine.data.audio_corpus), comma-separated
    out: str = "runs/vocoder"
    segment_samples: int = 16384  # per training segment (a multiple of the hop)
    batch_size: int = 16
    lr: float = 5e-4
    warmup: int = 200
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    minutes: float | None = None
    max_steps: int | None = None
    eval_every: int = 200
    eval_segments: int = 32  # validation segments of eval_seconds each
    eval_seconds: float = 1.5
    seed: int = 0
    device: str | None = None
    precision: str = "auto"  # bf16 autocast where the hardware has it: both models are mostly matrix
    # products (the WaveNet in its time-major form), 1.5x to 2x faster in bf16 on AMX cores
    init: str | None = None  # fine-tune from this bundle
    resume: bool = True
    # model size (None: the config's default)
    dim: int | None = None
    layers: int | None = None
    channels: int | None = None
    lpc_order: int | None = None  # the WaveNet's linear prediction (None: the config's, 0: none)
    # loss weights of the fast vocoder
    mel_weight: float = 1.0
    phase_weight: float = 1.0
    # Fine-tuning on MelFlow's own mels (the fast vocoder only): this MelFlow bundle turns each
    # clip's notes into a mel once before training; that share of each batch is vocoded from it
    # (the rest from the true mel), and validation scores the vocoder on MelFlow's mels.
    melflow: str | None = None
    melflow_share: float = 0.75
    melflow_temperature: float | None = None  # None: the bundle's


# -- data -------------------------------------------------------------------------------------------

class Segments:
    """Random segments of a split's audio, from clips in proportion to their length."""

    def __init__(self, clips, length: int, seed: int = 0, gain_db: float = 12.0) -> None:
        if not clips:
            raise ValueError("no clips to train on")
        self.audio = [a for a in (c.pcm() for c in clips) if len(a) > 0]
        self.length = length
        self.gain_db = gain_db
        sizes = np.array([max(len(a), 1) for a in self.audio], dtype=np.float64)
        self.weights = sizes / sizes.sum()
        self.rng = np.random.default_rng(seed)

    def one(self) -> np.ndarray:
        for attempt in range(8):
            a = self.audio[self.rng.choice(len(self.audio), p=self.weights)]
            start = int(self.rng.integers(0, max(len(a) - self.length, 0) + 1))
            seg = a[start:start + self.length].astype(np.float32) / 32767.0
            seg = np.pad(seg, (0, self.length - len(seg)))
            # Some silence teaches the model to be quiet; mostly it should hear music.
            if np.max(np.abs(seg)) > 1e-3 or attempt == 7 or self.rng.random() < 0.1:
                break
        gain = 10 ** (-self.rng.uniform(0.0, self.gain_db) / 20)
        return (seg * gain).astype(np.float32)

    def batch(self, n: int) -> torch.Tensor:
        rows = [self.one() for _ in range(n)]
        return torch.from_numpy(np.stack(rows) if rows else np.zeros((0, self.length), np.float32))


def validation_segments(clips, n: int, seconds: float, seed: int = 0) -> torch.Tensor:
    """``n`` seeded segments of ``seconds`` (rounded to the hop) across the clips, at full level."""
    length = int(seconds * MEL.sample_rate) // MEL.hop_length * MEL.hop_length
    segs = Segments(clips, length, seed=seed + 12345, gain_db=0.0)
    return segs.batch(n)


class PredictedSegments:
    """Random (audio, MelFlow mel) segments: the synth's audio of a clip and MelFlow's mel of the
    same clip's notes, frame-aligned (a segment starts on an even frame, where MelFlow's frame
    pairs start), so the vocoder learns to turn the predicted mel into the true audio."""

    def __init__(self, clips, length: int, net, temperature: float, seed: int = 0, progress: bool = False) -> None:
        from engine.audio.neural import melflow_mel

        if not clips:
            raise ValueError("no clips to train on")
        if length % MEL.hop_length:
            raise ValueError(f"segments must be a multiple of {MEL.hop_length} samples")
        self.items = []
        for k, c in enumerate(tqdm(clips, desc="MelFlow mels", disable=not progress, dynamic_ncols=True)):
            audio = c.pcm()
            if len(audio) == 0:
                continue
            with np.load(c.path, allow_pickle=False) as z:
                notes = z["notes"].astype(np.float32)
            n_frames = MEL.num_frames(len(audio))
            mel = melflow_mel(net, notes, int(c.program), n_frames + n_frames % 2, temperature, seed=seed + k)
            self.items.append((audio, mel[:, :n_frames].astype(np.float16)))
        self.length, self.frames = length, length // MEL.hop_length
        sizes = np.array([len(a) for a, _ in self.items], dtype=np.float64)
        self.weights = sizes / sizes.sum()
        self.rng = np.random.default_rng(seed)

    def one(self) -> tuple[np.ndarray, np.ndarray]:
        for attempt in range(8):
            audio, mel = self.items[self.rng.choice(len(self.items), p=self.weights)]
            last = max(mel.shape[1] - self.frames - 1, 0)
            f0 = int(self.rng.integers(0, last // 2 + 1)) * 2
            seg = audio[f0 * MEL.hop_length:f0 * MEL.hop_length + self.length].astype(np.float32) / 32767.0
            seg = np.pad(seg, (0, self.length - len(seg)))
            if np.max(np.abs(seg)) > 1e-3 or attempt == 7 or self.rng.random() < 0.1:
                break
        m = mel[:, f0:f0 + self.frames + 1].astype(np.float32)
        m = np.pad(m, ((0, 0), (0, self.frames + 1 - m.shape[1])), constant_values=MEL.silence)
        return seg, m

    def batch(self, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        rows = [self.one() for _ in range(n)]
        if not rows:
            return torch.zeros((0, self.length)), torch.zeros((0, MEL.n_mels, self.frames + 1))
        audio, mel = np.stack([r[0] for r in rows]), np.stack([r[1] for r in rows])
        return torch.from_numpy(audio), torch.from_numpy(mel)


def load_melflow(bundle: str, temperature: float | None, device: torch.device):
    """(MelFlow on the device, the temperature to sample it at)."""
    from engine.audio.neural import DEFAULT_TEMPERATURE, get_melflow

    net, config = get_melflow(bundle, str(device))
    return net, float(config.get("temperature", DEFAULT_TEMPERATURE) if temperature is None else temperature)


def load_clips(sources: str, split: str):
    from engine.data.audio_corpus import load_audio_corpora

    return [c for corpus in load_audio_corpora(sources) for c in corpus.split(split)]


# -- losses ---------------------------------------------------------------------------------------

def anti_wrap(x: torch.Tensor) -> torch.Tensor:
    """|x| after wrapping to (-pi, pi]: the distance between two phases."""
    return torch.abs(x - 2 * math.pi * torch.round(x / (2 * math.pi)))


def phase_losses(pred: torch.Tensor, target: torch.Tensor, window: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(instantaneous frequency, group delay) distances between two signals' STFT phases at the
    mel's resolution, weighted by the target's magnitude. pred, target: (B, samples)."""
    def stft(x):
        return torch.stft(x, MEL.n_fft, MEL.hop_length, MEL.win_length, window, center=True,
                          pad_mode="reflect", return_complex=True)

    sp, st = stft(pred), stft(target)
    pp, pt = torch.angle(sp), torch.angle(st)
    w = st.abs()
    w_t = torch.minimum(w[..., 1:], w[..., :-1])
    w_f = torch.minimum(w[:, 1:], w[:, :-1])
    inst_freq = (anti_wrap(torch.diff(pp, dim=-1) - torch.diff(pt, dim=-1)) * w_t).sum() / (w_t.sum() + 1e-8)
    group_delay = (anti_wrap(torch.diff(pp, dim=1) - torch.diff(pt, dim=1)) * w_f).sum() / (w_f.sum() + 1e-8)
    return inst_freq, group_delay


class FastVocoderLoss:
    def __init__(self, device: torch.device, mel_weight: float = 1.0, phase_weight: float = 1.0) -> None:
        import auraloss

        # auraloss's resolutions at quarter-window hops: 4x cheaper than its default hops (the
        # distance the evaluation reports), the same windows.
        self.mrstft = auraloss.freq.MultiResolutionSTFTLoss(
            fft_sizes=[512, 1024, 2048], hop_sizes=[128, 256, 512], win_lengths=[512, 1024, 2048]).to(device)
        self.mel = LogMel()
        self.window = torch.hann_window(MEL.win_length, device=device)
        self.mel_weight, self.phase_weight = mel_weight, phase_weight

    def __call__(self, pred: torch.Tensor, target: torch.Tensor, target_mel: torch.Tensor) -> tuple[torch.Tensor, dict]:
        mr = self.mrstft(pred.unsqueeze(1), target.unsqueeze(1))
        mel_l1 = torch.nn.functional.l1_loss(self.mel(pred), target_mel)
        inst_freq, group_delay = phase_losses(pred, target, self.window)
        total = mr + self.mel_weight * mel_l1 + self.phase_weight * (inst_freq + group_delay)
        return total, {"mrstft": mr.item(), "mel_l1": mel_l1.item(), "if": inst_freq.item(),
                       "gd": group_delay.item()}


# -- models -----------------------------------------------------------------------------------------

class _WaveNetLoss(torch.nn.Module):
    """The WaveNet's loss as a module's forward, so that DistributedDataParallel, which
    synchronises gradients through the forward of the module it wraps, wraps the loss."""

    def __init__(self, model) -> None:
        super().__init__()
        self.model = model

    def forward(self, audio: torch.Tensor, mel: torch.Tensor) -> torch.Tensor:
        return self.model.loss(audio, mel)


def build_model(args: TrainArgs):
    if args.kind == "fast":
        from dataclasses import replace

        from engine.models.fast_vocoder import FastVocoder, FastVocoderConfig

        cfg = FastVocoderConfig()
        if args.dim:
            cfg = replace(cfg, dim=args.dim, intermediate=3 * args.dim)
        if args.layers:
            cfg = replace(cfg, n_layers=args.layers)
        return FastVocoder(cfg)
    if args.kind == "wavenet":
        from dataclasses import replace

        from engine.models.wavenet import WaveNet, WaveNetConfig

        cfg = WaveNetConfig()
        if args.layers:
            cfg = replace(cfg, n_layers=args.layers)
        if args.channels:
            cfg = replace(cfg, residual_channels=args.channels, gate_channels=2 * args.channels,
                          skip_channels=args.channels)
        if args.lpc_order is not None:
            cfg = replace(cfg, lpc_order=args.lpc_order)
        return WaveNet(cfg)
    raise ValueError(f"kind must be one of {KINDS}, not {args.kind!r}")


def export_bundle(model, kind: str, out_dir: Path, extra: dict | None = None) -> None:
    save_bundle(model, out_dir, BUNDLE_KINDS[kind], model.cfg.to_dict(), extra)


@torch.no_grad()
def evaluate(model, kind: str, val, device: torch.device, batch_size: int = 8) -> dict:
    """Fast vocoder: MR-STFT and mel L1 of its audio against the segments. WaveNet: the
    teacher-forced cross-entropy (nats per sample) and accuracy of its mu-law classes.

    val : audio segments (B, samples), vocoded from their own mel; or (audio, input mels), the
        audio vocoded from the mels given (MelFlow's), still scored against the audio."""
    import auraloss

    was = model.training
    model.eval()
    mel = LogMel()
    sums: dict[str, float] = {}
    n = 0
    mrstft = auraloss.freq.MultiResolutionSTFTLoss().to(device)
    audio_all, given = val if isinstance(val, tuple) else (val, None)
    for i in range(0, len(audio_all), batch_size):
        audio = audio_all[i:i + batch_size].to(device)
        m = mel(audio)
        if kind == "fast":
            pred = model(m if given is None else given[i:i + batch_size].to(device), audio.shape[-1])
            parts = {"mrstft": float(mrstft(pred.unsqueeze(1), audio.unsqueeze(1))),
                     "mel_l1": float(torch.nn.functional.l1_loss(mel(pred), m))}
        else:
            logits, classes = model.teacher_forced(audio, m)
            logits = logits.reshape(-1, logits.shape[-1]).float()
            classes = classes.reshape(-1)
            parts = {"nll": float(torch.nn.functional.cross_entropy(logits, classes)),
                     "accuracy": float((logits.argmax(1) == classes).float().mean())}
        for k, v in parts.items():
            sums[k] = sums.get(k, 0.0) + v * len(audio)
        n += len(audio)
    model.train(was)
    return {k: v / max(n, 1) for k, v in sums.items()}


def score_of(kind: str, metrics: dict) -> float:
    return metrics["mrstft"] if kind == "fast" else metrics["nll"]


def learning_rate(args: TrainArgs, step: int, progress: float) -> float:
    return warmup_cosine(args.lr, args.warmup, step, progress)


def train(args: TrainArgs) -> dict:
    if args.kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, not {args.kind!r}")
    if args.segment_samples % MEL.hop_length:
        raise ValueError(f"segments must be a multiple of {MEL.hop_length} samples")
    dist: Dist = setup_distributed()
    device = pick_device(args.device, dist)
    torch.manual_seed(args.seed)
    random.seed(args.seed + dist.rank)
    train_clips, val_clips = load_clips(args.sources, "train"), load_clips(args.sources, "validation")
    if not train_clips:
        from engine.errors import DataError

        raise DataError(f"The audio corpora '{args.sources}' have no training pieces.")
    validated_on = "validation"
    if not val_clips:  # a small folder of the user's own: validate on training clips, and say so
        val_clips, validated_on = train_clips, "train (the corpus has no validation pieces)"
        if dist.main:
            print(f"cantus: {args.sources} has no validation pieces; validating on training clips", file=sys.stderr)
    train_set = Segments(train_clips, args.segment_samples, seed=args.seed * 1000 + dist.rank)
    val = validation_segments(val_clips, args.eval_segments, args.eval_seconds)
    predicted = None
    if args.melflow:
        if args.kind != "fast":
            raise ValueError("fine-tuning on MelFlow's mels is for the fast vocoder")
        net, temperature = load_melflow(args.melflow, args.melflow_temperature, device)
        predicted = PredictedSegments(train_clips, args.segment_samples, net, temperature,
                                      seed=args.seed * 1000 + dist.rank, progress=dist.main)
        length = int(args.eval_seconds * MEL.sample_rate) // (2 * MEL.hop_length) * 2 * MEL.hop_length
        val = PredictedSegments(val_clips, length, net, temperature, seed=12345).batch(args.eval_segments)
        share_rng = np.random.default_rng(args.seed * 1000 + dist.rank + 7)

    model = build_model(args)
    if args.init:
        from engine.registry import read_bundle

        config, state = read_bundle(args.init)
        model = type(model)(type(model.cfg).from_dict(config["config"]))
        model.load_state_dict(state)
    model = model.to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, betas=(0.8, 0.99), weight_decay=args.weight_decay)
    out = Path(args.out)
    run = Run(out, args.minutes, args.max_steps, dist)
    best = float("inf")
    if args.resume and (resumed := run.resume(model, opt, device)) is not None:
        best = resumed
        train_set.rng = np.random.default_rng(args.seed * 1000 + dist.rank + run.step)
        if predicted is not None:  # not the same MelFlow batches again from step 0
            predicted.rng = np.random.default_rng(args.seed * 1000 + dist.rank + run.step + 1)
            share_rng = np.random.default_rng(args.seed * 1000 + dist.rank + run.step + 7)
    ddp = model if args.kind == "fast" else _WaveNetLoss(model)  # forward: audio, or the loss
    if dist.enabled:
        from torch.nn.parallel import DistributedDataParallel

        # The WaveNet's last residual projection feeds nothing (only its skip reaches the output).
        ddp = DistributedDataParallel(ddp, device_ids=[device.index] if device.type == "cuda" else None,
                                      find_unused_parameters=args.kind == "wavenet")

    precision = args.precision
    loss_fn = FastVocoderLoss(device, args.mel_weight, args.phase_weight) if args.kind == "fast" else None
    mel = LogMel()
    bar = tqdm(total=args.max_steps, initial=run.step, disable=not dist.main, dynamic_ncols=True, desc=args.kind)
    keeper = BestKeeper(out, lambda folder, extra: export_bundle(model, args.kind, folder, extra), best)
    audio_seen_s = 0.0
    model.train()

    def checkpoint() -> None:
        run.checkpoint(model, opt, keeper.best, asdict(args))

    def record(metrics: dict) -> dict:
        return {"step": run.step, "validation": metrics, "validated_on": validated_on, "sources": args.sources,
                "kind": args.kind, "minutes": round(run.minutes_spent, 2),
                **({"melflow": str(args.melflow), "melflow_share": args.melflow_share} if args.melflow else {})}

    while not run.done:
        given = None
        if predicted is not None:
            n_pred = int(share_rng.binomial(args.batch_size, args.melflow_share))
            a_pred, given = predicted.batch(n_pred)
            audio = torch.cat([a_pred, train_set.batch(args.batch_size - n_pred)]).to(device)
        else:
            audio = train_set.batch(args.batch_size).to(device)
        lr = learning_rate(args, run.step, run.progress())
        for group in opt.param_groups:
            group["lr"] = lr
        with torch.no_grad():
            target_mel = mel(audio)
            inputs = target_mel if given is None else torch.cat([given.to(device), target_mel[len(given):]])
        with autocast(device, precision):
            if args.kind == "fast":
                pred = ddp(inputs, audio.shape[-1]).float()
                loss, parts = loss_fn(pred, audio, target_mel)
            else:
                loss = ddp(audio, target_mel)
                parts = {"nll": loss.item()}
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), args.grad_clip)
        opt.step()
        run.step += 1
        audio_seen_s += audio.numel() / MEL.sample_rate * dist.world_size
        bar.update()
        bar.set_postfix({k: f"{v:.3f}" for k, v in parts.items()} | {"lr": f"{lr:.1e}"})
        if run.step % args.eval_every == 0 and dist.main:
            metrics = evaluate(model, args.kind, val, device)
            metrics.update(step=run.step, audio_s_per_s=audio_seen_s / run.budget.elapsed_s)
            keeper.offer(score_of(args.kind, metrics), record(metrics))
            checkpoint()
            bar.write(f"step {run.step}: " + ", ".join(f"{k} {v:.4f}" for k, v in metrics.items()))
    bar.close()
    agree = ranks_agree(model, dist)  # collective: before rank 0 goes on alone
    result = {"steps": run.step, "minutes": run.minutes_spent, "history": keeper.history,
              "audio_hours_seen": audio_seen_s / 3600}
    result.update(world_size=dist.world_size, ranks_agree=agree)
    if dist.main:
        final = evaluate(model, args.kind, val, device)
        keeper.offer(score_of(args.kind, final), record(final), record=False)
        result.update(best=keeper.best, final=final)
        checkpoint()
        (out / "train.json").write_text(json.dumps(result, indent=2))
    del ddp  # the DDP wrapper holds the process group: freed here, not at interpreter exit
    end_distributed(dist)
    return result


def choose_temperature(bundle: str | Path, sources: str = "pop909",
                       temperatures: tuple[float, ...] = (1.0, 0.9, 0.8, 0.7, 0.6, 0.5),
                       segments: int = 8, seconds: float = 2.0) -> dict[float, float]:
    """Store in a WaveNet bundle the sampling temperature whose audio is closest (MR-STFT) to
    seeded segments of the validation split, and return each temperature's distance.

    A WaveNet that has seen a few hours of audio spreads its probability thinly; sampling it
    cooler trades some of the hiss for a plainer tone. Chosen on validation, never on test.
    """
    from engine.audio import postfilter
    from engine.eval.render import mrstft
    from engine.models.wavenet import generate_long

    config, net, val = _wavenet_for_choosing(bundle, sources, segments, seconds)
    post = postfilter.settings(config)
    mel = LogMel()
    scores = {}
    for t in temperatures:
        dist = []
        for i, audio in enumerate(val):
            m = mel(audio).numpy()
            out = generate_long(net, m, temperature=t, seed=i)
            if post:
                out = postfilter.mel_postfilter(out, m, **post)
            dist.append(mrstft(out, audio.numpy()))
        scores[t] = float(np.mean(dist))
    best = min(scores, key=scores.get)
    config["temperature"] = best
    config["temperature_scores"] = {str(k): round(v, 4) for k, v in scores.items()}
    _store_config(bundle, config)
    return scores


def _wavenet_for_choosing(bundle: str | Path, sources: str, segments: int, seconds: float):
    """(config.json, the network, ``segments`` seeded validation segments of ``seconds``) of a
    WaveNet bundle whose sampling settings are to be chosen."""
    from engine.models.wavenet import WaveNet, WaveNetConfig
    from engine.registry import load_model

    # A missing, damaged or other kind of bundle: a ModelLoadError that says which and why.
    net, config, _ = load_model(Path(bundle), "wavenet", lambda c: WaveNet(WaveNetConfig.from_dict(c)), "WaveNet")
    val = validation_segments(load_clips(sources, "validation") or load_clips(sources, "train"), segments, seconds)
    return config, net, val


def _store_config(bundle: str | Path, config: dict) -> None:
    from engine.fileio import atomic_write_text

    atomic_write_text(Path(bundle) / "config.json", json.dumps(config, indent=2))


def choose_postfilter(bundle: str | Path, sources: str = "pop909", gains: tuple[float, ...] = (1.0, 4.0, 16.0),
                      passes: tuple[int, ...] = (6, 12, 24, 48), segments: int = 8,
                      seconds: float = 2.0) -> dict[tuple[float, int], float]:
    """Store in a WaveNet bundle the mel post-filter (`engine.audio.postfilter`: its largest gain
    and its passes; 0 passes is none) whose audio is closest (MR-STFT) to seeded segments of the
    validation split, sampled at the bundle's temperature, and return each setting's distance.
    Chosen on validation, never on test. More passes keep scoring a little better (with the
    bundled WaveNet: 0.74 at 12, 0.70 at 24, 0.68 at 48; Griffin-Lim 0.87 on the same segments)
    at about 35 ms each per 10 s of audio on 2 cores: the grid stops at 48, where the WaveNet
    with its post-filter stays well ahead of real time."""
    from engine.audio.postfilter import mel_postfilter
    from engine.eval.render import mrstft
    from engine.models.wavenet import generate_long

    config, net, val = _wavenet_for_choosing(bundle, sources, segments, seconds)
    temperature = float(config.get("temperature", 1.0))
    mel = LogMel()
    drawn = []
    for i, audio in enumerate(val):
        m = mel(audio).numpy()
        drawn.append((m, generate_long(net, m, temperature=temperature, seed=i), audio.numpy()))
    settings = [(1.0, 0)] + [(g, n) for g in gains for n in passes if n > 0]
    scores = {}
    for g, n in settings:
        dist = [mrstft(mel_postfilter(out, m, max_gain=g, passes=n) if n else out, ref) for m, out, ref in drawn]
        scores[(g, n)] = float(np.mean(dist))
    g, n = min(scores, key=scores.get)
    config["postfilter"] = {"max_gain": g, "passes": n} if n else None
    config["postfilter_scores"] = {f"{g:g}x{n}": round(v, 4) for (g, n), v in scores.items()}
    _store_config(bundle, config)
    return scores

"""What every training loop shares: devices, distributed setup, time budgets, checkpoints, and
the keeping of the best bundle.

Runs on one CPU, one GPU, or many GPUs through `torchrun` (PyTorch DistributedDataParallel):
`torchrun --nproc-per-node 8 -m engine train musicvae ...` sets the environment that
`setup_distributed` reads. No home-made distribution.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from engine.fileio import atomic_write


@dataclass
class Dist:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def setup_distributed() -> Dist:
    """Join the process group when launched by torchrun (WORLD_SIZE > 1); otherwise one process."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Dist()
    import torch.distributed as dist

    backend = "nccl" if torch.cuda.is_available() else "gloo"
    dist.init_process_group(backend)
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if torch.cuda.is_available():
        torch.cuda.set_device(local)
    return Dist(dist.get_rank(), dist.get_world_size(), local)


def pick_device(name: str | None = None, dist: Dist | None = None) -> torch.device:
    """The device to train on: the named one, else this process's GPU, else MPS, else the CPU."""
    if name:
        return torch.device(name)
    if torch.cuda.is_available():
        return torch.device("cuda", dist.local_rank if dist else 0)
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def cpu_has_bf16() -> bool:
    """Whether this CPU computes bf16 natively (AMX or AVX512-BF16); elsewhere bf16 is emulated and slow."""
    try:
        return bool(torch.cpu._is_amx_tile_supported() or torch.cpu._is_avx512_bf16_supported())
    except AttributeError:  # a torch without these probes
        return False


def use_bf16(device: torch.device, precision: str = "auto") -> bool:
    """``precision``: "bf16", "fp32", or "auto" (bf16 on CUDA, and on CPUs with bf16 hardware).
    "bf16" on a CPU without that hardware is float32, with a warning: oneDNN has no bf16 LSTM
    there ("could not create a primitive descriptor"), and emulated bf16 is slower anyway."""
    if precision not in ("auto", "bf16", "fp32"):
        raise ValueError(f"precision must be auto, bf16 or fp32, not {precision!r}")
    if precision == "fp32" or device.type not in ("cuda", "cpu"):
        return False
    if device.type == "cuda" or cpu_has_bf16():
        return True
    if precision == "bf16":
        warnings.warn("This CPU has no bf16 arithmetic (AMX or AVX512-BF16): training in float32.",
                      stacklevel=2)
    return False


def autocast(device: torch.device, precision: str = "auto"):
    """bf16 autocast where it pays (the LSTMs and matmuls run in bf16; weights and the loss stay
    float32). Measured on 2 Xeon cores with AMX: a mel2bar step runs 2.1x faster than in fp32."""
    if use_bf16(device, precision):
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


class Budget:
    """A time budget in minutes; `over()` is True once it is spent (None: no budget)."""

    def __init__(self, minutes: float | None) -> None:
        self.start = time.monotonic()
        self.seconds = None if minutes is None else 60.0 * minutes

    @property
    def elapsed_s(self) -> float:
        return time.monotonic() - self.start

    def over(self) -> bool:
        return self.seconds is not None and self.elapsed_s >= self.seconds


def save_checkpoint(path: Path, state: dict) -> None:
    """Atomically, so an interrupted save never replaces a good checkpoint with half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda f: torch.save(state, f))


def load_checkpoint(path: Path, device: torch.device) -> dict | None:
    if not path.is_file():
        return None
    return torch.load(path, map_location=device, weights_only=False)


def _collective_device():
    """Where a collective's tensors must live: the GPU for NCCL, the CPU for gloo."""
    from torch import distributed

    if distributed.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def all_agree_to_stop(dist: Dist | None, stop: bool) -> bool:
    """Whether any rank wants to stop (its time budget is spent), the same answer on every rank:
    one rank that stops alone would leave the others waiting in backward's all-reduce forever."""
    if dist is None or not dist.enabled:
        return stop
    from torch import distributed

    flag = torch.tensor([1.0 if stop else 0.0], device=_collective_device())
    distributed.all_reduce(flag, op=distributed.ReduceOp.MAX)
    return bool(flag.item() > 0)


def ranks_agree(model: torch.nn.Module, dist: Dist | None) -> bool:
    """Whether every rank ends with the same weights (DistributedDataParallel keeps them so; a
    rank that drifted would mean a bug). Collective: every rank calls it at the same point."""
    if dist is None or not dist.enabled:
        return True
    from torch import distributed

    with torch.no_grad():
        flat = torch.cat([p.detach().float().reshape(-1).cpu() for p in model.parameters()])
        mine = torch.stack([flat.double().sum(), flat.double().abs().sum(), (flat.double() ** 2).sum()])
    mine = mine.to(_collective_device())
    gathered = [torch.zeros_like(mine) for _ in range(dist.world_size)]
    distributed.all_gather(gathered, mine)
    agree = all(torch.equal(g, gathered[0]) for g in gathered)
    if not agree and dist.main:
        warnings.warn("The ranks ended with different weights; the bundles are rank 0's.", stacklevel=2)
    return agree


def end_distributed(dist: Dist) -> None:
    """Leave the process group together and tear it down now. A gloo group still alive when the
    interpreter exits (held by a DDP wrapper in a reference cycle, freed only by the final
    collection) aborted a rank about 1 run in 8 on a busy machine ("terminate called without an
    active exception"); the trainers drop their wrapper before calling this."""
    if dist.enabled:
        import gc

        from torch import distributed

        gc.collect()  # the dropped DDP wrapper's cycles, while the interpreter is whole
        distributed.barrier()
        distributed.destroy_process_group()
        gc.collect()


class BestKeeper:
    """What both trainers do with an evaluation: add it to the history and, when its score is
    the lowest so far, export the weights as the bundle ``out/best`` (``export(folder, extra)``)."""

    def __init__(self, out: Path, export: Callable[[Path, dict], None], best: float = math.inf) -> None:
        self.out, self.export, self.best = out, export, best
        self.history: list[dict] = []

    def offer(self, score: float, extra: dict, record: bool = True) -> bool:
        """``extra`` holds the metrics as "validation"; ``record=False`` keeps them out of the
        history (the final evaluation)."""
        if record:
            self.history.append(extra["validation"])
        if score < self.best:
            self.best = score
            self.export(self.out / "best", extra)
            return True
        return False


def warmup_cosine(lr: float, warmup: int, step: int, progress: float) -> float:
    """Linear warm-up over ``warmup`` steps, then cosine decay to a tenth over the run
    (``progress`` in 0..1)."""
    if step < warmup:
        return lr * (step + 1) / warmup
    return lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0))))


class Run:
    """Where a resumable run stands: its step, the minutes spent by earlier runs in the same
    folder, this run's budget, and ``last.pt`` (model, optimiser, step, best score, torch's RNG).

    With only a time budget, progress (what the schedules follow) is the time spent over the
    minutes asked for, counting earlier runs, so a resumed run goes on where it stopped.
    """

    def __init__(self, out: Path, minutes: float | None, max_steps: int | None, dist: Dist | None = None) -> None:
        self.out, self.minutes, self.max_steps = Path(out), minutes, max_steps
        self.step, self.spent_s = 0, 0.0
        self.budget = Budget(minutes)
        self.dist = dist  # under torchrun, every rank stops on the same step

    def resume(self, model: torch.nn.Module, opt: torch.optim.Optimizer, device: torch.device) -> float | None:
        """Load ``last.pt`` when there is one; returns its best score (None when starting afresh)."""
        ckpt = load_checkpoint(self.out / "last.pt", device)
        if ckpt is None:
            return None
        model.load_state_dict(ckpt["model"])
        opt.load_state_dict(ckpt["opt"])
        self.step, self.spent_s = ckpt["step"], ckpt.get("spent_s", 0.0)
        torch.set_rng_state(ckpt["rng"])
        return ckpt["best"]

    @property
    def minutes_spent(self) -> float:
        return (self.spent_s + self.budget.elapsed_s) / 60

    @property
    def done(self) -> bool:
        if self.max_steps is not None and self.step >= self.max_steps:
            return True  # the same step on every rank
        return all_agree_to_stop(self.dist, self.budget.over())

    def progress(self) -> float:
        if self.max_steps:
            return self.step / self.max_steps
        if self.minutes:
            return self.minutes_spent / self.minutes
        return 0.0

    def checkpoint(self, model: torch.nn.Module, opt: torch.optim.Optimizer, best: float, args: dict) -> None:
        save_checkpoint(self.out / "last.pt", {"model": model.state_dict(), "opt": opt.state_dict(),
                                               "step": self.step, "best": best, "rng": torch.get_rng_state(),
                                               "args": args, "spent_s": self.minutes_spent * 60})

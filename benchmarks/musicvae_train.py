"""MusicVAE training throughput: examples per second for one optimiser step (forward, backward,
Adam), float32 against bf16 autocast, teacher-forced and with scheduled sampling. Sizes training
runs from measured numbers (2 AMX cores, batch 512: 563 examples/s in float32, 1,260 in bf16).

    .venv/bin/python benchmarks/musicvae_train.py [--config mel2bar] [--batch 512] [--steps 5]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from engine.models.musicvae import CONFIGS, MusicVAE  # noqa: E402
from engine.train.common import autocast, cpu_has_bf16, pick_device  # noqa: E402


def throughput(config: str, batch: int, steps: int, precision: str, sample_prob: float,
               device: torch.device) -> float:
    torch.manual_seed(0)
    cfg = CONFIGS[config]
    model = MusicVAE(cfg).to(device)
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    tokens = torch.randint(0, cfg.num_classes, (batch, cfg.seq_len), device=device)

    def step() -> None:
        with autocast(device, precision):
            out = model(tokens, sample_prob)
        loss = model.loss(out, tokens, 1000)["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()

    step()  # warm up
    if device.type == "cuda":
        torch.cuda.synchronize()
    t = time.perf_counter()
    for _ in range(steps):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return batch * steps / (time.perf_counter() - t)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--config", default="mel2bar", choices=sorted(CONFIGS))
    parser.add_argument("--batch", type=int, default=512)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--device", default=None)
    args = parser.parse_args()
    device = pick_device(args.device)
    print(f"{args.config}, batch {args.batch}, on {device} (CPU bf16 hardware: {cpu_has_bf16()})")
    sampling = [0.0] if CONFIGS[args.config].hierarchical else [0.0, 0.3]
    for p in sampling:
        label = "scheduled sampling" if p else "teacher-forced"
        fp32 = throughput(args.config, args.batch, args.steps, "fp32", p, device)
        bf16 = throughput(args.config, args.batch, args.steps, "bf16", p, device)
        print(f"  {label:<19} float32 {fp32:7.0f} ex/s   bf16 {bf16:7.0f} ex/s   ({bf16 / fp32:.2f}x)")


if __name__ == "__main__":
    main()

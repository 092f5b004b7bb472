"""MusicVAE speed: decode time of an 11-step 2-bar interpolation and of one 16-bar sample, on the
CPU (and the GPU when there is one). The targets: the slider's decode at most 50 ms, a 16-bar
sample at most 100 ms, on 2 CPU cores. Also one slider move as the Latent panel makes it
(`MelodyVAE.point` with the slider at +1: the searched push with its hold pass, and the decode;
the encode is cached after the first call, as in the panel) on a 2-bar and a 16-bar melody.

    .venv/bin/python benchmarks/musicvae.py [--model musicvae-mel2bar] [--repeats 20]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from engine.generate.musicvae import MelodyVAE, slerp  # noqa: E402
from engine.models.musicvae import CONFIGS, MusicVAE  # noqa: E402
from engine.registry import ModelLoadError  # noqa: E402


def timed(fn, repeats: int) -> tuple[float, float]:
    fn()  # warm up
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000, max(times) * 1000


def bench(vae: MelodyVAE, label: str, repeats: int) -> None:
    rng = np.random.default_rng(0)
    z_size = vae.cfg.z_size
    a, b = rng.standard_normal((2, z_size)).astype(np.float32)
    zs = np.stack([slerp(a, b, t) for t in np.linspace(0, 1, 11)])
    med, worst = timed(lambda: vae.decode_tokens(zs), repeats)
    bars = vae.cfg.seq_len // 16
    print(f"{label:<34} 11-step {bars}-bar interpolation decode: median {med:6.1f} ms, max {worst:6.1f} ms")
    med, worst = timed(lambda: vae.decode_tokens(zs[:1], temperature=1.0, seed=1), repeats)
    print(f"{label:<34} one {bars}-bar sample:                  median {med:6.1f} ms, max {worst:6.1f} ms")
    slider_moves(vae, label, repeats)


def slider_moves(vae: MelodyVAE, label: str, repeats: int) -> None:
    """A slider at +1 on one melody from the prior, as the panel previews it."""
    if not vae.attribute_vectors:
        return
    melody = vae.sample(1, temperature=1.0, seed=3)[0]
    bars = vae.window_steps // 16
    for name in ("note_density", "syncopation_8th"):
        if name in vae.attribute_vectors:
            med, worst = timed(lambda: vae.point(melody, attributes={name: 1.0}, seed=0), repeats)
            print(f"{label:<34} {name} +1 on a {bars}-bar melody:  median {med:6.1f} ms, max {worst:6.1f} ms"
                  + ("" if name in vae.attribute_units else " (no units: a fixed push)"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="musicvae-mel2bar")
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    torch.set_num_threads(2)
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    for device in devices:
        try:
            vae = MelodyVAE.load(args.model, device=device)
            bench(vae, f"{vae.name} on {device}", args.repeats)
        except ModelLoadError as e:
            print(f"{args.model}: {e} (timing an untrained model of the same size instead)")
            bench(MelodyVAE(MusicVAE(CONFIGS["mel2bar"]), device=torch.device(device)),
                  f"untrained mel2bar on {device}", args.repeats)
        # The 16-bar model's sample, trained or not (the speed does not depend on the weights).
        try:
            big = MelodyVAE.load("musicvae-mel16bar", device=device)
        except ModelLoadError:
            big = MelodyVAE(MusicVAE(CONFIGS["mel16bar-e2e"]), device=torch.device(device),
                            name="untrained mel16bar-e2e")
        rng = np.random.default_rng(1)
        z = rng.standard_normal((1, big.cfg.z_size)).astype(np.float32)
        med, worst = timed(lambda: big.decode_tokens(z, temperature=1.0, seed=1), max(3, args.repeats // 4))
        print(f"{big.name + ' on ' + device:<34} one 16-bar sample:                 median {med:6.1f} ms, max {worst:6.1f} ms")
        slider_moves(big, f"{big.name} on {device}", max(3, args.repeats // 4))


if __name__ == "__main__":
    main()

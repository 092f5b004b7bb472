"""Music Transformer sampling speed: events per second for one continuation of 1,024 events,
batch 1, with the key/value cache against recomputing the whole context for every event, in the
same run; and the time to the first note. On the CPU the cached step is the compiled kernel of
engine/models/transformer_step.py; the bare torch step is timed beside it. On 2 CPU cores, and
on the GPU when there is one. Target: at least 1,000 events per second on 2 CPU cores for the
6-layer, 256-wide model.

    .venv/bin/python benchmarks/transformer.py [--model music-transformer] [--events 1024]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from engine.eval.transformer import sampling_speed  # noqa: E402
from engine.generate.continuation import Continuer  # noqa: E402
from engine.models.music_transformer import MusicTransformer, TransformerConfig  # noqa: E402
from engine.music.encodings.performance import NOTE_OFF, NOTE_ON, TIME_SHIFT  # noqa: E402
from engine.registry import ModelLoadError  # noqa: E402


def prime_events(n: int = 64) -> list[int]:
    """An arpeggio, as a prime: note-on, 250 ms, note-off, repeated."""
    out = []
    for i in range(n // 3):
        p = (60, 64, 67, 72)[i % 4]
        out += [NOTE_ON + p, TIME_SHIFT + 24, NOTE_OFF + p]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="music-transformer")
    parser.add_argument("--events", type=int, default=1024)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    for device in ["cpu"] + (["cuda"] if torch.cuda.is_available() else []):
        try:
            cont = Continuer.load(args.model, device=device)
            model, label = cont.model, f"{cont.name} on {device}"
        except ModelLoadError as e:
            print(f"{args.model}: {e} (timing an untrained 6-layer, 256-wide model instead)")
            model = MusicTransformer(TransformerConfig()).to(device).eval()
            label = f"untrained 6x256 on {device}"
        cfg = model.cfg
        print(f"{label}: {cfg.n_layers} layers, {cfg.d_model} wide, attention span {cfg.max_len}, "
              f"{sum(p.numel() for p in model.parameters()) / 1e6:.1f} M parameters")
        cached, first_cached = sampling_speed(model, args.events, prime_events(), use_cache=True)
        if device == "cpu":
            os.environ["CANTUS_COMPILED_STEP"] = "0"
            bare, first_bare = sampling_speed(model, args.events, prime_events(), use_cache=True)
            del os.environ["CANTUS_COMPILED_STEP"]
        recompute, first_recompute = sampling_speed(model, args.events, prime_events(), use_cache=False)
        print(f"  cached:     {cached:8.0f} events/s, first note after {first_cached * 1000:6.1f} ms")
        if device == "cpu":
            print(f"  (torch step {bare:8.0f} events/s, first note after {first_bare * 1000:6.1f} ms)")
        print(f"  recomputed: {recompute:8.0f} events/s, first note after {first_recompute * 1000:6.1f} ms")
        print(f"  cache speed-up: {cached / recompute:.1f}x over {args.events} events")


if __name__ == "__main__":
    main()

"""Run by tests/test_distributed.py under torchrun: a few steps of one trainer on data made here
(as the trainers' own tests make it), then this rank's result in OUT/rank<N>.json.

    torchrun --standalone --nproc-per-node 2 tests/ddp_train.py KIND OUT [PAIRS]

KIND: musicvae, transformer, fast, wavenet, melflow; musicvae-budget and transformer-budget give
rank 1 a time budget spent at once and rank 0 none (both must still stop together). PAIRS: a folder of MIDI files whose paired
audio corpus the test has built already (the audio trainers read it from the cache).
"""

import json
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(kind: str, out: str, pairs: str | None) -> dict:
    rank = int(os.environ.get("RANK", "0"))
    budget = {}
    if kind.endswith("-budget"):
        kind = kind.removesuffix("-budget")
        budget = dict(max_steps=400, minutes=0.0005 if rank == 1 else None)
    if kind == "musicvae":
        import engine.train.musicvae as tm
        from engine.models.musicvae import CONFIGS, MusicVAEConfig

        windows = np.random.default_rng(0).integers(2, 90, (64, 32)).astype(np.uint8)
        tm.load_windows = lambda sources, bars, split: windows
        CONFIGS["tiny"] = MusicVAEConfig(name="tiny", embed_size=8, enc_size=16, z_size=4, dec_size=16,
                                         conductor_size=16)
        return tm.train(tm.TrainArgs(**{**dict(config="tiny", out=out, batch_size=8, max_steps=6, eval_every=3,
                                               eval_windows=16, precision="fp32"), **budget}))
    if kind == "transformer":
        import engine.train.transformer as tt
        from engine.music.encodings import performance as perf

        rng = np.random.default_rng(0)
        perfs = []
        for _ in range(6):
            starts = np.cumsum(rng.choice([0.25, 0.5], 30))
            perfs.append(np.append(perf.encode([perf.TimedNote(int(rng.integers(48, 84)), 90, t, t + 0.25)
                                                for t in starts]), perf.END).astype(np.int64))
        tt.load_performances = lambda sources, split, line="all", weighted=False: (
            (perfs, np.ones(len(perfs))) if weighted else perfs)
        return tt.train(tt.TrainArgs(**{**dict(out=out, d_model=32, n_layers=2, n_heads=4, max_len=64, batch_size=4,
                                               max_steps=6, eval_every=3, eval_windows=4, warmup=2,
                                               precision="fp32"), **budget}))
    from engine.data.audio_corpus import build_audio_corpus

    clips = build_audio_corpus(pairs, progress=False).clips  # from the cache the test filled
    if kind in ("fast", "wavenet"):
        import engine.train.vocoder as tv

        tv.load_clips = lambda sources, split: clips
        size = dict(dim=32, layers=2) if kind == "fast" else dict(layers=3, channels=8)
        return tv.train(tv.TrainArgs(kind=kind, out=out, segment_samples=2048, batch_size=2, lr=2e-3, warmup=2,
                                     max_steps=4, eval_every=2, eval_segments=2, eval_seconds=0.25,
                                     precision="fp32", **size))
    import engine.train.melflow as tf

    tf.load_clips = lambda sources, split: clips
    return tf.train(tf.TrainArgs(out=out, frames=32, batch_size=2, warmup=2, max_steps=4, eval_every=2,
                                 eval_windows=2, eval_frames=32, n_flows=2, coupling_dim=16, encoder_dim=16,
                                 precision="fp32"))


if __name__ == "__main__":
    kind, out = sys.argv[1], sys.argv[2]
    result = main(kind, out, sys.argv[3] if len(sys.argv) > 3 else None)
    rank = int(os.environ.get("RANK", "0"))
    keep = {k: result[k] for k in ("steps", "world_size", "ranks_agree")} | {"reported": "final" in result}
    (Path(out) / f"rank{rank}.json").write_text(json.dumps(keep))

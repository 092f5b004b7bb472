"""The Music Transformer trainer's arguments, with their defaults: the one source of them (the
command line takes its defaults from here). A light module: no torch."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class TrainArgs:
    sources: str = "music21,pop909"  # a source may carry a weight: "pop909:2" is drawn twice as often
    line: str = "all"  # "all": every part (melody and piano); "melody": the melody alone, as played
    out: str = "runs/music-transformer"
    absolute: bool = False  # the baseline with learned absolute positions
    d_model: int = 256
    n_layers: int = 6
    n_heads: int = 8
    d_ff: int = 512
    max_len: int = 256
    dropout: float = 0.0  # residual dropout; short runs are far from overfitting
    batch_size: int = 32
    lr: float = 1e-3
    warmup: int = 300
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    transpose: int = 3
    stretch: float = 0.05
    minutes: float | None = None
    max_steps: int | None = None
    eval_every: int = 250
    eval_windows: int = 256  # validation windows, a seeded sample across all validation pieces
    seed: int = 0
    device: str | None = None
    precision: str = "auto"
    init: str | None = None  # fine-tune from this bundle (its shape replaces the sizes above)
    compile: bool = False  # torch.compile the training forward (needs a C++ compiler on the CPU)
    resume: bool = True

"""Neural rendering speed, stage by stage: how many times faster than real time each stage turns
a 10-second piece into its output, on 2 CPU cores (and on the GPU when there is one), and the time
to the first audio. Stages: the soundfont synth (notes to audio, the reference), the mel
(audio to log-mel), Griffin-Lim (the baseline), the fast vocoder, the WaveNet (chunk-parallel,
with its cached-against-naive speed-up on 1,000 samples at batch 1), MelFlow (notes to mel, one
parallel pass), and the whole neural render of a 30-second sketch with the fast vocoder.

Targets (issue 13): the fast vocoder at least 50x real time, the WaveNet faster than real time,
the WaveNet's cached generation at least 20x faster than naive, all on 2 CPU cores.
Targets (issue 14): MelFlow at most 0.02x real time (50x faster than it); a 30 s sketch rendered
neurally with the fast vocoder in at most 3 s, the first audio within 1 s.

    .venv/bin/python benchmarks/render.py [--seconds 10] [--threads 2] [--skip-naive] [--skip-wavenet]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from engine.audio.mel import MEL, log_mel  # noqa: E402
from engine.audio import postfilter  # noqa: E402
from engine.models import wavenet_step  # noqa: E402
from engine.registry import ModelLoadError  # noqa: E402


def compiled_step(on: bool):
    """The WaveNet's (and the Transformer's) numba step on or off (CANTUS_COMPILED_STEP) inside."""
    return mock.patch.dict(os.environ, {"CANTUS_COMPILED_STEP": "1" if on else "0"})


def piece(seconds: float):
    """The opening of POP909 song 001 (melody and piano), or a scale where POP909 is missing."""
    from engine.music.sketch import Note, Sketch, Track

    try:
        from engine.data.sources import pop909_dir
        from engine.music.midi_io import read_midi

        song = read_midi(pop909_dir() / "001" / "001.mid")
        start = min(n.start_tick for t in song.tracks for n in t.notes)
        end = song.seconds_to_ticks(song.ticks_to_seconds(start) + seconds)
        tracks = [t.copy([n.shifted(-start) for n in t.notes if start <= n.start_tick < end])
                  for t in song.tracks if t.name in ("MELODY", "PIANO")]
        return Sketch(tracks, song.tempos, song.time_signatures)
    except Exception:
        notes = [Note(60 + (i % 12), 90, i * 240, (i + 1) * 240) for i in range(int(seconds * 4))]
        return Sketch.new(qpm=120, tracks=[Track("Scale", 0, False, notes)])


def timed(fn, repeat: int = 3) -> float:
    """The best of ``repeat`` runs, in seconds (after one warm-up run)."""
    fn()
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def load(kind: str, device: str):
    """(the bundled vocoder's network, its name, its config.json); an untrained one and {} where
    none is bundled."""
    from engine.registry import load_model

    if kind == "fast":
        from engine.models.fast_vocoder import FastVocoder, FastVocoderConfig

        try:
            net, config, folder = load_model("fast-vocoder", "fast_vocoder",
                                             lambda c: FastVocoder(FastVocoderConfig.from_dict(c)), "fast vocoder",
                                             device)
            return net, folder.name, config
        except ModelLoadError:
            return FastVocoder().to(device).eval(), "untrained fast vocoder (none bundled)", {}
    from engine.models.wavenet import WaveNet, WaveNetConfig

    try:
        net, config, folder = load_model("wavenet-vocoder", "wavenet",
                                         lambda c: WaveNet(WaveNetConfig.from_dict(c)), "WaveNet", device)
        return net, folder.name, config
    except ModelLoadError:
        return WaveNet(WaveNetConfig()).to(device).eval(), "untrained WaveNet (none bundled)", {}


def melflow_rows(sketch, duration: float, device: str, row) -> None:
    """MelFlow alone on the piece, and a 30 s sketch through MelFlow and the fast vocoder."""
    from engine.audio import neural
    from engine.audio.render import render_sketch

    try:
        net, _ = neural.get_melflow(device=device)
    except ModelLoadError as e:
        print(f"  MelFlow: {e}")
        return
    frames = MEL.num_frames(int(duration * MEL.sample_rate))
    frames += frames % 2
    tracks = [t for t in sketch.tracks if t.notes]

    def melflow():
        for t in tracks:
            neural.melflow_mel(net, neural.track_notes(sketch, t), t.program, frames, 0.5)
        if device == "cuda":
            torch.cuda.synchronize()

    took = timed(melflow)
    row("melflow (notes to mel, temperature 0.5)", took)
    print(f"    melflow: {took / duration:.4f}x real time (target at most 0.02x)")
    long = piece(30.0)
    seconds = long.duration_s
    first = {}
    start = time.perf_counter()

    def progress(fraction, message=""):
        first.setdefault("t", time.perf_counter() - start) if "vocoder" in message.lower() else None

    start = time.perf_counter()
    render_sketch(long, "neural-fast", 44100, progress=progress)
    took = time.perf_counter() - start
    print(f"  neural render (melflow + fast) of a {seconds:.0f} s sketch: {took:.2f} s (target at most 3 s), "
          f"{seconds / took:.1f}x real time; first window of audio after {first.get('t', float('nan')):.2f} s "
          "(target within 1 s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--skip-naive", action="store_true", help="skip the slow naive WaveNet timing")
    parser.add_argument("--skip-wavenet", action="store_true", help="skip the WaveNet altogether")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    from engine.audio.griffinlim import griffin_lim
    from engine.audio.render import get_synth
    from engine.models.wavenet import generate_long

    sketch = piece(args.seconds)
    synth = get_synth()
    audio = synth.render(sketch, MEL.sample_rate).mean(axis=1).astype(np.float32)
    audio = audio[: int(args.seconds * MEL.sample_rate) // MEL.hop_length * MEL.hop_length]
    duration = len(audio) / MEL.sample_rate
    mel = log_mel(audio)
    print(f"{duration:.1f} s of {sketch.note_count} notes, {args.threads} threads; "
          "x real time = audio seconds per compute second")

    def row(name: str, seconds: float, first: float | None = None) -> None:
        extra = f", first audio after {first * 1000:.0f} ms" if first is not None else ""
        print(f"  {name:<46}{duration / seconds:>8.1f}x real time ({seconds:.3f} s){extra}")

    print("cpu:")
    row(f"synth ({synth.description})", timed(lambda: synth.render(sketch, MEL.sample_rate)))
    row("mel (torch)", timed(lambda: log_mel(audio)))
    row("griffin-lim (64 iterations)", timed(lambda: griffin_lim(mel), repeat=1))
    for device in ["cpu"] + (["cuda"] if torch.cuda.is_available() else []):
        if device != "cpu":
            print(f"{device} ({torch.cuda.get_device_name()}):")
        fast, label, _ = load("fast", device)
        m = torch.from_numpy(mel).to(device)

        def vocode(frames=None):
            with torch.no_grad():
                out = fast(m if frames is None else m[:, :frames])
            if device == "cuda":
                torch.cuda.synchronize()
            return out

        one_second = int(MEL.frames_per_second) + 1
        row(f"fast vocoder ({label})", timed(vocode), timed(lambda: vocode(one_second)))
        melflow_rows(sketch, duration, device, row)
        if args.skip_wavenet:
            continue
        wavenet, label, config = load("wavenet", device)
        for on in (True, False) if device == "cpu" and wavenet_step.enabled() else (False,):
            with compiled_step(on):
                generate_long(wavenet, mel[:, :64], seed=0)  # numba's first call loads its cache
                start = time.perf_counter()
                generate_long(wavenet, mel, seed=0)
                took = time.perf_counter() - start
            kind = "compiled" if on else "torch loop"
            row(f"wavenet, chunk-parallel, {kind} ({label})", took, took)
        post = postfilter.settings(config)
        if post:
            sampled = generate_long(wavenet, mel, seed=0)
            took = timed(lambda: postfilter.mel_postfilter(sampled, mel, **post))
            row(f"  its mel post-filter ({post['passes']} passes)", took)
        if not args.skip_naive:
            short = torch.from_numpy(mel[:, :5]).to(device)[None]  # 1,024 samples' worth

            def gen(naive):
                return wavenet.generate(short, num_samples=1000, seed=0, naive=naive)

            cached = timed(lambda: gen(False))
            with compiled_step(False):  # the torch loop, where numba is missing or turned off
                torch_loop = timed(lambda: gen(False))
            start = time.perf_counter()
            gen(True)  # once: a few seconds on 2 CPU cores at the bundled size
            naive = time.perf_counter() - start
            kind = "compiled" if wavenet_step.enabled() and device == "cpu" else "torch"
            print(f"  wavenet cached ({kind}) against naive, 1,000 samples at batch 1: {naive / cached:.0f}x "
                  f"faster ({cached:.3f} s against {naive:.2f} s); the torch loop: {naive / torch_loop:.0f}x "
                  f"({torch_loop:.3f} s)")


if __name__ == "__main__":
    main()

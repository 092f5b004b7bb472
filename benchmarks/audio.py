"""Audio benchmarks: synth speed as a multiple of real time, note-preview latency, and playback
(time from play() to the first callback, underflows while a model runs). Prints numbers only.

    .venv/bin/python benchmarks/audio.py [--seconds 60] [--skip-playback]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from engine.audio.synth import BuiltinSynth, SynthError, make_synth  # noqa: E402
from engine.music.sketch import Note, Sketch, Track  # noqa: E402


def sixty_second_sketch(seconds: float = 60.0, qpm: float = 120.0) -> Sketch:
    """A busy sketch: a 16th-note melody, a chord pad on every beat, a bass line, drums."""
    rng = np.random.default_rng(0)
    steps = int(seconds * qpm / 60 * 4)
    melody = [Note(int(rng.integers(60, 84)), int(rng.integers(60, 120)), s * 120, (s + 1) * 120)
              for s in range(steps)]
    chords = [Note(p, 70, b * 480, (b + 1) * 480) for b in range(steps // 4) for p in (48, 52, 55, 59)]
    bass = [Note(36 + (b % 4) * 2, 90, b * 480, b * 480 + 400) for b in range(steps // 4)]
    drums = [Note(36 if s % 8 == 0 else 42, 100, s * 120, s * 120 + 60) for s in range(0, steps, 2)]
    return Sketch.new(qpm=qpm, tracks=[Track("Lead", 73, False, melody), Track("Pad", 48, False, chords),
                                       Track("Bass", 33, False, bass), Track("Drums", 0, True, drums)])


def bench_synth(name: str, synth, sketch: Sketch, sample_rate: int = 44100, repeats: int = 3) -> None:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        synth.render(sketch, sample_rate)
        times.append(time.perf_counter() - t)
    best = min(times)
    print(f"{name:<28} {sketch.duration_s / best:8.1f}x real time  ({best:.2f} s for "
          f"{sketch.duration_s:.0f} s of audio at {sample_rate} Hz, {sketch.note_count} notes)")
    previews = []
    for pitch in range(48, 84, 3):
        t = time.perf_counter()
        synth.render_note(pitch, 100, 0.5, sample_rate=sample_rate)
        previews.append(time.perf_counter() - t)
    print(f"{'':<28} note preview: median {1000 * statistics.median(previews):.1f} ms, "
          f"max {1000 * max(previews):.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=60.0, help="playback benchmark length")
    parser.add_argument("--skip-playback", action="store_true")
    args = parser.parse_args()

    sketches = [("a dense 60-second sketch (lead, string pad, bass, drums)", sixty_second_sketch())]
    song = Path(__file__).resolve().parent.parent.parent / "shared/data/pop909/001/001.mid"
    if song.is_file():
        from engine.music.midi_io import read_midi

        sketches.append(("POP909 song 001 (piano arrangement)", read_midi(song)))
    for title, sketch in sketches:
        print(f"Synthesis of {title}")
        try:
            bench_synth("FluidSynth (TimGM6mb.sf2)", make_synth("fluidsynth"), sketch)
        except SynthError as e:
            print(f"FluidSynth: not available ({e})")
        bench_synth("built-in synth", BuiltinSynth(), sketch)

    if not args.skip_playback:
        try:
            from benchmarks import audio_playback
        except ImportError:
            import audio_playback  # run from inside benchmarks/
        print()
        audio_playback.run(seconds=args.seconds)


if __name__ == "__main__":
    main()

"""Render a sketch to audio by renderer name, so that neural renderers can slot in beside the synths.

"synth" is the soundfont synth (FluidSynth, or the built-in synth where FluidSynth is missing);
"builtin" is always the built-in numpy synth. The neural renderers ("neural-fast",
"neural-wavenet") are MelFlow (notes to mel) followed by one of `VOCODERS` (engine.audio.vocode:
"fast", "wavenet", and "griffinlim", the baseline), in `engine.audio.neural`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from engine.audio.synth import Synth, make_synth
from engine.errors import CantusError
from engine.music.sketch import Sketch

SYNTHS = ("synth", "builtin")
NEURAL = {"neural-fast": "fast", "neural-wavenet": "wavenet", "neural-griffinlim": "griffinlim"}  # -> vocoder
RENDERERS = SYNTHS + tuple(NEURAL)
VOCODERS = ("fast", "wavenet", "griffinlim")  # engine.audio.vocode.VOCODERS, without importing torch


@dataclass
class Rendered:
    audio: np.ndarray  # float32, shape (frames, 2)
    sample_rate: int
    renderer: str  # what made it, for people: "FluidSynth with TimGM6mb.sf2"
    note: str | None = None  # why a fallback was used, if one was
    mel: np.ndarray | None = None  # the model's own log-mel (n_mels, frames), for a neural render
    ready_s: float | None = None  # a partial render (render_sketch_stream): audio after this is still silence
    device: str | None = None  # where a neural render's models ran ("CPU", "CUDA (…)"); None for a synth

    @property
    def duration_s(self) -> float:
        return len(self.audio) / self.sample_rate

    @property
    def complete(self) -> bool:
        return self.ready_s is None


_synths: dict[tuple[str, str | None], Synth] = {}


def get_synth(renderer: str = "synth", soundfont: str | os.PathLike | None = None) -> Synth:
    """The synth for a renderer name, created once per (name, soundfont) and reused."""
    return _cached_synth(_synths, renderer, soundfont)


def _cached_synth(cache: dict, renderer: str, soundfont) -> Synth:
    """The synth of a renderer name in ``cache``, made there once per (name, soundfont)."""
    if renderer not in SYNTHS:
        raise CantusError(f"Unknown synth '{renderer}'; choose one of: {', '.join(SYNTHS)}.")
    key = (renderer, str(soundfont) if soundfont else None)
    if key not in cache:
        cache[key] = make_synth("auto" if renderer == "synth" else "builtin", soundfont)
    return cache[key]


def preview_synth_name(renderer: str, soundfont: str | os.PathLike | None = None) -> tuple[str, str | None]:
    """(synth, soundfont) that plays note previews for a renderer: the renderer itself for a
    synth; the soundfont synth for a neural renderer (a preview must sound in milliseconds)."""
    return (renderer, soundfont) if renderer in SYNTHS else ("synth", None)


_preview_synths: dict[tuple[str, str | None], Synth] = {}


def preview_synth(renderer: str = "synth", soundfont: str | os.PathLike | None = None) -> Synth:
    """A synth for note previews, apart from the one renders use: a render holds its synth for
    the whole song, and a preview must never wait for it (it runs on the GUI thread)."""
    return _cached_synth(_preview_synths, renderer, soundfont)


def ready_synth(renderer: str, soundfont: str | os.PathLike | None, sample_rate: int) -> Synth | None:
    """The `preview_synth` if it exists and renders at this rate without loading anything
    (None: it must be made or loaded first, which takes a moment: not on the GUI thread)."""
    if renderer == "builtin":
        return preview_synth("builtin")  # numpy, nothing to load
    synth = _preview_synths.get((renderer, str(soundfont) if soundfont else None))
    return synth if synth is not None and synth.ready(sample_rate) else None


def render_sketch(sketch: Sketch, renderer: str = "synth", sample_rate: int = 44100,
                  soundfont: str | os.PathLike | None = None, temperature: float | None = None,
                  progress=None, cancel=None) -> Rendered:
    """Every track of the sketch as stereo audio, the tail of the last note kept.

    temperature : MelFlow's sampling temperature for a neural renderer (None: the bundle's).
    progress(fraction, message), cancel() : told and called between windows of a neural render.
    """
    from engine.jobs import run_to_end

    return run_to_end(render_sketch_stream(sketch, renderer, sample_rate, soundfont, temperature, progress, cancel))


def render_sketch_stream(sketch: Sketch, renderer: str = "synth", sample_rate: int = 44100,
                         soundfont: str | os.PathLike | None = None, temperature: float | None = None,
                         progress=None, cancel=None):
    """`render_sketch` as a generator. A neural render with a frame-rate vocoder yields partial
    renders as its windows are done (`Rendered` of the whole length, final up to ``ready_s``,
    silent after it), so that playback can begin on the first seconds; a synth yields nothing.
    Its return value is the whole render."""
    from engine.document import audible_tracks

    audible = audible_tracks(sketch)  # mute and solo, as the track list sets them
    sketch = Sketch([sketch.tracks[i] for i in audible], sketch.tempos, sketch.time_signatures)
    if not sketch.note_count:
        raise CantusError("There are no notes to render (or every track with notes is muted).")
    if renderer in NEURAL:
        from engine.audio.dsp import resample
        from engine.audio.mel import MEL
        from engine.audio.neural import render_neural_stream

        vocoder = NEURAL[renderer]

        def frames(seconds: float) -> int:
            return int(round(seconds * sample_rate))

        def stereo(mono: np.ndarray, frames: int) -> np.ndarray:
            x = resample(mono, MEL.sample_rate, sample_rate)
            out = np.zeros((frames, 2), dtype=np.float32)
            out[:len(x)] = x[:len(out), None]
            return out

        def label(result) -> str:
            return f"MelFlow (temperature {result.temperature:g}) + the {vocoder} vocoder on {result.device}"

        from engine.jobs import map_yields

        result = yield from map_yields(
            render_neural_stream(sketch, vocoder, temperature, progress=progress, cancel=cancel),
            lambda part: Rendered(stereo(part.audio, frames(part.duration_s)), sample_rate, label(part),
                                  ready_s=part.ready_s, device=part.device))
        return Rendered(stereo(result.audio, frames(len(result.audio) / MEL.sample_rate)), sample_rate, label(result),
                        mel=result.mel, device=result.device)
    if renderer not in SYNTHS:
        raise CantusError(f"Unknown renderer '{renderer}'; choose one of: {', '.join(RENDERERS)}.")
    synth = get_synth(renderer, soundfont)
    audio = synth.render(sketch, sample_rate)
    return Rendered(audio, sample_rate, synth.description, getattr(synth, "note", None))

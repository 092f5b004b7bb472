"""Render a sketch to audio by renderer name, so that neural renderers can slot in beside the synths.

"synth" is the soundfont synth (FluidSynth, or the built-in synth where FluidSynth is missing);
"builtin" is always the built-in numpy synth. The neural renderers are a note-to-mel model
(MelFlow, still to come) followed by one of `VOCODERS` (engine.audio.vocode: "fast", "wavenet",
and "griffinlim", the baseline); until MelFlow gives a sketch its mel, `cantus vocode` is the
vocoders' door.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from engine.audio.synth import Synth, make_synth
from engine.errors import CantusError
from engine.music.sketch import Sketch

RENDERERS = ("synth", "builtin")
VOCODERS = ("fast", "wavenet", "griffinlim")  # engine.audio.vocode.VOCODERS, without importing torch


@dataclass
class Rendered:
    audio: np.ndarray  # float32, shape (frames, 2)
    sample_rate: int
    renderer: str  # what made it, for people: "FluidSynth with TimGM6mb.sf2"
    note: str | None = None  # why a fallback was used, if one was

    @property
    def duration_s(self) -> float:
        return len(self.audio) / self.sample_rate


_synths: dict[tuple[str, str | None], Synth] = {}


def get_synth(renderer: str = "synth", soundfont: str | os.PathLike | None = None) -> Synth:
    """The synth for a renderer name, created once per (name, soundfont) and reused."""
    if renderer not in RENDERERS:
        raise CantusError(f"Unknown renderer '{renderer}'; choose one of: {', '.join(RENDERERS)}.")
    key = (renderer, str(soundfont) if soundfont else None)
    if key not in _synths:
        _synths[key] = make_synth("auto" if renderer == "synth" else "builtin", soundfont)
    return _synths[key]


def render_sketch(sketch: Sketch, renderer: str = "synth", sample_rate: int = 44100,
                  soundfont: str | os.PathLike | None = None) -> Rendered:
    """Every track of the sketch as stereo audio, the tail of the last note kept."""
    from engine.document import audible_tracks

    audible = audible_tracks(sketch)  # mute and solo, as the track list sets them
    sketch = Sketch([sketch.tracks[i] for i in audible], sketch.tempos, sketch.time_signatures)
    if not sketch.note_count:
        raise CantusError("There are no notes to render (or every track with notes is muted).")
    synth = get_synth(renderer, soundfont)
    audio = synth.render(sketch, sample_rate)
    return Rendered(audio, sample_rate, synth.description, getattr(synth, "note", None))

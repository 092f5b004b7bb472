"""What a window asks the models for, as frozen request objects that run on the engine thread.

A panel builds a request from its widgets (plain values, a copy of the sketch) and submits its
``run`` to the engine; ``run(ctx)`` takes its model from `LOADED`, the engine side's cache of
loaded models, and may yield `engine.jobs.Progress` and partial results before it returns the
outcome. Nothing here knows Qt, so the command line and tests can run the same requests, and
importing this module loads no model code (the window starts without torch).

Shaped as napari's slicer is: the request is made on the GUI side, the work is done on the
engine side, and the answer is a plain value.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Iterator, TypeVar

from engine.generate.names import MELODY_MODEL_NAME, MODEL_NAME
from engine.jobs import Progress
from engine.music.key import Key
from engine.music.quantize import snap_notes
from engine.music.sketch import Note, Sketch, Track

if TYPE_CHECKING:
    from engine.generate.continuation import Continuer

T = TypeVar("T")
PROGRESS_EVERY_S = 0.1  # a streaming request says how far it is at most this often


class LoadedModels:
    """Models loaded once and kept, by kind and name (a bundle name or folder). The models are
    used on the engine thread; the lock only guards the table."""

    def __init__(self) -> None:
        self._models: dict[tuple[str, str], object] = {}
        self._lock = threading.Lock()

    def get(self, kind: str, name: str, load: Callable[[], T]) -> T:
        """The model, loaded by ``load()`` the first time it is asked for."""
        key = (kind, str(name))
        with self._lock:
            if key in self._models:
                return self._models[key]
        model = load()  # slow, and raises a CantusError a musician can read; not under the lock
        with self._lock:
            return self._models.setdefault(key, model)

    def is_loaded(self, kind: str, name: str) -> bool:
        with self._lock:
            return (kind, str(name)) in self._models

    def forget(self) -> None:
        """Drop every model (tests that swap bundles)."""
        with self._lock:
            self._models.clear()


LOADED = LoadedModels()


def continuer(name: str = MODEL_NAME, melody: str | None = MELODY_MODEL_NAME) -> Continuer:
    """The Continuer for these bundles, from `LOADED`."""
    from engine.generate.continuation import Continuer

    return LOADED.get("continuer", f"{name}|{melody}", lambda: Continuer.load(name, melody=melody))


def continuer_loaded(name: str = MODEL_NAME, melody: str | None = MELODY_MODEL_NAME) -> bool:
    return LOADED.is_loaded("continuer", f"{name}|{melody}")


@dataclass(frozen=True)
class ContinueOutcome:
    notes: tuple[Note, ...]  # sorted, on the sketch's tick grid (snapped when asked)
    key: Key | None
    start_tick: int
    seed: int
    device: str = "CPU"
    mode: str = "piano"
    model: str = ""  # the name of the model that answered


@dataclass(frozen=True)
class Continue:
    """Carry ``sketch`` on from ``start_tick`` (see `Continuer.plan` for the choices)."""

    sketch: Sketch
    start_tick: int
    bars: float | None = None
    seconds: float | None = None
    temperature: float = 1.0
    top_p: float | None = 0.95
    key: str | None = "auto"
    pitch_range: tuple[int, int] | None = None
    seed: int = 0
    mode: str = "piano"  # "melody" or "piano" (resolve "auto" with engine.music.melody.phrase_mode)
    max_polyphony: int | None = None
    snap: str | None = None  # a grid the notes land on
    model: str = MODEL_NAME
    melody_model: str | None = MELODY_MODEL_NAME

    @property
    def loaded(self) -> bool:
        """Whether its models are loaded already (a failure then is not the model's)."""
        return continuer_loaded(self.model, self.melody_model)

    def run(self, ctx=None) -> Iterator[Progress | tuple[Note, ...]]:
        """Yields Progress and each group of notes as it closes (a ghost to show); returns the
        `ContinueOutcome`. ``ctx.check()`` between any two events lets Cancel stop it at once."""
        from engine.music.encodings.performance import TIME_SHIFT, VELOCITY
        from engine.registry import device_name

        if not self.loaded:
            yield Progress(None, "Loading the Music Transformer")
        cont = continuer(self.model, self.melody_model)
        planned = cont.plan(self.sketch, bars=self.bars, seconds=self.seconds, key=self.key,
                            pitch_range=self.pitch_range, start_tick=self.start_tick, mode=self.mode,
                            max_polyphony=self.max_polyphony)
        constraints = planned[2]
        total = max(constraints.max_shifts or 1, 1)
        device = device_name(next(cont.model.parameters()).device)
        yield Progress(0.0, f"Continuing on the {device}")
        notes: list[Note] = []
        now, last_report = 0, time.monotonic()
        for event, done in cont.stream(self.sketch, temperature=self.temperature, top_p=self.top_p,
                                       seed=self.seed, planned=planned):
            if ctx is not None:
                ctx.check()
            if TIME_SHIFT <= event < VELOCITY:
                now += event - TIME_SHIFT + 1
            if done:
                notes += done
                yield tuple(done)
            if time.monotonic() - last_report > PROGRESS_EVERY_S:
                last_report = time.monotonic()
                yield Progress(min(now / total, 1.0), "Continuing")
        if self.snap:
            notes = snap_notes(notes, self.snap, constraints.max_polyphony == 1)
        return ContinueOutcome(tuple(sorted(notes)), constraints.key, self.start_tick, self.seed, device,
                               self.mode, cont.model_name_for(constraints))


# -- MusicVAE -------------------------------------------------------------------------------------

VAE_NAME = "musicvae-mel2bar"
VAE_LONG_NAME = "musicvae-mel16bar"  # 16 bars over the 2-bar model's codes


def melody_vae(name: str = VAE_NAME):
    """The MelodyVAE for this bundle, from `LOADED`."""
    from engine.generate.musicvae import MelodyVAE

    return LOADED.get("musicvae", name, lambda: MelodyVAE.load(name))


@dataclass(frozen=True)
class Melodies:
    """What a MusicVAE request made: melodies at bar 0, and where the model ran."""

    tracks: tuple[Track, ...]
    device: str = "CPU"

    @property
    def track(self) -> Track:
        return self.tracks[0]


@dataclass(frozen=True)
class _MusicVAERequest:
    """What every MusicVAE request shares: the bundle it runs, loaded once."""

    model: str = field(default=VAE_NAME, kw_only=True)

    @property
    def loaded(self) -> bool:
        return LOADED.is_loaded("musicvae", self.model)

    def _vae(self):
        return melody_vae(self.model)

    @staticmethod
    def _melodies(vae, tracks) -> Melodies:
        from engine.registry import device_name

        return Melodies(tuple(tracks), device_name(vae.device))


@dataclass(frozen=True)
class LatentPoint(_MusicVAERequest):
    """One melody from the point the latent panel's controls describe (see `MelodyVAE.point`)."""

    a: Track | Sketch
    b: Track | Sketch | None = None
    t: float = 0.0
    attributes: tuple[tuple[str, float], ...] = ()  # (attribute, amount), the sliders not at 0
    similarity: float = 1.0
    temperature: float | None = None
    seed: int | None = None

    def run(self, ctx=None) -> Melodies:
        vae = self._vae()
        return self._melodies(vae, [vae.point(self.a, self.b, t=self.t, attributes=dict(self.attributes),
                                              similarity=self.similarity, temperature=self.temperature,
                                              seed=self.seed)])


@dataclass(frozen=True)
class PadPoint(_MusicVAERequest):
    """The blend of four corner melodies at (u, v) on the pad (see `MelodyVAE.pad_point`)."""

    corners: tuple[Track, Track, Track, Track]
    u: float
    v: float
    temperature: float | None = None
    seed: int | None = None

    def run(self, ctx=None) -> Melodies:
        vae = self._vae()
        return self._melodies(vae, [vae.pad_point(list(self.corners), self.u, self.v, self.temperature, self.seed)])


@dataclass(frozen=True)
class Interpolate(_MusicVAERequest):
    """``steps`` melodies from A to B, A and B themselves at the ends."""

    a: Track
    b: Track
    steps: int = 7

    def run(self, ctx=None) -> Iterator[Progress]:
        yield Progress(None, "Interpolating")
        vae = self._vae()
        return self._melodies(vae, vae.interpolate(self.a, self.b, self.steps))


@dataclass(frozen=True)
class Sample(_MusicVAERequest):
    """``n`` new melodies from the prior."""

    n: int = 4
    temperature: float = 1.0
    seed: int | None = None

    def run(self, ctx=None) -> Melodies:
        vae = self._vae()
        return self._melodies(vae, vae.sample(self.n, self.temperature, self.seed))


# -- rendering ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Render:
    """The sketch as audio with one of the renderers (`engine.audio.render.RENDERERS`): its
    audible tracks, at ``sample_rate``; at least ``min_frames`` long (silence after the notes,
    for a take that goes on), and silence alone when there are no notes and ``min_frames`` is set.
    ``run`` yields partial renders of a neural renderer as its windows are done (playback can
    begin on the first seconds) and returns the whole `engine.audio.render.Rendered`."""

    sketch: Sketch
    renderer: str = "synth"
    sample_rate: int = 44100
    soundfont: str | None = None
    temperature: float | None = None
    min_frames: int = 0

    def run(self, ctx=None):
        import numpy as np

        from engine.audio.render import Rendered, render_sketch_stream
        from engine.document import audible_tracks
        from engine.jobs import map_yields

        sketch = self.sketch
        if self.min_frames and not any(sketch.tracks[i].notes for i in audible_tracks(sketch)):
            return Rendered(np.zeros((self.min_frames, 2), np.float32), self.sample_rate, "nothing yet (recording)")

        def padded(rendered: Rendered) -> Rendered:
            if len(rendered.audio) >= self.min_frames:
                return rendered
            from dataclasses import replace

            return replace(rendered, audio=np.pad(rendered.audio, ((0, self.min_frames - len(rendered.audio)), (0, 0))))

        stream = render_sketch_stream(sketch, self.renderer, self.sample_rate, self.soundfont,
                                      temperature=self.temperature,
                                      progress=None if ctx is None else ctx.progress,
                                      cancel=None if ctx is None else ctx.check)
        return padded((yield from map_yields(stream, padded)))

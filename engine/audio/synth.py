"""Notes to audio: FluidSynth with a General MIDI soundfont, or a small built-in synth.

`make_synth()` gives FluidSynth (through pyfluidsynth) with pretty_midi's TimGM6mb.sf2 or a
soundfont the user picks, and falls back to the built-in numpy synth when libfluidsynth is
missing or the soundfont cannot be loaded, saying why in `synth.note`. Both render a whole
`Sketch` (every track with its program, drums on channel 10, through the tempo map) to stereo
float32 audio, and keep the tail of the last note until it has died away.
"""

from __future__ import annotations

import ctypes
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine import optional
from engine.errors import CantusError
from engine.music.encodings.drums import drum_class
from engine.music.sketch import Sketch

SILENCE = 10 ** (-80 / 20)  # -80 dBFS: the tail is over when the sound stays below this
MAX_TAIL_S = 6.0  # however long a reverb or a held pad rings, stop after this
RESET_SILENCE = 1e-7  # between renders the synth is drained to this (-140 dBFS)
RESET_MAX_S = 30.0
RENDER_PEAK = 0.95  # renders louder than this are scaled down so playback never clips
BLOCK = 4096
FLUID_BLOCK = 64  # FluidSynth's internal block: events take effect on its boundaries


class SynthError(CantusError):
    """Synthesis could not run (a missing library, a damaged soundfont)."""


def default_soundfont() -> Path:
    """The General MIDI soundfont that ships with pretty_midi (TimGM6mb.sf2, 6 MB)."""
    import pretty_midi

    return Path(pretty_midi.__file__).parent / "TimGM6mb.sf2"


def _events(sketch: Sketch, sample_rate: int) -> list[tuple[int, int, int, int, int]]:
    """(sample, 0 off / 1 on, track index, pitch, velocity), offs before ons at one sample."""
    out = []
    for i, track in enumerate(sketch.tracks):
        for n in track.without_overlaps().notes:
            start = int(round(sketch.ticks_to_seconds(n.start_tick) * sample_rate))
            end = max(int(round(sketch.ticks_to_seconds(n.end_tick) * sample_rate)), start + 1)
            out.append((start, 1, i, n.pitch, n.velocity))
            out.append((end, 0, i, n.pitch, 0))
    out.sort()
    return out


def _limit(audio: np.ndarray) -> np.ndarray:
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    if peak > RENDER_PEAK:
        audio *= RENDER_PEAK / peak
    return audio


# -- FluidSynth ---------------------------------------------------------------------------------

class FluidSynthRenderer:
    """FluidSynth with one soundfont, loaded once per sample rate and reused.

    Renders are serialised by a lock: one synthesizer plays one sketch at a time.
    """

    name = "FluidSynth"

    def __init__(self, soundfont: str | os.PathLike | None = None) -> None:
        if optional.fluidsynth() is None:
            raise SynthError(
                "FluidSynth is not installed (the libfluidsynth library was not found), "
                "so the soundfont synth cannot play.")
        self.soundfont = Path(soundfont) if soundfont else default_soundfont()
        if not self.soundfont.is_file():
            raise SynthError(f"The soundfont '{self.soundfont.name}' does not exist.")
        if self.soundfont.suffix.lower() not in (".sf2", ".sf3"):
            raise SynthError(
                f"'{self.soundfont.name}' is not a soundfont; choose a .sf2 or .sf3 file.")
        self._synths: dict[int, tuple[object, int]] = {}
        self._written: dict[int, int] = {}  # frames each synthesizer has rendered so far
        self._lock = threading.Lock()
        self._synth(44100)  # load now, so a damaged soundfont is reported at once

    @property
    def description(self) -> str:
        return f"FluidSynth with {self.soundfont.name}"

    def ready(self, sample_rate: int) -> bool:
        """Whether a note at this rate renders at once (the soundfont is loaded for it)."""
        return sample_rate in self._synths

    def _synth(self, sample_rate: int):
        if sample_rate not in self._synths:
            fluidsynth = optional.fluidsynth()
            if not 8000 <= sample_rate <= 96000:
                raise SynthError(f"FluidSynth renders at 8,000 to 96,000 Hz, not {sample_rate:,} Hz.")
            synth = fluidsynth.Synth(gain=0.5, samplerate=float(sample_rate))
            synth.setting("synth.midi-channels", 64)
            # Dry: the mix's reverb is the producer's choice, and FluidSynth's reverb modulates
            # its delay lines across renders, so the same sketch would not render the same.
            synth.setting("synth.reverb.active", 0)
            synth.setting("synth.chorus.active", 0)
            sfid = synth.sfload(str(self.soundfont))
            if sfid < 0:
                synth.delete()
                raise SynthError(f"FluidSynth could not load the soundfont '{self.soundfont.name}'; "
                                 "the file may be damaged.")
            self._synths[sample_rate] = (synth, sfid)
        return self._synths[sample_rate]

    def _write(self, synth, frames: int) -> np.ndarray:
        # pyfluidsynth only offers 16-bit output; FluidSynth itself renders float, so ask for that.
        fluidsynth = optional.fluidsynth()
        self._written[id(synth)] = self._written.get(id(synth), 0) + frames
        buf = np.empty(2 * frames, dtype=np.float32)
        ptr = buf.ctypes.data_as(ctypes.c_void_p)
        fluidsynth._fl.fluid_synth_write_float(
            ctypes.c_void_p(synth.synth), ctypes.c_int(frames), ptr, 0, 2, ptr, 1, 2)
        return buf.reshape(frames, 2)

    def _silence(self, synth, sample_rate: int) -> None:
        # Stop every voice and let reverb and chorus die out far below the tail threshold, so
        # that no render hears the previous one and renders of one sketch agree.
        synth.system_reset()
        for _ in range(int(RESET_MAX_S * sample_rate / BLOCK) + 1):
            if np.max(np.abs(self._write(synth, BLOCK))) < RESET_SILENCE:
                break
        # FluidSynth applies events at the start of its internal 64-frame blocks: start every
        # render on a block boundary, so that notes start at the same sample in every render.
        misaligned = self._written.get(id(synth), 0) % FLUID_BLOCK
        if misaligned:
            self._write(synth, FLUID_BLOCK - misaligned)

    def _channels(self, sketch: Sketch, synth, sfid: int) -> list[int]:
        # Each track its own channel; drums on GM channel 10 (index 9, and every 16th after it)
        # with the percussion bank.
        melodic = (c for c in range(64) if c % 16 != 9)
        out = []
        for track in sketch.tracks:
            if track.is_drum:
                out.append(9)
                synth.program_select(9, sfid, 128, track.program)
            else:
                c = next(melodic, 0)
                out.append(c)
                synth.program_select(c, sfid, 0, track.program)
        return out

    def render(self, sketch: Sketch, sample_rate: int = 44100) -> np.ndarray:
        """Stereo audio of the whole sketch, shape (frames, 2), float32, tail included."""
        with self._lock:
            synth, sfid = self._synth(sample_rate)
            self._silence(synth, sample_rate)
            channels = self._channels(sketch, synth, sfid)
            blocks: list[np.ndarray] = []
            now = 0
            for at, kind, track, pitch, velocity in _events(sketch, sample_rate):
                if at > now:
                    blocks.append(self._write(synth, at - now))
                    now = at
                if kind:
                    synth.noteon(channels[track], pitch, velocity)
                else:
                    synth.noteoff(channels[track], pitch)
            blocks.extend(self._tail(synth, sample_rate))
            return _limit(np.concatenate(blocks) if blocks else np.zeros((0, 2), np.float32))

    def _tail(self, synth, sample_rate: int) -> list[np.ndarray]:
        out = []
        for _ in range(int(MAX_TAIL_S * sample_rate / BLOCK) + 1):
            block = self._write(synth, BLOCK)
            out.append(block)
            if np.max(np.abs(block)) < SILENCE:
                break
        return out

    def render_note(self, pitch: int, velocity: int = 100, duration_s: float = 0.5, program: int = 0,
                    is_drum: bool = False, sample_rate: int = 44100) -> np.ndarray:
        """One note for a preview, shape (frames, 2), float32; a few milliseconds to make."""
        with self._lock:
            synth, sfid = self._synth(sample_rate)
            self._silence(synth, sample_rate)
            channel = 9 if is_drum else 0
            synth.program_select(channel, sfid, 128 if is_drum else 0, program)
            synth.noteon(channel, pitch, velocity)
            blocks = [self._write(synth, max(int(duration_s * sample_rate), 1))]
            synth.noteoff(channel, pitch)
            blocks.extend(self._tail(synth, sample_rate))
            return _limit(np.concatenate(blocks))

    def close(self) -> None:
        with self._lock:
            for synth, _ in self._synths.values():
                synth.delete()
            self._synths.clear()


# -- the built-in synth -------------------------------------------------------------------------

@dataclass(frozen=True)
class _Timbre:
    harmonics: tuple[float, ...]  # amplitude of partial k+1
    attack_s: float
    decay_s: float  # time for the held sound to fall by 1/e (inf: organ-like sustain)
    release_s: float


_PLUCKED = _Timbre((1.0, 0.5, 0.32, 0.2, 0.13, 0.08, 0.05, 0.03), 0.004, 1.2, 0.08)
_SUSTAINED = _Timbre((1.0, 0.35, 0.25, 0.12, 0.08, 0.05), 0.03, float("inf"), 0.12)
_BOWED = _Timbre((1.0, 0.6, 0.4, 0.3, 0.2, 0.15, 0.1), 0.08, float("inf"), 0.2)


def _timbre(program: int) -> _Timbre:
    family = program // 8  # General MIDI families of eight programs
    if family in (0, 1, 3, 4, 12):  # piano, chromatic percussion, guitar, bass, ethnic (plucked)
        return _PLUCKED
    if family in (5, 6):  # strings, ensemble
        return _BOWED
    return _SUSTAINED


class BuiltinSynth:
    """A small additive synth in numpy: a few harmonics with an envelope, noise for drums.

    Deterministic: the same sketch always gives the same samples.
    """

    name = "built-in synth"
    description = "the built-in synth"


    def ready(self, sample_rate: int) -> bool:
        return True  # nothing to load
    def _note(self, pitch: int, velocity: int, duration_s: float, program: int,
              sample_rate: int) -> np.ndarray:
        timbre = _timbre(program)
        freq = 440.0 * 2 ** ((pitch - 69) / 12)
        held = max(int(duration_s * sample_rate), 1)
        release = int(timbre.release_s * sample_rate)
        t = np.arange(held + release, dtype=np.float64) / sample_rate
        phase = 2 * np.pi * freq * t
        wave = np.zeros_like(t)
        for k, amp in enumerate(timbre.harmonics, start=1):
            if k * freq >= sample_rate / 2 * 0.9:
                break
            # Higher notes are brighter for longer in a piano; a touch of that for life.
            wave += amp * np.sin(k * phase)
        env = np.ones_like(t)
        attack = max(int(timbre.attack_s * sample_rate), 1)
        env[:attack] = np.linspace(0.0, 1.0, attack, endpoint=False)
        if np.isfinite(timbre.decay_s):
            decay = timbre.decay_s * (1.5 if pitch < 60 else 1.0) * (261.6 / max(freq, 65.0)) ** 0.3
            env *= np.exp(-t / decay)
        # Release: an exponential fall to -60 dB over release_s, so the tail dies naturally.
        level_at_release = env[min(held, len(env) - 1)]
        env[held:] = level_at_release * 1e-3 ** np.linspace(0.0, 1.0, len(env) - held)
        gain = 0.18 * (velocity / 127.0) ** 1.5
        return (gain * wave * env).astype(np.float32)

    @staticmethod
    def _drum(pitch: int, velocity: int, sample_rate: int, seed: int) -> np.ndarray:
        cls = drum_class(pitch)
        rng = np.random.default_rng(seed)
        length = {0: 0.35, 1: 0.25, 2: 0.06, 3: 0.35, 7: 1.2, 8: 0.8}.get(cls, 0.4)
        t = np.arange(int(length * sample_rate)) / sample_rate
        noise = rng.standard_normal(len(t))
        if cls == 0:  # kick: a falling sine
            f = 50 + 100 * np.exp(-t * 30)
            sound = np.sin(2 * np.pi * np.cumsum(f) / sample_rate) * np.exp(-t * 9)
        elif cls in (4, 5, 6):  # toms
            base = {4: 90, 5: 130, 6: 180}[cls]
            f = base * (1 + 0.5 * np.exp(-t * 20))
            sound = np.sin(2 * np.pi * np.cumsum(f) / sample_rate) * np.exp(-t * 7)
        elif cls == 1:  # snare: tone and noise
            sound = (0.5 * np.sin(2 * np.pi * 190 * t) + 0.7 * noise) * np.exp(-t * 18)
        else:  # hats and cymbals: bright noise (a first difference tilts it up)
            bright = np.diff(noise, prepend=0.0)
            sound = 0.6 * bright * np.exp(-t * {2: 60, 3: 9, 7: 3.5, 8: 5}.get(cls, 12))
        return (0.3 * (velocity / 127.0) * sound).astype(np.float32)

    def render(self, sketch: Sketch, sample_rate: int = 44100) -> np.ndarray:
        """Stereo audio of the whole sketch, shape (frames, 2), float32, tail included."""
        pieces = []
        for i, track in enumerate(sketch.tracks):
            for n in track.without_overlaps().notes:
                start_s = sketch.ticks_to_seconds(n.start_tick)
                start = int(round(start_s * sample_rate))
                if track.is_drum:
                    sound = self._drum(n.pitch, n.velocity, sample_rate, seed=hash((i, n.pitch, start)) & 0xFFFFFFFF)
                else:
                    dur = sketch.ticks_to_seconds(n.end_tick) - start_s
                    sound = self._note(n.pitch, n.velocity, dur, track.program, sample_rate)
                pieces.append((start, sound))
        total = max((s + len(x) for s, x in pieces), default=0)
        mono = np.zeros(total, dtype=np.float32)
        for start, sound in pieces:
            mono[start:start + len(sound)] += sound
        return _limit(np.repeat(mono[:, None], 2, axis=1))

    def render_note(self, pitch: int, velocity: int = 100, duration_s: float = 0.5, program: int = 0,
                    is_drum: bool = False, sample_rate: int = 44100) -> np.ndarray:
        sound = (self._drum(pitch, velocity, sample_rate, seed=pitch) if is_drum
                 else self._note(pitch, velocity, duration_s, program, sample_rate))
        return np.repeat(sound[:, None], 2, axis=1)

    def close(self) -> None:
        pass


Synth = FluidSynthRenderer | BuiltinSynth


def make_synth(kind: str = "auto", soundfont: str | os.PathLike | None = None) -> Synth:
    """The synth to use: "fluidsynth", "builtin", or "auto" (FluidSynth, else built-in).

    With "auto" the returned synth has a ``note`` attribute saying why FluidSynth was not
    used, or None. With "fluidsynth", a `SynthError` says what is missing.
    """
    if kind not in ("auto", "fluidsynth", "builtin"):
        raise SynthError(f"Unknown synth '{kind}'; choose fluidsynth or builtin.")
    if kind == "builtin":
        synth = BuiltinSynth()
        synth.note = None
        return synth
    try:
        synth = FluidSynthRenderer(soundfont)
        synth.note = None
        return synth
    except SynthError as e:
        if kind == "fluidsynth":
            raise
        synth = BuiltinSynth()
        synth.note = f"{e} Using the built-in synth instead."
        return synth


def synth_status(soundfont: str | os.PathLike | None = None) -> tuple[str, str | None]:
    """What the "synth" renderer will use, and why not FluidSynth (or None), without loading it.

    For a status bar: ("FluidSynth with TimGM6mb.sf2", None) or
    ("the built-in synth", "FluidSynth is not installed ...").
    """
    if optional.fluidsynth() is None:
        return BuiltinSynth.description, (
            "FluidSynth is not installed (the libfluidsynth library was not found); "
            "install it for General MIDI instruments.")
    path = Path(soundfont) if soundfont else default_soundfont()
    if not path.is_file():
        return BuiltinSynth.description, f"The soundfont '{path.name}' does not exist."
    return f"FluidSynth with {path.name}", None

"""The neural renderer: notes -> MelFlow -> log-mel -> a vocoder -> audio.

Each audible track is rendered with its own program: its notes become MelFlow's piano-roll
features for the whole sketch, MelFlow turns them into a mel window by window (each window with
enough context either side that the frames kept are those of one pass over the whole track),
and the vocoder turns the mel into audio window by window the same way, joined by a one-hop
crossfade. The tracks' audio is summed; drum tracks are played by the soundfont synth (MelFlow
learnt pitched instruments only) and mixed in; the mix is limited like the synth's.

Memory is bounded by the window (the features of one window at a time, the mel of the whole
track: 27 KB per second). ``progress(fraction, message)`` is told after every window and
``cancel()`` (which raises `engine.jobs.Cancelled`) is called between them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable

import numpy as np

from engine.audio.mel import MEL
from engine.errors import CantusError
from engine.music.sketch import Sketch

MELFLOW_MODEL = "melflow"  # resources/models/<name>
MELFLOW_LABEL = "MelFlow"
WINDOW_FRAMES = 864  # about 10 s per window (even: MelFlow folds frame pairs)
MEL_CONTEXT_FRAMES = 128  # MelFlow context either side of a window (its effective reach is less)
VOCODER_CONTEXT_FRAMES = 64  # the fast vocoder reaches 27 frames either side
DEFAULT_TEMPERATURE = 0.5
# Vocoders fine-tuned on MelFlow's own mels (resources/models/<name>): the renderer uses them
# where they are installed, the vocoder's own bundle otherwise.
MELFLOW_VOCODERS = {"fast": "fast-vocoder-melflow"}


class NeuralRenderError(CantusError):
    """The neural renderer cannot run (its model is missing or damaged); the sentence says why."""


@dataclass
class NeuralResult:
    audio: np.ndarray  # float32 mono at MEL.sample_rate
    mel: np.ndarray | None  # (n_mels, frames) log-mel of the pitched tracks (MelFlow's own); None in a partial
    temperature: float
    device: str
    ready_s: float | None = None  # a partial result (render_neural_stream): the audio so far, this long
    duration_s: float | None = None  # a partial result: how long the whole will be

    @property
    def complete(self) -> bool:
        return self.ready_s is None


_melflows: dict[str, tuple] = {}


def get_melflow(model: str | os.PathLike | None = None, device: str | None = None):
    """(MelFlow on its device, its config.json) for the bundled model or a bundle folder, loaded once."""
    from engine.models.melflow import MelFlow, MelFlowConfig
    from engine.registry import load_model

    key = f"{model or MELFLOW_MODEL}|{device or ''}"
    if key not in _melflows:
        net, config, _ = load_model(model or MELFLOW_MODEL, "melflow", lambda c: MelFlow(MelFlowConfig.from_dict(c)),
                                    MELFLOW_LABEL, device)
        _melflows[key] = (net, config)
    return _melflows[key]


def available(vocoder: str = "fast") -> str | None:
    """Why the neural renderer with this vocoder cannot be used, in a sentence (None: it can).
    Cheap: looks for the files, loads nothing."""
    from engine.audio import vocode
    from engine.registry import not_installed

    return not_installed(MELFLOW_MODEL, "MelFlow (notes to mel)") or vocode.available(vocoder)


def melflow_vocoder(vocoder: str) -> str | None:
    """The bundle of ``vocoder`` fine-tuned on MelFlow's mels, if one is installed (None: its own)."""
    from engine.registry import not_installed

    name = MELFLOW_VOCODERS.get(vocoder)
    return name if name is not None and not_installed(name, name) is None else None


def track_notes(sketch: Sketch, track) -> np.ndarray:
    """A track's notes as rows (pitch, velocity, start_s, end_s, program), overlaps resolved as
    the synth resolves them."""
    rows = [(n.pitch, n.velocity, sketch.ticks_to_seconds(n.start_tick), sketch.ticks_to_seconds(n.end_tick),
             track.program) for n in track.without_overlaps().notes]
    return np.asarray(rows, dtype=np.float32).reshape(-1, 5)


def sketch_frames(sketch: Sketch, tail_s: float = 1.5) -> int:
    """Mel frames for the whole sketch and the release of its last note, rounded up to even."""
    n = int(np.ceil((sketch.duration_s + tail_s) * MEL.frames_per_second)) + 1
    return n + n % 2


class MelWindows:
    """MelFlow's log-mel (n_mels, n_frames) of one instrument's notes, made window by window as
    far as it is asked for (``ensure``), so that a renderer can vocode the first seconds before
    the rest exists.

    One noise draw (seeded) covers the whole piece and each window takes its slice, so the
    windows agree on their context and the result is that of one pass, whatever the window size.
    """

    def __init__(self, net, notes: np.ndarray, program: int, n_frames: int, temperature: float,
                 seed: int | None = 0, use_flow: bool = True) -> None:
        import torch

        self.net, self.notes, self.n_frames = net, notes, int(n_frames)
        self.temperature, self.use_flow = temperature, use_flow
        self.device = next(net.parameters()).device
        gen = torch.Generator().manual_seed(seed if seed is not None else int(np.random.SeedSequence().entropy % 2**31))
        # Frame-major, so that frame t's noise is the same whatever the piece's length or windows.
        self.noise = torch.randn((self.n_frames + 2, net.cfg.n_mels), generator=gen).T[None]
        self.program = torch.tensor([int(program)], device=self.device)
        self.mel = np.full((net.cfg.n_mels, self.n_frames), MEL.silence, dtype=np.float32)
        self.done = 0  # frames made so far (a whole number of windows, or all)
        self.windows = -(-self.n_frames // WINDOW_FRAMES)

    def ensure(self, frames: int, progress: Callable | None = None, cancel: Callable | None = None) -> np.ndarray:
        """Make every window up to frame ``frames`` (not yet made); returns the mel so far."""
        import torch

        from engine.models.melflow import note_features

        frames = min(int(frames), self.n_frames)
        while self.done < frames:
            a = self.done
            b = min(a + WINDOW_FRAMES, self.n_frames)
            lo = max(a - MEL_CONTEXT_FRAMES, 0) // 2 * 2  # windows start on even frames: the same frame pairs
            hi = min(b + MEL_CONTEXT_FRAMES, self.n_frames)
            feats = torch.from_numpy(note_features(self.notes, hi - lo, self.net.cfg, start_frame=lo))[None]
            eps = self.noise[..., lo:hi + 1].to(self.device)
            with torch.no_grad():
                mel = self.net.generate(feats.to(self.device), self.program, temperature=self.temperature,
                                        noise=eps, use_flow=self.use_flow)
            self.mel[:, a:b] = mel[0, :, a - lo:b - lo].float().cpu().numpy()
            self.done = b
            if progress:
                progress(-(-b // WINDOW_FRAMES) / self.windows, "MelFlow")
            if cancel:
                cancel()
        return self.mel


def melflow_mel(net, notes: np.ndarray, program: int, n_frames: int, temperature: float, seed: int | None = 0,
                use_flow: bool = True, progress: Callable | None = None, cancel: Callable | None = None) -> np.ndarray:
    """MelFlow's log-mel (n_mels, n_frames) of one instrument's notes (`MelWindows`, all of it)."""
    return MelWindows(net, notes, program, n_frames, temperature, seed, use_flow).ensure(n_frames, progress, cancel)


def vocode_window(vocoder, mel: np.ndarray, a: int, b: int, num_samples: int) -> tuple[int, np.ndarray]:
    """(first sample, audio) of mel frames a..b (b exclusive) through a frame-rate vocoder, with
    context either side; faded in over its first hop (after frame 0) and out over one hop past
    frame b (before the end), so that neighbouring windows sum to exactly one at every sample."""
    hop, frames = MEL.hop_length, mel.shape[1]
    lo, hi = max(a - VOCODER_CONTEXT_FRAMES, 0), min(b + VOCODER_CONTEXT_FRAMES, frames)
    audio = vocoder(mel[:, lo:hi], (hi - lo - 1) * hop)
    s0, s1 = a * hop, min(b * hop + (hop if b < frames else 0), num_samples)
    piece = audio[s0 - lo * hop: s1 - lo * hop]
    piece = np.pad(piece, (0, max(s1 - s0 - len(piece), 0)))[:s1 - s0].copy()
    fade = crossfade(hop)
    if a > 0:
        piece[:hop] *= fade[:len(piece[:hop])]
    if b < frames:
        piece[-hop:] *= 1.0 - fade  # with the next window's fade-in: exactly 1 at every sample
    return s0, piece


def crossfade(hop: int = MEL.hop_length) -> np.ndarray:
    """The fade-in between two windows (the previous one fades out by one minus it)."""
    return np.linspace(0.0, 1.0, hop, endpoint=False, dtype=np.float32)


def windowed(vocoder) -> bool:
    """Whether a vocoder runs window by window (a frame-rate one) or over the whole mel at once
    (the WaveNet joins its own chunks; Griffin-Lim's windows, their phases estimated apart,
    would not join)."""
    return vocoder.name not in ("wavenet", "griffinlim")


def vocode_windows(vocoder, mel: np.ndarray, num_samples: int, progress: Callable | None = None,
                   cancel: Callable | None = None, seed: int | None = 0) -> np.ndarray:
    """The vocoder over a long mel window by window (`vocode_window`), or whole where it must be."""
    if not windowed(vocoder):
        return vocoder(mel, num_samples, progress, cancel, seed)
    out = np.zeros(num_samples, dtype=np.float32)
    starts = list(range(0, mel.shape[1], WINDOW_FRAMES))
    for i, a in enumerate(starts):
        s0, piece = vocode_window(vocoder, mel, a, min(a + WINDOW_FRAMES, mel.shape[1]), num_samples)
        out[s0:s0 + len(piece)] += piece
        if progress:
            progress((i + 1) / len(starts), vocoder.label)
        if cancel:
            cancel()
    return out


def render_neural(sketch: Sketch, vocoder: str = "fast", temperature: float | None = None, seed: int | None = 0,
                  model: str | os.PathLike | None = None, vocoder_model: str | os.PathLike | None = None,
                  use_flow: bool = True, progress: Callable | None = None,
                  cancel: Callable | None = None) -> NeuralResult:
    """Every track of ``sketch`` (already reduced to the audible ones) through MelFlow and a
    vocoder: `render_neural_stream` to its end.

    temperature : MelFlow's sampling temperature (None: the bundle's, chosen on validation);
        0 gives the prior's mean through the flow.
    use_flow : False renders the note encoder's mean alone (the regression baseline).
    Raises `engine.registry.ModelLoadError` when MelFlow or the vocoder is missing or damaged.
    """
    from engine.jobs import run_to_end

    return run_to_end(render_neural_stream(sketch, vocoder, temperature, seed, model, vocoder_model, use_flow,
                                           progress, cancel))


def render_neural_stream(sketch: Sketch, vocoder: str = "fast", temperature: float | None = None,
                         seed: int | None = 0, model: str | os.PathLike | None = None,
                         vocoder_model: str | os.PathLike | None = None, use_flow: bool = True,
                         progress: Callable | None = None, cancel: Callable | None = None):
    """`render_neural` as a generator: with a frame-rate vocoder the sketch is rendered window
    by window across all its tracks, and after windows 1, 2, 4, 8... (not the last) it yields the
    mix so far (a `NeuralResult` whose ``ready_s`` says how much is ready), so that playback can
    start on the first seconds. Its return value is the whole render, the same audio as one pass.

    Each partial is limited to its own peak like the whole; where a later passage is louder
    than 0.95 of full scale, the whole comes out a little quieter than its first seconds did."""
    from engine.audio.synth import _limit
    from engine.audio.vocode import get_vocoder
    from engine.registry import device_name

    net, config = get_melflow(model)
    voc = get_vocoder(vocoder, vocoder_model or melflow_vocoder(vocoder))
    if temperature is None:
        temperature = float(config.get("temperature", DEFAULT_TEMPERATURE))
    device = device_name(next(net.parameters()).device)
    pitched = [t for t in sketch.tracks if not t.is_drum and t.notes]
    drums = [t for t in sketch.tracks if t.is_drum and t.notes]
    n_frames = sketch_frames(sketch)
    num_samples = (n_frames - 1) * MEL.hop_length
    audio = np.zeros(num_samples, dtype=np.float32)
    if drums:  # the soundfont synth plays them, first: every partial mix has them
        from engine.audio.render import get_synth

        kit = Sketch(drums, sketch.tempos, sketch.time_signatures)
        drum_audio = get_synth("synth").render(kit, MEL.sample_rate).mean(axis=1)
        n = min(len(drum_audio), num_samples)
        audio[:n] += drum_audio[:n]
    mels = [MelWindows(net, track_notes(sketch, t), t.program, n_frames, temperature,
                       None if seed is None else seed + k, use_flow) for k, t in enumerate(pitched)]
    names = [t.name or "track" for t in pitched]
    if windowed(voc):
        starts = list(range(0, n_frames, WINDOW_FRAMES))
        steps, done = len(starts) * len(mels), 0
        for a in starts:
            b = min(a + WINDOW_FRAMES, n_frames)
            for k, mw in enumerate(mels):
                mw.ensure(b + VOCODER_CONTEXT_FRAMES, cancel=cancel)  # the window and its right context
                s0, piece = vocode_window(voc, mw.mel, a, b, num_samples)
                audio[s0:s0 + len(piece)] += piece
                done += 1
                if progress:
                    progress(done / steps, f"{MELFLOW_LABEL} and {voc.label}: {names[k]}")
                if cancel:
                    cancel()
            # Samples before b * hop are final (the next window only fades in after). Partials
            # come after windows 1, 2, 4, 8...: each copies and resamples all that is ready, so
            # doubling keeps that work within twice the whole's.
            window = a // WINDOW_FRAMES + 1
            if b < n_frames and window & (window - 1) == 0:
                ready = b * MEL.hop_length
                yield NeuralResult(_limit(audio[:ready].copy()), None, temperature, device,
                                   ready_s=ready / MEL.sample_rate, duration_s=num_samples / MEL.sample_rate)
    else:
        for k, mw in enumerate(mels):
            def stage(base, name, k=k):
                return (lambda f, msg="": progress((base + f) / (2 * len(mels)), f"{msg or name}: {names[k]}")
                        ) if progress else None

            mw.ensure(n_frames, stage(2 * k, MELFLOW_LABEL), cancel)
            audio += voc(mw.mel, num_samples, stage(2 * k + 1, voc.label), cancel, seed)
    if drums and progress and not pitched:
        progress(1.0, "Drums (soundfont synth)")
    mel_sum = np.zeros((MEL.n_mels, n_frames), dtype=np.float64)
    for mw in mels:
        mel_sum += np.exp(mw.mel.astype(np.float64))
    mel_out = np.log(np.maximum(mel_sum, np.exp(MEL.silence))).astype(np.float32)
    return NeuralResult(_limit(audio), mel_out, temperature, device)

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


class NeuralRenderError(CantusError):
    """The neural renderer cannot run (its model is missing or damaged); the sentence says why."""


@dataclass
class NeuralResult:
    audio: np.ndarray  # float32 mono at MEL.sample_rate
    mel: np.ndarray  # (n_mels, frames) log-mel of the pitched tracks (MelFlow's own)
    temperature: float
    device: str


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


def melflow_mel(net, notes: np.ndarray, program: int, n_frames: int, temperature: float, seed: int | None = 0,
                use_flow: bool = True, progress: Callable | None = None, cancel: Callable | None = None) -> np.ndarray:
    """MelFlow's log-mel (n_mels, n_frames) of one instrument's notes, window by window.

    One noise draw (seeded) covers the whole piece and each window takes its slice, so the
    windows agree on their context and the result is that of one pass, whatever the window size.
    """
    import torch

    from engine.models.melflow import note_features

    cfg = net.cfg
    dev = next(net.parameters()).device
    gen = torch.Generator().manual_seed(seed if seed is not None else int(np.random.SeedSequence().entropy % 2**31))
    # Frame-major, so that frame t's noise is the same whatever the piece's length or windows.
    noise = torch.randn((n_frames + 2, cfg.n_mels), generator=gen).T[None]
    out = np.empty((cfg.n_mels, n_frames), dtype=np.float32)
    program_t = torch.tensor([int(program)], device=dev)
    starts = range(0, n_frames, WINDOW_FRAMES)
    for i, a in enumerate(starts):
        b = min(a + WINDOW_FRAMES, n_frames)
        lo = max(a - MEL_CONTEXT_FRAMES, 0) // 2 * 2  # windows start on even frames: the same frame pairs
        hi = min(b + MEL_CONTEXT_FRAMES, n_frames)
        feats = torch.from_numpy(note_features(notes, hi - lo, cfg, start_frame=lo))[None].to(dev)
        eps = noise[..., lo:hi + 1].to(dev)
        with torch.no_grad():
            mel = net.generate(feats, program_t, temperature=temperature, noise=eps, use_flow=use_flow)
        out[:, a:b] = mel[0, :, a - lo:b - lo].float().cpu().numpy()
        if progress:
            progress((i + 1) / len(starts), "MelFlow")
        if cancel:
            cancel()
    return out


def vocode_windows(vocoder, mel: np.ndarray, num_samples: int, progress: Callable | None = None,
                   cancel: Callable | None = None, seed: int | None = 0) -> np.ndarray:
    """The vocoder over a long mel window by window, joined by a one-hop crossfade.

    A frame-rate vocoder (fast, Griffin-Lim) gets context either side of each window; the
    WaveNet renders the whole mel at once (it already joins its own chunks), and so does
    Griffin-Lim (windows with phases estimated apart would not join)."""
    if vocoder.name in ("wavenet", "griffinlim"):  # windows of independent phase would not join
        return vocoder(mel, num_samples, progress, cancel, seed)
    hop = MEL.hop_length
    frames = mel.shape[1]
    out = np.zeros(num_samples, dtype=np.float32)
    fade = np.linspace(0.0, 1.0, hop, endpoint=False, dtype=np.float32)
    starts = list(range(0, frames, WINDOW_FRAMES))
    for i, a in enumerate(starts):
        b = min(a + WINDOW_FRAMES, frames)
        lo, hi = max(a - VOCODER_CONTEXT_FRAMES, 0), min(b + VOCODER_CONTEXT_FRAMES, frames)
        audio = vocoder(mel[:, lo:hi], (hi - lo - 1) * hop)
        # keep samples a*hop .. b*hop (+ one hop to fade into the next window)
        s0, s1 = a * hop, min(b * hop + (hop if b < frames else 0), num_samples)
        piece = audio[s0 - lo * hop: s1 - lo * hop]
        piece = np.pad(piece, (0, max(s1 - s0 - len(piece), 0)))
        if a > 0:
            piece[:hop] *= fade
        if b < frames:
            piece[-hop:] *= 1.0 - fade  # with the next window's fade-in: exactly 1 at every sample
        out[s0:s1] += piece[:s1 - s0]
        if progress:
            progress((i + 1) / len(starts), vocoder.label)
        if cancel:
            cancel()
    return out


def render_neural(sketch: Sketch, vocoder: str = "fast", temperature: float | None = None, seed: int | None = 0,
                  model: str | os.PathLike | None = None, vocoder_model: str | os.PathLike | None = None,
                  use_flow: bool = True, progress: Callable | None = None,
                  cancel: Callable | None = None) -> NeuralResult:
    """Every track of ``sketch`` (already reduced to the audible ones) through MelFlow and a vocoder.

    temperature : MelFlow's sampling temperature (None: the bundle's, chosen on validation);
        0 gives the prior's mean through the flow.
    use_flow : False renders the note encoder's mean alone (the regression baseline).
    Raises `engine.registry.ModelLoadError` when MelFlow or the vocoder is missing or damaged.
    """
    from engine.audio.synth import _limit
    from engine.audio.vocode import get_vocoder
    from engine.registry import device_name

    net, config = get_melflow(model)
    voc = get_vocoder(vocoder, vocoder_model)
    if temperature is None:
        temperature = float(config.get("temperature", DEFAULT_TEMPERATURE))
    pitched = [t for t in sketch.tracks if not t.is_drum and t.notes]
    drums = [t for t in sketch.tracks if t.is_drum and t.notes]
    n_frames = sketch_frames(sketch)
    num_samples = (n_frames - 1) * MEL.hop_length
    audio = np.zeros(num_samples, dtype=np.float32)
    mel_sum = np.zeros((MEL.n_mels, n_frames), dtype=np.float64)
    steps = 2 * len(pitched) + bool(drums)
    for k, track in enumerate(pitched):
        def stage(base, name):
            return (lambda f, msg="": progress((base + f) / steps, f"{msg or name}: {track.name or 'track'}")
                    ) if progress else None

        mel = melflow_mel(net, track_notes(sketch, track), track.program, n_frames, temperature,
                          None if seed is None else seed + k, use_flow, stage(2 * k, "MelFlow"), cancel)
        mel_sum += np.exp(mel.astype(np.float64))
        audio += vocode_windows(voc, mel, num_samples, stage(2 * k + 1, voc.label), cancel, seed)
    if drums:
        from engine.audio.render import get_synth

        kit = Sketch(drums, sketch.tempos, sketch.time_signatures)
        drum_audio = get_synth("synth").render(kit, MEL.sample_rate).mean(axis=1)
        n = min(len(drum_audio), num_samples)
        audio[:n] += drum_audio[:n]
        if progress:
            progress(1.0, "Drums (soundfont synth)")
    mel_out = np.log(np.maximum(mel_sum, np.exp(MEL.silence))).astype(np.float32)
    return NeuralResult(_limit(audio), mel_out, temperature, device_name(next(net.parameters()).device))

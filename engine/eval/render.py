"""How close each vocoder comes to the synth's own render (`cantus eval render --json`).

On held-out pieces (the test split of the paired audio corpus, or the MIDI files of a folder
rendered by the synth), each method turns the reference's mel back into audio, and is scored
against the reference:

- ``mrstft``: multi-resolution STFT distance (auraloss's default: spectral convergence plus log
  magnitude L1 at 1024, 2048 and 512 points), lower is better;
- ``mel_l1``: mean absolute difference of the log-mels;
- ``pitch_accuracy``: on monophonic melodies, the fraction of frames where a note sounds (from
  the notes, its first 50 ms and its release left out) in which librosa's pYIN hears a voiced
  pitch within half a semitone of it; the reference is scored too, since pYIN is not perfect;
- ``onset_f1``: librosa's onset detector against the notes' onsets, 50 ms tolerance (mir_eval);
- ``frame_ripple``: how strongly the amplitude envelope throbs at the mel's frame rate (86 Hz,
  where a frame-wise vocoder's seams show), against the reference's throb at that rate: 1 is as
  the reference, higher is a roughness the reference does not have;
- ``rtf``: seconds of compute per second of audio (below 1 is faster than real time);
- ``n_pieces``.

Methods: ``reference`` (the synth's audio itself: the ceiling of the last two measures),
``griffinlim`` (the baseline), ``fast``, ``wavenet``: vocoders given the reference's own mel
(copy synthesis); and the neural renderers given only the notes: ``melflow+fast``,
``melflow+wavenet`` (MelFlow's mel, then the vocoder) and ``encoder+fast`` (MelFlow's note
encoder alone, its mean as the mel: the regression baseline MelFlow must beat). For those,
``melflow_rtf`` is MelFlow's own share of the time.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.audio.mel import MEL, log_mel
from engine.errors import CantusError

METHODS = ("reference", "griffinlim", "fast", "wavenet")
NEURAL_METHODS = {"melflow+fast": ("fast", True), "melflow+wavenet": ("wavenet", True),
                  "encoder+fast": ("fast", False)}  # method -> (vocoder, through the flow)
ALL_METHODS = METHODS + tuple(NEURAL_METHODS)
ONSET_WINDOW_S = 0.05
PITCH_SKIP_S = 0.05  # the attack of a note, where pitch is not yet settled


@dataclass
class Piece:
    name: str
    audio: np.ndarray  # mono float32 at the mel rate
    notes: np.ndarray  # float32 (n, 5): pitch, velocity, start_s, end_s, program
    monophonic: bool


def test_pieces(sources: str = "pop909", limit: int | None = None, seconds: float | None = None,
                split: str = "test") -> list[Piece]:
    """The test split (or another) of the paired audio corpora (built when needed), a seeded
    sample of ``limit`` clips alternating melodies and mixes, each cut to ``seconds``."""
    from engine.data.audio_corpus import load_audio_corpora

    clips = [c for corpus in load_audio_corpora(sources) for c in corpus.split(split)]
    if not clips:
        raise CantusError(f"The audio corpora {sources} have no {split} pieces.")
    rng = np.random.default_rng(0)
    melodies = [c for c in clips if c.kind == "melody"]
    others = [c for c in clips if c.kind != "melody"]
    rng.shuffle(melodies)
    rng.shuffle(others)
    ordered = [c for pair in zip(melodies, others) for c in pair]
    ordered += melodies[len(others):] + others[len(melodies):]
    if limit is not None:
        ordered = ordered[:limit]
    pieces = []
    for c in ordered:
        d = c.load()
        pieces.append(_cut(Piece(f"{c.piece_id} {c.kind}", d["audio"], d["notes"], c.kind == "melody"), seconds))
    return pieces


def folder_pieces(folder: str | Path, limit: int | None = None, seconds: float | None = 20.0) -> list[Piece]:
    """Every MIDI file of a folder rendered by the synth (a POP909 song: its MELODY and PIANO
    tracks), each cut to its first ``seconds``."""
    from engine.audio.render import get_synth
    from engine.data.sources import folder_files
    from engine.music.midi_io import read_midi
    from engine.music.sketch import Sketch

    root = Path(folder).expanduser()
    if not root.is_dir():
        raise CantusError(f"'{folder}' is not a folder of MIDI files.")
    files = folder_files(root)[:limit] if limit else folder_files(root)
    if not files:
        raise CantusError(f"There is no MIDI file (.mid, .midi) in the folder '{root}'.")
    synth = get_synth()  # the process's one soundfont synth
    pieces = []
    for name, path in files:
        sketch = read_midi(path)
        names = {t.name.strip().upper() for t in sketch.tracks}
        tracks = [t for t in sketch.tracks if not t.is_drum and t.notes]
        if {"MELODY", "PIANO"} <= names:
            tracks = [t for t in tracks if t.name.strip().upper() in ("MELODY", "PIANO")]
        if not tracks:
            continue
        sub = Sketch(tracks, sketch.tempos, sketch.time_signatures)
        audio = synth.render(sub, MEL.sample_rate).mean(axis=1).astype(np.float32)
        notes = np.array([(n.pitch, n.velocity, sketch.ticks_to_seconds(n.start_tick),
                           sketch.ticks_to_seconds(n.end_tick), t.program) for t in tracks for n in t.notes],
                         dtype=np.float32)
        mono = len(tracks) == 1 and tracks[0].is_monophonic()
        pieces.append(_cut(Piece(name, audio, notes, mono), seconds))
    return pieces


def _cut(piece: Piece, seconds: float | None) -> Piece:
    if seconds is None:
        n = len(piece.audio) // MEL.hop_length * MEL.hop_length
        return Piece(piece.name, piece.audio[:n], piece.notes, piece.monophonic)
    n = int(seconds * MEL.sample_rate) // MEL.hop_length * MEL.hop_length
    notes = piece.notes[piece.notes[:, 2] < n / MEL.sample_rate] if len(piece.notes) else piece.notes
    return Piece(piece.name, piece.audio[:n], notes, piece.monophonic)


# -- measures -------------------------------------------------------------------------------------

_mrstft = None


def mrstft(pred: np.ndarray, ref: np.ndarray) -> float:
    """auraloss's MultiResolutionSTFTLoss with its defaults."""
    global _mrstft
    import auraloss
    import torch

    if _mrstft is None:
        _mrstft = auraloss.freq.MultiResolutionSTFTLoss()
    n = min(len(pred), len(ref))
    with torch.no_grad():
        return float(_mrstft(torch.from_numpy(pred[:n])[None, None], torch.from_numpy(ref[:n])[None, None]))


def mel_l1(pred: np.ndarray, ref_mel: np.ndarray) -> float:
    m = log_mel(pred)
    t = min(m.shape[1], ref_mel.shape[1])
    return float(np.mean(np.abs(m[:, :t] - ref_mel[:, :t])))


def pitch_accuracy(audio: np.ndarray, notes: np.ndarray) -> float | None:
    """Fraction of note frames where pYIN hears the note's pitch within half a semitone."""
    import librosa

    if not len(notes):
        return None
    f0, voiced, _ = librosa.pyin(audio, fmin=librosa.midi_to_hz(int(notes[:, 0].min()) - 2),
                                 fmax=librosa.midi_to_hz(int(notes[:, 0].max()) + 2), sr=MEL.sample_rate,
                                 frame_length=2048, hop_length=MEL.hop_length)
    times = librosa.frames_to_time(np.arange(len(f0)), sr=MEL.sample_rate, hop_length=MEL.hop_length)
    expected = np.full(len(f0), np.nan)
    for pitch, _, start, end, _ in notes:
        inside = (times >= start + PITCH_SKIP_S) & (times < end)
        expected[inside] = pitch
    frames = ~np.isnan(expected)
    if not frames.any():
        return None
    heard = librosa.hz_to_midi(np.where(voiced & np.isfinite(f0), f0, 1.0))
    good = voiced & np.isfinite(f0) & (np.abs(heard - expected) <= 0.5)
    return float(np.count_nonzero(good & frames) / np.count_nonzero(frames))


def _frame_throb(audio: np.ndarray) -> float:
    """The amplitude envelope's strength at the frame rate over its median from 20 to 400 Hz."""
    from scipy.signal import hilbert

    envelope = np.abs(hilbert(audio.astype(np.float64)))
    envelope -= envelope.mean()
    spectrum = np.abs(np.fft.rfft(envelope * np.hanning(len(envelope))))
    freqs = np.fft.rfftfreq(len(envelope), 1.0 / MEL.sample_rate)
    rate = MEL.frames_per_second
    at_rate = spectrum[(freqs > rate - 1.5) & (freqs < rate + 1.5)]
    around = spectrum[(freqs > 20) & (freqs < 400)]
    return float(at_rate.max() / max(np.median(around), 1e-12)) if len(at_rate) else 0.0


def frame_ripple(audio: np.ndarray, ref: np.ndarray) -> float:
    """The frame-rate throb of ``audio`` over that of the reference (1: the same)."""
    n = min(len(audio), len(ref))
    return _frame_throb(audio[:n]) / max(_frame_throb(ref[:n]), 1e-12)


def onset_f1(audio: np.ndarray, notes: np.ndarray) -> float | None:
    import librosa
    import mir_eval

    if not len(notes):
        return None
    reference = np.unique(np.round(notes[:, 2], 2))
    reference = reference[np.append(True, np.diff(reference) > 0.03)]  # chords: one onset
    estimated = librosa.onset.onset_detect(y=audio, sr=MEL.sample_rate, hop_length=MEL.hop_length, units="time",
                                           backtrack=True)
    f, _, _ = mir_eval.onset.f_measure(reference, np.asarray(estimated), window=ONSET_WINDOW_S)
    return float(f)


# -- the evaluation -------------------------------------------------------------------------------

def neural_mel(piece: Piece, net, temperature: float, use_flow: bool, seed: int = 0) -> np.ndarray:
    """MelFlow's log-mel of a piece's notes, one pass per program, the programs' mels summed as
    magnitudes; as many frames as the reference's mel."""
    from engine.audio.neural import melflow_mel

    n_frames = MEL.num_frames(len(piece.audio))
    total = np.zeros((MEL.n_mels, n_frames), dtype=np.float64)
    programs = sorted({int(p) for p in piece.notes[:, 4]}) if len(piece.notes) else [0]
    for k, program in enumerate(programs):
        notes = piece.notes[piece.notes[:, 4] == program] if len(piece.notes) else piece.notes
        total += np.exp(melflow_mel(net, notes, program, n_frames + n_frames % 2, temperature, seed + k,
                                    use_flow)[:, :n_frames].astype(np.float64))
    return np.log(np.maximum(total, np.exp(MEL.silence))).astype(np.float32)


def evaluate(pieces: list[Piece], methods: tuple[str, ...] = METHODS, models: dict | None = None,
             pitch: bool = True, progress=None, temperature: float | None = None) -> dict:
    """Per method: the mean of each measure over the pieces, and the summed real-time factor.

    models : {"fast" | "wavenet" | "melflow": a bundle folder} instead of the bundled ones.
    temperature : MelFlow's (None: its bundle's).
    """
    from engine.audio.vocode import get_vocoder

    if not pieces:
        raise CantusError("There are no pieces to evaluate on.")
    models = models or {}
    vocoder_names = {m for m in methods if m in METHODS and m != "reference"}
    vocoder_names |= {NEURAL_METHODS[m][0] for m in methods if m in NEURAL_METHODS}
    vocoders = {m: get_vocoder(m, models.get(m)) for m in vocoder_names}
    # After MelFlow: the vocoder fine-tuned on its mels where one is installed, as the renderer does.
    from engine.audio.neural import melflow_vocoder

    after_melflow = {}
    for v in {NEURAL_METHODS[m][0] for m in methods if m in NEURAL_METHODS}:
        folder = models.get(f"melflow-{v}") or melflow_vocoder(v)
        after_melflow[v] = get_vocoder(v, folder) if folder else get_vocoder(v, models.get(v))
    net = None
    if any(m in NEURAL_METHODS for m in methods):
        from engine.audio.neural import DEFAULT_TEMPERATURE, get_melflow

        net, config = get_melflow(models.get("melflow"))
        if temperature is None:
            temperature = float(config.get("temperature", DEFAULT_TEMPERATURE))
    rows: dict[str, dict[str, list]] = {m: {} for m in methods}
    compute_s = {m: 0.0 for m in methods}
    melflow_s = {m: 0.0 for m in methods}
    audio_s = sum(len(p.audio) for p in pieces) / MEL.sample_rate
    for i, piece in enumerate(pieces):
        ref_mel = log_mel(piece.audio)
        for m in methods:
            if m == "reference":
                out = piece.audio
            elif m in NEURAL_METHODS:
                vocoder, use_flow = NEURAL_METHODS[m]
                started = time.perf_counter()
                mel = neural_mel(piece, net, temperature, use_flow, seed=i)
                melflow_s[m] += time.perf_counter() - started
                out = after_melflow[vocoder](mel, len(piece.audio))
                compute_s[m] += time.perf_counter() - started
            else:
                started = time.perf_counter()
                out = vocoders[m](ref_mel, len(piece.audio))
                compute_s[m] += time.perf_counter() - started
            measures = {"mrstft": mrstft(out, piece.audio), "mel_l1": mel_l1(out, ref_mel),
                        "onset_f1": onset_f1(out, piece.notes)}
            if m != "reference":
                measures["frame_ripple"] = frame_ripple(out, piece.audio)
            if pitch and piece.monophonic:
                measures["pitch_accuracy"] = pitch_accuracy(out, piece.notes)
            for k, v in measures.items():
                if v is not None:
                    rows[m].setdefault(k, []).append(v)
        if progress:
            progress(i + 1, len(pieces), piece.name)
    result: dict = {"n_pieces": len(pieces), "audio_s": round(audio_s, 2),
                    "n_monophonic": sum(p.monophonic for p in pieces)}
    for m in methods:
        summary = {k: float(np.mean(v)) for k, v in rows[m].items()}
        if m != "reference":
            summary["rtf"] = compute_s[m] / audio_s
            if m in NEURAL_METHODS:
                summary["melflow_rtf"] = melflow_s[m] / audio_s
                summary["temperature"] = temperature
            summary["device"] = vocoders[NEURAL_METHODS[m][0] if m in NEURAL_METHODS else m].device
        result[m] = summary
    if "griffinlim" in methods:
        for m in methods:
            if m not in ("reference", "griffinlim"):
                result[m]["mrstft_vs_griffinlim"] = result[m]["mrstft"] / result["griffinlim"]["mrstft"]
    for m, (vocoder, _) in NEURAL_METHODS.items():  # against the vocoder's copy synthesis
        if m in methods and vocoder in methods:
            result[m]["mrstft_vs_copy_synthesis"] = result[m]["mrstft"] / result[vocoder]["mrstft"]
    if "reference" in methods and "pitch_accuracy" in result["reference"]:
        for m in methods:
            if m != "reference" and "pitch_accuracy" in result[m]:
                result[m]["pitch_vs_reference"] = (result[m]["pitch_accuracy"]
                                                   / max(result["reference"]["pitch_accuracy"], 1e-9))
    return result

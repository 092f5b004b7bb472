"""How well a continuation carries a melody on (`cantus eval continuation --json`), judged
against what the song really does next.

For held-out songs (POP909's test split, or every MIDI file of a folder), the first ``prime_bars``
bars of the melody prime the model, which continues ``bars`` bars; the real next ``bars`` bars are
the reference. Keys:

- ``monophonic_rate``: of the answers to monophonic primers (as `engine.music.melody.sounds_like_line`
  judges: legato handovers and one stray overlap in twenty notes allowed), the fraction one note at
  a time (`engine.music.melody.is_line`: legato handovers allowed);
- ``short_notes``: notes shorter than 50 ms in all the answers; ``max_polyphony`` (the most
  notes at once in any answer);
- ``register_distance_median``: the median over songs of |mean pitch of the answer - mean pitch
  of the real continuation|, in semitones;
- ``in_key_rate``: the fraction of the answers' notes in the key detected from the primer;
- ``overlap``: for note length, inter-onset interval and interval between successive pitches,
  the overlapped area of the two sets' distributions (Yang and Lerch, "On the evaluation of
  generative models in music", 2020): each set's values pooled, smoothed by a Gaussian kernel
  density estimate, and the area under the smaller of the two densities (1 = the same
  distribution, 0 = disjoint); for the pitch-class histogram, the sum of the smaller of the two
  pooled histograms' shares;
- ``ends_on_tonic_rate``: the fraction of answers whose last note is on the tonic triad of the
  primer's key, beside ``real_ends_on_tonic_rate`` for the real continuations (a phrase that
  resolves rather than stops);
- ``primer_as_answer``: the same figures with the primer itself offered as the answer, for scale;
- ``nll``: mean negative log-likelihood per event (nats) of each model of the continuer on the
  songs' whole melodies as played (their top lines, as the melody model was trained on them):
  ``melody_model`` and ``piano_model`` (with their names), or the piano model alone when no
  melody model is installed;
- ``models``: the model that answered each mode; ``n_songs``, ``prime_bars``, ``bars``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from engine.errors import CantusError
from engine.music.key import Key, detect_key
from engine.music.meter import bar_at
from engine.music.melody import is_line, sounds_like_line
from engine.music.sketch import Note, Sketch, TimeSignature, Track

SHORT_NOTE_S = 0.05


def pop909_meter(sketch: Sketch, folder: Path) -> list[TimeSignature] | None:
    """The meter map that a POP909 song's beat annotations (`engine.data.sources.pop909_beats`)
    give it, where its MIDI file declares 1/4 or 2/4 throughout: a pickup bar up to the first
    downbeat, then bars of the usual number of beats. None when the annotations are missing or
    damaged, or their beats do not fall on the file's quarter notes (then the file's own meter
    stands)."""
    from engine.data.sources import pop909_beats
    from engine.errors import DataError
    from engine.music.sketch import TICKS_PER_QUARTER

    try:
        times, down, beats = pop909_beats(folder, folder.name)
    except DataError:
        return None
    if len(times) < 8 or len(down) < 2:
        return None
    ticks = np.array([sketch.seconds_to_ticks(t) for t in times])
    if np.abs(np.diff(ticks) - TICKS_PER_QUARTER).max() > TICKS_PER_QUARTER // 8:
        return None
    sixteenth = TICKS_PER_QUARTER // 4
    first = int(round(ticks[down[0]] / sixteenth)) * sixteenth  # the first downbeat, on the 16th grid
    pickup = first % (beats * TICKS_PER_QUARTER)  # what comes before it, less whole bars
    if not pickup:
        return [TimeSignature(0, beats, 4)]
    return [TimeSignature(0, pickup // sixteenth, 16), TimeSignature(pickup, beats, 4)]


def held_out_melodies(folder: str | Path | None = None, limit: int | None = None) -> list[tuple[str, Sketch]]:
    """(name, a sketch holding only the melody) of held-out songs: POP909's test split (its
    MELODY track, its bars from the song's beat annotations where the file declares 1/4 or 2/4;
    see `pop909_meter`), or every MIDI file of ``folder`` (its track named melody, else its
    first pitched track)."""
    from engine.data.pieces import split_of
    from engine.data.sources import folder_files, pop909_dir, pop909_songs
    from engine.music.midi_io import read_midi

    if folder is None:
        files = [(f"pop909:{n}", d / f"{n}.mid") for n, d in pop909_songs(pop909_dir())
                 if split_of(f"pop909:{n}") == "test"]
    else:
        root = Path(folder).expanduser()
        if not root.is_dir():
            raise CantusError(f"'{folder}' is not a folder of MIDI files.")
        files = folder_files(root)
    out = []
    for name, path in files:
        sketch = read_midi(path)
        pitched = [t for t in sketch.tracks if not t.is_drum and t.notes]
        melody = next((t for t in pitched if "melody" in t.name.lower()), pitched[0] if pitched else None)
        if melody is None:
            continue
        meters = list(sketch.time_signatures)
        if all(m.numerator * 4 // m.denominator <= 2 for m in meters):
            meters = pop909_meter(sketch, Path(path).parent) or meters
        out.append((name, Sketch([melody.copy()], list(sketch.tempos), meters)))
        if limit and len(out) >= limit:
            break
    return out


def split_at_bars(sketch: Sketch, prime_bars: int, bars: int) -> tuple[Sketch, list[Note], int] | None:
    """(the primer sketch, the real continuation's notes, the tick where the continuation
    starts), counted in bars from the bar of the first note; None if the song is too short."""
    notes = sorted(sketch.tracks[0].notes)
    meters = sketch.time_signatures
    first = bar_at(meters, notes[0].start_tick).start_tick
    start = first
    for _ in range(prime_bars):
        start = bar_at(meters, start).end_tick
    end = start
    for _ in range(bars):
        end = bar_at(meters, end).end_tick
    prime = [n if n.end_tick <= start else Note(n.pitch, n.velocity, n.start_tick, start)
             for n in notes if n.start_tick < start]
    real = [n for n in notes if start <= n.start_tick < end]
    if not prime or not real:
        return None
    primer = Sketch([Track(sketch.tracks[0].name, sketch.tracks[0].program, False, prime)],
                    list(sketch.tempos), list(meters))
    return primer, real, start


def ends_on_tonic(notes: list[Note], key: Key) -> bool:
    """Whether the last note to start (the highest, if several start together) is on the tonic
    triad of ``key``."""
    from engine.generate.continuation import tonic_triad

    last = max(notes, key=lambda n: (n.start_tick, n.pitch))
    return last.pitch % 12 in tonic_triad(key)


def melody_nll(continuer, songs: list[tuple[str, Sketch]], limit: int | None = None) -> dict:
    """NLL per event of the continuer's models on the songs' melodies as played (see module)."""
    from engine.data.pieces import melody_line
    from engine.eval.transformer import nll
    from engine.music.encodings import performance as perf
    from engine.train.transformer import ended

    lines = ended([perf.encode(melody_line(s.tracks[0].notes, s.ticks_to_seconds)) for _, s in songs])
    with torch.no_grad():
        out = {"piano_model": {"name": continuer.name, **nll(continuer.model, lines, limit)}}
        if continuer.melody_model is not None:
            out["melody_model"] = {"name": continuer.melody_name, **nll(continuer.melody_model, lines, limit)}
    return out


def max_polyphony(notes: list[Note]) -> int:
    events = sorted([(n.start_tick, 1) for n in notes] + [(n.end_tick, -1) for n in notes])
    now = most = 0
    for _, step in events:
        now += step
        most = max(most, now)
    return most


def features(notes: list[Note], sketch: Sketch) -> dict[str, np.ndarray]:
    """Note lengths and inter-onset intervals in seconds, intervals between successive pitches
    in semitones (onset order, the highest note of a chord), and the pitch-class counts."""
    notes = sorted(notes)
    starts = np.array([sketch.ticks_to_seconds(n.start_tick) for n in notes])
    ends = np.array([sketch.ticks_to_seconds(n.end_tick) for n in notes])
    onsets, tops = [], []
    for n, s in zip(notes, starts):
        if onsets and abs(s - onsets[-1]) < 1e-6:
            tops[-1] = max(tops[-1], n.pitch)
        else:
            onsets.append(s)
            tops.append(n.pitch)
    classes = np.bincount([n.pitch % 12 for n in notes], minlength=12).astype(float)
    return {"note_length": ends - starts, "ioi": np.diff(onsets), "pitch_interval": np.diff(tops).astype(float),
            "pitch_class": classes}


def overlapped_area(a: np.ndarray, b: np.ndarray, points: int = 512) -> float:
    """The area under the smaller of two Gaussian kernel density estimates (Scott's bandwidth)."""
    from scipy.stats import gaussian_kde

    a, b = np.asarray(a, float), np.asarray(b, float)
    if len(a) < 2 or len(b) < 2:
        return float("nan")
    jitter = 1e-6  # a set of one repeated value has no spread for a KDE
    a = a + jitter * np.random.default_rng(0).standard_normal(len(a))
    b = b + jitter * np.random.default_rng(1).standard_normal(len(b))
    low, high = min(a.min(), b.min()), max(a.max(), b.max())
    pad = 0.1 * (high - low) + 1e-3
    grid = np.linspace(low - pad, high + pad, points)
    pa, pb = gaussian_kde(a)(grid), gaussian_kde(b)(grid)
    return float(np.trapezoid(np.minimum(pa, pb), grid))


def _overlaps(answers: list[dict], reals: list[dict]) -> dict[str, float]:
    out = {}
    for name in ("note_length", "ioi", "pitch_interval"):
        out[name] = overlapped_area(np.concatenate([f[name] for f in answers]),
                                    np.concatenate([f[name] for f in reals]))
    pa = np.sum([f["pitch_class"] for f in answers], axis=0)
    pb = np.sum([f["pitch_class"] for f in reals], axis=0)
    out["pitch_class"] = float(np.minimum(pa / max(pa.sum(), 1), pb / max(pb.sum(), 1)).sum())
    return out


def _figures(cases: list[tuple[Sketch, list[Note], list[Note]]]) -> dict:
    """cases: (primer sketch, the answer's notes, the real continuation's notes)."""
    mono_primers = mono_answers = short = 0
    distances, in_key, total, polyphony = [], 0, 0, 0
    tonic_ends, real_tonic_ends, keyed = 0, 0, 0
    answers, reals = [], []
    for primer, answer, real in cases:
        if not answer:
            continue
        mono = sounds_like_line(primer.tracks[0].notes)
        polyphony = max(polyphony, max_polyphony(answer))
        if mono:
            mono_primers += 1
            mono_answers += is_line(answer)
        short += sum(primer.ticks_to_seconds(n.end_tick) - primer.ticks_to_seconds(n.start_tick) < SHORT_NOTE_S
                     for n in answer)
        distances.append(abs(np.mean([n.pitch for n in answer]) - np.mean([n.pitch for n in real])))
        key = detect_key(primer.tracks[0].notes)
        if key is not None:
            in_key += sum(n.pitch % 12 in key.pitch_classes for n in answer)
            total += len(answer)
            keyed += 1
            tonic_ends += ends_on_tonic(answer, key)
            real_tonic_ends += ends_on_tonic(real, key)
        answers.append(features(answer, primer))
        reals.append(features(real, primer))
    return {
        "monophonic_rate": mono_answers / mono_primers if mono_primers else None,
        "short_notes": int(short),
        "max_polyphony": int(polyphony),
        "register_distance_median": float(np.median(distances)) if distances else None,
        "in_key_rate": in_key / total if total else None,
        "ends_on_tonic_rate": tonic_ends / keyed if keyed else None,
        "real_ends_on_tonic_rate": real_tonic_ends / keyed if keyed else None,
        "overlap": _overlaps(answers, reals) if answers else {},
        "n_answers": len(answers),
    }


def evaluate(continuer, songs: list[tuple[str, Sketch]], prime_bars: int = 8, bars: int = 8,
             temperature: float = 1.0, top_p: float | None = 0.95, seed: int = 0, mode: str = "auto",
             snap: str | None = "auto", nll: bool = True, **request) -> dict:
    """The figures above for ``continuer`` (an `engine.generate.continuation.Continuer`) on
    ``songs``, in ``mode`` (as `Continuer.plan` takes it); ``snap`` a grid, None, or "auto" (1/16
    for a melody); ``nll``: also the models' NLL on the melodies; ``request``: what else `Continuer.plan` takes (pitch_range, max_polyphony)."""
    cases, as_primer, used = [], [], {}
    for i, (_, sketch) in enumerate(songs):
        split = split_at_bars(sketch, prime_bars, bars)
        if split is None:
            continue
        primer, real, start = split
        kind = continuer.mode_of(primer, start, mode)
        grid = ("1/16" if kind == "melody" else None) if snap == "auto" else snap
        result = continuer.continue_(primer, bars=bars, temperature=temperature, top_p=top_p,
                                     seed=seed + i, start_tick=start, mode=kind, snap=grid, **request)
        used[kind] = result.model
        cases.append((primer, list(result.track.notes), real))
        as_primer.append((primer, list(primer.tracks[0].notes), real))
    if not cases:
        raise CantusError(f"No song is long enough for {prime_bars} + {bars} bars of melody.")
    out = _figures(cases)
    out["primer_as_answer"] = _figures(as_primer)
    out["models"] = used
    if nll:
        out["nll"] = melody_nll(continuer, songs)
    out.update(n_songs=len(cases), prime_bars=prime_bars, bars=bars, temperature=temperature, top_p=top_p,
               mode=mode)
    return out

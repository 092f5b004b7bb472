"""The three corpus sources and how one file of each becomes pieces.

- music21's bundled corpus: each file parsed with music21; an Opus (an .abc book) gives one
  piece per score. Melody = the first part (soprano, cantus, tune), ties merged, chords reduced
  to their top note; the bar grid comes from its measures, anchored on the first full bar (a
  pickup measure is left out). Tempo: the first metronome mark, else 120 qpm. Roman-numeral
  analyses (.rntxt) are left out: they hold chords, not a melody.
- POP909: the MELODY track placed on a 16th grid built from `beat_midi.txt`, each line interval
  cut into 4 steps; bars start on the marked downbeats. Songs whose bars are mostly 6 lines long
  are labelled "6 beats" and are not cut into windows.
- A folder of MIDI files: `read_midi`, `extract_melody`, quantized to 16ths; bars from the
  file's time-signature map.

Performances hold every pitched note of a piece in seconds: all parts for music21; MELODY,
BRIDGE and PIANO for POP909 (the whole arrangement as it is heard); all non-drum tracks of a MIDI file.
Melody performances hold the melody alone, as played (unquantized, one note at a time): the
first part's top line for music21, the MELODY track for POP909, the extracted melody of a file.
Each extractor catches its own failures and reports them in `FileResult.error`: a damaged file
is counted, never fatal.
"""

from __future__ import annotations

import hashlib
import math
import os
import warnings
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from engine.data.pieces import (
    BAR_TICKS_4_4, BARS_FROM_NOTES, FileResult, Piece, make_piece, melody_line, window_bar_starts,
)
from engine.errors import DataError, MidiFileError
from engine.music.encodings.performance import TimedNote, sketch_notes
from engine.music.melody import extract_melody, find_melody_track, skyline
from engine.music.midi_io import read_midi
from engine.music.quantize import quantize_melody
from engine.music.sketch import TICKS_PER_QUARTER, TICKS_PER_STEP, Note, Sketch, TimeSignature, Track

POP909_ENV = "CANTUS_POP909_DIR"
MIDI_FOLDER_SUFFIXES = (".mid", ".midi")
MUSIC21_LEFT_OUT = (".rntxt",)  # Roman-numeral analyses: chords, no melody
DEFAULT_VELOCITY = 80  # for scores, which rarely say how loud


@dataclass(frozen=True)
class Job:
    """One unit of work: a source file (a POP909 song folder), and the cache key of its state."""

    kind: str  # "music21", "pop909" or "folder"
    path: str  # the file, or for POP909 the song's folder
    name: str  # stable name inside the source, used in piece ids: "bach/bwv66.6.mxl", "001"
    key: str  # cache key (see engine.data.cache.file_key)
    size: int  # bytes, to start the largest files first


# -- listing -----------------------------------------------------------------------------------

def music21_files(files: list[str | os.PathLike] | None = None) -> tuple[list[tuple[str, Path]], int]:
    """(name, path) of music21's corpus files, in a stable hashed order, and how many were left out.

    The order is by SHA-1 of the name, so that the first N files (``limit``) sample the whole
    corpus rather than the alphabetically first composers. ``files`` picks some instead (paths
    relative to the corpus, such as "bach/bwv66.6.mxl", or absolute), in the order given.
    """
    from music21 import common, corpus

    try:
        root = Path(common.getCorpusFilePath())
        if not (root / "bach").is_dir():
            raise FileNotFoundError(root)
    except OSError:  # the frozen app (packaging/) leaves music21's 100 MB of scores out
        raise DataError("This copy of Cantus does not carry music21's corpus of scores. Build from "
                        "a folder of MIDI files (--source FOLDER) or POP909 (--source pop909), or "
                        "use Cantus installed with pip, which has it.") from None
    if files is not None:
        out = []
        for f in files:
            p = Path(f)
            p = p if p.is_absolute() else root / p
            if not p.is_file():
                raise DataError(f"'{f}' is not a file of music21's corpus.")
            out.append((_relative_name(p, root), p))
        return out, 0
    paths = [Path(p) for p in corpus.getCorePaths()]
    kept = [p for p in paths if p.suffix.lower() not in MUSIC21_LEFT_OUT]
    named = [(_relative_name(p, root), p) for p in kept]
    named.sort(key=lambda item: hashlib.sha1(item[0].encode()).hexdigest())
    return named, len(paths) - len(kept)


def _relative_name(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.resolve().as_posix()


def pop909_dir() -> Path:
    """The POP909 folder: $CANTUS_POP909_DIR, else shared/data/pop909 beside the repository."""
    env = os.environ.get(POP909_ENV)
    path = Path(env) if env else Path(__file__).resolve().parents[3] / "shared" / "data" / "pop909"
    if not path.is_dir():
        raise DataError(
            f"POP909 is not at {path}. Put the data set there or set {POP909_ENV} to its folder.")
    return path


def pop909_songs(root: Path) -> list[tuple[str, Path]]:
    """(number, folder) of every song folder holding NNN.mid and beat_midi.txt, by number."""
    out = []
    for d in sorted(root.iterdir()):
        if d.is_dir() and (d / f"{d.name}.mid").is_file() and (d / "beat_midi.txt").is_file():
            out.append((d.name, d))
    return out


def folder_files(root: Path) -> list[tuple[str, Path]]:
    """(relative name, path) of every .mid/.midi file under ``root``, recursively, by name."""
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for fn in filenames:
            if fn.lower().endswith(MIDI_FOLDER_SUFFIXES):
                p = Path(dirpath) / fn
                out.append((p.relative_to(root).as_posix(), p))
    out.sort()
    return out


# -- running one job ---------------------------------------------------------------------------

def run_job(job: Job) -> tuple[Job, FileResult]:
    """Extract one file's pieces; never raises for a bad file (the reason goes in the result)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # music21 and pretty_midi warn a lot about odd files
        try:
            result = EXTRACTORS[job.kind](Path(job.path), job.name)
        except MidiFileError as e:
            result = FileResult(job.path, error=str(e))
        except Exception as e:  # a parser bug on one file must not stop a 20-minute build
            result = FileResult(job.path, error=f"'{job.name}' could not be read ({_reason(e)}).")
    return job, result


def _reason(e: BaseException) -> str:
    text = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    return text[:160]


# -- music21 -----------------------------------------------------------------------------------

def extract_music21(path: Path, name: str) -> FileResult:
    from music21 import converter, stream

    try:
        parsed = converter.parse(str(path), forceSource=True, storePickle=False)
    except Exception as e:
        return FileResult(str(path), error=f"music21 cannot read '{name}' ({_reason(e)}).")
    scores = list(parsed.scores) if isinstance(parsed, stream.Opus) else [parsed]
    pieces, failed = [], 0
    for i, score in enumerate(scores, 1):
        piece_id = f"music21:{name}#{i}" if len(scores) > 1 else f"music21:{name}"
        try:
            pieces.append(music21_piece(score, piece_id))
        except Exception:
            failed += 1
    error = None if pieces else f"'{name}' holds no work that could be read."
    return FileResult(str(path), pieces, error, failed)


def music21_piece(score, piece_id: str) -> Piece:
    """A `Piece` from a music21 Score (or a Part or plain Stream, read as one part)."""
    from music21 import meter, stream, tempo

    score.stripTies(inPlace=True)
    parts = list(score.parts) if isinstance(score, stream.Score) and score.parts else [score]
    marks = list(score.recurse().getElementsByClass(tempo.MetronomeMark))
    qpm = next((m.getQuarterBPM() for m in marks if m.getQuarterBPM()), None) or 120.0
    seconds_per_tick = 60.0 / (float(qpm) * TICKS_PER_QUARTER)

    part_notes = [_music21_notes(p) for p in parts]
    performance = [TimedNote(pitch, vel, s * seconds_per_tick, e * seconds_per_tick)
                   for notes in part_notes for s, e, pitches, vel in notes
                   for pitch in pitches if 0 <= pitch <= 127]
    top = [Note(min(max(pitches), 127), vel, s, e) for s, e, pitches, vel in part_notes[0]
           if max(pitches) >= 0]
    melody = _grid_melody(top)

    # The bar grid of the first part, measure by measure.
    first = parts[0]
    measures = list(first.getElementsByClass(stream.Measure))
    base = float(first.offset) if first is not score else 0.0
    signatures = list(first.recurse().getElementsByClass(meter.TimeSignature))
    current = signatures[0] if signatures else meter.TimeSignature("4/4")  # music21's default
    labels: list[str] = []
    origin = None
    window_bars: list[int] = []
    end_tick = 0
    for m in measures:
        if m.timeSignature is not None:
            current = m.timeSignature
        label = current.ratioString
        if label not in labels:
            labels.append(label)
        nominal = float(current.barDuration.quarterLength)
        actual = float(m.duration.quarterLength)
        start = _tick(base + float(m.offset))
        end_tick = max(end_tick, _tick(base + float(m.offset) + actual))
        # A pickup is short and padded on the left; a last bar that completes it is short too.
        full = (abs(actual - nominal) < 1e-6 and not float(m.paddingLeft or 0)
                and not float(m.paddingRight or 0))
        if not full or start % TICKS_PER_STEP:
            continue
        if origin is None:
            origin = start
        window_bars += window_bar_starts(label, start, _tick(nominal))
    if not measures:  # a bare stream: bars of its opening meter from the start
        labels.append(current.ratioString)
        bar = _tick(float(current.barDuration.quarterLength))
        end_tick = max([n.end_tick for n in melody], default=0)
        for start in range(0, end_tick, bar):
            window_bars += window_bar_starts(current.ratioString, start, bar)
    return make_piece(piece_id, "music21", ",".join(labels) or "4/4", melody, origin or 0,
                      window_bars, end_tick, performance,
                      melody_line(top, lambda t: t * seconds_per_tick))


def _tick(quarter_length: float) -> int:
    return int(round(quarter_length * TICKS_PER_QUARTER))


def _music21_notes(part) -> list[tuple[int, int, list[int], int]]:
    """(start_tick, end_tick, MIDI pitches, velocity) of a part's notes and chords.

    Chord symbols, grace notes and unpitched percussion are left out.
    """
    from music21 import chord, harmony, note

    base = float(part.offset) if part.activeSite is not None else 0.0
    out = []
    for el in part.flatten().notes:
        if isinstance(el, harmony.Harmony):
            continue
        ql = float(el.duration.quarterLength)
        if ql <= 0:
            continue
        if isinstance(el, chord.Chord):
            pitches = [int(round(p.ps)) for p in el.pitches]
        elif isinstance(el, note.Note):
            pitches = [int(round(el.pitch.ps))]
        else:
            continue
        if not pitches:
            continue
        start = float(el.offset) + base
        s, e = _tick(start), _tick(start + ql)
        if e <= s:
            continue
        velocity = el.volume.velocity if el.volume is not None else None
        velocity = max(1, min(127, int(velocity))) if velocity else DEFAULT_VELOCITY
        out.append((s, e, pitches, velocity))
    return out


def _grid_melody(notes: list[Note]) -> list[Note]:
    """One line on the 16th grid: the skyline, quantized so that it stays one line."""
    line, _, _ = skyline(notes)
    return quantize_melody(Track(notes=line))[0].notes


# -- POP909 ------------------------------------------------------------------------------------

def pop909_beats(folder: Path, name: str) -> tuple[np.ndarray, np.ndarray, int]:
    """(beat times in seconds, the indices of the downbeats among them, the usual number of
    beats in a bar) from a POP909 song's beat_midi.txt; a DataError says what is wrong with it."""
    try:
        lines = np.loadtxt(folder / "beat_midi.txt", ndmin=2, dtype=np.float64)
    except (OSError, ValueError) as e:
        raise DataError(f"POP909 song {name}: beat_midi.txt cannot be read ({_reason(e)}).") from e
    if lines.shape[0] < 2 or lines.shape[1] < 3:
        raise DataError(f"POP909 song {name}: beat_midi.txt has too few beats.")
    times = lines[:, 0]
    if not np.all(np.diff(times) > 0):
        raise DataError(f"POP909 song {name}: beat times do not increase.")
    downbeats = np.flatnonzero(lines[:, 2] > 0.5)
    if not len(downbeats):
        raise DataError(f"POP909 song {name}: beat_midi.txt marks no downbeat.")
    gaps = np.diff(downbeats)
    return times, downbeats, int(np.bincount(gaps).argmax()) if len(gaps) else 4


def extract_pop909(folder: Path, name: str) -> FileResult:
    sketch = read_midi(folder / f"{name}.mid")
    try:
        times, downbeats, lines_per_bar = pop909_beats(folder, name)
    except DataError as e:
        return FileResult(str(folder), error=str(e))
    bar_lines = np.diff(np.append(downbeats, len(times)))  # lines in each bar; the last runs to the end

    index = next((i for i, t in enumerate(sketch.tracks) if t.name.strip().upper() == "MELODY"), None)
    if index is None:
        index = find_melody_track(sketch)
    notes = sketch.tracks[index].notes if index is not None else []
    melody = pop909_grid_notes(notes, sketch, times)

    step_of_line = 4  # each line interval is cut into 4 sixteenths
    origin = int(downbeats[0]) * step_of_line * TICKS_PER_STEP
    window_bars: list[int] = []
    if lines_per_bar == 4:
        window_bars = [int(d) * step_of_line * TICKS_PER_STEP
                       for d, n in zip(downbeats, bar_lines) if n == 4]
    meter = "4/4" if lines_per_bar == 4 else f"{lines_per_bar} beats"
    end_tick = len(times) * step_of_line * TICKS_PER_STEP
    return FileResult(str(folder), [make_piece(f"pop909:{name}", "pop909", meter, melody, origin,
                                               window_bars, end_tick, sketch_notes(sketch),
                                               melody_line(notes, sketch.ticks_to_seconds))])


def pop909_grid_notes(notes: list[Note], sketch: Sketch, line_times_s: np.ndarray) -> list[Note]:
    """Notes placed on the 16th grid of a beat track: each line interval cut into 4 steps.

    Start and end go to the nearest step (times read through the sketch's tempo map); past the
    last line the last step length goes on. The result is in grid ticks (step * 120), one line.
    """
    if not notes:
        return []
    times = np.asarray(line_times_s, dtype=np.float64)
    step_s = np.append(np.diff(times), times[-1] - times[-2]) / 4.0
    grid = (times[:, None] + step_s[:, None] * np.arange(4)).ravel()
    starts = np.array([sketch.ticks_to_seconds(n.start_tick) for n in notes])
    ends = np.array([sketch.ticks_to_seconds(n.end_tick) for n in notes])
    extra = int(math.ceil((ends.max() - grid[-1]) / step_s[-1])) + 1 if ends.max() > grid[-1] else 0
    if extra > 0:
        grid = np.append(grid, grid[-1] + step_s[-1] * np.arange(1, extra + 1))

    def nearest(t: np.ndarray) -> np.ndarray:
        i = np.clip(np.searchsorted(grid, t), 1, len(grid) - 1)
        return np.where(np.abs(t - grid[i - 1]) <= np.abs(grid[i] - t), i - 1, i)

    s_steps, e_steps = nearest(starts), nearest(ends)
    e_steps = np.maximum(e_steps, s_steps + 1)
    placed = [Note(n.pitch, n.velocity, int(s) * TICKS_PER_STEP, int(e) * TICKS_PER_STEP)
              for n, s, e in zip(notes, s_steps, e_steps)]
    line, _, _ = skyline(placed)
    return line


# -- a folder of MIDI files --------------------------------------------------------------------

def extract_midi(path: Path, name: str) -> FileResult:
    sketch = read_midi(path)
    declared = {(ts.numerator, ts.denominator) for ts in sketch.time_signatures}
    # No meter of its own: "1/4" throughout (POP909's files), or a duple meter whose notes all
    # miss the file's grid by the same few ticks (its bar lines are not the music's either)
    rebar = declared == {(1, 4)} or (grid_offset(sketch) > 0 and declared <= {(2, 4), (4, 4), (2, 2), (1, 4)})
    if rebar:
        sketch = bars_from_notes(sketch)
    line = extract_melody(sketch).track.notes
    melody = _grid_melody(line)
    meter, origin, window_bars, end_tick = bar_grid(sketch, max(sketch.end_tick, 1))
    if rebar:
        meter = BARS_FROM_NOTES
    piece = make_piece(f"folder:{name}", "folder", meter, melody, origin, window_bars, end_tick,
                       sketch_notes(sketch), melody_line(line, sketch.ticks_to_seconds))
    return FileResult(str(path), [piece])


def grid_offset(sketch: Sketch, share: float = 0.6) -> int:
    """Ticks by which most note onsets (at least ``share`` of them, within 2 ticks) come after
    a line of the file's 16th grid: a constant lead-in, as in POP909's MIDI files (10 to 110
    ticks), that would otherwise quantize every note a little wrong. 0 when they sit on the
    grid, or scatter (a free performance)."""
    count = sum(len(t.notes) for t in sketch.tracks)
    if count < 8:
        return 0
    counts = _onset_residues(sketch, TICKS_PER_STEP)
    best = int(np.argmax(counts))  # the commonest residue, and how many onsets lie near it
    if _within_2_ticks(counts)[best] < share * count or min(best, TICKS_PER_STEP - best) <= 2:
        return 0
    return best


def _onset_residues(sketch: Sketch, period: int, longest: int | None = None) -> np.ndarray:
    """How many notes (or, with ``longest``, how many ticks of them, each counted up to that
    length) start at each tick of ``period``: a histogram of onsets modulo it."""
    notes = [n for t in sketch.tracks for n in t.notes]
    onsets = np.array([n.start_tick % period for n in notes], dtype=np.int64)
    weights = None if longest is None else np.array([min(n.end_tick - n.start_tick, longest) for n in notes],
                                                     dtype=np.float64)
    return np.bincount(onsets, weights=weights, minlength=period)


def _within_2_ticks(histogram: np.ndarray) -> np.ndarray:
    """Each tick's share of a circular histogram together with the two ticks either side."""
    return sum(np.roll(histogram, k) for k in range(-2, 3))


def beat_phase(sketch: Sketch) -> int:
    """Where the beats fall, in ticks after each quarter of the file's grid: the place with the
    most onset weight (notes weighted by length, up to a half note). In POP909's files it finds
    the annotated beat in 99 of 100 training songs."""
    weight = _onset_residues(sketch, TICKS_PER_QUARTER, longest=2 * TICKS_PER_QUARTER)
    around = int(np.argmax(_within_2_ticks(weight)))  # the heaviest 5 ticks
    near = [(around + k) % TICKS_PER_QUARTER for k in range(-2, 3)]
    return max(near, key=lambda r: weight[r])  # and the heaviest tick among them


def downbeat_phase(sketch: Sketch, beat: int) -> int:
    """Which beat of four (0-3, counted from ``beat``) begins the bar: the one where the
    accompaniment (every track but the melody's, or all when there is only one) most often
    changes its pitch classes and starts its longest notes. Right for about 7 in 10 of
    POP909's training songs (chance: 1 in 4)."""
    melody = find_melody_track(sketch)
    tracks = [t for i, t in enumerate(sketch.tracks) if i != melody and not t.is_drum] or \
        [t for t in sketch.tracks if not t.is_drum]
    notes = [n for t in tracks for n in t.notes if n.end_tick > beat]
    if not notes:
        return 0
    beats = (max(n.end_tick for n in notes) - beat) // TICKS_PER_QUARTER + 2
    sounding = np.zeros((beats, 12), dtype=bool)
    starts = np.zeros(beats)
    for n in notes:
        first = max(-(-(n.start_tick - beat) // TICKS_PER_QUARTER), 0)  # the first beat it sounds on
        last = (n.end_tick - 1 - beat) // TICKS_PER_QUARTER
        sounding[first:last + 1, n.pitch % 12] = True
        if (n.start_tick - beat) % TICKS_PER_QUARTER <= 2 and n.start_tick >= beat:
            starts[(n.start_tick - beat) // TICKS_PER_QUARTER] += min(n.end_tick - n.start_tick, BAR_TICKS_4_4)
    change = np.concatenate([[0], (sounding[1:] != sounding[:-1]).sum(axis=1)]).astype(np.float64)
    score = change / max(change.mean(), 1e-9) + starts / max(starts.mean(), 1e-9)
    return int(np.argmax([score[k::4].sum() for k in range(4)]))


def bars_from_notes(sketch: Sketch) -> Sketch:
    """A sketch with no meter of its own, moved so that the beat and the downbeat its notes
    suggest (`beat_phase`, `downbeat_phase`) fall on the 16th grid and on 4/4 bar lines."""
    beat = beat_phase(sketch)
    downbeat = (beat + TICKS_PER_QUARTER * downbeat_phase(sketch, beat)) % BAR_TICKS_4_4
    shift = (BAR_TICKS_4_4 - downbeat) % BAR_TICKS_4_4  # later, by less than a bar: no tick below 0
    tracks = [t.copy([n.shifted(ticks=shift) for n in t.notes]) for t in sketch.tracks]
    tempos = [replace(c, tick=c.tick + shift if c.tick else 0) for c in sketch.tempos]  # the same timing
    return replace(sketch, tracks=tracks, tempos=tempos, time_signatures=[TimeSignature(0, 4, 4)])


def bar_grid(sketch: Sketch, end_tick: int) -> tuple[str, int, list[int], int]:
    """Bars from a sketch's time-signature map: (meter label, first full downbeat, window bars, end).

    A bar runs for its signature's length or until the next signature change, whichever comes
    first; one cut short is not full. Window bars are full 4/4 or 2/2 bars on the 16th grid.
    A pickup written as one short bar in a meter of its own (1/4 then 4/4) is left out: the
    grid starts on the bar after it, and its meter is not part of the label.
    """
    changes = [ts.tick for ts in sketch.time_signatures]
    labels: list[str] = []
    origin = None
    window_bars: list[int] = []
    t = 0
    sigs = sketch.time_signatures
    if len(sigs) > 1 and sigs[0].tick == 0 and sigs[1].tick == sigs[0].bar_ticks \
            and sigs[0].bar_ticks < sigs[1].bar_ticks:
        t = sigs[1].tick  # the pickup bar
    while t < end_tick:
        ts = sketch.time_signature_at(t)
        nominal = ts.bar_ticks if ts.bar_ticks > 0 else BAR_TICKS_4_4
        nxt = next((c for c in changes if c > t), None)
        end = t + nominal if nxt is None else min(t + nominal, nxt)
        label = f"{ts.numerator}/{ts.denominator}"
        if label not in labels:
            labels.append(label)
        if end - t == nominal and t % TICKS_PER_STEP == 0:
            if origin is None:
                origin = t
            window_bars += window_bar_starts(label, t, nominal)
        t = end
    if not labels:
        ts = sketch.time_signature
        labels.append(f"{ts.numerator}/{ts.denominator}")
    bar_end = t  # the grid runs to the end of the last bar begun
    return ",".join(labels), origin or 0, window_bars, bar_end


EXTRACTORS = {"music21": extract_music21, "pop909": extract_pop909, "folder": extract_midi}

"""Paired notes-and-audio corpora for the neural renderers: (notes, audio, mel) clips, by piece.

`build_audio_corpus("pop909" | "music21" | folder)` cuts pieces of a symbolic corpus into clips,
renders each with the soundfont synth at the model rate (22,050 Hz, mono), computes its mel
(`engine.audio.mel`), and caches every clip as one .npz under the cache folder, with a manifest.
The split of a clip is the split of its piece (`engine.data.pieces.split_of`, the same hash the
symbolic corpora use), so no test piece of the symbolic models is ever trained on here either.

What a source gives, per piece (every choice seeded by the piece id, so builds are repeatable):
- POP909: a ``mix`` clip (MELODY, BRIDGE and PIANO together, on the piano) and a ``melody``
  clip (the MELODY track alone, monophonic, on one of the corpus's programs, in turn).
- music21: a ``melody`` clip: one 16-bar window of the piece's melody from the built symbolic
  corpus, at a tempo from 80 to 140 qpm, on one of the programs.
- A folder: every ``name.mid`` with a ``name.wav`` / ``name.flac`` beside it (the layout of
  MAESTRO) is a ``recording``: the user's audio, mixed to mono and resampled, with the MIDI's
  notes. A MIDI file with no audio beside it is rendered whole by the synth (a ``mix``).

Notes are kept as float32 rows (pitch, velocity, start_s, end_s, program), seconds from the
clip's start, so a note-conditioned model (MelFlow) can learn from the same clips later.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
from tqdm import tqdm

from engine.audio.mel import MEL
from engine.data.pieces import SPLITS, split_of
from engine.errors import DataError
from engine.fileio import atomic_write, atomic_write_bytes

# Bump when clips are cut, rendered or stored differently: every cached clip is made again.
AUDIO_CORPUS_VERSION = 2

# General MIDI programs a sketcher reaches for first (0-based program numbers).
PROGRAMS: dict[int, str] = {
    0: "Acoustic Grand Piano",
    4: "Electric Piano 1",
    19: "Church Organ",
    24: "Acoustic Guitar (nylon)",
    48: "String Ensemble 1",
    73: "Flute",
}
DEFAULT_PROGRAMS = tuple(PROGRAMS)
CLIP_S = 20.0  # POP909 clips: long enough for phrases and sustained notes, short enough for variety
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg")
POP909_MIX_TRACKS = ("MELODY", "BRIDGE", "PIANO")


@dataclass(frozen=True)
class ClipSpec:
    """What to render for one clip: notes in seconds from the clip start, or a recording."""

    piece_id: str
    kind: str  # "mix", "melody" or "recording"
    program: int  # the GM program the notes play on (a recording: the MIDI's first program)
    notes: tuple[tuple[int, int, float, float, int], ...]  # (pitch, velocity, start_s, end_s, program)
    audio_path: str | None = None  # a recording's audio file
    origin_s: float = 0.0  # where the clip starts in its piece

    @property
    def id(self) -> str:
        h = hashlib.sha1(f"v{AUDIO_CORPUS_VERSION}|{self.piece_id}|{self.kind}|{self.program}|"
                         f"{self.origin_s:.3f}|{self.audio_path or ''}".encode())
        return h.hexdigest()[:16]

    @property
    def split(self) -> str:
        return split_of(self.piece_id)


@dataclass
class Clip:
    """One cached clip, as training loads it."""

    id: str
    piece_id: str
    split: str
    kind: str
    program: int
    duration_s: float
    path: Path

    def pcm(self) -> np.ndarray:
        """The clip's audio as stored: int16 (samples,), full scale 32,767."""
        with np.load(self.path, allow_pickle=False) as z:
            return z["audio"]

    def load(self) -> dict[str, np.ndarray]:
        """{"audio": float32 (samples,), "mel": float32 (n_mels, frames), "notes": float32 (n, 5)}."""
        with np.load(self.path, allow_pickle=False) as z:
            return {"audio": z["audio"].astype(np.float32) / 32767.0,
                    "mel": z["mel"].astype(np.float32),
                    "notes": z["notes"].astype(np.float32)}


@dataclass
class AudioCorpus:
    name: str
    source: str
    renderer: str  # what rendered the clips ("FluidSynth with TimGM6mb.sf2"), or "recordings"
    clips: list[Clip]
    counts: dict = field(default_factory=dict)

    def split(self, split: str) -> list[Clip]:
        return [c for c in self.clips if c.split == split]

    def hours(self, split: str | None = None) -> float:
        return sum(c.duration_s for c in self.clips if split is None or c.split == split) / 3600


# -- where it lives ----------------------------------------------------------------------------

def audio_cache_dir() -> Path:
    """The folder of the audio corpora (beside the symbolic ones in the cache folder)."""
    from engine.data.cache import cache_dir

    path = cache_dir().parent / "audio"
    path.mkdir(parents=True, exist_ok=True)
    return path


def corpus_name(source: str | os.PathLike, programs: Sequence[int]) -> str:
    src = str(source)
    if src in ("pop909", "music21"):
        base = src
    else:
        resolved = str(Path(src).expanduser().resolve())
        base = f"folder-{hashlib.sha1(resolved.encode()).hexdigest()[:12]}"
    if tuple(programs) != DEFAULT_PROGRAMS:
        base += "-p" + "-".join(str(p) for p in programs)
    return base


# -- cutting pieces into clips -------------------------------------------------------------------

def _rng(piece_id: str, what: str) -> np.random.Generator:
    seed = int.from_bytes(hashlib.sha1(f"{piece_id}|{what}".encode()).digest()[:8], "big")
    return np.random.default_rng(seed)


def _window(notes: list[tuple[int, int, float, float, int]], start_s: float, length_s: float
            ) -> tuple[tuple[int, int, float, float, int], ...]:
    """The notes that start inside [start_s, start_s + length_s), shifted to the window; notes
    still sounding at its end are cut there (their release rings on in the render)."""
    end_s = start_s + length_s
    out = []
    for p, v, s, e, prog in notes:
        if start_s <= s < end_s:
            out.append((p, v, round(s - start_s, 5), round(min(e, end_s) - start_s, 5), prog))
    return tuple(sorted(out, key=lambda n: (n[2], n[0])))


def _clip_start(notes, total_s: float, length_s: float, rng: np.random.Generator) -> float:
    """A start for a clip, at a note onset, chosen so the clip is full where the piece allows."""
    onsets = sorted({n[2] for n in notes if n[2] <= max(total_s - length_s, 0.0)})
    if not onsets:
        return min((n[2] for n in notes), default=0.0)
    return float(onsets[int(rng.integers(len(onsets)))])


def pop909_clips(programs: Sequence[int], limit: int | None = None,
                 clip_s: float = CLIP_S) -> Iterator[ClipSpec]:
    from engine.data.sources import pop909_dir, pop909_songs
    from engine.music.midi_io import read_midi

    songs = pop909_songs(pop909_dir())
    if limit is not None:
        songs = songs[:limit]
    for name, folder in songs:
        piece_id = f"pop909:{name}"
        try:
            sketch = read_midi(folder / f"{name}.mid")
        except Exception:  # a damaged song must not stop a build
            continue
        tracks = {t.name.strip().upper(): t for t in sketch.tracks}

        def timed(names, program):
            return [(n.pitch, n.velocity, sketch.ticks_to_seconds(n.start_tick),
                     sketch.ticks_to_seconds(n.end_tick), program)
                    for key in names if key in tracks for n in tracks[key].notes]

        mix = timed(POP909_MIX_TRACKS, 0)
        if mix:
            start = _clip_start(mix, sketch.duration_s, clip_s, _rng(piece_id, "mix"))
            yield ClipSpec(piece_id, "mix", 0, _window(mix, start, clip_s), origin_s=start)
        rng = _rng(piece_id, "melody")
        program = int(programs[int(rng.integers(len(programs)))])
        melody = timed(("MELODY",), program)
        if melody:
            start = _clip_start(melody, sketch.duration_s, clip_s, rng)
            notes = _window(melody, start, clip_s)
            if notes:
                yield ClipSpec(piece_id, "melody", program, notes, origin_s=start)


def music21_clips(programs: Sequence[int], limit: int | None = None, corpus=None) -> Iterator[ClipSpec]:
    """One 16-bar melody window per piece of the built music21 corpus (building it if needed;
    ``corpus`` gives another `CorpusData`)."""
    from engine.data.corpus import build_corpus, load_corpus
    from engine.data.pieces import ENCODING

    if corpus is None:
        try:
            corpus = load_corpus("music21")
        except DataError:
            corpus = build_corpus("music21")
    seen = 0
    for split in SPLITS:
        windows = corpus.windows_16bar[split]
        owners = corpus.window_pieces_16bar[split]
        first: dict[int, int] = {}
        for i, owner in enumerate(owners.tolist()):
            first.setdefault(owner, i)
        for owner, i in sorted(first.items()):
            piece_id = corpus.piece_ids[owner]
            rng = _rng(piece_id, "music21")
            qpm = float(rng.uniform(80, 140))
            program = int(programs[int(rng.integers(len(programs)))])
            seconds_per_tick = 60.0 / qpm / 480
            notes = tuple((n.pitch, n.velocity, round(n.start_tick * seconds_per_tick, 5),
                           round(n.end_tick * seconds_per_tick, 5), program)
                          for n in ENCODING.decode(windows[i], velocity=int(rng.integers(64, 112))))
            if notes:
                yield ClipSpec(piece_id, "melody", program, notes)
                seen += 1
                if limit is not None and seen >= limit:
                    return


def folder_clips(root: Path, limit: int | None = None) -> Iterator[ClipSpec]:
    from engine.data.sources import folder_files
    from engine.errors import MidiFileError
    from engine.music.midi_io import read_midi

    files = folder_files(root)
    if not files:
        raise DataError(f"There is no MIDI file (.mid, .midi) in the folder '{root}'.")
    if limit is not None:
        files = files[:limit]
    for name, path in files:
        try:
            sketch = read_midi(path)
        except MidiFileError:
            continue
        notes = tuple(sorted(
            ((n.pitch, n.velocity, round(sketch.ticks_to_seconds(n.start_tick), 5),
              round(sketch.ticks_to_seconds(n.end_tick), 5), t.program)
             for t in sketch.tracks if not t.is_drum for n in t.notes),
            key=lambda n: (n[2], n[0])))
        if not notes:
            continue
        program = notes[0][4]
        audio = next((path.with_suffix(s) for s in AUDIO_SUFFIXES if path.with_suffix(s).is_file()), None)
        piece_id = f"folder:{name}"
        if audio is not None:
            yield ClipSpec(piece_id, "recording", program, notes, audio_path=str(audio))
        else:
            yield ClipSpec(piece_id, "mix", program, notes)


# -- rendering -----------------------------------------------------------------------------------

def clip_sketch(spec: ClipSpec):
    """The clip's notes as a sketch at 120 qpm (one track per program), for the synth."""
    from engine.music.sketch import Note, Sketch, Track

    by_program: dict[int, list] = {}
    for p, v, s, e, prog in spec.notes:
        start = int(round(s * 960))
        by_program.setdefault(prog, []).append(Note(int(p), max(1, min(127, int(v))), start,
                                                    max(int(round(e * 960)), start + 1)))
    tracks = [Track(PROGRAMS.get(prog, f"Program {prog}"), prog, False, sorted(notes))
              for prog, notes in sorted(by_program.items())]
    return Sketch.new(qpm=120.0, tracks=tracks)


def read_recording(path: str | os.PathLike, sample_rate: int = MEL.sample_rate) -> np.ndarray:
    """A recording as mono float32 at ``sample_rate`` (channels averaged, resampled)."""
    import soundfile

    from engine.audio.dsp import resample

    try:
        audio, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    except (RuntimeError, soundfile.LibsndfileError) as e:
        raise DataError(f"'{Path(path).name}' is not an audio file that can be read ({e}).") from None
    return resample(audio.mean(axis=1), rate, sample_rate).astype(np.float32)


def render_clip(spec: ClipSpec, synth) -> np.ndarray:
    """The clip's audio, mono float32 at the mel rate."""
    if spec.audio_path is not None:
        return read_recording(spec.audio_path)
    return synth.render(clip_sketch(spec), MEL.sample_rate).mean(axis=1).astype(np.float32)


def _store(path: Path, spec: ClipSpec, audio: np.ndarray) -> float:
    from engine.audio.mel import log_mel

    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    if peak > 1.0:  # a loud recording: scaled into int16's range, never clipped
        audio = audio / peak
    pcm = np.round(np.clip(audio, -1.0, 1.0) * 32767).astype(np.int16)
    mel = log_mel(pcm.astype(np.float32) / 32767.0)  # the mel of the audio as stored
    notes = np.asarray(spec.notes, dtype=np.float32).reshape(-1, 5)
    atomic_write(path, lambda f: np.savez(f, audio=pcm, mel=mel.astype(np.float16), notes=notes),
                 durable=False)
    return len(pcm) / MEL.sample_rate


def _specs(source: str | os.PathLike, programs: Sequence[int], limit: int | None) -> Iterator[ClipSpec]:
    src = str(source)
    if src == "pop909":
        return pop909_clips(programs, limit)
    if src == "music21":
        return music21_clips(programs, limit)
    root = Path(src).expanduser()
    if not root.is_dir():
        raise DataError(f"'{source}' is not a folder; choose pop909, music21 or a folder of MIDI files "
                        "(with name.wav or name.flac beside name.mid for your own recordings).")
    return folder_clips(root.resolve(), limit)


def build_audio_corpus(source: str | os.PathLike = "pop909", programs: Sequence[int] = DEFAULT_PROGRAMS,
                       hours: float | None = None, limit: int | None = None, progress: bool = True,
                       soundfont: str | os.PathLike | None = None) -> AudioCorpus:
    """Render (or bring up to date) the paired corpus of a source, cached clip by clip.

    Parameters
    ----------
    source : "pop909", "music21" (its symbolic corpus is built first when needed), or a folder
        of MIDI files, with recordings beside them where there are any.
    programs : General MIDI programs (0-based) that melody clips are played on, in turn.
    hours : stop once this much audio is in the corpus (every split keeps its share, since
        the split is a hash of the piece).
    limit : read at most this many pieces (POP909 songs, music21 windows, folder files).

    A clip already cached (same spec, same corpus version) is not rendered again, so an
    interrupted build resumes where it stopped.
    """
    from engine.audio.synth import make_synth

    bad = [p for p in programs if not 0 <= int(p) <= 127]
    if bad or not programs:
        raise DataError(f"General MIDI programs run from 0 to 127; {bad or 'none'} cannot be used.")
    started = time.monotonic()
    name = corpus_name(source, programs)
    folder = audio_cache_dir() / name
    (folder / "clips").mkdir(parents=True, exist_ok=True)
    synth = make_synth("auto", soundfont)
    renderer = synth.description
    manifest_path = folder / "manifest.json"
    old = _read_manifest(manifest_path)
    known = {c["id"]: c for c in old.get("clips", [])} if old.get("synth") == renderer else {}

    budget_s = None if hours is None else hours * 3600.0
    total_s, rendered, reused, clips = 0.0, 0, 0, []
    recordings = 0
    with tqdm(total=None if budget_s is None else round(budget_s), unit="s", desc=f"Rendering {source}",
              file=sys.stderr, disable=not progress, dynamic_ncols=True) as bar:
        for spec in _specs(source, programs, limit):
            if budget_s is not None and total_s >= budget_s:
                break
            path = folder / "clips" / f"{spec.id}.npz"
            entry = known.get(spec.id)
            if entry is not None and path.is_file():
                duration = float(entry["duration_s"])
                reused += 1
            else:
                try:
                    audio = render_clip(spec, synth)
                except DataError:
                    continue  # an unreadable recording: counted as left out below
                if audio.size < MEL.hop_length:
                    continue
                duration = _store(path, spec, audio)
                rendered += 1
            recordings += spec.kind == "recording"
            clips.append({"id": spec.id, "piece": spec.piece_id, "split": spec.split, "kind": spec.kind,
                          "program": spec.program, "duration_s": round(duration, 4)})
            total_s += duration
            bar.update(round(duration))
    if not clips:
        raise DataError(f"{source} gave no clip with notes to render.")
    size = sum((folder / "clips" / f"{c['id']}.npz").stat().st_size for c in clips)
    counts = {
        "clips": len(clips), "rendered": rendered, "from_cache": reused, "recordings": recordings,
        "hours": round(total_s / 3600, 4), "bytes": size,
        "seconds": round(time.monotonic() - started, 2),
        "splits": {s: {"clips": sum(c["split"] == s for c in clips),
                       "hours": round(sum(c["duration_s"] for c in clips if c["split"] == s) / 3600, 4)}
                   for s in SPLITS},
        "kinds": {k: sum(c["kind"] == k for c in clips) for k in sorted({c["kind"] for c in clips})},
    }
    meta = {"format": AUDIO_CORPUS_VERSION, "source": str(source), "programs": list(programs),
            "renderer": "recordings" if recordings == len(clips) else renderer, "synth": renderer,
            "sample_rate": MEL.sample_rate, "counts": counts, "clips": clips}
    atomic_write_bytes(manifest_path, json.dumps(meta, indent=1).encode("utf-8"), durable=False)
    return _corpus(name, meta, folder)


def _read_manifest(path: Path) -> dict:
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return meta if meta.get("format") == AUDIO_CORPUS_VERSION else {}


def _corpus(name: str, meta: dict, folder: Path) -> AudioCorpus:
    clips = [Clip(c["id"], c["piece"], c["split"], c["kind"], int(c["program"]), float(c["duration_s"]),
                  folder / "clips" / f"{c['id']}.npz") for c in meta["clips"]]
    return AudioCorpus(name, meta["source"], meta["renderer"], clips, dict(meta["counts"]))


def load_audio_corpus(source: str | os.PathLike = "pop909",
                      programs: Sequence[int] = DEFAULT_PROGRAMS) -> AudioCorpus:
    """The corpus the last `build_audio_corpus` of this source made, as it is (no rendering)."""
    name = corpus_name(source, programs)
    folder = audio_cache_dir() / name
    meta = _read_manifest(folder / "manifest.json")
    if not meta:
        raise DataError(f"The paired audio corpus of {source} has not been built yet. "
                        f"Build it with: cantus data build-audio --source {source}")
    corpus = _corpus(name, meta, folder)
    missing = [c for c in corpus.clips if not c.path.is_file()]
    if missing:
        raise DataError(f"{len(missing)} clips of the {source} audio corpus are missing from the cache; "
                        f"build it again with: cantus data build-audio --source {source}")
    return corpus


def load_audio_corpora(sources: str) -> list[AudioCorpus]:
    """The audio corpora of a comma-separated list, each loaded, or built when it is not yet."""
    out = []
    for source in [s.strip() for s in sources.split(",") if s.strip()]:
        try:
            out.append(load_audio_corpus(source))
        except DataError:
            out.append(build_audio_corpus(source))
    return out


def format_audio_counts(corpus: AudioCorpus) -> str:
    c = corpus.counts
    mb = c["bytes"] / 1e6
    per_hour = mb / c["hours"] if c["hours"] else 0.0
    lines = [f"Audio corpus {corpus.source} ({corpus.renderer}, {MEL.sample_rate:,} Hz mono)",
             f"  clips: {c['clips']:,} ({c['rendered']:,} rendered, {c['from_cache']:,} from cache); "
             f"kinds: " + ", ".join(f"{k} {n:,}" for k, n in c["kinds"].items()),
             f"  audio: {c['hours']:.2f} h; cache {mb:,.0f} MB ({per_hour:,.0f} MB per hour of audio)"]
    for s in SPLITS:
        lines.append(f"  {s:<11}{c['splits'][s]['clips']:>7,} clips {c['splits'][s]['hours']:>8.2f} h")
    lines.append(f"  built in {c['seconds']:.1f} s")
    return "\n".join(lines)

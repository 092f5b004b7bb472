"""Build a training corpus from a source: parse in parallel, cache, cut windows, split, save.

`build_corpus("music21" | "pop909" | folder)` lists the source's files, takes each file's
pieces from the per-file cache or parses it (one process per worker, one file per task), cuts
every piece's melody into 2-bar (32 steps) and 16-bar (256 steps) windows, drops sparse and
silent ones, deduplicates them across the corpus, and splits by piece into train, validation
and test (90/5/5 from the SHA-1 of the piece id). The result is saved (an .npz and a .json of
counts in the cache folder), so `load_corpus` is instant and an unchanged rebuild parses nothing.

Windows are cut in 16-step bars, from duple and quadruple meters only: a 4/4 or 2/2 bar (and
POP909's 4-beat bars) is one window bar, two 2/4 bars make one (a window may start on either),
a 4/2 bar holds two. Pieces in triple or compound meters (3/4, 6/8, 9/8, 3/2...) give
performances but no windows; they are counted as "skipped by meter". A piece that mixes
meters gives windows from its runs of duple bars only. A window never crosses a bar of another length (a pickup, a 2/4 bar inside a 4/4
song). A window that begins while a note holds begins with no-event, which reads as a rest.
Windows identical to one already seen are dropped: each is kept once, in the split of the first
piece (in piece-id order) that has it.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import sys
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
from tqdm import tqdm

from engine.data.cache import cache_dir, file_key, load_file_result, save_file_result
from engine.data.pieces import EXTRACTOR_VERSION, BARS_FROM_NOTES, SPLITS, FileResult, Piece, split_of
from engine.data.sources import (
    Job,
    folder_files,
    music21_files,
    pop909_dir,
    pop909_songs,
    run_job,
)
from engine.data.windows import cut_windows, first_occurrences, window_checks
from engine.errors import DataError
from engine.fileio import atomic_write, atomic_write_bytes

# Bump when windowing, filtering, dedup or the saved layout changes: saved corpora are rebuilt
# (from the per-file cache, without parsing).
CORPUS_VERSION = 2
WINDOW_BARS = (2, 16)


@dataclass
class CorpusData:
    """A built corpus: melody windows and performances per split, and what was counted.

    Every dict is keyed by split: "train", "validation", "test".
    """

    source: str  # "music21", "pop909" or the folder's path
    limit: int | None
    piece_ids: list[str]  # every piece, sorted; the *_pieces arrays index into it
    windows_2bar: dict[str, np.ndarray]  # uint8, shape (n, 32), MelodyOneHot events
    windows_16bar: dict[str, np.ndarray]  # uint8, shape (n, 256)
    window_pieces_2bar: dict[str, np.ndarray]  # int32, shape (n,): the piece of each window
    window_pieces_16bar: dict[str, np.ndarray]
    performances: dict[str, list[np.ndarray]]  # int16 performance events, one array per piece
    performance_pieces: dict[str, np.ndarray]  # int32: the piece of each performance
    # The melody alone, as played, one array per piece with a melody (pieces without one left out)
    melody_performances: dict[str, list[np.ndarray]] = field(default_factory=dict)
    counts: dict = field(default_factory=dict)

    def windows(self, num_bars: int, split: str = "train") -> np.ndarray:
        """The windows of 2 or 16 bars of one split."""
        return {2: self.windows_2bar, 16: self.windows_16bar}[num_bars][split]


# -- sources -----------------------------------------------------------------------------------

@dataclass
class _Listing:
    kind: str
    label: str  # what messages call the source
    name: str  # the saved corpus's file name (without suffix)
    units: list[tuple[str, Path, list[Path]]]  # (name, path, files whose state keys the cache)
    left_out: int = 0


def _pop909_units(songs: list[tuple[str, Path]], files) -> list[tuple[str, Path, list[Path]]]:
    """Listing units of POP909-layout song folders (those named in ``files``, when given)."""
    if files is not None:
        wanted = {str(f) for f in files}
        songs = [(n, d) for n, d in songs if n in wanted]
    return [(n, d, [d / f"{n}.mid", d / "beat_midi.txt"]) for n, d in songs]


def _list_source(source: str | os.PathLike, limit: int | None,
                 files: Sequence[str | os.PathLike] | None) -> _Listing:
    src = str(source)
    if src == "music21":
        named, left_out = music21_files(list(files) if files is not None else None)
        units = [(n, p, [p]) for n, p in named]
        listing = _Listing("music21", "music21's corpus", "music21", units, left_out)
    elif src == "pop909":
        root = pop909_dir()
        units = _pop909_units(pop909_songs(root), files)
        listing = _Listing("pop909", "POP909", "pop909", units)
        if not units:
            raise DataError(f"No POP909 song (NNN/NNN.mid with beat_midi.txt) was found in {root}.")
    else:
        root = Path(source).expanduser()
        if not root.is_dir():
            raise DataError(
                f"'{source}' is not a folder; choose music21, pop909 or a folder of MIDI files.")
        root = root.resolve()
        songs = pop909_songs(root)
        if songs:  # POP909's layout (NNN/NNN.mid with beat_midi.txt): its extractor, on its beats
            units = _pop909_units(songs, files)
            listing = _Listing("pop909", f"{root} (POP909's layout)", "", units)
        else:
            named = folder_files(root)
            if files is not None:
                wanted = {Path(f).as_posix() for f in files}
                named = [(n, p) for n, p in named if n in wanted]
            units = [(n, p, [p]) for n, p in named]
            listing = _Listing("folder", str(root), "", units)
        if not units:
            raise DataError(f"There is no MIDI file (.mid, .midi) in the folder '{root}'.")
    if limit is not None:
        if limit < 1:
            raise DataError(f"A limit of {limit} files leaves nothing to read.")
        listing.units = listing.units[:limit]
    listing.name = _corpus_name(source, limit, files)
    return listing


def _source_name(source: str | os.PathLike) -> str:
    src = str(source)
    return src if src in ("music21", "pop909") else str(Path(src).expanduser().resolve())


def _corpus_name(source: str | os.PathLike, limit: int | None,
                 files: Sequence[str | os.PathLike] | None) -> str:
    """The saved corpus's file name, from the arguments alone (no listing, so loading is instant)."""
    name = _source_name(source)
    if name not in ("music21", "pop909"):
        name = f"folder-{hashlib.sha1(name.encode()).hexdigest()[:12]}"
    if limit is not None:
        name += f"-limit{limit}"
    if files is not None:
        picked = "|".join(sorted(str(f) for f in files))
        name += f"-files{hashlib.sha1(picked.encode()).hexdigest()[:10]}"
    return name


# -- building ----------------------------------------------------------------------------------

def build_corpus(source: str | os.PathLike = "music21", limit: int | None = None, workers: int = 2,
                 progress: bool = True, *,
                 files: Sequence[str | os.PathLike] | None = None) -> CorpusData:
    """Build (or bring up to date) the corpus of a source and save it in the cache folder.

    Parameters
    ----------
    source : "music21" (the bundled corpus), "pop909", or the path of a folder of MIDI files.
    limit : read at most this many source files (POP909: song folders). music21's files are
        taken in a stable hashed order, so a limit samples every composer; POP909's by number;
        a folder's by relative path.
    workers : parsing processes; 1 parses in this process.
    progress : show a tqdm bar on stderr while parsing.
    files : only these files: music21 corpus paths ("bach/bwv66.6.mxl"), POP909 numbers
        ("001"), or paths relative to the folder.

    A file whose cached result is current (same path, size, modification time and extractor
    version) is not parsed again; when no file changed the saved corpus is loaded as it is.
    Damaged files are counted in ``counts["files_failed"]``, never raised.
    """
    started = time.monotonic()
    listing = _list_source(source, limit, files)
    jobs = []
    for name, path, key_paths in listing.units:
        size = sum(p.stat().st_size for p in key_paths)
        jobs.append(Job(listing.kind, str(path), name, file_key(listing.kind, key_paths), size))
    manifest = hashlib.sha1(
        f"corpus v{CORPUS_VERSION} extractor v{EXTRACTOR_VERSION} {listing.kind}".encode()
        + "".join(j.key for j in jobs).encode()).hexdigest()

    saved = _load_saved(listing.name, manifest)
    if saved is not None:
        saved.counts.update(files_parsed=0, files_from_cache=len(jobs), reused_saved_corpus=True,
                            seconds=round(time.monotonic() - started, 2))
        return saved

    results: dict[str, FileResult] = {}
    todo = []
    for job in jobs:
        cached = load_file_result(job.kind, job.key)
        if cached is None:
            todo.append(job)
        else:
            results[job.key] = cached
    crashed = 0
    for job, result in _parse(todo, workers, progress, f"Reading {listing.label}"):
        if result.error == _CRASHED:
            crashed += 1
            result = FileResult(job.path, error=f"'{job.name}': the parser crashed on it.")
        else:
            save_file_result(job.kind, job.key, result)
        results[job.key] = result

    corpus = _assemble(jobs, results, _source_name(source), limit)
    corpus.counts.update(
        files_parsed=len(todo), files_from_cache=len(jobs) - len(todo),
        files_left_out=listing.left_out, files_crashed=crashed, reused_saved_corpus=False)
    corpus.counts["seconds"] = round(time.monotonic() - started, 2)
    if not crashed:  # a crash is worth retrying: do not save a corpus that lacks those files
        _save(listing.name, manifest, corpus)
    return corpus


_CRASHED = "\0crashed"


def _parse(todo: list[Job], workers: int, progress: bool, desc: str) -> Iterator[tuple[Job, FileResult]]:
    """Run the jobs, largest first, in ``workers`` processes; yield results as they finish."""
    if not todo:
        return
    todo = sorted(todo, key=lambda j: -j.size)  # the big opuses first, so no worker idles at the end
    with tqdm(total=len(todo), desc=desc, unit="file", file=sys.stderr, disable=not progress,
              dynamic_ncols=True) as bar:
        if workers <= 1 or len(todo) == 1:
            for job in todo:
                yield run_job(job)
                bar.update()
            return
        # spawn, not fork: the caller may hold threads (the GUI's engine thread, torch) that a
        # forked child would inherit in a locked state.
        context = multiprocessing.get_context("spawn")
        # No max_tasks_per_child: up to 3.13 it deadlocks once a worker retires (CPython
        # gh-115634). A worker that dies breaks the pool instead, which is reported below.
        pool = ProcessPoolExecutor(max_workers=min(workers, len(todo)), mp_context=context)
        futures = {pool.submit(run_job, job): job for job in todo}
        try:
            for future in as_completed(futures):
                try:
                    yield future.result()
                except BrokenProcessPool:
                    job = futures[future]
                    yield job, FileResult(job.path, error=_CRASHED)
                bar.update()
        except BaseException:
            # Ctrl-C or a consumer that stops early: drop the queue and do not wait for the
            # files being parsed (what finished is already cached, so the next build resumes).
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown(wait=True)


def _assemble(jobs: list[Job], results: dict[str, FileResult], source: str,
              limit: int | None) -> CorpusData:
    pieces: dict[str, Piece] = {}
    failures = []
    works_failed = 0
    for job in jobs:
        result = results[job.key]
        works_failed += result.works_failed
        if result.error:
            failures.append(result.error)
        for p in result.pieces:
            pieces.setdefault(p.id, p)
    ordered = [pieces[k] for k in sorted(pieces)]
    piece_ids = [p.id for p in ordered]
    splits = [split_of(p.id) for p in ordered]

    counts: dict = {
        "source": source, "limit": limit,
        "files": len(jobs),
        "files_failed": len(failures),
        "works_failed": works_failed,
        "pieces": len(ordered),
        "pieces_skipped_meter": sum(not p.meter_ok for p in ordered),
        "pieces_mixed_meter": sum(p.meter_mixed for p in ordered),
        "pieces_without_melody": sum(p.melody_notes == 0 for p in ordered),
        "notes_transposed": sum(p.notes_transposed for p in ordered),
        "meters": dict(Counter(p.meter for p in ordered).most_common()),
        "failures": failures[:50],
    }

    windows: dict[int, dict[str, np.ndarray]] = {}
    owners: dict[int, dict[str, np.ndarray]] = {}
    for num_bars in WINDOW_BARS:
        blocks, cut, few, silent = [], 0, 0, 0
        for p in ordered:
            w = cut_windows(p.melody, p.window_bars, num_bars) if p.meter_ok else \
                np.zeros((0, 16 * num_bars), np.uint8)
            enough, no_silence = window_checks(w)
            cut += len(w)
            few += int(np.count_nonzero(~enough))
            silent += int(np.count_nonzero(enough & ~no_silence))
            blocks.append(w[enough & no_silence])
        keep = first_occurrences(blocks)
        by_split: dict[str, list] = {s: [] for s in SPLITS}
        own_split: dict[str, list] = {s: [] for s in SPLITS}
        for i, (block, k) in enumerate(zip(blocks, keep)):
            if k.any():
                by_split[splits[i]].append(block[k])
                own_split[splits[i]].append(np.full(int(k.sum()), i, dtype=np.int32))
        width = 16 * num_bars
        windows[num_bars] = {s: (np.concatenate(v) if v else np.zeros((0, width), np.uint8))
                             for s, v in by_split.items()}
        owners[num_bars] = {s: (np.concatenate(v) if v else np.zeros(0, np.int32))
                            for s, v in own_split.items()}
        before = sum(len(b) for b in blocks)
        counts[f"windows_{num_bars}bar"] = {
            "cut": cut, "few_notes": few, "silent_bar": silent, "before_dedup": before,
            "after_dedup": sum(len(v) for v in windows[num_bars].values()),
        }

    performances: dict[str, list[np.ndarray]] = {s: [] for s in SPLITS}
    perf_owner: dict[str, list[int]] = {s: [] for s in SPLITS}
    melodies: dict[str, list[np.ndarray]] = {s: [] for s in SPLITS}
    for i, p in enumerate(ordered):
        if len(p.performance):
            performances[splits[i]].append(p.performance)
            perf_owner[splits[i]].append(i)
        if len(p.melody_performance):
            melodies[splits[i]].append(p.melody_performance)
    counts["splits"] = {
        s: {
            "pieces": splits.count(s),
            "windows_2bar": len(windows[2][s]),
            "windows_16bar": len(windows[16][s]),
            "performances": len(performances[s]),
            "performance_events": int(sum(len(x) for x in performances[s])),
            "melody_performances": len(melodies[s]),
            "melody_events": int(sum(len(x) for x in melodies[s])),
        } for s in SPLITS
    }
    return CorpusData(
        source=source, limit=limit, piece_ids=piece_ids,
        windows_2bar=windows[2], windows_16bar=windows[16],
        window_pieces_2bar=owners[2], window_pieces_16bar=owners[16],
        performances=performances,
        performance_pieces={s: np.asarray(v, dtype=np.int32) for s, v in perf_owner.items()},
        melody_performances=melodies,
        counts=counts,
    )


# -- saving and loading ------------------------------------------------------------------------

def _paths(name: str) -> tuple[Path, Path]:
    d = cache_dir()
    return d / f"{name}.npz", d / f"{name}.json"


def _save(name: str, manifest: str, corpus: CorpusData) -> None:
    npz_path, json_path = _paths(name)
    arrays: dict[str, np.ndarray] = {"manifest": np.array(manifest)}
    for s in SPLITS:
        arrays[f"{s}__windows_2bar"] = corpus.windows_2bar[s]
        arrays[f"{s}__windows_16bar"] = corpus.windows_16bar[s]
        arrays[f"{s}__window_pieces_2bar"] = corpus.window_pieces_2bar[s]
        arrays[f"{s}__window_pieces_16bar"] = corpus.window_pieces_16bar[s]
        for kind, perfs in (("performance", corpus.performances[s]),
                            ("melody", corpus.melody_performances.get(s, []))):
            arrays[f"{s}__{kind}_events"] = (np.concatenate(perfs) if perfs
                                             else np.zeros(0, np.int16))
            arrays[f"{s}__{kind}_offsets"] = np.cumsum([0] + [len(x) for x in perfs]).astype(np.int64)
        arrays[f"{s}__performance_pieces"] = corpus.performance_pieces[s]
    atomic_write(npz_path, lambda f: np.savez(f, **arrays), durable=False)
    meta = {"format": CORPUS_VERSION, "manifest": manifest, "source": corpus.source,
            "limit": corpus.limit, "counts": corpus.counts, "piece_ids": corpus.piece_ids}
    atomic_write_bytes(json_path, json.dumps(meta, indent=1).encode("utf-8"), durable=False)


def _read(name: str) -> CorpusData | None:
    npz_path, json_path = _paths(name)
    try:
        meta = json.loads(json_path.read_text(encoding="utf-8"))
        with np.load(npz_path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (OSError, ValueError, KeyError):
        return None
    if meta.get("format") != CORPUS_VERSION or str(arrays.get("manifest")) != meta.get("manifest"):
        return None
    performances: dict[str, list[np.ndarray]] = {}
    melodies: dict[str, list[np.ndarray]] = {}
    for s in SPLITS:
        for kind, into in (("performance", performances), ("melody", melodies)):
            events, offsets = arrays[f"{s}__{kind}_events"], arrays[f"{s}__{kind}_offsets"]
            into[s] = [events[a:b] for a, b in zip(offsets[:-1], offsets[1:])]
    corpus = CorpusData(
        source=meta["source"], limit=meta["limit"], piece_ids=list(meta["piece_ids"]),
        windows_2bar={s: arrays[f"{s}__windows_2bar"] for s in SPLITS},
        windows_16bar={s: arrays[f"{s}__windows_16bar"] for s in SPLITS},
        window_pieces_2bar={s: arrays[f"{s}__window_pieces_2bar"] for s in SPLITS},
        window_pieces_16bar={s: arrays[f"{s}__window_pieces_16bar"] for s in SPLITS},
        performances=performances,
        performance_pieces={s: arrays[f"{s}__performance_pieces"] for s in SPLITS},
        melody_performances=melodies,
        counts=dict(meta["counts"]),
    )
    corpus.counts["manifest"] = meta["manifest"]
    return corpus


def _load_saved(name: str, manifest: str) -> CorpusData | None:
    corpus = _read(name)
    if corpus is None or corpus.counts.get("manifest") != manifest:
        return None
    return corpus


def load_corpus(source: str | os.PathLike = "music21", limit: int | None = None, *,
                files: Sequence[str | os.PathLike] | None = None) -> CorpusData:
    """The corpus saved by the last `build_corpus` with the same arguments, loaded as it is.

    It is not checked against the source files (that is what `build_corpus` does, cheaply when
    nothing changed). Raises `DataError` when no such corpus has been built.
    """
    corpus = _read(_corpus_name(source, limit, files))
    if corpus is None:
        limit_text = f" --limit {limit}" if limit is not None else ""
        raise DataError(
            f"The {source} corpus has not been built yet (or was built by another version of "
            f"Cantus). Build it with: cantus data build --source {source}{limit_text}")
    return corpus


# -- reporting ---------------------------------------------------------------------------------

def format_counts(corpus: CorpusData) -> str:
    """A short table of what a build found, for people."""
    c = corpus.counts
    limit = f", limit {c['limit']}" if c.get("limit") is not None else ""
    lines = [f"Corpus {c['source']}{limit}"]
    files = (f"  files: {c['files']:,} ({c.get('files_parsed', 0):,} parsed, "
             f"{c.get('files_from_cache', 0):,} from cache, {c['files_failed']:,} failed")
    if c.get("files_left_out"):
        files += f", {c['files_left_out']:,} left out"
    lines.append(files + ")")
    pieces = (f"  pieces: {c['pieces']:,} ({c['pieces_skipped_meter']:,} skipped by meter, "
              f"{c['pieces_mixed_meter']:,} mixed meters, "
              f"{c['pieces_without_melody']:,} without melody")
    if c.get("works_failed"):
        pieces += f", {c['works_failed']:,} works unreadable"
    lines.append(pieces + ")")
    meters = list(c.get("meters", {}).items())
    shown = ", ".join(f"{m} {n:,}" for m, n in meters[:6])
    if len(meters) > 6:
        shown += f", {len(meters) - 6} others {sum(n for _, n in meters[6:]):,}"
    lines.append(f"  meters: {shown}")
    if c.get("meters", {}).get(BARS_FROM_NOTES):
        lines.append(f"  {c['meters'][BARS_FROM_NOTES]:,} pieces have no meter of their own (1/4 throughout, or notes off "
                     "their grid): their beats and bar lines were found from the notes (the downbeat is a guess, "
                     "right for about 7 in 10 POP909 songs)")
    if c.get("notes_transposed"):
        lines.append(f"  melody notes moved by octaves into piano range: {c['notes_transposed']:,}")
    header = f"  {'':<22}{'train':>10}{'validation':>12}{'test':>10}{'total':>10}"
    lines.append(header)
    splits = c["splits"]

    def row(label: str, key: str) -> str:
        vals = [splits[s][key] for s in SPLITS]
        return f"  {label:<22}" + "".join(
            f"{v:>{w},}" for v, w in zip(vals + [sum(vals)], (10, 12, 10, 10)))

    lines.append(row("pieces", "pieces"))
    lines.append(row("2-bar windows", "windows_2bar"))
    lines.append(row("16-bar windows", "windows_16bar"))
    lines.append(row("performances", "performances"))
    lines.append(row("performance events", "performance_events"))
    lines.append(row("melody performances", "melody_performances"))
    lines.append(row("melody events", "melody_events"))
    for num_bars in WINDOW_BARS:
        w = c[f"windows_{num_bars}bar"]
        lines.append(
            f"  {num_bars}-bar windows: {w['cut']:,} cut, {w['few_notes']:,} with under 2 notes, "
            f"{w['silent_bar']:,} with a silent bar, {w['before_dedup']:,} kept, "
            f"{w['after_dedup']:,} after removing duplicates")
    took = "loaded the saved corpus" if c.get("reused_saved_corpus") else "built"
    lines.append(f"  {took} in {c.get('seconds', 0):.1f} s")
    return "\n".join(lines)


def load_corpora(sources: str) -> list[CorpusData]:
    """The corpora named in a comma-separated list ("music21,pop909"), each loaded from the
    cache, or built first when it has not been built yet."""
    out = []
    for source in [s.strip() for s in sources.split(",") if s.strip()]:
        try:
            out.append(load_corpus(source))
        except DataError:
            out.append(build_corpus(source))
    return out

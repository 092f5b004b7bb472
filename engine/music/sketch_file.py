"""The Cantus sketch file (``.cantus``): versioned JSON that holds a `Sketch` exactly.

Version 1 layout::

    {"format": "cantus-sketch", "version": 1, "ticks_per_quarter": 480,
     "tempos": [[tick, qpm], ...], "time_signatures": [[tick, numerator, denominator], ...],
     "tracks": [{"name": str, "program": int, "is_drum": bool, "mute": bool, "solo": bool,
                 "notes": [[pitch, velocity, start_tick, end_tick], ...]}, ...]}
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from engine.errors import SketchFileError
from engine.fileio import atomic_write_text
from engine.music.sketch import TICKS_PER_QUARTER, Note, Sketch, TempoChange, TimeSignature, Track

FORMAT = "cantus-sketch"
VERSION = 1
SUFFIX = ".cantus"


def sketch_to_dict(sketch: Sketch) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "version": VERSION,
        "ticks_per_quarter": TICKS_PER_QUARTER,
        "tempos": [[t.tick, t.qpm] for t in sketch.tempos],
        "time_signatures": [[ts.tick, ts.numerator, ts.denominator] for ts in sketch.time_signatures],
        "tracks": [
            {
                "name": t.name,
                "program": t.program,
                "is_drum": t.is_drum,
                "notes": [[n.pitch, n.velocity, n.start_tick, n.end_tick] for n in t.sorted_notes()],
                "mute": t.mute,
                "solo": t.solo,
            }
            for t in sketch.tracks
        ],
    }


def sketch_from_dict(data: Any, name: str = "The sketch") -> Sketch:
    """Build a `Sketch` from the JSON structure, raising `SketchFileError` on anything malformed."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise SketchFileError(f"{name} is not a Cantus sketch.")
    version = data.get("version")
    if not isinstance(version, int) or version < 1:
        raise SketchFileError(f"{name} has no valid format version.")
    if version > VERSION:
        raise SketchFileError(
            f"{name} was saved by a newer Cantus (format {version}); this version reads up to "
            f"format {VERSION}. Please update Cantus to open it.")
    if data.get("ticks_per_quarter", TICKS_PER_QUARTER) != TICKS_PER_QUARTER:
        raise SketchFileError(f"{name} uses an unknown time resolution.")
    try:
        tracks = [
            Track(
                str(t.get("name", "")),
                int(t.get("program", 0)),
                bool(t.get("is_drum", False)),
                [Note(int(p), int(v), int(s), int(e)) for p, v, s, e in t.get("notes", [])],
                bool(t.get("mute", False)),
                bool(t.get("solo", False)),
            )
            for t in data.get("tracks", [])
        ]
        for t in tracks:
            if not 0 <= t.program <= 127:
                raise ValueError(f"program {t.program} is outside 0..127")
        tempos = [TempoChange(int(tick), float(qpm)) for tick, qpm in data.get("tempos", [])]
        signatures = [TimeSignature(int(tick), int(num), int(den))
                      for tick, num, den in data.get("time_signatures", [])]
        for ts in signatures:
            if ts.numerator < 1 or ts.denominator < 1 or ts.denominator & (ts.denominator - 1):
                raise ValueError(f"time signature {ts.numerator}/{ts.denominator}")
        return Sketch(tracks, tempos, signatures)
    except (TypeError, ValueError, AttributeError) as e:
        raise SketchFileError(f"{name} is damaged: {e}.") from None


def dumps(sketch: Sketch) -> str:
    return json.dumps(sketch_to_dict(sketch), separators=(",", ":"), ensure_ascii=False)


def save_sketch(sketch: Sketch, path: str | os.PathLike) -> Path:
    """Save atomically: a temporary file renamed into place, so a crash never leaves half a file."""
    path = Path(path)
    try:
        return atomic_write_text(path, dumps(sketch))
    except OSError as e:
        raise SketchFileError(f"Cannot save '{path}': {e.strerror or e}.") from None


def load_sketch(path: str | os.PathLike) -> Sketch:
    path = Path(path)
    label = f"'{path.name}'"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SketchFileError(f"The file {label} does not exist.") from None
    except UnicodeDecodeError:
        raise SketchFileError(f"{label} is not a Cantus sketch (it is not text).") from None
    except OSError as e:
        raise SketchFileError(f"The file {label} cannot be read: {e.strerror or e}.") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        raise SketchFileError(f"{label} is damaged or cut off: it is not valid sketch data.") from None
    return sketch_from_dict(data, label)

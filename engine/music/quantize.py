"""Quantize notes to a rhythmic grid, fully or partly (strength), as a sequencer does."""

from __future__ import annotations

from dataclasses import replace

from engine.music.sketch import TICKS_PER_QUARTER, TICKS_PER_STEP, Note, Track

# Grid names a musician uses, to ticks at 480 per quarter. "t" is a triplet.
GRIDS: dict[str, int] = {
    "1/4": 480, "1/8": 240, "1/16": 120, "1/32": 60,
    "1/4t": 320, "1/8t": 160, "1/16t": 80, "1/32t": 40,
}


def grid_ticks(grid: str | int) -> int:
    """A grid as ticks: "1/16" -> 120, "1/8t" -> 160, or an int passed through."""
    if isinstance(grid, int):
        ticks = grid
    elif grid in GRIDS:
        ticks = GRIDS[grid]
    else:
        raise ValueError(f"unknown grid {grid!r}; choose one of {', '.join(GRIDS)}")
    if ticks <= 0 or (TICKS_PER_QUARTER * 4) % ticks:
        raise ValueError(f"a grid of {ticks} ticks does not divide a whole note")
    return ticks


def _snap(tick: int, grid: int, strength: float) -> int:
    nearest = ((2 * tick + grid) // (2 * grid)) * grid  # half-way rounds up, in integers
    return int(round(tick + strength * (nearest - tick)))


def quantize_notes(notes: list[Note], grid: str | int = TICKS_PER_STEP,
                   strength: float = 1.0) -> list[Note]:
    """Move each note's start and end toward the nearest grid line by ``strength`` (0..1).

    At full strength every start and end lands on the grid and a note that would vanish keeps
    one grid step; at lower strength a note keeps at least one tick.
    """
    g = grid_ticks(grid)
    if not 0.0 <= strength <= 1.0:
        raise ValueError(f"strength {strength} is outside 0..1")
    out = []
    for n in notes:
        start = _snap(n.start_tick, g, strength)
        end = _snap(n.end_tick, g, strength)
        if end <= start:
            end = start + (g if strength == 1.0 else 1)
        out.append(replace(n, start_tick=start, end_tick=end))
    return out


def quantize_track(track: Track, grid: str | int = TICKS_PER_STEP, strength: float = 1.0) -> Track:
    return track.copy(quantize_notes(track.notes, grid, strength)).without_overlaps()


def is_quantized(notes: list[Note], grid: str | int = TICKS_PER_STEP) -> bool:
    g = grid_ticks(grid)
    return all(n.start_tick % g == 0 and n.end_tick % g == 0 for n in notes)


def quantize_melody(track: Track, grid: str | int = TICKS_PER_STEP) -> tuple[Track, int]:
    """Quantize a monophonic line fully and keep it monophonic.

    Each note is cut where the next one begins; a note left with no length (a grace note
    shorter than the grid, landing on the same line as the next note) is dropped.
    Returns (track, number of notes dropped).
    """
    ordered = sorted(track.notes)
    snapped = quantize_notes(ordered, grid, 1.0)
    kept: list[Note] = []
    dropped = 0
    for note in snapped:
        if kept and kept[-1].end_tick > note.start_tick:
            if kept[-1].start_tick >= note.start_tick:
                kept.pop()
                dropped += 1
            else:
                kept[-1] = replace(kept[-1], end_tick=note.start_tick)
        kept.append(note)
    return track.copy(kept), dropped


def snap_notes(notes: list[Note], grid: str | int, one_at_a_time: bool = False) -> list[Note]:
    """`quantize_notes` at full strength, losing none; ``one_at_a_time`` (a melody) also keeps
    every note after the one before it, which is cut where the next begins (where
    `quantize_melody` would drop a note that lands on its neighbour's line, this moves it on)."""
    g = grid_ticks(grid)
    out: list[Note] = []
    for n in quantize_notes(sorted(notes), g):
        if one_at_a_time and out:
            if n.start_tick <= out[-1].start_tick:
                start = out[-1].start_tick + g
                n = replace(n, start_tick=start, end_tick=max(n.end_tick, start + g))
            if out[-1].end_tick > n.start_tick:
                out[-1] = replace(out[-1], end_tick=n.start_tick)
        out.append(n)
    return out

"""Find the melody in polyphonic material: a track named like one, or the skyline."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from itertools import groupby

from engine.errors import CantusError
from engine.music.sketch import Note, Sketch, Track

# Track names that announce a lead line (POP909 calls it MELODY).
MELODY_NAME = re.compile(r"\b(melody|melodie|lead|vocals?|solo)\b", re.IGNORECASE)


@dataclass
class MelodyExtraction:
    """The melody found in a sketch and what was given up to make it monophonic."""

    track: Track  # monophonic
    track_index: int | None  # the track it came from, or None for a skyline over several tracks
    source: str  # for people: "track 'MELODY'", "skyline of 3 tracks"
    dropped: int  # notes left out because a higher note sounded
    truncated: int  # notes cut short where a higher note began

    def describe(self) -> str:
        text = f"melody from {self.source}: {len(self.track.notes)} notes"
        if self.dropped or self.truncated:
            text += f" ({self.dropped} dropped, {self.truncated} shortened to keep one note at a time)"
        return text


def find_melody_track(sketch: Sketch) -> int | None:
    """Index of the first pitched track whose name says it is the melody, if any."""
    for i, t in enumerate(sketch.tracks):
        if not t.is_drum and t.notes and MELODY_NAME.search(t.name or ""):
            return i
    return None


def skyline(notes: list[Note]) -> tuple[list[Note], int, int]:
    """The highest line through ``notes``: at each onset the top note starting there wins.

    A held note is cut when a higher note begins; a note that starts under a held higher one is
    dropped. Returns (monophonic notes, dropped count, truncated count).
    """
    kept: list[Note] = []
    dropped = truncated = 0
    for start, group in groupby(sorted(notes), key=lambda n: n.start_tick):
        group = list(group)
        top = max(group, key=lambda n: (n.pitch, n.end_tick))
        dropped += len(group) - 1
        if kept and kept[-1].end_tick > start:
            if top.pitch > kept[-1].pitch:
                kept[-1] = replace(kept[-1], end_tick=start)
                truncated += 1
            else:
                dropped += 1
                continue
        kept.append(top)
    return kept, dropped, truncated


def top_line(notes: list[Note]) -> list[Note]:
    """One note at a time, none dropped but those under a higher onset: the top note of each onset,
    each cut where the next begins (a legato line's overlaps become joins; a chord its top note)."""
    tops = [max(group, key=lambda n: (n.pitch, n.end_tick))
            for _, group in groupby(sorted(notes), key=lambda n: n.start_tick)]
    return [replace(n, end_tick=min(n.end_tick, after.start_tick)) if after is not None else n
            for n, after in zip(tops, tops[1:] + [None])]


def extract_melody(sketch: Sketch) -> MelodyExtraction:
    """The melody of a sketch, monophonic, with a report of what was dropped."""
    index = find_melody_track(sketch)
    if index is not None:
        track = sketch.tracks[index]
        notes, dropped, truncated = skyline(track.notes)
        return MelodyExtraction(track.copy(notes), index, f"track '{track.name}'", dropped, truncated)
    pitched = [(i, t) for i, t in enumerate(sketch.tracks) if not t.is_drum and t.notes]
    if not pitched:
        return MelodyExtraction(Track("Melody"), None, "no pitched track", 0, 0)
    if len(pitched) == 1:
        i, track = pitched[0]
        notes, dropped, truncated = skyline(track.notes)
        name = f"track '{track.name}'" if track.name else f"track {i + 1}"
        return MelodyExtraction(track.copy(notes), i, name, dropped, truncated)
    all_notes = [n for _, t in pitched for n in t.notes]
    notes, dropped, truncated = skyline(all_notes)
    first = pitched[0][1]
    return MelodyExtraction(Track("Melody", first.program, False, notes), None,
                            f"skyline of {len(pitched)} tracks", dropped, truncated)


LEGATO_TICKS = 60  # a note may overlap the next by a 32nd and still be a melody played legato


def line_breaks(notes) -> int:
    """How many notes break a melody's one-note-at-a-time: where a note overlaps the next by more
    than `LEGATO_TICKS` (a 32nd), the overlap must be a legato handover, at most half of either
    note (POP909's sung melodies overlap their next note by up to an eighth in places). A chord,
    a note held under moving ones or one inside another overlaps more than that, and three notes
    cannot sound at once without it."""
    before: Note | None = None  # of the notes so far, the one that ends last
    breaks = 0
    for n in sorted(notes):
        if before is not None and n.start_tick < before.end_tick - LEGATO_TICKS:
            overlap = before.end_tick - n.start_tick
            breaks += 2 * overlap > min(before.end_tick - before.start_tick, n.end_tick - n.start_tick)
        if before is None or n.end_tick > before.end_tick:
            before = n
    return breaks


def is_line(notes) -> bool:
    """One note at a time, legato handovers allowed (see `line_breaks`)."""
    return line_breaks(notes) == 0


STRAY_OVERLAPS = 20  # a phrase is still a melody with one stray overlap in this many notes


def sounds_like_line(notes) -> bool:
    """A melody to the ear: one note at a time, save at most one stray overlap in
    `STRAY_OVERLAPS` notes (a grace note caught under the one before, in a long sung line);
    a chord or a held bass note in a short phrase is more than that."""
    notes = list(notes)
    return line_breaks(notes) * STRAY_OVERLAPS <= len(notes)


MODES = ("auto", "melody", "piano")  # how a phrase is continued


def phrase_mode(sketch: Sketch, start_tick: int, mode: str = "auto") -> str:
    """"melody" or "piano": ``mode`` itself, or for "auto" what the phrase is (the pitched notes
    before ``start_tick``): a melody when it `sounds_like_line`."""
    if mode not in MODES:
        raise CantusError(f"Unknown mode '{mode}'; choose one of: {', '.join(MODES)}.")
    if mode != "auto":
        return mode
    return "melody" if sounds_like_line(n for t in sketch.tracks if not t.is_drum for n in t.notes
                               if n.start_tick < start_tick) else "piano"

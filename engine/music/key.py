"""Keys: names like "A:min" or "Eb:maj", their scales, and a key found from the notes.

Detection is Krumhansl-Schmuckler: the duration-weighted pitch-class profile of the notes is
correlated with the Krumhansl-Kessler major and minor profiles in all 12 transpositions, and
the best wins. A minor key's scale is natural minor plus the raised seventh (the leading tone
that minor-key melodies use all the time).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable

import numpy as np

from engine.errors import CantusError
from engine.music.sketch import Note

NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
_LETTERS = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
MAJOR_STEPS = (0, 2, 4, 5, 7, 9, 11)
MINOR_STEPS = (0, 2, 3, 5, 7, 8, 10, 11)  # natural minor + leading tone
# Krumhansl & Kessler (1982) probe-tone ratings.
MAJOR_PROFILE = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
MINOR_PROFILE = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])


class KeyNameError(CantusError):
    """A key name that cannot be read."""


@dataclass(frozen=True)
class Key:
    tonic: int  # pitch class, 0 = C
    minor: bool

    @property
    def name(self) -> str:
        return f"{NAMES[self.tonic]}:{'min' if self.minor else 'maj'}"

    @property
    def pitch_classes(self) -> frozenset[int]:
        steps = MINOR_STEPS if self.minor else MAJOR_STEPS
        return frozenset((self.tonic + s) % 12 for s in steps)

    def __str__(self) -> str:
        return self.name


def parse_key(text: str) -> Key:
    """ "A:min", "a minor", "Eb", "F#:maj", "Bbm" -> Key. A bare tonic is major."""
    m = re.fullmatch(r"\s*([A-Ga-g])([#b♯♭]?)\s*[:\s]?\s*(maj(or)?|min(or)?|m)?\s*", text or "")
    if not m:
        raise KeyNameError(f"'{text}' is not a key. Write it like 'C:maj', 'A:min' or 'F#:min'.")
    tonic = _LETTERS[m.group(1).upper()] + {"#": 1, "♯": 1, "b": -1, "♭": -1, "": 0}[m.group(2)]
    return Key(tonic % 12, m.group(3) in ("m", "min", "minor"))


def detect_key(notes: Iterable[Note]) -> Key | None:
    """The best-fitting major or minor key for these notes (None when there are none)."""
    profile = np.zeros(12)
    for n in notes:
        profile[n.pitch % 12] += max(n.end_tick - n.start_tick, 1)
    if not profile.any() or np.count_nonzero(profile) < 2:
        return Key(int(np.argmax(profile)), False) if profile.any() else None
    best, best_r = None, -2.0
    for tonic in range(12):
        for minor, ref in ((False, MAJOR_PROFILE), (True, MINOR_PROFILE)):
            r = np.corrcoef(profile, np.roll(ref, tonic))[0, 1]
            if r > best_r:
                best, best_r = Key(tonic, minor), r
    return best

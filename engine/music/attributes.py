"""The five MusicVAE attributes of a melody, measured on the 16th-note grid.

- ``c_diatonic``: fraction of notes whose pitch class is in C major.
- ``note_density``: note onsets per 16th-note step.
- ``mean_interval``: mean absolute interval between successive notes, in semitones.
- ``syncopation_16th``: fraction of notes that start on an off-8th 16th (steps 1, 3, 5...) and
  are still sounding at the next 8th-note position.
- ``syncopation_8th``: fraction of notes that start on an off-beat 8th (steps 2, 6, 10...) and
  are still sounding at the next beat.
"""

from __future__ import annotations

import math

from engine.music.encodings.melody_onehot import FIRST_NOTE_ON, NO_EVENT, NOTE_OFF, MelodyOneHot
from engine.music.sketch import TICKS_PER_STEP, Track

ATTRIBUTES = ("c_diatonic", "note_density", "mean_interval", "syncopation_16th", "syncopation_8th")


def notes_needed(attribute: str) -> int:
    """How many notes a window needs for ``attribute`` to mean something: an interval two, the
    others one (a silent window has no key, density or syncopation to speak of)."""
    return 2 if attribute == "mean_interval" else 1
C_MAJOR_PITCH_CLASSES = frozenset({0, 2, 4, 5, 7, 9, 11})


def melody_attributes(track: Track, num_steps: int | None = None) -> dict[str, float]:
    """Attributes of a monophonic track whose ticks lie on the 16th grid (quantize first).

    ``num_steps`` is the length the density is taken over (default: up to the last note end,
    rounded up to a whole step). A melody with no notes has all attributes 0.
    """
    notes = track.sorted_notes()
    if num_steps is None:
        num_steps = math.ceil(track.end_tick / TICKS_PER_STEP)
    if not notes or num_steps <= 0:
        return dict.fromkeys(ATTRIBUTES, 0.0)
    n = len(notes)
    starts = [note.start_tick // TICKS_PER_STEP for note in notes]
    ends = [math.ceil(note.end_tick / TICKS_PER_STEP) for note in notes]
    pitches = [note.pitch for note in notes]
    intervals = [abs(b - a) for a, b in zip(pitches, pitches[1:])]
    sync16 = sum(1 for s, e in zip(starts, ends) if s % 2 == 1 and e > s + 1)
    sync8 = sum(1 for s, e in zip(starts, ends) if s % 4 == 2 and e > s + 2)
    return {
        "c_diatonic": sum(p % 12 in C_MAJOR_PITCH_CLASSES for p in pitches) / n,
        "note_density": n / num_steps,
        "mean_interval": sum(intervals) / len(intervals) if intervals else 0.0,
        "syncopation_16th": sync16 / n,
        "syncopation_8th": sync8 / n,
    }


def token_attributes(tokens, names=ATTRIBUTES, min_pitch: int = MelodyOneHot.min_pitch):
    """`melody_attributes` of a batch of MelodyOneHot windows (batch, steps), computed on the
    tokens at once (torch, no decoding): a (batch, len(names)) float tensor, columns in
    ``names``' order. The MusicVAE trainer's attribute regulariser reads it for every batch."""
    import torch

    t = tokens.long()
    batch, steps = t.shape
    onset = t >= FIRST_NOTE_ON
    n = onset.sum(1).float()
    safe_n = n.clamp(min=1.0)
    pitch = (t - FIRST_NOTE_ON + min_pitch).clamp(min=0)
    out = {}
    pc = pitch % 12
    diatonic = torch.zeros_like(onset)
    for c in C_MAJOR_PITCH_CLASSES:
        diatonic |= pc == c
    out["c_diatonic"] = (onset & diatonic).sum(1).float() / safe_n
    out["note_density"] = n / steps
    # the previous onset's pitch at each onset: the last onset index before it (cummax of indices)
    index = torch.where(onset, torch.arange(steps, device=t.device).expand(batch, steps), torch.full_like(t, -1))
    last = torch.cummax(index, dim=1).values
    previous = torch.cat([torch.full_like(last[:, :1], -1), last[:, :-1]], dim=1)
    has_prev = onset & (previous >= 0)
    prev_pitch = torch.gather(pitch, 1, previous.clamp(min=0))
    interval = torch.where(has_prev, (pitch - prev_pitch).abs(), torch.zeros_like(pitch)).sum(1).float()
    out["mean_interval"] = interval / has_prev.sum(1).float().clamp(min=1.0)
    # still sounding at the next 8th (16th syncopation) or beat (8th): holds (NO_EVENT) follow
    ended = torch.full_like(t[:, :2], NOTE_OFF)  # past the window the note has ended
    padded = torch.cat([t, ended], dim=1)
    held1 = padded[:, 1:steps + 1] == NO_EVENT
    held2 = held1 & (padded[:, 2:steps + 2] == NO_EVENT)
    step = torch.arange(steps, device=t.device)
    out["syncopation_16th"] = (onset & (step % 2 == 1) & held1).sum(1).float() / safe_n
    out["syncopation_8th"] = (onset & (step % 4 == 2) & held2).sum(1).float() / safe_n
    return torch.stack([out[name] for name in names], dim=1)

"""The open document: a sketch that changes only through edits, each with an exact inverse.

Edits are small immutable values (replace some notes of a track, change a track's settings,
add or remove a track, change the tempo or meter map, or a group of these as one gesture).
`Document.apply(edit)` changes the sketch and tells every listener what changed; undo applies
`edit.inverse()`. The app wraps edits in QUndoCommands; nothing here knows about Qt.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Union

from engine.music.sketch import Note, Sketch, TempoChange, TimeSignature, Track


@dataclass(frozen=True)
class NoteEdit:
    """Remove ``removed`` from track ``track`` and add ``added`` (a move is both)."""

    track: int
    removed: tuple[Note, ...] = ()
    added: tuple[Note, ...] = ()
    label: str = "Edit Notes"

    def inverse(self) -> "NoteEdit":
        return NoteEdit(self.track, self.added, self.removed, self.label)


@dataclass(frozen=True)
class TrackSettings:
    name: str
    program: int
    is_drum: bool
    mute: bool
    solo: bool

    @classmethod
    def of(cls, track: Track) -> "TrackSettings":
        return cls(track.name, track.program, track.is_drum, track.mute, track.solo)


@dataclass(frozen=True)
class TrackSettingsEdit:
    track: int
    before: TrackSettings
    after: TrackSettings
    label: str = "Track Settings"

    def inverse(self) -> "TrackSettingsEdit":
        return TrackSettingsEdit(self.track, self.after, self.before, self.label)


@dataclass(frozen=True)
class AddTrack:
    """Insert a track (with its notes) at ``index``; the inverse removes it."""

    index: int
    track: Track
    label: str = "Add Track"
    remove: bool = False  # True: this is the removal of that track

    def inverse(self) -> "AddTrack":
        return AddTrack(self.index, self.track, self.label, not self.remove)


@dataclass(frozen=True)
class TimingEdit:
    """Replace the tempo map and the meter map."""

    before: tuple[tuple[TempoChange, ...], tuple[TimeSignature, ...]]
    after: tuple[tuple[TempoChange, ...], tuple[TimeSignature, ...]]
    label: str = "Tempo and Meter"

    def inverse(self) -> "TimingEdit":
        return TimingEdit(self.after, self.before, self.label)


@dataclass(frozen=True)
class EditGroup:
    """Several edits that are one gesture (one undo step)."""

    edits: tuple["Edit", ...]
    label: str = "Edit"

    def inverse(self) -> "EditGroup":
        return EditGroup(tuple(e.inverse() for e in reversed(self.edits)), self.label)


Edit = Union[NoteEdit, TrackSettingsEdit, AddTrack, TimingEdit, EditGroup]
Listener = Callable[[object], None]  # called with the edit applied, or RESET after a new sketch

RESET = "reset"


class EditError(ValueError):
    """An edit that does not fit the document (a bug in the caller, never the user's fault)."""


class Document:
    """The sketch being edited and its file.

    ``revision`` counts changes (autosave compares it with what it last wrote). Whether the
    document differs from its file is the undo stack's business alone: the app's QUndoStack
    knows when an undo returns to the saved state.
    """

    def __init__(self, sketch: Sketch | None = None, path: str | Path | None = None) -> None:
        self.sketch = sketch if sketch is not None else Sketch.new(tracks=[Track("Melody")])
        self.path = Path(path) if path else None
        self._listeners: list[Listener] = []
        self.revision = 0

    # -- listening ------------------------------------------------------------------------------

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def unsubscribe(self, listener: Listener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def _notify(self, change: object) -> None:
        for listener in list(self._listeners):
            listener(change)

    # -- state ----------------------------------------------------------------------------------

    def mark_saved(self, path: str | Path) -> None:
        """The sketch was written to ``path``: its file from now on."""
        self.path = Path(path)

    def reset(self, sketch: Sketch, path: str | Path | None = None) -> None:
        """A new sketch (opened, imported, recovered); listeners hear RESET."""
        self.sketch = sketch
        self.path = Path(path) if path else None
        self.revision += 1
        self._notify(RESET)

    @property
    def name(self) -> str:
        return self.path.name if self.path else "Untitled"

    # -- editing --------------------------------------------------------------------------------

    def apply(self, edit: Edit) -> None:
        """Apply an edit (undo applies its inverse) and tell the listeners."""
        self._apply(edit)
        self.revision += 1
        self._notify(edit)

    def _apply(self, edit: Edit) -> None:
        tracks = self.sketch.tracks
        if isinstance(edit, EditGroup):
            for e in edit.edits:
                self._apply(e)
        elif isinstance(edit, NoteEdit):
            if not 0 <= edit.track < len(tracks):
                raise EditError(f"there is no track {edit.track}")
            notes = list(tracks[edit.track].notes)
            for n in edit.removed:
                try:
                    notes.remove(n)
                except ValueError:
                    raise EditError(f"{n} is not in track {edit.track}") from None
            notes.extend(edit.added)
            tracks[edit.track].notes = sorted(notes)
        elif isinstance(edit, TrackSettingsEdit):
            t = tracks[edit.track]
            a = edit.after
            t.name, t.program, t.is_drum, t.mute, t.solo = a.name, a.program, a.is_drum, a.mute, a.solo
        elif isinstance(edit, AddTrack):
            if edit.remove:
                if tracks[edit.index] != edit.track:
                    raise EditError(f"track {edit.index} is not the track to remove")
                del tracks[edit.index]
            else:
                tracks.insert(edit.index, edit.track.copy())
        elif isinstance(edit, TimingEdit):
            tempos, meters = edit.after
            self.sketch.tempos = list(tempos)
            self.sketch.time_signatures = list(meters)
        else:
            raise EditError(f"unknown edit {edit!r}")

    # -- helpers that build edits ---------------------------------------------------------------

    def timing(self) -> tuple[tuple[TempoChange, ...], tuple[TimeSignature, ...]]:
        return tuple(self.sketch.tempos), tuple(self.sketch.time_signatures)

    def set_track(self, index: int, **changes) -> TrackSettingsEdit:
        before = TrackSettings.of(self.sketch.tracks[index])
        return TrackSettingsEdit(index, before, replace(before, **changes))


def audible_tracks(sketch: Sketch) -> list[int]:
    """Indices of the tracks that play: the soloed ones if any, else all that are not muted."""
    soloed = [i for i, t in enumerate(sketch.tracks) if t.solo]
    if soloed:
        return soloed
    return [i for i, t in enumerate(sketch.tracks) if not t.mute]

"""Notes between widgets and windows, in one format: the note clipboard (kept in-process, and
also put on the system clipboard as JSON) and the data a dragged melody carries.

The system copy lets notes travel between two Cantus windows (or processes) and shows up as
readable text elsewhere; when it holds something else (text copied from another program), paste
falls back to the notes this process copied last.
"""

from __future__ import annotations

import json

from PySide6.QtCore import QMimeData
from PySide6.QtWidgets import QApplication

from app.piano_roll.editing import NoteClip
from engine.music.sketch import Note

MIME_TYPE = "application/x-cantus-notes"

_last_clip: NoteClip | None = None


def clip_mime(clip: NoteClip) -> QMimeData:
    """The clip as MIME data (our type, and the same JSON as text for other programs)."""
    text = json.dumps(clip.to_json())
    mime = QMimeData()
    mime.setData(MIME_TYPE, text.encode("utf-8"))
    mime.setText(text)
    return mime


def clip_from_mime(mime: QMimeData | None) -> NoteClip | None:
    """The notes in MIME data that Cantus made, else None."""
    if mime is None or not mime.hasFormat(MIME_TYPE):
        return None
    try:
        return NoteClip.from_json(json.loads(bytes(mime.data(MIME_TYPE)).decode("utf-8")))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None


def melody_mime(notes) -> QMimeData:
    """A dragged melody: its notes where they are (a rest before the first is kept)."""
    notes = tuple(sorted(notes))
    return clip_mime(NoteClip(notes, max((n.end_tick for n in notes), default=0)))


def melody_from_mime(mime: QMimeData) -> list[Note] | None:
    clip = clip_from_mime(mime)
    return list(clip.notes) if clip is not None else None


def put(clip: NoteClip) -> None:
    """Remember the clip and offer it on the system clipboard."""
    global _last_clip
    _last_clip = clip
    mime = clip_mime(clip)
    try:
        QApplication.clipboard().setMimeData(mime)
    except Exception:  # no clipboard on this platform: the in-process copy is enough
        pass


def get() -> NoteClip | None:
    """The notes to paste: Cantus notes on the system clipboard, else the last ones copied here."""
    try:
        mime = QApplication.clipboard().mimeData()
    except Exception:
        mime = None
    clip = clip_from_mime(mime)
    return clip if clip is not None else _last_clip


def clear() -> None:
    """Forget the in-process clip (tests start from an empty clipboard)."""
    global _last_clip
    _last_clip = None
    try:
        QApplication.clipboard().clear()
    except Exception:
        pass

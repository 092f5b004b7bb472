"""The note clipboard: kept in-process, and also put on the system clipboard as JSON.

The system copy lets notes travel between two Cantus windows (or processes) and shows up as
readable text elsewhere; when it holds something else (text copied from another program), paste
falls back to the notes this process copied last.
"""

from __future__ import annotations

import json

from PySide6.QtCore import QMimeData
from PySide6.QtWidgets import QApplication

from app.piano_roll.editing import NoteClip

MIME_TYPE = "application/x-cantus-notes"

_last_clip: NoteClip | None = None


def put(clip: NoteClip) -> None:
    """Remember the clip and offer it on the system clipboard."""
    global _last_clip
    _last_clip = clip
    text = json.dumps(clip.to_json())
    mime = QMimeData()
    mime.setData(MIME_TYPE, text.encode("utf-8"))
    mime.setText(text)
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
    if mime is not None and mime.hasFormat(MIME_TYPE):
        try:
            clip = NoteClip.from_json(json.loads(bytes(mime.data(MIME_TYPE)).decode("utf-8")))
        except (UnicodeDecodeError, json.JSONDecodeError):
            clip = None
        if clip is not None:
            return clip
    return _last_clip


def clear() -> None:
    """Forget the in-process clip (tests start from an empty clipboard)."""
    global _last_clip
    _last_clip = None
    try:
        QApplication.clipboard().clear()
    except Exception:
        pass

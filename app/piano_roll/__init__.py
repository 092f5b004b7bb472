"""The piano roll: a view that draws the document's notes over a keyboard, bar ruler and grid."""

from app.piano_roll.view import PianoRollView

__all__ = ["PianoRollView"]

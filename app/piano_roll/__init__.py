"""The piano roll: an editor view that draws the document's notes over a keyboard, bar ruler and
grid, a velocity lane under it, and the container that stacks the two with a tool bar."""

from app.piano_roll.editor import PianoRollEditor
from app.piano_roll.velocity_lane import VelocityLane
from app.piano_roll.view import PianoRollView

__all__ = ["PianoRollEditor", "PianoRollView", "VelocityLane"]

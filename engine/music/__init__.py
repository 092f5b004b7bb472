"""What a sketch is, how it is read and written, quantized and encoded for the models."""

from engine.music.sketch import (
    STEPS_PER_QUARTER,
    TICKS_PER_QUARTER,
    TICKS_PER_STEP,
    Note,
    Sketch,
    TempoChange,
    TimeSignature,
    Track,
    pitch_name,
    steps_to_ticks,
    ticks_to_steps,
)

__all__ = [
    "STEPS_PER_QUARTER", "TICKS_PER_QUARTER", "TICKS_PER_STEP", "Note", "Sketch", "TempoChange",
    "TimeSignature", "Track", "pitch_name", "steps_to_ticks", "ticks_to_steps",
]

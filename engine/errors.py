"""Errors a musician can meet. Each carries a sentence meant to be shown as it is."""


class CantusError(Exception):
    """Base for every error whose message is written for the user."""


class MidiFileError(CantusError):
    """A MIDI file could not be read or written."""


class SketchFileError(CantusError):
    """A Cantus sketch file (.cantus) could not be read or written."""


class DataError(CantusError):
    """A corpus or data folder could not be used."""


class MeterError(CantusError):
    """A passage's meter is one a model cannot read (3/4 for the 4/4 melody models)."""

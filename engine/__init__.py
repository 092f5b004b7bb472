"""Cantus engine: music data, models, generation, audio and training, with no Qt."""

__version__ = "0.1.0"
